"""The identity step against the real PostgreSQL, run after run: keys stay, a bridging record
merges two customers (the larger keeps its key, the other is retired), a steward's `different`
override splits them again (the larger part keeps the key, the other part gets a new one), and
uncertain pairs land in the review queue with the evidence for and against."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from onetoone.foundation import erasures
from onetoone.foundation.config import embedded_url
from onetoone.operations import forget, pipeline
from onetoone.operations.migrate import migrate
from onetoone.stages.identity import store as identity_store
from onetoone.stages.identity.linker import train
from onetoone.stages.identity.standardise import INPUT_COLUMNS, standardise

pytestmark = pytest.mark.integration

TEST_DB = "onetoone_test_identity_keys"
AS_OF = datetime(2025, 3, 10, tzinfo=UTC)
GIVEN = ["Ana", "Bruno", "Carla", "Diego", "Elena", "Fábio", "Gisele", "Hugo", "Iara", "Jonas",
         "Karina", "Lucas", "Marta", "Nuno", "Olga", "Paulo", "Raquel", "Sérgio", "Tânia", "Vitor"]
SURNAMES = ["Silva", "Souza", "Lima", "Costa", "Rocha", "Alves", "Dias", "Melo", "Pinto", "Reis",
            "Teixeira", "Moura", "Barros", "Freitas", "Cardoso"]
# Two namesakes with different contacts, whom the model keeps apart until a record bridges them.
NAME = {"first_name": "Florisvaldo", "last_name": "Quintanilha Bezerra"}
X_RECORDS = [
    {"source": "erp", "source_record_id": "X1", **NAME, "birth_date": "1971-05-09",
     "email": "floris@example.com", "phone": "(41) 99876-1111",
     "address_line": "R. das Acácias, 10", "city": "Curitiba", "postcode": "80000-100",
     "country": "BR"},
    {"source": "erp", "source_record_id": "X2", **NAME, "birth_date": "1971-05-09",
     "email": "floris@example.com", "phone": "41998761111", "city": "Curitiba", "country": "BR"},
    {"source": "web", "source_record_id": "XW1", **NAME, "birth_date": "1971-05-09",
     "email": " Floris@Example.com", "city": "Curitiba", "country": "BR"},
]
Y_RECORDS = [
    {"source": "erp", "source_record_id": "Y1", **NAME, "email": "fqb@example.org",
     "phone": "(11) 97777-2222", "address_line": "Av. Brasil, 500", "city": "São Paulo",
     "postcode": "01000-200", "country": "BR", "national_id": "12345678901"},
    {"source": "erp", "source_record_id": "Y2", **NAME, "email": "fqb@example.org",
     "phone": "11977772222", "city": "São Paulo", "country": "BR",
     "national_id": "123.456.789-01"},
]
# X's birth date and phone, Y's email and national id
BRIDGE = {"source": "erp", "source_record_id": "Z1", **NAME, "birth_date": "1971-05-09",
          "phone": "(41) 99876-1111", "email": "fqb@example.org", "national_id": "12345678901",
          "country": "BR"}


def population(seed: int = 3, people: int = 120) -> list[dict]:
    """Distinct people with one to three records each, some with typos: enough to train on.
    Some callers give no number and a birth year one off: the name and a near date are all that
    links them, so that some pairs stay uncertain."""
    rng = random.Random(seed)
    typos = random.Random(seed + 1)  # its own stream: the people stay those of ``seed``
    rows: list[dict] = []
    for n in range(people):
        given, surname = rng.choice(GIVEN), f"{rng.choice(SURNAMES)} {rng.choice(SURNAMES)}"
        person = {"first_name": given, "last_name": surname,
                  "birth_date": f"19{rng.randrange(40, 99)}-{rng.randrange(1, 13):02d}-"
                                f"{rng.randrange(1, 28):02d}",
                  "email": f"{given.lower()}.{n}@example.com",
                  "phone": f"(11) 9{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}",
                  "city": rng.choice(["São Paulo", "Curitiba", "Recife"]), "country": "BR"}
        rows.append({"source": "erp", "source_record_id": f"E{n}", **person,
                     "postcode": f"{rng.randrange(10000, 99999)}-000",
                     "national_id": f"{rng.randrange(10**10, 10**11)}"})
        if rng.random() < 0.6:
            first = given if rng.random() < 0.8 else given[:-1]
            phone = person["phone"]
            birth_date = None
            if typos.random() < 0.3:  # no number, and a birth year misheard by one
                year = int(person["birth_date"][:4])
                phone, birth_date = None, f"{year + 1}{person['birth_date'][4:]}"
            rows.append({"source": "callcenter", "source_record_id": f"C{n}", "first_name": first,
                         "last_name": surname.split()[0], "phone": phone,
                         "birth_date": birth_date})
        if rng.random() < 0.5:
            rows.append({"source": "web", "source_record_id": f"W{n}", **person,
                         "phone": None, "email": person["email"].upper()})
    return rows


@pytest.fixture(scope="module")
def database(warehouse) -> Iterator[str]:
    """A database of its own on the session's server: the identity tables and the records."""
    with psycopg.connect(embedded_url("postgres"), autocommit=True) as admin:
        admin.execute(f'drop database if exists "{TEST_DB}" with (force)')
        admin.execute(f'create database "{TEST_DB}"')
    url = embedded_url(TEST_DB)
    columns = ", ".join(f"{c} timestamptz" if c == "updated_at" else f"{c} text"
                        for c in INPUT_COLUMNS)
    with psycopg.connect(url) as conn:
        migrate(conn)
        conn.execute("create schema if not exists intermediate")
        conn.execute(f"create table if not exists {identity_store.RECORDS_RELATION} ({columns})")
    yield url
    with psycopg.connect(embedded_url("postgres"), autocommit=True) as admin:
        admin.execute(f'drop database if exists "{TEST_DB}" with (force)')


@pytest.fixture(scope="module")
def base_records() -> list[dict]:
    return population() + X_RECORDS + Y_RECORDS


@pytest.fixture
def models(monkeypatch, tmp_path_factory, base_records) -> Path:
    """The model trained on this test's records, as the current model of a private folder."""
    folder = tmp_path_factory.mktemp("identity-models")
    monkeypatch.setattr(identity_store, "models_dir", lambda: folder)
    import pandas as pd

    identity_store.save_as_current(train(standardise(pd.DataFrame(base_records + [BRIDGE]))))
    return folder


def load(url: str, rows: list[dict]) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(f"truncate {identity_store.RECORDS_RELATION}")
        with conn.cursor().copy(
            f"copy {identity_store.RECORDS_RELATION} ({', '.join(INPUT_COLUMNS)}) from stdin"
        ) as copy:
            for row in rows:
                copy.write_row([row.get(c) for c in INPUT_COLUMNS])


def keys_of(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("select source || ':' || source_record_id, customer_key"
                            " from identity.customer_keys").fetchall()
    return dict(rows)


def events_of(url: str, run_id: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select event_type, customer_key, related_key, records from identity.key_events"
            " where run_id = %s order by event_type, customer_key", (run_id,)).fetchall()


def test_keys_survive_merge_and_override_split(database, base_records, models):
    url = database
    load(url, base_records)
    before = datetime.now(UTC)
    first = pipeline.identify(url, run_id="run-1", as_of=AS_OF)
    keys = keys_of(url)
    with psycopg.connect(url) as conn:
        # Freshness reads assigned_at: the clock at write; the key history keeps the run's day.
        assigned, occurred = conn.execute(
            "select (select min(assigned_at) from identity.customer_keys),"
            " (select max(occurred_at) from identity.key_events where run_id = 'run-1')"
        ).fetchone()
    assert before <= assigned <= datetime.now(UTC) and occurred == AS_OF
    x_key, y_key = keys["erp:X1"], keys["erp:Y1"]
    assert {keys[f"{r['source']}:{r['source_record_id']}"] for r in X_RECORDS} == {x_key}
    assert keys["erp:Y2"] == y_key != x_key
    assert first["key_events"] == {"created": first["customers"]}

    again = pipeline.identify(url, run_id="run-1b", as_of=AS_OF)
    assert keys_of(url) == keys and again["key_events"] == {}
    assert (again["scoring"], again["records_scored"]) == ("incremental", 0)

    load(url, [*base_records, BRIDGE])
    merged = pipeline.identify(url, run_id="run-2", as_of=AS_OF)
    keys = keys_of(url)
    assert merged["key_events"] == {"merged": 1}
    assert (merged["scoring"], merged["records_scored"]) == ("incremental", 1)  # the bridge
    assert keys["erp:Z1"] == keys["erp:Y1"] == keys["erp:X1"] == x_key  # 3 records beat 2
    assert events_of(url, "run-2") == [("merged", y_key, x_key, 2)]
    with psycopg.connect(url) as conn:
        retired = conn.execute("select customer_key, merged_into from identity.retired_keys")
        assert retired.fetchall() == [(y_key, x_key)]
        identity_store.record_override(conn, "erp:Y1", "erp:X1", decision="different",
                                       decided_by="steward@example.com",
                                       reason="different CPF on the phone call")

    split = pipeline.identify(url, run_id="run-3", as_of=AS_OF)
    keys = keys_of(url)
    assert split["overrides"] == 1 and split["key_events"] == {"split": 1}
    assert {keys[f"{r['source']}:{r['source_record_id']}"] for r in X_RECORDS} == {x_key}
    new_y = keys["erp:Y1"]
    assert new_y not in (x_key, y_key) and keys["erp:Y2"] == new_y
    [(event, key, related, records)] = events_of(url, "run-3")
    assert (event, key, related) == ("split", new_y, x_key) and records in (2, 3)


def test_review_queue_holds_uncertain_pairs_with_evidence(database, base_records, models):
    url = database
    load(url, base_records)
    result = pipeline.identify(url, run_id="run-review", as_of=AS_OF)
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select record_a, record_b, match_probability, fields_agreeing, fields_disagreeing,"
            " status, reason from identity.review_queue where run_id = 'run-review'").fetchall()
        assert len(rows) == result["review_queue"] > 0
        for record_a, record_b, probability, agreeing, disagreeing, status, reason in rows:
            uncertain = 0.5 <= probability < 0.95
            assert uncertain if reason == "uncertain" else reason in ("bridge", "sparse")
            assert record_a < record_b and status == "open"
            assert agreeing or disagreeing
            assert set(agreeing).isdisjoint(disagreeing)
        # every customer of two or more records has its graph metrics, under its key
        metrics = conn.execute(
            "select m.records, k.records, m.links, m.density from identity.cluster_metrics m"
            " join (select customer_key, count(*) as records from identity.customer_keys"
            " group by customer_key having count(*) > 1) k using (customer_key)").fetchall()
        multi = conn.execute("select count(*) from (select customer_key from"
                             " identity.customer_keys group by 1 having count(*) > 1) c"
                             ).fetchone()[0]
        assert len(metrics) == multi > 0
        for records, key_records, links, density in metrics:
            assert records == key_records and records - 1 <= links
            assert density == links / (records * (records - 1) / 2)
        # a rerun replaces its own rows; a steward's decision closes the pair's rows
        pipeline.identify(url, run_id="run-review", as_of=AS_OF)
        count = conn.execute("select count(*) from identity.review_queue"
                             " where run_id = 'run-review'").fetchone()[0]
        assert count == len(rows)
        record_a, record_b = rows[0][:2]
        identity_store.record_override(conn, record_b, record_a, decision="same",
                                       decided_by="steward", reason="same CPF")
        status = conn.execute("select status from identity.review_queue where record_a = %s"
                              " and record_b = %s", (record_a, record_b)).fetchone()[0]
        assert status == "decided"
        conn.commit()
    pipeline.identify(url, run_id="run-review-2", as_of=AS_OF)
    with psycopg.connect(url) as conn:
        pairs = conn.execute("select record_a, record_b from identity.review_queue"
                             " where run_id = 'run-review-2'").fetchall()
    assert (record_a, record_b) not in pairs
    assert keys_of(url)[record_a] == keys_of(url)[record_b]


def test_steward_command_records_an_override(database, monkeypatch, capsys):
    from onetoone.cli import main
    from onetoone.foundation import config

    monkeypatch.setattr(config, "warehouse_url", lambda: database)
    assert main(["identity", "override", "web:W7", "erp:E7", "--same",
                 "--by", "ana@example.com", "--reason", "same CPF on the call"]) == 0
    assert "erp:E7 and web:W7: same" in capsys.readouterr().out
    with psycopg.connect(database) as conn:
        row = conn.execute("select decision, decided_by, reason from identity.overrides"
                           " where record_a = 'erp:E7' and record_b = 'web:W7'").fetchone()
    assert row == ("same", "ana@example.com", "same CPF on the call")
    assert main(["identity", "override", "erp:E7", "erp:E7", "--different",
                 "--by", "ana", "--reason", "typo"]) == 2


def test_identify_writes_each_records_standardised_values_with_its_key(database, base_records,
                                                                        models):
    url = database
    load(url, base_records)
    pipeline.identify(url, run_id="run-standardised", as_of=AS_OF)
    load(url, [*base_records, BRIDGE])
    pipeline.identify(url, run_id="run-standardised-2", as_of=AS_OF)  # reuses standardised rows
    with psycopg.connect(url) as conn:
        values = {f"{source}:{record}": rest for source, record, *rest in conn.execute(
            "select source, source_record_id, first_name, last_name, birth_date::text, email,"
            " phone, city, postcode, national_id from identity.standardised_records")}
    assert values.keys() == keys_of(url).keys()  # the same records as the keys, replaced
    assert values["erp:X1"] == ["Florisvaldo", "Quintanilha Bezerra", "1971-05-09",
                                "floris@example.com", "+5541998761111", "Curitiba", "80000100",
                                None]
    assert values["web:XW1"][3] == "floris@example.com"  # " Floris@Example.com"
    assert values["erp:Y2"][4:] == ["+5511977772222", "São Paulo", None, "12345678901"]
    assert values["erp:Z1"][4] == "+5541998761111"
    assert {v[5] for v in values.values()} <= {"São Paulo", "Curitiba", "Recife", None}


def _steward(database, monkeypatch, *argv: str):
    from onetoone.cli import main
    from onetoone.foundation import config

    monkeypatch.setattr(config, "warehouse_url", lambda: database)
    return main(["identity", *argv])


def test_review_lists_the_open_queue_and_a_decision_becomes_an_override(
        database, base_records, models, monkeypatch, capsys):
    load(database, base_records)
    pipeline.identify(database, run_id="run-steward", as_of=AS_OF)
    with psycopg.connect(database) as conn:
        open_pairs = conn.execute(
            "select record_a, record_b, match_probability from identity.review_queue"
            " where status = 'open' order by match_probability desc").fetchall()
    assert open_pairs
    capsys.readouterr()
    assert _steward(database, monkeypatch, "review", "--limit", "3") == 0
    listed = capsys.readouterr().out
    first_a, first_b, probability = open_pairs[0]
    assert listed.startswith(f"{first_a}  {first_b}  probability {probability:.3f}")
    assert "    for " in listed and "    against " in listed
    # no record values, only ids and level labels
    assert not any(row["last_name"].lower() in listed.lower() for row in base_records
                   if row.get("last_name"))

    assert _steward(database, monkeypatch, "review", first_a, first_b, "--same") == 2
    assert "--by and --reason" in capsys.readouterr().err
    assert _steward(database, monkeypatch, "review", first_b, first_a, "--different",
                    "--by", "ana@example.com", "--reason", "two people on the call") == 0
    with psycopg.connect(database) as conn:
        decision = conn.execute("select decision, decided_by from identity.overrides"
                                " where record_a = %s and record_b = %s",
                                (first_a, first_b)).fetchone()
        status = conn.execute("select status from identity.review_queue where run_id ="
                              " 'run-steward' and record_a = %s and record_b = %s",
                              (first_a, first_b)).fetchone()
    assert decision == ("different", "ana@example.com") and status == ("decided",)
    capsys.readouterr()
    assert _steward(database, monkeypatch, "review", "--limit", "100") == 0
    assert f"{first_a}  {first_b}" not in capsys.readouterr().out


def test_explain_prints_each_pair_of_a_customer_with_its_weights(
        database, base_records, models, monkeypatch, capsys):
    load(database, base_records)
    pipeline.identify(database, run_id="run-explain", as_of=AS_OF)
    x_key = keys_of(database)["erp:X1"]
    capsys.readouterr()
    assert _steward(database, monkeypatch, "explain", x_key) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{x_key}: 3 records: erp:X1, erp:X2, web:XW1")
    pair_lines = [line for line in out.splitlines() if "probability" in line]
    assert len(pair_lines) == 3 and all("linked" in line for line in pair_lines)
    assert "prior" in out and "birth_date" in out and "Exact match on birth_date" in out
    assert "floris" not in out.lower() and "99876" not in out
    assert _steward(database, monkeypatch, "explain", "no-such-key") == 2
    assert "no customer key" in capsys.readouterr().err


def test_stewards_dashboards_show_the_queue_and_the_largest_and_doubtful_clusters(
        database, base_records, models, tmp_path):
    from onetoone.stages.identity.dashboards import clusters_to_study, write_steward_dashboards

    url = database
    load(url, [*base_records, BRIDGE])
    pipeline.identify(url, run_id="run-dashboards", as_of=AS_OF)
    with psycopg.connect(url) as conn:
        metrics = conn.execute("select customer_key, records, density, review_reason"
                               " from identity.cluster_metrics").fetchall()
        studied = clusters_to_study(conn, shown=2)
        shown = clusters_to_study(conn)
        dashboards = write_steward_dashboards(conn, tmp_path)
    by_size = sorted(metrics, key=lambda m: (-m[1], m[0]))
    assert studied[:2] == [m[0] for m in by_size[:2]]
    rest = [m for m in metrics if m[1] >= 3 and m[0] not in studied[:2]]
    if rest:
        first_chain = min(rest, key=lambda m: (m[3] is None, m[2], m[0]))
        assert studied[2] == first_chain[0]
    assert dashboards.clusters_shown == len(shown) > 0 and set(studied) <= set(shown)
    for page in (dashboards.comparison_viewer, dashboards.cluster_studio):
        assert page is not None and page.stat().st_mode & 0o077 == 0
        assert "<script src=" not in page.read_text(encoding="utf-8")
    assert len(studied) == len(set(studied))


def test_a_forgotten_persons_records_keep_their_key_and_get_no_new_one(database, base_records,
                                                                      models):
    """`onetoone forget` nulls a person's personal fields and registers their records: the next
    runs must not split what is left of them into customers of their own."""
    url = database
    load(url, base_records)
    pipeline.identify(url, run_id="run-forget-1", as_of=AS_OF)
    before = keys_of(url)
    x_ids = [(r["source"], r["source_record_id"]) for r in X_RECORDS]
    x_key = before["erp:X1"]
    # her records as forget leaves them: ids and non-personal fields only
    personal = set(forget.RECORDS_PERSONAL)
    load(url, [r for r in base_records if r not in X_RECORDS]
         + [{c: v for c, v in r.items() if c not in personal} for r in X_RECORDS])
    with psycopg.connect(url) as conn:
        erasures.record_erasure(conn, requested_by="dpo", reason="t", requested_with="customer_key",
                                customer_keys=[x_key], records=x_ids,
                                emails=["floris@example.com"], counts={})
    try:
        for run_id in ("run-forget-2", "run-forget-3"):
            run = pipeline.identify(url, run_id=run_id, as_of=AS_OF)
            assert keys_of(url) == before, run_id  # hers under her key, everyone else's kept
            assert run["key_events"] == {}, run_id  # nothing created, split or retired
        with psycopg.connect(url) as conn:
            assert conn.execute("select cluster_size from identity.customer_keys"
                                " where customer_key = %s", (x_key,)).fetchall() == [(3,)] * 3
            assert conn.execute("select count(*) from identity.retired_keys"
                                " where customer_key = %s", (x_key,)).fetchone() == (0,)
            assert conn.execute("select count(*) from identity.standardised_records"
                                " where source_record_id = any(%s)",
                                ([i for _, i in x_ids],)).fetchone() == (0,)
    finally:
        with psycopg.connect(url) as conn:
            conn.execute("truncate audit.erased_subjects, audit.erasures")
