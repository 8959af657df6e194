"""CLI output that is pleasant to use: nothing truncated through a real pipe or on a narrow
terminal, ``--format table|json|csv`` where a table is printed, and ``cxlens --help`` grouped by
workflow. Commands run in a subprocess with stdout a pipe (not a TTY) and ``COLUMNS=40``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cxlens
from cxlens.cli import app
from cxlens.journeys.maps import MAP_COLUMNS

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _pipe(*args: str, ws: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), "COLUMNS": "40"}
    pre = ["-w", str(ws)] if ws else []
    res = subprocess.run(
        [sys.executable, "-m", "cxlens", *pre, *args], capture_output=True, text=True, env=env, timeout=180
    )
    assert res.returncode == 0, res.stderr
    return res


@pytest.fixture(scope="module")
def wpath(sample_path, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cliout") / "shop.duckdb"
    shutil.copy(sample_path, path)
    return path


@pytest.fixture(scope="module")
def jmap(wpath):
    with cxlens.open(wpath, read_only=True) as ws:
        return ws.journeys.map()


def test_help_groups_commands_by_workflow():
    out = _pipe("--help").stdout
    panels = ["Get data in", "Analyse", "Predict", "Act", "Administer"]
    at = [out.find(f"─ {p} ") for p in panels]
    assert all(i >= 0 for i in at), out
    assert at == sorted(at)  # in workflow order
    sections = dict(zip(panels, [out[a:b] for a, b in zip(at, [*at[1:], len(out)], strict=True)], strict=True))
    for panel, commands in {
        "Get data in": ["import", "demo", "collect", "survey"],
        "Analyse": ["metrics", "funnel", "paths", "journey", "voice", "segments", "personas"],
        "Predict": ["clv", "churn", "revenue-at-risk", "models"],
        "Act": ["recommend"],
        "Administer": ["serve", "info", "users", "keys", "jobs", "bench"],
    }.items():
        for c in commands:
            assert f"│ {c} " in sections[panel], (panel, c)


def test_piped_table_keeps_every_name_and_value(wpath, jmap):
    out = _pipe("journey", "map", ws=wpath).stdout
    lines = out.splitlines()
    header = lines[0].split()
    assert header == ["stage", "touchpoint", "volume", "reach", "drop_off", "nps", "csat", "ces", "pain_score",
                      "pain_rank"]  # fmt: skip
    assert set(lines[1]) <= {"-", " "}
    assert "…" not in out
    assert len(lines) == 2 + len(jmap)
    for line, (_, r) in zip(lines[2:], jmap.iterrows(), strict=True):
        if r["touchpoint"] is not None:
            assert r["touchpoint"] in line  # whole, even the longest
        assert f"{int(r['volume']):,}" in line
    assert max(len(x) for x in lines) > 40  # wider than COLUMNS: not wrapped to the terminal


def test_piped_csv_and_json_are_the_library_table(wpath, jmap):
    rows = list(csv.DictReader(io.StringIO(_pipe("journey", "map", "--format", "csv", ws=wpath).stdout)))
    assert list(rows[0].keys()) == MAP_COLUMNS and len(rows) == len(jmap)
    assert [r["touchpoint"] for r in rows] == ["" if v is None else v for v in jmap["touchpoint"]]
    assert [int(r["volume"]) for r in rows] == jmap["volume"].tolist()
    info = json.loads(_pipe("info", "--format", "json", ws=wpath).stdout)
    with cxlens.open(wpath, read_only=True) as ws:
        counts = ws.counts()
    assert {r["table"]: r["rows"] for r in info} == counts


def test_more_commands_take_format(wpath):
    runner = CliRunner()
    res = runner.invoke(app, ["-w", str(wpath), "journey", "show", "--format", "csv"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    with cxlens.open(wpath, read_only=True) as ws:
        j = ws.journey
    assert {r["touchpoint"] for r in rows if r["touchpoint"]} == {t.id for t in j.touchpoints}
    res = runner.invoke(app, ["-w", str(wpath), "users", "list", "--format", "json"])
    assert res.exit_code == 0 and json.loads(res.stdout) == []
    plain = runner.invoke(app, ["-w", str(wpath), "journey", "show"])  # CliRunner's stdout is not a TTY
    assert plain.exit_code == 0 and plain.stdout.splitlines()[0].split() == [
        "stage", "stage_label", "touchpoint", "touchpoint_label", "channel",
    ]  # fmt: skip
