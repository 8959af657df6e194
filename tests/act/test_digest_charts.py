"""PNG charts in scheduled digests: the e-mail carries the KPI trend and top themes inline
(multipart/related, referenced by Content-ID from the HTML), received by a real SMTP server (aiosmtpd);
Slack and Teams show them through the digest's shared link when the dashboard's base URL is public
https, and not otherwise."""

from __future__ import annotations

import datetime as dt
import email
import json
import re
import struct
import zlib
from email import policy

import httpx
import pandas as pd

from cxlens.act import messages
from cxlens.act.schedule import run_schedule
from cxlens.act.share import resolve
from cxlens.web import create_app

from ..conftest import running
from .conftest import wait_for


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, after checking its signature, every chunk's CRC and the IEND chunk
    (an oracle independent of the code that drew it)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    pos, chunks, idat = 8, [], b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in chunk {kind!r}"
        chunks.append(kind)
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND" and b"IDAT" in chunks
    w, h = struct.unpack(">II", data[16:24])
    assert len(zlib.decompress(idat)) > h  # the pixel data inflates: one filter byte per row at least
    return w, h


def _data(ws, slot: dt.datetime, tag: str) -> None:
    """Eight days of NPS answers before ``slot`` and themed comments on the last day."""
    day = pd.Timestamp(slot).normalize() - pd.Timedelta(days=1)
    rows = []
    for k in range(8):
        for i in range(12):
            rows.append({"feedback_id": f"{tag}{k}-{i}", "customer_id": f"D{k}-{i}", "metric": "nps",
                         "ts": day - pd.Timedelta(days=k) + pd.Timedelta(hours=9, minutes=i),
                         "score": float((i + k) % 11), "touchpoint": "charts", "comment": "slow delivery"})  # fmt: skip
    ws.load("feedback", pd.DataFrame(rows))
    with ws.transaction(changes=["verbatim_themes"]) as cur:
        for i in range(12):
            cur.execute("INSERT INTO verbatim_themes VALUES (?, ?, NULL, 't') ON CONFLICT DO NOTHING",
                        [f"feedback:{tag}0-{i}", "delivery" if i < 8 else "price"])  # fmt: skip


def test_the_digest_email_carries_its_png_charts_inline_referenced_by_content_id(aws, smtp):
    slot = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    _data(aws, slot, "mail")
    aws.act.load_rules({"rules": [{"name": "charts-mail", "when": {"schedule": {"every": "day", "metrics": ["nps"]}},
                                   "do": [{"email": {"to": ["cx-lead@example.com"], "host": "127.0.0.1",
                                                     "port": smtp.port}}]}]})  # fmt: skip
    before = len(smtp.messages)
    assert run_schedule(aws, aws.act.rule("charts-mail"), slot)
    env = wait_for(lambda: smtp.messages[before:], timeout=60, what="the digest e-mail")[0]
    msg = email.message_from_bytes(env.content, policy=policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    plain, related = msg.get_payload()
    assert plain.get_content_type() == "text/plain" and related.get_content_type() == "multipart/related"
    html_part, *images = related.get_payload()
    assert html_part.get_content_type() == "text/html" and len(images) == 2
    html = html_part.get_content()
    referenced = re.findall(r'<img src="cid:([^"]+)"', html)
    by_cid = {p["Content-ID"].strip("<>"): p for p in images}
    assert sorted(referenced) == sorted(by_cid) and all(p.get_content_type() == "image/png" for p in images)
    for cid, part in by_cid.items():
        w, h = png_size(part.get_payload(decode=True))
        assert w > 500 and h > 100, (cid, w, h)
        assert part.get_content_disposition() == "inline"
    assert {c.split(".")[0] for c in referenced} == {"kpi", "themes"}
    assert "NPS" in plain.get_content()  # the text part still says it all in words


def test_slack_and_teams_show_the_charts_through_the_digest_link_only_with_a_public_https_base(aws, receiver):
    slot = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0) - dt.timedelta(days=1)
    _data(aws, slot, "chat")
    aws.act.load_rules({"rules": [{"name": "charts-chat", "when": {"schedule": {"every": "day", "metrics": ["nps"]}},
                                   "do": [{"slack": {"url": f"{receiver.url}/charts-slack"}},
                                          {"teams": {"url": f"{receiver.url}/charts-teams"}}]}]})  # fmt: skip
    alert_id = run_schedule(aws, aws.act.rule("charts-chat"), slot)
    slack = json.loads(wait_for(lambda: receiver.on("/charts-slack"), timeout=60, what="slack")[0].body)
    teams = json.loads(wait_for(lambda: receiver.on("/charts-teams"), timeout=60, what="teams")[0].body)
    images = [b for b in slack["blocks"] if b["type"] == "image"]
    assert [b["alt_text"] for b in images] == ["KPI trend with 95% confidence bands",
                                               "Top themes: this period and the one before"]  # fmt: skip
    url = images[0]["image_url"]
    m = re.fullmatch(r"https://cx\.example\.com/shared/act/([^/]+)/charts/kpi\.png", url)
    assert m, url
    card = teams["attachments"][0]["content"]
    assert [b["url"] for b in card["body"] if b["type"] == "Image"] == [b["image_url"] for b in images]
    # the link is the digest's: it resolves, is stored hashed, and serves the PNG without an account
    link = resolve(aws.store, m.group(1))
    assert link.view == "digest" and link.params["alert_id"] == alert_id and link.role == "analyst"
    with running(create_app(aws)) as base:
        r = httpx.get(base + url.removeprefix("https://cx.example.com"), timeout=120)
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert png_size(r.content)[0] > 500
        page = httpx.get(base + url.removeprefix("https://cx.example.com").rsplit("/charts/", 1)[0], timeout=120)
        assert page.status_code == 200 and "charts-chat" in page.text
    # a retry computes the same address (no token stored); a plain-http or missing base URL gives no image
    ctx = messages.alert_context(aws.store, f"{alert_id}.0")
    assert ctx["chart_urls"]["kpi"] == url
    # one link per digest, made for its Slack/Teams messages only (the e-mail digest above made none)
    links = aws.act.shares()
    assert list(links.loc[links["view"] == "digest", "params"].map(lambda p: json.loads(p)["alert_id"])) == [alert_id]
    aws.set_setting("act.base_url", "http://cx.internal")
    try:
        ctx = messages.alert_context(aws.store, f"{alert_id}.0")
        assert ctx["chart_urls"] == {} and not [
            b for b in messages.slack_message(ctx)["blocks"] if b["type"] == "image"
        ]
    finally:
        aws.set_setting("act.base_url", "")
