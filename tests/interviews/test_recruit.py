"""Recruit filters by persona (RFM segment) and frustrated sessions, with the theme (pain point) filter:
library, CLI and HTTP API. Oracle: the opt-ins of tests/interviews/test_interviews.py counted by hand."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import cxlens
from cxlens.errors import ParameterError

from .. import live
from ..conftest import running
from .test_interviews import _run
from .test_interviews import wspath as base  # noqa: F401  (the opt-in workspace, built for this module)

T = pd.Timestamp("2026-03-01")


@pytest.fixture(scope="module")
def path(base):  # noqa: F811
    p, _ = base
    # orders: dan and eve buy often and lately, fay once long ago → two personas (RFM segments)
    orders = [{"order_id": f"{c}{i}", "customer_id": c, "ts": T - pd.Timedelta(days=i), "amount": 80.0}
              for c in ("c-dan", "c-eve") for i in range(5)]  # fmt: skip
    orders.append({"order_id": "f0", "customer_id": "c-fay", "ts": T - pd.Timedelta(days=400), "amount": 5.0})
    # frustration: dan 2 sessions with rage/dead clicks, eve 1 (and 1 too old), gus 1 through his anonymous id
    ev = [("c-dan", None, "s1", "$rageclick", 1), ("c-dan", None, "s1", "$rageclick", 1.01),
          ("c-dan", None, "s2", "$deadclick", 3), ("c-eve", None, "s3", "$errorclick", 2),
          ("c-eve", None, "s4", "$rageclick", 200), (None, "anon-9", "s5", "$rageclick", 5),
          ("c-fay", None, "s6", "$click", 1)]  # fmt: skip
    events = [{"event_id": f"e{i}", "customer_id": c, "anonymous_id": a, "session_id": s, "name": n, "type": "track",
               "ts": T - pd.Timedelta(days=d)} for i, (c, a, s, n, d) in enumerate(ev)]  # fmt: skip
    with cxlens.open(p) as ws:
        ws.load("orders", pd.DataFrame(orders))
        ws.load("events", pd.DataFrame(events))
    return p


def test_persona_and_frustrated_filters(path):
    from cxlens.customers.segments import rfm_segments

    with cxlens.open(path, read_only=True) as ws:
        persona = rfm_segments(ws.store).set_index("customer_id")["segment"].to_dict()
        p_dan = ws.interviews.candidates(persona=persona["c-dan"])
        p_fay = ws.interviews.candidates(persona=[persona["c-fay"]])
        fr1 = ws.interviews.candidates(frustrated=1)
        fr2 = ws.interviews.candidates(frustrated=2)
        both = ws.interviews.candidates(frustrated=1, persona=persona["c-dan"])
        long_ago = ws.interviews.candidates(frustrated=1, frustrated_days=365)
        with pytest.raises(ParameterError, match="persona"):
            ws.interviews.candidates(persona="Nobody")
        with pytest.raises(ParameterError, match="frustrated"):
            ws.interviews.candidates(frustrated=0)
    assert persona["c-dan"] == persona["c-eve"] != persona["c-fay"]
    assert sorted(p_dan.customer_id) == ["c-dan", "c-eve"] and set(p_dan.persona) == {persona["c-dan"]}
    assert p_fay.customer_id.tolist() == ["c-fay"]
    # opted in and not interviewed: dan, eve, fay, gus; frustrated in the last 90 days: dan (2), eve (1), gus (1)
    assert dict(zip(fr1.customer_id, fr1.frustrated_sessions, strict=True)) == {"c-dan": 2, "c-eve": 1, "c-gus": 1}
    assert fr2.customer_id.tolist() == ["c-dan"]
    assert sorted(both.customer_id) == ["c-dan", "c-eve"] and {"persona", "frustrated_sessions"} <= set(both.columns)
    assert dict(zip(long_ago.customer_id, long_ago.frustrated_sessions, strict=True))["c-eve"] == 2


def test_cli_and_api(path):
    r = _run(path, "interviews", "candidates", "--frustrated", "2", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert [x["customer_id"] for x in json.loads(r.stdout)] == ["c-dan"]
    from cxlens.web import create_app

    with running(create_app(path)) as url:
        got = live.get(f"{url}/api/v1/interviews/candidates", params={"frustrated": 1}).json()
        assert sorted(x["customer_id"] for x in got) == ["c-dan", "c-eve", "c-gus"]
        assert live.get(f"{url}/api/v1/interviews/candidates", params={"frustrated": 0}).status_code == 422
        bad = live.get(f"{url}/api/v1/interviews/candidates", params={"persona": "Nobody"})
        assert bad.status_code == 400 and "persona" in bad.text
        page = live.get(f"{url}/interviews", params={"frustrated": 2})
        assert (
            page.status_code == 200 and page.text.count("data-customer=") == 1 and 'data-customer="c-dan"' in page.text
        )
        page = live.get(f"{url}/interviews", params={"persona": "Nobody"})
        assert page.status_code == 200 and 'id="candidates-error"' in page.text and "not an RFM segment" in page.text


def test_theme_other_recruits_the_customers_with_a_verbatim_without_a_theme(tmp_path):
    from cxlens.web import create_app

    from ..voice.unthemed import THEMED, write_unthemed

    # the five remarks without a theme belong to co1 (two), co2, ct0 (who also wrote themed answers) and nobody
    path = tmp_path / "o.duckdb"
    write_unthemed(path, [f"ct{i % 12}" for i in range(len(THEMED))] + ["co1", "co1", "co2", "ct0", None])
    t = pd.Timestamp("2026-03-01")
    with cxlens.open(path) as ws:
        rows = [["nps-q1", f"r-{c}", c, c, None, 8.0, None, '{"interview_opt_in": "yes"}', "en", None, None, None, t, t]
                for c in ("co1", "co2", "ct0", "ct1", "cz")]  # fmt: skip
        with ws.transaction(changes=["survey_responses"]) as cur:
            cur.executemany(f"INSERT INTO survey_responses VALUES ({', '.join('?' * 14)})", rows)
        # the oracle, in plain SQL: opted-in owners of a stored answer without (or with) a primary theme
        by_theme = ws.sql("SELECT coalesce(v.theme, 'other') AS theme, list(DISTINCT f.customer_id) AS who "
                          "FROM verbatim_themes v JOIN feedback f ON v.verbatim_id = 'feedback:' || f.feedback_id "
                          "WHERE f.customer_id IN ('co1', 'co2', 'ct0', 'ct1', 'cz') GROUP BY 1")  # fmt: skip
    expected = {r["theme"]: sorted(r["who"]) for r in by_theme.to_dict("records")}
    assert expected["other"] == ["co1", "co2", "ct0"]
    themed = next(k for k, v in sorted(expected.items()) if k != "other" and "ct1" in v)
    r = _run(path, "interviews", "candidates", "--theme", "other", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert sorted(x["customer_id"] for x in json.loads(r.stdout)) == ["co1", "co2", "ct0"]
    with running(create_app(path)) as url:
        got = live.get(f"{url}/api/v1/interviews/candidates", params={"theme": "other"}, timeout=60).json()
        assert sorted(x["customer_id"] for x in got) == ["co1", "co2", "ct0"]
        got = live.get(f"{url}/api/v1/interviews/candidates", params={"theme": themed}, timeout=60).json()
        assert sorted(x["customer_id"] for x in got) == expected[themed]
        bad = live.get(
            f"{url}/api/v1/interviews/candidates", params={"theme": "nope"}, timeout=60
        )  # it found nobody, silently
        assert bad.status_code == 400 and bad.json()["error"]["message"].endswith(", other")
