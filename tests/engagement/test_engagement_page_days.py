"""The /engagement page offers only the scorecard's windows (7, 14, 30, 90 days) and answers any other
``days`` with a 400 naming the parameter, over HTTP on a real server."""

from __future__ import annotations

import re

import httpx
import pytest

import cxlens

from ..conftest import running


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    from cxlens.web import create_app

    p = tmp_path_factory.mktemp("engdays") / "e.duckdb"
    cxlens.open(p).close()
    with running(create_app(p)) as u:
        yield u


def test_the_form_offers_only_the_scorecard_windows(url):
    r = httpx.get(f"{url}/engagement", params={"days": 30, "card": "agent"}, timeout=60)
    assert r.status_code == 200, r.text[:500]
    select = re.search(r'<select name="days" id="eng-days">(.*?)</select>', r.text, re.S)
    assert select is not None
    options = re.findall(r'<option value="(\d+)"( selected)?>', select.group(1))
    assert [int(v) for v, _ in options] == [7, 14, 30, 90]
    assert [int(v) for v, sel in options if sel] == [30]
    # the group-by form keeps the window and the scorecard choice
    assert '<input type="hidden" name="days" value="30">' in r.text
    assert '<input type="hidden" name="card" value="agent">' in r.text
    for days in (7, 14, 90):
        assert httpx.get(f"{url}/engagement", params={"days": days}, timeout=60).status_code == 200


@pytest.mark.parametrize("days", [1, 8, 29, 0, 91, -7])
def test_another_window_is_a_clear_400(url, days):
    r = httpx.get(f"{url}/engagement", params={"days": days}, timeout=60)
    assert r.status_code == 400, r.text[:500]
    assert f"days is {days}; expected one of 7, 14, 30, 90" in r.text
    assert "Employee engagement" not in r.text  # the error page, not the page with an error inside


def test_a_non_number_is_refused_naming_days(url):
    r = httpx.get(f"{url}/engagement", params={"days": "week"}, timeout=60)
    assert r.status_code == 422 and "days" in r.text
