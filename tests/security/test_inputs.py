"""Hostile input through the real server: every one a 4xx naming the parameter, never a 500; clock skew
clamped; CSV downloads that no spreadsheet runs as formulas."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from cxlens.report.exports import FORMULA_STARTS

from .. import live

FUNNEL = "steps=visit&steps=add_to_cart&steps=purchase"


@pytest.mark.parametrize(
    ("path", "status", "param"),
    [
        ("/api/v1/metrics/nps?channel=web%00x", 400, "channel"),
        ("/api/v1/metrics/nps?segment=%00", 400, "segment"),
        ("/api/v1/voice/feedback?q=a%00b", 400, "q"),
        ("/api/v1/journeys/paths?from=vi%00sit", 400, "from"),
        ("/feedback?touchpoint=%00", 400, "touchpoint"),
        ("/api/v1/metrics/nps?by=traits.pl%22an", 400, "by"),
        ("/api/v1/metrics/nps?by=traits.a'b", 400, "by"),
        ("/api/v1/metrics/nps?by=nosuchcolumn", 400, "by"),
        ("/api/v1/metrics/nps?saved_segment=nosuch", 400, "saved_segment"),
        ("/api/v1/journeys/map?saved_segment=nosuch", 400, "saved_segment"),
        ("/api/v1/voice/feedback?theme=nosuch", 400, "theme"),
        ("/api/v1/metrics/nps?start=2026-13-01", 400, "start"),
        (f"/api/v1/journeys/funnel?{FUNNEL}&window=forever", 400, "window"),
        ("/api/v1/metrics/nps?channel=" + "x" * 20000, 413, None),
    ],
)
def test_hostile_parameters_are_a_4xx_naming_the_parameter(env, path, status, param):
    r = env.client("admin").get(path, headers={"accept": "application/json"})
    assert r.status_code == status, (path, r.status_code, r.text[:300])
    if path.startswith("/api/"):
        err = r.json()["error"]
        assert err.get("param") == param, err
    else:
        assert "NUL" in r.text


def test_an_empty_theme_filter_means_no_filter(env):
    api = env.api()
    assert api.get("/api/v1/voice/feedback?theme=").json()["total"] == api.get("/api/v1/voice/feedback").json()["total"]


def test_deeply_nested_survey_json_is_refused_naming_the_field(env):
    write = env.keys["shop"]["write"]
    nested = "[" * 5000 + '"x"' + "]" * 5000  # deeper than any JSON parser's recursion
    body = f'{{"writeKey": "{write}", "responseId": "deep-1", "anonymousId": "deep", "score": 5, "answers": {nested}}}'
    with live.Client(base_url=env.url) as c:
        r = c.post("/v1/surveys/s1/responses", content=body, headers={"content-type": "text/plain"})
        assert r.status_code in (400, 413, 422), r.text[:300]
        r = c.post("/v1/surveys/s1/responses", content=json.dumps(
            {"writeKey": write, "responseId": "deep-2", "anonymousId": "deep", "score": 5, "answers": {"q": {"a": 1}}}
        ), headers={"content-type": "text/plain"})  # fmt: skip
        assert r.status_code == 422 and "answers.q" in r.text


def _iso(t: datetime) -> str:
    return t.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def test_clock_skew_correction_is_clamped_to_the_receipt_window(env):
    ws = env.hub.get("shop")
    now = datetime.now(UTC)
    sent = _iso(now)
    far = _iso(now.replace(year=2199))
    cases = {
        "skew-past": (_iso(now), far),  # a device clock 170 years ahead: corrected to ~1850, refused
        "skew-future": (far, None),  # an event in 2199: refused
        "skew-ok": (_iso(now - timedelta(days=3)), None),  # plausible: kept
    }
    batch = [{"type": "track", "event": "clock", "anonymousId": "clock", "messageId": mid, "timestamp": ts,
              **({"sentAt": own} if own else {})} for mid, (ts, own) in cases.items()]  # fmt: skip
    with live.Client(base_url=env.url, auth=(env.keys["shop"]["write"], "")) as c:
        assert c.post("/v1/batch", json={"batch": batch, "sentAt": sent}).status_code == 200
        # the single-message path agrees with the batch path
        one = {"event": "clock", "anonymousId": "clock", "messageId": "skew-single", "sentAt": sent,
               "timestamp": far, "properties": {"deep": {"a": [1, 2]}}}  # fmt: skip
        assert c.post("/v1/track", json=one).status_code == 200
    rows = ws.sql("SELECT event_id, ts, properties FROM events WHERE name = 'clock' ORDER BY event_id")
    got = {r.event_id: (r.ts, json.loads(r.properties)) for r in rows.itertuples()}
    received = now.replace(tzinfo=None)
    for mid in ("skew-past", "skew-future", "skew-single"):
        ts, props = got[mid]
        assert abs((ts - received).total_seconds()) < 60, (mid, ts)  # the receipt time
        rejected = datetime.fromisoformat(props["$rejected_ts"])
        assert rejected.year < 1900 or rejected.year > 2100, (mid, rejected)
        assert props["$original_timestamp"] == (cases[mid][0] if mid in cases else far)
    ts, props = got["skew-ok"]
    assert abs((ts - (received - timedelta(days=3))).total_seconds()) < 60 and "$rejected_ts" not in props


def test_csv_downloads_neutralise_formulas_and_keep_the_value(env):
    ws = env.hub.get("shop")
    evil = ["=HYPERLINK(\"http://evil.example\",\"click\")", "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0",
            "-2+3", "\tTAB", "=1+1"]  # fmt: skip
    with live.Client(base_url=env.url, auth=(env.keys["shop"]["write"], "")) as c:
        batch = [{"type": "track", "userId": u, "event": "visit", "messageId": f"csv-{i}"} for i, u in enumerate(evil)]
        assert c.post("/v1/batch", json={"batch": batch}).status_code == 200
    assert int(ws.sql("SELECT count(*) FROM events WHERE event_id LIKE 'csv-%'").iloc[0, 0]) == len(evil)
    r = env.client("analyst").get(f"/funnels/dropped.csv?{FUNNEL}&step=1")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    cells = [row[0] for row in csv.reader(io.StringIO(r.text))][1:]
    for value in evil:
        assert "'" + value in cells, (value, cells)  # readable, with the neutralising quote
    assert not [c for c in cells if c.startswith(FORMULA_STARTS)]
