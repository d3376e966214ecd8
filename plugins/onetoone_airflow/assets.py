"""Assets the pipeline produces, so that downstream DAGs can be scheduled on data, not time."""

from airflow.sdk import Asset

RAW_ASSETS = [Asset(name="onetoone_raw", uri="onetoone://warehouse/raw")]
MARTS_ASSET = Asset(name="onetoone_marts", uri="onetoone://warehouse/marts")
