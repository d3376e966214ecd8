"""Customer keys: stable across reruns, inherited through growth, merges and splits, and fresh
keys never reuse an old one."""

from __future__ import annotations

import hashlib
import json
import re

import pandas as pd
import pytest

from onetoone.stages.identity.keys import (
    assign_customer_keys,
    assign_keys,
    keep_erased_records,
    new_key,
)


def _clusters(assignment: dict[str, str]) -> pd.DataFrame:
    """{"erp:E1": "c1", ...} -> the clusters frame ``resolve`` returns."""
    rows = [uid.split(":", 1) + [cluster] for uid, cluster in assignment.items()]
    return pd.DataFrame(rows, columns=["source", "source_record_id", "cluster_id"])


def _by_record(keys: pd.DataFrame) -> dict[str, str]:
    uids = keys["source"] + ":" + keys["source_record_id"]
    return dict(zip(uids, keys["customer_key"], strict=True))


FIRST_RUN = {"erp:E1": "a", "web:W1": "a", "callcenter:C1": "a", "erp:E2": "b", "web:W2": "c"}


def test_first_run_keys_are_deterministic_and_well_formed():
    keys = assign_customer_keys(_clusters(FIRST_RUN), None)
    assert list(keys.columns) == ["source", "source_record_id", "customer_key", "cluster_size"]
    by_record = _by_record(keys)
    assert all(re.fullmatch(r"CUST-[0-9A-F]{12}", key) for key in by_record.values())
    assert by_record["erp:E1"] == by_record["web:W1"] == by_record["callcenter:C1"]
    assert len({by_record["erp:E1"], by_record["erp:E2"], by_record["web:W2"]}) == 3
    # derived from the smallest unique_id of the cluster
    assert by_record["erp:E1"] == new_key("callcenter:C1")
    assert keys.set_index("source_record_id").loc["E1", "cluster_size"] == 3
    assert keys.equals(assign_customer_keys(_clusters(FIRST_RUN), None))


def test_rerun_with_other_cluster_ids_keeps_every_key():
    first = assign_customer_keys(_clusters(FIRST_RUN), None)
    renamed = {uid: f"x-{cluster}" for uid, cluster in FIRST_RUN.items()}
    again = assign_customer_keys(_clusters(renamed), first)
    assert _by_record(again) == _by_record(first)


def test_new_record_joining_a_customer_gets_its_key_and_new_cluster_a_new_key():
    first = _by_record(assign_customer_keys(_clusters(FIRST_RUN), None))
    grown = {**FIRST_RUN, "web:W9": "a", "erp:E0": "d"}  # E0 sorts before every old record
    second = _by_record(
        assign_customer_keys(_clusters(grown), assign_customer_keys(_clusters(FIRST_RUN)))
    )
    assert second["web:W9"] == first["erp:E1"]
    assert second["erp:E0"] not in first.values()


def test_merge_keeps_the_larger_sides_key():
    previous = assign_customer_keys(_clusters(FIRST_RUN), None)
    merged = {**FIRST_RUN, "erp:E2": "a"}
    keys = _by_record(assign_customer_keys(_clusters(merged), previous))
    assert keys["erp:E2"] == keys["erp:E1"] == _by_record(previous)["erp:E1"]


def test_split_keeps_key_on_larger_part_and_never_reuses_a_key():
    previous = assign_customer_keys(_clusters(FIRST_RUN), None)
    old = _by_record(previous)
    # callcenter:C1 (the record the old key was derived from) leaves alone
    split = {**FIRST_RUN, "callcenter:C1": "z"}
    keys = _by_record(assign_customer_keys(_clusters(split), previous))
    assert keys["erp:E1"] == keys["web:W1"] == old["erp:E1"]
    assert keys["callcenter:C1"] not in set(old.values())
    assert keys["callcenter:C1"] != new_key("callcenter:C1")


def test_retired_keys_are_not_handed_out_again():
    retired = new_key("erp:E9")
    keys = assign_customer_keys(_clusters({"erp:E9": "a"}), None, retired_keys=[retired])
    assert keys["customer_key"].iloc[0] not in {retired}


def test_empty_previous_keys_frame_is_like_none():
    empty = pd.DataFrame(columns=["source", "source_record_id", "customer_key"])
    assert assign_customer_keys(_clusters(FIRST_RUN), empty).equals(
        assign_customer_keys(_clusters(FIRST_RUN), None)
    )


def _events(result) -> list[tuple]:
    return list(result.events[["event_type", "customer_key", "related_key", "records"]]
                .itertuples(index=False, name=None))


def test_rerun_is_stable_and_records_no_events():
    first = assign_keys(_clusters(FIRST_RUN))
    assert sorted(first.events["event_type"]) == ["created"] * 3
    again = assign_keys(_clusters(FIRST_RUN), first.keys)
    assert _by_record(again.keys) == _by_record(first.keys)
    assert again.events.empty and again.retired.empty


def test_merge_survivor_has_most_records_and_the_other_key_is_retired():
    first = assign_keys(_clusters(FIRST_RUN))
    old = _by_record(first.keys)
    merged = assign_keys(_clusters({**FIRST_RUN, "erp:E2": "a", "web:W2": "a"}), first.keys)
    assert set(_by_record(merged.keys).values()) == {old["erp:E1"]}
    assert sorted(_events(merged)) == sorted([
        ("merged", old["erp:E2"], old["erp:E1"], 1), ("merged", old["web:W2"], old["erp:E1"], 1)])
    assert dict(merged.retired.itertuples(index=False)) == {
        old["erp:E2"]: old["erp:E1"], old["web:W2"]: old["erp:E1"]}


def test_merge_of_equal_sides_keeps_the_smallest_key():
    first = assign_keys(_clusters({"erp:E1": "a", "erp:E2": "b"}))
    old = _by_record(first.keys)
    merged = assign_keys(_clusters({"erp:E1": "a", "erp:E2": "a"}), first.keys)
    survivor = min(old.values())
    assert set(_by_record(merged.keys).values()) == {survivor}
    assert merged.events["details"].iloc[0] == {"merged_into": survivor}


def test_split_largest_part_keeps_the_key_others_get_new_keys_split_from_it():
    first = assign_keys(_clusters(FIRST_RUN))
    old = _by_record(first.keys)["erp:E1"]
    split = assign_keys(_clusters({**FIRST_RUN, "web:W1": "y", "callcenter:C1": "z"}), first.keys)
    keys = _by_record(split.keys)
    # three parts of one record each: the part with the smallest unique_id keeps the key
    assert keys["callcenter:C1"] == old
    assert len({keys["erp:E1"], keys["web:W1"], old}) == 3
    assert sorted(_events(split)) == sorted([
        ("split", keys["erp:E1"], old, 1), ("split", keys["web:W1"], old, 1)])
    assert split.retired.empty


def test_merge_and_split_in_the_same_run():
    first = assign_keys(_clusters(FIRST_RUN))
    old = _by_record(first.keys)
    # web:W1 leaves "a" and joins erp:E2: a split of a's key and a new cluster holding it and b's
    # key; erp:E2's key is home there (its only record), so no new key: W1 is merged into it.
    moved = assign_keys(_clusters({**FIRST_RUN, "web:W1": "b"}), first.keys)
    keys = _by_record(moved.keys)
    assert keys["erp:E1"] == keys["callcenter:C1"] == old["erp:E1"]
    assert keys["web:W1"] == keys["erp:E2"] == old["erp:E2"]
    assert moved.events.empty  # a record moving between two kept keys changes no key
    # now erp:E1 splits off alone while web:W2 merges into b's cluster
    both = assign_keys(_clusters({**FIRST_RUN, "erp:E1": "n", "web:W2": "b"}), first.keys)
    keys = _by_record(both.keys)
    assert keys["callcenter:C1"] == keys["web:W1"] == old["erp:E1"]
    assert keys["erp:E1"] not in old.values()
    survivor = min(old["erp:E2"], old["web:W2"])
    loser = max(old["erp:E2"], old["web:W2"])
    assert keys["erp:E2"] == keys["web:W2"] == survivor
    assert sorted(_events(both)) == sorted([
        ("merged", loser, survivor, 1), ("split", keys["erp:E1"], old["erp:E1"], 1)])


def test_retired_keys_are_never_reused():
    first = assign_keys(_clusters({"erp:E1": "a", "erp:E2": "b"}))
    old = _by_record(first.keys)
    merged = assign_keys(_clusters({"erp:E1": "a", "erp:E2": "a"}), first.keys)
    retired = list(merged.retired["customer_key"])
    # the merged-away key's record splits off again: it gets a new key, not its old one
    again = assign_keys(_clusters({"erp:E1": "a", "erp:E2": "b"}), merged.keys, retired)
    keys = _by_record(again.keys)
    assert keys["erp:E1"] == min(old.values())  # the survivor stays with the smallest record
    assert keys["erp:E2"] == new_key("erp:E2", 1)  # its first derived key is taken or retired
    assert set(retired).isdisjoint(keys.values())
    assert again.events["event_type"].tolist() == ["split"]


def test_key_without_records_is_retired():
    first = assign_keys(_clusters(FIRST_RUN))
    old = _by_record(first.keys)
    gone = {uid: c for uid, c in FIRST_RUN.items() if uid != "web:W2"}
    result = assign_keys(_clusters(gone), first.keys)
    assert _events(result) == [("retired", old["web:W2"], None, 0)]
    assert result.retired.to_dict("records") == [
        {"customer_key": old["web:W2"], "merged_into": None}]


def test_same_input_gives_same_keys_and_events():
    first = assign_keys(_clusters(FIRST_RUN))
    change = {**FIRST_RUN, "erp:E1": "n", "web:W2": "b", "erp:E7": "q"}
    one, two = (assign_keys(_clusters(change), first.keys) for _ in range(2))
    shuffled = assign_keys(_clusters(change).sample(frac=1, random_state=3), first.keys)
    assert one.keys.equals(two.keys) and one.events.equals(two.events)
    assert one.events.equals(shuffled.events)
    assert _by_record(one.keys) == _by_record(shuffled.keys)


def test_new_keys_are_the_documented_digest_of_the_smallest_record_id():
    # Keys are stored downstream and must not change between releases: pinned, not recomputed.
    assert new_key("erp:E1") == "CUST-" + hashlib.sha256(b"erp:E1").hexdigest()[:12].upper()
    assert new_key("erp:E1", 2) == "CUST-" + hashlib.sha256(b"erp:E1#2").hexdigest()[:12].upper()
    keys = _by_record(assign_customer_keys(_clusters({"erp:E1": "a", "web:W1": "a"})))
    assert keys["erp:E1"] == keys["web:W1"] == new_key("erp:E1")


def test_a_key_orphaned_by_two_splits_names_the_key_it_took_most_records_from():
    # key A: 3 records home in cluster 1, 1 in cluster 2; key B: 2 records in cluster 2 and 5
    # home in cluster 3. Cluster 2 is home to neither: it gets a new key, split from B.
    previous = {**{f"erp:A{i}": "1" for i in range(3)}, "erp:A9": "2",
                "erp:B0": "2", "erp:B1": "2", **{f"erp:B{i}": "3" for i in range(2, 7)}}
    first = assign_keys(_clusters({**{f"erp:A{i}": "a" for i in (0, 1, 2, 9)},
                                   **{f"erp:B{i}": "b" for i in range(7)}}))
    old = _by_record(first.keys)
    split = assign_keys(_clusters(previous), first.keys)
    keys = _by_record(split.keys)
    new = keys["erp:A9"]
    assert keys["erp:B0"] == new and new not in (old["erp:A0"], old["erp:B2"])
    event = split.events.set_index("customer_key").loc[new]
    assert (event["event_type"], event["related_key"], event["records"]) == (
        "split", old["erp:B2"], 3)
    # details are stored as JSON: the parts, largest first, with whole record counts
    assert json.dumps(event["details"]) == json.dumps(
        {"split_from": {old["erp:B2"]: 2, old["erp:A0"]: 1}})


def test_created_and_retired_events_carry_their_details():
    first = assign_keys(_clusters({"erp:E1": "a"}))
    assert first.events[["event_type", "details"]].to_dict("records") == [
        {"event_type": "created", "details": {}}]
    gone = assign_keys(_clusters({"erp:E2": "b"}), first.keys)
    by_type = dict(zip(gone.events["event_type"], gone.events["details"], strict=True))
    assert by_type == {"created": {}, "retired": {"reason": "no records left"}}


def test_a_previous_mapping_with_a_record_twice_is_refused():
    first = assign_keys(_clusters({"erp:E1": "a", "erp:E2": "b"})).keys
    doubled = pd.concat([first, first.iloc[[0]].assign(customer_key="CUST-OTHER")])
    with pytest.raises(pd.errors.MergeError):
        assign_keys(_clusters({"erp:E1": "a", "erp:E2": "b"}), doubled)


def test_a_key_orphaned_equally_by_two_splits_names_the_smaller_key():
    first = assign_keys(_clusters({**{f"erp:A{i}": "a" for i in range(4)},
                                   **{f"erp:B{i}": "b" for i in range(4)}}))
    old = _by_record(first.keys)
    # each key keeps 3 records at home and leaves one in cluster "x": a tie, 1 record each
    split = assign_keys(_clusters({**{f"erp:A{i}": "1" for i in range(3)}, "erp:A3": "x",
                                   **{f"erp:B{i}": "3" for i in range(3)}, "erp:B3": "x"}),
                        first.keys)
    event = split.events.set_index("customer_key").loc[_by_record(split.keys)["erp:A3"]]
    smaller, larger = sorted([old["erp:A0"], old["erp:B0"]])
    assert event["related_key"] == smaller
    assert list(event["details"]["split_from"]) == [smaller, larger]


def test_a_new_key_skips_every_taken_derivation_in_turn():
    taken = [new_key("erp:E1"), new_key("erp:E1", 1)]
    keys = _by_record(assign_customer_keys(_clusters({"erp:E1": "a"}), None, taken))
    assert keys["erp:E1"] == new_key("erp:E1", 2)


def test_forgotten_records_keep_their_key_and_change_nothing_else():
    assignment = assign_keys(_clusters(FIRST_RUN), None)
    erased = pd.DataFrame({"source": ["erp", "web", "erp"],
                           "source_record_id": ["E7", "W7", "E8"],
                           "customer_key": ["CUST-00000000000A", "CUST-00000000000A",
                                            "CUST-00000000000B"],
                           "erased_at": ["2026-01-01"] * 3})
    kept = keep_erased_records(assignment, erased)
    assert list(kept.keys.columns) == ["source", "source_record_id", "customer_key",
                                       "cluster_size"]
    assert kept.keys.iloc[:len(assignment.keys)].equals(assignment.keys)
    added = kept.keys.iloc[len(assignment.keys):]
    assert added.to_dict("records") == [
        {"source": "erp", "source_record_id": "E7", "customer_key": "CUST-00000000000A",
         "cluster_size": 2},
        {"source": "web", "source_record_id": "W7", "customer_key": "CUST-00000000000A",
         "cluster_size": 2},
        {"source": "erp", "source_record_id": "E8", "customer_key": "CUST-00000000000B",
         "cluster_size": 1}]
    assert list(kept.keys.index) == list(range(len(kept.keys)))
    assert kept.events is assignment.events and kept.retired is assignment.retired
    assert list(erased.columns) == ["source", "source_record_id", "customer_key", "erased_at"]


def test_no_forgotten_records_leave_the_assignment_as_it_is():
    assignment = assign_keys(_clusters(FIRST_RUN), None)
    empty = pd.DataFrame(columns=["source", "source_record_id", "customer_key"])
    assert keep_erased_records(assignment, empty) is assignment


def test_every_frame_of_an_assignment_has_its_columns_and_a_plain_index():
    """The store writes these frames as they are; a quiet rerun still has every column."""
    first = assign_keys(_clusters(FIRST_RUN))
    quiet = assign_keys(_clusters(FIRST_RUN), first.keys)
    assert len(quiet.events) == len(quiet.retired) == 0
    busy = assign_keys(_clusters({"erp:E1": "a", "web:W1": "a", "callcenter:C1": "b",
                                  "erp:E2": "b", "web:W2": "b", "web:W3": "d"}), first.keys)
    assert sorted(busy.events["event_type"]) == ["created", "merged"] and len(busy.retired) == 1
    for result in (first, quiet, busy):
        for frame, columns in (
            (result.keys, ["source", "source_record_id", "customer_key", "cluster_size"]),
            (result.events, ["event_type", "customer_key", "related_key", "records", "details"]),
            (result.retired, ["customer_key", "merged_into"]),
        ):
            assert list(frame.columns) == columns
            assert list(frame.index) == list(range(len(frame)))
