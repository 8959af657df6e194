"""CLI: `segments rule|list`, `--segment` on metrics and funnel, `revenue-at-risk` — checked against SQL/the library."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

import cxlens
from cxlens.ingest import write_demo


def run(ws, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return subprocess.run(
        [sys.executable, "-m", "cxlens", "--workspace", str(ws), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.fixture(scope="module")
def wpath(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "demo.duckdb"
    with cxlens.open(path) as w:
        write_demo(w, "small", seed=4)
    return path


def test_rule_segment_then_metrics_and_funnel_restricted_to_it(wpath):
    res = run(wpath, "segments", "rule", "vip_de", "-r", "plan=vip", "-r", "country=DE")
    assert res.returncode == 0, res.stderr
    with cxlens.open(wpath, read_only=True) as w:
        ids = set(w.sql("SELECT customer_id FROM customers WHERE plan = 'vip' AND country = 'DE'")["customer_id"])
        fb = w.sql("SELECT customer_id, score FROM feedback WHERE metric = 'nps'")
        visitors = w.sql("SELECT DISTINCT customer_id FROM events WHERE name = 'visit'")
    assert f"{len(ids):,} customers" in res.stdout
    listed = json.loads(run(wpath, "segments", "list", "--format", "json").stdout)
    assert [(r["segment"], r["customers"]) for r in listed] == [("vip_de", len(ids))]

    got = json.loads(run(wpath, "metrics", "nps", "--segment", "vip_de", "--format", "json").stdout)[0]
    s = fb[fb["customer_id"].isin(ids)]["score"]
    assert got["n"] == len(s)
    assert got["nps"] == pytest.approx(100 * ((s >= 9).mean() - (s <= 6).mean()))

    f = json.loads(run(wpath, "funnel", "visit>purchase", "--segment", "vip_de", "--format", "json").stdout)
    assert f[0]["customers"] == int(visitors["customer_id"].isin(ids).sum())

    bad = run(wpath, "metrics", "nps", "--segment", "nope")
    assert bad.returncode != 0 and "no stored segment 'nope'" in bad.stderr


def test_revenue_at_risk_command_prints_the_library_ranking(wpath):
    from cxlens.customers.risk import workspace_revenue_at_risk

    res = run(wpath, "revenue-at-risk", "--by", "touchpoint", "--format", "json")
    assert res.returncode == 0, res.stderr
    got = pd.DataFrame(json.loads(res.stdout))
    with cxlens.open(wpath, read_only=True) as w:
        ref = workspace_revenue_at_risk(w, "touchpoint")
    assert got["touchpoint"].tolist() == ref["touchpoint"].tolist()
    assert got["revenue_at_risk"].tolist() == pytest.approx(ref["revenue_at_risk"].tolist())
    assert got["ci_low"].tolist() == pytest.approx(ref["ci_low"].tolist())
    assert got["touchpoint"].iloc[0] == "delivery"
