"""A small workspace whose verbatims without a theme are known by construction (tests of the "other" group).

Each of the five :data:`OTHER` remarks is made of words that no two other texts share often enough to
enter the theme model's vocabulary (``min_df=3``), so the model knows no word of them and the themes
job gives them no theme; the :data:`THEMED` texts repeat three topics.
"""

from __future__ import annotations

import pandas as pd

import cxlens

TOPICS = {
    "delivery": ["my parcel delivery was late again", "the courier delivery came three days late",
                 "late delivery and the parcel was damaged", "delivery slot missed, parcel late"],
    "refund": ["still waiting for my refund after returning the item", "refund not received two weeks later",
               "they refused my refund for the returned item", "the refund took a month to arrive"],
    "app": ["the app crashed at checkout twice", "checkout in the app keeps crashing",
            "app crashed when I tried to pay", "the app froze and crashed on the payment page"],
}  # fmt: skip
THEMED = [t for ts in TOPICS.values() for t in ts] * 6
XSS = "<script>alert(1)</script>"
#: every word of these is used by fewer than 3 texts: the model knows none of them
OTHER = ["awful, simply dreadful", "horrid nonsense honestly", "what a shambles, appalling",
         f"truly awful {XSS} experience, never again", "honestly a dreadful shambles overall"]  # fmt: skip
OTHER_SCORES = [0, 1, 2, 3, 9]
THEMED_SCORES = [(i * 7) % 11 for i in range(len(THEMED))]


def write_unthemed(path, owners: list[str | None] | None = None) -> None:
    """Load :data:`THEMED` then :data:`OTHER` as NPS answers (ids ``f0``…, one an hour from 2026-01-01)
    into the workspace at ``path`` and run the analysis and themes jobs; ``owners``: the customer of each
    answer (none by default)."""
    texts = THEMED + OTHER
    frame = pd.DataFrame({
        "feedback_id": [f"f{i}" for i in range(len(texts))],
        "ts": pd.date_range("2026-01-01", periods=len(texts), freq="h"),
        "metric": "nps", "score": THEMED_SCORES + OTHER_SCORES, "comment": texts,
        "touchpoint": "web", "stage": "purchase",
    })  # fmt: skip
    if owners is not None:
        frame["customer_id"] = owners
    with cxlens.open(path) as ws:
        ws.load("feedback", frame)
        ws.refresh(["voice.analyse", "voice.themes"])
