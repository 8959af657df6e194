"""Tags and highlights on interview passages, and the tags across interviews (``ws.interviews.tag``…).

A tag names a passage: a turn of an interview, or the characters ``[start, end)`` of its text. A
highlight is a tagged passage marked as a key quote. Tag names are trimmed and lower-cased (``Late
delivery`` and ``late delivery`` are one tag); notes are stored with personal data redacted. The tag
rows carry the interview's ``customer_id``, so erasing the customer erases them.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import pandas as pd

from cxlens.errors import NotFoundError, ParameterError
from cxlens.schema.ddl_learn import INTERVIEWS
from cxlens.schema.redact import redact

__all__ = ["tag", "tag_summary", "tags", "untag"]

_TAG = re.compile(r"^[\w][\w \-/&'.]{0,63}$")


def _ensure(cur: Any) -> None:
    cur.execute(next(d for d in INTERVIEWS if "interview_tags" in d))  # workspaces made before the table


def tag(store: Any, interview_id: str, turn: int, name: str, *, start: int | None = None, end: int | None = None,
        note: str | None = None, highlight: bool = False) -> dict[str, Any]:  # fmt: skip
    """Tag turn ``turn`` (0-based, as ``interviews turns`` shows) of ``interview_id``, or its characters
    ``[start, end)``; returns the stored tag with its passage."""
    label = " ".join(str(name or "").split()).lower()
    if not _TAG.match(label):
        raise ParameterError("tag", f"tag is {name!r}; expected 1-64 letters, digits, spaces or - / & ' .")
    row = store.one("SELECT customer_id FROM interviews WHERE interview_id = ?", [interview_id])
    if row is None:
        raise NotFoundError(f"interview {interview_id!r} not found; see `cxlens interviews list`")
    text = store.scalar("SELECT text FROM interview_turns WHERE interview_id = ? AND turn = ?", [interview_id, turn])
    if text is None:
        raise ParameterError("turn", f"turn is {turn!r}; interview {interview_id!r} has no such turn")
    if (start is None) != (end is None):
        raise ParameterError("start", "give both start and end (characters of the turn's text), or neither")
    if start is not None and not (0 <= start < end <= len(text)):
        raise ParameterError("start", f"start/end are {start}/{end}; expected 0 ≤ start < end ≤ {len(text)} "
                             "(the turn's length)")  # fmt: skip
    clean_note = redact(note.strip()) if note and note.strip() else None
    tid = uuid.uuid4().hex[:12]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with store.transaction(changes=["interview_tags"]) as cur:
        _ensure(cur)
        cur.execute("INSERT INTO interview_tags VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [tid, interview_id, row[0], turn, start, end, label, bool(highlight), clean_note, now])  # fmt: skip
    return tags(store, interview_id=interview_id).set_index("tag_id").loc[tid].to_dict() | {"tag_id": tid}


def tags(store: Any, *, interview_id: str | None = None, name: str | None = None,
         highlights: bool = False) -> pd.DataFrame:  # fmt: skip
    """Stored tags with their passage (the tagged characters, or the whole turn), speaker and role."""
    cols = ["tag_id", "interview_id", "customer_id", "turn", "speaker", "role", "tag", "highlight", "note",
            "start_char", "end_char", "passage", "created_at"]  # fmt: skip
    if not store.has_table("interview_tags"):
        return pd.DataFrame(columns=cols)
    where, params = ["TRUE"], []
    if interview_id:
        where.append("g.interview_id = ?")
        params.append(interview_id)
    if name:
        where.append("g.tag = ?")
        params.append(" ".join(name.split()).lower())
    if highlights:
        where.append("g.highlight")
    df = store.read(
        "SELECT g.tag_id, g.interview_id, g.customer_id, g.turn, t.speaker, t.role, g.tag, g.highlight, g.note, "
        "g.start_char, g.end_char, CASE WHEN g.start_char IS NULL THEN t.text "
        "ELSE substr(t.text, g.start_char + 1, g.end_char - g.start_char) END AS passage, g.created_at "
        "FROM interview_tags g JOIN interview_turns t ON t.interview_id = g.interview_id AND t.turn = g.turn "
        f"WHERE {' AND '.join(where)} ORDER BY g.interview_id, g.turn, g.start_char NULLS FIRST, g.tag",
        params,
    )
    return df[cols]


def untag(store: Any, tag_id: str) -> None:
    """Delete a tag (NotFoundError when there is none)."""
    if not store.has_table("interview_tags") or store.one("SELECT 1 FROM interview_tags WHERE tag_id = ?",
                                                          [tag_id]) is None:  # fmt: skip
        raise NotFoundError(f"tag {tag_id!r} not found; see `cxlens interviews tags`")
    with store.transaction(changes=["interview_tags"]) as cur:
        cur.execute("DELETE FROM interview_tags WHERE tag_id = ?", [tag_id])


def tag_summary(store: Any, *, quotes: int = 3) -> pd.DataFrame:
    """Per tag: participants (distinct interviews), passages, highlights, and up to ``quotes`` quotes
    (highlights first, one per interview first; redacted), most-raised first."""
    df = tags(store)
    if df.empty:
        return pd.DataFrame(columns=["tag", "participants", "passages", "highlights", "quotes"])
    rows = []
    for name, g in df.groupby("tag", sort=True):
        g = g.sort_values(["highlight", "interview_id"], ascending=[False, True], kind="stable")
        picked = g.drop_duplicates("interview_id").head(quotes)
        rows.append({"tag": name, "participants": int(g["interview_id"].nunique()), "passages": len(g),
                     "highlights": int(g["highlight"].sum()), "quotes": [redact(t) for t in picked["passage"]]})  # fmt: skip
    out = pd.DataFrame(rows)
    return out.sort_values(["participants", "passages", "tag"], ascending=[False, False, True]).reset_index(drop=True)
