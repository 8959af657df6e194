"""Routing rules end to end with a real local receiver: new tickets and verbatims classified when they are
committed and routed by that classification (a webhook, Slack, a case whose team the theme chooses),
emerging themes from the scheduled job with the dashboard's growth test, `cxlens rules test` for each
trigger, errors naming the field, and GDPR erase of the classifications."""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil

import pandas as pd
import pytest

import cxlens
from cxlens.act import parse_rules, route
from cxlens.act.deliver import delivery_runner
from cxlens.customers.profile import erase_customer
from cxlens.errors import ConfigError
from cxlens.jobs import run_now
from cxlens.metrics.common import period_start
from cxlens.voice.stored import save_themes
from cxlens.voice.themes import ThemeExtractor

from .conftest import SECRET, cli, now, wait_for

REFUND = ["still waiting for my refund", "refund never arrived", "they refused my refund request"]
OTHER = ["the delivery was late again", "parcel delivery took ages", "courier lost my delivery",
         "staff were friendly and kind", "great prices on shoes", "website is easy to use"]  # fmt: skip


@pytest.fixture(scope="module")
def route_file(receiver, tmp_path_factory):
    """A closed workspace file with a saved theme model (rule themes Refund and Delivery), the local
    receiver allowed and the routing rules loaded through the CLI; each test works on a copy."""
    path = tmp_path_factory.mktemp("route") / "route.duckdb"
    texts = REFUND * 4 + OTHER * 4
    with cxlens.open(path) as ws:
        ws.act.allow_host("127.0.0.1", private=True)
        save_themes(ws, ThemeExtractor(n_themes=2, rules={"Refund": ["refund"], "Delivery": ["delivery", "courier"]},
                                       min_df=1).fit(texts))  # fmt: skip
        f = path.with_name("route.yaml")
        f.write_text(f"""\
rules:
  - name: urgent-tickets
    when: {{ticket: {{urgency: high, sentiment: negative}}}}
    do:
      - webhook: {{url: "{receiver.url}/route-ticket"}}
      - case: {{team_by: theme, teams: {{refund: billing, delivery: logistics}}, default: support, priority: urgent}}
  - name: angry-app-reviews
    when: {{verbatim: {{emotion: anger, source: app-review}}}}
    do: [{{slack: {{url: "{receiver.url}/route-slack"}}}}]
  - name: refund-theme
    when: {{theme: {{emerging: true, min_growth: 1.5, theme: refund}}}}
    do: [{{webhook: {{url: "{receiver.url}/route-theme"}}}}]
""")
        ws.share()  # the CLI runs beside it (docs/store.md)
        cli(ws, "rules", "load", str(f))
    return path


@pytest.fixture()
def rws(route_file, receiver, tmp_path, monkeypatch):
    """A fresh copy of :func:`route_file` per test, with a job runner delivering its alerts, and the
    module's receiver emptied: each test sees only what it writes and what it sends, whatever the order
    (pytest-xdist spreads a module's tests over workers)."""
    monkeypatch.setenv("CX_HOOK_SECRET", SECRET)
    monkeypatch.setenv("CXLENS_BASE_URL", "https://cx.example.com")
    path = tmp_path / route_file.name
    shutil.copyfile(route_file, path)
    with receiver.lock:  # the previous test's runner is stopped: nothing of it arrives any more
        receiver.hits.clear()
        receiver.seen.clear()
    ws = cxlens.open(path)
    ws.share()
    runner = delivery_runner(ws, poll=0.05)
    yield ws
    runner.stop(timeout=5)
    ws.close()


def _tickets(t: pd.Timestamp) -> pd.DataFrame:
    """Two urgent negative tickets (refund, delivery), a calm one and an old urgent one."""
    return pd.DataFrame([
        {"ticket_id": "T1", "customer_id": "RC1", "created_at": t, "subject": "Refund",
         "body": "I need my refund today, this is terrible! Call me at 555-123-4567"},
        {"ticket_id": "T2", "customer_id": "RC2", "created_at": t, "subject": "Courier",
         "body": "Urgent: the courier lost my delivery, awful service, I need it today"},
        {"ticket_id": "T3", "customer_id": "RC3", "created_at": t, "subject": "Thanks",
         "body": "Lovely staff, thank you for the help"},
        {"ticket_id": "T4", "customer_id": "RC4", "created_at": t - pd.Timedelta(days=30), "subject": "Old",
         "body": "I need my refund today, this is terrible"},  # older than max_age: never fires
    ])  # fmt: skip


def test_new_tickets_are_classified_and_routed_by_urgency_sentiment_and_theme(rws, receiver):
    rws.load("tickets", _tickets(now()))
    hits = wait_for(lambda: receiver.on("/route-ticket") if len(receiver.on("/route-ticket")) >= 2 else None,
                    what="two ticket alerts")  # fmt: skip
    bodies = {json.loads(h.body)["customer_id"]: json.loads(h.body) for h in hits}
    assert set(bodies) == {"RC1", "RC2"}
    b1 = bodies["RC1"]
    assert b1["trigger"] == "ticket" and b1["metric"] == "ticket" and b1["feedback_id"] == "ticket:T1"
    assert b1["classification"]["urgency"] == "high" and b1["classification"]["sentiment"] == "negative"
    assert "Refund" in b1["classification"]["themes"] and "anger" in b1["classification"]["emotions"]
    assert "555-123-4567" not in b1["comment"] and "[PHONE]" in b1["comment"]  # redacted in the message
    assert "Delivery" in bodies["RC2"]["classification"]["themes"]
    cases = rws.act.cases().set_index("customer_id")
    assert cases.loc["RC1", "team"] == "billing" and cases.loc["RC1", "priority"] == "urgent"
    assert cases.loc["RC2", "team"] == "logistics"
    stored = rws.read("SELECT verbatim_id, sentiment, urgency FROM act_classifications WHERE source = 'ticket' "
                      "ORDER BY 1")  # fmt: skip
    assert stored["verbatim_id"].tolist() == ["ticket:T1", "ticket:T2", "ticket:T3"]  # T4 too old to classify
    assert stored.set_index("verbatim_id").loc["ticket:T3", "sentiment"] == "positive"


def test_an_angry_app_review_reaches_slack_and_other_sources_do_not(rws, receiver):
    t = now()
    rws.load("reviews", pd.DataFrame([
        {"review_id": "V1", "source": "app-review", "customer_id": "RV1", "ts": t, "rating": 1,
         "body": "Worst app ever, absolutely furious, it is a joke"},
        {"review_id": "V2", "source": "trustpilot", "customer_id": "RV2", "ts": t, "rating": 1,
         "body": "Worst shop ever, absolutely furious"},
        {"review_id": "V3", "source": "app-review", "customer_id": "RV3", "ts": t, "rating": 5,
         "body": "Nice app, works well"},
    ]))  # fmt: skip
    hits = wait_for(lambda: receiver.on("/route-slack"), what="the slack alert")
    assert len(hits) == 1
    msg = json.loads(hits[0].body)
    assert "RV1" in msg["text"] and "review:app-review" in msg["text"]
    assert any("anger" in json.dumps(b) for b in msg["blocks"])


def test_rules_test_classifies_a_made_up_ticket_and_lists_the_stored_matches(rws):
    rws.load("tickets", _tickets(now()))  # classified on commit; the two urgent ones are the stored matches
    r = cli(rws, "rules", "test", "urgent-tickets", "--answer",
            json.dumps({"text": "Please help ASAP, you charged me twice, horrible"}), "--format", "json")  # fmt: skip
    got = json.loads(r.output)[0]
    assert got["fires"] is True and got["urgency"] == "high" and got["sentiment"] == "negative"
    calm = json.loads(cli(rws, "rules", "test", "urgent-tickets", "--answer", json.dumps({"text": "All good, thanks"}),
                          "--format", "json").output)[0]  # fmt: skip
    assert calm["fires"] is False and calm["urgency"] == "low"
    stored = json.loads(cli(rws, "rules", "test", "urgent-tickets", "--format", "json").output)
    assert {s["verbatim_id"] for s in stored} == {"ticket:T1", "ticket:T2"}
    bad = cli(rws, "rules", "test", "urgent-tickets", "--answer", '{"body": "x"}', ok=False)
    assert "answer needs a 'text'" in bad.message


def _z(x1, n1, x0, n0):  # the pooled two-proportion z statistic, written out
    p = (x1 + x0) / (n1 + n0)
    return (x1 / n1 - x0 / n0) / math.sqrt(p * (1 - p) * (1 / n1 + 1 / n0))


def test_an_emerging_theme_alerts_once_from_the_scheduled_job(rws, receiver):
    slot = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    last = pd.Timestamp(period_start(slot, "week")) - pd.Timedelta(days=7)
    rows, i = [], 0
    for start, nref, noth in ((last - pd.Timedelta(days=7), 3, 40), (last, 20, 40)):
        for k in range(nref + noth):
            i += 1
            rows.append({"feedback_id": f"th{i}", "customer_id": f"TH{i}", "ts": start + pd.Timedelta(hours=1 + k),
                         "metric": "nps", "score": 5.0, "comment": REFUND[k % 3] if k < nref else OTHER[k % 6]})  # fmt: skip
    rws.load("feedback", pd.DataFrame(rows))
    run_now(rws, "voice.analyse")
    run_now(rws, "voice.themes")
    preview = json.loads(cli(rws, "rules", "test", "refund-theme", "--format", "json").output)
    firing = [p for p in preview if p["fires"]]
    assert [p["name"] for p in firing] == ["Refund"]
    # the oracle: 20 of the last week's 60 verbatims vs 3 of 43 the week before
    assert (firing[0]["count"], firing[0]["previous"]) == (20, 3)
    assert firing[0]["z"] == pytest.approx(_z(20, 60, 3, 43), rel=1e-9)
    (sched,) = [s for s in route.theme_schedules(rws) if s.name == "act-theme:refund-theme"]
    assert (sched.kind, sched.params) == ("act.themes", {"rule": "refund-theme"})
    params = {"rule": "refund-theme", "slot_time": slot.isoformat()}
    assert run_now(rws, "act.themes", params)["result"]["status"] == "queued"
    assert run_now(rws, "act.themes", params)["result"]["alerts"] == []  # once per rule, theme and period
    hits = wait_for(lambda: receiver.on("/route-theme"), what="the theme alert")
    body = json.loads(hits[0].body)
    assert body["trigger"] == "theme" and body["customer_id"] is None
    assert body["theme"]["name"] == "Refund" and body["theme"]["count"] == 20 and body["theme"]["previous"] == 3
    assert body["theme"]["growth"] == pytest.approx((20 / 60) / (3 / 43), rel=1e-3)
    assert len(rws.act.alerts(rule="refund-theme")) == 1  # the second run of the slot found it alerted


@pytest.mark.parametrize(("rule", "error"), [
    ({"when": {"ticket": {"urgency": "hgh"}}}, "rule 'r'.when.ticket.urgency is 'hgh'; expected one of high"),
    ({"when": {"ticket": {"source": "x"}}}, "rule 'r'.when.ticket has unknown condition 'source'"),
    ({"when": {"verbatim": {"emotion": "joy"}}}, "rule 'r'.when.verbatim.emotion is 'joy'"),
    ({"when": {"frustration": {"signal": "rage"}}}, "rule 'r'.when.frustration.signal is 'rage'"),
    ({"when": {"frustration": {"min_count": 0}}}, "rule 'r'.when.frustration.min_count is 0"),
    ({"when": {"theme": {"emerging": False}}}, "rule 'r'.when.theme.emerging is False"),
    ({"when": {"theme": {"emerging": True, "min_growth": 0.5}}}, "rule 'r'.when.theme.min_growth is 0.5"),
    ({"when": {"theme": {"emerging": True}}, "do": [{"case": {"team": "x"}}]}, "rule 'r'.do has a case action"),
    ({"when": {"feedback": {}}, "do": [{"case": {"team_by": "theme", "teams": {"a": "b"}}}]},
     "only ticket and verbatim rules carry a classification"),
    ({"when": {"ticket": {}}, "do": [{"case": {"team_by": "colour", "teams": {"a": "b"}}}]},
     "rule 'r'.do[0].case.team_by is 'colour'"),
    ({"when": {"ticket": {}}, "do": [{"case": {"team_by": "theme"}}]}, "rule 'r'.do[0].case.teams is None"),
    ({"when": {"feedback": {}}, "do": [{"survey": {"via": "email"}}]}, "rule 'r'.do[0].survey needs option 'survey'"),
    ({"when": {"feedback": {}}, "do": [{"survey": {"survey": "s", "via": "sms"}}]}, "rule 'r'.do[0].survey.via is 'sms'"),
    ({"when": {"metric": {"metric": "nps"}}, "do": [{"survey": {"survey": "s"}}]}, "rule 'r'.do has a survey action"),
])  # fmt: skip
def test_invalid_routing_rules_name_the_field(rule, error):
    data = {"name": "r", "do": [{"webhook": {"url": "https://h.example.com/x"}}], **rule}
    with pytest.raises(ConfigError) as e:
        parse_rules({"rules": [data]})
    assert error in str(e.value)


def test_erase_removes_the_classifications(rws):
    # a calm ticket (no rule fires on it)
    rws.load("tickets", pd.DataFrame([{"ticket_id": "T9", "customer_id": "RC9", "created_at": now(),
                                       "subject": "Thanks", "body": "Lovely staff, thank you for the help"}]))  # fmt: skip
    assert rws.read("SELECT count(*) AS n FROM act_classifications WHERE customer_id = 'RC9'")["n"][0] == 1
    erase_customer(rws, "RC9")
    assert rws.read("SELECT count(*) AS n FROM act_classifications WHERE customer_id = 'RC9'")["n"][0] == 0


def test_the_configured_llm_analyser_classifies_the_sentiment_of_redacted_text(tmp_path):
    """A local OpenAI-compatible server that calls every text positive (the opposite of the shipped model on
    these): its labels are the ones stored and routed on, and it only ever sees redacted text."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import cxlens

    seen: list[str] = []

    class LLM(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            texts = json.loads(body["messages"][1]["content"])
            seen.extend(t["text"] for t in texts)
            content = json.dumps([{"i": t["i"], "label": "positive", "score": 0.9} for t in texts])
            out = json.dumps({"choices": [{"message": {"content": content}}]}).encode()
            self.send_response(200)
            self.send_header("content-length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), LLM)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        with cxlens.open(tmp_path / "llm.duckdb") as ws:
            ws.set_setting("voice.llm", {"base_url": f"http://127.0.0.1:{srv.server_address[1]}/v1", "model": "m"})
            ws.act.load_rules({"rules": [
                {"name": "happy", "when": {"ticket": {"sentiment": "positive"}}, "do": [{"case": {"team": "praise"}}]},
            ]})  # fmt: skip
            ws.load("tickets", pd.DataFrame([{"ticket_id": "L1", "customer_id": "L1", "created_at": now(),
                                              "body": "Terrible, awful service. Call 555-123-4567"}]))  # fmt: skip
            got = ws.read("SELECT sentiment, sentiment_score, analyser FROM act_classifications").iloc[0]
            assert (got["sentiment"], got["sentiment_score"], got["analyser"]) == ("positive", 0.9, "llm")
            assert ws.act.cases()["team"].tolist() == ["praise"]
    finally:
        srv.shutdown()
        srv.server_close()
    assert seen and all("555-123-4567" not in t and "[PHONE]" in t for t in seen)


def test_a_flood_folds_the_messages_into_a_digest_but_still_surveys_each_customer(tmp_path):
    import cxlens

    with cxlens.open(tmp_path / "flood.duckdb") as ws:
        ws.act.allow_host("127.0.0.1", private=True)
        ws.act.load_rules({"rules": [{"name": "flood", "when": {"feedback": {"score": {"max": 6}}},
                                      "digest": {"after": 1, "per": "1h"},
                                      "do": [{"slack": {"url": "http://127.0.0.1:9/s"}},
                                             {"survey": {"survey": "s-follow", "host": "127.0.0.1"}}]}]})  # fmt: skip
        ws.load("feedback", pd.DataFrame([{"customer_id": f"D{i}", "ts": now(), "metric": "nps", "score": 2.0}
                                          for i in range(3)]))  # fmt: skip
        d = ws.read("SELECT a.trigger, a.customer_id, d.channel FROM act_deliveries d JOIN act_alerts a USING (alert_id) "
                    "ORDER BY d.channel, a.customer_id NULLS FIRST")  # fmt: skip
        assert sorted(d.loc[d["channel"] == "survey", "customer_id"]) == ["D0", "D1", "D2"]
        slack = d[d["channel"] == "slack"]
        assert sorted(slack["trigger"]) == ["digest", "feedback"]  # one alert sent alone, the rest in the digest
        assert ws.act.send_test("flood")["channel"].tolist() == ["slack"]  # a test alert surveys nobody
