"""Identity's incremental state is replaced atomically: a run killed while writing it leaves the
previous state or the new one for the next run, never new fingerprints with old pairs."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from onetoone.stages.identity import store as identity_store
from onetoone.stages.identity.linker import IdentityState

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
MODEL = "model-1"


class SimulatedKill(BaseException):
    """The process dies here: nothing after this point runs, no cleanup either."""


@pytest.fixture(autouse=True)
def own_state_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("ONETOONE_HOME", str(tmp_path))


def _state(tag: str) -> IdentityState:
    fingerprints = pd.DataFrame({"unique_id": ["erp:1", "web:2"],
                                 "fingerprint": [f"{tag}-1", f"{tag}-2"]})
    pairs = pd.DataFrame({"unique_id_l": ["erp:1"], "unique_id_r": ["web:2"],
                          "match_probability": [0.9 if tag == "old" else 0.1]})
    return IdentityState(MODEL, fingerprints, pairs)


def _read_state() -> tuple[str, str] | None:
    state = identity_store.read_scoring_state(MODEL, AS_OF + timedelta(days=1))
    if state is None:
        return None
    return (state.fingerprints["fingerprint"].iloc[0].split("-")[0],
            "old" if state.pairs["match_probability"].iloc[0] == 0.9 else "new")


def _write_state(tag: str) -> None:
    identity_store.write_scoring_state(_state(tag), full_rebuild=True, as_of=AS_OF)


def _read_standardised() -> tuple[str, str] | None:
    for version in ("old", "new"):
        frame = identity_store.read_standardised_records(version)
        if frame is not None:
            return version, frame["given_name"].iloc[0]
    return None


def _write_standardised(tag: str) -> None:
    identity_store.write_standardised_records(pd.DataFrame({"given_name": [tag]}), tag)


def _killed_at_rename(number: int, monkeypatch):
    """Make the ``number``-th rename (0-based) from now on kill the process instead."""
    real_replace = os.replace
    calls = iter(range(10_000))

    def replace(src, dst, **kwargs):
        if next(calls) == number:
            raise SimulatedKill
        return real_replace(src, dst, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


@pytest.mark.parametrize(("write", "read"), [(_write_state, _read_state),
                                             (_write_standardised, _read_standardised)],
                         ids=["scoring_state", "standardised_records"])
def test_a_kill_at_any_rename_leaves_the_old_or_the_new_version(write, read, monkeypatch):
    for kill_at in range(20):
        identity_store.scoring_dir().mkdir(parents=True, exist_ok=True)
        write("old")
        assert read() == ("old", "old")
        with monkeypatch.context() as patch:
            _killed_at_rename(kill_at, patch)
            try:
                write("new")
            except SimulatedKill:
                pass
            else:
                break  # no rename left to be killed at
        assert read() in {("old", "old"), ("new", "new")}, f"killed at rename {kill_at}"
    else:
        pytest.fail("the write never completed")
    assert read() == ("new", "new")


def test_a_failed_write_keeps_the_previous_state(monkeypatch):
    _write_state("old")
    broken = IdentityState(MODEL, _state("new").fingerprints,
                           pd.DataFrame({"unique_id_l": [object()]}))  # parquet refuses it
    with pytest.raises(Exception):  # noqa: B017 (whatever pyarrow raises)
        identity_store.write_scoring_state(broken, full_rebuild=True, as_of=AS_OF)
    assert _read_state() == ("old", "old")


def test_incremental_write_keeps_the_rebuild_date_and_old_versions_go():
    _write_state("old")
    identity_store.write_scoring_state(_state("new"), full_rebuild=False,
                                       as_of=AS_OF + timedelta(days=3))
    _write_state("new")
    identity_store.write_scoring_state(_state("new"), full_rebuild=False,
                                       as_of=AS_OF + timedelta(days=8))
    # rebuilt at AS_OF, a week before: a full rebuild is due
    assert identity_store.read_scoring_state(MODEL, AS_OF + timedelta(days=8)) is None
    versions = list(identity_store.scoring_dir().glob("state-*"))
    assert len(versions) == 2  # the current one and the one a reader may still be on
