"""Pulse surveys by e-mail link: invitations through the act e-mail channel to a real local SMTP
server (aiosmtpd), once per employee; answers through the public link on a real HTTP server,
stored without the employee and refused on a second use; the CLI and the admin API.

Oracles: the messages the SMTP server received, the rows in the tables, eNPS by hand.
"""

from __future__ import annotations

import base64
import email
import json
import re
from email import policy

import httpx
import pandas as pd
import pytest

import cxlens

from .. import live
from ..conftest import free_port, running
from ..experiments.test_readout import _cli as _proc
from .test_engagement import _cli

LINK = re.compile(r"https?://[^\s\"<>]+/s/[^/\s]+/pulse/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")


class Mailbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture(scope="module")
def smtp():
    from aiosmtpd.controller import Controller

    box = Mailbox()
    box.port = free_port()
    ctl = Controller(box, hostname="127.0.0.1", port=box.port)
    ctl.start()
    yield box
    ctl.stop()


EMPLOYEES = [("e1", "Alice Martin", "X"), ("e2", "Bob Stone", "X"), ("e3", "Cara Lee", "X"), ("e4", "Dan Wu", "X"),
             ("e5", "Eve Ray", "X"), ("e6", "Finn Ode", "X"), ("e7", "Gus Pike", "Y")]  # fmt: skip


@pytest.fixture(scope="module")
def wpath(tmp_path_factory):
    p = tmp_path_factory.mktemp("pulse") / "pulseco.duckdb"
    rows = [{"employee_id": i, "name": n, "email": f"{i}@corp.example", "team": t, "role": "agent"}
            for i, n, t in EMPLOYEES]  # fmt: skip
    rows.append({"employee_id": "e8", "name": "Nora Quill", "email": "", "team": "Y", "role": "agent"})
    with cxlens.open(p) as ws:
        ws.engagement.import_employees(pd.DataFrame(rows))
        ws.act.allow_host("127.0.0.1", private=True)
    return p


def _links(box) -> dict[str, str]:
    out = {}
    for env in box.messages:
        msg = email.message_from_bytes(env.content, policy=policy.default)
        text = msg.get_body(preferencelist=("plain",)).get_content()
        out[env.rcpt_tos[0]] = LINK.search(text).group(0)
    return out


def test_invitations_once_per_employee_and_anonymous_single_use_answers(wpath, smtp):
    from cxlens.web import create_app

    body = {"base_url": "https://cx.example.com", "smtp_host": "127.0.0.1", "smtp_port": smtp.port,
            "from": "people@corp.example"}  # fmt: skip
    with running(create_app(wpath)) as url:
        r = live.post(f"{url}/api/v1/engagement/pulse/2026-q2/send", json=body)
        assert r.status_code == 200, r.text
        assert r.json() | {"failed": []} == {"pulse": "2026-q2", "sent": 7, "already": 0, "no_email": 1, "failed": []}
        links = _links(smtp)
        assert set(links) == {f"e{i}@corp.example" for i in range(1, 8)}
        assert all(v.startswith("https://cx.example.com/s/pulseco/pulse/") for v in links.values())
        # the link carries the team, never the employee: decode one
        token = links["e1@corp.example"].rsplit("/", 1)[1]
        payload = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        assert payload["p"] == "2026-q2" and payload["g"][0] == "X"
        assert not {"e1", "Alice Martin", "e1@corp.example"} & set(map(str, payload["g"]))

        # answer five of team X's links on the real server
        scores = [9, 10, 6, 8, 10]
        for i, score in enumerate(scores, start=1):
            path = links[f"e{i}@corp.example"].replace("https://cx.example.com", url)
            form = live.get(path)
            assert form.status_code == 200 and 'id="pulse-form"' in form.text
            data = {"q_enps": str(score), "q_pride": "4", "q_motivation": "3"}
            if i == 1:
                data["comment"] = "Bob Stone helps a lot, mail bob@corp.example"
            done = live.post(path, data=data)
            assert done.status_code == 200 and 'data-step="thanks"' in done.text
        again = live.post(links["e1@corp.example"].replace("https://cx.example.com", url), data={"q_enps": "0"})
        assert again.status_code == 410 and "works once" in again.text  # the link cannot be reused
        assert live.get(links["e1@corp.example"].replace("https://cx.example.com", url)).status_code == 410
        bad = links["e6@corp.example"].replace("https://cx.example.com", url)
        out_of_range = live.post(bad, data={"q_enps": "11"})
        assert out_of_range.status_code == 400 and "expected a whole number 0-10" in out_of_range.text
        tampered = bad[:-3] + ("AAA" if not bad.endswith("AAA") else "BBB")
        assert live.get(tampered).status_code == 403
        # bad input names the field
        assert live.post(f"{url}/api/v1/engagement/pulse/2026-q2/send", json={"base_url": "x"}).status_code == 422

    # a second run (CLI) sends nothing new: once per employee and pulse
    res = _cli(wpath, "engagement", "pulse-send", "2026-q2", "--base-url", "https://cx.example.com",
               "--smtp-host", "127.0.0.1", "--smtp-port", str(smtp.port))  # fmt: skip
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["sent"] == 0 and json.loads(res.stdout)["already"] == 7 and len(smtp.messages) == 7

    with cxlens.open(wpath, read_only=True) as ws:
        ans = ws.sql("SELECT * FROM pulse_answers")
        assert "employee_id" not in ans.columns and set(ans["team"]) == {"X"}
        assert ans["response_id"].nunique() == 5 and len(ans) == 15
        assert (pd.to_datetime(ans["ts"]).dt.normalize() == pd.to_datetime(ans["ts"])).all()  # the day only
        comment = ws.sql("SELECT comment FROM pulse_comments")["comment"].tolist()
        assert comment == ["[NAME] helps a lot, mail [EMAIL]"]
        used = ws.sql("SELECT * FROM pulse_used")
        assert len(used) == 5 and set(used.columns) == {"nonce_hash", "pulse", "used_on"}
        sends = ws.sql("SELECT * FROM pulse_sends")
        assert len(sends) == 7 and set(sends.columns) == {"pulse", "employee_id", "sent_at"}
        x = ws.engagement.summary(by="team")
        row = x[x["group"] == "X"].iloc[0] if "group" in x.columns else x[x["team"] == "X"].iloc[0]
        # eNPS by hand: promoters 9, 10, 10 (3 of 5), detractors 6 (1 of 5): 60 − 20 = 40
        assert row["enps"] == pytest.approx(40.0)


def test_send_refuses_a_host_not_allowed_and_bad_input(wpath, smtp):
    res = _proc(wpath, "engagement", "pulse-send", "2026-q3", "--base-url", "https://cx.example.com",
                "--smtp-host", "mail.unknown.example", "--smtp-port", str(smtp.port))  # fmt: skip
    assert res.returncode == 1 and "cxlens act allow-host mail.unknown.example" in res.stderr
    with cxlens.open(wpath) as ws:
        with pytest.raises(cxlens.errors.CxlensError, match="base_url is 'cx.example.com'"):
            ws.engagement.send_pulse("2026-q3", base_url="cx.example.com", workspace="w", smtp={"host": "127.0.0.1"})
        with pytest.raises(cxlens.errors.CxlensError, match="team"):
            ws.engagement.pulse_token("2026-q3", {"team": None})


def test_with_users_only_an_admin_sends_and_the_link_needs_no_sign_in(tmp_path, smtp):
    from cxlens.access import users
    from cxlens.web import create_app
    from cxlens.web.deps import CSRF_COOKIE

    pw = "correct horse battery staple"
    p = tmp_path / "auth.duckdb"
    with cxlens.open(p) as ws:
        ws.engagement.import_employees(pd.DataFrame([{"employee_id": "e1", "email": "e1@corp.example", "team": "X"}]))
        ws.act.allow_host("127.0.0.1", private=True)
        for email_, role in (("admin@x.example", "admin"), ("analyst@x.example", "analyst")):
            users.create_user(ws, email_, pw, role=role)
        token = ws.engagement.pulse_token("2026-q4", {"team": "X"})

    def login(url: str, who: str) -> httpx.Client:
        c = live.Client(base_url=url, timeout=30)
        c.get("/login")
        r = c.post("/login", data={"email": who, "password": pw, "csrf_token": c.cookies.get(CSRF_COOKIE)})
        assert r.status_code == 303
        c.headers["x-csrf-token"] = c.cookies.get(CSRF_COOKIE) or ""
        return c

    body = {"base_url": "https://cx.example.com", "smtp_host": "127.0.0.1", "smtp_port": smtp.port}
    with running(create_app(p)) as url:
        assert live.post(f"{url}/api/v1/engagement/pulse/2026-q4/send", json=body).status_code == 401
        assert (
            login(url, "analyst@x.example").post("/api/v1/engagement/pulse/2026-q4/send", json=body).status_code == 403
        )
        r = login(url, "admin@x.example").post("/api/v1/engagement/pulse/2026-q4/send", json=body)
        assert r.status_code == 200 and r.json()["sent"] == 1
        assert live.get(f"{url}/s/auth/pulse/{token}").status_code == 200  # public: the token is the key
        assert live.post(f"{url}/s/auth/pulse/{token}", data={"q_enps": "7"}).status_code == 200
        assert live.get(f"{url}/s/nosuch/pulse/{token}").status_code == 404
