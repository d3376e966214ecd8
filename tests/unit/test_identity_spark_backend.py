"""The same model scores on Spark (local[2]) as on DuckDB: pairwise F1 between the two
clusterings >= 0.999, on a generated sample and on a FEBRL-like file (FEBRL's columns and
``rec-<n>-org`` / ``rec-<n>-dup-<k>`` ids, typos in duplicates). Needs Java 17 and the ``spark``
dependency group, both installed by ``make install``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from febrl_like import febrl_like

from onetoone.generate import generate
from onetoone.stages.identity.backends import BackendError, configured_backend, to_spark_sql
from onetoone.stages.identity.dedupe import dedupe_files
from onetoone.stages.identity.evaluation import pairwise_scores


def generated_sample(out: Path) -> Path:
    generate(out, customers=300, seed=5, days=30, broken_share=0)
    erp = pd.read_csv(out / "erp" / "customers.csv", dtype=str).rename(
        columns={"customer_id": "record_id", "tax_id": "national_id"})
    path = out / "erp_customers.csv"
    erp.to_csv(path, index=False)
    return path


def _agreement(path: Path, tmp_path: Path) -> dict:
    duckdb_run = dedupe_files([path])
    model_path = tmp_path / f"{path.stem}.model.json"
    from onetoone.stages.identity.linker import save_model

    save_model(duckdb_run.model, model_path)
    spark_run = dedupe_files([path], model_path=model_path, backend="spark")
    as_clusters = lambda keys, name: keys.assign(unique_id=keys["record_id"])[  # noqa: E731
        ["unique_id", "customer_key"]].rename(columns={"customer_key": name})
    return pairwise_scores(as_clusters(spark_run.keys, "cluster_id"),
                           as_clusters(duckdb_run.keys, "person_id"))


@pytest.mark.timeout(180)
def test_spark_clusters_agree_with_duckdb_on_generated_and_febrl_like_data(tmp_path: Path):
    generated = _agreement(generated_sample(tmp_path / "generated"), tmp_path)
    febrl = _agreement(febrl_like(tmp_path / "febrl_like.csv"), tmp_path)
    for scores in (generated, febrl):
        assert scores["true_pairs"] > 10  # the files have duplicates to agree on
        assert scores["f1"] >= 0.999, scores


def test_duckdb_sql_is_translated_to_splinks_spark_functions():
    sql = to_spark_sql("jaro_winkler_similarity(a_l, a_r) >= 0.9 AND starts_with(b_l, b_r)"
                       " AND jaro_similarity(c_l, c_r) > 0.5 AND levenshtein(d_l, d_r) <= 1")
    assert sql == ("JARO_WINKLER(a_l, a_r) >= 0.9 AND STARTSWITH(b_l, b_r)"
                   " AND JARO_SIM(c_l, c_r) > 0.5 AND LEVENSHTEIN(d_l, d_r) <= 1")


def test_backend_setting_is_checked(monkeypatch):
    monkeypatch.setenv("ONETOONE_IDENTITY_BACKEND", "Spark")
    assert configured_backend() == "spark"
    assert configured_backend("duckdb") == "duckdb"
    monkeypatch.setenv("ONETOONE_IDENTITY_BACKEND", "oracle")
    with pytest.raises(BackendError, match="ONETOONE_IDENTITY_BACKEND='oracle'"):
        configured_backend()
