"""The group-commit writer: idempotency (also across restarts), customers, stitching, journey stages."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime

import numpy as np
import orjson
import pytest

import cxlens
from cxlens.collect import Collector, close_collectors, collector_for, id_hash, parse_messages
from cxlens.collect.writer import SeenIds, _Job

NOW = datetime(2024, 5, 1, 12, 0, 0)


def batch(*msgs):
    return parse_messages({"batch": list(msgs)}, "batch", NOW)


def track(mid, user="u1", **kw):
    return {"type": "track", "userId": user, "event": "Viewed", "messageId": mid, **kw}


@pytest.fixture()
def path(tmp_path):
    return tmp_path / "w.duckdb"


def test_retries_never_double_count_also_after_a_restart(path):
    ws = cxlens.open(path)
    c = collector_for(ws)
    assert c.write(batch(track("a"), track("b"), track("a"))).inserted == 2  # repeat inside one request
    assert c.write(batch(track("b"), track("c"))).inserted == 1
    close_collectors(ws)
    ws.close()
    ws = cxlens.open(path)  # a new process: the id index is rebuilt from events
    c = collector_for(ws)
    assert len(c.seen) == 3
    res = c.write(batch(track("a"), track("c"), track("d")))
    assert (res.inserted, res.duplicates) == (1, 2)
    ids = ws.sql("SELECT event_id, count(*) AS n FROM events GROUP BY 1 ORDER BY 1")
    assert ids.values.tolist() == [["a", 1], ["b", 1], ["c", 1], ["d", 1]]
    close_collectors(ws)
    ws.close()


def test_a_hash_collision_never_drops_a_new_event(ws):
    c = collector_for(ws)
    c.seen.add(np.array([id_hash("fresh")], dtype=np.uint64))  # pretend "fresh" collides with a stored id
    assert c.write(batch(track("fresh"))).inserted == 1
    assert ws.sql("SELECT count(*) AS n FROM events")["n"][0] == 1
    close_collectors(ws)


def test_seen_ids_merge_keeps_membership():
    s = SeenIds(np.array([5, 1, 9], dtype=np.uint64), merge_every=3)
    s.add(np.array([7, 3], dtype=np.uint64))
    assert s.contains(np.array([1, 2, 3, 7, 9, 10], dtype=np.uint64)).tolist() == [1, 0, 1, 1, 1, 0]
    s.add(np.array([2], dtype=np.uint64))  # third recent one: merged into the sorted array
    assert s._recent == set() and s._sorted.tolist() == [1, 2, 3, 5, 7, 9]
    assert s.contains(np.array([2, 4], dtype=np.uint64)).tolist() == [True, False]


def test_identify_upserts_the_customer_merging_traits(ws):
    c = collector_for(ws)
    c.write(
        batch(
            {
                "type": "identify",
                "userId": "u1",
                "anonymousId": "a1",
                "messageId": "i1",
                "traits": {"email": "ann@example.com", "firstName": "Ann", "lastName": "Lee", "plan": "free", "k": 1},
            },
        )
    )
    c.write(
        batch(
            {
                "type": "identify",
                "userId": "u1",
                "anonymousId": "a2",
                "messageId": "i2",
                "traits": {"plan": "pro", "shoe": 42},
            },
            {"type": "identify", "userId": "u1", "messageId": "i1", "traits": {"plan": "IGNORED: a retry"}},
        )
    )
    rows = ws.sql("SELECT customer_id, email, name, plan, traits, created_at FROM customers")
    assert len(rows) == 1
    r = rows.iloc[0]
    assert (r.customer_id, r.email, r["name"], r.plan) == ("u1", "ann@example.com", "Ann Lee", "pro")
    assert orjson.loads(r.traits) == {"k": 1, "shoe": 42}
    assert r.created_at == NOW
    links = ws.sql("SELECT anonymous_id, customer_id FROM collect_identities ORDER BY 1").values.tolist()
    assert links == [["a1", "u1"], ["a2", "u1"]]
    close_collectors(ws)


def test_stage_comes_from_the_journey_when_only_a_touchpoint_is_known(ws):
    tp = ws.sql("SELECT touchpoint, stage FROM journey_touchpoints LIMIT 1").iloc[0]
    c = collector_for(ws)
    c.write(
        batch(
            track("t1", properties={"touchpoint": tp.touchpoint}),
            {"type": "page", "anonymousId": "a", "messageId": "t2", "name": tp.touchpoint},
            track("t3", properties={"touchpoint": tp.touchpoint, "stage": "custom"}),
        )
    )
    got = ws.sql("SELECT event_id, touchpoint, stage FROM events ORDER BY 1").values.tolist()
    assert got == [["t1", tp.touchpoint, tp.stage], ["t2", tp.touchpoint, tp.stage], ["t3", tp.touchpoint, "custom"]]
    close_collectors(ws)


def test_many_concurrent_requests_are_each_acknowledged_after_commit(ws):
    c = Collector(ws)

    async def main():
        return await asyncio.gather(*(c.commit(batch(track(f"m{i}"), track(f"n{i}"))) for i in range(200)))

    # a fresh thread: Playwright's sync API may already run an event loop in this one
    box: list = []
    t = threading.Thread(target=lambda: box.append(asyncio.run(main())))
    t.start()
    t.join(60)
    results = box[0]
    assert sum(r.inserted for r in results) == 400
    assert c.groups < 200  # requests shared commits
    assert ws.sql("SELECT count(DISTINCT event_id) AS n, count(*) AS m FROM events").values.tolist() == [[400, 400]]
    c.close()


def test_an_erased_event_can_be_sent_again(ws):
    c = collector_for(ws)
    c.write(batch(track("gone"), track("kept")))
    ws.sql("DELETE FROM events WHERE event_id = 'gone'")  # e.g. a customer's erasure request
    res = c.write(batch(track("gone"), track("kept")))
    assert (res.inserted, res.duplicates) == (1, 1)
    assert ws.sql("SELECT count(*) AS n FROM collect_ids")["n"][0] == 3  # one hash per committed row
    close_collectors(ws)


def _awkward_group(tp):
    """Three requests covering what the writer treats specially: a repeat inside a request and across
    requests, an identify with a link, a page named like a journey touchpoint, unicode, long ids and nulls."""
    long_id = "é" * 256
    return [
        [
            track("a", properties={"revenue": "12.5", "url": "https://x.example/ü"}),
            track("b", user=long_id, properties={"touchpoint": tp.touchpoint}),
            track("a"),
            {"type": "identify", "userId": "u9", "anonymousId": "anon", "messageId": "i", "traits": {"plan": "pro"}},
        ],
        [
            {"type": "page", "anonymousId": "anon", "messageId": "p", "name": tp.touchpoint},
            track("b"),  # committed by the request before, in the same group
            track("c", properties={"x": None, "session_id": 7, "stage": "custom"}),
        ],
        [{"type": "screen", "userId": "u9", "name": "Home", "timestamp": "2024-05-01T11:00:00+02:00"}],
    ]


def _stored(ws):
    ev = ws.rows("SELECT * FROM events ORDER BY event_id")  # tuples: None stays None (no NaN != NaN)
    cu = ws.rows("SELECT * FROM customers ORDER BY customer_id")
    links = ws.rows("SELECT * FROM collect_identities ORDER BY 1, 2")
    ids = sorted(ws.rows("SELECT h FROM collect_ids"))
    return ev, cu, links, ids


@pytest.mark.parametrize("sealed", [(True, True, True), (True, False, True), (False, True, False)])
def test_sealed_requests_store_exactly_what_requests_with_rows_store(tmp_path, sealed):
    """Messages.seal (the server builds a big request's Arrow table before queueing it) changes where the
    table is built, not what is stored: the same group, some requests sealed, against all left as rows."""
    stored, results = [], []
    for name, how in (("rows", (False, False, False)), ("sealed", sealed)):
        ws = cxlens.open(tmp_path / f"{name}.duckdb")
        tp = ws.sql("SELECT touchpoint, stage FROM journey_touchpoints LIMIT 1").iloc[0]
        requests = [batch(*msgs) for msgs in _awkward_group(tp)]
        for m, seal in zip(requests, how, strict=True):
            if seal:
                assert m.seal() is m and m.rows == [] and m.hashes == [] and m.table is not None
        c = Collector(ws)
        c.close()  # stop its thread: the group is committed here, as ONE group, in this thread
        results.append([(r.inserted, r.duplicates) for r in c._commit([_Job(m, None) for m in requests])])
        stored.append(_stored(ws))
        ws.close()
    assert results[0] == results[1] == [(3, 1), (2, 1), (1, 0)]
    assert stored[0] == stored[1]
    events = {e[0]: e for e in stored[0][0]}
    assert len(events) == 6 and {"a", "b", "c", "i", "p"} <= set(events)
    assert events["p"][9] == tp.stage and events["c"][9] == "custom"  # journey fill on sealed tables too
    assert events["a"][12] == 12.5 and events["c"][3] == "7"
    assert len(stored[0][1]) == 1 and len(stored[0][2]) == 1 and len(stored[0][3]) == 6
