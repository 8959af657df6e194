"""Customers and the catalogue: who buys, where they live, what the shop sells.

Each customer carries latent traits that drive everything later: a BG/NBD purchase rate
``lam`` (per week) and dropout probability ``p``, a gamma-gamma spend rate ``nu``, a channel
preference and a satisfaction level ``u`` that is negatively tied to ``p`` (unhappy customers
leave sooner), so churned customers score lower and complain more.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cxlens.ingest.simulate._base import (
    DAY,
    T0,
    T1,
    cat,
    choice,
    choice_rows,
    col,
    ids,
    json_take,
    s,
    take,
    times,
)

FIRST_NAMES = (
    "Anna Lena Sophie Marie Emma Laura Julia Sarah Lisa Hannah Clara Nina Eva Paula Mia Lea Chloe Camille Manon "
    "Ines Lucia Sofia Giulia Chiara Elena Martina Olivia Amelia Isla Grace Emily Jessica Megan Sanne Fleur Lotte "
    "Maria Carmen Lucas Leon Paul Jonas Felix Max Lukas Tim Jan Thomas Hugo Louis Arthur Jules Theo Mateo Pablo "
    "Javier Diego Marco Luca Matteo Andrea Oliver George Harry Jack Noah James William Daan Sem Bram Finn David "
    "Daniel Michael Robert Ethan Liam Mason"
).split()
LAST_NAMES = (
    "Mueller Schmidt Schneider Fischer Weber Meyer Wagner Becker Hoffmann Koch Martin Bernard Dubois Thomas Robert "
    "Richard Petit Durand Leroy Moreau Garcia Fernandez Lopez Martinez Sanchez Perez Gomez Rossi Russo Ferrari "
    "Esposito Bianchi Romano Colombo Smith Jones Taylor Brown Williams Wilson Johnson Davies Evans Walker Wright "
    "Jansen DeVries Bakker Visser Smit Meijer DeBoer Mulder Bos Vos Peters Miller Davis Anderson Clark Lewis Young "
    "Allen King Scott Green Baker Adams Nelson Hill Campbell"
).split()
EMAIL_DOMAINS = [
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "icloud.com",
    "gmx.de",
    "web.de",
    "orange.fr",
    "hotmail.com",
    "proton.me",
    "live.co.uk",
]

COUNTRIES = ["DE", "FR", "NL", "ES", "IT", "GB", "US"]
COUNTRY_P = [0.26, 0.17, 0.10, 0.11, 0.10, 0.14, 0.12]
CURRENCY_OF = {"DE": "EUR", "FR": "EUR", "NL": "EUR", "ES": "EUR", "IT": "EUR", "GB": "GBP", "US": "USD"}

SEGMENTS = ["budget", "regular", "premium"]
PLANS = ["free", "member", "vip"]
ACQUISITION = ["search", "social_ads", "referral", "email", "store", "affiliate"]
ACQUISITION_P = [0.34, 0.24, 0.10, 0.08, 0.16, 0.08]
AGE_BANDS = ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"]
AGE_P = [0.14, 0.27, 0.23, 0.17, 0.12, 0.07]
#: channel mix of sessions: web, mobile_app, store, per preferred channel
CHANNEL_MIX = np.array([[0.72, 0.20, 0.08], [0.22, 0.70, 0.08], [0.30, 0.20, 0.50]])

CATEGORIES = {
    "electronics": [
        "wireless headphones",
        "bluetooth speaker",
        "smart watch",
        "phone case",
        "usb-c charger",
        "e-reader",
        "fitness tracker",
        "webcam",
        "power bank",
        "gaming mouse",
    ],
    "home": [
        "coffee grinder",
        "linen duvet cover",
        "cast iron pan",
        "table lamp",
        "ceramic vase",
        "throw blanket",
        "knife set",
        "storage baskets",
        "bath towels",
        "scented candle",
    ],
    "fashion": [
        "rain jacket",
        "wool sweater",
        "leather belt",
        "sneakers",
        "denim jeans",
        "summer dress",
        "backpack",
        "sunglasses",
        "winter boots",
        "cotton t-shirt",
    ],
    "beauty": [
        "face serum",
        "shampoo set",
        "perfume",
        "hair dryer",
        "lip balm",
        "sunscreen",
        "electric toothbrush",
        "night cream",
        "makeup brushes",
        "body lotion",
    ],
    "sports": [
        "yoga mat",
        "running shoes",
        "dumbbell set",
        "cycling helmet",
        "water bottle",
        "tennis racket",
        "hiking poles",
        "swim goggles",
        "resistance bands",
        "sports bag",
    ],
    "toys": [
        "building blocks",
        "puzzle",
        "plush bear",
        "board game",
        "remote control car",
        "doll house",
        "wooden train set",
        "science kit",
        "art set",
        "card game",
    ],
    "books": [
        "cookbook",
        "crime novel",
        "travel guide",
        "children's book",
        "biography",
        "notebook set",
        "fantasy novel",
        "history book",
        "comic collection",
        "language course",
    ],
    "garden": [
        "garden hose",
        "pruning shears",
        "plant pots",
        "bird feeder",
        "solar lights",
        "seed kit",
        "garden gloves",
        "watering can",
        "outdoor cushion",
        "compost bin",
    ],
}
BRANDS = [
    "Nimbus",
    "Alto",
    "Verde",
    "Kora",
    "Lumo",
    "Brisk",
    "Oak & Ash",
    "Fjord",
    "Sola",
    "Mira",
    "Pico",
    "Terra",
    "Vela",
    "Zest",
    "Nova",
    "Cirro",
]


@dataclass
class Catalogue:
    product_id: np.ndarray  # object
    category: np.ndarray  # object
    noun: np.ndarray  # object
    name: np.ndarray  # object
    slug: np.ndarray  # object
    list_price: np.ndarray  # float
    weight: np.ndarray  # popularity (sums to 1)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "product_id": col(self.product_id),
                "category": col(self.category),
                "name": col(self.name),
                "list_price": self.list_price,
            }
        )


def make_catalogue(rng: np.random.Generator) -> Catalogue:
    """About 320 products in 8 categories, with Zipf-like popularity."""
    rows = []
    base_price = {
        "electronics": 60,
        "home": 35,
        "fashion": 45,
        "beauty": 22,
        "sports": 35,
        "toys": 25,
        "books": 15,
        "garden": 25,
    }
    for cat_name, nouns in CATEGORIES.items():
        for noun in nouns:
            for brand in rng.choice(BRANDS, size=4, replace=False):
                rows.append((cat_name, noun, f"{brand} {noun}", base_price[cat_name]))
    n = len(rows)
    order = rng.permutation(n)
    rows = [rows[i] for i in order]
    pid = [f"P{i + 1:04d}" for i in range(n)]
    slugs = [
        r[2].lower().replace(" & ", "-").replace("'", "").replace(" ", "-") + f"-{p[1:]}"
        for r, p in zip(rows, pid, strict=True)
    ]
    weight = 1.0 / np.arange(1, n + 1) ** 0.8
    price = np.round(np.array([r[3] for r in rows]) * rng.lognormal(0, 0.45, n), 0) - 0.01
    return Catalogue(
        product_id=np.array(pid, dtype=object),
        category=np.array([r[0] for r in rows], dtype=object),
        noun=np.array([r[1] for r in rows], dtype=object),
        name=np.array([r[2] for r in rows], dtype=object),
        slug=np.array(slugs, dtype=object),
        list_price=np.maximum(price, 2.99),
        weight=weight / weight.sum(),
    )


@dataclass
class CLVParams:
    """True parameters of the purchase (BG/NBD, weeks) and spend (gamma-gamma) processes."""

    r: float = 0.9
    alpha: float = 22.0
    a: float = 1.0
    b: float = 3.0
    p: float = 6.0
    q: float = 4.0
    gamma: float = 35.0


@dataclass
class Customers:
    n: int
    customer_id: np.ndarray  # object
    created: np.ndarray  # int64 µs
    country: np.ndarray  # codes
    segment: np.ndarray  # codes
    plan: np.ndarray  # codes
    pref: np.ndarray  # preferred channel code
    opt_in: np.ndarray  # bool
    first_name: np.ndarray  # object
    name: np.ndarray  # object
    email: np.ndarray  # object
    anon_id: np.ndarray  # object
    traits: np.ndarray  # object (JSON text)
    lam: np.ndarray  # purchases / week while alive
    p: np.ndarray  # dropout probability after each repeat purchase
    nu: np.ndarray  # gamma-gamma spend rate (mean spend = p_gg / nu)
    u: np.ndarray  # latent satisfaction, ~N(0, 1)
    churned_at: np.ndarray  # int64 µs or NAT (filled later)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "customer_id": col(self.customer_id),
                "created_at": times(self.created),
                "email": col(self.email),
                "name": col(self.name),
                "segment": col(take(SEGMENTS, self.segment)),
                "plan": col(take(PLANS, self.plan)),
                "country": col(take(COUNTRIES, self.country)),
                "churned_at": times(self.churned_at),
                "traits": col(self.traits),
            }
        )


def make_customers(rng: np.random.Generator, n: int, clv: CLVParams) -> Customers:
    """``n`` customers, ids in sign-up order; sign-ups grow over the period."""
    span = T1 - 45 * DAY - T0
    created = np.sort(T0 + (span * rng.random(n) ** 0.8).astype(np.int64))
    country = choice(rng, n, COUNTRY_P)
    lam = rng.gamma(clv.r, 1.0 / clv.alpha, n)
    p = rng.beta(clv.a, clv.b, n)
    nu = rng.gamma(clv.q, 1.0 / clv.gamma, n)
    # satisfaction is lower for customers who are more likely to drop out
    pz = (p - p.mean()) / (p.std() or 1.0)
    u = -0.6 * pz + 0.8 * rng.standard_normal(n)
    spend = clv.p / nu
    q40, q85 = np.quantile(spend, [0.40, 0.85]) if n > 1 else (spend.min(), spend.max())
    segment = np.where(spend >= q85, 2, np.where(spend >= q40, 1, 0))
    plan_p = np.array([[0.80, 0.18, 0.02], [0.55, 0.38, 0.07], [0.30, 0.45, 0.25]])
    plan = choice_rows(rng, plan_p[segment])
    acq = choice(rng, n, ACQUISITION_P)
    pref = np.where(acq == 4, 2, choice(rng, n, [0.58, 0.42]))
    age = choice(rng, n, AGE_P)
    opt_in = rng.random(n) < 0.62
    # traits: a few hundred distinct JSON objects, picked by index
    combos = [
        {
            "acquisition_channel": ACQUISITION[a],
            "age_band": AGE_BANDS[g],
            "marketing_opt_in": bool(o),
            "preferred_channel": ["web", "mobile_app", "store"][c],
        }
        for a in range(len(ACQUISITION))
        for g in range(len(AGE_BANDS))
        for o in (0, 1)
        for c in range(3)
    ]
    code = ((acq * len(AGE_BANDS) + age) * 2 + opt_in.astype(int)) * 3 + pref
    traits = json_take(combos, code)

    fi = rng.integers(0, len(FIRST_NAMES), n)
    li = rng.integers(0, len(LAST_NAMES), n)
    first = take(FIRST_NAMES, fi)
    last = take(LAST_NAMES, li)
    name = cat(s(first), " ", s(last))
    lower_first, lower_last = s([x.lower() for x in FIRST_NAMES]), s([x.lower() for x in LAST_NAMES])
    style = rng.integers(0, 4, n)
    num = s(rng.integers(1, 999, n))
    local = np.where(
        style == 0,
        cat(lower_first[fi], ".", lower_last[li]),
        np.where(
            style == 1,
            cat(lower_first[fi], ".", lower_last[li], num),
            np.where(
                style == 2,
                cat(lower_first[fi], "_", lower_last[li]),
                cat(np.strings.slice(lower_first[fi], 0, 1), lower_last[li], num),
            ),
        ),
    )
    email = cat(local, "@", s(take(EMAIL_DOMAINS, rng.integers(0, len(EMAIL_DOMAINS), n))))
    return Customers(
        n=n,
        customer_id=ids("C", np.arange(1, n + 1), 7).astype(object),
        created=created,
        country=country,
        segment=segment,
        plan=plan,
        pref=pref,
        opt_in=opt_in,
        first_name=first,
        name=name.astype(object),
        email=email.astype(object),
        anon_id=cat("anon-", np.strings.zfill(s(rng.integers(0, 10**12, n)), 12)).astype(object),
        traits=traits,
        lam=lam,
        p=p,
        nu=nu,
        u=u,
        churned_at=np.full(n, np.iinfo(np.int64).min, dtype=np.int64),
    )
