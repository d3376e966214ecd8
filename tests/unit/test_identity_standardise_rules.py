"""Standardisation's rules one by one: what each public function keeps of its input (index,
dtype), which phones the vectorised path reads on its own and which need the slow path, and the
small rules of names, addresses, dates and codes. The broad equality of ``standardise`` and
``standardise_record`` is in test_identity_standardise.py."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from onetoone.stages.identity import standardise as std
from onetoone.stages.identity.standardise import (
    INPUT_FINGERPRINT,
    address_street_word,
    canonical_cities,
    display_values,
    soundex,
    standardise,
    standardise_address,
    standardise_birth_date,
    standardise_email,
    standardise_names,
    standardise_phone,
    standardise_record,
    standardise_reusing,
    valid_national_ids,
)

SHUFFLED = pd.Index([17, 4, 9, 12])  # a caller's own index: neither default nor sorted


def _records(*fields: dict) -> pd.DataFrame:
    return pd.DataFrame([{"source": "erp", "source_record_id": str(n), **row}
                         for n, row in enumerate(fields, start=1)])


def _standardised(*fields: dict, default_region: str = "BR") -> list[dict]:
    """The rows ``standardise`` makes of records with these fields, after checking that
    ``standardise_record`` makes the same of each record."""
    records = _records(*fields)
    rows = standardise(records, default_region).to_dict("records")
    assert [standardise_record(record, default_region)
            for record in records.to_dict("records")] == rows
    return rows


def _both_paths(column: str, *fields: dict, default_region: str = "BR") -> list:
    return [row[column] for row in _standardised(*fields, default_region=default_region)]


# --- What every public function keeps of its input ----------------------------------------


def test_column_functions_keep_the_index_and_return_arrow_text():
    values = pd.Series(["Av. Paulista 1000", None, "  ", "a@b.co"], index=SHUFFLED)
    for function in (standardise_email, standardise_address, standardise_phone):
        result = function(values)
        assert result.index.equals(SHUFFLED), function.__name__
        assert result.dtype == std._TEXT, function.__name__
    phones = pd.Series(["(11) 98765-4321", "+1 212 419 1004", "0055 11 98765 4321", None],
                       index=SHUFFLED)
    phones = standardise_phone(phones, pd.Series(["BR", None, "BR", "MX"], index=SHUFFLED))
    assert phones.index.equals(SHUFFLED) and phones.dtype == std._TEXT
    assert phones.tolist()[:3] == ["+5511987654321", "+12124191004", "+5511987654321"]
    dates = standardise_birth_date(pd.Series(["03/02/1980", None, "x", "1980-02-03"],
                                             index=SHUFFLED))
    assert dates.index.equals(SHUFFLED)
    assert dates.dropna().tolist() == ["1980-02-03", "1980-02-03"]


def test_address_of_a_column_in_several_arrow_chunks():
    # Columns concatenated from batches (or read from Parquet row groups) hold several chunks.
    lines = pd.concat([pd.Series(["Rua A, 1"], dtype=std._TEXT),
                       pd.Series(["Av. B nº 2", None], dtype=std._TEXT)], ignore_index=True)
    assert standardise_address(lines).tolist() == ["rua a 1", "avenida b 2", pd.NA]


def test_names_keep_the_index_and_row_order_with_their_documented_columns():
    # rows of both kinds (first and last name; a lone part or a full name) interleaved
    names = standardise_names(
        pd.Series([None, "Ana", "Pedro", None], index=SHUFFLED),
        pd.Series([None, "Souza", None, "Lima Costa"], index=SHUFFLED),
        pd.Series(["Maria Silva", None, None, None], index=SHUFFLED),
    )
    assert names.columns.tolist() == ["given_name", "surname_1", "surname_2"]
    assert names.index.equals(SHUFFLED)
    # like ``standardise``'s output: Python objects, None where a part is missing
    assert all(map(pd.api.types.is_object_dtype, names.dtypes))
    assert names.values.tolist() == [["maria", "silva", None], ["ana", "souza", None],
                                     ["pedro", None, None], ["lima", "costa", None]]
    assert names.loc[4, "surname_2"] is None


def test_names_of_first_and_last_names_only_are_objects_with_none():
    names = standardise_names(pd.Series(["Ana", "José"]), pd.Series(["Souza", "Lima Costa"]),
                              pd.Series([None, None]))
    assert all(map(pd.api.types.is_object_dtype, names.dtypes))
    assert names.values.tolist() == [["ana", "souza", None], ["jose", "lima", "costa"]]
    assert names.loc[0, "surname_2"] is None


def test_cities_without_any_name_keep_the_index():
    result = canonical_cities(pd.Series([None, "123", "  "], index=SHUFFLED[:3]))
    assert result.index.equals(SHUFFLED[:3])
    assert result.dtype == object and result.isna().all()


def test_records_indexed_by_their_own_id_column_standardise_the_same():
    """A frame indexed by one of its columns (``set_index(..., drop=False)``): the index is
    dropped, never put back as a column (which would clash with the column of that name)."""
    records = _records({"first_name": "Ana", "last_name": "Souza", "phone": "(11) 98765-4321"},
                       {"full_name": "Zé Silva"})
    indexed = records.set_index("source_record_id", drop=False)
    expected = standardise(records)
    pd.testing.assert_frame_equal(standardise(indexed), expected)
    reused = standardise_reusing(indexed, None)
    pd.testing.assert_frame_equal(reused.drop(columns=INPUT_FINGERPRINT), expected.astype("str"))
    values = display_values(indexed, expected.set_index("source_record_id", drop=False))
    assert values.equals(display_values(records, expected))


# --- Phones: the vectorised path and the slow one -------------------------------------------

PLAIN = [  # numbers as typed, without trunk, carrier or international prefix
    ("(11) 98765-4321", "BR", "+5511987654321"),
    ("55 1234 5678", "MX", "+525512345678"),
    ("11 4567-8901", "AR", "+541145678901"),
    ("312 783 7656", "CO", "+573127837656"),
    ("9 4633 2248", "CL", "+56946332248"),
    ("985 799 849", "PE", "+51985799849"),
    ("(212) 419-1004", "US", "+12124191004"),
    ("+1 212 419 1004", None, "+12124191004"),  # calling codes of one, two and three digits
    ("+55 11 98765 4321", "MX", "+5511987654321"),
    ("+351 912 345 678", None, "+351912345678"),
    ("+598 94 231 234", "BR", "+59894231234"),
    ("", "BR", None),  # no digits: no number, nothing to parse
    ("   ", None, None),
    ("-", "BR", None),
    ("( )", None, None),
    (None, "MX", None),
]


def test_plain_numbers_are_read_without_the_slow_path(monkeypatch):
    """The vectorised path alone reads plain national and "+<code>" numbers of every market
    (the speed of ``standardise`` rests on it); the slow path would give the same numbers, so
    only its absence shows that the fast path did the work."""

    def slow(key):
        raise AssertionError(f"slow path for {key!r}")

    monkeypatch.setattr(std, "_parse_phone_key", slow)
    phones = pd.Series([raw for raw, _, _ in PLAIN], index=range(100, 100 + len(PLAIN)))
    countries = pd.Series([country for _, country, _ in PLAIN], index=phones.index)
    result = standardise_phone(phones, countries)
    assert [None if pd.isna(v) else v for v in result] == [e164 for _, _, e164 in PLAIN]
    # without countries: every number read in the default region
    plain_br = [raw for raw, country, _ in PLAIN if country in ("BR", None)]
    assert standardise_phone(pd.Series(plain_br)).tolist()[:4] == [
        "+5511987654321", "+12124191004", "+351912345678", "+59894231234"]


def test_a_number_the_fast_path_cannot_read_leaves_it_to_others(monkeypatch):
    # "+800" (an international freephone) has no region metadata: it alone goes the slow way,
    # and the numbers of the regions after it are still read in vectorised steps.
    parse_phone_key = std._parse_phone_key

    def only_the_freephone(key):
        assert "+800" in key, f"slow path for {key!r}"
        return parse_phone_key(key)

    monkeypatch.setattr(std, "_parse_phone_key", only_the_freephone)
    phones = pd.Series(["+800 1234 5678", "(11) 98765-4321", "+1 212 419 1004"])
    assert standardise_phone(phones).tolist() == ["+80012345678", "+5511987654321",
                                                  "+12124191004"]


@pytest.mark.parametrize(
    ("digits", "region"),
    [
        ("9043004619", "BR"),  # Brazil's collect-call "90"
        ("1220745821", "CL"),  # Chile's carrier selection "1xx" + "0"
        ("23921514093", "AR"),  # Argentina's area code + mobile "15"
        ("191400480", "PE"),  # Peru's "19xx00" international prefix
    ],
)
def test_numbers_that_begin_with_a_prefix_are_read_as_the_slow_path_reads_them(digits, region):
    """Digits of a possible length that begin with what the region's metadata strips as a
    prefix are not plain: pasting the calling code in front would be another number."""
    column = standardise_phone(pd.Series([digits]), pd.Series([region])).iloc[0]
    slow = std._parse_phone_key(f"{region}|{digits}")
    assert (None if pd.isna(column) else column) == slow
    assert slow != "+" + std._region_plan(region).country_code + digits


PREFIXED = [  # (raw, country, e164)
    # "00" + the country's own code is "+" before anything else: libphonenumber reads
    # Brazil's "0055" as a carrier code and Colombia's "005" as an international prefix
    ("0055 47 3225-0338", "BR", "+554732250338"),  # Joinville, not Norway's +47
    ("0055 47 3225-0338", None, "+554732250338"),
    ("0057 301 180 9601", "CO", "+573011809601"),  # Colombian mobile, not Russia's +7
    # any other "00" is "+" too
    ("00 1 212 419 1004", "BR", "+12124191004"),
    ("00 44 20 7946 0958", "BR", "+442079460958"),
    ("00 54 9 11 4567 8901", "CO", "+5491145678901"),  # the valid reading, not a possible one
    # Mexico's old mobile "1", also when the record's country is another one
    ("+52 1 33 3476 4634", "BR", "+523334764634"),
    ("0052 1 33 3476 4634", "BR", "+523334764634"),
    # a possible number with the old trunk "0" reads without it (no region here has
    # national numbers with a leading zero)
    ("09 1234 5678", "CL", "+56912345678"),
    # the record's country whatever its code: Kosovo's is "XK"
    ("044 123 456", "XK", "+38344123456"),
    # two distinct digits are a number; only one digit repeated is a placeholder
    ("(21) 2222-1212", "BR", "+552122221212"),
    ("021 2222-1212", "BR", "+552122221212"),
    ("011 11111-1111", "BR", None),
    # a record's own country is never second-guessed (the one-record path too)
    ("044 55 1234 5678", "BR", None),
]


def test_phone_readings_of_prefixed_numbers():
    records = [{"phone": raw, "country": country} for raw, country, _ in PREFIXED]
    assert _both_paths("phone_e164", *records) == [e164 for _, _, e164 in PREFIXED]


def test_records_without_country_are_read_in_the_given_default_region():
    records = _records({"phone": "55 1234 5678"}, {"phone": "55 1234 5678", "country": "BR"})
    assert standardise(records, "MX")["phone_e164"].tolist() == ["+525512345678",
                                                                 "+555512345678"]
    assert _both_paths("phone_e164", {"phone": "55 1234 5678"}, default_region="MX") == [
        "+525512345678"]
    # the changed records of a reusing run too
    reused = standardise_reusing(records, None, default_region="MX")
    assert reused["phone_e164"].tolist() == ["+525512345678", "+555512345678"]


# --- Names ----------------------------------------------------------------------------------


NAMES = [  # (fields, (given_name, surname_1, surname_2))
    # initials and particles are no name parts
    ({"full_name": "Maria J. Silva"}, ("maria", "silva", None)),
    ({"full_name": "Ana de los Santos"}, ("ana", "santos", None)),
    # a full name of four tokens: the given name and the last two (the surnames)
    ({"full_name": "Juan Carlos Garcia Lopez"}, ("juan", "garcia", "lopez")),
    ({"full_name": "Lopez, Juan Carlos"}, ("juan", "carlos", "lopez")),
    # only one part filled: read as a whole name
    ({"first_name": "Ana Souza"}, ("ana", "souza", None)),
    ({"last_name": "Souza Lima"}, ("souza", "lima", None)),
    ({"first_name": "Ana", "last_name": "da Silva"}, ("ana", "silva", None)),
]


def test_name_parts():
    rows = _standardised(*(fields for fields, _ in NAMES))
    assert [(row["given_name"], row["surname_1"], row["surname_2"]) for row in rows] == [
        parts for _, parts in NAMES]


def test_name_key_needs_both_the_given_name_and_a_surname():
    assert _both_paths("name_key", {"first_name": "Ana"}, {"last_name": "Souza"},
                       {"first_name": "Ana", "last_name": "Souza"}) == [None, None, "ana souza"]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("robert", "r163"), ("rupert", "r163"), ("smith", "s530"), ("lee", "l000"),
        ("ashcraft", "a261"),  # "h" does not separate the two codes 2 ("s", "c")
        ("tymczak", "t522"),  # a vowel does ("z" and "k" after "a")
        ("pfister", "p236"),  # the second letter has the first one's code
        ("jackson", "j250"), ("honeyman", "h555"),
        ("o'brien", "o165"),  # anything but letters is ignored
        ("", None), ("12", None),  # no letter, no code
    ],
)
def test_soundex_is_american_soundex(name, code):
    assert soundex(name) == code


@pytest.mark.parametrize(
    ("address", "word"),
    [
        ("7 wallaby place", "wallaby"),
        ("avenida paulista 1000", "paulista"),  # street types are skipped
        ("rua lima 12", "lima"),  # four letters are enough
        ("rua sao joao 5", "joao"),  # "sao": three are not
        ("calle 45 12 30", None),
    ],
)
def test_street_word_is_the_first_word_that_names_the_street(address, word):
    assert address_street_word(address) == word


# --- Addresses ------------------------------------------------------------------------------


ADDRESSES = [  # (address_line, address)
    ("Rua São João, 5", "rua sao joao 5"),  # accents removed
    ("Praça da Sé, n° 3", "praca da se 3"),
    ("Calle Mayor s/n", "calle mayor"),  # "sin número" is no number
    ("C/ Mayor 5", "calle mayor 5"),
    ("Rua das Flores 12, 1º andar", "rua das flores 12 1 andar"),  # "º" splits
    ("Av. Brasil nº 5", "avenida brasil 5"),
    ("s/n", None),  # nothing left: no address
    ("7", "7"),  # a lone number is an address
]


def test_address_rules():
    lines = [{"address_line": line} for line, _ in ADDRESSES]
    assert _both_paths("address", *lines) == [address for _, address in ADDRESSES]


# --- Birth dates ----------------------------------------------------------------------------


BIRTH_DATES = [  # (written, birth_date)
    ("1900-01-01", "1900-01-01"),  # the first plausible day
    ("01/01/1900", "1900-01-01"),
    ("1899-12-31", None),
    ("1980-05-04 00:00:00", "1980-05-04"),  # a datetime's date
    ("04/05/1980", "1980-05-04"),  # day first, written as YYYY-MM-DD
    ("04/05/1980 10:30", None),  # a time is read only after an ISO date
]


def test_birth_date_bounds_and_formats():
    dates = [{"birth_date": written} for written, _ in BIRTH_DATES]
    assert _both_paths("birth_date", *dates) == [date for _, date in BIRTH_DATES]


def test_a_birth_date_of_today_is_plausible_one_of_tomorrow_is_not(monkeypatch):
    today = datetime(2024, 5, 4)

    class Today(datetime):
        @classmethod
        def now(cls, tz=None):
            return cls(today.year, today.month, today.day)

    monkeypatch.setattr(pd.Timestamp, "now", classmethod(lambda cls, tz=None: cls(today)))
    monkeypatch.setattr(std, "datetime", Today)
    assert _both_paths("birth_date", {"birth_date": "2024-05-04"},
                       {"birth_date": "05/05/2024"}) == ["2024-05-04", None]


# --- Codes, countries, emails ---------------------------------------------------------------


def test_country_names_and_codes_as_typed():
    assert _both_paths("country", {"country": " br "}, {"country": "B.R."},
                       {"country": "Perú"}, {"country": "Atlantis"}) == ["BR", "BR", "PE", None]


def test_one_record_reads_values_that_are_not_text_as_their_text():
    # The front line passes what its callers send: numbers, missing keys, None.
    record = {"source": "frontline", "source_record_id": 42, "postcode": 1310100,
              "national_id": 12345678909, "first_name": None, "email": None}
    one = standardise_record(record)
    column = standardise(pd.DataFrame([record])).iloc[0].to_dict()
    assert one == column
    assert (one["unique_id"], one["postcode"], one["national_id"]) == (
        "frontline:42", "1310100", "12345678909")
    assert one["given_name"] is None and one["email"] is None and one["city"] is None


def test_one_record_without_source_has_no_unique_id():
    one = standardise_record({"first_name": "Ana"})
    assert one == standardise(pd.DataFrame([{"first_name": "Ana"}])).iloc[0].to_dict()
    assert (one["source"], one["source_record_id"], one["unique_id"]) == (None, None, None)


def test_blank_national_id_is_no_id():
    assert valid_national_ids(pd.Series(["      ", "\t\t\t\t\t", "12345678909"])).tolist() == [
        None, None, "12345678909"]


# --- Reusing the previous run ---------------------------------------------------------------


def test_reusing_keeps_the_input_order_when_new_records_come_first():
    before = _records({"first_name": "Ana", "last_name": "Souza"},
                      {"first_name": "Pepe", "last_name": "García"})
    previous = standardise_reusing(before, None)
    now = pd.concat([pd.DataFrame([{"source": "web", "source_record_id": "9",
                                    "first_name": "Zé", "last_name": "Silva"}]),
                     before.iloc[::-1]], ignore_index=True)
    now.loc[1, "last_name"] = "García López"  # changed: standardised again
    result = standardise_reusing(now, previous)
    assert result["unique_id"].tolist() == ["web:9", "erp:2", "erp:1"]
    assert result["given_name"].tolist() == ["jose", "jose", "ana"]
    assert pd.isna(result.loc[0, "surname_2"]) and result.loc[1, "surname_2"] == "lopez"


# --- Display values -------------------------------------------------------------------------


def test_display_values_of_records_with_only_some_columns():
    records = pd.DataFrame([{"source": "web", "source_record_id": "1", "first_name": "José"}])
    values = display_values(records, standardise(records))
    assert values.loc[0, "first_name"] == "José" and values.loc[0, "city"] is None


def test_display_values_refuse_rows_of_other_sources():
    records = _records({"first_name": "Ana"}, {"first_name": "Bia"})
    other = records.assign(source=["erp", "web"])  # same ids, another source in row 2
    with pytest.raises(ValueError,
                       match=r"^standardised rows do not match the records row for row$"):
        display_values(records, standardise(other))


def test_canonical_city_rules():
    # whitespace inside a spelling is collapsed
    assert canonical_cities(pd.Series(["Rio  de   Janeiro"])).tolist() == ["Rio de Janeiro"]
    # all upper and all lower case are equally poor: the more frequent wins
    assert set(canonical_cities(pd.Series(["CURITIBA", "curitiba", "CURITIBA"]))) == {
        "CURITIBA"}
    # a full tie goes to the first in code point order, whatever the row order
    for cities in (["São paulo", "São Paulo"], ["São Paulo", "São paulo"]):
        assert set(canonical_cities(pd.Series(cities))) == {"São Paulo"}


def test_standardise_email_keeps_only_what_looks_like_an_address():
    emails = pd.Series([" A@B.CO ", "a@b", None, "  "], index=SHUFFLED)
    assert standardise_email(emails).tolist() == ["a@b.co", pd.NA, pd.NA, pd.NA]
