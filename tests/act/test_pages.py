"""The act pages through a real server: an admin in Chromium writes a rule in the YAML editor (an error
names the field), sees it fire (alerts, last fired, open case, dead letter), retries the dead delivery
to a real receiver, edits the rule (history with who and the diff), pauses it, and works the case
(assign, note, close with an outcome). An analyst reads but cannot change; an agent sees only their
team's cases; forms need the CSRF token; values are escaped."""

from __future__ import annotations

import re

import httpx
import pandas as pd
import pytest

from cxlens.access import users
from cxlens.act.schedule import schedules
from cxlens.jobs import JobRunner
from cxlens.web import create_app
from cxlens.web.deps import CSRF_COOKIE
from cxlens.web.hub import WorkspaceHub

from ..conftest import new_page, running
from .conftest import now, wait_for

PW = "correct horse battery staple"
EVIL = "C<img src=x onerror=alert(1)>"


def login(url: str, email: str) -> httpx.Client:
    c = httpx.Client(base_url=url, timeout=30)
    c.get("/login")
    r = c.post("/login", data={"email": email, "password": PW, "csrf_token": c.cookies.get(CSRF_COOKIE)})
    assert r.status_code == 303, r.text[:300]
    return c


def form_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture(scope="module")
def env(tmp_path_factory, receiver):
    path = tmp_path_factory.mktemp("pages") / "shop.duckdb"
    hub = WorkspaceHub.open([path])
    ws = hub.get(hub.default)
    for email, role in (("admin@x.example", "admin"), ("analyst@x.example", "analyst"),
                        ("s@x.example", "agent"), ("b@x.example", "agent")):  # fmt: skip
        users.create_user(ws, email, PW, role=role)
    ws.act.add_member("support", "s@x.example")
    ws.act.add_member("billing", "b@x.example")
    ws.act.allow_host("127.0.0.1", private=True)
    runner = JobRunner(ws, poll=0.05, housekeeping=0.5, refresh=False, kinds=["act.deliver"]).start()
    with running(create_app(hub)) as url:
        yield {"url": url, "ws": ws}
    runner.stop(timeout=5)
    hub.close()


def sign_in(browser, url: str, email: str):
    pg = new_page(browser)
    pg.goto(url + "/login")
    pg.fill("#email", email)
    pg.fill("#password", PW)
    pg.click("#login-form button[type=submit]")
    pg.wait_for_load_state()
    return pg


def cells(pg, table: str, key: str, value: str) -> dict[str, str]:
    row = pg.locator(f'#{table} tr[data-{key}="{value}"]')
    return {f: row.locator(f'[data-field="{f}"]').inner_text() for f in
            row.evaluate("r => Array.from(r.querySelectorAll('[data-field]')).map(e => e.dataset.field)")}  # fmt: skip


@pytest.mark.browser
def test_an_admin_writes_a_rule_sees_it_fire_retries_the_dead_letter_and_works_the_case(env, browser, receiver):
    url, ws = env["url"], env["ws"]
    pg = sign_in(browser, url, "admin@x.example")
    try:
        pg.goto(url + "/rules")
        assert pg.locator("#rules").count() == 0 and pg.locator("#rule-editor").is_visible()
        bad = ("rules:\n  - name: ui-detractors\n    when: {feedback: {metric: nps, score: {max: six}}}\n"
               "    do:\n      - case: {team: support}\n")  # fmt: skip
        pg.fill("#rule-yaml", bad)
        pg.click("#rule-check")
        assert pg.locator("#act-error").inner_text() == (
            "rule 'ui-detractors'.when.feedback.score.max is 'six'; expected a number"
        )
        assert pg.input_value("#rule-yaml") == bad  # the text is kept to be fixed
        good = ("rules:\n  - name: ui-detractors\n    when: {feedback: {metric: nps, score: {max: 6}}}\n    do:\n"
                f"      - webhook: {{url: \"{receiver.url}/flaky-ui\", attempts: 1}}\n"
                "      - case: {team: support, priority: high}\n")  # fmt: skip
        pg.fill("#rule-yaml", good)
        pg.click("#rule-check")
        assert pg.locator("#act-notice").inner_text() == "Valid: 1 rule (ui-detractors)."
        assert ws.act.rules().empty  # checking saves nothing
        pg.click("#rule-save")
        assert pg.locator("#act-notice").inner_text() == "Saved: ui-detractors created (version 1)."
        row = cells(pg, "rules", "rule", "ui-detractors")
        assert row["status"] == "active" and row["alerts"] == "0" and row["last_fired"] == "never"

        # a detractor whose id is HTML: the webhook answers 500 once, with 1 attempt → a dead letter
        ws.load("feedback", pd.DataFrame([{"customer_id": EVIL, "ts": now(), "metric": "nps", "score": 3.0,
                                           "touchpoint": "checkout", "comment": "<b>late</b>"}]))  # fmt: skip
        dead = wait_for(lambda: ws.act.dead_letters(), what="the dead letter")
        pg.goto(url + "/rules")
        row = cells(pg, "rules", "rule", "ui-detractors")
        assert (row["alerts"], row["alerts_24h"], row["open_cases"], row["failed"]) == ("1", "1", "1", "1")
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", row["last_fired"])

        pg.goto(url + "/deliveries")
        delivery_id = dead["delivery_id"].iloc[0]
        dead_row = pg.locator(f'#dead tr[data-delivery="{delivery_id}"]')
        assert dead_row.locator('[data-field="error"]').inner_text() == "127.0.0.1 answered 500 (HTTP 500)"
        assert EVIL in dead_row.inner_text()  # shown as text, not markup
        dead_row.locator("button.retry").click()
        assert pg.locator("#act-notice").inner_text().startswith("Delivery queued again")
        wait_for(lambda: ws.act.deliveries(status="sent"), what="the retried delivery")
        assert len(receiver.on("/flaky-ui")) == 2  # the 500, then the retry
        ids = {h.headers["webhook-id"] for h in receiver.on("/flaky-ui")}
        assert ids == {delivery_id}  # the same idempotency key
        pg.goto(url + "/deliveries")
        assert pg.locator("#no-dead").is_visible()
        assert pg.locator(f'#deliveries tr[data-delivery="{delivery_id}"] [data-field="status"]').inner_text() == "sent"

        # edit: a new version with who and the diff; pause
        pg.goto(url + "/rules/ui-detractors")
        pg.fill("#rule-yaml", pg.input_value("#rule-yaml").replace("priority: high", "priority: urgent"))
        pg.click("#rule-save")
        assert pg.locator("#act-notice").inner_text() == "Saved: ui-detractors updated (version 2)."
        pg.goto(url + "/rules/ui-detractors")
        v2 = pg.locator('#history tr[data-version="2"]')
        assert v2.locator('[data-field="who"]').inner_text() == "admin@x.example"
        diff = v2.locator("pre.diff").inner_text().splitlines()
        assert "-      priority: high" in diff and "+      priority: urgent" in diff
        assert not [line for line in diff if line[:1] in "+-" and "priority" not in line and line[:3] not in "+++---"]
        pg.click("#rule-pause")
        assert pg.locator('#rule [data-field="status"]').inner_text() == "paused"
        assert pg.locator('#history tr[data-version="3"]').get_attribute("data-change") == "paused"
        assert ws.act.rule("ui-detractors").status == "paused"

        # the case: filter, assign, note, close
        case_id = ws.act.cases()["case_id"].iloc[0]
        pg.goto(url + "/cases")
        pg.select_option("#f-team", "support")
        pg.select_option("#f-priority", "high")
        pg.click("#case-filter")
        assert pg.url.endswith("/cases?status=&team=support&priority=high&owner=")
        assert pg.locator("#cases tbody tr").count() == 1
        pg.select_option("#f-priority", "low")
        pg.click("#case-filter")
        assert pg.locator("#case-count").inner_text() == "0"
        pg.goto(url + f"/cases/{case_id}")
        pg.fill("#c-owner", "s@x.example")
        pg.select_option("#c-status", "in_progress")
        pg.click("#case-save")
        assert pg.locator('#case [data-field="owner"]').inner_text() == "s@x.example"
        pg.fill("#c-note", "Called: <i>refund</i> promised")
        pg.click("#case-add-note")
        assert pg.locator("#act-notice").inner_text() == "Note added."
        pg.click("#case-close-button")  # no outcome chosen
        assert pg.locator("#act-error").inner_text() == "outcome is missing; choose how the case ended"
        pg.select_option("#c-outcome", "compensated")
        pg.click("#case-close-button")
        assert pg.locator('#case [data-field="status"]').inner_text() == "closed"
        trail = pg.locator("#case-events").inner_text()
        assert "Called: <i>refund</i> promised" in trail
        assert pg.errors == []  # no injected script ran
    finally:
        pg.close()
    case = ws.act.case(case_id)
    assert (case["status"], case["owner"], case["outcome"]) == ("closed", "s@x.example", "compensated")
    ev = pd.DataFrame(case["events"])
    assert set(ev.loc[ev["actor"] == "admin@x.example", "field"]) == {"owner", "status", "note", "outcome"}


@pytest.mark.browser
def test_an_analyst_reads_but_cannot_change(env, browser):
    url, ws = env["url"], env["ws"]
    if ws.act.rules().empty:
        ws.act.load_rules({"rules": [{"name": "ui-detractors", "when": {"feedback": {"metric": "nps"}},
                                      "do": [{"case": {"team": "support"}}]}]})  # fmt: skip
    pg = sign_in(browser, url, "analyst@x.example")
    try:
        pg.goto(url + "/rules")
        assert pg.locator('#rules tr[data-rule="ui-detractors"]').count() == 1
        assert pg.locator("#rule-editor").count() == 0 and pg.locator("#read-only-note").is_visible()
        pg.goto(url + "/rules/ui-detractors")
        assert pg.locator("#rule-pause, #rule-resume, #rule-send-test, #rule-editor").count() == 0
        assert "name: ui-detractors" in pg.locator("#rule-yaml-view").inner_text()
        pg.goto(url + "/deliveries")
        assert pg.locator("button.retry").count() == 0
        assert pg.errors == []
    finally:
        pg.close()


def test_writes_need_the_role_and_the_csrf_token(env):
    url, ws = env["url"], env["ws"]
    ws.act.load_rules({"rules": [{"name": "http-rule", "when": {"feedback": {"metric": "csat"}},
                                  "do": [{"case": {"team": "billing"}}]}]})  # fmt: skip
    analyst = login(url, "analyst@x.example")
    token = form_token(analyst.get("/rules").text)
    for path in ("/rules", "/rules/http-rule", "/rules/http-rule/pause", "/deliveries/x.0/retry"):
        r = analyst.post(path, data={"csrf_token": token, "yaml": "rules: []\n"})
        assert r.status_code == 403, (path, r.status_code)
    assert ws.act.rule("http-rule").status == "active" and ws.act.rule("http-rule").version == 1
    admin = login(url, "admin@x.example")
    assert admin.post("/rules/http-rule/pause", data={}).status_code == 403  # no CSRF token
    assert admin.post("/rules/http-rule/pause", data={"csrf_token": "forged"}).status_code == 403
    assert ws.act.rule("http-rule").status == "active"
    token = form_token(admin.get("/rules").text)
    r = admin.post("/rules/http-rule/pause", data={"csrf_token": token})
    assert r.status_code == 303 and ws.act.rule("http-rule").status == "paused"
    # an agent: no rules, no deliveries; cases only of their teams (a page of another team's case: 404)
    ws.load("feedback", pd.DataFrame([{"customer_id": "AG1", "ts": now(), "metric": "csat", "score": 1.0}]))
    ws.act.resume("http-rule")
    ws.load("feedback", pd.DataFrame([{"customer_id": "AG2", "ts": now(), "metric": "csat", "score": 1.0}]))
    (billing_case,) = ws.act.cases(customer_id="AG2")["case_id"]
    assert ws.act.cases(customer_id="AG1").empty  # the rule was paused
    s, b = login(url, "s@x.example"), login(url, "b@x.example")
    assert s.get("/rules").status_code == 403 and s.get("/deliveries").status_code == 403
    assert billing_case not in s.get("/cases").text and billing_case in b.get("/cases").text
    assert s.get(f"/cases/{billing_case}").status_code == 404
    token = form_token(s.get("/cases").text)
    r = s.post(f"/cases/{billing_case}", data={"csrf_token": token, "action": "close", "outcome": "resolved"})
    assert r.status_code == 404 and ws.act.case(billing_case)["status"] == "new"
    token = form_token(b.get(f"/cases/{billing_case}").text)
    r = b.post(f"/cases/{billing_case}", data={"csrf_token": token, "action": "update", "team": "support"})
    assert r.status_code == 403 and ws.act.case(billing_case)["team"] == "billing"  # not out of their teams
    r = b.post(f"/cases/{billing_case}", data={"csrf_token": token, "action": "close", "outcome": "resolved"})
    assert r.status_code == 303 and ws.act.case(billing_case)["status"] == "closed"
    assert s.get("/cases?status=nope").status_code == 400


def test_digest_schedule_and_metric_rules_through_the_api_and_the_rules_page(env):
    url, ws = env["url"], env["ws"]
    admin = login(url, "admin@x.example")
    admin.headers["x-csrf-token"] = admin.cookies.get(CSRF_COOKIE) or ""
    bad = "rules:\n  - {name: api-flood, digest: {after: -1}, when: {feedback: {metric: nps}}, do: [{case: {}}]}\n"
    r = admin.post("/api/v1/rules", json={"yaml": bad})
    assert r.status_code == 400 and "rule 'api-flood'.digest.after is -1" in r.text
    good = ("rules:\n"
            "  - {name: api-weekly, when: {schedule: {every: week, on: monday, at: '09:30', tz: Europe/Paris}},"
            " do: [{slack: {url: 'http://127.0.0.1:9/w'}}]}\n"
            "  - {name: api-move, when: {metric: {metric: csat, period: month, direction: down}},"
            " do: [{teams: {url: 'http://127.0.0.1:9/t'}}]}\n")  # fmt: skip
    r = admin.post("/api/v1/rules", json={"yaml": good})
    assert r.status_code == 201 and [x["change"] for x in r.json()] == ["created", "created"]
    shown = admin.get("/api/v1/rules/api-weekly").json()
    assert shown["rule"]["when"]["schedule"]["at"] == "09:30"
    preview = admin.post("/api/v1/rules/api-move/test", json={})
    assert preview.status_code == 200 and isinstance(preview.json(), list)
    page = admin.get("/rules").text
    assert 'data-rule="api-weekly"' in page and 'data-rule="api-move"' in page
    assert {s.name for s in schedules(ws)} >= {"act:api-weekly", "act:api-move"}  # the job runners' schedules


def test_routing_rules_are_checked_by_the_rules_page_and_the_api(env):
    url = env["url"]
    admin = login(url, "admin@x.example")
    admin.headers["x-csrf-token"] = admin.cookies.get(CSRF_COOKIE) or ""
    bad = "rules:\n  - {name: route-bad, when: {ticket: {urgency: urgnt}}, do: [{case: {team: support}}]}\n"
    page = admin.post("/rules", data={"yaml": bad, "action": "check", "csrf_token": admin.headers["x-csrf-token"]})
    assert "rule &#39;route-bad&#39;.when.ticket.urgency is &#39;urgnt&#39;" in page.text
    good = ("rules:\n"
            "  - {name: route-ticket, when: {ticket: {urgency: high, theme: refund}},"
            " do: [{case: {team_by: theme, teams: {refund: billing}, default: support}}]}\n"
            "  - {name: route-rage, when: {frustration: {signal: [rageclick, deadclick], url: '*/checkout*'}},"
            " do: [{case: {team: web}}]}\n"
            "  - {name: route-theme, when: {theme: {emerging: true}}, do: [{slack: {url: 'http://127.0.0.1:9/s'}}]}\n")  # fmt: skip
    checked = admin.post("/rules", data={"yaml": good, "action": "check", "csrf_token": admin.headers["x-csrf-token"]})
    assert checked.status_code == 200 and "route-rage" in checked.text and "is &#39;" not in checked.text
    r = admin.post("/api/v1/rules", json={"yaml": good})
    assert r.status_code == 201 and [x["change"] for x in r.json()] == ["created"] * 3
    t = admin.post("/api/v1/rules/route-ticket/test", json={"answer": {"text": "I need my refund today, asap"}})
    assert t.status_code == 200 and t.json()[0]["urgency"] == "high"
