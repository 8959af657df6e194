"""Opening a workspace: the DuckDB file (or any Ibis backend), its schema and migrations.

A workspace is one DuckDB file holding the canonical tables of :mod:`cxlens.schema`, a
``_cxlens_meta`` table with the schema version, and the journey configuration. Writes go
through :meth:`Workspace.load`, which validates the whole input first and inserts in one
transaction, skipping ids already present.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import ibis
import pandas as pd
import pyarrow as pa

from cxlens.errors import NotFoundError, WorkspaceError
from cxlens.ingest.files import Progress, apply_mapping, parse_mapping, read_file
from cxlens.journeys.config import Journey, default_journey
from cxlens.schema.tables import FLOAT, INT, JSON, STRING, TABLES, TIMESTAMP, Table
from cxlens.schema.validate import validate_frame

if TYPE_CHECKING:
    from cxlens.journeys.api import Journeys
    from cxlens.metrics import Metrics

SCHEMA_VERSION = 2

_ARROW = {STRING: pa.string(), JSON: pa.string(), FLOAT: pa.float64(), INT: pa.int64(), TIMESTAMP: pa.timestamp("us")}


#: the feedback cube: answers counted per metric, day, survey dimensions and score (nulls kept as groups);
#: maintained by :meth:`Workspace.insert_many`, read by the metrics fast path (docs/metrics.md)
ROLLUP_TABLE = "feedback_rollup"
ROLLUP_DIMENSIONS = ("metric", "touchpoint", "channel", "stage", "survey_id")
ROLLUP_DDL = (
    f"CREATE TABLE IF NOT EXISTS {ROLLUP_TABLE} (metric VARCHAR, day DATE, touchpoint VARCHAR, channel VARCHAR, "
    "stage VARCHAR, survey_id VARCHAR, score DOUBLE, n BIGINT)"
)
_ROLLUP_GROUP = ", ".join(ROLLUP_DIMENSIONS) + ", score"


def _rollup_select(source: str) -> str:
    """SELECT counting the rows of ``source`` (feedback columns) per rollup group."""
    return (
        f"SELECT metric, CAST(ts AS DATE) AS day, touchpoint, channel, stage, survey_id, score, "
        f"count(*)::BIGINT AS n FROM {source} GROUP BY {_ROLLUP_GROUP}, CAST(ts AS DATE)"
    )


def _migrate_to_1(con: duckdb.DuckDBPyConnection) -> None:
    for t in TABLES.values():
        con.execute(t.ddl())
    con.execute("CREATE TABLE IF NOT EXISTS journey_stages (stage VARCHAR, label VARCHAR, position INTEGER)")
    con.execute(
        "CREATE TABLE IF NOT EXISTS journey_touchpoints (touchpoint VARCHAR, label VARCHAR, stage VARCHAR, channel VARCHAR)"
    )
    con.execute("CREATE TABLE IF NOT EXISTS journey_config (name VARCHAR, yaml VARCHAR)")
    con.execute(ROLLUP_DDL)
    # saved segments: reusable customer groups (RFM, clusters, rules) — see cxlens.customers.segments
    con.execute(
        "CREATE TABLE IF NOT EXISTS segments (segment VARCHAR, customer_id VARCHAR, kind VARCHAR, created_at TIMESTAMP)"
    )


def _migrate_to_2(con: duckdb.DuckDBPyConnection) -> None:
    """The live service: settings, API keys, users, sessions, collection and surveys."""
    from cxlens.access.tables import DDL as ACCESS
    from cxlens.collect.tables import DDL as COLLECT
    from cxlens.surveys.tables import DDL as SURVEYS

    con.execute("CREATE TABLE IF NOT EXISTS settings (name VARCHAR PRIMARY KEY, value VARCHAR)")
    for ddl in (*ACCESS, *COLLECT, *SURVEYS):
        con.execute(ddl)


#: schema version → function bringing a workspace from the previous version to it
MIGRATIONS: dict[int, Callable[[duckdb.DuckDBPyConnection], None]] = {1: _migrate_to_1, 2: _migrate_to_2}


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


class Workspace:
    """A cxlens workspace: canonical tables plus journey configuration.

    Use :func:`cxlens.open` (DuckDB file) or :func:`cxlens.connect` (any Ibis backend).
    """

    def __init__(self, backend: Any, *, path: str | None = None, raw: duckdb.DuckDBPyConnection | None = None):
        self.con = backend
        self.path = path
        self._raw = raw
        self._lock = threading.RLock()
        self._journey: Journey | None = None

    # -- opening -----------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path = "cxlens.duckdb", *, read_only: bool = False) -> Workspace:
        p = str(path)
        if p != ":memory:":
            parent = Path(p).expanduser().resolve().parent
            if not parent.exists():
                raise WorkspaceError(f"folder {str(parent)!r} for workspace {p!r} does not exist; create it first")
        try:
            raw = duckdb.connect(p, read_only=read_only)
        except duckdb.IOException as e:
            msg = str(e).splitlines()[0]
            raise WorkspaceError(f"cannot open workspace {p!r}: {msg}; is another cxlens process using it?") from None
        except duckdb.Error as e:
            raise WorkspaceError(f"{p!r} is not a DuckDB workspace ({str(e).splitlines()[0]})") from None
        ws = cls(ibis.duckdb.from_connection(raw), path=p, raw=raw)
        ws._migrate(read_only)
        return ws

    @classmethod
    def over(cls, backend: Any) -> Workspace:
        """A read-only workspace over an Ibis backend holding canonical tables."""
        names = set(backend.list_tables())
        missing = [t for t in ("feedback",) if t not in names]
        if missing:
            raise WorkspaceError(
                f"backend has no table {missing[0]!r}; expected the canonical tables "
                f"({', '.join(TABLES)}) — see README 'Scale out'"
            )
        return cls(backend)

    def _migrate(self, read_only: bool) -> None:
        raw = self._require_raw()
        has_meta = raw.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = '_cxlens_meta'"
        ).fetchone()[0]
        version = 0
        if has_meta:
            row = raw.execute("SELECT value FROM _cxlens_meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise WorkspaceError(
                f"workspace {self.path!r} has schema version {version}, newer than this cxlens ({SCHEMA_VERSION}); "
                "upgrade cxlens"
            )
        if version == SCHEMA_VERSION:
            return
        if read_only:
            raise WorkspaceError(
                f"workspace {self.path!r} needs migrating to version {SCHEMA_VERSION}; open it writable once"
            )
        raw.execute("BEGIN")
        try:
            raw.execute("CREATE TABLE IF NOT EXISTS _cxlens_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
            for v in range(version + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[v](raw)
            raw.execute("INSERT OR REPLACE INTO _cxlens_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
            if version == 0:
                self._write_journey(default_journey())
            raw.execute("COMMIT")
        except Exception:
            raw.execute("ROLLBACK")
            raise

    def _require_raw(self) -> duckdb.DuckDBPyConnection:
        if self._raw is None:
            raise WorkspaceError(
                "this workspace is read-only (opened over an Ibis backend); write through cxlens.open()"
            )
        return self._raw

    @property
    def schema_version(self) -> int:
        if self._raw is None:
            return SCHEMA_VERSION
        return int(self._raw.execute("SELECT value FROM _cxlens_meta WHERE key='schema_version'").fetchone()[0])

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace({self.path or self.con.name!r})"

    # -- settings ----------------------------------------------------------------
    def setting(self, name: str, default: Any = None) -> Any:
        """A workspace setting (JSON value) or ``default`` when unset.

        >>> import cxlens
        >>> ws = cxlens.open(":memory:")
        >>> ws.set_setting("collect.allowed_origins", ["https://shop.example"])
        >>> ws.setting("collect.allowed_origins"), ws.setting("missing", 3)
        (['https://shop.example'], 3)
        """
        if self._raw is None:
            return default
        with self._lock:
            row = self._raw.execute("SELECT value FROM settings WHERE name = ?", [name]).fetchone()
        return default if row is None else json.loads(row[0])

    def set_setting(self, name: str, value: Any) -> None:
        """Store a workspace setting (any JSON-serialisable value)."""
        raw = self._require_raw()
        with self._lock:
            raw.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", [name, json.dumps(value)])

    # -- reading -----------------------------------------------------------------
    def table(self, name: str) -> ibis.Table:
        """The Ibis table expression for a canonical (or journey) table."""
        try:
            return self.con.table(name)
        except Exception:
            raise NotFoundError(f"workspace has no table {name!r}; expected one of {', '.join(TABLES)}") from None

    def counts(self) -> dict[str, int]:
        """Rows per canonical table."""
        out = {}
        for name in TABLES:
            try:
                out[name] = int(self.table(name).count().execute())
            except NotFoundError:
                out[name] = 0
        return out

    def sql(self, query: str, params: list[Any] | None = None) -> pd.DataFrame:
        """Run SQL on the embedded DuckDB and return a DataFrame (DuckDB workspaces only)."""
        with self._lock:
            return self._require_raw().execute(query, params or []).fetchdf()

    @property
    def metrics(self) -> Metrics:
        """CX metrics over this workspace: ``ws.metrics.nps(by="touchpoint")``."""
        from cxlens.metrics import Metrics

        return Metrics(self)

    @property
    def journeys(self) -> Journeys:
        """Funnels, paths and the journey map: ``ws.journeys.funnel("visit>add_to_cart>purchase")``."""
        from cxlens.journeys.api import Journeys

        return Journeys(self)

    # -- journey -----------------------------------------------------------------
    @property
    def journey(self) -> Journey:
        if self._journey is None:
            try:
                rows = self.table("journey_config").execute()
            except NotFoundError:
                rows = pd.DataFrame()
            self._journey = (
                Journey.from_yaml(rows["yaml"].iloc[0], "workspace journey") if len(rows) else default_journey()
            )
        return self._journey

    def set_journey(self, journey: Journey) -> None:
        """Replace the workspace's journey configuration."""
        raw = self._require_raw()
        with self._lock:
            raw.execute("BEGIN")
            try:
                self._write_journey(journey)
                raw.execute("COMMIT")
            except Exception:
                raw.execute("ROLLBACK")
                raise
        self._journey = journey

    def _write_journey(self, journey: Journey) -> None:
        raw = self._require_raw()
        raw.execute("DELETE FROM journey_stages")
        raw.execute("DELETE FROM journey_touchpoints")
        raw.execute("DELETE FROM journey_config")
        raw.executemany(
            "INSERT INTO journey_stages VALUES (?, ?, ?)", [[s.id, s.label, i] for i, s in enumerate(journey.stages)]
        )
        if journey.touchpoints:
            raw.executemany(
                "INSERT INTO journey_touchpoints VALUES (?, ?, ?, ?)",
                [[t.id, t.label, t.stage, t.channel] for t in journey.touchpoints],
            )
        raw.execute("INSERT INTO journey_config VALUES (?, ?)", [journey.name, journey.to_yaml()])

    # -- writing -----------------------------------------------------------------
    def load(
        self,
        kind: str,
        source: str | Path | pd.DataFrame,
        *,
        mapping: dict[str, str] | list[str] | str | None = None,
        format: str | None = None,
        dayfirst: bool = False,
        constants: dict[str, Any] | None = None,
        progress: Progress | None = None,
    ) -> ImportResult:
        """Validate rows and add them to table ``kind``, all or nothing.

        Parameters
        ----------
        kind
            One of customers, events, feedback, orders, order_items, tickets, reviews.
        source
            A file path (CSV, Parquet or JSON Lines, by extension unless ``format`` is given)
            or a DataFrame.
        mapping
            ``{canonical: source_column}`` (or ``["score=rating", ...]``).
        dayfirst
            Read ambiguous dates such as 04/05/2024 as 4 May.
        constants
            Columns to set to one value on every row, e.g. ``{"metric": "nps"}`` for a file
            of NPS answers without a metric column. A column present in the file is overwritten.

        Returns
        -------
        ImportResult
            Rows read and rows inserted; ids already in the workspace are skipped, so
            importing the same file twice adds nothing.

        Examples
        --------
        >>> import cxlens, pandas as pd
        >>> ws = cxlens.open(":memory:")
        >>> rows = pd.DataFrame({"ts": ["2024-05-01"], "metric": ["nps"], "score": [9]})
        >>> ws.load("feedback", rows).inserted
        1
        >>> ws.load("feedback", rows).inserted
        0
        """
        table = self._table_def(kind)
        if isinstance(source, pd.DataFrame):
            name, raw = "<frame>", source.copy()
        else:
            name, raw = Path(source).name, read_file(source, format, progress=progress)
        raw = apply_mapping(raw, parse_mapping(mapping), name)
        for col, value in (constants or {}).items():
            raw[col] = value
        rows = validate_frame(raw, table, source=name, dayfirst=dayfirst)
        return self.insert(kind, rows, source=name)

    def insert(self, kind: str, rows: pd.DataFrame, *, source: str = "<frame>") -> ImportResult:
        """Insert already-validated canonical rows (from :func:`validate_frame`) in one transaction."""
        return self.insert_many({kind: rows}, source=source)[kind]

    def insert_many(self, tables: dict[str, pd.DataFrame], *, source: str = "<frame>") -> dict[str, ImportResult]:
        """Insert validated rows into several tables in ONE transaction (all or nothing).

        Rows whose key is already present, or repeated within the input, are skipped, so
        inserting the same rows twice adds nothing. Canonical columns missing from a frame
        are stored as nulls.
        """
        raw = self._require_raw()
        prepared = []
        for i, (kind, rows) in enumerate(tables.items()):
            table = self._table_def(kind)
            rows = self._fill_from_journey(table, rows)
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
        with self._lock:
            for _, name, arrow in prepared:
                raw.register(name, arrow)
            try:
                raw.execute("BEGIN")
                try:
                    for table, name, arrow in prepared:
                        key = ", ".join(f'"{k}"' for k in table.key)
                        cols = ", ".join(f'"{c}"' for c in table.column_names)
                        match = " AND ".join(f't."{k}" = s."{k}"' for k in table.key)
                        new_rows = (
                            f"SELECT {cols} FROM (SELECT DISTINCT ON ({key}) * FROM {name}) s "
                            f'WHERE NOT EXISTS (SELECT 1 FROM "{table.name}" t WHERE {match})'
                        )
                        rollup = table.name == "feedback" and self._has_rollup()
                        if rollup:
                            # materialise the rows that pass the dedupe once, so the rollup counts
                            # exactly the rows inserted (DISTINCT ON keeps an arbitrary duplicate)
                            raw.execute(f"CREATE OR REPLACE TEMP TABLE _cxlens_new_{name} AS {new_rows}")
                            new_rows = f"SELECT {cols} FROM _cxlens_new_{name}"
                        before = raw.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()[0]
                        raw.execute(f'INSERT INTO "{table.name}" ({cols}) {new_rows}')
                        after = raw.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()[0]
                        if rollup:
                            same = " AND ".join(
                                f"r.{c} IS NOT DISTINCT FROM d.{c}" for c in (*ROLLUP_DIMENSIONS, "day", "score")
                            )
                            raw.execute(
                                f"MERGE INTO {ROLLUP_TABLE} r USING ({_rollup_select(f'_cxlens_new_{name}')}) d "
                                f"ON {same} WHEN MATCHED THEN UPDATE SET n = r.n + d.n "
                                "WHEN NOT MATCHED THEN INSERT (metric, day, touchpoint, channel, stage, survey_id, "
                                "score, n) VALUES (d.metric, d.day, d.touchpoint, d.channel, d.stage, d.survey_id, "
                                "d.score, d.n)"
                            )
                            raw.execute(f"DROP TABLE _cxlens_new_{name}")
                        results[table.name] = ImportResult(table.name, source, arrow.num_rows, int(after - before))
                    raw.execute("COMMIT")
                except Exception:
                    raw.execute("ROLLBACK")
                    raise
            finally:
                for _, name, _ in prepared:
                    raw.unregister(name)
        return results

    def _has_rollup(self) -> bool:
        raw = self._require_raw()
        return bool(
            raw.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main' AND NOT temporary",
                [ROLLUP_TABLE],
            ).fetchone()[0]
        )

    def rebuild_rollups(self) -> int:
        """Recompute the ``feedback_rollup`` cube from ``feedback`` (creating it if missing), in one transaction.

        :meth:`insert_many` keeps the rollup current; call this after writing to ``feedback``
        by other means, or once to add the rollup to a workspace made by an older cxlens.

        Returns
        -------
        int
            Rows (groups) in the rebuilt rollup.

        Examples
        --------
        >>> import cxlens, pandas as pd
        >>> ws = cxlens.open(":memory:")
        >>> _ = ws.load("feedback", pd.DataFrame({"ts": "2024-05-01", "metric": "nps", "score": [9, 9, 3]}))
        >>> ws.rebuild_rollups()
        2
        """
        raw = self._require_raw()
        with self._lock:
            raw.execute("BEGIN")
            try:
                raw.execute(ROLLUP_DDL)
                raw.execute(f"DELETE FROM {ROLLUP_TABLE}")
                raw.execute(f"INSERT INTO {ROLLUP_TABLE} {_rollup_select('feedback')}")
                rows = raw.execute(f"SELECT count(*) FROM {ROLLUP_TABLE}").fetchone()[0]
                raw.execute("COMMIT")
            except Exception:
                raw.execute("ROLLBACK")
                raise
        return int(rows)

    def _table_def(self, kind: str) -> Table:
        try:
            return TABLES[kind]
        except KeyError:
            raise NotFoundError(f"unknown table {kind!r}; expected one of {', '.join(TABLES)}") from None

    def _fill_from_journey(self, table: Table, rows: pd.DataFrame) -> pd.DataFrame:
        """Fill ``stage`` (and a missing ``channel``) from the journey when a row names a touchpoint."""
        if "touchpoint" not in rows.columns:
            return rows
        j = self.journey
        if "stage" in rows.columns and rows["stage"].isna().any():
            rows = rows.copy()
            rows["stage"] = rows["stage"].where(rows["stage"].notna(), rows["touchpoint"].map(j.stage_of()))
        if "channel" in rows.columns and rows["channel"].isna().any():
            rows = rows.copy()
            rows["channel"] = rows["channel"].where(rows["channel"].notna(), rows["touchpoint"].map(j.channel_of()))
        return rows


def open(path: str | Path = "cxlens.duckdb", *, read_only: bool = False) -> Workspace:  # noqa: A001
    """Open or create the workspace in DuckDB file ``path`` (``":memory:"`` for a scratch one)."""
    return Workspace.open(path, read_only=read_only)


def connect(backend: Any) -> Workspace:
    """A read-only workspace over any Ibis backend whose tables follow the canonical schema.

    Examples
    --------
    >>> import ibis, cxlens
    >>> con = ibis.duckdb.connect()  # or ibis.pyspark.connect(spark), ibis.bigquery.connect(...)
    >>> # after loading canonical tables into con: cxlens.connect(con).metrics.nps()
    """
    return Workspace.over(backend)
