"""cxlens: open-source customer-experience analytics.

>>> import cxlens
>>> ws = cxlens.open(":memory:")        # or a file: cxlens.open("cxlens.duckdb")
>>> sorted(ws.counts())[:3]
['customers', 'events', 'feedback']
"""

from cxlens.errors import (
    ConfigError,
    CxlensError,
    ImportFileError,
    MissingExtraError,
    NotFoundError,
    SchemaError,
    WorkspaceError,
)
from cxlens.journeys.config import Journey, default_journey
from cxlens.workspace import ImportResult, Workspace, connect, open

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "CxlensError",
    "ImportFileError",
    "ImportResult",
    "Journey",
    "MissingExtraError",
    "NotFoundError",
    "SchemaError",
    "Workspace",
    "WorkspaceError",
    "__version__",
    "connect",
    "default_journey",
    "open",
]
