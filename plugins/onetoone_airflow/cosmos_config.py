"""Cosmos configuration for the project's dbt models, shared by the DAGs."""

from __future__ import annotations

import logging
from pathlib import Path

from onetoone.foundation.config import AIRFLOW_CONN_ID, DBT_PROJECT_DIR

log = logging.getLogger(__name__)

# Cosmos runs every dbt task in a temporary copy of the project; a relative target path puts
# the task's artifacts (manifest, run results, partial parse) in that copy. Tasks run in
# parallel: a shared target would have them rewrite the one manifest the DAG is parsed from.
TASK_TARGET_PATH = "target"


def dbt_configs():
    """ProjectConfig, ProfileConfig, ExecutionConfig: dbt rendered from the last good manifest
    of `onetoone dbt parse` (a half-written one never breaks parsing), run in-process (the
    fastest Cosmos mode measured here), with the profile built from the warehouse's Airflow
    connection."""
    from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig
    from cosmos.constants import InvocationMode
    from cosmos.profiles import PostgresUserPasswordProfileMapping

    from onetoone.runtime.dbt import manifest_for_rendering

    project = ProjectConfig(
        dbt_project_path=DBT_PROJECT_DIR,
        manifest_path=manifest_for_rendering(),
        install_dbt_deps=False,
        env_vars={"DBT_TARGET_PATH": TASK_TARGET_PATH},
    )
    profile = ProfileConfig(
        profile_name="onetoone",
        target_name="airflow",
        profile_mapping=PostgresUserPasswordProfileMapping(
            conn_id=AIRFLOW_CONN_ID, profile_args={"schema": "staging", "threads": 2}
        ),
    )
    execution = ExecutionConfig(invocation_mode=InvocationMode.DBT_RUNNER)
    return project, profile, execution


def render_config(*select: str, exclude: list[str] | None = None):
    from cosmos import RenderConfig
    from cosmos.constants import LoadMode, TestBehavior

    return RenderConfig(
        load_method=LoadMode.DBT_MANIFEST,
        select=list(select),
        # dbt's unit tests check the models' logic on fixed inputs, not the day's data: they
        # run in the test suite (tests/integration/test_dbt_fixture_build.py), not in the
        # group's `dbt test`.
        exclude=[*(exclude or []), "resource_type:unit_test"],
        # One task per model (`dbt run`, `seed`, `snapshot`), then one `dbt test` of the whole
        # group. Each dbt task pays ~15 s of start-up (Python, dbt, the project's parse) on top
        # of its work; a test task per model, or per test reading several models, doubled the
        # DAG's dbt tasks for a second or less of testing each. A failed test still fails its
        # group, and nothing after the group runs: no mart is published from it.
        test_behavior=TestBehavior.AFTER_ALL,
        # Per-model postgres:// assets need a network host; the embedded warehouse listens on a
        # socket. Downstream DAGs schedule on the published-marts asset instead.
        emit_datasets=False,
    )


def record_dbt_test_results(project_dir: str, context, **_) -> None:
    """Cosmos callback, run after each dbt task's command in the task's copy of the project
    (before Cosmos raises for a failed test, so failures are kept too): the invocation's tests
    into ``audit.dbt_test_results`` under the run's day. The copy is deleted when the task ends;
    afterwards only this record and the task log say how the tests went."""
    from onetoone.operations.dbt_audit import record_dbt_test_results as record
    from onetoone_airflow.connections import conninfo

    run_results = Path(project_dir) / TASK_TARGET_PATH / "run_results.json"
    if not run_results.is_file():
        # dbt stopped before running anything (its error follows from Cosmos): nothing to keep.
        log.warning("no dbt run results at %s: no test results recorded", run_results)
        return
    record(conninfo(AIRFLOW_CONN_ID), run_results, as_of=context["data_interval_end"])


def keep_only_the_test_results(group) -> None:
    """In each dbt task group, only the test task writes dbt's JSON artifacts and records its
    tests for auditors. A model, seed or snapshot task has no test results to keep, and writing
    a manifest and run results it never reads is half of a warm dbt invocation (0.8 of 1.6 s);
    its callback would only import the audit code to find nothing."""
    from cosmos.operators.local import DbtTestLocalOperator

    for task in group.iter_tasks():
        if isinstance(task, DbtTestLocalOperator):
            task.callback = record_dbt_test_results
        else:
            task.dbt_cmd_flags = [*(task.dbt_cmd_flags or []), "--no-write-json"]
