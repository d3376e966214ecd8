"""ERP extract: customers, products, orders and order lines.

Purchases start from the processes that BG/NBD and Gamma-Gamma assume (a gamma-distributed
purchase rate modulated by seasonality while alive, a beta-distributed chance to leave after
each purchase, a gamma-distributed amount per order around a personal mean) and add two
behaviours a real customer base shows, described in docs/generated-customers.md: customers
whose needs are consumables (grocery, beauty) restock more often and at regular intervals,
and an order that goes wrong and is not put right raises the chance that the customer leaves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from onetoone.generate import vocab
from onetoone.generate.period import DAY, Period, hour_profile
from onetoone.generate.population import NEVER, Population
from onetoone.generate.records import ERP_DIRT, Style, emails, names, phones
from onetoone.generate.text import (
    Strings,
    cat,
    ids,
    money,
    numbers,
    strings,
    take,
    where,
)

Table = dict[str, Strings]  # column name -> text values (null = NULL), in contract order

N_PRODUCTS = 320
CHANNELS = ("web", "phone", "store")
WEB = CHANNELS.index("web")
STATUSES = ("completed", "returned", "cancelled")
RETURNED, CANCELLED = STATUSES.index("returned"), STATUSES.index("cancelled")
SHOPPING_HOURS = hour_profile([(12, 2.5, 1.0), (20, 2.0, 1.3)])  # local time
SPEND_SHAPE = 4.0  # Gamma-Gamma p: order value ~ Gamma(p, scale 1/nu)
MAX_RECORDS = 3  # a person has at most one ERP record and two duplicates
# docs/generated-customers.md: behaviour beyond BG/NBD, decided before any model was tuned.
# Restocking: people with a consumable need buy RESTOCK_RATE times as often, with Erlang
# gaps of shape RESTOCK_REGULARITY (in shopping-demand time) instead of exponential ones.
RESTOCK_CATEGORIES = ("grocery", "beauty")
RESTOCK_RATE = 1.5
RESTOCK_REGULARITY = 3
# Service failures: a share of orders goes wrong (late, damaged, wrong item). A buyer who uses
# the call center complains about it with COMPLAINT_SHARE; a complaint is put right with
# RECOVERY_SHARE. A failure not put right makes a customer who would have stayed leave after
# that order with UNRESOLVED_EXIT (their chance to leave becomes 1 - (1 - p)(1 - exit)).
FAILURE_SHARE = 0.08
COMPLAINT_SHARE = 0.7
RECOVERY_SHARE = 0.55
UNRESOLVED_EXIT = 0.5
FINE, RESOLVED, UNRESOLVED, SILENT = range(4)  # service outcome of an order


def timestamps(period: Period, seconds: np.ndarray) -> Strings:
    return cat(period.format(seconds), "+00:00")


@dataclass(frozen=True)
class Catalogue:
    product_id: Strings
    category: np.ndarray
    price: np.ndarray  # cents, current
    old_price: np.ndarray  # cents before price_changed_at
    price_changed_at: np.ndarray
    cost: np.ndarray  # cents
    table: Table


def products(rng: np.random.Generator, period: Period) -> Catalogue:
    """~320 products; price bands and margins typical of each category."""
    cats = vocab.CATEGORIES
    share = np.array([0.5 / len(cats) + 0.5 * c.interest for c in cats])
    counts = np.maximum(1, np.round(N_PRODUCTS * share / share.sum())).astype(np.int64)
    category = np.repeat(np.arange(len(cats)), counts)
    n = category.size
    median = np.array([c.median_price for c in cats])[category]
    sigma = np.array([c.price_sigma for c in cats])[category]
    whole = np.maximum(1, np.floor(median * np.exp(rng.normal(0, sigma, n))))
    price = (whole * 100 + np.where(rng.random(n) < 0.6, 90, 99)).astype(np.int64)
    lo, hi = np.array([c.margin for c in cats])[category].T
    cost = np.round(price * (1 - rng.uniform(lo, hi))).astype(np.int64)
    changed = rng.random(n) < 0.2
    price_changed_at = np.where(changed, rng.integers(0, period.seconds, n), NEVER)
    # the price before the change, with the same .90/.99 endings
    old_whole = np.maximum(1, np.floor(whole / rng.uniform(0.85, 1.15, n)))
    old_price = np.where(changed, old_whole * 100 + price % 100, price).astype(np.int64)
    created = -rng.integers(30 * DAY, 900 * DAY, n)
    suffixes = ["", "", "Pro", "Max", "Lite", "Plus", "Classic", "2", "X", "Mini", "Eco"]
    name = []
    for c, u, v, s in zip(category, rng.random(n), rng.random(n),
                          rng.integers(0, len(suffixes), n), strict=True):
        brands, items = cats[c].brands, cats[c].items
        parts = (brands[int(u * len(brands))], items[int(v * len(items))], suffixes[s])
        name.append(" ".join(part for part in parts if part))
    product_id = ids("SKU", np.arange(10001, 10001 + n), 5)
    table = {
        "product_id": product_id,
        "product_name": strings(name),
        "category": take([c.name for c in cats], category),
        "unit_cost": money(cost),
        "unit_price": money(price),
        "updated_at": timestamps(period, np.where(changed, price_changed_at, created)),
    }
    return Catalogue(product_id, category, price, old_price, price_changed_at, cost, table)


@dataclass(frozen=True)
class Orders:
    """What the other systems need to know about orders (calls about them, coupons)."""

    order_id: Strings
    person: np.ndarray
    at: np.ndarray
    channel: np.ndarray
    status: np.ndarray
    coupon: np.ndarray
    failed: np.ndarray  # the order went wrong (docs/generated-customers.md)
    complained: np.ndarray  # ... and the buyer called the call center about it
    resolved: np.ndarray  # ... and the complaint was put right
    left_at: np.ndarray  # per person of the population: when they left (NEVER: did not)


@dataclass(frozen=True)
class ErpExtract:
    customers: Table
    catalogue: Catalogue
    orders: Table
    order_lines: Table
    orders_info: Orders
    record_person: np.ndarray  # person index of each customers row
    broken: dict[str, int]


def restocks(pop: Population, person: np.ndarray) -> np.ndarray:
    """Whether each person has a consumable need (RESTOCK_CATEGORIES) among their favourites."""
    codes = [[c.name for c in vocab.CATEGORIES].index(name) for name in RESTOCK_CATEGORIES]
    return np.isin(pop.needs[person], codes).any(axis=1)


def _purchase_times(rng: np.random.Generator, pop: Population, person: np.ndarray,
                    first: np.ndarray, period: Period
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every purchase (the first included) until the customer leaves. Returns owner, time
    and service outcome (see `_service_outcomes`), sorted by owner and time, and per person
    the time of the purchase after which they left (NEVER while still a customer).

    Times run in shopping-demand time (the cumulative `shopping_demand`), so the calendar's
    seasons shape every customer's purchases; in it a customer buys as a Poisson process of
    their rate, or, when they restock, as a renewal process with Erlang gaps (every k-th event
    of a Poisson process of k times the rate). After each purchase they leave with their
    dropout probability, raised when that purchase went wrong and was not put right."""
    demand = period.shopping_demand()
    clock = np.concatenate([[0.0], np.cumsum(demand)])  # demand time at the start of each day
    restock = restocks(pop, person)
    shape = np.where(restock, RESTOCK_REGULARITY, 1)
    rate = pop.purchase_rate[person] * np.where(restock, RESTOCK_RATE, 1.0)
    start = np.interp(first / DAY, np.arange(period.days + 1), clock)
    remaining = clock[-1] - start
    n_events = rng.poisson(rate * shape * remaining)
    owner = np.repeat(np.arange(person.size), n_events)
    event = start[owner] + rng.random(owner.size) * remaining[owner]
    order = np.lexsort((event, owner))
    owner, event = owner[order], event[order]
    rank = np.arange(owner.size) - np.searchsorted(owner, owner, side="left")
    keep = rank % shape[owner] == shape[owner] - 1
    owner, event = owner[keep], event[keep]
    day = np.searchsorted(clock, event, side="right") - 1
    at = period.local_times(rng, np.minimum(day, period.days - 1), pop.country[person[owner]],
                            SHOPPING_HOURS)
    at = np.clip(at, first[owner] + 3600, period.seconds - 1)
    # The first purchase, then the repeats: each one's outcome, then whether they stay.
    owner = np.concatenate([np.arange(person.size), owner])
    at = np.concatenate([first, at])
    order = np.lexsort((at, owner))
    owner, at = owner[order], at[order]
    outcome = _service_outcomes(rng, pop.in_callcenter[person[owner]])
    leave_p = pop.dropout[person[owner]]
    not_put_right = (outcome == UNRESOLVED) | (outcome == SILENT)
    leave_p = np.where(not_put_right, 1 - (1 - leave_p) * (1 - UNRESOLVED_EXIT), leave_p)
    leaves = rng.random(owner.size) < leave_p
    group_start = np.searchsorted(owner, owner, side="left")
    left_before = np.cumsum(leaves) - leaves  # leavings among earlier purchases, all owners
    alive = left_before - left_before[group_start] == 0
    left_at = np.full(person.size, NEVER)
    last = alive & leaves
    left_at[owner[last]] = at[last]
    return owner[alive], at[alive], outcome[alive], left_at


def _service_outcomes(rng: np.random.Generator, calls: np.ndarray) -> np.ndarray:
    """Per order (`calls`: whether the buyer uses the call center) one of FINE, RESOLVED
    (went wrong, complained, put right), UNRESOLVED (complained, not put right) and SILENT
    (went wrong, no complaint)."""
    n = calls.size
    failed = rng.random(n) < FAILURE_SHARE
    complained = failed & calls & (rng.random(n) < COMPLAINT_SHARE)
    resolved = complained & (rng.random(n) < RECOVERY_SHARE)
    return np.select([resolved, complained, failed], [RESOLVED, UNRESOLVED, SILENT], FINE)


def build_erp(rng: np.random.Generator, pop: Population, period: Period, broken_share: float
              ) -> ErpExtract:
    catalogue = products(rng, period)
    person = np.flatnonzero(pop.in_erp)
    m = person.size
    first_day = period.pick_days(rng, period.shopping_demand(), m)
    first = np.clip(period.local_times(rng, first_day, pop.country[person], SHOPPING_HOURS),
                    1800, period.seconds - 7200)

    # Customer records: the first one when the person registered, duplicates later.
    n_records = 1 + pop.extra_erp[person]
    owner = np.repeat(np.arange(m), n_records)
    rank = np.arange(owner.size) - np.searchsorted(owner, owner, side="left")
    span = np.maximum(period.seconds - first[owner] - 7 * DAY, 1)
    created = np.where(rank == 0, first[owner] - rng.integers(60, 1800, owner.size),
                       first[owner] + 7 * DAY + (rng.random(owner.size) * span).astype(np.int64))
    created = np.minimum(created, period.seconds - 3600)
    order = np.lexsort((rank, owner, created))
    customer_no = np.empty(owner.size, dtype=np.int64)
    customer_no[order] = np.arange(1, owner.size + 1)
    customer_id = ids("C", customer_no, 7)
    created_by_rank = np.full((m, MAX_RECORDS), NEVER)
    created_by_rank[owner, rank] = created
    id_by_rank = np.zeros((m, MAX_RECORDS), dtype=np.int64)
    id_by_rank[owner, rank] = np.arange(owner.size)

    customers, record_person = _customers(rng, pop, person[owner], created, customer_no, period)

    # Orders: the first purchase, then repeat purchases until the customer churns.
    buyer = rng.random(m) >= 0.03  # a few registered in a store and never bought
    o_owner, o_at, o_outcome, left_at = _purchase_times(rng, pop, person, first, period)
    bought = buyer[o_owner]
    o_owner, o_at, o_outcome = o_owner[bought], o_at[bought], o_outcome[bought]
    sort = np.lexsort((o_owner, o_at))
    o_owner, o_at, o_outcome = o_owner[sort], o_at[sort], o_outcome[sort]
    n_orders = o_owner.size
    o_person = person[o_owner]

    # Each order lands on the newest customer record that existed, sometimes an older one.
    existing = (created_by_rank[o_owner] <= o_at[:, None]).sum(axis=1).clip(min=1)
    pick = np.where(rng.random(n_orders) < 0.3, rng.integers(0, 1 << 30, n_orders) % existing,
                    existing - 1)
    o_customer = take(customer_id, id_by_rank[o_owner, pick])

    web_user = pop.in_web[o_person]
    u = rng.random(n_orders)
    # web/phone/store: 60/8/32% for people with a web account, 15/20/65% for the others;
    # completed 90%, returned 6%, cancelled 4%
    channel = np.where(web_user, np.searchsorted([0.6, 0.68], u, side="right"),
                       np.searchsorted([0.15, 0.35], u, side="right"))
    status = np.searchsorted([0.9, 0.96], rng.random(n_orders), side="right")
    coupon = rng.random(n_orders) < np.where(channel == WEB, 0.25, 0.05)
    later = np.select([status == RETURNED, status == CANCELLED, rng.random(n_orders) < 0.03],
                      [rng.integers(5 * DAY, 30 * DAY, n_orders),
                       rng.integers(600, 2 * DAY, n_orders),
                       rng.integers(3600, 5 * DAY, n_orders)], 0)
    o_updated = np.minimum(o_at + later, period.seconds - 1)
    order_id = ids("O", np.arange(1, n_orders + 1), 8)
    orders = {
        "order_id": order_id,
        "customer_id": o_customer,
        "ordered_at": timestamps(period, o_at),
        "channel": take(CHANNELS, channel),
        "status": take(STATUSES, status),
        "updated_at": timestamps(period, o_updated),
    }
    lines, broken = _order_lines(rng, pop, catalogue, o_person, o_at, coupon, order_id, period,
                                 broken_share)
    failed = o_outcome != FINE
    info = Orders(order_id, o_person, o_at, channel, status, coupon, failed,
                  (o_outcome == RESOLVED) | (o_outcome == UNRESOLVED), o_outcome == RESOLVED,
                  _per_person(pop.n, person[buyer], left_at[buyer]))
    return ErpExtract(customers, catalogue, orders, lines, info, record_person, broken)


def _per_person(n: int, person: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.full(n, NEVER)
    out[person] = values
    return out


def _customers(rng: np.random.Generator, pop: Population, person: np.ndarray, created: np.ndarray,
               customer_no: np.ndarray, period: Period) -> tuple[Table, np.ndarray]:
    """Customer rows sorted by id; a record updated after a move or a new e-mail shows the
    new values, one never updated keeps the old ones."""
    n = person.size
    change = np.minimum(np.where(pop.moved_at[person] > created, pop.moved_at[person], NEVER),
                        np.where(pop.email_changed_at[person] > created,
                                 pop.email_changed_at[person], NEVER))
    refreshed = (change < period.seconds) & (rng.random(n) < 0.5)
    touched = ~refreshed & (rng.random(n) < 0.04)  # saved again without visible change
    span = np.maximum(period.seconds - created, 1)
    updated = np.select([refreshed, touched],
                        [np.minimum(change + rng.integers(0, 20 * DAY, n), period.seconds - 1),
                         created + (rng.random(n) * span).astype(np.int64)], created)
    as_of = np.where(refreshed, updated, created)

    style = Style.draw(rng, n, ERP_DIRT)
    first, last = names(rng, pop, person, ERP_DIRT, style)
    home = pop.home_at(person, as_of)
    u = rng.random(n)
    address = where(u < 0.55, home.address, where(u < 0.9, home.address_short, home.address_bare))
    postcode_u = rng.random(n)
    postcode = where(postcode_u < 0.75, home.postcode, home.postcode_plain)
    postcode = where(postcode_u > 0.95, pa.nulls(n, pa.string()), postcode)
    city = take([c.name for c in vocab.CITIES], home.city)
    region = take([c.region for c in vocab.CITIES], home.city)
    tax_share = np.array([c.tax_id_share for c in vocab.COUNTRIES])[pop.country[person]]
    tax_u = rng.random(n)
    tax_id = where(tax_u < 0.6 * tax_share, take(pop.tax_id, person),
                   where(tax_u < tax_share, take(pop.tax_id_plain, person),
                         pa.nulls(n, pa.string())))
    birth_day = pop.birth_day[person]
    birth = period.format_dates(birth_day)
    # day and month exchanged (only possible while the day is <= 12), or not filled in
    day_month = pc.utf8_slice_codeunits(birth, 8, 10)
    swap = (rng.random(n) < 0.02) & (pc.less_equal(day_month, "12").to_numpy(zero_copy_only=False))
    birth = where(swap, cat(pc.utf8_slice_codeunits(birth, 0, 5), day_month, "-",
                            pc.utf8_slice_codeunits(birth, 5, 7)), birth)
    birth = where(rng.random(n) < 0.2, pa.nulls(n, pa.string()), birth)

    table = {
        "customer_id": ids("C", customer_no, 7),
        "first_name": first,
        "last_name": last,
        "tax_id": tax_id,
        "email": emails(rng, pop, person, as_of, ERP_DIRT),
        "phone": phones(rng, pop, person, as_of, ERP_DIRT),
        "address_line": style.apply(address),
        "city": style.apply(city),
        "region": where(rng.random(n) < 0.1, pa.nulls(n, pa.string()), region),
        "postcode": postcode,
        "country": take([c.code for c in vocab.COUNTRIES], pop.country[person]),
        "birth_date": birth,
        "created_at": timestamps(period, created),
        "updated_at": timestamps(period, updated),
    }
    order = np.argsort(customer_no)
    return {k: pc.take(v, pa.array(order)) for k, v in table.items()}, person[order]


def _order_lines(rng: np.random.Generator, pop: Population, catalogue: Catalogue,
                 o_person: np.ndarray, o_at: np.ndarray, coupon: np.ndarray, order_id: Strings,
                 period: Period, broken_share: float) -> tuple[Table, dict[str, int]]:
    """1-4 lines per order from the buyer's favourite categories, priced so that the order
    value follows the buyer's Gamma-Gamma spend."""
    n_orders = o_person.size
    n_lines = rng.choice([1, 2, 3, 4], size=n_orders, p=[0.5, 0.28, 0.14, 0.08])
    line_order = np.repeat(np.arange(n_orders), n_lines)
    n = line_order.size
    line_number = np.arange(n) - np.searchsorted(line_order, line_order, side="left") + 1
    person = o_person[line_order]

    needs = pop.needs[person]
    n_needs = (needs >= 0).sum(axis=1)
    favourite = needs[np.arange(n), (rng.random(n) * n_needs).astype(np.int64)]
    interest = np.array([c.interest for c in vocab.CATEGORIES])
    other = rng.choice(interest.size, size=n, p=interest / interest.sum())
    category = np.where(rng.random(n) < 0.75, favourite, other)
    grocery = category == [c.name for c in vocab.CATEGORIES].index("grocery")
    quantity = np.where(grocery, rng.integers(1, 7, n),
                        rng.choice([1, 2, 3], size=n, p=[0.82, 0.13, 0.05]))

    order_value = rng.gamma(SPEND_SHAPE, 1 / pop.spend_rate[o_person]) * 100  # cents
    target = order_value[line_order] / n_lines[line_order] / quantity * rng.lognormal(0, 0.35, n)
    product = np.zeros(n, dtype=np.int64)
    for c in range(len(vocab.CATEGORIES)):
        rows = np.flatnonzero(category == c)
        members = np.flatnonzero(catalogue.category == c)
        members = members[np.argsort(catalogue.price[members], kind="stable")]
        slot = np.searchsorted(catalogue.price[members], target[rows]).clip(0, members.size - 1)
        product[rows] = members[slot]
    at = o_at[line_order]
    unit_price = np.where(at < catalogue.price_changed_at[product], catalogue.old_price[product],
                          catalogue.price[product])
    unit_cost = catalogue.cost[product]
    pct = rng.choice([5, 10, 15, 20, 25], size=n_orders)[line_order]
    discount = np.where(coupon[line_order], unit_price * quantity * pct // 100, 0)
    updated = np.where(rng.random(n) < 0.01, np.minimum(at + rng.integers(3600, 3 * DAY, n),
                                                        period.seconds - 1), at)
    product_id = take(catalogue.product_id, product)

    # Broken rows corrupt real lines in place: a sign flip or a product the catalogue lacks.
    n_broken = broken_count(broken_share, n, 2)
    victims = rng.choice(n, size=min(2 * n_broken, n), replace=False)
    negative, unknown = victims[:n_broken], victims[n_broken:]
    flip_quantity = rng.random(negative.size) < 0.5
    quantity[negative[flip_quantity]] *= -1
    unit_price[negative[~flip_quantity]] *= -1
    unknown_ids = ids("SKU", 90000 + rng.integers(0, 9999, unknown.size), 5)
    mask = np.zeros(n, dtype=bool)
    mask[unknown] = True
    product_id = pc.replace_with_mask(product_id, pa.array(mask), unknown_ids)
    table = {
        "order_id": take(order_id, line_order),
        "line_number": numbers(line_number),
        "product_id": product_id,
        "quantity": numbers(quantity),
        "unit_price": money(unit_price),
        "unit_cost": money(unit_cost),
        "discount": money(discount),
        "updated_at": timestamps(period, updated),
    }
    return table, {"negative_value": int(negative.size), "unknown_product": int(unknown.size)}


def broken_count(share: float, rows: int, kinds: int) -> int:
    """Rows per broken kind: share of all rows split over the kinds, at least one of each
    while any are asked for, so that small samples still exercise every path."""
    if share <= 0 or rows == 0:
        return 0
    return max(1, round(share * rows / kinds))
