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
from cxlens.schema.pii import MASK, PiiPolicy
from cxlens.schema.tables import JSON, TABLES
from cxlens.store import rollup

__all__ = ["MASK", "TIMELINE_COLUMNS", "customer_profile", "customer_tables", "erase_customer", "export_customer"]

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
    return PiiPolicy(show_pii).value(value)


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
    """Every row about the customer, oldest first; customer text (comments, ticket subjects, reviews)
    redacted and ticket bodies (a PII column) masked unless ``show_pii``."""
    policy = PiiPolicy(show_pii)
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
                    "text": policy.texts(fb["comment"]),
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
                    "title": policy.texts(tk["subject"]),
                    "text": [policy.value(b) for b in tk["body"]],
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
                    "title": policy.texts(rv["title"]),
                    "text": policy.texts(rv["body"]),
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
    X = customer_features(
        ws, as_of, lookback_days=spec.get("lookback_days", 365), behaviour=bool(spec.get("behaviour", False))
    )
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
                    v = PiiPolicy(show_pii).traits(_parse_json(v))  # phone, address… inside the JSON
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
#: the columns that name a person: a table with one of them holds people's rows (any table, also
#: tables added later: recordings, cases, alerts, interviews…)
PERSON_COLUMNS = ("customer_id", "anonymous_id", "person")
#: id column → the table it identifies rows of; a table without a person column but with one of
#: these holds rows that depend on the customer's (order items, per-answer results, session data…)
_PARENTS = {"order_id": "orders", "feedback_id": "feedback", "ticket_id": "tickets", "review_id": "reviews",
            "event_id": "events", "session_id": "events", "turn_id": "interview_turns"}  # fmt: skip
#: ``verbatim_id`` of cxlens.voice (``feedback:<id>``, ``ticket:<id>``, ``review:<id>``) → id column
_VERBATIM = {"feedback": "feedback_id", "ticket": "ticket_id", "review": "review_id", "interview": "turn_id"}
#: tables no person's data lives in (the dashboard's own users and sessions, the schema's bookkeeping)
_NOT_PEOPLE = frozenset({"users", "sessions", "api_keys", "_cxlens_meta", "data_versions", "collect_ids"})
_LIST = "(SELECT unnest(?::VARCHAR[]))"

Pred = tuple[str, list[Any]]


def _or(preds: list[Pred]) -> Pred:
    return " OR ".join(f"({sql})" for sql, _ in preds), [p for _, ps in preds for p in ps]


def _columns(ws: Any) -> dict[str, set[str]]:
    cols = ws.read(
        "SELECT c.table_name, c.column_name FROM duckdb_columns() c JOIN duckdb_tables() t "
        "ON c.database_name = t.database_name AND c.schema_name = t.schema_name AND c.table_name = t.table_name "
        "WHERE c.schema_name = 'main' AND NOT t.temporary AND c.database_name = current_database()"
    )
    return {
        t: c for t, c in cols.groupby("table_name")["column_name"].agg(set).to_dict().items() if t not in _NOT_PEOPLE
    }


def _anonymous_ids(ws: Any, by_table: dict[str, set[str]], customer_id: str) -> list[str]:
    """The anonymous ids stitched to the customer: every ``anonymous_id`` beside their ``customer_id`` in any
    table (events, ``collect_identities``, survey responses, recordings…), and those their survey answers
    carry in ``feedback.properties``."""
    parts = [
        f'SELECT anonymous_id AS a FROM "{t}" WHERE customer_id = ? AND anonymous_id IS NOT NULL'
        for t, c in sorted(by_table.items())
        if {"customer_id", "anonymous_id"} <= c
    ]
    if "feedback" in by_table and "properties" in by_table["feedback"]:
        parts.append(
            "SELECT json_extract_string(properties, '$.anonymous_id') AS a FROM feedback WHERE customer_id = ?"
        )
    if not parts:
        return []
    rows = ws.read(f"SELECT DISTINCT a FROM ({' UNION ALL '.join(parts)}) WHERE a IS NOT NULL ORDER BY a",
                   [customer_id] * len(parts))  # fmt: skip
    return [str(a) for a in rows["a"]]


def _own(cols: set[str], customer_id: str, anon: list[str]) -> Pred | None:
    """The predicate selecting a person's own rows in a table with these columns (None: no person column)."""
    preds: list[Pred] = []
    if "customer_id" in cols:
        preds.append(("customer_id = ?", [customer_id]))
    if anon and "anonymous_id" in cols:
        # rows of the customer's browsers and devices that name no (other) customer
        unnamed = "customer_id IS NULL AND " if "customer_id" in cols else ""
        preds.append((f"{unnamed}anonymous_id IN {_LIST}", [anon]))
    elif anon and "customer_id" in cols and "properties" in cols:
        # survey answers given under an anonymous id keep it in properties
        preds.append((f"customer_id IS NULL AND json_extract_string(properties, '$.anonymous_id') IN {_LIST}", [anon]))
    if "person" in cols:  # surveys key exposures and responses by person: the id, or anon:<anonymous id>
        preds.append((f"person IN {_LIST}", [[customer_id, *anon, *(f"anon:{a}" for a in anon)]]))
    return _or(preds) if preds else None


def _scope(ws: Any, customer_id: str, anon: list[str] | None = None) -> dict[str, Pred]:
    """Table → (SQL predicate, parameters) selecting the customer's rows.

    Tables with a person column (:data:`PERSON_COLUMNS`) come first (in :data:`_ORDER`, then by name):
    rows naming the customer id, rows naming one of their stitched anonymous ids and no other customer,
    survey exposures and responses keyed by either. Then the dependent tables: tables without a person
    column whose ``order_id``, ``feedback_id``, ``ticket_id``, ``review_id``, ``event_id``, ``session_id``
    or ``verbatim_id`` points at the customer's rows.
    """
    by_table = _columns(ws)
    anon = _anonymous_ids(ws, by_table, customer_id) if anon is None else anon
    owners = {t: p for t, c in by_table.items() if (p := _own(c, customer_id, anon)) is not None}
    out = {t: owners[t] for t in [*(t for t in _ORDER if t in owners), *sorted(set(owners) - set(_ORDER))]}
    for t in sorted(set(by_table) - set(owners)):
        preds: list[Pred] = []
        for col, parent in _PARENTS.items():
            if col in by_table[t] and parent in owners and col in by_table[parent]:
                sql, ps = owners[parent]
                preds.append((f'"{col}" IN (SELECT "{col}" FROM "{parent}" WHERE {sql})', ps))
        if "verbatim_id" in by_table[t]:
            for kind, col in _VERBATIM.items():
                if _PARENTS[col] in owners:
                    sql, ps = owners[_PARENTS[col]]
                    preds.append((f"verbatim_id IN (SELECT '{kind}:' || {col} FROM {_PARENTS[col]} WHERE {sql})", ps))
        if preds:
            out[t] = _or(preds)
    return out


def customer_tables(ws: Any, customer_id: str = "") -> list[str]:
    """Tables of a DuckDB workspace holding rows about customers, in the order reports list them.

    Every base table with a ``customer_id``, ``anonymous_id`` or ``person`` column (canonical tables,
    ``segments``, surveys, the identity graph, stored scores, tables added later), then tables whose
    rows hang off those rows by id (``order_items`` through ``order_id``; ``verbatim_analysis`` and
    ``verbatim_themes`` through ``verbatim_id``; any table with ``feedback_id``, ``ticket_id``,
    ``review_id``, ``event_id`` or ``session_id`` and no person column).
    """
    return list(_scope(ws, customer_id))


def _select(ws: Any, table: str, pred: Pred) -> pd.DataFrame:
    return ws.read(f'SELECT * FROM "{table}" WHERE {pred[0]}', pred[1])


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
    for name, pred in _scope(ws, customer_id).items():
        df = _select(ws, name, pred)
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


def _delete(cur: Any, table: str, pred: Pred) -> int:
    return int(cur.execute(f'DELETE FROM "{table}" WHERE {pred[0]}', pred[1]).fetchone()[0])


def _unroll(cur: Any, pred: Pred) -> None:
    """Take the customer's feedback rows out of the rollup cube (inside the caller's transaction)."""
    cur.execute(f"CREATE OR REPLACE TEMP TABLE _cxlens_erase_fb AS SELECT * FROM feedback WHERE {pred[0]}", pred[1])
    rollup.subtract(cur, "_cxlens_erase_fb")
    cur.execute("DROP TABLE _cxlens_erase_fb")


def _identifiers(ws: Any, customer_id: str, anon: list[str]) -> list[bytes]:
    """What identifies the customer in stored bytes: the id, their anonymous ids and e-mail address."""
    found = {customer_id, *anon}
    if "customers" in ws.tables():
        emails = ws.read("SELECT email FROM customers WHERE customer_id = ?", [customer_id])
        found |= {str(e) for e in emails["email"] if isinstance(e, str) and e}
    return [f.encode("utf-8") for f in found if f]


def _stored_results(cur: Any, identifiers: list[bytes]) -> int:
    """Drop stored job results (model fits, rankings, theme quotes) whose bytes name the customer; the job
    runner computes them again from the remaining rows. Returns how many were dropped."""
    if not cur.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = 'results' AND schema_name = 'main' "
                       "AND database_name = current_database()").fetchone():  # fmt: skip
        return 0
    drop = [name for name, payload, meta in cur.execute("SELECT name, payload, meta FROM results").fetchall()
            if any(i in bytes(payload or b"") or i in (meta or "").encode() for i in identifiers)]  # fmt: skip
    for name in drop:
        cur.execute("DELETE FROM results WHERE name = ?", [name])
    return len(drop)


def erase_customer(ws: Any, customer_id: str, *, missing_ok: bool = False) -> dict[str, int]:
    """Delete every row about a customer in ONE transaction (GDPR erasure); returns rows deleted per table.

    Covers the rows of :func:`export_customer`: every table of :func:`customer_tables` — rows naming the
    customer id, rows of their stitched anonymous ids (events, survey answers and exposures given before
    or without signing in, the identity graph), rows keyed by either as ``person``, and the rows hanging
    off those (dependent tables before the rows they hang off). Stored job results whose bytes name the
    customer (id, anonymous ids, e-mail) are dropped too (``results`` in the counts) and computed again by
    the job runner. In the same transaction the customer's answers are subtracted from the
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
    by_table = _columns(ws)
    anon = _anonymous_ids(ws, by_table, customer_id)
    scope = _scope(ws, customer_id, anon)
    names = list(scope)
    if not _exists(ws, customer_id):
        if missing_ok:
            return dict.fromkeys([*names, "results"], 0)
        raise _not_found(customer_id)
    identifiers = _identifiers(ws, customer_id, anon)
    owners = {n for n in names if by_table[n] & set(PERSON_COLUMNS)}
    deleted: dict[str, int] = {}
    with ws.transaction(changes=[*names, "results"]) as cur:
        if "feedback" in names:
            _unroll(cur, scope["feedback"])
        # dependent tables first: their predicates read the customer's orders, answers, tickets…
        for name in sorted(names, key=lambda n: n in owners):
            deleted[name] = _delete(cur, name, scope[name])
        deleted["results"] = _stored_results(cur, identifiers)
    return {n: deleted[n] for n in [*names, "results"]}
