"""Heatmaps, zoning, frustration and sessions over the behaviour events of ``events`` (Ibis, pushed down).

The browser SDK (``/sdk/cxlens-behaviour.js``) sends ordinary ``track`` events whose names start
with ``$``; their details are in ``properties`` (``$selector``, ``$x``, ``$y``, ``$viewport_width``,
``$pageview_id``…), the page in ``url``. Every function here builds one Ibis expression, runs it on
the store and returns a small tidy frame; only the last few rows (scroll reach, percentiles already
computed) are finished in pandas.

Pages are compared without their query string and fragment; a ``url`` starting with ``/`` is
compared with the path alone (any host).

Frustration score (docs/behaviour.md): weighted signals per 100 page views,
``100 × (3·rage + 2·dead + 3·error + 1·quick back + 1·excessive scroll) / page views`` per page or
element, and the same weighted sum per session (not divided). Every signal is an event the SDK
sends (``$quickback`` and ``$excessive_scroll`` against the page's baseline,
:mod:`cxlens.behaviour.baselines`). No anchor publishes its weights; these follow the public
examples (rage and error clicks weigh most, a quick back least) and are checked by how well they
rank simulated sessions whose frustrating element is known (tests/behaviour).
"""

from __future__ import annotations

import re
from typing import Any

import ibis
import pandas as pd

from cxlens.behaviour.baselines import compute as compute_baselines
from cxlens.behaviour.baselines import refresh as refresh_baselines
from cxlens.behaviour.config import check_zones
from cxlens.behaviour.config import zones as zone_definitions
from cxlens.behaviour.replay import (
    NEAR_HOURS,
    compact,
    purge,
    recorded,
    replay_events,
    replay_meta,
    replays_near,
    timeline_replays,
)
from cxlens.behaviour.sync import BEHAVIOUR_NAMES, COLUMNS, sync, typed_events_sql
from cxlens.errors import ParameterError
from cxlens.journeys.api import Journeys
from cxlens.metrics.common import backend_name, json_text, ts_literal
from cxlens.metrics.stats import wilson
from cxlens.store.segments import restrict_to_segment
from cxlens.voice.people import theme_customers

__all__ = [
    "KINDS",
    "SIGNALS",
    "WEIGHTS",
    "WIDTHS",
    "Behaviour",
    "page_key",
    "width_bucket",
]

#: viewport width buckets (px, lower bound inclusive): Hotjar renders 1280/800/380 px; ours 1024+/768+/<768
WIDTHS = {"desktop": (1024, None), "tablet": (768, 1024), "mobile": (0, 768)}
#: heatmap kinds → event name
KINDS = {"click": "$click", "rageclick": "$rageclick", "deadclick": "$deadclick", "errorclick": "$errorclick"}
#: frustration signals → event name (all sent by the SDK, docs/behaviour.md)
SIGNALS = {
    "rage_clicks": "$rageclick",
    "dead_clicks": "$deadclick",
    "error_clicks": "$errorclick",
    "quick_backs": "$quickback",
    "excessive_scrolls": "$excessive_scroll",
}
#: signals of a whole page view, which belong to no element
PAGE_SIGNALS = ("quick_backs", "excessive_scrolls")
#: weights of the frustration score
WEIGHTS = {"rage_clicks": 3.0, "dead_clicks": 2.0, "error_clicks": 3.0, "quick_backs": 1.0, "excessive_scrolls": 1.0}
_QUERY = re.compile(r"[?#].*$")
#: a URL's scheme and host, removed to compare a page with a path such as ``/checkout``
_ORIGIN = r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/]*"


_COLUMN = {key: column for column, (key, _) in COLUMNS.items()}


def prop(t: ibis.Table, key: str) -> ibis.expr.types.Value:
    """The typed column of ``behaviour_events`` holding ``properties[key]`` (``key`` such as ``$selector``)."""
    return t[_COLUMN[key]]


num = prop


def page_key(url: str) -> str:
    """A page as compared here: the URL without query string and fragment."""
    if not isinstance(url, str) or not url.strip():
        raise ParameterError("url", f"url is {url!r}; expected a page URL such as 'https://shop.example/checkout'")
    return _QUERY.sub("", url.strip())


def _page(t: ibis.Table, path_only: bool = False) -> ibis.expr.types.StringValue:
    return t.page.re_replace(_ORIGIN, "") if path_only else t.page


def _on_page(t: ibis.Table, url: str) -> ibis.expr.types.BooleanValue:
    key = page_key(url)
    if key.startswith("/"):  # the cheap test first, the exact one on what passes
        return t.page.endswith(key) & (_page(t, path_only=True) == key)
    return t.page == key


def width_bucket(width: str) -> tuple[int, int | None]:
    """(lowest, highest-exclusive) viewport width of a bucket name."""
    if width not in WIDTHS:
        raise ParameterError("width", f"width is {width!r}; expected one of {', '.join(WIDTHS)}")
    return WIDTHS[width]


def _in_width(t: ibis.Table, width: str | None) -> Any:
    if width is None:
        return ibis.literal(True)
    lo, hi = width_bucket(width)
    vw = num(t, "$viewport_width")
    return (vw >= lo) if hi is None else ((vw >= lo) & (vw < hi))


def _instant(name: str, value: Any) -> Any:
    """``start``/``end`` as a timestamp literal (:func:`~cxlens.metrics.common.ts_literal`: naive UTC);
    an unreadable value is a ParameterError naming it."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError) as e:
        raise ParameterError(name, f"{name} is {value!r}; expected a date or time such as 2025-03-01") from e
    if ts is pd.NaT:
        raise ParameterError(name, f"{name} is {value!r}; expected a date or time such as 2025-03-01")
    return ts_literal(ts)


def _range(t: ibis.Table, start: Any, end: Any) -> ibis.Table:
    if start is not None:
        t = t.filter(t.ts >= _instant("start", start))
    if end is not None:
        t = t.filter(t.ts < _instant("end", end))
    return t


_IBIS_TYPES = {"VARCHAR": "string", "DOUBLE": "float64"}


def typed_events(events: ibis.Table) -> ibis.Table:
    """``behaviour_events`` as an Ibis expression over ``events``, for a backend other than DuckDB
    (Spark, a warehouse): the same rows and columns as :func:`~cxlens.behaviour.sync.typed_events_sql`
    — each property read as its JSON text, numbers cast where they can be (a value that is not a
    number is null, as DuckDB's ``TRY_CAST``)."""
    backend = backend_name(events)
    t = events.filter((events.type == "page") | events.name.isin(list(BEHAVIOUR_NAMES)))
    props = t.properties.cast("string")
    typed = {}
    for column, (key, sql_type) in COLUMNS.items():
        text = json_text(props, key, backend)
        typed[column] = text.cast("string") if sql_type == "VARCHAR" else text.try_cast(_IBIS_TYPES[sql_type])
    return t.select(
        "event_id", "customer_id", "anonymous_id", "session_id", "ts", "type", "name", "touchpoint", "url",
        page=t.url.re_replace(r"[?#].*$", ""), **typed,
    )  # fmt: skip


class Behaviour:
    """Behaviour analyses bound to a store (``ws.behaviour``)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def _events(self, start: Any = None, end: Any = None) -> ibis.Table:
        """The typed behaviour events (kept in step by :func:`~cxlens.behaviour.sync.sync`; parsed from
        ``events`` on the fly when the workspace is read-only, which is slower)."""
        if sync(self.store) is None:
            if backend_name(self.store.table("events")) != "duckdb":
                return _range(typed_events(self.store.table("events")), start, end)
            return _range(self.store.backend.sql(typed_events_sql(), dialect="duckdb"), start, end)
        return _range(self.store.table("behaviour_events"), start, end)

    # -- heatmaps ----------------------------------------------------------------------------
    def heatmap(
        self,
        url: str,
        kind: str = "click",
        width: str = "desktop",
        *,
        x_bins: int = 50,
        y_px: int = 20,
        start: Any = None,
        end: Any = None,
    ) -> pd.DataFrame:
        """Click density of a page, or its scroll reach.

        ``kind`` ``click``/``rageclick``/``deadclick``/``errorclick``: one row per cell with ``x`` (the
        cell's left edge as a share of the viewport width, PostHog's ``pointer_relative_x``), ``y``
        (page pixels from the top, cell's top edge), ``clicks`` and ``share`` of all clicks drawn
        (``n``). ``kind="scroll"``: one row per 5 % of page height, ``depth`` and the share of page
        views (``reach``, with a Wilson 95 % CI) whose deepest visible point reached it.
        """
        if kind == "scroll":
            return self.scroll(url, width, start=start, end=end)
        if kind not in KINDS:
            raise ParameterError("kind", f"kind is {kind!r}; expected one of {', '.join(KINDS)} or scroll")
        if not isinstance(x_bins, int) or not 1 <= x_bins <= 500:
            raise ParameterError("x_bins", f"x_bins is {x_bins!r}; expected a whole number 1-500")
        if not isinstance(y_px, int) or not 1 <= y_px <= 1000:
            raise ParameterError("y_px", f"y_px is {y_px!r}; expected a whole number of pixels 1-1000")
        t = self._events(start, end)
        t = t.filter((t.name == KINDS[kind]) & _on_page(t, url))
        t = t.filter(_in_width(t, width))
        vw, x, y = num(t, "$viewport_width"), num(t, "$x"), num(t, "$y")
        cells = (
            t.mutate(
                xb=((x / vw).clip(0, 0.999999) * x_bins).floor().cast("int64"),
                yb=(y / y_px).floor().cast("int64"),
            )
            .filter(lambda s: s.xb.notnull() & s.yb.notnull())
            .group_by(["xb", "yb"])
            .aggregate(clicks=lambda s: s.count())
        )
        df = self.store.read(cells)
        n = int(df["clicks"].sum()) if len(df) else 0
        out = pd.DataFrame(
            {
                "x": df["xb"].astype(float) / x_bins,
                "y": df["yb"].astype("int64") * y_px,
                "clicks": df["clicks"].astype("int64"),
            }
        )
        out["share"] = out["clicks"] / n if n else 0.0
        out["n"] = n
        return out.sort_values(["clicks", "y", "x"], ascending=[False, True, True], ignore_index=True)

    def scroll(self, url: str, width: str = "desktop", *, start: Any = None, end: Any = None) -> pd.DataFrame:
        """Scroll reach: share of page views whose deepest visible point reached each 5 % of the page."""
        t = self._events(start, end)
        t = t.filter((t.name == "$scroll_depth") & _on_page(t, url))
        t = t.filter(_in_width(t, width))
        pct = num(t, "$percent")
        counts = (
            t.mutate(b=(pct.clip(0, 100) / 5).floor().cast("int64"))
            .filter(lambda s: s.b.notnull())
            .group_by("b")
            .aggregate(views=lambda s: s.count(), fold=lambda s: num(s, "$viewport_height").median())
        )
        df = self.store.read(counts)
        n = int(df["views"].sum()) if len(df) else 0
        depth = pd.Series(range(0, 101, 5), name="depth")
        per = df.set_index("b")["views"].reindex(range(21), fill_value=0)
        reached = per[::-1].cumsum()[::-1].to_numpy()  # views whose bucket is ≥ this one
        lo, hi = (b / 100 for b in wilson(reached, n)) if n else (reached * 0.0, reached * 0.0)
        return pd.DataFrame(
            {
                "depth": depth,
                "pageviews": reached,
                "reach": reached / n if n else 0.0,
                "ci_low": lo,
                "ci_high": hi,
                "n": n,
            }  # fmt: skip
        )

    def click_points(
        self,
        url: str,
        kind: str = "click",
        width: str | None = None,
        *,
        limit: int = 5000,
        start: Any = None,
        end: Any = None,
    ) -> pd.DataFrame:
        """The page's clicks (newest first, at most ``limit``) as ``selector`` and the position inside
        that element (``rel_x``, ``rel_y``: 0-1 of its width and height), for drawing them over the page
        as recorded: each is placed on its element wherever the layout puts it at the width shown."""
        if kind not in KINDS:
            raise ParameterError("kind", f"kind is {kind!r}; expected one of {', '.join(KINDS)}")
        if not isinstance(limit, int) or not 1 <= limit <= 100_000:
            raise ParameterError("limit", f"limit is {limit!r}; expected a whole number 1-100000")
        ev = self._events(start, end)
        t = ev.filter((ev.name == KINDS[kind]) & _on_page(ev, url))
        t = t.filter(_in_width(t, width))
        t = t.mutate(selector=prop(t, "$selector"), rel_x=num(t, "$rel_x"), rel_y=num(t, "$rel_y"))
        t = t.filter(t.selector.notnull() & t.rel_x.between(0, 1) & t.rel_y.between(0, 1))
        t = t.order_by([ibis.desc("ts"), "event_id"]).limit(limit)
        return self.store.read(t.select("selector", "rel_x", "rel_y"))

    def page_snapshot(self, url: str, width: str | None = None, *, sessions: int = 20) -> dict[str, Any]:
        """The page as last recorded, to draw a heatmap over: the rrweb meta and full-snapshot events of
        the newest recorded load of ``url`` (a viewport in ``width``'s bucket when given), among the
        ``sessions`` newest sessions that viewed it. Inputs and ``cx-mask`` text were masked and
        ``cx-block`` elements left out when recorded. ``{"session_id": None, "events": []}`` when no
        recording of the page exists."""
        key = page_key(url)
        lo, hi = width_bucket(width) if width is not None else (0, None)
        ev = self._events()
        views = ev.filter((ev.type == "page") & _on_page(ev, url) & ev.session_id.notnull())
        newest = views.group_by("session_id").aggregate(last=views.ts.max())
        newest = newest.order_by([ibis.desc("last"), "session_id"]).limit(sessions)
        ids = [str(i) for i in self.store.read(newest)["session_id"]]
        have = recorded(self.store, ids)
        for sid in (i for i in ids if i in have):
            events = replay_events(self.store, sid)
            for i in range(len(events) - 1, -1, -1):  # the newest load of the page in the session
                meta = events[i]
                data = meta.get("data") if isinstance(meta, dict) else None
                if meta.get("type") != 4 or not isinstance(data, dict) or not isinstance(data.get("href"), str):
                    continue
                vw = data.get("width")
                if not _same_page(data["href"], key) or not isinstance(vw, int | float):
                    continue
                if vw < lo or (hi is not None and vw >= hi):
                    continue
                full = next((e for e in events[i + 1 :] if e.get("type") == 2), None)
                if full is not None:
                    return {"session_id": sid, "events": [meta, full]}
        return {"session_id": None, "events": []}

    def clickmap(
        self, url: str, kind: str = "click", width: str | None = None, *, start: Any = None, end: Any = None
    ) -> pd.DataFrame:
        """Clicks per element of a page (its CSS selector), with the share of page views that clicked it."""
        if kind not in KINDS:
            raise ParameterError("kind", f"kind is {kind!r}; expected one of {', '.join(KINDS)}")
        ev = self._events(start, end)
        t = ev.filter((ev.name == KINDS[kind]) & _on_page(ev, url))
        t = t.filter(_in_width(t, width)).mutate(selector=prop(ev, "$selector"), pv=prop(ev, "$pageview_id"))
        per = t.group_by("selector").aggregate(
            clicks=t.count(),
            pageviews_clicked=t.pv.nunique(),
            text=prop(t, "$text").max(),
            rel_x=num(t, "$rel_x").mean(),
            rel_y=num(t, "$rel_y").mean(),
        )
        views = ev.filter((ev.type == "page") & _on_page(ev, url)).count()
        df = self.store.read(per)
        n = int(self.store.read(views.as_table()).iloc[0, 0])
        df["click_rate"] = df["pageviews_clicked"] / n if n else float("nan")
        df["pageviews"] = n
        return df.sort_values(["clicks", "selector"], ascending=[False, True], ignore_index=True)

    # -- frustration -------------------------------------------------------------------------
    def _views(self, start: Any, end: Any, segment: str | None = None) -> ibis.Table:
        """Page views with their session, touchpoint and page (of ``segment``'s members only, when given)."""
        ev = restrict_to_segment(self.store, self._events(start, end), segment)
        return ev.filter((ev.type == "page") & ev.session_id.notnull()).select("session_id", "ts", "touchpoint", "page")

    def frustration(
        self,
        by: str = "url",
        *,
        url: str | None = None,
        min_pageviews: int = 0,
        start: Any = None,
        end: Any = None,
        segment: str | None = None,
    ) -> pd.DataFrame:
        """Frustration signals per page (``by="url"``), element (``"selector"``) or ``"touchpoint"``.

        Columns: the group, ``pageviews``, ``sessions``, ``rage_clicks``, ``dead_clicks``,
        ``error_clicks``, ``quick_backs`` and ``excessive_scrolls`` (pages only; NA per element),
        ``frustrated_sessions`` (sessions with any signal there) with its share and
        Wilson 95 % CI, and ``frustration_score`` (weighted signals per 100 page views, :data:`WEIGHTS`).
        Worst first. ``min_pageviews`` drops groups seen fewer times (a score on 2 page views is noise).
        ``segment``: only the page views and signals of that saved segment's members (events with
        their ``customer_id``; anonymous ones are left out).
        """
        if not isinstance(min_pageviews, int) or min_pageviews < 0:
            raise ParameterError("min_pageviews", f"min_pageviews is {min_pageviews!r}; expected a whole number ≥ 0")
        if by not in ("url", "selector", "touchpoint"):
            raise ParameterError("by", f"by is {by!r}; expected url, selector or touchpoint")
        ev = restrict_to_segment(self.store, self._events(start, end), segment)
        if url is not None:
            ev = ev.filter(_on_page(ev, url))
        views = self._views(start, end, segment)
        if url is not None:
            views = views.filter(_on_page(views, url))
        sig = ev.filter(ev.name.isin(list(SIGNALS.values())))
        if by == "touchpoint":
            known = views.filter(views.touchpoint.notnull())
            if backend_name(known) == "duckdb":
                tp = known.group_by("page").aggregate(tp=lambda s: s.touchpoint.mode())
            else:  # no mode() in Ibis' Spark compiler: the most frequent touchpoint, the first by name on a tie
                n = known.group_by(["page", "touchpoint"]).aggregate(n=lambda s: s.count())
                best = n.mutate(r=ibis.row_number().over(group_by="page", order_by=[ibis.desc("n"), "touchpoint"]))
                tp = best.filter(best.r == 0).select("page", tp=best.touchpoint)
            sig = sig.left_join(tp, "page").drop("page_right")
            sig = sig.mutate(group=sig.touchpoint.fill_null(sig.tp))
            views = views.mutate(group=views.touchpoint)
            keys = ["touchpoint"]
        elif by == "url":
            sig = sig.mutate(group=sig.page)
            views = views.mutate(group=views.page)
            keys = ["url"]
        else:
            sig = sig.mutate(group=sig.page, selector=prop(sig, "$selector"))
            views = views.mutate(group=views.page)
            keys = ["url", "selector"]
        sig_keys = ["group", "selector"] if by == "selector" else ["group"]
        sig = sig.filter(sig.group.notnull())
        counts = {k: (sig.name == v).cast("int64").sum() for k, v in SIGNALS.items()}
        s = sig.group_by(sig_keys).aggregate(**counts, frustrated_sessions=sig.session_id.nunique())
        views = views.filter(views.group.notnull())
        v = views.group_by("group").aggregate(pageviews=views.count(), sessions=views.session_id.nunique())
        joined = v.outer_join(s, "group")
        joined = joined.mutate(group=joined.group.fill_null(joined.group_right)).drop("group_right")
        df = self.store.read(joined)
        for k in (*SIGNALS, "frustrated_sessions", "pageviews", "sessions"):
            df[k] = df[k].fillna(0).astype("int64")
        weighted = sum(WEIGHTS[k] * df[k] for k in SIGNALS)
        if by == "selector":
            df = df[df["selector"].notna()].copy()
            weighted = weighted[df.index]
            for k in PAGE_SIGNALS:
                df[k] = pd.NA  # a page view's signal belongs to no element
        df["frustration_score"] = (100 * weighted / df["pageviews"].where(df["pageviews"] > 0)).round(2)
        df["frustrated_share"] = df["frustrated_sessions"] / df["sessions"].where(df["sessions"] > 0)
        lo, hi = wilson(df["frustrated_sessions"].clip(upper=df["sessions"]).to_numpy(), df["sessions"].to_numpy())
        df["frustrated_ci_low"], df["frustrated_ci_high"] = lo / 100, hi / 100  # wilson() answers in percent
        df = df[df["pageviews"] >= min_pageviews]
        df = df.rename(columns={"group": keys[0]})
        cols = [
            *keys, "pageviews", "sessions", *SIGNALS, "frustrated_sessions", "frustrated_share",
            "frustrated_ci_low", "frustrated_ci_high", "frustration_score",
        ]  # fmt: skip
        df = df[cols].sort_values(
            ["frustration_score", "rage_clicks", "dead_clicks", *keys],
            ascending=[False, False, False, *([True] * len(keys))],
            na_position="last",
            ignore_index=True,
        )
        return df

    def exit_pages(
        self,
        *,
        min_pageviews: int = 0,
        limit: int = 100,
        start: Any = None,
        end: Any = None,
    ) -> pd.DataFrame:
        """Pages where sessions end, with their frustration.

        Per page: ``pageviews``, ``sessions``, ``exits`` (page views that were the last of their
        session), ``exit_rate`` = exits ÷ page views with its Wilson 95 % CI (``exit_ci_low/high``),
        ``frustrated_exits`` (exits from a page view that had a frustration signal — matched by its
        ``$pageview_id``) with their share of exits, and the page's ``frustration_score``
        (weighted signals per 100 page views, as :meth:`frustration` computes it, in the same query).
        Most exits first. A session still going counts its current page as an exit; page views tied
        at a session's last moment are all exits; ``min_pageviews`` drops pages seen fewer times.
        """
        if not isinstance(min_pageviews, int) or isinstance(min_pageviews, bool) or min_pageviews < 0:
            raise ParameterError("min_pageviews", f"min_pageviews is {min_pageviews!r}; expected a whole number ≥ 0")
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100_000:
            raise ParameterError("limit", f"limit is {limit!r}; expected a whole number 1-100000")
        ev = self._events(start, end)
        pv = ev.filter((ev.type == "page") & ev.session_id.notnull()).select("session_id", "ts", "page", "pageview_id")
        last = pv.group_by("session_id").aggregate(last_ts=pv.ts.max())
        pv = pv.left_join(last, [pv.session_id == last.session_id, pv.ts == last.last_ts]).drop("session_id_right")
        pv = pv.mutate(last=pv.last_ts.notnull())
        sig = ev.filter(ev.name.isin(list(SIGNALS.values())))
        hit = sig.filter(sig.pageview_id.notnull()).select(hit_pv="pageview_id").distinct()
        pv = pv.left_join(hit, pv.pageview_id == hit.hit_pv)
        per = pv.group_by("page").aggregate(
            pageviews=pv.count(),
            sessions=pv.session_id.nunique(),
            exits=pv.last.cast("int64").sum(),
            frustrated_exits=(pv.last & pv.hit_pv.notnull()).cast("int64").sum(),
        )
        # the page's frustration score in the same query (as frustration(by="url") computes it)
        weighted = sig.group_by(sig_page="page").aggregate(
            weighted=sum((sig.name == name).cast("float64") * WEIGHTS[k] for k, name in SIGNALS.items()).sum()
        )
        per = per.left_join(weighted, per.page == weighted.sig_page).drop("sig_page")
        df = self.store.read(per)
        cols = [
            "url", "pageviews", "sessions", "exits", "exit_rate", "exit_ci_low", "exit_ci_high", "frustrated_exits",
            "frustrated_exit_share", "frustration_score",
        ]  # fmt: skip
        df = df[df["pageviews"] >= max(1, min_pageviews)].rename(columns={"page": "url"})
        if df.empty:
            return pd.DataFrame(columns=cols)
        for k in ("pageviews", "sessions", "exits", "frustrated_exits"):
            df[k] = df[k].astype("int64")
        df["exit_rate"] = df["exits"] / df["pageviews"]
        lo, hi = wilson(df["exits"].to_numpy(), df["pageviews"].to_numpy())
        df["exit_ci_low"], df["exit_ci_high"] = lo / 100, hi / 100  # wilson() answers in percent
        df["frustrated_exit_share"] = df["frustrated_exits"] / df["exits"].where(df["exits"] > 0)
        df["frustration_score"] = (100 * df["weighted"].fillna(0.0) / df["pageviews"]).round(2)
        df = df.sort_values(["exits", "exit_rate", "url"], ascending=[False, False, True], ignore_index=True)
        return df[cols].head(limit)

    def baselines(self) -> pd.DataFrame:
        """Each page's quick-back threshold and excessive-scrolling fence, with what they rest on
        (:mod:`cxlens.behaviour.baselines`; what the SDK is told in the remote config)."""
        return compute_baselines(self.store, self._events())

    def refresh_baselines(self) -> dict[str, Any]:
        """Recompute the baselines and store them for the remote config now (what the
        ``behaviour.baselines`` job does every 5 minutes): ``{"pages", "seconds"}``."""
        return refresh_baselines(self.store)

    def sessions(
        self,
        *,
        min_score: float | None = None,
        signal: str | None = None,
        url: str | None = None,
        customer_id: str | None = None,
        start: Any = None,
        end: Any = None,
        limit: int = 100,
    ) -> pd.DataFrame:
        """One row per session: customer, start, duration, pages, each signal's count and the
        session's frustration score (:data:`WEIGHTS`, not divided); most frustrated first.

        Filters: ``min_score``, ``signal`` (``rage_clicks``, ``dead_clicks``, ``error_clicks``,
        ``quick_backs``, ``excessive_scrolls``: at least one), ``url`` (visited that page), ``customer_id``.
        """
        if signal is not None and signal not in WEIGHTS:
            raise ParameterError("signal", f"signal is {signal!r}; expected one of {', '.join(WEIGHTS)}")
        if not isinstance(limit, int) or not 1 <= limit <= 100_000:
            raise ParameterError("limit", f"limit is {limit!r}; expected a whole number 1-100000")
        ev = self._events(start, end)
        ev = ev.filter(ev.session_id.notnull())
        counts = {k: (ev.name == v).cast("int64").sum() for k, v in SIGNALS.items()}
        per = ev.group_by("session_id").aggregate(
            customer_id=ev.customer_id.max(),
            anonymous_id=ev.anonymous_id.max(),
            started=ev.ts.min(),
            ended=ev.ts.max(),
            pages=(ev.type == "page").cast("int64").sum(),
            **counts,
        )
        score = sum(per[k] * w for k, w in WEIGHTS.items())
        per = per.mutate(frustration_score=score)
        if min_score is not None:
            per = per.filter(per.frustration_score >= float(min_score))
        if signal is not None:
            per = per.filter(per[signal] > 0)
        if customer_id is not None:
            per = per.filter(per.customer_id == customer_id)
        if url is not None:
            seen = ev.filter((ev.type == "page") & _on_page(ev, url)).select("session_id").distinct()
            per = per.semi_join(seen, "session_id")
        per = per.order_by([ibis.desc("frustration_score"), ibis.desc("started"), "session_id"]).limit(limit)
        cols = [
            "session_id", "customer_id", "anonymous_id", "started", "duration_s", "pages", *WEIGHTS,
            "frustration_score",
        ]  # fmt: skip
        df = self.store.read(per.select(*[c for c in cols if c != "duration_s"], "ended"))
        # whole seconds from the first event to the last (floored), the same on every backend (their
        # epoch-second functions round differently)
        df["duration_s"] = ((df["ended"] - df["started"]).dt.total_seconds() // 1).astype("int64")
        return df[cols]

    # -- session replay (storage: cxlens.behaviour.replay) ------------------------------------------
    def replays(
        self,
        *,
        frustrated: bool = False,
        nps_max: float | None = None,
        url: str | None = None,
        customer_id: str | None = None,
        segment: str | None = None,
        theme: str | None = None,
        funnel: Any = None,
        dropped_at: int | None = None,
        limit: int = 100,
    ) -> pd.DataFrame:
        """Recorded sessions, newest first, with their frustration signals (``behaviour_events``) and the
        person's feedback: ``nps`` (their latest NPS score) and ``feedback`` (how many answers they gave).

        ``frustrated``: at least one frustration signal (:data:`SIGNALS`); ``nps_max``: latest NPS ≤ it (people
        without one drop out); ``url``: the session viewed that page (or its replay starts there);
        ``customer_id``: that person's sessions; ``segment``: people in that saved segment;
        ``theme``: people whose feedback or tickets carry that theme (its id, as the feedback explorer
        takes it; ``"other"``: people with a verbatim the themes job gave no theme); ``funnel`` (steps,
        as ``ws.journeys.funnel`` takes them) with ``dropped_at`` (a step number): people who reached that step but not the next (the funnel's drop-off list, default
        14-day window). ``frustration_score`` weighs every signal as
        :data:`WEIGHTS` does (the session score of :meth:`sessions`).
        """
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100_000:
            raise ParameterError("limit", f"limit is {limit!r}; expected a whole number 1-100000")
        if nps_max is not None and (isinstance(nps_max, bool) or not isinstance(nps_max, int | float)):
            raise ParameterError("nps_max", f"nps_max is {nps_max!r}; expected a number 0-10")
        store = self.store
        if not store.has_table("replay_sessions"):
            return pd.DataFrame(columns=REPLAY_COLUMNS)
        rs = store.table("replay_sessions")
        ev = self._events()
        sig = ev.filter(ev.session_id.notnull() & ev.name.isin(list(SIGNALS.values())))
        counts = sig.group_by("session_id").aggregate(
            **{k: (sig.name == v).cast("int64").sum() for k, v in SIGNALS.items()}
        )
        t = rs.left_join(counts, rs.session_id == counts.session_id).drop("session_id_right")
        t = t.mutate(**{k: t[k].fill_null(0) for k in SIGNALS})
        t = t.mutate(frustration_score=sum(t[k] * WEIGHTS[k] for k in SIGNALS))
        fb = store.table("feedback")
        fb = fb.filter(fb.customer_id.notnull())
        nps = fb.filter(fb.metric == "nps")
        latest = nps.group_by(fb_customer=nps.customer_id).aggregate(nps=nps.score.argmax(nps.ts))
        n = fb.group_by(fb_customer2=fb.customer_id).aggregate(feedback=fb.count())
        t = t.left_join(latest, t.customer_id == latest.fb_customer).drop("fb_customer")
        t = t.left_join(n, t.customer_id == n.fb_customer2).drop("fb_customer2")
        t = t.mutate(
            feedback=t.feedback.fill_null(0), duration_s=t.ended_at.epoch_seconds() - t.started_at.epoch_seconds()
        )
        if frustrated:
            t = t.filter(sum(t[k] for k in SIGNALS) > 0)
        if nps_max is not None:
            t = t.filter(t.nps <= float(nps_max))
        if customer_id is not None:
            t = t.filter(t.customer_id == str(customer_id))
        if segment is not None:
            t = restrict_to_segment(store, t, segment)
        if theme is not None:
            t = t.filter(t.customer_id.isin(theme_customers(store, theme)))
        if funnel is not None or dropped_at is not None:
            if funnel is None or isinstance(dropped_at, bool) or not isinstance(dropped_at, int):
                raise ParameterError(
                    "dropped_at",
                    f"funnel is {funnel!r} and dropped_at {dropped_at!r}; give both: steps and a step number",
                )
            ids = Journeys(store).dropped(funnel, dropped_at, limit=None)["customer_id"].astype(str).tolist()
            t = t.filter(t.customer_id.isin(ids)) if ids else t.filter(ibis.literal(False))
        if url is not None:
            seen = ev.filter((ev.type == "page") & _on_page(ev, url)).select("session_id").distinct()
            path = t.url.re_replace(_ORIGIN, "")
            t = t.filter(t.session_id.isin(seen.session_id) | t.url.startswith(url) | path.startswith(url))
        t = t.order_by([ibis.desc("started_at"), "session_id"]).limit(limit)
        return store.read(t.select(REPLAY_COLUMNS))

    def replays_near(self, moments: list[tuple[Any, Any]], max_hours: float = NEAR_HOURS) -> list[str | None]:
        """For each ``(customer_id, moment)`` — a survey answer, a ticket, a funnel step — the id of that
        person's recorded session nearest in time (within ``max_hours``, default 24), else ``None``."""
        return replays_near(self.store, moments, max_hours)

    def timeline_replays(
        self, customer_id: str, rows: list[tuple[Any, Any]], max_hours: float = NEAR_HOURS
    ) -> list[tuple[str, bool] | None]:
        """For each ``(session_id, moment)`` row of ``customer_id``'s timeline, ``(session, True)`` when the
        row's own session was recorded, else ``(nearest session, False)`` within ``max_hours``, else ``None``."""
        return timeline_replays(self.store, customer_id, rows, max_hours)

    def replay_near(self, customer_id: str, at: Any, max_hours: float = NEAR_HOURS) -> dict[str, Any] | None:
        """The metadata of ``customer_id``'s recorded session nearest to ``at`` (``None``: none within
        ``max_hours``)."""
        if not isinstance(customer_id, str) or not customer_id:
            raise ParameterError("customer_id", f"customer_id is {customer_id!r}; expected a customer id")
        if at is None:
            raise ParameterError("at", "at is missing; expected a date and time (ISO 8601)")
        sid = replays_near(self.store, [(customer_id, at)], max_hours)[0]
        return None if sid is None else replay_meta(self.store, sid)

    def replay(self, session_id: str) -> dict[str, Any]:
        """One recorded session's metadata (customer, times, pages, bytes)."""
        return replay_meta(self.store, session_id)

    def replay_events(self, session_id: str) -> list[dict[str, Any]]:
        """One recorded session's rrweb events, in order (reads only its own blocks)."""
        return replay_events(self.store, session_id)

    def purge_replays(self, older_than_days: float | None = None) -> dict[str, int]:
        """Delete replays older than ``older_than_days`` (default: the ``replay.retention_days`` setting)."""
        return purge(self.store, older_than_days)

    def compact_replays(self, idle_minutes: float = 30) -> dict[str, int]:
        """Merge the chunks of sessions idle for ``idle_minutes`` into one xz block each (smaller)."""
        return compact(self.store, idle_minutes)

    # -- zoning ------------------------------------------------------------------------------
    def zones(self, url: str, *, start: Any = None, end: Any = None, definitions: Any = None) -> pd.DataFrame:
        """Zoning metrics of a page for the workspace's zones (``behaviour.zones``), Contentsquare's definitions:

        * ``click_rate`` = page views with a click on the zone ÷ page views;
        * ``click_recurrence`` = clicks on the zone ÷ page views with a click on it;
        * ``exposure_rate`` = page views whose zone mid-height line was visible ≥ 150 ms ÷ page views;
        * ``attractiveness`` = page views with the zone exposed and clicked ÷ page views with it exposed;
        * ``hesitation_p50/p75`` (ms) = pointer entering the clicked element → the first click on the
          zone, per page view; ``first_click_p50/p75`` (s) = page load → first click on the zone.

        Page views are counted by their ``$pageview_id`` (the SDK puts it on the page view and on
        every behaviour event of it). ``definitions`` (a list of ``{"name", "selector"[, "url"]}``, checked
        as ``behaviour.zones`` is) stands in for the workspace's zones — a workspace over Spark or a
        warehouse has no settings of its own.
        """
        key = page_key(url)
        listed = zone_definitions(self.store) if definitions is None else check_zones(definitions)
        defs = [z for z in listed if not z.get("url") or _zone_on(z["url"], key)]
        ev = self._events(start, end)
        ev = ev.filter(_on_page(ev, url))
        pv = ev.filter(ev.type == "page").mutate(pv=prop(ev, "$pageview_id"))
        n = int(self.store.read(pv.aggregate(n=pv.pv.nunique())).iloc[0, 0])
        if not defs:
            return pd.DataFrame(columns=_ZONE_COLUMNS)
        clicks = ev.filter(ev.name == "$click").mutate(
            pv=prop(ev, "$pageview_id"),
            zs=prop(ev, "$zones"),
            hes=num(ev, "$hesitation_ms"),
            since=num(ev, "$since_load_ms"),
        )
        exposed = ev.filter(ev.name == "$zone_exposed").mutate(pv=prop(ev, "$pageview_id"), zone=prop(ev, "$zone"))
        parts = []
        for z in defs:
            c = clicks.filter(clicks.zs.contains(f'"{z["name"]}"'))
            # per page view: its clicks on the zone, and the first one's hesitation and time since load
            per_pv = c.group_by("pv").aggregate(clicks=c.count(), hes=c.hes.argmin(c.since), since=c.since.min())
            firsts = per_pv
            exp = exposed.filter(exposed.zone == z["name"]).select("pv").distinct()
            both = per_pv.select("pv").semi_join(exp, "pv")
            parts.append(
                ibis.literal(z["name"]).name("zone").as_table().cross_join(
                    per_pv.aggregate(clicked=per_pv.count(), clicks=per_pv.clicks.sum())
                ).cross_join(exp.aggregate(exposed=exp.count())).cross_join(both.aggregate(exposed_clicked=both.count()))
                .cross_join(
                    firsts.aggregate(
                        hesitation_p50=firsts.hes.quantile(0.5),
                        hesitation_p75=firsts.hes.quantile(0.75),
                        first_click_p50=(firsts.since / 1000).quantile(0.5),
                        first_click_p75=(firsts.since / 1000).quantile(0.75),
                    )
                )
            )  # fmt: skip
        df = self.store.read(ibis.union(*parts))
        df["clicks"] = df["clicks"].fillna(0).astype("int64")
        for c in ("clicked", "exposed", "exposed_clicked"):
            df[c] = df[c].astype("int64")
        df["pageviews"] = n
        df["click_rate"] = df["clicked"] / n if n else float("nan")
        df["click_recurrence"] = df["clicks"] / df["clicked"].where(df["clicked"] > 0)
        df["exposure_rate"] = df["exposed"] / n if n else float("nan")
        df["attractiveness"] = df["exposed_clicked"] / df["exposed"].where(df["exposed"] > 0)
        order = {z["name"]: i for i, z in enumerate(defs)}
        df = df.sort_values("zone", key=lambda s: s.map(order), ignore_index=True)
        selectors = {z["name"]: z["selector"] for z in defs}
        df["selector"] = df["zone"].map(selectors)
        return df[_ZONE_COLUMNS]


#: the replay list's columns, in order
REPLAY_COLUMNS = [
    "session_id", "customer_id", "anonymous_id", "started_at", "duration_s", "url", "events", "chunks",
    "stored_bytes", "rage_clicks", "dead_clicks", "error_clicks", "quick_backs", "excessive_scrolls",
    "frustration_score", "nps", "feedback",
]  # fmt: skip

_ZONE_COLUMNS = [
    "zone", "selector", "pageviews", "clicked", "clicks", "exposed", "exposed_clicked", "click_rate",
    "click_recurrence", "exposure_rate", "attractiveness", "hesitation_p50", "hesitation_p75", "first_click_p50",
    "first_click_p75",
]  # fmt: skip


def _same_page(href: str, key: str) -> bool:
    """Whether a recorded address is the page ``key`` (:func:`page_key`; a key starting with ``/`` is
    compared with the address' path)."""
    page = _QUERY.sub("", href.strip())
    if key.startswith("/"):
        return re.sub(_ORIGIN, "", page) == key
    return page == key


def _zone_on(zone_url: str, page: str) -> bool:
    """Whether a zone defined for ``zone_url`` (a URL or path prefix) belongs to ``page``."""
    if zone_url.startswith("/"):
        path = re.sub(_ORIGIN, "", page)
        return path.startswith(zone_url)
    return page.startswith(zone_url)
