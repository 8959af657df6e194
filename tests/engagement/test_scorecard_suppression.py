"""Complementary suppression in the CX scorecards: an attacker with every view (agent and team × all
time, week, month, quarter), through the HTTP API, the CLI's CSV export and stricter ``min_group``
values, tries to recover a hidden agent (or a hidden figure) by subtraction: a team minus its shown
agents, all time minus the shown periods, a quarter minus its shown months.

The oracle is the attacker, written here from the published rows only (counts ``*_n`` and values,
a share's count of hits = value × n / 100, a mean's sum = value × n): every difference it can form
must cover 0 or at least ``min_group`` observations.
"""

from __future__ import annotations

import importlib
import io
import itertools
import math

import pandas as pd
import pytest

import cxlens

from .. import live
from ..conftest import running
from .test_engagement import _cli as _run
from .test_scorecard import _fb, _ticket

K = 5
FIGS = ("csat", "fcr", "first_response_hours", "resolution_hours", "sentiment", "recovery")
MARCH = pd.Timestamp("2026-03-02 09:00")  # a Monday
APRIL = pd.Timestamp("2026-04-06 09:00")  # a Monday
TEAM_OF = {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "b2": "B"}


def build(path) -> None:
    tickets, fb = [], []

    def add(agent, n, at, csat_every=1):
        for i in range(n):
            t = at + i * pd.Timedelta(hours=3)
            tid = f"{agent}-{t:%m%d%H}-{i}"
            tickets.append(_ticket(tid, agent, TEAM_OF.get(agent, "A"), t, 1 + i % 3, 5 + i, 1 + i % 2, f"c{tid}"))
            if i % csat_every == 0:
                fb.append(_fb(f"f{tid}", f"c{tid}", "csat", 1 + (i * 7) % 5, t + pd.Timedelta(days=1)))

    add("a1", 18, MARCH)  # a1: 18 tickets in March…
    add("a1", 2, APRIL)  # …and 2 in April: all time − March would give April away
    add("a2", 12, MARCH)
    add("a3", 2, MARCH)  # hidden: 2 < 5; team A − a1 − a2 would give it away
    add("b1", 10, MARCH, csat_every=3)  # 4 CSAT answers: its CSAT is hidden, B − b2 would give it
    add("b2", 10, APRIL)
    tickets.append(_ticket("noagent", None, "A", MARCH, 1, 2, 1, "cz"))  # a team ticket without an agent
    with cxlens.open(path) as ws:
        ws.load("tickets", pd.DataFrame(tickets))
        ws.load("feedback", pd.DataFrame(fb))


@pytest.fixture(scope="module")
def wpath(tmp_path_factory):
    p = tmp_path_factory.mktemp("supp") / "s.duckdb"
    build(p)
    return p


def _known(rows: list[dict], by: str, period: str | None, known: dict) -> None:
    """What the rows publish, per cell and figure: (observations, total) — total = hits or sum."""
    for r in rows:
        cell = (by, period, r[by], str(r["period"])[:10] if period else None)
        if r.get("suppressed") in (True, "True", "true"):
            continue
        known.setdefault(cell, {})["tickets"] = (int(float(r["tickets"])), int(float(r["tickets"])))
        for f in FIGS:
            v, n = r.get(f), r.get(f"{f}_n")
            if v in (None, "") or (isinstance(v, float) and math.isnan(v)):
                continue
            known[cell][f] = (int(float(n)), float(v) * int(float(n)))


def _attack(known: dict, k: int) -> list[str]:
    """Every subtraction of shown parts from a shown total; the leaks (0 < residue < k)."""
    leaks = []
    cells = set(known)
    for total in cells:
        by, gran, grp, pv = total
        if by == "team":  # the team's agents in the same view
            parts = [(("agent", gran, a, pv)) for a, t in TEAM_OF.items() if t == grp]
            relations = [parts]
        else:
            relations = []
        if gran is None:  # all time − its periods
            for g in ("week", "month", "quarter"):
                relations.append([c for c in cells if c[0] == by and c[1] == g and c[2] == grp])
        if gran == "quarter":
            q = pd.Timestamp(pv).to_period("Q")
            relations.append(
                [c for c in cells if c[:3] == (by, "month", grp) and pd.Timestamp(c[3]).to_period("Q") == q]
            )
        for parts, f in itertools.product(relations, ("tickets", *FIGS)):
            if f not in known[total]:
                continue
            n = known[total][f][0] - sum(known.get(p, {}).get(f, (0, 0))[0] for p in parts)
            if 0 < n < k:
                leaks.append(f"{total} {f}: total − shown parts leaves {n} observations")
    return leaks


def test_no_hidden_group_is_recovered_by_subtraction_through_api_cli_and_stricter_k(wpath):
    from cxlens.web import create_app

    known: dict = {}
    views = [(by, period) for by in ("agent", "team") for period in (None, "week", "month", "quarter")]
    with running(create_app(wpath)) as url:
        for (by, period), k in itertools.product(views, (None, 6, 7)):
            params = {"by": by} | ({"period": period} if period else {}) | ({"min_group": k} if k else {})
            r = live.get(f"{url}/api/v1/engagement/scorecard", params=params)
            assert r.status_code == 200, r.text
            _known(r.json(), by, period, known)
    for by, period in views:  # the CLI's export: the same hiding
        res = _run(wpath, "engagement", "scorecard", "--by", by, *(["--period", period] if period else []),
                   "--format", "csv")  # fmt: skip
        assert res.exit_code == 0, res.stderr
        df = pd.read_csv(io.StringIO(res.stdout))
        _known(df.astype(object).where(df.notna(), None).to_dict("records"), by, period, known)
    assert _attack(known, K) == []
    # the cases the data plants are hidden, and the protection really was needed
    assert ("agent", None, "a3", None) not in known  # 2 tickets
    assert ("agent", None, "a2", None) not in known  # hidden with a3: else A − a1 − a2 = a3
    assert (
        known[("team", None, "A", None)]["tickets"][0] == 35 and known[("agent", None, "a1", None)]["tickets"][0] == 20
    )
    assert ("agent", "month", "a1", "2026-03-01") not in known  # else all time − March = April
    assert "csat" not in known[("agent", None, "b2", None)]  # else B − b2 = b1's 4 CSAT answers
    assert "csat" in known[("team", None, "B", None)]


def test_without_complementary_suppression_the_attack_would_succeed(wpath, monkeypatch):
    """The attacker is not vacuous: on the rows with only the small-cell rule it finds the leaks."""
    sc_mod = importlib.import_module("cxlens.engagement.scorecard")
    monkeypatch.setattr(sc_mod, "_plan", lambda df, k, seed=None: _small(df, k))  # no margins
    monkeypatch.setattr(sc_mod, "_audit", lambda df, hidden, k: hidden)  # nor the check of everything at once
    known: dict = {}
    with cxlens.open(wpath, read_only=True) as ws:
        for by, period in [(by, period) for by in ("agent", "team") for period in (None, "month")]:
            df = ws.engagement.scorecard(by, period=period)
            _known(df.astype(object).where(df.notna(), None).to_dict("records"), by, period, known)
    leaks = _attack(known, K)
    assert any("'A', None) tickets" in x for x in leaks) and any("'B', None) csat" in x for x in leaks)


def _small(df, k):
    from cxlens.engagement.scorecard import _observations

    obs = _observations(df)
    out = set()
    for by in ("agent", "team"):
        for gran in (None, "week", "month", "quarter"):
            keys = [by] if gran is None else [by, gran]
            sub = df[df[by].notna()]
            for key, g in sub.groupby(keys):
                key = key if isinstance(key, tuple) else (key,)
                cell = (by, gran, key[0], key[1] if gran else None)
                out |= {(cell, f) for f, s in obs.items() if int(s.loc[g.index].sum()) < k}
    return out
