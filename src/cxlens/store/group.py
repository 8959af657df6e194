"""Group commit: small writes arriving together from many threads share one transaction.

A busy endpoint (survey answers from the widget) makes many small writes at once; committing each on
its own costs a commit, a data-version bump and the statements a batch could share (a rule check,
an outbox insert). :class:`GroupCommit` runs the calls submitted while a transaction is open one
after another, on one writer thread, inside the next transaction, and answers every caller only
after that transaction committed — the guarantee of a plain transaction (acknowledged ⇒ durable)
is kept. No call waits for a timer: a batch is whatever arrived while the previous one committed,
so a lone call runs at once.

Calls with the same ``key`` (the same survey response) never share a batch: a later one runs in the
next transaction and sees the first committed. When a call fails inside a batch, the batch is rolled
back and each of its calls runs again in a transaction of its own, so a failing call fails alone
(with its own error) and the others commit — calls must therefore be safe to run again after a
rollback (they are whole writes, computed from their arguments).

>>> from cxlens.store import Store
>>> store = Store.memory()
>>> store.execute("CREATE TABLE t (x INTEGER)")
>>> group = GroupCommit(store, changes=["t"])
>>> def put(x):
...     with store.transaction() as cur:
...         cur.execute("INSERT INTO t VALUES (?)", [x])
...     return x
>>> [group.call(lambda i=i: put(i)) for i in range(3)], store.scalar("SELECT sum(x) FROM t")
([0, 1, 2], 3)
>>> group.close()
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

__all__ = ["GroupCommit"]

T = TypeVar("T")


class _Call:
    __slots__ = ("done", "error", "fn", "key", "result")

    def __init__(self, fn: Callable[[], Any], key: Hashable | None):
        self.fn = fn
        self.key = key
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.fn()
        except BaseException as e:  # handed to the caller's thread
            self.error = e


class GroupCommit:
    """Run calls from many threads in shared transactions on one writer thread (see the module doc).

    ``scope(cursor, keys)``, when given, is a context manager entered inside each batch's transaction
    around its calls (and not around a call run on its own after a failed batch), with the calls'
    keys (distinct; None for a call without one): a batch may read ahead for them, and defer work to
    its exit (one multi-row insert for the whole batch) — raising there fails the batch.
    ``max_calls`` bounds a batch.
    """

    def __init__(
        self,
        store: Any,
        *,
        changes: Sequence[str] = (),
        scope: Callable[[Any, list[Hashable | None]], contextlib.AbstractContextManager[Any]] | None = None,
        max_calls: int = 256,
        name: str = "cxlens-group-commit",
    ):
        self.store = store
        self.changes = list(changes)
        self.scope = scope
        self.max_calls = max_calls
        self._queue: deque[_Call] = deque()
        self._cond = threading.Condition()
        self._closed = False
        #: committed batches and calls, and batches that failed and were run call by call
        self.batches = self.calls = self.split = 0
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def call(self, fn: Callable[[], T], key: Hashable | None = None) -> T:
        """Run ``fn()`` in the next group transaction; returns its result once that transaction
        committed (raises its error, the call rolled back)."""
        c = _Call(fn, key)
        with self._cond:
            if self._closed:
                raise RuntimeError("this group commit is closed")
            self._queue.append(c)
            self._cond.notify()
        c.done.wait()
        if c.error is not None:
            raise c.error
        return c.result  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stop the writer thread after the calls already submitted."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=30)

    def _take(self) -> list[_Call]:
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            batch: list[_Call] = []
            keys: set[Hashable] = set()
            later: list[_Call] = []
            while self._queue and len(batch) < self.max_calls:
                c = self._queue.popleft()
                if c.key is not None and c.key in keys:
                    later.append(c)  # the same key twice: the second waits for the first to commit
                    continue
                if c.key is not None:
                    keys.add(c.key)
                batch.append(c)
            self._queue.extendleft(reversed(later))
            return batch

    def _loop(self) -> None:
        while True:
            batch = self._take()
            if not batch:
                return  # closed and drained
            try:
                self._run(batch)
            finally:
                for c in batch:
                    c.done.set()

    def _run(self, batch: list[_Call]) -> None:
        if len(batch) == 1:
            batch[0].run()  # nothing to share: the call's own transaction, no scope
            self.calls += 1
            return
        failed = False
        try:
            with self.store.transaction(changes=self.changes) as cur:
                with self.scope(cur, [c.key for c in batch]) if self.scope else contextlib.nullcontext():
                    for c in batch:
                        c.run()
                        if c.error is not None:
                            raise c.error
        except BaseException:
            failed = True
        if not failed:
            self.batches += 1
            self.calls += len(batch)
            return
        self.split += 1
        for c in batch:  # the batch rolled back: each call alone, so only the failing ones fail
            c.error = c.result = None
            c.run()
            self.calls += 1
