"""Engagement trends cannot be combined to single out a few respondents: weeks against months (a week
spanning two months), periods against the all-time summary, groups against the period's total —
every view (summary and week/month/quarter trends, by team) through the HTTP API and the CLI.

Oracle: the published rows are linear equations over atoms (respondents of one team and one day);
a set of atoms is determined iff its indicator is orthogonal to the null space. Every set of one or
two atoms with fewer than ``min_group`` respondents is tried.
"""

from __future__ import annotations

import io
import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import null_space

import cxlens

from .. import live
from ..conftest import running
from .test_engagement import _cli

K = 5
# (team, day, respondents): team Z has 2 answers on Tue 31 March and 3 on Wed 1 April (the week of
# 30 March spans both months); X and Y are larger
PLAN = [("X", "2026-03-24", 6), ("X", "2026-03-31", 3), ("X", "2026-04-01", 4), ("X", "2026-04-08", 6),
        ("Y", "2026-03-25", 5), ("Y", "2026-04-02", 6), ("Y", "2026-04-09", 2),
        ("Z", "2026-03-31", 2), ("Z", "2026-04-01", 3), ("Z", "2026-04-07", 6)]  # fmt: skip


@pytest.fixture(scope="module")
def wpath(tmp_path_factory):
    p = tmp_path_factory.mktemp("trend") / "t.duckdb"
    emp, pulse = [], []
    for team, day, n in PLAN:
        for i in range(n):
            eid = f"{team}-{day}-{i}"
            emp.append({"employee_id": eid, "team": team})
            pulse.append({"employee_id": eid, "ts": day, "question": "enps", "score": (i * 3) % 11})
    with cxlens.open(p) as ws:
        ws.engagement.import_employees(pd.DataFrame(emp))
        ws.engagement.import_pulse(pd.DataFrame(pulse))
    return p


def _leaks(rows: list[dict]) -> list[str]:
    atoms = pd.DataFrame(PLAN, columns=["team", "day", "n"])
    day = pd.to_datetime(atoms["day"])
    month = day.dt.to_period("M").dt.start_time
    monday = day - pd.to_timedelta(day.dt.day_of_week, unit="D")
    atoms["month"] = month.dt.date.astype(str)
    atoms["week"] = monday.where(monday >= month, month).dt.date.astype(str)  # weeks cut at month starts
    atoms["quarter"] = day.dt.to_period("Q").dt.start_time.dt.date.astype(str)
    eqs = []
    for r in rows:
        if r["suppressed"] in (True, "True", "true") or r["respondents"] in (None, ""):
            continue
        m = np.ones(len(atoms), bool) if r["group"] == "(all)" else (atoms["team"] == r["group"]).to_numpy()
        if r.get("period") not in (None, ""):
            m = m & (atoms[r["kind"]] == str(r["period"])[:10]).to_numpy()
        eqs.append(m.astype(float))
    ns = null_space(np.array(eqs))
    n = atoms["n"].to_numpy()
    out = []
    for s in [(i,) for i in range(len(atoms))] + list(itertools.combinations(range(len(atoms)), 2)):
        if n[list(s)].sum() < K:
            e = np.zeros(len(atoms))
            e[list(s)] = 1
            if np.linalg.norm(ns.T @ e) < 1e-8:
                out.append(str(atoms.iloc[list(s)][["team", "day", "n"]].to_dict("records")))
    return out


def test_no_few_respondents_are_determined_by_combining_periods_and_groups(wpath):
    from cxlens.web import create_app

    rows = []
    with running(create_app(wpath)) as url:
        summary = live.get(f"{url}/api/v1/engagement/summary", params={"by": "team"}).json()
        rows += [r | {"kind": None, "period": None} for r in summary]
        for kind in ("week", "month", "quarter"):
            r = live.get(f"{url}/api/v1/engagement/trend", params={"by": "team", "period": kind})
            assert r.status_code == 200, r.text
            rows += [x | {"kind": kind} for x in r.json()]
    res = _cli(wpath, "engagement", "trend", "--period", "week", "--by", "team", "--format", "csv")
    assert res.exit_code == 0, res.stderr
    df = pd.read_csv(io.StringIO(res.stdout))
    rows += [x | {"kind": "week"} for x in df.astype(object).where(df.notna(), None).to_dict("records")]
    weeks = {str(x["period"])[:10] for x in rows if x["kind"] == "week"}
    assert {"2026-03-30", "2026-04-01"} <= weeks  # the week of 30 March is cut at 1 April
    assert _leaks(rows) == []
    assert sum(1 for x in rows if x["suppressed"] not in (True, "True", "true")) >= 8  # something is shown


def test_without_the_joint_planning_the_attacker_finds_a_leak(wpath):
    """Not vacuous: the per-period rule alone (each period's groups by themselves, as before the joint
    planning) lets the attacker determine a few respondents from the summary and the months."""
    import importlib

    summ = importlib.import_module("cxlens.engagement.summary")

    def alone(store, period="month", by=None, filters=None, min_group=None):
        k = summ.min_group_size(store, min_group)
        everyone = summ._answers(store)
        everyone["_p"] = pd.to_datetime(everyone["ts"]).dt.to_period(period[0].upper()).dt.start_time.dt.date
        frames = []
        for p, part in everyone.groupby("_p"):
            f = summ._summarise(part.drop(columns="_p"), by, summ._prep(filters, by), k)
            f.insert(0, "period", p)
            frames.append(f)
        return pd.concat(frames, ignore_index=True)

    with cxlens.open(wpath, read_only=True) as ws:
        rows = [r | {"kind": None, "period": None} for r in ws.engagement.summary("team").to_dict("records")]
        for kind in ("week", "month"):
            rows += [r | {"kind": kind} for r in alone(ws.store, kind, "team").to_dict("records")]
    assert _leaks([r for r in rows if r["kind"] != "week"])  # e.g. Z overall − Z in April = Z's 2 in March
