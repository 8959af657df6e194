"""Personal (email) links and the hosted survey page: signed, expiring, single-use; works without JavaScript."""

from __future__ import annotations

import csv
import re
from datetime import timedelta

import pandas as pd
import pytest
from typer.testing import CliRunner

from cxlens.errors import ForbiddenError
from cxlens.surveys import LinkGoneError, create_survey, make_token, verify_token
from cxlens.surveys.links import SECRET_SETTING
from cxlens.surveys.store import now_utc

from .conftest import NPS


def test_token_round_trip_and_secret_made_once(sws):
    create_survey(sws, NPS)
    assert sws.setting(SECRET_SETTING) is None
    t1 = make_token(sws, "checkout-nps", "c1", expires_days=7)
    secret = sws.setting(SECRET_SETTING)
    t2 = make_token(sws, "checkout-nps", "c2")
    assert sws.setting(SECRET_SETTING) == secret and len(secret) >= 40
    c = verify_token(sws, "checkout-nps", t1)
    assert c.customer_id == "c1" and abs((c.expires_at - now_utc()) - timedelta(days=7)) < timedelta(seconds=5)
    assert verify_token(sws, "checkout-nps", t2).link_id != c.link_id


def test_tampered_foreign_and_expired_tokens(sws, tmp_path):
    create_survey(sws, NPS)
    create_survey(sws, {**NPS, "id": "other"})
    t = make_token(sws, "checkout-nps", "c1")
    payload, sig = t.split(".")
    with pytest.raises(ForbiddenError, match="not valid"):
        verify_token(sws, "checkout-nps", payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + sig)
    with pytest.raises(ForbiddenError, match="another survey"):
        verify_token(sws, "other", t)
    with pytest.raises(LinkGoneError, match="expired"):
        verify_token(sws, "checkout-nps", t, now=now_utc() + timedelta(days=31))
    import cxlens

    with cxlens.open(tmp_path / "other.duckdb") as other:  # another workspace has another secret
        create_survey(other, NPS)
        with pytest.raises(ForbiddenError):
            verify_token(other, "checkout-nps", t)


def _form(html):
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))


def test_hosted_personal_link_answers_once(client, sws):
    create_survey(sws, NPS)
    t = make_token(sws, "checkout-nps", "c42")
    url = f"/s/shop/checkout-nps?t={t}"
    page = client.get(url + "&score=9")
    assert page.status_code == 200 and 'value="9" aria-label="9 out of 10" checked' in page.text
    assert sws.sql("SELECT count(*) AS n FROM feedback").n[0] == 0  # opening (or a mail scanner) records nothing
    step2 = client.post("/s/shop/checkout-nps", data={**_form(page.text), "score": "3"})
    assert step2.status_code == 200 and "What went wrong?" in step2.text
    done = client.post("/s/shop/checkout-nps", data={**_form(step2.text), "comment": "<script>x()</script>"})
    assert done.status_code == 200 and 'id="thanks"' in done.text
    fb = sws.sql("SELECT customer_id, score, comment, channel FROM feedback")
    assert fb.values.tolist() == [["c42", 3.0, "<script>x()</script>", "email"]]
    again = client.get(url)
    assert again.status_code == 410 and "already answered" in again.text
    replay = client.post("/s/shop/checkout-nps", data={**_form(page.text), "score": "10"})
    assert replay.status_code == 410 and sws.sql("SELECT score FROM feedback").score.tolist() == [3.0]


def test_hosted_link_errors_are_clear_pages(client, sws):
    create_survey(sws, NPS)
    t = make_token(sws, "checkout-nps", "c1", expires_days=-1)
    r = client.get(f"/s/shop/checkout-nps?t={t}")
    assert r.status_code == 410 and "expired" in r.text and "<h1>" in r.text
    good = make_token(sws, "checkout-nps", "c1")
    r = client.get(f"/s/shop/checkout-nps?t={good[:-3]}abc")
    assert r.status_code == 403 and "not valid" in r.text
    assert client.get("/s/shop/checkout-nps").status_code == 404  # no public link
    assert client.get(f"/s/nowhere/checkout-nps?t={good}").status_code == 404


def test_public_link_survey_without_javascript(client, sws):
    create_survey(sws, {**NPS, "link": {"public": True}, "questions": [
        {"id": "why", "type": "choice", "question": "Main reason?", "options": ["Price", "Speed"], "show_if": "score <= 6"}]})  # fmt: skip
    page = client.get("/s/shop/checkout-nps")
    assert "<script" not in page.text and page.status_code == 200
    missing = client.post("/s/shop/checkout-nps", data=_form(page.text))
    assert missing.status_code == 422 and "choose an answer" in missing.text
    step2 = client.post("/s/shop/checkout-nps", data={**_form(page.text), "score": "5"})
    assert "Main reason?" in step2.text
    forged = client.post("/s/shop/checkout-nps", data={**_form(step2.text), "c": "1.x", "comment": "forged"})
    assert forged.status_code == 403
    client.post("/s/shop/checkout-nps", data={**_form(step2.text), "comment": "meh", "q_why": "Price"})
    fb = sws.sql(
        "SELECT score, comment, channel, json_extract_string(properties, '$.answers.why') AS why FROM feedback"
    )
    assert fb.values.tolist() == [[5.0, "meh", "link", "Price"]]


def test_cli_links_writes_one_valid_link_per_customer(tmp_path, monkeypatch):
    import cxlens
    from cxlens.cli import app

    path = tmp_path / "shop.duckdb"
    (tmp_path / "s.yaml").write_text("id: checkout-nps\nname: N\nmetric: nps\nquestion: Q?\nstatus: active\n")
    (tmp_path / "customers.csv").write_text("customer_id,email\nc1,a@x.io\nc2,b@x.io\n")
    run = CliRunner().invoke
    assert run(app, ["-w", str(path), "survey", "create", "--from", str(tmp_path / "s.yaml")]).exit_code == 0
    res = run(app, ["-w", str(path), "survey", "links", "checkout-nps", "--customers", str(tmp_path / "customers.csv"),
                    "--out", str(tmp_path / "links.csv"), "--expires-days", "3", "--base-url", "https://cx.example/"])  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader((tmp_path / "links.csv").open()))
    assert [(r["customer_id"], r["email"]) for r in rows] == [("c1", "a@x.io"), ("c2", "b@x.io")]
    assert all(r["url"].startswith("https://cx.example/s/shop/checkout-nps?t=") for r in rows)
    with cxlens.open(path) as ws:
        claims = [verify_token(ws, "checkout-nps", r["url"].split("t=")[1]) for r in rows]
    assert [c.customer_id for c in claims] == ["c1", "c2"]
    assert all(timedelta(days=2.99) < c.expires_at - now_utc() <= timedelta(days=3) for c in claims)


def test_cli_create_list_pause_results(tmp_path):
    from cxlens.cli import app

    path = tmp_path / "w.duckdb"
    (tmp_path / "bad.yaml").write_text("id: x\nname: N\nmetric: nsp\nquestion: Q?\n")
    run = CliRunner().invoke
    bad = run(app, ["-w", str(path), "survey", "create", "--from", str(tmp_path / "bad.yaml")])
    assert bad.exit_code == 1
    (tmp_path / "s.yaml").write_text("id: s\nname: N\nmetric: csat\nquestion: Q?\nstatus: active\n")
    assert run(app, ["-w", str(path), "survey", "create", "--from", str(tmp_path / "s.yaml")]).exit_code == 0
    assert run(app, ["-w", str(path), "survey", "pause", "s"]).exit_code == 0
    out = run(app, ["-w", str(path), "survey", "list", "--format", "json"]).output
    import json

    assert [(r["survey_id"], r["status"]) for r in json.loads(out)] == [("s", "paused")]
    shown = run(app, ["-w", str(path), "survey", "show", "s"]).output
    assert "metric: csat" in shown and "status: paused" in shown


def test_hosted_text_and_choice_surveys(client, sws):
    create_survey(sws, {"id": "idea", "name": "Ideas", "metric": "text", "question": "One <i>idea</i>?",
                        "status": "active", "link": {"public": True}})  # fmt: skip
    create_survey(sws, {"id": "pick", "name": "Pick", "metric": "choice", "question": "Which?", "status": "active",
                        "options": ["Red", "Blue"], "link": {"public": True}})  # fmt: skip
    page = client.get("/s/shop/idea")
    assert "One &lt;i&gt;idea&lt;/i&gt;?" in page.text
    done = client.post("/s/shop/idea", data={**_form(page.text), "comment": "Dark mode"})
    assert 'id="thanks"' in done.text
    page = client.get("/s/shop/pick")
    assert re.findall(r'aria-label="([^"]+)"', page.text) == ["Red", "Blue"]
    client.post("/s/shop/pick", data={**_form(page.text), "score": "2"})
    fb = sws.sql("SELECT survey_id, score, comment, json_extract_string(properties, '$.choice') AS c FROM feedback "
                 "ORDER BY survey_id")  # fmt: skip
    rows = [[None if pd.isna(v) else v for v in r] for r in fb.values.tolist()]
    assert rows == [["idea", None, "Dark mode", None], ["pick", 2.0, None, "Blue"]]
    again = client.post("/s/shop/pick", data={**_form(page.text), "rid": "another", "score": "1"})
    assert again.status_code == 409 and "already answered" in again.text  # the same browser (cookie) answered
