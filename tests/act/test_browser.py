"""In Chromium: a detractor answers the survey widget on a shop page; the rule sends a Slack-shaped
alert carrying the customer's CLV and churn risk to a local receiver and opens a case."""

from __future__ import annotations

import functools
import http.server
import json
import threading

import pytest

import cxlens
from cxlens.collect.identity import rotate_identity_secret, user_hash
from cxlens.jobs import JobRunner
from cxlens.surveys import create_survey
from cxlens.web import create_app
from cxlens.web.hub import WorkspaceHub

from ..conftest import free_port, new_page, running
from .conftest import wait_for

pytestmark = pytest.mark.browser

SURVEY = {"id": "order-nps", "name": "Order NPS", "metric": "nps", "question": "How likely are you to recommend us?",
          "status": "active", "touchpoint": "checkout",
          "follow_up": {"promoter": "What did you love?", "detractor": "What went wrong?"},
          "targeting": {"trigger": {"event": "order_completed", "delay_seconds": 0.1}}}  # fmt: skip


def test_a_widget_detractor_in_chromium_alerts_slack_and_opens_a_case(tmp_path, browser, receiver):
    ws = cxlens.open(tmp_path / "shop.duckdb")
    hub = WorkspaceHub({"shop": ws})
    _, key = hub.create_key("shop", "write")
    create_survey(ws, SURVEY)
    secret = rotate_identity_secret(ws)
    with ws.transaction(changes=["customer_scores"]) as cur:  # as the models job stores them
        cur.execute("INSERT INTO customer_scores (customer_id, clv, churn_risk, reasons, computed_at) VALUES "
                    "('cust-77', 530.25, 0.61, 'orders 1 (typical 3) +0.50', now())")  # fmt: skip
    ws.act.allow_host("127.0.0.1", private=True)
    ws.act.load_rules({"rules": [{"name": "detractors", "when": {"feedback": {"metric": "nps", "score": {"max": 6}}},
                                  "do": [{"slack": {"url": f"{receiver.url}/slack-browser"}},
                                         {"case": {"team": "support", "priority": "high"}}]}]})  # fmt: skip
    api_port, page_port = free_port(), free_port()
    api = f"http://127.0.0.1:{api_port}"
    ws.set_setting("collect.allowed_origins", [f"http://localhost:{page_port}"])
    (tmp_path / "shop.html").write_text(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Shop</title></head><body>"
        "<h1>Thanks for your order</h1><script>"
        "window.cxlens = (function () { var ls = {}; return {"
        "  user: function () { return {anonymousId: 'anon-77', userId: 'cust-77', "
        f"userHash: '{user_hash(secret, 'cust-77')}'}}; }},"
        "  on: function (t, cb) { (ls[t] = ls[t] || []).push(cb); return this; },"
        f"  config: function () {{ return {{writeKey: '{key}', host: '{api}'}}; }},"
        "  track: function (e) { (ls.track || []).forEach(function (cb) { cb({type: 'track', event: e}); }); }"
        "}; })();"
        f"var s = document.createElement('script'); s.async = true; s.src = '{api}/sdk/cxlens-survey.js';"
        "document.head.appendChild(s);</script></body></html>"
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a, **k: None
    static = http.server.ThreadingHTTPServer(("127.0.0.1", page_port), handler)
    threading.Thread(target=static.serve_forever, daemon=True).start()
    runner = JobRunner(ws, poll=0.05, housekeeping=0.5, refresh=False, kinds=["act.deliver"]).start()
    pg = new_page(browser)
    try:
        with running(create_app(hub), port=api_port):
            pg.goto(f"http://localhost:{page_port}/shop.html")
            pg.wait_for_function("window.cxlensSurvey && window.cxlensSurvey.ready")
            pg.evaluate("cxlensSurvey.ready")
            pg.evaluate("cxlens.track('order_completed')")
            dialog = pg.get_by_role("dialog")
            dialog.wait_for(state="visible")
            dialog.get_by_role("button", name="2 out of 10", exact=True).click()
            pg.get_by_label("What went wrong?").wait_for()
            hit = wait_for(lambda: receiver.on("/slack-browser"), what="the Slack alert")[0]
    finally:
        pg.close()
        runner.stop(timeout=5)
        static.shutdown()
    msg = json.loads(hit.body)
    assert msg["blocks"][0]["type"] == "header" and "cust-77" in msg["blocks"][0]["text"]["text"]
    fields = {f["text"].split("\n")[0].strip("*"): f["text"].split("\n")[1]
              for b in msg["blocks"] if b["type"] == "section" for f in b.get("fields", [])}  # fmt: skip
    assert fields["Score"] == "NPS 2" and fields["Predicted CLV"] == "530.25"
    assert fields["Churn risk"] == "61% (orders 1 (typical 3) +0.50)"
    cases = ws.act.cases(customer_id="cust-77")
    assert cases[["rule", "team", "priority", "status"]].values.tolist() == [["detractors", "support", "high", "new"]]
    ws.close()
