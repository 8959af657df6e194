"""Agent/team CX scorecards, engagement trends and redacted pulse comments — library, CLI, HTTP.

Oracles: hand-counted tickets; Wilson intervals from statsmodels; the median's interval from the
binomial order statistics computed here with scipy.stats.binom; eNPS by hand.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

import cxlens
from cxlens.errors import ParameterError

from .. import live
from ..conftest import running

sm_prop = pytest.importorskip("statsmodels.stats.proportion")

T0 = pd.Timestamp("2026-02-02 09:00")
H = pd.Timedelta(hours=1)


def _ticket(tid, agent, team, at, first_h, resolve_h, contacts, customer):
    return {"ticket_id": tid, "customer_id": customer, "created_at": at, "agent": agent, "team": team,
            "first_response_at": at + first_h * H if first_h is not None else None,
            "resolved_at": at + resolve_h * H if resolve_h is not None else None, "contacts": contacts}  # fmt: skip


def _fb(fid, customer, metric, score, at):
    return {"feedback_id": fid, "customer_id": customer, "metric": metric, "score": score, "ts": at}


def build(path) -> None:
    tickets, fb = [], []
    # agent a1 (team A): 6 tickets, 3 in February and 3 in March
    first = [1, 2, 3, 4, 5, 6]
    resolve = [10, 20, 30, 40, None, 60]
    contacts = [1, 1, 2, 1, None, 3]
    csat = [5, 4, 2, 5, 5, 1]
    for i in range(6):
        at = T0 + pd.Timedelta(days=0 if i < 3 else 30) + i * H
        tickets.append(_ticket(f"a1-{i}", "a1", "A", at, first[i], resolve[i], contacts[i], f"ca{i}"))
        fb.append(_fb(f"cs-a1-{i}", f"ca{i}", "csat", csat[i], at + pd.Timedelta(days=1)))
    # recovery for a1: ca0 NPS 3 before → 8 after (recovered); ca1 NPS 5 → 4 (not); ca2 CSAT 1 before → its
    # CSAT after is 2 (not); ca3 NPS 2 before, no NPS after (not counted); ca4 promoter before (not a case)
    fb += [_fb("r0", "ca0", "nps", 3, T0 - 2 * H), _fb("r0b", "ca0", "nps", 8, T0 + pd.Timedelta(days=10)),
           _fb("r1", "ca1", "nps", 5, T0 - H), _fb("r1b", "ca1", "nps", 4, T0 + pd.Timedelta(days=20)),
           _fb("r2", "ca2", "csat", 1, T0 - H), _fb("r3", "ca3", "nps", 2, T0 + pd.Timedelta(days=29)),
           _fb("r4", "ca4", "nps", 10, T0 + pd.Timedelta(days=29))]  # fmt: skip
    # agent a2 (team A): 6 tickets, all resolved at the first contact, all satisfied
    for i in range(6):
        at = T0 + pd.Timedelta(days=1) + i * H
        tickets.append(_ticket(f"a2-{i}", "a2", "A", at, 0.5, 2, 1, f"cb{i}"))
        fb.append(_fb(f"cs-a2-{i}", f"cb{i}", "csat", 5, at + pd.Timedelta(days=2)))
    # agent b1 (team B): 2 tickets — too few to show, for the agent and for the team
    for i in range(2):
        tickets.append(_ticket(f"b1-{i}", "b1", "B", T0 + i * H, 1, 5, 1, f"cc{i}"))
        fb.append(_fb(f"cs-b1-{i}", f"cc{i}", "csat", 1, T0 + pd.Timedelta(days=1)))
    emp = pd.DataFrame([{"employee_id": f"e{i}", "name": n, "team": t, "role": "agent"}
                        for i, (n, t) in enumerate([("Alice Martin", "X"), ("Bob Stone", "X"), ("Cara Lee", "Y")])])  # fmt: skip
    pulse = []
    for team, month, n in [
        ("X", "2026-02-03", 6),
        ("X", "2026-03-03", 6),
        ("Y", "2026-02-04", 5),
        ("Y", "2026-03-04", 2),
    ]:
        for i in range(n):
            pulse.append({"response_id": f"{team}{month}{i}", "team": team, "ts": month, "question": "enps",
                          "score": 10 if i % 2 else 5})  # fmt: skip
    pulse.append({"response_id": "X2026-02-030", "team": "X", "ts": "2026-02-03", "question": "comment", "score": "",
                  "comment": "alice martin never answers; write to bob.stone@corp.example"})  # fmt: skip
    pulse.append({"response_id": "Y2026-03-040", "team": "Y", "ts": "2026-03-04", "question": "comment", "score": "",
                  "comment": "Cara is great"})  # fmt: skip
    with cxlens.open(path) as ws:
        ws.load("tickets", pd.DataFrame(tickets))
        ws.load("feedback", pd.DataFrame(fb))
        with ws.transaction(changes=["verbatim_analysis"]) as cur:
            for i, s in enumerate([0.5, -0.5, 0.25, 0.75, -0.25, 0.0]):
                cur.execute(
                    "INSERT INTO verbatim_analysis (verbatim_id, sentiment_score) VALUES (?, ?)", [f"ticket:a1-{i}", s]
                )
        ws.engagement.import_employees(emp)
        ws.engagement.import_pulse(pd.DataFrame(pulse))
        ws.engagement.set_min_group(3)


@pytest.fixture(scope="module")
def wspath(tmp_path_factory):
    p = tmp_path_factory.mktemp("score") / "s.duckdb"
    build(p)
    return p


def _median_ci_by_hand(v):
    """The largest j with P(B < j) ≤ 2.5% for B ~ Bin(n, ½): (x_(j), x_(n+1−j))."""
    v, n = np.sort(np.asarray(v, float)), len(v)
    j = max(j for j in range(1, n + 1) if st.binom.cdf(j - 1, n, 0.5) <= 0.025)
    return v[j - 1], v[n - j]


def test_agent_scorecard_by_hand(wspath):
    with cxlens.open(wspath, read_only=True) as ws:
        sc = ws.engagement.scorecard("agent")
    a1 = sc[sc.agent == "a1"].iloc[0]
    assert a1.tickets == 6 and not a1.suppressed
    lo, hi = sm_prop.proportion_confint(4, 6, method="wilson")
    assert (a1.csat, a1.csat_n) == (pytest.approx(400 / 6), 6)
    assert (a1.csat_low, a1.csat_high) == (pytest.approx(100 * lo), pytest.approx(100 * hi))
    # FCR: resolved with contacts known: 1, 1, 2, 1, 3 → 3 of 5
    lo, hi = sm_prop.proportion_confint(3, 5, method="wilson")
    assert (a1.fcr, a1.fcr_n, a1.fcr_low) == (pytest.approx(60.0), 5, pytest.approx(100 * lo))
    assert a1.first_response_hours == pytest.approx(3.5) and a1.first_response_hours_n == 6
    assert (a1.first_response_hours_low, a1.first_response_hours_high) == _median_ci_by_hand([1, 2, 3, 4, 5, 6])
    assert a1.resolution_hours == pytest.approx(30.0) and a1.resolution_hours_n == 5
    s = np.array([0.5, -0.5, 0.25, 0.75, -0.25, 0.0])
    h = st.t.ppf(0.975, 5) * s.std(ddof=1) / np.sqrt(6)
    assert (a1.sentiment, a1.sentiment_low) == (pytest.approx(s.mean()), pytest.approx(s.mean() - h))
    # recovery: ca0 recovered, ca1 not, ca2 not (CSAT 2 after its CSAT 1): 1 of 3
    assert (a1.recovery, a1.recovery_n) == (pytest.approx(100 / 3), 3)
    a2 = sc[sc.agent == "a2"].iloc[0]
    assert (a2.fcr, a2.csat) == (100.0, 100.0)
    assert pd.isna(a2.recovery) and "recovery" in a2.hidden_figures and "sentiment" in a2.hidden_figures
    # a hidden figure's count is hidden with it (the suppression check treats it as unpublished)
    assert pd.isna(a2.recovery_n) and pd.isna(a2.sentiment_n) and a2.csat_n >= 3
    b1 = sc[sc.agent == "b1"].iloc[0]  # 2 tickets < 3: no figure at all
    assert bool(b1.suppressed) and pd.isna(b1.tickets) and pd.isna(b1.csat) and "fewer than 3" in b1.note


def test_team_scorecard_trend_and_bad_input(wspath):
    with cxlens.open(wspath, read_only=True) as ws:
        team = ws.engagement.scorecard("team")
        monthly = ws.engagement.scorecard("agent", period="month")
        for kw, field in [({"by": "email"}, "by"), ({"period": "day"}, "period"), ({"days": 0}, "days")]:
            with pytest.raises(ParameterError, match=field):
                ws.engagement.scorecard(**{"by": "team", **kw})
    a = team[team.team == "A"].iloc[0]
    assert a.tickets == 12 and a.csat == pytest.approx(100 * 10 / 12)
    assert bool(team[team.team == "B"].iloc[0].suppressed)
    a1 = monthly[monthly.agent == "a1"]
    assert [str(p) for p in a1.period] == ["2026-02-01", "2026-03-01"] and list(a1.tickets) == [3, 3]
    assert list(a1.csat) == [pytest.approx(200 / 3), pytest.approx(200 / 3)]  # 5, 4, 2 and 5, 5, 1


def test_trend_hides_small_periods_and_periods_that_would_reveal_them(wspath):
    with cxlens.open(wspath, read_only=True) as ws:
        t = ws.engagement.trend("month", by="team", min_group=5)
        overall = ws.engagement.summary(by="team", min_group=5)
    t["period"] = t["period"].astype(str)
    cell = {(r.period, r.group): r for r in t.itertuples()}
    # X: 6 answers in each month, half promoters (10) and half detractors (5): eNPS 0
    assert cell[("2026-03-01", "Y")].suppressed  # 2 answers
    assert cell[("2026-03-01", "X")].suppressed  # complementary: Y's 2 would be all − X
    assert cell[("2026-02-01", "Y")].suppressed  # over time: Y overall − Y in February would give March away
    # and X in February too: else all − X in February = Y in February (5), and Y overall (7) − that
    # = Y's 2 answers in March (two steps; hidden since the joint planning over all views)
    assert cell[("2026-02-01", "X")].suppressed and not cell[("2026-02-01", "(all)")].suppressed
    assert cell[("2026-02-01", "(all)")].respondents == 11
    assert overall.set_index("group").loc["Y", "respondents"] == 7
    for g in ("X", "Y", "(all)"):  # every group's hidden periods hold none or at least 5 answers
        hid = t[(t.group == g) & t.suppressed.astype(bool)]
        size = {("X", "2026-02-01"): 6, ("X", "2026-03-01"): 6, ("Y", "2026-02-01"): 5, ("Y", "2026-03-01"): 2,
                ("(all)", "2026-02-01"): 11, ("(all)", "2026-03-01"): 8}  # fmt: skip
        held = sum(size[(g, p)] for p in hid.period)
        assert held == 0 or held >= 5


def test_comments_are_redacted_and_only_for_shown_groups(wspath):
    with cxlens.open(wspath, read_only=True) as ws:
        stored = ws.store.read("SELECT * FROM pulse_comments")
        by_team = ws.engagement.comments(by="team", min_group=7)
        by_team_8 = ws.engagement.comments(by="team", min_group=8)
        everyone = ws.engagement.comments()
        only_y = ws.engagement.comments(filters={"team": "Y"}, min_group=8)
    assert set(stored.columns) == {"response_id", "team", "role", "location", "manager_id", "comment"}
    text = " ".join(stored.comment)
    assert "[NAME] never answers" in text and "[EMAIL]" in text and "[NAME] is great" in text
    assert "alice" not in text.lower() and "Cara" not in text and "corp.example" not in text
    assert list(by_team.group) == ["X", "Y"]  # X has 12 respondents, Y 7
    assert by_team_8.empty  # Y (7) is under 8, and X is hidden with it (else all − X would be Y)
    assert len(everyone) == 2 and set(everyone.group) == {"(all)"}
    assert only_y.empty  # a filter to a hidden group gives nothing


def test_cli_and_api(wspath):
    from typer.testing import CliRunner

    from cxlens.cli import app

    r = CliRunner().invoke(app, ["-w", str(wspath), "engagement", "scorecard", "--by", "agent", "--format", "json"],
                           catch_exceptions=False)  # fmt: skip
    assert r.exit_code == 0, r.stderr
    rows = {x["agent"]: x for x in json.loads(r.stdout)}
    assert rows["a1"]["fcr"] == pytest.approx(60.0) and rows["b1"]["suppressed"] is True
    r = CliRunner().invoke(app, ["-w", str(wspath), "engagement", "comments", "--format", "json"],
                           catch_exceptions=False)  # fmt: skip
    assert r.exit_code == 0 and "[NAME]" in r.stdout and "Alice" not in r.stdout
    from cxlens.web import create_app

    with running(create_app(wspath)) as url:
        body = live.get(f"{url}/api/v1/engagement/scorecard", params={"by": "agent", "period": "month"}).json()
        assert {(x["agent"], x["period"]) for x in body if not x["suppressed"]} >= {("a1", "2026-02-01")}
        assert live.get(f"{url}/api/v1/engagement/scorecard", params={"by": "email"}).status_code == 422
        tr = live.get(f"{url}/api/v1/engagement/trend", params={"by": "team", "min_group": 5}).json()
        assert any(x["group"] == "(all)" and x["respondents"] == 11 for x in tr)
        assert all(x["suppressed"] for x in tr if x["group"] == "X")
        cm = live.get(f"{url}/api/v1/engagement/comments", params={"team": "Y", "min_group": 8}).json()
        assert cm == []


def test_demo_adds_engagement_with_agents_and_redacted_comments(tmp_path):
    from typer.testing import CliRunner

    from cxlens.cli import app

    p = tmp_path / "demo.duckdb"
    r = CliRunner().invoke(app, ["-w", str(p), "demo", "--size", "150", "--engagement"], catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    with cxlens.open(p, read_only=True) as ws:
        names = [n for (n,) in ws.store.rows("SELECT name FROM employees")]
        comments = [c for (c,) in ws.store.rows("SELECT comment FROM pulse_comments")]
        sc = ws.engagement.scorecard("team")
        assert ws.store.scalar("SELECT count(*) FROM demo_truth WHERE key = 'engagement'") == 1
    assert len(names) > 40 and comments and all(c.startswith("[NAME] ") for c in comments)
    assert not any(n.split()[0] in c for n in names for c in comments)
    demo_teams = sc[sc.team.str.startswith("team-")]
    assert len(demo_teams) == 8 and (demo_teams.tickets == 40).all() and demo_teams.fcr.notna().all()


def test_engagement_page_shows_scorecard_trend_and_comments(wspath):
    from cxlens.web import create_app

    with running(create_app(wspath)) as url:
        page = live.get(f"{url}/engagement", params={"card": "agent"})
        assert page.status_code == 200, page.text
        html = page.text
        assert 'id="engagement-scorecard"' in html and 'data-key="a1"' in html and "hidden: fewer than 3" in html
        assert 'id="engagement-trend"' in html and 'data-period="2026-02-01"' in html
        assert "[NAME] never answers" in html and "Alice" not in html and "corp.example" not in html
        assert live.get(f"{url}/engagement", params={"card": "email"}).status_code == 422
