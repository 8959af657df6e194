"""Customer interviews: recruit from survey opt-ins, import transcripts as verbatims (``ws.interviews``).

Transcripts (WebVTT, SRT, ``Speaker: text`` plain text, DOCX through python-docx) become speaker
turns; the customer's own turns join the voice pipeline as verbatims with source ``interview``
(sentiment, themes, PII redaction), the interviewer's do not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from cxlens.interviews import invite
from cxlens.interviews.capture import INTERVIEWERS, import_interviews, interview_themes, interview_turns
from cxlens.interviews.quotes import quotes_by_persona, quotes_by_theme
from cxlens.interviews.recruit import OPT_IN, candidates
from cxlens.interviews.tags import tag, tag_summary, tags, untag
from cxlens.interviews.transcripts import Turn, parse_file, parse_srt, parse_text, parse_vtt

__all__ = [
    "INTERVIEWERS",
    "OPT_IN",
    "Interviews",
    "Turn",
    "candidates",
    "import_interviews",
    "interview_themes",
    "interview_turns",
    "invite",
    "parse_file",
    "parse_srt",
    "parse_text",
    "parse_vtt",
    "quotes_by_persona",
    "quotes_by_theme",
    "tag",
    "tag_summary",
    "tags",
    "untag",
]


class Interviews:
    """``ws.interviews``: import transcripts, read turns, build a recruit list."""

    def __init__(self, store: Any):
        self.store = store

    def import_dir(self, folder: str | Path, **kw: Any) -> pd.DataFrame:
        """Import every transcript of ``folder`` (:func:`cxlens.interviews.import_interviews`)."""
        return import_interviews(self.store, folder, **kw)

    def list(self) -> pd.DataFrame:
        return self.store.read(
            "SELECT i.*, (SELECT count(*) FROM interview_turns t WHERE t.interview_id = i.interview_id "
            "AND t.role = 'customer') AS customer_turns FROM interviews i ORDER BY interviewed_at DESC"
        )

    def turns(self, interview_id: str | None = None) -> pd.DataFrame:
        return interview_turns(self.store, interview_id)

    def themes(self, quotes: int = 3) -> pd.DataFrame:
        """Themes across interviews with participants and supporting quotes (:func:`interview_themes`)."""
        return interview_themes(self.store, quotes=quotes)

    def candidates(self, **kw: Any) -> pd.DataFrame:
        """Opted-in customers to invite (:func:`cxlens.interviews.candidates`)."""
        return candidates(self.store, **kw)

    def tag(self, interview_id: str, turn: int, name: str, **kw: Any) -> dict[str, Any]:
        """Tag (or highlight) a passage (:func:`cxlens.interviews.tag`)."""
        return tag(self.store, interview_id, turn, name, **kw)

    def tags(self, **kw: Any) -> pd.DataFrame:
        """Stored tags with their passages (:func:`cxlens.interviews.tags`)."""
        return tags(self.store, **kw)

    def untag(self, tag_id: str) -> None:
        untag(self.store, tag_id)

    def tag_summary(self, quotes: int = 3) -> pd.DataFrame:
        """Tags across interviews with participants and quotes (:func:`cxlens.interviews.tag_summary`)."""
        return tag_summary(self.store, quotes=quotes)

    def quotes_by_theme(self, per: int = 2) -> dict[str, list[str]]:
        """Theme id → interview quotes (:func:`cxlens.interviews.quotes_by_theme`)."""
        return quotes_by_theme(self.store, per)

    def quotes_by_persona(self, per: int = 2) -> dict[str, list[str]]:
        """Persona (customer segment) → interview quotes (:func:`cxlens.interviews.quotes_by_persona`)."""
        return quotes_by_persona(self.store, per)

    def invite(self, study: str, *, scheduling_url: str, base_url: str, workspace: str, smtp: dict[str, Any],
               **kw: Any) -> dict[str, Any]:  # fmt: skip
        """E-mail each recruit candidate the scheduling link, once per study, with an opt-out link
        (:func:`cxlens.interviews.invite.send_invitations`; ``kw``: candidate filters, subject, minutes)."""
        return invite.send_invitations(self.store, study, scheduling_url=scheduling_url, base_url=base_url,
                                       workspace=workspace, smtp=smtp, **kw)  # fmt: skip

    def opt_out(self, customer_id: str, source: str = "api") -> None:
        """Record that the customer declined interview invitations (recruiting skips them from now on)."""
        invite.opt_out(self.store, customer_id, source)
