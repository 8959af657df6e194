"""Surveys (NPS, CSAT, CES), reviews and the loyalty/advocacy events that follow them.

A score is ``round(mu + beta_u * u + sum(effects) + noise)`` clipped to the metric's range, where
``u`` is the customer's latent satisfaction and the effects are the planted drivers (late
delivery, damage, defects, long support waits, rude agents, app checkout friction, churn in
the coming months). The effects are in score points before rounding and clipping and are
copied verbatim into ``truth["drivers"]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cxlens.ingest.simulate._base import (
    APP,
    DAY,
    HOUR,
    MINUTE,
    NAT,
    STORE,
    T1,
    cat,
    choice,
    group_rank,
    ids,
    json_field,
    json_objects,
    s,
    take,
)
from cxlens.ingest.simulate.commerce import EventPart, Orders
from cxlens.ingest.simulate.people import Catalogue, Customers
from cxlens.ingest.simulate.service import Fulfilment, Tickets
from cxlens.ingest.simulate.texts import NEG, NEU, POS, REVIEW_TITLES, THEME, THEMES, TextBank, pick, pii_snippets

#: survey id → (metric, low, high, mu, beta_u, noise sd, response rate)
SURVEYS = {
    "nps_relationship": ("nps", 0, 10, 8.0, 1.4, 1.6, 0.45),
    "nps_purchase": ("nps", 0, 10, 8.4, 1.4, 1.5, 0.30),
    "csat_delivery": ("csat", 1, 5, 3.95, 0.55, 0.75, 0.40),
    "ces_checkout": ("ces", 1, 7, 5.9, 0.5, 0.9, 0.25),
    "csat_support": ("csat", 1, 5, 4.6, 0.5, 0.7, 0.45),
    "ces_support": ("ces", 1, 7, 5.7, 0.4, 0.9, 0.40),
}
#: planted effects in score points, per survey
DRIVERS = {
    "nps_relationship": {"late_delivery_before": -1.0, "churns_within_120_days": -1.6, "never_bought": -0.6},
    "nps_purchase": {"late_delivery": -2.2, "damaged_packaging": -2.0, "product_defect": -2.5, "store_purchase": 0.5},
    "csat_delivery": {"late_delivery": -1.8, "damaged_packaging": -1.6},
    "ces_checkout": {"mobile_app_checkout": -1.6},
    "csat_support": {"long_wait": -1.2, "rude_agent": -1.5, "per_extra_contact": -0.4},
    "ces_support": {"long_wait": -1.6, "rude_agent": -0.8, "per_extra_contact": -0.7},
}
#: relationship survey waves (sent to every customer signed up two weeks before and still active)
WAVES = ["2025-03-15", "2025-06-15", "2025-09-15", "2025-12-15", "2026-03-15", "2026-06-15"]
COMMENT_P = {NEG: 0.5, NEU: 0.22, POS: 0.33}
PII_COMMENT_P = 0.015
#: themes a comment may talk about when nothing specific happened, per survey and polarity
FREE_THEMES = {
    "nps_relationship": {
        NEG: ["price_value", "product_quality", "rude_support", "website_bug"],
        POS: ["product_quality", "price_value", "helpful_support", "fast_delivery"],
    },
    "nps_purchase": {
        NEG: ["price_value", "product_quality", "website_bug"],
        POS: ["product_quality", "price_value", "easy_checkout", "fast_delivery"],
    },
    "csat_delivery": {NEG: ["delivery_delay", "damaged_packaging"], POS: ["fast_delivery"]},
    "ces_checkout": {NEG: ["website_bug"], POS: ["easy_checkout"]},
    "csat_support": {NEG: ["rude_support", "long_wait"], POS: ["helpful_support"]},
    "ces_support": {NEG: ["long_wait", "rude_support"], POS: ["helpful_support"]},
    "review": {NEG: ["product_quality", "price_value"], POS: ["product_quality", "price_value", "fast_delivery"]},
}
SENTIMENT = ["negative", "neutral", "positive"]


def polarity(metric: str, score: np.ndarray) -> np.ndarray:
    lo, hi = {"nps": (6, 9), "csat": (2, 4), "ces": (3, 5), "rating": (2, 4)}[metric]
    return np.where(score <= lo, NEG, np.where(score >= hi, POS, NEU))


def score(rng: np.random.Generator, survey: str, u: np.ndarray, effect: np.ndarray) -> np.ndarray:
    _, lo, hi, mu, beta, sd, _ = SURVEYS[survey]
    x = mu + beta * u + effect + sd * rng.standard_normal(len(u))
    return np.clip(np.round(x), lo, hi)


def pick_theme(rng: np.random.Generator, survey: str, pol: np.ndarray, driver: np.ndarray) -> np.ndarray:
    """The driver's theme when the answer is not positive, else a theme the survey is about."""
    n = len(pol)
    out = np.full(n, -1, dtype=np.int64)
    for p, options in FREE_THEMES[survey].items():
        m = pol == p
        out[m] = take([THEME[t] for t in options], rng.integers(0, len(options), int(m.sum())))
    neu = pol == NEU
    mixed = np.r_[FREE_THEMES[survey][NEG], FREE_THEMES[survey][POS]]
    out[neu] = take([THEME[t] for t in mixed], rng.integers(0, len(mixed), int(neu.sum())))
    use_driver = (driver >= 0) & (pol != POS)
    out[use_driver] = driver[use_driver]
    return out


@dataclass
class Batch:
    """Rows of one survey before ids, comments and sorting."""

    survey: str
    cust: np.ndarray
    ts: np.ndarray
    score: np.ndarray
    driver: np.ndarray  # THEME code or -1
    touchpoint: object
    channel: object
    stage: str
    ref_key: str | None = None
    ref: np.ndarray | None = None  # object ids (order/ticket)
    flags: dict[str, np.ndarray] = field(default_factory=dict)  # planted causes, for the observed effects

    def within_period(self) -> Batch:
        """Drop answers that would arrive after the end of the simulated period."""
        keep = self.ts <= T1

        def cut(v: object) -> object:
            return v[keep] if isinstance(v, np.ndarray) else v

        return Batch(
            self.survey,
            self.cust[keep],
            self.ts[keep],
            self.score[keep],
            self.driver[keep],
            cut(self.touchpoint),
            cut(self.channel),
            self.stage,
            self.ref_key,
            cut(self.ref),
            {k: v[keep] for k, v in self.flags.items()},
        )


@dataclass
class Feedback:
    n: int
    feedback_id: np.ndarray
    cust: np.ndarray
    ts: np.ndarray
    metric: np.ndarray
    score: np.ndarray
    comment: np.ndarray
    touchpoint: np.ndarray
    channel: np.ndarray
    stage: np.ndarray
    survey: np.ndarray
    properties: np.ndarray
    theme: np.ndarray
    pii: np.ndarray
    batches: list[Batch] = field(default_factory=list)


def _sample(rng: np.random.Generator, mask: np.ndarray, rate: float) -> np.ndarray:
    return np.flatnonzero(mask & (rng.random(len(mask)) < rate))


def survey_batches(
    rng: np.random.Generator,
    cu: Customers,
    od: Orders,
    fu: Fulfilment,
    tk: Tickets,
    death: np.ndarray,
    first_purchase: np.ndarray,
) -> list[Batch]:
    out = []
    # relationship NPS, quarterly
    late_first = np.full(cu.n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(late_first, od.cust[fu.late], fu.delivery_ts[fu.late])
    eff = DRIVERS["nps_relationship"]
    for w in WAVES:
        wt = int(np.datetime64(w, "us").astype(np.int64)) + 9 * HOUR
        eligible = (cu.created < wt - 14 * DAY) & ((death == NAT) | (death > wt))
        c = _sample(rng, eligible, SURVEYS["nps_relationship"][6])
        ts = wt + (np.minimum(rng.exponential(3.0, len(c)), 12) * DAY).astype(np.int64)
        late_before = late_first[c] < wt
        soon = (death[c] != NAT) & (death[c] - wt < 120 * DAY)
        never = (first_purchase[c] == NAT) | (first_purchase[c] > wt)
        effect = (
            eff["late_delivery_before"] * late_before
            + eff["churns_within_120_days"] * soon
            + eff["never_bought"] * never
        )
        sc = score(rng, "nps_relationship", cu.u[c], effect)
        driver = np.where(late_before, THEME["delivery_delay"], -1)
        keep = ts <= T1
        out.append(
            Batch(
                "nps_relationship",
                c[keep],
                ts[keep],
                sc[keep],
                driver[keep],
                None,
                "email",
                "loyalty",
                flags={
                    "late_delivery_before": late_before[keep],
                    "churns_within_120_days": soon[keep],
                    "never_bought": never[keep],
                },
            )
        )

    online = od.channel != STORE
    done = fu.delivered | (~online & (fu.status != "cancelled"))
    # NPS after the purchase (once delivered, or right after a store purchase)
    o = _sample(rng, done, SURVEYS["nps_purchase"][6])
    eff = DRIVERS["nps_purchase"]
    base = np.where(online[o], fu.delivery_ts[o], od.ts[o])
    ts = base + HOUR + (rng.exponential(2.0, len(o)) * DAY).astype(np.int64)
    effect = (
        eff["late_delivery"] * fu.late[o]
        + eff["damaged_packaging"] * fu.damaged[o]
        + eff["product_defect"] * fu.quality[o]
        + eff["store_purchase"] * ~online[o]
    )
    driver = np.select(
        [fu.quality[o], fu.damaged[o], fu.late[o]],
        [THEME["product_quality"], THEME["damaged_packaging"], THEME["delivery_delay"]],
        -1,
    )
    driver = np.where((driver < 0) & ~online[o] & (rng.random(len(o)) < 0.6), THEME["friendly_staff"], driver)
    sc = score(rng, "nps_purchase", cu.u[od.cust[o]], effect)
    out.append(
        Batch(
            "nps_purchase",
            od.cust[o],
            ts,
            sc,
            driver,
            np.where(online[o], "order_confirmation", "store").astype(object),
            np.where(online[o], "email", "store").astype(object),
            "purchase",
            "order_id",
            od.order_id[o],
            flags={
                "late_delivery": fu.late[o],
                "damaged_packaging": fu.damaged[o],
                "product_defect": fu.quality[o],
                "store_purchase": ~online[o],
            },
        )
    )
    # CSAT of the delivery
    o = _sample(rng, fu.delivered, SURVEYS["csat_delivery"][6])
    eff = DRIVERS["csat_delivery"]
    ts = fu.delivery_ts[o] + (rng.exponential(0.5, len(o)) * DAY).astype(np.int64) + 10 * MINUTE
    effect = eff["late_delivery"] * fu.late[o] + eff["damaged_packaging"] * fu.damaged[o]
    driver = np.select([fu.damaged[o], fu.late[o]], [THEME["damaged_packaging"], THEME["delivery_delay"]], -1)
    sc = score(rng, "csat_delivery", cu.u[od.cust[o]], effect)
    out.append(
        Batch(
            "csat_delivery",
            od.cust[o],
            ts,
            sc,
            driver,
            "delivery",
            "logistics",
            "service",
            "order_id",
            od.order_id[o],
            flags={"late_delivery": fu.late[o], "damaged_packaging": fu.damaged[o]},
        )
    )
    # CES of the checkout (online orders)
    o = _sample(rng, online, SURVEYS["ces_checkout"][6])
    app = od.channel[o] == APP
    ts = od.ts[o] + 2 * MINUTE + (rng.exponential(5.0, len(o)) * MINUTE).astype(np.int64)
    sc = score(rng, "ces_checkout", cu.u[od.cust[o]], DRIVERS["ces_checkout"]["mobile_app_checkout"] * app)
    driver = np.where(app & (rng.random(len(o)) < 0.7), THEME["website_bug"], -1)
    out.append(
        Batch(
            "ces_checkout",
            od.cust[o],
            ts,
            sc,
            driver,
            "checkout",
            np.where(app, "mobile_app", "web").astype(object),
            "purchase",
            "order_id",
            od.order_id[o],
            flags={"mobile_app_checkout": app},
        )
    )
    # support CSAT and CES after a resolved ticket
    resolved = tk.resolved != NAT
    for survey in ("csat_support", "ces_support"):
        t = _sample(rng, resolved, SURVEYS[survey][6])
        eff = DRIVERS[survey]
        ts = tk.resolved[t] + (rng.exponential(3.0, len(t)) * HOUR).astype(np.int64) + 5 * MINUTE
        effect = (
            eff["long_wait"] * tk.long_wait[t]
            + eff["rude_agent"] * tk.rude[t]
            + eff["per_extra_contact"] * (tk.contacts[t] - 1)
        )
        driver = np.select([tk.rude[t], tk.long_wait[t]], [THEME["rude_support"], THEME["long_wait"]], -1)
        sc = score(rng, survey, cu.u[tk.cust[t]], effect)
        out.append(
            Batch(
                survey,
                tk.cust[t],
                ts,
                sc,
                driver,
                take(["support_chat", "support_phone", "support_email"], tk.channel[t]),
                take(["chat", "phone", "email"], tk.channel[t]),
                "service",
                "ticket_id",
                tk.ticket_id[t],
                flags={"long_wait": tk.long_wait[t], "rude_agent": tk.rude[t], "per_extra_contact": tk.contacts[t] > 1},
            )
        )
    return [b.within_period() for b in out]


def make_feedback(rng: np.random.Generator, cu: Customers, batches: list[Batch], bank: TextBank) -> Feedback:
    cust = np.concatenate([b.cust for b in batches])
    ts = np.concatenate([b.ts for b in batches])
    sc = np.concatenate([b.score for b in batches]).astype(np.float64)
    n = len(cust)
    survey_code = np.concatenate([np.full(len(b.cust), i) for i, b in enumerate(batches)])
    metric = np.concatenate([take([SURVEYS[b.survey][0]], np.zeros(len(b.cust), int)) for b in batches])

    def stack(attr: str) -> np.ndarray:
        parts = []
        for b in batches:
            v = getattr(b, attr)
            parts.append(v if isinstance(v, np.ndarray) else take([v], np.zeros(len(b.cust), int)))
        return np.concatenate(parts)

    touchpoint, channel, stage = stack("touchpoint"), stack("channel"), stack("stage")
    pol = np.empty(n, dtype=np.int64)
    theme = np.empty(n, dtype=np.int64)
    start = 0
    for b in batches:
        k = len(b.cust)
        pol[start : start + k] = polarity(SURVEYS[b.survey][0], b.score)
        theme[start : start + k] = pick_theme(rng, b.survey, pol[start : start + k], b.driver)
        start += k
    has_comment = rng.random(n) < np.take([COMMENT_P[NEG], COMMENT_P[NEU], COMMENT_P[POS]], pol)
    c = np.flatnonzero(has_comment)
    text = bank.comment(rng, theme[c], pol[c])
    pii_c = rng.random(len(c)) < PII_COMMENT_P
    snippet, _ = pii_snippets(rng, cu.first_name[cust[c]])
    text = np.where(pii_c, cat(text, snippet), text)
    comment = np.full(n, None, dtype=object)
    comment[c] = text.astype(object)
    pii = np.zeros(n, dtype=bool)
    pii[c[pii_c]] = True

    srt = np.argsort(ts, kind="stable")
    fid = np.empty(n, dtype=object)
    fid[srt] = ids("F", np.arange(1, n + 1), 8).astype(object)
    refs = np.full(n, "", dtype=object)
    ref_key = np.full(n, "", dtype=object)
    start = 0
    for b in batches:
        k = len(b.cust)
        if b.ref is not None:
            refs[start : start + k] = b.ref
            ref_key[start : start + k] = b.ref_key
        start += k
    props = json_objects(
        json_field("theme", s(take(THEMES, theme))),
        json_field("sentiment", s(take(SENTIMENT, pol))),
        json_field("order_id", s(refs), present=ref_key == "order_id"),
        json_field("ticket_id", s(refs), present=ref_key == "ticket_id"),
    ).astype(object)
    surveys = take([b.survey for b in batches], survey_code)
    f = Feedback(
        n=n,
        feedback_id=fid,
        cust=cust,
        ts=ts,
        metric=metric,
        score=sc,
        comment=comment,
        touchpoint=touchpoint,
        channel=channel,
        stage=stage,
        survey=surveys,
        properties=props,
        theme=theme,
        pii=pii,
        batches=batches,
    )
    return _sort(f, srt)


def _sort(f: Feedback, srt: np.ndarray) -> Feedback:
    for name in (
        "feedback_id",
        "cust",
        "ts",
        "metric",
        "score",
        "comment",
        "touchpoint",
        "channel",
        "stage",
        "survey",
        "properties",
        "theme",
        "pii",
    ):
        setattr(f, name, getattr(f, name)[srt])
    return f


@dataclass
class Reviews:
    n: int
    review_id: np.ndarray
    source: np.ndarray
    cust: np.ndarray
    ts: np.ndarray
    rating: np.ndarray
    title: np.ndarray
    body: np.ndarray
    product_id: np.ndarray
    theme: np.ndarray
    polarity: np.ndarray


def make_reviews(
    rng: np.random.Generator, cu: Customers, od: Orders, fu: Fulfilment, cat_: Catalogue, bank: TextBank
) -> Reviews:
    online = od.channel != STORE
    done = np.flatnonzero(fu.delivered | (~online & (fu.status != "cancelled")))
    x = (
        3.9
        + 0.9 * cu.u[od.cust[done]]
        - 1.8 * fu.late[done]
        - 1.8 * fu.damaged[done]
        - 2.3 * fu.quality[done]
        + 0.9 * rng.standard_normal(len(done))
    )
    rating = np.clip(np.round(x), 1, 5)
    p_review = np.take([0.0, 0.14, 0.08, 0.04, 0.04, 0.07], rating.astype(int))
    pick_ = rng.random(len(done)) < p_review
    o, rating = done[pick_], rating[pick_]
    base = np.where(online[o], fu.delivery_ts[o], od.ts[o])
    ts = base + ((1 + rng.exponential(5.0, len(o))) * DAY).astype(np.int64)
    keep = ts <= T1
    o, rating, ts = o[keep], rating[keep], ts[keep]
    srt = np.argsort(ts, kind="stable")
    o, rating, ts = o[srt], rating[srt], ts[srt]
    m = len(o)
    app = od.channel[o] == APP
    source = np.where(app & (rng.random(m) < 0.6), 2, choice(rng, m, [0.6, 0.4]))
    pol = polarity("rating", rating)
    driver = np.select(
        [fu.quality[o], fu.damaged[o], fu.late[o]],
        [THEME["product_quality"], THEME["damaged_packaging"], THEME["delivery_delay"]],
        -1,
    )
    theme = pick_theme(rng, "review", pol, driver)
    title = np.empty(m, dtype=object)
    for p, key in ((NEG, "neg"), (NEU, "neu"), (POS, "pos")):
        sel = pol == p
        title[sel] = pick(rng, REVIEW_TITLES[key], int(sel.sum())).astype(object)
    return Reviews(
        n=m,
        review_id=ids("R", np.arange(1, m + 1), 7).astype(object),
        source=take(["trustpilot", "google", "app_store"], source),
        cust=od.cust[o],
        ts=ts,
        rating=rating.astype(np.float64),
        title=title,
        body=bank.comment(rng, theme, pol).astype(object),
        product_id=cat_.product_id[od.first_product[o]],
        theme=theme,
        polarity=pol,
    )


def review_events(rv: Reviews) -> EventPart:
    props = json_objects(json_field("review_id", rv.review_id.astype(str)), json_field("source", s(rv.source))).astype(
        object
    )
    return EventPart(
        cust=rv.cust,
        ts=rv.ts - 2 * MINUTE,
        name="review",
        type="track",
        touchpoint="review_site",
        channel="review_site",
        properties=props,
    )


def loyalty_events(
    rng: np.random.Generator, cu: Customers, od: Orders, fb: Feedback, alive_until: np.ndarray
) -> list[EventPart]:
    """Newsletter opens while subscribed and active, loyalty sign-ups, referrals by promoters."""
    # newsletter: about one open every two months while the customer is around
    active_days = np.maximum(alive_until - cu.created, 0) / DAY
    k = rng.poisson(np.where(cu.opt_in, active_days / 55.0, 0.0))
    c = np.repeat(np.arange(cu.n), k)
    ts = cu.created[c] + (rng.random(len(c)) * (alive_until[c] - cu.created[c])).astype(np.int64)
    month = ts.view("datetime64[us]").astype("datetime64[M]")
    mi = (month - np.datetime64("2025-01", "M")).astype(np.int64).clip(0, 17)
    names = [str(np.datetime64("2025-01", "M") + i) for i in range(18)]
    props = take([f'{{"campaign": "newsletter_{x.replace("-", "_")}"}}' for x in names], mi)
    news = EventPart(
        cust=c, ts=ts, name="newsletter_open", type="track", touchpoint="newsletter", channel="email", properties=props
    )
    # loyalty programme: some customers join after their second order
    rank = np.zeros(od.n, dtype=np.int64)
    by_c = np.lexsort((od.ts, od.cust))
    rank[by_c] = group_rank(od.cust[by_c])
    second = np.flatnonzero((rank == 1) & (rng.random(od.n) < 0.45))
    ts = od.ts[second] + (rng.exponential(4.0, len(second)) * DAY).astype(np.int64) + HOUR
    ok = ts < np.minimum(alive_until[od.cust[second]], T1)
    loyal = EventPart(
        cust=od.cust[second[ok]],
        ts=ts[ok],
        name="loyalty_signup",
        type="track",
        touchpoint="loyalty_program",
        channel="mobile_app",
    )
    # referrals by promoters
    prom = np.flatnonzero((fb.metric == "nps") & (fb.score >= 9) & (rng.random(fb.n) < 0.25))
    ts = fb.ts[prom] + (rng.exponential(6.0, len(prom)) * DAY).astype(np.int64) + HOUR
    ok = ts < np.minimum(alive_until[fb.cust[prom]], T1)
    ref = EventPart(
        cust=fb.cust[prom[ok]],
        ts=ts[ok],
        name="referral",
        type="track",
        touchpoint="referral",
        channel="email",
        properties='{"medium": "referral_link"}',
    )
    return [news, loyal, ref]
