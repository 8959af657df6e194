"""Session replay storage: the rrweb chunks the browser SDK sends, stored compactly per session.

**Wire format** (``POST /v1/replay``, sent by ``/sdk/cxlens-replay.js``): one JSON object per
request, gzip-compressed by the browser where it can (``CompressionStream``; recognised by its magic
bytes, so ``navigator.sendBeacon`` needs no header) or plain::

    {"sessionId": "…", "seq": 3, "anonymousId": "…", "userId": "…", "url": "https://…",
     "events": [{"type": 3, "timestamp": 1764690000123, "data": {…}}, …]}

**Storage.** Each chunk becomes one block: the chunk's events as JSON, compressed with zlib (level 9)
on the server whatever the browser sent, in ``replay_chunks`` keyed by ``(session_id, seq)``. The
key is the primary key: a chunk sent twice (a retry after a lost answer) is stored once, and its
index is the offset index — opening a replay looks up that session's blocks through it and reads
no other session's (the session id is validated to ``[A-Za-z0-9_.:-]`` and given to DuckDB as a
literal, the form whose equality filter DuckDB answers from the index; a bound parameter makes it
scan). ``replay_sessions`` keeps one row per session (customer, first page, times, counts, raw and
stored bytes): the list of replays and the per-session size cap read it, not the blocks.

Settings: ``replay.retention_days`` (default 30; :func:`purge` deletes older sessions),
``replay.max_session_bytes`` (raw JSON a session may hold, default 20 MB: a chunk that would pass
it is refused with a 413 naming the setting), ``replay.compact_idle_minutes`` (default 30: the
``replay.maintain`` job, queued every 15 minutes by every job runner, compacts sessions idle that long
and purges those past retention). A chunk is acknowledged only once committed.
"""

from __future__ import annotations

import lzma
import re
import threading
import weakref
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from cxlens.errors import NotFoundError, ParameterError, PayloadTooLargeError, SchemaError
from cxlens.jobs import JobContext, Schedule, schedule, schedule_source, task

__all__ = [
    "CODEC",
    "COMPACT_IDLE",
    "MAINTAIN_KIND",
    "MAX_BODY",
    "MAX_EVENTS_BYTES",
    "MAX_SESSION",
    "NEAR_HOURS",
    "RETENTION",
    "timeline_replays",
    "Chunk",
    "compact",
    "decode",
    "delete_replay",
    "ensure_tables",
    "maintain",
    "parse_chunk",
    "purge",
    "recorded",
    "replay_events",
    "replay_meta",
    "replays_near",
    "store_chunk",
]

RETENTION = "replay.retention_days"
MAX_SESSION = "replay.max_session_bytes"
DEFAULT_RETENTION_DAYS = 30
DEFAULT_MAX_SESSION = 20_000_000
#: a request's body as sent (the SDK keeps each under 1 MB) and its decompressed JSON
MAX_BODY = 1_048_576
MAX_EVENTS_BYTES = 16 * 1_048_576
CODEC = "zlib"
#: a session's blocks once compacted: one xz block (the first chunk's row); the others keep their key
COMPACT_CODEC, MERGED = "xz", "merged"
_DECODE = {CODEC: zlib.decompress, COMPACT_CODEC: lzma.decompress}
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_lock = threading.Lock()
_ready: weakref.WeakSet[Any] = weakref.WeakSet()  # stores whose replay tables exist


@dataclass(frozen=True)
class Chunk:
    """One validated chunk: its identity, time range and compressed block."""

    session_id: str
    seq: int
    anonymous_id: str | None
    user_id: str | None
    user_hash: str | None
    url: str | None
    first_ts: datetime
    last_ts: datetime
    events: int
    raw_bytes: int
    data: bytes


def session_id_ok(session_id: Any) -> str:
    """The session id, checked (it is used as an SQL literal: only ``[A-Za-z0-9_.:-]``, ≤ 128)."""
    if not isinstance(session_id, str) or not _ID.match(session_id):
        raise ParameterError(
            "sessionId", f"sessionId is {session_id!r}; expected 1-128 letters, digits or _.:- (a session id)"
        )
    return session_id


def _ms(ts: float) -> datetime:
    return datetime.fromtimestamp(ts / 1000, UTC).replace(tzinfo=None)


def _text(body: dict[str, Any], name: str, limit: int) -> str | None:
    v = body.get(name)
    if v is None or v == "":
        return None
    if not isinstance(v, str) or len(v) > limit:
        raise ParameterError(name, f"{name} is {str(v)[:80]!r}; expected a string of at most {limit} characters")
    return v


def parse_chunk(body: bytes) -> tuple[Chunk, dict[str, Any]]:
    """Request body (gzip or plain JSON) → a validated :class:`Chunk` and the decoded object (for its
    ``writeKey``). Errors name the field: 400 for a bad field, 413 for a body over the limits."""
    if len(body) > MAX_BODY:
        raise PayloadTooLargeError(
            f"replay chunk is {len(body):,} bytes, over the limit of {MAX_BODY:,}; send smaller chunks"
        )
    if body[:2] == b"\x1f\x8b":
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = d.decompress(body, MAX_EVENTS_BYTES + 1)
        except zlib.error:
            raise SchemaError("replay chunk starts like gzip but is not valid gzip; send gzip or plain JSON") from None
        if len(body) > MAX_EVENTS_BYTES or d.unconsumed_tail:
            raise PayloadTooLargeError(
                f"replay chunk is over {MAX_EVENTS_BYTES:,} bytes once decompressed; send smaller chunks"
            )
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise SchemaError(f"replay chunk is not valid JSON ({e}); send one JSON object") from None
    if not isinstance(obj, dict):
        raise SchemaError(f"replay chunk is a {type(obj).__name__}; expected a JSON object with sessionId, seq, events")
    sid = session_id_ok(obj.get("sessionId"))
    seq = obj.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 10_000_000:
        raise ParameterError("seq", f"seq is {seq!r}; expected a whole number 0-9999999 (the chunk's number)")
    events = obj.get("events")
    if not isinstance(events, list) or not events:
        raise ParameterError("events", "events is missing or empty; expected a list of rrweb events")
    stamps = []
    for i, e in enumerate(events):
        if not isinstance(e, dict) or not isinstance(e.get("type"), int):
            raise ParameterError(
                f"events[{i}].type", f"events[{i}] has no whole-number 'type'; expected an rrweb event"
            )
        ts = e.get("timestamp")
        if not isinstance(ts, int | float) or isinstance(ts, bool) or not 0 < ts < 1e14:
            raise ParameterError(
                f"events[{i}].timestamp", f"events[{i}].timestamp is {ts!r}; expected milliseconds since 1970"
            )
        stamps.append(ts)
    anon, user = _text(obj, "anonymousId", 256), _text(obj, "userId", 256)
    if anon is None and user is None:
        raise ParameterError("anonymousId", "anonymousId and userId are both missing; send at least one")
    raw = orjson.dumps(events)
    chunk = Chunk(
        session_id=sid,
        seq=seq,
        anonymous_id=anon,
        user_id=user,
        user_hash=_text(obj, "userHash", 256),
        url=_text(obj, "url", 2000),
        first_ts=_ms(min(stamps)),
        last_ts=_ms(max(stamps)),
        events=len(events),
        raw_bytes=len(raw),
        data=zlib.compress(raw, 9),
    )
    return chunk, obj


def decode(codec: str, data: bytes) -> list[dict[str, Any]]:
    """One block's events (``zlib`` or ``xz``)."""
    if codec not in _DECODE:
        raise SchemaError(f"replay block has codec {codec!r}; expected zlib or xz")
    return orjson.loads(_DECODE[codec](data))


def ensure_tables(store: Any) -> None:
    """Create the replay tables in a workspace made before they existed (schema version 4 has them)."""
    if store in _ready:
        return
    if store.has_table("replay_chunks") and store.has_table("replay_sessions"):
        _ready.add(store)
        return
    from cxlens.schema.ddl_behaviour import DDL

    with store.transaction() as cur:
        for stmt in DDL:
            if "replay_" in stmt:
                cur.execute(stmt)


def store_chunk(
    store: Any, chunk: Chunk, *, customer_id: str | None, received: datetime | None = None
) -> dict[str, Any]:
    """Commit one chunk (and its session's row); ``{"stored": False}`` when it was already there.

    Raises :class:`PayloadTooLargeError` (413) when the session would pass ``replay.max_session_bytes``."""
    ensure_tables(store)
    received = received or datetime.now(UTC).replace(tzinfo=None)
    cap = int(store.setting(MAX_SESSION, DEFAULT_MAX_SESSION))
    with _lock, store.transaction(changes=["replay_chunks", "replay_sessions"]) as cur:
        lit = f"'{chunk.session_id}'"  # validated by session_id_ok: a literal lets DuckDB use the key's index
        if cur.execute(f"SELECT 1 FROM replay_chunks WHERE session_id = {lit} AND seq = ?", [chunk.seq]).fetchone():
            return {"stored": False, "sessionId": chunk.session_id, "seq": chunk.seq}
        row = cur.execute(f"SELECT raw_bytes FROM replay_sessions WHERE session_id = {lit}").fetchone()
        held = row[0] if row else 0
        if held + chunk.raw_bytes > cap:
            raise PayloadTooLargeError(
                f"session {chunk.session_id!r} would hold {held + chunk.raw_bytes:,} bytes of replay, over the cap of "
                f"{cap:,} (setting {MAX_SESSION!r}); the rest of this session is not recorded",
                param="events",
            )
        cur.execute(
            "INSERT INTO replay_chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [chunk.session_id, chunk.seq, customer_id, chunk.anonymous_id, chunk.first_ts, chunk.last_ts,
             chunk.events, chunk.raw_bytes, CODEC, chunk.data, received],
        )  # fmt: skip
        if row is None:
            cur.execute(
                "INSERT INTO replay_sessions VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)",
                [chunk.session_id, customer_id, chunk.anonymous_id, chunk.first_ts, chunk.last_ts, chunk.url,
                 chunk.events, chunk.raw_bytes, len(chunk.data), received],
            )  # fmt: skip
        else:
            cur.execute(
                "UPDATE replay_sessions SET customer_id = coalesce(?, customer_id), "
                "anonymous_id = coalesce(anonymous_id, ?), started_at = least(started_at, ?), "
                "ended_at = greatest(ended_at, ?), url = CASE WHEN ? < started_at THEN coalesce(?, url) ELSE "
                "coalesce(url, ?) END, chunks = chunks + 1, events = events + ?, raw_bytes = raw_bytes + ?, "
                f"stored_bytes = stored_bytes + ?, received_at = ? WHERE session_id = {lit}",
                [customer_id, chunk.anonymous_id, chunk.first_ts, chunk.last_ts, chunk.first_ts, chunk.url, chunk.url,
                 chunk.events, chunk.raw_bytes, len(chunk.data), received],
            )  # fmt: skip
    return {"stored": True, "sessionId": chunk.session_id, "seq": chunk.seq}


def _blocks(store: Any, session_id: str) -> list[tuple[int, str, bytes]]:
    lit = f"'{session_id_ok(session_id)}'"
    return store.rows(f"SELECT seq, codec, data FROM replay_chunks WHERE session_id = {lit} ORDER BY seq")


def replay_events(store: Any, session_id: str) -> list[dict[str, Any]]:
    """The session's rrweb events in order (its blocks only, decompressed). 404 when none."""
    if store not in _ready and not store.has_table("replay_chunks"):
        raise NotFoundError(f"no replay of session {session_id!r}; replay is not recorded in this workspace yet")
    blocks = _blocks(store, session_id)
    if not blocks:
        raise NotFoundError(f"no replay of session {session_id!r}; see `cxlens replays list`")
    events: list[dict[str, Any]] = []
    for _, codec, data in blocks:
        if codec == MERGED:  # its events are in the session's compacted block
            continue
        if codec not in _DECODE:
            raise SchemaError(f"replay block of session {session_id!r} has codec {codec!r}; expected zlib or xz")
        events.extend(orjson.loads(_DECODE[codec](data)))
    events.sort(key=lambda e: e["timestamp"])  # chunks of two tabs may interleave
    return events


def replay_meta(store: Any, session_id: str) -> dict[str, Any]:
    """The session's row of ``replay_sessions`` (404 when it has no replay)."""
    lit = f"'{session_id_ok(session_id)}'"
    if not store.has_table("replay_sessions"):
        raise NotFoundError(f"no replay of session {session_id!r}; replay is not recorded in this workspace yet")
    frame = store.read(f"SELECT * FROM replay_sessions WHERE session_id = {lit}")
    if frame.empty:
        raise NotFoundError(f"no replay of session {session_id!r}; see `cxlens replays list`")
    row = frame.iloc[0].to_dict()
    row["duration_s"] = (row["ended_at"] - row["started_at"]).total_seconds()
    row["ratio"] = row["stored_bytes"] / row["raw_bytes"] if row["raw_bytes"] else None
    return row


def delete_replay(store: Any, session_id: str) -> int:
    """Delete one session's replay; returns the blocks deleted."""
    lit = f"'{session_id_ok(session_id)}'"
    ensure_tables(store)
    with store.transaction(changes=["replay_chunks", "replay_sessions"]) as cur:
        n = cur.execute(f"SELECT count(*) FROM replay_chunks WHERE session_id = {lit}").fetchone()[0]
        cur.execute(f"DELETE FROM replay_chunks WHERE session_id = {lit}")
        cur.execute(f"DELETE FROM replay_sessions WHERE session_id = {lit}")
    return n


def purge(store: Any, older_than_days: float | None = None, *, now: datetime | None = None) -> dict[str, int]:
    """Delete the replays of sessions that ended more than ``older_than_days`` ago (default: the
    workspace's ``replay.retention_days``, 30) — by the browser's timestamps and by the time the
    server last received a chunk, both; returns the sessions and blocks deleted."""
    days = store.setting(RETENTION, DEFAULT_RETENTION_DAYS) if older_than_days is None else older_than_days
    if isinstance(days, bool) or not isinstance(days, int | float) or days < 0:
        raise ParameterError("older_than", f"older_than is {days!r}; expected a number of days ≥ 0")
    ensure_tables(store)
    cutoff = (now or datetime.now(UTC).replace(tzinfo=None)) - timedelta(days=float(days))
    # ended by the browser's clock and last received by the server's: a browser whose clock is wrong
    # cannot make a session recorded today expire at once
    expired = "greatest(ended_at, coalesce(received_at, ended_at)) < ?"
    with store.transaction(changes=["replay_chunks", "replay_sessions"]) as cur:
        old = f"SELECT session_id FROM replay_sessions WHERE {expired}"
        blocks = cur.execute(f"SELECT count(*) FROM replay_chunks WHERE session_id IN ({old})", [cutoff]).fetchone()[0]
        sessions = cur.execute(f"SELECT count(*) FROM replay_sessions WHERE {expired}", [cutoff]).fetchone()[0]
        cur.execute(f"DELETE FROM replay_chunks WHERE session_id IN ({old})", [cutoff])
        cur.execute(f"DELETE FROM replay_sessions WHERE {expired}", [cutoff])
    return {"sessions": sessions, "blocks": blocks}


def recorded(store: Any, session_ids: list[str]) -> set[str]:
    """Which of these sessions have a replay (for links from other pages)."""
    ids = [s for s in session_ids if isinstance(s, str)]
    if not ids or not store.has_table("replay_sessions"):
        return set()
    rows = store.rows("SELECT session_id FROM replay_sessions WHERE session_id IN (SELECT unnest(?))", [ids])
    return {r[0] for r in rows}


#: a replay is "near" a moment (an answer, a ticket, a funnel step) when its session's span is at most
#: this far from it (our choice: a survey or a ticket usually follows the visit within a day)
NEAR_HOURS = 24.0


def replays_near(store: Any, moments: list[tuple[Any, Any]], max_hours: float = NEAR_HOURS) -> list[str | None]:
    """For each ``(customer_id, moment)``, that person's recorded session nearest in time — 0 when the
    moment falls inside the session, else the gap to its start or end — if within ``max_hours``;
    ``None`` otherwise. Ties go to the session that started later. One query for all the moments."""
    if isinstance(max_hours, bool) or not isinstance(max_hours, int | float) or not 0 <= max_hours <= 24 * 365:
        raise ParameterError("max_hours", f"max_hours is {max_hours!r}; expected a number of hours 0-8760")
    out: list[str | None] = [None] * len(moments)
    keys, customers, times = [], [], []
    for i, (cid, ts) in enumerate(moments):
        if cid is None or ts is None or (isinstance(ts, float) and ts != ts):
            continue
        try:
            t = ts if isinstance(ts, datetime) else datetime.fromisoformat(str(ts))
        except ValueError as exc:
            raise ParameterError("at", f"moment {ts!r} is not a date and time; expected ISO 8601") from exc
        keys.append(i)
        customers.append(str(cid))
        times.append(t.replace(tzinfo=None) if t.tzinfo is None else t.astimezone(UTC).replace(tzinfo=None))
    if not keys or not store.has_table("replay_sessions"):
        return out
    rows = store.rows(
        """WITH q AS (SELECT unnest(?) AS k, unnest(?) AS customer_id, unnest(?::TIMESTAMP[]) AS ts),
        d AS (SELECT q.k, r.session_id, r.started_at,
                     CASE WHEN q.ts < r.started_at THEN epoch(r.started_at) - epoch(q.ts)
                          WHEN q.ts > r.ended_at THEN epoch(q.ts) - epoch(r.ended_at) ELSE 0 END AS gap
              FROM q JOIN replay_sessions r ON r.customer_id = q.customer_id)
        SELECT k, arg_min(session_id, (gap, -epoch(started_at))) FROM d WHERE gap <= ? GROUP BY k""",
        [keys, customers, times, float(max_hours) * 3600],
    )
    for k, sid in rows:
        out[int(k)] = sid
    return out


def timeline_replays(
    store: Any, customer_id: str, rows: list[tuple[Any, Any]], max_hours: float = NEAR_HOURS
) -> list[tuple[str, bool] | None]:
    """For each ``(session_id, moment)`` row of one person's timeline (the customer 360): ``(the row's
    own session, True)`` when that session was recorded, else ``(the person's session nearest in time,
    False)`` within ``max_hours`` (:func:`replays_near`), else ``None``. Two queries for all the rows."""
    own = recorded(store, [s for s, _ in rows if isinstance(s, str) and s])
    need = [i for i, (s, _) in enumerate(rows) if s not in own]
    near = replays_near(store, [(customer_id, _moment(rows[i][1])) for i in need], max_hours)
    out: list[tuple[str, bool] | None] = [(s, True) if s in own else None for s, _ in rows]
    for i, sid in zip(need, near, strict=True):
        out[i] = None if sid is None else (sid, False)
    return out


def _moment(ts: Any) -> Any:
    return None if ts is None or ts != ts else ts  # NaN and NaT are not equal to themselves


def compact(store: Any, idle_minutes: float = 30, *, now: datetime | None = None) -> dict[str, int]:
    """Merge the blocks of each session idle for ``idle_minutes`` (no chunk received since) into one
    xz block: a session compresses far better whole than in 5-second chunks (``cxlens bench
    behaviour`` reports both ratios). The merged block takes the first chunk's row; the other rows
    keep their ``(session_id, seq)`` key with no data (codec ``merged``), so a late re-send of a chunk
    is still recognised; a chunk arriving later is stored as its own block and read with the rest.
    Returns the sessions compacted and the blocks before and after."""
    if isinstance(idle_minutes, bool) or not isinstance(idle_minutes, int | float) or idle_minutes < 0:
        raise ParameterError("idle_minutes", f"idle_minutes is {idle_minutes!r}; expected a number of minutes ≥ 0")
    ensure_tables(store)
    cutoff = (now or datetime.now(UTC).replace(tzinfo=None)) - timedelta(minutes=float(idle_minutes))
    todo = store.rows(
        "SELECT c.session_id FROM replay_chunks c JOIN replay_sessions s USING (session_id) "
        "WHERE s.received_at < ? AND c.codec <> ? GROUP BY c.session_id HAVING count(*) > 1",
        [cutoff, MERGED],
    )
    out = {"sessions": 0, "blocks_before": 0, "blocks_after": 0}
    for (sid,) in todo:
        lit = f"'{session_id_ok(sid)}'"
        with _lock, store.transaction(changes=["replay_chunks", "replay_sessions"]) as cur:
            blocks = cur.execute(
                f"SELECT seq, codec, data FROM replay_chunks WHERE session_id = {lit} AND codec <> ? ORDER BY seq",
                [MERGED],
            ).fetchall()
            if len(blocks) < 2:
                continue
            events: list[Any] = []
            for _, codec, data in blocks:
                events.extend(orjson.loads(_DECODE[codec](data)))
            events.sort(key=lambda e: e["timestamp"])
            merged = lzma.compress(orjson.dumps(events), preset=6)
            first = blocks[0][0]
            others = [b[0] for b in blocks[1:]]
            cur.execute(
                f"UPDATE replay_chunks SET data = NULL, codec = ? WHERE session_id = {lit} AND seq IN (SELECT unnest(?))",
                [MERGED, others],
            )
            cur.execute(
                f"UPDATE replay_chunks SET data = ?, codec = ? WHERE session_id = {lit} AND seq = ?",
                [merged, COMPACT_CODEC, first],
            )
            stored = cur.execute(
                f"SELECT coalesce(sum(octet_length(data)), 0) FROM replay_chunks WHERE session_id = {lit}"
            ).fetchone()[0]
            cur.execute(f"UPDATE replay_sessions SET stored_bytes = ? WHERE session_id = {lit}", [stored])
        out["sessions"] += 1
        out["blocks_before"] += len(blocks)
        out["blocks_after"] += 1
    return out


# -- upkeep ----------------------------------------------------------------------------------------
#: the job that compacts idle sessions and deletes those past retention, and its schedule
MAINTAIN_KIND = "replay.maintain"
MAINTAIN_CRON = "*/15 * * * *"
#: minutes without a chunk after which the upkeep job compacts a session (default 30)
COMPACT_IDLE = "replay.compact_idle_minutes"
DEFAULT_COMPACT_IDLE = 30


@task(MAINTAIN_KIND, max_attempts=2, lease=1800.0)
def maintain(ctx: JobContext) -> dict[str, Any]:
    """Compact the replays of sessions idle for ``replay.compact_idle_minutes`` and delete those older
    than ``replay.retention_days``: what keeps replays at their compact size without anyone running
    ``cxlens replays compact`` (each step is its own transaction and safe to repeat, so a job cut
    short and run again finishes the work)."""
    idle = ctx.store.setting(COMPACT_IDLE, DEFAULT_COMPACT_IDLE)
    if isinstance(idle, bool) or not isinstance(idle, int | float) or idle < 0:
        raise ParameterError(COMPACT_IDLE, f"setting {COMPACT_IDLE!r} is {idle!r}; expected a number of minutes ≥ 0")
    compacted = compact(ctx.store, idle)
    purged = purge(ctx.store)
    return {"compacted": compacted, "purged": purged}


@schedule_source
def _upkeep(store: Any) -> list[Schedule]:
    """Every job runner (``cxlens serve``, ``cxlens collect``, ``cxlens jobs run``) queues the upkeep
    every 15 minutes in a workspace that records replays."""
    if not store.has_table("replay_sessions") or store.one("SELECT 1 FROM replay_sessions LIMIT 1") is None:
        return []
    return [schedule(MAINTAIN_KIND, MAINTAIN_CRON, MAINTAIN_KIND)]
