"""What the dbt project promises the marts' readers, read from dbt's own manifest (`dbt parse`,
no database): every published mart has an enforced contract and a primary key. That publish
creates the keys and indexes in `marts` is in test_dbt_fixture_build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from onetoone.foundation import config
from onetoone.runtime.dbt import mart_columns


@pytest.fixture(scope="module")
def manifest(dbt_manifest: Path) -> dict:
    return json.loads(dbt_manifest.read_text())


@pytest.fixture(scope="module")
def marts(manifest: dict) -> dict[str, dict]:
    """The published marts (publish copies every model dbt builds into marts_build), by name."""
    found = {node["name"]: node for node in manifest["nodes"].values()
             if node["resource_type"] == "model" and node["schema"] == config.BUILD_SCHEMA}
    assert len(found) >= 17, sorted(found)
    return found


def test_every_published_mart_has_an_enforced_contract_with_every_columns_type(marts):
    unenforced = [name for name, node in marts.items()
                  if not (node["config"]["contract"]["enforced"] and node["contract"]["enforced"])]
    untyped = {name: [c for c, column in node["columns"].items() if not column.get("data_type")]
               for name, node in marts.items()}
    assert not unenforced
    assert not {name: columns for name, columns in untyped.items() if columns}
    assert all(node["columns"] for node in marts.values())


def test_every_published_mart_declares_a_primary_key_of_its_columns(marts, dbt_manifest):
    """Every mart's grain has a key (one column or several)."""
    specs = mart_columns(dbt_manifest)
    assert not [name for name in marts if not specs[name].primary_key]
    for name, node in marts.items():
        assert set(specs[name].primary_key) <= set(node["columns"]), name
    # The composite grains are keyed on every part of them.
    assert specs["mart_customer_value_history"].primary_key == ("customer_key", "as_of_date")
    assert specs["mart_quality_summary"].primary_key == ("run_id", "layer", "source")
    for name, index in (("fct_orders", ("customer_key",)), ("fct_order_lines", ("order_id",))):
        assert index in {i.columns for i in specs[name].indexes}, name
