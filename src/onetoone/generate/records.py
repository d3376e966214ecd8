"""How a person looks in one source record: the true values passed through the habits and
slips of that system (legacy upper case, agents typing nicknames, users skipping fields)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from onetoone.generate import vocab
from onetoone.generate.population import PT, Population, name_tables
from onetoone.generate.text import (
    Strings,
    cat,
    grouped,
    strip_accents,
    take,
    where,
    where_apply,
    with_typos,
)


@dataclass(frozen=True)
class Dirt:
    """Per-record probabilities of each kind of variation in one source system."""

    nickname: float  # 'Pepe' for José
    first_given_only: float  # 'María' for María José
    one_surname: float  # 'Pérez' for Pérez García
    surname_order: float  # 'García Pérez' for Pérez García
    drop_particle: float  # 'Santos' for dos Santos
    swap: float  # first and last name exchanged
    strip_accents: float
    upper: float
    lower: float
    typo: float
    landline: float  # the household landline instead of the mobile
    phone_missing: float
    phone_styles: tuple[float, float, float, float, float]  # see vocab.PHONE_STYLES
    phone_typo: float
    email_missing: float
    email_messy: float  # upper case, capitalised, surrounding spaces


ERP_DIRT = Dirt(  # a legacy back office: upper case, abbreviations, formal names
    nickname=0.03, first_given_only=0.25, one_surname=0.3, surname_order=0.02,
    drop_particle=0.2, swap=0.02, strip_accents=0.35, upper=0.15, lower=0.0, typo=0.05,
    landline=0.3, phone_missing=0.08, phone_styles=(0.1, 0.5, 0.3, 0.05, 0.05), phone_typo=0.0,
    email_missing=0.12, email_messy=0.05)
CALLCENTER_DIRT = Dirt(  # agents type what they hear, fast
    nickname=0.12, first_given_only=0.4, one_surname=0.55, surname_order=0.05,
    drop_particle=0.4, swap=0.04, strip_accents=0.45, upper=0.05, lower=0.03, typo=0.08,
    landline=0.2, phone_missing=0.02, phone_styles=(0.15, 0.35, 0.4, 0.05, 0.05),
    phone_typo=0.02, email_missing=0.45, email_messy=0.08)
WEB_DIRT = Dirt(  # people fill in their own forms, on phones
    nickname=0.08, first_given_only=0.3, one_surname=0.45, surname_order=0.03,
    drop_particle=0.3, swap=0.03, strip_accents=0.25, upper=0.02, lower=0.1, typo=0.04,
    landline=0.08, phone_missing=0.3, phone_styles=(0.3, 0.3, 0.2, 0.15, 0.05), phone_typo=0.0,
    email_missing=0.0, email_messy=0.06)


@dataclass(frozen=True)
class Style:
    """Record-wide habits: a legacy record in upper case is upper case in every field."""

    strip_accents: np.ndarray
    upper: np.ndarray
    lower: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator, n: int, dirt: Dirt) -> Style:
        case = rng.random(n)
        return cls(rng.random(n) < dirt.strip_accents, case < dirt.upper,
                   (case >= dirt.upper) & (case < dirt.upper + dirt.lower))

    def apply(self, values: Strings) -> Strings:
        values = where_apply(self.strip_accents, values, strip_accents)
        values = where_apply(self.upper, values, pc.utf8_upper)
        return where_apply(self.lower, values, pc.utf8_lower)


def names(rng: np.random.Generator, pop: Population, person: np.ndarray, dirt: Dirt,
          style: Style) -> tuple[Strings, Strings]:
    """(first name, last name) as the record holds them."""
    t = name_tables()
    n = person.size
    u = rng.random((n, 9))
    given = pop.given[person]
    nick_count = t.nick_count[given]
    nick_index = t.nick_start[given] + (u[:, 0] * nick_count).astype(np.int64)
    nick = take(t.nicknames, np.minimum(nick_index, len(t.nicknames) - 1))
    first = where(u[:, 1] < dirt.first_given_only, take(t.given_first, given), take(t.given, given))
    first = where((u[:, 2] < dirt.nickname) & (nick_count > 0), nick, first)

    drop = u[:, 3] < dirt.drop_particle
    sur1, sur2 = pop.sur1[person], pop.sur2[person]
    two = sur2 >= 0
    sur2 = np.maximum(sur2, 0)  # placeholder where there is no second surname
    s1 = where(drop, take(t.surname_core, sur1), take(t.surname, sur1))
    s2 = where(drop, take(t.surname_core, sur2), take(t.surname, sur2))
    # Brazilians who keep one surname keep the last one; Spanish speakers the first.
    keep_second = (pop.lang[person] == PT) & (u[:, 4] < 0.8)
    one = where(keep_second & two, s2, s1)
    both = where(u[:, 8] < dirt.surname_order, cat(s2, " ", s1), cat(s1, " ", s2))
    last = where(two & (u[:, 5] >= dirt.one_surname), both, one)

    swap = u[:, 6] < dirt.swap
    first, last = where(swap, last, first), where(swap, first, last)
    first, last = style.apply(first), style.apply(last)
    typo = u[:, 7] < dirt.typo
    in_first = rng.random(n) < 0.4
    return with_typos(first, typo & in_first, rng), with_typos(last, typo & ~in_first, rng)


def full_name(first: Strings, last: Strings, rng: np.random.Generator, last_first: float
              ) -> Strings:
    """One name field; some systems (and agents) write 'GARCIA, JOSE'."""
    flipped = rng.random(len(first)) < last_first
    return where(flipped, cat(last, ", ", first), cat(first, " ", last))


def phones(rng: np.random.Generator, pop: Population, person: np.ndarray, at: np.ndarray,
           dirt: Dirt) -> Strings:
    """A phone number of the person in one of the local ways of writing it."""
    n = person.size
    home = pop.home_at(person, at)
    mobile_sub = take(pop.mobile_sub, person)
    has_mobile = pc.is_valid(mobile_sub).to_numpy(zero_copy_only=False)
    has_landline = pc.is_valid(home.landline_sub).to_numpy(zero_copy_only=False)
    landline = has_landline & ((rng.random(n) < dirt.landline) | ~has_mobile)
    area = where(landline, home.landline_area, take(pop.mobile_area, person))
    sub = where(landline, home.landline_sub, mobile_sub)
    if dirt.phone_typo:
        sub = with_typos(sub, rng.random(n) < dirt.phone_typo, rng)
    style = rng.choice(len(vocab.PHONE_STYLES), size=n, p=np.array(dirt.phone_styles))
    country = pop.country[person]
    key = (country * 2 + landline) * len(vocab.PHONE_STYLES) + style

    def render(k: int, rows: np.ndarray) -> tuple[Strings]:
        c, rest = divmod(k, 2 * len(vocab.PHONE_STYLES))
        kind, s = divmod(rest, len(vocab.PHONE_STYLES))
        template = vocab.PHONE_TEMPLATES[(vocab.COUNTRIES[c].code,
                                          "landline" if kind else "mobile")][s]
        pick = pa.array(rows)
        return (format_phone(template, pc.take(area, pick), pc.take(sub, pick)),)

    out = grouped(key, render)[0]
    return where(rng.random(n) < dirt.phone_missing, pa.nulls(n, pa.string()), out)


def format_phone(template: str, area: Strings, sub: Strings) -> Strings:
    """Fill a vocab.PHONE_TEMPLATES template: {a} area, {s} number, {h}/{t} its head and last
    four digits, {s:i:j} a slice."""
    parts: list[Strings | str] = []
    for i, chunk in enumerate(template.replace("}", "{").split("{")):
        if i % 2 == 0:
            if chunk:
                parts.append(chunk)
        elif chunk == "a":
            parts.append(area)
        elif chunk == "s":
            parts.append(sub)
        elif chunk == "h":
            parts.append(pc.utf8_slice_codeunits(sub, 0, -4))
        elif chunk == "t":
            parts.append(pc.utf8_slice_codeunits(sub, -4))
        else:
            _, lo, hi = chunk.split(":")
            parts.append(pc.utf8_slice_codeunits(sub, int(lo), int(hi)))
    return cat(*parts)


def emails(rng: np.random.Generator, pop: Population, person: np.ndarray, at: np.ndarray,
           dirt: Dirt) -> Strings:
    """The address the person used at that time, sometimes typed carelessly."""
    n = person.size
    email = pop.email_at(person, at)
    u = rng.random(n)
    messy = rng.random(n) < dirt.email_messy
    email = where(messy & (u < 0.3), pc.utf8_upper(email), email)
    email = where(messy & (u >= 0.3) & (u < 0.6), pc.utf8_capitalize(email), email)
    email = where(messy & (u >= 0.6) & (u < 0.85), cat(" ", email, " "), email)
    # Gmail ignores dots, so people leave them out or add them as they please.
    gmail_dots = messy & (u >= 0.85) & pc.ends_with(email, "@gmail.com").to_numpy(
        zero_copy_only=False)
    parts = pc.split_pattern(email, "@")
    undotted = cat(pc.replace_substring(pc.list_element(parts, 0), ".", ""), "@",
                   pc.list_element(parts, 1))
    email = where(gmail_dots, undotted, email)
    return where(rng.random(n) < dirt.email_missing, pa.nulls(n, pa.string()), email)
