"""Quiet hours on an action: a delivery due inside the window waits until it ends (local wall-clock
hours in the window's time zone), then goes out as any other; outside it, nothing changes."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from cxlens.act.rules import quiet_until
from cxlens.errors import ConfigError

from .conftest import answer, wait_for

PARIS_NIGHT = {"quiet_hours": {"from": "22:00", "to": "07:00", "tz": "Europe/Paris"}}


@pytest.mark.parametrize(
    ("now", "until"),
    [
        (dt.datetime(2026, 12, 2, 22, 30), dt.datetime(2026, 12, 3, 6, 0)),  # 23:30 in Paris (UTC+1) → 07:00
        (dt.datetime(2026, 12, 2, 5, 0), dt.datetime(2026, 12, 2, 6, 0)),  # 06:00 in Paris, same morning
        (dt.datetime(2026, 12, 2, 6, 0), None),  # 07:00 in Paris: the window has ended
        (dt.datetime(2026, 12, 2, 12, 0), None),
        (dt.datetime(2026, 12, 2, 21, 0), dt.datetime(2026, 12, 3, 6, 0)),  # 22:00 in Paris: it starts
        # the night daylight-saving time starts: 07:00 in Paris is then UTC+2
        (dt.datetime(2026, 3, 28, 22, 30), dt.datetime(2026, 3, 29, 5, 0)),
    ],
)
def test_quiet_until_follows_local_hours_across_midnight_and_dst(now, until):
    assert quiet_until(PARIS_NIGHT, now) == until


def test_a_daytime_window_and_no_window():
    lunch = {"quiet_hours": {"from": "12:00", "to": "14:00"}}  # UTC by default
    assert quiet_until(lunch, dt.datetime(2026, 12, 2, 13, 59)) == dt.datetime(2026, 12, 2, 14, 0)
    assert quiet_until(lunch, dt.datetime(2026, 12, 2, 14, 0)) is None
    assert quiet_until(lunch, dt.datetime(2026, 12, 2, 11, 59)) is None
    assert quiet_until({"url": "https://x.example"}, dt.datetime(2026, 12, 2, 13, 0)) is None


@pytest.mark.parametrize(
    ("quiet", "message"),
    [
        ({"from": "25:00", "to": "07:00"}, r"quiet_hours\.from is '25:00'; expected a time of day HH:MM"),
        ({"from": "22:00", "to": "7"}, r"quiet_hours\.to is '7'; expected a time of day HH:MM"),
        ({"from": "22:00", "to": "22:00"}, r"quiet_hours: 'from' and 'to' are both '22:00'"),
        ({"from": "22:00", "to": "07:00", "tz": "Mars/Olympus"}, r"quiet_hours\.tz is 'Mars/Olympus'"),
        ({"from": "22:00"}, r"quiet_hours is .*; expected \{from: '22:00'"),
        ({"from": "22:00", "to": "07:00", "days": "weekdays"}, r"quiet_hours is .*; expected"),
    ],
)
def test_bad_quiet_hours_are_refused_naming_the_field(aws, quiet, message):
    rules = {"rules": [{"name": "q", "when": {"feedback": {"metric": "nps"}},
                        "do": [{"webhook": {"url": "http://127.0.0.1:9/hook", "quiet_hours": quiet}}]}]}  # fmt: skip
    with pytest.raises(ConfigError, match=r"rule 'q'\.do\[0\]\.webhook\." + message):
        aws.act.load_rules(rules)


def test_a_delivery_inside_quiet_hours_waits_for_their_end_then_goes_out(aws, receiver):
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    start, end = (now - dt.timedelta(hours=1)).strftime("%H:%M"), (now + dt.timedelta(hours=1)).strftime("%H:%M")
    quiet = {"from": start, "to": end, "tz": "UTC"}
    aws.act.load_rules({"rules": [
        {"name": "night", "when": {"feedback": {"metric": "nps", "touchpoint": "night", "score": {"max": 6}}},
         "do": [{"webhook": {"url": f"{receiver.url}/night", "quiet_hours": quiet}}]},
        {"name": "day", "when": {"feedback": {"metric": "nps", "touchpoint": "night", "score": {"max": 6}}},
         "do": [{"webhook": {"url": f"{receiver.url}/day"}}]},
    ]})  # fmt: skip
    answer(aws, "Q1", 2, "night")
    wait_for(lambda: receiver.on("/day"), what="the delivery without quiet hours")  # goes out at once
    job = aws.sql("SELECT j.job_id, j.run_after, j.status FROM act_deliveries d JOIN jobs j USING (job_id) "
                  "WHERE d.rule = 'night'")  # fmt: skip
    assert len(job) == 1 and job["status"][0] == "queued"
    due = job["run_after"][0].to_pydatetime()
    expected = quiet_until({"quiet_hours": quiet}, now)
    assert abs((due - expected).total_seconds()) < 120  # the end of the window (minutes truncated)
    time.sleep(2.5)  # the pump polls every second: it must leave it alone
    assert receiver.on("/night") == []
    # the window ends (moved to now): it is delivered like any other
    with aws.transaction(changes=["jobs"]) as cur:
        cur.execute("UPDATE jobs SET run_after = ? WHERE job_id = ?",
                    [dt.datetime.now(dt.UTC).replace(tzinfo=None), job["job_id"][0]])  # fmt: skip
    hit = wait_for(lambda: receiver.on("/night"), what="the delivery after its quiet hours")[0]
    assert hit.headers["webhook-id"].startswith("al_")
