"""Customer triggers: a customer crossing a churn-risk or CLV threshold when the scores are refreshed,
through YAML, `cxlens rules test` and a real receiver (the delivery pump of the ``aws`` fixture)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cxlens.act import parse_rules
from cxlens.cli import app
from cxlens.errors import ConfigError
from cxlens.jobs import JobRunner, run_now

from .conftest import answer, wait_for

RULES = """\
rules:
  - name: churn-watch
    when: {{customer: {{churn_risk: 0.7}}}}
    window: 0
    do:
      - webhook: {{url: "{url}/churn"}}
      - case: {{team: retention, priority: high}}
  - name: big-spender
    when: {{customer: {{clv: {{min: 1000}}}}}}
    do:
      - slack: {{url: "{url}/vip"}}
"""


def score(ws, rows):
    """Replace the stored scores, as the models job does (customer_id → (clv, churn_risk))."""
    with ws.transaction(changes=["customer_scores"]) as cur:
        cur.execute("DELETE FROM customer_scores")
        for cid, (clv, risk) in rows.items():
            cur.execute("INSERT INTO customer_scores (customer_id, clv, churn_risk, reasons, computed_at) "
                        "VALUES (?, ?, ?, 'recency 90 days +0.5', now())", [cid, clv, risk])  # fmt: skip


def hooks(receiver, path):
    return sorted(json.loads(h.body)["customer_id"] for h in receiver.on(path))


def test_customer_rules_are_checked():
    with pytest.raises(ConfigError, match="churn_risk"):
        parse_rules({"rules": [{"name": "x", "when": {"customer": {"churn_risk": 1.5}}, "do": [{"case": {}}]}]})
    with pytest.raises(ConfigError, match="needs a threshold"):
        parse_rules({"rules": [{"name": "x", "when": {"customer": {}}, "do": [{"case": {}}]}]})
    with pytest.raises(ConfigError, match="unknown condition 'score'"):
        parse_rules({"rules": [{"name": "x", "when": {"customer": {"score": 3}}, "do": [{"case": {}}]}]})
    (r,) = parse_rules({"rules": [{"name": "x", "when": {"customer": {"clv": {"min": 10, "max": 20}}},
                                   "do": [{"case": {}}]}]})  # fmt: skip
    assert r.trigger == "customer" and r.conditions == {"clv": {"min": 10.0, "max": 20.0}}


def test_crossing_a_churn_or_clv_threshold_alerts_once_when_scores_refresh(aws, receiver):
    score(aws, {"K1": (200.0, 0.9), "K2": (1500.0, 0.2), "K3": (50.0, 0.5)})
    aws.act.load_rules(RULES.format(url=receiver.url))
    # `cxlens rules test` lists who is inside the band now, and tests a made-up customer
    path = str(aws.store.path)
    r = CliRunner().invoke(app, ["--workspace", path, "rules", "test", "churn-watch", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert [row["customer_id"] for row in json.loads(r.output)] == ["K1"]
    r = CliRunner().invoke(app, ["--workspace", path, "rules", "test", "big-spender", "--answer", '{"clv": 999}',
                                 "--format", "json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)[0]["fires"] is False
    # the runner queues the check when customer_scores changes; the first pass of a new rule is silent
    runner = JobRunner(aws, refresh=True, kinds=["act.scores"])
    assert runner.tick(), "a change of customer_scores queues act.scores"
    run_now(aws, "act.scores")
    assert aws.act.alerts(rule="churn-watch").empty and aws.act.alerts(rule="big-spender").empty
    # the next scoring: K3 crosses 0.7, K1 stays above (no new alert), K4 is new and above; K1 spends
    score(aws, {"K1": (1200.0, 0.95), "K2": (1500.0, 0.1), "K3": (60.0, 0.75), "K4": (10.0, 0.8)})
    run_now(aws, "act.scores")
    got = wait_for(lambda: hooks(receiver, "/churn") if len(receiver.on("/churn")) >= 2 else None,
                   what="the churn alerts")  # fmt: skip
    assert got == ["K3", "K4"]
    vip = wait_for(lambda: receiver.on("/vip"), what="the CLV alert")
    assert len(vip) == 1 and "K1" in vip[0].body.decode()
    body = json.loads(receiver.on("/churn")[0].body)
    assert body["trigger"] == "customer" and body["metric"] == "churn_risk" and body["score"] in (0.75, 0.8)
    cases = aws.act.cases(team="retention")
    assert sorted(cases["customer_id"]) == ["K3", "K4"] and set(cases["rule"]) == {"churn-watch"}
    # the same scores again: nobody crossed, nothing fires; K3 leaves the band and comes back: fires again
    run_now(aws, "act.scores")
    score(aws, {"K1": (1200.0, 0.95), "K3": (60.0, 0.3), "K4": (10.0, 0.8)})
    run_now(aws, "act.scores")
    score(aws, {"K1": (1200.0, 0.95), "K3": (60.0, 0.71), "K4": (10.0, 0.8)})
    run_now(aws, "act.scores")
    assert sorted(aws.act.alerts(rule="churn-watch")["customer_id"]) == ["K3", "K3", "K4"]
    assert list(aws.act.alerts(rule="big-spender")["customer_id"]) == ["K1"]
    wait_for(lambda: receiver.on("/churn")[2:], what="the third churn alert")
    # paused, the rule forgets its band: resumed, its first pass is silent again
    aws.act.pause("churn-watch")
    run_now(aws, "act.scores")
    assert aws.scalar("SELECT count(*) FROM act_score_state WHERE rule LIKE 'churn-watch@%'") == 0
    aws.act.resume("churn-watch")
    run_now(aws, "act.scores")
    assert len(aws.act.alerts(rule="churn-watch")) == 3
    # GDPR erasure reaches the band state (a table with customer_id)
    assert aws.scalar("SELECT count(*) FROM act_score_state WHERE customer_id = 'K4'") > 0
    from cxlens.customers.profile import erase_customer

    answer(aws, "K4", 9, "none")  # a known customer (erase refuses unknown ids)
    erase_customer(aws, "K4")
    assert aws.scalar("SELECT count(*) FROM act_score_state WHERE customer_id = 'K4'") == 0
