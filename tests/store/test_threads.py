"""Many threads on one workspace: every call succeeds, answers equal the same call made alone,
and the rollup stays equal to a scan while a writer loads data beside the readers."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest

import cxlens
from cxlens.errors import NotFoundError
from cxlens.ingest import write_demo
from cxlens.metrics import Metrics

CUT = "2026-07-01"  # the demo data ends before; the writer adds rows after it, which the calls exclude
THREADS, ITERATIONS = 8, 100


@pytest.fixture(scope="module")
def tws(tmp_path_factory):
    w = cxlens.open(tmp_path_factory.mktemp("threads") / "t.duckdb")
    write_demo(w, 400, seed=3)
    yield w
    w.close()


def _calls(ws):
    scan = Metrics(ws.store, use_rollup=False)
    return {
        "nps_rollup": lambda: ws.metrics.nps(by="touchpoint", end=CUT),
        "csat_scan": lambda: scan.csat(by="channel", end=CUT),
        "funnel": lambda: ws.journeys.funnel("visit>add_to_cart>purchase", window="7d", end=CUT),
        "paths": lambda: ws.journeys.paths("visit", end=CUT),
        "sql": lambda: ws.sql("SELECT metric, count(*) AS n FROM feedback WHERE ts < ? GROUP BY 1 ORDER BY 1", [CUT]),
        "table": lambda: ws.read(ws.table("events").filter(lambda t: t.ts < pd.Timestamp(CUT)).count()),
    }


def _loads(ws, stop: threading.Event, out: dict) -> None:
    """Write feedback and events dated after CUT, in small committed batches, until told to stop."""
    rng = np.random.default_rng(0)
    i = 0
    try:
        while not stop.is_set():
            n = 50
            fb = pd.DataFrame({
                "feedback_id": [f"late-{i}-{k}" for k in range(n)],
                "ts": pd.Timestamp("2027-01-01") + pd.to_timedelta(rng.integers(0, 86400 * 30, n), unit="s"),
                "metric": rng.choice(["nps", "csat"], n),
                "score": rng.integers(1, 6, n),
                "touchpoint": rng.choice(["checkout", "delivery", "kiosk"], n),
                "channel": "web",
            })  # fmt: skip
            ev = pd.DataFrame({
                "event_id": [f"late-ev-{i}-{k}" for k in range(n)],
                "customer_id": [f"C{k:07d}" for k in range(n)],
                "ts": pd.Timestamp("2027-01-01") + pd.to_timedelta(rng.integers(0, 86400, n), unit="s"),
                "type": "track", "name": rng.choice(["visit", "add_to_cart", "purchase"], n),
            })  # fmt: skip
            ws.insert_many({"feedback": ws_validated(ws, "feedback", fb), "events": ws_validated(ws, "events", ev)})
            i += 1
            out["batches"] = i
    except BaseException as e:  # reported by the test
        out["error"] = e


def ws_validated(ws, kind, frame):
    from cxlens.schema import TABLES, validate_frame

    return validate_frame(frame, TABLES[kind], source="<threads>")


def test_threads_get_the_answers_of_a_lone_call_while_a_writer_loads(tws):
    calls = _calls(tws)
    alone = {name: fn() for name, fn in calls.items()}
    errors: list[tuple[str, BaseException]] = []
    mismatches: list[str] = []
    done = [0] * THREADS
    stop = threading.Event()
    loaded: dict = {}
    writer = threading.Thread(target=_loads, args=(tws, stop, loaded), daemon=True)

    def reader(t: int) -> None:
        names = list(calls)
        for it in range(ITERATIONS):
            name = names[(t + it) % len(names)]
            try:
                got = calls[name]()
            except BaseException as e:
                errors.append((name, e))
                continue
            try:
                if isinstance(got, pd.DataFrame):
                    pd.testing.assert_frame_equal(got, alone[name])
                else:
                    assert got == alone[name]
            except AssertionError as e:
                mismatches.append(f"{name}: {str(e).splitlines()[0]}")
            done[t] += 1

    threads = [threading.Thread(target=reader, args=(t,), daemon=True) for t in range(THREADS)]
    writer.start()
    t0 = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=600)
    stop.set()
    writer.join(timeout=60)
    assert not any(th.is_alive() for th in threads) and not writer.is_alive(), "a thread hung"
    assert not errors, f"{len(errors)} calls failed, e.g. {errors[0][0]}: {errors[0][1]!r}"
    assert not mismatches, f"{len(mismatches)} answers differ from the lone call, e.g. {mismatches[0]}"
    assert "error" not in loaded, repr(loaded.get("error"))
    assert sum(done) == THREADS * ITERATIONS and loaded.get("batches", 0) > 0
    assert time.monotonic() - t0 < 600
    # the rollup the writer kept equals a scan, overall and by touchpoint, including the new rows
    for kw in ({}, {"by": "touchpoint"}, {"by": "touchpoint", "period": "month"}):
        pd.testing.assert_frame_equal(tws.metrics.nps(**kw), Metrics(tws.store, use_rollup=False).nps(**kw))
    late = tws.scalar("SELECT count(*) FROM feedback WHERE feedback_id LIKE 'late-%'")
    assert late == 50 * loaded["batches"]


def test_a_missing_table_is_reported_only_when_it_is_missing(tws):
    errors = []

    def probe():
        try:
            for _ in range(50):
                tws.read(tws.table("events").count())
        except BaseException as e:
            errors.append(e)

    ths = [threading.Thread(target=probe) for _ in range(6)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    assert not errors
    with pytest.raises(NotFoundError, match="no table 'nope'"):
        tws.table("nope")
    with pytest.raises(NotFoundError, match="no table 'nope'"):
        tws.sql("SELECT * FROM nope")


def test_a_transaction_is_all_or_nothing_and_joins_an_outer_one(tws):
    before = tws.scalar("SELECT count(*) FROM settings")
    with pytest.raises(RuntimeError, match="boom"):
        with tws.transaction() as cur:
            cur.execute("INSERT INTO settings VALUES ('a', '1')")
            with tws.transaction() as inner:  # joins: same cursor, one commit
                assert inner is cur
                inner.execute("INSERT INTO settings VALUES ('b', '2')")
            raise RuntimeError("boom")
    assert tws.scalar("SELECT count(*) FROM settings") == before
    with tws.transaction(changes=["settings"]) as cur:
        cur.execute("INSERT INTO settings VALUES ('a', '1')")
        # inside the transaction, reads on this thread see the write; other threads do not yet
        assert tws.scalar("SELECT count(*) FROM settings WHERE name = 'a'") == 1
        seen = []
        th = threading.Thread(target=lambda: seen.append(tws.scalar("SELECT count(*) FROM settings WHERE name = 'a'")))
        th.start()
        th.join()
        assert seen == [0]
    assert tws.scalar("SELECT count(*) FROM settings WHERE name = 'a'") == 1
    tws.store.execute("DELETE FROM settings WHERE name = 'a'")


def test_committed_changes_bump_the_data_versions(tws):
    v0 = tws.data_version(["settings", "feedback"])
    tws.set_setting("x.y", 1)
    v1 = tws.data_version(["settings", "feedback"])
    assert v1 == {"settings": v0["settings"] + 1, "feedback": v0["feedback"]}
    with pytest.raises(RuntimeError):
        with tws.transaction(changes=["feedback"]):
            raise RuntimeError("rolled back")
    assert tws.data_version(["settings", "feedback"]) == v1  # a rolled-back write counts nothing
