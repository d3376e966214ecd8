"""Print `make mutate`'s summary from mutmut's own counts (mutants/mutmut-cicd-stats.json):
killed counts mutants the tests caught (a timeout too, as mutmut counts it), of every mutant
generated except those skipped by a `pragma: no mutate`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

STATS = Path("mutants") / "mutmut-cicd-stats.json"


def main() -> int:
    if not STATS.exists():
        print(f"{STATS} not found: run `mutmut run` and `mutmut export-cicd-stats` first")
        return 1
    stats = json.loads(STATS.read_text())
    killed = stats["killed"] + stats["timeout"]
    mutants = stats["total"] - stats["skipped"]
    unchecked = mutants - killed - stats["survived"] - stats["no_tests"] - stats["suspicious"]
    print(f"survived {stats['survived']} (no test reaches {stats['no_tests']} more),"
          f" suspicious {stats['suspicious']}, not checked {max(unchecked, 0)};"
          " list them: .venv/bin/mutmut results")
    share = 100 * killed / mutants if mutants else 0.0
    print(f"mutation score: {killed} killed of {mutants} ({share:.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
