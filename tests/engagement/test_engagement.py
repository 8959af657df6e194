"""Employee engagement: anonymous pulse answers, eNPS/engagement by hand, the small-group rule under an
exhaustive attempt to isolate people, the same rule through CLI (CSV export) and HTTP, eNPS beside CSAT."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

import cxlens
from cxlens.engagement import GROUP_COLUMNS
from cxlens.errors import ParameterError, SchemaError

from .. import live
from ..conftest import running

# team: (size, remote people); ops (2) is small; billing is hidden with it (complementary suppression)
TEAMS = {"support": (6, 1), "sales": (7, 2), "billing": (5, 0), "success": (5, 3), "ops": (2, 0),
         "returns": (5, 0), "onboarding": (6, 1)}  # fmt: skip
#: eNPS answers per team (one per employee), chosen to plant a link with the teams' CSAT below
ENPS = {"support": [10, 9, 9, 8, 3, 10], "sales": [9, 9, 9, 10, 7, 7, 2], "billing": [5, 6, 7, 8, 9],
        "success": [2, 3, 4, 9, 8], "ops": [10, 0], "returns": [6, 6, 9, 7, 7], "onboarding": [10, 10, 9, 9, 8, 6]}  # fmt: skip
CSAT_SATISFIED = {"support": 0.8, "sales": 0.7, "billing": 0.5, "success": 0.2, "ops": 0.5, "returns": 0.4,
                  "onboarding": 0.9}  # fmt: skip


def _employees() -> pd.DataFrame:
    rows = []
    for team, (n, remote) in TEAMS.items():
        for i in range(n):
            rows.append({"employee_id": f"{team}-{i}", "name": f"Person {team} {i}", "email": f"{team}{i}@corp.example",
                         "team": team, "role": "lead" if i == 0 else "agent", "manager_id": f"m-{team}",
                         "location": "remote" if i >= n - remote else "office"})  # fmt: skip
    return pd.DataFrame(rows)


def _pulse() -> pd.DataFrame:
    rows = []
    for team, scores in ENPS.items():
        for i, s in enumerate(scores):
            ts = "2026-02-01 09:00"
            rows.append({"employee_id": f"{team}-{i}", "ts": ts, "question": "enps", "score": s})
            for j, q in enumerate(("pride", "recommend", "stay_now", "stay_future", "motivation")):
                rows.append({"employee_id": f"{team}-{i}", "ts": ts, "question": q, "score": 1 + (s + j) % 5})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def wspath(tmp_path_factory):
    root = tmp_path_factory.mktemp("eng")
    _employees().to_csv(root / "employees.csv", index=False)
    _pulse().to_csv(root / "pulse.csv", index=False)
    path = root / "eng.duckdb"
    from typer.testing import CliRunner

    from cxlens.cli import app

    for args in (
        ["employees", "import", str(root / "employees.csv")],
        ["engagement", "import", str(root / "pulse.csv")],
    ):
        r = CliRunner().invoke(app, ["-w", str(path), *args], catch_exceptions=False)
        assert r.exit_code == 0, r.stderr
    # customers, tickets per team and CSAT answers after them (the planted link)
    rng = np.random.default_rng(0)
    tickets, fb = [], []
    for team, share in CSAT_SATISFIED.items():
        for i in range(40):
            cid = f"cust-{team}-{i}"
            t0 = pd.Timestamp("2026-02-10") + pd.Timedelta(hours=i)
            tickets.append({"ticket_id": f"t-{team}-{i}", "customer_id": cid, "created_at": t0, "team": team})
            score = 5 if i < share * 40 else int(rng.choice([1, 2, 3]))
            fb.append({"feedback_id": f"f-{team}-{i}", "customer_id": cid, "ts": t0 + pd.Timedelta(days=2),
                       "metric": "csat", "score": score})  # fmt: skip
            fb.append({"feedback_id": f"late-{team}-{i}", "customer_id": cid, "ts": t0 + pd.Timedelta(days=30),
                       "metric": "csat", "score": 1})  # outside the 7-day window  # fmt: skip
    with cxlens.open(path) as ws:
        ws.load("tickets", pd.DataFrame(tickets))
        ws.load("feedback", pd.DataFrame(fb))
    return path


def _cli(path, *args):
    from typer.testing import CliRunner

    from cxlens.cli import app

    return CliRunner().invoke(app, ["-w", str(path), *args], catch_exceptions=False)


def test_answers_are_stored_without_the_employee(wspath):
    with cxlens.open(wspath, read_only=True) as ws:
        cols = set(ws.sql("SELECT * FROM pulse_answers LIMIT 1").columns)
        ids = set(ws.sql("SELECT DISTINCT response_id FROM pulse_answers").response_id)
        emp = set(ws.sql("SELECT employee_id FROM employees").employee_id)
    assert "employee_id" not in cols and len(ids) == sum(n for n, _ in TEAMS.values())
    assert not ids & emp and not any(e in " ".join(ids) for e in emp)


def test_enps_and_engagement_by_hand(wspath):
    with cxlens.open(wspath, read_only=True) as ws:
        df = ws.engagement.summary(by="team").set_index("group")
    sales = ENPS["sales"]  # 4 promoters, 2 passives, 1 detractor of 7
    assert df.loc["sales", "respondents"] == 7
    assert df.loc["sales", "enps"] == pytest.approx(100 * (4 - 1) / 7)
    p, d = 4 / 7, 1 / 7
    half = 1.959964 * 100 * math.sqrt((p + d - (p - d) ** 2) / 7)
    assert df.loc["sales", "enps_high"] - df.loc["sales", "enps"] == pytest.approx(half)
    per = [np.mean([(1 + (s + j) % 5 - 1) / 4 * 100 for j in range(5)]) for s in sales]
    assert df.loc["sales", "engagement"] == pytest.approx(np.mean(per))
    lo = np.mean(per) - st.t.ppf(0.975, 6) * np.std(per, ddof=1) / math.sqrt(7)
    assert df.loc["sales", "engagement_low"] == pytest.approx(lo)
    # ops (2) is under 5; billing (5, the smallest other group) is hidden with it
    assert (
        bool(df.loc["ops", "suppressed"]) and pd.isna(df.loc["ops", "enps"]) and pd.isna(df.loc["ops", "respondents"])
    )
    assert bool(df.loc["billing", "suppressed"]) and "worked out" in df.loc["billing", "note"]
    assert not df.loc[["support", "sales", "success", "returns", "onboarding"], "suppressed"].any()
    assert df.loc["(all)", "respondents"] == 36


def _population(emp: pd.DataFrame, filters: dict, group: tuple | None) -> frozenset:
    """Who a result row is about, computed from the employee table (independently of the library)."""
    m = pd.Series(True, index=emp.index)
    for d, vals in filters.items():
        m &= emp[d].isin(vals)
    if group is not None:
        m &= emp[group[0]] == group[1]
    return frozenset(emp.loc[m, "employee_id"])


def test_no_combination_of_filters_isolates_anyone(wspath):
    """Every query a user can make (one or two filter dimensions, value subsets, breakdowns): whatever
    is shown is about 5+ people, and no two shown results differ by 1-4 people."""
    emp = _employees()
    queries = [({}, None)]
    for dim in GROUP_COLUMNS:
        values = sorted(emp[dim].unique())
        subsets = [list(c) for r in (1, 2) for c in itertools.combinations(values, r)]
        subsets += [[v for v in values if v != x] for x in values]
        for by in (None, dim):
            queries.append(({}, by))
            queries += [({dim: s}, by) for s in subsets]
    crossed = [({"team": ["support"], "location": ["office"]}, None), ({"team": ["support"]}, "location"),
               ({"location": ["office"]}, "team"), ({"role": ["agent"], "team": ["sales"]}, None)]  # fmt: skip
    shown: dict[frozenset, tuple] = {}
    refused = 0
    with cxlens.open(wspath, read_only=True) as ws:
        for filters, by in crossed:
            with pytest.raises(ParameterError, match="one dimension"):
                ws.engagement.summary(by, filters)
        for filters, by in queries:
            df = ws.engagement.summary(by, filters)
            for r in df.itertuples():
                if r.suppressed:
                    refused += 1
                    assert pd.isna(r.enps) and pd.isna(r.respondents) and pd.isna(r.engagement)
                    continue
                group = None if r.group == "(all)" else (by, r.group)
                pop = _population(emp, filters, group)
                assert len(pop) == r.respondents >= 5, (filters, by, r.group)
                shown[pop] = (filters, by, r.group)
    assert refused > 0 and len(shown) > 10
    pops = list(shown)
    for a, b in itertools.permutations(pops, 2):
        if b < a:
            assert len(a - b) >= 5, (shown[a], shown[b], sorted(a - b))


def test_min_group_is_configurable_never_below_3_and_never_lowered_by_a_caller(wspath, tmp_path):
    with cxlens.open(wspath, read_only=True) as ws:
        strict = ws.engagement.summary(by="team", min_group=7).set_index("group")
        lax = ws.engagement.summary(by="team", min_group=3).set_index("group")
    assert not strict.loc["sales", "suppressed"] and strict.loc["support", "suppressed"]
    assert lax.loc["ops", "suppressed"]  # the workspace says 5: a caller cannot go lower
    with cxlens.open(tmp_path / "x.duckdb") as ws:
        with pytest.raises(ParameterError, match="never shown"):
            ws.engagement.set_min_group(2)
        with pytest.raises(ParameterError, match="never shown"):
            ws.engagement.summary(min_group=2)


def test_cli_csv_export_applies_the_rule(wspath):
    r = _cli(wspath, "engagement", "summary", "--by", "team", "--format", "csv")
    assert r.exit_code == 0, r.stderr
    from io import StringIO

    df = pd.read_csv(StringIO(r.stdout)).set_index("group")
    assert df.loc["ops"].isna()[["respondents", "enps", "engagement"]].all()
    assert df.loc["sales", "respondents"] == 7
    refused = _cli(wspath, "engagement", "summary", "--filter", "team=ops|sales", "--format", "json")
    assert '"suppressed": true' in refused.stdout and '"enps": null' in refused.stdout


def test_bad_files_name_row_and_column(tmp_path):
    (tmp_path / "p.csv").write_text("employee_id,ts,question,score\nnobody,2026-01-01,enps,9\n")
    (tmp_path / "q.csv").write_text("team,ts,question,score\nx,2026-01-01,enps,11\n")
    with cxlens.open(tmp_path / "w.duckdb") as ws:
        with pytest.raises(SchemaError, match="'employee_id' in p.csv row 2 is 'nobody'"):
            ws.engagement.import_pulse(tmp_path / "p.csv")
        with pytest.raises(SchemaError, match="'score' in q.csv row 2 is '11'; expected 0-10"):
            ws.engagement.import_pulse(tmp_path / "q.csv")


def test_enps_beside_csat_per_team_with_correlation(wspath):
    with cxlens.open(wspath, read_only=True) as ws:
        res = ws.engagement.beside_cx(days=7)
    t = res["teams"].set_index("team")
    assert t.loc["sales", "csat"] == pytest.approx(100 * 28 / 40) and t.loc["sales", "csat_n"] == 40  # late answers out
    shown = [g for g in ("support", "sales", "success", "returns", "onboarding")]
    x = [100 * (sum(s >= 9 for s in ENPS[g]) - sum(s <= 6 for s in ENPS[g])) / len(ENPS[g]) for g in shown]
    y = [100 * math.ceil(CSAT_SATISFIED[g] * 40) / 40 for g in shown]
    r, _ = st.pearsonr(x, y)
    c = res["correlation"]
    assert c["teams"] == 5 and c["r"] == pytest.approx(r)
    z, se = math.atanh(r), 1 / math.sqrt(2)
    assert (c["ci_low"], c["ci_high"]) == (pytest.approx(math.tanh(z - 1.959964 * se)),
                                           pytest.approx(math.tanh(z + 1.959964 * se)))  # fmt: skip
    assert pd.isna(t.loc["ops", "enps"]) and t.loc["ops", "csat"] == pytest.approx(50)  # CX shown, eNPS hidden
    assert "not cause" in res["note"]


def test_http_api_applies_the_same_rule(wspath):
    from cxlens.web import create_app

    with running(create_app(wspath)) as url:
        rows = live.get(f"{url}/api/v1/engagement/summary", params={"by": "team", "min_group": 3}).json()
        by = {r["group"]: r for r in rows}
        assert by["ops"]["suppressed"] and by["ops"]["enps"] is None and by["ops"]["respondents"] is None
        assert by["sales"]["respondents"] == 7
        crossed = live.get(f"{url}/api/v1/engagement/summary", params={"team": "support", "location": "office"})
        assert crossed.status_code == 400 and "one dimension" in crossed.text
        assert live.get(f"{url}/api/v1/engagement/summary", params={"min_group": 2}).status_code == 422
        cx = live.get(f"{url}/api/v1/engagement/cx").json()
        assert cx["correlation"]["teams"] == 5 and "not cause" in cx["note"]
        assert all(t["enps"] is None for t in cx["teams"] if t["team"] in ("ops", "billing"))


def test_dashboard_page_shows_only_what_the_rule_allows(wspath):
    from cxlens.web import create_app

    with running(create_app(wspath)) as url:
        page = live.get(f"{url}/engagement", params={"by": "team"})
        assert page.status_code == 200
        html = page.text
        ops = html.split('data-group="ops"')[1].split("</tr>")[0]
        assert "hidden" in ops and "fewer than 5" in ops
        sales = html.split('data-group="sales"')[1].split("</tr>")[0]
        assert ">7<" in sales
        assert "r = " in html and "not cause" in html


def test_demo_with_a_planted_link_is_recovered(tmp_path):
    from cxlens.engagement.demo import demo_engagement

    with cxlens.open(tmp_path / "demo.duckdb") as ws:
        truth = demo_engagement(ws.store, teams=14, seed=0, link=1.2)
        res = ws.engagement.beside_cx()
    c = res["correlation"]
    assert truth["correlation"] > 0.8
    # the planted positive link is found: r > 0 with a CI above 0 (noise in small teams' eNPS pulls r
    # below the correlation of the expectations, so the CI need not cover that one)
    assert c["teams"] >= 10 and c["r"] > 0.4 and c["ci_low"] > 0
    t = res["teams"].set_index("team")
    shown = t[t["suppressed"] == False]  # noqa: E712
    for team, row in shown.iterrows():  # each team's CSAT within 4 standard errors of its true share
        p = truth["expected_csat"][team] / 100
        assert abs(row["csat"] / 100 - p) < 4 * math.sqrt(p * (1 - p) / row["csat_n"])


def _cxlens(path, *args):
    """The command as a user runs it (errors printed by the entry point, exit status 1)."""
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "cxlens", "-w", str(path), *args], capture_output=True, text=True)


def test_pulse_dates_are_read_one_way_per_column_through_the_cli(tmp_path):
    """Dates go through the importer's one-format-per-column reader: an ambiguous column is refused
    naming --dayfirst/--monthfirst, the flag settles it, offsets become UTC, an empty date is named."""
    path = tmp_path / "d.duckdb"
    (tmp_path / "emp.csv").write_text("employee_id,team\ne1,support\n")
    assert _cli(path, "employees", "import", str(tmp_path / "emp.csv")).exit_code == 0
    ambiguous = tmp_path / "a.csv"
    ambiguous.write_text("question,score,ts,employee_id\nenps,7,01/02/2026,e1\nenps,8,03/04/2026,e1\n")
    r = _cxlens(path, "engagement", "import", str(ambiguous))
    assert r.returncode == 1 and "--dayfirst" in r.stderr and "row 1" in r.stderr
    assert _cli(path, "engagement", "import", str(ambiguous), "--dayfirst").exit_code == 0
    zoned = tmp_path / "z.csv"
    zoned.write_text("question,score,ts,employee_id\nenps,9,2026-11-01T10:00:00+02:00,e1\n")
    assert _cli(path, "engagement", "import", str(zoned)).exit_code == 0
    empty = tmp_path / "e.csv"
    empty.write_text("question,score,ts,employee_id\nenps,9,2026-11-02,e1\nenps,9,,e1\n")
    r = _cxlens(path, "engagement", "import", str(empty))
    assert r.returncode == 1 and "column 'ts' in e.csv row 2" in r.stderr
    with cxlens.open(path, read_only=True) as ws:
        got = sorted(str(t) for t in ws.sql("SELECT ts FROM pulse_answers").ts)
    assert got == ["2026-02-01 00:00:00", "2026-04-03 00:00:00", "2026-11-01 08:00:00"]  # day first; UTC
