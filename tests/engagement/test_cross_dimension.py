"""Views of two dimensions (team and location) read together pin down no group of 1…``min_group``−1
respondents: the summary and the trends are planned over every dimension at once.

The attacker is independent of the suppression code: it reads what the HTTP API and the CLI publish (the
summary and the week, month and quarter trends by team and by location, of the population and filtered to
one team or one location) and writes every shown respondent count as an equation over *atoms* — the
respondents of one team at one location in one week cut at month starts, computed here from the raw
answers with its own calendar. It reports (1) sets of up to three atoms with 1…``min_group``−1 respondents
whose sum is determined (orthogonal to the null space of the equations), and (2) atoms and suppressed
rows whose least and largest possible counts (scipy ``linprog``) both lie in 1…``min_group``−1.

Control: with the dimensions planned one at a time (``JOINT`` off, the former plan), :data:`CROSS` leaks
(team A at location Y is one person: A − X, every view alone being safe); with the joint plan neither it
nor two seeds of random data leak.
"""

from __future__ import annotations

import importlib
import json

import numpy as np
import pandas as pd
import pytest

import cxlens

from .. import live
from ..conftest import running
from . import _attacker as attacker
from .test_engagement import _cli

K = 5
START = pd.Timestamp("2026-02-02")  # a Monday

# Team A: 6 at location X and 1 at Y; team B: 8 at Y; team C: 5 at X (one week). By team: A 7, B 8, C 5;
# by location: X 11, Y 9 — every group is shown, yet A at Y = Y − B = 1 person.
CROSS = [("A", "X", "2026-03-03", 6), ("A", "Y", "2026-03-04", 1), ("B", "Y", "2026-03-05", 8),
         ("C", "X", "2026-03-03", 5)]  # fmt: skip


def build(path, seed: int | None) -> None:
    if seed is None:
        plan = CROSS
    else:
        rng = np.random.default_rng(seed)
        plan = [(team, str(rng.choice(["X", "Y", "Z"])),
                 (START + pd.Timedelta(days=7 * w + int(rng.integers(0, 7)))).date().isoformat(), 1)
                for team in "ABCD" for w in range(6)
                for _ in range(int(rng.choice([0, 1, 2, 3, 6], p=[0.2, 0.25, 0.2, 0.15, 0.2])))]  # fmt: skip
    emp, pulse = [], []
    for j, (team, loc, day, n) in enumerate(plan):
        for i in range(n):
            eid = f"{team}-{j}-{i}"
            emp.append({"employee_id": eid, "team": team, "location": loc})
            pulse.append({"employee_id": eid, "ts": day, "question": "enps", "score": (i * 7 + j) % 11})
    with cxlens.open(path) as ws:
        ws.engagement.import_employees(pd.DataFrame(emp))
        ws.engagement.import_pulse(pd.DataFrame(pulse))


def published(path) -> list[dict]:
    """Every row the HTTP API shows for team and location (summary; trends per period, alone and filtered
    to one group) and the CLI's summary by location."""
    from cxlens.web import create_app

    calls = []
    for dim, one in (("team", "A"), ("location", "Y")):
        calls += [(dim, None, None, "summary", {"by": dim}), (dim, None, None, "summary", {}),
                  (dim, [one], None, "summary", {dim: one})]  # fmt: skip
        for kind in ("week", "month", "quarter"):
            calls += [(dim, None, kind, "trend", {"period": kind, "by": dim}),
                      (dim, None, kind, "trend", {"period": kind}),
                      (dim, [one], kind, "trend", {"period": kind, dim: one})]  # fmt: skip
    rows = []
    with running(create_app(path)) as url:
        for dim, picked, kind, what, params in calls:
            r = live.get(f"{url}/api/v1/engagement/{what}", params=params)
            assert r.status_code == 200, r.text
            rows += [x | {"dim": dim, "kind": kind, "picked": picked} for x in r.json()]
    res = _cli(path, "engagement", "summary", "--by", "location", "--format", "json")
    assert res.exit_code == 0, res.stdout
    rows += [x | {"dim": "location", "kind": None, "picked": None} for x in json.loads(res.stdout)]
    return rows


def leaks(path, rows: list[dict]) -> list[str]:
    atoms = attacker.atoms(path, ["team", "location"])
    n = atoms["n"].to_numpy(float)

    def members(r: dict) -> np.ndarray:
        if r["group"] != "(all)":
            m = (atoms[r["dim"]] == r["group"]).to_numpy()
        elif r["picked"] is None:
            m = np.ones(len(atoms), bool)
        else:
            m = atoms[r["dim"]].isin(r["picked"]).to_numpy()
        if r["kind"] is not None:
            m = m & (atoms[r["kind"]] == str(r["period"])[:10]).to_numpy()
        return m.astype(float)

    shown = [r for r in rows if not r["suppressed"]]
    a = np.array([members(r) for r in shown]).reshape(len(shown), len(atoms))
    b = np.array([float(r["respondents"]) for r in shown])
    names = [f"{t.team}@{t.location} {t.week} ({t.n})" for t in atoms.itertuples()]
    targets = [(f"atom {names[i]}", np.eye(len(atoms))[i]) for i in range(len(atoms))]
    targets += [(f"row {r['dim']} {r['group']} {r['kind']} {r['period'] if r['kind'] else ''}", members(r))
                for r in rows if r["suppressed"]]  # fmt: skip
    return attacker.leaks(a, b, n, names, targets, K)


SEEDS = (None, 3, 8)


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    return attacker.built(tmp_path_factory, "cross", SEEDS, build)


def test_planning_each_dimension_alone_leaks_across_dimensions(paths, monkeypatch):
    """Not vacuous: planned per dimension, the attacker finds team A's one respondent at location Y."""
    monkeypatch.setattr(importlib.import_module("cxlens.engagement.summary"), "JOINT", False)
    found = leaks(paths[None], published(paths[None]))
    assert "determined A@Y 2026-03-02 (1)" in found, found


@pytest.mark.parametrize("seed", SEEDS)
def test_the_joint_plan_pins_down_no_one_across_dimensions(paths, seed):
    rows = published(paths[seed])
    assert leaks(paths[seed], rows) == []
    assert any(not r["suppressed"] and r["group"] != "(all)" for r in rows)  # something is shown


def test_the_summary_shows_what_the_plan_assumed(paths):
    """The all-time rows the joint plan hides are hidden in the summary, with the same answer from the
    library, the CLI and every process (the plan does not depend on which view was asked first)."""
    with cxlens.open(paths[None], read_only=True) as ws:
        lib = ws.engagement.summary("team")
    res = _cli(paths[None], "engagement", "summary", "--by", "team", "--format", "json")
    cli = pd.DataFrame(json.loads(res.stdout))
    assert list(lib["suppressed"].astype(bool)) == list(cli["suppressed"].astype(bool))
    assert lib["suppressed"].astype(bool).any()
