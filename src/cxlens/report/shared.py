"""The page of a shared report link (:mod:`cxlens.act.share`): one self-contained HTML page per view —
the overview report, the journey map, the themes and pain points, a scheduled digest with its charts
inlined — computed under the PII policy of the link creator's role, with no link to the dashboard and
nothing loaded from elsewhere."""

from __future__ import annotations

from typing import Any

import pandas as pd

from cxlens.act.share import VIEW_ROLES, SharedLink, digest_report
from cxlens.errors import NotFoundError
from cxlens.schema.pii import pii_policy, policy_for

__all__ = ["render_view"]


def render_view(ws: Any, link: SharedLink) -> str:
    """The view of ``link`` as one self-contained HTML page, computed under the PII policy of the
    creator's role (no links to the dashboard, nothing loaded from elsewhere)."""
    if link.role not in VIEW_ROLES[link.view]:  # a role narrowed since: show nothing
        raise NotFoundError("this shared link does not exist; check that it was copied whole")
    with pii_policy(policy_for(link.role)):
        return _render(ws, link)


#: Vega's CSP-safe expression interpreter (the dashboard loads it too): a shared page's policy allows no eval
INTERPRETER = "vega-interpreter-2.3.2.js"


def _no_eval(page: str) -> str:
    """A self-contained report page with Vega's expression interpreter inlined before ``</body>``, so
    its charts draw under a Content-Security-Policy without ``'unsafe-eval'`` (the dashboard's
    ``app.js`` uses the interpreter when it is there; charts are drawn at DOMContentLoaded)."""
    from cxlens.report.assets import VENDOR, inline_js

    script = f"<script>{inline_js((VENDOR / INTERPRETER).read_text(encoding='utf-8'))}</script>"
    head, sep, tail = page.rpartition("</body>")
    return head + script + sep + tail if sep else page + script


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").tz_localize(None)


def _render(ws: Any, link: SharedLink) -> str:
    start, end = link.params.get("start"), link.params.get("end")
    if link.view == "overview":
        from cxlens.report.build import render_report

        return _no_eval(render_report(ws, start=start, end=end, title="Customer experience overview (shared link)"))
    if link.view == "journey":
        from cxlens.journeys.maps import channel_consistency, journey_map
        from cxlens.report.journey import render_journey_map

        return _no_eval(render_journey_map(journey_map(ws, start, end), channel_consistency(ws, start, end),
                                           title="Journey map (shared link)"))  # fmt: skip
    if link.view == "themes":
        return _page(link, _themes_body(ws, start, end))
    return _page(link, _digest_body(digest_report(ws.store, link)))


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ title }}</title>
<style>body{font:15px/1.45 system-ui,sans-serif;color:#1f2937;max-width:56rem;margin:0 auto;padding:1.5rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}th,td{padding:.3rem .7rem;border-bottom:1px solid #e5e7eb;
text-align:left}td.n{text-align:right}blockquote{color:#4b5563;margin:.2rem 0 .2rem 1rem}.muted{color:#6b7280}
img{max-width:100%}</style></head><body>
<h1>{{ title }}</h1>
<p class="muted">A read-only shared view, valid until {{ expires }} UTC. {{ note }}</p>
{{ body }}
</body></html>"""


def _env() -> Any:
    from cxlens.report.assets import base_env

    return base_env()


def _page(link: SharedLink, body: Any) -> str:
    note = "Customer text is redacted." if not policy_for(link.role).reveal else ""
    return str(_env().from_string(_PAGE).render(title=link.title, expires=f"{link.expires_at:%Y-%m-%d %H:%M}",
                                                note=note, body=body))  # fmt: skip


_THEMES = """<h2>Themes of the last {{ days }} days{% if start %} ({{ start }} to {{ end }}){% endif %}</h2>
{% if themes %}<table><tr><th>Theme</th><th>Comments</th><th>Share</th><th>Example</th></tr>
{% for t in themes %}<tr{% if not t.issue %} data-theme="other" class="other-theme"{% endif %}>
<td data-field="name">{{ t.name }}{% if not t.issue %} (not an issue theme){% endif %}</td>
<td class="n" data-field="n">{{ t.n }}</td><td class="n" data-field="share">{{ t.share }}</td>
<td>{% if t.example %}<blockquote>{{ t.example }}</blockquote>{% endif %}</td></tr>{% endfor %}</table>
<p class="muted">n = {{ total }} comments the themes job assigned{% if unthemed %}, {{ unthemed }} of them without a
theme{% endif %}; shares are of all of them.</p>
{% else %}<p class="muted">No comments in the period have been through the themes job yet.</p>{% endif %}
<h2>Top pain points</h2>
{% if pains %}<table><tr><th>Stage</th><th>Touchpoint</th><th>Theme</th><th>Negative</th><th>Effect (95% CI)</th></tr>
{% for p in pains %}<tr><td>{{ p.stage or "—" }}</td><td>{{ p.touchpoint or "—" }}</td><td>{{ p.name }}{% if not p.issue %} (not an issue theme){% endif %}</td>
<td class="n">{{ p.negative }} ({{ p.share }})</td><td>{{ p.effect or "—" }}{% if p.ci %} ({{ p.ci }}){% endif %}</td>
</tr>{% endfor %}</table>{% else %}<p class="muted">No pain points found.</p>{% endif %}"""


def _themes_body(ws: Any, start: str | None, end: str | None) -> Any:
    from markupsafe import Markup

    from cxlens.voice.summary import overview_pain_points

    store = ws.store
    hi = pd.Timestamp(end) + pd.Timedelta(days=1) if end else _now()
    lo = pd.Timestamp(start) if start else hi - pd.Timedelta(days=30)
    themes = _window_themes(store, lo, hi)
    pains = overview_pain_points(ws, lo.date().isoformat(), hi.date().isoformat())
    total = themes[0]["total"] if themes else 0
    unthemed = sum(t["n"] for t in themes if not t["issue"])
    html = _env().from_string(_THEMES).render(themes=themes, pains=pains, total=total, unthemed=unthemed,
                                              days=(hi - lo).days, start=start, end=end)  # fmt: skip
    return Markup(html)  # noqa: S704 - rendered by an autoescaping template


#: the shared themes view lists at most this many themes (then the comments without a theme)
THEMES_SHOWN = 20


def _window_themes(store: Any, lo: pd.Timestamp, hi: pd.Timestamp) -> list[dict[str, Any]]:
    """The survey comments of ``[lo, hi)`` by stored primary theme: the :data:`THEMES_SHOWN` largest themes,
    then those the themes job gave no theme as "Other (no theme)" (``issue`` False), each with its latest
    comment. ``n`` and ``share`` as :func:`cxlens.voice.theme_summary` defines them: the share is of every
    comment the job assigned in the window (``total``), the unthemed and the themes not shown included."""
    from cxlens.schema.pii import current_policy
    from cxlens.voice.tasks import theme_model
    from cxlens.voice.themes import OTHER_ID, OTHER_NAME

    if not store.has_table("verbatim_themes"):
        return []
    df = store.read(
        "SELECT t.theme, count(*) AS n, arg_max(f.comment, f.ts) AS example, sum(count(*)) OVER () AS total "
        "FROM verbatim_themes t JOIN feedback f ON t.verbatim_id = 'feedback:' || f.feedback_id "
        "WHERE f.ts >= ? AND f.ts < ? GROUP BY t.theme",
        [lo.to_pydatetime(), hi.to_pydatetime()],
    )
    if df.empty:
        return []
    tx, _ = theme_model(store)
    names = tx.names() if tx is not None else {}
    top = df[df["theme"].notna()].sort_values(["n", "theme"], ascending=[False, True]).head(THEMES_SHOWN)
    rows = [(str(r["theme"]), names.get(str(r["theme"]), str(r["theme"])), True, r) for r in top.to_dict("records")]
    rows += [(OTHER_ID, OTHER_NAME, False, r) for r in df[df["theme"].isna()].to_dict("records")]
    policy, total = current_policy(), int(df["total"].iloc[0])
    return [{"theme": t, "name": name, "issue": issue, "n": int(r["n"]), "total": total,
             "share": f"{100 * r['n'] / total:.0f}%",
             "example": policy.text(r["example"]) if isinstance(r["example"], str) else None}
            for t, name, issue, r in rows]  # fmt: skip


_DIGEST = """<h2>{{ period }} {{ span }} ({{ tz }})</h2>
<table><tr><th>Metric</th><th>Value (95% CI)</th><th>n</th><th>Change vs period before</th></tr>
{% for m in metrics %}<tr><td>{{ m.metric | upper }}</td><td>{{ m.line }}</td><td class="n">{{ m.n }}</td>
<td>{{ m.change }}</td></tr>{% endfor %}</table>
{% for name, alt, uri in charts %}<p><img src="{{ uri }}" alt="{{ alt }}"></p>{% endfor %}
{% if themes %}<h2>Top themes</h2><table><tr><th>Theme</th><th>Comments</th><th>Share</th><th>Period before</th></tr>
{% for t in themes %}<tr{% if t.issue is false %} data-theme="other" class="other-theme"{% endif %}>
<td data-field="name">{{ t.name or t.theme }}{% if t.issue is false %} (not an issue theme){% endif %}</td>
<td class="n" data-field="n">{{ t.n }}</td>
<td class="n" data-field="share">{% if t.share is not none %}{{ "%.0f" | format(100 * t.share) }}%{% endif %}</td>
<td class="n" data-field="previous_n">{{ t.previous_n }}</td></tr>
{% endfor %}</table>{% if themes[0].share is defined %}<p class="muted">Shares are of every comment the themes job
assigned in the period, those without a theme included.</p>{% endif %}{% endif %}
<h2>Open cases</h2><p>{{ cases.total }} open, {{ cases.overdue }} overdue{% for p, n in cases.by_priority|dictsort %};
{{ p }} {{ n }}{% endfor %}</p>"""


def _digest_body(report: dict[str, Any]) -> Any:
    import base64

    from markupsafe import Markup

    from cxlens.act.charts import CHARTS, digest_charts

    metrics = []
    for m in report.get("metrics", []):
        unit = "%" if m["metric"] == "csat" else ""
        line = (f"{m['value']:g}{unit} ({m['ci_low']:g} to {m['ci_high']:g})" if m.get("value") is not None
                and m.get("ci_low") is not None else "no answers")  # fmt: skip
        if m.get("previous") is None:
            change = "no answers in the period before"
        else:
            change = (f"{m['delta']:+g} vs {m['previous']:g} (n = {m['previous_n']}), "
                      f"{'significant' if m['significant'] else 'not significant'} (p = {m['p_value']:.3g})"
                      + (", small sample" if m.get("small_sample") else ""))  # fmt: skip
        metrics.append({"metric": m["metric"], "line": line, "n": m.get("n", 0), "change": change})
    charts = [(k, CHARTS[k], "data:image/png;base64," + base64.b64encode(v).decode())
              for k, v in digest_charts(report).items()]  # fmt: skip
    until = (report.get("until") or "")[:10]
    span = (report.get("from") or "")[:10] + ("" if report.get("period") == "day" else f" to {until} (exclusive)")
    html = _env().from_string(_DIGEST).render(
        period=str(report.get("period", "")).capitalize(), span=span, tz=report.get("tz", "UTC"), metrics=metrics,
        charts=charts, themes=report.get("themes", []),
        cases=report.get("open_cases") or {"total": 0, "overdue": 0, "by_priority": {}},
    )  # fmt: skip
    return Markup(html)  # noqa: S704 - rendered by an autoescaping template
