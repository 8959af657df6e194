"""Through a real server: frustration signals sent to the collection endpoint fire a rule once per customer
per window when enough of them match the page and element; a detractor answer e-mails the customer a
personal survey link (real aiosmtpd), the customer answers it through the hosted survey page, and the
re-survey result is recorded on the case and counted in the recovery rate."""

from __future__ import annotations

import email
import json
import re

import pandas as pd
import pytest

from cxlens.access import users
from cxlens.customers.profile import erase_customer
from cxlens.jobs import JobRunner
from cxlens.surveys import create_survey
from cxlens.web import create_app
from cxlens.web.hub import WorkspaceHub

from .. import live
from ..conftest import running
from .conftest import answer, cli, wait_for
from .test_cases_api import PW, login

FOLLOW = {"id": "s-follow", "name": "After your case", "metric": "nps", "question": "Would you now recommend us?",
          "status": "active"}  # fmt: skip


@pytest.fixture(scope="module")
def env(tmp_path_factory, receiver, smtp):
    path = tmp_path_factory.mktemp("route") / "shop.duckdb"
    hub = WorkspaceHub.open([path])
    ws = hub.get(hub.default)
    ws.act.allow_host("127.0.0.1", private=True)
    users.create_user(ws, "admin@x.example", PW, role="admin")
    ws.load("customers", pd.DataFrame({"customer_id": ["F1", "F2", "S1", "S2"],
                                       "email": ["f1@x.example", "f2@x.example", "s1@x.example", None]}))  # fmt: skip
    create_survey(ws, FOLLOW)
    key = hub.create_key(hub.default, "write")[1]
    ws.act.load_rules({"rules": [
        {"name": "checkout-rage", "when": {"frustration": {"signal": "rageclick", "url": "*/checkout*",
                                                           "selector": "#pay*", "min_count": 3, "within": "10m"}},
         "do": [{"webhook": {"url": f"{receiver.url}/rage"}}, {"case": {"team": "web"}}]},
        {"name": "recover-detractors", "when": {"feedback": {"metric": "nps", "score": {"max": 6}}},
         "do": [{"case": {"team": "support", "priority": "high"}},
                {"survey": {"survey": "s-follow", "via": "email", "subject": "Did we fix it?",
                            "host": "127.0.0.1", "port": smtp.port, "from": "cx@shop.example"}}]},
    ]})  # fmt: skip
    runner = JobRunner(ws, poll=0.05, housekeeping=0.5, refresh=False, kinds=["act.deliver"]).start()
    with running(create_app(hub)) as url:
        ws.set_setting("act.base_url", url)
        yield {"url": url, "ws": ws, "key": key}
    runner.stop(timeout=5)
    hub.close()


def _batch(env, events):
    body = {"writeKey": env["key"], "batch": [
        {"type": "track", "userId": cid, "event": name, "messageId": mid,
         "properties": {"url": url, "$selector": sel}} for mid, cid, name, url, sel in events]}  # fmt: skip
    r = live.post(f"{env['url']}/v1/batch", content=json.dumps(body), headers={"content-type": "text/plain"})
    assert r.status_code == 200, r.text


def test_frustration_signals_fire_at_min_count_once_per_customer_per_window(env, receiver):
    ws = env["ws"]
    pay = "https://shop.example/checkout/pay?step=2"
    _batch(env, [("m1", "F1", "$rageclick", pay, "#pay-button"), ("m2", "F1", "$rageclick", pay, "#pay-button"),
                 ("m3", "F1", "$deadclick", pay, "#pay-button"),  # another signal
                 ("m4", "F1", "$rageclick", "https://shop.example/cart", "#pay-button"),  # another page
                 ("m5", "F1", "$rageclick", pay, "#coupon"),  # another element
                 ("m6", "F2", "$rageclick", pay, "#pay")])  # fmt: skip
    assert ws.act.alerts(rule="checkout-rage").empty  # F1 has 2 matching signals, F2 1: under min_count 3
    _batch(env, [("m7", "F1", "$rageclick", pay, "#pay-button")])  # the third
    hits = wait_for(lambda: receiver.on("/rage"), what="the frustration alert")
    body = json.loads(hits[0].body)
    assert body["trigger"] == "frustration" and body["customer_id"] == "F1" and body["metric"] == "$rageclick"
    assert body["score"] == 3 and "#pay-button" in body["comment"] and "/checkout/pay" in body["comment"]
    _batch(env, [(f"n{i}", "F1", "$rageclick", pay, "#pay-button") for i in range(4)])  # same window: no second
    assert len(ws.act.alerts(rule="checkout-rage")) == 1
    assert ws.act.cases(team="web")["customer_id"].tolist() == ["F1"]
    r = cli(ws, "rules", "test", "checkout-rage", "--answer",
            json.dumps({"signal": "rageclick", "url": pay, "selector": "#pay-button"}), "--format", "json")  # fmt: skip
    assert json.loads(r.output)[0]["min_count"] == 3  # one signal alone is under min_count
    assert json.loads(r.output)[0]["fires"] is False


def _mail_to(smtp, rcpt):
    for env in smtp.messages:
        if rcpt in env.rcpt_tos:
            return email.message_from_bytes(env.content)
    return None


def test_a_detractor_gets_a_personal_survey_and_the_answer_lands_on_the_case(env, smtp):
    ws = env["ws"]
    answer(ws, "S1", 3, "checkout", "Parcel never came")
    msg = wait_for(lambda: _mail_to(smtp, "s1@x.example"), what="the survey e-mail")
    assert msg["Subject"] == "Did we fix it?" and msg["From"] == "cx@shop.example"
    text = next(p.get_payload(decode=True).decode() for p in msg.walk() if p.get_content_type() == "text/plain")
    link = re.search(r"(http://127\.0\.0\.1:\d+/s/shop/s-follow\?t=\S+)", text).group(1)
    case = ws.act.cases(customer_id="S1").iloc[0]
    assert ws.act.case(case["case_id"])["resurvey"]["score"] is None  # sent, not answered yet
    with live.Client(timeout=30) as c:  # the customer opens the link and answers 9
        page = c.get(link)
        assert page.status_code == 200 and "Would you now recommend us?" in page.text
        form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text))
        r = c.post(link.split("?")[0], data={**form, "score": "9"})
        assert r.status_code == 200, r.text[:300]
    got = ws.act.case(case["case_id"])
    assert got["resurvey"]["score"] == 9 and got["resurvey"]["before_score"] == 3
    assert any(e["field"] == "resurvey" for e in got["events"])  # in the audit trail
    admin = login(env["url"], "admin@x.example")
    shown = admin.get(f"/api/v1/cases/{case['case_id']}").json()["resurvey"]
    assert (shown["score"], shown["before_score"], shown["survey_id"]) == (9, 3, "s-follow")
    page = admin.get(f"/cases/{case['case_id']}").text
    assert re.search(r'data-field="resurvey">s-follow sent .*?answered 9\.0 \(before: 3\.0\)', page, re.S)
    rec = ws.act.recovery(by="team")
    row = rec.set_index("team").loc["support"]
    assert (row["sent"], row["n"], row["recovered"], row["recovery_rate"]) == (1, 1, 1, 1.0)
    assert 0 < row["ci_low"] < 1 and row["ci_high"] == 1.0 and row["change"] == 6.0
    shown = json.loads(cli(ws, "cases", "recovery", "--by", "team", "--format", "json").output)
    assert [(x["team"], x["n"], x["recovered"], x["recovery_rate"]) for x in shown] == [("support", 1, 1, 1.0)]
    assert "expected team or owner" in cli(ws, "cases", "recovery", "--by", "colour", ok=False).message
    again = live.post(link.split("?")[0], data={**form, "score": "10"}, timeout=30)  # single use
    assert "already answered" in again.text
    assert ws.read("SELECT count(*) AS n FROM act_resurveys WHERE score IS NOT NULL")["n"][0] == 1


def test_a_customer_without_an_email_address_is_refused_not_retried(env):
    ws = env["ws"]
    answer(ws, "S2", 2, "checkout")

    def survey_refused():
        d = ws.act.deliveries(status="refused")
        return d[d["channel"] == "survey"] if len(d) else None

    refused = wait_for(survey_refused, what="the refused survey delivery")
    assert "no e-mail address" in refused.iloc[0]["detail"]


def test_erase_removes_the_resurvey(env):
    ws = env["ws"]
    erase_customer(ws, "S1")
    assert ws.read("SELECT count(*) AS n FROM act_resurveys WHERE customer_id = 'S1'")["n"][0] == 0
