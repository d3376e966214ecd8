"""Benchmark the household rule on the sample generator's data.

    .venv/bin/python bench/bench_households.py --customers 10000 [--seed 7]

Generates the extracts, standardises the ERP customers as identity does, and groups the ERP
people who have an address by the rule of int_customer_households (standardised address in the
same city, the postcodes given there agreeing), by the rule before it (address and postcode, or
city without a postcode: a postcode missing on one record split a home), by the latter plus the
same first surname, and by the address and city alone. Scores
pairs of different people against the generator's households (``truth/records.csv``): precision
(pairs grouped that truly share a household) and recall (true household pairs grouped). The dbt
model applies the rule to each customer's golden address; here each ERP record stands for its
person, which is what the rule sees when identity resolved the person correctly.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path

import pandas as pd

from onetoone.generate import generate
from onetoone.stages.identity.standardise import INPUT_COLUMNS, standardise


def person_pairs(groups: pd.Series, persons: pd.Series) -> set[tuple[str, str]]:
    """Pairs of different people that share a group value (null: no group)."""
    frame = pd.DataFrame({"group": groups, "person": persons}).dropna().drop_duplicates()
    pairs = set()
    for _, members in frame.groupby("group")["person"]:
        pairs.update(itertools.combinations(sorted(set(members)), 2))
    return pairs


def household_address_keys(std: pd.DataFrame) -> pd.Series:
    """int_customer_households' rule on each record: the same address in the same city is one
    home when the postcodes given there agree (a record without one joins it); where two
    postcodes are given, each is its own home and a record without one keys by its city. No
    city: address and postcode."""
    city = std["city"].str.lower()
    postcodes = std.assign(city=city).groupby(["address", "city"])["postcode"]
    distinct = postcodes.transform("nunique")
    only = postcodes.transform(lambda p: p.dropna().iloc[0] if p.notna().any() else None)
    place = pd.Series(None, index=std.index, dtype=object)
    with_city = std["address"].notna() & city.notna()
    place[with_city & (distinct == 1)] = "postcode:" + only
    place[with_city & (distinct == 0)] = "city:" + city
    several = with_city & (distinct > 1)
    place[several] = ("postcode:" + std["postcode"]).fillna("city:" + city)[several]
    no_city = std["address"].notna() & city.isna() & std["postcode"].notna()
    place[no_city] = "postcode:" + std["postcode"]
    return (std["address"] + "|" + place).where(place.notna())


def score(predicted: set, true: set) -> tuple[float, float]:
    found = len(predicted & true)
    return (found / len(predicted) if predicted else 1.0, found / len(true) if true else 1.0)


def run(customers: int, seed: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        generate(root, customers, seed)
        erp = pd.read_csv(root / "erp" / "customers.csv", dtype=str)
        truth = pd.read_csv(root / "truth" / "records.csv", dtype=str)
    erp = erp.rename(columns={"customer_id": "source_record_id", "tax_id": "national_id"})
    erp["full_name"] = erp["first_name"].fillna("") + " " + erp["last_name"].fillna("")
    erp = erp.assign(source="erp").reindex(columns=INPUT_COLUMNS)
    std = standardise(erp)
    std = std.merge(truth.loc[truth["source"] == "erp",
                              ["source_record_id", "person_id", "household_id"]],
                    on="source_record_id")
    place = std["postcode"].map(lambda p: f"postcode:{p}", na_action="ignore").fillna(
        std["city"].map(lambda c: f"city:{c.lower()}", na_action="ignore"))
    address_key = (std["address"] + "|" + place).where(std["address"].notna() & place.notna())
    with_address = std[address_key.notna()]
    true = person_pairs(with_address["household_id"], with_address["person_id"])
    by_address = person_pairs(address_key, std["person_id"])
    by_surname = person_pairs(address_key + "|" + std["surname_1"].fillna(""), std["person_id"])
    by_city = person_pairs((std["address"] + "|" + std["city"].str.lower())
                           .where(address_key.notna()), std["person_id"])
    by_agreeing_postcode = person_pairs(household_address_keys(std), std["person_id"])
    people = with_address["person_id"].nunique()
    print(f"customers {customers}: ERP people with an address {people},"
          f" true household pairs {len(true)}")
    for name, predicted in (("address (+ postcode, else city)", by_address),
                            ("address + city, postcodes where given agreeing (the model's)",
                             by_agreeing_postcode),
                            ("address + same first surname", by_surname),
                            ("address + city (ignoring the postcode)", by_city)):
        precision, recall = score(predicted, true)
        print(f"  {name}: pairs {len(predicted)}, precision {precision:.3f}, recall {recall:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[10000])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    for customers in args.customers:
        run(customers, args.seed)


if __name__ == "__main__":
    main()
