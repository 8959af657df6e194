"""Employees and pulse answers in, anonymous by construction.

``import_employees`` takes a CSV/Parquet/DataFrame with ``employee_id`` and ``team`` (required),
``name``, ``email`` (PII), ``role``, ``manager_id``, ``location``; importing again updates.

``import_pulse`` takes answers in long form: ``question``, ``score`` and ``ts``, plus either
``employee_id`` (the employee's team, role, location and manager are looked up) or those group
columns directly; ``response_id`` groups the answers of one submission (default: one per employee
and ``ts``). The employee id is NOT stored: each submission gets a fresh random id and only the
group attributes at answer time are kept, so no stored answer can be traced back to a person.

A ``comment`` column (optional) holds a free-text comment; rows with ``question`` ``comment`` carry
only that (no score). One comment per submission is kept, in ``pulse_comments`` with the group
attributes only, after :func:`redact_names`: the names of imported employees (full, first and
last names of three letters or more, as whole words, any case) become ``[NAME]`` and e-mails,
phone numbers, cards and addresses are redacted (:func:`cxlens.schema.redact.redact`).

Questions: ``enps`` (0-10, "How likely are you to recommend <company> as a place to work?") and the
engagement index items on a 1-5 agreement scale, Culture Amp's five factors
(cultureamp.com/blog/employee-engagement-guide): ``pride``, ``recommend``, ``stay_now`` (present
commitment), ``stay_future`` (future commitment), ``motivation``.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cxlens.errors import SchemaError
from cxlens.schema.dates import DateOptions, date_error, infer_format, parse_dates
from cxlens.schema.ddl_learn import ENGAGEMENT
from cxlens.schema.redact import redact

__all__ = ["DRIVERS", "GROUP_COLUMNS", "QUESTIONS", "import_employees", "import_pulse", "redact_names"]

DRIVERS = ("pride", "recommend", "stay_now", "stay_future", "motivation")
QUESTIONS = {"enps": (0, 10), **dict.fromkeys(DRIVERS, (1, 5))}
GROUP_COLUMNS = ("team", "role", "location", "manager_id")
EMPLOYEE_COLUMNS = ("employee_id", "name", "email", "team", "role", "manager_id", "location")


def _frame(source: str | Path | pd.DataFrame) -> tuple[pd.DataFrame, str]:
    if isinstance(source, pd.DataFrame):
        return source.copy(), "<frame>"
    p = Path(source)
    if not p.exists():
        raise SchemaError(f"file {str(p)!r} does not exist")
    df = pd.read_parquet(p) if p.suffix.lower() == ".parquet" else pd.read_csv(p, dtype=str, keep_default_na=False)
    return df, p.name


def _text(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return None
    s = str(v).strip()
    return s or None


def import_employees(store: Any, source: str | Path | pd.DataFrame) -> int:
    """Add or update employees; returns the rows written."""
    df, name = _frame(source)
    df.columns = [str(c).strip().lower() for c in df.columns]
    for col in ("employee_id", "team"):
        if col not in df.columns:
            raise SchemaError(f"{name} has no column {col!r}; expected {', '.join(EMPLOYEE_COLUMNS)}")
    rows = []
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for i, r in enumerate(df.to_dict("records"), start=2):
        vals = {c: _text(r.get(c)) for c in EMPLOYEE_COLUMNS}
        for col in ("employee_id", "team"):
            if vals[col] is None:
                raise SchemaError(f"column {col!r} in {name} row {i} is empty; every employee needs one")
        rows.append([*(vals[c] for c in EMPLOYEE_COLUMNS), now])
    with store.transaction(changes=["employees"]) as cur:
        cur.executemany("DELETE FROM employees WHERE employee_id = ?", [[r[0]] for r in rows])
        cur.executemany("INSERT INTO employees VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


def _name_pattern(names: list[str]) -> re.Pattern[str] | None:
    words: set[str] = set()
    for full in names:
        full = (full or "").strip()
        if not full:
            continue
        words.add(full)
        words.update(w for w in re.split(r"[\s,]+", full) if len(w) >= 3)
    if not words:
        return None
    alt = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alt})(?!\w)", re.IGNORECASE)


def redact_names(text: str, names: list[str]) -> str:
    """``text`` with the given people's names (full, first, last; whole words, any case) as ``[NAME]``
    and other personal data redacted by :func:`cxlens.schema.redact.redact`."""
    pat = _name_pattern(names)
    out = redact(text) or ""
    return pat.sub("[NAME]", out) if pat is not None else out


def import_pulse(store: Any, source: str | Path | pd.DataFrame, *, order: str | None = None) -> int:
    """Add pulse answers (see the module doc); returns the answers written."""
    df, name = _frame(source)
    df.columns = [str(c).strip().lower() for c in df.columns]
    for col in ("question", "score", "ts"):
        if col not in df.columns:
            raise SchemaError(f"{name} has no column {col!r}; expected question, score, ts and employee_id or team")
    if "employee_id" not in df.columns and "team" not in df.columns:
        raise SchemaError(f"{name} has neither 'employee_id' nor 'team'; answers need a group")
    emp = {}
    if "employee_id" in df.columns:
        emp = {r[0]: dict(zip(GROUP_COLUMNS, r[1:], strict=True))
               for r in store.rows("SELECT employee_id, team, role, location, manager_id FROM employees")}  # fmt: skip
    # one date format for the whole column, as every import reads dates (never a guess per row)
    opts = DateOptions(order=order)
    stamps = parse_dates(df["ts"], infer_format(df["ts"], "ts", name, opts), column="ts", source=name, opts=opts)
    if stamps.isna().any():
        row = int(np.flatnonzero(stamps.isna().to_numpy())[0]) + 1
        raise date_error(name, row, "ts", df["ts"].iloc[row - 1], "a date")
    rows, ids, notes = [], {}, {}
    names = [r[0] for r in store.rows("SELECT name FROM employees WHERE name IS NOT NULL")]
    pat = _name_pattern(names)
    for i, (r, when) in enumerate(zip(df.to_dict("records"), stamps, strict=True), start=2):
        q = (_text(r.get("question")) or "").lower()
        comment = _text(r.get("comment"))
        if q == "comment" and comment is None:
            raise SchemaError(f"column 'comment' in {name} row {i} is empty; a 'comment' row needs the text")
        if q not in QUESTIONS and q != "comment":
            raise SchemaError(f"column 'question' in {name} row {i} is {q!r}; expected one of {', '.join(QUESTIONS)}")
        lo, hi = QUESTIONS.get(q, (0, 0))
        try:
            score = float(r.get("score"))
        except (TypeError, ValueError):
            score = float("nan")
        if q != "comment" and not lo <= score <= hi:
            raise SchemaError(f"column 'score' in {name} row {i} is {r.get('score')!r}; expected {lo}-{hi} for {q!r}")
        ts = when.to_pydatetime()
        eid = _text(r.get("employee_id"))
        if eid is not None:
            if eid not in emp:
                raise SchemaError(f"column 'employee_id' in {name} row {i} is {eid!r}, not an imported employee; "
                                  "run `cxlens employees import` first")  # fmt: skip
            groups = emp[eid]
        else:
            groups = {c: _text(r.get(c)) for c in GROUP_COLUMNS}
            if groups["team"] is None:
                raise SchemaError(f"column 'team' in {name} row {i} is empty; answers need a team")
        key = _text(r.get("response_id")) or f"{eid}|{ts.isoformat()}"
        rid = ids.setdefault(key, uuid.uuid4().hex)  # a fresh id: the employee is not stored
        if comment is not None and rid not in notes:
            clean = redact(comment) or ""  # e-mails first: a name inside an address must not split it
            clean = pat.sub("[NAME]", clean) if pat is not None else clean
            notes[rid] = [rid, *(groups[c] for c in GROUP_COLUMNS), clean]
        if q != "comment":
            rows.append([rid, ts, *(groups[c] for c in GROUP_COLUMNS), q, score])
    with store.transaction(changes=["pulse_answers", "pulse_comments"]) as cur:
        cur.executemany("INSERT INTO pulse_answers VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        if notes:  # a workspace made before the table existed gets it here
            cur.execute(next(d for d in ENGAGEMENT if "pulse_comments" in d))
            cur.executemany("INSERT INTO pulse_comments VALUES (?, ?, ?, ?, ?, ?)", list(notes.values()))
    return len(rows)
