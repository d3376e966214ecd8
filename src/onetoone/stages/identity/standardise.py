"""Standardise unioned customer records so that Splink compares like with like.

Input: the columns of ``intermediate.int_customer_records_unioned`` (see docs/data-contracts.md).
Output: one row per record with the columns in ``STANDARD_COLUMNS``.

Speed (1M records well under a minute): columns of mostly distinct values (addresses, emails,
codes) go through Arrow's vectorised string kernels; columns that repeat (names, cities) and
phone parsing run once per distinct value and are mapped back.

``standardise_record`` is the same for one record without pandas (the front line's lookups):
the same per-value functions, the same patterns, Arrow's kernels where case or whitespace is
Unicode's; a test holds it equal to ``standardise`` on a broad sample.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from unidecode import unidecode

INPUT_COLUMNS = [
    "source",
    "source_record_id",
    "first_name",
    "last_name",
    "full_name",
    "birth_date",
    "email",
    "phone",
    "address_line",
    "city",
    "postcode",
    "region",
    "country",
    "national_id",
    "updated_at",
]

STANDARD_COLUMNS = [
    "unique_id",
    "source",
    "source_record_id",
    "given_name",
    "surname_1",
    "surname_2",
    "name_key",
    "given_phonetic",
    "surname_phonetic",
    "birth_date",
    "email",
    "email_local",
    "phone_e164",
    "phone_last8",
    "address",
    "address_number",
    "address_street",
    "city",
    "postcode",
    "country",
    "national_id",
]

# Call-center records carry no country; their phone formats ("(11) 98765-4321") are Brazilian
# and Brazil is the largest market, so BR is the default. A wrong guess for a foreign number only
# changes the country code: the model also compares the last 8 digits, which survive it.
DEFAULT_PHONE_REGION = "BR"

# Regions tried, after the default, for a record without a country whose number is impossible in
# the default region: the generator's (and the business's) markets.
FALLBACK_PHONE_REGIONS = ("MX", "CO", "AR", "CL", "PE", "US")

# Mexico dropped the mobile "1" after +52 (and the national 044/045 prefixes) in 2019; people
# still write them. libphonenumber no longer reads them, so they are removed before parsing.
_MX_OLD_MOBILE = re.compile(r"^(?:\+521|04[45])(\d{10})$")

NAME_PARTICLES = frozenset({"de", "da", "do", "del", "dos", "das", "la", "las", "los", "y", "e"})

# Nickname -> given name (first token of it: "majo" -> "maria" as in "Maria Jose"). Only
# unambiguous ones: "beto" (Alberto/Roberto), "dani", "fer", "alex", "cris" are left out.
NICKNAMES: dict[str, str] = {
    # Spanish
    "pepe": "jose", "pepito": "jose", "chepe": "jose", "paco": "francisco",
    "pancho": "francisco", "paquito": "francisco", "curro": "francisco", "chico": "francisco",
    "kiko": "francisco", "lupe": "guadalupe", "lupita": "guadalupe", "nacho": "ignacio",
    "chucho": "jesus", "chuy": "jesus", "lalo": "eduardo", "memo": "guillermo",
    "quique": "enrique", "kike": "enrique", "tono": "antonio", "manolo": "manuel",
    "lola": "dolores", "charo": "rosario", "concha": "concepcion", "conchita": "concepcion",
    "chalo": "gonzalo", "meche": "mercedes", "chelo": "consuelo", "chela": "graciela",
    "pepa": "josefina", "fina": "josefina", "majo": "maria", "marifer": "maria",
    "santi": "santiago", "sebas": "sebastian", "nando": "fernando", "lucho": "luis",
    "rafa": "rafael", "pipe": "felipe", "gabo": "gabriel", "tere": "teresa", "paty": "patricia",
    "pati": "patricia", "vale": "valentina", "cata": "catalina", "caro": "carolina",
    "chabela": "isabel", "javi": "javier", "juanjo": "juan", "maite": "maria",
    # Portuguese
    "ze": "jose", "zeca": "jose", "tiao": "sebastiao", "tonho": "antonio",
    "toninho": "antonio", "bia": "beatriz", "bea": "beatriz", "nanda": "fernanda",
    "gaby": "gabriela", "gabi": "gabriela", "dudu": "eduardo", "guto": "augusto",
    "quim": "joaquim", "xande": "alexandre", "carol": "carolina", "malu": "maria",
    "gui": "guilherme", "tati": "tatiane", "pri": "priscila", "vini": "vinicius",
    "zefa": "josefa", "paulinho": "paulo",
    # English
    "bill": "william", "billy": "william", "will": "william", "bob": "robert",
    "bobby": "robert", "rob": "robert", "dick": "richard", "rick": "richard", "jim": "james",
    "jimmy": "james", "mike": "michael", "tom": "thomas", "tony": "anthony", "kate": "katherine",
    "kathy": "katherine", "katie": "katherine", "liz": "elizabeth", "beth": "elizabeth",
    "betty": "elizabeth", "peggy": "margaret", "maggie": "margaret", "jack": "john",
    "johnny": "john", "dave": "david", "joe": "joseph", "joey": "joseph", "ben": "benjamin",
    "dan": "daniel", "danny": "daniel", "nick": "nicholas", "sue": "susan", "jen": "jennifer",
    "jenny": "jennifer", "matt": "matthew", "andy": "andrew", "charlie": "charles",
    "chuck": "charles", "steve": "steven", "ed": "edward", "ted": "edward", "becky": "rebecca",
    "kim": "kimberly", "debbie": "deborah",
}  # fmt: skip

# Street words -> one canonical word, so that "Av."/"Avda."/"Avenue"/"Avenida" compare equal.
# Only consistency matters: "tv" is Travessa in Brazil and Transversal in Colombia, both become
# "travessa".
ADDRESS_ABBREVIATIONS: dict[str, str] = {
    "av": "avenida", "avda": "avenida", "ave": "avenida", "avenue": "avenida", "r": "rua",
    "c": "calle", "ca": "calle", "cl": "calle", "cll": "calle", "cra": "carrera",
    "kr": "carrera", "kra": "carrera", "tv": "travessa", "trav": "travessa",
    "transversal": "travessa", "al": "alameda", "priv": "privada", "blvd": "boulevard",
    "bulevar": "boulevard", "dg": "diagonal", "rod": "rodovia", "estr": "estrada",
    "pca": "praca", "pza": "plaza", "pje": "pasaje", "psje": "pasaje", "jr": "jiron",
    "col": "colonia", "esq": "esquina", "st": "street", "rd": "road", "dr": "drive",
    "apto": "apartamento", "ap": "apartamento", "apt": "apartamento", "dpto": "departamento",
    "depto": "departamento", "bl": "bloco", "sta": "santa", "sto": "santo", "gral": "general",
    "pres": "presidente",
}  # fmt: skip

# "No. 123", "nº 123", "#123" vs "123": the marker carries no information and is inconsistently
# present, so it is dropped rather than expanded to "numero".
ADDRESS_NUMBER_MARKERS = frozenset({"no", "n", "nro", "num", "numero"})

COUNTRY_NAMES = {
    "BRASIL": "BR", "BRAZIL": "BR", "MEXICO": "MX", "ARGENTINA": "AR", "COLOMBIA": "CO",
    "CHILE": "CL", "PERU": "PE", "URUGUAY": "UY", "PARAGUAY": "PY", "ECUADOR": "EC",
    "PORTUGAL": "PT", "ESPANA": "ES", "SPAIN": "ES",
}  # fmt: skip

log = logging.getLogger(__name__)

_TEXT = "string[pyarrow]"  # .str methods on it run in Arrow's C++ kernels
_NON_ALPHA = re.compile(r"[^a-z]+")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_NAME_PARTS_SEPARATOR = "\x1f"
_SAME_DIGIT = "|".join(f"{digit}*" for digit in "0123456789")  # "00000": a placeholder
# The patterns both paths apply (Arrow's RE2 in ``standardise``, Python's re for one record;
# they are ASCII, where the two engines agree).
_EMAIL_SPACE = r"[ \t\r\n\f\v]+"
_EMAIL_SHAPE = r"[^@]+@[^@]+\.[^@]+"
_EMAIL_DOMAIN = r"@.*"
_PHONE_NOISE = r"[^0-9+]"
_CODE_NOISE = r"[^0-9A-Z]"
_ADDRESS_NUMBER = r"(?:^| )([0-9]+)(?: |$)"
_CALLING_CODE_REGIONS = {
    str(code): regions[0] for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items()
}


def standardise(records: pd.DataFrame, default_region: str = DEFAULT_PHONE_REGION) -> pd.DataFrame:
    """Return the Splink input table: one row per record, columns ``STANDARD_COLUMNS``.

    ``default_region`` (ISO2) is used to read phone numbers of records without a usable country.
    """
    df = records.reindex(columns=INPUT_COLUMNS).reset_index(drop=True)
    out = pd.DataFrame(index=df.index)
    out["source"] = df["source"].astype(str)
    out["source_record_id"] = df["source_record_id"].astype(str)
    out["unique_id"] = out["source"] + ":" + out["source_record_id"]

    names = standardise_names(df["first_name"], df["last_name"], df["full_name"])
    out[["given_name", "surname_1", "surname_2"]] = names
    has_name = out["given_name"].notna() & out["surname_1"].notna()
    out["name_key"] = (out["given_name"] + " " + out["surname_1"]).where(has_name)
    # blocking keys that survive a typo: "catherine"/"kathryn", "thompson"/"tompson"
    out["given_phonetic"] = _map_distinct(out["given_name"], soundex)
    out["surname_phonetic"] = _map_distinct(out["surname_1"], soundex)

    out["birth_date"] = standardise_birth_date(df["birth_date"])
    out["email"] = standardise_email(df["email"])
    out["email_local"] = out["email"].str.replace(_EMAIL_DOMAIN, "", regex=True)
    out["country"] = _map_distinct(_text(df["country"]), _country_code)
    out["phone_e164"] = standardise_phone(df["phone"], out["country"], default_region)
    out["phone_last8"] = out["phone_e164"].str.slice(-8)
    out["address"] = standardise_address(df["address_line"])
    # blocking keys from the address: a moved record still shares neither, a typo in the
    # street leaves the number, a typo in the number leaves the street
    out["address_number"] = out["address"].str.extract(_ADDRESS_NUMBER, expand=False)
    out["address_street"] = _map_distinct(out["address"], address_street_word)
    out["city"] = _map_distinct(_text(df["city"]), _clean_words)
    out["postcode"] = _clean_code(df["postcode"])
    out["national_id"] = _clean_code(df["national_id"])
    out = out[STANDARD_COLUMNS]
    return out.astype(object).where(out.notna(), None)


_SOUNDEX_CODES = {letter: str(code) for code, letters in enumerate(
    ["aeiouyhw", "bfpv", "cgjkqsxz", "dt", "l", "mn", "r"]) for letter in letters}


def soundex(value: object) -> str | None:
    """American Soundex of a standardised name ("robert" and "rupert": "r163"); null for none.

    Coarse on purpose: it only chooses which pairs get compared, never decides a match."""
    letters = _NON_ALPHA.sub("", str(value))
    if not letters:
        return None
    digits, previous = [], _SOUNDEX_CODES[letters[0]]
    for letter in letters[1:]:
        code = _SOUNDEX_CODES[letter]
        if code != "0" and code != previous:
            digits.append(code)
        if letter not in "hw":  # h and w do not separate equal codes; vowels do
            previous = code
    return (letters[0] + "".join(digits) + "000")[:4]


# Words that name the kind of street, not the street ("rua", "street"): useless as a key.
_STREET_TYPES = frozenset(ADDRESS_ABBREVIATIONS.values()) | {
    "place", "avenue", "court", "crescent", "circuit", "close", "lane", "parade", "way",
    "terrace", "highway", "square", "travesia", "camino", "paseo", "pasaje", "callejon",
}


def address_street_word(address: object) -> str | None:
    """The first word of a standardised address that names the street (four letters or more,
    not a street type or particle): "7 wallaby place" -> "wallaby"."""
    for word in str(address).split():
        if len(word) >= 4 and word.isalpha() and word not in _STREET_TYPES \
                and word not in NAME_PARTICLES:
            return word
    return None



def standardise_names(first: pd.Series, last: pd.Series, full: pd.Series) -> pd.DataFrame:
    """``given_name, surname_1, surname_2`` per record (given name with nickname resolved).

    The given name is the first token; the surnames are the last two tokens of the surname part.
    Middle tokens are dropped: a naive split of "Juan Carlos Garcia Lopez" (call center: first
    token, then the rest) and the ERP's "Juan Carlos" / "Garcia Lopez" then agree.
    """
    columns = ["given_name", "surname_1", "surname_2"]
    given = _map_distinct(_text(first), lambda v: _split_full_name(_name_tokens(v))[0])
    surnames = _map_distinct(_text(last), lambda v: (*_name_tokens(v)[-2:], None)[:2])
    both = given.notna() & (surnames.str[0].notna())
    complete = [(g, *s) for g, s in zip(given[both], surnames[both], strict=True)]
    # Only one part (or just a full name) given: read what there is as a whole name.
    parts = [_text(column[~both]).fillna("") for column in (first, last, full)]
    keys = parts[0] + _NAME_PARTS_SEPARATOR + parts[1] + _NAME_PARTS_SEPARATOR + parts[2]
    split = _map_distinct(
        keys, lambda key: _split_name_parts(*str(key).split(_NAME_PARTS_SEPARATOR))
    )
    return pd.concat(
        [
            pd.DataFrame(complete, index=given.index[both], columns=columns, dtype=object),
            pd.DataFrame(split.tolist(), index=split.index, columns=columns, dtype=object),
        ]
    ).reindex(first.index)


def standardise_phone(
    phones: pd.Series,
    countries: pd.Series | None = None,
    default_region: str = DEFAULT_PHONE_REGION,
) -> pd.Series:
    """E.164 phone numbers; null when not a possible number for the region used to read it.

    Numbers without trunk, carrier or international prefixes (most of them) are converted in
    vectorised steps per region; the rest go through ``_parse_phone`` once per distinct value.
    The result equals ``_parse_phone``'s for every input (see the tests).
    """
    digits = _text(phones).str.replace(_PHONE_NOISE, "", regex=True)
    digits = digits.where(digits.str.len() > 0)
    if countries is None:
        regions = pd.Series(default_region, index=digits.index, dtype=_TEXT)
        guessed = pd.Series(True, index=digits.index)
    else:
        supported = countries.isin(phonenumbers.SUPPORTED_REGIONS).fillna(False).astype(bool)
        regions = countries.where(supported, default_region).astype(_TEXT)
        guessed = ~supported

    international = digits.str.startswith("+").fillna(False).astype(bool)
    number_regions, national = regions.copy(), digits.where(~international)
    for size in (1, 2, 3):  # "+<calling code><national>"; calling codes are prefix-free
        region_of_code = digits.str.slice(1, 1 + size).map(_CALLING_CODE_REGIONS)
        hit = international & region_of_code.notna()
        national[hit] = digits[hit].str.slice(1 + size)
        number_regions[hit] = region_of_code[hit]

    e164 = pd.Series(pd.NA, index=digits.index, dtype=_TEXT)
    for region in number_regions[national.notna()].unique():
        plan = _region_plan(region)
        rows = national.notna() & (number_regions == region)
        if plan is None or not rows.any():
            continue
        number = national[rows]
        plain = plan.is_plain(number) & (
            international[rows] | ~number.str.startswith(plan.country_code).astype(bool)
        )
        e164[plain[plain].index] = "+" + plan.country_code + number[plain]

    rest = digits.notna() & e164.isna()
    keys = guessed[rest].map({True: "?", False: ""}) + regions[rest] + "|" + digits[rest]
    e164[rest] = _map_distinct(keys.astype(_TEXT), _parse_phone_key)
    return e164


def standardise_email(emails: pd.Series) -> pd.Series:
    """Lowercase, whitespace removed; null unless it looks like ``local@domain.tld``."""
    cleaned = _text(emails).str.lower().str.replace(_EMAIL_SPACE, "", regex=True)
    return cleaned.where(cleaned.str.fullmatch(_EMAIL_SHAPE).fillna(False).astype(bool))


def standardise_address(lines: pd.Series) -> pd.Series:
    """Lowercase ASCII words, street types canonical, house-number markers ("nº", "#") dropped.

    Addresses are mostly distinct but their words are not: split them in Arrow, clean each
    distinct word once in Python, join again in Arrow.
    """
    arrow = pa.array(_text(lines).array)
    if isinstance(arrow, pa.ChunkedArray):
        arrow = arrow.combine_chunks()
    text = pc.utf8_lower(arrow.cast(pa.string()))
    words = pc.utf8_split_whitespace(text)
    distinct = pc.dictionary_encode(pc.list_flatten(words))
    cleaned = pa.array([_address_word(w) for w in distinct.dictionary.to_pylist()], pa.string())
    rebuilt = pa.ListArray.from_arrays(
        words.offsets, cleaned.take(distinct.indices), mask=pc.is_null(words)
    )
    joined = pc.binary_join(rebuilt, " ")
    joined = pc.utf8_trim_whitespace(pc.replace_substring_regex(joined, " +", " "))
    result = pd.Series(joined.to_pylist(), index=lines.index, dtype=_TEXT)
    return result.where(result.str.len() > 0)


# Tried in order; slashed and dashed dates with the year last are day first, as written in
# Latin America (and most of the world).
BIRTH_DATE_FORMATS = ["%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"]


def standardise_birth_date(dates: pd.Series) -> pd.Series:
    """``YYYY-MM-DD`` strings from any of ``BIRTH_DATE_FORMATS`` (a time after an ISO date is
    ignored); unparsable and implausible dates (before 1900, in the future) become null."""
    text = _text(dates).str.strip()
    iso_date = text.str.slice(0, 10)
    parsed = pd.to_datetime(iso_date, format=BIRTH_DATE_FORMATS[0], errors="coerce")
    for date_format in BIRTH_DATE_FORMATS[1:]:
        missing = parsed.isna() & text.notna()
        if not missing.any():
            break
        parsed = parsed.where(
            ~missing, pd.to_datetime(text.where(missing), format=date_format, errors="coerce")
        )
    plausible = (parsed >= pd.Timestamp("1900-01-01")) & (parsed <= pd.Timestamp.now())
    return parsed.dt.strftime("%Y-%m-%d").where(plausible)


def _text(values: pd.Series) -> pd.Series:
    """Arrow-backed strings; blank values become null."""
    text = values.astype(_TEXT)
    return text.where(text.str.strip().str.len() > 0)


def _map_distinct(values: pd.Series, func: Callable[[Hashable], object]) -> pd.Series:
    """Apply ``func`` once per distinct non-null value and map the results back."""
    present = values.notna().tolist()
    lookup = {v: func(v) for v in pd.unique(values[values.notna()])}
    mapped = [lookup[v] if ok else None for v, ok in zip(values.tolist(), present, strict=True)]
    return pd.Series(mapped, index=values.index, dtype=object)


def _unaccent_lower(text: str) -> str:
    text = text.lower()
    return text if text.isascii() else unidecode(text)


def _clean_words(value: object) -> str | None:
    cleaned = _NON_ALNUM.sub(" ", _unaccent_lower(str(value))).strip()
    return cleaned or None


def _clean_code(values: pd.Series) -> pd.Series:
    """Postcodes and national ids: digits and uppercase letters only; "00000" is no value."""
    code = _text(values).str.upper().str.replace(_CODE_NOISE, "", regex=True)
    degenerate = code.str.fullmatch(_SAME_DIGIT)
    return code.mask(degenerate.fillna(True).astype(bool))


def _country_code(value: object) -> str | None:
    code = re.sub(r"[^A-Z]", "", _unaccent_lower(str(value)).upper())
    return code if len(code) == 2 else COUNTRY_NAMES.get(code)


def _address_word(word: str) -> str:
    """One whitespace-separated chunk of a lowercased address ("av.", "nº", "c/mayor", "1.000")."""
    text = word.replace("º", " ").replace("°", " ")  # "nº 5", "1º andar"
    text = text if text.isascii() else unidecode(text)
    text = re.sub(r"^c/", "calle ", text).replace("s/n", " ")
    return " ".join(
        ADDRESS_ABBREVIATIONS.get(token, token)
        for token in _NON_ALNUM.sub(" ", text).split()
        if token not in ADDRESS_NUMBER_MARKERS
    )


def _name_tokens(value: object) -> list[str]:
    tokens = _NON_ALPHA.sub(" ", _unaccent_lower(str(value))).split()
    return [t for t in tokens if t not in NAME_PARTICLES and len(t) > 1]


def _split_full_name(tokens: list[str]) -> tuple[str | None, list[str]]:
    if not tokens:
        return None, []
    given = NICKNAMES.get(tokens[0], tokens[0])
    return given, tokens[-2:] if len(tokens) > 2 else tokens[1:]


def _split_name_parts(first: str, last: str, full: str) -> tuple[str | None, ...]:
    """Given name and two surnames from whichever of the parts are filled."""
    tokens = _name_tokens(first) or _name_tokens(last) or _name_tokens(_swap_comma(full))
    given, surnames = _split_full_name(tokens)
    return given, *(surnames + [None, None])[:2]


def _swap_comma(value: str) -> str:
    """ "Silva, Maria" -> "Maria Silva"."""
    last, sep, first = value.partition(",")
    return f"{first} {last}" if sep else last


def _parse_phone_key(key: str) -> str | None:
    """``_parse_phone`` of "[?]<region>|<digits>"; "?": the region is a guess."""
    region, raw = str(key).split("|", 1)
    return _parse_phone(region.lstrip("?"), raw, fallback=region.startswith("?"))


def _parse_phone(region: str, raw: str, fallback: bool = False) -> str | None:
    """The slow path. Each way of reading ``raw`` in ``region`` (see ``_phone_readings``) is
    tried; the first valid number wins, else the first possible one, preferring one without a
    leading zero in the national number (none of the regions read here has such numbers; it is a
    trunk prefix). ``fallback``: a record without a country, whose number is impossible in
    ``region``, is read in each of ``FALLBACK_PHONE_REGIONS`` and kept only where it is valid."""
    possible = _parsed_readings(region, raw)
    valid = next((n for n in possible if phonenumbers.is_valid_number(n)), None)
    if valid is not None:
        return _e164(valid)
    if possible:
        return _e164(min(possible, key=lambda number: bool(number.italian_leading_zero)))
    if not fallback:
        return None
    for other in FALLBACK_PHONE_REGIONS:
        valid = next((n for n in _parsed_readings(other, raw)
                      if phonenumbers.is_valid_number(n)), None)
        if valid is not None:
            return _e164(valid)
    return None


def _parsed_readings(region: str, raw: str) -> list[phonenumbers.PhoneNumber]:
    """Each of ``_phone_readings`` that parses to a possible, non-placeholder number."""
    return [number for reading in _phone_readings(region, raw)
            if (number := _phone_number(reading, region)) is not None]


def _phone_readings(region: str, raw: str) -> list[str]:
    """``raw`` as typed, then as people commonly mean it: "00" + the region's calling code as
    "+" (Brazil reads "0055" as a carrier code), any "00" as "+", a trunk "0" that the region no
    longer uses (Chile's "09 ..."), Mexico's old mobile prefixes."""
    readings = [raw]
    code = str(phonenumbers.country_code_for_region(region))
    if raw.startswith("00" + code):
        readings.insert(0, "+" + raw[2:])
    elif raw.startswith("00"):
        readings.append("+" + raw[2:])
    elif raw.startswith("0"):
        readings.append(raw[1:])
    for reading in list(readings):
        old_mobile = _MX_OLD_MOBILE.match(reading)
        if old_mobile and (reading.startswith("+") or region == "MX"):
            readings.append("+52" + old_mobile[1])
    return readings


def _phone_number(raw: str, region: str) -> phonenumbers.PhoneNumber | None:
    """The parsed number, unless impossible or one digit repeated (a placeholder)."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number) or len(set(str(number.national_number))) < 2:
        return None
    return number


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class _RegionPlan:
    """What the vectorised phone path needs of a region's phonenumbers metadata."""

    country_code: str
    prefix_rules: tuple[str, ...]  # trunk/carrier and international prefixes, as regexes
    lengths: frozenset[int]

    def is_plain(self, national: pd.Series) -> pd.Series:
        """Digits only, a possible length, no prefix that phonenumbers would strip."""
        plain = (
            national.str.fullmatch("[1-9][0-9]*")
            & national.str.len().isin(self.lengths)
            & ~national.str.fullmatch(_SAME_DIGIT)
        )
        for rule in self.prefix_rules:
            stripped = national.str.replace(f"^(?:{rule})", "", n=1, regex=True)
            plain &= stripped.str.len() == national.str.len()
        return plain.fillna(False).astype(bool)


@cache
def _region_plan(region: str) -> _RegionPlan | None:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None:
        return None
    rules = (metadata.national_prefix_for_parsing, metadata.international_prefix)
    general = metadata.general_desc
    return _RegionPlan(
        country_code=str(metadata.country_code),
        prefix_rules=tuple(rule for rule in rules if rule),
        lengths=frozenset((*general.possible_length, *(general.possible_length_local_only or ()))),
    )


# --- One record, without pandas ---------------------------------------------------------------
# What ``standardise`` makes of one record, value by value, with the same per-value functions
# (names, soundex, phones, addresses, cities, countries) and the same patterns. Case mapping and
# whitespace of non-ASCII text go through the Arrow kernels pandas calls, since Python's differ
# on a few characters ("ß".upper()); on ASCII the two agree. Dates are read by Python's strptime,
# which pandas' parser follows (they differ only on dates before 1900, which are rejected).
# tests/unit/test_identity_standardise.py holds the two paths equal.


def standardise_record(record: Mapping[str, object],
                       default_region: str = DEFAULT_PHONE_REGION) -> dict[str, str | None]:
    """``standardise`` of one record (a mapping of ``INPUT_COLUMNS``; missing ones are null):
    its row as a dict of ``STANDARD_COLUMNS``, in a fraction of a millisecond."""
    value = {column: _text_value(record.get(column)) for column in INPUT_COLUMNS}
    out: dict[str, str | None] = {
        column: None if _missing(record.get(column)) else str(record.get(column))
        for column in ("source", "source_record_id")}
    out["unique_id"] = None if None in (out["source"], out["source_record_id"]) \
        else f"{out['source']}:{out['source_record_id']}"
    given, surname_1, surname_2 = _record_names(
        value["first_name"], value["last_name"], value["full_name"])
    out.update(given_name=given, surname_1=surname_1, surname_2=surname_2)
    out["name_key"] = f"{given} {surname_1}" if given is not None and surname_1 is not None \
        else None
    out["given_phonetic"] = None if given is None else soundex(given)
    out["surname_phonetic"] = None if surname_1 is None else soundex(surname_1)
    out["birth_date"] = _birth_date_value(value["birth_date"])
    email = _email_value(value["email"])
    out["email"] = email
    out["email_local"] = None if email is None else re.sub(_EMAIL_DOMAIN, "", email)
    country = None if value["country"] is None else _country_code(value["country"])
    out["country"] = country
    phone = _phone_value(value["phone"], country, default_region)
    out["phone_e164"] = phone
    out["phone_last8"] = None if phone is None else phone[-8:]
    address = _address_value(value["address_line"])
    out["address"] = address
    number = None if address is None else re.search(_ADDRESS_NUMBER, address)
    out["address_number"] = number[1] if number else None
    out["address_street"] = None if address is None else address_street_word(address)
    out["city"] = None if value["city"] is None else _clean_words(value["city"])
    out["postcode"] = _code_value(value["postcode"])
    out["national_id"] = _code_value(value["national_id"])
    return {column: out[column] for column in STANDARD_COLUMNS}


def _arrow_text(kernel: Callable[[pa.Array], pa.Array], text: str) -> object:
    """An Arrow string kernel (the one pandas applies to a column) on one value."""
    return kernel(pa.array([text], pa.string()))[0].as_py()


def _trimmed(text: str) -> str:
    return text.strip() if text.isascii() else _arrow_text(pc.utf8_trim_whitespace, text)


def _lower(text: str) -> str:
    return text.lower() if text.isascii() else _arrow_text(pc.utf8_lower, text)


def _upper(text: str) -> str:
    return text.upper() if text.isascii() else _arrow_text(pc.utf8_upper, text)


def _words(text: str) -> list[str]:
    return text.split() if text.isascii() else _arrow_text(pc.utf8_split_whitespace, text)


def _text_value(value: object) -> str | None:
    """``_text`` of one value: the value as text, null when missing or blank."""
    if _missing(value):
        return None
    text = value if isinstance(value, str) else str(value)
    return text if _trimmed(text) else None


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _record_names(first: str | None, last: str | None,
                  full: str | None) -> tuple[str | None, str | None, str | None]:
    """``standardise_names`` of one record."""
    given = None if first is None else _split_full_name(_name_tokens(first))[0]
    surnames = None if last is None else (*_name_tokens(last)[-2:], None)[:2]
    if given is not None and surnames is not None and surnames[0] is not None:
        return given, surnames[0], surnames[1]
    given, surname_1, surname_2 = _split_name_parts(first or "", last or "", full or "")
    return given, surname_1, surname_2


def _birth_date_value(text: str | None) -> str | None:
    """``standardise_birth_date`` of one value: each format in turn (an ISO date's first ten
    characters), the first that reads it wins."""
    if text is None:
        return None
    text = _trimmed(text)
    for n, date_format in enumerate(BIRTH_DATE_FORMATS):
        try:
            parsed = datetime.strptime(text[:10] if n == 0 else text, date_format)
        except ValueError:
            continue
        if not datetime(1900, 1, 1) <= parsed <= datetime.now():
            return None
        return parsed.strftime("%Y-%m-%d")
    return None


def _email_value(text: str | None) -> str | None:
    if text is None:
        return None
    cleaned = re.sub(_EMAIL_SPACE, "", _lower(text))
    return cleaned if re.fullmatch(_EMAIL_SHAPE, cleaned) else None


def _phone_value(text: str | None, country: str | None, default_region: str) -> str | None:
    """``standardise_phone`` of one number: its slow path, which the column version equals."""
    if text is None:
        return None
    digits = re.sub(_PHONE_NOISE, "", text)
    if not digits:
        return None
    if country in phonenumbers.SUPPORTED_REGIONS:
        return _parse_phone(country, digits)
    return _parse_phone(default_region, digits, fallback=True)


def _address_value(line: str | None) -> str | None:
    """``standardise_address`` of one line."""
    if line is None:
        return None
    joined = re.sub(" +", " ", " ".join(_address_word(word) for word in _words(_lower(line))))
    return _trimmed(joined) or None


def _code_value(text: str | None) -> str | None:
    """``_clean_code`` of one value."""
    if text is None:
        return None
    code = re.sub(_CODE_NOISE, "", _upper(text))
    return None if re.fullmatch(_SAME_DIGIT, code) else code


# --- Reusing the previous run's work ---------------------------------------------------------

INPUT_FINGERPRINT = "input_fingerprint"


def standardise_version(default_region: str = DEFAULT_PHONE_REGION) -> str:
    """Identifies what ``standardise_reusing`` makes of a record: this module (its code and
    reference tables), the phone region, the libraries it calls and the DuckDB version (whose
    hash is the input fingerprint). Stored results of another version are not reused."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(f"{default_region}|{phonenumbers.__version__}|{_unidecode_version()}"
                  f"|{duckdb.__version__}".encode())
    return digest.hexdigest()[:16]


def standardise_reusing(
    records: pd.DataFrame, previous: pd.DataFrame | None,
    default_region: str = DEFAULT_PHONE_REGION,
) -> pd.DataFrame:
    """``standardise`` with an ``input_fingerprint`` column, reusing the rows of ``previous`` (an
    earlier result of this function, same ``standardise_version``) for records whose input did
    not change, so that a daily run standardises only new and changed records.

    Rows come in the input's order, text as Arrow-backed strings (a million records move between
    pandas, DuckDB and Parquet without a Python object each). Store the result with
    ``standardise_version`` and reuse it only under the same version.
    """
    with duckdb.connect() as con:
        return _standardise_reusing(con, records, previous, default_region)


def _standardise_reusing(con: duckdb.DuckDBPyConnection, records: pd.DataFrame,
                         previous: pd.DataFrame | None, default_region: str) -> pd.DataFrame:
    df = records.reindex(columns=INPUT_COLUMNS).reset_index(drop=True)
    con.register("records", df.assign(input_row=np.arange(len(df))))
    columns = ", ".join(f'"{c}"' for c in INPUT_COLUMNS)
    con.execute(f"""
        create table current_inputs as
        select input_row, source || ':' || source_record_id as unique_id,
               hash({columns}) as {INPUT_FINGERPRINT}
        from records""")
    if previous is None:
        previous = pd.DataFrame(columns=[*STANDARD_COLUMNS, INPUT_FINGERPRINT], dtype="str")
        previous = previous.astype({INPUT_FINGERPRINT: "uint64"})
    con.register("previous", previous)
    con.execute(f"""
        create table reused as
        select current_inputs.input_row, previous.*
        from current_inputs
        inner join previous using (unique_id, {INPUT_FINGERPRINT})""")
    changed = con.sql(f"""
        select input_row, {INPUT_FINGERPRINT} from current_inputs
        anti join reused using (input_row)
        order by input_row""").fetchnumpy()
    fresh = standardise(df.iloc[changed["input_row"]], default_region).astype("str")
    fresh[INPUT_FINGERPRINT] = changed[INPUT_FINGERPRINT]
    fresh["input_row"] = changed["input_row"]
    # pragma: no mutate start
    log.info("standardised %d of %d records; the others are unchanged since the last run",
             len(fresh), len(df))
    # pragma: no mutate end
    con.register("fresh", fresh)
    text = ", ".join(f'"{c}"::varchar as "{c}"' for c in STANDARD_COLUMNS)
    return con.sql(f"""
        select {text}, {INPUT_FINGERPRINT}::ubigint as {INPUT_FINGERPRINT}
        from (select * from reused union all by name select * from fresh)
        order by input_row""").to_arrow_table().to_pandas()


def _unidecode_version() -> str:
    from importlib.metadata import version

    return version("unidecode")


# --- Display values for the golden record ----------------------------------------------------
# identity.standardised_records holds, per record, the values the golden record chooses among:
# the rule of validity of each attribute is the one matching uses (a value standardise rejects
# is no candidate), but names and cities keep their accents and case for display. The matching
# forms of the address and the surnames are kept too: households group customers by them.

DISPLAY_COLUMNS = [
    "source",
    "source_record_id",
    "first_name",
    "last_name",
    "birth_date",
    "email",
    "phone",
    "city",
    "postcode",
    "national_id",
    "address",
    "surname_1",
    "surname_2",
]

# Placeholder national ids that pass as codes: counting sequences typed to fill a form field.
NATIONAL_ID_PLACEHOLDERS = frozenset({"123456789", "1234567890", "0123456789", "987654321"})
NATIONAL_ID_MIN_LENGTH = 5

_HAS_LETTER = r"\p{L}"  # any Unicode letter (Arrow's regexes are RE2)
# "AAAAAA", "1111111": one character repeated (RE2 has no backreferences)
_ONE_CODE_CHARACTER = "|".join(f"{c}+" for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def display_values(records: pd.DataFrame, standardised: pd.DataFrame) -> pd.DataFrame:
    """One row per record, columns ``DISPLAY_COLUMNS``: ``standardised`` (the result of
    ``standardise`` or ``standardise_reusing`` for ``records``, row for row) for email, phone
    (E.164), birth date, postcode and national id, and the matching forms of the address and
    surnames; display names and canonical cities from ``records``. Null where the value is
    missing or invalid."""
    df = records.reindex(columns=INPUT_COLUMNS).reset_index(drop=True)
    std = standardised.reset_index(drop=True)
    same_rows = len(df) == len(std) and (
        df["source"].astype(str).to_numpy() == std["source"].astype(str).to_numpy()).all() and (
        df["source_record_id"].astype(str).to_numpy()
        == std["source_record_id"].astype(str).to_numpy()).all()
    if not same_rows:
        raise ValueError("standardised rows do not match the records row for row")
    out = pd.DataFrame({
        "source": std["source"].astype(str),
        "source_record_id": std["source_record_id"].astype(str),
        "first_name": display_names(df["first_name"]),
        "last_name": display_names(df["last_name"]),
        "birth_date": std["birth_date"],
        "email": std["email"],
        "phone": std["phone_e164"],
        "city": canonical_cities(df["city"]),
        "postcode": std["postcode"],
        "national_id": valid_national_ids(std["national_id"]),
        "address": std["address"],
        "surname_1": std["surname_1"],
        "surname_2": std["surname_2"],
    })
    out = out.astype(object)
    return out.where(out.notna(), None)


def display_names(names: pd.Series) -> pd.Series:
    """A name as written, for display: whitespace trimmed and collapsed, accents and case kept
    ("  José  da Silva " -> "José da Silva"); null when it has no letter ("12345", "--")."""
    cleaned = _text(names).str.replace(r"\s+", " ", regex=True).str.strip()
    has_letter = cleaned.str.contains(_HAS_LETTER, regex=True).fillna(False).astype(bool)
    return cleaned.where(has_letter).astype(object).where(lambda s: s.notna(), None)


def canonical_cities(cities: pd.Series) -> pd.Series:
    """Every spelling of a city replaced by one display spelling of it.

    Spellings are the same city when they fold to the same key (accents, case and punctuation
    removed: "CURITIBA", "Curitiba", "curitiba"; "Bogota", "Bogotá"). The canonical one keeps
    the most information: an accented spelling before one without accents, mixed case before
    all upper or all lower case, then the most frequent, then the first in code point order
    (so the result depends only on the multiset of spellings, never on row order). Null when
    the value has no letter.
    """
    spelled = _text(cities).str.replace(r"\s+", " ", regex=True).str.strip()
    spelled = spelled.where(spelled.str.contains(_HAS_LETTER, regex=True).fillna(False)
                            .astype(bool))
    counts = spelled.value_counts()
    if counts.empty:
        return pd.Series(None, index=cities.index, dtype=object)
    spellings = pd.DataFrame({"spelling": counts.index.astype(str), "count": counts.to_numpy()})
    spellings["key"] = spellings["spelling"].map(_clean_words)
    spellings["accented"] = ~spellings["spelling"].map(str.isascii)
    spellings["mixed_case"] = spellings["spelling"].map(
        lambda s: s != s.upper() and s != s.lower())
    best = spellings.sort_values(
        ["key", "accented", "mixed_case", "count", "spelling"],
        ascending=[True, False, False, False, True]).drop_duplicates("key")
    canonical = spellings["key"].map(best.set_index("key")["spelling"])
    lookup = dict(zip(spellings["spelling"], canonical, strict=True))
    return pd.Series([lookup.get(v) if isinstance(v, str) else None for v in spelled.tolist()],
                     index=cities.index, dtype=object)


def valid_national_ids(codes: pd.Series) -> pd.Series:
    """Cleaned national ids (``standardise``'s: digits and capitals, "00000" already gone) that
    can identify someone: at least ``NATIONAL_ID_MIN_LENGTH`` characters, not one repeated
    character ("AAAAA") and not a placeholder counting sequence; otherwise null."""
    code = _text(codes)
    valid = ((code.str.len() >= NATIONAL_ID_MIN_LENGTH) & ~code.isin(NATIONAL_ID_PLACEHOLDERS)
             & ~code.str.fullmatch(_ONE_CODE_CHARACTER))
    return code.where(valid.fillna(False).astype(bool)).astype(object).where(
        lambda s: s.notna(), None)
