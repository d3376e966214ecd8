"""The sample generator against the landing-zone contract (docs/data-contracts.md, section 1):
layout and columns, determinism, ground truth, broken rows and realism of the people."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from onetoone.generate import callcenter, erp, generate, vocab, web
from onetoone.generate.period import Period
from onetoone.generate.population import NEVER, build_population, name_tables

CUSTOMERS, DAYS, SEED, END = 300, 60, 11, date(2026, 10, 31)

ERP_COLUMNS = {
    "customers": ["customer_id", "first_name", "last_name", "tax_id", "email", "phone",
                  "address_line", "city", "region", "postcode", "country", "birth_date",
                  "created_at", "updated_at"],
    "products": ["product_id", "product_name", "category", "unit_cost", "unit_price",
                 "updated_at"],
    "orders": ["order_id", "customer_id", "ordered_at", "channel", "status", "updated_at"],
    "order_lines": ["order_id", "line_number", "product_id", "quantity", "unit_price",
                    "unit_cost", "discount", "updated_at"],
}
CALL_COLUMNS = ["call_id", "called_at", "contact_id", "caller_name", "phone", "email", "reason",
                "duration_seconds", "satisfaction", "is_complaint", "resolution", "agent_id"]
TRUTH_COLUMNS = ["source", "source_record_id", "person_id", "household_id"]
WEB_ALWAYS = {"event_id", "event_type", "occurred_at", "account_id", "session_id"}
REGISTRATION_KEYS = {"email", "first_name", "last_name", "phone", "birth_date", "city", "country"}
WEB_EXTRA = {
    "registration": REGISTRATION_KEYS,
    "profile_update": REGISTRATION_KEYS,
    "login": set(),
    "page_view": {"page_category", "url"},
    "newsletter_signup": {"email"},
    "coupon_redemption": {"coupon_code", "order_id"},
    "consent_change": {"channel", "granted"},
}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    generate(out, CUSTOMERS, SEED, days=DAYS, end_date=END)
    return out


@pytest.fixture(scope="module")
def manifest(sample: Path) -> dict:
    return json.loads((sample / "manifest.json").read_text(encoding="utf-8"))


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _call_lines(sample: Path, manifest: dict) -> list[str]:
    """Data lines of all call files, the cp1252 one decoded as such."""
    legacy = {sample / name for name in manifest["cp1252_files"]}
    lines = []
    for path in sorted((sample / "callcenter").glob("calls_*.csv")):
        text = path.read_bytes().decode("cp1252" if path in legacy else "utf-8")
        lines += text.splitlines()[1:]
    return lines


def _web_lines(sample: Path) -> list[str]:
    return [line for path in sorted((sample / "web").glob("events_*.ndjson"))
            for line in path.read_text(encoding="utf-8").splitlines()]


def _valid_calls(lines: list[str]) -> list[dict[str, str]]:
    return [dict(zip(CALL_COLUMNS, next(csv.reader([line])), strict=True)) for line in lines
            if _call_problem(line) is None]


def _valid_events(lines: list[str]) -> list[dict]:
    return [json.loads(line) for line in lines if _web_problem(line) is None]


def _call_problem(line: str) -> str | None:
    if line.count('"') % 2:
        return "malformed_line"
    try:
        fields = next(csv.reader([line], strict=True))
    except csv.Error:
        return "malformed_line"
    if len(fields) != len(CALL_COLUMNS):
        return "malformed_line"
    row = dict(zip(CALL_COLUMNS, fields, strict=True))
    try:
        datetime.strptime(row["called_at"], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return "bad_called_at"
    if int(row["duration_seconds"]) < 0:
        return "negative_duration"
    if row["satisfaction"] and not 1 <= int(row["satisfaction"]) <= 5:
        return "satisfaction_out_of_range"
    return None


def _web_problem(line: str) -> str | None:
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return "truncated_json" if line.startswith('{"') else "not_json"
    if "event_id" not in event:
        return "missing_event_id"
    try:
        if datetime.fromisoformat(event["occurred_at"]).tzinfo is None:
            return "bad_occurred_at"
    except ValueError:
        return "bad_occurred_at"
    return None


def test_same_seed_gives_identical_files(sample: Path, tmp_path: Path) -> None:
    generate(tmp_path / "again", CUSTOMERS, SEED, days=DAYS, end_date=END)
    assert _hashes(tmp_path / "again") == _hashes(sample)


def test_other_seed_gives_other_files(sample: Path, tmp_path: Path) -> None:
    generate(tmp_path / "other", CUSTOMERS, SEED + 1, days=DAYS, end_date=END)
    mine, other = _hashes(sample), _hashes(tmp_path / "other")
    assert other.keys() == mine.keys()
    for name in ("erp/customers.csv", "erp/orders.csv", "truth/records.csv"):
        assert other[name] != mine[name]


def test_layout_one_file_a_day_and_counts(sample: Path, manifest: dict) -> None:
    period = Period.ending(END, DAYS)
    days = [period.day_name(d) for d in range(DAYS)]
    calls = sorted(p.name for p in (sample / "callcenter").iterdir())
    events = sorted(p.name for p in (sample / "web").iterdir())
    assert calls == [f"calls_{d}.csv" for d in days]
    assert events == [f"events_{d}.ndjson" for d in days]
    assert sorted(p.name for p in (sample / "erp").iterdir()) == sorted(
        f"{t}.csv" for t in ERP_COLUMNS)
    rows = manifest["rows"]
    assert rows["callcenter_calls"] == len(_call_lines(sample, manifest))
    assert rows["web_events"] == len(_web_lines(sample))
    for table in ERP_COLUMNS:
        assert rows[f"erp_{table}"] == len(_read_csv(sample / "erp" / f"{table}.csv"))
    assert manifest["parameters"] == {"customers": CUSTOMERS, "seed": SEED, "days": DAYS,
                                      "start_date": days[0], "end_date": END.isoformat(),
                                      "broken_share": 0.005}


def test_headers_match_the_contract(sample: Path) -> None:
    for table, columns in ERP_COLUMNS.items():
        header = (sample / "erp" / f"{table}.csv").read_text(encoding="utf-8").split("\n")[0]
        assert header == ",".join(columns)
    for path in (sample / "callcenter").glob("*.csv"):
        assert path.read_bytes().split(b"\n")[0].decode() == ",".join(CALL_COLUMNS)
    assert (sample / "truth" / "records.csv").read_text().split("\n")[0] == ",".join(
        TRUTH_COLUMNS)


def test_web_events_have_the_contract_keys(sample: Path) -> None:
    events = _valid_events(_web_lines(sample))
    assert {e["event_type"] for e in events} == set(WEB_EXTRA)
    for event in events:
        assert event.keys() >= WEB_ALWAYS
        assert event.keys() - WEB_ALWAYS <= WEB_EXTRA[event["event_type"]]
        assert event["account_id"] is not None or event["event_type"] == "page_view"
    assert any(e["account_id"] is None for e in events)  # anonymous page views
    assert any(e["event_type"] == "coupon_redemption" and e["order_id"] for e in events)


def test_value_domains(sample: Path, manifest: dict) -> None:
    calls = _valid_calls(_call_lines(sample, manifest))
    assert {c["reason"] for c in calls} <= {"billing", "delivery", "product_info", "returns",
                                            "technical_support", "complaint", "cancellation",
                                            "other"}
    assert {c["resolution"] for c in calls} <= {"resolved", "escalated", "pending", "unresolved"}
    assert {c["is_complaint"] for c in calls} == {"true", "false"}
    assert all(re.fullmatch(r"CL\d{8}", c["call_id"]) for c in calls)
    orders = _read_csv(sample / "erp" / "orders.csv")
    assert {o["channel"] for o in orders} == {"web", "phone", "store"}
    assert {o["status"] for o in orders} <= {"completed", "returned", "cancelled"}
    products = _read_csv(sample / "erp" / "products.csv")
    assert 200 <= len(products) <= 500
    assert all(float(p["unit_cost"]) < float(p["unit_price"]) for p in products)
    customers = _read_csv(sample / "erp" / "customers.csv")
    assert {c["country"] for c in customers} <= {c.code for c in vocab.COUNTRIES}


def test_every_truth_record_appears_in_the_extracts(sample: Path, manifest: dict) -> None:
    truth = _read_csv(sample / "truth" / "records.csv")
    assert len(truth) == sum(manifest["records"].values())
    found = {
        "erp": {c["customer_id"] for c in _read_csv(sample / "erp" / "customers.csv")},
        "callcenter": {c["contact_id"] for c in _valid_calls(_call_lines(sample, manifest))},
        "web": {e["account_id"] for e in _valid_events(_web_lines(sample))
                if e["event_type"] == "registration"},
    }
    by_source = defaultdict(set)
    for record in truth:
        by_source[record["source"]].add(record["source_record_id"])
    assert by_source == found
    assert len({(r["source"], r["source_record_id"]) for r in truth}) == len(truth)


def test_broken_rows_match_the_manifest(sample: Path, manifest: dict) -> None:
    broken = manifest["broken"]
    calls = Counter(_call_problem(line) for line in _call_lines(sample, manifest))
    calls.pop(None)
    expected_calls = {k: v for k, v in broken["callcenter"].items() if k != "cp1252_file"}
    assert dict(calls) == expected_calls
    web = Counter(_web_problem(line) for line in _web_lines(sample))
    web.pop(None)
    assert dict(web) == broken["web"]
    products = {p["product_id"] for p in _read_csv(sample / "erp" / "products.csv")}
    erp = Counter()
    for line in _read_csv(sample / "erp" / "order_lines.csv"):
        if int(line["quantity"]) < 0 or float(line["unit_price"]) < 0:
            erp["negative_value"] += 1
        elif line["product_id"] not in products:
            erp["unknown_product"] += 1
    assert dict(erp) == broken["erp"]
    assert all(count >= 1 for kinds in broken.values() for count in kinds.values())


def test_one_call_file_is_cp1252(sample: Path, manifest: dict) -> None:
    (name,) = manifest["cp1252_files"]
    raw = (sample / name).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("cp1252")
    assert re.search(r"[áéíóúãõçñâêôÁÉÍÓÚÑ]", text)
    assert len(text.splitlines()) - 1 == manifest["broken"]["callcenter"]["cp1252_file"]
    for path in (sample / "callcenter").glob("*.csv"):
        if path != sample / name:
            path.read_bytes().decode("utf-8")
    # the manifest names the contacts a strict UTF-8 reader would lose with that file
    days_seen = defaultdict(set)
    for path in (sample / "callcenter").glob("*.csv"):
        text = path.read_bytes().decode("cp1252" if path == sample / name else "utf-8")
        for line in text.splitlines()[1:]:
            if _call_problem(line) is None:
                days_seen[next(csv.reader([line]))[2]].add(path.name)
    only_there = sorted(c for c, files in days_seen.items() if files == {Path(name).name})
    assert manifest["records_only_in_cp1252_files"]["callcenter"] == only_there


def test_households_share_their_address(sample: Path) -> None:
    truth = {r["source_record_id"]: r for r in _read_csv(sample / "truth" / "records.csv")
             if r["source"] == "erp"}
    customers = _read_csv(sample / "erp" / "customers.csv")

    def postcode(row: dict) -> str:
        return re.sub(r"\D", "", row["postcode"]).lstrip("0")

    same, other = [], []
    for a, b in zip(customers, customers[1:] + customers[:1], strict=True):
        if postcode(a) and postcode(b) and truth[a["customer_id"]]["household_id"] != \
                truth[b["customer_id"]]["household_id"]:
            other.append(postcode(a) == postcode(b))
    members = defaultdict(list)
    for row in customers:
        members[truth[row["customer_id"]]["household_id"]].append(row)
    for rows in members.values():
        for i, a in enumerate(rows):
            for b in rows[i + 1:]:
                if (truth[a["customer_id"]]["person_id"] != truth[b["customer_id"]]["person_id"]
                        and postcode(a) and postcode(b)):
                    same.append(postcode(a) == postcode(b))
    assert len(same) >= 10
    assert np.mean(same) > 0.7
    assert np.mean(other) < 0.1


def test_names_look_latin_american(sample: Path, manifest: dict) -> None:
    customers = _read_csv(sample / "erp" / "customers.csv")
    callers = [c["caller_name"] for c in _valid_calls(_call_lines(sample, manifest))]
    names = [f"{c['first_name']} {c['last_name']}" for c in customers] + callers
    assert any(re.search(r"[áéíóúãõçñ]", n) for n in names)  # accents
    double = [c for c in customers if c["country"] in ("MX", "BR", "CO")
              and " " in c["last_name"].strip()]
    assert len(double) > 0.3 * len(customers)  # two surnames
    assert any(re.search(r"\b(de|da|del|dos|de la)\b ", n.lower()) for n in names)
    nicknames = {nick for nicks in vocab.NICKNAMES.values() for nick in nicks}
    assert any(n.split(" ")[0].strip(",") in nicknames for n in callers)


def test_population_shares_and_name_skew() -> None:
    period = Period.ending(END, 365)
    pop = build_population(np.random.default_rng(5), 4000, period)
    assert 0.65 < pop.in_erp.mean() < 0.78
    assert 0.45 < pop.in_callcenter.mean() < 0.57
    assert 0.55 < pop.in_web.mean() < 0.67
    assert (pop.in_erp | pop.in_callcenter | pop.in_web).all()
    assert 0.15 < (np.bincount(pop.household)[pop.household] >= 2).mean() < 0.25
    t = name_tables()
    given = t.given.take(pop.given).to_pylist()
    full = Counter(zip(given, t.surname.take(pop.sur1).to_pylist(), strict=True))
    assert full.most_common(1)[0][1] >= 5  # common names are shared by different people


def test_orders_follow_buy_till_you_die(sample: Path) -> None:
    orders = _read_csv(sample / "erp" / "orders.csv")
    per_customer = Counter(o["customer_id"] for o in orders)
    counts = np.array(list(per_customer.values()))
    assert np.mean(counts <= 2) > 0.6
    lines = Counter(line["order_id"] for line in _read_csv(sample / "erp" / "order_lines.csv"))
    assert set(lines.values()) <= {1, 2, 3, 4}
    assert set(lines) == {o["order_id"] for o in orders}


# docs/generated-customers.md: the behaviours beyond BG/NBD, each checked on its own mechanism.

def _purchases(seed: int = 3, n: int = 6000, days: int = 730):
    period = Period.ending(END, days)
    pop = build_population(np.random.default_rng(seed), n, period)
    person = np.flatnonzero(pop.in_erp)
    first = np.full(person.size, 3600 * 24 * 5, dtype=np.int64)  # everyone starts on day 5
    return pop, person, erp._purchase_times(np.random.default_rng(seed + 1), pop, person,
                                            first, period)


def test_restockers_buy_more_often_and_more_regularly() -> None:
    pop, person, (owner, at, _, _) = _purchases()
    restock = erp.restocks(pop, person)
    assert 0.25 < restock.mean() < 0.6
    same = owner[1:] == owner[:-1]
    gaps, gap_owner = (np.diff(at) / 86400.0)[same], owner[1:][same]
    n_gaps = np.bincount(gap_owner, minlength=person.size)
    mean_gap = np.bincount(gap_owner, weights=gaps, minlength=person.size) / np.maximum(n_gaps, 1)
    relative = gaps / mean_gap[gap_owner]  # each customer's gaps over their own mean gap
    cv = {flag: relative[(restock[gap_owner] == flag) & (n_gaps[gap_owner] >= 4)].std()
          for flag in (True, False)}
    assert cv[True] < 0.6 < cv[False]  # Erlang-3 gaps vary far less than exponential ones
    rate = pop.purchase_rate[person]
    per_person = np.bincount(owner, minlength=person.size) - 1
    heavy = rate > np.median(rate)  # compare like with like: purchases per unit of rate
    assert (per_person[restock & heavy].mean() / rate[restock & heavy].mean()
            > 1.15 * per_person[~restock & heavy].mean() / rate[~restock & heavy].mean())


def test_a_failure_not_put_right_raises_leaving() -> None:
    pop, person, (owner, at, outcome, left_at) = _purchases()
    last = np.r_[owner[1:] != owner[:-1], True]  # each customer's last purchase
    left = last & (left_at[owner] == at)
    share = {code: left[outcome == code].mean()
             for code in (erp.FINE, erp.RESOLVED, erp.UNRESOLVED, erp.SILENT)}
    assert abs(share[erp.RESOLVED] - share[erp.FINE]) < 0.08
    for code in (erp.UNRESOLVED, erp.SILENT):
        assert share[code] > share[erp.FINE] + 0.2
    failed = outcome != erp.FINE
    assert 0.06 < failed.mean() < 0.10
    calls = pop.in_callcenter[person[owner]]
    assert not ((outcome == erp.RESOLVED) | (outcome == erp.UNRESOLVED))[~calls].any()


def test_complaint_calls_follow_the_erp_outcome() -> None:
    """Every order the buyer complained about and that was not put right shows up as an
    unresolved complaint call of that person (unless the call falls after the period)."""
    period = Period.ending(END, 365)
    rng = [np.random.default_rng(s) for s in (1, 2, 3)]
    pop = build_population(rng[0], 3000, period)
    extract = erp.build_erp(rng[1], pop, period, 0.0)
    calls = callcenter.build_callcenter(rng[2], pop, period, extract.orders_info, 0.0)
    info = extract.orders_info
    open_complaint = info.complained & ~info.resolved & (info.at < period.seconds - 8 * 86400)
    assert open_complaint.sum() > 20 and (info.complained & info.resolved).sum() > 20
    person_of = dict(zip(calls.contact_id.to_pylist(), calls.contact_person.tolist(),
                         strict=True))
    rows = csv.DictReader(io.StringIO(calls.daily.header + "".join(calls.daily.lines.to_pylist())))
    unresolved = Counter(person_of[row["contact_id"]] for row in rows
                         if row["is_complaint"] == "true" and row["resolution"] == "unresolved")
    expected = Counter(info.person[open_complaint].tolist())
    assert all(unresolved[p] >= k for p, k in expected.items())


def test_customers_who_left_stop_visiting() -> None:
    period = Period.ending(END, 365)
    pop = build_population(np.random.default_rng(2), 20, period)
    owner = np.arange(pop.n)
    created = np.zeros(pop.n, dtype=np.int64)
    left_at = np.full(pop.n, NEVER)
    left_at[:10] = 30 * 86400  # the first ten left on day 30
    pop = dataclasses.replace(pop, session_rate=np.full(pop.n, 0.5),
                              web_lifetime=np.full(pop.n, 1000.0))
    catalogue = erp.products(np.random.default_rng(4), period)
    sessions = web._sessions(np.random.default_rng(3), pop, owner, created,
                             pa.array([f'"W{i}"' for i in owner]), period, left_at,
                             catalogue.product_id, catalogue.category)
    login = sessions[0]
    limit = (30 + web.LEAVING_DAYS) * 86400 + 86400
    account = np.array([int(a.strip('"W')) for a in login.account.to_pylist()])
    assert (login.at[account < 10] <= limit).all()
    assert (login.at[account >= 10] > limit).any()
