"""The public survey endpoints, the admin API and the dashboard pages, through TestClient."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest

from cxlens.surveys import create_survey, in_sample

from .conftest import NPS


def eligible(client, key, **params):
    r = client.get("/v1/surveys/eligible", params={"writeKey": key, **params})
    assert r.status_code == 200, r.text
    return [s["id"] for s in r.json()["surveys"]]


def post(client, key, sid, body, kind="responses", **kw):
    return client.post(f"/v1/surveys/{sid}/{kind}", json={"writeKey": key, **body}, **kw)


def test_eligibility_endpoint_applies_the_rules(client, key, sws):
    today = date.today()
    create_survey(sws, {**NPS, "targeting": {"url": ["/checkout/*"], "sample_rate": 0.5}})
    create_survey(sws, {**NPS, "id": "future", "targeting": {"start": str(today + timedelta(days=2))}})
    create_survey(sws, {**NPS, "id": "past", "targeting": {"end": str(today - timedelta(days=1))}})
    people = [f"v{i}" for i in range(40)]
    got = {p: eligible(client, key, anonymousId=p, url="https://s.example/checkout/pay") for p in people}
    assert got == {p: (["checkout-nps"] if in_sample("checkout-nps", p, 0.5) else []) for p in people}
    assert all(eligible(client, key, anonymousId=p, url="https://s.example/home") == [] for p in people)


def test_language_from_parameter_or_accept_language_header(client, key, sws):
    create_survey(sws, {**NPS, "translations": {"fr": {"question": "Recommanderiez-vous ?"}}})
    r = client.get("/v1/surveys/eligible", params={"writeKey": key, "anonymousId": "a"},
                   headers={"accept-language": "fr-CH, fr;q=0.9"})  # fmt: skip
    assert r.json()["surveys"][0]["question"] == "Recommanderiez-vous ?"
    r = client.get("/v1/surveys/eligible", params={"writeKey": key, "anonymousId": "a", "lang": "es"})
    assert r.json()["surveys"][0]["question"] == NPS["question"]


def test_partial_responses_merge_and_retries_are_idempotent(client, key, sws):
    create_survey(sws, NPS)
    r1 = post(client, key, "checkout-nps", {"responseId": "r1", "anonymousId": "a", "score": 9})
    assert r1.status_code == 201 and r1.json()["follow_up"] == "What did you love?"
    # the widget sends text/plain to avoid a CORS preflight: still JSON
    body = json.dumps({"writeKey": key, "responseId": "r1", "anonymousId": "a", "comment": "Fast!"})
    r2 = client.post("/v1/surveys/checkout-nps/responses", content=body, headers={"content-type": "text/plain"})
    r3 = client.post("/v1/surveys/checkout-nps/responses", content=body, headers={"content-type": "text/plain"})
    assert (r2.status_code, r3.status_code) == (200, 200)
    assert sws.sql("SELECT score, comment FROM feedback").values.tolist() == [[9.0, "Fast!"]]


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"responseId": "r1", "anonymousId": "a", "score": 12}, 422, "'score'"),
        ({"responseId": "r1", "score": 5}, 422, "'anonymousId'"),
        ({"anonymousId": "a", "score": 5}, 422, "'responseId'"),
        ({"responseId": "r1", "anonymousId": "a", "score": 5, "comment": "x" * 6000}, 413, "'comment'"),
        ({"responseId": "r1", "anonymousId": "a", "answers": {"nope": 1}}, 422, "'answers.nope'"),
    ],
)
def test_invalid_responses_get_4xx_naming_the_field(client, key, sws, body, status, param):
    create_survey(sws, NPS)
    r = post(client, key, "checkout-nps", body)
    assert r.status_code == status and param in r.json()["error"]["message"]
    assert sws.sql("SELECT count(*) AS n FROM feedback").n[0] == 0


def test_malformed_and_oversized_bodies(client, key, sws):
    create_survey(sws, NPS)
    assert client.post("/v1/surveys/checkout-nps/responses", content="{not json").status_code == 422
    big = json.dumps({"writeKey": key, "pad": "x" * 70_000})
    assert client.post("/v1/surveys/checkout-nps/responses", content=big).status_code == 413


def test_keys_are_required_and_unknown_surveys_404(client, key, sws):
    create_survey(sws, NPS)
    assert client.get("/v1/surveys/eligible", params={"anonymousId": "a"}).status_code == 401
    assert (
        post(client, key + "x", "checkout-nps", {"responseId": "r", "anonymousId": "a", "score": 1}).status_code == 401
    )
    r = post(client, key, "nope", {"responseId": "r", "anonymousId": "a", "score": 1})
    assert r.status_code == 404 and "'nope'" in r.json()["error"]["message"]


def test_impressions_and_dismissals_feed_fatigue(client, key, sws):
    create_survey(sws, NPS)
    assert eligible(client, key, anonymousId="a") == ["checkout-nps"]
    assert post(client, key, "checkout-nps", {"anonymousId": "a"}, kind="impression").status_code == 200
    assert eligible(client, key, anonymousId="a") == []
    assert post(client, key, "checkout-nps", {"anonymousId": "b"}, kind="dismiss").status_code == 200
    assert eligible(client, key, anonymousId="b") == []
    counts = sws.sql("SELECT kind, count(*) AS n FROM survey_exposures GROUP BY kind ORDER BY kind")
    assert counts.values.tolist() == [["dismiss", 1], ["impression", 1]]


def test_cors_allows_only_configured_origins(client, key, sws):
    create_survey(sws, NPS)
    params = {"writeKey": key, "anonymousId": "a"}
    r = client.get("/v1/surveys/eligible", params=params, headers={"origin": "https://shop.example"})
    assert r.status_code == 403 and "collect.allowed_origins" in r.json()["error"]["message"]
    sws.set_setting("collect.allowed_origins", ["https://shop.example"])
    r = client.get("/v1/surveys/eligible", params=params, headers={"origin": "https://shop.example"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://shop.example"
    pre = client.options("/v1/surveys/checkout-nps/responses",
                         headers={"origin": "https://shop.example", "access-control-request-method": "POST"})  # fmt: skip
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == "https://shop.example"
    bad = client.options("/v1/surveys/x/responses", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in bad.headers
    r = post(client, key, "checkout-nps", {"responseId": "r", "anonymousId": "a", "score": 1},
             headers={"origin": "https://evil.example"})  # fmt: skip
    assert r.status_code == 403 and sws.sql("SELECT count(*) AS n FROM feedback").n[0] == 0


def test_widget_script_is_served(client):
    r = client.get("/sdk/cxlens-survey.js")
    assert r.status_code == 200 and "javascript" in r.headers["content-type"]
    assert "window.cxlensSurvey" in r.text and "innerHTML" not in r.text.replace("never innerHTML", "")


def test_admin_api_crud_pause_resume_results(client, sws):
    r = client.post("/api/v1/surveys", json=NPS)
    assert r.status_code == 201 and r.json()["channel"] == "web"
    assert client.post("/api/v1/surveys", json=NPS).status_code == 400  # id taken
    bad = client.post("/api/v1/surveys", json={**NPS, "id": "x", "metric": "nsp"})
    assert bad.status_code == 400 and "'metric'" in bad.json()["error"]["message"]
    assert client.post("/api/v1/surveys/checkout-nps/pause", json={}).json()["status"] == "paused"
    assert client.get("/api/v1/surveys").json()[0]["status"] == "paused"
    assert client.post("/api/v1/surveys/checkout-nps/resume", json={}).json()["status"] == "active"
    upd = client.put("/api/v1/surveys/checkout-nps", json={**NPS, "question": "New wording?"})
    assert upd.json()["question"] == "New wording?"
    from cxlens.surveys import record_response

    for i, s in enumerate([10, 9, 8, 3, 0]):
        record_response(sws, "checkout-nps", response_id=f"r{i}", anonymous_id=f"a{i}", score=s)
    res = client.get("/api/v1/surveys/checkout-nps/results").json()
    # by hand: 2 promoters, 1 passive, 2 detractors of 5 → NPS 0
    assert res["overall"][0]["nps"] == 0.0 and res["overall"][0]["n"] == 5
    assert {b["group"]: b["n"] for b in res["breakdown"]} == {"promoters": 2, "passives": 1, "detractors": 2}
    assert res["counts"]["responses"] == 5


def test_admin_changes_must_be_json_so_other_sites_cannot_forge_them(client, sws):
    # a cross-site <form> or fetch without preflight can only send text/plain or form bodies
    r = client.post("/api/v1/surveys", content=json.dumps(NPS), headers={"content-type": "text/plain"})
    assert r.status_code == 403 and "application/json" in r.json()["error"]["message"]
    create_survey(sws, NPS)
    assert client.post("/api/v1/surveys/checkout-nps/pause").status_code == 403
    assert client.get("/api/v1/surveys/checkout-nps").json()["status"] == "active"


def test_admin_changes_need_the_admin_role(client, sws):
    client.app.state.open_mode = False  # a server with users: anonymous requests are refused
    assert client.post("/api/v1/surveys", json=NPS).status_code == 401
    assert client.get("/api/v1/surveys").status_code == 401


def _csrf(client, path="/surveys/new"):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


def test_builder_creates_a_survey_with_csrf(client, sws):
    form = {"id": "web-csat", "name": "Web CSAT", "metric": "csat", "display": "stars", "question": "Happy?",
            "status": "active", "touchpoint": "homepage", "sample_rate": "0.5", "recontact_days": "14",
            "url": "/a/*, /b", "trigger_event": "signup", "delay_seconds": "2", "once_per_person": "on",
            "fu_low": "Sorry, why?", "color_primary": "#0f766e",
            "extra": "translations:\n  fr:\n    question: Content ?\n"}  # fmt: skip
    assert client.post("/surveys/new", data=form).status_code == 403  # no CSRF token
    r = client.post("/surveys/new", data={**form, "csrf_token": _csrf(client)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/surveys/web-csat"
    d = client.get("/api/v1/surveys/web-csat").json()
    assert d["targeting"]["url"] == ["/a/*", "/b"] and d["targeting"]["sample_rate"] == 0.5
    assert d["targeting"]["trigger"] == {"event": "signup", "delay_seconds": 2.0}
    assert d["follow_up"] == {"low": "Sorry, why?"} and d["translations"]["fr"]["question"] == "Content ?"
    assert d["appearance"]["colors"] == {"primary": "#0f766e"} and d["channel"] == "web"


def test_builder_shows_validation_errors_and_preview(client):
    token = _csrf(client)
    r = client.post("/surveys/new", data={"csrf_token": token, "id": "x", "name": "X", "metric": "nps",
                                          "question": "?", "sample_rate": "2"})  # fmt: skip
    assert r.status_code == 400 and "targeting.sample_rate" in r.text
    p = client.post("/surveys/preview", data={"id": "x", "name": "X", "metric": "ces", "question": "Easy?"},
                    headers={"x-csrf-token": token})  # fmt: skip
    assert p.json()["survey"]["scale"] == [1, 7]


def test_pages_escape_customer_comments(client, sws):
    from cxlens.surveys import record_response

    create_survey(sws, {**NPS, "name": "<b>NPS</b>"})
    record_response(
        sws, "checkout-nps", response_id="r", anonymous_id="a", score=2, comment="<script>alert(1)</script>"
    )
    for path in ("/surveys", "/surveys/checkout-nps"):
        html = client.get(path).text
        assert "<script>alert(1)" not in html and "<b>NPS</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/surveys/checkout-nps").text


def test_pause_from_the_results_page(client, sws):
    create_survey(sws, NPS)
    token = _csrf(client, "/surveys/checkout-nps")
    r = client.post("/surveys/checkout-nps/status", data={"csrf_token": token, "status": "paused"})
    assert r.status_code == 200 and 'id="survey-status">paused<' in r.text
