"""Airflow glue for onetoone: what turns Airflow connections into what the domain package takes.

The domain package (`onetoone`) never imports Airflow; DAG files call it through these helpers.
"""
