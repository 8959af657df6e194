"""Store.memo: small reads (settings, survey definitions, allowed hosts) cached between commits, never stale —
a local commit, a commit through the sharing protocol (another process) and a raw remote statement all
invalidate them; inside a transaction that changes the table, the uncommitted value is read."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import cxlens
from cxlens.act.net import allowed_hosts
from cxlens.store import Store
from cxlens.store.remote import RemoteConnection, StoreServer
from cxlens.surveys import create_survey, get_survey


def _count(store: Store) -> list[int]:
    calls = [0]
    real = store.one

    def one(sql, params=None):  # noqa: ANN001, ANN202
        calls[0] += 1
        return real(sql, params)

    store.one = one  # type: ignore[method-assign]
    return calls


def test_setting_is_read_once_until_a_commit_changes_settings() -> None:
    ws = cxlens.open(":memory:")
    store = ws.store
    ws.set_setting("a", 1)
    calls = _count(store)
    assert [ws.setting("a") for _ in range(5)] == [1] * 5
    assert calls[0] == 1
    with store.transaction(changes=["feedback"]):  # another table: the cached value stays
        pass
    assert ws.setting("a") == 1 and calls[0] == 1
    ws.set_setting("a", 2)
    assert ws.setting("a") == 2 and calls[0] == 2
    with store.transaction(changes=["settings"]) as cur:  # own uncommitted write: read, not cached
        cur.execute("INSERT OR REPLACE INTO settings VALUES ('a', '3')")
        assert ws.setting("a") == 3
    assert ws.setting("a") == 3
    try:
        with store.transaction(changes=["settings"]) as cur:
            cur.execute("INSERT OR REPLACE INTO settings VALUES ('a', '4')")
            assert ws.setting("a") == 4
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    assert ws.setting("a") == 3  # the rolled-back value was never cached
    ws.close()


def test_a_change_through_the_sharing_protocol_is_seen(tmp_path: Path) -> None:
    ws = cxlens.open(tmp_path / "w.duckdb")
    store = ws.store
    create_survey(ws, {"id": "s1", "name": "NPS", "metric": "nps", "question": "Recommend us?", "status": "active"})
    ws.set_setting("surveys.rate_limit", 5)
    assert get_survey(ws, "s1").status == "active" and ws.setting("surveys.rate_limit") == 5
    assert get_survey(ws, "s1") is get_survey(ws, "s1")  # cached
    token = secrets.token_urlsafe(16)
    server = StoreServer(store, token).start()
    try:
        other = Store(RemoteConnection(server.address, token), path=store.path, remote={"port": server.address[1]})
        # a client's transaction (as another process's Store writes) and a raw autocommit statement
        with other.transaction(changes=["settings"]) as cur:
            cur.execute("INSERT OR REPLACE INTO settings VALUES ('surveys.rate_limit', '7')")
        assert ws.setting("surveys.rate_limit") == 7
        d = json.loads(store.one("SELECT definition FROM surveys WHERE survey_id = 's1'")[0])
        d["status"] = "paused"
        other.cursor().execute("UPDATE surveys SET definition = ?, status = 'paused' WHERE survey_id = 's1'",
                               [json.dumps(d)])  # fmt: skip
        assert get_survey(ws, "s1").status == "paused"
        ws.act.allow_host("127.0.0.1", private=True)
        assert allowed_hosts(store) == [("127.0.0.1", True)]
        other.cursor().execute("DELETE FROM act_hosts")
        assert allowed_hosts(store) == []
        other.close()
    finally:
        server.stop()
        ws.close()


def test_a_value_read_in_the_writers_transaction_is_kept_and_a_rollback_forgets_it() -> None:
    # memo(in_write=True): the act rules' version, read on every batch of survey answers, is kept
    store = cxlens.open(":memory:").store
    store.execute("CREATE TABLE t (x INTEGER)")
    reads = [0]

    def total() -> int:
        reads[0] += 1
        return int(store.scalar("SELECT coalesce(sum(x), 0) FROM t"))

    with store.transaction(changes=["other"]):
        assert store.memo("sum", ("t",), total, in_write=True) == 0
    assert store.memo("sum", ("t",), total) == 0 and reads[0] == 1  # kept from inside the transaction
    with store.transaction(changes=["t"]) as cur:  # a declared change: read fresh inside, stale after
        cur.execute("INSERT INTO t VALUES (5)")
        assert store.memo("sum", ("t",), total, in_write=True) == 5
    assert store.memo("sum", ("t",), total) == 5 and reads[0] == 3
    # a write not declared (yet) and rolled back: the value kept from it is forgotten
    try:
        with store.transaction(changes=["other"]) as cur:
            cur.execute("INSERT INTO t VALUES (7)")
            store.memo("other-key", ("t",), total, in_write=True)
            raise RuntimeError("abort")
    except RuntimeError:
        pass
    assert store.memo("other-key", ("t",), total) == 5


def test_a_job_lease_renewal_keeps_the_cached_values_of_other_tables() -> None:
    from cxlens.jobs import queue

    ws = cxlens.open(":memory:")
    ws.set_setting("a", 1)
    job_id = queue.enqueue(ws.store, "act.scores")
    job = queue.claim(ws.store, "w1", lease=30.0)
    assert job is not None and job.job_id == job_id
    calls = _count(ws.store)
    assert ws.setting("a") == 1 and calls[0] == 1
    assert queue.renew(ws.store, job_id, "w1", lease=30.0)  # a running job's heartbeat, every few seconds
    assert ws.setting("a") == 1 and calls[0] == 1
    ws.close()
