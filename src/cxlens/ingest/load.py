"""Adding rows to the canonical tables: validate everything first, then insert all or nothing.

:func:`load` reads a file (or takes a DataFrame), maps its columns, validates every row and calls
:func:`insert_tables`, which writes several tables in ONE transaction: rows whose key is already
present, or repeated within the input, are skipped (so importing the same file twice adds
nothing), ``stage``/``channel`` are filled from the journey, and the feedback rollup is kept
exact (:mod:`cxlens.store.rollup`). ``ws.load``/``ws.insert``/``ws.insert_many`` call these.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from cxlens.errors import NotFoundError
from cxlens.ingest.files import Progress, apply_mapping, parse_mapping, read_file
from cxlens.schema.tables import FLOAT, INT, JSON, STRING, TABLES, TIMESTAMP, Table
from cxlens.schema.validate import validate_frame
from cxlens.store import rollup

__all__ = ["ImportResult", "insert_tables", "load", "table_def"]

_ARROW = {STRING: pa.string(), JSON: pa.string(), FLOAT: pa.float64(), INT: pa.int64(), TIMESTAMP: pa.timestamp("us")}


@dataclass(frozen=True)
class ImportResult:
    """What one import did."""

    table: str
    source: str
    rows: int
    inserted: int

    @property
    def skipped(self) -> int:
        """Rows already present (same id) or repeated within the input."""
        return self.rows - self.inserted


def table_def(kind: str) -> Table:
    """The canonical table ``kind`` (a :class:`~cxlens.errors.NotFoundError` naming the valid ones)."""
    try:
        return TABLES[kind]
    except KeyError:
        raise NotFoundError(f"unknown table {kind!r}; expected one of {', '.join(TABLES)}") from None


def load(
    store: Any,
    kind: str,
    source: str | Path | pd.DataFrame,
    *,
    mapping: dict[str, str] | list[str] | str | None = None,
    format: str | None = None,
    dayfirst: bool = False,
    constants: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Validate rows and add them to table ``kind``, all or nothing (see :meth:`cxlens.Workspace.load`)."""
    table = table_def(kind)
    if isinstance(source, pd.DataFrame):
        name, raw = "<frame>", source.copy()
    else:
        name, raw = Path(source).name, read_file(source, format, progress=progress)
    raw = apply_mapping(raw, parse_mapping(mapping), name)
    for col, value in (constants or {}).items():
        raw[col] = value
    rows = validate_frame(raw, table, source=name, dayfirst=dayfirst)
    return insert_tables(store, {kind: rows}, source=name)[kind]


def fill_from_journey(journey: Any, table: Table, rows: pd.DataFrame) -> pd.DataFrame:
    """Fill ``stage`` (and a missing ``channel``) from the journey when a row names a touchpoint."""
    if "touchpoint" not in rows.columns:
        return rows
    if "stage" in rows.columns and rows["stage"].isna().any():
        rows = rows.copy()
        rows["stage"] = rows["stage"].where(rows["stage"].notna(), rows["touchpoint"].map(journey.stage_of()))
    if "channel" in rows.columns and rows["channel"].isna().any():
        rows = rows.copy()
        rows["channel"] = rows["channel"].where(rows["channel"].notna(), rows["touchpoint"].map(journey.channel_of()))
    return rows


def insert_tables(store: Any, tables: dict[str, pd.DataFrame], *, source: str = "<frame>") -> dict[str, ImportResult]:
    """Insert validated rows into several tables in ONE transaction (all or nothing).

    Rows whose key is already present, or repeated within the input, are skipped, so inserting the
    same rows twice adds nothing. Canonical columns missing from a frame are stored as nulls.
    """
    prepared = []
    journey = store.journey
    for i, (kind, rows) in enumerate(tables.items()):
        table = table_def(kind)
        rows = fill_from_journey(journey, table, rows)
        for c in table.column_names:
            if c not in rows.columns:
                rows = rows.assign(**{c: None})
        arrow = pa.Table.from_pandas(
            rows[table.column_names],
            schema=pa.schema([(c.name, _ARROW[c.type]) for c in table.columns]),
            preserve_index=False,
        )
        prepared.append((table, f"_cxlens_incoming_{i}", arrow))
    results: dict[str, ImportResult] = {}
    with store.transaction(changes=[t.name for t, _, _ in prepared]) as cur:
        for _, name, arrow in prepared:
            cur.register(name, arrow)
        try:
            for table, name, arrow in prepared:
                key = ", ".join(f'"{k}"' for k in table.key)
                cols = ", ".join(f'"{c}"' for c in table.column_names)
                match = " AND ".join(f't."{k}" = s."{k}"' for k in table.key)
                new_rows = (
                    f"SELECT {cols} FROM (SELECT DISTINCT ON ({key}) * FROM {name}) s "
                    f'WHERE NOT EXISTS (SELECT 1 FROM "{table.name}" t WHERE {match})'
                )
                feedback = table.name == "feedback"
                if feedback:
                    # materialise the rows that pass the dedupe once, so the rollup counts exactly
                    # the rows inserted (DISTINCT ON keeps an arbitrary duplicate)
                    cur.execute(f"CREATE OR REPLACE TEMP TABLE _cxlens_new_{name} AS {new_rows}")
                    new_rows = f"SELECT {cols} FROM _cxlens_new_{name}"
                before = cur.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()[0]
                cur.execute(f'INSERT INTO "{table.name}" ({cols}) {new_rows}')
                after = cur.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()[0]
                if feedback:
                    rollup.add(cur, f"_cxlens_new_{name}")
                    cur.execute(f"DROP TABLE _cxlens_new_{name}")
                results[table.name] = ImportResult(table.name, source, arrow.num_rows, int(after - before))
        finally:
            for _, name, _ in prepared:
                cur.unregister(name)
    return results
