"""The feedback explorer and the themes view, as library functions (the dashboard and API call these).

Both read what the background jobs stored (:mod:`cxlens.voice.tasks`): the redacted text, language
and sentiment of every analysed verbatim (``verbatim_analysis``) and its themes (``verbatim_themes``).
Filtering, searching and paging happen in the database, so a page of 50 verbatims costs the same on
a thousand or a million of them. Verbatims not analysed yet still appear — redacted on the fly for
the page shown, with no sentiment or theme until the job has run.

>>> import cxlens
>>> from cxlens.ingest import write_demo
>>> ws = cxlens.open(":memory:"); _ = write_demo(ws, 300, seed=1); _ = ws.refresh(["voice.analyse", "voice.themes"])
>>> page = feedback_page(ws, FeedbackQuery(sentiment="negative"))
>>> page["total"] > 0 and set(page["rows"]["sentiment_label"]) == {"negative"}
True
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import ibis
import pandas as pd

from cxlens.errors import ParameterError
from cxlens.metrics.common import prepare
from cxlens.metrics.filters import Filters
from cxlens.schema.ddl import VERBATIM_ANALYSIS_TABLE, VERBATIM_THEMES_TABLE
from cxlens.store.segments import restrict_to_segment
from cxlens.voice.people import known_theme
from cxlens.voice.redact import redact_series
from cxlens.voice.tasks import theme_model
from cxlens.voice.themes import OTHER_ID
from cxlens.voice.verbatims import KINDS, VERBATIM_COLUMNS, kind_of, verbatim_expression

__all__ = ["PAGE_SIZE", "SENTIMENTS", "THEME_LIMIT", "FeedbackQuery", "feedback_page", "theme_table"]

#: verbatims per page of the feedback explorer
PAGE_SIZE = 50
#: the themes view summarises at most this many of the latest analysed English verbatims
THEME_LIMIT = 5000
SENTIMENTS = ("negative", "neutral", "positive", "mixed")


@dataclass(frozen=True)
class FeedbackQuery:
    """The feedback explorer's own parameters (dates, dimensions and saved segment are a :class:`Filters`)."""

    q: str = ""
    source: str = ""
    sentiment: str = ""
    min_score: float | None = None
    max_score: float | None = None
    page: int = 1
    theme: str = ""

    def __post_init__(self) -> None:
        if self.source:
            kind_of(self.source)  # a ConfigError naming the valid sources
        if self.sentiment and self.sentiment not in SENTIMENTS:
            raise ParameterError(
                "sentiment", f"sentiment is {self.sentiment!r}; expected one of {', '.join(SENTIMENTS)}"
            )
        for name in ("min_score", "max_score"):
            v = getattr(self, name)
            if v is not None and not math.isfinite(v):
                raise ParameterError(name, f"{name} is {v!r}; expected a number such as 6")
        if self.min_score is not None and self.max_score is not None and self.min_score > self.max_score:
            raise ParameterError("min_score", f"min_score ({self.min_score:g}) is above max_score ({self.max_score:g})")
        if self.page < 1:
            raise ParameterError("page", f"page is {self.page}; expected a whole number from 1")

    def pairs(self) -> list[tuple[str, str]]:
        """Query-string pairs of the parameters that are set."""
        out = [("q", self.q), ("source", self.source), ("sentiment", self.sentiment), ("theme", self.theme)]
        out += [("min_score", _num(self.min_score)), ("max_score", _num(self.max_score))]
        return [(k, v) for k, v in out if v]


def _num(v: float | None) -> str:
    return "" if v is None else f"{v:g}"


def _joined(store: Any, where: Filters, source: str = "") -> ibis.Table:
    """Verbatims (matching ``where``) left-joined to their stored analysis and themes."""
    k = where.kwargs()
    kinds = [kind_of(source)] if source else list(KINDS)
    u = restrict_to_segment(store, verbatim_expression(store, kinds), k["segment"])
    if source:
        u = u.filter(
            (u.source == source) | u.source.startswith(source + ":") if ":" not in source else u.source == source
        )
    t, _ = prepare(u, customers=store.table("customers"), start=k["start"], end=k["end"], filters=k["filters"],
                   what="verbatims")  # fmt: skip
    a = store.table(VERBATIM_ANALYSIS_TABLE)
    a = a.select(_aid=a.verbatim_id, language=a.language, sentiment_score=a.sentiment_score,
                 sentiment_label=a.sentiment_label, _red=a.redacted_text)  # fmt: skip
    th = store.table(VERBATIM_THEMES_TABLE)
    th = th.select(_tid=th.verbatim_id, _theme=th.theme, _themes=th.themes)
    j = t.select(*VERBATIM_COLUMNS).left_join(a, t.verbatim_id == a._aid)
    j = j.left_join(th, j.verbatim_id == th._tid)
    return j.drop("_aid")


def feedback_page(store: Any, p: FeedbackQuery | None = None, where: Filters | None = None) -> dict[str, Any]:
    """One page of verbatims matching ``p`` and ``where``, newest first, with the stored sentiment and themes.

    Returns
    -------
    dict
        ``rows`` (DataFrame: verbatim_id, source, ts, text (redacted), touchpoint, channel, stage,
        score, metric, language, sentiment_score, sentiment_label, themes, theme_names, aspects),
        ``total`` (all matches), ``page``, ``pages`` and ``themes`` (id → name of the theme model,
        then ``"other"`` → ``"Other (no theme)"``).

    ``p.theme`` keeps the verbatims carrying that theme among their labels; ``"other"`` keeps those
    the themes job assigned no primary theme (general remarks, or no word the model knows) — the
    group the themes page counts. Their ``themes`` list starts with ``"other"`` (then any
    secondary labels); verbatims not assigned yet (not English, or waiting for the job) have none.
    """
    from cxlens.voice.aspects import aspect_sentiment

    p, where = p or FeedbackQuery(), where or Filters()
    tx, names = known_theme(store, p.theme or None)  # an empty theme is no filter
    j = _joined(store, where, p.source)
    preds = []
    if p.q:  # the search reads the redacted text (the original never leaves the analysis)
        preds.append(ibis.coalesce(j._red, j.text).lower().contains(p.q.lower()))
    if p.min_score is not None:
        preds.append(j.score >= p.min_score)
    if p.max_score is not None:
        preds.append(j.score <= p.max_score)
    if p.sentiment:
        preds.append(j.sentiment_label == p.sentiment)
    if p.theme == OTHER_ID:  # assigned by the themes job (a stored row), with no primary theme
        preds.append(j._tid.notnull() & j._theme.isnull())
    elif p.theme:
        preds.append(j._themes.contains(json.dumps(p.theme)))
    if preds:
        j = j.filter(*preds)
    total = int(store.read(j.count()))
    pages = max(1, -(-total // PAGE_SIZE))
    if p.page > pages:
        raise ParameterError("page", f"page is {p.page}; there are {pages} page(s) of results")
    page = j.order_by([ibis.desc("ts"), ibis.desc("verbatim_id")]).limit(PAGE_SIZE, offset=(p.page - 1) * PAGE_SIZE)
    rows = store.read(page).reset_index(drop=True)
    pending = rows["_red"].isna()
    if pending.any():  # not analysed yet: redact the page's own rows now (never show raw text)
        rows.loc[pending, "_red"] = redact_series(rows.loc[pending, "text"].fillna("")).to_numpy()
    rows["text"] = rows.pop("_red")
    rows["themes"] = [_labels(a, t, x) for a, t, x in zip(rows.pop("_tid"), rows.pop("_theme"), rows.pop("_themes"),
                                                           strict=True)]  # fmt: skip
    for c in ("verbatim_id", "source", "customer_id", "text", "touchpoint", "channel", "stage", "metric",
              "language", "sentiment_label"):  # fmt: skip
        rows[c] = rows[c].astype(object).where(rows[c].notna(), None)
    rows["theme_names"] = [[names.get(t, t) for t in ts] for ts in rows["themes"]]
    aspects = pd.DataFrame(columns=["verbatim", "name", "label"])
    en = rows["language"].eq("en").to_numpy()
    if tx is not None and en.any():
        aspects = aspect_sentiment(rows.loc[en, "text"].fillna("").tolist(), rows.loc[en, "verbatim_id"].tolist(),
                                   extractor=tx)  # fmt: skip
    by_id = {k: list(zip(g["name"], g["label"], strict=True)) for k, g in aspects.groupby("verbatim", sort=False)}
    rows["aspects"] = [by_id.get(i, []) for i in rows["verbatim_id"]]
    return {"rows": rows, "total": total, "page": p.page, "pages": pages, "themes": names}


def _labels(assigned: Any, theme: Any, themes: Any) -> list[str]:
    """A row's theme ids, primary first: "other" first when the themes job gave it no primary theme."""
    got = json.loads(themes) if isinstance(themes, str) else []
    if isinstance(assigned, str) and not isinstance(theme, str):
        return [OTHER_ID, *got]
    return got


def theme_table(store: Any, where: Filters | None = None, *, limit: int = THEME_LIMIT) -> pd.DataFrame:
    """:func:`~cxlens.voice.theme_summary` (2 quotes each) of the latest ``limit`` analysed English
    verbatims matching ``where``, with the workspace's theme model (stored themes, never fitted here).

    The verbatims the themes job gave no primary theme are the last row, ``"other"`` /
    ``"Other (no theme)"`` with ``issue`` False (:func:`~cxlens.voice.theme_summary`); shares are
    of all the verbatims summarised. Verbatims the job has not assigned yet are left out.

    ``attrs``: ``verbatims`` (how many were summarised) and ``model`` (``saved``, ``auto`` or ``none``
    before the themes job has run — the frame is then empty).
    """
    from cxlens.voice import theme_summary
    from cxlens.voice.verbatims import analysed_verbatims

    tx, source = theme_model(store)
    k = (where or Filters()).kwargs()
    en = analysed_verbatims(store, start=k["start"], end=k["end"], filters=k["filters"], segment=k["segment"],
                            limit=limit)  # fmt: skip
    en = en[en["theme_assigned"].astype(bool)].reset_index(drop=True) if len(en) else en
    if tx is None or en.empty:
        out = pd.DataFrame(columns=["theme", "name", "issue", "size", "share", "mean_sentiment", "negative_share",
                                    "quotes"])  # fmt: skip
    else:
        out = theme_summary(en, tx, n_quotes=2)
        aspects = tx_aspects(store)
        out["aspect_score"] = out["theme"].map(aspects).astype(float)  # mean sentiment of clauses naming it
    out.attrs["verbatims"] = len(en)
    out.attrs["model"] = source
    return out


def tx_aspects(store: Any) -> dict[str, float]:
    """Mean aspect sentiment per theme, as the themes job stored it (empty before it ran)."""
    from cxlens.jobs import load_result

    res = load_result(store, "voice.themes")
    return dict(res.meta.get("aspect_scores", {})) if res is not None else {}
