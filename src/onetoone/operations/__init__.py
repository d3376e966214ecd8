"""The fourth floor: what composes the stages. ``pipeline`` (the steps each Airflow task calls,
opening the connections and transactions the stages work in), ``migrate`` (every stage's DDL),
``forget`` (erasure across every layer), ``quarantine`` (re-processing checked as an ingest) and
``demo``."""
