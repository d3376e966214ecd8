"""Reading an engineer's corrections file: usable rows become corrections, and any unusable row
refuses the whole file with its row and field, before anything is changed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from onetoone.stages.ingest.quarantine import CorrectionsError, read_corrections


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "corrections.csv"
    path.write_bytes(text.encode(encoding))
    return path


def test_corrections_keep_the_record_as_edited_and_ignore_other_columns(tmp_path):
    path = write(tmp_path, '\ufeffquarantine_id,reason,record\n7,whatever,"a,b ""c"""\n8,,\n')
    assert read_corrections(path) == {7: 'a,b "c"', 8: ""}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,record\n7,x\n", "missing column(s) quarantine_id"),
        ("quarantine_id,record\n7,x\nseven,y\n", "row 3, field quarantine_id: not an integer"),
        ("quarantine_id,record\n7,x\n7,y\n", "row 3, field quarantine_id: 7 appears twice"),
        ('quarantine_id,record\r\n7,"two\r\nlines"\r\n', "row 2, field record: a carriage"),
        ("quarantine_id,record\n7\n", "row 2, field record: missing"),
        ("quarantine_id,record\n7,a\x00b\n", "row 2, field record: a NUL byte"),
        ("quarantine_id,record\n", "no rows"),
    ],
)
def test_unusable_corrections_are_refused_with_row_and_field(tmp_path, text, message):
    with pytest.raises(CorrectionsError, match=re.escape(message)):
        read_corrections(write(tmp_path, text))


def test_a_record_may_hold_a_quoted_line_break_as_a_call_record_can(tmp_path):
    record = 'CL2,2025-03-01 10:00:00,CC1,Ana,1,,"billing\nrefund",5,3,true,resolved,AG1'
    path = write(tmp_path, 'quarantine_id,record\n7,"' + record.replace('"', '""') + '"\n')
    assert read_corrections(path) == {7: record}


def test_a_file_saved_in_another_encoding_is_refused(tmp_path):
    with pytest.raises(CorrectionsError, match="not UTF-8"):
        read_corrections(write(tmp_path, "quarantine_id,record\n7,José\n", encoding="cp1252"))
