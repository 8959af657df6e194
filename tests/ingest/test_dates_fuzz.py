"""Dates fuzzed against independent parsers: random instants written as ISO with offsets, day/month
and month/day, JavaScript and e-mail dates and Unix times in every unit, read back by
:mod:`cxlens.schema.dates` and by the standard library (``datetime.strptime``/``fromisoformat``)."""

from __future__ import annotations

import datetime as dt
import email.utils

import numpy as np
import pandas as pd
import pytest

from cxlens.errors import SchemaError
from cxlens.schema.dates import DateOptions, infer_format, parse_dates

RNG = np.random.default_rng(20261202)
N = 400


def _instants(n: int) -> list[dt.datetime]:
    lo = dt.datetime(1995, 1, 1, tzinfo=dt.UTC).timestamp()
    hi = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()
    secs = RNG.integers(int(lo), int(hi), n)
    return [dt.datetime.fromtimestamp(int(s), dt.UTC) for s in secs]


def _offsets(n: int) -> list[dt.timezone]:
    mins = RNG.integers(-12 * 4, 14 * 4, n) * 15
    return [dt.timezone(dt.timedelta(minutes=int(m))) for m in mins]


def _ours(values: list, **opts) -> list[pd.Timestamp]:
    o = DateOptions(**opts)
    s = pd.Series(values)
    fmt = infer_format(s, "ts", "fuzz.csv", o)
    return parse_dates(s, fmt, column="ts", source="fuzz.csv", opts=o).tolist()


def _naive_utc(d: dt.datetime) -> pd.Timestamp:
    return pd.Timestamp(d.astimezone(dt.UTC).replace(tzinfo=None))


def test_iso_with_random_offsets_matches_fromisoformat():
    inst, offs = _instants(N), _offsets(N)
    styles = ["%Y-%m-%dT%H:%M:%S{z}", "%Y-%m-%d %H:%M:%S{z}", "%Y-%m-%dT%H:%M{z}"]
    values, expected = [], []
    for i, (d, z) in enumerate(zip(inst, offs, strict=True)):
        local = d.astimezone(z)
        zone = local.strftime("%z")
        zone = "Z" if zone == "+0000" and i % 2 else zone[:3] + ":" + zone[3:] if i % 3 else zone
        text = local.strftime(styles[i % 3]).format(z=zone)
        values.append(text)
        expected.append(_naive_utc(dt.datetime.fromisoformat(text.replace("Z", "+00:00"))))
    assert _ours(values) == expected


@pytest.mark.parametrize(("order", "pattern"), [("dmy", "%d/%m/%Y %H:%M"), ("mdy", "%m/%d/%Y %H:%M"),
                                                ("dmy", "%d.%m.%Y"), ("mdy", "%m-%d-%Y %I:%M:%S %p")])  # fmt: skip
def test_day_month_orders_match_strptime(order, pattern):
    inst = _instants(N)
    values = [d.strftime(pattern) for d in inst]
    expected = [pd.Timestamp(dt.datetime.strptime(v, pattern)) for v in values]
    # a column with a day above 12 settles its own order; stating the order must agree with it
    assert _ours(values) == expected
    assert _ours(values, **{"order": order}) == expected
    # and the other order is refused, never silently applied
    with pytest.raises(SchemaError):
        _ours(values, order="mdy" if order == "dmy" else "dmy")


def test_ambiguous_day_month_column_is_refused_unless_stated():
    days = [dt.datetime(2024, int(m), int(d)) for m, d in RNG.integers(1, 13, (50, 2))]
    values = [d.strftime("%d/%m/%Y") for d in days]
    with pytest.raises(SchemaError, match="--dayfirst"):
        _ours(values)
    assert _ours(values, order="dmy") == [pd.Timestamp(d) for d in days]
    assert _ours(values, order="mdy") == [pd.Timestamp(dt.datetime.strptime(v, "%m/%d/%Y")) for v in values]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_epoch_units_match_fromtimestamp(unit):
    inst = _instants(N)
    scale = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    values = [int(d.timestamp()) * scale + int(RNG.integers(0, scale)) for d in inst]
    expected = [pd.Timestamp(dt.datetime.fromtimestamp(v // scale, dt.UTC).replace(tzinfo=None))
                + pd.Timedelta(v % scale * (10**9 // scale), "ns") for v in values]  # fmt: skip
    got = _ours(values, epoch=unit)
    # microsecond storage: ns values are truncated to the microsecond
    assert [g.floor("us") for g in got] == [e.floor("us") for e in expected]
    with pytest.raises(SchemaError, match=f"--epoch {unit}"):
        _ours(values)


def test_javascript_and_email_dates_match_the_standard_library():
    inst, offs = _instants(N), _offsets(N)
    js, mail, expected = [], [], []
    for d, z in zip(inst, offs, strict=True):
        local = d.astimezone(z)
        js.append(local.strftime("%a %b %d %Y %H:%M:%S GMT%z") + " (Some Zone Name)")
        mail.append(email.utils.format_datetime(local))
        expected.append(_naive_utc(d))
    assert _ours(js) == expected
    assert _ours(mail) == [_naive_utc(email.utils.parsedate_to_datetime(m)) for m in mail] == expected


def test_zoneless_times_in_a_stated_zone_match_zoneinfo():
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("America/New_York")
    inst = [d for d in _instants(N) if d.astimezone(zone).fold == 0]
    values, expected = [], []
    for d in inst:
        local = d.astimezone(zone).replace(tzinfo=None)
        # skip the repeated hour of the autumn change (refused as ambiguous by design)
        if (
            local.replace(tzinfo=zone).astimezone(dt.UTC) != d
            or local.replace(fold=1, tzinfo=zone).utcoffset() != local.replace(tzinfo=zone).utcoffset()
        ):
            continue
        values.append(local.strftime("%Y-%m-%d %H:%M:%S"))
        expected.append(_naive_utc(d))
    assert len(values) > N * 0.9
    assert _ours(values, timezone="America/New_York") == expected
