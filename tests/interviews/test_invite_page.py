"""Interview invitations sent from the dashboard's interviews page: the recruit list as filtered on the
page, a CSRF-protected form, a real server and a real local SMTP receiver (aiosmtpd); once per customer
and study, bad input named on the page. Oracle: the messages received and the smb opt-ins counted by
hand in tests/interviews/test_invite.py (ann, dan, gus; bob withdrew)."""

from __future__ import annotations

import email
import re
from email import policy

import httpx

import cxlens
from cxlens.web.deps import CSRF_COOKIE

from ..conftest import running
from ..engagement.test_pulse_links import smtp  # noqa: F401  (the aiosmtpd receiver fixture)
from .test_interviews import wspath as base  # noqa: F401  (the opt-in workspace, built for this module)
from .test_invite import path  # noqa: F401  (that workspace with bob's later "no" and the loopback host allowed)

SCHED = "https://cal.example.com/research/20min"


def test_invitations_from_the_page_once_per_study_with_csrf(path, smtp):  # noqa: F811
    from cxlens.web import create_app

    with running(create_app(path)) as url, httpx.Client(base_url=url, timeout=60) as c:
        page = c.get("/interviews", params={"segment": "smb"})
        assert page.status_code == 200 and 'id="invite-form"' in page.text
        token = c.cookies.get(CSRF_COOKIE) or re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        form = {"segment": "smb", "study": "page-study", "scheduling_url": SCHED, "base_url": "https://cx.example.com",
                "smtp_host": "127.0.0.1", "smtp_port": str(smtp.port), "from": "research@shop.example"}  # fmt: skip
        assert c.post("/interviews/invite", data=form).status_code == 403  # no CSRF token: refused
        assert len(smtp.messages) == 0
        r = c.post("/interviews/invite", data=form | {"csrf_token": token})
        assert r.status_code == 200 and 'id="invite-result" data-sent="3"' in r.text, r.text[-2000:]
        got = {env.rcpt_tos[0]: email.message_from_bytes(env.content, policy=policy.default) for env in smtp.messages}
        assert set(got) == {"a@example.com", "d@example.com", "g@example.com"}
        assert SCHED in got["a@example.com"].get_body(preferencelist=("plain",)).get_content()
        again = c.post("/interviews/invite", data=form | {"csrf_token": token})
        assert 'data-sent="0"' in again.text and "3 already invited" in again.text and len(smtp.messages) == 3
        bad = c.post("/interviews/invite", data=form | {"csrf_token": token, "study": "s2", "scheduling_url": "cal"})
        assert bad.status_code == 400 and 'id="invite-error"' in bad.text and "scheduling_url" in bad.text
        assert len(smtp.messages) == 3
    with cxlens.open(path, read_only=True) as ws:
        sent = ws.store.read("SELECT customer_id FROM interview_invites WHERE study = 'page-study' ORDER BY 1")
    assert list(sent["customer_id"]) == ["c-ann", "c-dan", "c-gus"]
