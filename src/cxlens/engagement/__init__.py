"""Employee engagement: employees, anonymous pulse answers, eNPS and an engagement index shown only
for groups large enough to stay anonymous, and engagement beside the customer outcomes (``ws.engagement``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from cxlens.engagement import pulse as pulse_links
from cxlens.engagement.beside import beside_cx
from cxlens.engagement.people import DRIVERS, GROUP_COLUMNS, QUESTIONS, import_employees, import_pulse, redact_names
from cxlens.engagement.privacy import erase_employee, export_employee
from cxlens.engagement.scorecard import scorecard
from cxlens.engagement.summary import (
    DEFAULT_MIN_GROUP,
    FLOOR,
    SETTING,
    comments,
    min_group_size,
    summary,
    trend,
)

__all__ = [
    "DEFAULT_MIN_GROUP",
    "DRIVERS",
    "FLOOR",
    "GROUP_COLUMNS",
    "QUESTIONS",
    "SETTING",
    "Engagement",
    "beside_cx",
    "comments",
    "erase_employee",
    "export_employee",
    "import_employees",
    "import_pulse",
    "min_group_size",
    "pulse_links",
    "redact_names",
    "scorecard",
    "summary",
    "trend",
]


class Engagement:
    """``ws.engagement``: import employees and pulse answers; eNPS and engagement by group; beside CX."""

    def __init__(self, store: Any):
        self.store = store

    def import_employees(self, source: str | Path | pd.DataFrame) -> int:
        return import_employees(self.store, source)

    def import_pulse(self, source: str | Path | pd.DataFrame, *, order: str | None = None) -> int:
        """Add pulse answers; ``order`` ("dmy" or "mdy") reads dates like 03/04/2026 (else refused)."""
        return import_pulse(self.store, source, order=order)

    def export_employee(self, employee_id: str) -> dict[str, Any]:
        """Every row about an employee (GDPR access; :func:`cxlens.engagement.privacy.export_employee`)."""
        return export_employee(self.store, employee_id)

    def erase_employee(self, employee_id: str, *, missing_ok: bool = False) -> dict[str, int]:
        """Delete an employee's rows and pseudonymise references to them (GDPR erasure;
        :func:`cxlens.engagement.privacy.erase_employee`)."""
        return erase_employee(self.store, employee_id, missing_ok=missing_ok)

    def set_min_group(self, k: int) -> None:
        """Set the workspace's smallest group shown (never below 3)."""
        if not isinstance(k, int) or k < FLOOR:
            from cxlens.errors import ParameterError

            raise ParameterError("min_group", f"min_group is {k!r}; groups smaller than {FLOOR} are never shown")
        self.store.set_setting(SETTING, k)

    def summary(self, by: str | None = None, filters: Mapping[str, Any] | None = None, **kw: Any) -> pd.DataFrame:
        """eNPS and engagement, small groups suppressed (:func:`cxlens.engagement.summary`)."""
        return summary(self.store, by, filters, **kw)

    def beside_cx(self, **kw: Any) -> dict[str, Any]:
        """Per-team eNPS beside customer CSAT/NPS and their correlation (:func:`cxlens.engagement.beside_cx`)."""
        return beside_cx(self.store, **kw)

    def trend(self, period: str = "month", by: str | None = None, filters: Mapping[str, Any] | None = None,
              **kw: Any) -> pd.DataFrame:  # fmt: skip
        """eNPS and engagement per period, small groups suppressed (:func:`cxlens.engagement.trend`)."""
        return trend(self.store, period, by, filters, **kw)

    def comments(self, by: str | None = None, filters: Mapping[str, Any] | None = None, **kw: Any) -> pd.DataFrame:
        """Redacted pulse comments of the groups shown (:func:`cxlens.engagement.comments`)."""
        return comments(self.store, by, filters, **kw)

    def scorecard(self, by: str = "team", **kw: Any) -> pd.DataFrame:
        """Agent/team CX scorecard (:func:`cxlens.engagement.scorecard`)."""
        return scorecard(self.store, by, **kw)

    def send_pulse(
        self, pulse: str, *, base_url: str, workspace: str, smtp: dict[str, Any], **kw: Any
    ) -> dict[str, Any]:
        """E-mail each employee their anonymous single-use pulse link, once per pulse
        (:func:`cxlens.engagement.pulse.send_invitations`)."""
        return pulse_links.send_invitations(self.store, pulse, base_url=base_url, workspace=workspace, smtp=smtp, **kw)

    def pulse_token(self, pulse: str, groups: dict[str, Any], **kw: Any) -> str:
        """A signed single-use pulse link token carrying only ``groups`` (team, role, location, manager_id)."""
        return pulse_links.make_token(self.store, pulse, groups, **kw)

    def answer_pulse(self, token: str, scores: dict[str, Any], comment: str | None = None) -> int:
        """Store one answer through a pulse link (once per link; no employee id is stored)."""
        return pulse_links.answer(self.store, token, scores, comment)
