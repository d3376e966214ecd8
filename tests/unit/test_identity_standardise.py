"""Standardisation makes the variants people and systems produce compare equal."""

from __future__ import annotations

import random

import pandas as pd
import phonenumbers
import pytest

from onetoone.stages.identity.standardise import (
    INPUT_COLUMNS,
    INPUT_FINGERPRINT,
    STANDARD_COLUMNS,
    _parse_phone_key,
    standardise,
    standardise_phone,
    standardise_record,
    standardise_reusing,
    standardise_version,
)


def _one(**fields: object) -> dict:
    row = standardise(pd.DataFrame([{"source": "erp", "source_record_id": "1", **fields}]))
    return row.iloc[0].to_dict()


@pytest.mark.parametrize(
    ("variant", "canonical"),
    [
        ("Pepe García", "José García"),
        ("Zé Silva", "José Silva"),
        ("Paco Núñez", "Francisco Nunez"),
        ("Pancho Nuñez", "francisco NUÑEZ"),
        ("Chico Souza", "Francisco Souza"),
        ("Lupe Hernández", "Guadalupe Hernandez"),
        ("Bill Smith", "William Smith"),
        ("  JOSÉ   garcía ", "José García"),
    ],
)
def test_nicknames_accents_and_case_standardise_equal(variant: str, canonical: str):
    def name_parts(full_name: str) -> tuple:
        record = _one(full_name=full_name)
        return record["given_name"], record["surname_1"], record["surname_2"]

    assert name_parts(variant) == name_parts(canonical)


def test_particles_dropped_and_double_surname_split():
    record = _one(first_name="María José", last_name="de la Cruz y Pérez")
    assert (record["given_name"], record["surname_1"], record["surname_2"]) == (
        "maria", "cruz", "perez",
    )  # fmt: skip
    assert record["name_key"] == "maria cruz"


def test_naive_full_name_split_agrees_with_erp_split():
    erp = _one(first_name="Juan Carlos", last_name="García López")
    callcenter = _one(first_name="Juan", last_name="Carlos García López")
    keys = ("given_name", "surname_1", "surname_2")
    assert [erp[k] for k in keys] == [callcenter[k] for k in keys] == ["juan", "garcia", "lopez"]


def test_full_name_only_and_comma_form():
    assert _one(full_name="Silva, Zé")["name_key"] == "jose silva"
    assert _one(full_name="Ana Souza Lima")["surname_2"] == "lima"


@pytest.mark.parametrize(
    ("raw", "country"),
    [
        ("(11) 98765-4321", "BR"),
        ("+55 11 98765 4321", None),
        ("11987654321", None),
        ("+55 (11) 98765-4321", "MX"),
        ("011 98765-4321", "BR"),
    ],
)
def test_phone_variants_standardise_equal(raw: str, country: str | None):
    assert _one(phone=raw, country=country)["phone_e164"] == "+5511987654321"


def test_phone_uses_record_country_then_default_region():
    mexican = _one(phone="55-1234-5678", country="MX")
    assert mexican["phone_e164"] == "+525512345678"
    assert mexican["phone_last8"] == "12345678"
    unknown = standardise_phone(pd.Series(["55-1234-5678"]), default_region="MX")
    assert unknown.iloc[0] == "+525512345678"
    assert _one(phone="0000-0000")["phone_e164"] is None
    assert _one(phone="123")["phone_e164"] is None


@pytest.mark.parametrize(
    ("raw", "country"),
    [
        ("(11) 11111-1111", "BR"),  # plain: the vectorised path
        ("+55 11 11111 1111", None),  # international: the vectorised path
        ("011 11111-1111", "BR"),  # trunk prefix: phonenumbers' path
        ("55-5555-5555", "MX"),
    ],
)
def test_phone_of_one_repeated_digit_is_a_placeholder_not_a_number(raw: str, country):
    # Placeholders typed to get past a form: as a key they would link strangers together.
    assert _one(phone=raw, country=country)["phone_e164"] is None


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        # Mexico: the pre-2019 mobile "1" and the 044/045 national mobile prefixes
        ("+52 1 33 3476 4634", "MX", "+523334764634"),
        ("+52 1 55 1234 5678", None, "+525512345678"),
        ("044 55 1234 5678", "MX", "+525512345678"),
        ("045 33 3476 4634", "MX", "+523334764634"),
        ("0052 1 55 1234 5678", "MX", "+525512345678"),
        # Argentina: trunk 0 and mobile 15, the international 9
        ("0261 15-456-7890", "AR", "+5492614567890"),
        ("(011) 15 4567-8901", "AR", "+5491145678901"),
        ("+54 9 11 4567-8901", "AR", "+5491145678901"),
        ("(011) 2126-4367", "AR", "+541121264367"),
        # Brazil: "00" + 55 read as a carrier code by libphonenumber; trunk 0 with the area
        ("0055 61 99383 4964", "BR", "+5561993834964"),
        ("0055 11 98765 4321", None, "+5511987654321"),
        ("086 4134-8762", "BR", "+558641348762"),
        # Chile: no trunk prefix since 2013, still written
        ("09 4633 2248", "CL", "+56946332248"),
        ("02 2633 4953", "CL", "+56226334953"),
        ("+56 9 4633 2248", "CL", "+56946332248"),
        # Colombia, Peru, United States as written locally
        ("312 783 7656", "CO", "+573127837656"),
        ("(601) 707 7977", "CO", "+576017077977"),
        ("(01) 752-5151", "PE", "+5117525151"),
        ("985 799 849", "PE", "+51985799849"),
        ("(212) 419-1004", "US", "+12124191004"),
        ("001 212 419 1004", "MX", "+12124191004"),
    ],
)
def test_phone_read_with_the_record_country(raw: str, country: str | None, e164: str):
    assert _one(phone=raw, country=country)["phone_e164"] == e164


def test_phone_without_country_falls_back_to_the_markets_when_impossible_in_the_default():
    # Impossible in Brazil: a Mexican mobile with the old 044, an Argentine one without "+".
    unknown = standardise_phone(pd.Series(["044 55 1234 5678", "54 9 11 4567-8901"]))
    assert unknown.tolist() == ["+525512345678", "+5491145678901"]
    # Possible in Brazil: the default region wins over a foreign reading.
    assert standardise_phone(pd.Series(["(11) 98765-4321"])).iloc[0] == "+5511987654321"
    # A record's own country is never second-guessed.
    assert _one(phone="044 55 1234 5678", country="BR")["phone_e164"] is None


def test_phone_fast_path_agrees_with_the_slow_path():
    rng = random.Random(3)
    samples = []
    for _ in range(5000):
        region = rng.choice(["BR", "MX", "AR", "CO", "CL", "PE", "US", None])
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(7, 13)))
        samples.append((rng.choice(["", "+", "0", "00"]) + digits, region))
    ours = standardise_phone(
        pd.Series([raw for raw, _ in samples]),
        pd.Series([region for _, region in samples], dtype="string[pyarrow]"),
    )
    for (raw, region), got in zip(samples, ours, strict=True):
        key = f"{region}|{raw}" if region else f"?BR|{raw}"
        assert (None if pd.isna(got) else got) == _parse_phone_key(key), (raw, region)


def test_phone_valid_as_typed_is_what_phonenumbers_reads():
    rng = random.Random(5)
    for _ in range(2000):
        region = rng.choice(["BR", "MX", "AR", "CO", "CL", "PE", "US"])
        raw = rng.choice(["", "+", "0"]) + "".join(
            rng.choice("0123456789") for _ in range(rng.randint(7, 13)))
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            expected = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            assert standardise_phone(pd.Series([raw]), pd.Series([region])).iloc[0] == expected


def test_email_postcode_address_national_id():
    record = _one(
        email="  Maria.Silva@Gmail.COM ",
        postcode="01310-100",
        address_line="Av. Paulista, nº 1.000, apto. 12",
        national_id="123.456.789-09",
        city="São Paulo",
        country="Brasil",
    )
    assert record["email"] == "maria.silva@gmail.com"
    assert record["email_local"] == "maria.silva"
    assert record["postcode"] == "01310100"
    assert record["address"] == "avenida paulista 1 000 apartamento 12"
    assert record["national_id"] == "12345678909"
    assert record["city"] == "sao paulo"
    assert record["country"] == "BR"
    assert _one(email="not an email")["email"] is None


@pytest.mark.parametrize(
    "variant",
    [
        "Avenida Paulista 1000",
        "AV PAULISTA, No. 1000",
        "Avda. Paulista #1000",
        "av. paulista n° 1000",
    ],
)
def test_address_variants_standardise_equal(variant: str):
    assert _one(address_line=variant)["address"] == "avenida paulista 1000"


def test_calle_abbreviations():
    assert _one(address_line="C/ Mayor, 5")["address"] == "calle mayor 5"
    assert _one(address_line="Cl. 45 # 12-30")["address"] == "calle 45 12 30"


@pytest.mark.parametrize(
    "written",
    ["1980-02-03", "1980-02-03T00:00:00", "19800203", "1980/02/03", "03/02/1980", "03-02-1980",
     "03.02.1980", " 1980-02-03 "],
)
def test_birth_date_formats_read_day_first(written):
    assert _one(birth_date=written)["birth_date"] == "1980-02-03"


@pytest.mark.parametrize("written", ["31/02/1980", "02/31/1980", "2999-01-01", "3 Feb 1980"])
def test_impossible_or_unknown_birth_dates_become_null(written):
    assert _one(birth_date=written)["birth_date"] is None


def test_birth_dates_and_nulls():
    frame = pd.DataFrame(
        {
            "source": ["web"] * 4,
            "source_record_id": list("abcd"),
            "birth_date": ["1980-02-03", "1800-01-01", "not a date", None],
        }
    )
    std = standardise(frame)
    assert std["birth_date"].tolist() == ["1980-02-03", None, None, None]
    assert list(std.columns) == STANDARD_COLUMNS
    assert std["unique_id"].tolist() == ["web:a", "web:b", "web:c", "web:d"]
    assert std.loc[3].drop(["unique_id", "source", "source_record_id"]).isna().all()


def test_reusing_standardises_only_new_and_changed_records():
    """Rows of unchanged input come from the previous result; new and changed ones are
    standardised now; deleted ones are gone. The whole equals a fresh ``standardise``."""
    before = pd.DataFrame([
        {"source": "erp", "source_record_id": "1", "first_name": "Pepe", "last_name": "García"},
        {"source": "erp", "source_record_id": "2", "first_name": "Ana", "last_name": "Souza",
         "phone": "(11) 98765-4321"},
        {"source": "web", "source_record_id": "3", "email": " Bia@Example.COM "},
    ])
    previous = standardise_reusing(before, None)
    pd.testing.assert_frame_equal(previous.drop(columns=INPUT_FINGERPRINT),
                                  standardise(before).astype("str"))
    # mark what a reused row looks like: only a row taken from ``previous`` keeps the mark
    previous.loc[previous["unique_id"] == "erp:1", "city"] = "reused"
    previous.loc[previous["unique_id"] == "erp:2", "city"] = "reused"
    now = pd.concat([before.iloc[[0, 1]], pd.DataFrame([
        {"source": "callcenter", "source_record_id": "9", "first_name": "Zé",
         "last_name": "Silva"}])], ignore_index=True)
    now.loc[1, "last_name"] = "Souza Lima"

    result = standardise_reusing(now, previous).set_index("unique_id")

    assert result.index.tolist() == ["erp:1", "erp:2", "callcenter:9"]
    assert result.loc["erp:1", "city"] == "reused"
    assert pd.isna(result.loc["erp:2", "city"]) and result.loc["erp:2", "surname_2"] == "lima"
    assert result.loc["callcenter:9", "given_name"] == "jose"
    fresh = standardise(now).astype("str").set_index("unique_id")
    pd.testing.assert_frame_equal(result.drop(columns=INPUT_FINGERPRINT).drop(index="erp:1"),
                                  fresh.drop(index="erp:1"))


def test_standardise_version_changes_with_the_phone_region():
    assert standardise_version("BR") != standardise_version("MX")
    assert standardise_version("BR") == standardise_version("BR")


# --- One record without pandas, as the front line's lookups standardise a contact -----------

ODD_RECORDS = [
    {"first_name": "María José", "last_name": "de la Cruz y Pérez", "birth_date": "12/04/1988",
     "phone": "(11) 98765-4321", "email": " Maria.Cruz@Example.COM ", "postcode": "01310-100"},
    {"first_name": "Pepe", "last_name": "Núñez", "phone": "044 55 1234 5678", "country": "MX"},
    {"full_name": "Silva, Ana Paula", "phone": "+54 9 11 2345-6789", "birth_date": "19880412"},
    {"first_name": "  ", "last_name": "Gonçalves", "full_name": "João Gonçalves",
     "phone": "0055 11 3456 7890", "birth_date": "1988-04-12 00:00:00"},
    {"first_name": "Ñandú", "last_name": "Ibáñez-Ruiz", "phone": "9 8765 4321", "country": "CL",
     "address_line": "Av. Libertador Bernardo O'Higgins nº 1.234, Depto 5", "city": "Santiago"},
    {"first_name": "STRASSE", "last_name": "Groß", "postcode": "straße 12", "national_id": "ß-0"},
    {"first_name": "İlkay", "email": "İLKAY@EXAMPLE.COM", "national_id": "000.000.000-00"},
    {"first_name": "Ana\u00a0Lucia", "last_name": "Souza\u2003Lima", "phone": "\u00a0",
     "email": "ana\u00a0@x.com", "address_line": "Rua\u00a0das Flores, 12\u2028 apto 3"},
    {"first_name": "Zoë", "phone": "１２３４５６７８", "birth_date": "31/02/1980",
     "country": "Brasil", "address_line": "c/Mayor s/n"},
    {"first_name": "12345", "last_name": "--", "phone": "1111111111", "birth_date": "1899-12-31",
     "email": "no-at-sign", "postcode": "00000", "national_id": "123456789"},
    {"first_name": "Chucho", "last_name": "O'Brien", "birth_date": "2999-01-01",
     "phone": "+1 (214) 279-9921", "country": "US", "city": "São Paulo - SP"},
    {"last_name": "Quintanilha Bezerra", "phone": "+5521999990000", "birth_date": "1.2.1990"},
    {"full_name": "Dr. Bill Smith Jr", "email": "a@b@c.com", "birth_date": "1990-13-01"},
    {"first_name": None, "last_name": float("nan"), "full_name": ""},
]


def _sample_records(tmp_path) -> pd.DataFrame:
    """The generator's raw values (ERP customers, call-center callers, web registrations) and
    the odd ones above, as source records."""
    import json

    from onetoone.generate import generate

    generate(tmp_path, 600, 7, days=30)
    erp = pd.read_csv(tmp_path / "erp" / "customers.csv", dtype=str, keep_default_na=False)
    erp = erp.rename(columns={"customer_id": "source_record_id", "tax_id": "national_id"})
    calls = pd.concat([pd.read_csv(path, dtype=str, keep_default_na=False, on_bad_lines="skip",
                                   encoding_errors="replace")
                       for path in sorted((tmp_path / "callcenter").glob("calls_*.csv"))])
    first, _, last = calls["caller_name"].str.partition(" ").T.to_numpy()
    callers = pd.DataFrame({"source_record_id": calls["call_id"].to_numpy(), "first_name": first,
                            "last_name": last, "full_name": calls["caller_name"].to_numpy(),
                            "phone": calls["phone"].to_numpy(),
                            "email": calls["email"].to_numpy()})
    events = [json.loads(line) for path in sorted((tmp_path / "web").glob("events_*.ndjson"))
              for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
              if '"registration"' in line or '"profile_update"' in line]
    web = pd.DataFrame([e for e in events if isinstance(e, dict)])
    web = web.rename(columns={"event_id": "source_record_id"})
    odd = pd.DataFrame(ODD_RECORDS).assign(source_record_id=[f"X{n}" for n in
                                                              range(len(ODD_RECORDS))])
    parts = [erp.assign(source="erp"), callers.assign(source="callcenter"),
             web.assign(source="web"), odd.assign(source="odd")]
    return pd.concat([p.reindex(columns=INPUT_COLUMNS) for p in parts], ignore_index=True)


def test_one_record_standardises_as_the_column_version_does(tmp_path):
    records = _sample_records(tmp_path)
    assert len(records) > 1000
    expected = standardise(records)
    for n, record in enumerate(records.to_dict("records")):
        assert standardise_record(record) == expected.iloc[n].to_dict(), record
    # the sample reaches every column with values and nulls alike
    assert all(expected[c].notna().any() and expected[c].isna().any()
               for c in STANDARD_COLUMNS if c not in ("unique_id", "source",
                                                      "source_record_id"))


def test_one_record_is_fast():
    import time

    record = dict(ODD_RECORDS[0], source="frontline", source_record_id="1")
    standardise_record(record)
    started = time.perf_counter()
    for _ in range(200):
        standardise_record(record)
    assert (time.perf_counter() - started) / 200 < 0.005  # pandas' version: tens of ms
