"""Segment-spec messages (``track``, ``page``, ``identify``, ``screen``, ``batch``) → canonical rows.

This is the hot path of the collection API, so it is plain Python over the dicts ``orjson``
returns (no per-event Pydantic): each message is checked (:func:`_fast` for the common valid
message, else field by field, naming the first bad field) and turned into one
``events`` row (a list in :data:`EVENT_COLUMNS` order), plus, for ``identify``, a customer
upsert and, for any message carrying both ids, an anonymous → customer link.

Mapping (https://segment.com/docs/connections/spec/common/):

* ``event_id`` = ``messageId``, else a content hash of the message (so a retried request
  without ids is still deduplicated when it carries its own ``timestamp``);
* ``ts`` = ``timestamp`` (or ``originalTimestamp``), corrected for device clock skew with
  ``sentAt`` as Segment does (``receivedAt - (sentAt - timestamp)``), else the receive time; a
  time outside [receipt − 50 years, receipt + 1 day] is replaced by the receipt time (the client's
  times stay in ``properties``: ``$original_timestamp``, ``$sent_at``, and the rejected time in
  ``$rejected_ts``), so one device with a broken clock cannot move a KPI decades away;
* ``name`` = ``event`` (track), ``name`` (page, screen), ``"identify"``;
* ``channel`` = ``context.channel``, else ``mobile`` (screen, or a mobile ``context.os``),
  ``web`` (page, or a browser context), else ``server``;
* ``touchpoint``/``stage``/``url``/``revenue``/``session_id`` from properties or context
  (the writer fills a missing stage from the workspace journey);
* ``properties`` = the message's ``properties`` (``traits`` for identify) as JSON, plus every
  other field of the envelope under ``$``-keys (``$context``, ``$integrations``, ``$extra``…),
  so nothing sent is dropped.

>>> from datetime import datetime
>>> now = datetime(2024, 5, 1, 12, 0, 0)
>>> msgs = parse_messages({"userId": "u1", "event": "Signed Up", "messageId": "m1",
...                        "properties": {"plan": "pro"}}, "track", now)
>>> row = msgs.rows[0]
>>> row[0], row[1], row[4], row[5], row[6], row[7], row[11]
('m1', 'u1', datetime.datetime(2024, 5, 1, 12, 0), 'track', 'Signed Up', 'server', b'{"plan":"pro"}')
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa

from cxlens.errors import ConfigError, CxlensError, ForbiddenError, ParameterError, PayloadTooLargeError

__all__ = [
    "DEFAULT_LIMITS",
    "EVENT_COLUMNS",
    "KINDS",
    "Limits",
    "Messages",
    "id_hash",
    "parse_body",
    "parse_messages",
]

#: the message types accepted (one endpoint each, and inside ``batch``)
KINDS = ("track", "page", "identify", "screen")

#: order of the values in an events row
EVENT_COLUMNS = (
    "event_id",
    "customer_id",
    "anonymous_id",
    "session_id",
    "ts",
    "type",
    "name",
    "channel",
    "touchpoint",
    "stage",
    "url",
    "properties",
    "revenue",
)

#: Arrow types of an events row, and of the table the writer inserts (rows + their id hash ``_h``)
EVENT_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("customer_id", pa.string()),
        ("anonymous_id", pa.string()),
        ("session_id", pa.string()),
        ("ts", pa.timestamp("us")),
        ("type", pa.string()),
        ("name", pa.string()),
        ("channel", pa.string()),
        ("touchpoint", pa.string()),
        ("stage", pa.string()),
        ("url", pa.string()),
        ("properties", pa.string()),
        ("revenue", pa.float64()),
    ]
)
TABLE_SCHEMA = EVENT_SCHEMA.append(pa.field("_h", pa.uint64()))

#: envelope fields mapped to columns or to a ``$``-key of ``properties``
_KNOWN = frozenset(
    (
        "type",
        "userId",
        "anonymousId",
        "messageId",
        "timestamp",
        "originalTimestamp",
        "sentAt",
        "receivedAt",
        "event",
        "name",
        "category",
        "properties",
        "traits",
        "context",
        "integrations",
        "writeKey",
        "userHash",
    )
)
#: envelope fields a message of one kind does not map (``name`` of a ``track``, ``event`` of a ``page``,
#: ``properties`` of an ``identify``…): kept in ``$extra`` like unknown fields, so nothing sent is dropped
_UNUSED = {
    "track": frozenset(("name", "category", "traits")),
    "page": frozenset(("event", "traits")),
    "screen": frozenset(("event", "traits")),
    "identify": frozenset(("event", "name", "category", "properties")),
}
_RESERVED = (
    "$context", "$integrations", "$category", "$extra", "$original_timestamp", "$sent_at", "$received_at",
    "$rejected_ts",
)  # fmt: skip
RESERVED_KEYS = frozenset(_RESERVED)
_MOBILE_OS = frozenset(("ios", "android", "ipados", "tvos", "watchos"))


@dataclass(frozen=True)
class Limits:
    """Size limits of the collection API (Segment's are 32 KB a message, 500 KB a batch)."""

    max_body_bytes: int = 512 * 1024
    max_batch: int = 2500
    max_string: int = 10_000
    max_id: int = 256
    max_depth: int = 16


DEFAULT_LIMITS = Limits()


@dataclass
class Messages:
    """Validated messages of one request, ready for the writer."""

    #: events rows, one list per message in :data:`EVENT_COLUMNS` order (``properties`` as the UTF-8
    #: bytes of its JSON, as ``orjson.dumps`` made them: never decoded, see :meth:`to_table`)
    rows: list[list[Any]] = field(default_factory=list)
    #: identify: (row index, customer_id, ts, traits) — applied only if the row is new
    identifies: list[tuple[int, str, datetime, dict[str, Any]]] = field(default_factory=list)
    #: (row index, anonymous_id, customer_id, ts) for messages naming both ids
    links: list[tuple[int, str, str, datetime]] = field(default_factory=list)
    #: row index → the ``userHash`` a message with a ``userId`` carried (identity verification)
    user_hashes: dict[int, Any] = field(default_factory=dict)
    #: row indices of messages whose ``userId`` is verified, set by :meth:`verify` (None: all of them —
    #: a secret key, or a library caller writing its own messages)
    verified: frozenset[int] | None = None
    #: 64-bit hash of each row's event_id (:func:`id_hash`)
    hashes: list[int] = field(default_factory=list)
    #: the rows as an Arrow table (:data:`EVENT_COLUMNS` + ``_h``, the hash), once built
    table: pa.Table | None = None

    @property
    def count(self) -> int:
        """Number of messages."""
        return len(self.rows) if self.table is None else self.table.num_rows

    def is_verified(self, index: int) -> bool:
        """Whether row ``index``'s ``userId`` was verified (signed, or sent with a secret key)."""
        return self.verified is None or index in self.verified

    def verify(self, secret: str | None, *, trusted: bool, required: bool = False) -> None:
        """Mark which user ids are verified: all with a secret key (``trusted``), else those whose
        ``userHash`` is the HMAC of the id under ``secret``. With ``required``, a ``userId`` that is not
        verified is a 403 naming its ``userHash`` (nothing of the request is written)."""
        from cxlens.collect.identity import verify

        if trusted:
            self.verified = None
            return
        ids = self.table.column("customer_id").to_pylist() if self.table is not None else [r[1] for r in self.rows]
        ok = {i for i, h in self.user_hashes.items() if verify(secret, ids[i], h)}
        self.verified = frozenset(ok)
        if required:
            bad = next((i for i, cid in enumerate(ids) if cid is not None and i not in ok), None)
            if bad is not None:
                raise ForbiddenError(
                    f"message {bad}: field 'userHash' is missing or wrong for userId {ids[bad]!r}; this workspace "
                    "requires identity verification (HMAC-SHA256 of the user id with the workspace's identity secret)"
                )

    def seal(self) -> Messages:
        """Build the Arrow table now and drop the Python rows (returns ``self``).

        The collection server calls it in the request, before queueing: the writer then receives a
        ready table and only does what DuckDB runs without the GIL. Building the table in the writer
        kept it holding the GIL for ≈ 1.5 µs an event (``pa.array`` over Python objects) while the
        event-loop thread waited for it, and made every commit wait for the GIL it shares with the
        parsing thread; a table per request costs the same as one per group (1.5-1.7 against
        1.4-1.8 µs an event, measured), and the rows' Python objects are freed before the commit.
        """
        self.to_table()
        self.rows, self.hashes = [], []
        return self

    def to_table(self) -> pa.Table:
        """The rows as an Arrow table (built once; what the writer inserts)."""
        if self.table is None:
            columns = list(zip(*self.rows, strict=True)) if self.rows else [() for _ in EVENT_COLUMNS]
            arrays = [
                _json_array(col) if f.name == "properties" else pa.array(col, type=f.type)
                for col, f in zip(columns, EVENT_SCHEMA, strict=True)
            ]
            self.table = pa.Table.from_arrays([*arrays, pa.array(self.hashes, type=pa.uint64())], schema=TABLE_SCHEMA)
        return self.table


def _json_array(values: Any) -> pa.Array:
    """The ``properties`` column from the JSON bytes of each row, never decoded to ``str``: orjson writes
    valid UTF-8, so the bytes are viewed as strings as they are (``pa.array(..., pa.string())`` of bytes
    would check every value again, ≈ 6x slower, measured).

    >>> _json_array(['{"a":"é"}'.encode(), '{"b":1}']).to_pylist()
    ['{"a":"é"}', '{"b":1}']
    """
    return pa.array(values, type=pa.binary()).view(pa.string())


try:  # CPython's own MD5: ≈ 2x cheaper to create than OpenSSL's through hashlib (the same digest)
    from _md5 import md5 as _md5
except ImportError:  # pragma: no cover - a Python built without it
    _md5 = hashlib.md5
_lower64 = struct.Struct("<Q").unpack_from  # the digest's last 8 bytes, little-endian (md5_number_lower)


def id_hash(event_id: str) -> int:
    """64-bit hash of an event id, equal to DuckDB's ``md5_number_lower(event_id)``.

    >>> import duckdb
    >>> id_hash("m1") == duckdb.sql("SELECT md5_number_lower('m1')").fetchone()[0]
    True
    """
    return _lower64(_md5(event_id.encode("utf-8", "surrogatepass")).digest(), 8)[0]


def _bad(path: str, expected: str, got: Any, fix: str = "") -> ParameterError:
    shown = repr(got)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return ParameterError(path, f"{path}: expected {expected}, got {shown}" + (f"; {fix}" if fix else ""))


def _too_long(path: str, what: str, limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"{path}: {what} is over the limit of {limit:,}; send less", param=path)


def parse_body(body: bytes, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The JSON object of a request body (400 naming the problem when it is not one)."""
    if len(body) > limits.max_body_bytes:
        raise PayloadTooLargeError(
            f"request body is {len(body):,} bytes, over the limit of {limits.max_body_bytes:,}; send smaller batches"
        )
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise ConfigError(f"request body is not valid JSON ({e}); send one JSON object") from None
    if not isinstance(data, dict):
        raise _bad("body", "a JSON object", type(data).__name__, "send one message object or {'batch': [...]}")
    return data


def parse_time(value: Any, path: str, key: str = "") -> datetime:
    """An ISO-8601 string (or epoch milliseconds) as naive UTC (``path.key`` names it in errors)."""
    if isinstance(value, str) and 10 <= len(value) <= 40:
        try:
            t = datetime.fromisoformat(value)  # 3.11+: also 'Z' and most of ISO-8601
        except ValueError:
            try:
                t = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
            except ValueError:
                t = None
        if t is not None:
            if 1900 <= t.year <= 2200:
                offset = t.utcoffset()
                return t.replace(tzinfo=None) if offset is None else (t - offset).replace(tzinfo=None)
            raise _bad(f"{path}{key}", "an ISO-8601 time in the years 1900-2200", value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 7e12:
        return datetime.fromtimestamp(value / 1000, UTC).replace(tzinfo=None)
    raise _bad(f"{path}{key}", "an ISO-8601 time", value, "send e.g. '2024-05-01T12:00:00.000Z'")


#: a corrected event time must fall in [receipt - PAST, receipt + FUTURE], else the receipt time is used
PAST = timedelta(days=round(365.25 * 50))
FUTURE = timedelta(days=1)


def corrected_time(received: datetime, client_ts: datetime, sent: datetime | None) -> tuple[datetime, datetime | None]:
    """(event time, rejected time or None): Segment's skew correction, clamped to the plausible window."""
    ts = received - (sent - client_ts) if sent is not None else client_ts
    if received - PAST <= ts <= received + FUTURE:
        return ts, None
    return received, ts


def _check_tree(value: Any, path: str, limits: Limits, depth: int = 1) -> None:
    """String lengths and nesting depth of a properties/traits/context tree."""
    if depth > limits.max_depth:
        raise _too_long(path, "nesting depth", limits.max_depth)
    if isinstance(value, dict):
        for k, v in value.items():
            if len(k) > limits.max_string:
                raise _too_long(f"{path}.{k[:20]}", "key length", limits.max_string)
            if isinstance(v, str):
                if len(v) > limits.max_string:
                    raise _too_long(f"{path}.{k}", "string length", limits.max_string)
            elif isinstance(v, (dict, list)):
                _check_tree(v, f"{path}.{k}", limits, depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if isinstance(v, str):
                if len(v) > limits.max_string:
                    raise _too_long(f"{path}[{i}]", "string length", limits.max_string)
            elif isinstance(v, (dict, list)):
                _check_tree(v, f"{path}[{i}]", limits, depth + 1)


def _id(msg: dict[str, Any], key: str, path: str, limits: Limits) -> str | None:
    v = msg.get(key)
    if v is None:
        return None
    if isinstance(v, str):
        if len(v) > limits.max_id:
            raise _too_long(f"{path}.{key}", "length", limits.max_id)
        return v or None
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    raise _bad(f"{path}.{key}", "a string", v)


def _obj(msg: dict[str, Any], key: str, path: str, limits: Limits) -> dict[str, Any]:
    v = msg.get(key)
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise _bad(f"{path}.{key}", "an object", v)
    _check_tree(v, f"{path}.{key}", limits)
    return v


def text_or_none(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def default_page_name(kind: str, props: dict[str, Any], context: dict[str, Any]) -> str:
    """The name of a page or screen message sent without one: ``properties.name``, else
    ``properties.path``, else ``context.page.path``, else the message type."""
    page = context.get("page") if isinstance(context.get("page"), dict) else {}
    return text_or_none(props.get("name")) or text_or_none(props.get("path")) or text_or_none(page.get("path")) or kind


def message_url(props: dict[str, Any], context: dict[str, Any]) -> str | None:
    """The ``url`` column: ``properties.url`` as text, else ``context.page.url``."""
    url = props.get("url")
    url = url if url.__class__ is str and url else text_or_none(url) if url is not None else None
    if url is None:
        page = context.get("page")
        url = text_or_none(page.get("url")) if isinstance(page, dict) else None
    return url


def message_session(props: dict[str, Any], context: dict[str, Any]) -> str | None:
    """The ``session_id`` column: the first of four keys (properties, then context) holding a text."""
    for v in (props.get("session_id"), props.get("sessionId"), context.get("sessionId"), context.get("session_id")):
        if v is not None:
            session = text_or_none(v)
            if session is not None:
                return session
    return None


def message_channel(kind: str, context: dict[str, Any], top: Any) -> str:
    ch = context.get("channel")
    if isinstance(ch, str) and ch:
        return ch
    if kind == "screen":
        return "mobile"
    os_ = context.get("os")
    if isinstance(os_, dict) and str(os_.get("name", "")).lower() in _MOBILE_OS:
        return "mobile"
    if kind == "page" or "page" in context or "userAgent" in context or top in ("browser", "client"):
        return "web"
    if top == "mobile":
        return "mobile"
    return "server"


def _content_id(msg: dict[str, Any], received: datetime, has_time: bool) -> str:
    """A stable id for a message without ``messageId`` (retries of the same content collide on purpose)."""
    basis = {k: v for k, v in msg.items() if k not in ("sentAt", "writeKey", "receivedAt")}
    if not has_time:  # no client time: only this request's receive time tells two sends apart
        basis["receivedAt"] = received.isoformat()
    digest = hashlib.blake2b(orjson.dumps(basis, option=orjson.OPT_SORT_KEYS), digest_size=16).hexdigest()
    return "h-" + digest


def _one(
    msg: Any,
    kind: str | None,
    path: str,
    received: datetime,
    sent_at: datetime | None,
    sent_raw: Any,
    out: Messages,
    limits: Limits,
) -> None:
    if not isinstance(msg, dict):
        raise _bad(path, "a message object", type(msg).__name__)
    given = msg.get("type")
    if kind is None:
        if given not in KINDS:
            raise _bad(f"{path}.type", f"one of {', '.join(KINDS)}", given)
        kind = given
    elif given is not None and given != kind:
        raise _bad(f"{path}.type", f"{kind!r} (or nothing) at /v1/{kind}", given, f"send it to /v1/{given}")
    user_id = _id(msg, "userId", path, limits)
    anon_id = _id(msg, "anonymousId", path, limits)
    if user_id is None and anon_id is None:
        raise _bad(f"{path}.userId", "a userId or an anonymousId", None, "every message needs one of them")
    message_id = _id(msg, "messageId", path, limits)
    context = _obj(msg, "context", path, limits)
    integrations = _obj(msg, "integrations", path, limits)
    props = _obj(msg, "traits" if kind == "identify" else "properties", path, limits)

    if kind == "track":
        name = msg.get("event")
        if not isinstance(name, str) or not name:
            raise _bad(f"{path}.event", "the event name (a non-empty string)", name)
        if len(name) > limits.max_string:
            raise _too_long(f"{path}.event", "length", limits.max_string)
    elif kind == "identify":
        name = "identify"
    else:
        name = msg.get("name")
        if name is not None and not isinstance(name, str):
            raise _bad(f"{path}.name", "a string", name)
        if name is not None and len(name) > limits.max_string:
            raise _too_long(f"{path}.name", "length", limits.max_string)
        if not name:
            name = default_page_name(kind, props, context)

    raw_ts = msg.get("timestamp")
    ts_key = "timestamp"
    if raw_ts is None:
        raw_ts, ts_key = msg.get("originalTimestamp"), "originalTimestamp"
    own_sent = msg.get("sentAt")
    msg_sent = parse_time(own_sent, path, ".sentAt") if own_sent is not None else sent_at
    rejected = None
    if raw_ts is not None:
        client_ts = parse_time(raw_ts, path, "." + ts_key)
        # Segment: timestamp = receivedAt - (sentAt - originalTimestamp), correcting the device clock
        ts, rejected = corrected_time(received, client_ts, msg_sent)
    else:
        ts = received

    for key in RESERVED_KEYS.intersection(props) if props else ():
        if key in props:
            raise _bad(
                f"{path}.{'traits' if kind == 'identify' else 'properties'}.{key}",
                "no reserved key",
                key,
                f"keys {', '.join(_RESERVED)} are set by cxlens; rename it",
            )
    enriched = enrich_properties(msg, kind, props, context, integrations, raw_ts, own_sent, sent_raw, rejected)
    if "$extra" in enriched:
        _check_tree(enriched["$extra"], path, limits)
    try:
        properties = orjson.dumps(enriched)
    except (TypeError, orjson.JSONEncodeError) as e:  # pragma: no cover - orjson output is always encodable
        raise _bad(f"{path}.properties", "JSON values", str(e)) from None
    _add_row(out, msg, kind, name, props, context, user_id, anon_id, message_id, raw_ts, ts, received, properties)


def enrich_properties(
    msg: dict[str, Any],
    kind: str,
    props: dict[str, Any],
    context: dict[str, Any],
    integrations: dict[str, Any],
    raw_ts: Any,
    own_sent: Any,
    sent_raw: Any,
    rejected: datetime | None = None,
) -> dict[str, Any]:
    """What a row keeps in ``properties``: the message's properties/traits plus every other part of
    the message under ``$``-keys (context, integrations, client times, a rejected corrected time,
    unknown fields)."""
    enriched: dict[str, Any] = dict(props)
    if context:
        enriched["$context"] = context
    if integrations:
        enriched["$integrations"] = integrations
    if kind in ("page", "screen") and msg.get("category") is not None:
        enriched["$category"] = msg["category"]
    if raw_ts is not None:
        enriched["$original_timestamp"] = raw_ts
    if own_sent is not None or sent_raw is not None:
        enriched["$sent_at"] = own_sent if own_sent is not None else sent_raw
    if msg.get("receivedAt") is not None:
        enriched["$received_at"] = msg["receivedAt"]
    if rejected is not None:
        enriched["$rejected_ts"] = rejected.isoformat()
    unused = _UNUSED.get(kind, frozenset())
    if not _KNOWN.issuperset(msg) or not unused.isdisjoint(msg):
        extra = {k: v for k, v in msg.items() if k not in _KNOWN or k in unused}
        if extra:
            enriched["$extra"] = extra
    return enriched


def revenue_number(revenue: Any) -> float | None:
    """A ``revenue`` property as a number: a number, or a text that reads as one; else (and NaN) None."""
    if revenue is None:
        return None
    if isinstance(revenue, bool) or not isinstance(revenue, (int, float)):
        try:
            revenue = float(revenue) if isinstance(revenue, str) else None
        except ValueError:
            revenue = None
    else:
        revenue = float(revenue)
    return None if revenue is not None and revenue != revenue else revenue  # NaN


def _add_row(
    out: Messages,
    msg: dict[str, Any],
    kind: str,
    name: str,
    props: dict[str, Any],
    context: dict[str, Any],
    user_id: str | None,
    anon_id: str | None,
    message_id: str | None,
    raw_ts: Any,
    ts: datetime,
    received: datetime,
    properties: bytes,
) -> None:
    """Append one validated message's events row (and its identify and id link) to ``out``."""
    url = props.get("url")
    if url.__class__ is not str or not url:  # the common case (a non-empty text) without a call
        url = message_url(props, context)
    session = None  # most messages have none of the four keys: `in` tests first
    if "session_id" in props or "sessionId" in props or "sessionId" in context or "session_id" in context:
        session = message_session(props, context)
    revenue = props.get("revenue")
    if revenue is not None:
        revenue = revenue_number(revenue)
    event_id = message_id or _content_id(msg, received, raw_ts is not None)
    index = len(out.rows)
    out.hashes.append(id_hash(event_id))
    out.rows.append(
        [
            event_id,
            user_id,
            anon_id,
            session,
            ts,
            kind,
            name,
            message_channel(kind, context, msg.get("channel")),
            None if (tp := props.get("touchpoint")) is None else text_or_none(tp),
            None if (st := props.get("stage")) is None else text_or_none(st),
            url,
            properties,
            revenue,
        ]
    )
    if user_id is not None:
        signed = msg.get("userHash")
        if signed is not None:
            out.user_hashes[index] = signed
        if kind == "identify":
            out.identifies.append((index, user_id, ts, props))
        if anon_id is not None:
            out.links.append((index, anon_id, user_id, ts))


def _fast(
    msg: Any,
    kind: str | None,
    received: datetime,
    sent_at: datetime | None,
    sent_raw: Any,
    out: Messages,
    limits: Limits,
    times: dict[tuple[str, str | None], tuple[datetime, datetime | None]],
) -> bool:
    """:func:`_one` for the common, valid message, cheaper; False (nothing added) where in doubt.

    The trees (properties/traits, context, integrations, unknown fields) are not walked: every
    string and key of them appears in ``properties``, the JSON the row stores anyway, so a JSON
    no longer than ``max_string`` bytes holds no string or key over the limit (a character is at
    least one UTF-8 byte), and one with at most ``max_depth`` brackets nests no deeper. Anything
    else — a long or deep message, an id that is not a string, any error — returns False and
    :func:`_one` checks the message field by field and names the first problem, exactly as
    before. Times given as strings are parsed once per request (clients repeat them).
    """
    if msg.__class__ is not dict:
        return False
    given = msg.get("type")
    if kind is None:
        if given not in KINDS:
            return False
        kind = given
    elif given is not None and given != kind:
        return False
    max_id = limits.max_id
    user_id = msg.get("userId")
    if user_id is not None:
        if user_id.__class__ is not str or len(user_id) > max_id:
            return False
        user_id = user_id or None
    anon_id = msg.get("anonymousId")
    if anon_id is not None:
        if anon_id.__class__ is not str or len(anon_id) > max_id:
            return False
        anon_id = anon_id or None
    if user_id is None and anon_id is None:
        return False
    message_id = msg.get("messageId")
    if message_id is not None:
        if message_id.__class__ is not str or len(message_id) > max_id:
            return False
        message_id = message_id or None
    context = msg.get("context")
    if context is None:
        context = {}
    elif context.__class__ is not dict:
        return False
    integrations = msg.get("integrations")
    if integrations is None:
        integrations = {}
    elif integrations.__class__ is not dict:
        return False
    props = msg.get("traits" if kind == "identify" else "properties")
    if props is None:
        props = {}
    elif props.__class__ is not dict:
        return False

    if kind == "track":
        name = msg.get("event")
        if name.__class__ is not str or not name or len(name) > limits.max_string:
            return False
    elif kind == "identify":
        name = "identify"
    else:
        name = msg.get("name")
        if name is not None and (name.__class__ is not str or len(name) > limits.max_string):
            return False
        if not name:
            name = default_page_name(kind, props, context)

    raw_ts = msg.get("timestamp")
    if raw_ts is None:
        raw_ts = msg.get("originalTimestamp")
    own_sent = msg.get("sentAt")
    rejected = None
    if raw_ts is None:
        if own_sent is not None:
            parse_time(own_sent, "", "")  # only validated: a bad sentAt is an error even without a timestamp
        ts = received
    elif raw_ts.__class__ is str and (own_sent is None or own_sent.__class__ is str):
        hit = times.get((raw_ts, own_sent))
        if hit is None:
            client_ts = parse_time(raw_ts, "", "")
            msg_sent = parse_time(own_sent, "", "") if own_sent is not None else sent_at
            hit = times[(raw_ts, own_sent)] = corrected_time(received, client_ts, msg_sent)
        ts, rejected = hit
    else:
        client_ts = parse_time(raw_ts, "", "")
        msg_sent = parse_time(own_sent, "", "") if own_sent is not None else sent_at
        ts, rejected = corrected_time(received, client_ts, msg_sent)

    if props and not RESERVED_KEYS.isdisjoint(props):
        return False
    enriched = enrich_properties(msg, kind, props, context, integrations, raw_ts, own_sent, sent_raw, rejected)
    try:
        dumped = orjson.dumps(enriched)
    except TypeError:  # orjson.JSONEncodeError: too deep or not JSON; the walk names it
        return False
    if len(dumped) > limits.max_string:
        return False  # possibly over a limit: let the exact walk decide
    # the brackets: without a `[` (a C memchr) one count of `{` does (the two counts were ≈ 6 % of the parse, callgrind)
    brackets = dumped.count(b"{") if b"[" not in dumped else len(dumped) - len(dumped.translate(None, b"{["))
    if brackets > limits.max_depth:
        return False
    _add_row(out, msg, kind, name, props, context, user_id, anon_id, message_id, raw_ts, ts, received, dumped)
    return True


def parse_messages(data: dict[str, Any], kind: str, received: datetime, limits: Limits = DEFAULT_LIMITS) -> Messages:
    """Validate the body of ``/v1/<kind>`` (``kind`` one of :data:`KINDS` or ``"batch"``).

    Parameters
    ----------
    data
        The parsed JSON body.
    kind
        The endpoint: ``track``, ``page``, ``identify``, ``screen`` or ``batch``.
    received
        Receive time (naive UTC): the event time of messages without one, and the anchor of
        the clock-skew correction.

    Raises
    ------
    ConfigError
        (400) naming the field path, e.g. ``batch[3].timestamp: expected an ISO-8601 time, got 'yesterday'``.
    PayloadTooLargeError
        (413) a batch, string or nesting depth over :class:`Limits`.
    """
    out = Messages()
    times: dict[tuple[str, str | None], tuple[datetime, datetime | None]] = {}
    sent_raw = data.get("sentAt")
    sent_at = parse_time(sent_raw, "sentAt") if sent_raw is not None else None
    if kind == "batch":
        batch = data.get("batch")
        if not isinstance(batch, list):
            raise _bad("batch", "a list of messages", batch if batch is None else type(batch).__name__)
        if len(batch) > limits.max_batch:
            raise _too_long("batch", "number of messages", limits.max_batch)
        if not batch:
            raise _bad("batch", "at least one message", batch)
        # batch-level context (analytics-node style) is inherited by messages without their own
        shared = data.get("context")
        if not isinstance(shared, dict):
            shared = None
        for i, msg in enumerate(batch):
            if shared is not None and isinstance(msg, dict) and "context" not in msg:
                msg = {**msg, "context": shared}
            try:
                done = _fast(msg, None, received, sent_at, sent_raw, out, limits, times)
            except CxlensError:
                done = False
            if not done:
                _one(msg, None, f"batch[{i}]", received, sent_at, sent_raw, out, limits)
    elif kind in KINDS:
        try:
            done = _fast(data, kind, received, sent_at, None, out, limits, times)
        except CxlensError:
            done = False
        if not done:
            _one(data, kind, "body", received, sent_at, None, out, limits)
    else:
        raise ConfigError(f"unknown endpoint /v1/{kind}; expected one of track, page, identify, screen, batch")
    return out
