"""The ground truth of a simulation: planted parameters and the rates they produced.

Every value is plain JSON (str, int, float, bool, list, dict). "Configured" values are the
parameters the generator used; "observed" ones are computed from the generated rows, so a test
of an analysis can compare against either.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from cxlens.ingest.simulate._base import APP, NAT, STORE, WEB, take
from cxlens.ingest.simulate.commerce import (
    CHECKOUT_ERROR_P,
    STEP_CONTINUE,
    STEPS,
    Lifetimes,
    Orders,
    Sessions,
    conversion,
)
from cxlens.ingest.simulate.feedback import DRIVERS, SURVEYS, WAVES, Feedback, Reviews
from cxlens.ingest.simulate.people import COUNTRIES, CURRENCY_OF, PLANS, SEGMENTS, Catalogue, CLVParams, Customers
from cxlens.ingest.simulate.service import (
    LATE_P,
    LONG_WAIT,
    PEAK,
    PEAK_WAIT_FACTOR,
    RUDE_AGENTS,
    TEAMS,
    Fulfilment,
    Tickets,
)
from cxlens.ingest.simulate.texts import TEMPLATES, THEMES

SURVEY_PLACE = {
    "nps_relationship": (None, "email"),
    "nps_purchase": ("order_confirmation / store", "email / store"),
    "csat_delivery": ("delivery", "logistics"),
    "ces_checkout": ("checkout", "web / mobile_app"),
    "csat_support": ("support_chat / support_phone / support_email", "chat / phone / email"),
    "ces_support": ("support_chat / support_phone / support_email", "chat / phone / email"),
}


def _r(x: float, nd: int = 4) -> float | None:
    x = float(x)
    return None if np.isnan(x) else round(x, nd)


def _share(mask: np.ndarray) -> float | None:
    return _r(mask.mean()) if len(mask) else None


def _funnel(se: Sessions) -> dict[str, Any]:
    observed, abandonment = {}, {}
    for code, name in ((WEB, "web"), (APP, "mobile_app")):
        d = se.depth[se.channel == code]
        reach = [int((d >= k).sum()) for k in range(5)]
        observed[name] = {
            f"{STEPS[k]}->{STEPS[k + 1]}": _r(reach[k + 1] / reach[k]) if reach[k] else None for k in range(4)
        }
        observed[name]["sessions"] = reach[0]
        carts = d >= 2
        abandonment[name] = _share(d[carts] < 4)
    configured = {ch: {f"{STEPS[k]}->{STEPS[k + 1]}": q[k] for k in range(4)} for ch, q in STEP_CONTINUE.items()}
    drop = {ch: {step: _r(1 - q) for step, q in steps.items()} for ch, steps in configured.items()}
    online = se.channel != STORE
    carts = online & (se.depth >= 2)
    return {
        "steps": STEPS,
        "step_conversion": configured,
        "drop_off": drop,
        "observed_step_conversion": observed,
        "session_conversion": {ch: _r(conversion(ch)) for ch in STEP_CONTINUE},
        "cart_abandonment_by_channel": abandonment,
        "cart_abandonment_rate": _share(se.depth[carts] < 4),
        "store_sessions": int((~online).sum()),
    }


def _drivers(fb: Feedback) -> dict[str, Any]:
    by_survey: dict[str, list] = defaultdict(list)
    for b in fb.batches:
        by_survey[b.survey].append(b)
    observed: dict[str, Any] = {}
    for survey, batches in by_survey.items():
        scores = np.concatenate([b.score for b in batches])
        out = {"n": int(len(scores)), "mean": _r(scores.mean()) if len(scores) else None}
        for flag in batches[0].flags:
            f = np.concatenate([b.flags[flag] for b in batches]).astype(bool)
            if f.any() and (~f).any():
                out[flag] = {
                    "n": int(f.sum()),
                    "mean_with": _r(scores[f].mean()),
                    "mean_without": _r(scores[~f].mean()),
                    "difference": _r(scores[f].mean() - scores[~f].mean()),
                }
        observed[survey] = out
    return {
        "configured_effect_points": DRIVERS,
        "observed": observed,
        "note": "configured effects are score points added before rounding and clipping; "
        "observed are mean score with the cause minus without",
    }


def build_truth(
    *,
    seed: int,
    size: str | int,
    cu: Customers,
    se: Sessions,
    life: Lifetimes,
    od: Orders,
    fu: Fulfilment,
    tk: Tickets,
    fb: Feedback,
    rv: Reviews,
    clv: CLVParams,
    catalogue: Catalogue,
    event_names: list[str],
) -> dict[str, Any]:
    buyers = life.first_purchase != NAT
    dead = life.death != NAT
    churned = cu.churned_at != NAT
    funnel = _funnel(se)
    delivered = fu.delivered
    support_csat = fb.score[fb.survey == "csat_support"]
    delivery_csat = fb.score[fb.survey == "csat_delivery"]
    app_ces = fb.score[(fb.survey == "ces_checkout") & (fb.channel == "mobile_app")]
    web_ces = fb.score[(fb.survey == "ces_checkout") & (fb.channel == "web")]
    comment = fb.comment != None  # noqa: E711 - object array comparison
    theme_names = take(THEMES, fb.theme)
    return {
        "seed": int(seed),
        "size": size if isinstance(size, str) else int(size),
        "period": {"start": "2025-01-01T00:00:00", "end": "2026-06-30T23:59:59", "timezone": "UTC"},
        "n_customers": int(cu.n),
        "event_names": event_names,
        "surveys": {
            sid: {
                "metric": m,
                "range": [lo, hi],
                "response_rate": rate,
                "touchpoint": SURVEY_PLACE[sid][0],
                "channel": SURVEY_PLACE[sid][1],
                "mean_before_effects": mu,
            }
            for sid, (m, lo, hi, mu, _b, _sd, rate) in SURVEYS.items()
        },
        "relationship_survey_waves": WAVES,
        "themes": THEMES,
        "theme_polarities": {t: sorted(TEMPLATES[t]) for t in THEMES},
        "friction_touchpoints": [
            {
                "touchpoint": "checkout",
                "channel": "mobile_app",
                "why": "payment errors and app crashes: fewer checkouts complete and checkout effort is higher",
                "checkout_to_purchase": {"mobile_app": STEP_CONTINUE["mobile_app"][3], "web": STEP_CONTINUE["web"][3]},
                "checkout_error_share_of_abandoned": CHECKOUT_ERROR_P,
                "ces_effect_points": DRIVERS["ces_checkout"]["mobile_app_checkout"],
                "observed_mean_ces": {
                    "mobile_app": _r(app_ces.mean()) if len(app_ces) else None,
                    "web": _r(web_ces.mean()) if len(web_ces) else None,
                },
            },
            {
                "touchpoint": "delivery",
                "channel": "logistics",
                "why": "late and damaged deliveries; delivery CSAT sits below support CSAT",
                "late_rate": _share(fu.late[delivered]),
                "damage_rate": _share(fu.damaged[delivered]),
                "observed_mean_csat": {
                    "delivery": _r(delivery_csat.mean()) if len(delivery_csat) else None,
                    "support": _r(support_csat.mean()) if len(support_csat) else None,
                },
            },
        ],
        "funnel": funnel,
        "drop_off": funnel["drop_off"],
        "cart_abandonment_rate": funnel["cart_abandonment_rate"],
        "clv": {
            "model": "BG/NBD purchases (Fader, Hardie & Lee 2005) with gamma-gamma spend",
            "time_unit": "week",
            "r": clv.r,
            "alpha": clv.alpha,
            "a": clv.a,
            "b": clv.b,
            "p": clv.p,
            "q": clv.q,
            "gamma": clv.gamma,
            "transactions": "every order of a customer (any status); the first order is the trial purchase at t=0",
            "amount": "order amount in the order currency, gamma(p, nu) with nu ~ gamma(q, gamma) per customer",
            "buyers": int(buyers.sum()),
            "mean_repeat_purchases": _r(life.repeats[buyers].mean()) if buyers.any() else None,
            "dropped_out_share_of_buyers": _share(dead[buyers]),
            "alive_at_end_share_of_buyers": _share(~dead[buyers]),
            "mean_true_spend": _r((clv.p / cu.nu[buyers]).mean()) if buyers.any() else None,
        },
        "churn_rate": _share(churned),
        "churn": {
            "definition": "churned_at is set when a customer dropped out (BG/NBD) and two months or more passed "
            "after the last activity before 2026-06-30; customers who dropped out later are not marked",
            "churned": int(churned.sum()),
            "churn_rate_of_buyers": _share(churned[buyers]),
            "satisfaction_link": "latent satisfaction is correlated -0.6 with the dropout probability, and "
            "relationship NPS drops by 1.6 points in the 120 days before dropping out",
            "angry_ticket_share": {
                "churned": _share(tk.angry[churned[tk.cust]]),
                "not_churned": _share(tk.angry[~churned[tk.cust]]),
            },
        },
        "drivers": _drivers(fb),
        "rates": {
            "late_delivery": _share(fu.late[delivered]),
            "late_delivery_configured": LATE_P,
            "damaged": _share(fu.damaged[delivered]),
            "product_defect": _share(fu.quality[fu.status != "cancelled"]),
            "cancelled": _share(fu.status == "cancelled"),
            "returned": _share(fu.status == "returned"),
            "long_support_wait": _share(tk.long_wait),
            "first_contact_resolution": _share(tk.contacts == 1),
            "comment_share": _share(comment),
        },
        "planted": {
            "peak_season": {
                "start": "2025-11-15",
                "end": "2025-12-31",
                "late_delivery_extra": LATE_P["peak_extra"],
                "support_wait_factor": PEAK_WAIT_FACTOR,
            },
            "late_prone_countries": ["IT", "ES"],
            "rude_agents": RUDE_AGENTS,
            "long_wait_minutes": dict(zip(["chat", "phone", "email"], LONG_WAIT, strict=True)),
            "store_purchase_nps_bonus": DRIVERS["nps_purchase"]["store_purchase"],
        },
        "pii": {
            "feedback_ids": fb.feedback_id[fb.pii].tolist(),
            "ticket_ids": tk.ticket_id[tk.pii].tolist(),
            "note": "these comments / ticket bodies contain an e-mail address or phone number; every ticket body "
            "also ends with the customer's name",
        },
        "text_labels": {
            "feedback": "properties.theme and properties.sentiment of each feedback row",
            "feedback_comment_themes": {t: int(((theme_names == t) & comment).sum()) for t in THEMES},
            "tickets": {
                "ticket_id": tk.ticket_id.tolist(),
                "theme": take(THEMES, tk.theme).tolist(),
                "tone": np.where(tk.angry, "angry", "calm").tolist(),
            },
            "reviews": {
                "review_id": rv.review_id.tolist(),
                "theme": take(THEMES, rv.theme).tolist(),
                "sentiment": take(["negative", "neutral", "positive"], rv.polarity).tolist(),
            },
        },
        "catalogue": {"products": len(catalogue.product_id), "categories": sorted(set(catalogue.category.tolist()))},
        "segments": SEGMENTS,
        "plans": PLANS,
        "countries": COUNTRIES,
        "currencies": CURRENCY_OF,
        "teams": TEAMS,
        "peak": [int(PEAK[0]), int(PEAK[1])],
    }
