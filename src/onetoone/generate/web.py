"""Web extract: one NDJSON file of events per (UTC) day.

Accounts register with a profile, come back in sessions (login, page views in their
favourite categories), sign up for the newsletter, redeem coupons on their ERP web orders,
change consents and update their profile after moving or changing e-mail address.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from onetoone.generate import vocab
from onetoone.generate.erp import WEB, Orders, broken_count
from onetoone.generate.output import DailyLines
from onetoone.generate.period import DAY, Period, hour_profile
from onetoone.generate.population import NEVER, Population
from onetoone.generate.records import WEB_DIRT, Style, emails, names, phones
from onetoone.generate.text import (
    Strings,
    cat,
    hex_tokens,
    ids,
    json_member,
    json_value,
    numbers,
    strings,
    take,
    uuid4s,
    where,
    where_apply,
)

BROKEN_KINDS = ("not_json", "truncated_json", "bad_occurred_at", "missing_event_id")
# A customer who leaves stops visiting within this many days of their last purchase.
LEAVING_DAYS = 60
BROWSING_HOURS = hour_profile([(13, 2.0, 0.8), (21, 2.0, 1.4)], lo=0, hi=24)
CONSENT_CHANNELS = ("email", "phone", "sms", "whatsapp")
NOT_JSON = ("<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            "ERROR upstream timed out (110: Connection timed out) while reading response",
            "event_type=page_view&account_id=&session_id=",
            "{event_type: 'login', source: 'app'}")
# names and ISO codes of cities, for the registration form
CITY_NAMES = [c.name for c in vocab.CITIES]
COUNTRY_CODES = [c.code for c in vocab.COUNTRIES]


@dataclass(frozen=True)
class WebExtract:
    daily: DailyLines
    account_id: Strings
    account_person: np.ndarray
    broken: dict[str, int]


@dataclass
class _Events:
    """Events of one type before serialisation; extra holds the type's JSON members."""

    event_type: str
    at: np.ndarray
    country: np.ndarray  # decides the UTC offset of occurred_at
    account: Strings  # JSON literal of account_id (may be 'null')
    session: Strings
    extra: Strings
    protected: bool = False  # registrations are never corrupted (ground truth relies on them)


def build_web(rng: np.random.Generator, pop: Population, period: Period, orders: Orders,
              product_id: Strings, product_category: np.ndarray, broken_share: float
              ) -> WebExtract:
    person = np.flatnonzero(pop.in_web)
    n_accounts = 1 + pop.extra_web[person]
    owner = person[np.repeat(np.arange(person.size), n_accounts)]
    rank = np.arange(owner.size) - np.searchsorted(owner, owner, side="left")
    country = pop.country[owner]
    # Most buyers register just before their first order; the others whenever they like.
    first_order_day = np.full(pop.n, period.days)
    np.minimum.at(first_order_day, orders.person, orders.at // DAY)
    signup_day = period.pick_days(rng, period.shopping_demand(), person.size)
    before_order = (first_order_day[person] < period.days) & (rng.random(person.size) < 0.6)
    signup_day = np.where(before_order, np.maximum(
        first_order_day[person] - rng.integers(0, 3, person.size), 0), signup_day)
    first_day = np.repeat(signup_day, n_accounts)
    later_day = first_day + (rng.random(owner.size) * (period.days - first_day)).astype(np.int64)
    day = np.where(rank == 0, first_day, later_day)
    created = np.clip(period.local_times(rng, day, country, BROWSING_HOURS), 0,
                      period.seconds - 1)
    account_no = np.empty(owner.size, dtype=np.int64)
    account_no[np.lexsort((owner, created))] = np.arange(1, owner.size + 1)
    account_id = ids("W", account_no, 6)
    account_json = json_value(account_id)

    blocks = [_registrations(rng, pop, owner, rank, created, account_json, period)]
    blocks += _sessions(rng, pop, owner, created, account_json, period, orders.left_at,
                        product_id, product_category)
    blocks += _newsletter_and_consents(rng, pop, owner, created, account_json, period)
    blocks += _profile_updates(rng, pop, owner, created, account_json, period)
    blocks.append(_coupons(rng, pop, owner, created, account_json, orders, period))
    lines, day, broken = _serialise(rng, blocks, period, broken_share)
    return WebExtract(DailyLines("", lines, day), account_id, owner, broken)


def _registrations(rng: np.random.Generator, pop: Population, owner: np.ndarray,
                   rank: np.ndarray, created: np.ndarray, account: Strings, period: Period
                   ) -> _Events:
    n = owner.size
    style = Style.draw(rng, n, WEB_DIRT)
    first, last = names(rng, pop, owner, WEB_DIRT, style)
    email = emails(rng, pop, owner, created, WEB_DIRT)
    # A second account needs another address: the same one with digits, elsewhere.
    parts = pc.split_pattern(pc.utf8_trim_whitespace(email), "@")
    other = cat(pc.list_element(parts, 0), numbers(rng.integers(1, 100, n)), "@",
                take(["gmail.com", "hotmail.com", "outlook.com"], rng.integers(0, 3, n)))
    email = where(rank > 0, other, email)
    birth = period.format_dates(pop.birth_day[owner])
    birth = where(rng.random(n) < 0.3, pa.nulls(n, pa.string()), birth)
    home = pop.home_at(owner, created)
    city = style.apply(take(CITY_NAMES, home.city))
    extra = cat(json_member("email", email), json_member("first_name", first),
                json_member("last_name", last),
                json_member("phone", phones(rng, pop, owner, created, WEB_DIRT)),
                json_member("birth_date", birth), json_member("city", city),
                json_member("country", take(COUNTRY_CODES, pop.country[owner])))
    return _Events("registration", created, pop.country[owner], account,
                   hex_tokens(rng, n, 12), extra, protected=True)


def _sessions(rng: np.random.Generator, pop: Population, owner: np.ndarray, created: np.ndarray,
              account: Strings, period: Period, left_at: np.ndarray, product_id: Strings,
              product_category: np.ndarray) -> list[_Events]:
    """Visits while the account is in use: a login, then one or more page views; plus
    anonymous visitors. A customer who left the shop (`left_at`, per person) stops visiting
    within LEAVING_DAYS of the purchase after which they left (docs/generated-customers.md)."""
    gone = left_at[owner] + (rng.random(owner.size) * LEAVING_DAYS * DAY).astype(np.int64)
    active_until = np.minimum(np.minimum(period.seconds, gone),
                              created + pop.web_lifetime[owner] * DAY)
    active_days = np.maximum(active_until - created, 0) / DAY
    n_sessions = rng.poisson(pop.session_rate[owner] * active_days)
    session_account = np.repeat(np.arange(owner.size), n_sessions)
    span = active_until[session_account] - created[session_account]
    start_day = (created[session_account] + rng.random(span.size) * span) // DAY
    country = pop.country[owner[session_account]]
    start = np.maximum(period.local_times(rng, start_day.astype(np.int64), country, BROWSING_HOURS),
                       created[session_account] + 60)
    token = hex_tokens(rng, start.size, 12)
    n_views = np.minimum(rng.geometric(0.4, start.size), 12)
    login = rng.random(start.size) < 0.7
    session_json = pc.take(account, pa.array(session_account))
    logins = pa.array(np.flatnonzero(login))
    blocks = [_Events("login", start[login], country[login], pc.take(session_json, logins),
                      pc.take(token, logins), strings([""] * len(logins)))]
    view_session = np.repeat(np.arange(start.size), n_views)
    needs = pop.needs[owner[session_account[view_session]]]
    blocks.append(_page_views(rng, view_session, start, country, session_json, token, needs,
                              product_id, product_category, period))

    # anonymous visitors browse too: about one view in six has no account
    n_anonymous = max(1, view_session.size // 6) if view_session.size else 0
    anon_sessions = max(1, n_anonymous // 2) if n_anonymous else 0
    weight = np.array([c.weight for c in vocab.COUNTRIES])
    anon_country = rng.choice(weight.size, size=anon_sessions, p=weight / weight.sum())
    anon_start = period.local_times(rng, rng.integers(0, period.days, anon_sessions),
                                    anon_country, BROWSING_HOURS)
    anon_view = np.sort(rng.integers(0, max(anon_sessions, 1), n_anonymous))
    blocks.append(_page_views(rng, anon_view, anon_start, anon_country,
                              strings(["null"] * anon_sessions), hex_tokens(rng, anon_sessions, 12),
                              np.full((n_anonymous, 3), -1), product_id, product_category,
                              period))
    return blocks


def _page_views(rng: np.random.Generator, view_session: np.ndarray, start: np.ndarray,
                country: np.ndarray, account: Strings, token: Strings, needs: np.ndarray,
                product_id: Strings, product_category: np.ndarray, period: Period) -> _Events:
    n = view_session.size
    step = rng.exponential(50, n).astype(np.int64) + 5
    first_of_session = np.searchsorted(view_session, view_session, side="left")
    cumulative = np.cumsum(step)
    at = start[view_session] + cumulative - cumulative[first_of_session] + step[first_of_session]
    n_needs = (needs >= 0).sum(axis=1)
    favourite = needs[np.arange(n), (rng.random(n) * np.maximum(n_needs, 1)).astype(np.int64)]
    interest = np.array([c.interest for c in vocab.CATEGORIES])
    other = rng.choice(interest.size, size=n, p=interest / interest.sum())
    category = np.where((n_needs > 0) & (rng.random(n) < 0.75), favourite, other)
    by_category = np.argsort(product_category, kind="stable")
    first = np.searchsorted(product_category[by_category], category, side="left")
    count = np.searchsorted(product_category[by_category], category, side="right") - first
    product = by_category[first + (rng.random(n) * count).astype(np.int64)]
    category_name = take([c.name for c in vocab.CATEGORIES], category)
    url = cat("/", category_name, "/p/", pc.utf8_lower(take(product_id, product)))
    url = where(rng.random(n) < 0.2, cat("/", category_name), url)
    pick = pa.array(view_session)
    return _Events("page_view", np.minimum(at, period.seconds - 1), country[view_session],
                   pc.take(account, pick), pc.take(token, pick),
                   cat(json_member("page_category", category_name), json_member("url", url)))


def _newsletter_and_consents(rng: np.random.Generator, pop: Population, owner: np.ndarray,
                             created: np.ndarray, account: Strings, period: Period
                             ) -> list[_Events]:
    n = owner.size
    signs = np.flatnonzero(rng.random(n) < 0.3)
    at = np.minimum(created[signs] + rng.integers(0, 60 * DAY, signs.size), period.seconds - 1)
    email = emails(rng, pop, owner[signs], at, WEB_DIRT)
    newsletter = _Events("newsletter_signup", at, pop.country[owner[signs]],
                         pc.take(account, pa.array(signs)), hex_tokens(rng, signs.size, 12),
                         json_member("email", email))

    changers = np.flatnonzero(rng.random(n) < 0.25)
    changers = np.repeat(changers, rng.integers(1, 3, changers.size))
    span = period.seconds - created[changers]
    at = created[changers] + (rng.random(changers.size) * span).astype(np.int64)
    channel = rng.choice(len(CONSENT_CHANNELS), size=changers.size, p=[0.4, 0.2, 0.15, 0.25])
    whatsapp = channel == CONSENT_CHANNELS.index("whatsapp")
    granted = rng.random(changers.size) < np.where(whatsapp, 0.7, 0.25)
    consent = _Events("consent_change", at, pop.country[owner[changers]],
                      pc.take(account, pa.array(changers)), hex_tokens(rng, changers.size, 12),
                      cat(json_member("channel", take(CONSENT_CHANNELS, channel)),
                          json_member("granted", take(["false", "true"], granted.astype(int)),
                                      raw=True)))
    return [newsletter, consent]


def _profile_updates(rng: np.random.Generator, pop: Population, owner: np.ndarray,
                     created: np.ndarray, account: Strings, period: Period) -> list[_Events]:
    """Most people who move or change e-mail address tell the shop, some weeks later."""
    blocks = []
    for change in ("moved", "email"):
        when = pop.moved_at[owner] if change == "moved" else pop.email_changed_at[owner]
        rows = np.flatnonzero((when > created) & (when < NEVER) & (rng.random(owner.size) < 0.6))
        at = np.minimum(when[rows] + rng.integers(0, 30 * DAY, rows.size), period.seconds - 1)
        who = owner[rows]
        if change == "moved":
            home = pop.home_at(who, at)
            extra = cat(json_member("city", take(CITY_NAMES, home.city)),
                        json_member("country", take(COUNTRY_CODES, pop.country[who])))
            with_phone = rng.random(rows.size) < 0.3
            phone = where(with_phone, phones(rng, pop, who, at, WEB_DIRT), pa.nulls(rows.size,
                                                                                   pa.string()))
            extra = cat(extra, json_member("phone", phone))
        else:
            extra = json_member("email", emails(rng, pop, who, at, WEB_DIRT))
        blocks.append(_Events("profile_update", at, pop.country[who],
                              pc.take(account, pa.array(rows)), hex_tokens(rng, rows.size, 12),
                              extra))
    return blocks


def _coupons(rng: np.random.Generator, pop: Population, owner: np.ndarray, created: np.ndarray,
             account: Strings, orders: Orders, period: Period) -> _Events:
    """Coupons redeemed on web orders (order_id set), plus some redeemed without an order
    reaching the ERP (order_id null)."""
    used = np.flatnonzero(orders.coupon & (orders.channel == WEB) & pop.in_web[orders.person])
    # the person's newest account that existed when ordering
    by_owner = np.lexsort((created, owner))
    lo = np.searchsorted(owner[by_owner], orders.person[used], side="left")
    hi = np.searchsorted(owner[by_owner], orders.person[used], side="right")
    choice = np.full(used.size, -1)
    for k in range(int((hi - lo).max(initial=0))):
        slot = lo + k
        ok = (slot < hi) & (created[by_owner[np.minimum(slot, by_owner.size - 1)]]
                            <= orders.at[used])
        choice = np.where(ok, by_owner[np.minimum(slot, by_owner.size - 1)], choice)
    used, choice = used[choice >= 0], choice[choice >= 0]
    n_loose = used.size // 6
    loose = rng.integers(0, owner.size, n_loose) if owner.size else np.zeros(0, np.int64)
    account_row = np.concatenate([choice, loose])
    at = np.concatenate([orders.at[used] - rng.integers(10, 300, used.size),
                         created[loose] + (rng.random(n_loose) *
                                           (period.seconds - created[loose])).astype(np.int64)])
    order_id = pa.concat_arrays([pc.take(orders.order_id, pa.array(used)).cast(pa.string()),
                                 pa.nulls(n_loose, pa.string())])
    code = take(vocab.COUPON_CODES, rng.integers(0, len(vocab.COUPON_CODES), account_row.size))
    return _Events("coupon_redemption", np.maximum(at, created[account_row]),
                   pop.country[owner[account_row]], pc.take(account, pa.array(account_row)),
                   hex_tokens(rng, account_row.size, 12),
                   cat(json_member("coupon_code", code),
                       cat(',"order_id":', json_value(order_id))))


def _serialise(rng: np.random.Generator, blocks: list[_Events], period: Period,
               broken_share: float) -> tuple[Strings, np.ndarray, dict[str, int]]:
    """JSON lines sorted by time, with the broken ones mixed in."""
    at = np.clip(np.concatenate([b.at for b in blocks]), 0, period.seconds - 1)
    country = np.concatenate([b.country for b in blocks])
    protected = np.concatenate([np.full(b.at.size, b.protected) for b in blocks])
    n = at.size
    offset = period.utc_offset_hours(country, at)
    zone = cat(take(["-", "+"], (offset >= 0).astype(int)), numbers(np.abs(offset), 2), ":00")
    occurred = cat(period.format(at, sep="T", offset_hours=offset), ".",
                   numbers(rng.integers(0, 1000, n), 3), zone)
    per_kind = broken_count(broken_share, n, len(BROKEN_KINDS))
    victims = rng.permutation(np.flatnonzero(~protected))[:3 * per_kind]
    truncated, bad_time, no_id = np.array_split(victims, 3) if victims.size else [victims] * 3
    occurred = where_apply(_mask(n, bad_time), occurred, lambda v: _mangle_time(rng, v))
    event_id = where_apply(_mask(n, no_id), cat('{"event_id":"', uuid4s(rng, n), '",'),
                           lambda v: strings(["{"] * len(v)))

    # One line per event, block by block; ids, tokens and timestamps need no JSON escaping.
    parts, start = [], 0
    for b in blocks:
        k = b.at.size
        parts.append(cat(event_id.slice(start, k), f'"event_type":"{b.event_type}","occurred_at":"',
                         occurred.slice(start, k), '","account_id":', b.account,
                         ',"session_id":"', b.session, '"', b.extra, "}\n").cast(pa.string()))
        start += k
    lines = pa.concat_arrays(parts)
    lines = where_apply(_mask(n, truncated), lines, lambda v: _truncate(rng, v))

    # Lines that are not JSON at all (from a proxy or a logger in between) at random times;
    # then everything in time order.
    garbage_at = rng.integers(0, period.seconds, per_kind)
    garbage = cat(take(NOT_JSON, rng.integers(0, len(NOT_JSON), per_kind)), "\n")
    all_at = np.concatenate([at, garbage_at])
    order = np.lexsort((np.arange(all_at.size), all_at))
    lines = pc.take(pa.concat_arrays([lines, garbage.cast(pa.string())]), pa.array(order))
    broken = {"not_json": int(per_kind), "truncated_json": int(truncated.size),
              "bad_occurred_at": int(bad_time.size), "missing_event_id": int(no_id.size)}
    return lines, all_at[order] // DAY, broken


def _mask(n: int, rows: np.ndarray) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return mask


def _mangle_time(rng: np.random.Generator, occurred: Strings) -> Strings:
    """Timestamps no ISO 8601 parser accepts: day-first, month 13, empty, 'NaN'."""
    s = pc.utf8_slice_codeunits
    variant = rng.integers(0, 4, len(occurred))
    return where(variant == 0, cat(s(occurred, 8, 10), "/", s(occurred, 5, 7), "/",
                                   s(occurred, 0, 4), " ", s(occurred, 11, 19)),
                 where(variant == 1, cat(s(occurred, 0, 5), "13", s(occurred, 7, 40)),
                       where(variant == 2, "", "NaN")))


def _truncate(rng: np.random.Generator, lines: Strings) -> Strings:
    """Cut lines somewhere between a third and nine tenths of their length (a partial write);
    a prefix of a JSON object is never valid JSON."""
    return strings([line[:int(len(line) * (0.3 + 0.6 * u))] + "\n"
                    for line, u in zip(lines.to_pylist(), rng.random(len(lines)), strict=True)])
