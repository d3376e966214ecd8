"""`airflow dags test`'s JSON output cut into Airflow's task log files (where the UI reads
them): one file per task try, other programs' lines wrapped as Airflow wraps a task's output,
the try's final state, owner-only files."""

from __future__ import annotations

import json

from onetoone.runtime.airflow_env import DagsTestRun, TaskLogSplitter

RUN = "manual__2026-12-03T11:42:29.072023+00:00"


def _record(event: str, **extra) -> str:
    return json.dumps({"timestamp": "2026-12-03T11:42:29.5Z", "level": "info", "event": event,
                       "logger": "airflow.sdk.definitions.dag", **extra})


def _task(task_id: str, state: str, *lines: str) -> list[str]:
    return [_record(f"[DAG TEST] starting task_id={task_id} map_index=-1"),
            _record(f"[DAG TEST] running task <TaskInstance: daily.{task_id} {RUN} "
                    "[TaskInstanceState.SCHEDULED] ti_id=01a2>"),
            *lines,
            _record("Task instance state updated", new_state=state, ti_id="01a2"),
            _record(f"[DAG TEST] end task task_id={task_id} map_index=-1")]


def test_each_task_try_gets_its_own_log_file(tmp_path):
    run, ended = DagsTestRun(returncode=0), []
    splitter = TaskLogSplitter(tmp_path, run, ended.append)
    output = [_record("Filling up the DagBag"),
              *_task("dbt.stg_model_build", "up_for_retry", "\x1b[0m11:37:51  Running with dbt="),
              *_task("dbt.stg_model_build", "success", _record("ingested erp: 3 rows")),
              *_task("publish", "failed")]
    shown = [splitter.feed(line) for line in output]
    splitter.close()

    assert (run.dag_id, run.run_id) == ("daily", RUN)
    assert [(a.task_id, a.try_number, a.state) for a in ended] == [
        ("dbt.stg_model_build", 1, "up_for_retry"), ("dbt.stg_model_build", 2, "success"),
        ("publish", 1, "failed")]
    folder = tmp_path / "dag_id=daily" / f"run_id={RUN}"
    first = [json.loads(line) for line in
             (folder / "task_id=dbt.stg_model_build" / "attempt=1.log").read_text().splitlines()]
    assert first[1] == {"timestamp": "2026-12-03T11:42:29.5Z", "level": "info",
                        "event": "\x1b[0m11:37:51  Running with dbt=", "logger": "task.stdout"}
    assert "ingested erp" in (folder / "task_id=dbt.stg_model_build" / "attempt=2.log").read_text()
    assert "Filling up the DagBag" not in "".join(p.read_text() for p in folder.rglob("*.log"))
    assert all(path.stat().st_mode & 0o077 == 0 for path in tmp_path.rglob("*"))
    assert shown[0].startswith("2026-12-03T11:42:29.5Z [info     ] Filling up the DagBag")
    assert "\x1b[0m11:37:51  Running with dbt=" in shown
