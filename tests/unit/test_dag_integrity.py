"""Every DAG file imports cleanly, is wired as the house style asks, and does no work at parse
time (no database is running while it is parsed here)."""

from __future__ import annotations

import pytest

from onetoone.foundation.config import DAGS_DIR

EXPECTED_DAGS = {"onetoone_daily", "onetoone_identity_training"}


@pytest.fixture(scope="module")
def dagbag(dbt_manifest):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_every_dag_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) >= EXPECTED_DAGS


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_DAGS))
def test_dag_has_owner_tags_retries_docs_and_explicit_catchup(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert dag.doc_md and dag.tags
    assert dag.catchup is False
    for task in dag.tasks:
        assert task.owner == "data-engineering"
        assert task.retries is not None


def test_daily_dag_checks_quality_before_publishing(dagbag):
    dag = dagbag.dags["onetoone_daily"]
    publish = dag.get_task("publish")
    upstream = publish.get_flat_relative_ids(upstream=True)
    for gate in ("check_raw", "check_identity", "check_marts", "identify", "value"):
        assert gate in upstream
    assert any(t.startswith("dbt_marts.") for t in upstream)
    assert all(dag.get_task(g).retries == 0 for g in ("check_raw", "check_identity",
                                                       "check_marts"))


def test_a_failed_gate_stops_everything_up_to_publish(dagbag):
    """A gate that raises leaves what follows it upstream_failed, so `marts` keeps its last good
    version: every task after a gate on the way to publish must wait for all its upstreams to
    succeed (a rule such as all_done would let publish run anyway)."""
    from cosmos.operators._watcher.base import BaseConsumerSensor

    dag = dagbag.dags["onetoone_daily"]
    on_the_way = {"publish"}
    for gate in ("check_raw", "check_identity", "check_marts"):
        after_gate = dag.get_task(gate).get_flat_relative_ids(upstream=False)
        assert "publish" in after_gate
        on_the_way |= after_gate & (dag.get_task("publish").get_flat_relative_ids(upstream=True)
                                    | {"publish"})
    rules = {task_id: getattr(dag.get_task(task_id).trigger_rule, "value",
                              dag.get_task(task_id).trigger_rule) for task_id in on_the_way}
    # One exception, Cosmos's own: in watcher mode the gate after each group's dbt build
    # (`dbt_producer_watcher_done`) passes a build that was skipped, which is what a retried
    # build does (it restores the build's results instead of building again). It still fails
    # after a failed upstream, and what follows it is the group's models' tasks, which fail
    # for a node that failed in the build.
    done_gates = {t for t in rules if t.endswith(".dbt_producer_watcher_done")}
    assert len(done_gates) == 4
    for gate in done_gates:
        group = gate.split(".")[0]
        assert rules.pop(gate) == "none_failed"
        assert dag.get_task(gate).upstream_task_ids == {f"{group}.dbt_producer_watcher"}
        after = dag.get_task(gate).downstream_task_ids
        assert after and all(isinstance(dag.get_task(t), BaseConsumerSensor) for t in after)
    assert set(rules.values()) == {"all_success"}, rules


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_DAGS))
def test_every_task_notifies_on_failure(dagbag, dag_id):
    from onetoone_airflow.notifiers import TaskFailureLogNotifier

    for task in dagbag.dags[dag_id].tasks:
        callbacks = task.on_failure_callback
        callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
        assert any(isinstance(c, TaskFailureLogNotifier) for c in callbacks), task.task_id


def test_the_failure_notifier_names_the_task_but_not_the_error_text(caplog):
    from types import SimpleNamespace

    from onetoone_airflow.notifiers import TaskFailureLogNotifier

    task_instance = SimpleNamespace(dag_id="onetoone_daily", task_id="ingest_web",
                                    run_id="scheduled__2026-11-01", try_number=3,
                                    log_url="http://127.0.0.1:8080/log")
    error = ValueError("bad e-mail ana.souza@example.com in line 4")
    with caplog.at_level("ERROR", logger="onetoone.failures"):
        TaskFailureLogNotifier()({"ti": task_instance, "exception": error})
    [record] = caplog.records
    message = record.getMessage()
    assert "task=ingest_web" in message and "try=3" in message and "error=ValueError" in message
    assert "run=scheduled__2026-11-01" in message and "http://127.0.0.1:8080/log" in message
    assert "ana.souza" not in message


def test_the_run_report_is_written_after_publishing(dagbag):
    dag = dagbag.dags["onetoone_daily"]
    assert "publish" in dag.get_task("report").get_flat_relative_ids(upstream=True)


def test_every_dbt_test_task_records_its_test_results_for_auditors(dagbag):
    """Cosmos calls the callback in the task's copy of the project, before it raises for a failed
    test: without it a dbt task's results vanish with that copy. The other dbt tasks (each
    group's build, and the models' tasks, which run dbt only when retried) hold no tests and
    skip dbt's JSON artifacts."""
    from cosmos.operators.local import DbtLocalBaseOperator, DbtTestLocalOperator

    from onetoone_airflow.cosmos_config import record_dbt_test_results

    dbt_tasks = [t for t in dagbag.dags["onetoone_daily"].tasks
                 if isinstance(t, DbtLocalBaseOperator)]
    tests = [t for t in dbt_tasks if isinstance(t, DbtTestLocalOperator)]
    assert len(tests) == 4
    for task in tests:
        assert task.callback == record_dbt_test_results, task.task_id
        assert "--no-write-json" not in (task.dbt_cmd_flags or []), task.task_id
    for task in set(dbt_tasks) - set(tests):
        assert not task.callback and "--no-write-json" in task.dbt_cmd_flags, task.task_id


def test_a_dbt_task_that_wrote_no_run_results_records_nothing(tmp_path, caplog):
    """dbt that stopped before running anything: Cosmos raises dbt's own error after the
    callback, so the callback must not hide it behind one of its own."""
    from onetoone_airflow.cosmos_config import record_dbt_test_results

    record_dbt_test_results(str(tmp_path), context={"data_interval_end": None})
    assert "no dbt run results" in caplog.text


def test_each_dbt_group_builds_once_and_ends_in_one_test_of_all_its_models(dagbag):
    """Watcher mode: a group's models are built by one `dbt build` (its producer task), each
    model, seed and snapshot keeps a task of its own that fails when its node failed in that
    build, then one `dbt test` of the whole group; what follows the group waits for that test, so
    a failed test stops the run before the next stage."""
    from cosmos.operators._watcher.base import BaseConsumerSensor
    from cosmos.operators.local import DbtTestLocalOperator
    from cosmos.operators.watcher import DbtProducerWatcherOperator

    dag = dagbag.dags["onetoone_daily"]
    for group in ("dbt_staging", "dbt_keyed", "dbt_marts", "dbt_after_audit"):
        tasks = [t for t in dag.tasks if t.task_id.startswith(group + ".")]
        builds = [t for t in tasks if isinstance(t, DbtProducerWatcherOperator)]
        assert len(builds) == 1, (group, [t.task_id for t in builds])
        build = builds[0]
        assert build.base_cmd == ["build"] and "resource_type:unit_test" in build.exclude
        # the build leaves the tests to the group's test task
        assert "test" not in build.dbt_cmd_flags and "model" in build.dbt_cmd_flags
        tests = [t for t in tasks if isinstance(t, DbtTestLocalOperator)]
        assert len(tests) == 1, (group, [t.task_id for t in tests])
        test = tests[0]
        assert test.select == build.select and "resource_type:unit_test" in test.exclude, group
        models = {t.task_id for t in tasks if isinstance(t, BaseConsumerSensor)}
        assert models and models <= test.get_flat_relative_ids(upstream=True), group
        # the models' tasks start after the build has ended: under `dags test` (one task at a
        # time) one taken before the build would wait for it for ever
        build_done = f"{group}.dbt_producer_watcher_done"
        assert build.downstream_task_ids == {build_done}
        assert set(build.upstream_task_ids) and not build.upstream_task_ids & models
        for model in models:
            sensor = dag.get_task(model)
            assert sensor.producer_task_id == build.task_id, model
            assert build_done in sensor.get_flat_relative_ids(upstream=True), model
            assert not sensor.deferrable, model  # `dags test` runs no triggerer
        after = {t for t in test.downstream_task_ids}
        assert after and not any(t.startswith(group + ".") for t in after), group


def test_a_run_starts_dbt_eight_times_whatever_the_models(dagbag):
    """Four dbt builds and four dbt tests; every other dbt task is a model's sensor, which runs
    dbt only when retried."""
    from cosmos.operators._watcher.base import BaseConsumerSensor
    from cosmos.operators.local import DbtLocalBaseOperator, DbtTestLocalOperator
    from cosmos.operators.watcher import DbtProducerWatcherOperator

    tasks = dagbag.dags["onetoone_daily"].tasks
    assert sum(isinstance(t, DbtProducerWatcherOperator) for t in tasks) == 4
    assert sum(isinstance(t, DbtTestLocalOperator) for t in tasks) == 4
    others = [t for t in tasks if isinstance(t, DbtLocalBaseOperator)
              and not isinstance(t, DbtProducerWatcherOperator | DbtTestLocalOperator)]
    assert others and all(isinstance(t, BaseConsumerSensor) for t in others)
