"""Customer wording: survey comments, ticket subjects and bodies, review titles, by theme and tone.

Each theme has sentence templates per polarity (``neg``, ``neu``, ``pos``) with fillers
(``{product}``, ``{days}``, ``{agent}``, ``{courier}``, ``{minutes}``). Templates are expanded
once into a pool of a few thousand sentences (a Python loop over templates, not rows); a text
is then an opener + one or two pool sentences + a closer, chosen per row with numpy, so
millions of texts are assembled with vectorised string concatenation and rarely repeat.
"""

from __future__ import annotations

import numpy as np

from cxlens.ingest.simulate._base import cat, s

THEMES = [
    "delivery_delay",
    "fast_delivery",
    "damaged_packaging",
    "rude_support",
    "helpful_support",
    "long_wait",
    "billing_refund",
    "website_bug",
    "easy_checkout",
    "product_quality",
    "price_value",
    "friendly_staff",
]
THEME = {t: i for i, t in enumerate(THEMES)}
POLARITIES = ["neg", "neu", "pos"]
NEG, NEU, POS = 0, 1, 2

FILL = {
    "product": [
        "jacket",
        "headphones",
        "coffee grinder",
        "sneakers",
        "yoga mat",
        "lamp",
        "speaker",
        "kettle",
        "blender",
        "duvet cover",
        "board game",
        "face serum",
        "backpack",
        "watch",
        "frying pan",
    ],
    "days": ["two", "three", "four", "five", "six", "eight", "ten", "twelve"],
    "agent": ["Tom", "Sara", "Ahmed", "Julia", "Marco", "Nina", "Pieter", "Claire", "Jonas", "Elif"],
    "courier": ["DHL", "UPS", "DPD", "GLS", "Hermes", "PostNL", "the courier", "the driver"],
    "minutes": ["20 minutes", "35 minutes", "45 minutes", "an hour", "over an hour", "40 minutes"],
}

TEMPLATES: dict[str, dict[str, list[str]]] = {
    "delivery_delay": {
        "neg": [
            "My {product} arrived {days} days later than promised.",
            "Delivery took forever, {days} days late and no update from {courier}.",
            "The tracking said out for delivery for {days} days and nothing came.",
            "I needed the {product} for a birthday and it came {days} days too late.",
            "Late delivery again, the estimated date was completely wrong.",
            "{courier} kept postponing the delivery, I waited {days} extra days.",
            "Ordered with express shipping and still got it {days} days late.",
            "Nobody told me the {product} was delayed, I had to chase it myself.",
        ],
        "neu": [
            "The {product} came a couple of days late but it was fine in the end.",
            "Delivery was a bit slow, {days} days longer than expected.",
            "Shipping took longer than the website said, otherwise ok.",
        ],
    },
    "fast_delivery": {
        "pos": [
            "My {product} arrived the next day, super fast delivery.",
            "Delivery was quicker than expected and {courier} was on time.",
            "Fast shipping and great tracking updates all the way.",
            "Ordered on Monday, the {product} was here on Tuesday morning.",
            "Really quick delivery, well ahead of the estimated date.",
            "Parcel arrived early and the tracking was spot on.",
        ],
        "neu": [
            "Delivery was on time, nothing special.",
            "The {product} arrived when promised.",
        ],
    },
    "damaged_packaging": {
        "neg": [
            "The box was crushed and the {product} inside was damaged.",
            "Packaging was torn open when {courier} handed it over.",
            "My {product} arrived broken because it was barely packed.",
            "The parcel was soaked and the {product} had a big scratch.",
            "Damaged packaging, half of the order was dented.",
            "The {product} came in a ripped bag with no protection at all.",
        ],
        "neu": [
            "The box was a bit dented but the {product} survived.",
            "Packaging could be sturdier, the corner was crushed.",
        ],
    },
    "rude_support": {
        "neg": [
            "The support agent was rude and hung up on me.",
            "{agent} from customer service was dismissive and unhelpful.",
            "Customer service did not listen and kept reading a script.",
            "I was treated like a liar when I reported the problem with my {product}.",
            "The agent was condescending and never solved anything.",
            "Support closed my ticket without answering my question.",
        ],
        "neu": [
            "Support answered but did not really understand my problem.",
            "The agent was polite but could not help much.",
        ],
    },
    "helpful_support": {
        "pos": [
            "{agent} from support was incredibly helpful and sorted it out in minutes.",
            "Customer service was friendly and fixed my issue straight away.",
            "Great support, they replaced the {product} without any hassle.",
            "The agent really listened and went the extra mile.",
            "{agent} explained everything clearly and followed up the next day.",
            "Super helpful chat support, problem solved on the first contact.",
        ],
        "neu": [
            "Support solved it eventually.",
            "The agent was nice, it just took two contacts to fix.",
        ],
    },
    "long_wait": {
        "neg": [
            "I waited {minutes} on the phone before anyone picked up.",
            "Spent {minutes} in the chat queue, ridiculous.",
            "It took {days} days to get a reply to my email.",
            "Long wait times to reach customer service, {minutes} on hold.",
            "Nobody answered my message for {days} days.",
            "Hold music for {minutes}, then the call dropped.",
        ],
        "neu": [
            "The wait to reach support was a bit long but they helped.",
            "Had to wait {minutes}, the answer itself was fine.",
        ],
    },
    "billing_refund": {
        "neg": [
            "I was charged twice for the same order and still wait for the refund.",
            "My refund for the returned {product} has not arrived after {days} weeks.",
            "The invoice shows a different price than the checkout.",
            "You took the money but cancelled the order, where is my refund?",
            "Refund process is a nightmare, I had to call {days} times.",
            "Hidden shipping fees appeared on my bank statement.",
        ],
        "neu": [
            "The refund came through, it just took a while.",
            "Billing was confusing but it got sorted.",
        ],
    },
    "website_bug": {
        "neg": [
            "The checkout kept failing with a payment error.",
            "The app crashed every time I tried to pay.",
            "Could not apply my discount code, the page just reloaded.",
            "The website froze at the payment step and I lost my cart.",
            "Checkout error on the app, I had to order on my laptop instead.",
            "The address form would not accept my postcode.",
            "Page timed out twice while placing the order.",
        ],
        "neu": [
            "The app was a bit glitchy at checkout but it worked on the second try.",
            "Had a small error at payment, retried and it went through.",
        ],
    },
    "easy_checkout": {
        "pos": [
            "Checkout was quick and easy.",
            "Super easy to order, paid in two clicks.",
            "The app makes ordering really simple.",
            "Smooth checkout, saved card and address worked perfectly.",
            "Ordering the {product} took less than a minute.",
        ],
        "neu": [
            "Checkout was ok, a few too many steps.",
            "Ordering worked, nothing to add.",
        ],
    },
    "product_quality": {
        "neg": [
            "The {product} stopped working after {days} days.",
            "Poor quality, the {product} looks nothing like the pictures.",
            "The {product} feels cheap and the stitching came apart.",
            "Material is flimsy, the {product} broke on first use.",
            "The {product} was not as described, very disappointing quality.",
        ],
        "neu": [
            "The {product} is fine, does what it should.",
            "Quality is ok for the price, not amazing.",
        ],
        "pos": [
            "The {product} is excellent quality, exactly as described.",
            "Love my new {product}, it feels really well made.",
            "Great quality {product}, better than I expected.",
            "The {product} is beautiful and sturdy.",
            "Fantastic {product}, I use it every day.",
        ],
    },
    "price_value": {
        "neg": [
            "Way too expensive for what you get.",
            "Prices went up again, I found the {product} cheaper elsewhere.",
            "Shipping costs are far too high for a small order.",
            "Not worth the money, the {product} is overpriced.",
        ],
        "neu": [
            "Prices are average, nothing special.",
            "A bit pricey but the {product} is ok.",
        ],
        "pos": [
            "Great value for money.",
            "Good prices and the {product} was on sale.",
            "Cheaper than other shops and free shipping.",
            "Excellent value, the {product} was worth every cent.",
        ],
    },
    "friendly_staff": {
        "pos": [
            "The staff in the store were really friendly and helpful.",
            "Lovely shop assistant helped me pick the right {product}.",
            "Friendly staff and a nice atmosphere in the store.",
            "The team in the shop knew their products and took their time.",
        ],
        "neu": [
            "Staff were ok, the store was busy.",
            "Store visit was fine, could not find anyone at first.",
        ],
    },
}

OPENERS = {
    "neg": [
        "",
        "",
        "",
        "Very disappointed. ",
        "Not happy at all. ",
        "Honestly, not good. ",
        "Terrible experience. ",
        "Really frustrating. ",
        "Sorry but this was bad. ",
        "Awful. ",
        "Disappointing. ",
    ],
    "neu": ["", "", "", "Mixed feelings. ", "It was ok. ", "Average experience. ", "So-so. "],
    "pos": [
        "",
        "",
        "",
        "Very happy! ",
        "Great experience. ",
        "Excellent. ",
        "Really pleased. ",
        "Loved it. ",
        "Brilliant service. ",
        "Five stars. ",
    ],
}
CLOSERS = {
    "neg": [
        "",
        "",
        "",
        " Won't order again.",
        " Please fix this.",
        " Very annoying.",
        " I expect better.",
        " Thinking about going elsewhere.",
        " Not acceptable.",
        " I want a refund.",
    ],
    "neu": ["", "", "", " Could be better.", " Otherwise fine.", " Room for improvement.", " We'll see next time."],
    "pos": [
        "",
        "",
        "",
        " Thanks!",
        " Will order again.",
        " Keep it up.",
        " Highly recommend.",
        " Thank you so much.",
        " Definitely coming back.",
    ],
}
#: second sentence added to some comments, by polarity (theme-neutral)
EXTRAS = {
    "neg": [
        "This is not the first time.",
        "I have been a customer for years.",
        "Nobody seems to care.",
        "I told my friends about it.",
    ],
    "neu": ["Nothing else to report.", "The rest was fine.", "Hope it improves."],
    "pos": [
        "Everything else was perfect too.",
        "I have already recommended you to friends.",
        "Best online shop I use.",
    ],
}

TICKET_SUBJECTS = {
    "delivery_delay": [
        "Where is my order?",
        "Order not delivered yet",
        "Delivery delayed",
        "Still waiting for my parcel",
        "Tracking not updating",
        "Late delivery",
    ],
    "damaged_packaging": [
        "Item arrived damaged",
        "Broken item in parcel",
        "Damaged delivery",
        "Package crushed",
        "Product damaged in transit",
    ],
    "product_quality": [
        "Product defective",
        "Item stopped working",
        "Quality issue with my order",
        "Product not as described",
        "Faulty item",
    ],
    "billing_refund": [
        "Refund not received",
        "Charged twice",
        "Question about my invoice",
        "Refund status",
        "Wrong amount charged",
        "Return and refund",
    ],
    "website_bug": [
        "Cannot complete checkout",
        "Payment error",
        "App keeps crashing",
        "Discount code not working",
        "Error when placing order",
        "Cannot log in",
    ],
}
TICKET_OPENERS = {
    "calm": ["Hello, ", "Hi, ", "Good morning, ", "Dear support team, ", "Hi there, "],
    "angry": [
        "This is unacceptable. ",
        "I am extremely annoyed. ",
        "Third time I am writing. ",
        "Seriously? ",
        "I am really fed up. ",
    ],
}
TICKET_CLOSERS = {
    "calm": [
        " Could you please help?",
        " Thanks in advance.",
        " Let me know what you need from me.",
        " Thank you.",
        " Looking forward to your reply.",
    ],
    "angry": [
        " Fix this now or I will cancel my account.",
        " I expect a full refund immediately.",
        " I want to speak to a manager.",
        " Worst service ever.",
        " I will post about this everywhere.",
    ],
}

REVIEW_TITLES = {
    "neg": [
        "Very disappointed",
        "Avoid",
        "Not again",
        "Poor service",
        "Terrible experience",
        "Would not recommend",
        "Waste of money",
        "Bad experience",
    ],
    "neu": ["Okay", "Average", "Could be better", "Mixed experience", "Not bad, not great", "Decent"],
    "pos": [
        "Excellent",
        "Great shop",
        "Highly recommended",
        "Very happy",
        "Love it",
        "Fast and reliable",
        "Top service",
        "Perfect",
    ],
}


def _expand(rng: np.random.Generator, template: str, copies: int) -> list[str]:
    keys = [k for k in FILL if "{" + k + "}" in template]
    if not keys:
        return [template]
    out = set()
    for _ in range(copies):
        out.add(template.format(**{k: FILL[k][rng.integers(len(FILL[k]))] for k in keys}))
    return sorted(out)


class TextBank:
    """Sentence pools per (theme, polarity), built once per seed."""

    def __init__(self, rng: np.random.Generator, copies: int = 12):
        self.pools: dict[tuple[int, int], np.ndarray] = {}
        for t, theme in enumerate(THEMES):
            for p, pol in enumerate(POLARITIES):
                templates = TEMPLATES[theme].get(pol)
                if not templates:
                    continue
                sentences = [x for tpl in templates for x in _expand(rng, tpl, copies)]
                self.pools[(t, p)] = s(sentences)

    def has(self, theme: int, polarity: int) -> bool:
        return (theme, polarity) in self.pools

    def sentences(self, rng: np.random.Generator, theme: np.ndarray, polarity: np.ndarray) -> np.ndarray:
        """One pool sentence per row (falls back to the neutral pool of the theme)."""
        out = s(np.full(len(theme), "", dtype=object))
        for (t, p), pool in self.pools.items():
            m = (theme == t) & (polarity == p)
            if m.any():
                out[m] = pool[rng.integers(0, len(pool), int(m.sum()))]
        missing = np.strings.str_len(out) == 0
        if missing.any():  # theme has no wording for this polarity: use its neutral one
            for t in np.unique(theme[missing]):
                pool = self.pools.get((int(t), NEU))
                m = missing & (theme == t)
                if pool is not None:
                    out[m] = pool[rng.integers(0, len(pool), int(m.sum()))]
        return out

    def comment(self, rng: np.random.Generator, theme: np.ndarray, polarity: np.ndarray) -> np.ndarray:
        """Opener + theme sentence (+ sometimes a second sentence) + closer, per row."""
        n = len(theme)
        core = self.sentences(rng, theme, polarity)
        parts_open = s(np.full(n, "", dtype=object))
        parts_close = s(np.full(n, "", dtype=object))
        parts_extra = s(np.full(n, "", dtype=object))
        with_extra = rng.random(n) < 0.3
        for p, pol in enumerate(POLARITIES):
            m = polarity == p
            k = int(m.sum())
            if not k:
                continue
            parts_open[m] = s(OPENERS[pol])[rng.integers(0, len(OPENERS[pol]), k)]
            parts_close[m] = s(CLOSERS[pol])[rng.integers(0, len(CLOSERS[pol]), k)]
            extra = s([" " + x for x in EXTRAS[pol]])[rng.integers(0, len(EXTRAS[pol]), k)]
            parts_extra[m] = np.where(with_extra[m], extra, s(""))
        return cat(parts_open, core, parts_extra, parts_close)


def pick(rng: np.random.Generator, options: list[str], n: int) -> np.ndarray:
    return s(options)[rng.integers(0, len(options), n)]


PII_EMAIL_DOMAINS = ["gmail.com", "outlook.com", "web.de", "yahoo.fr"]


def pii_snippets(rng: np.random.Generator, first_name: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A contact sentence with an e-mail address or a phone number; returns (text, kind)."""
    n = len(first_name)
    is_email = rng.random(n) < 0.5
    email = cat(np.strings.lower(s(first_name)), s(rng.integers(10, 99, n)), "@", pick(rng, PII_EMAIL_DOMAINS, n))
    phone = cat("+49 151 ", s(rng.integers(1000, 9999, n)), " ", s(rng.integers(1000, 9999, n)))
    phrase_e = pick(rng, [" Please email me at ", " Contact me: ", " My email is "], n)
    phrase_p = pick(rng, [" Call me on ", " My number is ", " Please ring me at "], n)
    text = np.where(is_email, cat(phrase_e, email, "."), cat(phrase_p, phone, "."))
    return text, np.where(is_email, s("email"), s("phone"))
