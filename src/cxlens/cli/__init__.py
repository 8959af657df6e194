"""The ``cxlens`` command line: thin commands over the library.

Every command opens the workspace chosen by ``--workspace`` (or ``CXLENS_WORKSPACE``,
default ``./cxlens.duckdb``), calls one library function and prints its result. Errors go
to stderr with a non-zero exit status. Commands live in one module per area; importing them
registers them on :data:`app`.
"""

from cxlens.cli import access, act, bench, collect, customers, data, jobs, journeys, measure, surveys, voice  # noqa: F401  (registers commands)
from cxlens.cli._app import app, main

__all__ = ["app", "main"]
