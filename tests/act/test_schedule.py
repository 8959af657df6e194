"""Scheduled digests: a ``schedule`` rule (loaded through the CLI) is a schedule every job runner
queues; its ``act.schedule`` job computes the last complete period's NPS with n, CI and the change
against the period before with its test, the themes and the open cases, and sends it to real
receivers (webhook verified with ``standardwebhooks``, Slack)."""

from __future__ import annotations

import datetime as dt
import json
import math
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from standardwebhooks import Webhook

from cxlens.act.cases import create_case
from cxlens.act.rules import parse_rule
from cxlens.act.schedule import KIND, schedules
from cxlens.errors import ConfigError
from cxlens.jobs import JobRunner, queue

from .conftest import SECRET, cli, wait_for


@pytest.mark.parametrize(("when", "msg"), [
    ({"every": "hour"}, "when.schedule.every is 'hour'; expected day or week"),
    ({"every": "day", "at": 480}, "when.schedule.at is the number 480; write the time in quotes, e.g. at: \"08:00\""),
    ({"every": "day", "at": "8am"}, "when.schedule.at is '8am'"),
    ({"every": "day", "tz": "Mars/Olympus"}, "when.schedule.tz is 'Mars/Olympus'"),
    ({"cron": "every monday"}, "when.schedule.cron is 'every monday'"),
    ({"every": "day", "cron": "0 8 * * *"}, "exactly one of 'every'"),
    ({"every": "day", "on": "monday"}, "when.schedule.on goes with every: week"),
    ({"every": "day", "metrics": ["nps", "mood"]}, "when.schedule.metrics is ['nps', 'mood']"),
    ({"every": "day", "segment": "vip"}, "unknown option 'segment'"),
])  # fmt: skip
def test_the_schedule_trigger_is_checked(when, msg):
    with pytest.raises(ConfigError, match=msg.replace("[", r"\[").replace("]", r"\]").replace("?", r"\?")):
        parse_rule({"name": "d", "when": {"schedule": when}, "do": [{"slack": {"url": "https://h.example/x"}}]})


def test_a_schedule_rule_has_no_case_action():
    with pytest.raises(ConfigError, match="do has a case action; a schedule rule sends to channels"):
        parse_rule({"name": "d", "when": {"schedule": {"every": "day"}}, "do": [{"case": {}}]})


def answers(day: dt.date, scores: list[float], metric: str = "nps") -> pd.DataFrame:
    t0 = pd.Timestamp(day) + pd.Timedelta(hours=10)
    return pd.DataFrame({"customer_id": [f"S{day:%d}-{i}" for i in range(len(scores))],
                         "ts": [t0 + pd.Timedelta(minutes=i) for i in range(len(scores))], "metric": metric,
                         "score": scores, "touchpoint": "sched"})  # fmt: skip


def test_the_daily_digest_reaches_slack_and_a_webhook_with_ci_change_and_test(aws, receiver, tmp_path):
    f = tmp_path / "digest.yaml"
    f.write_text("rules:\n  - name: morning\n    when: {schedule: {every: day, at: \"08:00\", tz: Europe/Paris, "
                 "metrics: [nps]}}\n    do:\n"
                 f"      - webhook: {{url: '{receiver.url}/morning', secret_env: CX_HOOK_SECRET}}\n"
                 f"      - slack: {{url: '{receiver.url}/morning-slack'}}\n")  # fmt: skip
    assert json.loads(cli(aws, "rules", "load", str(f), "--format", "json").stdout)[0]["change"] == "created"
    # every job runner reads it as a schedule: 08:00 in Paris, new rules never fire their past
    (s,) = [s for s in schedules(aws) if s.name == "act:morning"]
    rule = aws.act.rule("morning")
    assert (s.cron, s.tz, s.kind, s.params, s.since) == ("0 8 * * *", "Europe/Paris", KIND, {"rule": "morning"},
                                                         rule.changed_at)  # fmt: skip
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    slot = s.last_slot(now)
    paris = dt.datetime.combine(slot.date(), dt.time(8), ZoneInfo("Europe/Paris"))  # independent oracle
    assert slot == paris.astimezone(dt.UTC).replace(tzinfo=None) and now - slot < dt.timedelta(days=1)
    day = slot.date() - dt.timedelta(days=1)  # the last complete Paris day before the slot
    # that day: 6 promoters, 2 passives, 2 detractors (NPS +40); the day before: 2, 2, 6 (NPS -40)
    aws.load("feedback", answers(day, [10, 9, 9, 10, 9, 10, 7, 8, 0, 3]))
    aws.load("feedback", answers(day - dt.timedelta(days=1), [9, 10, 7, 8, 0, 1, 2, 3, 4, 5]))
    create_case(aws, customer_id="S1", priority="urgent", due=-60.0)  # overdue
    create_case(aws, customer_id="S2", priority="low")
    runner = JobRunner(aws, poll=0.05, housekeeping=60, refresh=False, kinds=[KIND]).start()
    try:  # what the runner queues at the slot (its unique slot: two runners queue it once)
        job = queue.enqueue(aws, KIND, {"rule": "morning", "slot_time": slot.isoformat()},
                            slot=f"schedule:{s.name}@{slot.isoformat()}")  # fmt: skip
        assert job and queue.enqueue(aws, KIND, {"rule": "morning", "slot_time": slot.isoformat()},
                                     slot=f"schedule:{s.name}@{slot.isoformat()}") is None  # fmt: skip
        hit = wait_for(lambda: receiver.on("/morning"), what="the digest webhook")[0]
        slack = wait_for(lambda: receiver.on("/morning-slack"), what="the Slack digest")[0]
    finally:
        runner.stop(timeout=5)
    body = Webhook(SECRET).verify(hit.body, {k: hit.headers[k] for k in
                                             ("webhook-id", "webhook-timestamp", "webhook-signature")})  # fmt: skip
    assert body["trigger"] == "schedule" and body["rule"] == "morning"
    r = body["report"]
    assert (r["period"], r["from"][:10], r["until"][:10]) == ("day", day.isoformat(), slot.date().isoformat())
    (nps,) = r["metrics"]
    assert (nps["metric"], nps["value"], nps["n"], nps["previous"], nps["previous_n"], nps["delta"]) == (
        "nps",
        40.0,
        10,
        -40.0,
        10,
        80.0,
    )
    # z-test on the difference: SE² = 100²·((p+d) − (p−d)²)/n = 640 on both days → z = 80/√1280
    z = 80 / math.sqrt(1280)
    assert nps["p_value"] == pytest.approx(math.erfc(z / math.sqrt(2)), abs=1e-4) and nps["significant"]
    last = pd.Timestamp(day) + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    level = aws.metrics.nps(period="day", start=str(day), end=last).iloc[0]  # the dashboard's CI
    assert (nps["ci_low"], nps["ci_high"]) == (round(level["ci_low"], 1), round(level["ci_high"], 1))
    assert nps["ci_low"] < 40 < nps["ci_high"]
    assert r["open_cases"]["overdue"] == 1 and r["open_cases"]["by_priority"]["urgent"] >= 1
    msg = json.loads(slack.body)
    assert msg["blocks"][0]["text"]["text"] == f"morning: digest of the day {day.isoformat()} (Europe/Paris)"
    fields = {f["text"].split("\n")[0].strip("*"): f["text"].split("\n", 1)[1]
              for b in msg["blocks"] if b["type"] == "section" for f in b.get("fields", [])}  # fmt: skip
    assert fields["NPS"].startswith(f"40 (95% CI {nps['ci_low']:g} to {nps['ci_high']:g}, n = 10); +80 vs -40 "
                                    "(n = 10), significant (p = 0.0253)")  # fmt: skip
    assert "overdue" in fields["Open cases"]
    # the same slot run again (a second runner, a retry) sends nothing more
    from cxlens.act.schedule import run_schedule

    assert run_schedule(aws, aws.act.rule("morning"), slot) is None
    # `cxlens rules test` previews the digest it would send now
    preview = json.loads(cli(aws, "rules", "test", "morning", "--format", "json").stdout)
    assert [p["metric"] for p in preview] == ["nps"]


def test_the_job_runner_queues_a_schedule_rules_slots_from_its_last_change_on(aws):
    aws.act.load_rules({"rules": [{"name": "every-minute", "when": {"schedule": {"cron": "* * * * *"}},
                                   "do": [{"slack": {"url": "http://127.0.0.1:9/never"}}]}]})  # fmt: skip
    changed = aws.act.rule("every-minute").changed_at
    runner = JobRunner(aws, refresh=False)  # not started: its housekeeping pass, at chosen times
    assert runner._due(changed - dt.timedelta(minutes=5)) == []  # slots before the rule: never
    (job,) = runner._due(changed + dt.timedelta(minutes=2))
    assert runner._due(changed + dt.timedelta(minutes=2)) == []  # the slot is queued once
    params = json.loads(aws.sql(f"SELECT params FROM jobs WHERE job_id = '{job}'")["params"].iloc[0])
    assert params["rule"] == "every-minute" and params["slot_time"].startswith(
        (changed + dt.timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M")
    )
    aws.act.pause("every-minute")
    assert runner._due(changed + dt.timedelta(minutes=4)) == []  # a paused rule has no schedule


def test_an_unquoted_on_key_in_yaml_is_the_weekday():
    from cxlens.act.rules import parse_rules
    from cxlens.act.schedule import cron_of

    (r,) = parse_rules("rules:\n  - name: weekly\n    when: {schedule: {every: week, on: friday, at: '17:00'}}\n"
                       "    do: [{slack: {url: 'https://h.example/x'}}]\n")  # fmt: skip
    assert r.conditions["on"] == "friday" and cron_of(r.conditions) == "0 17 * * 5"
    assert r.raw["when"]["schedule"]["on"] == "friday"  # stored as written, so it loads back
