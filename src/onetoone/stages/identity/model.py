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
- A phone or email that many differently named people give (a shop's phone) is compared and
  blocked on as if missing (``without_widely_shared_contacts``).
- Email is compared exactly: fuzzy email levels mostly re-measure the name the address was made
  from.
- Term frequencies on the exact name level, so that common names ("maria silva") count less.
- Birth dates: levels for one mistyped digit, day and month swapped, two digits off.
- A record that gives one name only (a caller's first name, a blank surname) is compared on
  the names it gives, on levels of their own; they drop out where every record gives both.
- Addresses also compare with their spaces dropped ("walker crescent" / "walkercrescent").
- Comparisons (and contact levels) whose columns the input leaves empty drop out.
- Blocking is not fixed: ``candidate_rules`` and ``choose_blocking`` pick, per input, the rules
  that find most true pairs with errors in any field, within a budget linear in the records
  (see "Blocking chosen from the data" below).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import SettingsCreator, block_on
from splink.internals.blocking_rule_creator import BlockingRuleCreator
from splink.internals.comparison_level_creator import ComparisonLevelCreator

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

_A_NAME_MISSING = ("(given_name_l IS NULL OR given_name_r IS NULL"
                   " OR surname_1_l IS NULL OR surname_1_r IS NULL)")
_NAMES_OF_R = "(given_name_r, surname_1_r, surname_2_r)"

# Levels for a record that gives only one of its names (a caller's first name, a form with the
# surname left blank): what the names given say is still evidence, weaker than a full name's.
NAME_MISSING_LEVELS = [
    cll.CustomLevel(
        f"{_A_NAME_MISSING} AND (given_name_l IN {_NAMES_OF_R} OR surname_1_l IN {_NAMES_OF_R})",
        label_for_charts="A name missing; a name given agrees",
    ),
    cll.CustomLevel(
        f"{_A_NAME_MISSING} AND (jaro_winkler_similarity(given_name_l, given_name_r) >= 0.88"
        " OR jaro_winkler_similarity(surname_1_l, surname_1_r) >= 0.88)",
        label_for_charts="A name missing; a name given is similar",
        base_dialect_str="duckdb",
    ),
]


def name_comparison(names_missing: bool = True) -> cl.CustomComparison:
    """Given name and up to two surnames; with ``names_missing``, levels for records that give
    one name only (left out where every record gives both: strangers would never reach them,
    and u sampling would wait for them)."""
    return cl.CustomComparison(
        output_column_name="name",
        comparison_description="Given name and up to two surnames",
        comparison_levels=[
            cll.And(cll.NullLevel("given_name"), cll.NullLevel("surname_1")) if names_missing
            else cll.Or(cll.NullLevel("given_name"), cll.NullLevel("surname_1")),
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
            *(NAME_MISSING_LEVELS if names_missing else []),
            cll.And(cll.ExactMatchLevel("given_name"), SURNAME_OVERLAP).configure(
                label_for_charts="Same given name, a surname in common"
            ),
            cll.And(
                cll.Or(cll.JaroWinklerLevel("given_name", 0.88), GIVEN_NAME_PREFIX),
                cll.Or(cll.JaroWinklerLevel("surname_1", 0.88), SURNAME_OVERLAP),
            ).configure(label_for_charts="Similar given name and surname (typos, short forms)"),
            cll.And(
                cll.ExactMatchLevel("given_phonetic"), cll.ExactMatchLevel("surname_phonetic")
            ).configure(label_for_charts="Given name and surname sound alike"),
            cll.CustomLevel(SURNAME_OVERLAP.sql_condition, "Surname in common, given name differs"),
            cll.ExactMatchLevel("given_name").configure(
                label_for_charts="Same given name, surnames differ"
            ),
            cll.ElseLevel(),
        ],
    )


NAME_COMPARISON = name_comparison()

_YEAR = "substr(birth_date_{side}, 1, 4)"
_MONTH = "substr(birth_date_{side}, 6, 2)"
_DAY = "substr(birth_date_{side}, 9, 2)"


def _date_part(part: str, side: str) -> str:
    return part.format(side=side)


BIRTH_DATE_COMPARISON = cl.CustomComparison(
    output_column_name="birth_date",
    comparison_description="Birth date, with the errors people make writing one",
    comparison_levels=[
        cll.NullLevel("birth_date"),
        cll.ExactMatchLevel("birth_date"),
        # Levenshtein, not Damerau-Levenshtein: in DuckDB it is several times faster, and a
        # transposition still lands on the "two digits differ" level
        cll.LevenshteinLevel("birth_date", 1).configure(label_for_charts="One digit mistyped"),
        cll.CustomLevel(
            f"{_date_part(_YEAR, 'l')} = {_date_part(_YEAR, 'r')}"
            f" AND {_date_part(_MONTH, 'l')} = {_date_part(_DAY, 'r')}"
            f" AND {_date_part(_DAY, 'l')} = {_date_part(_MONTH, 'r')}",
            label_for_charts="Day and month swapped",
        ),
        cll.LevenshteinLevel("birth_date", 2).configure(
            label_for_charts="Two digits differ or transposed"
        ),
        cll.CustomLevel(
            f"{_date_part(_YEAR, 'l')} = {_date_part(_YEAR, 'r')}",
            label_for_charts="Same year",
        ),
        cll.ElseLevel(),
    ],
)

_SAME_PHONE_OR_EMAIL = "(phone_last8_l = phone_last8_r OR email_l = email_r)"
_SAME_PLACE = "(address_l = address_r OR postcode_l = postcode_r)"
_NO_CONTACT = " AND ".join(
    f"({col}_l IS NULL OR {col}_r IS NULL)"
    for col in ("phone_last8", "email", "address", "postcode", "city")
)

_PHONE, _EMAIL, _ADDRESS, _POSTCODE, _CITY = "phone_last8", "email", "address", "postcode", "city"

# A phone or e-mail that this many differently named people give is not one person's, nor one
# household's (few households have more than five members): a shop's phone written down
# for walk-in customers, an office switchboard, a placeholder e-mail. Sharing it says
# nothing about whether two records are one person, and blocking on it pairs everyone who gave
# it, so it is compared and blocked on as if missing. Counted over all current records, like
# term frequencies.
SHARED_VALUE_PEOPLE = 6
SHAREABLE_CONTACT_COLUMNS = (_PHONE, _EMAIL)


def without_widely_shared_contacts(records_std: pd.DataFrame) -> pd.DataFrame:
    """``records_std`` with each phone and e-mail that ``SHARED_VALUE_PEOPLE`` or more
    differently named people give (distinct ``name_key``; a record without one counts as a
    person of its own) set to null: what Splink compares and blocks on."""
    person = records_std["name_key"].fillna("#" + records_std["unique_id"].astype(str))
    cleared = {}
    for column in SHAREABLE_CONTACT_COLUMNS:
        people = person.groupby(records_std[column]).transform("nunique")
        cleared[column] = records_std[column].mask(people >= SHARED_VALUE_PEOPLE)
    return records_std.assign(**cleared)


# The contact levels, strongest first, each with the columns it needs: a level whose columns the
# input leaves empty is left out, or u sampling would wait for strangers to reach it, for ever.
CONTACT_LEVELS: list[tuple[Callable[[set[str]], bool], ComparisonLevelCreator]] = [
    (lambda has: {_PHONE, _EMAIL} <= has, cll.CustomLevel(
        "phone_last8_l = phone_last8_r AND email_l = email_r",
        label_for_charts="Same phone and same email",
    )),
    (lambda has: bool(has & {_PHONE, _EMAIL}) and bool(has & {_ADDRESS, _POSTCODE}),
     cll.CustomLevel(
        f"{_SAME_PHONE_OR_EMAIL} AND {_SAME_PLACE}",
        label_for_charts="Same phone or email, and same address",
    )),
    (lambda has: bool(has & {_PHONE, _EMAIL}),
     cll.CustomLevel(_SAME_PHONE_OR_EMAIL, label_for_charts="Same phone or email")),
    (lambda has: _PHONE in has, cll.DamerauLevenshteinLevel("phone_last8", 1).configure(
        label_for_charts="Phone one typo apart"
    )),
    (lambda has: _ADDRESS in has, cll.Or(
        cll.ExactMatchLevel("address"),
        cll.And(cll.JaroWinklerLevel("address", 0.9), cll.ExactMatchLevel("postcode")),
    ).configure(label_for_charts="Same address")),
    # a typo or a dropped word in the address (word overlap measured per pair is several
    # times slower to score than this)
    # (spaces dropped too: "walker crescent" written "walkercrescent", "mclachla nstreet")
    (lambda has: _ADDRESS in has and bool(has & {_POSTCODE, _CITY}), cll.CustomLevel(
        "(jaro_winkler_similarity(address_l, address_r) >= 0.8"
        " OR jaro_winkler_similarity(replace(address_l, ' ', ''), replace(address_r, ' ', ''))"
        " >= 0.8) AND (postcode_l = postcode_r OR city_l = city_r)",
        label_for_charts="Similar address, same postcode or city",
        base_dialect_str="duckdb",
    )),
    (lambda has: _ADDRESS in has, cll.CustomLevel(
        "address_number_l = address_number_r AND (address_street_l = address_street_r"
        " OR jaro_winkler_similarity(replace(address_l, ' ', ''), replace(address_r, ' ', ''))"
        " >= 0.9)",
        label_for_charts="Same house number, same or similar street",
        base_dialect_str="duckdb",
    )),
    (lambda has: {_POSTCODE, _CITY} <= has, cll.CustomLevel(
        "postcode_l = postcode_r AND city_l = city_r", label_for_charts="Same postcode and city"
    )),
    (lambda has: _POSTCODE in has, cll.ExactMatchLevel("postcode")),
    (lambda has: _CITY in has, cll.ExactMatchLevel("city")),
    # a mistyped or transposed postcode digit, a typo in the city or street
    (lambda has: {_POSTCODE, _CITY} <= has or _ADDRESS in has, cll.CustomLevel(
        "(length(postcode_l) = length(postcode_r) AND levenshtein(postcode_l, postcode_r) <= 2"
        " AND jaro_winkler_similarity(city_l, city_r) >= 0.9)"
        " OR jaro_winkler_similarity(address_l, address_r) >= 0.9",
        label_for_charts="Postcode and city, or address, nearly the same",
        base_dialect_str="duckdb",
    )),
]


def contact_comparison(has: set[str] | None = None) -> cl.CustomComparison:
    """Phone, email and address as one comparison, with the levels the filled columns allow
    (``has``; None: all of them)."""
    has = {_PHONE, _EMAIL, _ADDRESS, _POSTCODE, _CITY} if has is None else has
    return cl.CustomComparison(
        output_column_name="contact",
        comparison_description="Phone, email and address: one piece of (possibly household)"
                               " evidence",
        comparison_levels=[
            cll.CustomLevel(_NO_CONTACT).configure(is_null_level=True),
            *(level for needs, level in CONTACT_LEVELS if needs(has)),
            cll.ElseLevel(),
        ],
    )


CONTACT_COMPARISON = contact_comparison()

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

# The columns each comparison reads (in the order of COMPARISONS); a comparison whose columns
# are all empty in the input drops out.
COMPARISON_COLUMNS = {
    "name": ("given_name", "surname_1"),
    "birth_date": ("birth_date",),
    "contact": ("phone_last8", "email", "address", "postcode", "city"),
    "national_id": ("national_id",),
}


def comparisons_for(filled: dict[str, float]) -> list:
    """The comparisons whose columns the input fills at all (``filled``: column -> share of
    records with a value)."""
    has = {column for column, share in filled.items() if share > 0}
    names_missing = min(filled.get("given_name", 0.0), filled.get("surname_1", 0.0)) < 1.0
    chosen = {CONTACT_COMPARISON: contact_comparison(has),
              NAME_COMPARISON: name_comparison(names_missing)}
    return [chosen.get(comparison, comparison)
            for comparison, columns in zip(COMPARISONS, COMPARISON_COLUMNS.values(), strict=True)
            if has & set(columns)]


# --- Blocking chosen from the data -------------------------------------------------------------
#
# A pair is only scored if some blocking rule puts its records together, so the rules decide the
# recall the model can reach. A rule joins on one or two *keys*; each key reads one *field* of the
# record. A pair with an error in a field is still found by a rule that does not use that field,
# or uses it through a key the error leaves intact (a phonetic code survives many typos, a birth
# year survives a mistyped day). ``choose_blocking`` picks, from the rules the input's columns
# allow, the set that leaves the fewest error patterns (no error, any one field wrong, any two
# fields wrong) without a rule to find them, each rule weighed by its comparison count (Splink's
# blocking analysis) and all of them within a budget linear in the records.


class BlockingKey(NamedTuple):
    name: str  # a short label, shown in the chosen rules
    sql: str  # the expression blocked on, over the standardised columns
    fields: tuple[str, ...]  # the fields an error in which can break the key
    column: str  # the column that must be filled for the key to exist
    survives_typo: bool  # a typo in the field often leaves this key equal


BLOCKING_KEYS = [
    BlockingKey("given_name", "given_name", ("given_name",), "given_name", False),
    BlockingKey("given_phonetic", "given_phonetic", ("given_name",), "given_name", True),
    BlockingKey("given_prefix", "substr(given_name, 1, 3)", ("given_name",), "given_name", True),
    BlockingKey("surname", "surname_1", ("surname",), "surname_1", False),
    BlockingKey("surname_phonetic", "surname_phonetic", ("surname",), "surname_1", True),
    BlockingKey("surname_prefix", "substr(surname_1, 1, 3)", ("surname",), "surname_1", True),
    # given name and surname in either order: finds "Talia Hilton" for "Hilton Talia"
    BlockingKey("name_unordered", "concat(least(given_name, surname_1), ' ',"
                " greatest(given_name, surname_1))", ("given_name", "surname"), "name_key", True),
    BlockingKey("birth_date", "birth_date", ("birth_date",), "birth_date", False),
    BlockingKey("birth_year", "substr(birth_date, 1, 4)", ("birth_date",), "birth_date", True),
    BlockingKey("birth_year_month", "substr(birth_date, 1, 7)", ("birth_date",), "birth_date",
                True),
    BlockingKey("birth_month_day", "substr(birth_date, 6, 5)", ("birth_date",), "birth_date", True),
    # the year with day and month in either order: finds "1990-03-07" for "1990-07-03"
    BlockingKey("birth_year_day_month_unordered",
                "concat(substr(birth_date, 1, 4), least(substr(birth_date, 6, 2),"
                " substr(birth_date, 9, 2)), greatest(substr(birth_date, 6, 2),"
                " substr(birth_date, 9, 2)))", ("birth_date",), "birth_date", True),
    BlockingKey("postcode", "postcode", ("postcode",), "postcode", False),
    BlockingKey("address", "address", ("address",), "address", False),
    BlockingKey("address_number", "address_number", ("address",), "address_number", True),
    BlockingKey("address_street", "address_street", ("address",), "address_street", True),
    BlockingKey("city", "city", ("city",), "city", False),
    BlockingKey("phone", "phone_last8", ("phone",), "phone_last8", False),
    # a phone with one typo: the other half of its digits still agrees
    BlockingKey("phone_first_half", "substr(phone_last8, 1, 4)", ("phone",), "phone_last8", True),
    BlockingKey("phone_second_half", "substr(phone_last8, 5, 4)", ("phone",), "phone_last8", True),
    BlockingKey("email", "email", ("email",), "email", False),
    BlockingKey("national_id", "national_id", ("national_id",), "national_id", False),
]

# Keys that may make a rule on their own (when the data makes them specific: the budget decides);
# identifiers are only used alone: pairing them with another key finds nothing more.
SINGLE_KEYS = frozenset({"phone", "email", "national_id", "address", "birth_date"})
IDENTIFIER_KEYS = frozenset({"phone", "email", "national_id"})
COMPARISONS_PER_RECORD = 30  # the budget: comparisons scored per input record, all rules
MAX_RULE_SHARE = 0.5  # no single rule may take more than this share of the budget
MAX_RULES = 14
# How the greedy choice pictures a true pair: each field independently intact, mistyped or
# changed (moved, married, a new phone), each of the last two at this rate; a key is present
# when both records fill its column. Deliberately pessimistic round figures, not fitted to any
# data set: they only rank rules, the budget bounds them.
FIELD_TYPO_RATE = 0.15
FIELD_CHANGE_RATE = 0.15
NAME_SWAP_RATE = 0.05  # given name and surname written the other way round
TYPO_SURVIVAL = 0.5  # a typo leaves a typo-tolerant key (phonetic code, prefix, date part) equal
SIMULATED_PAIRS = 20_000
RULE_COST_RECORDS = 0.5  # every rule costs a pass over the records, however few pairs it adds
MIN_GAIN = 0.0005  # stop when the best rule would find less than this share of the pairs


class BlockingRuleChoice(NamedTuple):
    keys: tuple[str, ...]
    comparisons: int


def key(name: str) -> BlockingKey:
    return next(k for k in BLOCKING_KEYS if k.name == name)


def candidate_rules(filled: dict[str, float]) -> list[tuple[str, ...]]:
    """Rules (tuples of key names) the input's columns allow: a specific key alone, or two keys
    of different fields."""
    keys = [k for k in BLOCKING_KEYS if filled.get(k.column, 0.0) > 0]
    rules: list[tuple[str, ...]] = [(k.name,) for k in keys if k.name in SINGLE_KEYS]
    pairable = [k for k in keys if k.name not in IDENTIFIER_KEYS]
    for i, first in enumerate(pairable):
        rules += [(first.name, second.name) for second in pairable[i + 1:]
                  if not set(first.fields) & set(second.fields)]
    return rules


def simulated_key_survival(filled: dict[str, float], seed: int = 0) -> dict[str, np.ndarray]:
    """Key name -> for each simulated true pair, whether both records have the key equal."""
    rng = np.random.default_rng(seed)
    fields = sorted({field for k in BLOCKING_KEYS for field in k.fields})
    state = {field: rng.random(SIMULATED_PAIRS) for field in fields}  # what befell each field
    names_swapped = rng.random(SIMULATED_PAIRS) < NAME_SWAP_RATE
    survival = {}
    for k in BLOCKING_KEYS:
        intact = rng.random(SIMULATED_PAIRS) < filled.get(k.column, 0.0) ** 2
        survives_typo = rng.random(SIMULATED_PAIRS) < (TYPO_SURVIVAL if k.survives_typo else 0.0)
        for field in k.fields:
            typo = state[field] < FIELD_TYPO_RATE
            changed = (state[field] >= FIELD_TYPO_RATE) & (
                state[field] < FIELD_TYPO_RATE + FIELD_CHANGE_RATE)
            intact &= ~changed & (~typo | survives_typo)
        if set(k.fields) & {"given_name", "surname"} and k.name != "name_unordered":
            intact &= ~names_swapped
        survival[k.name] = intact
    return survival


def choose_blocking(counts: dict[tuple[str, ...], int], filled: dict[str, float],
                    records: int) -> list[BlockingRuleChoice]:
    """Greedy cover: take the rule that finds most of the simulated true pairs no chosen rule
    finds yet, per comparison it costs, while the budget lasts.

    ``counts``: candidate rule -> comparisons it generates.
    """
    budget = COMPARISONS_PER_RECORD * max(records, 1)
    survival = simulated_key_survival(filled)
    finds = {rule: np.logical_and.reduce([survival[name] for name in rule])
             for rule, n in counts.items() if n <= MAX_RULE_SHARE * budget}
    missed = np.ones(SIMULATED_PAIRS, dtype=bool)
    chosen: list[BlockingRuleChoice] = []
    spent = 0
    while finds and len(chosen) < MAX_RULES:
        gains = {rule: int((found & missed).sum()) for rule, found in finds.items()}
        best = max(sorted(finds), key=lambda rule: gains[rule] / (
            counts[rule] / max(records, 1) + RULE_COST_RECORDS))
        if gains[best] < MIN_GAIN * SIMULATED_PAIRS or spent + counts[best] > budget:
            break
        missed &= ~finds.pop(best)
        chosen.append(BlockingRuleChoice(best, counts[best]))
        spent += counts[best]
    return chosen


def blocking_rule(keys: tuple[str, ...]) -> BlockingRuleCreator:
    return block_on(*(key(name).sql for name in keys))


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


def settings(blocking: list[BlockingRuleChoice], comparisons: list | None = None
             ) -> SettingsCreator:
    """The untrained model: dedupe over the unioned records of all sources."""
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=COMPARISONS if comparisons is None else comparisons,
        blocking_rules_to_generate_predictions=[blocking_rule(rule.keys) for rule in blocking],
        additional_columns_to_retain=["source", "source_record_id"],
        retain_matching_columns=True,
        max_iterations=20,
    )
