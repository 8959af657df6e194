"""Interview quotes for the theme and persona pages: what participants said, beside survey and ticket quotes.

A quote is a customer turn of an interview (never the interviewer's), redacted of personal data
(:func:`cxlens.schema.redact.redact`). Highlighted passages (``interviews tag … --highlight``) come
first, then the customer turns by the rule below; at most one quote per interview first.

- by theme: the turns the voice themes job put in that theme (``verbatim_themes``, ``interview:<turn>``);
- by persona: the turns of customers in that persona, i.e. RFM segment
  (:func:`cxlens.customers.segments.rfm_segments`, the segments the persona cards are built on);
  none when the workspace has no orders.

Among plain turns, those of 40-300 characters come first (long enough to say something, short
enough to read on a card), longest first.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from cxlens.schema.redact import redact

__all__ = ["persona_members", "quotes_by_persona", "quotes_by_theme"]


def _pick(df: pd.DataFrame, key: str, per: int) -> dict[str, list[str]]:
    if df.empty:
        return {}
    df = df.assign(
        _len=df["text"].str.len(),
        _fit=df["text"].str.len().between(40, 300),
    ).sort_values([key, "hl", "_fit", "_len", "turn_id"], ascending=[True, False, False, False, True], kind="stable")
    out: dict[str, list[str]] = {}
    for k, g in df.groupby(key, sort=True):
        first = g.drop_duplicates("interview_id")
        rest = g[~g.index.isin(first.index)]
        picked = pd.concat([first, rest]).head(per)
        out[str(k)] = [redact(t) or "" for t in picked["text"]]
    return out


def _turns_sql(store: Any) -> str:
    """Customer turns, or their highlighted passages (``hl`` = 1), as ``interview_id, turn_id, text, hl``."""
    hl = ""
    if store.has_table("interview_tags"):
        hl = (
            " UNION ALL SELECT t.interview_id, t.turn_id, t.customer_id, CASE WHEN g.start_char IS NULL THEN t.text "
            "ELSE substr(t.text, g.start_char + 1, g.end_char - g.start_char) END AS text, 1 AS hl "
            "FROM interview_tags g JOIN interview_turns t ON t.interview_id = g.interview_id AND t.turn = g.turn "
            "WHERE g.highlight AND t.role = 'customer'"
        )
    return "SELECT interview_id, turn_id, customer_id, text, 0 AS hl FROM interview_turns WHERE role = 'customer'" + hl


def quotes_by_theme(store: Any, per: int = 2) -> dict[str, list[str]]:
    """Theme id → up to ``per`` interview quotes (see the module doc)."""
    if not (store.has_table("interview_turns") and store.has_table("verbatim_themes")):
        return {}
    df = store.read(
        f"SELECT q.*, v.theme FROM ({_turns_sql(store)}) q JOIN verbatim_themes v "
        "ON v.verbatim_id = 'interview:' || q.turn_id WHERE v.theme IS NOT NULL"
    )
    return _pick(df, "theme", per)


def persona_members(store: Any) -> pd.DataFrame:
    """``customer_id, segment``: each customer's persona (RFM segment); empty without orders."""
    from cxlens.customers.segments import rfm_segments
    from cxlens.errors import NotFoundError

    try:
        rfm = rfm_segments(store)
    except NotFoundError:
        return pd.DataFrame({"customer_id": pd.Series(dtype=str), "segment": pd.Series(dtype=str)})
    return rfm[["customer_id", "segment"]].astype({"customer_id": str})


def quotes_by_persona(store: Any, per: int = 2) -> dict[str, list[str]]:
    """Persona (RFM segment) → up to ``per`` interview quotes (see the module doc)."""
    if not store.has_table("interview_turns"):
        return {}
    members = persona_members(store)
    if members.empty:
        return {}
    df = store.read(
        f"SELECT q.*, m.segment FROM ({_turns_sql(store)}) q JOIN _members m ON m.customer_id = q.customer_id",
        tables={"_members": members},
    )
    return _pick(df, "segment", per)
