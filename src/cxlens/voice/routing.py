"""The voice models handed to the act routing triggers (act sits below voice and cannot import it).

Importing this module registers, with :mod:`cxlens.act.route`:

* the **classifier** of new tickets and verbatims — on the redacted text (:mod:`cxlens.voice.redact`):
  sentiment by the configured LLM analyser (setting ``voice.llm`` or ``CXLENS_LLM_BASE_URL``; it
  falls back to the shipped model per failed batch) else the shipped model
  (:func:`~cxlens.voice.sentiment.default_model`); themes by the workspace's theme model (the saved
  one, else the one the ``voice.themes`` job fitted; none before either exists); emotions and effort
  by the signal lexicons (:func:`~cxlens.voice.signals.signals`); and an **urgency**: ``high`` when
  the urgency signal fires, ``medium`` when anger or effort does, else ``low``;
* the **emerging-theme test** of the ``theme`` trigger — :func:`~cxlens.voice.painpoints.theme_summary`
  (the two-proportion z-test of a theme's share of verbatims, last period vs the one before) on the
  stored themes (``verbatim_themes``) of the verbatims of the two periods;

and, with :mod:`cxlens.act.schedule`, the **theme names** of the scheduled digests (:func:`theme_names`).

:mod:`cxlens.workspace` imports it, so every opened workspace routes with these models.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pandas as pd

from cxlens.act import route, schedule
from cxlens.voice.themes import OTHER_ID, OTHER_NAME, ThemeExtractor

__all__ = ["classify", "theme_growth", "theme_names", "urgency"]

_MODELS: dict[str, ThemeExtractor] = {}
_SENTIMENT = {"negative": "negative", "positive": "positive", "neutral": "neutral", "mixed": "neutral"}


class _Settings:
    """``.setting(name)`` read on the open transaction's cursor (the hook runs inside it)."""

    def __init__(self, cur: Any):
        self.cur = cur
        self.raw: dict[str, str | None] = {}

    def setting(self, name: str, default: Any = None) -> Any:
        row = self.cur.execute("SELECT value FROM settings WHERE name = ?", [name]).fetchone()
        self.raw[name] = row[0] if row else None
        return default if row is None else json.loads(row[0])


def _theme_model(cur: Any) -> ThemeExtractor | None:
    """The saved theme model, else the automatic one; parsed once per stored version."""
    from cxlens.voice.stored import THEME_SETTING
    from cxlens.voice.tasks import AUTO_THEME_SETTING

    for name, key in ((THEME_SETTING, None), (AUTO_THEME_SETTING, "model")):
        row = cur.execute("SELECT value FROM settings WHERE name = ?", [name]).fetchone()
        if not row or not row[0]:
            continue
        digest = hashlib.sha256(row[0].encode()).hexdigest()
        tx = _MODELS.get(digest)
        if tx is None:
            data = json.loads(row[0])
            tx = ThemeExtractor.from_dict(data[key] if key else data)
            if len(_MODELS) > 8:
                _MODELS.clear()
            _MODELS[digest] = tx
        return tx
    return None


def urgency(flags: dict[str, bool]) -> str:
    """``high`` (the urgency signal), ``medium`` (anger or effort), else ``low``."""
    if flags.get("urgency_flag"):
        return "high"
    if flags.get("anger_flag") or flags.get("effort_flag"):
        return "medium"
    return "low"


def classify(store: Any, cur: Any, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Classify the texts of ``items``: ``sentiment, sentiment_score, theme, themes, emotions, effort,
    urgency, analyser`` each (``text`` is replaced by its redacted form)."""
    from cxlens.voice.llm import llm_analyzer
    from cxlens.voice.redact import redact_series
    from cxlens.voice.sentiment import default_model
    from cxlens.voice.signals import signals

    texts = redact_series(pd.Series([str(i["text"] or "") for i in items], dtype=object)).fillna("").tolist()
    llm = llm_analyzer(_Settings(cur))
    analyser = llm if llm is not None else default_model()
    sent = analyser.score(texts).reset_index(drop=True)
    sig = signals(texts)
    tx = _theme_model(cur)
    themes: list[list[str]] = [[] for _ in texts]
    primary: list[str | None] = [None] * len(texts)
    if tx is not None:
        names = tx.names()
        a = tx.assign(texts).reset_index(drop=True)
        for i in range(len(texts)):
            ids = list(a["themes"].iloc[i] or [])
            themes[i] = [names.get(t, t) for t in ids]
            p = a["theme"].iloc[i]
            primary[i] = names.get(p, p) if isinstance(p, str) else None
    out = []
    flag_rows = sig[[k for k in sig.columns if k.endswith("_flag")]].astype(bool).to_dict("records")
    labels = sent["label"].astype(str).tolist() if "label" in sent.columns else [None] * len(texts)
    scores = sent["score"].astype(float).tolist()
    for i, text in enumerate(texts):
        flags, label = flag_rows[i], labels[i]
        out.append({
            "text": text, "sentiment": _SENTIMENT.get(label or "", label), "sentiment_score": scores[i],
            "theme": primary[i], "themes": themes[i],
            "emotions": [e for e in ("anger", "confusion", "gratitude") if flags.get(f"{e}_flag")],
            "effort": flags.get("effort_flag", False), "urgency": urgency(flags),
            "analyser": "llm" if llm is not None else "cxlens",
        })  # fmt: skip
    return out


def theme_growth(store: Any, *, period: str, start: pd.Timestamp, end: pd.Timestamp, alpha: float) -> pd.DataFrame:
    """Every stored theme's growth test for the period ``[start, end)`` against the one before it, as the
    themes page computes it (:func:`~cxlens.voice.painpoints.theme_summary`).

    A theme's share in a period is of *every* verbatim the themes job assigned in it (a stored
    ``verbatim_themes`` row), those it gave no theme included — ``theme_summary``'s ``share``, the
    themes page's and the digest's; verbatims not assigned yet are in neither count. The texts
    without a theme are not a row here: they are not an issue that can emerge (as
    :func:`~cxlens.voice.painpoints.emerging_themes`)."""
    from cxlens.schema.ddl import VERBATIM_THEMES_TABLE
    from cxlens.voice.painpoints import theme_summary
    from cxlens.voice.tasks import theme_model
    from cxlens.voice.verbatims import verbatims

    if not store.has_table(VERBATIM_THEMES_TABLE):
        return pd.DataFrame()
    prev_start = start - (end - start) if period != "month" else start - pd.DateOffset(months=1)
    v = verbatims(store, start=prev_start, end=end - pd.Timedelta(microseconds=1), redacted=False, language=False)
    if not len(v):
        return pd.DataFrame()
    # every assigned verbatim, the unthemed too (theme NULL): they are in the shares' denominators
    t = store.read(f"SELECT verbatim_id, theme FROM {VERBATIM_THEMES_TABLE}")
    df = v[["verbatim_id", "ts", "text"]].merge(t, on="verbatim_id", how="inner")
    df = df[(pd.to_datetime(df["ts"]) >= prev_start) & (pd.to_datetime(df["ts"]) < end)]
    if not len(df):
        return pd.DataFrame()
    df["sentiment"] = 0.0  # the growth test needs no sentiment; skip scoring the texts
    code = {"day": "D", "week": "W", "month": "M"}[period]
    at = str(pd.Timestamp(start).to_period(code))
    periods = set(pd.to_datetime(df["ts"]).dt.to_period(code).astype(str))
    if at not in periods:
        return pd.DataFrame()
    s = theme_summary(df, period=period, alpha=alpha, at=at, n_quotes=0, other=True)
    s = s[s["theme"].ne(OTHER_ID)].reset_index(drop=True)
    tx, _ = theme_model(store)
    names = tx.names() if tx is not None else {}
    s["name"] = s["theme"].map(lambda x: names.get(x, x))
    return s


def theme_names(store: Any) -> tuple[dict[str, str], tuple[str, str]]:
    """The names a scheduled digest gives its themes: the workspace theme model's, and the other group's."""
    from cxlens.voice.tasks import theme_model

    tx, _ = theme_model(store)
    return (tx.names() if tx is not None else {}), (OTHER_ID, OTHER_NAME)


route.set_classifier(classify)
route.set_emerging(theme_growth)
schedule.set_theme_names(theme_names)
