"""Survey answers through the group commit (the widget endpoint's write path): answers arriving together
share one transaction, yet each is acknowledged only once committed, fails alone, and fires its
rules exactly once; the bulk job queue functions the delivery pump uses."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import cxlens
from cxlens.errors import ResponseConflictError
from cxlens.jobs import queue
from cxlens.store import Store
from cxlens.store.group import GroupCommit
from cxlens.surveys import create_survey, submit_response

TPS = ("account", "billing")


@pytest.fixture(scope="module")
def gws(tmp_path_factory):
    ws = cxlens.open(tmp_path_factory.mktemp("group") / "g.duckdb")
    ws.act.allow_host("hooks.example.com")
    for i, tp in enumerate(TPS):
        create_survey(ws, {"id": f"s{i}", "name": f"S{i}", "metric": "nps", "question": "?", "status": "active",
                           "touchpoint": tp, "targeting": {"once_per_person": i == 1}})  # fmt: skip
    ws.act.load_rules({"rules": [
        {"name": "low", "window": 0, "digest": False, "when": {"feedback": {"metric": "nps", "score": {"max": 6}}},
         "do": [{"webhook": {"url": "https://hooks.example.com/x"}}, {"case": {"team": "support"}}]},
        {"name": "billing", "window": 0, "digest": False, "when": {"feedback": {"touchpoint": "billing"}},
         "do": [{"slack": {"url": "https://hooks.example.com/s"}}]},
    ]})  # fmt: skip
    yield ws
    ws.close()


def _slow_writes(ws, monkeypatch):
    """Make each transaction commit slowly, so concurrent answers pile up into batches."""
    store = ws.store
    real = store.transaction

    import contextlib
    import time

    @contextlib.contextmanager
    def slow(**kw):
        with real(**kw) as cur:
            yield cur
            if store._local.depth == 1:
                time.sleep(0.02)

    monkeypatch.setattr(store, "transaction", slow)


def test_concurrent_answers_share_transactions_and_each_fires_once(gws, monkeypatch):
    _slow_writes(gws, monkeypatch)
    before = int(gws.scalar("SELECT count(*) FROM act_alerts"))
    scores = {f"c{i}": i % 11 for i in range(120)}

    def one(i):
        return submit_response(gws, "s0", response_id=f"c{i}", customer_id=f"u{i}", score=i % 11)

    with ThreadPoolExecutor(16) as pool:
        out = list(pool.map(one, range(120)))
    assert all(o["created"] and o["feedback_id"] for o in out)
    from cxlens.surveys import store as sv

    g = sv._GROUPS[gws.store]
    assert g.batches > 0 and g.calls >= 120  # answers really shared transactions
    got = dict(gws.rows("SELECT json_extract_string(properties, '$.response_id') AS rid, score FROM feedback WHERE survey_id = 's0' "
                        "AND json_extract_string(properties, '$.response_id') LIKE 'c%'"))  # fmt: skip
    assert got == {k: float(v) for k, v in scores.items()}
    # the rollup equals a scan of feedback, group by group
    same = " AND ".join(f"r.{c} IS NOT DISTINCT FROM f.{c}" for c in ("metric", "touchpoint", "day", "score"))
    diff = gws.rows(f"""SELECT * FROM (SELECT metric, touchpoint, day, score, sum(n) a FROM feedback_rollup GROUP BY ALL) r
                        FULL JOIN (SELECT metric, touchpoint, ts::DATE AS day, score, count(*) b FROM feedback
                                   GROUP BY ALL) f ON {same} WHERE a IS DISTINCT FROM b""")
    assert diff == [] and gws.scalar("SELECT sum(n) FROM feedback_rollup") == gws.scalar(
        "SELECT count(*) FROM feedback"
    )
    low = sum(1 for v in scores.values() if v <= 6)
    alerts = gws.rows("SELECT feedback_id, count(*) FROM act_alerts WHERE feedback_id IN (SELECT feedback_id FROM "
                      "feedback WHERE survey_id = 's0') GROUP BY 1")  # fmt: skip
    assert len(alerts) == low and all(n == 1 for _, n in alerts)
    assert int(gws.scalar("SELECT count(*) FROM act_alerts")) - before == low
    # every alert has its delivery and its job, and its case
    assert gws.scalar("SELECT count(*) FROM act_deliveries d ANTI JOIN jobs j USING (job_id)") == 0
    assert gws.scalar("SELECT count(*) FROM act_alerts a ANTI JOIN act_deliveries d USING (alert_id)") == 0
    assert gws.scalar("SELECT count(*) FROM act_alerts a ANTI JOIN act_cases c USING (alert_id)") == 0


def test_a_failing_answer_fails_alone_and_partials_of_one_response_merge(gws, monkeypatch):
    _slow_writes(gws, monkeypatch)
    submit_response(gws, "s1", response_id="first", customer_id="dup", score=3)
    barrier = threading.Barrier(12)

    def one(i):
        barrier.wait()
        if i == 0:  # once_per_person: this person already answered s1
            return submit_response(gws, "s1", response_id="second", customer_id="dup", score=2)
        if i == 1:  # a partial of a response sent in the same burst: the comment merges into it
            return submit_response(gws, "s1", response_id="p1", customer_id="pp", comment="slow delivery")
        return submit_response(gws, "s1", response_id=f"ok{i}", customer_id=f"v{i}", score=9)

    with ThreadPoolExecutor(12) as pool:
        futures = [pool.submit(one, i) for i in range(12)]
        # the score of p1 arrives with the burst too
        submit_response(gws, "s1", response_id="p1", customer_id="pp", score=1)
        errors = [f.exception() for f in futures]
    assert isinstance(errors[0], ResponseConflictError)
    assert all(e is None for e in errors[1:])
    assert gws.scalar("SELECT count(*) FROM feedback WHERE survey_id = 's1' AND customer_id LIKE 'v%'") == 10
    assert gws.scalar("SELECT count(*) FROM feedback WHERE customer_id = 'dup'") == 1
    assert gws.rows("SELECT score, comment FROM feedback WHERE customer_id = 'pp'") == [(1.0, "slow delivery")]
    # the billing rule fired once per s1 answer, the conflicting one never
    fired = gws.rows("SELECT customer_id, count(*) FROM act_alerts WHERE rule = 'billing' GROUP BY 1")
    assert dict(fired) == {"dup": 1, "pp": 1, **{f"v{i}": 1 for i in range(2, 12)}}


def test_group_commit_rolls_a_failed_batch_back_and_reruns_each_call():
    store = Store.memory()
    store.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")
    g = GroupCommit(store, changes=["t"])
    gate = threading.Event()

    def put(x):
        gate.wait()
        with store.transaction() as cur:
            cur.execute("INSERT INTO t VALUES (?)", [x])
        return x

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(g.call, lambda x=x: put(x)) for x in (1, 2, 2, 3, 4, 4, 5)]
        gate.set()
        outcomes = [f.exception() is None for f in futures]
    assert sorted(r[0] for r in store.rows("SELECT x FROM t")) == [1, 2, 3, 4, 5]
    assert outcomes.count(False) == 2  # the second 2 and the second 4, nothing else
    g.close()
    store.close()


def test_bulk_enqueue_claim_and_complete(gws):
    ids = queue.enqueue_many(gws, "test.bulk", [({"i": i}, f"bulk:{i}", 3) for i in range(5)])
    assert all(ids)
    again = queue.enqueue_many(gws, "test.bulk", [({"i": 0}, "bulk:0", 3), ({"i": 9}, "bulk:9", 3)])
    assert again[0] is None and again[1]  # a slot is queued once
    got = queue.claim_many(gws, "w1", "test.bulk", lease=30, limit=4)
    assert len(got) == 4 and all(j.status == "running" and j.attempts == 1 for j in got)
    assert queue.claim_many(gws, "w2", "test.bulk", lease=30, limit=10).__len__() == 2  # the rest, not w1's
    done = queue.complete_many(gws, [j.job_id for j in got], "w2", ["{}"] * 4)
    assert done == []  # w2 does not hold them
    done = queue.complete_many(gws, [j.job_id for j in got], "w1", ['{"ok":1}'] * 4)
    assert sorted(done) == sorted(j.job_id for j in got)
    assert gws.scalar("SELECT count(*) FROM jobs WHERE kind = 'test.bulk' AND status = 'done'") == 4


def test_one_person_answering_twice_in_one_batch_is_accepted_once(gws, monkeypatch):
    """Two answers of one person to a once-per-person survey in the same batch: the batch's new
    responses are inserted together at its end, so the second must see the first before its
    once-per-person check — exactly one is accepted, whatever the batching."""
    import time

    _slow_writes(gws, monkeypatch)
    from cxlens.surveys import store as sv

    submit_response(gws, "s0", response_id="warm", customer_id="warm", score=9)
    g = sv._GROUPS[gws.store]
    barrier = threading.Barrier(11)

    def one(i):
        barrier.wait()
        if i == 10:  # keeps the writer busy, so the twins wait together and share the next batch
            return submit_response(gws, "s0", response_id="busy", customer_id="busy", score=9)
        time.sleep(0.005)
        return submit_response(gws, "s1", response_id=f"twin{i}", customer_id="twin", score=i % 11)

    split = g.split
    with ThreadPoolExecutor(11) as pool:
        futures = [pool.submit(one, i) for i in range(11)]
        errors = [f.exception() for f in futures][:10]
    assert sum(e is None for e in errors) == 1
    assert all(isinstance(e, ResponseConflictError) for e in errors if e is not None)
    assert gws.scalar("SELECT count(*) FROM feedback WHERE customer_id = 'twin'") == 1
    assert gws.scalar("SELECT count(*) FROM survey_responses WHERE customer_id = 'twin'") == 1
    assert g.split > split  # the twins shared a batch, which the second one's conflict split
