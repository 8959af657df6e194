"""The public pulse-survey and interview opt-out pages are rate-limited per client address (the survey
write limit, settings ``surveys.rate_limit``/``surveys.rate_burst``) and per link token (settings
``learn.link_rate_limit``/``learn.link_rate_burst``): over either, 429 with ``Retry-After`` — over
real HTTP, client addresses told apart through a trusted proxy's ``X-Forwarded-For``."""

from __future__ import annotations

import pytest

import cxlens
from cxlens.interviews.invite import optout_token

from .. import live
from ..conftest import running


@pytest.fixture
def wpath(tmp_path):
    p = tmp_path / "rate.duckdb"
    with cxlens.open(p) as ws:
        ws.store.set_setting("learn.link_rate_limit", 0.01)  # one more request every 100 s
        ws.store.set_setting("learn.link_rate_burst", 3)
        ws.store.set_setting("surveys.rate_limit", 0.01)
        ws.store.set_setting("surveys.rate_burst", 6)
    return p


def _ip(n: int) -> dict[str, str]:
    return {"X-Forwarded-For": f"203.0.113.{n}"}


def test_one_link_is_limited_per_token_and_an_address_per_address(wpath):
    from cxlens.web import create_app

    with cxlens.open(wpath) as ws:
        pulse = [ws.engagement.pulse_token("q1", {"team": "Support"}) for _ in range(4)]
        optout = [optout_token(ws.store, f"c{i}") for i in range(4)]
    with running(create_app(wpath, trusted_proxies=["127.0.0.1"])) as url:
        for kind, tokens in (("pulse", pulse), ("interview-optout", optout)):
            page = f"{url}/s/rate/{kind}/{tokens[0]}"
            # per token: three loads from three addresses pass, the fourth is refused whatever the address
            assert [live.get(page, headers=_ip(i)).status_code for i in (1, 2, 3)] == [200, 200, 200]
            r = live.get(page, headers=_ip(4))
            assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 101, r.headers
            assert "too many requests for this" in r.text
            r = live.post(page, headers=_ip(5), data={"q_enps": "9"})  # answering with it too
            assert r.status_code == 429 and "Retry-After" in r.headers
            assert live.get(f"{url}/s/rate/{kind}/{tokens[1]}", headers=_ip(6)).status_code == 200  # another link
        # per address: address 7 has a burst of 6 over any links; the 7th request is refused
        codes = [live.get(f"{url}/s/rate/{k}/{t}", headers=_ip(7)).status_code
                 for k, t in [("pulse", pulse[2]), ("pulse", pulse[3]), ("interview-optout", optout[2]),
                              ("interview-optout", optout[3]), ("pulse", pulse[2]), ("pulse", pulse[3])]]  # fmt: skip
        assert codes == [200] * 6
        r = live.post(f"{url}/s/rate/pulse/{pulse[3]}", headers=_ip(7), data={"q_enps": "9"})
        assert r.status_code == 429 and "too many survey" in r.text and int(r.headers["Retry-After"]) >= 1
        # another address still answers with that link (its token bucket has one request left)
        assert live.post(f"{url}/s/rate/pulse/{pulse[3]}", headers=_ip(8), data={"q_enps": "9"}).status_code == 200
    with cxlens.open(wpath, read_only=True) as ws:
        assert ws.store.scalar("SELECT count(*) FROM pulse_answers") == 1  # only the answer let through
