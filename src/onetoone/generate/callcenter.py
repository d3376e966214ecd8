"""Call-center extract: one CSV of calls per day, with the CRM's own contact ids.

People call about their orders (delivery, returns, billing) shortly after buying and about
products in their favourite categories; grumpy people complain more, call more often and
rate the service lower. An order that went wrong and that the buyer complained about gets a
complaint call a few days later, resolved when the ERP says it was put right
(docs/generated-customers.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from onetoone.generate import vocab
from onetoone.generate.erp import RETURNED, Orders, broken_count
from onetoone.generate.output import DailyLines
from onetoone.generate.period import DAY, Period, hour_profile, times_in_days
from onetoone.generate.population import Population
from onetoone.generate.records import CALLCENTER_DIRT, Style, emails, full_name, names, phones
from onetoone.generate.text import (
    Strings,
    cat,
    csv_field,
    csv_lines,
    ids,
    numbers,
    replace_rows,
    take,
    where,
)

COLUMNS = ("call_id", "called_at", "contact_id", "caller_name", "phone", "email", "reason",
           "duration_seconds", "satisfaction", "is_complaint", "resolution", "agent_id")
REASONS = ("billing", "delivery", "product_info", "returns", "technical_support", "complaint",
           "cancellation", "other")
RESOLUTIONS = ("resolved", "escalated", "pending", "unresolved")
BROKEN_KINDS = ("malformed_line", "bad_called_at", "negative_duration",
                "satisfaction_out_of_range")
OPENING_HOURS = hour_profile([(10.5, 1.5, 1.0), (15.5, 2.0, 1.0)], lo=8, hi=20)
# reason weights for calls about a recent order and for other calls
ORDER_REASONS = np.array([0.15, 0.40, 0.05, 0.20, 0.05, 0.10, 0.05, 0.0])
OTHER_REASONS = np.array([0.15, 0.08, 0.25, 0.07, 0.15, 0.06, 0.06, 0.18])
MEDIAN_SECONDS = np.array([300, 240, 200, 360, 540, 600, 300, 150])
# reasons that turn into a complaint when the caller is grumpy enough
COMPLAINABLE = [REASONS.index(r) for r in ("billing", "delivery", "returns", "cancellation")]


@dataclass(frozen=True)
class CallCenterExtract:
    daily: DailyLines
    contact_id: Strings  # one per contact, for the ground truth
    contact_person: np.ndarray
    broken: dict[str, int]
    cp1252_day: int | None
    cp1252_only: list[str]  # contacts whose every call is in the cp1252 file


def _calls_per_person(rng: np.random.Generator, pop: Population, person: np.ndarray,
                      period: Period) -> tuple[np.ndarray, np.ndarray]:
    """(owner, day) of every call, sorted by owner and day; the call center's daily load
    shapes the days (closed days get none)."""
    load = period.call_center_load()
    cumulative = np.cumsum(load)
    first_day = period.pick_days(rng, load, person.size)
    remaining = period.days - first_day
    n_calls = 1 + rng.poisson(pop.call_rate[person] * remaining)
    n_calls = np.maximum(n_calls, 1 + pop.extra_callcenter[person])
    owner = np.repeat(np.arange(person.size), n_calls)
    rank = np.arange(owner.size) - np.searchsorted(owner, owner, side="left")
    lo = cumulative[first_day[owner]] - load[first_day[owner]]
    u = lo + rng.random(owner.size) * (cumulative[-1] - lo)
    day = np.where(rank == 0, first_day[owner], np.searchsorted(cumulative, u, side="right"))
    return owner, np.minimum(day, period.days - 1)


def build_callcenter(rng: np.random.Generator, pop: Population, period: Period, orders: Orders,
                     broken_share: float) -> CallCenterExtract:
    person = np.flatnonzero(pop.in_callcenter)
    owner, day = _calls_per_person(rng, pop, person, period)
    n = owner.size
    caller = person[owner]

    day, order_call, about = _about_orders(rng, orders, caller, day, period)
    # Complaints about the orders that went wrong (the ERP decided who complained).
    c_order, c_day = _complaint_calls(rng, orders, period)
    c_owner = np.searchsorted(person, orders.person[c_order])
    owner, caller = np.concatenate([owner, c_owner]), np.concatenate([caller, person[c_owner]])
    day = np.concatenate([day, c_day])
    order_call = np.concatenate([order_call, np.ones(c_order.size, dtype=bool)])
    about = np.concatenate([about, c_order])
    forced = np.concatenate([np.zeros(n, dtype=bool), np.ones(c_order.size, dtype=bool)])
    n = owner.size
    at = times_in_days(rng, day, OPENING_HOURS)

    # Sort each person's calls by time; contacts (CRM records) are created on the way.
    sort = np.lexsort((at, owner))
    owner, caller, at = owner[sort], caller[sort], at[sort]
    order_call, about, forced = order_call[sort], about[sort], forced[sort]
    start = np.searchsorted(owner, owner, side="left")
    rank = np.arange(n) - start
    n_calls = np.bincount(owner, minlength=person.size)[owner]
    extra = pop.extra_callcenter[caller]
    u1, u2 = rng.random(person.size)[owner], rng.random(person.size)[owner]
    first_dup = np.where(extra == 2, 1 + (u1 * (n_calls - 2)).astype(np.int64),
                         1 + (u1 * (n_calls - 1)).astype(np.int64))
    second_dup = np.where(extra == 2, first_dup + 1 + (u2 * (n_calls - 1 - first_dup)).astype(
        np.int64), n_calls + 1)
    first_dup = np.where(extra >= 1, first_dup, n_calls + 1)
    existing = 1 + (rank >= first_dup) + (rank >= second_dup)
    creating = (rank == 0) | (rank == first_dup) | (rank == second_dup)
    contact_rank = np.where(creating | (rng.random(n) < 0.6), existing - 1,
                            (rng.random(n) * existing).astype(np.int64))

    # Contacts: numbered by creation time, details typed in when created.
    created = np.flatnonzero(creating)
    c_person, c_at = caller[created], at[created]
    contact_no = np.empty(created.size, dtype=np.int64)
    contact_no[np.lexsort((owner[created], c_at))] = np.arange(1, created.size + 1)
    contact_id = ids("CC", contact_no, 6)
    style = Style.draw(rng, created.size, CALLCENTER_DIRT)
    first, last = names(rng, pop, c_person, CALLCENTER_DIRT, style)
    c_name = full_name(first, last, rng, 0.03)
    c_phone = phones(rng, pop, c_person, c_at, CALLCENTER_DIRT)
    c_email = emails(rng, pop, c_person, c_at, CALLCENTER_DIRT)
    # each call's contact: the one created by the person's call at this offset
    creating_offset = np.select([contact_rank == 0, contact_rank == 1], [0, first_dup], second_dup)
    call_contact = pa.array(np.searchsorted(created, start + creating_offset))

    # What the agent typed on each call: mostly the CRM record, now and then afresh.
    retyped = np.flatnonzero(rng.random(n) < 0.08)
    now_first, now_last = names(rng, pop, caller[retyped], CALLCENTER_DIRT,
                                Style.draw(rng, retyped.size, CALLCENTER_DIRT))
    caller_name = replace_rows(pc.take(c_name, call_contact), retyped,
                               full_name(now_first, now_last, rng, 0.03))
    email = pc.take(c_email, call_contact)
    email = where(rng.random(n) < 0.75, email, pa.nulls(n, pa.string()))

    reason = _reasons(rng, pop, caller, order_call, orders, about)
    grump = pop.grumpiness[caller]
    complaint = (reason == REASONS.index("complaint")) | (
        (rng.random(n) < grump * 0.6) & np.isin(reason, COMPLAINABLE))
    u = rng.random(n)
    resolution = np.where(complaint, np.searchsorted([0.35, 0.65, 0.8], u, side="right"),
                          np.searchsorted([0.75, 0.82, 0.92], u, side="right"))
    if forced.any():  # a complaint about a failed order: its outcome is the ERP's
        reason = np.where(forced, REASONS.index("complaint"), reason)
        complaint |= forced
        put_right = orders.resolved[about]
        resolution = np.where(forced, np.where(put_right, RESOLUTIONS.index("resolved"),
                                               RESOLUTIONS.index("unresolved")), resolution)
    satisfaction_p = np.where(complaint[:, None], [0.45, 0.3, 0.15, 0.07, 0.03],
                              [0.04, 0.06, 0.15, 0.35, 0.40])
    satisfaction = 1 + (rng.random(n)[:, None] > np.cumsum(satisfaction_p, axis=1)).sum(axis=1)
    satisfaction = np.clip(satisfaction - (resolution == 3), 1, 5)
    answered = rng.random(n) < 0.6
    duration = np.maximum(15, MEDIAN_SECONDS[reason] * rng.lognormal(0, 0.6, n)
                          * np.where(resolution == 1, 1.6, 1.0)).astype(np.int64)
    n_agents = int(np.clip(n / period.days / 12, 5, 150))

    order = np.lexsort((owner, at))  # chronological: call ids follow time
    fields = {
        "call_id": ids("CL", np.arange(1, n + 1), 8),
        "called_at": period.format(at[order]),
        "contact_id": pc.take(contact_id, pc.take(call_contact, pa.array(order))),
        "caller_name": pc.take(caller_name, pa.array(order)),
        "phone": pc.take(pc.take(c_phone, call_contact), pa.array(order)),
        "email": pc.take(email, pa.array(order)),
        "reason": take(REASONS, reason[order]),
        "duration_seconds": duration[order],
        "satisfaction": np.where(answered, satisfaction, 0)[order],
        "is_complaint": take(["false", "true"], complaint[order].astype(np.int64)),
        "resolution": take(RESOLUTIONS, resolution[order]),
        "agent_id": ids("AG", rng.integers(1, n_agents + 1, n), 3),
    }
    day = at[order] // DAY
    first_call = creating[order]
    cp1252_day = _cp1252_day(fields, day, pop, period, broken_share)
    cp1252_only = []
    if cp1252_day is not None:
        only = (day == cp1252_day) & _one_day_contacts(fields["contact_id"], day)
        cp1252_only = sorted(set(pc.filter(fields["contact_id"], pa.array(only)).to_pylist()))
    lines, day, broken = _with_broken(rng, fields, day, first_call, cp1252_day, broken_share)
    header = ",".join(COLUMNS) + "\n"
    if cp1252_day is not None:
        broken["cp1252_file"] = int((day == cp1252_day).sum())
    return CallCenterExtract(DailyLines(header, lines, day), contact_id, c_person, broken,
                             cp1252_day, cp1252_only)


def _complaint_calls(rng: np.random.Generator, orders: Orders, period: Period
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(order, day) of a complaint call 1-7 days after each order the buyer complained about,
    moved to the next day when the call center is closed; calls that would fall after the
    period are not in the extract."""
    order = np.flatnonzero(orders.complained)
    day = orders.at[order] // DAY + rng.integers(1, 8, order.size)
    closed = period.call_center_load() == 0
    day = day + closed[np.minimum(day, period.days - 1)]
    inside = day < period.days
    return order[inside], day[inside]


def _about_orders(rng: np.random.Generator, orders: Orders, caller: np.ndarray, day: np.ndarray,
                  period: Period) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """About 45% of a buyer's calls concern one of their orders, 1-10 days after it (on a
    day the call center is open). Returns the new days, which calls are about an order and
    the order (meaningless where not about one)."""
    n = caller.size
    if orders.person.size == 0:
        return day, np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64)
    by_person = np.argsort(orders.person, kind="stable")
    first = np.searchsorted(orders.person[by_person], caller, side="left")
    count = np.searchsorted(orders.person[by_person], caller, side="right") - first
    pick = np.minimum(first + (rng.random(n) * count).astype(np.int64), by_person.size - 1)
    about = by_person[pick]
    order_day = orders.at[about] // DAY + rng.integers(1, 11, n)
    is_open = period.call_center_load()[np.minimum(order_day, period.days - 1)] > 0
    order_call = (count > 0) & (rng.random(n) < 0.45) & (order_day < period.days) & is_open
    return np.where(order_call, order_day, day), order_call, about


def _reasons(rng: np.random.Generator, pop: Population, caller: np.ndarray,
             order_call: np.ndarray, orders: Orders, about: np.ndarray) -> np.ndarray:
    """Why each call was made: order trouble right after orders, otherwise questions shaped
    by the caller's favourite categories; grumpy callers complain."""
    n = caller.size
    weights = np.where(order_call[:, None], ORDER_REASONS, OTHER_REASONS).astype(float)
    if orders.status.size:
        returned = order_call & (orders.status[about] == RETURNED)
        weights[returned, REASONS.index("returns")] += 1.0
    cats = [c.name for c in vocab.CATEGORIES]
    needs = pop.needs[caller]
    for category, reason, factor in (("electronics", "technical_support", 2.0),
                                     ("toys", "technical_support", 1.5),
                                     ("fashion", "returns", 1.8),
                                     ("grocery", "delivery", 1.8)):
        likes = (needs == cats.index(category)).any(axis=1)
        weights[likes, REASONS.index(reason)] *= factor
    weights[:, REASONS.index("complaint")] *= 1 + 4 * pop.grumpiness[caller]
    cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    return np.minimum((rng.random(n)[:, None] > cumulative).sum(axis=1), len(REASONS) - 1)


def _cp1252_day(fields: dict, day: np.ndarray, pop: Population, period: Period,
                broken_share: float) -> int | None:
    """The day whose file a legacy export wrote in cp1252: one with accented names, and
    preferably one whose callers all called on other days too. Only in samples big enough
    to have such a day, and not when a clean sample (broken_share 0) was asked for."""
    if pop.n < 100 or period.days < 30 or broken_share <= 0:
        return None
    accented = ~pc.equal(pc.utf8_length(fields["caller_name"]),
                         pc.binary_length(fields["caller_name"])).to_numpy(zero_copy_only=False)
    if not accented.any():
        return None
    one_day = _one_day_contacts(fields["contact_id"], day)
    only_here = np.bincount(day, weights=one_day, minlength=period.days)
    accents = np.bincount(day, weights=accented, minlength=period.days)
    candidates = np.flatnonzero(accents > 0)
    best = np.lexsort((candidates, -accents[candidates], only_here[candidates]))[0]
    return int(candidates[best])


def _one_day_contacts(contact_id: Strings, day: np.ndarray) -> np.ndarray:
    """For each call, whether its contact called on this day only."""
    contact = pc.dictionary_encode(contact_id).indices.to_numpy()
    first = np.full(contact.max() + 1, day.max())
    last = np.zeros(contact.max() + 1, dtype=day.dtype)
    np.minimum.at(first, contact, day)
    np.maximum.at(last, contact, day)
    return first[contact] == last[contact]


def _with_broken(rng: np.random.Generator, fields: dict, day: np.ndarray, first_call: np.ndarray,
                 cp1252_day: int | None, share: float
                 ) -> tuple[Strings, np.ndarray, dict[str, int]]:
    """Corrupt some calls in place and add malformed lines. Never a contact's first call
    (so every contact keeps a valid row) and never in the cp1252 file."""
    n = day.size
    per_kind = broken_count(share, n, len(BROKEN_KINDS))
    eligible = np.flatnonzero(~first_call & (day != cp1252_day))
    victims = rng.permutation(eligible)[:3 * per_kind]
    bad_date, negative, out_of_range = np.array_split(victims, 3) if victims.size else [victims] * 3
    called_at = fields["called_at"]
    variant = rng.integers(0, 4, bad_date.size)
    original = pc.take(called_at, pa.array(bad_date))
    s = pc.utf8_slice_codeunits
    mangled = [cat(s(original, 8, 10), "/", s(original, 5, 7), "/", s(original, 0, 4), " ",
                   s(original, 11, 16)),  # day-first, no seconds
               cat(s(original, 0, 5), "13", s(original, 7, 19)),  # month 13
               cat(s(original, 0, 11), "25", s(original, 13, 19)),  # hour 25
               pa.array(["N/A"] * bad_date.size, pa.string())]
    replacement = mangled[3]
    for k in range(3):
        replacement = where(variant == k, mangled[k], replacement)
    fields["called_at"] = replace_rows(called_at, bad_date, replacement)
    fields["duration_seconds"][negative] *= -1
    fields["satisfaction"][out_of_range] = rng.choice([0, 6, 7, 9, 10], size=out_of_range.size)

    columns = [fields[c] if isinstance(fields[c], pa.Array) else numbers(fields[c])
               for c in COLUMNS]
    satisfaction = COLUMNS.index("satisfaction")
    answered = fields["satisfaction"] != 0
    answered[out_of_range] = True
    columns[satisfaction] = where(answered, columns[satisfaction], pa.nulls(n, pa.string()))
    lines = csv_lines(columns)

    # Malformed lines: a garbled second copy of a call, written right after it.
    source = rng.permutation(np.setdiff1d(eligible, victims))[:per_kind]
    source.sort()
    kind = rng.integers(0, 3, source.size)
    pick = pa.array(source)
    parts = [pc.take(csv_field(c), pick) for c in columns]
    name = pc.take(columns[COLUMNS.index("caller_name")], pick)
    head, tail = parts[:3], parts[4:]
    unquoted_comma = pc.binary_join_element_wise(
        *head, pc.replace_substring(name, " ", ", ", max_replacements=1), *tail, ",")
    open_quote = pc.binary_join_element_wise(*head, cat('"', pc.replace_substring(name, '"', "")),
                                             *tail, ",")
    truncated = pc.binary_join_element_wise(*parts[:-3], ",")
    garbled = where(kind == 0, unquoted_comma, where(kind == 1, open_quote, truncated))
    # an unquoted comma only breaks the line if the name has a space to turn into ", "
    one_word = ~pc.match_substring(name, " ").to_numpy(zero_copy_only=False)
    garbled = where((kind == 0) & one_word, truncated, garbled)
    position = np.concatenate([np.arange(n), source])
    order = np.argsort(position, kind="stable")
    lines = pc.take(pa.concat_arrays([lines, cat(garbled, "\n")]), pa.array(order))
    day = np.concatenate([day, day[source]])[order]
    broken = {"malformed_line": int(source.size), "bad_called_at": int(bad_date.size),
              "negative_duration": int(negative.size),
              "satisfaction_out_of_range": int(out_of_range.size)}
    return lines, day, broken

