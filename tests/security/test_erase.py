"""GDPR erasure through the real server: after an admin erases a customer, no table of the workspace
holds their id, their anonymous ids or their e-mail address — whatever the table, including tables
the package does not know (other engineers' recordings, cases, alerts, interviews)."""

from __future__ import annotations

import json

import httpx
import pandas as pd

from .. import live
from .conftest import csrf

CID, ANON, EMAIL = "cust-erase-7731", "anon-erase-5521", "zed.erase@example.org"
OTHER_ANON = "anon-erase-other-8812"  # a second device of the same customer, stitched by a survey answer


def _post(c: httpx.Client, path: str, body: dict) -> httpx.Response:
    return c.post(path, content=json.dumps(body), headers={"content-type": "text/plain"})


def _hits(ws, needles: list[str]) -> dict[str, int]:
    """Rows per (table.column, needle) whose text contains a needle, over every column of every table."""
    cols = ws.sql(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'main' "
        "AND database_name = current_database() AND NOT internal"
    )
    out = {}
    for t, c in cols.itertuples(index=False):
        for n in needles:
            k = int(ws.sql(f'SELECT count(*) FROM "{t}" WHERE contains(CAST("{c}" AS VARCHAR), ?)', [n]).iloc[0, 0])
            if k:
                out[f"{t}.{c}:{n}"] = k
    return out


def test_erasure_leaves_no_trace_of_the_customer_in_any_table(env):
    ws = env.hub.get("shop")
    write, secret = env.keys["shop"]["write"], env.keys["shop"]["secret"]
    with live.Client(base_url=env.url, auth=(secret, "")) as srv, live.Client(base_url=env.url) as browser:
        # a visit before signing in, then the site's server identifies the customer (stitching the device)
        assert (
            srv.post("/v1/track", json={"anonymousId": ANON, "event": "visit", "messageId": "er-1"}).status_code == 200
        )
        r = srv.post("/v1/identify", json={"userId": CID, "anonymousId": ANON, "messageId": "er-2",
                                           "traits": {"email": EMAIL, "name": "Zed Erase", "phone": "+1 555 0100"}})  # fmt: skip
        assert r.status_code == 200
        # survey answers and an impression given under the anonymous ids only (no user id)
        for rid, anon in (("er-r1", ANON), ("er-r2", OTHER_ANON)):
            r = _post(browser, "/v1/surveys/s1/responses", {"writeKey": write, "responseId": rid, "anonymousId": anon,
                                                              "score": 2, "comment": f"slow, mail {EMAIL}"})  # fmt: skip
            assert r.status_code == 201, r.text
        assert _post(browser, "/v1/surveys/s1/impression", {"writeKey": write, "anonymousId": ANON}).status_code == 200
    # later the customer signs in on the other device: the site's server says so (a stitched anonymous id)
    with live.Client(base_url=env.url, auth=(secret, "")) as srv:
        r = srv.post(
            "/v1/track", json={"userId": CID, "anonymousId": OTHER_ANON, "event": "login", "messageId": "er-4"}
        )
        assert r.status_code == 200
    # rows in the canonical and stored tables, and in tables cxlens does not know yet
    ws.load("feedback", pd.DataFrame({"feedback_id": ["er-f1"], "customer_id": [CID], "ts": [pd.Timestamp("2026-03-03")],
                                      "metric": ["nps"], "score": [0.0], "comment": [f"I am {EMAIL}"]}))  # fmt: skip
    ws.load("tickets", pd.DataFrame({"ticket_id": ["er-t1"], "customer_id": [CID], "created_at": [pd.Timestamp("2026-03-03")],
                                     "body": [f"write to {EMAIL}"]}))  # fmt: skip
    with ws.transaction(changes=["customer_scores", "segments", "results"]) as cur:
        cur.execute("INSERT INTO customer_scores (customer_id, clv, computed_at) VALUES (?, 12.5, now())", [CID])
        cur.execute("INSERT INTO segments VALUES ('watch', ?, 'manual', now())", [CID])
        cur.execute("INSERT INTO results (name, kind, computed_at, payload, meta) VALUES "
                    "('risk.ranking.test', 'frame', now(), ?, '{}')", [f"...{CID}...".encode()])  # fmt: skip
        cur.execute("CREATE TABLE recordings (recording_id VARCHAR, anonymous_id VARCHAR, session_id VARCHAR)")
        cur.execute("INSERT INTO recordings VALUES ('rec-1', ?, 's-1'), ('rec-2', 'someone-else', 's-2')", [ANON])
        cur.execute("CREATE TABLE recording_chunks (session_id VARCHAR, chunk VARCHAR)")
        cur.execute("INSERT INTO recording_chunks VALUES ('s-1', 'x'), ('s-2', 'y')")
        cur.execute("CREATE TABLE cases (case_id VARCHAR, customer_id VARCHAR, note VARCHAR)")
        cur.execute("INSERT INTO cases VALUES ('case-1', ?, 'call back'), ('case-2', 'C2', 'ok')", [CID])
        cur.execute("CREATE TABLE alerts (alert_id VARCHAR, person VARCHAR)")
        cur.execute("INSERT INTO alerts VALUES ('al-1', ?), ('al-2', ?)", [CID, f"anon:{OTHER_ANON}"])
        cur.execute("INSERT INTO interviews VALUES ('iv-1', ?, 'hello', 'iv-1.txt', 'text', now(), 1, now())", [CID])
    # recordings' session ids hang off events of the customer
    ws.load("events", pd.DataFrame({"event_id": ["er-e3"], "customer_id": [None], "anonymous_id": [ANON],
                                    "session_id": ["s-1"], "ts": [pd.Timestamp("2026-03-03")], "name": ["page"]}))  # fmt: skip
    ws.refresh(["voice.analyse"])  # the stored analysis of the customer's comments
    needles = [CID, ANON, OTHER_ANON, EMAIL]
    before = _hits(ws, needles)
    for table in ("events", "customers", "feedback", "survey_responses", "survey_exposures", "collect_identities",
                  "customer_scores", "segments", "tickets", "recordings", "cases", "alerts",
                  "interviews", "results"):  # fmt: skip
        assert any(k.startswith(table + ".") for k in before), (table, before)
    mine = "SELECT count(*) FROM verbatim_analysis WHERE verbatim_id = 'feedback:er-f1'"
    assert int(ws.sql(mine).iloc[0, 0]) == 1  # keyed by the answer's id, not the customer's
    others = {t: int(ws.sql(f"SELECT count(*) FROM {t}").iloc[0, 0]) for t in ("customers", "feedback", "events")}

    admin = env.client("admin")
    export = admin.get(f"/customers/{CID}/export")
    assert export.status_code == 200 and export.headers["cache-control"] == "no-store"
    tables = export.json()["tables"]
    assert len(tables["survey_responses"]) == 2 and len(tables["survey_exposures"]) == 1 and tables["recordings"]
    r = admin.post(f"/customers/{CID}/erase", data={"confirm": CID, "csrf_token": csrf(admin)})
    assert r.status_code == 200, r.text

    assert _hits(ws, needles) == {}
    assert int(ws.sql(mine).iloc[0, 0]) == 0
    # only the customer's rows went: everybody else's stay
    assert int(ws.sql("SELECT count(*) FROM customers").iloc[0, 0]) == others["customers"] - 1
    assert int(ws.sql("SELECT count(*) FROM cases").iloc[0, 0]) == 1
    assert ws.sql("SELECT recording_id FROM recordings").values.tolist() == [["rec-2"]]
    assert ws.sql("SELECT session_id FROM recording_chunks").values.tolist() == [["s-2"]]
    assert int(ws.sql("SELECT count(*) FROM feedback WHERE customer_id = 'C2'").iloc[0, 0]) == 1
    # the rollup holds exactly the remaining answers (metrics read it)
    cube = ws.sql("SELECT sum(n) AS n FROM feedback_rollup").iloc[0, 0]
    assert int(cube) == int(ws.sql("SELECT count(*) FROM feedback").iloc[0, 0])
    # a second erasure finds nothing: 404
    assert admin.post(f"/customers/{CID}/erase", data={"confirm": CID, "csrf_token": csrf(admin)}).status_code == 404
