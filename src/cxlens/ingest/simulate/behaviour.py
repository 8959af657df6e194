"""Web behaviour of the demo shop, as the browser SDK would send it, with planted friction.

For every web page the simulated visitors see (landing page, product pages, cart, checkout) this
adds clicks on the page's elements (``$click`` with page coordinates, viewport, ``$selector``,
``$pageview_id``), a scroll depth, and the frustration signals those clicks cause:

* **a dead button** — ``#pay-later`` on the checkout does nothing: visitors who try it get a
  ``$deadclick``, and half of them click it again in a burst (``$rageclick``);
* **a confusing form** — ``#apply-coupon`` on the cart throws on some codes (``$errorclick``
  and ``$exception``);
* background noise everywhere: product photos are dead-clicked now and then (people expect a
  zoom), and any element gets a rare rage click.

The cart and checkout are ``track`` events in the base simulation, so a page view (``page``,
named by its path) is added for each. Uses its own random stream: the other tables are the same
with or without behaviour. The planted elements are in ``truth["behaviour"]``.
"""

from __future__ import annotations

import numpy as np

from cxlens.ingest.simulate._base import choice
from cxlens.ingest.simulate.commerce import SHOP, EventPart

__all__ = ["DEAD_BUTTON", "ERROR_BUTTON", "behaviour_events", "behaviour_truth"]

#: the planted friction
DEAD_BUTTON = {"url": SHOP + "/checkout", "selector": "#pay-later", "text": "Pay later"}
ERROR_BUTTON = {"url": SHOP + "/cart", "selector": "#apply-coupon", "text": "Apply coupon"}
#: chance a checkout visitor tries the dead button; chance they then rage-click it
DEAD_TRY_P, DEAD_RAGE_P = 0.35, 0.5
#: chance an apply-coupon click throws
ERROR_P = 0.3

# page kind → elements (selector, text, x as share of the viewport, y px, weight, dead-click chance)
_HOME, _PRODUCT, _CART, _CHECKOUT = 0, 1, 2, 3
ELEMENTS: dict[int, list[tuple[str, str, float, int, float, float]]] = {
    _HOME: [
        ("#hero > a.cta", "Shop the sale", 0.50, 420, 5, 0.0),
        ("nav > a:nth-of-type(2)", "Women", 0.30, 40, 3, 0.0),
        ("#search", "", 0.80, 40, 2, 0.0),
        ("#promo > img", "", 0.50, 900, 1, 0.25),
    ],
    _PRODUCT: [
        ("#add-to-cart", "Add to cart", 0.72, 520, 5, 0.0),
        ("img.product-photo", "", 0.30, 400, 3, 0.30),
        ("#size-select", "", 0.72, 440, 3, 0.0),
        ("#reviews-tab", "Reviews", 0.40, 1100, 1, 0.0),
    ],
    _CART: [
        ("#checkout", "Checkout", 0.75, 600, 5, 0.0),
        ("#apply-coupon", "Apply coupon", 0.75, 480, 2, 0.0),
        ("input#coupon", "", 0.55, 480, 2, 0.0),
        ("a.continue", "Continue shopping", 0.25, 600, 1, 0.0),
    ],
    _CHECKOUT: [
        ("#pay", "Pay now", 0.70, 700, 5, 0.0),
        ("#postcode", "", 0.40, 380, 3, 0.0),
        ("#terms", "", 0.20, 640, 2, 0.0),
    ],
}
#: viewport widths (desktop, tablet, mobile) and their shares
VIEWPORTS = [(1440, 900), (820, 1180), (390, 844)]
VIEWPORT_P = [0.55, 0.15, 0.30]


def _props(sel: str, text: str, x: int, y: int, vw: int, vh: int, pv: str, extra: str = "") -> str:
    t = f', "$text": "{text}"' if text else ""
    return (
        f'{{"$selector": "{sel}", "$x": {x}, "$y": {y}, "$viewport_width": {vw}, "$viewport_height": {vh}, '
        f'"$pageview_id": "{pv}"{t}{extra}}}'
    )


def behaviour_events(seed: int, part: EventPart) -> EventPart:
    """Behaviour events for the web page views of the session events ``part`` (see the module doc)."""
    rng = np.random.default_rng([seed, 0xB3A])
    url = np.asarray(part.url, dtype=object)
    chan = np.asarray(part.channel, dtype=object)
    has = np.array([isinstance(u, str) for u in url]) & (chan == "web")
    kind = np.full(len(url), -1)
    for i in np.flatnonzero(has):
        u = url[i]
        if u.startswith(SHOP + "/p/"):
            kind[i] = _PRODUCT
        elif u == SHOP + "/cart":
            kind[i] = _CART
        elif u == SHOP + "/checkout":
            kind[i] = _CHECKOUT
        elif u.startswith(SHOP + "/") and "/checkout/" not in u:
            kind[i] = _HOME
    views = np.flatnonzero(kind >= 0)
    cust, ts, sid = part.cust[views], part.ts[views], np.asarray(part.session_id, dtype=object)[views]
    anon = np.asarray(part.anonymous, dtype=object)[views]
    tp = np.asarray(part.touchpoint, dtype=object)[views]
    vurl, vkind = url[views], kind[views]
    vp = choice(rng, len(views), VIEWPORT_P)
    pv_ids = [f"pv{seed}-{i}" for i in range(len(views))]

    rows: dict[str, list] = {k: [] for k in ("view", "dt", "name", "type", "props")}

    def add(v: int, dt_s: float, name: str, props: str, typ: str = "track") -> None:
        rows["view"].append(v)
        rows["dt"].append(dt_s)
        rows["name"].append(name)
        rows["type"].append(typ)
        rows["props"].append(props)

    n_clicks = rng.poisson(1.6, len(views))
    for v in range(len(views)):
        k, (vw, vh), pv = int(vkind[v]), VIEWPORTS[vp[v]], pv_ids[v]
        if k in (_CART, _CHECKOUT):  # the base simulation has no page view for these
            add(v, -0.001, "/cart" if k == _CART else "/checkout", f'{{"$pageview_id": "{pv}"}}', "page")
        els = ELEMENTS[k]
        weights = np.array([e[4] for e in els], dtype=float)
        picks = rng.choice(len(els), size=n_clicks[v], p=weights / weights.sum())
        t = 0.0
        for j in picks:
            sel, text, fx, y, _, dead_p = els[j]
            t += 1 + rng.exponential(6.0)
            x, yy = int(fx * vw + rng.normal(0, 12)), int(y + rng.normal(0, 8))
            props = _props(sel, text, x, yy, vw, vh, pv)
            add(v, t, "$click", props)
            if rng.random() < dead_p:
                add(v, t + 2.5, "$deadclick", props)
            if sel == ERROR_BUTTON["selector"] and rng.random() < ERROR_P:
                add(
                    v,
                    t + 0.2,
                    "$exception",
                    f'{{"$message": "TypeError: coupon is undefined", "$pageview_id": "{pv}"}}',
                )
                add(v, t + 0.2, "$errorclick", _props(sel, text, x, yy, vw, vh, pv, ', "$message": "TypeError"'))
            if rng.random() < 0.004:  # rare impatience anywhere
                add(v, t + 0.6, "$rageclick", props)
        if k == _CHECKOUT and rng.random() < DEAD_TRY_P:  # the planted dead button
            t += 1 + rng.exponential(4.0)
            sel, text = DEAD_BUTTON["selector"], DEAD_BUTTON["text"]
            x, yy = int(0.45 * vw + rng.normal(0, 10)), int(700 + rng.normal(0, 6))
            props = _props(sel, text, x, yy, vw, vh, pv)
            add(v, t, "$click", props)
            add(v, t + 2.5, "$deadclick", props)
            if rng.random() < DEAD_RAGE_P:
                for r in range(1, 3):
                    add(v, t + 0.3 * r, "$click", props)
                add(v, t + 0.6, "$rageclick", props)
        depth = int(np.clip(rng.beta(2.5, 1.5) * 100, 5, 100))
        add(v, t + 2, "$scroll_depth", f'{{"$percent": {depth}, "$viewport_width": {vw}, "$viewport_height": {vh}, '
                                       f'"$pageview_id": "{pv}"}}')  # fmt: skip

    v = np.asarray(rows["view"], dtype=np.int64)
    dt_us = (np.asarray(rows["dt"]) * 1_000_000).astype(np.int64)
    name = np.asarray(rows["name"], dtype=object)
    return EventPart(
        cust=cust[v],
        ts=ts[v] + dt_us,
        name=name,
        type=np.asarray(rows["type"], dtype=object),
        touchpoint=tp[v],
        channel="web",
        session_id=sid[v],
        anonymous=anon[v],
        url=vurl[v],
        properties=np.asarray(rows["props"], dtype=object),
        revenue=np.full(len(v), np.nan),
    )


def behaviour_truth() -> dict[str, object]:
    """What was planted, for tests and docs."""
    return {
        "dead_button": {**DEAD_BUTTON, "try_p": DEAD_TRY_P, "rage_p": DEAD_RAGE_P},
        "error_button": {**ERROR_BUTTON, "error_p": ERROR_P},
        "noise": "product photos and the home promo image are dead-clicked 25-30 % of their clicks",
    }
