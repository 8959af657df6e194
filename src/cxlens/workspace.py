"""The workspace: the facade users hold (``ws.metrics``, ``ws.journeys``, ``ws.load()``, ``ws.sql()``).

A workspace is one DuckDB file holding the canonical tables of :mod:`cxlens.schema`, its
journey configuration and the tables of the services built on them. All of its data goes through
one :class:`~cxlens.store.Store` (``ws.store``): safe to use from many threads at once, and — when a
``cxlens serve`` or ``cxlens collect`` process holds the file — from another process too.

Nothing in the library imports this module except the shells (CLI, web) and ``cxlens`` itself:
domain functions take the store (or this facade, which offers the same methods).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import ibis
import pandas as pd

import cxlens.act.deliver  # noqa: F401  (registers the alert delivery job and the feedback rules hook)
import cxlens.customers.tasks  # noqa: F401  (registers the model jobs)
import cxlens.report.stored_pages  # noqa: F401  (registers the stored page views jobs)
import cxlens.voice.routing  # noqa: F401  (hands the voice models to the act routing triggers)
import cxlens.voice.tasks  # noqa: F401  (registers the voice jobs)
from cxlens.act import Act
from cxlens.behaviour import Behaviour
from cxlens.engagement import Engagement
from cxlens.errors import WorkspaceError
from cxlens.experiments import Experiments
from cxlens.ingest.files import Progress
from cxlens.ingest.load import ImportResult, insert_tables
from cxlens.ingest.load import load as _load
from cxlens.interviews import Interviews
from cxlens.jobs import run_now
from cxlens.journeys.api import Journeys
from cxlens.metrics import Metrics
from cxlens.report.journey import journey_map_html
from cxlens.report.journey_canvas import JourneyCanvas, export_journey_canvas, journey_canvas
from cxlens.report.stored_views import stored_canvas  # (also registers the stored journey views job)
from cxlens.schema.journey import Journey
from cxlens.schema.migrations import SCHEMA_VERSION
from cxlens.schema.tables import TABLES
from cxlens.store import ExternalStore, Store, open_store, rollup
from cxlens.store import share as _share

__all__ = ["SCHEMA_VERSION", "ImportResult", "Workspace", "connect", "open"]


#: the jobs :meth:`Workspace.refresh` runs, in order (later ones read what earlier ones stored)
MODEL_JOBS = (
    "models.fit", "risk.revenue", "voice.analyse", "voice.themes", "journey.views", "paths.views", "personas.views",
)  # fmt: skip


class WorkspaceJourneys(Journeys):
    """``ws.journeys``: the journey analyses, plus the journey map as an HTML page."""

    def map_html(self, path: Any, start: Any = None, end: Any = None, filters: Any = None, **kwargs: Any) -> Path:
        """Write the journey map as one self-contained HTML page; returns its path
        (:func:`cxlens.report.journey_map_html`)."""
        return journey_map_html(self.store, path, start, end, dict(filters) if filters else None, **kwargs)

    def canvas(self, start: Any = None, end: Any = None, filters: Any = None, **kwargs: Any) -> JourneyCanvas:
        """The wall journey map: stages left to right with touchpoints, emotion, pain points, revenue at
        risk, quotes and opportunities (:func:`cxlens.report.journey_canvas.journey_canvas`;
        ``segment=`` or ``persona=`` restricts it). Without arguments it is the stored view when that is
        fresh (:mod:`cxlens.report.stored_views`)."""
        if start is None and end is None and not filters and all(v is None for v in kwargs.values()):
            stored = stored_canvas(self.store)
            if stored is not None:
                return stored
        return journey_canvas(self.store, start, end, dict(filters) if filters else None, **kwargs)

    def export_map(self, path: Any, start: Any = None, end: Any = None, filters: Any = None, **kwargs: Any) -> Path:
        """Write :meth:`canvas` as SVG, PNG or PDF (by the file suffix); returns the path."""
        return export_journey_canvas(self.canvas(start, end, filters, **kwargs), path)


class Workspace:
    """A cxlens workspace: canonical tables, journey configuration, and the analyses over them.

    Use :func:`cxlens.open` (DuckDB file) or :func:`cxlens.connect` (any Ibis backend).
    """

    def __init__(self, store: Store):
        self.store = store

    # -- opening -----------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path = "cxlens.duckdb", *, read_only: bool = False) -> Workspace:
        """Open or create the workspace in DuckDB file ``path`` (``":memory:"`` for a scratch one).

        When a ``cxlens serve``/``collect`` process holds the file, the workspace sends its work to
        that process (docs/store.md); when another process holds it without sharing, the error
        names that process.
        """
        return cls(open_store(str(path), read_only=read_only))

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
        return cls(ExternalStore(backend))

    def share(self) -> Any:
        """Let other local processes (the CLI, a notebook) use this workspace while it is open here.

        ``cxlens serve`` and ``cxlens collect`` call it; see docs/store.md.
        """
        return _share(self.store)

    @property
    def path(self) -> str | None:
        return self.store.path

    @property
    def con(self) -> Any:
        """This thread's Ibis backend (each thread has its own)."""
        return self.store.backend

    @property
    def read_only(self) -> bool:
        return self.store.read_only

    @property
    def schema_version(self) -> int:
        if not self.store.is_duckdb:
            return SCHEMA_VERSION
        return int(self.store.scalar("SELECT value FROM _cxlens_meta WHERE key = 'schema_version'"))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace({self.path or getattr(self.store.backend, 'name', '?')!r})"

    # -- the analyses (built once per workspace) -----------------------------------
    @cached_property
    def metrics(self) -> Metrics:
        """CX metrics over this workspace: ``ws.metrics.nps(by="touchpoint")``."""
        return Metrics(self.store)

    @cached_property
    def act(self) -> Act:
        """Rules, alerts, deliveries and cases: ``ws.act.load_rules("rules.yaml")``, ``ws.act.cases()``."""
        return Act(self.store)

    @cached_property
    def journeys(self) -> WorkspaceJourneys:
        """Funnels, paths and the journey map: ``ws.journeys.funnel("visit>add_to_cart>purchase")``."""
        return WorkspaceJourneys(self.store)

    @cached_property
    def experiments(self) -> Experiments:
        """A/B tests: ``ws.experiments.results("checkout-v2", goals=["purchase"])``."""
        return Experiments(self.store)

    @cached_property
    def interviews(self) -> Interviews:
        """Interview transcripts and recruiting: ``ws.interviews.import_dir("transcripts/")``."""
        return Interviews(self.store)

    @cached_property
    def engagement(self) -> Engagement:
        """Employee engagement: ``ws.engagement.summary(by="team")`` (groups under 5 answers hidden)."""
        return Engagement(self.store)

    @cached_property
    def behaviour(self) -> Behaviour:
        """Heatmaps, zoning and frustration signals: ``ws.behaviour.frustration(by="url")``."""
        return Behaviour(self.store)

    # -- the store's door (the same methods as :class:`~cxlens.store.Store`) -------
    def table(self, name: str) -> ibis.Table:
        """The Ibis table expression for a canonical (or any other) table of the workspace."""
        return self.store.table(name)

    def read(self, query: Any, params: list[Any] | None = None, **kw: Any) -> Any:
        """Run an Ibis expression or SQL (``?`` parameters) and return its result (see :meth:`Store.read`)."""
        return self.store.read(query, params, **kw)

    def read_arrow(self, query: Any, params: list[Any] | None = None, **kw: Any) -> Any:
        return self.store.read_arrow(query, params, **kw)

    def rows(self, sql: str, params: list[Any] | None = None, **kw: Any) -> list[tuple]:
        return self.store.rows(sql, params, **kw)

    def one(self, sql: str, params: list[Any] | None = None) -> tuple | None:
        return self.store.one(sql, params)

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        return self.store.scalar(sql, params)

    def transaction(self, **kw: Any) -> Any:
        """A write transaction (see :meth:`Store.transaction`)."""
        return self.store.transaction(**kw)

    def changed(self, *tables: str) -> None:
        self.store.changed(*tables)

    def has_table(self, name: str) -> bool:
        return self.store.has_table(name)

    def tables(self) -> set[str]:
        return self.store.tables()

    def compile(self, expr: Any) -> str:
        """The SQL of an Ibis expression, as this workspace would run it."""
        return self.store.compile(expr)

    @property
    def is_remote(self) -> bool:
        """True when the work goes to another process (a ``cxlens serve`` holding the file)."""
        return self.store.is_remote

    def data_version(self, tables: list[str] | None = None) -> dict[str, int]:
        return self.store.data_version(tables)

    @property
    def is_duckdb(self) -> bool:
        return self.store.is_duckdb

    def sql(self, query: str, params: list[Any] | None = None) -> pd.DataFrame:
        """Run SQL on the workspace's DuckDB and return a DataFrame (DuckDB workspaces only)."""
        if not self.store.is_duckdb:
            raise WorkspaceError(
                "this workspace is read-only (opened over an Ibis backend); write through cxlens.open()"
            )
        return self.store.read(query, params)

    def counts(self) -> dict[str, int]:
        """Rows per canonical table."""
        present = self.store.tables()
        return {name: int(self.store.read(self.table(name).count())) if name in present else 0 for name in TABLES}

    # -- settings ----------------------------------------------------------------
    def setting(self, name: str, default: Any = None) -> Any:
        """A workspace setting (JSON value) or ``default`` when unset.

        >>> import cxlens
        >>> ws = cxlens.open(":memory:")
        >>> ws.set_setting("collect.allowed_origins", ["https://shop.example"])
        >>> ws.setting("collect.allowed_origins"), ws.setting("missing", 3)
        (['https://shop.example'], 3)
        """
        return self.store.setting(name, default)

    def set_setting(self, name: str, value: Any) -> None:
        """Store a workspace setting (any JSON-serialisable value)."""
        self.store.set_setting(name, value)

    # -- journey -----------------------------------------------------------------
    @property
    def journey(self) -> Journey:
        return self.store.journey

    def set_journey(self, journey: Journey) -> None:
        """Replace the workspace's journey configuration."""
        self.store.set_journey(journey)

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
        **options: Any,
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
        **options
            ``read`` (:class:`~cxlens.ingest.files.ReadOptions`: delimiter, encoding, header rows…),
            ``options`` (:class:`~cxlens.schema.validate.ValidateOptions`: dates, decimal mark,
            ``skip_incomplete``), ``drop``, ``dry_run``, ``name``: see :func:`cxlens.ingest.load.load`
            and docs/import-files.md.

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
        return _load(
            self.store,
            kind,
            source,
            mapping=mapping,
            format=format,
            dayfirst=dayfirst,
            constants=constants,
            progress=progress,
            **options,
        )

    def insert(self, kind: str, rows: pd.DataFrame, *, source: str = "<frame>") -> ImportResult:
        """Insert already-validated canonical rows (from :func:`validate_frame`) in one transaction."""
        return insert_tables(self.store, {kind: rows}, source=source)[kind]

    def insert_many(self, tables: dict[str, pd.DataFrame], *, source: str = "<frame>") -> dict[str, ImportResult]:
        """Insert validated rows into several tables in ONE transaction (all or nothing); see
        :func:`cxlens.ingest.load.insert_tables`."""
        return insert_tables(self.store, tables, source=source)

    def refresh(self, kinds: list[str] | None = None) -> list[dict[str, Any]]:
        """Run the background jobs that keep stored results fresh, now, in this thread (what ``cxlens
        models fit`` does; ``cxlens serve`` runs them in the background): CLV and churn scores, revenue
        at risk, text analysis and themes, and the stored journey views. Returns each job's outcome."""
        return [run_now(self.store, kind) for kind in (kinds or MODEL_JOBS)]

    def rebuild_rollups(self) -> int:
        """Recompute the ``feedback_rollup`` cube from ``feedback``, in one transaction.

        Every cxlens write keeps the rollup current; call this after writing to ``feedback`` by
        other means (raw SQL).

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
        with self.store.transaction(changes=["feedback_rollup"]) as cur:
            return rollup.rebuild(cur)


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
