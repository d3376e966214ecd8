"""Raw layer: the extracts as they land, checked on the rows of this run's batches only.

Every suite validates ``select * from raw.<table> where _batch_id = any(<run's batches>)``, so
the cost follows the increment. Dates are compared with the run's ``as_of`` (the ``$PARAMETER``
``as_of``), never the wall clock, so a rerun or a backfill judges the data as of its own time.
"""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from onetoone.stages.quality.spec import TableSuite, critical, warning

EMAIL_REGEX = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
AS_OF = {"$PARAMETER": "as_of"}

# raw table -> (source, entity) of its batches in raw.load_batches
LEDGER_ENTITIES = {
    "callcenter_calls": ("callcenter", "calls"),
    "web_events": ("web", "events"),
    "erp_customers": ("erp", "customers"),
    "erp_products": ("erp", "products"),
    "erp_orders": ("erp", "orders"),
    "erp_order_lines": ("erp", "order_lines"),
}

# Row counts against earlier loads: a load is compared with the loads of the same weekday in the
# previous weeks (the call center takes a fifth of Monday's calls on Sundays, so the day before
# is no yardstick), per day of its window (an ERP window after a pause spans several days).
COMPARABLE_WEEKS = 4
MIN_COMPARABLE_LOADS = 2  # a median of one is just another day
MIN_EXPECTED_ROWS = 20  # below this, day-to-day swings of half are ordinary chance
LOW_SHARE, HIGH_SHARE = 0.5, 2.0

# One row: for each table, the rows the ledger says this run's batches loaded into it.
PARAMETER_QUERIES = (
    "select "
    + ", ".join(
        f"coalesce(sum(rows_loaded) filter (where source = '{source}' and entity = '{entity}'), 0)"
        f"::bigint as {table}_rows_loaded"
        for table, (source, entity) in LEDGER_ENTITIES.items()
    )
    + " from raw.load_batches"
    " where %(batch_ids)s::bigint[] is null or batch_id = any(%(batch_ids)s::bigint[])",
    # The band of rows each table's loads in this run are expected to bring (_rows_near_usual).
    """
    with ledger_windows as (
        -- a load's day: the day its window ends in (a daily file's own day)
        select *, extract(epoch from window_end - window_start) / 86400 as days,
               ((window_end at time zone 'UTC') - interval '1 microsecond')::date as day
          from raw.load_batches
    ), run_loads as (
        select batch_id, source, entity, rows_loaded, days, day
          from ledger_windows
         where status = 'loaded'
           and (%(batch_ids)s::bigint[] is null or batch_id = any(%(batch_ids)s::bigint[]))
    ), expected as (
        select r.source, r.entity, r.rows_loaded,
               count(p.batch_id) as comparable_loads,
               percentile_cont(0.5) within group (order by p.rows_loaded / p.days) * r.days
                   as rows
          from run_loads r
          left join ledger_windows p
            on p.source = r.source and p.entity = r.entity and p.status = 'loaded'
           and p.batch_id <> r.batch_id and p.days > 0
           and p.day in ({comparable_days})
         group by r.batch_id, r.source, r.entity, r.rows_loaded, r.days
    ), bands as (
        select source, entity, rows_loaded, rows,
               coalesce(comparable_loads >= {min_loads} and rows >= {min_rows}, false) as judged
          from expected
    )
    select {bounds} from bands
    """.format(
        comparable_days=", ".join(f"r.day - {7 * week}" for week in range(1, COMPARABLE_WEEKS + 1)),
        min_loads=MIN_COMPARABLE_LOADS,
        min_rows=MIN_EXPECTED_ROWS,
        bounds=",\n           ".join(
            f"coalesce(sum(case when judged then {bound} else {otherwise} end) filter (where"
            f" source = '{source}' and entity = '{entity}'), 0)::bigint as {table}_{name}_rows"
            for table, (source, entity) in LEDGER_ENTITIES.items()
            for name, bound, otherwise in (("min", f"floor({LOW_SHARE} * rows)", "0"),
                                           ("max", f"ceil({HIGH_SHARE} * rows)", "rows_loaded"))
        ),
    ),
)

REASONS = [
    "billing",
    "delivery",
    "product_info",
    "returns",
    "technical_support",
    "complaint",
    "cancellation",
    "other",
]
RESOLUTIONS = ["resolved", "escalated", "pending", "unresolved"]
EVENT_TYPES = [
    "registration",
    "profile_update",
    "login",
    "page_view",
    "newsletter_signup",
    "coupon_redemption",
    "consent_change",
]
CONSENT_CHANNELS = ["email", "phone", "sms", "whatsapp"]
ORDER_CHANNELS = ["web", "phone", "store"]
ORDER_STATUSES = ["completed", "returned", "cancelled"]


def _columns_present(columns: list[str]) -> gxe.Expectation:
    return gxe.ExpectTableColumnsToMatchSet(
        column_set=columns,
        exact_match=False,
        meta=critical("staging models select these columns; a missing one breaks dbt"),
    )


def _rows_match_ledger(table: str) -> gxe.Expectation:
    return gxe.ExpectTableRowCountToEqual(
        value={"$PARAMETER": f"{table}_rows_loaded"},
        meta=critical(
            "the rows present for this run's batches must be those the ledger says were loaded:"
            " fewer means a partial load, more a rerun that did not clear the batch"
        ),
    )


def _rows_near_usual(table: str) -> gxe.Expectation:
    return gxe.ExpectTableRowCountToBeBetween(
        min_value={"$PARAMETER": f"{table}_min_rows"},
        max_value={"$PARAMETER": f"{table}_max_rows"},
        meta=warning(
            f"each load should bring {LOW_SHARE:g} to {HIGH_SHARE:g} times the median of the"
            f" same weekday's loads in the previous {COMPARABLE_WEEKS} weeks (per day of window):"
            " far fewer rows mean a truncated or partial extract, far more a duplicated one."
            " A warning: holidays and campaigns move volumes too, and the rows passed their"
            f" checks. Judged with at least {MIN_COMPARABLE_LOADS} comparable loads and"
            f" {MIN_EXPECTED_ROWS} rows expected; otherwise the band is 0 to the rows loaded"
        ),
    )


def _not_null(column: str, why: str) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToNotBeNull(column=column, meta=critical(why))


def _not_future(column: str, meta: dict[str, str]) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToBeBetween(column=column, max_value=AS_OF, meta=meta)


def _non_negative(column: str, why: str) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0, meta=critical(why))


def _plausible_email(column: str) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToMatchRegex(
        column=column,
        regex=EMAIL_REGEX,
        meta=warning("a malformed email cannot be used for matching or contact; kept as typed"),
    )


def _suite(table: str, expectations: list[gxe.Expectation]) -> TableSuite:
    return TableSuite(
        table=f"raw.{table}",
        suite=gx.ExpectationSuite(name=f"raw.{table}", expectations=expectations),
        batch_scoped=True,
    )


CALLCENTER_CALLS = _suite(
    "callcenter_calls",
    [
        _columns_present(
            [
                "call_id",
                "called_at",
                "contact_id",
                "caller_name",
                "phone",
                "email",
                "reason",
                "duration_seconds",
                "satisfaction",
                "is_complaint",
                "resolution",
                "agent_id",
                "_batch_id",
                "_source_file",
                "_line_number",
            ]
        ),
        _rows_match_ledger("callcenter_calls"),
        _rows_near_usual("callcenter_calls"),
        _not_null("call_id", "the call's identity; staging deduplicates on it"),
        _not_null("contact_id", "identity resolution links calls to people through the contact"),
        _not_null("called_at", "every interaction needs a time for recency and history"),
        _not_future(
            "called_at", critical("a call after the run's as_of is a clock or parsing error")
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="satisfaction",
            min_value=1,
            max_value=5,
            meta=critical("the survey scale is 1-5; other values corrupt satisfaction averages"),
        ),
        _non_negative("duration_seconds", "a call cannot last a negative time"),
        gxe.ExpectColumnValuesToBeInSet(
            column="reason",
            value_set=REASONS,
            meta=critical("reasons drive interaction marts; an unknown one is a contract change"),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="resolution",
            value_set=RESOLUTIONS,
            meta=critical("resolution is reported by value; an unknown one is a contract change"),
        ),
        _plausible_email("email"),
        gxe.ExpectColumnValuesToBeUnique(
            column="call_id",
            meta=warning("the same call twice in a run's files means a duplicated extract"),
        ),
    ],
)

WEB_EVENTS = _suite(
    "web_events",
    [
        _columns_present(
            [
                "event_id",
                "event_type",
                "occurred_at",
                "account_id",
                "session_id",
                "payload",
                "_batch_id",
                "_source_file",
                "_line_number",
            ]
        ),
        _rows_match_ledger("web_events"),
        _rows_near_usual("web_events"),
        _not_null("event_id", "the event's identity; staging deduplicates on it"),
        _not_null("event_type", "every event is interpreted by its type"),
        _not_null("occurred_at", "every interaction needs a time for recency and history"),
        _not_future(
            "occurred_at", critical("an event after the run's as_of is a clock or parsing error")
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="event_type",
            value_set=EVENT_TYPES,
            meta=critical("staging parses payloads by type; an unknown type would be dropped"),
        ),
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=(
                "select event_id, payload->>'channel' as channel from {batch}"
                " where event_type = 'consent_change' and coalesce(payload->>'channel', '')"
                f" not in ({', '.join(repr(c) for c in CONSENT_CHANNELS)})"
            ),
            meta=critical("consent is enforced per channel; an unknown channel cannot be honoured"),
        ),
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=(
                "select event_id, event_type from {batch}"
                " where account_id is null and event_type <> 'page_view'"
            ),
            meta=warning("only anonymous page views lack an account; others cannot be linked"),
        ),
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=(
                "select _batch_id, _source_file, _line_number, event_id,"
                " payload->>'email' as email from {batch}"
                f" where payload->>'email' !~ '{EMAIL_REGEX}'"
            ),
            meta=warning("a malformed email cannot be used for matching or contact; kept as typed"),
        ),
        gxe.ExpectColumnValuesToBeUnique(
            column="event_id",
            meta=warning("the same event twice in a run's files means a duplicated extract"),
        ),
    ],
)

ERP_CUSTOMERS = _suite(
    "erp_customers",
    [
        _columns_present(
            [
                "customer_id",
                "first_name",
                "last_name",
                "tax_id",
                "email",
                "phone",
                "address_line",
                "city",
                "region",
                "postcode",
                "country",
                "birth_date",
                "created_at",
                "updated_at",
                "_batch_id",
                "_extracted_at",
            ]
        ),
        _rows_match_ledger("erp_customers"),
        _rows_near_usual("erp_customers"),
        _not_null("customer_id", "the ERP key; identity and orders refer to it"),
        _not_null("updated_at", "staging keeps the latest version of a row by updated_at"),
        _not_future(
            "updated_at",
            critical("a future updated_at would win every later version and stall extraction"),
        ),
        _not_future("created_at", critical("a customer cannot be created after the run's as_of")),
        _not_future(
            "birth_date", warning("a future birth date is a typing error; matching ignores it")
        ),
        _plausible_email("email"),
        gxe.ExpectColumnValuesToMatchRegex(
            column="country",
            regex=r"^[A-Z]{2}$",
            meta=warning("country must be ISO 3166 alpha-2 to match across sources"),
        ),
    ],
)

ERP_PRODUCTS = _suite(
    "erp_products",
    [
        _columns_present(
            [
                "product_id",
                "product_name",
                "category",
                "unit_cost",
                "unit_price",
                "updated_at",
                "_batch_id",
                "_extracted_at",
            ]
        ),
        _rows_match_ledger("erp_products"),
        _rows_near_usual("erp_products"),
        _not_null("product_id", "the ERP key; order lines refer to it"),
        _not_null("updated_at", "staging keeps the latest version of a row by updated_at"),
        _not_future(
            "updated_at",
            critical("a future updated_at would win every later version and stall extraction"),
        ),
        _non_negative("unit_price", "a negative price corrupts revenue and customer value"),
        _non_negative("unit_cost", "a negative cost corrupts margin and customer value"),
    ],
)

ERP_ORDERS = _suite(
    "erp_orders",
    [
        _columns_present(
            [
                "order_id",
                "customer_id",
                "ordered_at",
                "channel",
                "status",
                "updated_at",
                "_batch_id",
                "_extracted_at",
            ]
        ),
        _rows_match_ledger("erp_orders"),
        _rows_near_usual("erp_orders"),
        _not_null("order_id", "the ERP key; order lines refer to it"),
        _not_null("customer_id", "an order without a customer cannot count towards value"),
        _not_null("ordered_at", "customer value is computed over a trailing window of orders"),
        _not_null("updated_at", "staging keeps the latest version of a row by updated_at"),
        _not_future("ordered_at", critical("an order after the run's as_of is a clock error")),
        _not_future(
            "updated_at",
            critical("a future updated_at would win every later version and stall extraction"),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="channel",
            value_set=ORDER_CHANNELS,
            meta=critical("channel mix is reported by value; an unknown one is a contract change"),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="status",
            value_set=ORDER_STATUSES,
            meta=critical("value counts completed orders only; an unknown status is ambiguous"),
        ),
    ],
)

ERP_ORDER_LINES = _suite(
    "erp_order_lines",
    [
        _columns_present(
            [
                "order_id",
                "line_number",
                "product_id",
                "quantity",
                "unit_price",
                "unit_cost",
                "discount",
                "updated_at",
                "_batch_id",
                "_extracted_at",
            ]
        ),
        _rows_match_ledger("erp_order_lines"),
        _rows_near_usual("erp_order_lines"),
        _not_null("order_id", "part of the line's key; lines roll up to their order"),
        _not_null("line_number", "part of the line's key; staging deduplicates on it"),
        _not_null("updated_at", "staging keeps the latest version of a row by updated_at"),
        _not_future(
            "updated_at",
            critical("a future updated_at would win every later version and stall extraction"),
        ),
        _non_negative("quantity", "returns are orders with status returned, not negative lines"),
        _non_negative("unit_price", "a negative price corrupts revenue and customer value"),
        _non_negative("unit_cost", "a negative cost corrupts margin and customer value"),
        gxe.ExpectColumnValuesToBeBetween(
            column="discount",
            min_value=0,
            meta=warning("a negative discount inflates margin; usually a sign error upstream"),
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="product_id",
            meta=warning("a line without a product cannot be costed by category"),
        ),
    ],
)

SUITES = [
    CALLCENTER_CALLS,
    WEB_EVENTS,
    ERP_CUSTOMERS,
    ERP_PRODUCTS,
    ERP_ORDERS,
    ERP_ORDER_LINES,
]
