"""Surveys in a workspace: definitions, eligibility, responses (merged partials) and exposures.

A response lands as ONE canonical ``feedback`` row as soon as it has a score (or, for a text
survey, a comment); a later partial (the comment, extra answers, a changed score) updates that
row, and the ``feedback_rollup`` cube is adjusted in the same transaction, so metrics read from
the rollup and from a scan agree.

>>> import cxlens
>>> from cxlens.surveys import store
>>> ws = cxlens.open(":memory:")
>>> _ = store.create_survey(ws, {"id": "s1", "name": "S", "metric": "nps", "question": "?", "status": "active"})
>>> _ = store.record_response(ws, "s1", response_id="r1", anonymous_id="a1", score=9)
>>> _ = store.record_response(ws, "s1", response_id="r1", anonymous_id="a1", comment="great")
>>> ws.sql("SELECT score, comment FROM feedback").values.tolist()
[[9.0, 'great']]
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import weakref
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import pandas as pd

from cxlens.errors import (
    ConfigError,
    LinkGoneError,
    NotFoundError,
    PayloadTooLargeError,
    ResponseConflictError,
    SchemaError,
)
from cxlens.store import Store, hooks, rollup
from cxlens.store.group import GroupCommit
from cxlens.surveys.definition import SurveyDefinition, condition_holds, load_definition
from cxlens.surveys.targeting import History, eligibility, pick_language, tab_eligible

__all__ = [
    "MAX_COMMENT",
    "ResponseConflictError",
    "create_survey",
    "eligible_surveys",
    "get_survey",
    "group_call",
    "list_surveys",
    "record_exposure",
    "record_response",
    "set_status",
    "submit_response",
    "update_survey",
]

MAX_COMMENT = 5000
MAX_ID = 200
T = TypeVar("T")
#: channels a survey may name besides those of the workspace journey
KNOWN_CHANNELS = ("web", "mobile_app", "email", "store", "phone", "chat", "social", "review_site", "sms", "link")


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# -- definitions -------------------------------------------------------------------------
def validate_against_journey(ws: Store, d: SurveyDefinition) -> SurveyDefinition:
    """Check touchpoint and channel against the workspace journey; fill a missing channel from it."""
    j = ws.journey
    tps = {t.id: t for t in j.touchpoints}
    if d.touchpoint is not None and d.touchpoint not in tps:
        raise ConfigError(
            f"survey field 'touchpoint' is {d.touchpoint!r}; expected a touchpoint of the workspace journey "
            f"({', '.join(sorted(tps))}) — add it with `cxlens journey` first"
        )
    channels = sorted({t.channel for t in j.touchpoints} | set(KNOWN_CHANNELS))
    if d.channel is not None and d.channel not in channels:
        raise ConfigError(f"survey field 'channel' is {d.channel!r}; expected one of {', '.join(channels)}")
    if d.channel is None and d.touchpoint is not None:
        data = d.to_dict()
        data["channel"] = tps[d.touchpoint].channel
        d = SurveyDefinition.from_dict(data)
    return d


def create_survey(ws: Store, source: Any) -> SurveyDefinition:
    """Validate a definition (dict, YAML/JSON text or file) and store it; the id must be new."""
    d = validate_against_journey(ws, load_definition(source))
    with ws.transaction(changes=["surveys"]) as cur:
        if cur.execute("SELECT 1 FROM surveys WHERE survey_id = ?", [d.id]).fetchone():
            raise ConfigError(f"survey {d.id!r} already exists; use `cxlens survey update {d.id}` or pick another id")
        now = now_utc()
        cur.execute(
            "INSERT INTO surveys VALUES (?, ?, ?, ?, ?, ?)", [d.id, d.name, d.status, json.dumps(d.to_dict()), now, now]
        )
    return d


def update_survey(ws: Store, survey_id: str, source: Any) -> SurveyDefinition:
    """Replace a survey's definition (its id cannot change)."""
    get_survey(ws, survey_id)
    d = validate_against_journey(ws, load_definition(source))
    if d.id != survey_id:
        raise ConfigError(f"survey field 'id' is {d.id!r} but the survey being updated is {survey_id!r}; keep the id")
    _write(ws, d)
    return d


def set_status(ws: Store, survey_id: str, status: str) -> SurveyDefinition:
    """Pause, resume (``active``) or return a survey to draft."""
    d = get_survey(ws, survey_id).with_status(status)
    _write(ws, d)
    return d


def _write(ws: Store, d: SurveyDefinition) -> None:
    with ws.transaction(changes=["surveys"]) as cur:
        cur.execute(
            "UPDATE surveys SET name = ?, status = ?, definition = ?, updated_at = ? WHERE survey_id = ?",
            [d.name, d.status, json.dumps(d.to_dict()), now_utc(), d.id],
        )


def _read_survey(ws: Store, survey_id: str) -> SurveyDefinition | None:
    row = ws.one("SELECT definition FROM surveys WHERE survey_id = ?", [survey_id])
    return None if row is None else SurveyDefinition.from_dict(json.loads(row[0]))


def get_survey(ws: Store, survey_id: str) -> SurveyDefinition:
    # cached until the surveys table changes (every answer reads its survey; definitions change rarely)
    memo = getattr(getattr(ws, "store", ws), "memo", None)
    d = (
        memo(("survey", survey_id), ("surveys",), lambda: _read_survey(ws, survey_id))
        if memo
        else _read_survey(ws, survey_id)
    )
    if d is None:
        raise NotFoundError(f"no survey {survey_id!r} in this workspace; list them with `cxlens survey list`")
    return d


def list_surveys(ws: Store) -> pd.DataFrame:
    """One row per survey: id, name, metric, status, touchpoint, responses, impressions, updated_at."""
    df = ws.read(
        """SELECT s.survey_id, s.name, json_extract_string(s.definition, '$.metric') AS metric, s.status,
                  json_extract_string(s.definition, '$.touchpoint') AS touchpoint,
                  (SELECT count(*) FROM survey_responses r WHERE r.survey_id = s.survey_id
                     AND r.feedback_id IS NOT NULL) AS responses,
                  (SELECT count(*) FROM survey_exposures e WHERE e.survey_id = s.survey_id
                     AND e.kind = 'impression') AS impressions,
                  s.updated_at
           FROM surveys s ORDER BY s.created_at, s.survey_id"""
    )
    return df


# -- eligibility ---------------------------------------------------------------------------
#: ``person`` of a response or exposure made under an anonymous id only (a namespace of its own: an
#: anonymous id equal to some customer's id never counts for that customer)
ANON = "anon:"


def _people(customer_id: str | None, anonymous_id: str | None) -> list[str]:
    """The ``person`` values this visitor's rows are stored under (their customer id, their anonymous id)."""
    return [p for p in (customer_id, ANON + anonymous_id if anonymous_id else None) if p]


def person_of(customer_id: str | None, anonymous_id: str | None) -> str:
    """The ``person`` a response or exposure is stored under: the customer id, else ``anon:<anonymous id>``."""
    if not customer_id and not anonymous_id:
        raise SchemaError("field 'anonymousId' (or 'userId') is missing; send the visitor's id")
    for name, p in (("userId", customer_id), ("anonymousId", anonymous_id)):
        if p is not None and not isinstance(p, str):
            raise SchemaError(f"field {name!r} is {type(p).__name__}; expected text")
        if p and len(p) > MAX_ID:
            raise PayloadTooLargeError(f"field {name!r} is {len(p)} characters; at most {MAX_ID}")
    return _people(customer_id, anonymous_id)[0]


def history(ws: Store, survey_id: str, customer_id: str | None, anonymous_id: str | None) -> History:
    """What the server knows of this visitor (their customer id and/or anonymous id) and survey ``survey_id``,
    in one query. Each id is matched only where it means the same thing: the customer id against
    ``customer_id`` and customer persons, the anonymous id against ``anonymous_id`` and ``anon:`` persons."""
    people = _people(customer_id, anonymous_id) or [""]
    marks = ", ".join("?" for _ in people)
    mine = f"(customer_id = ? OR anonymous_id = ? OR person IN ({marks}))"
    ids = [customer_id, anonymous_id, *people]
    row = ws.one(
        f"""SELECT count(*) FILTER (WHERE {mine}), max(updated_at) FILTER (WHERE {mine}), count(*),
                   (SELECT max(ts) FROM survey_exposures WHERE survey_id = ? AND person IN ({marks}))
            FROM survey_responses WHERE survey_id = ? AND feedback_id IS NOT NULL""",
        [*ids, *ids, survey_id, *people, survey_id],
    )
    answered, last_answer, total, seen = row
    last = max([t for t in (seen, last_answer) if t is not None], default=None)
    return History(responded=answered > 0, last_seen=last, responses_total=int(total))


def eligible_surveys(
    ws: Store,
    *,
    anonymous_id: str | None = None,
    customer_id: str | None = None,
    url: str | None = None,
    event: str | None = None,
    language: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Surveys to show this person now, localised, after every targeting and fatigue rule.

    Returns
    -------
    dict
        ``surveys``: localised definitions for the widget (``trigger.delay_seconds`` tells it how
        long to wait); ``watch_events``: event names that could make another active survey
        eligible on this page (the widget asks again when one is tracked); ``feedback_tab``: a
        survey to offer behind an always-available tab, or None.
    """
    person_of(customer_id, anonymous_id)  # checks the ids
    person = customer_id or anonymous_id  # sampling: the same visitor always falls on the same side
    now = now or now_utc()
    rows = ws.rows("SELECT definition FROM surveys WHERE status = 'active' ORDER BY created_at")
    out: list[dict[str, Any]] = []
    watch: set[str] = set()
    tab = None
    for (text,) in rows:
        d = SurveyDefinition.from_dict(json.loads(text))
        h = history(ws, d.id, customer_id, anonymous_id)
        reason = eligibility(d, person, h, now=now, url=url, event=event)
        lang = pick_language(language, list(d.translations), d.language)
        if reason is None:
            out.append(d.localised(lang))
        elif reason.startswith("waits for event") and event is None:
            # would it be eligible once its event arrives? then the widget should watch for it
            trig = d.targeting["trigger"]["event"]
            if eligibility(d, person, h, now=now, url=url, event=trig) is None:
                watch.add(trig)
        if tab is None and event is None and tab_eligible(d, h, now=now, url=url):
            tab = d.localised(lang)
    return {"surveys": out, "watch_events": sorted(watch), "feedback_tab": tab}


def record_exposure(
    ws: Store, survey_id: str, kind: str, *, anonymous_id: str | None = None, customer_id: str | None = None
) -> None:
    """Record that a person saw (``impression``) or closed (``dismiss``) a survey, for fatigue rules."""
    if kind not in ("impression", "dismiss"):
        raise SchemaError(f"field 'kind' is {kind!r}; expected impression or dismiss")
    person = person_of(customer_id, anonymous_id)
    if get_survey(ws, survey_id).status != "active":
        raise ResponseConflictError(f"survey {survey_id!r} is not active; it records no impressions or dismissals")
    with ws.transaction(changes=["survey_exposures"]) as cur:
        cur.execute("INSERT INTO survey_exposures VALUES (?, ?, ?, ?)", [survey_id, person, kind, now_utc()])


# -- responses -----------------------------------------------------------------------------
def feedback_id_of(survey_id: str, response_id: str) -> str:
    return "svy_" + hashlib.sha256(f"{survey_id}\x00{response_id}".encode()).hexdigest()[:24]


def _check_score(d: SurveyDefinition, score: Any) -> float | None:
    if score is None:
        return None
    if d.metric == "text":
        raise SchemaError(f"field 'score' is {score!r} but survey {d.id!r} is a text survey; send only 'comment'")
    lo, hi = d.scale or (0, 0)
    try:
        v = float(score)
    except (TypeError, ValueError):
        v = float("nan")
    if isinstance(score, bool) or not (lo <= v <= hi) or v != int(v):
        raise SchemaError(f"field 'score' is {score!r}; expected a whole number from {lo} to {hi} for {d.metric}")
    return v


def _check_text(name: str, v: Any, limit: int = MAX_COMMENT) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str):
        raise SchemaError(f"field {name!r} is {type(v).__name__}; expected text")
    if len(v) > limit:
        raise PayloadTooLargeError(f"field {name!r} is {len(v)} characters; at most {limit} are accepted, shorten it")
    return v.strip() or None


def _check_answers(d: SurveyDefinition, answers: Any) -> dict[str, Any]:
    if answers is None:
        return {}
    if not isinstance(answers, dict):
        raise SchemaError(f"field 'answers' is {type(answers).__name__}; expected a mapping of question id → answer")
    qs = {q.id: q for q in d.questions}
    out: dict[str, Any] = {}
    for k, v in answers.items():
        q = qs.get(k)
        if q is None:
            raise SchemaError(f"field 'answers.{k}' names no question of survey {d.id!r}; expected one of {list(qs)}")
        if q.type == "choice" and v not in q.options:
            raise SchemaError(f"field 'answers.{k}' is {v!r}; expected one of {list(q.options)}")
        if q.type == "rating" and (not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 5):
            raise SchemaError(f"field 'answers.{k}' is {v!r}; expected a whole number from 1 to 5")
        out[k] = _check_text(f"answers.{k}", v) if q.type == "text" else v
    return out


def record_response(
    ws: Store,
    survey_id: str,
    *,
    response_id: str,
    anonymous_id: str | None = None,
    customer_id: str | None = None,
    score: Any = None,
    comment: Any = None,
    answers: Any = None,
    language: str | None = None,
    url: str | None = None,
    link_id: str | None = None,
    channel: str | None = None,
    now: datetime | None = None,
    finish: bool = False,
) -> dict[str, Any]:
    """Add a response or merge a partial into it (same ``response_id``), all in one transaction.

    Sending the same partial twice changes nothing (idempotent on the client's response id).
    A new response from a person who already answered a once-per-person survey is refused
    with :class:`ResponseConflictError` (409), and so is any answer or change while the survey is
    not active (paused, draft). ``finish`` closes the response: later changes are refused with
    :class:`~cxlens.errors.LinkGoneError` (410) — the hosted page's last step, so its form cannot be
    replayed to rewrite the comment.

    Returns
    -------
    dict
        ``response_id``, ``feedback_id`` (None until the response has a score), ``score``,
        ``comment``, ``answers``, ``follow_up`` (wording to ask next) and ``created`` (new response).
    """
    d = get_survey(ws, survey_id)
    rid = _check_text("responseId", response_id, MAX_ID)
    if not rid:
        raise SchemaError("field 'responseId' is missing; send a client-generated id (e.g. a UUID) per response")
    person = person_of(customer_id, anonymous_id)
    v_score = _check_score(d, score)
    v_comment = _check_text("comment", comment)
    v_answers = _check_answers(d, answers)
    lang = _check_text("language", language, 35)
    url = _check_text("url", url, 2000)
    now = now or now_utc()
    done = f"done:{survey_id}:{rid}"  # a survey_links row closing the response (hosted page's last step)
    with ws.transaction(changes=["survey_responses", "survey_links", "feedback"]) as raw:
        old, closed = _stored_response(raw, survey_id, rid, done)
        if closed:
            raise LinkGoneError("this response is complete and cannot be changed; thank you for your answer")
        if d.status != "active":
            # a paused (or draft) survey: nothing new, nothing changed; a started response may only be
            # completed (a missing comment, answers to questions not answered yet)
            changes = (
                old is None
                or (v_score is not None and v_score != old[1])
                or (v_comment is not None and old[2] is not None and v_comment != old[2])
                or any(k in json.loads(old[3] or "{}") and json.loads(old[3])[k] != v for k, v in v_answers.items())
            )
            if changes:
                raise ResponseConflictError(
                    f"survey {survey_id!r} is {d.status}; its responses cannot be added or changed"
                )
        if old is None:
            once, mx = d.targeting.get("once_per_person", True), d.targeting.get("max_responses")
            # the history is read only when a rule needs it (a query over the survey's responses)
            if once or mx is not None:
                _flush_responses(raw)  # the batch's earlier answers count (a person answering twice in one batch)
            h = history(ws, survey_id, customer_id, anonymous_id) if once or mx is not None else None
            if once and h.responded:
                raise ResponseConflictError(f"this person already answered survey {survey_id!r}; one response each")
            if mx is not None and h.responses_total >= mx:
                raise ResponseConflictError(f"survey {survey_id!r} has its {mx} responses; it accepts no more")
            if (
                link_id is not None
                and raw.execute("SELECT 1 FROM survey_links WHERE link_id = ?", [link_id]).fetchone()
            ):
                raise ResponseConflictError("this survey link was already used; each personal link answers once")
            merged_answers = v_answers
            cur = {"score": v_score, "comment": v_comment, "fid": None, "created": now}
        else:
            if old[0] not in (*_people(customer_id, anonymous_id), anonymous_id):  # raw: rows before "anon:"
                raise ResponseConflictError(f"field 'responseId' {rid!r} belongs to another person; use a new id")
            merged_answers = {**json.loads(old[3] or "{}"), **v_answers}
            cur = {
                "score": v_score if v_score is not None else old[1],
                "comment": v_comment if v_comment is not None else old[2],
                "fid": old[4],
                "created": old[5],
            }
        ready = cur["score"] is not None or (d.metric == "text" and cur["comment"] is not None)
        fid = cur["fid"] or (feedback_id_of(survey_id, rid) if ready else None)
        props = {k: v for k, v in {
            "anonymous_id": anonymous_id, "response_id": rid, "language": lang, "url": url,
            "answers": merged_answers or None, "link_id": link_id,
            "choice": d.options[int(cur["score"]) - 1] if d.metric == "choice" and cur["score"] else None,
        }.items() if v is not None}  # fmt: skip
        row = {
            "feedback_id": fid, "customer_id": customer_id, "ts": cur["created"], "metric": d.metric,
            "score": cur["score"], "comment": cur["comment"], "touchpoint": d.touchpoint,
            "channel": channel or d.channel, "stage": ws.journey.stage_of().get(d.touchpoint or ""),
            "survey_id": survey_id, "properties": json.dumps(props, ensure_ascii=False),
        }  # fmt: skip
        if old is None:
            values = [survey_id, rid, person, customer_id, anonymous_id, cur["score"], cur["comment"],
                      json.dumps(merged_answers), lang, url, fid, link_id, now, now]  # fmt: skip
            if _batched():
                _BATCH.responses.append(values)  # one multi-row insert for the batch (see _batch_scope)
            else:
                raw.execute(f"INSERT INTO survey_responses VALUES {_ROW14}", values)
            if link_id is not None:
                raw.execute("INSERT INTO survey_links VALUES (?, ?, ?, ?)", [link_id, survey_id, customer_id, now])
        else:
            raw.execute(
                "UPDATE survey_responses SET score = ?, comment = ?, answers = ?, feedback_id = ?, "
                "language = coalesce(?, language), updated_at = ? WHERE survey_id = ? AND response_id = ?",
                [cur["score"], cur["comment"], json.dumps(merged_answers), fid, lang, now, survey_id, rid],
            )
        if finish:
            raw.execute("INSERT INTO survey_links VALUES (?, ?, ?, ?)", [done, survey_id, customer_id, now])
        if fid is not None:
            _write_feedback(
                raw,
                row,
                old_score=old[1] if old is not None and old[4] else None,
                exists=bool(cur["fid"]),
            )
            if not cur["fid"] and not _batched():  # a new answer: its rules fire in this transaction (cxlens.act)
                hooks.inserted(ws, raw, "feedback", "SELECT * FROM feedback WHERE feedback_id = ?", [fid], rows=[row])
    return {
        "response_id": rid,
        "feedback_id": fid,
        "score": cur["score"],
        "comment": cur["comment"],
        "answers": merged_answers,
        "follow_up": d.follow_up_for(cur["score"]),
        "next_questions": [q.id for q in d.questions if condition_holds(q.show_if, cur["score"])],
        "created": old is None,
    }


_DIMS = rollup.DIMENSIONS
_ROW14 = "(" + ", ".join("?" for _ in range(14)) + ")"
_STORED = "SELECT person, score, comment, answers, feedback_id, created_at FROM survey_responses"


def _stored_response(raw: Any, survey_id: str, rid: str, done: str) -> tuple[tuple | None, bool]:
    """The stored response (person, score, comment, answers, feedback id, created) or None, and whether
    it is closed — from the batch's prefetch when the answer runs in a group-commit batch, else two
    primary-key lookups (a single statement joining both was 3-6× slower in DuckDB: no index use)."""
    pre = getattr(_BATCH, "found", None)
    if pre is not None and (survey_id, rid) in pre:
        return pre[(survey_id, rid)], done in _BATCH.closed
    old = raw.execute(f"{_STORED} WHERE survey_id = ? AND response_id = ?", [survey_id, rid]).fetchone()
    closed = raw.execute("SELECT 1 FROM survey_links WHERE link_id = ?", [done]).fetchone() is not None
    return old, closed


def _prefetch(cur: Any, keys: list[Any]) -> None:
    """Read the batch's stored responses and closing links in two statements (one per table) for
    :func:`_stored_response`; every key of a batch is distinct (GroupCommit)."""
    pairs = [k for k in keys if isinstance(k, tuple) and len(k) == 2 and all(isinstance(x, str) for x in k)]
    _BATCH.found = dict.fromkeys(pairs)
    _BATCH.closed = set()
    if not pairs:
        return
    rows = cur.execute(
        "SELECT survey_id, response_id, person, score, comment, answers, feedback_id, created_at FROM survey_responses "
        "WHERE (survey_id, response_id) IN (SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]))",
        [[a for a, _ in pairs], [b for _, b in pairs]],
    ).fetchall()
    for r in rows:
        _BATCH.found[(r[0], r[1])] = tuple(r[2:])
    done = [f"done:{a}:{b}" for a, b in pairs]
    _BATCH.closed = {r[0] for r in cur.execute(
        "SELECT link_id FROM survey_links WHERE link_id IN (SELECT unnest(?::VARCHAR[]))", [done]).fetchall()}  # fmt: skip


def _flush_responses(raw: Any) -> None:
    """Insert the batch's new responses collected so far (one statement per 200)."""
    pending = getattr(_BATCH, "responses", None)
    if not pending:
        return
    _BATCH.responses = []
    for at in range(0, len(pending), 200):
        part = pending[at : at + 200]
        raw.execute(f"INSERT INTO survey_responses VALUES {', '.join([_ROW14] * len(part))}",
                    [v for row in part for v in row])  # fmt: skip


def _write_feedback(raw: Any, row: dict[str, Any], *, old_score: float | None, exists: bool) -> None:
    """Insert or update the response's feedback row and keep ``feedback_rollup`` in step (inside a transaction)."""
    cols = list(row)
    if not exists and _batched():
        _BATCH.rows.append(row)  # inserted with the batch's other new answers (see _batch_scope)
        return
    if not exists:
        raw.execute(f"INSERT INTO feedback ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                    [row[c] for c in cols])  # fmt: skip
        rollup.adjust(raw, row, row["score"], +1)
        return
    stored = raw.execute(
        f"SELECT ts, {', '.join(_DIMS)} FROM feedback WHERE feedback_id = ?", [row["feedback_id"]]
    ).fetchone()
    raw.execute(
        "UPDATE feedback SET score = ?, comment = ?, properties = ?, customer_id = coalesce(?, customer_id) "
        "WHERE feedback_id = ?",
        [row["score"], row["comment"], row["properties"], row["customer_id"], row["feedback_id"]],
    )
    if stored is not None and old_score != row["score"]:
        key = dict(zip(("ts", *_DIMS), stored, strict=True))  # the dimensions the row was counted under
        rollup.adjust(raw, key, old_score, -1)
        rollup.adjust(raw, key, row["score"], +1)


# -- group commit of answers ---------------------------------------------------------------
#: the new feedback rows of the group-commit batch open on this thread (see :func:`submit_response`)
_BATCH = threading.local()
_GROUPS: weakref.WeakKeyDictionary[Any, GroupCommit] = weakref.WeakKeyDictionary()
_GROUPS_LOCK = threading.Lock()


def _batched() -> bool:
    return getattr(_BATCH, "rows", None) is not None


@contextlib.contextmanager
def _batch_scope(ws: Any, cur: Any, keys: list[Any]) -> Iterator[None]:
    """Inside a batch's transaction: the batch's stored responses are read up front (two statements),
    new responses and their feedback rows are collected, then written with one multi-row INSERT
    each, counted into the rollup with one MERGE and handed to the insert hooks (the act rules) once
    — all in the batch's transaction."""
    _BATCH.rows = []
    _BATCH.responses = []
    try:
        _prefetch(cur, keys)
        yield
        _flush_responses(cur)
        rows: list[dict[str, Any]] = _BATCH.rows
        _BATCH.rows = None
        if not rows:
            return
        cols = list(rows[0])
        one = "(" + ", ".join("?" for _ in cols) + ")"
        for at in range(0, len(rows), 200):
            part = rows[at : at + 200]
            cur.execute(f"INSERT INTO feedback ({', '.join(cols)}) VALUES {', '.join([one] * len(part))}",
                        [r[c] for r in part for c in cols])  # fmt: skip
        ids = [r["feedback_id"] for r in rows]
        rollup.add_rows(cur, rows)  # counted from the rows inserted (no scan of feedback to find them)
        hooks.inserted(ws, cur, "feedback", "SELECT * FROM feedback WHERE list_contains(?::VARCHAR[], feedback_id)",
                       [ids], rows=rows)  # fmt: skip
    finally:
        _BATCH.rows = _BATCH.responses = _BATCH.found = None
        _BATCH.closed = set()


def _group(ws: Any) -> GroupCommit | None:
    store = getattr(ws, "store", ws)
    if getattr(store, "is_remote", False) or not hasattr(store, "on_close"):
        return None  # a client of a server: the server groups its own writes
    with _GROUPS_LOCK:
        g = _GROUPS.get(store)
        if g is None:
            g = _GROUPS[store] = GroupCommit(
                store, changes=["survey_responses", "survey_links", "feedback"],
                scope=lambda cur, keys: _batch_scope(store, cur, keys), name="cxlens-survey-answers")  # fmt: skip
            store.on_close(lambda: (_GROUPS.pop(store, None), g.close()))
    return g


def group_call(ws: Any, fn: Callable[[], T]) -> T:
    """Run ``fn()`` — a small write of its own ``ws.transaction()`` — in the next transaction of the
    workspace's survey-answer group commit, and return its result once that committed: another busy
    writer (the alert delivery pump recording each round) shares the answers' commit instead of
    taking the write lock between their batches for a commit of its own. Same guarantee as a plain
    transaction; ``fn`` must be safe to run again after a rollback (see :class:`GroupCommit`)."""
    g = _group(ws)
    return fn() if g is None else g.call(fn)


def submit_response(ws: Store, survey_id: str, **kwargs: Any) -> dict[str, Any]:
    """:func:`record_response` through the workspace's group commit: answers arriving together (the
    widget endpoint under load) share one transaction — one commit, one multi-row insert of their
    feedback rows, one rollup merge, one pass of the act rules — and each is acknowledged only after
    that transaction committed. Two partials of one response never share a batch. Same arguments,
    result and errors as :func:`record_response`."""
    g = _group(ws)
    if g is None:
        return record_response(ws, survey_id, **kwargs)
    get_survey(ws, survey_id)  # outside the batch's transaction: an unknown survey fails here, a known one is cached
    return g.call(lambda: record_response(ws, survey_id, **kwargs), key=(survey_id, kwargs.get("response_id")))
