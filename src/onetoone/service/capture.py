"""The front line's write-back: a caller recorded as a new call-center contact, which the next
run ingests, checks and links like any other (README, "From the front line back to the
warehouse").

The record is one line of the call-center format (``stages/ingest/parsers.CALL_COLUMNS``) in a
dated file of the front line's own, ``<landing>/callcenter/calls_<day>.frontline.csv``: the
call-center system owns ``calls_<day>.csv``, and a dated file is loaded once per checksum (a
changed one replaces its batch), so the two never write to one file. Each write replaces the
file atomically (the whole file written beside it, then renamed over it) under a lock, so the
ingest never reads half a line. Each line is parsed by the ingest's own parser before it is
written: what the service writes is what the ingest will load.
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from onetoone.stages.identity.lookup import LOOKUP_FIELDS, STANDARDISED_FROM, contact_source_record
from onetoone.stages.identity.standardise import standardise_record
from onetoone.stages.ingest.files import CALLCENTER_CALLS
from onetoone.stages.ingest.parsers import CALL_COLUMNS, parse_call_line, read_calls_header

WRITER = "frontline"
# What a call-center record carries: a caller's name, phone and email.
CAPTURE_FIELDS = ("first_name", "last_name", "phone", "email")
MAX_VALUE_LENGTH = 200
# Where the writes are staged before the rename: beside the source folders, not in one (the
# ingest refuses any file of a source folder that is not named like its files).
STAGING_FOLDER = ".frontline-staging"


class CaptureRefused(ValueError):
    """The caller cannot be recorded as given; the message names the field, never its value."""


@dataclass(frozen=True)
class Captured:
    source_record: str  # callcenter:<contact_id>, the record's id in identity
    contact_id: str
    landing_file: str  # relative to the landing folder


def checked_caller(body: object) -> dict[str, str]:
    """The caller's fields from a request body: known names, text, a name and a phone or an
    email, each value one the pipeline's standardisation accepts."""
    if not isinstance(body, dict):
        raise CaptureRefused("expected a JSON object of the caller's fields: "
                             f"{', '.join(CAPTURE_FIELDS)}")
    for name in sorted(body):
        if name in LOOKUP_FIELDS and name not in CAPTURE_FIELDS:
            raise CaptureRefused(f"{name}: a call-center record carries no {name}; give only "
                                 f"{', '.join(CAPTURE_FIELDS)}")
        if name not in CAPTURE_FIELDS:
            raise CaptureRefused(f"unknown field {name!r}; expected any of "
                                 f"{', '.join(CAPTURE_FIELDS)}")
    caller = {}
    for name in CAPTURE_FIELDS:
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise CaptureRefused(f"{name}: expected text")
        if len(value) > MAX_VALUE_LENGTH:
            raise CaptureRefused(f"{name}: longer than {MAX_VALUE_LENGTH} characters")
        if any(not character.isprintable() for character in value):
            raise CaptureRefused(f"{name}: contains a control character")
        if value.strip():
            caller[name] = value.strip()
    if not caller.keys() & {"first_name", "last_name"}:
        raise CaptureRefused("give the caller's name (first_name, last_name)")
    if not caller.keys() & {"phone", "email"}:
        raise CaptureRefused("give a phone or an email: a name alone links no one")
    standardised = standardise_record(contact_source_record(caller))
    unusable = next((name for name in caller if standardised[STANDARDISED_FROM[name]] is None),
                    None)
    if unusable:
        raise CaptureRefused(f"{unusable}: no usable value (the pipeline's standardisation "
                             "rejects it)")
    return caller


class CallerWriter:
    """Writes callers into the front line's dated call-center files under ``landing``."""

    def __init__(self, landing: Path) -> None:
        self.landing = landing
        self._lock = threading.Lock()  # this process's threads; flock for other processes

    def file_of(self, day: datetime) -> Path:
        name = f"calls_{day.date().isoformat()}.{WRITER}.csv"
        if not CALLCENTER_CALLS.pattern.match(name):  # the ingest would refuse it
            raise RuntimeError(f"{name} is not a call-center file name the ingest loads")
        return self.landing / CALLCENTER_CALLS.folder / name

    def write(self, caller: dict[str, str], agent_id: str,
              now: datetime | None = None) -> Captured:
        called_at = (now or datetime.now(UTC)).astimezone(UTC)
        contact_id = f"FL-{uuid.uuid4().hex[:16].upper()}"
        line = _call_line({
            "call_id": f"FLC-{uuid.uuid4().hex[:16].upper()}",
            # the call center's local time as the CSV holds it (dbt's callcenter_timezone)
            "called_at": called_at.strftime("%Y-%m-%d %H:%M:%S"),
            "contact_id": contact_id,
            "caller_name": " ".join(caller[n] for n in ("first_name", "last_name") if n in caller),
            "phone": caller.get("phone", ""), "email": caller.get("email", ""),
            "reason": "", "duration_seconds": "0", "satisfaction": "", "is_complaint": "false",
            "resolution": "", "agent_id": agent_id,
        })
        path = self.file_of(called_at)
        staging = self.landing / STAGING_FOLDER
        staging.mkdir(parents=True, exist_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, (staging / f"{path.name}.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            before = path.read_bytes() if path.exists() else _call_line(
                dict(zip(CALL_COLUMNS, CALL_COLUMNS, strict=True)))
            temporary = staging / f"{path.name}.{os.getpid()}.tmp"
            with temporary.open("wb") as f:
                f.write(before + line)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, path)
        return Captured(f"{CALLCENTER_CALLS.source}:{contact_id}", contact_id,
                        str(path.relative_to(self.landing)))


_HEADER = read_calls_header(",".join(CALL_COLUMNS))


def _call_line(fields: dict[str, str]) -> bytes:
    """One CSV line of the call-center format; a data line must parse as the ingest parses."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([fields[c] for c in CALL_COLUMNS])
    line = out.getvalue().encode()
    if fields["call_id"] != "call_id":
        parsed = parse_call_line(line.rstrip(b"\n"), 2, _HEADER, set())
        if parsed.problem is not None:
            raise CaptureRefused(f"{parsed.problem.field or 'caller'}: the call-center format "
                                 "cannot hold it")
    return line
