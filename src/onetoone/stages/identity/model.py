"""The Splink model specification: comparisons, blocking rules, training rules.

Design (the tests and bench/bench_identity.py measure what each choice buys):

- Household evidence is counted once. Phone, email, address, postcode and city are shared within
  a household (landline, family email, same flat), so they form ONE ``contact`` comparison.
  As separate comparisons their weights add up to more than first-name and birth-date
  disagreement can cancel, and relatives merge (with email a comparison of its own: 42 merged
  relative pairs instead of 16 at threshold 0.95 on 10,000 generated customers).
- Names: one comparison over given name and up to two surnames, with levels for swapped names,
  a dropped second surname, typos and short forms, a conflicting second surname (a cousin), and
  "surname in common, given name differs" (a relative), whose weights EM learns.
- Email is compared exactly: fuzzy email levels mostly re-measure the name the address was made
  from.
- Term frequencies on the exact name level, so that common names ("maria silva") count less.
"""

from __future__ import annotations

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import SettingsCreator, block_on
from splink.internals.blocking_rule_creator import BlockingRuleCreator

SURNAME_OVERLAP = cll.CustomLevel(
    "surname_1_l IN (surname_1_r, surname_2_r) OR surname_2_l IN (surname_1_r, surname_2_r)",
    label_for_charts="A surname in common",
)

# "Dani"/"Daniela", "Fer"/"Fernanda": ambiguous short forms the nickname table leaves alone.
GIVEN_NAME_PREFIX = cll.CustomLevel(
    "least(length(given_name_l), length(given_name_r)) >= 3"
    " AND (starts_with(given_name_l, given_name_r) OR starts_with(given_name_r, given_name_l))",
    label_for_charts="One given name starts with the other",
    base_dialect_str="duckdb",
)

NAME_COMPARISON = cl.CustomComparison(
    output_column_name="name",
    comparison_description="Given name and up to two surnames",
    comparison_levels=[
        cll.Or(cll.NullLevel("given_name"), cll.NullLevel("surname_1")),
        cll.CustomLevel(
            "name_key_l = name_key_r AND surname_2_l <> surname_2_r",
            label_for_charts="Same given name and first surname, second surnames differ",
        ),
        cll.ExactMatchLevel("name_key", term_frequency_adjustments=True).configure(
            label_for_charts="Same given name and first surname"
        ),
        cll.CustomLevel(
            "(given_name_l IN (surname_1_r, surname_2_r)"
            " AND given_name_r IN (surname_1_l, surname_2_l))"
            " OR (jaro_winkler_similarity(given_name_l, surname_1_r) >= 0.9"
            " AND jaro_winkler_similarity(given_name_r, surname_1_l) >= 0.9)",
            label_for_charts="Given name and surname swapped (maybe with a typo)",
            base_dialect_str="duckdb",
        ),
        cll.And(cll.ExactMatchLevel("given_name"), SURNAME_OVERLAP).configure(
            label_for_charts="Same given name, a surname in common"
        ),
        cll.And(
            cll.Or(cll.JaroWinklerLevel("given_name", 0.88), GIVEN_NAME_PREFIX),
            cll.Or(cll.JaroWinklerLevel("surname_1", 0.88), SURNAME_OVERLAP),
        ).configure(label_for_charts="Similar given name and surname (typos, short forms)"),
        cll.CustomLevel(SURNAME_OVERLAP.sql_condition, "Surname in common, given name differs"),
        cll.ExactMatchLevel("given_name").configure(
            label_for_charts="Same given name, surnames differ"
        ),
        cll.ElseLevel(),
    ],
)

BIRTH_DATE_COMPARISON = cl.DateOfBirthComparison(
    "birth_date",
    input_is_string=True,
    datetime_format="%Y-%m-%d",
    datetime_thresholds=[1, 1],
    datetime_metrics=["month", "year"],
)

_SAME_PHONE_OR_EMAIL = "(phone_last8_l = phone_last8_r OR email_l = email_r)"
_SAME_PLACE = "(address_l = address_r OR postcode_l = postcode_r)"
_NO_CONTACT = " AND ".join(
    f"({col}_l IS NULL OR {col}_r IS NULL)"
    for col in ("phone_last8", "email", "address", "postcode", "city")
)

CONTACT_COMPARISON = cl.CustomComparison(
    output_column_name="contact",
    comparison_description="Phone, email and address: one piece of (possibly household) evidence",
    comparison_levels=[
        cll.CustomLevel(_NO_CONTACT).configure(is_null_level=True),
        cll.CustomLevel(
            "phone_last8_l = phone_last8_r AND email_l = email_r",
            label_for_charts="Same phone and same email",
        ),
        cll.CustomLevel(
            f"{_SAME_PHONE_OR_EMAIL} AND {_SAME_PLACE}",
            label_for_charts="Same phone or email, and same address",
        ),
        cll.CustomLevel(_SAME_PHONE_OR_EMAIL, label_for_charts="Same phone or email"),
        cll.DamerauLevenshteinLevel("phone_last8", 1).configure(
            label_for_charts="Phone one typo apart"
        ),
        cll.Or(
            cll.ExactMatchLevel("address"),
            cll.And(cll.JaroWinklerLevel("address", 0.9), cll.ExactMatchLevel("postcode")),
        ).configure(label_for_charts="Same address"),
        cll.ExactMatchLevel("postcode"),
        cll.ExactMatchLevel("city"),
        cll.ElseLevel(),
    ],
)

# A different national id is near-proof of different people, so EM drives that level's m to 0
# (Splink 5 then raises). The m values are fixed from typing-error rates; u is still estimated.
NATIONAL_ID_COMPARISON = cl.CustomComparison(
    output_column_name="national_id",
    comparison_levels=[
        cll.NullLevel("national_id"),
        cll.ExactMatchLevel("national_id").configure(m_probability=0.97, fix_m_probability=True),
        cll.DamerauLevenshteinLevel("national_id", 1).configure(
            m_probability=0.02, fix_m_probability=True
        ),
        cll.ElseLevel().configure(m_probability=0.01, fix_m_probability=True),
    ],
)

COMPARISONS = [
    NAME_COMPARISON,
    BIRTH_DATE_COMPARISON,
    CONTACT_COMPARISON,
    NATIONAL_ID_COMPARISON,
]

# Each rule must keep its blocks small at 1M records: no rule on a name alone.
BLOCKING_RULES: list[BlockingRuleCreator] = [
    block_on("phone_last8"),
    block_on("email"),
    block_on("national_id"),
    block_on("given_name", "birth_date"),
    block_on("surname_1", "birth_date"),
    block_on("name_key", "city"),
    # a call-center phone with one typo: the other half of its digits still agrees
    block_on("name_key", "substr(phone_last8, 1, 4)"),
    block_on("name_key", "substr(phone_last8, 5, 4)"),
]

# EM sessions: (column blocked on, the comparison that blocking fixes). A session estimates m for
# every comparison except the one its column belongs to. The preferred sessions run whenever the
# input has enough pairs for them; the fallbacks only while a comparison is still unlearnt (a
# file without phones or emails), so data sets with other columns than ours still get a fully
# trained model.
TRAINING_SESSIONS: list[tuple[str, str]] = [
    ("phone_last8", "contact"),
    ("email", "contact"),
    ("name_key", "name"),
]
FALLBACK_TRAINING_SESSIONS: list[tuple[str, str]] = [
    ("national_id", "national_id"),
    ("birth_date", "birth_date"),
]
# A session on fewer blocked pairs than this learns nothing but noise (and none at all fails).
MIN_TRAINING_PAIRS = 20

# High-precision rules to estimate the prior (probability two random records match).
DETERMINISTIC_RULES: list[str] = [
    "l.email = r.email AND l.given_name = r.given_name",  # families share an email
    "l.national_id = r.national_id",
    "l.name_key = r.name_key AND l.birth_date = r.birth_date",
    "l.name_key = r.name_key AND l.phone_last8 = r.phone_last8",
]
DETERMINISTIC_RULES_RECALL = 0.8


def settings() -> SettingsCreator:
    """The untrained model: dedupe over the unioned records of all sources."""
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=COMPARISONS,
        blocking_rules_to_generate_predictions=BLOCKING_RULES,
        additional_columns_to_retain=["source", "source_record_id"],
        retain_matching_columns=True,
        max_iterations=20,
    )
