"""Identity's front-line lookup on small data: one contact scored against the customers'
records with the stored model, candidates from the model's own blocking rules, and the same
probabilities Splink gives the same pair."""

from __future__ import annotations

import random

import pandas as pd
import pytest
from splink import DuckDBAPI, Linker

from onetoone.stages.identity.linker import train
from onetoone.stages.identity.lookup import (
    AMBIGUOUS,
    MATCH,
    NO_MATCH,
    NothingToLookUp,
    UnusableField,
    contact_record,
    prepare_lookup,
)
from onetoone.stages.identity.model import SHARED_VALUE_PEOPLE
from onetoone.stages.identity.standardise import standardise

GIVEN = ["Ana", "Bruno", "Carla", "Diego", "Elena", "Fábio", "Gisele", "Hugo", "Iara", "Jonas",
         "Karina", "Lucas", "Marta", "Nuno", "Olga", "Paulo", "Raquel", "Sérgio", "Tânia", "Vitor"]
SURNAMES = ["Silva", "Souza", "Lima", "Costa", "Rocha", "Alves", "Dias", "Melo", "Pinto", "Reis",
            "Teixeira", "Moura", "Barros", "Freitas", "Cardoso"]
TWIN_NAME = {"first_name": "Florisvaldo", "last_name": "Quintanilha Bezerra"}


def population(people: int = 250, seed: int = 5) -> pd.DataFrame:
    """People with one to three records each (ERP, call center, web), some with typos; the
    customer key of a record is its person."""
    rng = random.Random(seed)
    rows = []
    for n in range(people):
        given, surname = rng.choice(GIVEN), f"{rng.choice(SURNAMES)} {rng.choice(SURNAMES)}"
        person = {"first_name": given, "last_name": surname,
                  "birth_date": f"19{rng.randrange(40, 99)}-{rng.randrange(1, 13):02d}-"
                                f"{rng.randrange(1, 28):02d}",
                  "email": f"{given.lower()}.{n}@example.com",
                  "phone": f"(11) 9{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}",
                  "city": rng.choice(["São Paulo", "Curitiba", "Recife"]), "country": "BR",
                  "customer_key": f"K{n:04d}"}
        rows.append({"source": "erp", "source_record_id": f"E{n}", **person,
                     "postcode": f"{rng.randrange(10000, 99999)}-000",
                     "national_id": f"{rng.randrange(10**10, 10**11)}"})
        if rng.random() < 0.6:
            first = given if rng.random() < 0.8 else given[:-1]
            rows.append({"source": "callcenter", "source_record_id": f"C{n}", "first_name": first,
                         "last_name": surname.split()[0], "phone": person["phone"],
                         "customer_key": person["customer_key"]})
        if rng.random() < 0.5:
            rows.append({"source": "web", "source_record_id": f"W{n}", **person,
                         "phone": None, "email": person["email"].upper()})
    # namesakes: same name, different people
    rows.append({"source": "erp", "source_record_id": "X1", **TWIN_NAME,
                 "birth_date": "1971-05-09", "email": "floris@example.com",
                 "phone": "(41) 99876-1111", "city": "Curitiba", "country": "BR",
                 "customer_key": "KX"})
    rows.append({"source": "erp", "source_record_id": "Y1", **TWIN_NAME,
                 "birth_date": "1983-10-21", "email": "fqb@example.org",
                 "phone": "(11) 97777-2222", "city": "São Paulo", "country": "BR",
                 "customer_key": "KY"})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    return population()


@pytest.fixture(scope="module")
def prepared(customers):
    records_std = standardise(customers)
    model = train(records_std)
    keys = pd.DataFrame({"unique_id": records_std["unique_id"],
                         "customer_key": customers["customer_key"].to_numpy()})
    index = prepare_lookup(records_std, keys, model)
    yield index, records_std, model
    index.close()


def test_a_known_customer_with_a_typo_and_a_new_email_ranks_first(prepared, customers):
    index, _, _ = prepared
    erp = customers[customers["source"] == "erp"].iloc[17]
    contact = {"first_name": erp["first_name"][:-1] + "x", "last_name": erp["last_name"],
               "birth_date": erp["birth_date"], "phone": erp["phone"].replace("(", "").replace(
                   ")", "").replace("-", ""), "email": "new.address@example.net"}
    result = index.score(contact)
    assert result.outcome == MATCH
    top = result.customers[0]
    assert top.customer_key == erp["customer_key"] and top.match_probability >= index.threshold
    assert "birth_date" in top.agreed and "contact" in top.agreed
    assert {e["comparison"] for e in top.evidence} >= {"name", "birth_date", "contact"}


def test_a_stranger_is_no_match(prepared):
    index, _, _ = prepared
    result = index.score({"first_name": "Wolfgang", "last_name": "Amadeus Mozart",
                          "birth_date": "1956-01-27", "phone": "(85) 91234-0000",
                          "email": "wolfgang@example.de"})
    assert result.outcome == NO_MATCH and result.customers == []


def test_namesakes_by_name_alone_are_not_a_match(prepared):
    index, _, _ = prepared
    by_name = index.score(dict(TWIN_NAME))
    assert by_name.outcome in (AMBIGUOUS, NO_MATCH)
    assert by_name.candidates_scored >= 2
    with_birth_date = index.score({**TWIN_NAME, "birth_date": "1983-10-21",
                                   "phone": "11977772222"})
    assert with_birth_date.outcome == MATCH
    assert with_birth_date.customers[0].customer_key == "KY"


def test_probabilities_are_splinks_own_for_the_same_pair(prepared, customers):
    """The compiled SQL is Splink's: the contact against its best candidate gets the match
    probability Splink's score_pairs gives that pair (term frequencies of all records)."""
    index, records_std, model = prepared
    erp = customers[customers["source"] == "erp"].iloc[3]
    contact = {"first_name": erp["first_name"], "last_name": erp["last_name"],
               "phone": erp["phone"], "postcode": "80000-100"}
    result = index.score(contact)
    top = result.customers[0]
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(records_std), model["splink_settings"], log_level=None)
    linker.table_management.compute_tf_table("name_key")
    probe = standardise(contact_record(contact)).iloc[0].to_dict()
    candidate = records_std[records_std["unique_id"] == top.unique_id].iloc[0].to_dict()
    splinks = linker.inference.score_pairs([probe], [candidate]).as_pandas_dataframe()
    assert splinks["match_probability"].iloc[0] == pytest.approx(top.match_probability,
                                                                 abs=1e-9)


def test_candidates_come_only_from_the_models_blocking_rules(prepared):
    index, _, model = prepared
    assert index.rules == [tuple(rule["keys"]) for rule in model["blocking"]["rules"]]
    # a postcode alone is in no rule's keys here: nothing to block on, nothing scored
    if not any(rule == ("postcode",) for rule in index.rules):
        assert index.score({"postcode": "01000-200"}).candidates_scored == 0


def test_bad_contacts_are_refused_with_the_field_named(prepared):
    index, _, _ = prepared
    with pytest.raises(NothingToLookUp):
        index.score({"phone": "  "})
    with pytest.raises(UnusableField, match="birth_date"):
        index.score({"first_name": "Ana", "birth_date": "not a date"})
    with pytest.raises(UnusableField, match="email"):
        index.score({"email": "no-at-sign"})
    with pytest.raises(ValueError, match="unknown lookup field"):
        contact_record({"shoe_size": "42"})


def test_lookups_from_parallel_threads_answer_as_one_at_a_time(prepared, customers):
    from concurrent.futures import ThreadPoolExecutor

    index, _, _ = prepared
    contacts = [{"first_name": r.first_name, "last_name": r.last_name, "phone": r.phone}
                for r in customers[customers["source"] == "erp"].head(24).itertuples()]
    alone = [index.score(c).customers[0].customer_key for c in contacts]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda c: index.score(c).customers[0].customer_key, contacts))
    assert together == alone


def test_the_batcher_answers_each_request_as_a_lookup_alone(prepared, customers):
    from concurrent.futures import ThreadPoolExecutor

    from onetoone.stages.identity.lookup import LookupBatcher

    index, _, _ = prepared
    contacts = [{"first_name": r.first_name, "last_name": r.last_name, "phone": r.phone}
                for r in customers[customers["source"] == "erp"].head(30).itertuples()]
    contacts[7] = {"birth_date": "not a date"}
    alone = [index.score_many([c])[0] for c in contacts]
    batcher = LookupBatcher(index, workers=2, max_batch=8)
    try:
        def ask(contact):
            try:
                return batcher.score(contact)
            except ValueError as error:
                return error

        with ThreadPoolExecutor(12) as pool:
            together = list(pool.map(ask, contacts))
    finally:
        batcher.close()
    assert isinstance(together[7], UnusableField)
    assert [(r.outcome, [(c.customer_key, round(c.match_probability, 9)) for c in r.customers])
            for r in together if not isinstance(r, Exception)] == [
        (r.outcome, [(c.customer_key, round(c.match_probability, 9)) for c in r.customers])
        for r in alone if not isinstance(r, Exception)]


def test_a_caller_from_a_shops_phone_is_not_taken_for_its_customers():
    """The shop's phone is on the records of many differently named walk-in customers: it finds
    none of them, and a customer calling from it is found by who she says she is."""
    shop_phone, shop_customers = "(11) 3030-4040", 8
    assert shop_customers >= SHARED_VALUE_PEOPLE
    walk_ins = pd.DataFrame([
        {"source": "erp", "source_record_id": f"S{n}", "first_name": GIVEN[n],
         "last_name": f"{SURNAMES[n]} {SURNAMES[-1 - n]}", "phone": shop_phone,
         "birth_date": f"19{60 + n}-0{1 + n % 9}-1{n % 9}", "city": "Recife", "country": "BR",
         "customer_key": f"KS{n}"}
        for n in range(shop_customers)])
    customers = pd.concat([population(people=120, seed=9), walk_ins], ignore_index=True)
    records_std = standardise(customers)
    keys = pd.DataFrame({"unique_id": records_std["unique_id"],
                         "customer_key": customers["customer_key"].to_numpy()})
    index = prepare_lookup(records_std, keys, train(records_std))
    try:
        assert index.score({"phone": shop_phone}).outcome == NO_MATCH
        one = walk_ins.iloc[3]
        found = index.score({"first_name": one["first_name"], "last_name": one["last_name"],
                             "birth_date": one["birth_date"], "phone": shop_phone})
        assert found.outcome == MATCH and found.customers[0].customer_key == one["customer_key"]
    finally:
        index.close()
