"""Act pages: ``/rules`` (the rules with their status and activity, a YAML editor checked by the same
loader as ``cxlens rules load``, each rule's version history with diffs, pause/resume), ``/cases`` (the
follow-up queue: filter, assign, note, close with an outcome) and ``/deliveries`` (deliveries and the
dead letters with their error and a retry button).

Who may do what: rules and deliveries are read by admins and analysts, changed by admins only;
cases are read and changed by every role, an agent only in the queues of their teams (as the API).
Every form is POST with the CSRF token; every value is escaped by the templates.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any
from urllib.parse import quote, urlencode

import pandas as pd
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cxlens.errors import ConfigError, CxlensError, NotFoundError
from cxlens.web.deps import csrf_protect, current_user, require_role, run_on_workspace
from cxlens.web.deps import who as changed_by
from cxlens.web.pages import register

__all__ = ["cases_router", "deliveries_router", "rules_router"]

STAFF = Depends(require_role("admin", "analyst"))
ADMIN = Depends(require_role("admin"))
ANYONE = Depends(require_role("admin", "analyst", "agent"))
CSRF = Depends(csrf_protect)

rules_router = register(APIRouter(include_in_schema=False), id="rules", label="Rules", path="/rules", order=70)
cases_router = register(APIRouter(include_in_schema=False), id="cases", label="Cases", path="/cases", order=71)
deliveries_router = register(APIRouter(include_in_schema=False), id="deliveries", label="Deliveries",
                             path="/deliveries", order=72)  # fmt: skip

NOTICES = {
    "saved": "Rules saved.",
    "paused": "Rule paused: it fires no more alerts until resumed.",
    "resumed": "Rule resumed.",
    "tested": "Test alert queued to each destination of the rule; see Deliveries.",
    "updated": "Case updated.",
    "noted": "Note added.",
    "closed": "Case closed.",
    "retried": "Delivery queued again with a fresh set of attempts.",
}
NEW_RULE = """\
rules:
  - name: detractor-alert
    when: {feedback: {metric: nps, score: {max: 6}}}
    do:
      - webhook: {url: "https://hooks.example.com/cx", secret_env: CX_HOOK_SECRET}
      - case: {team: support, priority: high}
"""


def _text(v: Any) -> str:
    """A cell as text: '' for missing values, timestamps to the minute."""
    if v is None or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M")
    return str(v)


def _records(df: Any) -> list[dict[str, str]]:
    return [{k: _text(v) for k, v in r.items()} for r in df.to_dict("records")]


def _is_admin(request: Request) -> bool:
    user = current_user(request)
    return user is None or user.role == "admin"  # no user: open mode, the local operator


def _render(request: Request, template: str, ctx: dict[str, Any], status: int = 200) -> HTMLResponse:
    ctx = {"can_admin": _is_admin(request), **ctx}
    resp = request.app.state.templates.TemplateResponse(request, template, ctx, status_code=status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _back(path: str, done: str) -> Response:
    return RedirectResponse(f"{path}{'&' if '?' in path else '?'}done={done}", status_code=303)


# -- rules ----------------------------------------------------------------------------------------
def _rules_view(ws: Any) -> dict[str, Any]:
    rules = ws.act.rules()
    activity = ws.act.activity().set_index("name") if len(rules) else None
    rows = []
    for r in _records(rules):
        a = activity.loc[r["name"]] if activity is not None and r["name"] in activity.index else {}
        rows.append({**r, **{k: _text(a.get(k, "")) for k in ("alerts", "alerts_24h", "last_fired", "open_cases",
                                                               "failed")}})  # fmt: skip
    return {"rules": rows}


async def _rules_page(request: Request, *, yaml_text: str | None = None, error: str | None = None,
                      notice: str | None = None, status: int = 200) -> HTMLResponse:  # fmt: skip
    view = await run_on_workspace(request, _rules_view)
    return _render(request, "act/rules.html", {"nav_active": "rules", **view, "yaml": yaml_text or NEW_RULE,
                                               "error": error, "notice": notice}, status)  # fmt: skip


@rules_router.get("/rules", response_class=HTMLResponse, dependencies=[STAFF])
async def rules_page(request: Request, done: str = "") -> HTMLResponse:
    return await _rules_page(request, notice=NOTICES.get(done))


async def _submit(request: Request, yaml_text: str, action: str) -> tuple[str | None, str | None]:
    """Check (``action`` "check") or save the rules file ``yaml_text``: (error, notice)."""
    from cxlens.act.rules import parse_rules

    if len(yaml_text) > 256 * 1024:
        return f"the rules file is {len(yaml_text)} characters long; expected at most 262144", None
    text = yaml_text if "\n" in yaml_text else yaml_text + "\n"  # never read as a file name
    who = changed_by(request)
    try:
        if action == "check":
            found = parse_rules(text)
            return (
                None,
                f"Valid: {len(found)} rule{'s' if len(found) != 1 else ''} ({', '.join(r.name for r in found)}).",
            )
        saved = await run_on_workspace(request, lambda ws: ws.act.load_rules(text, who=who))
    except (ConfigError, NotFoundError) as e:
        return str(e), None
    return None, "Saved: " + "; ".join(f"{r['name']} {r['change']} (version {r['version']})"
                                      for r in saved.to_dict("records")) + "."  # fmt: skip


@rules_router.post("/rules", response_class=HTMLResponse, dependencies=[ADMIN, CSRF])
async def rules_submit(request: Request, yaml: str = Form(""), action: str = Form("save")) -> HTMLResponse:
    error, notice = await _submit(request, yaml, action)
    return await _rules_page(request, yaml_text=yaml, error=error, notice=notice, status=400 if error else 200)


def _rule_view(ws: Any, name: str) -> dict[str, Any]:
    from cxlens.act.rules import rule_yaml

    r = ws.act.rule(name)
    hist = ws.act.history(name, diff=True).sort_values("version", ascending=False)
    activity = ws.act.activity()
    act = activity[activity["name"] == name]
    stats = _records(act)[0] if len(act) else {}
    return {"rule": {"name": r.name, "version": r.version, "status": r.status, "trigger": r.trigger,
                     "changed_by": r.changed_by or "", "changed_at": _text(r.changed_at),
                     "description": r.description or ""},
            "stats": stats,
            "history": [{"version": int(h["version"]), "status": h["status"], "change": h["change"] or "",
                         "changed_by": h["changed_by"] or "", "changed_at": _text(h["changed_at"]),
                         "diff": h["diff"]} for h in hist.to_dict("records")],
            "current_yaml": rule_yaml(r.to_dict())}  # fmt: skip


async def _rule_page(request: Request, name: str, *, yaml_text: str | None = None, error: str | None = None,
                     notice: str | None = None, status: int = 200) -> HTMLResponse:  # fmt: skip
    view = await run_on_workspace(request, lambda ws: _rule_view(ws, name))
    return _render(request, "act/rule.html", {"nav_active": "rules", **view, "yaml": yaml_text or view["current_yaml"],
                                              "error": error, "notice": notice}, status)  # fmt: skip


@rules_router.get("/rules/{name}", response_class=HTMLResponse, dependencies=[STAFF])
async def rule_page(request: Request, name: str, done: str = "") -> HTMLResponse:
    return await _rule_page(request, name, notice=NOTICES.get(done))


@rules_router.post("/rules/{name}", response_class=HTMLResponse, dependencies=[ADMIN, CSRF])
async def rule_submit(request: Request, name: str, yaml: str = Form(""), action: str = Form("save")) -> HTMLResponse:
    error, notice = await _submit(request, yaml, action)
    return await _rule_page(request, name, yaml_text=yaml, error=error, notice=notice, status=400 if error else 200)


def _rule_action(verb: str) -> Any:
    async def endpoint(request: Request, name: str) -> Response:
        who = changed_by(request)

        def work(ws: Any) -> None:
            if verb == "send-test":
                ws.act.send_test(name)
            else:
                getattr(ws.act, verb)(name, who=who)

        try:
            await run_on_workspace(request, work)
        except ConfigError as e:
            return await _rule_page(request, name, error=str(e), status=400)
        done = {"pause": "paused", "resume": "resumed", "send-test": "tested"}[verb]
        return _back(f"/rules/{quote(name)}", done)

    return endpoint


for _verb in ("pause", "resume", "send-test"):
    rules_router.post(f"/rules/{{name}}/{_verb}", dependencies=[ADMIN, CSRF])(_rule_action(_verb))


# -- cases ----------------------------------------------------------------------------------------
def _loop_rows(df: Any) -> list[dict[str, str]]:
    """The closed-loop table's rows, formatted (— where there is nothing to show)."""

    def num(v: Any, fmt: str) -> str:
        return "—" if v is None or v != v else fmt.format(v)

    return [
        {"team": r["team"] if isinstance(r["team"], str) else "(no team)", "cases": f"{r['cases']:,}",
         "sla": num(r["within_sla_rate"], "{:.0%}") + f" (n = {r['sla_n']:,})",
         "sla_ci": num(r["ci_low"], "{:.0%}") + "–" + num(r["ci_high"], "{:.0%}"),
         "contact": num(r["first_contact_median_h"], "{:.1f} h") + " · p90 " + num(r["first_contact_p90_h"], "{:.1f} h"),
         "close": num(r["close_median_h"], "{:.1f} h") + " · p90 " + num(r["close_p90_h"], "{:.1f} h")}
        for r in df.to_dict(orient="records")
    ]  # fmt: skip


def _teams(request: Request, ws: Any) -> list[str] | None:
    user = current_user(request)
    return ws.act.teams_of(user.email) if user is not None and user.role == "agent" else None


@cases_router.get("/cases", response_class=HTMLResponse, dependencies=[ANYONE])
async def cases_page(request: Request, status: str = "", team: str = "", priority: str = "", owner: str = "",
                     done: str = "") -> HTMLResponse:  # fmt: skip
    from cxlens.act.cases import STATUSES
    from cxlens.act.rules import PRIORITIES

    filters = {"status": status, "team": team, "priority": priority, "owner": owner}

    def work(ws: Any) -> dict[str, Any]:
        teams = _teams(request, ws)
        df = ws.act.cases(status=status or None, team=team or None, priority=priority or None, owner=owner or None,
                          teams=teams, limit=500)  # fmt: skip
        loop = None if teams is not None else ws.metrics.closed_loop(by="team")  # agents: their queue only
        return {"cases": _records(df), "teams": teams if teams is not None else ws.act.teams(),
                "loop": _loop_rows(loop) if loop is not None else []}  # fmt: skip

    error = None
    try:
        view = await run_on_workspace(request, work)
    except ConfigError as e:  # an unknown status or priority in the address
        error, view = str(e), {"cases": [], "teams": [], "loop": []}
    return _render(request, "act/cases.html", {"nav_active": "cases", **view, "filters": filters,
                                               "statuses": STATUSES, "priorities": PRIORITIES, "error": error,
                                               "notice": NOTICES.get(done)}, 400 if error else 200)  # fmt: skip


async def _case_page(request: Request, case_id: str, *, error: str | None = None, notice: str | None = None,
                     status: int = 200) -> HTMLResponse:  # fmt: skip
    from cxlens.act.cases import OUTCOMES, STATUSES
    from cxlens.act.rules import PRIORITIES

    def work(ws: Any) -> dict[str, Any]:
        teams = _teams(request, ws)
        case = ws.act.case(case_id, teams=teams)
        events = case.pop("events")
        resurvey = case.pop("resurvey", None)
        return {"case": {k: _text(v) for k, v in case.items()},
                "resurvey": {k: _text(v) for k, v in resurvey.items()} if resurvey else None,
                "events": [{k: _text(v) for k, v in e.items()} for e in events],
                "teams": teams if teams is not None else ws.act.teams()}  # fmt: skip

    view = await run_on_workspace(request, work)
    return _render(request, "act/case.html", {"nav_active": "cases", **view, "statuses": STATUSES,
                                              "priorities": PRIORITIES, "outcomes": OUTCOMES, "error": error,
                                              "notice": notice}, status)  # fmt: skip


@cases_router.get("/cases/{case_id}", response_class=HTMLResponse, dependencies=[ANYONE])
async def case_page(request: Request, case_id: str, done: str = "") -> HTMLResponse:
    return await _case_page(request, case_id, notice=NOTICES.get(done))


@cases_router.post("/cases/{case_id}", dependencies=[ANYONE, CSRF])
async def case_submit(
    request: Request,
    case_id: str,
    action: str = Form("update"),
    owner: str = Form(""),
    team: str = Form(""),
    status: str = Form(""),
    priority: str = Form(""),
    outcome: str = Form(""),
    note: str = Form(""),
) -> Response:
    """``action`` "update" (owner, team, status, priority), "note" or "close" (with an outcome)."""
    who = changed_by(request)
    if action == "note":
        changes: dict[str, Any] = {"note": note.strip()}
        if not changes["note"]:
            return await _case_page(request, case_id, error="note is empty; write what was done", status=400)
    elif action == "close":
        if not outcome:
            return await _case_page(request, case_id, error="outcome is missing; choose how the case ended",
                                    status=400)  # fmt: skip
        changes = {"status": "closed", "outcome": outcome, "note": note.strip() or None}
    elif action == "update":
        changes = {k: v.strip() for k, v in {"owner": owner, "team": team, "status": status,
                                              "priority": priority}.items() if v.strip()}  # fmt: skip
    else:
        return await _case_page(request, case_id, error=f"action {action!r} is not known; expected update, note "
                                "or close", status=400)  # fmt: skip

    def work(ws: Any) -> None:
        ws.act.update_case(case_id, teams=_teams(request, ws), actor=who, **changes)

    try:
        await run_on_workspace(request, work)
    except NotFoundError:
        raise
    except CxlensError as e:
        return await _case_page(request, case_id, error=str(e), status=e.http_status)
    done = {"note": "noted", "close": "closed"}.get(action, "updated")
    return _back(f"/cases/{quote(case_id)}", done)


# -- deliveries -----------------------------------------------------------------------------------
@deliveries_router.get("/deliveries", response_class=HTMLResponse, dependencies=[STAFF])
async def deliveries_page(request: Request, status: str = "", rule: str = "", done: str = "",
                          error: str = "") -> HTMLResponse:  # fmt: skip
    def work(ws: Any) -> dict[str, Any]:
        return {"deliveries": _records(ws.act.deliveries(status=status or None, rule=rule or None, limit=200)),
                "dead": _records(ws.act.dead_letters(200)), "rules": list(ws.act.rules()["name"])}  # fmt: skip

    err = None
    try:
        view = await run_on_workspace(request, work)
    except ConfigError as e:
        err, view = str(e), {"deliveries": [], "dead": [], "rules": []}
    return _render(request, "act/deliveries.html", {
        "nav_active": "deliveries", **view, "filters": {"status": status, "rule": rule},
        "statuses": ("queued", "running", "sent", "dead", "refused"), "notice": NOTICES.get(done), "error": err,
    }, 400 if err else 200)  # fmt: skip


@deliveries_router.post("/deliveries/{delivery_id}/retry", dependencies=[ADMIN, CSRF])
async def delivery_retry(request: Request, delivery_id: str) -> Response:
    await run_on_workspace(request, lambda ws: ws.act.retry(delivery_id))
    return RedirectResponse("/deliveries?" + urlencode({"done": "retried"}), status_code=303)
