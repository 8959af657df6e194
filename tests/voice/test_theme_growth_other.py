"""The ``theme`` alert's growth test counts a theme's share of every assigned verbatim, the unthemed too.

``theme_summary`` (the themes page, the digest) defines a theme's ``share`` as its verbatims over every
verbatim the themes job assigned, those it gave no theme ("Other (no theme)") included; the emerging-theme
alert used to divide by the themed verbatims only. The stored themes are written here by hand (as the
``voice.themes`` job stores them), so the counts are known: the oracle is those counts and the pooled
two-proportion z formula written out below.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import pandas as pd
import pytest

import cxlens
from cxlens.metrics.common import period_start

#: (refund, delivery, no theme) verbatims of the week before last and of last week
BEFORE, LAST = (2, 4, 14), (6, 4, 2)


def _z(x1: int, n1: int, x0: int, n0: int) -> float:
    p = (x1 + x0) / (n1 + n0)
    return (x1 / n1 - x0 / n0) / math.sqrt(p * (1 - p) * (1 / n1 + 1 / n0))


@pytest.fixture(scope="module")
def wspath(tmp_path_factory):
    slot = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    last = pd.Timestamp(period_start(slot, "week")) - pd.Timedelta(days=7)
    rows, themes = [], []
    for start, counts in ((last - pd.Timedelta(days=7), BEFORE), (last, LAST)):
        k = 0
        for theme, n in zip(("refund", "delivery", None), counts, strict=True):
            for _ in range(n):
                fid = f"g{len(rows)}"
                rows.append({"feedback_id": fid, "customer_id": f"C{len(rows)}", "ts": start + pd.Timedelta(hours=1 + k),
                             "metric": "nps", "score": 5.0, "comment": f"comment {fid} about {theme or 'nothing'}"})  # fmt: skip
                themes.append((f"feedback:{fid}", theme, json.dumps([theme] if theme else []), "test"))
                k += 1
    path = tmp_path_factory.mktemp("growth") / "w.duckdb"
    with cxlens.open(path) as ws:
        ws.load("feedback", pd.DataFrame(rows))
        with ws.transaction(changes=["verbatim_themes"]) as cur:  # what the voice.themes job stores
            cur.executemany("INSERT INTO verbatim_themes VALUES (?, ?, ?, ?)", themes)
        ws.act.allow_host("127.0.0.1", private=True)  # the rule is only tested: nothing is sent
        ws.act.load_rules({"rules": [{"name": "growth", "when": {"theme": {"emerging": True, "period": "week"}},
                                      "do": [{"webhook": {"url": "http://127.0.0.1:9/cx"}}]}]})  # fmt: skip
    return path


def _check(rows: list[dict]) -> None:
    by = {r["theme"]: r for r in rows}
    assert set(by) == {"refund", "delivery"}  # the texts without a theme are not an issue that can emerge
    n1, n0 = sum(LAST), sum(BEFORE)  # 12 and 20 assigned verbatims, 2 and 14 of them without a theme
    for i, theme in enumerate(("refund", "delivery")):
        r, x1, x0 = by[theme], LAST[i], BEFORE[i]
        assert (r["count"], r["previous"]) == (x1, x0)
        assert r["period_share"] == pytest.approx(x1 / n1, rel=1e-12)
        assert r["previous_share"] == pytest.approx(x0 / n0, rel=1e-12)
        assert r["z"] == pytest.approx(_z(x1, n1, x0, n0), rel=1e-9)
    # refund: 6/12 against 2/20 — grown 5-fold (over the themed verbatims only it would be 0.6 / (2/6) = 1.8)
    assert by["refund"]["growth"] == pytest.approx(5.0, rel=1e-9) and by["refund"]["fires"]
    assert not by["delivery"]["fires"]  # 4/12 against 4/20: z = 1.0, not significant


def test_rules_test_growth_shares_are_of_every_assigned_verbatim(wspath, monkeypatch):
    from typer.testing import CliRunner

    from cxlens.cli import app

    with cxlens.open(wspath) as ws:
        _check(ws.act.test("growth").to_dict("records"))
    res = CliRunner().invoke(app, ["-w", str(wspath), "rules", "test", "growth", "--format", "json"],
                             catch_exceptions=False)  # fmt: skip
    assert res.exit_code == 0, res.output
    _check(json.loads(res.stdout))


def test_rules_test_api_growth_shares_are_of_every_assigned_verbatim(wspath):
    from fastapi.testclient import TestClient

    from cxlens.web import create_app

    with TestClient(create_app(wspath)) as c:
        got = c.post("/api/v1/rules/growth/test", json={})
    assert got.status_code == 200, got.text
    _check(got.json())
