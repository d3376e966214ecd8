"""What the quality stage masks, decided from the one declaration of personal columns."""

from __future__ import annotations

from onetoone.foundation.personal import SOURCE_TABLES, WEB_PERSONAL_KEYS
from onetoone.runtime.dbt import MartColumns
from onetoone.stages.quality.masking import mask_row, shape, table_privacy


def test_a_shape_shows_why_a_value_failed_and_not_whose_it_is():
    assert shape("Ana.Silva @Example.com") == "Aaa.Aaaaa\u2423@Aaaaaaa.aaa"
    assert shape("(11) 98765-4321") == "(99)\u242399999-9999"
    assert shape(" ana@x.com\t") == "\u2423aaa@a.aaa\u2423"
    assert shape("José") == "Aaaa"
    assert shape(None) is None
    assert shape({"email": "bo@x.io"}) == '{"aaaaa":\u2423"aa@a.aa"}'


def test_every_declared_personal_column_of_a_raw_table_is_masked_next_to_its_locators():
    for source_table in SOURCE_TABLES:
        columns = [*source_table.personal, source_table.record_id, "_batch_id", "_line_number",
                   "_source_file", "reason"]
        privacy = table_privacy(f"raw.{source_table.table}", columns, {})
        row = {column: "Ana 1" for column in columns}
        masked = mask_row(row, privacy)
        assert privacy.masked
        for column in source_table.personal:
            assert masked[column] == "Aaa\u24239", column
        assert masked["reason"] == "Ana 1" and masked["_batch_id"] == "Ana 1"
    calls = table_privacy("raw.callcenter_calls",
                          ["_batch_id", "_source_file", "_line_number", "email"], {})
    assert calls.locator == ("_batch_id", "_source_file", "_line_number")
    erp = table_privacy("raw.erp_customers", ["_batch_id", "customer_id", "email"], {})
    assert erp.locator == ("_batch_id", "customer_id")


def test_web_payloads_and_their_personal_keys_are_masked():
    privacy = table_privacy("raw.web_events", ["event_id", "payload", "_batch_id"], {})
    assert all(privacy.is_personal(name) for name in ("payload", *WEB_PERSONAL_KEYS))
    assert not privacy.is_personal("event_id")


def test_marts_follow_the_dbt_yaml_and_an_unknown_mart_is_all_personal():
    marts = {"dim_customers": MartColumns(documented=frozenset({"customer_key", "email"}),
                                          personal=frozenset({"email"}), tags=frozenset())}
    known = table_privacy("marts_build.dim_customers", ["customer_key", "email"], marts)
    assert known.is_personal("email") and not known.is_personal("customer_key")
    assert known.locator == ("customer_key",)
    unknown = table_privacy("marts_build.new_mart", ["customer_key", "score"], marts)
    assert unknown.masked and unknown.is_personal("score")
    assert not table_privacy("identity.customer_keys", ["customer_key"], marts).masked
