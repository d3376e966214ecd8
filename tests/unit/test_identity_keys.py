"""Customer keys: stable across reruns, inherited through growth, merges and splits, and fresh
keys never reuse an old one."""

from __future__ import annotations

import re

import pandas as pd

from onetoone.identity.keys import assign_customer_keys, new_key


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
