"""A scheduled digest's "Top themes" and the shared themes view list the comments without a theme as the
last row, "Other (no theme)", with the themes page's n and share: the share is of every comment the
themes job assigned in the period. Through the e-mail a real SMTP server receives and the shared link's
page. Oracle: stored theme rows written by hand, counted by hand below.
"""

from __future__ import annotations

import datetime as dt
import email
import html
import re
from email import policy

import httpx
import pandas as pd
import pytest

from cxlens.act.schedule import run_schedule
from cxlens.act.share import create_link
from cxlens.voice.stored import save_themes
from cxlens.voice.themes import ThemeExtractor
from cxlens.web import create_app

from ..conftest import running
from .conftest import wait_for

REFUND = "Refund <b> & co"  # a rule's name is the theme's name: markup in it must stay text
#: primary theme of each comment (None: the themes job gave it no theme), yesterday and the day before
YESTERDAY = [REFUND] * 5 + ["Delivery"] * 3 + [None] * 2
DAY_BEFORE = [REFUND, None]


@pytest.fixture(scope="module")
def slot(aws):
    slot = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    day = pd.Timestamp(slot).normalize() - pd.Timedelta(days=1)
    rows, themes = [], []
    for back, assigned in ((0, YESTERDAY), (1, DAY_BEFORE)):
        for i, theme in enumerate(assigned):
            fid = f"o{back}-{i}"
            rows.append({"feedback_id": fid, "customer_id": f"O{back}-{i}", "metric": "nps", "score": float(i % 11),
                         "ts": day - pd.Timedelta(days=back) + pd.Timedelta(hours=9, minutes=i),
                         "touchpoint": "web", "comment": f"comment {fid}"})  # fmt: skip
            themes.append((f"feedback:{fid}", theme))
    aws.load("feedback", pd.DataFrame(rows))
    texts = ["my refund never came", "refund please", "delivery was late", "courier lost it", "hello", "fine"] * 4
    save_themes(aws, ThemeExtractor(n_themes=2, rules={REFUND: ["refund"], "Delivery": ["delivery", "courier"]},
                                    min_df=1).fit(texts))  # fmt: skip
    with aws.transaction(changes=["verbatim_themes"]) as cur:  # as the themes job stores them: NULL = no theme
        cur.executemany("INSERT INTO verbatim_themes VALUES (?, ?, NULL, 't')", themes)
    return slot


def _cells(page: str, field: str) -> list[str]:
    return [" ".join(html.unescape(v).split()) for v in re.findall(rf'data-field="{field}"[^>]*>(.*?)</', page, re.S)]


def test_the_digest_lists_the_other_group_last_with_the_themes_page_share(aws, smtp, slot):
    # the top 1 theme, then the other group (not counted in the top): yesterday 10 assigned comments,
    # 5 with the refund theme (50 %), 2 without a theme (20 %); the day before 1 of each
    aws.act.load_rules({"rules": [{"name": "other-digest",
                                   "when": {"schedule": {"every": "day", "metrics": ["nps"], "themes": 1}},
                                   "do": [{"email": {"to": ["cx-lead@example.com"], "host": "127.0.0.1",
                                                     "port": smtp.port}}]}]})  # fmt: skip
    before = len(smtp.messages)
    assert run_schedule(aws, aws.act.rule("other-digest"), slot)
    env = wait_for(lambda: smtp.messages[before:], timeout=60, what="the digest e-mail")[0]
    msg = email.message_from_bytes(env.content, policy=policy.default)
    plain, related = msg.get_payload()
    text = plain.get_content()
    line = f"Top themes — {REFUND}: 5 (50%) (previous period 1); Other (no theme): 2 (20%) (previous period 1)"
    assert line in text
    page = related.get_payload()[0].get_content()
    assert html.escape(line) in page and "<b>" not in page
    # the digest's shared page: the same rows in its table, escaped
    link = create_link(aws.store, "digest:other-digest", role="analyst")
    with running(create_app(aws)) as url:
        shared = httpx.get(url + link["path"], timeout=120).text
    assert _cells(shared, "name") == [REFUND, "Other (no theme) (not an issue theme)"]
    assert _cells(shared, "n") == ["5", "2"] and _cells(shared, "share") == ["50%", "20%"]
    assert _cells(shared, "previous_n") == ["1", "1"]
    assert '<tr data-theme="other" class="other-theme">' in shared and "<b>" not in shared


def test_the_shared_themes_view_lists_the_other_group_last(aws, slot):
    # the last 30 days: 12 assigned comments, refund 6 (50 %), delivery 3 (25 %), no theme 3 (25 %)
    link = create_link(aws.store, "themes", role="analyst")
    with running(create_app(aws)) as url:
        page = httpx.get(url + link["path"], timeout=120).text
    assert _cells(page, "name") == [REFUND, "Delivery", "Other (no theme) (not an issue theme)"]
    assert _cells(page, "n") == ["6", "3", "3"] and _cells(page, "share") == ["50%", "25%", "25%"]
    assert "n = 12 comments the themes job assigned, 3 of them without a theme" in " ".join(page.split())
    assert "<b>" not in page
