"""Column-wise parse of big ``/v1/batch`` bodies of plain ``track`` messages (issue 12).

:func:`cxlens.collect.messages.parse_messages` checks and maps one message at a time (a dozen function
calls and dict lookups per message on the event-loop thread, which holds the GIL). The SDKs send batches
of hundreds of messages of one shape — ``track`` messages with ``messageId``, one id, ``event``,
``timestamp``, ``properties`` and ``context`` and nothing else — so :func:`parse_columns` takes such a
batch **one field at a time over the whole list** (list comprehensions, Arrow arrays and Arrow compute for
the checks) and builds the Arrow table the writer inserts directly, with no Python rows.

It is all or nothing, and it never decides an error: any message the column path cannot prove valid and
map exactly as :func:`~cxlens.collect.messages._fast` / ``_one`` would (another type or field, a
batch-level ``context``, an id that is not a non-empty string, a time that is not a string, a reserved
key, a JSON over the size limits, …) makes it return ``None``, and the caller runs the per-message path,
which names the first bad field. ``tests/collect/test_columns.py`` checks, on seeded random batches, that
the table, the identity links and the errors are those of the per-message path.

>>> from datetime import datetime
>>> batch = [{"type": "track", "messageId": f"m{i}", "userId": "u1", "event": "Clicked",
...           "timestamp": "2024-05-01T11:59:00Z", "properties": {"i": i}} for i in range(300)]
>>> msgs = parse_columns({"batch": batch}, "batch", datetime(2024, 5, 1, 12))
>>> msgs.count, msgs.table.column("properties")[7].as_py(), msgs.table.column("ts")[0].as_py()
(300, '{"i":7,"$original_timestamp":"2024-05-01T11:59:00Z"}', datetime.datetime(2024, 5, 1, 11, 59))
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from cxlens.collect.messages import (
    DEFAULT_LIMITS,
    RESERVED_KEYS,
    TABLE_SCHEMA,
    Limits,
    Messages,
    corrected_time,
    default_page_name,
    enrich_properties,
    id_hash,
    message_channel,
    message_session,
    message_url,
    parse_body,
    parse_messages,
    parse_time,
    revenue_number,
    text_or_none,
)
from cxlens.errors import CxlensError

__all__ = ["COLUMN_MESSAGES", "parse_columns", "parse_data", "parse_request"]

#: batches of at least this many messages try the column path (smaller ones: fixed costs of the Arrow
#: arrays and compute calls outweigh the per-message savings; they go by message and the writer's table)
COLUMN_MESSAGES = 200

#: the only envelope fields a message of the column path may have: every other field changes the mapping
#: (``originalTimestamp``, ``sentAt``, ``integrations``, ``userHash``, unknown fields in ``$extra``…)
_FIELDS = frozenset(
    ("type", "messageId", "userId", "anonymousId", "event", "name", "category", "timestamp", "properties", "context")
)
#: the fields of :data:`_FIELDS` a track message does not map (they go to ``$extra`` by message)
_TRACK_UNUSED = frozenset(("name", "category"))
_SESSION = ("session_id", "sessionId")
_NONE = type(None)
_BRACE, _BRACKET = ord("{"), ord("[")


def parse_columns(
    data: dict[str, Any], kind: str, received: datetime, limits: Limits = DEFAULT_LIMITS
) -> Messages | None:
    """The sealed :class:`~cxlens.collect.messages.Messages` of a batch body, or None where the column path
    does not apply (then :func:`~cxlens.collect.messages.parse_messages` must parse the body).

    Returns the same table, links and identity data as ``parse_messages(data, kind, received,
    limits).seal()``; it returns a value only for a ``batch`` of :data:`COLUMN_MESSAGES` to
    ``limits.max_batch`` ``track`` messages that are all valid, and raises nothing of its own.
    """
    if kind != "batch" or data.__class__ is not dict:
        return None
    batch = data.get("batch")
    if batch.__class__ is not list or not COLUMN_MESSAGES <= len(batch) <= limits.max_batch:
        return None
    if isinstance(data.get("context"), dict):  # a batch-level context, inherited by messages without one
        return None
    try:
        return _columns(batch, data.get("sentAt"), received, limits)
    except (CxlensError, TypeError, ValueError, pa.ArrowException):  # not provably valid: by message
        return None


def parse_data(
    data: dict[str, Any], kind: str, received: datetime, limits: Limits = DEFAULT_LIMITS, *, seal_from: int = 0
) -> Messages:
    """A parsed body → validated messages: by column where :func:`parse_columns` applies, else by
    message, whose Arrow table is built here (:meth:`Messages.seal`) from ``seal_from`` messages on."""
    messages = parse_columns(data, kind, received, limits)
    if messages is None:
        messages = parse_messages(data, kind, received, limits)
        if messages.count >= seal_from:
            messages.seal()
    return messages


def parse_request(body: bytes, kind: str, received: datetime, limits: Limits = DEFAULT_LIMITS) -> Messages:
    """Body bytes → validated messages with their Arrow table built and the rows dropped.

    The whole CPU-bound part of a request, in one picklable call, so a server can run it in a
    worker process (``cxlens collect --parse-workers``) and hand the writer a ready table.
    """
    return parse_data(parse_body(body, limits), kind, received, limits)


def _strings(values: list[Any], max_len: int, *, required: bool) -> bool:
    """Whether each of ``values`` is a str (or None, unless ``required``) of at most ``max_len`` characters
    (plain Python over the list: each check is one C-level pass, cheaper than Arrow compute at 500 values)."""
    kinds = set(map(type, values))
    if not kinds <= ({str} if required else {str, _NONE}):
        return False
    if _NONE in kinds:
        values = [v for v in values if v is not None]
    return not values or max(map(len, values)) <= max_len


def _columns(batch: list[Any], sent_raw: Any, received: datetime, limits: Limits) -> Messages | None:
    n = len(batch)
    if set(map(type, batch)) != {dict}:
        return None
    fields = set().union(*batch)
    if not _FIELDS.issuperset(fields):
        return None
    kinds = [m.get("type") for m in batch]
    pages = kinds.count("page")
    if kinds.count("track") + pages != n:
        return None
    # a track's name or category goes to $extra (enrich_properties): such a batch goes by message (a
    # page's JSON is built by enrich_properties below, which keeps its event)
    if not _TRACK_UNUSED.isdisjoint(fields) and any(
        k == "track" and not _TRACK_UNUSED.isdisjoint(m) for m, k in zip(batch, kinds, strict=True)
    ):
        return None

    # ids: strings within the limit; a messageId in every message (else the id is a content hash);
    # userId / anonymousId: "" counts as absent, and one of them is required
    ids = [m.get("messageId") for m in batch]
    users = [m.get("userId") for m in batch]
    anons = [m.get("anonymousId") for m in batch]
    if (
        not (
            _strings(ids, limits.max_id, required=True)
            and _strings(users, limits.max_id, required=False)
            and _strings(anons, limits.max_id, required=False)
        )
        or "" in ids
    ):
        return None
    if "" in users:
        users = [u or None for u in users]
    if "" in anons:
        anons = [a or None for a in anons]
    if None in users and any(u is None and a is None for u, a in zip(users, anons, strict=True)):
        return None
    names = [m.get("event") for m in batch] if not pages else [m.get("event") for m in batch if m["type"] == "track"]
    if not _strings(names, limits.max_string, required=True) or "" in names:
        return None

    # times: strings (or absent), each distinct one parsed and corrected once, as _fast does
    sent_at = parse_time(sent_raw, "sentAt") if sent_raw is not None else None
    raw_ts = [m.get("timestamp") for m in batch]
    at: dict[Any, int] = dict.fromkeys(raw_ts)  # TypeError (an object, a list): by message
    if not set(map(type, at)) <= {str, _NONE}:
        return None  # epoch numbers (and True == 1 as a dict key): by message
    corrected = [
        corrected_time(received, parse_time(t, "", ""), sent_at) if t is not None else (received, None) for t in at
    ]
    for i, t in enumerate(at):  # CxlensError above (a bad time): by message
        at[t] = i
    rejected_any = any(r is not None for _, r in corrected)

    props = [m.get("properties") for m in batch]
    contexts = [m.get("context") for m in batch]
    if not set(map(type, props)) <= {dict, _NONE} or not set(map(type, contexts)) <= {dict, _NONE}:
        return None
    if None in props:
        props = [{} if p is None else p for p in props]
    if None in contexts:
        contexts = [{} if c is None else c for c in contexts]
    prop_keys = set().union(*props)
    if not RESERVED_KEYS.isdisjoint(prop_keys):
        return None
    context_keys = set().union(*contexts)
    if pages:  # a page's name: its own, else properties.name / path, else context.page.path, else "page"
        names = [
            m.get("event") if k == "track" else _page_name(m, p, c, limits.max_string)
            for m, k, p, c in zip(batch, kinds, props, contexts, strict=True)
        ]
        if None in names:
            return None

    # the stored JSON, as enrich_properties builds it; the common shape in one comprehension (a page's by
    # enrich_properties: it may carry $category)
    if sent_raw is not None and not rejected_any and None not in at and all(contexts):
        dumps = orjson.dumps
        if not pages:
            dumped = [
                dumps({**p, "$context": c, "$original_timestamp": t, "$sent_at": sent_raw})
                for p, c, t in zip(props, contexts, raw_ts, strict=True)
            ]
        else:
            dumped = [
                dumps({**p, "$context": c, "$original_timestamp": t, "$sent_at": sent_raw})
                if k == "track"
                else dumps(enrich_properties(m, k, p, c, {}, t, None, sent_raw, None))
                for m, k, p, c, t in zip(batch, kinds, props, contexts, raw_ts, strict=True)
            ]
    else:
        dumped = []
        for m, k, p, c, t in zip(batch, kinds, props, contexts, raw_ts, strict=True):
            rejected = corrected[at[t]][1]
            dumped.append(orjson.dumps(enrich_properties(m, k, p, c, {}, t, None, sent_raw, rejected)))
    # the limits as _fast checks them on the stored JSON: its bytes, and its brackets bound the depth
    lengths = np.fromiter(map(len, dumped), dtype=np.int64, count=n)
    if lengths.max() > limits.max_string:
        return None
    blob = b"".join(dumped)
    ends = np.cumsum(lengths)
    codes = np.frombuffer(blob, dtype=np.uint8)
    opens = np.flatnonzero((codes == _BRACE) | (codes == _BRACKET) if b"[" in blob else codes == _BRACE)
    brackets = np.diff(np.searchsorted(opens, ends), prepend=0)  # the brackets of each message's JSON
    if brackets.max() > limits.max_depth:
        return None
    offsets = np.concatenate(([0], ends)).astype(np.int32)  # a JSON is at most max_string bytes, the body 512 KiB
    properties = pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(blob)])

    # mapped columns (_add_row's rules, column by column)
    urls = [p.get("url") for p in props]
    if set(map(type, urls)) != {str} or "" in urls:
        urls = [
            u if u.__class__ is str and u else message_url(p, c) for u, p, c in zip(urls, props, contexts, strict=True)
        ]
    if prop_keys.intersection(_SESSION) or context_keys.intersection(_SESSION):
        sessions = [message_session(p, c) for p, c in zip(props, contexts, strict=True)]
    else:
        sessions = None
    revenues = [revenue_number(p.get("revenue")) for p in props] if "revenue" in prop_keys else None
    touchpoints = [text_or_none(p.get("touchpoint")) for p in props] if "touchpoint" in prop_keys else None
    stages = [text_or_none(p.get("stage")) for p in props] if "stage" in prop_keys else None
    if pages or "channel" in context_keys or "os" in context_keys:
        channels = [message_channel(k, c, None) for k, c in zip(kinds, contexts, strict=True)]
    else:  # message_channel without context.channel / context.os
        channels = ["web" if "page" in c or "userAgent" in c else "server" for c in contexts]

    hashes = list(map(id_hash, ids))
    distinct = pa.array([ts for ts, _ in corrected], type=pa.timestamp("us"))
    ts = distinct.take(np.zeros(n, np.int32) if len(at) == 1 else np.array([at[t] for t in raw_ts], np.int32))

    table = pa.Table.from_arrays(
        [
            pa.array(ids, type=pa.string()),
            pa.array(users, type=pa.string()),
            pa.array(anons, type=pa.string()),
            pa.nulls(n, pa.string()) if sessions is None else pa.array(sessions, type=pa.string()),
            ts,
            pa.array(kinds if pages else ["track"] * n, type=pa.string()),
            pa.array(names, type=pa.string()),
            pa.array(channels, type=pa.string()),
            pa.nulls(n, pa.string()) if touchpoints is None else pa.array(touchpoints, type=pa.string()),
            pa.nulls(n, pa.string()) if stages is None else pa.array(stages, type=pa.string()),
            pa.array(urls, type=pa.string()),
            properties,
            pa.nulls(n, pa.float64()) if revenues is None else pa.array(revenues, type=pa.float64()),
            pa.array(hashes, type=pa.uint64()),
        ],
        schema=TABLE_SCHEMA,
    )
    out = Messages(table=table)
    both = [i for i, (u, a) in enumerate(zip(users, anons, strict=True)) if u is not None and a is not None]
    if both:  # the identity links of messages naming both ids
        times = ts.to_pylist()
        out.links = [(i, anons[i], users[i], times[i]) for i in both]
    return out


def _page_name(msg: dict[str, Any], props: dict[str, Any], context: dict[str, Any], max_len: int) -> str | None:
    """A page's name as ``_fast`` gives it; None where ``_fast`` declines (a name that is not a string
    within the limit)."""
    name = msg.get("name")
    if name is not None and (name.__class__ is not str or len(name) > max_len):
        return None
    return name or default_page_name("page", props, context)
