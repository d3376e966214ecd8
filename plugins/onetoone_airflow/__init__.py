"""Airflow glue for onetoone: what turns Airflow connections into what the domain package takes.

The domain package (`onetoone`) never imports Airflow; DAG files call it through these helpers.

Importing it (every DAG file does, in every Airflow process that parses or runs them) keeps what
the process writes into the state folder private: GX results, dbt's and Airflow's logs.
"""

from onetoone.foundation.config import keep_files_private

keep_files_private()
