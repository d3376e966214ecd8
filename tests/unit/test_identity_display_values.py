"""The golden record's candidate values: identity's standardised values, with names and cities
kept readable (accents and case) and one spelling per city."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from onetoone.stages.identity.standardise import (
    DISPLAY_COLUMNS,
    canonical_cities,
    display_names,
    display_values,
    standardise,
    standardise_reusing,
    valid_national_ids,
)


def test_canonical_city_prefers_accented_mixed_case_spelling_over_more_frequent_ones():
    cities = pd.Series(["BOGOTA", "BOGOTA", "BOGOTA", "Bogota", "bogotá", "Bogotá", "CURITIBA",
                        "curitiba", "Curitiba", "SÃO  PAULO", "São Paulo", "sao paulo"])
    assert canonical_cities(cities).tolist() == [
        "Bogotá", "Bogotá", "Bogotá", "Bogotá", "Bogotá", "Bogotá", "Curitiba", "Curitiba",
        "Curitiba", "São Paulo", "São Paulo", "São Paulo"]


def test_canonical_city_frequency_decides_between_equally_informative_spellings():
    cities = pd.Series(["Rio de Janeiro", "Rio De Janeiro", "Rio De Janeiro", "RIO DE JANEIRO"])
    assert set(canonical_cities(cities)) == {"Rio De Janeiro"}


def test_canonical_city_ties_do_not_depend_on_row_order():
    spellings = ["Medellin", "MedellIn", "medellin", "MEDELLIN", "Medellín", "MEDELLÍN"] * 3
    results = set()
    for seed in range(5):
        shuffled = spellings[:]
        random.Random(seed).shuffle(shuffled)
        results |= set(canonical_cities(pd.Series(shuffled)))
    # "MedellIn" and "Medellín" are both mixed case; only the accented one keeps the accent.
    assert results == {"Medellín"}


def test_canonical_city_keeps_distinct_cities_apart_and_drops_non_names():
    cities = pd.Series(["Santiago", "Santiago de Cali", None, "  ", "12345", "León", "Leon"],
                       index=[10, 11, 12, 13, 14, 15, 16])
    result = canonical_cities(cities)
    assert result.index.tolist() == [10, 11, 12, 13, 14, 15, 16]
    assert result.tolist() == ["Santiago", "Santiago de Cali", None, None, None, "León", "León"]


def test_display_names_keep_accents_and_case_and_reject_non_names():
    names = pd.Series(["  José  da Silva ", "MARÍA", "Ñuño", "12345", "--", "", None])
    assert display_names(names).tolist() == ["José da Silva", "MARÍA", "Ñuño", None, None, None,
                                             None]


def test_valid_national_ids_drop_short_repeated_and_counting_placeholders():
    codes = pd.Series(["12345678909", "1234", "AAAAAA", "123456789", "0123456789", None, "X1234"])
    assert valid_national_ids(codes).tolist() == ["12345678909", None, None, None, None, None,
                                                  "X1234"]


def _records() -> pd.DataFrame:
    return pd.DataFrame([
        {"source": "erp", "source_record_id": "1", "first_name": " José ", "last_name": "da  Silva",
         "email": " Jose.Silva@Example.COM ", "phone": "(11) 98765-4321", "country": "BR",
         "city": "SAO PAULO", "postcode": "01310-100", "national_id": "123.456.789-09",
         "birth_date": "03/02/1985", "address_line": "Av. Paulista, nº 900"},
        {"source": "callcenter", "source_record_id": "C9", "first_name": "12345",
         "last_name": "Silva", "email": "jose@example", "phone": "00000000", "city": "São Paulo",
         "postcode": "00000", "national_id": "123456789", "birth_date": "1850-01-01"},
        {"source": "web", "source_record_id": "w7", "first_name": None, "last_name": None,
         "email": None, "phone": "+351 912 345 678", "city": "são paulo", "postcode": None,
         "national_id": None, "birth_date": None},
    ])


def test_display_values_use_the_standardised_values_and_readable_names():
    records = _records()
    values = display_values(records, standardise(records))
    assert values.columns.tolist() == DISPLAY_COLUMNS
    assert values.to_dict("records") == [
        {"source": "erp", "source_record_id": "1", "first_name": "José", "last_name": "da Silva",
         "birth_date": "1985-02-03", "email": "jose.silva@example.com", "phone": "+5511987654321",
         "city": "São Paulo", "postcode": "01310100", "national_id": "12345678909",
         # households group by the matching forms of the address and surnames
         "address": "avenida paulista 900", "surname_1": "silva", "surname_2": None},
        # a placeholder phone and postcode, an email without domain suffix, a birth date before
        # 1900, a counting-sequence id and an all-digits name are no values
        {"source": "callcenter", "source_record_id": "C9", "first_name": None,
         "last_name": "Silva", "birth_date": None, "email": None, "phone": None,
         "city": "São Paulo", "postcode": None, "national_id": None, "address": None,
         # matching reads a lone name part as the given name: no surname
         "surname_1": None, "surname_2": None},
        {"source": "web", "source_record_id": "w7", "first_name": None, "last_name": None,
         "birth_date": None, "email": None, "phone": "+351912345678", "city": "São Paulo",
         "postcode": None, "national_id": None, "address": None, "surname_1": None,
         "surname_2": None},
    ]


def test_display_values_accept_standardise_reusing_output():
    records = _records()
    reused = standardise_reusing(records, None)
    assert display_values(records, reused).equals(display_values(records, standardise(records)))


def test_display_values_refuse_rows_that_do_not_line_up():
    records = _records()
    with pytest.raises(ValueError, match="row for row"):
        display_values(records, standardise(records.iloc[::-1]))
