"""The true population: people, households, homes, contact details and latent behaviour.

Everything the source systems later show (with their own dirt) derives from these true
values, and the ground truth is the person and household each source record came from.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from onetoone.generate import vocab
from onetoone.generate.period import Period
from onetoone.generate.text import (
    Strings,
    cat,
    grouped,
    numbers,
    strings,
    strip_accents,
    take,
    where,
)

NEVER = np.int64(2**62)  # "no such event" time, later than any period end
ES, PT, EN = 0, 1, 2
MALE, FEMALE = 0, 1
SINGLE, HEAD, SPOUSE, CHILD, SIBLING = range(5)


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _zipf(n: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return weights / weights.sum()


@dataclass(frozen=True)
class NameTables:
    """The name vocabularies flattened into arrays that records index into."""

    given: Strings
    given_first: Strings  # first part of a compound name: 'María José' -> 'María'
    given_email: Strings  # lower-case ASCII first part, for e-mail addresses
    given_groups: dict[tuple[int, int], tuple[int, np.ndarray]]  # (lang, sex) -> offset, p
    nick_start: np.ndarray
    nick_count: np.ndarray
    nicknames: Strings
    surname: Strings
    surname_core: Strings  # without particle: 'dos Santos' -> 'Santos'
    surname_email: Strings  # lower-case ASCII core without spaces
    surname_groups: dict[int, tuple[int, np.ndarray]]


@cache
def name_tables() -> NameTables:
    given, groups, nick_start, nick_count, nicks = [], {}, [], [], []
    for lang_i, lang in enumerate(vocab.LANGUAGES):
        for sex_i, sex in enumerate(("M", "F")):
            names = vocab.GIVEN_NAMES[(lang, sex)]
            groups[(lang_i, sex_i)] = (len(given), _zipf(len(names), 0.7))
            for name in names:
                own = vocab.NICKNAMES.get(name) or vocab.NICKNAMES.get(name.split(" ")[0], [])
                nick_start.append(len(nicks))
                nick_count.append(len(own))
                nicks.extend(own)
                given.append(name)
    surnames, surname_groups = [], {}
    for lang_i, lang in enumerate(vocab.LANGUAGES):
        names = vocab.SURNAMES[lang]
        surname_groups[lang_i] = (len(surnames), _zipf(len(names), 0.8 if lang == "pt" else 0.6))
        surnames.extend(names)
    cores = [vocab.drop_particle(s) for s in surnames]
    return NameTables(
        given=strings(given),
        given_first=strings([g.split(" ")[0] for g in given]),
        given_email=strings([_ascii(g.split(" ")[0]).lower() for g in given]),
        given_groups=groups,
        nick_start=np.array(nick_start),
        nick_count=np.array(nick_count),
        nicknames=strings(nicks or [""]),
        surname=strings(surnames),
        surname_core=strings(cores),
        surname_email=strings([_ascii(c).lower().replace(" ", "").replace("'", "")
                               for c in cores]),
        surname_groups=surname_groups,
    )


@dataclass(frozen=True)
class Homes:
    """Addresses (one row per household home) with the household landline."""

    city: np.ndarray
    address: Strings  # long form: 'Avenida Paulista, 1500 - Apto 42'
    address_short: Strings  # abbreviated: 'Av. Paulista, 1500, ap. 42'
    address_bare: Strings  # without the apartment
    postcode: Strings
    postcode_plain: Strings  # as legacy systems keep it: no dash, no letter, no leading zero
    landline_area: Strings
    landline_sub: Strings  # null: no landline

    def take(self, index: np.ndarray) -> Homes:
        return Homes(self.city[index], *(take(getattr(self, f), index) for f in (
            "address", "address_short", "address_bare", "postcode", "postcode_plain",
            "landline_area", "landline_sub")))


@dataclass(frozen=True)
class Population:
    """One row per true person; arrays are aligned by person index."""

    person_id: Strings
    household_id: Strings
    household: np.ndarray
    role: np.ndarray
    country: np.ndarray  # index into vocab.COUNTRIES
    lang: np.ndarray
    sex: np.ndarray
    given: np.ndarray  # index into NameTables.given
    sur1: np.ndarray  # index into NameTables.surname
    sur2: np.ndarray  # -1: a single surname
    birth_day: np.ndarray  # days since the period start (negative)
    old_home: Homes  # before the household moved (or the only home)
    new_home: Homes
    moved_at: np.ndarray
    mobile_area: Strings
    mobile_sub: Strings  # null: no mobile phone
    old_email: Strings
    new_email: Strings
    email_changed_at: np.ndarray
    tax_id: Strings  # formatted national id (CPF, RFC, cédula, CUIT, RUT, DNI); null in US
    tax_id_plain: Strings
    needs: np.ndarray  # (n, 3) favourite category indices, -1 padded
    in_erp: np.ndarray
    in_callcenter: np.ndarray
    in_web: np.ndarray
    extra_erp: np.ndarray  # duplicate records inside each system
    extra_callcenter: np.ndarray
    extra_web: np.ndarray
    purchase_rate: np.ndarray  # BG/NBD lambda, orders per day while alive
    dropout: np.ndarray  # BG/NBD p, chance to churn after each order
    spend_rate: np.ndarray  # Gamma-Gamma nu: order value ~ Gamma(p, 1/nu)
    call_rate: np.ndarray  # extra calls per day
    grumpiness: np.ndarray  # drives complaints and call frequency
    session_rate: np.ndarray  # web sessions per day while active
    web_lifetime: np.ndarray  # days the account stays active

    @property
    def n(self) -> int:
        return len(self.role)

    def home_at(self, index: np.ndarray, at: np.ndarray) -> Homes:
        """The home of each given person as it was at the given time."""
        moved = at >= self.moved_at[index]
        old, new = self.old_home.take(index), self.new_home.take(index)
        return Homes(np.where(moved, new.city, old.city), *(
            where(moved, getattr(new, f), getattr(old, f)) for f in (
                "address", "address_short", "address_bare", "postcode", "postcode_plain",
                "landline_area", "landline_sub")))

    def email_at(self, index: np.ndarray, at: np.ndarray) -> Strings:
        changed = at >= self.email_changed_at[index]
        return where(changed, take(self.new_email, index), take(self.old_email, index))


CITY_COUNTRY = np.array([[c.code for c in vocab.COUNTRIES].index(city.country)
                         for city in vocab.CITIES])
_AR_PROVINCE_LETTER = {"CABA": "C", "Buenos Aires": "B", "Córdoba": "X", "Santa Fe": "S",
                       "Mendoza": "M", "Tucumán": "T", "Salta": "A", "Neuquén": "Q"}


def _choose_cities(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    weights = np.array([c.weight for c in vocab.CITIES])
    city = np.empty(country.size, dtype=np.int64)
    for c in range(len(vocab.COUNTRIES)):
        rows = np.flatnonzero(country == c)
        options = np.flatnonzero(c == CITY_COUNTRY)
        p = weights[options] / weights[options].sum()
        city[rows] = rng.choice(options, size=rows.size, p=p)
    return city


def _digits(rng: np.random.Generator, n: int, width: int, first: tuple[int, int]) -> Strings:
    """Random subscriber numbers of `width` digits whose first digit is in [first)."""
    lead = rng.integers(*first, size=n)
    rest = rng.integers(0, 10 ** (width - 1), size=n)
    return cat(numbers(lead), numbers(rest, width - 1))


def _phone_numbers(rng: np.random.Generator, city: np.ndarray, kind: str
                   ) -> tuple[Strings, Strings]:
    """(area code, subscriber number) in each country's numbering plan."""
    def render(c: int, rows: np.ndarray) -> tuple[Strings, Strings]:
        code, n = vocab.COUNTRIES[c].code, rows.size
        area = take([c.area for c in vocab.CITIES], city[rows])
        area_len = pc.utf8_length(area).to_numpy()
        if kind == "mobile":
            if code == "BR":
                return area, cat("9", _digits(rng, n, 8, (6, 10)))
            if code == "CO":
                prefixes = ["300", "301", "302", "304", "305", "310", "311", "312", "313", "314",
                            "315", "316", "317", "318", "319", "320", "321", "322", "323", "350"]
                prefix = take(prefixes, rng.integers(0, len(prefixes), n))
                return prefix, _digits(rng, n, 7, (2, 10))
            if code == "CL":
                return strings(["9"] * n), _digits(rng, n, 8, (3, 10))
            if code == "PE":
                return strings([""] * n), cat("9", _digits(rng, n, 8, (1, 10)))
        if code == "BR":
            return area, _digits(rng, n, 8, (2, 6))
        if code == "CO":
            return area, _digits(rng, n, 7, (2, 9))
        if code == "CL":
            # Santiago numbers are 2 + 8 digits, the regions 2 digits + 7.
            return area, grouped(area_len, lambda k, r: (_digits(rng, r.size, 9 - k, (2, 10)),))[0]
        if code == "PE":
            return area, grouped(area_len, lambda k, r: (_digits(rng, r.size, 8 - k, (2, 8)),))[0]
        if code == "US":
            return area, _digits(rng, n, 7, (2, 10))
        # MX and AR: ten digits together with the area code
        return area, grouped(area_len, lambda k, r: (_digits(rng, r.size, 10 - k, (2, 7)),))[0]
    return grouped(CITY_COUNTRY[city], render, outputs=2)


def _homes(rng: np.random.Generator, city: np.ndarray, landline_share: np.ndarray) -> Homes:
    """Render an address per home in the local format of its country."""
    n = city.size
    has_unit = rng.random(n) < 0.45
    number = np.where(rng.random(n) < 0.7, rng.integers(1, 2000, n), rng.integers(1, 9000, n))
    unit = rng.integers(1, 25, n) * 100 + rng.integers(1, 9, n)

    def render(c: int, rows: np.ndarray) -> tuple[Strings, Strings, Strings]:
        code, k = vocab.COUNTRIES[c].code, rows.size
        types = vocab.STREET_TYPES[code]
        t = rng.choice(len(types), size=k, p=vocab.STREET_TYPE_WEIGHTS[code])
        long_type, short_type = take([x[0] for x in types], t), take([x[1] for x in types], t)
        num, apt, with_unit = numbers(number[rows]), numbers(unit[rows]), has_unit[rows]
        if code == "CO":
            street = cat(numbers(rng.integers(1, 170, k)),
                         take(["", "", "", "A", "B", " Bis"], rng.integers(0, 6, k)))
            place = cat(" ", street, " # ", numbers(rng.integers(1, 120, k)), "-",
                        numbers(rng.integers(1, 99, k)))
            bare, short = cat(long_type, place), cat(short_type, place)
            return (where(with_unit, cat(bare, " Apto ", apt), bare),
                    where(with_unit, cat(short, " Ap ", apt), short), bare)
        names = vocab.STREET_NAMES[code]
        name = take(names, rng.choice(len(names), size=k, p=_zipf(len(names), 0.5)))
        if code == "US":
            bare, short = cat(num, " ", name, " ", long_type), cat(num, " ", name, " ", short_type)
            return (where(with_unit, cat(bare, " Apt ", apt), bare),
                    where(with_unit, cat(short, " #", apt), short), bare)
        if code == "BR":
            bare = cat(long_type, " ", name, ", ", num)
            short = cat(short_type, " ", name, ", ", num)
            return (where(with_unit, cat(bare, " - Apto ", apt), bare),
                    where(with_unit, cat(short, ", ap. ", apt), short), bare)
        bare, short = cat(long_type, " ", name, " ", num), cat(short_type, " ", name, " ", num)
        if code == "MX":
            colonia = take(vocab.COLONIAS, rng.integers(0, len(vocab.COLONIAS), k))
            return (cat(where(with_unit, cat(bare, " Int. ", apt), bare), ", Col. ", colonia),
                    cat(where(with_unit, cat(short, "-", apt), short), " Col. ", colonia), bare)
        if code == "AR":
            floor = numbers(rng.integers(1, 16, k))
            door = take(list("ABCDEF"), rng.integers(0, 6, k))
            return (where(with_unit, cat(bare, ", Piso ", floor, " Dpto ", door), bare),
                    where(with_unit, cat(short, " ", floor, "°", door), short), bare)
        unit_word = {"CL": (", Depto ", " Dpto "), "PE": (", Dpto. ", " Dpto ")}[code]
        return (where(with_unit, cat(bare, unit_word[0], apt), bare),
                where(with_unit, cat(short, unit_word[1], apt), short), bare)

    address, short, bare = grouped(CITY_COUNTRY[city], render, outputs=3)
    postcode, plain = _postcodes(rng, city)
    area, sub = _phone_numbers(rng, city, "landline")
    sub = where(rng.random(n) < landline_share, sub, pa.nulls(n, pa.string()))
    return Homes(city, address, short, bare, postcode, plain, area, sub)


def _postcodes(rng: np.random.Generator, city: np.ndarray) -> tuple[Strings, Strings]:
    lo = np.array([c.postcode_lo for c in vocab.CITIES])[city]
    hi = np.array([c.postcode_hi for c in vocab.CITIES])[city]
    value = lo + (rng.random(city.size) * (hi - lo + 1)).astype(np.int64)
    letter = pc.fill_null(take([_AR_PROVINCE_LETTER.get(c.region) for c in vocab.CITIES],
                               city), "B")

    def render(c: int, rows: np.ndarray) -> tuple[Strings, Strings]:
        code, v = vocab.COUNTRIES[c].code, value[rows]
        if code == "BR":
            digits = numbers(v, 8)
            return (cat(pc.utf8_slice_codeunits(digits, 0, 5), "-",
                        pc.utf8_slice_codeunits(digits, 5, 8)), digits)
        if code == "AR":
            return cat(pc.take(letter, pa.array(rows)), numbers(v, 4)), numbers(v, 4)
        width = {"MX": 5, "CO": 6, "CL": 7, "PE": 5, "US": 5}[code]
        return numbers(v, width), numbers(v)

    return grouped(CITY_COUNTRY[city], render, outputs=2)


def _pick_homes(mask: np.ndarray, a: Homes, b: Homes) -> Homes:
    return Homes(np.where(mask, a.city, b.city), *(where(mask, getattr(a, f), getattr(b, f))
                 for f in ("address", "address_short", "address_bare", "postcode",
                           "postcode_plain", "landline_area", "landline_sub")))


def _household_sizes(rng: np.random.Generator, n: int) -> np.ndarray:
    """About a fifth of the people live in households of 2-5; the rest alone."""
    target = round(0.2 * n)
    multi = rng.choice([2, 3, 4, 5], size=target // 2 + 1, p=[0.42, 0.28, 0.2, 0.1])
    multi = multi[np.cumsum(multi) <= target]
    return rng.permutation(np.concatenate([multi, np.ones(n - multi.sum(), dtype=np.int64)]))


def _ages(rng: np.random.Generator, role: np.ndarray, head: np.ndarray, size: np.ndarray
          ) -> np.ndarray:
    n = role.size
    age = 18 + 67 * rng.beta(2, 3.2, n)
    head_age = np.where(size >= 3, 40 + 35 * rng.beta(2, 2.5, n), 22 + 60 * rng.beta(2, 2.5, n))
    age = np.where(role == HEAD, head_age, age)
    age = np.where(role == SPOUSE, age[head] + rng.normal(-2, 4, n), age)
    child_gap = 20 + rng.random(n) * (np.minimum(38, age[head] - 16) - 20)
    age = np.where(role == CHILD, age[head] - child_gap, age)
    sibling_age = 18 + 30 * rng.beta(2, 2, n)
    age = np.where(role == SIBLING, sibling_age[head] + rng.uniform(-7, 7, n), age)
    # nobody under 16 (no piling up on one birthday either)
    return np.where(age < 16, 16 + rng.uniform(0, 4, n), age)


def _draw(rng: np.random.Generator, groups: dict, key: np.ndarray | tuple[np.ndarray, ...]
          ) -> np.ndarray:
    """Draw vocabulary indices per group (language, or language and sex) by frequency."""
    keys = np.stack(key, axis=1) if isinstance(key, tuple) else key[:, None]
    out = np.zeros(len(keys), dtype=np.int64)
    for group, (offset, p) in groups.items():
        group = group if isinstance(group, tuple) else (group,)
        rows = np.flatnonzero((keys == np.array(group)).all(axis=1))
        out[rows] = offset + rng.choice(p.size, size=rows.size, p=p)
    return out


def _emails(rng: np.random.Generator, given: np.ndarray, family: np.ndarray, first: np.ndarray,
            second: np.ndarray, birth_year: np.ndarray, country: np.ndarray) -> Strings:
    """Addresses derived from the name the way people pick them: jose.garcia, jgarcia,
    josegarcia84, garcia.jose, ... at the free-mail domains of their country."""
    t = name_tables()
    n = given.size
    g, s = take(t.given_email, given), take(t.surname_email, family)
    s1, s2 = take(t.surname_email, first), take(t.surname_email, np.maximum(second, 0))
    pattern = rng.choice(9, size=n, p=[.24, .15, .05, .1, .1, .12, .05, .11, .08])

    def local(k: int, rows: np.ndarray) -> tuple[Strings]:
        pick = pa.array(rows)
        g_, s_ = pc.take(g, pick), pc.take(s, pick)
        year = birth_year[rows]
        if k == 8:  # both surnames where there are two
            return (where(second[rows] >= 0, cat(g_, ".", pc.take(s1, pick), ".",
                                                 pc.take(s2, pick)), cat(g_, ".", s_)),)
        if k == 0:
            return (cat(g_, ".", s_),)
        if k == 1:
            return (cat(g_, s_),)
        if k == 2:
            return (cat(g_, "_", s_),)
        if k == 3:
            return (cat(pc.utf8_slice_codeunits(g_, 0, 1), s_),)
        if k == 4:
            return (cat(g_, ".", s_, numbers(year % 100, 2)),)
        if k == 5:
            return (cat(g_, s_, numbers(rng.integers(1, 100, rows.size))),)
        if k == 6:
            return (cat(s_, ".", g_),)
        return (cat(g_, numbers(year)),)

    def domain(c: int, rows: np.ndarray) -> tuple[Strings]:
        domains = vocab.EMAIL_DOMAINS[vocab.COUNTRIES[c].code]
        p = np.array([share for _, share in domains])
        return (take([d for d, _ in domains], rng.choice(len(domains), size=rows.size, p=p)),)

    return _unique(rng, cat(grouped(pattern, local)[0], "@", grouped(country, domain)[0]))


def _unique(rng: np.random.Generator, emails: Strings, taken: Strings | None = None) -> Strings:
    """Mail providers do not hand out an address twice: add digits until unique."""
    for _ in range(20):
        codes = pc.dictionary_encode(emails).indices.to_numpy()
        dup = np.ones(codes.size, dtype=bool)
        dup[np.unique(codes, return_index=True)[1]] = False
        if taken is not None:
            dup = dup | pc.is_in(emails, value_set=taken).to_numpy(zero_copy_only=False)
        if not dup.any():
            return emails
        parts = pc.split_pattern(emails, "@")
        numbered = cat(pc.list_element(parts, 0), numbers(rng.integers(1, 1000, len(emails))),
                       "@", pc.list_element(parts, 1))
        emails = where(dup, numbered, emails)
    raise RuntimeError("could not make e-mail addresses unique")


def _dotted(digits: Strings) -> Strings:
    """'12345678' -> '12.345.678' (thousands grouping used for RUT and cédula)."""
    slice_ = pc.utf8_slice_codeunits
    return cat(slice_(digits, 0, -6), ".", slice_(digits, -6, -3), ".", slice_(digits, -3))


def _digit_matrix(values: np.ndarray, width: int) -> np.ndarray:
    return (values[:, None] // 10 ** np.arange(width - 1, -1, -1)) % 10


def _tax_ids(rng: np.random.Generator, country: np.ndarray, sex: np.ndarray,
             birth: Strings, given: Strings, sur1: Strings, sur2: Strings
             ) -> tuple[Strings, Strings]:
    """National ids in their usual printed form and as kept by legacy systems; check digits
    are valid (CPF, CUIT, RUT) and the Mexican RFC is built from the name and birth date."""
    def render(c: int, rows: np.ndarray) -> tuple[Strings, Strings]:
        code, k = vocab.COUNTRIES[c].code, rows.size
        slice_ = pc.utf8_slice_codeunits
        if code == "BR":  # CPF: 9 digits and two mod-11 check digits
            d = _digit_matrix(rng.integers(0, 10**9, k), 9)
            c1 = (d @ np.arange(10, 1, -1)) * 10 % 11 % 10
            c2 = (np.column_stack([d, c1]) @ np.arange(11, 1, -1)) * 10 % 11 % 10
            plain = numbers((d @ 10 ** np.arange(8, -1, -1)) * 100 + c1 * 10 + c2, 11)
            return (cat(slice_(plain, 0, 3), ".", slice_(plain, 3, 6), ".", slice_(plain, 6, 9),
                        "-", slice_(plain, 9, 11)), plain)
        if code == "MX":  # RFC: name letters + YYMMDD + homoclave
            def upper(values: Strings) -> Strings:
                core = pc.utf8_upper(strip_accents(values))
                for particle in ("DE LA ", "DE LOS ", "DEL ", "DE "):
                    core = pc.replace_substring_regex(core, f"^{particle}", "")
                return pc.replace_substring(core, " ", "")
            last = upper(pc.take(sur1, pa.array(rows)))
            vowel = pc.struct_field(pc.extract_regex(slice_(last, 1, 40), "(?P<v>[AEIOU])"), 0)
            mother = slice_(pc.fill_null(upper(pc.take(sur2, pa.array(rows))), "X"), 0, 1)
            born = pc.replace_substring(slice_(pc.take(birth, pa.array(rows)), 2, 10), "-", "")
            alnum = list("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789")
            tail = cat(*(take(alnum, rng.integers(0, len(alnum), k)) for _ in range(3)))
            rfc = cat(slice_(last, 0, 1), pc.fill_null(vowel, "X"), mother,
                      slice_(upper(pc.take(given, pa.array(rows))), 0, 1), born, tail)
            return rfc, rfc
        if code == "CO":  # cédula de ciudadanía
            plain = numbers(rng.integers(10_000_000, 1_110_000_000, k))
            return _dotted(plain), plain
        if code == "AR":  # CUIT: 20/27, the DNI and a mod-11 check digit
            prefix = np.where(sex[rows] == MALE, 20, 27)
            dni = rng.integers(10_000_000, 45_000_000, k)
            d = _digit_matrix(prefix * 10**8 + dni, 10)
            check = 11 - (d @ np.array([5, 4, 3, 2, 7, 6, 5, 4, 3, 2])) % 11
            check = np.where(check == 11, 0, np.where(check == 10, 9, check))
            p, n_, c_ = numbers(prefix), numbers(dni), numbers(check)
            return cat(p, "-", n_, "-", c_), cat(p, n_, c_)
        if code == "CL":  # RUT with its mod-11 verifier (K for 10)
            body = rng.integers(5_000_000, 26_000_000, k)
            d = _digit_matrix(body, 8)[:, ::-1]
            check = 11 - (d @ np.array([2, 3, 4, 5, 6, 7, 2, 3])) % 11
            dv = take(list("0123456789K0"), np.where(check == 11, 0, check))
            plain = numbers(body)
            return cat(_dotted(plain), "-", dv), cat(plain, "-", dv)
        if code == "PE":  # DNI
            dni = numbers(rng.integers(10_000_000, 90_000_000, k), 8)
            return dni, dni
        none = pa.nulls(k, pa.string())
        return none, none

    return grouped(country, render, outputs=2)


def _needs(rng: np.random.Generator, n: int) -> np.ndarray:
    """One to three favourite categories per person, popular categories more often."""
    interest = np.array([c.interest for c in vocab.CATEGORIES])
    keys = np.log(interest) + rng.gumbel(size=(n, interest.size))
    favourite = np.argsort(-keys, axis=1)[:, :3]
    count = rng.choice([1, 2, 3], size=n, p=[0.4, 0.4, 0.2])
    return np.where(np.arange(3) < count[:, None], favourite, -1)


def _memberships(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """~70% ERP, ~50% call center, ~60% web, and everyone in at least one system."""
    erp, cc, web = (rng.random(n) < p for p in (0.68, 0.48, 0.58))
    nowhere = ~(erp | cc | web)
    pick = rng.choice(3, size=n, p=[0.45, 0.2, 0.35])
    return (erp | (nowhere & (pick == 0)), cc | (nowhere & (pick == 1)),
            web | (nowhere & (pick == 2)))


def _extra_records(rng: np.random.Generator, member: np.ndarray) -> np.ndarray:
    """Duplicate records inside one system: ~7% of its people have a second, a few a third."""
    u = rng.random(member.size)
    return np.where(member, (u < 0.075).astype(np.int64) + (u < 0.01), 0)


def build_population(rng: np.random.Generator, n: int, period: Period) -> Population:
    t = name_tables()
    sizes = _household_sizes(rng, n)
    n_households = sizes.size
    household = np.repeat(np.arange(n_households), sizes)
    starts = np.cumsum(sizes) - sizes
    head = starts[household]
    position = np.arange(n) - head
    size = sizes[household]
    family = (rng.random(n_households) < 0.85)[household]
    role = np.select([size == 1, ~family, position == 0, position == 1],
                     [SINGLE, SIBLING, HEAD, SPOUSE], CHILD)
    spouse = np.where(size >= 2, head + 1, head)

    countries = vocab.COUNTRIES
    country_weight = np.array([c.weight for c in countries])
    hh_country = rng.choice(len(countries), size=n_households,
                            p=country_weight / country_weight.sum())
    language_share = np.cumsum(np.array([c.languages for c in countries])[hh_country], axis=1)
    hh_lang = (rng.random(n_households)[:, None] > language_share).sum(axis=1)
    country, lang = hh_country[household], np.minimum(hh_lang[household], EN)

    sex = (rng.random(n) < 0.5).astype(np.int64)
    sex = np.where(role == HEAD, (rng.random(n) < 0.28).astype(np.int64), sex)
    sex = np.where(role == SPOUSE, np.where(rng.random(n) < 0.97, 1 - sex[head], sex[head]), sex)
    birth_day = (period.days - 1 - np.round(_ages(rng, role, head, size) * 365.25)).astype(np.int64)

    switch = rng.random(n) < 0.05
    given_lang = np.where(switch, np.where(lang == EN, ES, EN), lang)
    given = _draw(rng, t.given_groups, (given_lang, sex))
    father = np.where(sex[head] == MALE, head, spouse)
    mother = np.where(father == head, spouse, head)
    junior = (role == CHILD) & (sex == MALE) & (sex[father] == MALE) & (rng.random(n) < 0.06)
    given = np.where(junior, given[father], given)

    sur1 = _draw(rng, t.surname_groups, lang)
    sur2 = np.where((lang == EN) | ((lang == PT) & (rng.random(n) < 0.15)), -1,
                    _draw(rng, t.surname_groups, lang))
    # Children: Spanish father's + mother's first surname; Brazilian mother's + father's last.
    last = np.where(sur2 >= 0, sur2, sur1)
    child = role == CHILD
    sur1, sur2 = (np.where(child & (lang == ES), sur1[father],
                           np.where(child & (lang == PT), last[mother],
                                    np.where(child, sur1[father], sur1))),
                  np.where(child & (lang == ES), sur1[mother],
                           np.where(child & (lang == PT), last[father], sur2)))
    wife = (sex == FEMALE) & ((role == SPOUSE) | (role == HEAD) & (size >= 2) & family)
    husband_of = np.where(role == SPOUSE, head, spouse)
    adopt = wife & (sex[husband_of] == MALE) & (rng.random(n) < np.where(lang == EN, 0.7, 0.45))
    sur2 = np.where(adopt & (lang == PT), last[husband_of], sur2)
    sur1 = np.where(adopt & (lang == EN), sur1[husband_of], sur1)
    sibling = role == SIBLING
    sur1, sur2 = np.where(sibling, sur1[head], sur1), np.where(sibling, sur2[head], sur2)

    hh_city = _choose_cities(rng, hh_country)
    us = hh_country == [c.code for c in countries].index("US")
    landline_share = np.where(sizes >= 2, 0.55, 0.25) + np.where(us, 0.05, 0)
    old_homes = _homes(rng, hh_city, landline_share)
    moved = rng.random(n_households) < 0.12
    new_city = np.where(rng.random(n_households) < 0.6, hh_city, _choose_cities(rng, hh_country))
    new_homes = _pick_homes(moved, _homes(rng, new_city, landline_share), old_homes)
    hh_moved_at = np.where(moved, rng.integers(int(0.1 * period.seconds),
                                               int(0.95 * period.seconds), n_households), NEVER)

    mobile_area, mobile_sub = _phone_numbers(rng, hh_city[household], "mobile")
    mobile_sub = where(rng.random(n) < 0.93, mobile_sub, pa.nulls(n, pa.string()))

    birth = np.datetime64(period.start, "D") + birth_day
    birth_year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    family_name = np.where((lang == PT) & (sur2 >= 0), sur2, sur1)
    old_email = _emails(rng, given, family_name, sur1, sur2, birth_year, country)
    shared = (role != SINGLE) & (role != HEAD) & (rng.random(n) < 0.04)
    old_email = where(shared, take(old_email, head), old_email)
    email_changed = rng.random(n) < 0.10
    new_email = _unique(rng, _emails(rng, given, family_name, sur1, sur2, birth_year, country),
                        old_email)
    new_email = where(email_changed, new_email, old_email)
    email_changed_at = np.where(email_changed, rng.integers(0, period.seconds, n), NEVER)

    given_s, sur1_s = take(t.given, given), take(t.surname, sur1)
    sur2_s = where(sur2 >= 0, take(t.surname, np.maximum(sur2, 0)), pa.nulls(n, pa.string()))
    tax_id, tax_id_plain = _tax_ids(rng, country, sex, period.format_dates(birth_day), given_s,
                                    sur1_s, sur2_s)

    in_erp, in_cc, in_web = _memberships(rng, n)
    grumpiness = rng.beta(1.2, 6, n)
    return Population(
        person_id=cat("P", numbers(np.arange(1, n + 1), 7)),
        household_id=cat("H", numbers(household + 1, 7)),
        household=household, role=role, country=country, lang=lang, sex=sex, given=given,
        sur1=sur1, sur2=sur2, birth_day=birth_day,
        old_home=old_homes.take(household), new_home=new_homes.take(household),
        moved_at=hh_moved_at[household],
        mobile_area=mobile_area, mobile_sub=mobile_sub,
        old_email=old_email, new_email=new_email, email_changed_at=email_changed_at,
        tax_id=tax_id, tax_id_plain=tax_id_plain, needs=_needs(rng, n),
        in_erp=in_erp, in_callcenter=in_cc, in_web=in_web,
        extra_erp=_extra_records(rng, in_erp), extra_callcenter=_extra_records(rng, in_cc),
        extra_web=_extra_records(rng, in_web),
        purchase_rate=np.minimum(rng.gamma(0.7, (3.0 / 365) / 0.7, n), 0.25),
        dropout=rng.beta(1.0, 3.0, n),
        spend_rate=rng.gamma(3.0, 1 / 40, n),
        call_rate=rng.gamma(0.6, (1.5 / 365) / 0.6, n) * (1 + 4 * grumpiness),
        grumpiness=grumpiness,
        session_rate=rng.gamma(0.8, (6.0 / 365) / 0.8, n),
        web_lifetime=rng.exponential(420, n),
    )
