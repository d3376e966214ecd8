"""The second floor: the tools the pipeline runs on. The embedded PostgreSQL server
(``warehouse``), the Airflow environment (``airflow_env``) and dbt (``dbt``: runner and
manifest). Imports only ``foundation``."""
