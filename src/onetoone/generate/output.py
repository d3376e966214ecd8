"""Writing the extracts: CSV tables and day-partitioned line files.

Lines are rendered as one Arrow string array per source; a day's file is a contiguous slice
of its data buffer, so writing needs no per-row Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from onetoone.foundation.config import open_private, private_dir
from onetoone.generate.period import Period
from onetoone.generate.text import Strings, csv_lines


@dataclass(frozen=True)
class DailyLines:
    """Lines (each ending in a newline) sorted by day, for one-file-a-day extracts."""

    header: str  # written at the top of every file; '' for NDJSON
    lines: Strings
    day: np.ndarray  # day index of each line, ascending


def _buffer(lines: Strings) -> tuple[memoryview, np.ndarray]:
    """The concatenated UTF-8 bytes of all lines and the byte offset of each line."""
    array = lines.cast(pa.large_string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if len(array) == 0:
        return memoryview(b""), np.zeros(1, dtype=np.int64)
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset:
                                                               array.offset + len(array) + 1]
    data = array.buffers()[2]
    return (memoryview(data) if data is not None else memoryview(b"")), offsets


def write_daily(folder: Path, prefix: str, suffix: str, period: Period, daily: DailyLines,
                cp1252_day: int | None = None) -> int:
    """One file per day of the period (a day without rows still gets its header); the
    cp1252 day is re-encoded as a legacy export would. Returns the number of files."""
    private_dir(folder)
    data, offsets = _buffer(daily.lines)
    bounds = np.searchsorted(daily.day, np.arange(period.days + 1), side="left")
    if bounds[0] != 0 or bounds[-1] != len(daily.day):
        raise ValueError("lines fall outside the period")
    header = daily.header.encode()
    for day in range(period.days):
        body = data[offsets[bounds[day]]:offsets[bounds[day + 1]]]
        path = folder / f"{prefix}{period.day_name(day)}{suffix}"
        with open_private(path) as out:
            if day == cp1252_day:
                out.write((daily.header + bytes(body).decode()).encode("cp1252", "replace"))
            else:
                out.write(header)
                out.write(body)
    return period.days


def write_csv(path: Path, table: dict[str, Strings]) -> int:
    """A header and one line per row (RFC 4180, empty field = NULL). Returns the rows."""
    private_dir(path.parent)
    data, offsets = _buffer(csv_lines(list(table.values())))
    with open_private(path) as out:
        out.write((",".join(table) + "\n").encode())
        out.write(data[offsets[0]:offsets[-1]])
    return len(offsets) - 1
