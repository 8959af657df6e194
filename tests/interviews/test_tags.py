"""Tags and highlights on interview passages: library, CLI, HTTP API, GDPR erase."""

from __future__ import annotations

import pandas as pd
import pytest

import cxlens
from cxlens.errors import NotFoundError, ParameterError

from .. import live
from ..conftest import running
from .test_interviews import SRT, VTT


@pytest.fixture
def wspath(tmp_path):
    """A fresh workspace per test: the tests add and delete tags, so a shared (module-scoped) one made
    each test's counts depend on which tests had run before it in the same process — under
    ``pytest -n 2`` xdist sends the tests of one module to different workers."""
    root = tmp_path
    d = root / "t"
    d.mkdir()
    (d / "c-ann.vtt").write_text(VTT, encoding="utf-8")
    (d / "c-bob.srt").write_text(SRT, encoding="utf-8")
    path = root / "w.duckdb"
    with cxlens.open(path) as ws:
        ws.load("customers", pd.DataFrame({"customer_id": ["c-ann", "c-bob"], "name": ["Ann Lee", "Bob"]}))
        ws.interviews.import_dir(d)
    return path


def test_tag_passages_and_whole_turns(wspath):
    with cxlens.open(wspath) as ws:
        turns = ws.interviews.turns("iv-c-ann").set_index("turn")
        text = turns.loc[1, "text"]  # Ann: "Honestly it was awful, the card form kept failing. Email me at …"
        i = text.index("the card form")
        a = ws.interviews.tag("iv-c-ann", 1, "  Payment  Failure ", start=i, end=i + len("the card form kept failing"),
                              highlight=True, note="ask ann@example.com again")  # fmt: skip
        b = ws.interviews.tag("iv-c-bob", 1, "payment failure")
        c = ws.interviews.tag("iv-c-bob", 1, "support")
        for kw, field in [({"turn": 99}, "turn"), ({"start": 5}, "start"), ({"start": 0, "end": 10_000}, "start"),
                          ({"name": ""}, "tag"), ({"name": "x" * 80}, "tag")]:  # fmt: skip
            args = {"interview_id": "iv-c-ann", "turn": 1, "name": "ok"} | kw
            with pytest.raises(ParameterError, match=field):
                ws.interviews.tag(args.pop("interview_id"), args.pop("turn"), args.pop("name"), **args)
        with pytest.raises(NotFoundError, match="nope"):
            ws.interviews.tag("nope", 0, "x")
        all_ = ws.interviews.tags()
        hl = ws.interviews.tags(highlights=True)
        summary = ws.interviews.tag_summary()
    assert a["tag"] == "payment failure" and a["passage"] == "the card form kept failing" and a["highlight"]
    assert a["note"] == "ask [EMAIL] again" and a["customer_id"] == "c-ann"
    assert b["passage"].startswith("It arrived broken") and pd.isna(b["start_char"])  # the whole turn
    assert len(all_) == 3 and hl.tag_id.tolist() == [a["tag_id"]]
    assert set(all_.role) == {"customer"} and c["tag"] == "support"
    s = summary.set_index("tag")
    assert s.loc["payment failure", "participants"] == 2 and s.loc["payment failure", "highlights"] == 1
    assert s.loc["payment failure", "quotes"][0] == "the card form kept failing"  # the highlight first
    assert s.index[0] == "payment failure"  # most participants first


def test_cli_api_and_erase(wspath):
    from typer.testing import CliRunner

    from cxlens.cli import app

    with cxlens.open(wspath) as ws:  # this test's own tags: 'payment failure' for both, a highlight for Ann
        text = ws.interviews.turns("iv-c-ann").set_index("turn").loc[1, "text"]
        i = text.index("the card form")
        ws.interviews.tag("iv-c-ann", 1, "payment failure", start=i, end=i + len("the card form kept failing"),
                          highlight=True)  # fmt: skip
        ws.interviews.tag("iv-c-bob", 1, "payment failure")
    run = lambda *a: CliRunner().invoke(app, ["-w", str(wspath), *a], catch_exceptions=False)  # noqa: E731
    r = run("interviews", "tag", "iv-c-ann", "3", "delivery", "--highlight")
    assert r.exit_code == 0 and "'delivery'" in r.stderr and "delivery was fast" in r.stderr
    r = run("interviews", "tags", "--tag", "delivery", "--format", "json")
    assert r.exit_code == 0 and '"highlight": true' in r.stdout
    r = run("interviews", "tags", "--summary", "--format", "csv")
    assert r.exit_code == 0 and "delivery" in r.stdout
    from cxlens.web import create_app

    with running(create_app(wspath)) as url:
        made = live.post(f"{url}/api/v1/interviews/iv-c-ann/tags", json={"turn": 1, "tag": "contact", "note": "x"})
        assert made.status_code == 201, made.text
        body = made.json()
        assert "[EMAIL]" in body["passage"] and "ann@example.com" not in body["passage"]  # redacted over HTTP
        listed = live.get(f"{url}/api/v1/interview-tags", params={"interview": "iv-c-ann"}).json()
        assert {t["tag"] for t in listed} == {"contact", "delivery", "payment failure"}
        assert all("ann@example.com" not in t["passage"] for t in listed)
        assert live.post(f"{url}/api/v1/interviews/iv-c-ann/tags", json={"turn": 99, "tag": "x"}).status_code == 400
        assert live.post(f"{url}/api/v1/interviews/nope/tags", json={"turn": 0, "tag": "x"}).status_code == 404
        summary = live.get(f"{url}/api/v1/interview-tags/summary").json()
        assert summary[0]["tag"] == "payment failure" and summary[0]["participants"] == 2  # Ann and Bob
        page = live.get(f"{url}/interviews").text
        assert 'data-tag="payment failure"' in page and "the card form kept failing" in page
        assert "ann@example.com" not in page
        assert live.delete(f"{url}/api/v1/interview-tags/{body['tag_id']}").status_code == 204
        assert live.delete(f"{url}/api/v1/interview-tags/{body['tag_id']}").status_code == 404
    with cxlens.open(wspath) as ws:
        from cxlens.customers.profile import erase_customer

        before = ws.scalar("SELECT count(*) FROM interview_tags WHERE customer_id = 'c-ann'")
        erase_customer(ws, "c-ann")
        # Ann's: 'payment failure' and 'delivery' ('contact' was deleted over HTTP)
        assert before == 2 and ws.scalar("SELECT count(*) FROM interview_tags WHERE customer_id = 'c-ann'") == 0
        assert ws.scalar("SELECT count(*) FROM interview_tags") == 1  # Bob's 'payment failure' stays


def test_interview_quotes_by_theme_and_persona_with_highlights_first(tmp_path):
    root = tmp_path / "t"
    root.mkdir()
    (root / "c-ann.vtt").write_text(VTT, encoding="utf-8")
    (root / "c-bob.srt").write_text(SRT, encoding="utf-8")
    with cxlens.open(tmp_path / "q.duckdb") as ws:
        ws.load("customers", pd.DataFrame({"customer_id": ["c-ann", "c-bob"], "name": ["Ann Lee", "Bob"]}))
        # Ann orders often and recently, Bob once long ago: two RFM segments (personas)
        orders = [{"order_id": f"a{i}", "customer_id": "c-ann", "ts": pd.Timestamp("2026-02-20") - pd.Timedelta(days=i),
                   "amount": 90.0} for i in range(6)]  # fmt: skip
        orders.append({"order_id": "b0", "customer_id": "c-bob", "ts": pd.Timestamp("2025-03-01"), "amount": 10.0})
        ws.load("orders", pd.DataFrame(orders))
        from cxlens.customers.segments import rfm_segments

        persona = rfm_segments(ws.store).set_index("customer_id")["segment"].to_dict()
        ws.interviews.import_dir(root)
        turns = ws.interviews.turns()
        cust = turns[turns.role == "customer"]
        with ws.transaction(changes=["verbatim_themes"]) as cur:  # what the voice themes job stores
            for tid, text in zip(cust.turn_id, cust.text, strict=True):
                theme = "payment" if "card form" in text else "delivery"
                cur.execute("INSERT INTO verbatim_themes VALUES (?, ?, NULL, 'test')", [f"interview:{tid}", theme])
        before = ws.interviews.quotes_by_theme()
        ws.interviews.tag("iv-c-ann", 3, "delivery", start=4, end=26, highlight=True)  # "delivery was fast & …"
        after = ws.interviews.quotes_by_theme()
        personas = ws.interviews.quotes_by_persona(per=3)
    ann = cust[cust.interview_id == "iv-c-ann"].text.tolist()
    bob = [t.replace("020 7946 0958", "[PHONE]") for t in cust[cust.interview_id == "iv-c-bob"].text]  # redacted
    assert before["payment"] == ["Honestly it was awful, the card form kept failing. Email me at [EMAIL] if you "
                                 "need the order."]  # fmt: skip
    assert sorted(before["delivery"]) == sorted([ann[1], bob[0]])  # one quote per interview
    assert after["delivery"][0] == ann[1][4:26] and len(after["delivery"]) == 2  # the highlight first
    assert persona["c-ann"] != persona["c-bob"] and set(personas) == {persona["c-ann"], persona["c-bob"]}
    assert personas[persona["c-bob"]] == [bob[0]]
    said = " ".join(personas[persona["c-ann"]])
    assert "[EMAIL]" in said and "ann@example.com" not in said and ann[1][4:26] == personas[persona["c-ann"]][0]
    from cxlens.web import create_app

    with running(create_app(tmp_path / "q.duckdb")) as url:
        page = live.get(f"{url}/personas", timeout=120)
        assert page.status_code == 200
        assert page.text.count('data-field="interview-quote"') >= 2 and "It arrived broken" in page.text
        assert "ann@example.com" not in page.text
        # the themes page carries interview quotes too (its rows need the fitted theme model: not here)
        assert live.get(f"{url}/themes", timeout=120).status_code == 200
