"""What happens when a task fails: Airflow's own notifier mechanism, with a log notifier as the
default. To be told elsewhere, put another notifier (an Airflow provider's `SmtpNotifier`,
`SlackNotifier`, ...) into the DAG's `on_failure_callback` beside or instead of this one."""

from __future__ import annotations

import logging

from airflow.sdk import BaseNotifier

log = logging.getLogger("onetoone.failures")


class TaskFailureLogNotifier(BaseNotifier):
    """Logs one line per failed task: DAG, task, run, try, the error's type and where the task's
    log is. The error's text stays in the task log: it may quote a value from the data."""

    def notify(self, context) -> None:
        task_instance = context.get("ti") or context.get("task_instance")
        error = context.get("exception")
        log.error(
            "task failed: dag=%s task=%s run=%s try=%s error=%s log=%s",
            getattr(task_instance, "dag_id", "?"), getattr(task_instance, "task_id", "?"),
            getattr(task_instance, "run_id", context.get("run_id", "?")),
            getattr(task_instance, "try_number", "?"),
            type(error).__name__ if error is not None else "unknown",
            getattr(task_instance, "log_url", "see the task's log in the Airflow UI"),
        )
