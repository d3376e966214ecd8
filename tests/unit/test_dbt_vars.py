"""The shipped defaults of the tier vars: what dbt_project.yml says is what the README
documents, so a changed default (e.g. mvc_top_share 0.2 -> 0.3) fails here, not in the marts."""

from __future__ import annotations

import re

import yaml

from onetoone.foundation import config

# The business rules as documented (dbt_project/README.md, "Vars" and "Business rules").
SHIPPED_DEFAULTS = {
    "mvc_top_share": 0.2,
    "mgc_top_share": 0.2,
    "value_window_months": 12,
    "high_churn_risk_threshold": 0.5,
    "key_account_book_size": 250,
    "portfolio_min_customers_per_manager": 50,
    "source_trust_order": ["erp", "web", "callcenter"],
    "warehouse_timezone": "UTC",
    "callcenter_timezone": "UTC",
    "as_of": None,
}


def _project_vars() -> dict:
    project = yaml.safe_load((config.DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return project["vars"]


def test_tier_vars_ship_with_the_documented_defaults() -> None:
    project_vars = _project_vars()
    assert {name: project_vars.get(name) for name in SHIPPED_DEFAULTS} == SHIPPED_DEFAULTS


def test_readme_vars_table_matches_dbt_project_yml() -> None:
    readme = (config.DBT_PROJECT_DIR / "README.md").read_text()
    documented = dict(re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", readme, flags=re.MULTILINE))
    project_vars = _project_vars()
    assert {"mvc_top_share", "value_window_months"} <= documented.keys()
    for name in ("mvc_top_share", "value_window_months"):
        assert float(documented[name]) == float(project_vars[name]), name
    assert documented["source_trust_order"] == "`[" + ", ".join(
        project_vars["source_trust_order"]) + "]`"
