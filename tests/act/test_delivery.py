"""Alerts delivered to real local receivers by the job runner: signatures checked with the
``standardwebhooks`` package, Slack and Teams shapes, e-mail through aiosmtpd, retries (500, 429 with
Retry-After), dead letters and manual retry, SSRF refusals, throttling, and the outbox's atomicity."""

from __future__ import annotations

import email
import json
import subprocess
import sys
from email import policy

import pandas as pd
import pytest
from standardwebhooks import Webhook

from .conftest import SECRET, answer, http_receiver, now, wait_for


def rule(ws, name, touchpoint, actions, **extra):
    return ws.act.load_rules({"rules": [{"name": name, "when": {"feedback": {"metric": "nps", "touchpoint": touchpoint,
                                                                          "score": {"max": 6}}}, "do": actions,
                                         **extra}]})  # fmt: skip


def sent(ws, rule_name, n=1, status="sent"):
    def got():
        d = ws.act.deliveries(rule=rule_name, status=status)
        return d if len(d) >= n else None

    return wait_for(got, what=f"{n} {status} deliveries of {rule_name}")


def test_webhook_is_signed_per_standard_webhooks_and_carries_the_alert(aws, receiver):
    with aws.transaction(changes=["customer_scores"]) as cur:  # as the models job stores them
        cur.execute("INSERT INTO customer_scores (customer_id, clv, churn_risk, reasons, computed_at) "
                    "VALUES ('W1', 812.5, 0.73, 'recency 120 days (typical 30) +0.80; orders 1 (typical 4) +0.20', now())")  # fmt: skip
    rule(aws, "hook", "wh", [{"webhook": {"url": f"{receiver.url}/hook", "secret_env": "CX_HOOK_SECRET"}}])
    answer(aws, "W1", 2, "wh", comment="Awful. Mail me at ann@example.com or call +44 20 7946 0958")
    answer(aws, "W2", 9, "wh")  # a promoter: no alert
    hit = wait_for(lambda: receiver.on("/hook"), what="the webhook")[0]
    # the receiver verifies with the reference implementation (raises on a bad signature or timestamp)
    payload = Webhook(SECRET).verify(hit.body, {k: hit.headers[k] for k in
                                               ("webhook-id", "webhook-timestamp", "webhook-signature")})  # fmt: skip
    with pytest.raises(Exception):  # noqa: B017 - any verification error
        Webhook(SECRET).verify(hit.body.replace(b"W1", b"W9"), hit.headers)
    assert payload["rule"] == "hook" and payload["customer_id"] == "W1" and payload["trigger"] == "feedback"
    assert payload["metric"] == "nps" and payload["score"] == 2.0
    assert payload["comment"] == "Awful. Mail me at [EMAIL] or call [PHONE]"  # redacted
    assert payload["customer"] == {
        "clv": 812.5,
        "churn_risk": 0.73,
        "churn_reason": "recency 120 days (typical 30) +0.80",
    }
    assert payload["link"] == "https://cx.example.com/customers/W1"
    assert hit.headers["webhook-id"] == payload["id"] == sent(aws, "hook")["delivery_id"].iloc[0]
    assert len(receiver.on("/hook")) == 1
    # "send test": a test alert to the same destination, signed the same way
    aws.act.send_test("hook")
    test = wait_for(lambda: receiver.on("/hook")[1:], what="the test alert")[0]
    body = Webhook(SECRET).verify(test.body, {k: test.headers[k] for k in
                                              ("webhook-id", "webhook-timestamp", "webhook-signature")})  # fmt: skip
    assert body["trigger"] == "test" and body["customer_id"] is None and body["rule"] == "hook"


def test_slack_and_teams_payloads_have_their_shapes_and_limits(aws, receiver):
    long = "slow " * 2000  # longer than any Slack text block
    rule(
        aws, "chat", "chat", [{"slack": {"url": f"{receiver.url}/slack"}}, {"teams": {"url": f"{receiver.url}/teams"}}]
    )
    answer(aws, "S1", 0, "chat", comment=long + "<b>&")
    slack = json.loads(wait_for(lambda: receiver.on("/slack"), what="slack")[0].body)
    teams = json.loads(wait_for(lambda: receiver.on("/teams"), what="teams")[0].body)
    assert isinstance(slack["text"], str) and 0 < len(slack["text"]) <= 3000
    blocks = slack["blocks"]
    assert 0 < len(blocks) <= 50 and blocks[0]["type"] == "header"
    assert blocks[0]["text"]["type"] == "plain_text" and len(blocks[0]["text"]["text"]) <= 150
    assert "S1" in blocks[0]["text"]["text"]
    for b in blocks:
        if b["type"] == "section":
            assert len(b.get("text", {}).get("text", "")) <= 3000
            assert len(b.get("fields", [])) <= 10 and all(len(f["text"]) <= 2000 for f in b.get("fields", []))
    texts = " ".join(b.get("text", {}).get("text", "") for b in blocks)
    assert "&lt;b&gt;&amp;" in texts or "&lt;b&gt;" not in long  # Slack's mrkdwn escaping
    buttons = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons[0]["url"] == "https://cx.example.com/customers/S1"
    assert teams["type"] == "message" and len(teams["attachments"]) == 1
    att = teams["attachments"][0]
    assert att["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = att["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    facts = {f["title"]: f["value"] for b in card["body"] if b["type"] == "FactSet" for f in b["facts"]}
    assert facts["Customer"] == "S1" and facts["Score"] == "NPS 0"
    assert card["actions"][0] == {"type": "Action.OpenUrl", "title": "Open customer 360",
                                  "url": "https://cx.example.com/customers/S1"}  # fmt: skip
    assert len(json.dumps(teams).encode()) <= 28 * 1024


def test_email_arrives_over_smtp_with_text_and_html(aws, smtp):
    aws.act.allow_host("127.0.0.1", private=True)
    rule(aws, "mail", "mail", [{"email": {"to": ["cx-team@example.com"], "from": "alerts@example.com",
                                          "host": "127.0.0.1", "port": smtp.port}}])  # fmt: skip
    answer(aws, "M1", 4, "mail", comment="Card 4111 1111 1111 1111 was charged twice <script>")
    env = wait_for(lambda: smtp.messages, what="the e-mail")[0]
    assert env.rcpt_tos == ["cx-team@example.com"] and env.mail_from == "alerts@example.com"
    msg = email.message_from_bytes(env.content, policy=policy.default)
    assert "mail" in msg["Subject"] and "M1" in msg["Subject"]
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Card [CARD] was charged twice" in text and "4111" not in text + html
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "https://cx.example.com/customers/M1" in text


def test_support_tool_tickets_have_zendesk_and_freshdesk_shapes(aws, receiver, monkeypatch):
    monkeypatch.setenv("ZD_TOKEN", "zd-token-1")
    monkeypatch.setenv("FD_KEY", "fd-key-1")
    rule(aws, "tickets", "tix", [
        {"zendesk": {"base_url": f"{receiver.url}/zendesk", "email": "bot@example.com", "token_env": "ZD_TOKEN",
                     "priority": "high"}},
        {"freshdesk": {"base_url": f"{receiver.url}/freshdesk", "api_key_env": "FD_KEY", "priority": "urgent"}},
    ])  # fmt: skip
    answer(aws, "T1", 1, "tix", comment="Never again")
    zd = wait_for(lambda: receiver.on("/zendesk/api/v2/tickets.json"), what="zendesk")[0]
    fd = wait_for(lambda: receiver.on("/freshdesk/api/v2/tickets"), what="freshdesk")[0]
    import base64

    assert zd.headers["authorization"] == "Basic " + base64.b64encode(b"bot@example.com/token:zd-token-1").decode()
    assert fd.headers["authorization"] == "Basic " + base64.b64encode(b"fd-key-1:X").decode()
    t = json.loads(zd.body)["ticket"]
    assert t["priority"] == "high" and "Never again" in t["comment"]["body"] and t["comment"]["public"] is False
    assert zd.headers["idempotency-key"] == t["external_id"]
    f = json.loads(fd.body)
    assert f["priority"] == 4 and f["status"] == 2 and "Never again" in f["description"]
    assert sent(aws, "tickets", 2)["http_status"].tolist() == [201, 201]


def test_500_then_200_is_retried_after_a_backoff_and_delivered_once(aws, receiver):
    rule(aws, "flaky", "flaky", [{"webhook": {"url": f"{receiver.url}/flaky"}}])
    answer(aws, "F1", 3, "flaky")
    d = sent(aws, "flaky")
    hits = receiver.on("/flaky")
    assert len(hits) == 2 and hits[0].headers["webhook-id"] == hits[1].headers["webhook-id"]
    assert 1.8 <= hits[1].at - hits[0].at < 6  # the first backoff is 2 s
    assert d["attempts"].iloc[0] == 2


def test_429_retry_after_is_honoured(aws, receiver):
    rule(aws, "busy", "busy", [{"webhook": {"url": f"{receiver.url}/busy"}}])
    answer(aws, "B1", 3, "busy")
    sent(aws, "busy")
    hits = receiver.on("/busy")
    assert len(hits) == 2 and hits[1].at - hits[0].at >= 2.9  # Retry-After: 3 (the backoff alone is 2 s)


def test_a_receiver_that_is_down_lands_in_the_dead_letters_then_a_manual_retry_delivers(aws, tmp_path):
    from ..conftest import free_port

    port = free_port()  # nothing listens here yet
    rule(aws, "down", "down", [{"webhook": {"url": f"http://127.0.0.1:{port}/in", "attempts": 2}}])
    answer(aws, "D1", 3, "down")
    dead = sent(aws, "down", status="dead")
    assert dead["attempts"].iloc[0] == 2 and "failed" in dead["detail"].iloc[0]
    did = dead["delivery_id"].iloc[0]
    assert did in aws.act.dead_letters()["delivery_id"].tolist()
    with http_receiver(port) as rec:
        out = subprocess.run([sys.executable, "-m", "cxlens", "--workspace", str(aws.path), "act", "dead",
                              "--format", "json"], capture_output=True, text=True)  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert did in [r["delivery_id"] for r in json.loads(out.stdout)]
        out = subprocess.run([sys.executable, "-m", "cxlens", "--workspace", str(aws.path), "act", "retry", did],
                             capture_output=True, text=True)  # fmt: skip
        assert out.returncode == 0 and "queued again" in out.stderr, out.stderr
        hit = wait_for(lambda: rec.on("/in"), what="the retried delivery")[0]
        assert hit.headers["webhook-id"] == did
        sent(aws, "down")
    with pytest.raises(Exception, match="only dead or refused"):
        out = subprocess.run([sys.executable, "-m", "cxlens", "--workspace", str(aws.path), "act", "retry", did],
                             capture_output=True, text=True)  # fmt: skip
        assert out.returncode == 0 and "queued again" in out.stderr, out.stderr


def test_ssrf_destinations_are_refused(aws, receiver):
    from cxlens.errors import ConfigError

    with pytest.raises(ConfigError, match="not allowed.*allow-host 169.254.169.254"):
        rule(aws, "meta", "meta", [{"webhook": {"url": "http://169.254.169.254/latest/meta-data"}}])
    with pytest.raises(ConfigError, match="expected an http"):
        rule(aws, "ftp", "ftp", [{"webhook": {"url": "file:///etc/passwd"}}])
    with pytest.raises(ConfigError, match="credentials"):
        rule(aws, "cred", "cred", [{"webhook": {"url": "http://u:p@127.0.0.1/x"}}])
    # allowed by name but resolving to loopback/link-local without --private: refused at send time
    aws.act.allow_host("localhost")
    aws.act.allow_host("169.254.169.254")
    rule(aws, "ssrf", "ssrf", [{"webhook": {"url": f"http://localhost:{receiver.port}/ssrf"}},
                               {"webhook": {"url": "http://169.254.169.254/latest/meta-data"}}])  # fmt: skip
    answer(aws, "X1", 3, "ssrf")
    refused = sent(aws, "ssrf", 2, status="refused")
    assert all("non-public address" in d for d in refused["detail"])
    assert receiver.on("/ssrf") == []
    # a URL taken from the environment is checked the same way
    import os

    os.environ["SSRF_URL"] = "http://10.1.2.3/hook"
    aws.act.allow_host("10.1.2.3")
    rule(aws, "ssrf-env", "ssrf-env", [{"slack": {"url_env": "SSRF_URL"}}])
    answer(aws, "X2", 3, "ssrf-env")
    d = sent(aws, "ssrf-env", status="refused")
    assert "10.1.2.3" in d["detail"].iloc[0] and "hook" not in d["detail"].iloc[0]


def test_one_alert_per_customer_per_rule_per_window(aws, receiver):
    rule(aws, "throttle", "thr", [{"webhook": {"url": f"{receiver.url}/thr"}}], window="1h")
    answer(aws, "R1", 3, "thr")
    answer(aws, "R1", 2, "thr")  # same customer within the hour: no second alert
    aws.load("feedback", pd.DataFrame([{"customer_id": c, "ts": now(), "metric": "nps", "score": 1,
                                         "touchpoint": "thr"} for c in ("R2", "R2", "R3")]).assign(
        comment=["a", "b", "c"]))  # fmt: skip
    alerts = aws.act.alerts(rule="throttle")
    assert sorted(alerts["customer_id"]) == ["R1", "R2", "R3"]
    sent(aws, "throttle", 3)
    # an old answer (imported history) never fires
    aws.load("feedback", pd.DataFrame([{"customer_id": "R9", "ts": now() - pd.Timedelta(days=30), "metric": "nps",
                                         "score": 0, "touchpoint": "thr"}]))  # fmt: skip
    assert "R9" not in aws.act.alerts(rule="throttle")["customer_id"].tolist()


def test_outbox_commits_with_the_feedback_or_not_at_all(aws):
    rule(aws, "atomic", "atomic", [{"webhook": {"url": "http://127.0.0.1:9/never"}}, {"case": {"team": "t"}}])
    before = aws.scalar("SELECT count(*) FROM jobs")
    with pytest.raises(RuntimeError, match="boom"):
        with aws.transaction(changes=["feedback"]):
            answer(aws, "A1", 0, "atomic")
            assert aws.scalar("SELECT count(*) FROM act_alerts WHERE rule = 'atomic'") == 1  # inside: written
            raise RuntimeError("boom")
    assert aws.scalar("SELECT count(*) FROM feedback WHERE customer_id = 'A1'") == 0
    assert aws.scalar("SELECT count(*) FROM act_alerts WHERE rule = 'atomic'") == 0
    assert aws.scalar("SELECT count(*) FROM act_cases WHERE rule = 'atomic'") == 0
    assert aws.scalar("SELECT count(*) FROM jobs") == before
    aws.act.pause("atomic")
