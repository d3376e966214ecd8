"""
### onetoone daily

Builds the customer warehouse for one data interval, write-audit-publish style:

0. **migrate** the warehouse: every stage's DDL, once per run;
1. **ingest** the ERP (incremental window on `updated_at`), call-center CSV and web NDJSON files
   due up to the end of the interval into `raw` (batch ledger, quarantine, rows never lost);
2. **check raw** with Great Expectations (critical failures stop the run);
3. **dbt staging**: staging views and the unioned customer records;
4. **identify**: Splink links and deduplicates the records and writes stable customer keys into
   `identity`, then Great Expectations checks them;
5. **value**: dbt keys the order history by customer; a BG/NBD + Gamma-Gamma model fitted on it
   (checked on a holdout) writes every customer's strategic value into `value`;
6. **dbt marts** into `marts_build`, then Great Expectations checks their business rules;
7. **dbt after audit**: the value-tier snapshot and the tier migrations, only from checked marts;
8. **publish**: `marts_build` is copied into `marts` in one transaction, so BI users keep the
   previous good version whenever anything above fails;
9. **report**: one self-contained HTML page of the run (value pyramid, migrations, portfolios,
   quality, identity) in the state folder's `reports/`.

Each dbt group runs in Cosmos's watcher mode: one task (`dbt_producer_watcher`) builds the
group's models, seeds and snapshots in a single `dbt build`; then each of them has its own task
that succeeds or fails with its result in that build; then one `dbt test` of the group, whose
results, failed ones too, are kept for auditors in `audit.dbt_test_results` (a Cosmos callback),
and `mart_quality_summary` counts them.

Rerunning a run for the same interval gives the same tables: what a run writes is keyed by the
interval it covers (`interval__<day>`), not by Airflow's run id. Logic lives in the `onetoone`
package; this file only wires it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, chain, task
from cosmos import DbtTaskGroup

from onetoone.foundation.config import AIRFLOW_CONN_ID, ERP_CONN_ID, SOURCES
from onetoone_airflow.assets import MARTS_ASSET, RAW_ASSETS
from onetoone_airflow.connections import conninfo
from onetoone_airflow.cosmos_config import configure_watcher_group, dbt_configs, render_config
from onetoone_airflow.notifiers import TaskFailureLogNotifier

DBT_VARS = {"as_of": "{{ data_interval_end | ds }}"}

with DAG(
    dag_id="onetoone_daily",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "data-engineering", "retries": 2, "retry_delay": timedelta(minutes=1),
                  "on_failure_callback": [TaskFailureLogNotifier()]},
    tags=["onetoone", "warehouse"],
    doc_md=__doc__,
):
    project, profile, execution = dbt_configs()

    @task
    def migrate() -> list[str]:
        from onetoone.operations import pipeline

        return pipeline.migrate_warehouse(conninfo(AIRFLOW_CONN_ID))

    @task(outlets=RAW_ASSETS)
    def ingest(source: str, data_interval_end=None) -> dict:
        from onetoone.operations import pipeline

        return pipeline.ingest(source, warehouse=conninfo(AIRFLOW_CONN_ID),
                               erp=conninfo(ERP_CONN_ID), until=data_interval_end).as_dict()

    # A failed check does not pass on retry: quality gates never retry.
    @task(retries=0)
    def check_raw(ingested: list[dict], data_interval_end=None) -> dict:
        from onetoone.operations import pipeline

        return pipeline.check_quality("raw", conninfo(AIRFLOW_CONN_ID),
                                      as_of=data_interval_end, ingested=ingested)

    @task
    def identify(data_interval_end=None) -> dict:
        from onetoone.operations import pipeline

        return pipeline.identify(conninfo(AIRFLOW_CONN_ID), as_of=data_interval_end)

    @task(retries=0)
    def check_identity(data_interval_end=None) -> dict:
        from onetoone.operations import pipeline

        return pipeline.check_quality("identity", conninfo(AIRFLOW_CONN_ID),
                                      as_of=data_interval_end)

    @task
    def value(data_interval_end=None) -> dict:
        from onetoone.operations import pipeline

        return pipeline.value(conninfo(AIRFLOW_CONN_ID), as_of=data_interval_end)

    @task(retries=0)
    def check_marts(data_interval_end=None) -> dict:
        from onetoone.operations import pipeline

        return pipeline.check_quality("marts", conninfo(AIRFLOW_CONN_ID),
                                      as_of=data_interval_end)

    @task(outlets=[MARTS_ASSET])
    def publish() -> list[dict]:
        from onetoone.operations import pipeline

        return pipeline.publish(conninfo(AIRFLOW_CONN_ID))

    @task
    def report(data_interval_end=None) -> dict:
        from onetoone.operations import pipeline

        return pipeline.report(conninfo(AIRFLOW_CONN_ID), as_of=data_interval_end)

    ingested = [ingest.override(task_id=f"ingest_{source}")(source) for source in SOURCES]
    # The operations are imported inside the tasks: parsing the DAG file (every few seconds, in
    # the scheduler) then does not import Splink, DuckDB and Great Expectations.
    # The dbt project is cut in three by tags (see dbt_project/selectors.yml).
    dbt_groups = {
        "dbt_staging": render_config("tag:staging", "tag:intermediate",
                                     exclude=["tag:identity", "tag:value", "tag:after_audit"]),
        "dbt_keyed": render_config("tag:identity"),
        "dbt_marts": render_config("tag:value", "tag:seeds", "tag:marts",
                                   exclude=["tag:after_audit"]),
        "dbt_after_audit": render_config("tag:after_audit"),
    }
    dbt_staging, dbt_keyed, dbt_marts, dbt_after_audit = (
        DbtTaskGroup(group_id=group_id, project_config=project, profile_config=profile,
                     execution_config=execution, render_config=render,
                     operator_args={"vars": DBT_VARS})
        for group_id, render in dbt_groups.items()
    )
    # Each group's tests (failed ones too) kept for auditors, by run day; its models' tasks
    # after its build. Before the groups are chained: what comes before a group waits for its
    # build only.
    for group in (dbt_staging, dbt_keyed, dbt_marts, dbt_after_audit):
        configure_watcher_group(group)
    migrated = migrate()
    migrated >> ingested
    chain(check_raw(ingested), dbt_staging, identify(), check_identity(), dbt_keyed, value(),
          dbt_marts, check_marts(), dbt_after_audit, publish(), report())
