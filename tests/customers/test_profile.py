"""Customer 360, export and erasure: checked against hand-built rows and pandas on the raw tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import cxlens
from cxlens.customers import profile as profile_mod
from cxlens.customers.features import customer_features
from cxlens.customers.profile import MASK, customer_profile, customer_tables, erase_customer, export_customer
from cxlens.customers.segments import save_segment
from cxlens.errors import NotFoundError
from cxlens.ingest.simulate import write_demo
from cxlens.metrics.nps import DETRACTOR_MAX, PROMOTER_MIN


def _hand_built(ws):
    ws.load(
        "customers",
        pd.DataFrame(
            {
                "customer_id": ["a", "b"],
                "email": ["ann@example.com", "bob@example.com"],
                "name": ["Ann", None],
                "plan": ["pro", "free"],
                "traits": ['{"age_band": "25-34"}', None],
            }
        ),
    )
    ws.load(
        "orders",
        pd.DataFrame(
            {
                "order_id": ["o1", "o2", "o3", "o4"],
                "customer_id": ["a", "a", "a", "b"],
                "ts": ["2024-01-05", "2024-02-01", "2024-03-01", "2024-01-10"],
                "amount": [100.0, 50.0, 30.0, 20.0],
                "status": ["completed", "cancelled", None, "completed"],
            }
        ),
    )
    ws.load(
        "order_items",
        pd.DataFrame({"order_id": ["o1", "o1", "o4"], "item_id": ["1", "2", "1"], "product_id": ["p1", "p2", "p1"]}),
    )
    ws.load(
        "events",
        pd.DataFrame(
            {
                "event_id": ["e1", "e2", "e3", "e4"],
                "customer_id": ["a", None, "b", "a"],
                "anonymous_id": ["dev1", "dev1", "dev2", None],
                "ts": ["2024-01-04 10:00", "2024-01-03 09:00", "2024-01-09", "2024-02-01"],
                "name": ["visit", "visit", "visit", "checkout"],
                "touchpoint": ["home", "home", "home", "checkout"],
            }
        ),
    )
    ws.load(
        "feedback",
        pd.DataFrame(
            {
                "feedback_id": ["f1", "f2", "f3"],
                "customer_id": ["a", "a", "b"],
                "ts": ["2024-01-06", "2024-03-02", "2024-01-11"],
                "metric": ["nps", "nps", "nps"],
                "score": [3, 9, 10],
                "comment": ["late", None, "great"],
                "touchpoint": ["delivery", "delivery", "store"],
            }
        ),
    )
    ws.load(
        "tickets",
        pd.DataFrame(
            {
                "ticket_id": ["t1", "t2"],
                "customer_id": ["a", "a"],
                "created_at": ["2024-01-07", "2024-03-03"],
                "resolved_at": ["2024-01-08", None],
                "subject": ["Where is my parcel", "Refund"],
                "body": ["Call me on 0612345678", "please"],
            }
        ),
    )
    save_segment(ws, "vip", ["a"], kind="manual")


def test_profile_masks_pii_and_orders_the_timeline(ws):
    _hand_built(ws)
    p = customer_profile(ws, "a")
    assert p["known"] is True
    assert p["traits"]["email"] == MASK and p["traits"]["name"] == MASK
    assert p["traits"]["plan"] == "pro" and p["traits"]["traits"] == {"age_band": "25-34"}
    t = p["timeline"]
    # e2 is anonymous, on device dev1 where 'a' later identified: theirs too; e3 (dev2, 'b') is not
    assert t["id"].tolist() == ["e2", "e1", "o1", "f1", "t1", "e4", "o2", "o3", "f2", "t2"]
    assert t["ts"].is_monotonic_increasing
    assert t.loc[t.kind == "ticket", "text"].tolist() == [MASK, MASK]
    assert t.loc[t.kind == "feedback", "score"].tolist() == [3.0, 9.0]
    assert p["summary"] == {
        "events": 3, "feedback": 2, "tickets": 2, "open_tickets": 1, "orders": 3, "reviews": 0,
        "first_seen": pd.Timestamp("2024-01-03 09:00"), "last_seen": pd.Timestamp("2024-03-03"), "last_nps": 9.0,
    }  # fmt: skip
    # the cancelled order is not revenue: 100 + 30 over 2 orders
    v = p["value"]
    assert (v["orders"], v["revenue"], v["aov"]) == (2, 130.0, 65.0)
    assert v["first_order"] == pd.Timestamp("2024-01-05") and v["last_order"] == pd.Timestamp("2024-03-01")
    assert p["segments"] == [{"segment": "vip", "kind": "manual"}]
    assert p["clv"] is None and p["churn"] is None


def test_profile_shows_pii_only_when_asked_and_keeps_missing_values_missing(ws):
    _hand_built(ws)
    p = customer_profile(ws, "b", show_pii=True)
    assert p["traits"]["email"] == "bob@example.com" and p["traits"]["name"] is None
    assert customer_profile(ws, "b")["traits"]["name"] is None
    t = customer_profile(ws, "a", show_pii=True)["timeline"]
    assert t.loc[t.kind == "ticket", "text"].tolist() == ["Call me on 0612345678", "please"]


def test_profile_attaches_the_customers_clv_and_churn_rows(ws):
    _hand_built(ws)
    clv = pd.DataFrame({"customer_id": ["a", "b"], "clv": [42.5, 1.0], "p_alive": [0.8, 0.1]})
    risk = pd.DataFrame({"customer_id": ["b", "a"], "churn_risk": [0.9, 0.25], "reasons": ["x", "recency"]})
    p = customer_profile(ws, "a", clv=clv, churn=risk)
    assert p["clv"] == {"clv": 42.5, "p_alive": 0.8}
    assert p["churn"] == {"churn_risk": 0.25, "reasons": "recency"}


def test_profile_scores_a_fitted_churn_model_like_predict_proba(tmp_path):
    from cxlens.customers.churn_model import ChurnModel

    with cxlens.open(tmp_path / "d.duckdb") as w:
        write_demo(w, 300, seed=1)
        as_of = "2026-03-01"
        X = customer_features(w, as_of)
        y = (X["recency_days"].fillna(999) > 60).astype(int)
        model = ChurnModel().fit(X, y)
        cid = X.index[5]
        p = customer_profile(w, cid, churn=model, as_of=as_of)
        expected = float(model.predict_proba(X.loc[[cid]])[:, 1][0])
        assert p["churn"]["churn_risk"] == pytest.approx(expected, abs=1e-12)
        ex = model.explain(X.loc[[cid]])
        assert [r["feature"] for r in p["churn"]["reason_list"]] == ex["feature"].tolist()


def test_profile_timeline_counts_match_the_tables_on_the_demo(tmp_path):
    with cxlens.open(tmp_path / "d.duckdb") as w:
        write_demo(w, 300, seed=1)
        cid = w.sql("SELECT customer_id FROM feedback GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1").iloc[0, 0]
        p = customer_profile(w, cid)
        t = p["timeline"]
        for kind, table in [("event", "events"), ("feedback", "feedback"), ("order", "orders"), ("ticket", "tickets")]:
            n = w.sql(f"SELECT count(*) AS n FROM {table} WHERE customer_id = ?", [cid])["n"].iloc[0]
            assert (t["kind"] == kind).sum() == n == p["summary"][f"{table}"], kind
        assert t["ts"].is_monotonic_increasing


def test_unknown_customer_is_not_found_and_named(ws):
    _hand_built(ws)
    for fn in (customer_profile, export_customer, erase_customer):
        with pytest.raises(NotFoundError, match="'zz'"):
            fn(ws, "zz")


def test_export_holds_every_row_about_the_customer_including_pii(ws):
    _hand_built(ws)
    ws.sql("CREATE TABLE consents (customer_id VARCHAR, purpose VARCHAR)")
    ws.sql("INSERT INTO consents VALUES ('a', 'email'), ('b', 'sms')")
    out = export_customer(ws, "a")
    back = json.loads(json.dumps(out))
    assert back["customer_id"] == "a"
    got = {k: sorted(r.get(next(iter(r))) for r in v) for k, v in back["tables"].items()}
    # service tables naming customer_id (survey responses and links, identity stitching) are
    # exported too (behaviour_events: the typed copy of behaviour events); the hand-built customer has no rows there
    service = {
        k: v
        for k, v in got.items()
        if k.startswith(
            (
                "survey_",
                "collect_",
                "identities",
                "customer_scores",
                "verbatim_",
                "interview",
                "behaviour_",
                "act_",
                "replay_",
            )
        )
    }
    assert service and all(v == [] for v in service.values())
    got = {k: v for k, v in got.items() if k not in service}
    assert got == {
        "customers": ["a"],
        "events": ["e1", "e2", "e4"],  # e2: anonymous, on device dev1 where 'a' was identified
        "feedback": ["f1", "f2"],
        "orders": ["o1", "o2", "o3"],
        "order_items": ["o1", "o1"],
        "tickets": ["t1", "t2"],
        "reviews": [],
        "segments": ["vip"],
        "consents": ["a"],
    }
    cust = back["tables"]["customers"][0]
    assert cust["email"] == "ann@example.com" and cust["traits"] == {"age_band": "25-34"}
    assert back["tables"]["tickets"][0]["body"] == "Call me on 0612345678"
    assert back["tables"]["orders"][0]["ts"] == "2024-01-05T00:00:00"


def test_export_and_erase_reach_rows_that_hang_off_the_customers_rows_by_id(ws):
    _hand_built(ws)
    # per-verbatim results (cxlens.voice) and a per-answer table: no customer_id column of their own
    ws.sql(
        "INSERT INTO verbatim_analysis (verbatim_id, redacted_text) VALUES ('feedback:f1', 'late'), "
        "('ticket:t1', 'Call me on [PHONE]'), ('feedback:f3', 'great'), ('review:r9', 'other')"
    )
    ws.sql("CREATE TABLE answer_tags (feedback_id VARCHAR, tag VARCHAR)")
    ws.sql("INSERT INTO answer_tags VALUES ('f1', 'delivery'), ('f2', 'none'), ('f3', 'store')")
    ws.sql("CREATE TABLE journey_notes (note VARCHAR)")  # nothing ties it to customers
    assert customer_tables(ws)[-4:] == ["answer_tags", "order_items", "verbatim_analysis", "verbatim_themes"]
    out = export_customer(ws, "a")["tables"]
    assert sorted(r["verbatim_id"] for r in out["verbatim_analysis"]) == ["feedback:f1", "ticket:t1"]
    assert sorted(r["tag"] for r in out["answer_tags"]) == ["delivery", "none"]
    assert "journey_notes" not in out
    deleted = erase_customer(ws, "a")
    assert (deleted["verbatim_analysis"], deleted["answer_tags"], deleted["order_items"]) == (2, 2, 2)
    assert ws.sql("SELECT verbatim_id FROM verbatim_analysis ORDER BY 1")["verbatim_id"].tolist() == [
        "feedback:f3",
        "review:r9",
    ]
    assert ws.sql("SELECT feedback_id FROM answer_tags")["feedback_id"].tolist() == ["f3"]
    # b's rows are untouched
    assert {k: len(v) for k, v in export_customer(ws, "b")["tables"].items() if v} == {
        "customers": 1, "events": 1, "feedback": 1, "orders": 1, "order_items": 1, "answer_tags": 1,
        "verbatim_analysis": 1,
    }  # fmt: skip


def _nps_by_pandas(fb: pd.DataFrame) -> tuple[float, int]:
    s = fb.loc[fb.metric == "nps", "score"].dropna()
    return 100 * ((s >= PROMOTER_MIN).mean() - (s <= DETRACTOR_MAX).mean()), len(s)


@pytest.fixture()
def demo(tmp_path):
    w = cxlens.open(tmp_path / "demo.duckdb")
    write_demo(w, 300, seed=1)
    yield w
    w.close()


def _busiest(w) -> str:
    return w.sql(
        "SELECT customer_id FROM feedback WHERE metric = 'nps' GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
    ).iloc[0, 0]


def test_erase_deletes_every_row_and_keeps_metrics_equal_to_the_remaining_rows(demo):
    cid = _busiest(demo)
    save_segment(demo, "watch", [cid, "C0000001"])
    before = {t: int(demo.sql(f'SELECT count(*) FROM "{t}"').iloc[0, 0]) for t in customer_tables(demo)}
    mine = {k: len(v) for k, v in export_customer(demo, cid)["tables"].items()}
    fb_before = demo.sql("SELECT * FROM feedback")
    assert demo.metrics.nps()["n"].iloc[0] == _nps_by_pandas(fb_before)[1]

    deleted = erase_customer(demo, cid)

    assert deleted == {**mine, "results": 0} and deleted["feedback"] > 5 and deleted["segments"] == 1
    after = {t: int(demo.sql(f'SELECT count(*) FROM "{t}"').iloc[0, 0]) for t in customer_tables(demo)}
    assert after == {t: before[t] - deleted[t] for t in before}
    for t in ("customers", "events", "feedback", "orders", "tickets", "reviews", "segments"):
        assert demo.sql(f"SELECT count(*) FROM {t} WHERE customer_id = ?", [cid]).iloc[0, 0] == 0
    assert (
        demo.sql("SELECT count(*) FROM order_items WHERE order_id NOT IN (SELECT order_id FROM orders)").iloc[0, 0] == 0
    )
    remaining = fb_before[fb_before.customer_id != cid]
    nps, n = _nps_by_pandas(remaining)
    got = demo.metrics.nps()  # the rollup fast path
    assert int(got["n"].iloc[0]) == n
    assert got["nps"].iloc[0] == pytest.approx(nps, abs=1e-9)
    # per touchpoint too, and the cube is exactly what a rebuild computes
    cs = remaining[remaining.metric == "csat"].groupby("touchpoint")["score"].agg(lambda s: 100 * (s >= 4).mean())
    by_tp = demo.metrics.csat(by="touchpoint").set_index("touchpoint")["csat"]
    pd.testing.assert_series_equal(by_tp.loc[cs.index], cs, check_names=False)
    cube = demo.sql("SELECT * FROM feedback_rollup ORDER BY ALL")
    demo.rebuild_rollups()
    pd.testing.assert_frame_equal(cube, demo.sql("SELECT * FROM feedback_rollup ORDER BY ALL"))


def test_erase_twice_raises_not_found_or_returns_zeros_with_missing_ok(demo):
    cid = _busiest(demo)
    erase_customer(demo, cid)
    counts = demo.counts()
    with pytest.raises(NotFoundError, match=repr(cid)):
        erase_customer(demo, cid)
    zeros = erase_customer(demo, cid, missing_ok=True)
    assert set(zeros.values()) == {0} and "feedback" in zeros
    assert demo.counts() == counts


def test_a_failure_midway_leaves_everything_unchanged(demo, monkeypatch):
    cid = _busiest(demo)
    tables = [*customer_tables(demo), "feedback_rollup"]
    snapshot = {t: demo.sql(f'SELECT * FROM "{t}" ORDER BY ALL') for t in tables}
    real, calls = profile_mod._delete, []

    def failing(raw, table, pred):
        calls.append(table)
        if table == "feedback":  # after order items, customers and events are gone (inside the transaction)
            raise RuntimeError("disk full")
        return real(raw, table, pred)

    monkeypatch.setattr(profile_mod, "_delete", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        erase_customer(demo, cid)
    assert {"order_items", "customers", "events"} <= set(calls[:-1]) and calls[-1] == "feedback"
    for t in tables:
        pd.testing.assert_frame_equal(demo.sql(f'SELECT * FROM "{t}" ORDER BY ALL'), snapshot[t], obj=t)
    monkeypatch.undo()
    assert erase_customer(demo, cid)["customers"] == 1
    assert not np.isnan(demo.metrics.nps()["nps"].iloc[0])
