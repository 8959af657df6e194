"""The ``cxlens`` command line: thin commands over the library.

Every command opens the workspace chosen by ``--workspace`` (or ``CXLENS_WORKSPACE``,
default ``./cxlens.duckdb``), calls one library function and prints its result. Errors go
to stderr with a non-zero exit status. Commands live in one module per area; importing them
registers them on :data:`app`.
"""

from cxlens.cli import (  # noqa: F401  (registers commands)
    access,
    act,
    behaviour,
    bench,
    collect,
    customers,
    data,
    engagement,
    experiments,
    interviews,
    jobs,
    journeys,
    measure,
    replays,
    share,
    surveys,
    voice,
)
from cxlens.cli._app import app, assign_panels, main

assign_panels()  # `cxlens --help` by workflow: get data in, analyse, predict, act, administer

__all__ = ["app", "main"]
