"""The HTML report: one self-contained file with the KPI values of ws.metrics."""

from __future__ import annotations

import re

import pytest

from cxlens.errors import ConfigError
from cxlens.report import build_report


def test_report_is_one_self_contained_file(sample_ws, tmp_path):
    out = build_report(sample_ws, tmp_path / "r.html")
    assert out == tmp_path / "r.html"
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>")
    assert not re.search(r"<script[^>]+src=", html, re.I)
    assert not re.search(r"<link[^>]+href=", html, re.I)
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", html, re.I)
    assert "sourceMappingURL" not in html
    # the chart libraries are inlined
    assert "vegaEmbed" in html and "vegaLite" in html
    assert html.count("<script>") == 4


def test_report_shows_library_kpis_with_ci(sample_ws, tmp_path):
    html = build_report(sample_ws, tmp_path / "r.html").read_text(encoding="utf-8")
    nps = sample_ws.metrics.nps().iloc[0]
    tile = re.search(r'data-kpi="nps".*?</article>', html, re.S).group(0)
    assert f">{nps['nps']:.1f}<" in tile
    assert f"n = {nps['n']:,}" in tile
    assert f"95% CI {nps['ci_low']:.1f} – {nps['ci_high']:.1f}" in tile
    csat = sample_ws.metrics.csat().iloc[0]
    assert f">{csat['csat']:.1f}%<" in re.search(r'data-kpi="csat".*?</article>', html, re.S).group(0)


def test_report_respects_dates_and_filters(sample_ws, sample_facts, tmp_path):
    f = sample_facts
    filters = {"channel": f["channel"]}
    out = build_report(sample_ws, tmp_path / "r.html", start=f["start"], end=f["end"], filters=filters)
    html = out.read_text(encoding="utf-8")
    nps = sample_ws.metrics.nps(start=f["start"], end=f["end"], filters=filters).iloc[0]
    assert nps["n"] > 0
    tile = re.search(r'data-kpi="nps".*?</article>', html, re.S).group(0)
    assert f">{nps['nps']:.1f}<" in tile and f"n = {nps['n']:,}" in tile
    assert f"From {f['start']} until {f['end']} (exclusive); channel = {f['channel']}" in html


def test_report_lists_significant_movers_of_last_month(sample_ws, tmp_path):
    html = build_report(sample_ws, tmp_path / "r.html").read_text(encoding="utf-8")
    expected = set()
    for metric in ("nps", "csat"):
        for by in ("touchpoint", "stage"):
            ch = sample_ws.metrics.change(metric, period="month", by=by)
            last = ch[(ch["period"] == ch["period"].max()) & ch["significant"].astype(bool)]
            expected |= {(metric, by, str(g)) for g in last[by]}
    rows = re.findall(r'<tr data-mover="(\w+):(\w+)"[^>]*>.*?<th scope="row">(.*?)</th>', html, re.S)
    assert {(m, b, g) for m, b, g in rows} == {
        (m, b, g.replace("<", "&lt;").replace(">", "&gt;")) for m, b, g in expected
    }


def test_report_escapes_customer_text(sample_ws, tmp_path):
    html = build_report(sample_ws, tmp_path / "r.html", comments=True).read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html


def test_report_into_missing_folder_is_a_clear_error(sample_ws, tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        build_report(sample_ws, tmp_path / "nope" / "r.html")
