"""Interview invitations to recruit candidates: the researcher's scheduling link by e-mail through the
act e-mail channel to a real local SMTP server (aiosmtpd), once per customer and study; a later "no"
withdraws the opt-in; the opt-out link (real HTTP server) is respected by every later study, the
candidate list and the API; GDPR erase reaches the invitation rows.

Oracle: the opt-ins of tests/interviews/test_interviews.py counted by hand, and the messages received.
"""

from __future__ import annotations

import email
import json
import re
from email import policy

import pandas as pd
import pytest

import cxlens
from cxlens.customers.profile import erase_customer

from .. import live
from ..conftest import running
from ..engagement.test_pulse_links import smtp  # noqa: F401  (the aiosmtpd receiver fixture)
from .test_interviews import _run
from .test_interviews import wspath as base  # noqa: F401  (the opt-in workspace, built for this module)

SCHED = "https://cal.example.com/research/20min"
OPTOUT = re.compile(r"https?://[^\s\"<>]+/s/[^/\s]+/interview-optout/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")


@pytest.fixture(scope="module")
def path(base):  # noqa: F811
    p, _ = base
    with cxlens.open(p) as ws:
        ws.act.allow_host("127.0.0.1", private=True)
        later = pd.Timestamp("2026-03-02")
        with ws.transaction(changes=["survey_responses"]) as cur:  # bob says no a day after his yes
            cur.execute(f"INSERT INTO survey_responses VALUES ({', '.join('?' * 14)})",
                        ["nps-q1", "r-bob-no", "c-bob", "c-bob", None, 5.0, None, '{"interview_opt_in": "no"}', "en",
                         None, None, None, later, later])  # fmt: skip
    return p


def _mails(box, start: int = 0) -> dict[str, email.message.EmailMessage]:
    return {env.rcpt_tos[0]: email.message_from_bytes(env.content, policy=policy.default)
            for env in box.messages[start:]}  # fmt: skip


def test_invitations_once_per_study_with_opt_out_respected(path, smtp):  # noqa: F811
    from cxlens.web import create_app

    body = {"study": "onboarding", "scheduling_url": SCHED, "base_url": "https://cx.example.com",
            "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "from": "research@shop.example", "segment": ["smb"]}  # fmt: skip
    with running(create_app(path)) as url:
        r = live.post(f"{url}/api/v1/interviews/invite", json=body)
        assert r.status_code == 200, r.text
        out = r.json()
        # smb opt-ins: ann, bob (withdrew with a later "no"), dan, gus (through his anonymous id)
        assert out["sent"] == 3 and sorted(out["invited"]) == ["c-ann", "c-dan", "c-gus"] and out["failed"] == []
        mails = _mails(smtp)
        assert set(mails) == {"a@example.com", "d@example.com", "g@example.com"}
        ann = mails["a@example.com"]
        text = ann.get_body(preferencelist=("plain",)).get_content()
        assert text.startswith("Hello Ann Lee,") and SCHED in text and ann["From"] == "research@shop.example"
        html = ann.get_body(preferencelist=("html",)).get_content()
        assert f'href="{SCHED}"' in html
        link = OPTOUT.search(mails["d@example.com"].get_body(preferencelist=("plain",)).get_content()).group(0)
        assert mails["d@example.com"]["List-Unsubscribe"] == f"<{link}>"
        local = link.replace("https://cx.example.com", url)
        page = live.get(local)  # a GET (mail scanners open links) only asks
        assert page.status_code == 200 and 'id="optout-form"' in page.text
        assert "c-dan" in {c["customer_id"] for c in live.get(f"{url}/api/v1/interviews/candidates").json()}
        done = live.post(local)
        assert done.status_code == 200 and 'data-step="done"' in done.text
        assert live.get(local[:-2] + ("xx" if not local.endswith("xx") else "yy")).status_code == 403
        cands = live.get(f"{url}/api/v1/interviews/candidates").json()
        assert "c-dan" not in {c["customer_id"] for c in cands} and "c-bob" not in {c["customer_id"] for c in cands}
        bad = live.post(f"{url}/api/v1/interviews/invite", json=body | {"scheduling_url": "cal.example.com"})
        assert bad.status_code == 400 and "scheduling_url" in bad.text

    # the same study again (CLI): nobody twice, dan opted out
    args = ["--scheduling-url", SCHED, "--base-url", "https://cx.example.com", "--smtp-host", "127.0.0.1",
            "--smtp-port", str(smtp.port)]  # fmt: skip
    res = _run(path, "interviews", "invite", "onboarding", *args, "--segment", "smb")
    assert res.exit_code == 0, res.stderr
    again = json.loads(res.stdout)
    assert again["sent"] == 0 and again["already"] == 2 and len(smtp.messages) == 3
    # another study, every segment: eve and fay (enterprise) too, still not dan or bob
    n = len(smtp.messages)
    res = _run(path, "interviews", "invite", "pricing", *args)
    assert res.exit_code == 0, res.stderr
    assert set(_mails(smtp, n)) == {"a@example.com", "e@example.com", "f@example.com", "g@example.com"}
    res = _run(path, "interviews", "opt-out", "c-eve")
    assert res.exit_code == 0
    with cxlens.open(path) as ws:
        assert "c-eve" not in set(ws.interviews.candidates()["customer_id"])
        assert len(ws.sql("SELECT * FROM interview_invites WHERE customer_id = 'c-ann'")) == 2
        erase_customer(ws, "c-ann")
        assert ws.sql("SELECT * FROM interview_invites WHERE customer_id = 'c-ann'").empty
        assert ws.sql("SELECT * FROM interview_optouts WHERE customer_id = 'c-ann'").empty
