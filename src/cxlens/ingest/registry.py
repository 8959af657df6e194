"""Every way in: the canonical tables, the adapters for public datasets and the presets for vendor
exports, in one registry that the CLI, the HTTP endpoint and the dashboard read.

:func:`run_import` is the one entry point: ``run_import(store, "feedback", path, spec)`` imports a
file into a canonical table (:func:`cxlens.ingest.load.load`), ``run_import(store, "qualtrics",
path, spec)`` runs a preset. Either way the import is all or nothing, returns one
:class:`~cxlens.ingest.load.ImportReport` per table written, and with ``dry_run=True`` writes
nothing.

>>> sorted(IMPORTERS)[:3]
['airline-tweets', 'app-reviews', 'cdnow']
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from cxlens.errors import NotFoundError
from cxlens.ingest import adapters, funnels, sources
from cxlens.ingest.load import Discard, ImportReport, collecting_reports, load
from cxlens.ingest.presets import PRESETS
from cxlens.ingest.presets.base import Importer
from cxlens.ingest.spec import ImportSpec
from cxlens.schema.tables import TABLES

__all__ = ["IMPORTERS", "Importer", "kinds", "run_import"]


def _counts(
    fn: Callable[[Any, Any], dict[str, int]],
) -> Callable[[Any, Path, ImportSpec, str], dict[str, ImportReport]]:
    """An adapter returning ``{table: rows inserted}`` as one returning reports."""

    def run(store: Any, path: Path, spec: ImportSpec, name: str) -> dict[str, ImportReport]:
        with collecting_reports() as results:
            fn(store, path)
        for r in results.values():
            r.source = name
        return results

    return run


def _events_frame(fn: Callable[[Any], Any]) -> Callable[[Any, Path, ImportSpec, str], dict[str, ImportReport]]:
    def run(store: Any, path: Path, spec: ImportSpec, name: str) -> dict[str, ImportReport]:
        return {"events": load(store, "events", fn(path), name=name)}

    return run


IMPORTERS: dict[str, Importer] = {
    "olist": Importer("olist", ("customers", "orders", "order_items", "events", "feedback", "reviews"),
                      "Olist Brazilian e-commerce export (the folder of its CSV files)", _counts(adapters.import_olist),
                      folder=True),
    "cdnow": Importer("cdnow", ("customers", "orders"), "CDNOW transaction log (CDNOW_master.txt)",
                      _counts(adapters.import_cdnow)),
    "telco-churn": Importer("telco-churn", ("customers",), "IBM Telco customer churn sample",
                            _counts(adapters.import_telco_churn)),
    "nps-verbatims": Importer("nps-verbatims", ("feedback",), "NPS answers with verbatims (UK telecom)",
                              _counts(adapters.import_nps_verbatims)),
    "airline-tweets": Importer("airline-tweets", ("reviews",), "Twitter US Airline Sentiment (Tweets.csv)",
                               _counts(sources.import_airline_tweets)),
    "clothing-reviews": Importer("clothing-reviews", ("reviews",), "Women's e-commerce clothing reviews",
                                 _counts(sources.import_clothing_reviews)),
    "rees46": Importer("rees46", ("events",), "REES46 e-commerce event log (view, cart, purchase)",
                       _events_frame(funnels.rees46_events)),
    "olist-funnel": Importer("olist-funnel", ("events",), "Olist marketing funnel (MQL → closed deal)",
                             _events_frame(funnels.olist_marketing_events), folder=True),
}  # fmt: skip
IMPORTERS.update(PRESETS)


def kinds() -> list[str]:
    """Everything ``cxlens import`` accepts: the tables, then the importers."""
    return [*TABLES, *IMPORTERS]


def run_import(
    store: Any,
    kind: str,
    path: str | Path,
    spec: ImportSpec | None = None,
    *,
    dry_run: bool = False,
    progress: Any = None,
    name: str | None = None,
) -> dict[str, ImportReport]:
    """Import ``path`` as ``kind`` (a canonical table, an adapter or a preset), all or nothing.

    ``name`` is the file name shown in messages and reports (an upload's original name; never
    used as a path).
    """
    spec = spec or ImportSpec()
    p = Path(path)
    shown = name or p.name
    if kind in TABLES:
        report = load(
            store, kind, p, mapping=spec.map, constants=spec.set, drop=spec.drop, read=spec.read_options(),
            options=spec.validate_options(), dry_run=dry_run, progress=progress, name=shown,
        )  # fmt: skip
        return {kind: report}
    importer = IMPORTERS.get(kind)
    if importer is None:
        raise NotFoundError(f"unknown import kind {kind!r}; expected a table ({', '.join(TABLES)}) "
                            f"or one of {', '.join(IMPORTERS)}")  # fmt: skip
    if not dry_run:
        return importer.run(store, p, spec, shown)
    reports: dict[str, ImportReport] = {}
    try:
        with store.transaction():
            reports = importer.run(store, p, spec, shown)
            raise Discard
    except Discard:
        pass
    for r in reports.values():
        r.dry_run = True
    return reports
