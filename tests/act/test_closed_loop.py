"""Closed-loop metrics of the case queue on cases whose answers, SLAs and contacts are set by hand:
the share of detractor cases contacted within their SLA (with the Wilson interval computed by
statsmodels), hours to first contact and to close — through the library, the CLI and the API."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from statsmodels.stats.proportion import proportion_confint

import cxlens
from cxlens.act.cases import create_case
from cxlens.web.app import create_app
from cxlens.web.hub import WorkspaceHub

from .conftest import cli

H = 3600.0


@pytest.fixture(scope="module")
def lws(tmp_path_factory):
    """Five cases. support: c1 NPS 2 opened 10 h ago (due in 24 h), contacted and closed now; c2 NPS 5
    opened 30 h ago (due 24 h after), contacted by a note now — late; c3 NPS 8 (not a detractor) opened
    5 h ago, contacted now; c5 NPS 0 opened 2 h ago, only a rule's note — not contacted, not yet due.
    billing: c4 CSAT 1 opened 50 h ago, never contacted — past due."""
    path = tmp_path_factory.mktemp("loop") / "l.duckdb"
    ws = cxlens.open(path)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    answers = [("f1", "nps", 2), ("f2", "nps", 5), ("f3", "nps", 8), ("f4", "csat", 1), ("f5", "nps", 0)]
    ws.load("feedback", pd.DataFrame([{"feedback_id": f, "customer_id": f"k{f}", "ts": now, "metric": m, "score": s}
                                      for f, m, s in answers]))  # fmt: skip
    opened = {"f1": (10, "support"), "f2": (30, "support"), "f3": (5, "support"), "f4": (50, "billing"),
              "f5": (2, "support")}  # fmt: skip
    ids = {}
    for f, (hours, team) in opened.items():
        ids[f] = create_case(ws.store, customer_id=f"k{f}", team=team, priority="high", feedback_id=f, due=24 * H,
                             note="opened with a note", now=now - dt.timedelta(hours=hours))  # fmt: skip
    ws.act.update_case(ids["f1"], status="in_progress", actor="ann@example.com")
    ws.act.update_case(ids["f1"], status="closed", outcome="resolved", actor="ann@example.com")
    ws.act.update_case(ids["f2"], note="called, left a message", actor="bob@example.com")
    ws.act.update_case(ids["f3"], status="waiting", actor="bob@example.com")
    ws.act.update_case(ids["f5"], note="auto: re-survey sent", actor="rule:detractors")
    yield ws
    ws.close()


def test_sla_share_and_times_by_team(lws):
    df = lws.metrics.closed_loop(by="team").set_index("team")
    s, b = df.loc["support"], df.loc["billing"]
    # support: detractors c1, c2, c5; decided c1 (contacted), c2 (contacted); c5 is inside its SLA
    assert (s.cases, s.detractor_cases, s.sla_n, s.within_sla) == (4, 3, 2, 1)
    lo, hi = proportion_confint(1, 2, alpha=0.05, method="wilson")
    assert (
        s.within_sla_rate == 0.5
        and s.ci_low == pytest.approx(lo, abs=1e-3)
        and s.ci_high == pytest.approx(hi, abs=1e-3)
    )
    # contacts after 10, 30 and 5 hours (the rule's note on c5 and the notes at opening do not count)
    assert s.contacted == 3 and s.first_contact_median_h == pytest.approx(10, abs=0.05)
    assert s.first_contact_p90_h == pytest.approx(np.quantile([5, 10, 30], 0.9), abs=0.05)
    # three times are too few for a 95 % order-statistic interval of the median (it needs 6): none shown
    assert np.isnan(s.first_contact_low_h) and np.isnan(s.first_contact_high_h)
    assert s.closed == 1 and s.close_median_h == pytest.approx(10, abs=0.05)
    # billing: one dissatisfied CSAT answer, 50 h old, never contacted: decided and missed
    assert (b.cases, b.detractor_cases, b.sla_n, b.within_sla, b.within_sla_rate, b.contacted) == (1, 1, 1, 0, 0.0, 0)
    assert np.isnan(b.first_contact_median_h) and b.closed == 0
    everyone = lws.metrics.closed_loop().iloc[0]
    assert (everyone["group"], everyone.cases, everyone.sla_n, everyone.within_sla) == ("all", 5, 3, 1)


def test_closed_loop_through_the_cli_and_the_api(lws):
    out = json.loads(cli(lws, "cases", "loop", "--by", "team", "--format", "json").output)
    assert {r["team"]: r["within_sla"] for r in out} == {"billing": 0, "support": 1}
    hub = WorkspaceHub.open({"loop": lws.path})
    try:
        with TestClient(create_app(hub)) as c:
            rows = c.get("/api/v1/act/closed-loop", params={"by": "owner"}).json()
            assert sum(r["cases"] for r in rows) == 5
            assert c.get("/api/v1/act/closed-loop", params={"by": "colour"}).status_code == 422
            page = c.get("/cases").text
            assert 'id="closed-loop"' in page and "50% (n = 2)" in page
    finally:
        hub.close()
