"""GDPR export and erasure reach employees: their rows (``employees``, ``pulse_sends``, any table with an
``employee_id``) are exported and deleted, references to them (``manager_id``, ``tickets.agent``) are
replaced by one pseudonym, other employees and the anonymous pulse answers are kept — library, CLI
(``cxlens employees export|erase``) and HTTP API."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import cxlens

from .. import live
from ..conftest import running
from .test_engagement import _cli

EMP = pd.DataFrame(
    [
        {"employee_id": "m1", "name": "Mia Manager", "email": "mia@example.com", "team": "Support", "role": "lead"},
        {"employee_id": "e1", "name": "Eli Agent", "email": "eli@example.com", "team": "Support", "role": "agent",
         "manager_id": "m1"},
        {"employee_id": "e2", "name": "Ola Agent", "email": "ola@example.com", "team": "Support", "role": "agent",
         "manager_id": "m1"},
    ]
)  # fmt: skip


def build(path) -> None:
    with cxlens.open(path) as ws:
        ws.engagement.import_employees(EMP)
        ws.engagement.import_pulse(pd.DataFrame(
            [{"employee_id": e, "ts": "2026-03-02", "question": "enps", "score": s}
             for e, s in (("e1", 9), ("e2", 7), ("m1", 10))]))  # fmt: skip
        ws.load("tickets", pd.DataFrame([
            {"ticket_id": f"t{i}", "customer_id": f"c{i}", "created_at": "2026-03-02 09:00", "agent": a,
             "team": "Support"} for i, a in enumerate(["e1", "e1", "e2", "m1"])]))  # fmt: skip
        with ws.store.transaction(changes=["pulse_sends"]) as cur:  # invited to two pulses
            for p, e in (("q1", "e1"), ("q2", "e1"), ("q1", "e2"), ("q1", "m1")):
                cur.execute("INSERT INTO pulse_sends VALUES (?, ?, '2026-03-01')", [p, e])


@pytest.fixture
def wpath(tmp_path):
    p = tmp_path / "emp.duckdb"
    build(p)
    return p


def _table(path, sql):
    with cxlens.open(path, read_only=True) as ws:
        return ws.store.read(sql)


def test_export_lists_the_employees_rows_and_where_they_are_referred_to(wpath):
    with cxlens.open(wpath, read_only=True) as ws:
        out = ws.engagement.export_employee("m1")
        assert [r["email"] for r in out["tables"]["employees"]] == ["mia@example.com"]
        assert [r["pulse"] for r in out["tables"]["pulse_sends"]] == ["q1"]
        assert out["referenced_in"] == {"employees.manager_id": 2, "pulse_answers.manager_id": 2,
                                        "pulse_comments.manager_id": 0, "tickets.agent": 1}  # fmt: skip
        assert sorted(r["pulse"] for r in ws.engagement.export_employee("e1")["tables"]["pulse_sends"]) == ["q1", "q2"]
        with pytest.raises(cxlens.errors.NotFoundError, match="no employee 'nobody'"):
            ws.engagement.export_employee("nobody")
    res = _cli(wpath, "employees", "export", "e2")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["tables"]["employees"][0]["name"] == "Ola Agent"


def test_erase_deletes_the_rows_and_pseudonymises_references_through_the_cli(wpath):
    before = _table(wpath, "SELECT count(*) AS n FROM pulse_answers")["n"][0]
    res = _cli(wpath, "employees", "erase", "m1", "--yes")
    assert res.exit_code == 0, res.stderr
    emp = _table(wpath, "SELECT employee_id, manager_id FROM employees ORDER BY 1")
    assert list(emp["employee_id"]) == ["e1", "e2"]
    alias = set(emp["manager_id"])
    assert len(alias) == 1 and next(iter(alias)).startswith("erased-")
    assert _table(wpath, "SELECT count(*) AS n FROM pulse_sends WHERE employee_id = 'm1'")["n"][0] == 0
    assert _table(wpath, "SELECT count(*) AS n FROM pulse_sends")["n"][0] == 3
    assert set(_table(wpath, "SELECT DISTINCT manager_id FROM pulse_answers WHERE manager_id IS NOT NULL")
               ["manager_id"]) == alias  # fmt: skip
    assert _table(wpath, "SELECT count(*) AS n FROM pulse_answers")["n"][0] == before  # the answers stay
    assert set(_table(wpath, "SELECT agent FROM tickets WHERE ticket_id = 't3'")["agent"]) == alias
    # nothing names m1 any more, in any column of any table
    with cxlens.open(wpath, read_only=True) as ws:
        tables = ws.store.read("SELECT table_name, column_name FROM information_schema.columns "
                               "WHERE data_type = 'VARCHAR' AND table_schema = 'main'")  # fmt: skip
        for t, c in tables.itertuples(index=False):
            if t not in ("_cxlens_meta", "settings"):
                assert not ws.store.rows(f'SELECT 1 FROM "{t}" WHERE "{c}" = \'m1\' LIMIT 1'), (t, c)
        with pytest.raises(cxlens.errors.NotFoundError):
            ws.engagement.export_employee("m1")
    with pytest.raises(cxlens.errors.NotFoundError, match="no employee 'm1'"):  # already erased
        _cli(wpath, "employees", "erase", "m1", "--yes")


def test_erase_and_export_over_the_http_api(wpath):
    from cxlens.web import create_app

    with running(create_app(wpath)) as url:
        r = live.get(f"{url}/api/v1/employees/e1/export")
        assert r.status_code == 200, r.text
        assert r.json()["tables"]["employees"][0]["email"] == "eli@example.com"
        r = live.post(f"{url}/api/v1/employees/e1/erase")
        assert r.status_code == 200, r.text
        assert r.json()["employees"] == 1 and r.json()["pulse_sends"] == 2 and r.json()["tickets.agent"] == 2
        assert live.get(f"{url}/api/v1/employees/e1/export").status_code == 404
    assert list(_table(wpath, "SELECT employee_id FROM employees ORDER BY 1")["employee_id"]) == ["e2", "m1"]
