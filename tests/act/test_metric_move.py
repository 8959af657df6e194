"""The metric-move trigger: after each period, a rule checks its metric (optionally at a touchpoint or in
a segment) against the period before with the dashboard's test and alerts only on a significant move
in its direction, not on a small sample — to real receivers; rules loaded and previewed via the CLI."""

from __future__ import annotations

import datetime as dt
import json
import math
import time

import pandas as pd
import pytest
from standardwebhooks import Webhook

from cxlens.act.rules import parse_rule
from cxlens.act.schedule import KIND, schedules
from cxlens.errors import ConfigError
from cxlens.jobs import JobRunner, queue
from cxlens.store.segments import save_segment

from .conftest import SECRET, cli, wait_for


@pytest.mark.parametrize(("when", "msg"), [
    ({"period": "week"}, "when.metric.metric is None; expected one of nps, csat, ces"),
    ({"metric": "nps", "direction": "sideways"}, "when.metric.direction is 'sideways'; expected up, down or any"),
    ({"metric": "nps", "period": "hour"}, "when.metric.period is 'hour'"),
    ({"metric": "nps", "touchpoint": 3}, "when.metric.touchpoint is 3"),
    ({"metric": "nps", "allow_small": "yes"}, "when.metric.allow_small is 'yes'"),
    ({"metric": "nps", "cron": "soon"}, "when.metric.cron is 'soon'"),
])  # fmt: skip
def test_the_metric_trigger_is_checked(when, msg):
    with pytest.raises(ConfigError, match=msg):
        parse_rule({"name": "m", "when": {"metric": when}, "do": [{"slack": {"url": "https://h.example/x"}}]})


def day_of(day: dt.date, touchpoint: str, promoters: int, passives: int, detractors: int) -> pd.DataFrame:
    scores = [10.0] * promoters + [7.0] * passives + [2.0] * detractors
    t0 = pd.Timestamp(day) + pd.Timedelta(hours=9)
    return pd.DataFrame({"customer_id": [f"{touchpoint}-{day:%d}-{i}" for i in range(len(scores))],
                         "ts": [t0 + pd.Timedelta(minutes=i) for i in range(len(scores))], "metric": "nps",
                         "score": scores, "touchpoint": touchpoint})  # fmt: skip


def test_only_a_significant_move_in_the_rules_direction_alerts(aws, receiver, tmp_path):
    def rule(name, path, **cond):
        return {"name": name, "when": {"metric": {"metric": "nps", "period": "day", **cond}},
                "do": [{"webhook": {"url": f"{receiver.url}/{path}", "secret_env": "CX_HOOK_SECRET"}},
                       {"slack": {"url": f"{receiver.url}/{path}-slack"}}]}  # fmt: skip

    import yaml

    f = tmp_path / "moves.yaml"
    f.write_text(yaml.safe_dump({"rules": [
        rule("mv-up", "mv-up", touchpoint="mv", direction="up"),
        rule("mv-down", "mv-down", touchpoint="mv", direction="down"),
        rule("mv-flat", "mv-flat", touchpoint="mv-flat"),
        rule("mv-small", "mv-small", touchpoint="mv-small"),
        rule("mv-small-ok", "mv-small-ok", touchpoint="mv-small", allow_small=True),
        rule("seg-mv", "seg-mv", segment="movers"),  # no touchpoint: the segment's members only
        rule("seg-flat", "seg-flat", segment="steady"),
    ]}))  # fmt: skip
    assert len(json.loads(cli(aws, "rules", "load", str(f), "--format", "json").stdout)) == 7
    (s,) = [s for s in schedules(aws) if s.name == "act:mv-up"]
    assert (s.cron, s.tz, s.kind) == ("15 0 * * *", "UTC", KIND)  # checked just after each UTC day
    today = dt.datetime.now(dt.UTC).date()
    day, before = today - dt.timedelta(days=1), today - dt.timedelta(days=2)
    aws.load("feedback", pd.concat([
        day_of(day, "mv", 24, 8, 8), day_of(before, "mv", 8, 8, 24),  # NPS +40 after -40, n = 40 each
        day_of(day, "mv-flat", 20, 10, 10), day_of(before, "mv-flat", 20, 10, 10),  # no change
        day_of(day, "mv-small", 6, 2, 2), day_of(before, "mv-small", 2, 2, 6),  # the same move on n = 10
    ]))  # fmt: skip
    for name, tp in (("movers", "mv"), ("steady", "mv-flat")):
        save_segment(aws, name, [f"{tp}-{d:%d}-{i}" for d in (day, before) for i in range(40)])
    slot = dt.datetime.combine(today, dt.time(0, 15))
    runner = JobRunner(aws, poll=0.05, housekeeping=60, refresh=False, kinds=[KIND]).start()
    try:
        for name in ("mv-up", "mv-down", "mv-flat", "mv-small", "mv-small-ok", "seg-mv", "seg-flat"):
            queue.enqueue(aws, KIND, {"rule": name, "slot_time": slot.isoformat()},
                          slot=f"schedule:act:{name}@{slot.isoformat()}")  # fmt: skip
        hit = wait_for(lambda: receiver.on("/mv-up"), what="the move alert")[0]
        slack = wait_for(lambda: receiver.on("/mv-up-slack"), what="the Slack move alert")[0]
        wait_for(lambda: receiver.on("/mv-small-ok"), what="the small-sample alert that allows it")
        seg = wait_for(lambda: receiver.on("/seg-mv"), what="the segment's alert")[0]
        wait_for(lambda: aws.sql(f"SELECT 1 FROM jobs WHERE kind = '{KIND}' AND status = 'done'")
                 if len(aws.sql(f"SELECT 1 FROM jobs WHERE kind = '{KIND}' AND status = 'done'")) == 7 else None,
                 what="the seven checks")  # fmt: skip
        time.sleep(0.3)
    finally:
        runner.stop(timeout=5)
    for quiet in ("/mv-down", "/mv-flat", "/mv-small", "/seg-flat"):
        assert receiver.on(quiet) == [], quiet
    body = Webhook(SECRET).verify(hit.body, {k: hit.headers[k] for k in
                                             ("webhook-id", "webhook-timestamp", "webhook-signature")})  # fmt: skip
    assert body["trigger"] == "metric" and body["rule"] == "mv-up" and body["touchpoint"] == "mv"
    (m,) = body["report"]["metrics"]
    assert (m["value"], m["previous"], m["delta"], m["n"], m["previous_n"]) == (40.0, -40.0, 80.0, 40, 40)
    # SE² = 100²·((p+d) − (p−d)²)/n = 160 on both days → z = 80/√320
    assert m["p_value"] == pytest.approx(math.erfc(80 / math.sqrt(320) / math.sqrt(2)), abs=1e-4)
    assert m["significant"] and not m["small_sample"]
    assert body["report"]["from"][:10] == day.isoformat()
    head = json.loads(slack.body)["blocks"][0]["text"]["text"]
    assert head == f"mv-up: NPS touchpoint mv rose significantly, -40 → 40 (day {day.isoformat()}, UTC)"
    seg = json.loads(seg.body)
    assert seg["report"]["segment"] == "movers" and seg["touchpoint"] is None
    assert [seg["report"]["metrics"][0][k] for k in ("value", "previous", "n")] == [40.0, -40.0, 40]
    small = json.loads(receiver.on("/mv-small-ok")[0].body)["report"]["metrics"][0]
    assert small["small_sample"] and small["significant"]
    # `cxlens rules test` previews the check on the last complete day
    preview = json.loads(cli(aws, "rules", "test", "mv-up", "--format", "json").stdout)
    assert preview[0]["value"] == 40.0 and preview[0]["fires"] is True
    preview = json.loads(cli(aws, "rules", "test", "mv-flat", "--format", "json").stdout)
    assert preview[0]["delta"] == 0.0 and preview[0]["fires"] is False
