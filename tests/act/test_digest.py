"""Flood control: past ``digest.after`` alerts of a rule in one period, the rest of the period is one
digest message at its end (cases are still opened for every alert) — to real receivers, the webhook
verified with the ``standardwebhooks`` package; the rule loaded through the CLI."""

from __future__ import annotations

import datetime as dt
import json
import time

import pandas as pd
import pytest
from standardwebhooks import Webhook

from cxlens.act.rules import DIGEST_AFTER, DIGEST_PER, parse_rule
from cxlens.errors import ConfigError

from .conftest import SECRET, cli, now, wait_for


def rows(touchpoint: str, scores: list[float], customers: list[str], comments: list[str | None] | None = None):
    t0 = now() - pd.Timedelta(seconds=len(scores))  # one second apart: fired in this order
    return pd.DataFrame({"customer_id": customers, "ts": [t0 + pd.Timedelta(seconds=i) for i in range(len(scores))],
                         "metric": "nps", "score": scores, "touchpoint": touchpoint,
                         "comment": comments or [None] * len(scores)})  # fmt: skip


def away_from_boundary(per: float, margin: float) -> None:
    """Sleep past a period boundary closer than ``margin`` s, so a test's loads share one period."""
    left = per - time.time() % per
    if left < margin:
        time.sleep(left + 0.05)


def test_the_digest_option_is_checked():
    base = {"name": "d", "when": {"feedback": {"metric": "nps"}}, "do": [{"case": {}}]}
    r = parse_rule(base)
    assert (r.digest_after, r.digest_per) == (DIGEST_AFTER, DIGEST_PER) == (10, 3600.0)
    assert parse_rule({**base, "digest": False}).digest_after == 0
    r = parse_rule({**base, "digest": {"after": 3, "per": "30m"}})
    assert (r.digest_after, r.digest_per) == (3, 1800.0)
    for bad, msg in (({"after": 0}, "digest.after is 0"), ({"after": "many"}, "digest.after is 'many'"),
                     ({"per": "8d"}, "digest.per is '8d'"), ({"every": 3}, "digest is {'every': 3}"),
                     ("yes", "digest is 'yes'")):  # fmt: skip
        with pytest.raises(ConfigError, match=msg.replace("{", r"\{").replace("}", r"\}")):
            parse_rule({**base, "digest": bad})


def test_a_flood_sends_the_first_alerts_then_one_digest_and_opens_every_case(aws, receiver, tmp_path):
    f = tmp_path / "flood.yaml"
    body = ("rules:\n  - name: flood\n    window: 0\n    digest: {after: %s, per: 3s}\n"
            "    when: {feedback: {metric: nps, touchpoint: [flood-a, flood-b], score: {max: 6}}}\n    do:\n"
            f"      - webhook: {{url: '{receiver.url}/flood', secret_env: CX_HOOK_SECRET}}\n"
            f"      - slack: {{url: '{receiver.url}/flood-slack'}}\n"
            "      - case: {team: support}\n")  # fmt: skip
    f.write_text(body % "none")
    assert "rule 'flood'.digest.after is 'none'" in cli(aws, "rules", "load", str(f), ok=False).message
    f.write_text(body % "3")
    assert json.loads(cli(aws, "rules", "load", str(f), "--format", "json").stdout)[0]["change"] == "created"
    away_from_boundary(3, 1.5)
    scores = [0.0, 1, 2, 3, 4, 5, 6, 9]  # 9: a promoter, no alert
    customers = [f"F{i}" for i in range(8)]
    comments = [None, None, None, "Call me on +44 20 7946 0958", None, "slow", None, None]
    frame = rows("flood-a", scores, customers, comments)
    frame.loc[6, "touchpoint"] = "flood-b"
    aws.load("feedback", frame)  # one transaction: 7 alerts, 3 sent now, 4 in the digest
    assert len(aws.act.cases(team="support", status="new").query("rule == 'flood'")) == 7
    assert len(aws.act.alerts(rule="flood").query("trigger == 'feedback'")) == 7
    firsts = wait_for(lambda: receiver.on("/flood")[2:] and receiver.on("/flood"), what="the first 3 alerts")
    assert {json.loads(h.body)["customer_id"] for h in firsts[:3]} == {"F0", "F1", "F2"}  # sent side by side
    hooks = wait_for(lambda: receiver.on("/flood")[3:] and receiver.on("/flood"), timeout=10, what="the digest")
    slack = wait_for(lambda: receiver.on("/flood-slack")[3:] and receiver.on("/flood-slack"), what="the Slack digest")
    digest_hit = hooks[3]
    payload = Webhook(SECRET).verify(digest_hit.body, {k: digest_hit.headers[k] for k in
                                                       ("webhook-id", "webhook-timestamp", "webhook-signature")})  # fmt: skip
    assert payload["trigger"] == "digest" and payload["rule"] == "flood" and payload["customer_id"] is None
    d = payload["digest"]
    assert (d["alerts"], d["customers"], d["sent_individually"]) == (4, 4, 3)
    assert d["scores"] == [{"metric": "nps", "n": 4, "mean": 4.5}]  # (3 + 4 + 5 + 6) / 4
    assert d["touchpoints"] == [{"touchpoint": "flood-a", "n": 3}, {"touchpoint": "flood-b", "n": 1}]
    assert [e["customer_id"] for e in d["examples"]] == ["F3", "F4", "F5", "F6"]
    assert d["examples"][0]["comment"] == "Call me on [PHONE]"  # redacted
    start, until = dt.datetime.fromisoformat(d["from"]), dt.datetime.fromisoformat(d["until"])
    assert (until - start).total_seconds() == 3 and start.timestamp() % 3 == 0  # clock-aligned period
    # sent after the period ended, not before
    digest_id = payload["id"]

    def sent():
        d = aws.act.deliveries(rule="flood", status="sent")
        return d[d["delivery_id"] == digest_id]

    done = wait_for(sent, what="the digest marked sent")
    assert done["sent_at"].iloc[0] >= until
    msg = json.loads(slack[3].body)
    assert msg["blocks"][0]["text"]["text"].startswith("flood: 4 more alerts from ")
    fields = {f["text"].split("\n")[0].strip("*"): f["text"].split("\n")[1]
              for b in msg["blocks"] if b["type"] == "section" for f in b.get("fields", [])}  # fmt: skip
    assert fields["Alerts"] == "4" and fields["Scores"] == "NPS mean 4.5 (n = 4)"
    time.sleep(0.5)
    assert len(receiver.on("/flood")) == 4 and len(receiver.on("/flood-slack")) == 4  # 3 + 1 each, not 7
    # the next period starts afresh: one more detractor is sent on its own
    aws.load("feedback", rows("flood-b", [1.0], ["F9"]))
    got = wait_for(lambda: receiver.on("/flood")[4:], what="the alert of the next period")
    assert json.loads(got[0].body)["customer_id"] == "F9"


def test_the_limit_counts_across_transactions_and_queues_one_digest_for_the_hours_end(aws, receiver):
    aws.act.load_rules({"rules": [{"name": "hourly", "window": 0, "digest": {"after": 2},
                                   "when": {"feedback": {"metric": "nps", "touchpoint": "hourly"}},
                                   "do": [{"webhook": {"url": f"{receiver.url}/hourly"}},
                                          {"case": {"team": "hourly"}}]}]})  # fmt: skip
    away_from_boundary(3600, 10)
    for i in range(5):  # five answers in five transactions
        aws.load("feedback", rows("hourly", [float(i)], [f"H{i}"]))
    wait_for(lambda: receiver.on("/hourly")[1:], what="the first two alerts")
    time.sleep(0.5)
    assert len(receiver.on("/hourly")) == 2
    assert len(aws.act.cases(team="hourly")) == 5
    d = aws.act.deliveries(rule="hourly")
    digest = d[d["alert_id"].str.startswith("dg_")]
    assert len(digest) == 1 and digest["status"].iloc[0] == "queued"  # one digest for the three others
    run_after = aws.sql(f"SELECT run_after FROM jobs WHERE job_id = '{digest['job_id'].iloc[0]}'")["run_after"].iloc[0]
    hour_end = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("h") + pd.Timedelta(hours=1)
    assert run_after == hour_end
    # the rules page's counts do not count the digest as an alert
    act = aws.act.activity().set_index("name").loc["hourly"]
    assert act["alerts"] == 5 and act["open_cases"] == 5
