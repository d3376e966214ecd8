"""Speed, memory and accuracy of `onetoone dedupe` at scale (the issue's goal: 1,000,000 records
in under 2 minutes and 4 GB on 2 cores).

    .venv/bin/python bench/bench_dedupe.py --customers 510000    # about 1M records

Generates the population once (cached under ``$ONETOONE_HOME/bench``), writes the three sources'
customer records as dedupe input files (ERP customers, call-center contacts, web accounts; the
same records the pipeline's identity step sees), then runs the command line twice in a fresh
process each: training on the input, and scoring with the saved model. Wall time and peak
resident memory are the child process's own; precision, recall and F1 are against the
generator's truth. Last, the daily identity run's core (standardise, score, cluster, with its state
stored): once from scratch on all but 1% of the records, then incrementally with the 1% added,
against a full rebuild.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from onetoone.foundation.config import SOURCES, paths
from onetoone.generate import generate
from onetoone.stages.identity.evaluation import pairwise_scores

sys.path.insert(0, str(Path(__file__).parent))
from bench_identity import unioned_records  # noqa: E402  (the pipeline's record shapes)

DEDUPE_COLUMNS = {
    "source_record_id": "record_id", "first_name": "first_name", "last_name": "last_name",
    "birth_date": "birth_date", "email": "email", "phone": "phone",
    "address_line": "address_line", "city": "city", "postcode": "postcode", "region": "region",
    "country": "country", "national_id": "national_id",
}


def prepare(customers: int, seed: int) -> tuple[list[Path], pd.DataFrame]:
    folder = paths().home / "bench" / f"dedupe_{customers}_{seed}"
    inputs = [folder / f"{source}.csv" for source in SOURCES]
    truth_file = folder / "truth.csv"
    if not truth_file.exists():
        generated = folder / "generated"
        generate(generated, customers, seed)
        records = unioned_records(generated)
        for path in inputs:
            part = records[records["source"] == path.stem]
            part[list(DEDUPE_COLUMNS)].rename(columns=DEDUPE_COLUMNS).to_csv(path, index=False)
        truth = pd.read_csv(generated / "truth" / "records.csv", dtype=str)
        truth.to_csv(truth_file, index=False)
    truth = pd.read_csv(truth_file, dtype=str)
    truth["unique_id"] = truth["source"] + ":" + truth["source_record_id"]
    return inputs, truth


def run_dedupe(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (GB) of one `onetoone dedupe` run in a process of its own."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--measure-cli", *args],
                          check=True, stdout=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    *output, peak_kb = done.stdout.strip().splitlines()
    print("\n".join(output))
    return seconds, int(peak_kb) / 1024 / 1024


def measure_cli(args: list[str]) -> None:
    """Run the command line in this process, then print its peak RSS in KB as the last line."""
    from onetoone.cli import main as cli_main

    status = cli_main(["dedupe", *args])
    print(peak_rss_kb(), flush=True)
    sys.exit(status)


def peak_rss_kb() -> int:
    """This process's peak resident memory. Linux's ``ru_maxrss`` survives ``exec``, so in a
    child it would report the forking parent's size when that was larger; the address space's
    own high-water mark (``VmHWM``) starts afresh at ``exec``."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def score(output: Path, truth: pd.DataFrame) -> dict:
    keys = pd.read_csv(output, dtype=str)
    keys["unique_id"] = keys["source"] + ":" + keys["record_id"]
    return pairwise_scores(keys.rename(columns={"customer_key": "cluster_id"}), truth)


def incremental_step(folder: Path, increment: float) -> None:
    """The pipeline's identity core (standardise, score, cluster) on all but ``increment`` of
    the records from scratch, then the incremental run that adds them, each reading and writing
    its state as the daily run does; prints both times and how the clusters compare with a
    full run over everything."""
    import os
    import tempfile
    from datetime import UTC, datetime, timedelta

    from onetoone.stages.identity.dedupe import read_records
    from onetoone.stages.identity.linker import load_model
    from onetoone.stages.identity.step import resolve_records

    os.environ["ONETOONE_HOME"] = tempfile.mkdtemp(prefix="bench_incremental_")
    raw = pd.concat([read_records(folder / f"{s}.csv", {}) for s in SOURCES], ignore_index=True)
    model = load_model(folder / "model.json")
    day = datetime(2026, 1, 5, tzinfo=UTC)

    def identity_run(records: pd.DataFrame, as_of: datetime, incremental: bool):
        """The daily run's identity core: (run, standardise seconds, score-and-cluster s)."""
        resolved = resolve_records(records, model, as_of=as_of, incremental=incremental)
        return resolved.run, resolved.standardise_seconds, resolved.score_seconds

    new = raw.sample(frac=increment, random_state=1).index
    full, full_std, full_score = identity_run(raw.drop(index=new), day, incremental=False)
    now, inc_std, inc_score = identity_run(raw, day + timedelta(days=1), incremental=True)
    reference, *_ = identity_run(raw, day + timedelta(days=1), incremental=False)
    clusters = now.resolution.clusters.merge(reference.resolution.clusters, on="unique_id")
    split = clusters.groupby("cluster_id_x")["cluster_id_y"].nunique()
    joined = clusters.groupby("cluster_id_y")["cluster_id_x"].nunique()
    full_seconds, inc_seconds = full_std + full_score, inc_std + inc_score
    print(f"  full run over {len(raw) - len(new)} records: standardise {full_std:.1f}s + "
          f"score and cluster {full_score:.1f}s = {full_seconds:.1f}s")
    print(f"  +{len(new)} records ({increment:.0%}), incremental: standardise {inc_std:.1f}s + "
          f"score and cluster {inc_score:.1f}s = {inc_seconds:.1f}s "
          f"= {inc_seconds / full_seconds:.2f} of the full run "
          f"({now.records_scored} records scored, {now.pairs_kept} pairs carried over)")
    print(f"  clusters differing from a full rebuild: "
          f"{int((split > 1).sum() + (joined > 1).sum())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=510_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--increment", type=float, default=0.01)
    parser.add_argument("--incremental-step", type=Path, help=argparse.SUPPRESS)
    if sys.argv[1:2] == ["--measure-cli"]:
        measure_cli(sys.argv[2:])
        return
    args = parser.parse_args()
    if args.incremental_step:
        incremental_step(args.incremental_step, args.increment)
        return
    started = time.perf_counter()
    inputs, truth = prepare(args.customers, args.seed)
    folder = inputs[0].parent
    print(f"{args.customers} customers, {len(truth)} records in {len(inputs)} files "
          f"(prepared in {time.perf_counter() - started:.0f}s)")
    model = folder / "model.json"
    runs = {
        "train and score": [*map(str, inputs), "--output", str(folder / "trained.csv"),
                            "--save-model", str(model)],
        "score with saved model": [*map(str, inputs), "--output", str(folder / "scored.csv"),
                                   "--model", str(model)],
    }
    for name, cli_args in runs.items():
        seconds, peak_gb = run_dedupe(cli_args)
        s = score(Path(cli_args[cli_args.index("--output") + 1]), truth)
        print(f"  {name:<24} {seconds:6.1f}s  peak {peak_gb:4.2f} GB  "
              f"precision {s['precision']:.4f}  recall {s['recall']:.4f}  F1 {s['f1']:.4f}")
    subprocess.run([sys.executable, __file__, "--incremental-step", str(folder),
                    "--increment", str(args.increment)], check=True)


if __name__ == "__main__":
    main()
