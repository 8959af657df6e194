"""Persona cards never list "other" / "Other (no theme)" whatever the import carried in
``feedback.properties.theme`` (a file written by ``voice score --themes`` says ``other`` for the texts
without a theme): not among the themes the members talk about, not in the description, not as a goal or
frustration. The oracle counts the imported themes by hand from the rows written below."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import cxlens
from cxlens.customers.personas import personas
from cxlens.customers.segments import rfm_segments

from ..voice.unthemed import OTHER, THEMED, write_unthemed

TOPICS = ["delivery", "refund", "app"]  # THEMED repeats 4 texts of each, in this order
#: what the import carried for the five remarks without a theme (the last: no theme property)
IMPORTED_OTHER = ["other", "Other (no theme)", "OTHER", " other ", None]


@pytest.fixture(scope="module")
def wspath(tmp_path_factory):
    path = tmp_path_factory.mktemp("po") / "p.duckdb"
    owners = [f"ct{i % 12}" for i in range(len(THEMED))] + ["co1", "co1", "co2", "ct0", "co2"]
    write_unthemed(path, owners)
    orders = [{"order_id": f"{c}-{k}", "customer_id": c, "ts": pd.Timestamp("2026-01-20") - pd.Timedelta(days=k),
               "amount": 50.0} for c in [f"ct{i}" for i in range(12)] for k in range(2 + int(c[2:]) % 4)]  # fmt: skip
    orders += [{"order_id": f"{c}-0", "customer_id": c, "ts": pd.Timestamp("2025-01-01"), "amount": 5.0}
               for c in ("co1", "co2")]  # fmt: skip
    with cxlens.open(path) as ws:
        ws.load("orders", pd.DataFrame(orders))
        props = [{"theme": TOPICS[(i % 12) // 4]} for i in range(len(THEMED))]
        props += [{"theme": t} if t is not None else {} for t in IMPORTED_OTHER]
        with ws.transaction(changes=["feedback"]) as cur:  # the import's theme property, as a file carries it
            cur.executemany("UPDATE feedback SET properties = ? WHERE feedback_id = ?",
                            [[json.dumps(p), f"f{i}"] for i, p in enumerate(props)])  # fmt: skip
    return path, owners


def _expected(member: pd.Series, owners: list[str]) -> dict[str, list[tuple[str, int, float]]]:
    """By hand: per segment the top 3 imported topics over its members' answers that carry a real theme."""
    topic = [TOPICS[(i % 12) // 4] for i in range(len(THEMED))] + [None] * len(OTHER)
    out = {}
    for seg in set(member):
        mine = [t for o, t in zip(owners, topic, strict=True) if member.get(o) == seg and t is not None]
        n = pd.Series(mine, dtype=object).value_counts()
        top = sorted(n.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        out[seg] = [(t, int(k), pytest.approx(100 * k / len(mine))) for t, k in top]
    return out


def test_personas_never_list_an_imported_other_theme(wspath):
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from cxlens.cli import app
    from cxlens.web import create_app

    from ..pages import cells

    path, owners = wspath
    with cxlens.open(path) as ws:
        member = rfm_segments(ws).set_index("customer_id")["segment"]
        cards = personas(ws).set_index("segment")
    expected = _expected(member, owners)
    # co1 and co2 imported only "other" variants: in their segment those answers are neither a theme nor
    # in the shares' denominator (themed answers), so the shares differ from a count that took them in
    assert member["co1"] == member["co2"]
    for seg, card in cards.iterrows():
        assert [(t["theme"], t["n"], t["share"]) for t in card["themes"]] == expected[seg], seg
        assert "other" not in card["description"].lower(), card["description"]
    res = CliRunner().invoke(app, ["-w", str(path), "personas", "--format", "json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    for r in json.loads(res.stdout):
        assert [(t["theme"], t["n"], t["share"]) for t in r["themes"]] == expected[r["segment"]]
    with TestClient(create_app(path)) as c:
        api = c.get("/api/v1/personas").json()["rows"]
        page = c.get("/personas").text
    for r in api:
        assert [(t["theme"], t["n"], t["share"]) for t in r["themes"]] == expected[r["segment"]]
        shown = [x["name"] for x in r["goals"] + r["frustrations"]] + [x["theme"] for x in r["goals"]]
        assert not any("other" in s.lower() for s in shown), shown
        assert "other" not in r["description"].lower()
    shown = cells(page, "goals") + cells(page, "frustrations")
    assert len(shown) == 2 * len(api) and not any("other" in s.lower() for s in shown)
