"""A FEBRL-like file for identity tests: FEBRL's columns as ``bench/bench_public_data.py``
writes them and its ``rec-<n>-org`` / ``rec-<n>-dup-<k>`` ids, duplicates with typos and
missing fields."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd

GIVEN = ["james", "mary", "john", "linda", "robert", "susan", "michael", "karen", "david",
         "sarah", "daniel", "emma", "thomas", "olivia", "joshua", "chloe", "liam", "ruby"]
SURNAMES = ["smith", "jones", "williams", "brown", "wilson", "taylor", "nguyen", "martin",
            "white", "walker", "harris", "lee", "ryan", "king", "campbell", "kelly"]
STREETS = ["wattle", "banksia", "acacia", "eucalypt", "river", "hill", "station", "church"]
SUBURBS = [("bondi", "2026", "nsw"), ("fitzroy", "3065", "vic"), ("toowong", "4066", "qld"),
           ("glenelg", "5045", "sa"), ("fremantle", "6160", "wa")]


def _typo(rng: random.Random, word: str) -> str:
    i = rng.randrange(len(word))
    return word[:i] + rng.choice("aeiourst") + word[i + 1:]


def febrl_like(path: Path, persons: int = 150, seed: int = 3) -> Path:
    """Originals and duplicates with a typo or a missing field, in the columns
    ``bench/bench_public_data.py`` feeds the real FEBRL sets through."""
    rng = random.Random(seed)
    rows = []
    for n in range(persons):
        suburb, postcode, state = rng.choice(SUBURBS)
        original = {"record_id": f"rec-{n}-org", "first_name": rng.choice(GIVEN),
                    "last_name": rng.choice(SURNAMES),
                    "birth_date": f"19{rng.randint(40, 99)}{rng.randint(1, 12):02d}"
                                  f"{rng.randint(1, 28):02d}",
                    "address_line": f"{rng.randint(1, 200)} {rng.choice(STREETS)} street",
                    "city": suburb, "postcode": postcode, "region": state}
        rows.append(original)
        for k in range(rng.choice([0, 0, 1, 2])):
            duplicate = {**original, "record_id": f"rec-{n}-dup-{k}"}
            field = rng.choice(["first_name", "last_name", "address_line", "city"])
            duplicate[field] = _typo(rng, duplicate[field])
            if rng.random() < 0.3:
                duplicate[rng.choice(["birth_date", "postcode"])] = None
            rows.append(duplicate)
    pd.DataFrame(rows).to_csv(path, index=False)
    return path
