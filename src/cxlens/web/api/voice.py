"""``/api/v1/voice/{feedback,themes,drivers}``: :mod:`cxlens.voice` as JSON rows.

Parameters are parsed and checked here (a bad one is a 400 naming it, ``"param": "sentiment"``)
and the work is one call into the library each:

- feedback: :func:`cxlens.voice.verbatims` (redacted text) with the search, score range and
  sentiment label applied to the returned frame; sentiment is scored on the fly by
  :func:`cxlens.voice.default_model` (the pages are read-only: nothing is written to the
  workspace), English rows only, as :func:`~cxlens.voice.analyse_verbatims` does;
- themes: the workspace's stored theme model (``cxlens voice themes --save``), else a
  :class:`cxlens.voice.ThemeExtractor` fitted on the latest English verbatims, then
  :func:`cxlens.voice.theme_summary`; the feedback explorer assigns themes (filter ``theme``)
  and shows aspect-level sentiment (:func:`cxlens.voice.aspects.aspect_sentiment`) with the same model;
- drivers: :func:`cxlens.voice.key_drivers`.

The dashboard pages (:mod:`cxlens.web.pages.voice`) use the same functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request

from cxlens.errors import ConfigError, ParameterError
from cxlens.web.api.journeys import JourneyFilters, journey_filters
from cxlens.web.api.metrics import jsonable
from cxlens.web.deps import run_on_workspace

__all__ = [
    "PAGE_SIZE",
    "THEME_LIMIT",
    "FeedbackParams",
    "drivers_table",
    "feedback_page",
    "feedback_params",
    "page_themes",
    "router",
    "themes_table",
]

router = APIRouter(prefix="/api/v1/voice", tags=["voice"])

#: verbatims per page of the feedback explorer
PAGE_SIZE = 50
#: the themes are discovered on at most this many of the latest English verbatims
THEME_LIMIT = 5000
N_THEMES = 10
DRIVER_TARGETS = ("nps", "csat")
SENTIMENTS = ("negative", "neutral", "positive", "mixed")


@dataclass(frozen=True)
class FeedbackParams:
    """The feedback explorer's own parameters (dates and dimension filters are :class:`JourneyFilters`)."""

    q: str = ""
    source: str = ""
    sentiment: str = ""
    min_score: float | None = None
    max_score: float | None = None
    page: int = 1
    theme: str = ""

    def pairs(self) -> list[tuple[str, str]]:
        out = [("q", self.q), ("source", self.source), ("sentiment", self.sentiment), ("theme", self.theme)]
        out += [("min_score", _num(self.min_score)), ("max_score", _num(self.max_score))]
        return [(k, v) for k, v in out if v]


def _num(v: float | None) -> str:
    return "" if v is None else (f"{v:g}")


def _float(name: str, value: str | None) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        out = float(value)
    except ValueError:
        out = math.nan
    if not math.isfinite(out):
        raise ParameterError(name, f"query parameter {name!r} is {value!r}; expected a number such as 6")
    return out


def feedback_params(
    q: Annotated[str | None, Query(description="Case-insensitive substring of the (redacted) text.")] = None,
    source: Annotated[str | None, Query(description="feedback, ticket, review or e.g. feedback:nps.")] = None,
    sentiment: Annotated[str | None, Query(description="negative, neutral, positive or mixed.")] = None,
    min_score: Annotated[str | None, Query(description="Lowest answer/rating kept.")] = None,
    max_score: Annotated[str | None, Query(description="Highest answer/rating kept.")] = None,
    page: Annotated[str | None, Query(description=f"Page of {PAGE_SIZE} verbatims, from 1.")] = None,
    theme: Annotated[str | None, Query(description="Theme id (see /api/v1/voice/themes); any of its labels.")] = None,
) -> FeedbackParams:
    """Parse and check the feedback parameters (a FastAPI dependency); errors are 400 naming the parameter."""
    from cxlens.voice.verbatims import kind_of

    src = (source or "").strip()
    if src:
        try:
            kind_of(src)
        except ConfigError as exc:
            raise ParameterError(
                "source", f"query parameter 'source' is {src!r}; {str(exc).split('; ', 1)[-1]}"
            ) from None
    label = (sentiment or "").strip().lower()
    if label and label not in SENTIMENTS:
        raise ParameterError(
            "sentiment", f"query parameter 'sentiment' is {sentiment!r}; expected one of {', '.join(SENTIMENTS)}"
        )
    lo, hi = _float("min_score", min_score), _float("max_score", max_score)
    if lo is not None and hi is not None and lo > hi:
        raise ParameterError("min_score", f"query parameter 'min_score' ({lo:g}) is above 'max_score' ({hi:g})")
    raw_page = (page or "").strip() or "1"
    if not raw_page.isdigit() or int(raw_page) < 1:
        raise ParameterError("page", f"query parameter 'page' is {page!r}; expected a whole number from 1")
    return FeedbackParams((q or "").strip(), src, label, lo, hi, int(raw_page), (theme or "").strip())


def page_themes(ws: Any) -> Any:
    """The workspace's theme model (:func:`cxlens.voice.stored.workspace_themes`), None if too few texts."""
    from cxlens.voice.stored import workspace_themes

    try:
        return workspace_themes(ws, n_themes=N_THEMES)
    except ConfigError:  # too few texts to discover themes
        return None


def _label_themes(v: pd.DataFrame, tx: Any) -> None:
    """Set ``v["themes"]`` (theme ids, primary first) of the rows not known to be non-English, in place."""
    en = v["is_english"].ne(False).to_numpy()
    if en.any():
        labels = tx.assign(v.loc[en, "text"].fillna("").tolist())["themes"].tolist()
        v.loc[en, "themes"] = pd.Series(labels, index=v.index[en], dtype=object)


def feedback_page(ws: Any, p: FeedbackParams, f: JourneyFilters) -> dict[str, Any]:
    """One page of verbatims matching ``p`` and ``f``, with sentiment; ``total`` counts all matches."""
    from cxlens.voice import default_model, verbatims
    from cxlens.voice.aspects import aspect_sentiment

    v = verbatims(ws, **f.kwargs(), sources=[p.source] if p.source else None)
    tx = page_themes(ws)
    names = tx.names() if tx is not None else {}
    if p.theme and p.theme not in names:
        raise ParameterError(
            "theme", f"query parameter 'theme' is {p.theme!r}; expected one of {', '.join(names) or 'no themes yet'}"
        )
    if p.q:
        v = v[v["text"].fillna("").str.contains(p.q, case=False, regex=False)]
    if p.min_score is not None:
        v = v[v["score"] >= p.min_score]
    if p.max_score is not None:
        v = v[v["score"] <= p.max_score]
    v = v.assign(sentiment_score=math.nan, sentiment_label=None)
    english = v["is_english"].ne(False).to_numpy()  # unknown language: scored, as short texts are
    if english.any():
        s = default_model().score(v.loc[english, "text"].fillna("").tolist())
        v.loc[english, "sentiment_score"] = s["score"].to_numpy()
        v.loc[english, "sentiment_label"] = s["label"].to_numpy()
    if p.sentiment:
        v = v[v["sentiment_label"] == p.sentiment]
    v = v.assign(themes=[[] for _ in range(len(v))])
    if p.theme and tx is not None:  # the filter needs every row's themes; otherwise only the page's
        _label_themes(v, tx)
        v = v[[p.theme in t for t in v["themes"]]]
    total = len(v)
    pages = max(1, -(-total // PAGE_SIZE))
    if p.page > pages:
        raise ParameterError("page", f"query parameter 'page' is {p.page}; there are {pages} page(s) of results")
    v = v.sort_values(["ts", "verbatim_id"], ascending=False, kind="stable")  # newest first
    rows = v.iloc[(p.page - 1) * PAGE_SIZE : p.page * PAGE_SIZE].reset_index(drop=True)
    if not p.theme and tx is not None:
        _label_themes(rows, tx)
    rows["theme_names"] = [[names.get(t, t) for t in ts] for ts in rows["themes"]]
    aspects = pd.DataFrame(columns=["verbatim", "name", "label"])
    en = rows["is_english"].ne(False).to_numpy()
    if tx is not None and en.any():
        aspects = aspect_sentiment(rows.loc[en, "text"].fillna("").tolist(), rows.loc[en, "verbatim_id"].tolist(),
                                   extractor=tx)  # fmt: skip
    by_id = {k: list(zip(g["name"], g["label"], strict=True)) for k, g in aspects.groupby("verbatim", sort=False)}
    rows["aspects"] = [by_id.get(i, []) for i in rows["verbatim_id"]]
    return {"rows": rows, "total": total, "page": p.page, "pages": pages, "themes": names}


def themes_table(ws: Any, f: JourneyFilters, *, limit: int = THEME_LIMIT, n_themes: int = N_THEMES) -> pd.DataFrame:
    """:func:`~cxlens.voice.theme_summary` (2 quotes) of ``ThemeExtractor(n_themes)`` fitted on the
    latest ``limit`` English verbatims matching ``f``."""
    from cxlens.voice import ThemeExtractor, theme_summary, verbatims
    from cxlens.voice.stored import load_themes

    v = verbatims(ws, **f.kwargs())
    en = v[v["is_english"].eq(True)].tail(limit).reset_index(drop=True)
    tx = load_themes(ws)  # the workspace's stored model keeps ids, names and edits stable
    if tx is None:
        tx = ThemeExtractor(n_themes=n_themes).fit(en["text"].tolist())
    from cxlens.voice.aspects import aspect_sentiment

    out = theme_summary(en, tx, n_quotes=2)
    aspects = aspect_sentiment(en["text"].fillna("").tolist(), extractor=tx)
    mean = aspects.groupby("theme")["score"].mean() if len(aspects) else pd.Series(dtype=float)
    out["aspect_score"] = out["theme"].map(mean).astype(float)  # mean sentiment of the clauses naming it
    out.attrs["verbatims"] = len(en)
    return out


def drivers_table(ws: Any, target: str = "nps", *, n_boot: int = 50) -> pd.DataFrame:
    """:func:`~cxlens.voice.key_drivers` over touchpoints for ``target``; errors name ``target``."""
    from cxlens.voice import key_drivers

    if target not in DRIVER_TARGETS:
        raise ParameterError(
            "target", f"query parameter 'target' is {target!r}; expected one of {', '.join(DRIVER_TARGETS)}"
        )
    return key_drivers(ws, target, "touchpoints", n_boot=n_boot)


Filters = Annotated[JourneyFilters, Depends(journey_filters)]


@router.get("/feedback", summary="Feedback explorer", description="One page of verbatims with sentiment.")
async def feedback(
    request: Request, f: Filters, p: Annotated[FeedbackParams, Depends(feedback_params)]
) -> dict[str, Any]:
    res = await run_on_workspace(request, lambda ws: feedback_page(ws, p, f))
    cols = ["verbatim_id", "source", "ts", "text", "touchpoint", "channel", "stage", "score", "metric",
            "language", "sentiment_score", "sentiment_label", "themes"]  # fmt: skip
    return {"analysis": "feedback", "total": res["total"], "page": res["page"], "pages": res["pages"],
            "rows": jsonable(res["rows"][cols])}  # fmt: skip


@router.get("/themes", summary="Themes", description="`theme_summary` of themes discovered in English verbatims.")
async def themes(request: Request, f: Filters) -> dict[str, Any]:
    df = await run_on_workspace(request, lambda ws: themes_table(ws, f))
    return {"analysis": "themes", "verbatims": df.attrs["verbatims"], "rows": jsonable(df.drop(columns=["counts"]))}


@router.get("/drivers", summary="Key drivers", description="`key_drivers(ws, target, 'touchpoints', n_boot=50)`.")
async def drivers(request: Request, target: str = "nps") -> dict[str, Any]:
    df = await run_on_workspace(request, lambda ws: drivers_table(ws, target))
    return {"analysis": "drivers", "target": target, "rows": jsonable(df)}
