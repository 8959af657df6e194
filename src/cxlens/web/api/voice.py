"""``/api/v1/voice/{feedback,themes,drivers}``: :mod:`cxlens.voice` as JSON rows.

Parameters are parsed and checked here (a bad one is a 400 naming it, ``"param": "sentiment"``)
and the work is one call into the library each: :func:`cxlens.voice.explorer.feedback_page`,
:func:`cxlens.voice.explorer.theme_table` (both read the stored analysis and themes; nothing is
scored or fitted inside a request) and :func:`cxlens.voice.key_drivers`. The dashboard pages
(:mod:`cxlens.web.pages.voice`) use the same functions.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request

from cxlens.errors import ConfigError, ParameterError
from cxlens.metrics.filters import Filters
from cxlens.voice.explorer import PAGE_SIZE, SENTIMENTS, FeedbackQuery, feedback_page, theme_table
from cxlens.web.api.metrics import jsonable
from cxlens.web.deps import ALL_DATA, cached_view
from cxlens.web.params import FiltersDep

__all__ = [
    "drivers_table",
    "feedback_params",
    "router",
]

router = APIRouter(prefix="/api/v1/voice", tags=["voice"])

DRIVER_TARGETS = ("nps", "csat")


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
    theme: Annotated[
        str | None,
        Query(
            description="Theme id (see /api/v1/voice/themes), any of its labels; 'other': verbatims without a theme."
        ),
    ] = None,
) -> FeedbackQuery:
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
    return FeedbackQuery((q or "").strip(), src, label, lo, hi, int(raw_page), (theme or "").strip())


def drivers_table(ws: Any, target: str = "nps", *, n_boot: int = 50, where: Filters | None = None) -> pd.DataFrame:
    """:func:`~cxlens.voice.key_drivers` over touchpoints for ``target``; errors name ``target``."""
    from cxlens.voice import key_drivers

    if target not in DRIVER_TARGETS:
        raise ParameterError(
            "target", f"query parameter 'target' is {target!r}; expected one of {', '.join(DRIVER_TARGETS)}"
        )
    return key_drivers(ws, target, "touchpoints", n_boot=n_boot, where=where)


@router.get("/feedback", summary="Feedback explorer", description="One page of verbatims with sentiment.")
async def feedback(
    request: Request, f: FiltersDep, p: Annotated[FeedbackQuery, Depends(feedback_params)]
) -> dict[str, Any]:
    res = await cached_view(request, "api-feedback", (p, f), ALL_DATA, lambda ws: feedback_page(ws, p, f))
    cols = ["verbatim_id", "source", "ts", "text", "touchpoint", "channel", "stage", "score", "metric",
            "language", "sentiment_score", "sentiment_label", "themes"]  # fmt: skip
    return {"analysis": "feedback", "total": res["total"], "page": res["page"], "pages": res["pages"],
            "rows": jsonable(res["rows"][cols])}  # fmt: skip


@router.get(
    "/themes",
    summary="Themes",
    description="`theme_summary` of themes discovered in English verbatims; the last row, theme `other` "
    "(`Other (no theme)`, `issue` false), holds the verbatims without a theme.",
)
async def themes(request: Request, f: FiltersDep) -> dict[str, Any]:
    df = await cached_view(request, "api-themes", f, ALL_DATA, lambda ws: theme_table(ws, f))
    return {
        "analysis": "themes",
        "verbatims": df.attrs["verbatims"],
        "rows": jsonable(df.drop(columns=["counts"], errors="ignore")),
    }


@router.get("/drivers", summary="Key drivers", description="`key_drivers(ws, target, 'touchpoints', n_boot=50)`.")
async def drivers(request: Request, f: FiltersDep, target: str = "nps") -> dict[str, Any]:
    df = await cached_view(request, "api-drivers", (target, f), ALL_DATA, lambda ws: drivers_table(ws, target, where=f))
    return {"analysis": "drivers", "target": target, "rows": jsonable(df)}
