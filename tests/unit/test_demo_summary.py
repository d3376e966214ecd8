"""The demo's console summary ends with the command that reruns its day (issue #15, Done-when):
whoever reads the end of the output can run the same day again and get the same tables."""

from __future__ import annotations

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
