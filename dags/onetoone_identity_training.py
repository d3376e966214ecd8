"""
### onetoone identity training

Retrains the Splink identity model (u by random sampling, m by expectation maximisation) on the
customer records currently in the warehouse, saves it as a new versioned JSON file and makes it
the model the daily DAG scores with. Triggered by hand: retrain after a large change in the
sources, then check the identity quality report before the next daily run.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, task

from onetoone.foundation.config import AIRFLOW_CONN_ID
from onetoone_airflow.connections import conninfo
from onetoone_airflow.notifiers import TaskFailureLogNotifier

with DAG(
    dag_id="onetoone_identity_training",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    default_args={"owner": "data-engineering", "retries": 0,
                  "on_failure_callback": [TaskFailureLogNotifier()]},
    tags=["onetoone", "identity"],
    doc_md=__doc__,
):

    @task
    def train_model() -> dict:
        from onetoone.operations import pipeline

        return pipeline.train_identity_model(conninfo(AIRFLOW_CONN_ID))

    train_model()
