"""Two more ways around the small-group rule, closed: a team minus its agents (the team's tickets that
have no agent), and the per-team customer figures beside eNPS (``beside_cx``: tickets, CSAT and NPS
per team, through the library, the CLI and the HTTP API).

The oracles are counts planted in the data and read back from the raw tables, not from the code under
test: every difference an attacker forms from the published rows covers 0 or at least ``K``
observations, and a team's published figure never rests on fewer than ``K`` answers.
"""

from __future__ import annotations

import importlib
import io
import json
import math

import httpx
import pandas as pd
import pytest

import cxlens
from cxlens.errors import ParameterError

from ..conftest import running
from .test_engagement import _cli
from .test_scorecard import _fb, _ticket

K = 5
MONDAY = pd.Timestamp("2026-03-02 09:00")
H = pd.Timedelta(hours=1)


def build_agentless(path) -> None:
    """Team C: agents c1 and c2 with 10 tickets each and 2 tickets without an agent, in one week; team D:
    d1 and d2 with 10 each (no ticket without an agent, nothing to protect)."""
    tickets = []
    for team, agents, loose in (("C", ("c1", "c2"), 2), ("D", ("d1", "d2"), 0)):
        for agent in agents:
            tickets += [
                _ticket(f"{agent}-{i}", agent, team, MONDAY + i * H, 1, 5, 1, f"x{agent}{i}") for i in range(10)
            ]
        tickets += [
            _ticket(f"{team}-none-{i}", None, team, MONDAY + i * H, 1, 5, 1, f"y{team}{i}") for i in range(loose)
        ]
    with cxlens.open(path) as ws:
        ws.load("tickets", pd.DataFrame(tickets))


def _rows(ws_or_url, by, period) -> list[dict]:
    if isinstance(ws_or_url, str):
        params = {"by": by} | ({"period": period} if period else {})
        r = httpx.get(f"{ws_or_url}/api/v1/engagement/scorecard", params=params, timeout=60)
        assert r.status_code == 200, r.text
        return r.json()
    df = ws_or_url.engagement.scorecard(by, period=period)
    return df.astype(object).where(df.notna(), None).to_dict("records")


def _team_minus_agents(source, members: dict[str, list[str]]) -> list[str]:
    """Every team row minus its agents' shown rows in the same period: the leaks (0 < residue < K)."""
    leaks = []
    for period in (None, "week", "month", "quarter"):
        agents = {(r["agent"], str(r.get("period"))): r["tickets"] for r in _rows(source, "agent", period)}
        for r in _rows(source, "team", period):
            if r["tickets"] is None:
                continue
            shown = [agents.get((a, str(r.get("period")))) for a in members[r["team"]]]
            residue = int(r["tickets"]) - sum(int(t) for t in shown if t is not None)
            if 0 < residue < K:
                leaks.append(f"team {r['team']} {period} {r.get('period')}: minus its agents leaves {residue} tickets")
    return leaks


MEMBERS = {"C": ["c1", "c2"], "D": ["d1", "d2"]}


@pytest.fixture(scope="module")
def agentless(tmp_path_factory):
    p = tmp_path_factory.mktemp("agentless") / "a.duckdb"
    build_agentless(p)
    return p


def test_a_team_minus_its_agents_does_not_give_away_its_tickets_without_an_agent(agentless):
    from cxlens.web import create_app

    with cxlens.open(agentless, read_only=True) as ws:  # the data has what is attacked
        assert ws.store.rows("SELECT count(*) FROM tickets WHERE team = 'C' AND agent IS NULL")[0][0] == 2
    with running(create_app(agentless)) as url:
        assert _team_minus_agents(url, MEMBERS) == []
        teams = {r["team"]: r["tickets"] for r in _rows(url, "team", None)}
        agents = {r["agent"]: r["tickets"] for r in _rows(url, "agent", None)}
    assert teams == {"C": 22, "D": 20}  # the teams are still shown
    assert agents["c1"] is None and agents["c2"] == 10  # the smallest agent is hidden with the 2 loose tickets
    assert agents["d1"] == agents["d2"] == 10  # team D had nothing to hide


def test_the_margins_alone_protect_the_tickets_without_an_agent(agentless, monkeypatch):
    """Not only the check of everything at once: the team margin counts the agent-less part."""
    sc = importlib.import_module("cxlens.engagement.scorecard")
    monkeypatch.setattr(sc, "_audit", lambda df, hidden, k: hidden)
    with cxlens.open(agentless, read_only=True) as ws:
        assert _team_minus_agents(ws, MEMBERS) == []


def test_the_team_minus_agents_attack_finds_the_loose_tickets_without_protection(agentless, monkeypatch):
    """The control: with only the small-cell rule the attacker gets team C's 2 tickets without an agent."""
    from .test_scorecard_suppression import _small

    sc = importlib.import_module("cxlens.engagement.scorecard")
    monkeypatch.setattr(sc, "_plan", lambda df, k, seed=None: _small(df, k))
    monkeypatch.setattr(sc, "_audit", lambda df, hidden, k: hidden)
    with cxlens.open(agentless, read_only=True) as ws:
        leaks = _team_minus_agents(ws, MEMBERS)
    assert leaks and all("team C" in x and "leaves 2 tickets" in x for x in leaks), leaks


# -- beside_cx -------------------------------------------------------------------------------------

#: team: (tickets, CSAT answers 2 days after, NPS answers 2 days after, NPS answers 10 days after)
CX = {
    "big": (12, 12, 10, 0),  # everything shown
    "tiny": (3, 3, 3, 0),  # 3 tickets: hidden whole (it was shown, with its CSAT, before)
    "fewcsat": (10, 3, 0, 0),  # CSAT from 3 answers: hidden
    "npswin": (10, 10, 6, 2),  # 6 NPS answers in 7 days but 8 in 14: the 2 between would be given away
    "nps3": (10, 10, 3, 0),  # NPS from 3 answers: hidden
}


def build_cx(path) -> None:
    tickets, fb = [], []
    for team, (n, csat, nps, late) in CX.items():
        for i in range(n):
            cid, at = f"{team}-c{i}", MONDAY + i * H
            tickets.append(_ticket(f"{team}-t{i}", None, team, at, 1, 5, 1, cid))
            if i < csat:
                fb.append(_fb(f"{team}-s{i}", cid, "csat", 5 if i % 2 else 2, at + 2 * 24 * H))
            if i < nps:
                fb.append(_fb(f"{team}-n{i}", cid, "nps", 10 if i % 3 else 3, at + 2 * 24 * H))
            elif i < nps + late:
                fb.append(_fb(f"{team}-l{i}", cid, "nps", 0, at + 10 * 24 * H))
    with cxlens.open(path) as ws:
        ws.load("tickets", pd.DataFrame(tickets))
        ws.load("feedback", pd.DataFrame(fb))


@pytest.fixture(scope="module")
def cxpath(tmp_path_factory):
    p = tmp_path_factory.mktemp("cx") / "cx.duckdb"
    build_cx(p)
    return p


def _check_cx(teams: dict[str, dict]) -> None:
    """What the rule allows, from the planted counts: figures only on K or more answers."""
    big = teams["big"]
    assert big["tickets"] == 12 and big["csat_n"] == 12 and big["nps_n"] == 10
    assert big["csat"] == pytest.approx(100 * 6 / 12)  # odd i satisfied (5), even not (2)
    assert big["nps"] == pytest.approx(100 * (6 - 4) / 10)  # i % 3 != 0 promoters (10), others detractors (3)
    tiny = teams.get("tiny", {})
    assert all(tiny.get(c) in (None, "") or (isinstance(tiny.get(c), float) and math.isnan(tiny.get(c)))
               for c in ("tickets", "csat", "csat_n", "nps", "nps_n"))  # fmt: skip
    assert teams["fewcsat"]["tickets"] == 10 and teams["fewcsat"]["csat"] is None and teams["fewcsat"]["csat_n"] is None
    assert teams["npswin"]["csat_n"] == 10 and teams["npswin"]["nps"] is None and teams["npswin"]["nps_n"] is None
    assert teams["nps3"]["nps"] is None and teams["nps3"]["nps_n"] is None


def _by_team(records: list[dict]) -> dict[str, dict]:
    def plain(v):
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else v

    return {r["team"]: {k: plain(v) for k, v in r.items()} for r in records}


def test_beside_cx_applies_the_small_group_rule_to_the_customer_figures(cxpath):
    with cxlens.open(cxpath, read_only=True) as ws:
        counts = dict(ws.store.rows("SELECT team, count(*) FROM tickets GROUP BY 1"))
        assert counts["tiny"] == 3  # the data has what is attacked
        res = ws.engagement.beside_cx(days=7)
        card = ws.engagement.scorecard("team", days=7)
        for days in (14, 30, 90):  # the NPS window difference is hidden in every window
            assert _by_team(ws.engagement.beside_cx(days=days)["teams"].to_dict("records"))["npswin"]["nps"] is None
    teams = _by_team(res["teams"].to_dict("records"))
    _check_cx(teams)
    # the same tickets and CSAT as the scorecard's team rows: nothing to subtract between the two tables
    for r in card.astype(object).where(card.notna(), None).to_dict("records"):
        assert teams[r["team"]]["tickets"] == r["tickets"] and teams[r["team"]]["csat"] == r["csat"]


def test_beside_cx_windows_are_the_scorecards_and_the_rule_holds_through_cli_and_api(cxpath):
    from cxlens.web import create_app

    with cxlens.open(cxpath, read_only=True) as ws, pytest.raises(ParameterError, match="days is 8; expected one of"):
        ws.engagement.beside_cx(days=8)
    res = _cli(cxpath, "engagement", "cx", "--format", "json")
    assert res.exit_code == 0, res.stderr
    _check_cx(_by_team(json.loads(res.stdout)["teams"]))
    res = _cli(cxpath, "engagement", "cx", "--format", "csv")
    assert res.exit_code == 0, res.stderr
    df = pd.read_csv(io.StringIO(res.stdout))
    assert df.set_index("team").loc["tiny"][["tickets", "csat", "nps"]].isna().all()
    with running(create_app(cxpath)) as url:
        r = httpx.get(f"{url}/api/v1/engagement/cx", params={"days": 7}, timeout=60)
        assert r.status_code == 200, r.text
        _check_cx(_by_team(r.json()["teams"]))
        bad = httpx.get(f"{url}/api/v1/engagement/cx", params={"days": 8}, timeout=60)
        assert bad.status_code in (400, 422) and bad.json()["error"]["param"] == "days", bad.text


def test_the_plan_is_made_once_per_data_version(tmp_path, monkeypatch):
    """Every view and window shares one plan, kept until the tickets (or feedback) change."""
    sc = importlib.import_module("cxlens.engagement.scorecard")
    made = []
    real = sc._protected
    monkeypatch.setattr(sc, "_protected", lambda store, k_ws, k: made.append(k) or real(store, k_ws, k))
    p = tmp_path / "v.duckdb"
    build_agentless(p)
    with cxlens.open(p) as ws:
        for by, period, days in (("team", None, 7), ("agent", "week", 14), ("team", "month", 90)):
            ws.engagement.scorecard(by, period=period, days=days)
        assert made == [5]
        ws.load("tickets", pd.DataFrame([_ticket("late", "d1", "D", MONDAY + 30 * H, 1, 5, 1, "z")]))
        teams = ws.engagement.scorecard("team").set_index("team")["tickets"]
        assert made == [5, 5] and teams["D"] == 21  # made again, on the new data
        ws.engagement.scorecard("team", min_group=6)
        assert made == [5, 5, 6]
