"""One origin rule for the collection API and the survey endpoints (through the real apps)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import cxlens
from cxlens.collect.origins import normalise_origin, origin_allowed
from cxlens.web.api.collect import FastPath, create_collect_app
from cxlens.web.app import create_app
from cxlens.web.hub import WorkspaceHub


@pytest.mark.parametrize(
    ("setting", "origin", "ok"),
    [
        (["https://shop.example"], "https://shop.example", True),
        (["https://shop.example/"], "https://shop.example", True),  # a trailing slash in the setting
        ("https://shop.example", "https://shop.example", True),  # a single string
        (["HTTPS://Shop.Example"], "https://shop.example", True),  # case of scheme and host
        (["https://shop.example:443"], "https://shop.example", True),  # the default port
        (["http://shop.example:8080"], "http://shop.example:8080", True),
        (["http://shop.example:8080"], "http://shop.example", False),
        (["https://shop.example"], "http://shop.example", False),  # another scheme
        (["https://shop.example"], "https://shop.example.evil.test", False),
        (["https://*.example"], "https://a.example", False),  # no wildcards inside names
        (["*"], "https://anything.test", True),
        ([], "https://shop.example", False),
        (None, "https://shop.example", False),
        (["https://shop.example"], None, False),
    ],
)
def test_the_rule(setting, origin, ok):
    assert origin_allowed(setting, origin) is ok


def test_normalised_origin():
    assert normalise_origin("HTTPS://A.Example:443/") == "https://a.example"
    assert normalise_origin("http://[::1]:8000") == "http://[::1]:8000"


@pytest.mark.parametrize("setting", [["https://shop.example/"], "https://shop.example", ["HTTPS://SHOP.example:443"]])
def test_collection_and_survey_endpoints_agree(setting):
    ws = cxlens.open(":memory:")
    ws.set_setting("collect.allowed_origins", setting)
    hub = WorkspaceHub({"shop": ws})
    _, key = hub.create_key("shop", "write")
    collect = TestClient(FastPath(create_collect_app(hub)))
    dash = TestClient(create_app(hub))
    for origin, ok in (("https://shop.example", True), ("https://evil.example", False)):
        headers = {"Origin": origin, "Content-Type": "application/json"}
        r = collect.post("/v1/track", json={"writeKey": key, "userId": "u", "event": "E", "messageId": origin},
                         headers=headers)  # fmt: skip
        assert (r.status_code == 200) is ok, r.text
        assert (r.headers.get("access-control-allow-origin") == origin) is ok
        pre = dash.options("/v1/surveys/eligible", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
        assert (pre.headers.get("access-control-allow-origin") == origin) is ok
    ws.close()
