"""Survey attacks through the real server: replayed continuation forms, paused surveys, forged anonymous
cookies and answer floods."""

from __future__ import annotations

import json
import re

import httpx

from cxlens.surveys import create_survey, set_status
from cxlens.web import create_app
from cxlens.web.hub import WorkspaceHub

from .. import live
from .conftest import SURVEY, serve


def _form(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def _hosted(url: str, survey: str = "s1") -> tuple[httpx.Client, dict[str, str]]:
    c = live.Client(base_url=url)
    page = c.get(f"/s/shop/{survey}")
    assert page.status_code == 200, page.text[:300]
    return c, _form(page.text)


def test_a_continuation_form_cannot_be_replayed_to_rewrite_the_comment(env):
    ws = env.hub.get("shop")
    c, hidden = _hosted(env.url)
    step2 = c.post("/s/shop/s1", data={**hidden, "step": "score", "score": "3"})
    assert step2.status_code == 200 and "Why?" in step2.text
    form = _form(step2.text)
    assert form["kind"] == "anonymous"
    done = c.post("/s/shop/s1", data={**form, "step": "comment", "comment": "the real comment"})
    assert done.status_code == 200
    replay = c.post("/s/shop/s1", data={**form, "step": "comment", "comment": "rewritten by an attacker"})
    assert replay.status_code == 410
    # flipping the signed kind to pass the answer off as a customer's is refused too
    forged = c.post("/s/shop/s1", data={**form, "kind": "customer", "step": "comment", "comment": "as C1"})
    assert forged.status_code == 403
    rid = form["rid"]
    assert ws.sql("SELECT comment FROM survey_responses WHERE response_id = ?", [rid]).values.tolist() == [
        ["the real comment"]]  # fmt: skip


def test_a_forged_anonymous_cookie_is_replaced_by_a_signed_one(env):
    ws = env.hub.get("shop")
    with live.Client(base_url=env.url) as c:
        page = c.get("/s/shop/s1", headers={"cookie": "cxlens_aid=C6"})
        signed = re.search(r"cxlens_aid=([^;]+)", page.headers["set-cookie"]).group(1)
        assert signed != "C6" and signed.startswith("anon-")  # a forged cookie gets a signed one instead
        form = _form(page.text)
        c.post("/s/shop/s1", data={**form, "step": "score", "score": "10"}, headers={"cookie": "cxlens_aid=C6"})
        form2 = _form(c.get("/s/shop/s1", headers={"cookie": f"cxlens_aid={signed}"}).text)
        c.post("/s/shop/s1", data={**form2, "step": "score", "score": "0"}, headers={"cookie": f"cxlens_aid={signed}"})
    people = ws.sql("SELECT person, anonymous_id FROM survey_responses WHERE response_id IN (?, ?)",
                    [form["rid"], form2["rid"]]).values.tolist()  # fmt: skip
    assert len(people) == 2 and all(p != "C6" and a != "C6" for p, a in people)
    second = ws.sql("SELECT anonymous_id FROM survey_responses WHERE response_id = ?", [form2["rid"]]).iloc[0, 0]
    assert second == signed.rpartition(".")[0]  # the signed id is the one used


def test_a_paused_surveys_answers_cannot_be_changed(env):
    ws = env.hub.get("shop")
    write = env.keys["shop"]["write"]

    def post(body: dict) -> httpx.Response:
        with live.Client(base_url=env.url) as c:
            return c.post("/v1/surveys/s1/responses", content=json.dumps({"writeKey": write, **body}),
                          headers={"content-type": "text/plain"})  # fmt: skip

    assert post({"responseId": "pz-1", "anonymousId": "pz", "score": 8}).status_code == 201
    set_status(ws, "s1", "paused")
    try:
        assert post({"responseId": "pz-1", "anonymousId": "pz", "score": 0}).status_code == 409
        assert post({"responseId": "pz-2", "anonymousId": "pz2", "score": 0}).status_code == 409
        assert post({"responseId": "pz-1", "anonymousId": "pz", "comment": "completing is fine"}).status_code == 200
        assert post({"responseId": "pz-1", "anonymousId": "pz", "comment": "but not rewriting"}).status_code == 409
        with live.Client(base_url=env.url) as c:
            r = c.post("/v1/surveys/s1/impression", content=json.dumps({"writeKey": write, "anonymousId": "pz"}),
                       headers={"content-type": "text/plain"})  # fmt: skip
            assert r.status_code == 409
    finally:
        set_status(ws, "s1", "active")
    assert ws.sql("SELECT score, comment FROM survey_responses WHERE response_id = 'pz-1'").values.tolist() == [
        [8.0, "completing is fine"]]  # fmt: skip


def test_survey_writes_are_rate_limited_per_address(tmp_path):
    hub = WorkspaceHub.open([tmp_path / "shop.duckdb"])
    ws = hub.get("shop")
    create_survey(ws, SURVEY)
    _, write = hub.create_key("shop", "write")
    ws.set_setting("surveys.rate_limit", 0.5)
    ws.set_setting("surveys.rate_burst", 10)
    with serve(create_app(hub)) as url, live.Client(base_url=url) as c:
        codes = []
        for i in range(40):
            r = c.post("/v1/surveys/s1/responses", content=json.dumps(
                {"writeKey": write, "responseId": f"flood-{i}", "anonymousId": f"flood-{i}", "score": 10}),
                headers={"content-type": "text/plain"})  # fmt: skip
            codes.append(r.status_code)
        assert 10 <= codes.count(201) <= 12 and codes.count(429) >= 28, codes
        limited = r if r.status_code == 429 else None
        assert limited is not None and int(limited.headers["retry-after"]) >= 1
        # the hosted page shares the limit
        page = c.get("/s/shop/s1")
        assert c.post("/s/shop/s1", data={**_form(page.text), "step": "score", "score": "5"}).status_code == 429
        assert int(ws.sql("SELECT count(*) FROM survey_responses").iloc[0, 0]) == codes.count(201)
