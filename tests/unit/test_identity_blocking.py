"""Blocking chosen from the data, comparisons by kind of column, and the explanation of links:
real Splink runs on small populations built here."""

from __future__ import annotations

import random

import pandas as pd
import pytest
from splink import DuckDBAPI
from splink.blocking_analysis import count_comparisons_from_blocking_rules

from onetoone.stages.identity import model as spec
from onetoone.stages.identity.linker import (
    blocking_report,
    explain_links,
    filled_shares,
    predict_pairs,
    resolve,
    train,
)
from onetoone.stages.identity.standardise import address_street_word, soundex, standardise

GIVEN = ["ana", "bruno", "carla", "diego", "elena", "fabio", "gisele", "hugo", "iara", "jonas",
         "karina", "lucas", "marta", "nuno", "olga", "paulo", "raquel", "sergio", "tania"]
SURNAMES = ["silva", "souza", "lima", "costa", "rocha", "alves", "dias", "melo", "pinto",
            "reis", "teixeira", "moura", "barros", "freitas", "cardoso", "ribeiro", "gomes"]


def _typo(rng: random.Random, word: str) -> str:
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def names_and_dates(seed: int = 11, people: int = 400) -> pd.DataFrame:
    """People with only a name and a birth date, two records each, the second often with a
    typo in the name or a day/month swap: no contact column at all."""
    rng = random.Random(seed)
    rows = []
    for n in range(people):
        given, surname = rng.choice(GIVEN), rng.choice(SURNAMES)
        year, month = rng.randint(1940, 2000), rng.randint(1, 11)
        day = rng.randint(month + 1, 12) if n % 4 == 2 else rng.randint(1, 28)  # swappable
        rows.append({"source": "a", "source_record_id": f"{n}", "first_name": given,
                     "last_name": surname, "birth_date": f"{year}-{month:02d}-{day:02d}",
                     "person_id": n})
        second = {"source": "b", "source_record_id": f"{n}", "first_name": given,
                  "last_name": surname, "birth_date": f"{year}-{month:02d}-{day:02d}",
                  "person_id": n}
        kind = n % 4
        if kind == 1:
            second["first_name"] = _typo(rng, given)
        elif kind == 2:
            second["birth_date"] = f"{year}-{day:02d}-{month:02d}"  # day and month swapped
        elif kind == 3:
            second["last_name"] = _typo(rng, surname)
        rows.append(second)
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    return names_and_dates()


@pytest.fixture(scope="module")
def records_std(people: pd.DataFrame) -> pd.DataFrame:
    return standardise(people.drop(columns="person_id"))


@pytest.fixture(scope="module")
def trained(records_std: pd.DataFrame) -> dict:
    return train(records_std)


def test_soundex_and_street_word_keys():
    assert soundex("robert") == soundex("rupert") == "r163"
    assert [soundex(n) for n in ("tymczak", "pfister", "honeyman")] == ["t522", "p236", "h555"]
    assert soundex("") is None
    assert address_street_word("7 wallaby place delmar") == "wallaby"
    assert address_street_word("rua das flores 123") == "flores"
    assert address_street_word("12") is None


def test_candidate_rules_use_only_columns_the_input_fills(records_std):
    filled = filled_shares(records_std)
    used = {spec.key(name).column for rule in spec.candidate_rules(filled) for name in rule}
    assert used <= {"given_name", "surname_1", "name_key", "birth_date"}
    assert ("given_name", "birth_date") in spec.candidate_rules(filled)


def test_choice_keeps_within_the_budget_and_never_relies_on_one_field():
    filled = dict.fromkeys(["given_name", "surname_1", "name_key", "birth_date", "postcode"], 1.0)
    counts = {rule: 200 for rule in spec.candidate_rules(filled)}
    counts[("birth_date",)] = 10**9  # far beyond any budget
    chosen = spec.choose_blocking(counts, filled, records=1000)
    assert chosen and ("birth_date",) not in [rule.keys for rule in chosen]
    assert sum(rule.comparisons for rule in chosen) <= spec.COMPARISONS_PER_RECORD * 1000
    for field in ("given_name", "surname", "birth_date", "postcode"):
        # a pair with this field entirely wrong is still found by some rule
        assert any(all(field not in spec.key(name).fields for name in rule.keys)
                   for rule in chosen), field
    # a small budget buys fewer rules
    small = spec.choose_blocking(counts, filled, records=20)
    assert len(small) < len(chosen)


def test_trained_model_stores_the_chosen_rules_with_splinks_counts(records_std, trained):
    blocking = trained["blocking"]
    assert blocking["records"] == len(records_std) and blocking["rules"]
    assert blocking["estimated_comparisons"] <= blocking["budget"]
    rules = [rule["sql"] for rule in blocking["rules"]]
    stored = [rule["blocking_rule"] for rule in
              trained["splink_settings"]["blocking_rules_to_generate_predictions"]]
    assert stored == rules
    db_api = DuckDBAPI()
    records = db_api.register(records_std)
    counted = count_comparisons_from_blocking_rules(
        records, blocking_rules=rules, link_type="dedupe_only", record_sample_proportion=1.0)
    assert blocking["estimated_comparisons"] == counted[-1]["cumulative_comparison_count"]
    report = blocking_report(trained)
    assert len(report) == len(rules) + 1 and "comparisons" in report[0]
    assert blocking_report({k: v for k, v in trained.items() if k != "blocking"}) == []


def test_names_and_dates_alone_resolve_typos_and_swapped_dates(people, records_std, trained):
    names = [c["output_column_name"] for c in trained["splink_settings"]["comparisons"]]
    assert names == ["name", "birth_date"]  # contact and national id dropped out
    clusters = resolve(records_std, trained).set_index("unique_id")
    for kind in (1, 2, 3):  # name typo, swapped day/month, surname typo
        found = [clusters.at[f"a:{n}", "cluster_id"] == clusters.at[f"b:{n}", "cluster_id"]
                 for n in range(kind, len(people) // 2, 4)]
        assert sum(found) / len(found) >= 0.9, kind


def test_swapped_day_and_month_has_its_own_level(records_std, trained):
    pairs = predict_pairs(records_std, trained, threshold=0.0)
    swapped = pairs[(pairs["unique_id_l"] == "a:2") & (pairs["unique_id_r"] == "b:2")]
    levels = next(c for c in trained["splink_settings"]["comparisons"]
                  if c["output_column_name"] == "birth_date")["comparison_levels"]
    labels = [lvl.get("label_for_charts") for lvl in levels if not lvl.get("is_null_level")]
    gamma = len(labels) - 1 - labels.index("Day and month swapped")
    assert swapped["gamma_birth_date"].tolist() == [gamma]


def test_explain_links_adds_up_to_each_pairs_match_weight(records_std, trained):
    explained = explain_links(records_std, trained, ["a:1", "b:1", "a:5"])
    assert set(zip(explained["record_a"], explained["record_b"], strict=True)) == {
        ("a:1", "b:1"), ("a:1", "a:5"), ("a:5", "b:1")}
    for _, terms in explained.groupby(["record_a", "record_b"]):
        assert terms["weight"].sum() == pytest.approx(terms["match_weight"].iloc[0], abs=1e-6)
        assert terms["linked"].iloc[0] == (terms["match_probability"].iloc[0] >= 0.95)
        assert terms["comparison"].iloc[0] == "prior"
    same_person = explained[(explained["record_a"] == "a:1") & (explained["record_b"] == "b:1")]
    assert same_person["linked"].all()
    # labels and weights only: no record value is in the explanation
    text = explained.to_string()
    assert not any(value in text for value in records_std.loc[:3, "given_name"])
    assert explain_links(records_std, trained, ["a:1"]).empty


def test_contact_levels_need_their_columns():
    def labels(filled: dict[str, float]) -> dict[str, list[str]]:
        return {c.get_comparison("duckdb").output_column_name:
                [lvl.label_for_charts for lvl in c.get_comparison("duckdb").comparison_levels
                 if not lvl.is_null_level]
                for c in spec.comparisons_for(filled)}

    address_only = labels({"given_name": 1.0, "surname_1": 1.0, "address": 0.9, "city": 0.8,
                           "postcode": 0.9, "phone_last8": 0.0})
    assert set(address_only) == {"name", "contact"}
    assert "Same address" in address_only["contact"]
    assert not any("phone" in label.lower() for label in address_only["contact"])
    everything = labels(dict.fromkeys(
        ["given_name", "surname_1", "birth_date", "phone_last8", "email", "address", "postcode",
         "city", "national_id"], 1.0))
    assert set(everything) == {"name", "birth_date", "contact", "national_id"}
    assert "Same phone and same email" in everything["contact"]


def test_large_inputs_count_candidates_on_a_sample(records_std, monkeypatch):
    from onetoone.stages.identity import linker

    filled = filled_shares(records_std)
    with linker._database(records_std) as (con, _, records):
        exact = linker.choose_blocking(con, records, filled, len(records_std))
        monkeypatch.setattr(linker, "CANDIDATE_COUNT_RECORDS", len(records_std) // 2)
        sampled = linker.choose_blocking(con, records, filled, len(records_std))
        assert sampled["rules"] and sampled["estimated_comparisons"] <= sampled["budget"]
        for rule in sampled["rules"]:
            true_count = linker.candidate_comparisons(con, records.physical_name,
                                                      tuple(rule["keys"]))
            assert 0.5 * true_count <= rule["comparisons"] <= 2 * true_count, rule
    assert exact["rules"] != [] and exact["candidates"] == sampled["candidates"]
