"""Always-valid figures over every look: the reported ``seq_p_value`` is the running minimum over the
read-outs so far and the always-valid CI their running intersection (stored in ``experiment_looks``)
— library, CLI (subprocess, writable: it records its look) and HTTP API.

Oracles: Johari et al.'s mSPRT written out here (Λ = sqrt(V/(V+τ²))·exp(τ²θ²/(2V(V+τ²))), V = SE²,
τ² = ρ²·SE²·n) from hand-computed unpooled standard errors, and the per-look values the read-out
reports, min/max'd in the test.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import cxlens

from .. import live
from ..conftest import running
from .test_readout import _cli, _event, _exposure

ALPHA, TUNING = 0.05, 5000


def msprt_p(xa: int, na: int, xb: int, nb: int) -> float:
    pa, pb = xa / na, xb / nb
    se = math.sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb)
    rho2 = (-2 * math.log(ALPHA) + math.log(-2 * math.log(ALPHA) + 1)) / TUNING
    v, tau2 = se * se, rho2 * se * se * (na + nb)
    lam = math.sqrt(v / (v + tau2)) * math.exp(tau2 * (pb - pa) ** 2 / (2 * v * (v + tau2)))
    return min(1.0, 1 / lam)


def _arm(prefix: str, variant: str, n: int, converted: int, day: float) -> list[dict]:
    rows = [_exposure(f"{prefix}{i}", variant, day, exp="peek") for i in range(n)]
    return rows + [_event(f"{prefix}{i}", "purchase", day + 1) for i in range(converted)]


@pytest.fixture(scope="module")
def wpath(tmp_path_factory):
    p = tmp_path_factory.mktemp("looks") / "w.duckdb"
    with cxlens.open(p) as ws:
        ws.experiments.define("peek", ["control", "b"])
        # look 1: an early lucky streak, 20/200 vs 55/200
        ws.load("events", pd.DataFrame(_arm("c1-", "control", 200, 20, 0) + _arm("b1-", "b", 200, 55, 0)))
    return p


def test_a_later_look_cannot_raise_the_always_valid_p_value(wpath):
    with cxlens.open(wpath) as ws:
        r1 = ws.experiments.results("peek", "purchase")["variants"][1]
    p1 = msprt_p(20, 200, 55, 200)
    assert r1["seq_p_value_look"] == pytest.approx(p1, rel=1e-9) and r1["seq_p_value"] == pytest.approx(p1, rel=1e-9)
    assert r1["seq_looks"] == 1 and r1["seq_p_value"] < ALPHA and r1["seq_significant"] is True
    # look 2 (CLI, as a daily cron would): 2,000 more per arm with equal rates: the difference shrinks
    with cxlens.open(wpath) as ws:
        ws.load("events", pd.DataFrame(_arm("c2-", "control", 2000, 200, 2) + _arm("b2-", "b", 2000, 200, 2)))
    proc = _cli(wpath, "experiment", "results", "peek", "--goal", "purchase", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    r2 = json.loads(proc.stdout)["variants"][1]
    p2 = msprt_p(220, 2200, 255, 2200)
    assert p2 > 10 * p1  # this look alone would report a much larger p-value…
    assert r2["seq_p_value_look"] == pytest.approx(p2, rel=1e-9)
    assert r2["seq_p_value"] == pytest.approx(p1, rel=1e-9)  # …the running minimum keeps the first
    assert r2["seq_looks"] == 2 and r2["seq_significant"] is True
    assert r2["seq_ci_low"] == pytest.approx(max(r1["seq_ci_low_look"], r2["seq_ci_low_look"]))
    assert r2["seq_ci_high"] == pytest.approx(min(r1["seq_ci_high_look"], r2["seq_ci_high_look"]))
    assert r2["seq_ci_low"] > 0 and not r2["seq_ci_empty"]
    # fixed-horizon fields are this look's only, as the issue asks
    assert r2["converted"] == 255 and r2["exposed"] == 2200
    from cxlens.web import create_app

    with running(create_app(wpath)) as url:
        body = live.get(f"{url}/api/v1/experiments/peek/results", params={"goal": "purchase"}).json()
        b = body["variants"][1]
        # unchanged data: the same look, not a new one
        assert b["seq_looks"] == 2 and b["seq_p_value"] == pytest.approx(p1, rel=1e-9)
        other = live.get(f"{url}/api/v1/experiments/peek/results", params={"goal": "purchase", "alpha": 0.1})
        assert other.json()["variants"][1]["seq_looks"] == 1  # another alpha is another sequence
        page = live.get(f"{url}/experiments/peek", params={"goal": "purchase"})
        assert page.status_code == 200 and "running minimum over 2 look(s)" in page.text
    with cxlens.open(wpath, read_only=True) as ws:  # read-only: reports over the stored looks, records none
        ro = ws.experiments.results("peek", "purchase")["variants"][1]
        assert ro["seq_p_value"] == pytest.approx(p1, rel=1e-9) and ro["seq_looks"] == 2
        hist = ws.store.read("SELECT count(*) AS n FROM experiment_looks WHERE experiment = 'peek'")
        assert int(hist["n"][0]) == 3  # two looks at alpha 0.05, one at alpha 0.1


def test_simulated_daily_looks_report_a_monotone_p_value(tmp_path):
    """An A/A test read every day for 12 days: the per-look p-value goes up and down, the reported one
    never rises and is always the minimum of the looks so far."""
    rng = np.random.default_rng(11)
    p = tmp_path / "sim.duckdb"
    reported, per_look = [], []
    with cxlens.open(p) as ws:
        ws.experiments.define("peek", ["control", "b"])
        for day in range(12):
            rows = []
            for arm in ("control", "b"):
                conv = rng.random(150) < 0.1
                rows += [_exposure(f"{arm}{day}-{i}", arm, day, exp="peek") for i in range(150)]
                rows += [_event(f"{arm}{day}-{i}", "purchase", day + 0.5) for i in np.flatnonzero(conv)]
            ws.load("events", pd.DataFrame(rows))
            r = ws.experiments.results("peek", "purchase")["variants"][1]
            per_look.append(r["seq_p_value_look"])
            reported.append(r["seq_p_value"])
            assert r["seq_looks"] == day + 1
    assert any(b > a for a, b in zip(per_look, per_look[1:], strict=False))  # the look values do rise…
    assert all(b <= a for a, b in zip(reported, reported[1:], strict=False))  # …the reported never does
    assert reported == pytest.approx(list(np.minimum.accumulate(per_look)))


def test_a_version_6_workspace_without_the_learn_tables_gets_them_by_migration_7(tmp_path):
    """The learn tables once created on first use (looks, pulse sends/used, interview invites/opt-outs)
    reach an old workspace by migration 7 when it is opened writable; read-only, it is refused until then,
    and the read-out, pulse link and opt-out then work on the migrated workspace."""
    import duckdb

    from cxlens.errors import WorkspaceError

    tables = ["experiment_looks", "pulse_sends", "pulse_used", "interview_invites", "interview_optouts"]
    p = tmp_path / "old.duckdb"
    with cxlens.open(p) as ws:
        ws.experiments.define("peek", ["control", "b"])
        ws.load("events", pd.DataFrame(_arm("c1-", "control", 200, 20, 0) + _arm("b1-", "b", 200, 55, 0)))
    con = duckdb.connect(str(p))  # as a workspace of version 6, before these tables were in the schema
    for t in tables:
        con.execute(f"DROP TABLE {t}")
    con.execute("UPDATE _cxlens_meta SET value='6' WHERE key='schema_version'")
    con.close()
    with pytest.raises(WorkspaceError, match="open it writable once"):
        cxlens.open(p, read_only=True)
    with cxlens.open(p) as ws:
        assert all(ws.store.has_table(t) for t in tables)
        r = ws.experiments.results("peek", "purchase")["variants"][1]
        assert r["seq_looks"] == 1 and r["seq_p_value"] == pytest.approx(msprt_p(20, 200, 55, 200), rel=1e-9)
        assert len(ws.store.read("SELECT * FROM experiment_looks")) == 1
        token = ws.engagement.pulse_token("q1", {"team": "Support"})
        assert ws.engagement.answer_pulse(token, {"enps": 9}) == 1
        assert ws.store.one("SELECT count(*) FROM pulse_used")[0] == 1
        from cxlens.interviews.invite import opt_out

        opt_out(ws.store, "c1")
        assert ws.store.one("SELECT customer_id FROM interview_optouts")[0] == "c1"
    with cxlens.open(p, read_only=True) as ws:  # read-only after the migration: reports over the stored look
        assert ws.experiments.results("peek", "purchase")["variants"][1]["seq_looks"] == 1
