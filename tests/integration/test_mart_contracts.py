"""What the dbt project promises the marts' readers, read from dbt's own manifest (`dbt parse`,
no database): every published mart has an enforced contract and a primary key, the exposures
name the real consumers and what their code reads, and the docs site has its overview page.
That publish creates the keys and indexes in `marts` is in test_dbt_fixture_build."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from onetoone.foundation import config
from onetoone.operations import report
from onetoone.runtime.dbt import mart_columns
from onetoone.stages.serving import frontline


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


def _depends_on(exposure: dict, manifest: dict) -> tuple[set[str], set[tuple[str, str]]]:
    """The marts (by name) and sources (schema, table) an exposure depends on."""
    models, sources = set(), set()
    for uid in exposure["depends_on"]["nodes"]:
        if uid in manifest["sources"]:
            sources.add((manifest["sources"][uid]["schema"], manifest["sources"][uid]["name"]))
        else:
            models.add(manifest["nodes"][uid]["name"])
    return models, sources


def test_exposures_name_the_consumers_of_the_marts_and_what_their_code_reads(manifest, marts):
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert set(exposures) == {"bi_views", "frontline_service", "run_report"}
    for exposure in exposures.values():
        assert exposure["owner"].get("name") or exposure["owner"].get("email"), exposure["name"]
        assert exposure["description"].strip(), exposure["name"]
        assert set(exposure["depends_on"]["nodes"]) <= set(manifest["nodes"]) | set(
            manifest["sources"]), exposure["name"]

    # BI gets a view of every published mart (serving.access).
    assert _depends_on(exposures["bi_views"], manifest) == (set(marts), set())
    # The front-line service's customer view.
    assert _depends_on(exposures["frontline_service"], manifest) == (
        {*frontline.VIEW_SECTIONS.values(), frontline.INTERACTIONS_MART}, set())
    # The run report's queries.
    read = set(re.findall(r"\bfrom (\w+)\.(\w+)", " ".join(report._QUERIES.values())))
    published = {table for schema, table in read if schema == config.PUBLISHED_SCHEMA}
    assert _depends_on(exposures["run_report"], manifest) == (
        published, read - {(config.PUBLISHED_SCHEMA, t) for t in published})


def test_the_docs_site_has_an_overview_page_for_bi_users(manifest):
    overview = manifest["docs"]["doc.onetoone.__overview__"]["block_contents"]
    assert "schema **`bi`**" in overview
    assert "onetoone access grant-login" in overview and "--role bi" in overview
    assert "audit.dbt_test_results" in overview and "mart_quality_summary" in overview
