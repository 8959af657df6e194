"""Importing a folder of interview transcripts: turns, roles, the participant linked to a customer.

``import_interviews(store, folder)`` reads every ``.vtt``, ``.srt``, ``.txt``/``.md`` and ``.docx``
(python-docx) file of ``folder`` (:mod:`cxlens.interviews.transcripts`), all or nothing. An optional
``manifest.csv`` in the folder (or given) says per file ``file, customer_id, participant,
interviewed_at, interviewer`` (every column but ``file`` optional).

Roles: a speaker named in ``interviewers`` (default: Interviewer, Moderator, Researcher, Host,
Facilitator, Q — case-insensitive) or in the manifest's ``interviewer`` is the interviewer; the
manifest's ``participant`` is the customer and any other speaker is ``other``; without a manifest
participant every non-interviewer speaker is the customer. Only ``customer`` turns become
verbatims (source ``interview``, :mod:`cxlens.voice.verbatims`) and are analysed.

The customer is the manifest's ``customer_id``, else the file name's stem when it is a customer id,
else the customer whose ``name`` is the participant's (when exactly one has it). Importing a file
again replaces its interview.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from cxlens.errors import NotFoundError, SchemaError
from cxlens.interviews.transcripts import FORMATS, Turn, parse_file
from cxlens.schema.dates import infer_format, parse_dates
from cxlens.schema.redact import redact

__all__ = ["INTERVIEWERS", "import_interviews", "interview_themes", "interview_turns"]

INTERVIEWERS = ("interviewer", "moderator", "researcher", "host", "facilitator", "q")
MANIFEST = "manifest.csv"


def _manifest(path: Path | None) -> dict[str, dict[str, Any]]:
    if path is None or not path.exists():
        return {}
    df = pd.read_csv(path, dtype=str).fillna("")
    if "file" not in df.columns:
        raise SchemaError(f"{path.name} has no 'file' column; expected file, customer_id, participant, "
                          "interviewed_at, interviewer")  # fmt: skip
    rows = {r["file"].strip(): {k: (v.strip() or None) for k, v in r.items()} for r in df.to_dict("records")}
    if "interviewed_at" in df.columns:  # one date format for the whole column, as every import reads dates
        text = df["interviewed_at"].str.strip().replace("", None)
        stamps = parse_dates(text, infer_format(text, "interviewed_at", path.name), column="interviewed_at",
                             source=path.name)  # fmt: skip
        for r, when in zip(rows.values(), stamps, strict=True):
            r["interviewed_at"] = None if pd.isna(when) else when.to_pydatetime()
    return rows


def _when(value: dt.datetime | None, file: Path) -> dt.datetime:
    """The manifest's date (already read as UTC), or the file's modification time."""
    if value is not None:
        return value
    return dt.datetime.fromtimestamp(file.stat().st_mtime, dt.UTC).replace(tzinfo=None)


def _roles(turns: list[Turn], interviewers: set[str], participant: str | None) -> list[str]:
    roles = []
    for t in turns:
        name = (t.speaker or "").strip().lower()
        if name in interviewers:
            roles.append("interviewer")
        elif participant is not None and name != participant.lower():
            roles.append("other")
        else:
            roles.append("customer")
    return roles


def _customer(store: Any, stem: str, given: str | None, participant: str | None) -> str | None:
    if given:
        return given
    if store.one("SELECT 1 FROM customers WHERE customer_id = ?", [stem]):
        return stem
    if participant:
        rows = store.rows("SELECT customer_id FROM customers WHERE lower(name) = lower(?)", [participant])
        if len(rows) == 1:
            return rows[0][0]
    return None


def import_interviews(store: Any, folder: str | Path, *, interviewers: list[str] | None = None,
                      manifest: str | Path | None = None) -> pd.DataFrame:  # fmt: skip
    """Import every transcript of ``folder``; one row per file: interview_id, file, format,
    customer_id, participant, turns, customer_turns."""
    root = Path(folder)
    if not root.is_dir():
        raise NotFoundError(f"interview folder {str(root)!r} does not exist; give a folder of .vtt/.srt/.txt files")
    files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in FORMATS)
    if not files:
        raise NotFoundError(f"{str(root)!r} holds no transcript ({', '.join(FORMATS)})")
    meta = _manifest(Path(manifest) if manifest else root / MANIFEST)
    names = {n.lower() for n in (interviewers or INTERVIEWERS)}
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    interviews, turns_rows, summary = [], [], []
    for f in files:
        fmt, turns = parse_file(f)
        m = meta.get(f.name, {})
        local = names | ({m["interviewer"].lower()} if m.get("interviewer") else set())
        roles = _roles(turns, local, m.get("participant"))
        speakers = pd.Series([t.speaker for t, r in zip(turns, roles, strict=True) if r == "customer" and t.speaker])
        participant = m.get("participant") or (speakers.mode().iloc[0] if len(speakers) else None)
        customer = _customer(store, f.stem, m.get("customer_id"), participant)
        when = _when(m.get("interviewed_at"), f)
        iid = f"iv-{f.stem}"
        interviews.append([iid, customer, participant, f.name, fmt, when, len(turns), now])
        for i, (t, role) in enumerate(zip(turns, roles, strict=True)):
            ts = when + dt.timedelta(seconds=t.start if t.start is not None else i)
            turns_rows.append([f"{iid}:{i}", iid, customer, i, t.speaker, role, t.start, t.end, ts, t.text])
        summary.append({"interview_id": iid, "file": f.name, "format": fmt, "customer_id": customer,
                        "participant": participant, "turns": len(turns),
                        "customer_turns": roles.count("customer")})  # fmt: skip
    ids = [r[0] for r in interviews]
    with store.transaction(changes=["interviews", "interview_turns"]) as cur:
        for iid in ids:  # re-importing a file replaces its interview
            cur.execute("DELETE FROM interview_turns WHERE interview_id = ?", [iid])
            cur.execute("DELETE FROM interviews WHERE interview_id = ?", [iid])
        cur.executemany("INSERT INTO interviews VALUES (?, ?, ?, ?, ?, ?, ?, ?)", interviews)
        if turns_rows:
            cur.executemany("INSERT INTO interview_turns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", turns_rows)
    return pd.DataFrame(summary)


def interview_turns(store: Any, interview_id: str | None = None) -> pd.DataFrame:
    """The stored turns (all roles), in order; one interview or all."""
    where, params = ("WHERE interview_id = ?", [interview_id]) if interview_id else ("", [])
    return store.read(f"SELECT * FROM interview_turns {where} ORDER BY interview_id, turn", params)


def interview_themes(store: Any, *, quotes: int = 3) -> pd.DataFrame:
    """Themes across interviews, from the voice themes job's ``verbatim_themes`` of the customer turns.

    One row per primary theme, most participants first (then most turns): ``theme``, ``name`` (the
    workspace theme model's, else the id), ``issue`` (True), ``participants`` (distinct interviews
    raising it), ``turns``, ``share`` and up to ``quotes`` supporting quotes (redacted, one per interview
    first). The customer turns the job assigned no theme are one last row (even when the largest),
    theme ``"other"``, name ``"Other (no theme)"``, ``issue`` False — the group
    :func:`cxlens.voice.theme_summary` lists last. ``turns`` and ``share`` are ``theme_summary``'s
    ``size`` and ``share``: ``share`` is of *every* customer turn the job assigned, the unthemed
    included (turns not assigned yet, e.g. non-English ones, are in no row and no share)."""
    from cxlens.voice.people import known_theme
    from cxlens.voice.themes import OTHER_ID, OTHER_NAME

    cols = ["theme", "name", "issue", "participants", "turns", "share", "quotes"]
    df = store.read(
        "SELECT v.theme, t.interview_id, t.customer_id, t.text, t.ts FROM verbatim_themes v "
        "JOIN interview_turns t ON v.verbatim_id = 'interview:' || t.turn_id "
        "WHERE t.role = 'customer' ORDER BY v.theme NULLS LAST, length(t.text) DESC, t.turn_id"
    )
    if df.empty:
        return pd.DataFrame(columns=cols)
    # before any theme model the job's unthemed turns are still the other group, and named so
    names = known_theme(store)[1] or {OTHER_ID: OTHER_NAME}
    df["theme"] = df["theme"].astype(object).where(df["theme"].notna(), OTHER_ID)  # the job's NULL: no theme
    rows = []
    for theme, g in df.groupby("theme", sort=False):
        picked = g.drop_duplicates("interview_id").head(quotes)  # one quote per interview first
        rows.append({"theme": theme, "name": names.get(theme, theme), "issue": theme != OTHER_ID,
                     "participants": int(g["interview_id"].nunique()), "turns": len(g), "share": len(g) / len(df),
                     "quotes": [redact(t) for t in picked["text"]]})  # fmt: skip
    out = pd.DataFrame(rows, columns=cols)
    order = ["issue", "participants", "turns", "theme"]
    return out.sort_values(order, ascending=[False, False, False, True], kind="stable").reset_index(drop=True)
