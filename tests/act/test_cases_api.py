"""Through a real server: a survey answer posted to the widget's endpoint raises a Slack alert with the
customer's CLV and churn risk and opens a case; agents see and change only their teams' cases (audit
trail); rules and dead letters are for staff; GDPR erase clears the act tables."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

import cxlens
from cxlens.access import users
from cxlens.cli import app as cli_app
from cxlens.collect.identity import rotate_identity_secret, user_hash
from cxlens.customers.profile import erase_customer
from cxlens.jobs import JobRunner
from cxlens.surveys import create_survey
from cxlens.web import create_app
from cxlens.web.hub import WorkspaceHub

from .. import live
from ..conftest import running
from ..conftest import signed_in as login
from .conftest import answer, wait_for

PW = "correct horse battery staple"
SURVEY = {"id": "s1", "name": "Checkout NPS", "metric": "nps", "question": "Recommend us?", "status": "active",
          "touchpoint": "checkout", "follow_up": {"default": "Why?"}}  # fmt: skip


@pytest.fixture(scope="module")
def env(tmp_path_factory, receiver):
    path = tmp_path_factory.mktemp("cases") / "shop.duckdb"
    hub = WorkspaceHub.open([path])
    ws = hub.get(hub.default)
    for email, role in (("admin@x.example", "admin"), ("analyst@x.example", "analyst"),
                        ("s@x.example", "agent"), ("b@x.example", "agent")):  # fmt: skip
        users.create_user(ws, email, PW, role=role)
    ws.act.add_member("support", "S@x.example")  # e-mails compare without case
    ws.act.add_member("billing", "b@x.example")
    ws.act.allow_host("127.0.0.1", private=True)
    ws.load("customers", pd.DataFrame({"customer_id": ["C1", "C2"], "email": ["c1@shop.example", "c2@shop.example"]}))
    with ws.transaction(changes=["customer_scores"]) as cur:  # as the models job stores them
        cur.execute("INSERT INTO customer_scores (customer_id, clv, churn_risk, reasons, computed_at) VALUES "
                    "('C1', 1234.5, 0.82, 'days since last order 200 (typical 40) +1.10', now())")  # fmt: skip
    ws.set_setting("act.base_url", "https://cx.example.com")
    create_survey(ws, SURVEY)
    secret = rotate_identity_secret(ws)
    key = hub.create_key(hub.default, "write")[1]
    ws.act.load_rules({"rules": [
        {"name": "checkout-detractors", "when": {"feedback": {"metric": "nps", "touchpoint": "checkout",
                                                             "score": {"max": 6}}},
         "do": [{"slack": {"url": f"{receiver.url}/slack-cases"}}, {"case": {"team": "support", "priority": "high"}}]},
        {"name": "billing-detractors", "when": {"feedback": {"touchpoint": "billing", "score": {"max": 6}}},
         "do": [{"case": {"team": "billing"}}]},
    ]})  # fmt: skip
    runner = JobRunner(ws, poll=0.05, housekeeping=0.5, refresh=False, kinds=["act.deliver"]).start()
    with running(create_app(hub)) as url:
        yield {"url": url, "ws": ws, "key": key, "secret": secret}
    runner.stop(timeout=5)
    hub.close()


def test_a_widget_answer_raises_a_slack_alert_and_a_case_with_clv_and_churn_risk(env, receiver):
    r = live.post(f"{env['url']}/v1/surveys/s1/responses", content=json.dumps({
        "writeKey": env["key"], "responseId": "r1", "anonymousId": "a1", "userId": "C1",
        "userHash": user_hash(env["secret"], "C1"), "score": 2, "comment": "Checkout broke twice"}),
        headers={"content-type": "text/plain"})  # fmt: skip
    assert r.status_code == 201, r.text
    # the comment arriving later for the same answer does not fire again
    r = live.post(f"{env['url']}/v1/surveys/s1/responses", json={
        "writeKey": env["key"], "responseId": "r1", "anonymousId": "a1", "userId": "C1",
        "userHash": user_hash(env["secret"], "C1"), "comment": "Checkout broke twice, again"})  # fmt: skip
    assert r.status_code in (200, 201), r.text
    msg = json.loads(wait_for(lambda: receiver.on("/slack-cases"), what="the Slack alert")[0].body)
    fields = {f["text"].split("\n")[0].strip("*"): f["text"].split("\n")[1]
              for b in msg["blocks"] if b["type"] == "section" for f in b.get("fields", [])}  # fmt: skip
    assert fields["Customer"] == "C1" and fields["Score"] == "NPS 2"
    assert fields["Predicted CLV"] == "1,234.50" and fields["Churn risk"].startswith("82% (days since last order")
    assert fields["Touchpoint"] == "checkout" and fields["Survey"] == "s1"
    cases = env["ws"].act.cases(customer_id="C1")
    assert cases[["rule", "team", "priority", "status"]].values.tolist() == [
        ["checkout-detractors", "support", "high", "new"]]  # fmt: skip
    assert (cases["due_at"] - cases["created_at"]).dt.total_seconds().iloc[0] == 24 * 3600
    assert len(env["ws"].act.alerts(rule="checkout-detractors")) == 1
    wait_for(lambda: len(receiver.on("/slack-cases")) == 1 or None)


def test_agents_see_and_change_only_their_teams_cases(env):
    ws = env["ws"]
    answer(ws, "C2", 1, "billing")
    answer(ws, "C3", 0, "checkout")
    by_team = {t: set(ws.act.cases(team=t)["case_id"]) for t in ("support", "billing")}
    assert len(by_team["billing"]) == 1 and len(by_team["support"]) >= 1
    (billing_case,) = by_team["billing"]
    support_case = sorted(by_team["support"])[0]
    s, b, admin = (
        login(env["url"], "s@x.example"),
        login(env["url"], "b@x.example"),
        login(env["url"], "admin@x.example"),
    )
    seen = s.get("/api/v1/cases")
    assert seen.status_code == 200 and {c["case_id"] for c in seen.json()} == by_team["support"]
    assert {c["case_id"] for c in b.get("/api/v1/cases").json()} == by_team["billing"]
    assert {c["case_id"] for c in admin.get("/api/v1/cases").json()} == by_team["support"] | by_team["billing"]
    assert s.get(f"/api/v1/cases/{billing_case}").status_code == 404
    assert s.patch(f"/api/v1/cases/{billing_case}", json={"status": "closed"}).status_code == 404
    assert ws.act.case(billing_case)["status"] == "new"
    assert s.patch(f"/api/v1/cases/{support_case}", json={"team": "billing"}).status_code == 403
    r = s.patch(f"/api/v1/cases/{support_case}", json={"status": "in_progress", "owner": "s@x.example",
                                                       "note": "Called, left a message"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "in_progress" and r.json()["owner"] == "s@x.example"
    trail = [(e["actor"], e["field"], e["old_value"], e["new_value"]) for e in s.get(
        f"/api/v1/cases/{support_case}").json()["events"]]  # fmt: skip
    assert trail[0][1] == "created" and trail[0][0] in ("rule:checkout-detractors", "rule:billing-detractors")
    assert ("s@x.example", "status", "new", "in_progress") in trail
    assert ("s@x.example", "owner", None, "s@x.example") in trail
    assert ("s@x.example", "note", None, "Called, left a message") in trail
    assert s.patch(f"/api/v1/cases/{support_case}", json={"status": "done"}).status_code == 400
    # an agent opens a case for their own team only
    assert s.post("/api/v1/cases", json={"customer_id": "C1", "team": "billing"}).status_code == 403
    made = s.post("/api/v1/cases", json={"customer_id": "C1", "note": "asked for a call back"})
    assert made.status_code == 201 and made.json()["team"] == "support"
    # the customer 360 lists the customer's cases (an agent: their teams' ones)
    c1_cases = set(ws.act.cases(customer_id="C1", team="support")["case_id"])
    page = s.get("/customers/C1")
    assert page.status_code == 200 and all(f'data-case="{c}"' in page.text for c in c1_cases)
    page = b.get("/customers/C1")
    assert page.status_code == 200 and "No cases for this customer." in page.text
    assert all(c not in page.text for c in c1_cases)
    # rules and deliveries are for staff; changing rules for admins
    assert s.get("/api/v1/rules").status_code == 403
    assert s.get("/api/v1/act/dead").status_code == 403
    analyst = login(env["url"], "analyst@x.example")
    assert analyst.get("/api/v1/rules").status_code == 200
    assert analyst.post("/api/v1/rules", json={"yaml": "rules: []"}).status_code == 403
    r = admin.post(
        "/api/v1/rules", json={"yaml": "rules:\n  - {name: x, when: {feedback: {scroe: 1}}, do: [{case: {}}]}"}
    )
    assert r.status_code == 400 and "scroe" in r.text
    assert admin.post("/api/v1/rules/billing-detractors/pause", json={}).json()["status"] == "paused"
    hist = admin.get("/api/v1/rules/billing-detractors").json()["history"]
    assert hist[-1]["change"] == "paused" and hist[-1]["changed_by"] == "admin@x.example"


def test_cases_list_cli_json_fields(tmp_path):
    path = tmp_path / "c.duckdb"
    with cxlens.open(path) as ws:
        ws.act.load_rules({"rules": [{"name": "r", "when": {"feedback": {"score": {"max": 6}}},
                                      "do": [{"case": {"team": "support", "priority": "low"}}]}]})  # fmt: skip
        answer(ws, "K1", 3, "x")
        answer(ws, "K2", 2, "x")
        cid = ws.act.cases(customer_id="K2")["case_id"].iloc[0]
        ws.act.update_case(cid, status="waiting", actor="me")
    run = CliRunner().invoke
    out = run(cli_app, ["--workspace", str(path), "cases", "list", "--status", "new", "--team", "support",
                        "--format", "json"], catch_exceptions=False)  # fmt: skip
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    assert [r["customer_id"] for r in rows] == ["K1"]
    assert {"case_id", "customer_id", "rule", "status", "team", "owner", "priority", "due_at", "created_at"} <= set(
        rows[0]
    )
    assert rows[0]["rule"] == "r" and rows[0]["priority"] == "low" and rows[0]["status"] == "new"
    assert pd.Timestamp(rows[0]["due_at"]) - pd.Timestamp(rows[0]["created_at"]) == pd.Timedelta(days=7)
    out = run(cli_app, ["--workspace", str(path), "cases", "update", cid, "--status", "closed", "--outcome",
                        "resolved", "--note", "refunded"], catch_exceptions=False)  # fmt: skip
    assert out.exit_code == 0, out.output
    with cxlens.open(path) as ws:
        c = ws.act.case(cid)
        assert c["status"] == "closed" and c["outcome"] == "resolved"
        assert [e["field"] for e in c["events"]] == ["created", "status", "status", "outcome", "note"]
        # GDPR erase reaches every act table
        erase_customer(ws, "K2")
        for t in ("act_alerts", "act_deliveries", "act_cases", "act_case_events"):
            assert ws.scalar(f"SELECT count(*) FROM {t} WHERE customer_id = 'K2'") == 0, t
        assert ws.scalar("SELECT count(*) FROM act_cases WHERE customer_id = 'K1'") == 1
