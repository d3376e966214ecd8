"""Each expectation's severity, pinned: a critical rule stops the run before the marts are
published, a warning does not, so turning a critical rule into a warning (say, the consent
channel rule) must be a visible decision here, not a one-word change in expectations/*.py."""

from __future__ import annotations

import re

from onetoone.stages.quality.runner import LAYERS, load_layer

C, W = "critical", "warning"

# (suite, expectation type, subject, severity) in declaration order; the subject is the column
# (or columns), or for an unexpected-rows rule the select list of its query.
EXPECTED_SEVERITIES = [
    ("raw.callcenter_calls", "expect_table_columns_to_match_set", None, C),
    ("raw.callcenter_calls", "expect_table_row_count_to_equal", None, C),
    ("raw.callcenter_calls", "expect_table_row_count_to_be_between", None, W),
    ("raw.callcenter_calls", "expect_column_values_to_not_be_null", "call_id", C),
    ("raw.callcenter_calls", "expect_column_values_to_not_be_null", "contact_id", C),
    ("raw.callcenter_calls", "expect_column_values_to_not_be_null", "called_at", C),
    ("raw.callcenter_calls", "expect_column_values_to_be_between", "called_at", C),
    ("raw.callcenter_calls", "expect_column_values_to_be_between", "satisfaction", C),
    ("raw.callcenter_calls", "expect_column_values_to_be_between", "duration_seconds", C),
    ("raw.callcenter_calls", "expect_column_values_to_be_in_set", "reason", C),
    ("raw.callcenter_calls", "expect_column_values_to_be_in_set", "resolution", C),
    ("raw.callcenter_calls", "expect_column_values_to_match_regex", "email", W),
    ("raw.callcenter_calls", "expect_column_values_to_be_unique", "call_id", W),
    ("raw.web_events", "expect_table_columns_to_match_set", None, C),
    ("raw.web_events", "expect_table_row_count_to_equal", None, C),
    ("raw.web_events", "expect_table_row_count_to_be_between", None, W),
    ("raw.web_events", "expect_column_values_to_not_be_null", "event_id", C),
    ("raw.web_events", "expect_column_values_to_not_be_null", "event_type", C),
    ("raw.web_events", "expect_column_values_to_not_be_null", "occurred_at", C),
    ("raw.web_events", "expect_column_values_to_be_between", "occurred_at", C),
    ("raw.web_events", "expect_column_values_to_be_in_set", "event_type", C),
    (
        "raw.web_events",
        "unexpected_rows_expectation",
        "event_id, payload->>'channel' as channel",
        C,
    ),
    ("raw.web_events", "unexpected_rows_expectation", "event_id, event_type", W),
    (
        "raw.web_events",
        "unexpected_rows_expectation",
        "_batch_id, _source_file, _line_number, event_id, payload->>'email' as email",
        W,
    ),
    ("raw.web_events", "expect_column_values_to_be_unique", "event_id", W),
    ("raw.erp_customers", "expect_table_columns_to_match_set", None, C),
    ("raw.erp_customers", "expect_table_row_count_to_equal", None, C),
    ("raw.erp_customers", "expect_table_row_count_to_be_between", None, W),
    ("raw.erp_customers", "expect_column_values_to_not_be_null", "customer_id", C),
    ("raw.erp_customers", "expect_column_values_to_not_be_null", "updated_at", C),
    ("raw.erp_customers", "expect_column_values_to_be_between", "updated_at", C),
    ("raw.erp_customers", "expect_column_values_to_be_between", "created_at", C),
    ("raw.erp_customers", "expect_column_values_to_be_between", "birth_date", W),
    ("raw.erp_customers", "expect_column_values_to_match_regex", "email", W),
    ("raw.erp_customers", "expect_column_values_to_match_regex", "country", W),
    ("raw.erp_products", "expect_table_columns_to_match_set", None, C),
    ("raw.erp_products", "expect_table_row_count_to_equal", None, C),
    ("raw.erp_products", "expect_table_row_count_to_be_between", None, W),
    ("raw.erp_products", "expect_column_values_to_not_be_null", "product_id", C),
    ("raw.erp_products", "expect_column_values_to_not_be_null", "updated_at", C),
    ("raw.erp_products", "expect_column_values_to_be_between", "updated_at", C),
    ("raw.erp_products", "expect_column_values_to_be_between", "unit_price", C),
    ("raw.erp_products", "expect_column_values_to_be_between", "unit_cost", C),
    ("raw.erp_orders", "expect_table_columns_to_match_set", None, C),
    ("raw.erp_orders", "expect_table_row_count_to_equal", None, C),
    ("raw.erp_orders", "expect_table_row_count_to_be_between", None, W),
    ("raw.erp_orders", "expect_column_values_to_not_be_null", "order_id", C),
    ("raw.erp_orders", "expect_column_values_to_not_be_null", "customer_id", C),
    ("raw.erp_orders", "expect_column_values_to_not_be_null", "ordered_at", C),
    ("raw.erp_orders", "expect_column_values_to_not_be_null", "updated_at", C),
    ("raw.erp_orders", "expect_column_values_to_be_between", "ordered_at", C),
    ("raw.erp_orders", "expect_column_values_to_be_between", "updated_at", C),
    ("raw.erp_orders", "expect_column_values_to_be_in_set", "channel", C),
    ("raw.erp_orders", "expect_column_values_to_be_in_set", "status", C),
    ("raw.erp_order_lines", "expect_table_columns_to_match_set", None, C),
    ("raw.erp_order_lines", "expect_table_row_count_to_equal", None, C),
    ("raw.erp_order_lines", "expect_table_row_count_to_be_between", None, W),
    ("raw.erp_order_lines", "expect_column_values_to_not_be_null", "order_id", C),
    ("raw.erp_order_lines", "expect_column_values_to_not_be_null", "line_number", C),
    ("raw.erp_order_lines", "expect_column_values_to_not_be_null", "updated_at", C),
    ("raw.erp_order_lines", "expect_column_values_to_be_between", "updated_at", C),
    ("raw.erp_order_lines", "expect_column_values_to_be_between", "quantity", C),
    ("raw.erp_order_lines", "expect_column_values_to_be_between", "unit_price", C),
    ("raw.erp_order_lines", "expect_column_values_to_be_between", "unit_cost", C),
    ("raw.erp_order_lines", "expect_column_values_to_be_between", "discount", W),
    ("raw.erp_order_lines", "expect_column_values_to_not_be_null", "product_id", W),
    ("identity.customer_keys", "expect_table_columns_to_match_set", None, C),
    (
        "identity.customer_keys",
        "expect_compound_columns_to_be_unique",
        ("source", "source_record_id"),
        C,
    ),
    ("identity.customer_keys", "expect_column_values_to_not_be_null", "customer_key", C),
    ("identity.customer_keys", "expect_column_values_to_be_in_set", "source", C),
    ("identity.customer_keys", "expect_column_values_to_be_between", "cluster_size", C),
    (
        "identity.customer_keys",
        "unexpected_rows_expectation",
        "customer_key, max(cluster_size) as cluster_size, count(*) as records",
        C,
    ),
    ("identity.customer_keys", "expect_column_mean_to_be_between", "cluster_size", W),
    ("marts.dim_customers", "expect_table_row_count_to_equal", None, C),
    ("marts.mart_customer_value", "expect_column_values_to_be_in_set", "value_tier", C),
    ("marts.mart_customer_value", "expect_column_values_to_be_between", "quintile", C),
    ("marts.mart_customer_value", "expect_column_sum_to_be_between", "trailing_margin", C),
    (
        "marts.mart_portfolios",
        "unexpected_rows_expectation",
        "p.customer_key, p.portfolio_id, p.value_tier, v.value_tier as customer_value_tier",
        C,
    ),
    (
        "marts.dim_households",
        "unexpected_rows_expectation",
        "coalesce(h.household_key, c.household_key) as household_key, h.members,"
        " c.members as customers",
        C,
    ),
    ("marts.dim_households", "expect_column_values_to_be_in_set", "best_value_tier", C),
]


def _subject(expectation) -> str | tuple[str, ...] | None:
    if getattr(expectation, "column", None):
        return expectation.column
    if getattr(expectation, "column_list", None):
        return tuple(expectation.column_list)
    if getattr(expectation, "column_A", None):
        return (expectation.column_A, expectation.column_B)
    query = getattr(expectation, "unexpected_rows_query", None)
    if query:
        return re.match(r"\s*select\s+(.*?)\s+from\s", query, re.S | re.I).group(1)
    return None


def declared_severities() -> list[tuple[str, str, object, str]]:
    return [
        (
            table_suite.suite.name,
            expectation.expectation_type,
            _subject(expectation),
            expectation.meta["severity"],
        )
        for layer in LAYERS
        for table_suite in load_layer(layer).SUITES
        for expectation in table_suite.suite.expectations
    ]


def test_every_expectation_keeps_its_pinned_severity() -> None:
    assert declared_severities() == EXPECTED_SEVERITIES


def test_gx_severity_matches_the_declared_one() -> None:
    for layer in LAYERS:
        for table_suite in load_layer(layer).SUITES:
            for expectation in table_suite.suite.expectations:
                assert expectation.severity.value == expectation.meta["severity"]


def test_consent_channel_rule_is_critical() -> None:
    consent = [
        row
        for row in declared_severities()
        if row[0] == "raw.web_events" and "channel" in str(row[2])
    ]
    assert consent and all(severity == C for *_, severity in consent)
