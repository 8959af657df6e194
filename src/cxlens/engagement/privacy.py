"""GDPR export and erasure for an employee (an employee is a person too).

An employee's own rows are the rows of every table with an ``employee_id`` column (``employees``,
``pulse_sends`` and any table added later that names one). Other rows *refer* to the employee without
being theirs: ``manager_id`` (the employee as the manager of others, in ``employees``, ``pulse_answers``,
``pulse_comments`` or any table with that column) and ``tickets.agent`` (the agent who handled a
customer's ticket; the demo and the scorecards use the employee id there).

- :func:`export_employee` returns the own rows in full (the data subject's own copy, PII included)
  and, per referring column, how many rows refer to the employee (those rows are other people's).
- :func:`erase_employee` deletes the own rows and, in the same transaction, replaces every reference
  by one random pseudonym ``erased-<hex>`` (the same in every table, so the others' anonymous pulse
  answers and the customers' tickets stay grouped together but no longer name the employee).

Pulse answers never hold the employee id (anonymous by construction), so they are not the employee's
rows and are kept.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from cxlens.errors import NotFoundError, ParameterError

__all__ = ["OWN_COLUMN", "REFERENCES", "erase_employee", "export_employee"]

#: the column naming the employee whose row it is
OWN_COLUMN = "employee_id"
#: columns that refer to an employee in other people's rows: (table or None for any table, column)
REFERENCES: tuple[tuple[str | None, str], ...] = ((None, "manager_id"), ("tickets", "agent"))


def _columns(store: Any) -> dict[str, set[str]]:
    rows = store.rows(
        "SELECT c.table_name, c.column_name FROM duckdb_columns() c JOIN duckdb_tables() t "
        "ON c.database_name = t.database_name AND c.schema_name = t.schema_name AND c.table_name = t.table_name "
        "WHERE c.schema_name = 'main' AND NOT t.temporary AND c.database_name = current_database()"
    )
    out: dict[str, set[str]] = {}
    for t, c in rows:
        out.setdefault(t, set()).add(c)
    return out


def _scope(store: Any) -> tuple[list[str], list[tuple[str, str]]]:
    """(tables with the employee's own rows, (table, column) pairs referring to an employee)."""
    cols = _columns(store)
    own = sorted(t for t, c in cols.items() if OWN_COLUMN in c)
    refs = sorted({(t, col) for table, col in REFERENCES for t, c in cols.items()
                   if col in c and (table is None or t == table)})  # fmt: skip
    return own, refs


def _check(store: Any, employee_id: str) -> str:
    if not employee_id or not str(employee_id).strip():
        raise ParameterError("employee_id", "employee_id is empty; name the employee to export or erase")
    return str(employee_id)


def _plain(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float) and v != v:
        return None
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if hasattr(v, "item"):
        return v.item()
    return v


def export_employee(store: Any, employee_id: str) -> dict[str, Any]:
    """``{"employee_id", "exported_at", "tables": {table: [row…]}, "referenced_in": {"table.column": n}}``;
    :class:`NotFoundError` when no row names the employee."""
    eid = _check(store, employee_id)
    own, refs = _scope(store)
    tables = {}
    for t in own:
        df = store.read(f'SELECT * FROM "{t}" WHERE "{OWN_COLUMN}" = ?', [eid])
        tables[t] = [{k: _plain(v) for k, v in r.items()} for r in df.to_dict("records")]
    referenced = {f"{t}.{c}": int(store.rows(f'SELECT count(*) FROM "{t}" WHERE "{c}" = ?', [eid])[0][0])
                  for t, c in refs}  # fmt: skip
    if not any(tables.values()) and not any(referenced.values()):
        raise NotFoundError(f"no employee {eid!r} in this workspace (no row names it); check the id")
    return {"employee_id": eid, "exported_at": dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(),
            "tables": tables, "referenced_in": referenced}  # fmt: skip


def erase_employee(store: Any, employee_id: str, *, missing_ok: bool = False) -> dict[str, int]:
    """Delete the employee's own rows and pseudonymise every reference, in ONE transaction; returns
    rows changed per ``table`` (deleted) and ``table.column`` (references replaced)."""
    eid = _check(store, employee_id)
    own, refs = _scope(store)
    alias = f"erased-{secrets.token_hex(6)}"
    out: dict[str, int] = {}
    with store.transaction(changes=[*own, *(t for t, _ in refs)]) as cur:
        for t, c in refs:
            out[f"{t}.{c}"] = int(
                cur.execute(f'UPDATE "{t}" SET "{c}" = ? WHERE "{c}" = ?', [alias, eid]).fetchone()[0]
            )
        for t in own:
            out[t] = int(cur.execute(f'DELETE FROM "{t}" WHERE "{OWN_COLUMN}" = ?', [eid]).fetchone()[0])
        if not any(out.values()) and not missing_ok:
            raise NotFoundError(f"no employee {eid!r} in this workspace (no row names it); check the id")
    return out
