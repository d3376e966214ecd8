"""Cosmos configuration for the project's dbt models, shared by the DAGs."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from onetoone.foundation.config import AIRFLOW_CONN_ID, DBT_PROJECT_DIR

log = logging.getLogger(__name__)

# Cosmos runs every dbt task in a temporary copy of the project; a relative target path puts
# the task's artifacts (manifest, run results, partial parse) in that copy. Tasks run in
# parallel: a shared target would have them rewrite the one manifest the DAG is parsed from.
TASK_TARGET_PATH = "target"


def dbt_configs():
    """ProjectConfig, ProfileConfig, ExecutionConfig: dbt rendered from the last good manifest
    of `onetoone dbt parse` (a half-written one never breaks parsing), run in Cosmos's watcher
    mode (configure_watcher_group), with the profile built from the warehouse's Airflow
    connection."""
    from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig
    from cosmos.constants import ExecutionMode, InvocationMode
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
    # Watcher mode: one task per group (the producer) runs a single `dbt build` of the group's
    # models, seeds and snapshots, and each model keeps its own task, a sensor that succeeds or
    # fails with that model's result in the build. One dbt start-up (Python, dbt, the project's
    # parse) per group instead of one per model. The group's test task, and a model's
    # task when retried, run dbt in-process (dbtRunner); the build runs it as a subprocess
    # (configure_watcher_group).
    execution = ExecutionConfig(execution_mode=ExecutionMode.WATCHER,
                                invocation_mode=InvocationMode.DBT_RUNNER)
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
        # One task per model (a watcher sensor of the group's build), then one `dbt test` of
        # the whole group (Cosmos runs it as an ordinary local dbt task in watcher mode). A test
        # task per model, or per test reading several models, doubled the DAG's tasks for a
        # second or less of testing each. A failed test still fails its group, and nothing
        # after the group runs: no mart is published from it.
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


# A model's task gives up after this, whatever the build does: a hung build fails visibly.
SENSOR_TIMEOUT = timedelta(hours=2)


def configure_watcher_group(group) -> None:
    """Per dbt task group in watcher mode, before it is wired to the rest of the DAG:

    - the test task records its tests for auditors; the other dbt tasks (the build, and the
      models' tasks, which run dbt only when retried) skip dbt's JSON artifacts, which no one
      reads there and which cost half of a warm dbt invocation (0.8 of 1.6 s);
    - the models' tasks start once the build has ended (after Cosmos's gate behind it), so each
      finds its node's result at its first look. Cosmos would start them beside the build, to
      poll it: `airflow dags test` runs one task at a time, so a model's task taken before the
      build would wait for ever, and under the LocalExecutor a rescheduled sensor is now and then
      retried by the scheduler (it re-queues the sensor before the event of its last poke is in);
    - the build's retry only restores its results and skips (Cosmos never runs a build twice),
      then the gate passes and each model's task reports its node: failed in the build, the task
      fails, and its own retry runs that model alone."""
    from cosmos.constants import PRODUCER_WATCHER_DONE_TASK_ID, InvocationMode
    from cosmos.operators._watcher.base import BaseConsumerSensor
    from cosmos.operators.local import DbtLocalBaseOperator, DbtTestLocalOperator
    from cosmos.operators.watcher import DbtProducerWatcherOperator

    tasks = list(group.iter_tasks())
    in_group = {task.task_id for task in tasks}
    build_done = next(t for t in tasks if t.task_id.endswith("." + PRODUCER_WATCHER_DONE_TASK_ID))
    for task in tasks:
        if isinstance(task, DbtTestLocalOperator):
            task.callback = record_dbt_test_results
            continue
        if isinstance(task, DbtLocalBaseOperator):
            task.dbt_cmd_flags = [*(task.dbt_cmd_flags or []), "--no-write-json"]
        if isinstance(task, DbtProducerWatcherOperator):
            # In-process, Cosmos reads dbt's events with the task's stdout swapped for a filter
            # that has no `buffer`; under `airflow dags test` every message the task sends to
            # Airflow (an XCom per model) is logged through that stdout's buffer, and the build
            # fails. A subprocess costs one Python and dbt import per group.
            task.invocation_mode = InvocationMode.SUBPROCESS
            task.retries = 1
            task.retry_delay = timedelta(0)
        if isinstance(task, BaseConsumerSensor):
            # Nothing to wait for once the build has ended; deferring would also need a
            # triggerer, which `airflow dags test` and a scheduler alone do not have.
            task.deferrable = False
            task.mode = "poke"
            task.timeout = SENSOR_TIMEOUT.total_seconds()
            if not task.upstream_task_ids & in_group:
                build_done >> task
