"""The front-line service against the real warehouse: the dbt fixture built and published by
the real dbt and publish, an identity model trained by Splink, the service's app over them.
Lookups find the right customer and are audited without the searched values; the customer view
shows personal fields only to a front-line token that looked that customer up; bad requests get
4xx with one line; the page renders in a headless browser."""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time
from collections.abc import Iterator

import pandas as pd
import psycopg
import pytest
import uvicorn
from fastapi.testclient import TestClient
from fixture_database import create_fixture_database, warehouse_url_set_to

from onetoone.runtime.dbt import run_dbt
from onetoone.service.app import create_app, load_context
from onetoone.stages.identity import store as identity_store
from onetoone.stages.identity.linker import train
from onetoone.stages.identity.standardise import (
    standardise,
    standardise_reusing,
    standardise_version,
)
from onetoone.stages.serving import frontline
from onetoone.stages.serving.publish import publish_marts

pytestmark = pytest.mark.integration

TEST_DB = "onetoone_test_frontline"
# ERP customer C001 of the fixture (customer K01), as a caller gives it on the phone
ANA = {"first_name": "Ana", "last_name": "Souza", "birth_date": "12/04/1988",
       "phone": "11 98765 4321"}
ANA_VALUES = ("Ana", "Souza", "1988", "98765", "4321")


def training_records(people: int = 300) -> pd.DataFrame:
    """Records enough for Splink to estimate the model on (the fixture has a dozen)."""
    import random

    rng = random.Random(11)
    given = ["Ana", "Bruno", "Carla", "Diego", "Elena", "Fábio", "Gisele", "Hugo", "Iara"]
    surnames = ["Silva", "Souza", "Lima", "Costa", "Rocha", "Alves", "Dias", "Melo", "Pinto"]
    rows = []
    for n in range(people):
        first, last = rng.choice(given), f"{rng.choice(surnames)} {rng.choice(surnames)}"
        person = {"first_name": first, "last_name": last,
                  "birth_date": f"19{rng.randrange(40, 99)}-{rng.randrange(1, 13):02d}-"
                                f"{rng.randrange(1, 28):02d}",
                  "email": f"{first.lower()}.{n}@example.com",
                  "phone": f"(21) 9{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}",
                  "city": "Recife", "country": "BR"}
        rows.append({"source": "erp", "source_record_id": f"T{n}", **person,
                     "postcode": f"{rng.randrange(10000, 99999)}-000"})
        if rng.random() < 0.6:
            rows.append({"source": "callcenter", "source_record_id": f"TC{n}",
                         "first_name": first, "last_name": last.split()[0],
                         "phone": person["phone"]})
        if rng.random() < 0.5:
            rows.append({"source": "web", "source_record_id": f"TW{n}", **person,
                         "phone": None, "email": person["email"].upper()})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def served(warehouse, tmp_path_factory) -> Iterator[dict]:
    """The fixture warehouse built by dbt and published, the model and standardised records
    of an identity run in a private state, tokens of both roles, and the service's app."""
    url = create_fixture_database(TEST_DB)
    with warehouse_url_set_to(url):
        returncode = run_dbt(["build", "--quiet", "--no-use-colors",
                              "--exclude-resource-type", "test", "unit_test"])
    assert returncode == 0
    with psycopg.connect(url) as conn, conn.transaction():
        publish_marts(conn)
    patch = pytest.MonkeyPatch()
    models, scoring = tmp_path_factory.mktemp("models"), tmp_path_factory.mktemp("scoring")
    patch.setattr(identity_store, "models_dir", lambda: models)
    patch.setattr(identity_store, "scoring_dir", lambda: scoring)
    with psycopg.connect(url) as conn:
        records = identity_store.read_records(conn)
        identity_store.save_as_current(
            train(standardise(pd.concat([records, training_records()], ignore_index=True))))
        # what the identity step keeps of the records it scored
        identity_store.write_standardised_records(standardise_reusing(records, None),
                                                  standardise_version())
        with conn.transaction():
            tokens = {role: frontline.issue_token(conn, f"test {role}", role)
                      for role in frontline.ROLES}
            tokens["other_frontline"] = frontline.issue_token(conn, "another agent",
                                                              frontline.FRONTLINE)
    landing = tmp_path_factory.mktemp("landing")
    context = dataclasses.replace(load_context(url), landing=landing)
    app = create_app(context)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield {"url": url, "app": app, "client": client, "tokens": tokens, "landing": landing}
    context.index.close()
    patch.undo()


def get(served: dict, path: str, role: str | None, **params):
    headers = {"Authorization": f"Bearer {served['tokens'][role]}"} if role else {}
    return served["client"].get(path, params=params, headers=headers)


def audit_rows(url: str, token: str) -> list[dict]:
    token_id = token.split(".")[1]
    with psycopg.connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute("select * from audit.frontline_lookups where token_id = %s"
                    " order by lookup_id", (token_id,))
        return cur.fetchall()


def test_a_lookup_finds_the_customer_and_is_audited_without_the_values(served):
    answer = get(served, "/customers/lookup", "frontline", **ANA)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["outcome"] == "match"
    top = body["customers"][0]
    assert top["customer_key"] == "K01" and top["match_probability"] >= 0.95
    assert {"name", "birth_date", "contact"} <= set(top["fields_agreeing"])
    assert all({"comparison", "level", "weight"} == set(e) for e in top["evidence"])

    [row] = [r for r in audit_rows(served["url"], served["tokens"]["frontline"])
             if r["kind"] == "lookup"][-1:]
    assert row["fields_given"] == sorted(ANA)
    assert row["outcome"] == "match" and row["top_key"] == "K01"
    assert row["result_count"] == len(body["customers"]) and row["latency_ms"] > 0
    assert len(row["contact_hash"]) == 64
    # a keyed hash: not the plain SHA-256 of the searched values
    assert row["contact_hash"] != frontline.token_hash(json.dumps(ANA, sort_keys=True))
    # The clock, the latency and the hashes are digits that can hold "4321" by chance (a run
    # failed on occurred_at 14:05:16.432168); what must not hold the values is everything else.
    chance_digits = {"occurred_at", "latency_ms", "contact_hash", "token_id"}
    text = json.dumps({k: v for k, v in row.items() if k not in chance_digits}, default=str)
    assert not any(value in text for value in ANA_VALUES), text


def test_a_stranger_is_answered_no_match(served):
    answer = get(served, "/customers/lookup", "frontline", first_name="Wolfgang",
                 last_name="Mozart", birth_date="1956-01-27", phone="(85) 91234-0000")
    assert answer.status_code == 200
    assert answer.json()["outcome"] == "no_match" and answer.json()["customers"] == []
    row = audit_rows(served["url"], served["tokens"]["frontline"])[-1]
    assert (row["outcome"], row["result_count"], row["top_key"]) == ("no_match", 0, None)


def test_the_customer_view_shows_personal_fields_only_after_ones_own_lookup(served):
    personal = {"first_name", "last_name", "email", "phone", "birth_date", "national_id"}
    agent = "other_frontline"
    before = get(served, "/customers/K01", agent)
    assert before.status_code == 200, before.text
    assert before.json()["personal_fields_shown"] is False
    assert not personal & set(before.json()["golden_record"])

    assert get(served, "/customers/lookup", agent, **ANA).json()["customers"][0][
        "customer_key"] == "K01"
    after = get(served, "/customers/K01", agent).json()
    assert after["personal_fields_shown"] is True
    assert after["golden_record"]["first_name"] == "Ana"
    assert after["golden_record"]["email"]
    for section in ("value", "needs", "portfolio", "treatment", "contact_policy"):
        assert after[section], section
    assert after["value"]["value_tier"] and "strategic_value" in after["value"]
    assert "next_offer_category" in after["treatment"]
    assert "open_complaints" in after["contact_policy"]
    assert "satisfaction_avg" in after["contact_policy"]
    assert "manager_id" in after["portfolio"]
    assert after["last_interactions"]
    channels = {i["channel"] for i in after["last_interactions"]}
    assert len(channels) >= 2, channels  # across channels
    stamps = [i["interaction_at"] for i in after["last_interactions"]]
    assert stamps == sorted(stamps, reverse=True)


def test_bi_sees_no_personal_field_and_may_not_look_up(served):
    view = get(served, "/customers/K01", "bi")
    assert view.status_code == 200
    body = view.json()
    # the personal columns as dbt's YAML marks them, which the view reports
    assert {"email", "phone", "first_name"} <= set(body["personal_columns"]["golden_record"])
    for section, columns in body["personal_columns"].items():
        shown = body[section] or {}
        assert not set(columns) & set(shown), section
    assert body["value"]["value_tier"]
    lookup = get(served, "/customers/lookup", "bi", phone="11987654321")
    assert lookup.status_code == 403
    assert "may not look customers up" in lookup.json()["error"]


@pytest.mark.parametrize(("path", "role", "params", "status", "says"), [
    ("/customers/lookup", None, {"phone": "11987654321"}, 401, "missing bearer token"),
    ("/customers/K01", None, {}, 401, "missing bearer token"),
    ("/customers/lookup", "forged", {"phone": "11987654321"}, 401, "unknown or revoked"),
    ("/customers/lookup", "frontline", {}, 400, "give at least one of"),
    ("/customers/lookup", "frontline", {"phone": " "}, 400, "give at least one of"),
    ("/customers/lookup", "frontline", {"birth_date": "32/13/1988"}, 422, "birth_date"),
    ("/customers/lookup", "frontline", {"email": "no-at-sign"}, 422, "email"),
    ("/customers/lookup", "frontline", {"shoe_size": "42"}, 422, "unknown field 'shoe_size'"),
    ("/customers/lookup", "frontline", {"phone": ["1", "2"]}, 422, "more than once"),
    ("/customers/NOPE", "frontline", {}, 404, "no customer 'NOPE'"),
    ("/customers/lookup", "bi", {"phone": "11987654321"}, 403, "may not look"),
])
def test_bad_requests_get_a_one_line_error(served, path, role, params, status, says):
    tokens = {**served["tokens"], "forged": "o2o.000000000000.not-a-real-token"}
    headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
    answer = served["client"].get(path, params=params, headers=headers)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert says in error and "\n" not in error and "Traceback" not in answer.text


def test_a_revoked_token_is_refused(served):
    with psycopg.connect(served["url"]) as conn, conn.transaction():
        token = frontline.issue_token(conn, "leaver", frontline.FRONTLINE)
        assert frontline.revoke_token(conn, token.split(".")[1])
    answer = served["client"].get("/customers/K01",
                                  headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401


def test_tokens_are_stored_only_as_hashes(served):
    with psycopg.connect(served["url"]) as conn:
        stored = json.dumps(conn.execute("select * from audit.frontline_tokens").fetchall(),
                            default=str)
    for token in served["tokens"].values():
        assert token.split(".")[2] not in stored
        assert frontline.token_hash(token) in stored


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_page_renders_the_customer_in_a_headless_browser(served, rendered_dom):
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(served["app"], host="127.0.0.1", port=port,
                                           access_log=False, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        token = served["tokens"]["bi"]
        dom = rendered_dom(f"http://127.0.0.1:{port}/#key=K01&token={token}")
    finally:
        server.should_exit = True
        thread.join(10)
    assert "Customer K01" in dom
    assert 'id="value"' in dom and 'data-column="value_tier"' in dom
    assert 'class="interaction"' in dom
    assert "Personal fields withheld." in dom
    assert 'data-column="email"' not in dom


def test_a_refused_lookup_is_audited_too_without_its_values(served):
    answer = get(served, "/customers/lookup", "frontline", first_name="Zacarias",
                 birth_date="31/31/1931")
    assert answer.status_code == 422 and "birth_date" in answer.json()["error"]
    row = audit_rows(served["url"], served["tokens"]["frontline"])[-1]
    assert (row["outcome"], row["fields_given"], row["result_count"]) == (
        "refused", ["birth_date", "first_name"], 0)
    text = json.dumps(row, default=str)
    assert "Zacarias" not in text and "1931" not in text
    get(served, "/customers/lookup", "bi", phone="11987654321")
    assert audit_rows(served["url"], served["tokens"]["bi"])[-1]["outcome"] == "forbidden"


# --- Write-back: a caller recorded by the front line, ingested and linked by the next run ------

# Ana (K01) calls and the agent records her as a new caller, with her phone and an email of
# hers the warehouse does not know yet
ANA_CALLING = {"first_name": "Ana", "last_name": "Souza", "phone": "11 98765 4321",
               "email": "ana.souza.nova@example.org"}


def post(served: dict, role: str | None, body: object = None, raw: str | None = None):
    headers = {"Authorization": f"Bearer {served['tokens'][role]}"} if role else {}
    if raw is not None:
        return served["client"].post("/customers", content=raw,
                                     headers={**headers, "Content-Type": "application/json"})
    return served["client"].post("/customers", json=body, headers=headers)


def capture_rows(url: str, token: str) -> list[dict]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute("select * from audit.frontline_captures where token_id = %s"
                    " order by capture_id", (token.split(".")[1],))
        return cur.fetchall()


@pytest.mark.parametrize(("role", "body", "raw", "status", "says"), [
    (None, ANA_CALLING, None, 401, "missing bearer token"),
    ("bi", ANA_CALLING, None, 403, "may not record callers"),
    ("frontline", None, "{not json", 422, "JSON"),
    ("frontline", ["Ana"], None, 422, "expected a JSON object"),
    ("frontline", {**ANA_CALLING, "shoe_size": "42"}, None, 422, "unknown field 'shoe_size'"),
    ("frontline", {**ANA_CALLING, "birth_date": "1988-04-12"}, None, 422,
     "carries no birth_date"),
    ("frontline", {"phone": "11 98765 4321"}, None, 422, "give the caller's name"),
    ("frontline", {"first_name": "Ana", "last_name": "Souza"}, None, 422, "phone or an email"),
    ("frontline", {"first_name": "Ana", "email": "no-at-sign"}, None, 422, "email: no usable"),
    ("frontline", {"first_name": "Ana", "phone": 11987654321}, None, 422, "phone: expected text"),
    ("frontline", {"first_name": "Ana\nSouza", "phone": "11987654321"}, None, 422,
     "first_name: contains a control character"),
    ("frontline", {"first_name": "A" * 201, "phone": "11987654321"}, None, 422, "longer than"),
])
def test_bad_callers_get_a_one_line_error_and_nothing_is_written(served, role, body, raw, status,
                                                                 says):
    before = sorted(served["landing"].rglob("*.csv"))
    answer = post(served, role, body, raw)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert says in error and "\n" not in error and "Traceback" not in answer.text
    assert sorted(served["landing"].rglob("*.csv")) == before
    if role is not None and raw is None:  # a body that is not JSON reaches no endpoint
        row = capture_rows(served["url"], served["tokens"][role])[-1]
        assert row["outcome"] == ("forbidden" if role == "bi" else "refused")
        assert "Souza" not in json.dumps(row, default=str)


def test_a_recorded_caller_is_ingested_and_linked_by_the_next_run(served):
    from datetime import UTC, datetime, time, timedelta

    from onetoone.stages.identity.step import identify
    from onetoone.stages.ingest import ingest_source

    answer = post(served, "frontline", ANA_CALLING)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    written = served["landing"] / body["landing_file"]
    assert written.parent.name == "callcenter"
    assert written.name == f"calls_{datetime.now(UTC).date().isoformat()}.frontline.csv"
    assert post(served, "frontline", {"first_name": "Zacarias", "last_name": "Quintal",
                                      "phone": "(85) 93333-1212"}).status_code == 201
    assert len(written.read_text().splitlines()) == 3  # the header and both callers

    [row, _] = capture_rows(served["url"], served["tokens"]["frontline"])[-2:]
    assert (row["outcome"], row["source_record"], row["landing_file"]) == (
        "recorded", body["source_record"], body["landing_file"])
    assert row["fields_given"] == sorted(ANA_CALLING) and len(row["contact_hash"]) == 64
    text = json.dumps(row, default=str)
    assert not any(value in text for value in ANA_CALLING.values()), text

    # the next run: ingest the day's files, build the customer records, identify
    until = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), time(), UTC)
    with psycopg.connect(served["url"], autocommit=True) as conn:
        ingested = ingest_source("callcenter", warehouse=conn, until=until,
                                 landing=served["landing"], run_id="frontline-test")
    assert [(b.source_ref, b.status, b.rows_loaded, b.rows_quarantined)
            for b in ingested.batches] == [(body["landing_file"], "loaded", 2, 0)]
    with warehouse_url_set_to(served["url"]):
        assert run_dbt(["run", "--quiet", "--no-use-colors",
                        "--select", "+int_customer_records_unioned"]) == 0
    with psycopg.connect(served["url"]) as conn:
        with conn.transaction():
            identify(conn, run_id="frontline-test", as_of=until)
        keyed = dict(conn.execute(
            "select source_record_id, customer_key from identity.customer_keys"
            " where source = 'callcenter' and source_record_id like 'FL-%'").fetchall())
        review = conn.execute(
            "select record_a, record_b, match_probability from identity.review_queue"
            " where run_id = 'frontline-test'").fetchall()
        anas = {f"{source}:{record}" for source, record in conn.execute(
            "select source, source_record_id from identity.customer_keys"
            " where customer_key = 'K01' and source_record_id not like 'FL-%'")}
    ana = body["contact_id"]
    assert ana in keyed and len(keyed) == 2  # both callers are customer records now
    [stranger] = [record for record in keyed if record != ana]
    assert keyed[stranger] not in (keyed[ana], "K01")  # a new customer

    def probable_matches(record: str) -> set[str]:
        return {b if a == record else a for a, b, _ in review if record in (a, b)} & anas

    # Ana's new record is Ana's: linked to K01, or (name and phone count less than a birth
    # date with this model: 0.91) put to the stewards as a probable match of K01's records
    assert keyed[ana] == "K01" or probable_matches(f"callcenter:{ana}"), review
    assert not probable_matches(f"callcenter:{stranger}")
