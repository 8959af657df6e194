"""Each page's usual behaviour, which the browser SDK compares a page view with: the quick-back
threshold and the excessive-scrolling fence (served in the remote config, ``?page=``).

Both signals are relative to the page, as Microsoft Clarity defines them (docs/behaviour.md):

* **quick back** — the visitor returns to the previous page sooner than the page's usual dwell
  allows: threshold = ½ × the page's median dwell time (dwell of a page view = time to the session's
  next page view; views that were themselves a return to the page before are left out of the
  median), clipped to 2-30 s; with fewer than :data:`MIN_VIEWS` measured dwells, 5 s. The share,
  bounds and default are our choices (Clarity publishes none; the 5 s default follows the anchors'
  note, research/behaviour-act-anchors.md §13).
* **excessive scrolling** — more scroll direction changes in a page view than the page's upper
  Tukey fence, Q3 + 1.5 × IQR of the direction changes of its page views (interpolated quartiles),
  and never fewer than :data:`MIN_FENCE` (three up-and-down round trips); with fewer than
  :data:`MIN_VIEWS` page views measured, :data:`DEFAULT_FENCE`. Tukey's fence (Tukey 1977,
  *Exploratory Data Analysis*) is the usual "above what is normal here" rule and, unlike a p90, does
  not flag a tenth of all page views by construction.

Only the last :data:`WINDOW_DAYS` days before the newest behaviour event count (recent behaviour).
One query computes every page at once (:func:`compute`, ≈ 0.3 s at 10M events). It runs in the
background, never in the remote-config request: the job :data:`REFRESH_KIND`, which every job runner
queues every 5 minutes in a workspace with SDK behaviour events (``$scroll_depth``), recomputes the
table when ``events`` changed and stores it as the result :data:`RESULT`; :func:`page_baseline` (the
request) only reads that stored table (kept in memory until a newer one is stored), with the
defaults for a page it lacks or while none is stored yet. :func:`refresh` does the job's work at once
(``cxlens behaviour baselines --store``, tests).
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from datetime import timedelta
from typing import Any

import ibis
import pandas as pd

from cxlens.behaviour.sync import sync, typed_events_sql
from cxlens.jobs import JobContext, Schedule, load_result, schedule, schedule_source, task, write_result

__all__ = [
    "DEFAULT_FENCE",
    "DEFAULT_QUICK_BACK_MS",
    "MIN_FENCE",
    "MIN_VIEWS",
    "QUICK_BACK_BOUNDS_MS",
    "QUICK_BACK_SHARE",
    "REFRESH_CRON",
    "REFRESH_KIND",
    "RESULT",
    "WINDOW_DAYS",
    "compute",
    "page_baseline",
    "refresh",
]

QUICK_BACK_SHARE = 0.5
QUICK_BACK_BOUNDS_MS = (2000, 30000)
DEFAULT_QUICK_BACK_MS = 5000
MIN_FENCE = 6
DEFAULT_FENCE = 10
MIN_VIEWS = 20
WINDOW_DAYS = 30
#: the job that recomputes the baselines, the stored result it writes, and its schedule (every 5 minutes)
REFRESH_KIND = "behaviour.baselines"
RESULT = "behaviour.baselines"
REFRESH_CRON = "*/5 * * * *"

COLUMNS = [
    "page", "dwell_n", "dwell_median_s", "quick_back_ms", "scroll_n", "scroll_q1", "scroll_q3", "scroll_fence",
]  # fmt: skip


def _events(store: Any) -> ibis.Table:
    if sync(store) is None:
        return store.backend.sql(typed_events_sql(), dialect="duckdb")
    return store.table("behaviour_events")


def quick_back_ms(median_s: float | None, n: int) -> int:
    """The quick-back threshold (ms) of a page whose ``n`` measured dwells have this median (s)."""
    if median_s is None or n < MIN_VIEWS or not math.isfinite(median_s):
        return DEFAULT_QUICK_BACK_MS
    lo, hi = QUICK_BACK_BOUNDS_MS
    return int(round(min(hi, max(lo, QUICK_BACK_SHARE * median_s * 1000))))


def scroll_fence(q1: float | None, q3: float | None, n: int) -> int:
    """The excessive-scrolling fence (direction changes) of a page with these quartiles over ``n`` views."""
    if q1 is None or q3 is None or n < MIN_VIEWS or not (math.isfinite(q1) and math.isfinite(q3)):
        return DEFAULT_FENCE
    return max(MIN_FENCE, math.ceil(q3 + 1.5 * (q3 - q1)))


def compute(store: Any, events: ibis.Table | None = None) -> pd.DataFrame:
    """Every page's baseline: measured dwells, their median, the quick-back threshold, the scroll
    direction changes measured, their quartiles and the fence (columns :data:`COLUMNS`)."""
    ev = _events(store) if events is None else events
    newest = store.read(ev.aggregate(m=ev.ts.max())).iloc[0, 0]
    if newest is None or pd.isna(newest):
        return pd.DataFrame(columns=COLUMNS)
    since = (pd.Timestamp(newest) - timedelta(days=WINDOW_DAYS)).to_pydatetime()
    ev = ev.filter(ev.ts >= since)
    pv = ev.filter((ev.type == "page") & ev.session_id.notnull()).select("session_id", "ts", "page")
    w = ibis.window(group_by="session_id", order_by="ts")
    seq = pv.mutate(
        prev=pv.page.lag().over(w),
        next=pv.page.lead().over(w),
        dwell=pv.ts.lead().over(w).epoch_seconds() - pv.ts.epoch_seconds(),
    )
    usual = seq.filter(seq.dwell.notnull() & (seq.next.isnull() | seq.prev.isnull() | (seq.next != seq.prev)))
    dwell = usual.group_by("page").aggregate(dwell_n=usual.count(), dwell_median_s=usual.dwell.quantile(0.5))
    sc = ev.filter((ev.name == "$scroll_depth") & ev.direction_changes.notnull())
    scroll = sc.group_by("page").aggregate(
        scroll_n=sc.count(),
        scroll_q1=sc.direction_changes.quantile(0.25),
        scroll_q3=sc.direction_changes.quantile(0.75),
    )
    j = dwell.outer_join(scroll, "page")
    j = j.mutate(page=j.page.fill_null(j.page_right)).drop("page_right")
    df = store.read(j)
    if df.empty:
        return pd.DataFrame(columns=COLUMNS)
    df["dwell_n"] = df["dwell_n"].fillna(0).astype("int64")
    df["scroll_n"] = df["scroll_n"].fillna(0).astype("int64")
    nan = lambda v: None if v is None or pd.isna(v) else float(v)  # noqa: E731
    df["quick_back_ms"] = [quick_back_ms(nan(m), n) for m, n in zip(df["dwell_median_s"], df["dwell_n"], strict=True)]
    df["scroll_fence"] = [
        scroll_fence(nan(a), nan(b), n)
        for a, b, n in zip(df["scroll_q1"], df["scroll_q3"], df["scroll_n"], strict=True)
    ]
    return df[COLUMNS].sort_values("page", ignore_index=True)


DEFAULT = {"quickBackMs": DEFAULT_QUICK_BACK_MS, "dwellViews": 0, "scrollFence": DEFAULT_FENCE, "scrollViews": 0}
_TABLES = ["events"]


def refresh(store: Any) -> dict[str, Any]:
    """Recompute every page's baseline and store it as the result :data:`RESULT` (what the job does)."""
    versions = store.data_version(_TABLES)
    t0 = time.perf_counter()
    df = compute(store)
    seconds = round(time.perf_counter() - t0, 3)
    with store.transaction(changes=["results", f"results:{RESULT}"]) as cur:
        write_result(cur, RESULT, REFRESH_KIND, versions=versions, seconds=seconds, frame=df)
    return {"pages": len(df), "seconds": seconds}


@task(REFRESH_KIND, max_attempts=2, lease=600.0)
def refresh_job(ctx: JobContext) -> dict[str, Any]:
    """Recompute the page baselines the remote config serves, when ``events`` changed since the stored ones."""
    seen = ctx.versions(_TABLES)
    stored = load_result(ctx.store, RESULT)
    if stored is not None and stored.versions == seen:
        return {"skipped": "events unchanged since the stored baselines"}
    t0 = time.perf_counter()
    df = compute(ctx.store)
    seconds = round(time.perf_counter() - t0, 3)
    ctx.save_result(RESULT, tables=_TABLES, frame=df, seconds=seconds)
    return {"pages": len(df), "seconds": seconds}


_sdk: weakref.WeakKeyDictionary[Any, tuple[Any, bool]] = weakref.WeakKeyDictionary()


@schedule_source
def _refresh_schedule(store: Any) -> list[Schedule]:
    """Every job runner queues the refresh every 5 minutes in a workspace with SDK behaviour events
    (a ``$scroll_depth``; looked up again only when ``events`` changed)."""
    version = store.data_version(_TABLES).get("events")
    hit = _sdk.get(store)
    if hit is None or hit[0] != version:
        found = store.has_table("events") and store.one("SELECT 1 FROM events WHERE name = '$scroll_depth' LIMIT 1")
        hit = (version, bool(found))
        _sdk[store] = hit
    return [schedule(REFRESH_KIND, REFRESH_CRON, REFRESH_KIND)] if hit[1] else []


_cache: weakref.WeakKeyDictionary[Any, tuple[Any, dict[str, dict[str, Any]]]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def page_baseline(store: Any, page: str) -> dict[str, Any]:
    """What the SDK is told about ``page`` (a URL without query string): ``quickBackMs`` and
    ``scrollFence`` with the number of page views each rests on (0: the defaults). Reads the stored
    result of the :data:`REFRESH_KIND` job (never computes); the defaults until there is one."""
    row = store.one("SELECT computed_at FROM results WHERE name = ?", [RESULT]) if store.is_duckdb else None
    if row is None:
        return dict(DEFAULT)
    with _lock:
        hit = _cache.get(store)
        if hit is None or hit[0] != row[0]:
            stored = load_result(store, RESULT)
            df = stored.frame() if stored is not None else None
            table = {
                r.page: {
                    "quickBackMs": int(r.quick_back_ms),
                    "dwellViews": int(r.dwell_n),
                    "scrollFence": int(r.scroll_fence),
                    "scrollViews": int(r.scroll_n),
                }
                for r in (df.itertuples() if df is not None else ())
            }
            hit = (stored.computed_at if stored is not None else row[0], table)
            _cache[store] = hit
    return dict(hit[1].get(page, DEFAULT))
