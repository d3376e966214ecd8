"""The demo's console summary ends with the command that reruns its day (issue #15, Done-when):
whoever reads the end of the output can run the same day again and get the same tables."""

from __future__ import annotations

from pathlib import Path

from onetoone.operations import demo


def test_the_demo_summary_ends_with_the_command_that_reruns_its_day(monkeypatch, capsys):
    ran = []
    monkeypatch.setattr(demo.warehouse, "start", lambda: None)
    monkeypatch.setattr(demo, "_describe_port", lambda status: "port 5432")
    monkeypatch.setattr(demo, "prepare_sample", lambda customers, seed: "landing")
    monkeypatch.setattr(demo, "migrate_warehouse", lambda url: ["raw"])
    monkeypatch.setattr(demo, "parse_project", lambda: None)
    monkeypatch.setattr(demo, "run_daily_dag", lambda day, **kwargs: ran.append(day))
    monkeypatch.setattr(demo, "_run_dbt_docs", lambda log: None)
    monkeypatch.setattr(demo, "summary", lambda landing: "customers found: 3\n\nrun report: x")

    assert demo.run_demo(customers=10, seed=1) == 0

    lines = capsys.readouterr().out.rstrip("\n").splitlines()
    assert ran == list(demo.DEMO_RUN_DAYS)
    day = demo.DEMO_RUN_DAYS[-1].isoformat()
    assert lines[-1] == (f"rerun this day (the same tables come out): onetoone airflow dags test"
                         f" {demo.DAILY_DAG} {day}")


def _attempt(task_id: str, state: str = "success") -> demo.TaskAttempt:
    return demo.TaskAttempt(task_id=task_id, map_index=-1, try_number=1,
                            log_file=Path("/dev/null"), state=state)


def test_the_console_shows_one_line_per_stage_not_per_task():
    """Issue #14: at most 150 console lines after the install. A day has about 80 tasks and
    the demo runs two days, so a line per task alone would be 160; a dbt task group is one."""
    lines: list[str] = []
    stages = demo.StageProgress(lines.append)
    for task in ["migrate", "ingest_web", "ingest_erp"]:
        stages.task_ended(_attempt(task))
    for n in range(30):
        stages.task_ended(_attempt(f"dbt_marts.model_{n}_model_build"))
    stages.task_ended(_attempt("dbt_marts.relationships_test", "failed"))
    stages.task_ended(_attempt("dbt_marts.downstream_model_build", "upstream_failed"))
    stages.task_ended(_attempt("publish", "upstream_failed"))
    stages.flush()

    assert [line.split()[0] for line in lines] == [
        "migrate", "ingest_web", "ingest_erp", "dbt_marts", "publish"]
    marts = lines[3]
    assert "30 success" in marts and "1 failed" in marts and "1 upstream_failed" in marts
    assert "(failed: dbt_marts.relationships_test, dbt_marts.downstream_model_build)" in marts
    assert lines[0].split()[1] == "success"
