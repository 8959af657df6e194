"""Row hooks: code of a higher layer that must run in the same transaction as rows being inserted.

The writers of a canonical table (the import writer of :mod:`cxlens.ingest.load`, the survey
answers of :mod:`cxlens.surveys.store`) call :func:`inserted` with a query selecting exactly the
rows they just inserted, inside their transaction; every function registered with
:func:`on_insert` for that table runs there. The act rules use it to write their outbox (alerts,
delivery jobs, cases) in the transaction that commits the feedback that triggered them: both commit
or neither does.

A hook gets ``(store, cursor, select_sql, params)``; it must only write through ``cursor`` (or
``store.transaction()``, which joins the open transaction) and raise to abort the whole write. A hook
registered with ``rows=True`` also gets ``rows=``: the inserted rows as dicts of every column, when
the writer holds them (a batch of survey answers), so it need not read them again (else None).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["Hook", "inserted", "on_insert"]

Hook = Callable[[Any, Any, str, Sequence[Any]], None]
_HOOKS: dict[str, list[Hook]] = {}
#: the hooks that take ``rows=``
_WITH_ROWS: set[Hook] = set()


def on_insert(table: str, fn: Hook, *, rows: bool = False) -> Hook:
    """Run ``fn(store, cursor, select_sql, params)`` in every transaction that inserts rows into ``table``
    (``rows``: with ``rows=`` too, see the module doc)."""
    hooks = _HOOKS.setdefault(table, [])
    if fn not in hooks:
        hooks.append(fn)
    if rows:
        _WITH_ROWS.add(fn)
    return fn


def inserted(
    store: Any, cur: Any, table: str, select_sql: str, params: Sequence[Any] = (),
    rows: Sequence[Mapping[str, Any]] | None = None,
) -> None:  # fmt: skip
    """Tell the hooks of ``table`` that the rows ``select_sql`` returns were just inserted (call inside
    the inserting transaction); ``rows``: those rows, every column, when the caller holds them."""
    for fn in list(_HOOKS.get(table, ())):
        if fn in _WITH_ROWS:
            fn(store, cur, select_sql, params, rows=rows)  # type: ignore[call-arg]
        else:
            fn(store, cur, select_sql, params)
