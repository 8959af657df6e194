"""Scheduled digests cover the calendar periods of the rule's time zone (a local day across a
daylight-saving change lasts 23 or 25 hours), not UTC periods."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

import cxlens
from cxlens.act.rules import parse_rule
from cxlens.act.schedule import digest_content, periods, run_schedule

PARIS = ZoneInfo("Europe/Paris")
UTC = dt.UTC


def _at(y: int, mo: int, d: int, h: int, mi: int = 0, tz: ZoneInfo = PARIS) -> dt.datetime:
    """A local wall-clock time as naive UTC (the oracle: zoneinfo, not the code under test)."""
    return dt.datetime(y, mo, d, h, mi, tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = cxlens.open(tmp_path_factory.mktemp("tz") / "tz.duckdb")
    yield w
    w.close()


def _load(ws, rows: list[tuple[dt.datetime, float]], tag: str) -> None:
    ws.load("feedback", pd.DataFrame({"customer_id": [f"{tag}{i}" for i in range(len(rows))],
                                      "ts": [t for t, _ in rows], "metric": "nps",
                                      "score": [s for _, s in rows], "touchpoint": tag}))  # fmt: skip


def test_the_local_day_of_spring_forward_has_23_hours():
    p = periods(_at(2026, 3, 30, 8), "day", "Europe/Paris")  # 08:00 Paris the morning after the change
    assert (p.start, p.end) == (dt.datetime(2026, 3, 28, 23), dt.datetime(2026, 3, 29, 22))
    assert p.previous == dt.datetime(2026, 3, 27, 23) and p.end - p.start == pd.Timedelta(hours=23)
    assert (p.iso("start"), p.iso("end")) == ("2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00")
    utc = periods(dt.datetime(2026, 3, 30, 6), "day")  # a UTC rule keeps UTC days
    assert (utc.start, utc.end, utc.iso("start")) == (dt.datetime(2026, 3, 29), dt.datetime(2026, 3, 30),
                                                      "2026-03-29T00:00:00")  # fmt: skip


def test_a_daily_digest_around_the_spring_change_counts_the_answers_of_the_paris_day(ws):
    day = [(_at(2026, 3, 29, 0, 30), 10.0), (_at(2026, 3, 29, 3, 30), 9.0), (_at(2026, 3, 29, 23, 30), 10.0)]
    not_day = [(_at(2026, 3, 28, 23, 30), 0.0), (_at(2026, 3, 30, 0, 30), 1.0)]  # UTC 29th, not Paris 29th
    before = [(_at(2026, 3, 28, 12), 0.0), (_at(2026, 3, 28, 13), 9.0)]
    _load(ws, day + not_day + before, "spring")
    # a UTC reading of the 29th would hold 2 of `day` and 1 of `not_day` (NPS 33.3): not what is wanted
    assert sum(dt.datetime(2026, 3, 29) <= t < dt.datetime(2026, 3, 30) for t, _ in day + not_day) == 3
    cond = parse_rule({"name": "d", "when": {"schedule": {"every": "day", "at": "08:00", "tz": "Europe/Paris",
                                                          "metrics": ["nps"], "themes": 0}},
                       "do": [{"webhook": {"url": "https://example.com/x"}}]}).conditions  # fmt: skip
    r = digest_content(ws, cond, _at(2026, 3, 30, 8))
    (nps,) = r["metrics"]
    # the Paris day: 3 promoters (NPS 100); the Paris day before (28th 00:00+01 to 29th 00:00+01): the
    # 12:00, 13:00 answers and the 23:30 one → 1 promoter, 2 detractors
    assert (nps["n"], nps["value"], nps["previous_n"], nps["previous"]) == (3, 100.0, 3, round(-100 / 3, 1))
    assert (r["from"], r["until"], r["tz"]) == ("2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00",
                                                "Europe/Paris")  # fmt: skip


def test_a_weekly_digest_across_the_autumn_change_covers_the_169_hour_paris_week(ws):
    # the week Monday 19 to Monday 26 October 2026 (Paris) holds the fall back of Sunday the 25th
    inside = [(_at(2026, 10, 19, 0, 10), 10.0), (_at(2026, 10, 25, 2, 30), 9.0), (_at(2026, 10, 25, 23, 50), 10.0)]
    outside = [(_at(2026, 10, 18, 23, 50), 0.0), (_at(2026, 10, 26, 0, 20), 0.0)]
    _load(ws, inside + outside, "autumn")
    rule = parse_rule({"name": "weekly", "when": {"schedule": {"every": "week", "on": "monday", "at": "09:00",
                                                               "tz": "Europe/Paris", "metrics": ["nps"], "themes": 0}},
                       "do": [{"webhook": {"url": "https://example.com/x"}}]})  # fmt: skip
    slot = _at(2026, 10, 26, 9)
    p = periods(slot, "week", "Europe/Paris")
    assert p.end - p.start == pd.Timedelta(hours=169)
    from cxlens.act.rules import save_rules

    ws.act.allow_host("example.com")
    save_rules(ws, [rule])
    alert_id = run_schedule(ws, ws.act.rule("weekly"), slot)
    report = json.loads(ws.store.one("SELECT comment FROM act_alerts WHERE alert_id = ?", [alert_id])[0])
    (nps,) = report["metrics"]
    assert (nps["n"], nps["value"]) == (3, 100.0)  # the two answers just outside the Paris week are not in it
    assert (report["from"], report["until"]) == ("2026-10-19T00:00:00+02:00", "2026-10-26T00:00:00+01:00")
