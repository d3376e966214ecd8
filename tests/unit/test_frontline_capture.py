"""The front line's writer of new callers: lines in the call-center format that the ingest's
parser reads back, in a dated file of its own that the ingest picks up, whole under concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from onetoone.service.capture import CallerWriter, CaptureRefused, checked_caller
from onetoone.stages.ingest.files import CALLCENTER_CALLS, files_due
from onetoone.stages.ingest.parsers import parse_calls_csv

NOW = datetime(2026, 11, 2, 14, 30, tzinfo=UTC)


def test_callers_written_concurrently_make_one_well_formed_file(tmp_path):
    writer = CallerWriter(tmp_path)
    callers = [{"first_name": "José", "last_name": f"da Silva, {n}", "phone": "(11) 98765-4321",
                "email": f"jose.{n}@example.com"} for n in range(40)]
    with ThreadPoolExecutor(8) as pool:
        written = list(pool.map(lambda c: writer.write(checked_caller(c), "frontline:t1", NOW),
                                callers))
    [path] = (tmp_path / "callcenter").iterdir()
    assert path.name == "calls_2026-11-02.frontline.csv"
    assert {w.landing_file for w in written} == {"callcenter/calls_2026-11-02.frontline.csv"}
    lines = list(parse_calls_csv(path.read_bytes()))
    assert [line.problem for line in lines] == [None] * 40
    assert sorted(line.row[2] for line in lines) == sorted(w.contact_id for w in written)
    assert {line.row[3] for line in lines} == {f"José da Silva, {n}" for n in range(40)}
    # the ingest takes it as a dated call-center file of that day, once the day is over
    assert files_due(tmp_path, CALLCENTER_CALLS, datetime(2026, 11, 3, tzinfo=UTC)) == [
        (path, NOW.date())]


@pytest.mark.parametrize(("body", "says"), [
    ({"first_name": "Ana", "national_id": "123"}, "carries no national_id"),
    ({"first_name": "Ana", "phone": "12"}, "phone: no usable value"),
    ({"first_name": " ", "last_name": "", "phone": "11987654321"}, "give the caller's name"),
])
def test_a_caller_the_pipeline_could_not_use_is_refused(body, says):
    with pytest.raises(CaptureRefused, match=says):
        checked_caller(body)
