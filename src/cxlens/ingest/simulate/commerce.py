"""Shopping sessions, the funnel, orders and order items.

Purchases follow BG/NBD exactly (Fader, Hardie & Lee 2005, "Counting your customers the easy
way"): a customer's first order is the trial purchase at time 0; afterwards sessions arrive as
a Poisson process of rate ``lam / Q`` while the customer is alive, where ``Q`` is the chance a
session converts for that customer's channel mix, so converting sessions (the repeat orders) are
a Poisson(``lam``) process; after each repeat order the customer drops out with probability
``p``. Whether a customer makes the first purchase at all is decided by the acquisition funnel,
independently of ``lam`` and ``p``, so buyers' parameters keep their gamma and beta
distributions. Order values are gamma-gamma (Fader, Hardie & Lee 2005, "RFM and CLV").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cxlens.ingest.simulate._base import (
    APP,
    DAY,
    HOUR,
    NAT,
    STORE,
    T1,
    WEB,
    WEEK,
    choice,
    choice_rows,
    group_cumsum,
    group_rank,
    ids,
    json_field,
    json_objects,
    json_take,
    take,
)
from cxlens.ingest.simulate.people import (
    CHANNEL_MIX,
    COUNTRIES,
    CURRENCY_OF,
    Catalogue,
    CLVParams,
    Customers,
)

#: funnel steps after the visit; d = index of the last step reached (0 = visit only, 4 = purchase)
STEPS = ["visit", "product_view", "add_to_cart", "checkout", "purchase"]
#: chance of going on from step k to step k+1, per channel (checkout on the app is planted friction)
STEP_CONTINUE = {
    "web": [0.85, 0.52, 0.72, 0.88],
    "mobile_app": [0.85, 0.50, 0.70, 0.58],
}
SOURCES = ["search", "direct", "ad", "email", "social"]
SOURCE_P = [0.36, 0.26, 0.20, 0.10, 0.08]
CAMPAIGNS = ["spring_sale", "summer_drop", "back_to_school", "black_friday", "winter_warmers", "new_arrivals"]
CHECKOUT_ERRORS = ["payment_failed", "page_timeout", "address_validation", "app_crash"]
#: chance that an abandoned checkout shows an error, per channel
CHECKOUT_ERROR_P = {"web": 0.25, "mobile_app": 0.55}
SHOP = "https://shop.example.com"
#: landing-page query string per session source (SOURCES order)
UTM = [
    "?utm_source=google&utm_medium=organic",
    "",
    "?utm_source=instagram&utm_medium=paid_social",
    "?utm_source=newsletter&utm_medium=email",
    "?utm_source=facebook&utm_medium=social",
]


def conversion(channel: str) -> float:
    return float(np.prod(STEP_CONTINUE[channel]))


@dataclass
class Sessions:
    cust: np.ndarray
    start: np.ndarray
    channel: np.ndarray
    depth: np.ndarray  # last funnel step reached, 0..4
    source: np.ndarray
    n_pv: np.ndarray
    cart_product: np.ndarray  # catalogue index
    error: np.ndarray  # code into CHECKOUT_ERRORS, -1 for none
    repeat: np.ndarray  # bool: after the first purchase

    def __len__(self) -> int:
        return len(self.cust)


@dataclass
class Lifetimes:
    """What the purchase process did per customer (inputs to churn and the truth)."""

    first_purchase: np.ndarray  # µs or NAT
    death: np.ndarray  # µs (time of the last repeat purchase when dropped out) or NAT
    repeats: np.ndarray  # repeat purchases made


def _depth(rng: np.random.Generator, channel: np.ndarray) -> np.ndarray:
    q = np.array([STEP_CONTINUE["web"], STEP_CONTINUE["mobile_app"], [1.0, 1.0, 1.0, 1.0]])
    d = np.zeros(len(channel), dtype=np.int64)
    going = np.ones(len(channel), dtype=bool)
    for k in range(4):
        going &= rng.random(len(channel)) < q[channel, k]
        d += going
    return d


def _session_details(
    rng: np.random.Generator,
    cust: np.ndarray,
    start: np.ndarray,
    channel: np.ndarray,
    depth: np.ndarray,
    repeat: np.ndarray,
    cat_: Catalogue,
) -> Sessions:
    n = len(cust)
    source = choice(rng, n, SOURCE_P)
    err_p = np.where(channel == APP, CHECKOUT_ERROR_P["mobile_app"], CHECKOUT_ERROR_P["web"])
    has_err = (depth == 3) & (channel != STORE) & (rng.random(n) < err_p)
    error = np.where(
        has_err,
        np.where(channel == APP, choice(rng, n, [0.35, 0.2, 0.1, 0.35]), choice(rng, n, [0.5, 0.3, 0.2, 0.0])),
        -1,
    )
    return Sessions(
        cust=cust,
        start=start,
        channel=channel,
        depth=depth,
        source=source,
        n_pv=1 + np.minimum(rng.poisson(0.9, n), 5),
        cart_product=choice(rng, n, cat_.weight),
        error=error,
        repeat=repeat,
    )


def make_sessions(rng: np.random.Generator, cu: Customers, cat_: Catalogue) -> tuple[Sessions, Lifetimes]:
    """Acquisition sessions for everyone, then BG/NBD repeat sessions for buyers."""
    n = cu.n
    mix = CHANNEL_MIX[cu.pref]
    # --- acquisition: 1 + Poisson(1) sessions a few days apart, until the first purchase
    k = 1 + rng.poisson(1.0, n)
    a_cust = np.repeat(np.arange(n), k)
    gaps = (rng.exponential(3.0, len(a_cust)) * DAY).astype(np.int64)
    gaps[group_rank(a_cust) == 0] = 0
    a_start = cu.created[a_cust] + group_cumsum(gaps, a_cust)
    a_chan = choice_rows(rng, mix[a_cust])
    a_depth = _depth(rng, a_chan)
    conv = a_depth == 4
    before = group_cumsum(conv.astype(np.int64), a_cust) - conv
    keep = (before == 0) & (a_start < T1 - HOUR)
    a_cust, a_start, a_chan, a_depth = a_cust[keep], a_start[keep], a_chan[keep], a_depth[keep]
    first = np.full(n, NAT, dtype=np.int64)
    buy = a_depth == 4
    first[a_cust[buy]] = a_start[buy]  # refined to the purchase event time later

    # --- repeat purchases of buyers (BG/NBD)
    buyers = np.flatnonzero(first != NAT)
    q_conv = mix[buyers] @ np.array([conversion("web"), conversion("mobile_app"), 1.0])
    horizon_w = (T1 - HOUR - first[buyers]) / WEEK
    rate = cu.lam[buyers] / q_conv
    kk = np.minimum(rng.poisson(rate * horizon_w), 2000)
    r_cust = np.repeat(buyers, kk)
    r_start = np.repeat(first[buyers], kk) + (rng.random(len(r_cust)) * np.repeat(horizon_w * WEEK, kk)).astype(
        np.int64
    )
    order = np.lexsort((r_start, r_cust))
    r_cust, r_start = r_cust[order], r_start[order]
    r_chan = choice_rows(rng, mix[r_cust])
    r_depth = _depth(rng, r_chan)
    r_conv = r_depth == 4
    n_before = group_cumsum(r_conv.astype(np.int64), r_cust) - r_conv
    dropout_after = rng.geometric(cu.p)  # die right after this many repeat purchases
    alive = n_before < dropout_after[r_cust]
    r_cust, r_start, r_chan, r_depth, r_conv = (
        r_cust[alive],
        r_start[alive],
        r_chan[alive],
        r_depth[alive],
        r_conv[alive],
    )
    repeats = np.bincount(r_cust[r_conv], minlength=n)
    death = np.full(n, NAT, dtype=np.int64)
    dead = repeats >= dropout_after
    last_buy = np.full(n, NAT, dtype=np.int64)
    np.maximum.at(last_buy, r_cust[r_conv], r_start[r_conv])
    death[dead] = last_buy[dead]

    sessions = _session_details(
        rng,
        np.r_[a_cust, r_cust],
        np.r_[a_start, r_start],
        np.r_[a_chan, r_chan],
        np.r_[a_depth, r_depth],
        np.r_[np.zeros(len(a_cust), bool), np.ones(len(r_cust), bool)],
        cat_,
    )
    return sessions, Lifetimes(first_purchase=first, death=death, repeats=repeats)


@dataclass
class EventPart:
    """Columns of a batch of events; scalars broadcast. Times in µs, ``cust`` as index."""

    cust: np.ndarray
    ts: np.ndarray
    name: object
    type: object
    touchpoint: object
    channel: object
    session_id: object = None
    anonymous: object = None
    url: object = None
    properties: object = None
    revenue: object = None
    stage: object = None  # filled from the journey when the events are stacked


def _kind_table() -> dict[str, list]:
    # kind code → (name, type, touchpoint) for web, app and store sessions
    return {
        "name": ["ad_click", "visit", "product_view", "add_to_cart", "checkout", "purchase"],
        "type": ["track", "page", "page", "track", "track", "track"],
        "tp_web": ["ad", "homepage", "product_page", "cart", "checkout", "checkout"],
        "tp_app": ["ad", "app_browse", "product_page", "cart", "checkout", "checkout"],
    }


@dataclass
class SessionEvents:
    part: EventPart
    purchase_session: np.ndarray  # session index of each purchase (converting session)
    purchase_ts: np.ndarray
    purchase_event: np.ndarray  # index of the purchase event within the part
    session_ids: np.ndarray  # object, one per session (None for store)


def session_events(rng: np.random.Generator, se: Sessions, cu: Customers, cat_: Catalogue) -> SessionEvents:
    """Expand sessions into page and track events (ad click, visit, views, cart, checkout, purchase)."""
    n = len(se)
    store = se.channel == STORE
    has_ad = (se.source == 2) & ~store
    npv = np.where(se.depth >= 1, se.n_pv, 0)
    n_ev = np.where(store, 1, has_ad + 1 + npv + np.clip(se.depth - 1, 0, 3))
    # session ids in order of start time
    sid_order = np.argsort(se.start, kind="stable")
    sid_num = np.empty(n, dtype=np.int64)
    sid_num[sid_order] = np.arange(1, n + 1)
    session_ids = ids("s", sid_num, 9).astype(object)
    session_ids[store] = None

    sess = np.repeat(np.arange(n), n_ev)
    pos = group_rank(sess)
    off = pos - has_ad[sess]
    np_s = npv[sess]
    kind = np.where(off < 0, 0, np.where(off == 0, 1, np.where(off <= np_s, 2, 3 + (off - np_s - 1))))
    kind[store[sess]] = 5
    gap = (8 + rng.exponential(50.0, len(sess))) * 1_000_000
    gap = gap.astype(np.int64)
    gap[pos == 0] = 0
    ts = se.start[sess] + group_cumsum(gap, sess)
    chan = se.channel[sess]
    kt = _kind_table()
    name = take(kt["name"], kind)
    etype = take(kt["type"], kind)
    tp = np.where(chan == APP, take(kt["tp_app"], kind), take(kt["tp_web"], kind))
    tp[chan == STORE] = "store"
    channel = take(["web", "mobile_app", "store"], chan)
    channel[kind == 0] = "social"
    web_or_app = chan != STORE
    anon = np.where(web_or_app, cu.anon_id[se.cust[sess]], None)
    sid = session_ids[sess]

    # products: views random by popularity, the last view is the product put in the cart
    prod = choice(rng, len(sess), cat_.weight)
    last_view = (kind == 2) & (off == np_s)
    prod[last_view] = se.cart_product[sess[last_view]]
    prod[kind == 3] = se.cart_product[sess[kind == 3]]

    web = chan == WEB
    # texts that repeat (per product, per source) are built once and shared between rows
    visit_urls = [SHOP + "/" + u for u in UTM]
    product_urls = [f"{SHOP}/p/{slug}" for slug in cat_.slug]
    view_props = [f'{{"product_id": "{p}"}}' for p in cat_.product_id]
    cart_props = [f'{{"product_id": "{p}", "quantity": 1}}' for p in cat_.product_id]
    urls = np.full(len(sess), None, dtype=object)
    m = web & (kind == 1)
    urls[m] = take(visit_urls, se.source[sess[m]])
    m = web & (kind == 2)
    urls[m] = take(product_urls, prod[m])
    urls[web & (kind == 3)] = SHOP + "/cart"
    urls[web & (kind == 4)] = SHOP + "/checkout"
    urls[web & (kind == 5)] = SHOP + "/checkout/complete"

    props = np.full(len(sess), None, dtype=object)
    m = kind == 0
    camp = choice(rng, int(m.sum()), [1] * len(CAMPAIGNS))
    props[m] = take([f'{{"campaign": "{c}"}}' for c in CAMPAIGNS], camp)
    m = kind == 1
    props[m] = take([f'{{"source": "{x}"}}' for x in SOURCES], se.source[sess[m]])
    m = kind == 2
    props[m] = take(view_props, prod[m])
    m = kind == 3
    props[m] = take(cart_props, prod[m])
    m = (kind == 4) & (se.error[sess] >= 0)
    props[m] = take([f'{{"error": "{e}"}}' for e in CHECKOUT_ERRORS], se.error[sess[m]])

    purchase_event = np.flatnonzero(kind == 5)
    part = EventPart(
        cust=se.cust[sess],
        ts=ts,
        name=name,
        type=etype,
        touchpoint=tp,
        channel=channel,
        session_id=sid,
        anonymous=anon,
        url=urls,
        properties=props,
        revenue=np.full(len(sess), np.nan),
    )
    return SessionEvents(
        part=part,
        purchase_session=sess[purchase_event],
        purchase_ts=ts[purchase_event],
        purchase_event=purchase_event,
        session_ids=session_ids,
    )


@dataclass
class Orders:
    n: int
    order_id: np.ndarray  # object
    cust: np.ndarray
    ts: np.ndarray
    amount: np.ndarray
    currency: np.ndarray  # object
    channel: np.ndarray  # code
    session: np.ndarray  # session index
    first_product: np.ndarray  # catalogue index
    repeat: np.ndarray  # bool
    status: np.ndarray | None = None  # object, set by fulfilment


def make_orders(rng: np.random.Generator, se: Sessions, sev: SessionEvents, cu: Customers, clv: CLVParams) -> Orders:
    """One order per converting session; ids in time order; gamma-gamma amounts."""
    order = np.argsort(sev.purchase_ts, kind="stable")
    sess = sev.purchase_session[order]
    ts = sev.purchase_ts[order]
    cust = se.cust[sess]
    n = len(sess)
    amount = np.round(np.maximum(rng.gamma(clv.p, 1.0 / cu.nu[cust]), 5.0), 2)
    currency = take([CURRENCY_OF[c] for c in COUNTRIES], cu.country[cust])
    oid = ids("O", np.arange(1, n + 1), 8).astype(object)
    # the purchase event names its order and carries the revenue
    ev = sev.purchase_event[order]
    sev.part.properties[ev] = json_objects(
        json_field("order_id", oid.astype(str)), json_field("currency", currency.astype(str))
    ).astype(object)
    sev.part.revenue[ev] = amount
    return Orders(
        n=n,
        order_id=oid,
        cust=cust,
        ts=ts,
        amount=amount,
        currency=currency,
        channel=se.channel[sess],
        session=sess,
        first_product=se.cart_product[sess],
        repeat=se.repeat[sess],
    )


def make_items(rng: np.random.Generator, od: Orders, cat_: Catalogue) -> dict[str, np.ndarray]:
    """Order lines whose quantity x price add up exactly to the order amount."""
    cents = np.round(od.amount * 100).astype(np.int64)
    k = 1 + np.minimum(rng.poisson(0.7, od.n), 5)
    k = np.minimum(k, 1 + cents // 400)
    line_order = np.repeat(np.arange(od.n), k)
    line = group_rank(line_order)
    last = line == k[line_order] - 1
    m = len(line_order)
    prod = choice(rng, m, cat_.weight)
    prod[line == 0] = od.first_product[line_order[line == 0]]
    qty = np.where(last, 1, 1 + choice(rng, m, [0.85, 0.12, 0.03]))
    w = rng.gamma(3.0, 1.0, m)
    w = w / np.bincount(line_order, weights=w)[line_order]
    unit = np.maximum(1, np.floor(w * cents[line_order] / qty)).astype(np.int64)
    unit[last] = 0
    used = np.bincount(line_order, weights=unit * qty, minlength=od.n).astype(np.int64)
    unit[last] = cents[line_order[last]] - used[line_order[last]]
    assert (unit > 0).all()
    return {
        "order": line_order,
        "item_id": (line + 1).astype(str).astype(object),
        "product": prod,
        "quantity": qty.astype(np.float64),
        "price": unit / 100.0,
    }


PAYMENT = ["card", "paypal", "klarna", "apple_pay", "cash"]


def order_properties(od: Orders, items: dict[str, np.ndarray]) -> np.ndarray:
    """``{"items": n, "payment": method}``: a few dozen distinct JSON texts picked by index."""
    n_items = np.bincount(items["order"], minlength=od.n)
    # payment depends on the channel only through a fixed rule, so it needs no random draws
    method = np.where(od.channel == STORE, 4, (np.arange(od.n) * 7919 + od.cust) % 4)
    combos = [{"items": k, "payment": m} for k in range(0, 8) for m in PAYMENT]
    return json_take(combos, np.minimum(n_items, 7) * len(PAYMENT) + method)


def item_properties(cat_: Catalogue, items: dict[str, np.ndarray]) -> np.ndarray:
    """``{"category": ..., "name": ...}`` of the catalogue product."""
    texts = [{"category": c, "name": nm} for c, nm in zip(cat_.category, cat_.name, strict=True)]
    return json_take(texts, items["product"])
