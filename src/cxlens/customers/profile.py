"""Customer 360 and the data subject's rights: one customer's profile, export and erasure.

:func:`customer_profile` gathers what the workspace knows about one customer: traits (PII masked
unless asked for), a timeline of every event, survey answer, ticket, order and review, summary
counts, historic value, stored segment memberships and — when given — predicted CLV and churn risk
with reasons. It reads through Ibis, so it runs on any backend.

:func:`export_customer` and :func:`erase_customer` answer GDPR access (Art. 15/20) and erasure
(Art. 17) requests on a DuckDB workspace. Both cover the same rows: every row of every table with a
``customer_id`` column that names the customer (the canonical tables, ``segments`` and any table
added later), anonymous events (``customer_id`` null) whose ``anonymous_id`` the customer was
identified with, and rows that hang off the customer's rows by id in tables without a
``customer_id`` (``order_items`` by ``order_id``; ``verbatim_analysis`` by ``verbatim_id``; any
table keyed by ``feedback_id``, ``ticket_id``, ``review_id`` or ``event_id``). Erasure deletes
them all in ONE transaction and, in the same transaction, takes the customer's answers out of the
``feedback_rollup`` cube, so survey metrics stay exactly those of the remaining rows; any failure
rolls everything back.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import ibis
import numpy as np
import pandas as pd

from cxlens.errors import NotFoundError
from cxlens.metrics.value import EXCLUDED_STATUSES, valid_orders
from cxlens.schema.tables import JSON, TABLES
from cxlens.store import rollup

__all__ = ["MASK", "TIMELINE_COLUMNS", "customer_profile", "customer_tables", "erase_customer", "export_customer"]

#: what a PII value is replaced by when ``show_pii`` is false (missing values stay missing)
MASK = "***"
#: the columns of a profile's ``timeline``
TIMELINE_COLUMNS = [
    "kind", "ts", "id", "title", "text", "score", "metric", "amount", "status", "touchpoint", "channel",
    "session_id",
]  # fmt: skip
#: the order tables are reported in; other tables with a customer_id column follow, by name
_ORDER = ("customers", "events", "feedback", "orders", "order_items", "tickets", "reviews", "segments")


def _opt(ws: Any, name: str) -> ibis.Table | None:
    try:
        return ws.table(name)
    except NotFoundError:
        return None


def _mask(value: Any, show_pii: bool) -> Any:
    if show_pii or value is None or (isinstance(value, float) and math.isnan(value)):
        return value
    return MASK


def _plain(v: Any) -> Any:
    """A pandas/numpy scalar → a JSON-ready Python value (timestamps as ISO text, NaN/NaT as None)."""
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, (pd.Timestamp, dt.datetime, dt.date)):
        return v.isoformat()
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def _parse_json(text: Any) -> Any:
    if not isinstance(text, str) or not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _exists(ws: Any, customer_id: str) -> bool:
    for name in ("customers", "orders", "events", "feedback", "tickets", "reviews"):
        t = _opt(ws, name)
        if t is not None and int(ws.read(t.filter(t.customer_id == customer_id).count())) > 0:
            return True
    return False


def _not_found(customer_id: str) -> NotFoundError:
    return NotFoundError(
        f"no customer {customer_id!r} in this workspace (no customer, order, event, feedback, ticket or review "
        "row names it); check the id or load the customer first"
    )


# -- customer 360 --------------------------------------------------------------------------------
def _timeline(ws: Any, customer_id: str, show_pii: bool) -> pd.DataFrame:
    parts = []

    def rows(name: str) -> pd.DataFrame | None:
        t = _opt(ws, name)
        if t is None:
            return None
        mine = t.customer_id == customer_id
        if name == "events" and "anonymous_id" in t.columns:
            # anonymous events of a browser/device the customer was identified on (as erasure)
            seen = t.filter(mine, t.anonymous_id.notnull()).anonymous_id
            mine = mine | (t.customer_id.isnull() & t.anonymous_id.isin(seen))
        df = ws.read(t.filter(mine))
        return df if len(df) else None

    if (ev := rows("events")) is not None:
        parts.append(
            pd.DataFrame(
                {
                    "kind": "event",
                    "ts": ev["ts"],
                    "id": ev["event_id"],
                    "title": ev["name"],
                    "amount": ev["revenue"],
                    "touchpoint": ev["touchpoint"],
                    "channel": ev["channel"],
                    "session_id": ev["session_id"],
                }
            )
        )
    if (fb := rows("feedback")) is not None:
        parts.append(
            pd.DataFrame(
                {
                    "kind": "feedback",
                    "ts": fb["ts"],
                    "id": fb["feedback_id"],
                    "title": [f"{str(m).upper()} {s:g}" for m, s in zip(fb["metric"], fb["score"], strict=True)],
                    "text": fb["comment"],
                    "score": fb["score"],
                    "metric": fb["metric"],
                    "touchpoint": fb["touchpoint"],
                    "channel": fb["channel"],
                }
            )
        )
    if (tk := rows("tickets")) is not None:
        parts.append(
            pd.DataFrame(
                {
                    "kind": "ticket",
                    "ts": tk["created_at"],
                    "id": tk["ticket_id"],
                    "title": tk["subject"],
                    "text": [_mask(b, show_pii) for b in tk["body"]],
                    "status": tk["status"],
                    "touchpoint": tk["touchpoint"],
                    "channel": tk["channel"],
                }
            )
        )
    if (od := rows("orders")) is not None:
        parts.append(
            pd.DataFrame(
                {
                    "kind": "order",
                    "ts": od["ts"],
                    "id": od["order_id"],
                    "title": [
                        f"Order {i}: {a:,.2f}{' ' + c if isinstance(c, str) else ''}"
                        for i, a, c in zip(od["order_id"], od["amount"], od["currency"], strict=True)
                    ],
                    "amount": od["amount"],
                    "status": od["status"],
                    "channel": od["channel"],
                }
            )
        )
    if (rv := rows("reviews")) is not None:
        parts.append(
            pd.DataFrame(
                {
                    "kind": "review",
                    "ts": rv["ts"],
                    "id": rv["review_id"],
                    "title": rv["title"],
                    "text": rv["body"],
                    "score": rv["rating"],
                    "metric": "rating",
                    "touchpoint": rv["touchpoint"],
                }
            )
        )
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="datetime64[us]" if c == "ts" else object) for c in TIMELINE_COLUMNS})
    df = pd.concat([p for p in parts if len(p)], ignore_index=True).reindex(columns=TIMELINE_COLUMNS)
    for c in ("score", "amount"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    df["ts"] = pd.to_datetime(df["ts"])
    return df.sort_values(["ts", "kind", "id"], kind="mergesort").reset_index(drop=True)


def _value(ws: Any, customer_id: str) -> dict[str, Any]:
    o = _opt(ws, "orders")
    empty = {"orders": 0, "revenue": 0.0, "aov": None, "first_order": None, "last_order": None}
    if o is None:
        return empty
    v = valid_orders(o, EXCLUDED_STATUSES)
    v = v.filter(v.customer_id == customer_id)
    r = ws.read(v.aggregate(n=v.count(), revenue=v.amount.sum(), first=v.ts.min(), last=v.ts.max())).iloc[0]
    n = int(r["n"])
    if n == 0:
        return empty
    revenue = float(r["revenue"])
    return {
        "orders": n,
        "revenue": revenue,
        "aov": revenue / n,
        "first_order": pd.Timestamp(r["first"]),
        "last_order": pd.Timestamp(r["last"]),
    }


def _segments(ws: Any, customer_id: str) -> list[dict[str, Any]]:
    s = _opt(ws, "segments")
    if s is None:
        return []
    df = ws.read(s.filter(s.customer_id == customer_id).select("segment", "kind").order_by("segment"))
    return [{"segment": a, "kind": b} for a, b in zip(df["segment"], df["kind"], strict=True)]


def _row_for(frame: pd.DataFrame | None, customer_id: str, what: str) -> dict[str, Any] | None:
    if frame is None:
        return None
    if "customer_id" not in frame.columns:
        raise NotFoundError(f"the {what} frame has no column 'customer_id'; pass the frame of predict_clv/score_churn")
    hit = frame[frame["customer_id"].astype(str) == customer_id]
    if hit.empty:
        return None
    return {k: _plain(v) for k, v in hit.iloc[0].items() if k != "customer_id"}


def _churn(ws: Any, customer_id: str, churn: Any, as_of: Any, top: int) -> dict[str, Any] | None:
    if churn is None or isinstance(churn, pd.DataFrame):
        return _row_for(churn, customer_id, "churn")
    from cxlens.customers.churn_model import format_reason_value
    from cxlens.customers.features import customer_features, data_range

    if as_of is None:
        _, last = data_range(ws)
        as_of = last.normalize() + pd.Timedelta(days=1)
    spec = getattr(churn, "feature_spec_", {})
    X = customer_features(ws, as_of, lookback_days=spec.get("lookback_days", 365))
    if customer_id not in X.index:
        return None  # not a customer at as_of (created later or already lost)
    X = X.loc[[customer_id]]
    risk = float(churn.predict_proba(X)[:, 1][0])
    ex = churn.explain(X, top=top)
    reasons = [
        {"feature": f, "value": _plain(v), "typical": _plain(t), "contribution": float(c)}
        for f, v, t, c in zip(ex["feature"], ex["value"], ex["typical"], ex["contribution"], strict=True)
    ]
    text = "; ".join(
        f"{r['feature']} {format_reason_value(v)} (typical {format_reason_value(t)}) {r['contribution']:+.2f}"
        for r, v, t in zip(reasons, ex["value"], ex["typical"], strict=True)
    )
    return {"churn_risk": risk, "reasons": text, "reason_list": reasons, "as_of": pd.Timestamp(as_of)}


def customer_profile(
    ws: Any,
    customer_id: str,
    *,
    show_pii: bool = False,
    clv: pd.DataFrame | None = None,
    churn: Any = None,
    as_of: Any = None,
    top_reasons: int = 3,
) -> dict[str, Any]:
    """Everything the workspace knows about one customer (the customer 360).

    Parameters
    ----------
    ws
        A workspace (any backend).
    customer_id
        The customer's id.
    show_pii
        Show PII columns (``customers.email``, ``customers.name``, ``tickets.body``: the columns
        marked ``pii`` in :mod:`cxlens.schema.tables`). Otherwise a present value reads
        :data:`MASK` and a missing one stays ``None``. Only roles allowed to see PII should pass
        ``True``.
    clv
        Optional predictions frame of :func:`cxlens.customers.predict_clv`; the customer's row
        becomes ``profile["clv"]``.
    churn
        Optional fitted :class:`cxlens.customers.churn_model.ChurnModel` (scored at ``as_of``,
        default the end of the data, with ``top_reasons`` reasons) or the frame of
        :func:`~cxlens.customers.churn_model.score_churn`; becomes ``profile["churn"]``.

    Returns
    -------
    dict
        ``customer_id``; ``known`` (whether a ``customers`` row exists); ``traits`` (the customers
        row, ``traits`` JSON parsed; PII masked); ``timeline`` (DataFrame, :data:`TIMELINE_COLUMNS`,
        one row per event — including anonymous events on a device the customer was identified on —
        feedback answer, ticket, order and review, oldest first); ``summary``
        (row counts per kind, open tickets, first/last seen, last NPS); ``value`` (counted orders,
        revenue, AOV, first/last order; cancelled and returned orders excluded as in the
        metrics); ``segments`` (stored memberships); ``clv`` and ``churn`` (``None`` unless given).

    Raises
    ------
    NotFoundError
        When no table names ``customer_id``.

    Examples
    --------
    >>> import cxlens
    >>> from cxlens.ingest.simulate import write_demo
    >>> ws = cxlens.open(":memory:"); _ = write_demo(ws, 100, seed=3)
    >>> p = customer_profile(ws, "C0000001")
    >>> p["traits"]["email"], p["summary"]["orders"] == len(p["timeline"].query("kind == 'order'"))
    ('***', True)
    """
    customer_id = str(customer_id)
    if not _exists(ws, customer_id):
        raise _not_found(customer_id)
    traits: dict[str, Any] = {"customer_id": customer_id}
    cu = _opt(ws, "customers")
    known = False
    if cu is not None:
        row = ws.read(cu.filter(cu.customer_id == customer_id).limit(1))
        if len(row):
            known = True
            pii = set(TABLES["customers"].pii_columns)
            for k, v in row.iloc[0].items():
                v = _plain(v)
                if k == "traits":
                    v = _parse_json(v)
                traits[k] = _mask(v, show_pii) if k in pii else v
    timeline = _timeline(ws, customer_id, show_pii)
    counts = timeline["kind"].value_counts()
    nps = timeline[timeline["metric"] == "nps"]
    tk = _opt(ws, "tickets")
    open_tickets = 0
    if tk is not None:
        mine = tk.filter(tk.customer_id == customer_id, tk.resolved_at.isnull())
        open_tickets = int(ws.read(mine.count()))
    summary = {
        "events": int(counts.get("event", 0)),
        "feedback": int(counts.get("feedback", 0)),
        "tickets": int(counts.get("ticket", 0)),
        "open_tickets": open_tickets,
        "orders": int(counts.get("order", 0)),
        "reviews": int(counts.get("review", 0)),
        "first_seen": timeline["ts"].min() if len(timeline) else None,
        "last_seen": timeline["ts"].max() if len(timeline) else None,
        "last_nps": float(nps["score"].iloc[-1]) if len(nps) else None,
    }
    return {
        "customer_id": customer_id,
        "known": known,
        "traits": traits,
        "timeline": timeline,
        "summary": summary,
        "value": _value(ws, customer_id),
        "segments": _segments(ws, customer_id),
        "clv": _row_for(clv, customer_id, "clv"),
        "churn": _churn(ws, customer_id, churn, as_of, top_reasons),
    }


# -- GDPR: export and erase -----------------------------------------------------------------------
#: id column → the table it identifies rows of; a table without ``customer_id`` but with one of
#: these columns holds rows that depend on the customer's (order items, per-answer results…)
_PARENTS = {"order_id": "orders", "feedback_id": "feedback", "ticket_id": "tickets", "review_id": "reviews",
            "event_id": "events"}  # fmt: skip
#: ``verbatim_id`` of cxlens.voice (``feedback:<id>``, ``ticket:<id>``, ``review:<id>``) → id column
_VERBATIM = {"feedback": "feedback_id", "ticket": "ticket_id", "review": "review_id"}
_EVENTS = (
    # anonymous events of a browser/device the customer was identified on are theirs too
    "customer_id = ? OR (customer_id IS NULL AND anonymous_id IN "
    "(SELECT anonymous_id FROM events WHERE customer_id = ? AND anonymous_id IS NOT NULL))"
)


def _own(table: str) -> str:
    return _EVENTS if table == "events" else "customer_id = ?"


def _scope(ws: Any) -> dict[str, str]:
    """Table → SQL predicate selecting the customer's rows (every ``?`` is the customer id).

    Tables with a ``customer_id`` column come first (in :data:`_ORDER`, then by name), then the
    dependent tables: base tables without one whose ``order_id``, ``feedback_id``, ``ticket_id``,
    ``review_id``, ``event_id`` or ``verbatim_id`` points at the customer's rows.
    """
    cols = ws.read(
        "SELECT c.table_name, c.column_name FROM duckdb_columns() c JOIN duckdb_tables() t "
        "ON c.database_name = t.database_name AND c.schema_name = t.schema_name AND c.table_name = t.table_name "
        "WHERE c.schema_name = 'main' AND NOT t.temporary AND c.database_name = current_database()"
    )
    by_table = cols.groupby("table_name")["column_name"].agg(set).to_dict()
    owners = {t for t, c in by_table.items() if "customer_id" in c}
    out = {t: _own(t) for t in [*(t for t in _ORDER if t in owners), *sorted(owners - set(_ORDER))]}
    for t in sorted(set(by_table) - owners):
        preds = [
            f'"{col}" IN (SELECT {col} FROM {parent} WHERE {_own(parent)})'
            for col, parent in _PARENTS.items()
            if col in by_table[t] and parent in owners and col in by_table[parent]
        ]
        if "verbatim_id" in by_table[t]:
            preds += [
                f"verbatim_id IN (SELECT '{kind}:' || {col} FROM {_PARENTS[col]} WHERE customer_id = ?)"
                for kind, col in _VERBATIM.items()
                if _PARENTS[col] in owners
            ]
        if preds:
            out[t] = " OR ".join(f"({p})" for p in preds)
    return out


def customer_tables(ws: Any) -> list[str]:
    """Tables of a DuckDB workspace holding rows about customers, in the order reports list them.

    Every base table with a ``customer_id`` column (canonical tables, ``segments``, tables added
    later), then tables whose rows hang off those rows by id (``order_items`` through ``order_id``;
    ``verbatim_analysis`` through ``verbatim_id``; any table with ``feedback_id``, ``ticket_id``,
    ``review_id`` or ``event_id`` and no ``customer_id``).
    """
    return list(_scope(ws))


def _select(ws: Any, table: str, where: str, customer_id: str) -> pd.DataFrame:
    return ws.read(f'SELECT * FROM "{table}" WHERE {where}', [customer_id] * where.count("?"))


def export_customer(ws: Any, customer_id: str) -> dict[str, Any]:
    """Every row the workspace holds about a customer, JSON-serialisable (GDPR access/portability).

    The export is the data subject's own copy, so it includes PII. JSON columns (``traits``,
    ``properties``) are parsed; timestamps are ISO 8601 text (UTC); missing values are ``None``.

    Returns
    -------
    dict
        ``{"customer_id", "exported_at", "tables": {table: [row, ...]}}`` for every table of
        :func:`customer_tables` (a table with no rows for the customer has an empty list).

    Raises
    ------
    NotFoundError
        When no table names ``customer_id``.

    Examples
    --------
    >>> import cxlens, json
    >>> from cxlens.ingest.simulate import write_demo
    >>> ws = cxlens.open(":memory:"); _ = write_demo(ws, 100, seed=3)
    >>> out = export_customer(ws, "C0000001")
    >>> out["tables"]["customers"][0]["email"] != "***", len(json.dumps(out)) > 0
    (True, True)
    """
    customer_id = str(customer_id)
    if not _exists(ws, customer_id):
        raise _not_found(customer_id)
    tables: dict[str, list[dict[str, Any]]] = {}
    for name, where in _scope(ws).items():
        df = _select(ws, name, where, customer_id)
        json_cols = {c.name for c in TABLES[name].columns if c.type == JSON} if name in TABLES else set()
        tables[name] = [
            {k: (_parse_json(v) if k in json_cols else _plain(v)) for k, v in rec.items()}
            for rec in df.to_dict("records")
        ]
    return {
        "customer_id": customer_id,
        "exported_at": dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(),
        "tables": tables,
    }


def _delete(cur: Any, table: str, where: str, customer_id: str) -> int:
    return int(cur.execute(f'DELETE FROM "{table}" WHERE {where}', [customer_id] * where.count("?")).fetchone()[0])


def _unroll(cur: Any, customer_id: str) -> None:
    """Take the customer's feedback out of the rollup cube (inside the caller's transaction)."""
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE _cxlens_erase_fb AS SELECT * FROM feedback WHERE customer_id = ?", [customer_id]
    )
    rollup.subtract(cur, "_cxlens_erase_fb")
    cur.execute("DROP TABLE _cxlens_erase_fb")


def erase_customer(ws: Any, customer_id: str, *, missing_ok: bool = False) -> dict[str, int]:
    """Delete every row about a customer in ONE transaction (GDPR erasure); returns rows deleted per table.

    Covers the rows of :func:`export_customer`: every table of :func:`customer_tables` (dependent
    tables such as ``order_items`` before the rows they hang off). In the same transaction the customer's answers are subtracted from the
    ``feedback_rollup`` cube (groups reaching zero are dropped), so survey metrics afterwards are
    exactly those of the remaining answers — the same cube :meth:`Workspace.rebuild_rollups`
    would compute, at the cost of the customer's rows instead of a rescan of ``feedback``. Any
    error rolls everything back: the workspace is left as it was.

    Parameters
    ----------
    missing_ok
        When no row names the customer (unknown id, or already erased): ``False`` raises
        :class:`NotFoundError`; ``True`` returns zero counts, so a retried erasure is harmless.

    Examples
    --------
    >>> import cxlens
    >>> from cxlens.ingest.simulate import write_demo
    >>> ws = cxlens.open(":memory:"); _ = write_demo(ws, 100, seed=3)
    >>> erase_customer(ws, "C0000001")["customers"]
    1
    >>> erase_customer(ws, "C0000001", missing_ok=True)["customers"]
    0
    """
    customer_id = str(customer_id)
    scope = _scope(ws)
    names = list(scope)
    if not _exists(ws, customer_id):
        if missing_ok:
            return dict.fromkeys(names, 0)
        raise _not_found(customer_id)
    deleted: dict[str, int] = {}
    with ws.transaction(changes=names) as cur:
        if "feedback" in names:
            _unroll(cur, customer_id)
        # dependent tables first: their predicates read the customer's orders, answers, tickets…
        for name in sorted(names, key=lambda n: scope[n] == _own(n)):
            deleted[name] = _delete(cur, name, scope[name], customer_id)
    return {n: deleted[n] for n in names}
