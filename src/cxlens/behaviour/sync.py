"""Keep ``behaviour_events`` (the typed copy of the behaviour events, schema/ddl_behaviour.py) in step with ``events``.

:func:`sync` runs before every analysis and costs nothing while ``events`` is unchanged (its data
version is remembered). When it changed, the page views and ``$…`` behaviour events not yet copied
are added — those from a day before the newest copied one onwards, then, if the counts still
differ (an import of older history, an erasure), all of them are checked again. The JSON of each
new row is parsed once, here.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

__all__ = ["BEHAVIOUR_NAMES", "COLUMNS", "sync", "typed_events_sql"]

#: the events the SDK sends (page views are copied too)
BEHAVIOUR_NAMES = (
    "$click", "$rageclick", "$deadclick", "$errorclick", "$exception", "$scroll_depth", "$zone_exposed",
    "$quickback", "$excessive_scroll",
)  # fmt: skip
#: typed column → (properties key, SQL type)
COLUMNS = {
    "pageview_id": ("$pageview_id", "VARCHAR"),
    "selector": ("$selector", "VARCHAR"),
    "text": ("$text", "VARCHAR"),
    "x": ("$x", "DOUBLE"),
    "y": ("$y", "DOUBLE"),
    "viewport_width": ("$viewport_width", "DOUBLE"),
    "viewport_height": ("$viewport_height", "DOUBLE"),
    "rel_x": ("$rel_x", "DOUBLE"),
    "rel_y": ("$rel_y", "DOUBLE"),
    "hesitation_ms": ("$hesitation_ms", "DOUBLE"),
    "since_load_ms": ("$since_load_ms", "DOUBLE"),
    "percent": ("$percent", "DOUBLE"),
    "zones": ("$zones", "VARCHAR"),
    "zone": ("$zone", "VARCHAR"),
    "direction_changes": ("$direction_changes", "DOUBLE"),  # schema version 6
}
_WHERE = "(e.type = 'page' OR e.name IN ({}))".format(", ".join(f"'{n}'" for n in BEHAVIOUR_NAMES))
_PATHS = "[" + ", ".join(f"'$.\"{k}\"'" for k, _ in COLUMNS.values()) + "]"
_TYPED = (
    "SELECT e.event_id, e.customer_id, e.anonymous_id, e.session_id, e.ts, e.type, e.name, e.touchpoint, e.url, "
    "regexp_replace(e.url, '[?#].*$', '') AS page, "
    + ", ".join(f"TRY_CAST(j[{i + 1}] AS {t}) AS {c}" for i, (c, (_, t)) in enumerate(COLUMNS.items()))
    + f" FROM (SELECT e.*, json_extract_string(CASE WHEN json_valid(e.properties) THEN e.properties END, {_PATHS}) AS j"
    f" FROM events e WHERE {_WHERE} {{since}}) e"
)
_SELECT = _TYPED + " WHERE NOT EXISTS (SELECT 1 FROM behaviour_events b WHERE b.event_id = e.event_id)"


def typed_events_sql() -> str:
    """``behaviour_events`` computed from ``events`` on the fly (what a read-only workspace reads)."""
    return _TYPED.format(since="")


_seen: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()  # store → events version copied
_lock = threading.Lock()


def sync(store: Any) -> int | None:
    """Copy new behaviour events into ``behaviour_events``; returns the rows added (0 when up to date),
    or None when the store cannot be written (read-only: read :func:`typed_events_sql` instead)."""
    if getattr(store, "read_only", False) or not store.has_table("behaviour_events"):
        return None
    version = store.data_version(["events"]).get("events")
    if _seen.get(store) == version:
        return 0
    with _lock:
        added = 0
        with store.transaction(changes=["behaviour_events"]) as cur:
            last = cur.execute("SELECT max(ts) FROM behaviour_events").fetchone()[0]
            since = "" if last is None else "AND e.ts >= ?"
            params = [] if last is None else [last.replace(hour=0, minute=0, second=0, microsecond=0)]
            before = cur.execute("SELECT count(*) FROM behaviour_events").fetchone()[0]
            cur.execute("INSERT INTO behaviour_events " + _SELECT.format(since=since), params)
            total = cur.execute("SELECT count(*) FROM behaviour_events").fetchone()[0]
            wanted = cur.execute(f"SELECT count(*) FROM events e WHERE {_WHERE}").fetchone()[0]
            if total != wanted:  # older rows arrived, or some were erased: check everything
                cur.execute(
                    "DELETE FROM behaviour_events b WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = b.event_id)"
                )
                cur.execute("INSERT INTO behaviour_events " + _SELECT.format(since=""))
                total = cur.execute("SELECT count(*) FROM behaviour_events").fetchone()[0]
            added = total - before
        _seen[store] = store.data_version(["events"]).get("events")
        return added
