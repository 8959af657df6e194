"""The store: the only code that touches DuckDB (see :mod:`cxlens.store.core`).

* :class:`Store` — per-thread cursors and Ibis backends, ``read()``, ``transaction()``, settings,
  the journey configuration and data versions;
* :class:`ExternalStore` — read-only, over any Ibis backend (Spark, a warehouse);
* :mod:`cxlens.store.rollup` and :mod:`cxlens.store.segments` — the feedback rollup and saved
  segments, each with one owner;
* :mod:`cxlens.store.share` and :mod:`cxlens.store.remote` — one workspace used by several
  processes (a server and the CLI or a notebook beside it).
"""

from cxlens.store.core import (
    SETTINGS,
    ExternalStore,
    Store,
    read_compiled,
    read_snapshot,
    to_pandas,
    translate,
    unordered_reads,
)
from cxlens.store.share import holder_of, open_store, share, sidecar_path

__all__ = [
    "SETTINGS",
    "ExternalStore",
    "Store",
    "holder_of",
    "open_store",
    "read_compiled",
    "read_snapshot",
    "share",
    "sidecar_path",
    "to_pandas",
    "translate",
    "unordered_reads",
]
