"""The scorecards cannot be subtracted to single out a few answers across ``days`` windows, weeks against
months, or an agent working in several teams.

The attacker collects every published row — every ``by`` × ``period`` × allowed ``days`` through the
HTTP API, and the CLI's CSV export — and asks, independently of the suppression code, which sets of
tickets' figures are exactly determined by the published counts: the published rows are linear
equations over *atoms* (tickets of one agent, team, ISO week, month and answer-delay bucket), and a
set of atoms S is determined iff its indicator vector is in the row space, i.e. orthogonal to the
null space. Every set of fewer than ``min_group`` observations (up to 4 atoms) is searched, by pair
sums (meet in the middle). An attacker asking for a window outside the fixed set is refused.
"""

from __future__ import annotations

import io
import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import null_space

import cxlens
from cxlens.engagement.scorecard import DAYS
from cxlens.errors import ParameterError

from .. import live
from ..conftest import running
from .test_engagement import _cli
from .test_scorecard import _fb, _ticket

K = 5
FIGS = ("tickets", "csat", "fcr", "recovery")
WINDOWED = ("csat", "recovery")
# agent → teams: x works in both A and B
TEAMS = {"a1": ["A"], "a2": ["A"], "a3": ["A"], "x": ["A", "B"], "b1": ["B"], "b2": ["B"]}
DELAYS = (1, 10, 20, 60)  # days from ticket to CSAT answer: one per window bucket of DAYS = (7, 14, 30, 90)


def build(path, seed: int) -> pd.DataFrame:
    """Tickets from mid-March to mid-April 2026 (the ISO week of 30 March straddles the months)."""
    rng = np.random.default_rng(seed)
    tickets, fb = [], []
    start = pd.Timestamp("2026-03-16 09:00")
    for i in range(150):
        agent = rng.choice(list(TEAMS))
        team = rng.choice(TEAMS[agent])
        at = start + pd.Timedelta(hours=int(rng.integers(0, 30 * 24)))
        tid, cust = f"t{i}", f"c{i}"
        tickets.append(_ticket(tid, agent, team, at, 1, 5, int(rng.integers(1, 3)), cust))
        if rng.random() < 0.8:  # a CSAT answer after a delay in one of the window buckets
            d = DELAYS[int(rng.choice(4, p=[0.55, 0.2, 0.15, 0.1]))]
            fb.append(
                _fb(f"f{i}", cust, "csat", int(rng.integers(1, 6)), at + pd.Timedelta(days=d) - pd.Timedelta(hours=2))
            )
        if rng.random() < 0.3:  # a detractor before (for recovery) and an answer after
            d = DELAYS[int(rng.choice(4, p=[0.55, 0.2, 0.15, 0.1]))]
            fb.append(
                _fb(f"p{i}", cust, "nps", int(rng.integers(0, 7)), at - pd.Timedelta(days=d) + pd.Timedelta(hours=2))
            )
            fb.append(_fb(f"n{i}", cust, "nps", int(rng.integers(0, 11)), at + pd.Timedelta(days=40)))
    with cxlens.open(path) as ws:
        ws.load("tickets", pd.DataFrame(tickets))
        ws.load("feedback", pd.DataFrame(fb))
    return pd.DataFrame(tickets)


def _atoms(path) -> pd.DataFrame:
    """Per ticket: agent, team, week, month, quarter and, per figure, the window bucket of its
    observation (-1: none) — from the raw tables, not the scorecard code."""
    with cxlens.open(path, read_only=True) as ws:
        t = ws.store.read("SELECT * FROM tickets")
        f = ws.store.read("SELECT * FROM feedback")
    t["created_at"] = pd.to_datetime(t["created_at"])
    f["ts"] = pd.to_datetime(f["ts"])
    c = t["created_at"]
    monday = (c - pd.to_timedelta(c.dt.day_of_week, unit="D")).dt.normalize()
    first = c.dt.to_period("M").dt.start_time
    t["week"] = monday.where(monday >= first, first).dt.date.astype(str)  # weeks are cut at month starts
    t["month"] = first.dt.date.astype(str)
    t["quarter"] = c.dt.to_period("Q").dt.start_time.dt.date.astype(str)

    def bucket(delta_days: float) -> int:
        return next((i for i, d in enumerate(DAYS) if delta_days < d), -1)

    csat, rec = [], []
    for r in t.itertuples():
        mine = f[f["customer_id"] == r.customer_id]
        after = mine[(mine["metric"] == "csat") & (mine["ts"] >= r.created_at)]
        csat.append(bucket((after["ts"].min() - r.created_at) / pd.Timedelta(days=1)) if len(after) else -1)
        before = mine[(mine["ts"] < r.created_at) & (mine["metric"] == "nps") & (mine["score"] <= 6)]
        later = mine[(mine["ts"] > r.created_at) & (mine["metric"] == "nps")
                     & (mine["ts"] < r.created_at + pd.Timedelta(days=90))]  # fmt: skip
        ok = len(before) and len(later)
        rec.append(bucket((r.created_at - before["ts"].max()) / pd.Timedelta(days=1)) if ok else -1)
    t["b_tickets"] = 0
    t["b_fcr"] = np.where(t["resolved_at"].notna() & t["contacts"].notna(), 0, -1)
    t["b_csat"], t["b_recovery"] = csat, rec
    return t


def _published(url: str) -> list[tuple[str, str | None, int, dict]]:
    rows = []
    for by, period, days in itertools.product(("agent", "team"), (None, "week", "month", "quarter"), DAYS):
        params = {"by": by, "days": days} | ({"period": period} if period else {})
        r = live.get(f"{url}/api/v1/engagement/scorecard", params=params, timeout=60)
        assert r.status_code == 200, r.text
        rows += [(by, period, days, x) for x in r.json()]
    return rows


def _exported(path) -> list[tuple[str, str | None, int, dict]]:
    rows = []
    for by, period in (("agent", "week"), ("team", "month")):  # the CLI's export publishes the same
        res = _cli(path, "engagement", "scorecard", "--by", by, "--period", period, "--days", "14", "--format", "csv")
        assert res.exit_code == 0, res.stderr
        df = pd.read_csv(io.StringIO(res.stdout))
        rows += [(by, period, 14, x) for x in df.astype(object).where(df.notna(), None).to_dict("records")]
    return rows


def _leaks(atoms: pd.DataFrame, rows: list, fig: str, limit: int = 20) -> list[str]:
    """Sets of 1…K−1 observations of ``fig`` that the published rows determine exactly."""
    obs = atoms[atoms[f"b_{fig}"] >= 0]
    keys = ["agent", "team", "week", "month", "quarter", f"b_{fig}"]
    groups = obs.groupby(keys, dropna=False).size().reset_index(name="n")
    if groups.empty:
        return []
    eqs = []
    for by, period, days, r in rows:
        if r.get("suppressed") in (True, "True", "true") or r.get("tickets") in (None, ""):
            continue
        if fig != "tickets" and r.get(fig) in (None, ""):
            continue
        m = (groups[by] == r[by]).to_numpy().copy()
        if period:
            m &= (groups[period] == str(r["period"])[:10]).to_numpy()
        if fig in WINDOWED:
            m &= (groups[f"b_{fig}"] <= DAYS.index(days)).to_numpy()
        eqs.append(m.astype(float))
    if not eqs:
        return []
    ns = null_space(np.array(eqs))  # atoms × d: S is determined iff the rows of S sum to 0
    proj = ns @ np.random.default_rng(0).normal(size=(ns.shape[1], 3)) if ns.shape[1] else np.zeros((len(groups), 3))
    n = groups["n"].to_numpy()
    small = [i for i in range(len(groups)) if n[i] < K]

    def zero(v):
        return np.all(np.abs(v) < 1e-7)

    def candidates():
        for i in small:
            if zero(proj[i]):
                yield (i,)
        pairs: dict = {}
        for i, j in itertools.combinations(small, 2):
            if n[i] + n[j] < K:
                v = proj[i] + proj[j]
                if zero(v):
                    yield (i, j)
                pairs.setdefault(tuple(np.round(v, 6)), []).append((i, j))
        for i in small:
            for j, m in pairs.get(tuple(np.round(-proj[i], 6)), []):
                if i not in (j, m) and n[i] + n[j] + n[m] < K:
                    yield (i, j, m)
        for key, ps in pairs.items():
            for a, b in ps:
                for c, d in pairs.get(tuple(np.round(-np.array(key), 6)), []):
                    if len({a, b, c, d}) == 4 and n[a] + n[b] + n[c] + n[d] < K:
                        yield (a, b, c, d)

    out = []
    for s in candidates():  # confirm exactly: the indicator is in the row space
        e = np.zeros(len(groups))
        e[list(s)] = 1
        if not ns.shape[1] or np.linalg.norm(ns.T @ e) < 1e-8:
            out.append(f"{fig}: {groups.iloc[list(s)][keys].to_dict('records')} ({int(n[list(s)].sum())} obs)")
            if len(out) >= limit:
                break
    return out


@pytest.fixture(scope="module", params=[1])
def case(request, tmp_path_factory):
    p = tmp_path_factory.mktemp(f"win{request.param}") / "w.duckdb"
    build(p, request.param)
    return p


def test_no_few_answers_are_determined_across_windows_periods_and_teams(case):
    from cxlens.web import create_app

    with running(create_app(case)) as url:
        rows = _published(url)
        r = live.get(f"{url}/api/v1/engagement/scorecard", params={"by": "team", "days": 8})
        assert r.status_code in (400, 422) and r.json()["error"]["param"] == "days", r.text
    rows += _exported(case)
    atoms = _atoms(case)
    assert atoms.groupby("agent")["team"].nunique()["x"] == 2  # the data has what is attacked
    assert (
        atoms["week"].eq("2026-03-30").any()
        and atoms["week"].eq("2026-04-01").any()
        and set(atoms["b_csat"]) >= {0, 1, 2, 3}
    )
    leaks = [x for f in FIGS for x in _leaks(atoms, rows, f)]
    assert leaks == []
    shown = [r for *_, r in rows if r.get("tickets") not in (None, "")]
    assert len(shown) >= 20  # the protection leaves something to read


def test_the_attacker_finds_the_leaks_without_the_protection(case, monkeypatch):
    """Not vacuous: with only the small-cell rule (no margins), the attacker finds determined small sets."""
    import importlib

    from .test_scorecard_suppression import _small

    sc = importlib.import_module("cxlens.engagement.scorecard")
    monkeypatch.setattr(sc, "_plan", lambda df, k, seed=None: _small(df, k))
    monkeypatch.setattr(sc, "_audit", lambda df, hidden, k: hidden)  # nor the check of everything at once
    rows = []
    with cxlens.open(case, read_only=True) as ws:
        for by, period, days in itertools.product(("agent", "team"), (None, "month"), (7, 30)):
            df = ws.engagement.scorecard(by, period=period, days=days)
            rows += [(by, period, days, x) for x in df.astype(object).where(df.notna(), None).to_dict("records")]
    atoms = _atoms(case)
    assert _leaks(atoms, rows, "csat", limit=1) and _leaks(atoms, rows, "tickets", limit=1)


def _views(path, periods=("week", "month"), windows=(7,)) -> list:
    rows = []
    with cxlens.open(path, read_only=True) as ws:
        for by, period, days in itertools.product(("agent", "team"), periods, windows):
            df = ws.engagement.scorecard(by, period=period, days=days)
            rows += [(by, period, days, x) for x in df.astype(object).where(df.notna(), None).to_dict("records")]
    return rows


@pytest.fixture(scope="module")
def seed4(tmp_path_factory):
    p = tmp_path_factory.mktemp("rect") / "w4.duckdb"
    build(p, 4)
    return p


def test_a_rectangle_of_hidden_cells_no_longer_determines_a_few_tickets(seed4):
    """Seed 4: with the margins alone, team B and agent b1 are shown for April and the week of 6 April;
    b1's weeks of 1 and 13 April are hidden, and so are b2's and x's. Then (team B − b1) over those two
    weeks = 4 tickets of b2 and x: each margin's hidden part holds 5 or more, yet the rectangle gives 4
    away. The check of everything published at once hides more."""
    assert _leaks(_atoms(seed4), _views(seed4), "tickets", limit=1) == []


def test_the_margins_alone_leave_the_rectangle(seed4, monkeypatch):
    """The control: without the check of everything at once, the attacker finds the rectangle."""
    import importlib

    sc = importlib.import_module("cxlens.engagement.scorecard")
    monkeypatch.setattr(sc, "_audit", lambda df, hidden, k: hidden)
    leaks = _leaks(_atoms(seed4), _views(seed4), "tickets", limit=1)
    assert leaks and "'team': 'B'" in leaks[0] and "(4 obs)" in leaks[0], leaks


@pytest.mark.parametrize("seed", [0, 2, 3, 5, 6, 7, 8, 9, 10, 11])
def test_no_few_tickets_or_answers_are_determined_on_more_seeds(tmp_path, seed):
    p = tmp_path / "w.duckdb"
    build(p, seed)
    rows = _views(p, (None, "week", "month", "quarter"), (7, 30))
    atoms = _atoms(p)
    assert [x for f in ("tickets", "csat") for x in _leaks(atoms, rows, f, limit=1)] == []
    assert sum(r.get("tickets") is not None for *_, r in rows) >= 20  # something is left to read


def test_a_window_outside_the_fixed_set_is_refused_in_the_library_and_cli(case):
    with cxlens.open(case, read_only=True) as ws, pytest.raises(ParameterError, match="days is 8; expected one of"):
        ws.engagement.scorecard("team", days=8)
    with pytest.raises(ParameterError, match="days is 8"):
        _cli(case, "engagement", "scorecard", "--days", "8")


def test_suppressing_each_window_on_its_own_would_leak_across_windows(case, monkeypatch):
    """Why the windows are planned together: with each window's table protected alone, the difference of
    two windows gives away the few answers between them."""
    import importlib

    sc = importlib.import_module("cxlens.engagement.scorecard")
    monkeypatch.setattr(sc, "_audit", lambda df, hidden, k: hidden)  # and no check of everything at once
    rows = []
    for days in DAYS:  # one window at a time (a new workspace handle each: the plan is kept per handle)
        monkeypatch.setattr(sc, "_layers", lambda df, d=days: [sc._observations(sc._window(df, d))])
        with cxlens.open(case, read_only=True) as ws:
            df = ws.engagement.scorecard("agent", period="week", days=days)
            rows += [("agent", "week", days, x) for x in df.astype(object).where(df.notna(), None).to_dict("records")]
    assert _leaks(_atoms(case), rows, "csat", limit=1)
