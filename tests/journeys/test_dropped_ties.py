"""The drop-off list takes the funnel's tie rule (and time basis) in the library, the CLI, the
JSON API and the funnel page, on a hand-made log where the rule decides who dropped off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import cxlens
from cxlens.errors import ConfigError
from cxlens.web import create_app

SRC = str(Path(__file__).resolve().parents[2] / "src")
STEPS = ["visit", "add_to_cart", "purchase"]
T = pd.Timestamp("2024-05-01 10:00")
MIN = pd.Timedelta(minutes=1)

#: customer → events; "tie" does visit and add_to_cart at one moment, "late" a minute apart,
#: "none" only visits; "tie3" does all three steps at one moment
LOG = {
    "tie": [("visit", T), ("add_to_cart", T)],
    "late": [("visit", T), ("add_to_cart", T + MIN)],
    "none": [("visit", T), ("visit", T + MIN)],
    "tie3": [("visit", T), ("add_to_cart", T), ("purchase", T)],
}


@pytest.fixture(scope="module")
def wpath(tmp_path_factory):
    rows = [
        {"event_id": f"{c}-{i}", "customer_id": c, "ts": ts, "name": n}
        for c, evs in LOG.items()
        for i, (n, ts) in enumerate(evs)
    ]
    path = tmp_path_factory.mktemp("ties") / "ties.duckdb"
    with cxlens.open(path) as ws:
        ws.load("events", pd.DataFrame(rows))
        ws.load("customers", pd.DataFrame({"customer_id": list(LOG)}))
    return path


#: who dropped off after step 1 / step 2, by the definition in docs/funnels.md
EXPECTED = {
    ("strict", 1): ["none", "tie", "tie3"],
    ("allow", 1): ["none"],
    ("strict", 2): ["late"],
    ("allow", 2): ["late", "tie"],
}


def test_library_dropped_follows_the_tie_rule_and_matches_the_funnel(wpath):
    with cxlens.open(wpath, read_only=True) as ws:
        for (ties, step), ids in EXPECTED.items():
            for basis in ("chain", "first"):  # the time basis never changes who dropped off
                df = ws.journeys.dropped(STEPS, step, ties=ties, time_basis=basis)
                assert df["customer_id"].tolist() == ids, (ties, step, basis)
            f = ws.journeys.funnel(STEPS, ties=ties)
            assert int(f["dropped"].iloc[step]) == len(ids)
        with pytest.raises(ConfigError, match="ties"):
            ws.journeys.dropped(STEPS, 1, ties="loose")
        with pytest.raises(ConfigError, match="time_basis"):
            ws.journeys.dropped(STEPS, 1, time_basis="last")


def _cli(wpath, *args):
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "cxlens", "-w", str(wpath), "funnel", ">".join(STEPS), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_cli_dropped_takes_ties_and_time_basis(wpath):
    for ties, step in (("allow", 1), ("strict", 1), ("allow", 2)):
        res = _cli(wpath, "--dropped", str(step), "--ties", ties, "--time-basis", "first", "--format", "json")
        assert res.returncode == 0, res.stderr
        assert [r["customer_id"] for r in json.loads(res.stdout)] == EXPECTED[(ties, step)]
    bad = _cli(wpath, "--dropped", "3")
    assert bad.returncode != 0 and "step 3" in (bad.stderr + bad.stdout)


def test_api_and_funnel_page_take_ties_and_time_basis(wpath):
    with cxlens.open(wpath) as ws, TestClient(create_app(ws)) as client:
        for (ties, step), ids in EXPECTED.items():
            params = {"steps": ">".join(STEPS), "step": step, "ties": ties, "time_basis": "first"}
            body = client.get("/api/v1/journeys/funnel/dropped", params=params).json()
            assert [r["customer_id"] for r in body["rows"]] == ids
            assert body["params"]["ties"] == ties if ties != "strict" else "ties" not in body["params"]
        bad = client.get("/api/v1/journeys/funnel/dropped", params={"steps": "a>b", "step": 1, "ties": "x"})
        assert bad.status_code in (400, 422)
        # the funnel page has both controls, and its results (and drop-off links) follow them
        page = client.get("/funnels").text
        assert 'name="ties"' in page and 'name="time_basis"' in page
        q = [("steps", s) for s in STEPS] + [("ties", "allow"), ("time_basis", "first")]
        part = client.get("/partials/funnels", params=q)
        assert "ties=allow" in part.headers["HX-Replace-Url"] and "time_basis=first" in part.headers["HX-Replace-Url"]
        assert "ties=allow" in part.text  # the drop-off list links carry the rule
        allow = ws.journeys.funnel(STEPS, ties="allow")
        assert [int(n) for n in allow["customers"]] == [4, 3, 1]
        cells = part.text.split('data-field="customers">')[1:]
        assert [c.split("<")[0] for c in cells] == ["4", "3", "1"]
        drop = client.get("/partials/funnels/dropped", params=q + [("step", "1")]).text
        assert 'data-total="1"' in drop
