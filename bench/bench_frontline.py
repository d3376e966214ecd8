"""Benchmark the front-line lookup service over HTTP on the sample generator's data.

    .venv/bin/python bench/bench_frontline.py --customers 10000 [--clients 20] [--requests 2000]

Generates the extracts and builds the unioned records as bench_identity does, then holds back
(a) one noisy record of each of ``--held-back`` people who have other records, and (b) every
record of ``--strangers`` people. The rest is standardised, the model trained and the records
resolved into customers (the cluster is the customer key), as the pipeline would. The service
(the real app of ``onetoone serve``, with its token check and audit rows in an embedded
PostgreSQL of a throw-away state folder) runs in a process of its own on 127.0.0.1; ``--clients``
threads send the held-back records' raw fields as lookups, keep-alive, for ``--requests`` in
all. Prints p50/p95/p99 latency, throughput, the service's resident memory, the share of
held-back records whose right customer ranks first, and of strangers answered "no match".

``--keep DIR`` keeps what was prepared (records, keys, model, queries) in DIR and reuses it on
the next run with the same options, so that two versions of the service can be measured on the
same data back to back (run the bench with the other checkout's Python: the service process is
started with the same interpreter).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
LOOKUP_COLUMNS = ["first_name", "last_name", "birth_date", "email", "phone", "postcode",
                  "national_id"]


def prepare(customers: int, seed: int, held_back: int, strangers: int, workdir: Path,
            days: int) -> dict:
    """Generate, hold back, standardise, train and resolve; write what the service loads."""
    sys.path.insert(0, str(HERE))
    from bench_identity import unioned_records

    from onetoone.generate import generate
    from onetoone.stages.identity.linker import resolve, save_model, train
    from onetoone.stages.identity.standardise import standardise

    root = workdir / "generated"
    started = time.perf_counter()
    generate(root, customers, seed, days=days)
    records = unioned_records(root)
    records["unique_id"] = records["source"] + ":" + records["source_record_id"]
    truth = pd.read_csv(root / "truth" / "records.csv", dtype=str)
    truth["unique_id"] = truth["source"] + ":" + truth["source_record_id"]
    records = records.merge(truth[["unique_id", "person_id"]], on="unique_id", how="left")
    generated = time.perf_counter() - started

    rng = np.random.default_rng(seed)
    people = records.groupby("person_id")["unique_id"].count()
    several = people[people >= 2].index.to_numpy()
    rng.shuffle(several)
    stranger_people = set(several[:strangers])
    held_people = several[strangers:strangers + held_back]
    # the held-back record: one at random among the person's (any source, its noise as is)
    held = (records[records["person_id"].isin(held_people)]
            .sample(frac=1.0, random_state=seed).drop_duplicates("person_id"))
    stranger_queries = (records[records["person_id"].isin(stranger_people)]
                        .sample(frac=1.0, random_state=seed).drop_duplicates("person_id"))
    kept = records[~records["unique_id"].isin(held["unique_id"])
                   & ~records["person_id"].isin(stranger_people)]

    started = time.perf_counter()
    records_std = standardise(kept.drop(columns=["person_id", "unique_id"]))
    model = train(records_std)
    clusters = resolve(records_std, model)
    prepared = time.perf_counter() - started
    keys = clusters[["unique_id", "cluster_id"]].rename(columns={"cluster_id": "customer_key"})
    keys = keys.merge(kept[["unique_id", "person_id"]], on="unique_id")

    ceiling = lookup_evidence_ceiling(
        standardise(held.drop(columns=["person_id", "unique_id"])), records_std, records)

    data = workdir / "service"
    data.mkdir(parents=True)
    records_std.to_parquet(data / "records.parquet", index=False)
    keys[["unique_id", "customer_key"]].to_parquet(data / "keys.parquet", index=False)
    save_model(model, data / "model.json")
    queries = [("held_back", row.person_id, _fields(row)) for row in held.itertuples()]
    queries += [("stranger", row.person_id, _fields(row)) for row in stranger_queries.itertuples()]
    print(f"{customers:,} customers: {len(records):,} records, {len(kept):,} in the index "
          f"({keys['customer_key'].nunique():,} customers), {len(held):,} held back, "
          f"{len(stranger_queries):,} strangers; generate {generated:.0f}s, standardise + "
          f"train + resolve {prepared:.0f}s", flush=True)
    return {"data": data, "queries": [q for q in queries if q[2]],
            "persons_of_key": keys.groupby("customer_key")["person_id"].agg(set).to_dict(),
            "evidence_ceiling": ceiling}


# What a lookup gives that can agree exactly with a record, besides the name.
LOOKUP_EVIDENCE = ["phone_last8", "email", "birth_date", "national_id", "postcode"]


def lookup_evidence_ceiling(held_std: pd.DataFrame, kept_std: pd.DataFrame,
                            records: pd.DataFrame) -> float:
    """The share of held-back records that agree exactly with one of their person's indexed
    records on a phone, e-mail, birth date, national id or postcode: the rest share at most a
    name with them, which a common name cannot tell from a namesake's."""
    person_of = records.set_index("unique_id")["person_id"]
    held_std = held_std.assign(person_id=held_std["unique_id"].map(person_of))
    kept_std = kept_std.assign(person_id=kept_std["unique_id"].map(person_of))
    agreeing: set = set()
    for column in LOOKUP_EVIDENCE:
        pairs = held_std[["person_id", column]].dropna().merge(
            kept_std[["person_id", column]].dropna())
        agreeing |= set(pairs["person_id"])
    return len(agreeing) / max(held_std["person_id"].nunique(), 1)


def _fields(row) -> dict[str, str]:
    values = {c: getattr(row, c) for c in LOOKUP_COLUMNS}
    if not isinstance(values["first_name"], str) and isinstance(row.full_name, str):
        first, _, last = row.full_name.partition(" ")
        values["first_name"], values["last_name"] = first, last or None
    return {k: v for k, v in values.items() if isinstance(v, str) and v.strip()}


def serve(data: Path, port: int) -> None:
    """The child process: the service's app over the prepared records, on 127.0.0.1."""
    import logging

    import psycopg
    import uvicorn

    from onetoone.foundation import config
    from onetoone.operations.migrate import migrate_warehouse
    from onetoone.runtime import warehouse
    from onetoone.service.app import ServiceContext, create_app
    from onetoone.stages.identity.linker import load_model
    from onetoone.stages.identity.lookup import prepare_lookup
    from onetoone.stages.serving import frontline

    logging.basicConfig(level=logging.WARNING)
    warehouse.start()
    url = config.warehouse_url()
    migrate_warehouse(url)
    with psycopg.connect(url) as conn, conn.transaction():
        token = frontline.issue_token(conn, "bench", frontline.FRONTLINE)
    started = time.perf_counter()
    index = prepare_lookup(pd.read_parquet(data / "records.parquet"),
                           pd.read_parquet(data / "keys.parquet"), load_model(data / "model.json"))
    (data / "ready.json").write_text(json.dumps(
        {"token": token, "prepare_seconds": time.perf_counter() - started}))
    app = create_app(ServiceContext(url, index, {}, frontline.audit_key()))
    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")


def rss_mb(pid: int) -> tuple[float, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


def load(port: int, token: str, queries: list, clients: int, requests: int,
         seconds: float | None = None) -> list:
    """``requests`` lookups from ``clients`` keep-alive clients, or as many as they send in
    ``seconds`` when given."""
    results: list = []
    deadline = None if seconds is None else time.perf_counter() + seconds
    sent = itertools.count()
    lock = threading.Lock()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Bearer {token}"}
        while True:
            with lock:
                n = next(sent)
            if (n >= requests) if deadline is None else time.perf_counter() >= deadline:
                break
            kind, person, fields = queries[n % len(queries)]
            started = time.perf_counter()
            conn.request("GET", "/customers/lookup?" + urllib.parse.urlencode(fields),
                         headers=headers)
            response = conn.getresponse()
            body = json.loads(response.read())
            with lock:
                results.append((kind, person, response.status, body,
                                time.perf_counter() - started))
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--held-back", type=int, default=500)
    parser.add_argument("--strangers", type=int, default=500)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seconds", type=float,
                        help="send lookups for this long instead of --requests of them")
    parser.add_argument("--port", type=int, default=8799)
    # at a million customers two years of web events overflow the generator's Arrow strings
    parser.add_argument("--days", type=int, default=730, help="days of history generated")
    parser.add_argument("--keep", type=Path, help="keep the prepared data here and reuse it")
    parser.add_argument("--serve-from", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_from:
        serve(args.serve_from, args.port)
        return

    with tempfile.TemporaryDirectory(prefix="bench-frontline-") as tmp:
        workdir = Path(tmp)
        prepared = prepared_data(args, workdir)
        data = prepared["data"]
        (data / "ready.json").unlink(missing_ok=True)
        env = {**os.environ, "ONETOONE_HOME": str(workdir / "home")}
        env.pop("ONETOONE_WAREHOUSE_URL", None)
        child = subprocess.Popen([sys.executable, __file__, "--serve-from", str(data),
                                  "--port", str(args.port)], env=env)
        try:
            deadline = time.monotonic() + 1800
            while not (data / "ready.json").exists():
                if child.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the service did not start")
                time.sleep(0.5)
            ready = json.loads((data / "ready.json").read_text())
            _wait_listening(args.port, child)
            token = ready["token"]
            queries = prepared["queries"]
            load(args.port, token, queries, args.clients, min(200, args.requests))  # warm-up
            load_before = os.getloadavg()
            started = time.perf_counter()
            results = load(args.port, token, queries, args.clients, args.requests,
                           args.seconds)
            elapsed = time.perf_counter() - started
            load_after = os.getloadavg()
            rss, peak = rss_mb(child.pid)
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=60)
            conn.request("GET", "/health")
            health = json.loads(conn.getresponse().read())
            print(f"service: {health['lookups_scored']:,} lookups in {health['lookup_batches']:,}"
                  f" batches, {health['scoring_seconds']:.1f}s scoring them (warm-up included)")
        finally:
            child.terminate()
            child.wait(60)
        report(results, elapsed, rss, peak, ready["prepare_seconds"], prepared, args)
        print("load average (1, 5, 15 min) before the run "
              f"{' '.join(f'{x:.2f}' for x in load_before)}, after "
              f"{' '.join(f'{x:.2f}' for x in load_after)} ({os.cpu_count()} cores)")
        # the service's embedded PostgreSQL ran under the throw-away home
        subprocess.run([str(Path(sys.executable).parent / "onetoone"), "warehouse", "stop"],
                       env=env, capture_output=True)


def prepared_data(args: argparse.Namespace, workdir: Path) -> dict:
    """``prepare``'s result, from ``--keep`` when it holds one made with the same options."""
    if args.keep is None:
        return prepare(args.customers, args.seed, args.held_back, args.strangers, workdir,
                       args.days)
    options = {"customers": args.customers, "seed": args.seed, "held_back": args.held_back,
               "strangers": args.strangers, "days": args.days}
    saved = args.keep / "prepared.pickle"
    if saved.exists():
        with saved.open("rb") as f:
            kept = pickle.load(f)
        if kept["options"] == options:
            print(f"reusing the data prepared in {args.keep}", flush=True)
            return {**kept["prepared"], "data": args.keep / "service"}
    shutil.rmtree(args.keep, ignore_errors=True)
    args.keep.mkdir(parents=True)
    prepared = prepare(args.customers, args.seed, args.held_back, args.strangers, args.keep,
                       args.days)
    shutil.rmtree(args.keep / "generated")
    with saved.open("wb") as f:
        pickle.dump({"options": options, "prepared": {k: v for k, v in prepared.items()
                                                       if k != "data"}}, f)
    return prepared


def _wait_listening(port: int, child: subprocess.Popen) -> None:
    import socket

    for _ in range(600):
        if child.poll() is not None:
            raise SystemExit("the service exited")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit("the service does not listen")


def report(results: list, elapsed: float, rss: float, peak: float, prepare_seconds: float,
           prepared: dict, args: argparse.Namespace) -> None:
    latencies = np.array([r[4] for r in results]) * 1000
    statuses = pd.Series([r[2] for r in results]).value_counts().to_dict()
    persons_of_key = prepared["persons_of_key"]
    first, held, no_match, strangers = 0, 0, 0, 0
    seen = set()
    for kind, person, status, body, _ in results:
        if status != 200 or (kind, person) in seen:
            continue
        seen.add((kind, person))
        customers = body["customers"]
        if kind == "held_back":
            held += 1
            first += bool(customers) and person in persons_of_key.get(
                customers[0]["customer_key"], set())
        else:
            strangers += 1
            no_match += body["outcome"] == "no_match"
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
    print(f"index prepared in {prepare_seconds:.1f}s; {len(results):,} lookups from "
          f"{args.clients} clients in {elapsed:.1f}s ({len(results) / elapsed:.0f}/s), "
          f"statuses {statuses}")
    print(f"latency ms: p50 {p50:.0f}  p95 {p95:.0f}  p99 {p99:.0f}  max {latencies.max():.0f}")
    print(f"service RSS {rss:.0f} MB (peak {peak:.0f} MB)")
    print(f"held-back records whose customer ranks first: {first}/{held} = "
          f"{first / max(held, 1):.3f} (evidence ceiling "
          f"{prepared.get('evidence_ceiling', float('nan')):.3f}: the share that agrees with"
          f" one of its person's records on more than a name)")
    print(f"strangers answered no match: {no_match}/{strangers} = "
          f"{no_match / max(strangers, 1):.3f}")


if __name__ == "__main__":
    main()
