"""Training without labels where duplicates are many: u without the matches random sampling
draws, the prior at the fixed point the trained model implies, and names given only in part."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest
from febrl_like import febrl_like

from onetoone.stages.identity import model as spec
from onetoone.stages.identity.dedupe import dedupe_files, read_records
from onetoone.stages.identity.evaluation import pairwise_scores
from onetoone.stages.identity.linker import U_MIN_SHARE_KEPT, remove_matches_from_u
from onetoone.stages.identity.standardise import standardise


def _settings(m: list[float], seen_u: list[float]) -> dict:
    levels = [{"sql_condition": "a_l IS NULL", "is_null_level": True}]
    levels += [{"sql_condition": f"level {i}", "m_probability": mi, "u_probability": ui}
               for i, (mi, ui) in enumerate(zip(m, seen_u, strict=True))]
    return {"comparisons": [{"output_column_name": "a", "comparison_levels": levels}]}


def _u(settings: dict) -> list[float]:
    return [lvl["u_probability"] for lvl in settings["comparisons"][0]["comparison_levels"][1:]]


def test_u_is_what_non_matches_reach_once_the_sampled_matches_are_taken_out():
    prior, m, true_u = 0.001, [0.9, 0.1], [2e-4, 1 - 2e-4]
    seen = [prior * mi + (1 - prior) * ui for mi, ui in zip(m, true_u, strict=True)]
    settings = _settings(m, seen)
    remove_matches_from_u(settings, prior)
    assert _u(settings) == pytest.approx(true_u, rel=1e-6)


def test_u_is_never_lowered_below_a_share_of_what_sampling_saw():
    settings = _settings([0.9, 0.1], [1e-4, 1 - 1e-4])  # the prior alone would explain 9e-4
    remove_matches_from_u(settings, 0.001)
    u = _u(settings)
    assert u[0] == pytest.approx(U_MIN_SHARE_KEPT * 1e-4, rel=1e-3)
    assert sum(u) == pytest.approx(1.0)


def _true_pair_share(keys: pd.DataFrame) -> float:
    people = keys["record_id"].str.extract(r"^rec-(\d+)-", expand=False)
    pairs = sum(n * (n - 1) / 2 for n in people.value_counts())
    return pairs / (len(keys) * (len(keys) - 1) / 2)


def test_the_prior_is_near_the_true_share_of_matching_pairs_when_most_people_repeat(tmp_path):
    """The deterministic rules' estimate assumes they find 80% of the matches; with a typo in
    most duplicates they find far fewer. The refined prior lands near the truth."""
    result = dedupe_files([febrl_like(tmp_path / "people.csv", persons=300, seed=11)])
    prior = result.model["splink_settings"]["probability_two_random_records_match"]
    assert prior == pytest.approx(_true_pair_share(result.keys), rel=0.35)


SYLLABLES = ["ka", "lo", "mi", "ra", "te", "su", "vi", "no", "da", "pe", "zu", "ri"]


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(3))


def _mistyped_date(rng: random.Random, date: str) -> str:
    year, month, day = date.split("-")
    return f"{year[:3]}{(int(year[3]) + rng.randint(1, 8)) % 10}-{month}-{day}"


def _people_giving_one_name(path: Path, persons: int = 240, seed: int = 5) -> Path:
    """Originals and one duplicate each that leaves the surname out: for half of them with the
    birth date as given (training sees the level there), for the other half with a mistyped
    birth year, where only the given name and the address say it is the same person. A third
    also have a full copy."""
    rng = random.Random(seed)
    rows = []
    for n in range(persons):
        original = {"record_id": f"rec-{n}-org", "first_name": _word(rng),
                    "last_name": _word(rng),
                    "birth_date": f"19{rng.randint(40, 89)}-{rng.randint(1, 12):02d}"
                                  f"-{rng.randint(1, 28):02d}",
                    "address_line": f"{rng.randint(1, 300)} {_word(rng)} street",
                    "city": rng.choice(["lima", "cusco", "arequipa", "trujillo"]),
                    "postcode": f"{rng.randint(10000, 99999)}"}
        duplicate = {**original, "record_id": f"rec-{n}-dup-0", "last_name": None}
        if n % 2:
            duplicate["birth_date"] = _mistyped_date(rng, original["birth_date"])
        rows += [original, duplicate]
        if n % 3 == 0:  # a full copy too, for the rules that estimate the prior to find
            rows.append({**original, "record_id": f"rec-{n}-dup-1",
                         "address_line": original["address_line"].replace(" street", " st")})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_a_record_giving_one_name_links_on_the_name_it_gives(tmp_path):
    result = dedupe_files([_people_giving_one_name(tmp_path / "callers.csv")])
    keys = result.keys.assign(unique_id=result.keys["record_id"])
    truth = keys[["unique_id"]].assign(
        person_id=keys["record_id"].str.extract(r"^rec-(\d+)-", expand=False))
    scores = pairwise_scores(keys.rename(columns={"customer_key": "cluster_id"}), truth)
    assert scores["precision"] == 1.0
    assert scores["recall"] >= 0.95, scores


def test_name_missing_levels_exist_only_where_some_record_lacks_a_name(tmp_path):
    path = _people_giving_one_name(tmp_path / "callers.csv", persons=20)
    with_gaps = standardise(read_records(path, {}))
    complete = with_gaps.dropna(subset=["given_name", "surname_1"])

    def name_levels(records: pd.DataFrame) -> list[str]:
        filled = records.notna().mean().to_dict()
        name = next(c for c in spec.comparisons_for(filled)
                    if c.get_comparison("duckdb").output_column_name == "name")
        return [level.label_for_charts for level in name.get_comparison("duckdb")
                .comparison_levels]

    assert "A name missing; a name given agrees" in name_levels(with_gaps)
    assert "A name missing; a name given agrees" not in name_levels(complete)
