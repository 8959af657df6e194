"""The eNPS trends and the summary, read all together, pin down no group's week of 1…``min_group``−1
respondents — also in the patterns the margin-by-margin planning alone lets through.

The attacker is independent of the suppression code: it reads what the HTTP API and the CLI publish
(the summary by team; for week, month and quarter the trends by team, of the population and filtered to
some teams) and writes every shown respondent count as an equation over *atoms* — the respondents of one
team in one week cut at month starts, computed here from the raw answers with its own calendar. It looks
for (1) sets of up to three atoms with 1…``min_group``−1 respondents whose sum is determined (orthogonal
to the null space of the equations), and (2) atoms and suppressed rows whose least and largest possible
counts (two linear programs, scipy ``linprog``) both lie in 1…``min_group``−1.

Control: with the whole-pattern check switched off (the margins alone, as before), :data:`PATTERN` leaks
(one respondent is determined); with it, neither the pattern nor the seeded random data leak.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import cxlens

from .. import live
from ..conftest import running
from . import _attacker as attacker
from .test_engagement import _cli

K = 5
TEAMS = ("A", "B", "C", "D", "E", "F")
START = pd.Timestamp("2026-02-02")  # a Monday; 9 weeks to early April (two quarters, two month cuts)


# A "dumbbell" in March 2026 (weeks of 2, 9, 16 and 23 March; one month, one quarter): the hidden team ×
# week cells form two rectangles, A,B × 2,9 March and C,D × 16,23 March, joined by B's 16 March (one
# respondent). Every week and every team's month holds two or more hidden cells with 5+ respondents between
# them, so each margin alone is safe; yet B's 16 March = B's month − (week 2 + week 9 − A's month), the
# rest of those weeks (team E) being shown.
PATTERN = [("A", "2026-03-02", 2), ("B", "2026-03-02", 3), ("A", "2026-03-09", 3), ("B", "2026-03-09", 2),
           ("B", "2026-03-16", 1), ("C", "2026-03-16", 2), ("D", "2026-03-16", 2),
           ("C", "2026-03-23", 3), ("D", "2026-03-23", 3)]  # fmt: skip
PATTERN += [("E", day, 6) for day in ("2026-03-03", "2026-03-10", "2026-03-17", "2026-03-24")]


def build(path, seed: int | None) -> None:
    """Per team and week a few respondents (often fewer than K), each on a random day of the week; or,
    with ``seed`` None, :data:`PATTERN`."""
    if seed is None:
        plan = PATTERN
    else:
        rng = np.random.default_rng(seed)
        plan = [(team, (START + pd.Timedelta(days=7 * w + int(rng.integers(0, 7)))).date().isoformat(), 1)
                for team in TEAMS for w in range(9)
                for _ in range(int(rng.choice([0, 1, 2, 3, 5, 8], p=[0.2, 0.2, 0.2, 0.1, 0.15, 0.15])))]  # fmt: skip
    emp, pulse = [], []
    for j, (team, day, n) in enumerate(plan):
        for i in range(n):
            eid = f"{team}-{j}-{i}"
            emp.append({"employee_id": eid, "team": team})
            pulse.append({"employee_id": eid, "ts": day, "question": "enps", "score": (i * 7 + j) % 11})
    with cxlens.open(path) as ws:
        ws.engagement.import_employees(pd.DataFrame(emp))
        ws.engagement.import_pulse(pd.DataFrame(pulse))


def published(path) -> list[dict]:
    """Every row the HTTP API shows — the summary by team, and per period the trends by team, alone, and
    filtered to some teams (their population row is those teams' sum) — and the CLI's weekly trend."""
    from cxlens.web import create_app

    calls = [(None, None, "summary", {"by": "team"})]
    for kind in ("week", "month", "quarter"):
        calls += [(kind, None, "trend", {"period": kind, "by": "team"}), (kind, None, "trend", {"period": kind})]
        calls += [(kind, picked, "trend", {"period": kind, "team": picked}) for picked in (["E"], ["C", "E"])]
    rows = []
    with running(create_app(path)) as url:
        for kind, picked, what, params in calls:
            r = live.get(f"{url}/api/v1/engagement/{what}", params=params)
            assert r.status_code == 200, r.text
            rows += [x | {"kind": kind, "picked": picked} for x in r.json()]
    res = _cli(path, "engagement", "trend", "--period", "week", "--by", "team", "--format", "json")
    assert res.exit_code == 0, res.stdout
    rows += [x | {"kind": "week", "picked": None} for x in json.loads(res.stdout)]
    return rows


def leaks(path, rows: list[dict]) -> list[str]:
    atoms = attacker.atoms(path, ["team"])
    n = atoms["n"].to_numpy(float)

    def members(r: dict) -> np.ndarray:
        if r["group"] != "(all)":
            m = (atoms["team"] == r["group"]).to_numpy()
        else:
            m = np.ones(len(atoms), bool) if r["picked"] is None else atoms["team"].isin(r["picked"]).to_numpy()
        if r["kind"] is not None:
            m = m & (atoms[r["kind"]] == str(r["period"])[:10]).to_numpy()
        return m.astype(float)

    shown = [r for r in rows if not r["suppressed"]]
    a = np.array([members(r) for r in shown])
    b = np.array([float(r["respondents"]) for r in shown])
    names = [f"{t.team} {t.week} ({t.n})" for t in atoms.itertuples()]
    targets = [(f"atom {names[i]}", np.eye(len(atoms))[i]) for i in range(len(atoms))]
    targets += [(f"row {r['group']} {r['kind']} {r.get('period')}", members(r)) for r in rows if r["suppressed"]]
    return attacker.leaks(a, b, n, names, targets, K)


SEEDS = (None, 1, 2, 23, 27)  # None: PATTERN; on 23 and 27 the check hides more than the margins do


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    return attacker.built(tmp_path_factory, "trend", SEEDS, build)


def _margins_only(monkeypatch):
    summ = importlib.import_module("cxlens.engagement.summary")
    monkeypatch.setattr(summ, "JOINT", False)  # the per-dimension plan, whose check is switched off next
    monkeypatch.setattr(summ, "_audit", lambda atoms, hidden, fixed, k: hidden)


@pytest.mark.parametrize("seed", SEEDS)
def test_nothing_published_pins_down_a_few_respondents(paths, seed):
    rows = published(paths[seed])
    assert leaks(paths[seed], rows) == []
    assert sum(1 for r in rows if not r["suppressed"] and r["group"] != "(all)") >= 6  # something is shown


def test_the_margins_alone_leak(paths, monkeypatch):
    """Not vacuous: without the whole-pattern check the attacker finds B's one respondent of 16 March."""
    _margins_only(monkeypatch)
    found = leaks(paths[None], published(paths[None]))
    assert "determined B 2026-03-16 (1)" in found, found


@pytest.mark.parametrize("seed", [23, 27])
def test_the_check_hides_more_than_the_margins_on_random_data(paths, seed, monkeypatch):
    def hidden() -> set:
        out = set()
        for kind in ("week", "month"):
            res = _cli(paths[seed], "engagement", "trend", "--period", kind, "--by", "team", "--format", "json")
            out |= {(kind, r["group"], r["period"]) for r in json.loads(res.stdout) if r["suppressed"]}
        return out

    checked = hidden()
    _margins_only(monkeypatch)
    assert checked > hidden()


def test_the_plan_is_the_same_in_every_process(paths):
    """The hidden rows do not depend on the order of a set (string hashing differs per process)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    outs = []
    for hashseed in ("1", "2"):
        res = subprocess.run(
            [sys.executable, "-m", "cxlens", "-w", str(paths[23]), "engagement", "trend", "--period", "week",
             "--by", "team", "--format", "json"],
            env=env | {"PYTHONHASHSEED": hashseed}, capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        outs.append(json.loads(res.stdout))
    assert outs[0] == outs[1]
    assert any(r["suppressed"] for r in outs[0]) and not all(r["suppressed"] for r in outs[0])


def test_a_stricter_min_group_only_hides_more(paths):
    """A caller's stricter ``min_group`` starts from the workspace's plan: comparing the two reveals nothing."""

    def hidden(*extra: str) -> set:
        out = set()
        for kind in ("week", "month", "quarter"):
            res = _cli(paths[None], "engagement", "trend", "--period", kind, "--by", "team", *extra, "--format", "json")
            assert res.exit_code == 0, res.stdout
            out |= {(kind, r["group"], r["period"]) for r in json.loads(res.stdout) if r["suppressed"]}
        return out

    default, strict = hidden(), hidden("--min-group", "6")
    assert default < strict
