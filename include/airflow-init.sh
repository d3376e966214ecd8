#!/usr/bin/env bash
# One-off setup of the compose stack: Airflow's metadata database and the dbt manifest that
# Cosmos renders the DAG from.
set -euo pipefail
airflow db migrate
cd /opt/onetoone/dbt_project
export DBT_TARGET_PATH="${ONETOONE_HOME}/dbt/target" DBT_PROFILES_DIR=/opt/onetoone/dbt_project
dbt parse --quiet
