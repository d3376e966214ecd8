"""A half-written dbt manifest (two dbt commands writing it at once, or one killed) breaks
neither the DAG file nor what reads the marts' personal columns (publish, access, forget): the
state folder's manifest is parsed again, and the DAG renders from the last good one.

Runs in a state folder of its own (real `dbt parse`, no database needed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from onetoone.foundation.config import DAGS_DIR
from onetoone.runtime import dbt
from onetoone.stages.serving import access

pytestmark = pytest.mark.integration

DAILY_DAG = "onetoone_daily"


@pytest.fixture(scope="module")
def parsed_home(tmp_path_factory) -> Path:
    """A state folder with a parsed project, copied fresh into each test's own folder."""
    home = tmp_path_factory.mktemp("parsed-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ONETOONE_HOME", str(home))
        dbt.parse_project()
    return home


@pytest.fixture
def home(parsed_home, tmp_path, monkeypatch) -> Path:
    own = tmp_path / "home"
    shutil.copytree(parsed_home, own)
    monkeypatch.setenv("ONETOONE_HOME", str(own))
    return own


def _truncate(path: Path) -> None:
    """What a reader finds while dbt rewrites the file: its first part only."""
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


def _write_twice(path: Path) -> None:
    """What two dbt commands writing at once left: a whole manifest, then the end of another."""
    raw = path.read_bytes()
    path.write_bytes(raw + raw[len(raw) // 3:])


def _dim_customers_is_known(marts) -> bool:
    return {"email", "phone"} <= marts["dim_customers"].personal


@pytest.mark.parametrize("damage", [_truncate, _write_twice, Path.unlink],
                         ids=["truncated", "written_twice", "missing"])
def test_the_marts_columns_are_read_from_a_damaged_manifest(home, damage):
    manifest = dbt.state_manifest_path()
    damage(manifest)
    assert _dim_customers_is_known(access.mart_columns())
    # repaired for every later reader, by a parse renamed into place
    assert "nodes" in json.loads(manifest.read_text(encoding="utf-8"))


def test_a_manifest_given_by_path_is_not_rewritten_and_names_itself(home, tmp_path):
    given = tmp_path / "elsewhere.json"
    shutil.copyfile(dbt.state_manifest_path(), given)
    _truncate(given)
    before = given.read_bytes()
    with pytest.raises(dbt.ManifestError, match="elsewhere.json"):
        access.mart_columns(given)
    assert given.read_bytes() == before


def test_a_failed_parse_says_so_in_one_error(home, monkeypatch, tmp_path):
    broken_project = tmp_path / "dbt_project"
    shutil.copytree(dbt.config.DBT_PROJECT_DIR, broken_project)
    (broken_project / "dbt_project.yml").write_text("name: [unclosed\n", encoding="utf-8")
    monkeypatch.setattr(dbt.config, "DBT_PROJECT_DIR", broken_project)
    _truncate(dbt.state_manifest_path())
    with pytest.raises(dbt.ManifestError, match="dbt parse of .* failed"):
        dbt.read_manifest()


def _daily_dag_tasks() -> dict[str, list[str]]:
    """The daily DAG's tasks, each with its downstream tasks: its shape, whatever order a
    fresh parse lists the dbt nodes in (Cosmos adds their tasks in the manifest's order)."""
    from airflow.dag_processing.dagbag import DagBag

    dagbag = DagBag(dag_folder=str(DAGS_DIR / "onetoone_daily.py"))
    assert dagbag.import_errors == {}
    return {task.task_id: sorted(task.downstream_task_ids)
            for task in dagbag.dags[DAILY_DAG].tasks}


def test_the_dag_renders_from_the_last_good_manifest_while_the_target_is_half_written(home):
    expected = _daily_dag_tasks()
    # the marts' build and their models' tasks, rendered from the manifest
    assert expected["dbt_marts.dbt_producer_watcher"] == ["dbt_marts.dbt_producer_watcher_done"]
    assert "dbt_marts.dim_customers_run" in expected
    target = dbt.state_manifest_path()
    _write_twice(target)
    damaged = target.read_bytes()
    assert _daily_dag_tasks() == expected
    assert target.read_bytes() == damaged  # rendering reads, it does not parse


def test_the_dag_renders_after_a_parse_when_no_good_manifest_is_left(home):
    expected = _daily_dag_tasks()
    dbt.last_good_path().unlink()
    _truncate(dbt.state_manifest_path())
    assert _daily_dag_tasks() == expected
    assert dbt.last_good_path().exists()


def test_a_changed_manifest_becomes_the_last_good_one(home):
    target, good = dbt.state_manifest_path(), dbt.last_good_path()
    manifest = json.loads(target.read_text(encoding="utf-8"))
    manifest["metadata"]["invocation_id"] = "another-parse"
    target.write_text(json.dumps(manifest), encoding="utf-8")
    assert dbt.manifest_for_rendering() == good
    assert json.loads(good.read_text(encoding="utf-8"))["metadata"]["invocation_id"] \
        == "another-parse"
