"""Help desks: Zendesk, Freshdesk and Intercom exports → ``tickets`` (and CSAT ``feedback``).

Durations exported in minutes or hours (Zendesk's "First reply time in minutes", Freshdesk's
"First response time (in hrs)") become the canonical timestamps ``first_response_at`` /
``resolved_at`` = ``created_at`` + the duration. A satisfaction rating on a ticket becomes a CSAT
answer (good = 5, bad = 1 for Zendesk's two-level rating; Intercom's 1–5 as given).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cxlens.errors import ImportFileError
from cxlens.ingest.files import detect_format
from cxlens.ingest.load import ImportReport
from cxlens.ingest.presets.base import (
    excluded_rows,
    load_tables,
    preset,
    properties,
    read_export,
    require_columns,
    text,
)
from cxlens.ingest.spec import ImportSpec
from cxlens.schema.dates import infer_format, parse_dates

__all__: list[str] = []


def _times(s: pd.Series, column: str, name: str, spec: ImportSpec) -> pd.Series:
    """A date column read the importer's way (one format per column), for arithmetic with durations."""
    opts = spec.date_options()
    fmt = infer_format(s, column, name, opts)
    return parse_dates(s, fmt, column=column, source=name, opts=opts)


def _after(start: pd.Series, amount: pd.Series, unit: str) -> pd.Series:
    num = pd.to_numeric(amount, errors="coerce")
    return start + pd.to_timedelta(num * (60 if unit == "min" else 3600), unit="s")


def _iso(ts: pd.Series) -> pd.Series:
    """Naive UTC timestamps as ISO text with a Z (so that validation reads them back unchanged)."""
    return ts.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").astype(object).where(ts.notna(), None)


# -- Zendesk --------------------------------------------------------------------------------------------------
@preset("zendesk", ("tickets", "feedback"), "Zendesk tickets (CSV export or incremental-export JSON)")
def zendesk(store: Any, path: Path, spec: ImportSpec, name: str) -> dict[str, ImportReport]:
    """Zendesk's CSV ticket export or the incremental ticket export API (``{"tickets": [...]}``)."""
    src, raw = read_export(path, spec, name)
    if src.kind in ("json", "jsonl"):
        require_columns(raw, ("id", "created_at"), name, "Zendesk API")
        raw, left = _latest_versions(raw)
        tickets = pd.DataFrame({
            "ticket_id": raw["id"], "customer_id": raw.get("requester_id"), "created_at": raw["created_at"],
            "channel": raw["via"].map(lambda v: v.get("channel") if isinstance(v, dict) else None) if "via" in raw else None,
            "subject": raw.get("subject"), "body": raw.get("description"), "status": raw.get("status"),
            "agent": raw.get("assignee_id"), "team": raw.get("group_id"),
        })  # fmt: skip
        keep = [
            c for c in ("priority", "type", "tags", "updated_at", "organization_id", "brand_id") if c in raw.columns
        ]
        tickets["properties"] = properties(raw, keep)
        rating = (
            raw["satisfaction_rating"] if "satisfaction_rating" in raw.columns else pd.Series(None, index=raw.index)
        )
        score = rating.map(lambda r: {"good": 5, "bad": 1}.get(r.get("score")) if isinstance(r, dict) else None)
        fb = pd.DataFrame({
            "feedback_id": "zendesk-csat:" + raw["id"].astype(str), "customer_id": raw.get("requester_id"),
            "ts": rating.map(lambda r: r.get("updated_at") or r.get("created_at") if isinstance(r, dict) else None)
                  .where(lambda s: s.notna(), raw["updated_at"] if "updated_at" in raw else raw["created_at"]),
            "metric": "csat", "score": score, "comment": rating.map(lambda r: r.get("comment") if isinstance(r, dict) else None),
            "touchpoint": "support", "survey_id": "zendesk_csat",
        })[score.notna()]  # fmt: skip
        parts = {"tickets": tickets}
        if len(fb):
            parts["feedback"] = fb
        return load_tables(store, parts, spec, name, excluded=left)
    require_columns(raw, ("Id", "Created at"), name, "Zendesk CSV")
    created = _times(raw["Created at"], "Created at", name, spec)
    first = _after(created, raw["First reply time in minutes"], "min") if "First reply time in minutes" in raw else None
    if "Full resolution time in minutes" in raw:
        resolved = _after(created, raw["Full resolution time in minutes"], "min")
    elif "Solved at" in raw:
        resolved = _times(raw["Solved at"], "Solved at", name, spec)
    else:
        resolved = None
    used = {"Id", "Requester", "Requester id", "Requester email", "Created at", "Subject", "Status", "Via", "Assignee",
            "Group", "First reply time in minutes", "Full resolution time in minutes", "Replies", "Satisfaction Score",
            "Solved at", "Requester external id", "Requester domain", "Submitter"}  # fmt: skip
    tickets = pd.DataFrame({
        "ticket_id": raw["Id"], "customer_id": text(raw["Requester id"]) if "Requester id" in raw else None,
        "created_at": _iso(created), "first_response_at": _iso(first) if first is not None else None,
        "resolved_at": _iso(resolved) if resolved is not None else None,
        "channel": text(raw["Via"]).str.lower() if "Via" in raw else None, "subject": raw.get("Subject"),
        "status": raw.get("Status"), "agent": raw.get("Assignee"), "team": raw.get("Group"),
    })  # fmt: skip
    if "Replies" in raw:
        tickets["contacts"] = pd.to_numeric(raw["Replies"], errors="coerce").add(1).astype("Int64")
    rest = [c for c in raw.columns if c not in used]
    tickets["properties"] = properties(raw, rest)
    parts = {"tickets": tickets}
    if "Satisfaction Score" in raw:
        sat = raw["Satisfaction Score"].astype("str").str.strip().str.lower()
        score = sat.map(lambda v: 5 if v.startswith("good") else 1 if v.startswith("bad") else np.nan)
        fb = pd.DataFrame({"feedback_id": "zendesk-csat:" + raw["Id"].astype(str), "customer_id": tickets["customer_id"],
                           "ts": _iso(resolved if resolved is not None else created), "metric": "csat", "score": score,
                           "touchpoint": "support", "survey_id": "zendesk_csat"})[score.notna()]  # fmt: skip
        if len(fb):
            parts["feedback"] = fb
    return load_tables(store, parts, spec, name)


def _latest_versions(raw: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, list[Any]]]:
    """The incremental export's tickets, each once, as last updated, without the deleted ones.

    Time-based incremental exports repeat a ticket updated while the export ran (Zendesk, "Using the
    Incremental Export API → Excluding duplicate items": de-duplicate by ``id``, keeping the latest
    ``updated_at``), and list deleted tickets with ``status`` ``deleted``. Both are left out and counted.
    """
    when = raw["generated_timestamp"] if "generated_timestamp" in raw else None
    if when is None or when.isna().any():
        when = pd.to_datetime(raw["updated_at"], utc=True, errors="coerce") if "updated_at" in raw else None
    order = pd.DataFrame({"id": raw["id"].astype(str), "pos": np.arange(len(raw))})
    if when is not None:
        order["when"] = when.to_numpy()
        order = order.sort_values(["when", "pos"], kind="stable", na_position="first")
    latest = ~order["id"].duplicated(keep="last")
    old = np.zeros(len(raw), dtype=bool)
    old[order["pos"].to_numpy()[~latest.to_numpy()]] = True
    deleted = (raw["status"].astype("str").str.lower().eq("deleted").to_numpy() & ~old) if "status" in raw else None
    left = excluded_rows(old, "an earlier version of a ticket the export lists again (kept: its latest)")
    if deleted is not None:
        left |= excluded_rows(deleted, "deleted in Zendesk (status deleted)")
    keep = ~old & (~deleted if deleted is not None else True)
    return raw[keep], left


# -- Freshdesk ------------------------------------------------------------------------------------------------
#: Freshdesk API codes (API v2 reference, "Tickets": source, status and priority properties)
_FD_SOURCE = {1: "email", 2: "portal", 3: "phone", 7: "chat", 9: "feedback_widget", 10: "outbound_email"}
_FD_STATUS = {2: "Open", 3: "Pending", 4: "Resolved", 5: "Closed"}
_FD_PRIORITY = {1: "Low", 2: "Medium", 3: "High", 4: "Urgent"}


@preset("freshdesk", ("tickets",), "Freshdesk tickets (CSV export or API JSON)")
def freshdesk(store: Any, path: Path, spec: ImportSpec, name: str) -> dict[str, ImportReport]:
    """Freshdesk 'Tickets → Export → CSV' (``Created time``, ``Initial response time``, ``Resolved
    time``) or the API's tickets (``GET /api/v2/tickets`` — a list — or one ticket, with
    ``include=stats`` for the response and resolution times).

    The export's ``First response time (in hrs)`` and ``Resolution time (in hrs)`` are durations in
    BUSINESS hours (Freshdesk's ``first_res_time_bhrs``/``resolution_time_bhrs``): they are kept in
    ``properties`` as exported and never added to ``Created time`` (that gave wrong timestamps).
    """
    if detect_format(path, spec.format) in ("json", "jsonl"):
        return _freshdesk_api(store, path, spec, name)
    src, raw = read_export(path, spec, name)
    require_columns(raw, ("Ticket ID", "Created time"), name, "Freshdesk")
    created = _times(raw["Created time"], "Created time", name, spec)

    def stamp(*cols: str) -> pd.Series | None:
        for c in cols:
            if c in raw and raw[c].notna().any():
                return _times(raw[c], c, name, spec)
        return None

    first = stamp("Initial response time")
    resolved = stamp("Resolved time")
    closed = stamp("Closed time")
    if closed is not None:
        resolved = closed if resolved is None else resolved.where(resolved.notna(), closed)
    used = {"Ticket ID", "Subject", "Status", "Source", "Agent", "Group", "Created time", "Initial response time",
            "Resolved time", "Customer interactions", "Contact ID", "Full name", "Email", "Work phone",
            "Mobile phone", "Facebook ID", "Twitter ID"}  # fmt: skip
    tickets = pd.DataFrame({
        "ticket_id": raw["Ticket ID"], "customer_id": raw.get("Contact ID"), "created_at": _iso(created),
        "first_response_at": _iso(first) if first is not None else None,
        "resolved_at": _iso(resolved) if resolved is not None else None,
        "channel": text(raw["Source"]).str.lower() if "Source" in raw else None, "subject": raw.get("Subject"),
        "status": raw.get("Status"), "agent": raw.get("Agent"), "team": raw.get("Group"),
        "contacts": raw.get("Customer interactions"),
    })  # fmt: skip
    rest = [c for c in raw.columns if c not in used]
    tickets["properties"] = properties(raw, rest)
    return load_tables(store, {"tickets": tickets}, spec, name)


def _freshdesk_api(store: Any, path: Path, spec: ImportSpec, name: str) -> dict[str, ImportReport]:
    if path.suffix.lower() != ".json":  # JSON Lines, or compressed: the reader's records
        raw = read_export(path, spec, name)[1]
    else:  # one ticket (GET /api/v2/tickets/<id>) is an object whose lists are not records
        try:
            doc = json.loads(path.read_bytes().decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError) as e:
            raise ImportFileError(f"{name} is not valid UTF-8 JSON: {e}") from None
        rows = [doc] if isinstance(doc, dict) and "id" in doc else doc
        if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
            raise ImportFileError(
                f"{name} is not a Freshdesk API answer: expected the list of GET /api/v2/tickets or one ticket object"
            )
        raw = pd.DataFrame(rows)
    require_columns(raw, ("id", "created_at"), name, "Freshdesk API")
    gone = np.zeros(len(raw), dtype=bool)
    for flag in ("spam", "deleted"):
        if flag in raw:
            gone |= raw[flag].map(lambda v: v is True).to_numpy()
    left = excluded_rows(gone, "spam or deleted in Freshdesk")
    raw = raw[~gone]
    stats = raw["stats"] if "stats" in raw else pd.Series(None, index=raw.index, dtype=object)

    def stat(key: str) -> pd.Series:
        return stats.map(lambda s: s.get(key) if isinstance(s, dict) else None)

    def named(col: str, codes: dict[int, str]) -> pd.Series | None:
        if f"{col}_name" in raw:
            return text(raw[f"{col}_name"])
        return raw[col].map(lambda v: codes.get(v, v) if v is not None and v == v else None) if col in raw else None

    resolved = stat("resolved_at")
    channel = named("source", _FD_SOURCE)
    tickets = pd.DataFrame({
        "ticket_id": raw["id"], "customer_id": raw.get("requester_id"), "created_at": raw["created_at"],
        "first_response_at": stat("first_responded_at"),
        "resolved_at": resolved.where(resolved.notna(), stat("closed_at")),
        "channel": channel.str.lower().str.replace(" ", "_") if channel is not None else None,
        "subject": raw.get("subject"),
        "body": text(raw["description_text"]) if "description_text" in raw else (
            text(raw["description"].astype("str").str.replace(_TAGS, "", regex=True)) if "description" in raw else None
        ),
        "status": named("status", _FD_STATUS),
        "agent": raw["responder_name"] if "responder_name" in raw else raw.get("responder_id"),
        "team": raw.get("group_id"),
    })  # fmt: skip
    tickets["properties"] = [
        {k: v for k, v in d.items() if not _blank(v)} or None
        for d in pd.DataFrame({
            "priority": named("priority", _FD_PRIORITY) if "priority" in raw or "priority_name" in raw else None,
            "type": raw["type"] if "type" in raw else raw.get("ticket_type"),
            "tags": raw.get("tags"), "updated_at": raw.get("updated_at"), "due_by": raw.get("due_by"),
            "company_id": raw.get("company_id"),
        }, index=raw.index).astype(object).to_dict("records")
    ]  # fmt: skip
    return load_tables(store, {"tickets": tickets}, spec, name, excluded=left)


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v) or (isinstance(v, str | list | dict) and not v)


# -- Intercom -------------------------------------------------------------------------------------------------
_TAGS = re.compile(r"<[^>]+>")


@preset("intercom", ("tickets", "feedback"), "Intercom conversations (API JSON)")
def intercom(store: Any, path: Path, spec: ImportSpec, name: str) -> dict[str, ImportReport]:
    """Intercom conversations (``GET /conversations``: ``{"type": "conversation.list", "conversations": [...]}``).
    Times are Unix seconds; ``statistics.first_admin_reply_at`` and ``last_close_at`` give the first
    response and the resolution; ``conversation_rating`` (1–5) becomes a CSAT answer."""
    single = path.suffix.lower() == ".json" and _one_conversation(path)
    src, raw = read_export(path, spec, name, records=None if single or path.suffix != ".json" else "conversations")
    if single:  # GET /conversations/<id>: the object itself (its conversation_parts are not records)
        raw = pd.DataFrame([json.loads(path.read_bytes().decode("utf-8-sig"))])
    require_columns(raw, ("id", "created_at"), name, "Intercom")

    def get(col: str, *keys: str) -> pd.Series:
        if col not in raw:
            return pd.Series(None, index=raw.index, dtype=object)

        def dig(v: Any) -> Any:
            for k in keys:
                v = v.get(k) if isinstance(v, dict) else None
            return v

        return raw[col].map(dig).astype(object)

    contacts = get("contacts", "contacts").map(lambda c: c[0].get("id") if isinstance(c, list) and c else None)
    author = get("source", "author", "id")
    body = get("source", "body").map(lambda b: _TAGS.sub(" ", b).strip() if isinstance(b, str) else b)
    if spec.epoch is None:
        spec = ImportSpec(**{**vars(spec), "epoch": "s"})
    tickets = pd.DataFrame({
        "ticket_id": raw["id"], "customer_id": contacts.where(contacts.notna(), author), "created_at": raw["created_at"],
        "first_response_at": get("statistics", "first_admin_reply_at"),
        # a conversation reopened after a close keeps its last_close_at: resolved only while closed
        "resolved_at": get("statistics", "last_close_at").where(
            raw["state"].eq("closed") if "state" in raw else pd.Series(True, index=raw.index), None
        ),
        # source.type is the channel (conversation, email, phone_call, whatsapp…); delivered_as is who
        # started it (customer_initiated, admin_initiated, automated…), kept in properties
        "channel": get("source", "type"),
        "subject": get("source", "subject").map(lambda s: s or None), "body": body, "status": raw.get("state"),
        "agent": raw.get("admin_assignee_id"), "team": raw.get("team_assignee_id"),
    })  # fmt: skip
    tickets["properties"] = [
        {k: v for k, v in d.items() if not _blank(v)} or None
        for d in pd.DataFrame({"delivered_as": get("source", "delivered_as"), "priority": raw.get("priority"),
                               "last_close_at": get("statistics", "last_close_at")}, index=raw.index)
        .astype(object).to_dict("records")
    ]  # fmt: skip
    reopens = get("statistics", "count_reopens")
    tickets["contacts"] = pd.to_numeric(reopens, errors="coerce").add(1).astype("Int64")
    rating = get("conversation_rating", "rating")
    fb = pd.DataFrame({
        "feedback_id": "intercom-rating:" + raw["id"].astype(str), "customer_id": tickets["customer_id"],
        "ts": get("conversation_rating", "created_at"), "metric": "csat", "score": rating,
        "comment": get("conversation_rating", "remark"), "touchpoint": "support", "survey_id": "intercom_rating",
    })[rating.notna()]  # fmt: skip
    parts = {"tickets": tickets}
    if len(fb):
        parts["feedback"] = fb
    return load_tables(store, parts, spec, name)


def _one_conversation(path: Path) -> bool:
    """Whether the file is one conversation (``"type": "conversation"``), not a list of them."""
    try:
        doc = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("type") == "conversation"
