"""CSV exports: one writer for every download (dashboard, API, CLI), safe to open in a spreadsheet.

Values sent through the public write key or typed by customers end up in exports, so a text cell
that a spreadsheet would run as a formula (``=HYPERLINK(…)``, ``+cmd|' /C calc'!A0``, ``@SUM(…)``,
``-2+3``) is neutralised by OWASP's rule: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return (or their full-width forms) gets a leading ``'``, which spreadsheets show as text and
do not display; cells are CSV-escaped (quotes doubled, cells with separators quoted). Numbers stay
numbers (``-4.5`` is a value, not a formula).

>>> csv_text(["id", "note"], [["c1", "=HYPERLINK(\\"http://x\\")"], ["c2", -4.5]])
'id,note\\nc1,"\\'=HYPERLINK(""http://x"")"\\nc2,-4.5\\n'
>>> safe_cell("@SUM(A1)"), safe_cell("plain"), safe_cell(None)
("'@SUM(A1)", 'plain', '')
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

__all__ = ["FORMULA_STARTS", "csv_frame", "csv_text", "safe_cell"]

#: first characters that make a spreadsheet read a cell as a formula (OWASP CSV injection), with the
#: full-width forms some spreadsheets also accept
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def safe_cell(value: Any) -> str:
    """One CSV cell as text: formulas neutralised (a leading ``'``), missing values empty."""
    if value is None or value is pd.NaT:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        return safe_cell(value.item())
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A CSV document (every cell passed through :func:`safe_cell`, ``\\n`` line ends)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([safe_cell(h) for h in header])
    for row in rows:
        w.writerow([safe_cell(v) for v in row])
    return buf.getvalue()


def csv_frame(frame: pd.DataFrame, *, date_format: str | None = None) -> str:
    """A DataFrame as a CSV document through :func:`csv_text` (``date_format`` for its datetime columns)."""
    if date_format is not None:
        frame = frame.copy()
        for c in frame.columns:
            if pd.api.types.is_datetime64_any_dtype(frame[c]):
                frame[c] = frame[c].dt.strftime(date_format)
    return csv_text([str(c) for c in frame.columns], frame.itertuples(index=False, name=None))
