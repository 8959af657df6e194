"""Opening workspaces: schema, version, migrations, read-only access, journey config."""

from __future__ import annotations

import duckdb
import ibis
import pandas as pd
import pytest

import cxlens
from cxlens.errors import ConfigError, WorkspaceError
from cxlens.schema.migrations import SCHEMA_VERSION
from cxlens.schema.tables import TABLES


def test_new_workspace_has_every_canonical_table_with_its_columns(tmp_path):
    path = tmp_path / "w.duckdb"
    cxlens.open(path).close()
    con = duckdb.connect(str(path), read_only=True)
    for name, table in TABLES.items():
        cols = [r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()]
        assert cols == table.column_names
    assert con.execute("SELECT value FROM _cxlens_meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    # timestamps are zoneless UTC, ids strings
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name='feedback'"
        ).fetchall()
    )
    assert types["ts"] == "TIMESTAMP" and types["feedback_id"] == "VARCHAR" and types["score"] == "DOUBLE"
    con.close()


def test_pii_columns_are_marked():
    assert TABLES["customers"].pii_columns == ["email", "name"]
    assert "body" in TABLES["tickets"].pii_columns


def test_reopening_keeps_data_and_version(tmp_path):
    path = tmp_path / "w.duckdb"
    with cxlens.open(path) as ws:
        ws.load(
            "orders", pd.DataFrame({"order_id": ["o1"], "customer_id": ["c1"], "ts": ["2024-01-01"], "amount": [5]})
        )
    with cxlens.open(path) as ws:
        assert ws.counts()["orders"] == 1 and ws.schema_version == SCHEMA_VERSION


def test_a_version_4_workspace_gets_the_tables_added_since(tmp_path):
    """Tables added to the behaviour, act and learn areas after version 4 shipped reach old workspaces
    by migration 5."""
    path = tmp_path / "w.duckdb"
    cxlens.open(path).close()
    added = ["replay_chunks", "replay_sessions", "act_score_state", "pulse_comments", "interview_tags"]
    con = duckdb.connect(str(path))
    for t in added:
        con.execute(f"DROP TABLE {t}")
    con.execute("UPDATE _cxlens_meta SET value='4' WHERE key='schema_version'")
    con.close()
    with pytest.raises(WorkspaceError, match=f"needs migrating to version {SCHEMA_VERSION}; open it writable once"):
        cxlens.open(path, read_only=True)
    cxlens.open(path).close()
    con = duckdb.connect(str(path), read_only=True)
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert set(added) <= tables
    assert con.execute("SELECT value FROM _cxlens_meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    con.close()


def test_a_version_6_workspace_gets_every_area_table_by_migration_7(tmp_path):
    """Migration 7 creates every table of the behaviour, act and learn areas that a version-6 workspace
    lacks (each area adds its new tables to its DDL list only), whatever their names."""
    import re

    from cxlens.schema import ddl_act, ddl_behaviour, ddl_learn

    names = [
        re.search(r"CREATE TABLE IF NOT EXISTS (\w+)", s).group(1)
        for s in ddl_behaviour.DDL + ddl_act.DDL + ddl_learn.DDL
        if "CREATE TABLE" in s
    ]
    assert len(names) >= 20
    path = tmp_path / "w.duckdb"
    cxlens.open(path).close()
    con = duckdb.connect(str(path))
    for t in names:
        con.execute(f"DROP TABLE {t}")
    con.execute("UPDATE _cxlens_meta SET value='6' WHERE key='schema_version'")
    con.close()
    cxlens.open(path).close()
    con = duckdb.connect(str(path), read_only=True)
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    con.close()
    assert set(names) <= tables


def test_workspace_from_a_newer_cxlens_is_refused(tmp_path):
    path = tmp_path / "w.duckdb"
    cxlens.open(path).close()
    con = duckdb.connect(str(path))
    con.execute("UPDATE _cxlens_meta SET value='999' WHERE key='schema_version'")
    con.close()
    with pytest.raises(WorkspaceError, match="schema version 999, newer than this cxlens"):
        cxlens.open(path)


def test_missing_folder_and_non_duckdb_file(tmp_path):
    with pytest.raises(WorkspaceError, match="does not exist"):
        cxlens.open(tmp_path / "nope" / "w.duckdb")
    junk = tmp_path / "junk.duckdb"
    junk.write_text("this is not a database")
    with pytest.raises(WorkspaceError):
        cxlens.open(junk)


def test_connect_over_an_ibis_backend_is_read_only(tmp_path):
    con = ibis.duckdb.connect()
    con.create_table("feedback", pd.DataFrame({"feedback_id": ["a"], "metric": ["nps"], "score": [10.0]}))
    ws = cxlens.connect(con)
    assert ws.table("feedback").count().execute() == 1
    with pytest.raises(WorkspaceError, match="read-only"):
        ws.load("feedback", pd.DataFrame({"ts": ["2024-01-01"], "metric": ["nps"], "score": [1]}))
    with pytest.raises(WorkspaceError, match="no table 'feedback'"):
        cxlens.connect(ibis.duckdb.connect())


def test_journey_roundtrips_through_yaml_and_workspace(ws, tmp_path):
    j = ws.journey
    assert j.stage_ids == ["awareness", "consideration", "purchase", "service", "loyalty", "advocacy"]
    assert j.stage_of()["delivery"] == "service"
    custom = cxlens.Journey.from_yaml(
        "name: b2b\nstages: [lead, trial, paid]\ntouchpoints:\n  - {id: demo_call, stage: trial, channel: phone}\n"
    )
    ws.set_journey(custom)
    path = ws.path
    ws.close()
    with cxlens.open(path) as again:
        assert again.journey == custom
        assert again.sql("SELECT stage FROM journey_stages ORDER BY position")["stage"].tolist() == [
            "lead",
            "trial",
            "paid",
        ]
        assert cxlens.Journey.from_yaml(again.journey.to_yaml()) == custom
        again.load(
            "feedback",
            pd.DataFrame({"ts": ["2024-01-01"], "metric": ["nps"], "score": [1], "touchpoint": ["demo_call"]}),
        )
        assert again.sql("SELECT stage, channel FROM feedback").values.tolist() == [["trial", "phone"]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stages: []", "has no 'stages' list"),
        ("stages: [a, a]", "lists stage 'a' twice"),
        ("stages: [a]\ntouchpoints: [{id: x, stage: b}]", "touchpoint 'x' has stage 'b'; expected one of a"),
        ("stages: [a\n", "is not valid YAML"),
    ],
)
def test_bad_journey_yaml_is_explained(text, message):
    with pytest.raises(ConfigError, match=message):
        cxlens.Journey.from_yaml(text)
