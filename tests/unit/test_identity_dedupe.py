"""`onetoone dedupe` on arbitrary customer CSV files: the pipeline's model family on files with
other column names, and clear errors for input it cannot use."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from onetoone.cli import main
from onetoone.generate import generate
from onetoone.stages.identity.dedupe import (
    DedupeInputError,
    dedupe_files,
    parse_mapping,
    read_records,
)
from onetoone.stages.identity.evaluation import pairwise_scores


@pytest.fixture(scope="module")
def people_files(tmp_path_factory) -> tuple[Path, Path, pd.DataFrame]:
    """ERP customers as they come, web accounts under Spanish column names, and the truth."""
    out = tmp_path_factory.mktemp("sample")
    generate(out, customers=600, seed=5, days=60, broken_share=0)
    erp = pd.read_csv(out / "erp" / "customers.csv", dtype=str).rename(
        columns={"customer_id": "record_id", "tax_id": "national_id"})
    erp_path = out / "erp_customers.csv"
    erp.to_csv(erp_path, index=False)
    events = pd.concat(pd.read_json(p, lines=True, dtype=False)
                       for p in sorted((out / "web").glob("*.ndjson")))
    accounts = events[events["event_type"] == "registration"].drop_duplicates("account_id")
    web = pd.DataFrame({"cuenta": accounts["account_id"], "nombre": accounts["first_name"],
                        "apellido": accounts["last_name"], "correo": accounts["email"],
                        "telefono": accounts["phone"], "nacimiento": accounts["birth_date"]})
    web_path = out / "web_accounts.csv"
    web.to_csv(web_path, index=False)
    truth = pd.read_csv(out / "truth" / "records.csv", dtype=str)
    return erp_path, web_path, truth


WEB_MAP = ["cuenta=record_id", "nombre=first_name", "apellido=last_name", "correo=email",
           "telefono=phone", "nacimiento=birth_date"]


def test_links_files_with_mapped_columns_and_keys_every_record(people_files, tmp_path):
    erp_path, web_path, truth = people_files
    output = tmp_path / "keys.csv"
    assert main(["dedupe", str(erp_path), str(web_path), "--output", str(output),
                 *[a for m in WEB_MAP for a in ("--map", m)]]) == 0
    keys = pd.read_csv(output, dtype=str)
    assert list(keys.columns[:3]) == ["source", "record_id", "customer_key"]
    assert set(keys["source"]) == {"erp_customers", "web_accounts"}
    assert keys["customer_key"].notna().all()
    source = {"erp_customers": "erp", "web_accounts": "web"}
    keys["unique_id"] = keys["source"].map(source) + ":" + keys["record_id"]
    truth["unique_id"] = truth["source"] + ":" + truth["source_record_id"]
    scores = pairwise_scores(keys.rename(columns={"customer_key": "cluster_id"}),
                             truth[truth["unique_id"].isin(keys["unique_id"])])
    assert scores["precision"] >= 0.97 and scores["recall"] >= 0.7, scores


def test_a_saved_model_scores_other_files_without_retraining(people_files, tmp_path, capsys):
    erp_path, web_path, _ = people_files
    model = tmp_path / "model.json"
    first = tmp_path / "first.csv"
    assert main(["dedupe", str(erp_path), "--output", str(first), "--save-model", str(model)]) == 0
    # the blocking rules chosen for this file are printed and saved with their counts
    printed = capsys.readouterr().err
    saved = json.loads(model.read_text(encoding="utf-8"))["blocking"]
    assert f"blocking: {len(saved['rules'])} rules chosen" in printed
    for rule in saved["rules"]:
        assert " + ".join(rule["keys"]) in printed and rule["comparisons"] > 0
    again = dedupe_files([erp_path], model_path=model)
    assert not again.trained
    assert again.keys["customer_key"].tolist() == pd.read_csv(first)["customer_key"].tolist()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name,email\nAna,a@x.com\n", "no record_id column"),
        ("record_id,email\n1,a@x.com\n1,b@x.com\n", "row 3, field 'record_id': duplicate id '1'"),
        ("record_id,email\n1,a@x.com\n,b@x.com\n", "row 3, field 'record_id': empty"),
        ("record_id,colour\n1,red\n", "no column to match on"),
        ('record_id,email\n1,"a@x.com\n', "not a readable CSV file"),
    ],
)
def test_unusable_input_is_refused_with_file_row_and_field(tmp_path, content, message):
    path = tmp_path / "people.csv"
    path.write_text(content)
    with pytest.raises(DedupeInputError, match=message) as err:
        read_records(path, {})
    assert str(path) in str(err.value)


def test_non_utf8_file_and_missing_file_are_refused(tmp_path, capsys):
    latin = tmp_path / "latin.csv"
    latin.write_bytes("record_id,first_name\n1,José\n".encode("cp1252"))
    assert main(["dedupe", str(latin), "--output", str(tmp_path / "o.csv")]) == 2
    assert "not valid UTF-8" in capsys.readouterr().err
    assert main(["dedupe", str(tmp_path / "nope.csv"), "--output", str(tmp_path / "o.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_bad_mapping_is_refused():
    with pytest.raises(DedupeInputError, match="expected SRC=FIELD"):
        parse_mapping(["colour=favourite_colour"])


def test_empty_values_are_fine(tmp_path):
    path = tmp_path / "sparse.csv"
    path.write_text("record_id,first_name,last_name,email\n1,Ana,,\n2,,,\n")
    records = read_records(path, {})
    assert records["source_record_id"].tolist() == ["1", "2"]


def test_two_records_end_in_one_line_naming_the_cause(tmp_path, capsys):
    two = tmp_path / "two.csv"
    two.write_text("record_id,first_name,last_name,email\n1,Ana,Silva,ana@example.com\n"
                   "2,Bia,Souza,bia@example.com\n", encoding="utf-8")
    assert main(["dedupe", str(two), "--output", str(tmp_path / "o.csv")]) == 2
    stderr = capsys.readouterr().err
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == (
        "onetoone dedupe: error: 2 records hold no pair that the deterministic rules"
                     " match, too few to train a model; pass a model trained on more records"
                     " with --model")
