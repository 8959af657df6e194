"""How numbers are shown in the dashboard and the report (one place, so both agree).

Missing values (None, NaN) show as an em dash.

>>> number(23.456), number(-4.0), count(12345), percent(87.26), hours(2.5), money(1234.5)
('23.5', '-4.0', '12,345', '87.3%', '2.5 h', '1,234.50')
>>> number(float("nan")), label(float("nan")), label(None), label("delivery")
('—', '—', '—', 'delivery')
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd

MISSING = "—"


def _ok(v: Any) -> bool:
    if v is None:
        return False
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def number(v: Any, digits: int = 1) -> str:
    """A score with ``digits`` decimals (NPS, CES)."""
    return f"{float(v):,.{digits}f}" if _ok(v) else MISSING


def signed(v: Any, digits: int = 1) -> str:
    """A change with its sign: ``+3.2``, ``-1.0``."""
    return f"{float(v):+,.{digits}f}" if _ok(v) else MISSING


def count(v: Any) -> str:
    """A whole count with thousands separators."""
    return f"{int(round(float(v))):,}" if _ok(v) else MISSING


def percent(v: Any, digits: int = 1) -> str:
    """A value already in percent (0–100)."""
    return f"{float(v):,.{digits}f}%" if _ok(v) else MISSING


def hours(v: Any, digits: int = 1) -> str:
    """A duration in hours."""
    return f"{float(v):,.{digits}f} h" if _ok(v) else MISSING


def money(v: Any, digits: int = 2) -> str:
    """An amount (currency-neutral)."""
    return f"{float(v):,.{digits}f}" if _ok(v) else MISSING


def label(v: Any) -> str:
    """A category label (touchpoint, channel…): missing, NaN or blank show as the em dash, never "nan"/"None"."""
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return MISSING
    text = str(v).strip()
    return text if text else MISSING


def p_value(v: Any) -> str:
    """A p-value: ``p < 0.001`` or ``p = 0.042``."""
    if not _ok(v):
        return MISSING
    return "p < 0.001" if float(v) < 0.001 else f"p = {float(v):.3f}"


#: name → formatter, used by KPI definitions and as Jinja filters
FORMATS: dict[str, Callable[[Any], str]] = {
    "number": number,
    "number2": lambda v: number(v, 2),
    "count": count,
    "percent": percent,
    "hours": hours,
    "money": money,
}

FILTERS: dict[str, Callable[..., str]] = {
    "fmt_number": number,
    "fmt_signed": signed,
    "fmt_count": count,
    "fmt_percent": percent,
    "fmt_hours": hours,
    "fmt_money": money,
    "fmt_p": p_value,
    "fmt_label": label,
}
