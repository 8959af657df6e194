"""Every dashboard page at a laptop (1366 px) and a phone (390 px) width, in a real Chromium.

For each page and width: a full-page screenshot is taken (kept under the test's tmp folder), the
page must not scroll sideways, no visible element may stick out of the viewport unless it sits in
its own horizontally scrolling container (wide tables scroll inside ``.table-wrap``), and the
visible text must not show ``nan``, ``NaN``, ``None`` or ``undefined``.
"""

from __future__ import annotations

import re
import struct

import pytest
from tests.conftest import new_page

import cxlens

NAN = re.compile(r"\b(?:nan|NaN|None|undefined)\b")

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WIDTHS = (1366, 390)
PAGES = ["/", "/import", "/funnels", "/paths", "/journey", "/surveys", "/feedback", "/themes", "/drivers",
         "/customers", "/segments", "/personas", "/models", "/admin/users"]  # fmt: skip

#: elements outside the viewport with no scrolling ancestor, as "tag#id.class (left–right px)"
OFFENDERS_JS = """
() => {
  const vw = document.documentElement.clientWidth;
  const scrolls = (el) => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const ox = getComputedStyle(a).overflowX;
      if (ox === 'auto' || ox === 'scroll') return a.getBoundingClientRect().right <= vw + 1;
    }
    return false;
  };
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const st = getComputedStyle(el);
    if (st.visibility === 'hidden' || st.position === 'fixed') continue;
    if (r.right <= 0) continue;  // moved off-screen on purpose (the skip link until focused)
    let clipped = false;  // cut off by an ancestor that hides its overflow
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const ox = getComputedStyle(a).overflowX;
      if (ox === 'auto' || ox === 'scroll') break;
      if ((ox === 'hidden' || ox === 'clip') && r.right > a.getBoundingClientRect().right + 1) { clipped = true; break; }
    }
    if (clipped || ((r.right > vw + 1 || r.left < -1) && !scrolls(el))) {
      out.push(`${el.tagName.toLowerCase()}#${el.id}.${String(el.className).slice(0, 40)} (${Math.round(r.left)}–${Math.round(r.right)} px)`);
    }
  }
  return {vw, scrollWidth: document.documentElement.scrollWidth, offenders: out.slice(0, 8)};
}
"""


@pytest.fixture(scope="module")
def customer_id(sample_path):
    with cxlens.open(sample_path) as ws:
        return str(ws.sql("SELECT min(customer_id) AS c FROM customers")["c"].iloc[0])


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("width", WIDTHS)
def test_pages_fit_the_width_and_show_no_nan(browser, server, customer_id, width, tmp_path):
    pg = new_page(browser, width, 900)
    problems: dict[str, object] = {}
    try:
        for path in [*PAGES, f"/customers/{customer_id}"]:
            resp = pg.goto(server + path, wait_until="networkidle")
            assert resp is not None and resp.status == 200, (path, resp and resp.status)
            pg.wait_for_timeout(150)  # charts render after the network settles
            shot = tmp_path / f"{path.strip('/').replace('/', '_') or 'overview'}-{width}.png"
            pg.screenshot(path=str(shot), full_page=True)
            w, h = _png_size(shot.read_bytes())
            assert h >= 200, (path, w, h)
            fit = pg.evaluate(OFFENDERS_JS)
            text = pg.inner_text("body")
            bad_words = sorted({m.group(0) for m in NAN.finditer(text)})
            if w != width or fit["scrollWidth"] > fit["vw"] + 1 or fit["offenders"] or bad_words:
                problems[path] = {"screenshot_width": w, "scroll_width": fit["scrollWidth"], "viewport": fit["vw"],
                                  "offenders": fit["offenders"], "words": bad_words}  # fmt: skip
        assert pg.errors == []
    finally:
        pg.close()
    if problems:
        import json
        import os

        if os.environ.get("CXLENS_LAYOUT_REPORT"):
            with open(os.environ["CXLENS_LAYOUT_REPORT"], "a") as fh:
                fh.write(json.dumps({str(width): problems}, indent=1) + "\n")
    assert problems == {}, problems
