"""Workspace schema versions and the migrations between them.

A workspace records its version in ``_cxlens_meta``; opening it writable applies, in one
transaction, every migration from that version to :data:`SCHEMA_VERSION`. A workspace newer than
this cxlens is refused; an old one opened read-only is refused with the fix.

=======  ==================================================================================
version  adds
=======  ==================================================================================
1        the canonical tables, the journey configuration, the feedback rollup, saved segments
2        settings, API keys, users, sessions, the collection and survey tables
3        the stored verbatim analysis, demo truth, data versions, jobs, stored results and
         customer scores
4        behaviour (sessions, replays, zones), act (rules, outbox, cases, digests, shares), learn
         (experiments, interviews, employees and pulse answers)
5        the tables those areas added after version 4 shipped
6        ``behaviour_events.direction_changes`` (scroll direction changes per page view, for
         ``$excessive_scroll``)
=======  ==================================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cxlens.errors import WorkspaceError
from cxlens.schema import ddl, ddl_act, ddl_behaviour, ddl_learn
from cxlens.schema.journey import Journey, default_journey
from cxlens.schema.tables import TABLES

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate", "schema_version", "write_journey"]

SCHEMA_VERSION = 7


def _run(cur: Any, statements: list[str]) -> None:
    for s in statements:
        cur.execute(s)


def _to_1(cur: Any) -> None:
    _run(cur, [t.ddl() for t in TABLES.values()])
    _run(cur, ddl.JOURNEY + ddl.ROLLUP + ddl.SEGMENTS)


def _to_2(cur: Any) -> None:
    _run(cur, ddl.SETTINGS + ddl.ACCESS + ddl.COLLECT + ddl.SURVEYS)


def _to_3(cur: Any) -> None:
    # version-2 workspaces made their analysis and demo tables on first use; some lack a column
    _run(cur, ddl.VOICE + ddl.DEMO + ddl.DATA_VERSIONS + ddl.JOBS + ddl.SEGMENTS)
    cur.execute(f"ALTER TABLE {ddl.VERBATIM_ANALYSIS_TABLE} ADD COLUMN IF NOT EXISTS original_text VARCHAR")
    has_rollup = cur.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_catalog = current_database()",
        [ddl.ROLLUP_TABLE],
    ).fetchone()[0]
    if not has_rollup:  # a workspace whose rollup was dropped: count it again from feedback
        _run(cur, ddl.ROLLUP)
        cur.execute(f"INSERT INTO {ddl.ROLLUP_TABLE} {ddl.rollup_counts('feedback')}")


def _to_4(cur: Any) -> None:
    _run(cur, ddl_behaviour.DDL + ddl_act.DDL + ddl_learn.DDL)


def _to_5(cur: Any) -> None:
    # the tables added to the behaviour, act and learn areas after version 4 shipped (replay chunks and
    # sessions, act_score_state, pulse_comments, interview_tags): every statement is CREATE … IF NOT
    # EXISTS, so the areas' whole DDL brings a version-4 workspace up to date
    _run(cur, ddl_behaviour.DDL + ddl_act.DDL + ddl_learn.DDL)


def _to_6(cur: Any) -> None:
    # the typed copy of behaviour events gains the SDK's scroll direction changes per page view; it is
    # the last column, as in ddl_behaviour, because the copy is inserted by position (behaviour/sync.py).
    # Rows copied before have none: the SDK did not send the property then.
    cur.execute("ALTER TABLE behaviour_events ADD COLUMN IF NOT EXISTS direction_changes DOUBLE")


def _to_7(cur: Any) -> None:
    # the tables added to the behaviour, act and learn areas after version 6 shipped (every statement is
    # CREATE … IF NOT EXISTS, as in version 5), then each area's idempotent changes to its existing
    # tables (``ALTER … ADD COLUMN IF NOT EXISTS``), listed in its ``V7`` list
    _run(cur, ddl_behaviour.DDL + ddl_act.DDL + ddl_learn.DDL)
    _run(cur, ddl_behaviour.V7 + ddl_act.V7 + ddl_learn.V7)


#: schema version → the function bringing a workspace from the previous version to it
MIGRATIONS: dict[int, Callable[[Any], None]] = {
    1: _to_1,
    2: _to_2,
    3: _to_3,
    4: _to_4,
    5: _to_5,
    6: _to_6,
    7: _to_7,
}


def schema_version(cur: Any) -> int:
    """The version recorded in the workspace (0 for a new, empty database)."""
    has_meta = cur.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = '_cxlens_meta' "
        "AND table_catalog = current_database()"
    ).fetchone()[0]
    if not has_meta:
        return 0
    row = cur.execute("SELECT value FROM _cxlens_meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(cur: Any, *, path: str | None, read_only: bool) -> int:
    """Bring the workspace on cursor ``cur`` to :data:`SCHEMA_VERSION`, inside the caller's
    transaction. Returns the version it had."""
    version = schema_version(cur)
    if version > SCHEMA_VERSION:
        raise WorkspaceError(
            f"workspace {path!r} has schema version {version}, newer than this cxlens ({SCHEMA_VERSION}); "
            "upgrade cxlens"
        )
    if version == SCHEMA_VERSION:
        return version
    if read_only:
        raise WorkspaceError(f"workspace {path!r} needs migrating to version {SCHEMA_VERSION}; open it writable once")
    _run(cur, ddl.META)
    for v in range(version + 1, SCHEMA_VERSION + 1):
        MIGRATIONS[v](cur)
    cur.execute("INSERT OR REPLACE INTO _cxlens_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
    if version == 0:
        write_journey(cur, default_journey())
    return version


def write_journey(cur: Any, journey: Journey) -> None:
    """Replace the stored journey configuration (inside the caller's transaction)."""
    cur.execute("DELETE FROM journey_stages")
    cur.execute("DELETE FROM journey_touchpoints")
    cur.execute("DELETE FROM journey_config")
    cur.executemany(
        "INSERT INTO journey_stages VALUES (?, ?, ?)", [[s.id, s.label, i] for i, s in enumerate(journey.stages)]
    )
    if journey.touchpoints:
        cur.executemany(
            "INSERT INTO journey_touchpoints VALUES (?, ?, ?, ?)",
            [[t.id, t.label, t.stage, t.channel] for t in journey.touchpoints],
        )
    cur.execute("INSERT INTO journey_config VALUES (?, ?)", [journey.name, journey.to_yaml()])
