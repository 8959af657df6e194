"""cxlens: open-source customer-experience analytics.

>>> import cxlens
>>> ws = cxlens.open(":memory:")        # or a file: cxlens.open("cxlens.duckdb")
>>> sorted(ws.counts())[:3]
['customers', 'events', 'feedback']
"""

from cxlens import _cpu  # noqa: F401 - first, before NumPy loads: on AMD Zen 4 it prefers NumPy's AVX2 sort (4x faster)
from cxlens.errors import (
    ConfigError,
    CxlensError,
    ImportFileError,
    MissingExtraError,
    NotFoundError,
    ParameterError,
    QueryError,
    SchemaError,
    WorkspaceError,
)
from cxlens.metrics.filters import Filters
from cxlens.schema.journey import Journey, default_journey
from cxlens.version import __version__  # noqa: E402
from cxlens.workspace import ImportResult, Workspace, connect, open

__all__ = [
    "ConfigError",
    "CxlensError",
    "Filters",
    "ImportFileError",
    "ImportResult",
    "Journey",
    "MissingExtraError",
    "NotFoundError",
    "ParameterError",
    "QueryError",
    "SchemaError",
    "Workspace",
    "WorkspaceError",
    "__version__",
    "connect",
    "default_journey",
    "open",
]
