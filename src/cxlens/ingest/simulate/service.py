"""After the purchase: fulfilment (delivery, damage, returns) and support tickets.

Planted effects: deliveries run late more often in the peak season (15 Nov - 31 Dec 2025) and
in Italy and Spain; support waits are longer in the peak season; two agents are rude. Tickets
are mostly caused by what happened to an order, and their tone is angrier for unhappy customers
(who are also the ones likely to churn).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cxlens.ingest.simulate._base import (
    DAY,
    HOUR,
    MINUTE,
    NAT,
    STORE,
    T1,
    cat,
    choice,
    ids,
    json_bool,
    json_field,
    json_objects,
    s,
    take,
)
from cxlens.ingest.simulate.commerce import EventPart, Orders
from cxlens.ingest.simulate.people import COUNTRIES, Customers
from cxlens.ingest.simulate.texts import (
    NEG,
    THEME,
    TICKET_CLOSERS,
    TICKET_OPENERS,
    TICKET_SUBJECTS,
    TextBank,
    pick,
    pii_snippets,
)

PEAK = (np.datetime64("2025-11-15", "us").astype(np.int64), np.datetime64("2026-01-01", "us").astype(np.int64))
LATE_P = {"base": 0.10, "IT": 0.17, "ES": 0.17, "peak_extra": 0.15}
DAMAGE_P = 0.045
QUALITY_P = 0.05
CANCEL_P = 0.03

TEAMS = ["logistics", "billing", "tech", "care"]
TEAM_OF_THEME = {
    "delivery_delay": 0,
    "damaged_packaging": 0,
    "billing_refund": 1,
    "website_bug": 2,
    "product_quality": 3,
}
AGENTS = [
    ["Tom Becker", "Sara Lopez", "Ahmed Khan", "Julia Rossi", "Marco Bianchi", "Nina Visser"],
    ["Pieter de Wit", "Claire Martin", "Jonas Weber", "Elif Demir", "Laura Smith"],
    ["Ravi Patel", "Emma Dubois", "Lukas Meyer", "Sofia Garcia", "Daan Bakker"],
    ["Chloe Bernard", "Oliver Jones", "Marta Russo", "Felix Koch", "Hannah Wright", "Diego Perez"],
]
RUDE_AGENTS = ["Marco Bianchi", "Felix Koch"]
TICKET_CHANNELS = ["chat", "phone", "email"]
TICKET_TOUCHPOINTS = ["support_chat", "support_phone", "support_email"]
#: mean first-response time per ticket channel (minutes) and the wait counted as long
WAIT_MEAN = [4.0, 7.0, 9 * 60.0]
LONG_WAIT = [10.0, 15.0, 24 * 60.0]
PEAK_WAIT_FACTOR = 2.2


@dataclass
class Fulfilment:
    status: np.ndarray  # object
    delivered: np.ndarray  # bool (delivered by END)
    delivery_ts: np.ndarray  # µs or NAT
    late: np.ndarray
    damaged: np.ndarray
    quality: np.ndarray
    returned: np.ndarray
    return_ts: np.ndarray


def in_peak(ts: np.ndarray) -> np.ndarray:
    return (ts >= PEAK[0]) & (ts < PEAK[1])


def fulfil(rng: np.random.Generator, od: Orders, cu: Customers) -> Fulfilment:
    n = od.n
    store = od.channel == STORE
    cancelled = rng.random(n) < np.where(store, CANCEL_P / 3, CANCEL_P)
    ship = ~store & ~cancelled
    country = take(COUNTRIES, cu.country[od.cust])
    late_p = (
        np.where(np.isin(country, ["IT", "ES"]), LATE_P["IT"], LATE_P["base"]) + in_peak(od.ts) * LATE_P["peak_extra"]
    )
    late = ship & (rng.random(n) < late_p)
    promised = 2 + rng.integers(0, 3, n)
    days = np.where(late, promised + 1 + rng.poisson(2.0, n), np.maximum(1, promised - rng.integers(0, 2, n)))
    delivery_ts = od.ts + days * DAY + ((rng.random(n) * 8 - 4) * HOUR).astype(np.int64)
    delivery_ts = np.where(ship, delivery_ts, NAT)
    delivered = ship & (delivery_ts <= T1)
    damaged = delivered & (rng.random(n) < DAMAGE_P)
    quality = ~cancelled & (rng.random(n) < QUALITY_P)
    base = np.where(store, od.ts, delivery_ts)
    return_ts = base + ((1 + rng.random(n) * 11) * DAY).astype(np.int64)
    ret_p = 0.03 + 0.35 * damaged + 0.30 * quality + 0.05 * late
    returned = (delivered | store) & ~cancelled & (rng.random(n) < ret_p) & (return_ts <= T1)
    status = np.full(n, "completed", dtype=object)
    status[ship & ~delivered] = "pending"
    status[returned] = "returned"
    status[cancelled] = "cancelled"
    return Fulfilment(
        status=status,
        delivered=delivered,
        delivery_ts=delivery_ts,
        late=late & delivered,
        damaged=damaged,
        quality=quality,
        returned=returned,
        return_ts=np.where(returned, return_ts, NAT),
    )


def fulfilment_events(rng: np.random.Generator, od: Orders, fu: Fulfilment) -> list[EventPart]:
    d = np.flatnonzero(fu.delivered)
    late = fu.late[d]
    days = ((fu.delivery_ts[d] - od.ts[d]) // DAY).astype(np.int64)
    props = json_objects(
        json_field("order_id", od.order_id[d].astype(str)),
        json_field("days", raw=s(days)),
        json_field("late", raw=json_bool(late)),
    ).astype(object)
    delivery = EventPart(
        cust=od.cust[d],
        ts=fu.delivery_ts[d],
        name="delivery",
        type="track",
        touchpoint="delivery",
        channel="logistics",
        properties=props,
    )
    r = np.flatnonzero(fu.returned)
    reason = np.where(fu.damaged[r], 0, np.where(fu.quality[r], 1, np.where(fu.late[r], 2, 3)))
    reasons = s(["damaged", "defective", "arrived_late", "changed_mind"])[reason]
    props = json_objects(json_field("order_id", od.order_id[r].astype(str)), json_field("reason", reasons)).astype(
        object
    )
    returns = EventPart(
        cust=od.cust[r],
        ts=fu.return_ts[r],
        name="return_request",
        type="track",
        touchpoint="returns",
        channel="web",
        properties=props,
    )
    return [delivery, returns]


@dataclass
class Tickets:
    n: int
    ticket_id: np.ndarray
    cust: np.ndarray
    order: np.ndarray  # order index or -1
    created: np.ndarray
    first_response: np.ndarray
    resolved: np.ndarray
    channel: np.ndarray  # code
    theme: np.ndarray  # THEME code
    angry: np.ndarray
    long_wait: np.ndarray
    rude: np.ndarray
    contacts: np.ndarray
    agent: np.ndarray  # object
    team: np.ndarray  # object
    status: np.ndarray  # object
    subject: np.ndarray  # object
    body: np.ndarray  # object
    pii: np.ndarray  # bool


def make_tickets(
    rng: np.random.Generator, od: Orders, fu: Fulfilment, cu: Customers, alive_until: np.ndarray, bank: TextBank
) -> Tickets:
    n = od.n
    cancelled = fu.status == "cancelled"
    p = 0.03 + 0.28 * fu.late + 0.45 * fu.damaged + 0.35 * fu.quality + 0.25 * fu.returned + 0.06 * cancelled
    o = np.flatnonzero(rng.random(n) < p)
    theme_o = np.select(
        [fu.damaged[o], fu.quality[o], fu.late[o], fu.returned[o] | cancelled[o]],
        [THEME["damaged_packaging"], THEME["product_quality"], THEME["delivery_delay"], THEME["billing_refund"]],
        default=np.where(rng.random(len(o)) < 0.5, THEME["billing_refund"], THEME["website_bug"]),
    )
    promised_at = od.ts[o] + 3 * DAY
    after = np.where(fu.delivered[o], fu.delivery_ts[o], od.ts[o])
    created_o = np.where(theme_o == THEME["delivery_delay"], promised_at, after)
    created_o = created_o + (rng.exponential(1.2, len(o)) * DAY).astype(np.int64) + 10 * MINUTE
    # tickets not about an order: billing questions and website problems while the customer is around
    k = rng.poisson(0.035, cu.n)
    g_cust = np.repeat(np.arange(cu.n), k)
    span = np.maximum(alive_until[g_cust] - cu.created[g_cust], HOUR)
    created_g = cu.created[g_cust] + (rng.random(len(g_cust)) * span).astype(np.int64)
    theme_g = np.where(rng.random(len(g_cust)) < 0.55, THEME["website_bug"], THEME["billing_refund"])

    cust = np.r_[od.cust[o], g_cust]
    order = np.r_[o, np.full(len(g_cust), -1)]
    created = np.r_[created_o, created_g]
    theme = np.r_[theme_o, theme_g]
    keep = created <= T1
    cust, order, created, theme = cust[keep], order[keep], created[keep], theme[keep]
    srt = np.argsort(created, kind="stable")
    cust, order, created, theme = cust[srt], order[srt], created[srt], theme[srt]
    m = len(cust)

    chan = choice(rng, m, [0.45, 0.30, 0.25])
    wait_min = rng.exponential(1.0, m) * np.take(WAIT_MEAN, chan) * np.where(in_peak(created), PEAK_WAIT_FACTOR, 1.0)
    long_wait = wait_min > np.take(LONG_WAIT, chan)
    first = created + (wait_min * MINUTE).astype(np.int64)
    team_code = np.select([theme == THEME[t] for t in TEAM_OF_THEME], list(TEAM_OF_THEME.values()), default=3)
    flat = [a for team in AGENTS for a in team]
    offsets = np.cumsum([0] + [len(t) for t in AGENTS])
    agent_idx = offsets[team_code] + (rng.random(m) * np.diff(offsets)[team_code]).astype(np.int64)
    agent = take(flat, agent_idx)
    rude = np.isin(agent, RUDE_AGENTS)
    fcr = rng.random(m) < 0.72 - 0.25 * long_wait - 0.3 * rude
    contacts = np.where(fcr, 1, 2 + rng.poisson(0.6, m))
    per_contact = np.take([25.0, 15.0, 14 * 60.0], chan)
    work = rng.exponential(1.0, m) * per_contact * contacts + (contacts - 1) * rng.exponential(1.0, m) * 24 * 60
    resolved = first + (np.minimum(work, 20 * 24 * 60) * MINUTE).astype(np.int64)
    stuck = rng.random(m) < 0.03
    no_reply = first > T1
    unresolved = stuck | (resolved > T1)
    first = np.where(no_reply, NAT, first)
    resolved = np.where(unresolved, NAT, resolved)
    status = np.where(
        unresolved,
        np.where(no_reply | (contacts == 1), "open", "pending"),
        np.where(resolved < T1 - 5 * DAY, "closed", "solved"),
    ).astype(object)

    trigger = np.isin(theme, [THEME["delivery_delay"], THEME["damaged_packaging"], THEME["product_quality"]])
    angry = cu.u[cust] + 0.5 * rng.standard_normal(m) - 0.4 * trigger < -0.7
    subject = np.empty(m, dtype=object)
    for name, subjects in TICKET_SUBJECTS.items():
        sel = theme == THEME[name]
        subject[sel] = pick(rng, subjects, int(sel.sum())).astype(object)
    opener = np.where(angry, pick(rng, TICKET_OPENERS["angry"], m), pick(rng, TICKET_OPENERS["calm"], m))
    closer = np.where(angry, pick(rng, TICKET_CLOSERS["angry"], m), pick(rng, TICKET_CLOSERS["calm"], m))
    sentence = bank.sentences(rng, theme, np.full(m, NEG))
    ref = np.where(
        order >= 0, cat(" Order number ", s(np.where(order >= 0, od.order_id[np.maximum(order, 0)], "")), "."), s("")
    )
    pii = rng.random(m) < 0.08
    snippet, _ = pii_snippets(rng, cu.first_name[cust])
    body = cat(opener, sentence, ref, np.where(pii, snippet, s("")), closer, "\n", cu.name[cust].astype(str))
    return Tickets(
        n=m,
        ticket_id=ids("T", np.arange(1, m + 1), 7).astype(object),
        cust=cust,
        order=order,
        created=created,
        first_response=first,
        resolved=resolved,
        channel=chan,
        theme=theme,
        angry=angry,
        long_wait=long_wait,
        rude=rude,
        contacts=contacts,
        agent=agent,
        team=take(TEAMS, team_code),
        status=status,
        subject=subject,
        body=body.astype(object),
        pii=pii,
    )


def ticket_events(tk: Tickets) -> EventPart:
    props = json_objects(json_field("ticket_id", tk.ticket_id.astype(str))).astype(object)
    return EventPart(
        cust=tk.cust,
        ts=tk.created,
        name="support_contact",
        type="track",
        touchpoint=take(["support_chat", "support_phone", "support_email"], tk.channel),
        channel=take(TICKET_CHANNELS, tk.channel),
        properties=props,
    )


def order_channel_names(od: Orders) -> np.ndarray:
    return take(["web", "mobile_app", "store"], od.channel)
