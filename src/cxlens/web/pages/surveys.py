"""Survey pages: the dashboard (list, builder with live preview, results) and the hosted survey page.

Dashboard: ``/surveys`` (list), ``/surveys/new`` and ``/surveys/{id}/edit`` (builder; the live
preview is the real widget rendering the definition the server validated from the form),
``/surveys/{id}`` (results). Every form carries the CSRF token.

Hosted (public, works without JavaScript): ``/s/{workspace}/{survey_id}`` for public link
surveys and ``…?t=TOKEN`` for personal email links. Step one posts the score (the response
exists from then on), step two the follow-up worded for the answer's group.
"""

from __future__ import annotations

import math
import secrets
from typing import Any

import yaml
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from cxlens import surveys
from cxlens.charts import to_vega_lite, trend_chart
from cxlens.errors import ConfigError, CxlensError, NotFoundError
from cxlens.surveys import links
from cxlens.surveys.definition import DISPLAYS, METRICS, POSITIONS, STATUSES, condition_holds
from cxlens.web.api.surveys import check_survey_rate
from cxlens.web.deps import csrf_protect, hub, require_role, run_on_workspace
from cxlens.web.pages import register

router = register(APIRouter(include_in_schema=False), id="surveys", label="Surveys", path="/surveys", order=45)
Reader = Depends(require_role("admin", "analyst"))
Admin = Depends(require_role("admin"))
CSRF = Depends(csrf_protect)
ANON_COOKIE = "cxlens_aid"


def _render(request: Request, template: str, ctx: dict[str, Any], status: int = 200) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, template, ctx, status_code=status)


def _num(v: Any, fmt: str = "{:.1f}") -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "—"
    return fmt.format(f) if math.isfinite(f) else "—"


# -- list ------------------------------------------------------------------------------------------
@router.get("/surveys", response_class=HTMLResponse, dependencies=[Reader])
async def survey_list(request: Request) -> HTMLResponse:
    df = await run_on_workspace(request, surveys.list_surveys)
    rows = df.to_dict("records")
    return _render(request, "surveys/list.html", {"nav_active": "surveys", "rows": rows})


# -- builder ---------------------------------------------------------------------------------------
FORM_FIELDS = (
    "id", "name", "metric", "display", "question", "status", "touchpoint", "channel", "thank_you", "low_label",
    "high_label", "fu_default", "fu_promoter", "fu_passive", "fu_detractor", "fu_low", "fu_high", "url",
    "trigger_event", "delay_seconds", "sample_rate", "recontact_days", "max_responses", "start", "end",
    "position", "color_primary", "color_background", "color_text", "tab_label", "extra",
)  # fmt: skip
CHECKBOXES = ("once_per_person", "feedback_tab", "link_public")


def form_to_definition(form: dict[str, str]) -> dict[str, Any]:
    """The builder's form fields → a definition dict (validated afterwards by the library)."""
    f = {k: (form.get(k) or "").strip() for k in FORM_FIELDS}

    def num(key: str, integer: bool = False) -> Any:
        if not f[key]:
            return None
        try:
            return int(f[key]) if integer else float(f[key])
        except ValueError:
            raise ConfigError(f"survey field {key!r} is {f[key]!r}; expected a number") from None

    d: dict[str, Any] = {k: f[k] for k in ("id", "name", "metric", "question", "status") if f[k]}
    for k in ("display", "touchpoint", "channel", "thank_you", "low_label", "high_label"):
        if f[k]:
            d[k] = f[k]
    groups = ("promoter", "passive", "detractor") if f["metric"] in ("nps", "enps") else ("low", "high")
    follow = {g: f["fu_" + g] for g in ("default", *groups) if f["fu_" + g]}
    if follow:
        d["follow_up"] = follow
    trigger = {"event": f["trigger_event"] or None, "delay_seconds": num("delay_seconds") or 0}
    targeting: dict[str, Any] = {"trigger": trigger, "once_per_person": form.get("once_per_person") == "on"}
    if f["url"]:
        targeting["url"] = [u.strip() for u in f["url"].split(",") if u.strip()]
    for key, integer in (("sample_rate", False), ("recontact_days", True), ("max_responses", True)):
        v = num(key, integer)
        if v is not None:
            targeting[key] = v
    for key in ("start", "end"):
        if f[key]:
            targeting[key] = f[key]
    d["targeting"] = targeting
    colors = {k: f["color_" + k] for k in ("primary", "background", "text") if f["color_" + k]}
    d["appearance"] = {"position": f["position"] or "bottom-right", "colors": colors,
                       "feedback_tab": form.get("feedback_tab") == "on"}  # fmt: skip
    if f["tab_label"]:
        d["appearance"]["tab_label"] = f["tab_label"]
    d["link"] = {"public": form.get("link_public") == "on"}
    if f["extra"]:  # questions, translations, options: YAML the form has no fields for
        try:
            extra = yaml.safe_load(f["extra"])
        except yaml.YAMLError as e:
            raise ConfigError(f"survey field 'extra' is not valid YAML ({str(e).splitlines()[0]}); fix it") from None
        if not isinstance(extra, dict):
            raise ConfigError("survey field 'extra' must be a YAML mapping such as 'questions: [...]'")
        d.update(extra)
    return d


def definition_to_form(d: surveys.SurveyDefinition) -> dict[str, Any]:
    t, a = d.targeting, d.appearance
    extra = {k: v for k, v in d.to_dict().items() if k in ("questions", "translations", "options") and v}
    form: dict[str, Any] = {
        "id": d.id, "name": d.name, "metric": d.metric, "display": d.display, "question": d.question,
        "status": d.status, "touchpoint": d.touchpoint or "", "channel": d.channel or "", "thank_you": d.thank_you,
        "low_label": d.low_label or "", "high_label": d.high_label or "", "url": ", ".join(t.get("url") or []),
        "trigger_event": (t.get("trigger") or {}).get("event") or "",
        "delay_seconds": _plain((t.get("trigger") or {}).get("delay_seconds")), "sample_rate": _plain(t.get("sample_rate")),
        "recontact_days": _plain(t.get("recontact_days")), "max_responses": _plain(t.get("max_responses")),
        "start": (t.get("start") or "")[:10], "end": (t.get("end") or "")[:10], "position": a.get("position"),
        "tab_label": a.get("tab_label") or "", "once_per_person": t.get("once_per_person", True),
        "feedback_tab": a.get("feedback_tab", False), "link_public": d.link.get("public", False),
        "extra": yaml.safe_dump(extra, sort_keys=False, allow_unicode=True) if extra else "",
    }  # fmt: skip
    for g in ("default", "promoter", "passive", "detractor", "low", "high"):
        form["fu_" + g] = d.follow_up.get(g, "")
    for k in ("primary", "background", "text"):
        form["color_" + k] = a.get("colors", {}).get(k, "")
    return form


def _plain(v: Any) -> str:
    if v is None:
        return ""
    return f"{v:g}" if isinstance(v, float) else str(v)


DEFAULT_FORM = {"metric": "nps", "status": "draft", "sample_rate": "1", "recontact_days": "30", "delay_seconds": "0",
                "position": "bottom-right", "once_per_person": True, "thank_you": "Thank you for your feedback!"}  # fmt: skip


async def _builder(request: Request, form: dict[str, Any], *, editing: str | None, error: str | None = None,
                   status: int = 200) -> HTMLResponse:  # fmt: skip
    tps = await run_on_workspace(request, lambda ws: [t.id for t in ws.journey.touchpoints])
    ctx = {"nav_active": "surveys", "form": form, "editing": editing, "error": error, "metrics": list(METRICS),
           "displays": DISPLAYS, "statuses": STATUSES, "positions": POSITIONS, "touchpoints": tps}  # fmt: skip
    return _render(request, "surveys/builder.html", ctx, status)


@router.get("/surveys/new", response_class=HTMLResponse, dependencies=[Admin])
async def survey_new(request: Request) -> HTMLResponse:
    return await _builder(request, dict(DEFAULT_FORM), editing=None)


async def _form(request: Request) -> dict[str, str]:
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


@router.post("/surveys/new", dependencies=[Admin, CSRF])
async def survey_create(request: Request) -> Response:
    form = await _form(request)
    try:
        d = await run_on_workspace(request, lambda ws: surveys.create_survey(ws, form_to_definition(form)))
    except ConfigError as e:
        return await _builder(request, form, editing=None, error=str(e), status=e.http_status)
    return RedirectResponse(f"/surveys/{d.id}", status_code=303)


@router.get("/surveys/{survey_id}/edit", response_class=HTMLResponse, dependencies=[Admin])
async def survey_edit(request: Request, survey_id: str) -> HTMLResponse:
    d = await run_on_workspace(request, lambda ws: surveys.get_survey(ws, survey_id))
    return await _builder(request, definition_to_form(d), editing=survey_id)


@router.post("/surveys/{survey_id}/edit", dependencies=[Admin, CSRF])
async def survey_save(request: Request, survey_id: str) -> Response:
    form = await _form(request)
    form["id"] = survey_id
    try:
        await run_on_workspace(request, lambda ws: surveys.update_survey(ws, survey_id, form_to_definition(form)))
    except ConfigError as e:
        return await _builder(request, form, editing=survey_id, error=str(e), status=e.http_status)
    return RedirectResponse(f"/surveys/{survey_id}", status_code=303)


@router.post("/surveys/{survey_id}/status", dependencies=[Admin, CSRF])
async def survey_status(request: Request, survey_id: str) -> Response:
    status = (await _form(request)).get("status", "")
    await run_on_workspace(request, lambda ws: surveys.set_status(ws, survey_id, status))
    return RedirectResponse(f"/surveys/{survey_id}", status_code=303)


@router.post("/surveys/preview", dependencies=[Admin, CSRF])
async def survey_preview(request: Request) -> JSONResponse:
    """The builder's live preview: the form validated into the localised survey the widget renders."""
    form = await _form(request)
    for key, placeholder in (("id", "preview"), ("name", "Preview"), ("question", "Your question")):
        if not form.get(key, "").strip():
            form[key] = placeholder  # show the widget while the form is still being filled in

    def work(ws: Any) -> dict[str, Any]:
        d = surveys.store.validate_against_journey(ws, surveys.load_definition(form_to_definition(form)))
        return d.localised(form.get("preview_lang") or d.language)

    try:
        return JSONResponse({"survey": await run_on_workspace(request, work)})
    except ConfigError as e:
        return JSONResponse({"error": str(e)}, status_code=200)


# -- results ---------------------------------------------------------------------------------------
@router.get("/surveys/{survey_id}", response_class=HTMLResponse, dependencies=[Reader])
async def survey_results_page(request: Request, survey_id: str, period: str = "month") -> HTMLResponse:
    res = await run_on_workspace(request, lambda ws: surveys.survey_results(ws, survey_id, period=period))
    d, value = res["survey"], res["value_column"]
    chart = {"id": "survey-trend", "title": f"{d.metric.upper()} by {period} (95% CI)", "spec": None,
             "description": f"{d.metric.upper()} trend with confidence band", "empty": "No answers yet."}  # fmt: skip
    if res["trend"] is not None and len(res["trend"]):
        chart["spec"] = to_vega_lite(trend_chart(res["trend"], value))
    overall = None
    if res["overall"] is not None and len(res["overall"]):
        o = res["overall"].iloc[0]
        overall = {"value": _num(o[value]), "n": int(o["n"]), "ci": f"{_num(o['ci_low'])} – {_num(o['ci_high'])}",
                   "small": bool(o.get("small_sample", False))}  # fmt: skip
    breakdown = [
        {"group": r["group"], "n": int(r["n"]), "share": _num(r["share"])} for r in res["breakdown"].to_dict("records")
    ]
    comments = [{"ts": str(r["ts"])[:16], "score": _num(r["score"], "{:g}"), "comment": r["comment"],
                 "customer": r["customer_id"]} for r in res["comments"].to_dict("records")]  # fmt: skip
    ctx = {"nav_active": "surveys", "d": d, "value": value, "overall": overall, "chart": chart, "breakdown": breakdown,
           "counts": res["counts"], "comments": comments, "period": period,
           "yaml": d.to_yaml()}  # fmt: skip
    return _render(request, "surveys/results.html", ctx)


# -- hosted survey page (public) -------------------------------------------------------------------
def _hosted_error(request: Request, e: CxlensError) -> HTMLResponse:
    return _render(request, "surveys/hosted_error.html", {"status": e.http_status, "message": str(e)}, e.http_status)


async def _on(request: Request, workspace: str, fn: Any) -> Any:
    ws = hub(request).get(workspace)
    request.state.ws = ws

    return await run_in_threadpool(fn, ws)


def _scale_options(loc: dict[str, Any]) -> list[dict[str, Any]]:
    if loc["metric"] == "choice":
        return [{"value": i + 1, "label": o, "aria": o} for i, o in enumerate(loc["options"])]
    if not loc["scale"]:
        return []
    lo, hi = loc["scale"]
    faces = ["\U0001f61e", "\U0001f615", "\U0001f610", "\U0001f642", "\U0001f604"]
    out = []
    for v in range(lo, hi + 1):
        glyph = (
            "★"
            if loc["display"] == "stars"
            else faces[round((v - lo) * 4 / max(1, hi - lo))]
            if loc["display"] == "faces"
            else str(v)
        )
        out.append({"value": v, "label": glyph, "aria": f"{v} out of {hi}"})
    return out


def _access(ws: Any, survey_id: str, token: str | None) -> tuple[Any, Any]:
    d = surveys.get_survey(ws, survey_id)
    claims = None
    if token:
        claims = links.verify_token(ws, survey_id, token)
    elif not d.link.get("public"):
        raise NotFoundError(f"survey {survey_id!r} has no public link; use the personal link you were sent")
    if d.status != "active":
        raise links.LinkGoneError(f"survey {survey_id!r} is closed ({d.status}); thank you for your interest")
    return d, claims


@router.get("/s/{workspace}/{survey_id}", response_class=HTMLResponse)
async def hosted(request: Request, workspace: str, survey_id: str, t: str | None = None,
                 score: int | None = None) -> HTMLResponse:  # fmt: skip
    lang_header = request.headers.get("accept-language")
    try:
        d, _ = await _on(request, workspace, lambda ws: _access(ws, survey_id, t))
    except CxlensError as e:
        return _hosted_error(request, e)
    loc = d.localised(surveys.pick_language(lang_header, list(d.translations), d.language))
    ctx = {"s": loc, "step": "score", "options": _scale_options(loc), "token": t or "", "rid": secrets.token_urlsafe(12),
           "selected": score, "action": str(request.url.path), "error": None}  # fmt: skip
    resp = _render(request, "surveys/hosted.html", ctx)
    if not t:
        # a signed anonymous id: a visitor cannot pick one (a customer's id) to answer or block as them
        cookie = request.cookies.get(ANON_COOKIE)
        ws = hub(request).get(workspace)
        if await run_in_threadpool(links.anonymous_id, ws, cookie) is None:
            resp.set_cookie(ANON_COOKIE, await run_in_threadpool(links.anonymous_cookie, ws), max_age=365 * 86400,
                            httponly=True, samesite="lax", secure=request.url.scheme == "https")  # fmt: skip
    return resp


@router.post("/s/{workspace}/{survey_id}", response_class=HTMLResponse)
async def hosted_post(request: Request, workspace: str, survey_id: str) -> HTMLResponse:
    form = await _form(request)
    token, rid, step = form.get("t") or None, form.get("rid", "")[:200], form.get("step", "score")
    try:
        check_survey_rate(request, hub(request).get(workspace), "hosted")
    except CxlensError as e:
        return _hosted_error(request, e)

    def work(ws: Any) -> dict[str, Any]:
        anon = links.anonymous_id(ws, request.cookies.get(ANON_COOKIE)) or ("anon-" + rid)
        d = surveys.get_survey(ws, survey_id)
        loc = d.localised(
            surveys.pick_language(request.headers.get("accept-language"), list(d.translations), d.language)
        )
        if step == "comment":
            kind, person = form.get("kind", ""), form.get("person", "")
            # the token signs kind and person together, and the step closes the response (no replay)
            links.check_continuation(ws, survey_id, rid, f"{kind}:{person}", form.get("c", ""))
            answers = {q.id: form[f"q_{q.id}"] for q in d.questions if form.get(f"q_{q.id}")}
            ids = {"customer_id": person} if kind == "customer" else {"anonymous_id": person}
            surveys.record_response(ws, survey_id, response_id=rid, comment=form.get("comment") or None,
                                    answers=answers or None, channel="link", finish=True, **ids)  # fmt: skip
            return {"step": "thanks", "s": loc}
        d, claims = _access(ws, survey_id, token)
        raw_score = form.get("score")
        if d.metric != "text" and not raw_score:
            return {"step": "score", "s": loc, "error": "Please choose an answer first."}
        score = int(raw_score) if raw_score and raw_score.lstrip("-").isdigit() else raw_score
        if claims is not None:
            ids = {"customer_id": claims.customer_id}
            out = surveys.record_response(ws, survey_id, response_id=claims.link_id, link_id=claims.link_id,
                                          score=score if d.metric != "text" else None,
                                          comment=form.get("comment") if d.metric == "text" else None,
                                          channel="email", language=loc["language"], **ids)  # fmt: skip
            person, kind, rid2 = claims.customer_id, "customer", claims.link_id
        else:
            out = surveys.record_response(ws, survey_id, response_id=rid, anonymous_id=anon, channel="link",
                                          score=score if d.metric != "text" else None,
                                          comment=form.get("comment") if d.metric == "text" else None,
                                          language=loc["language"])  # fmt: skip
            person, kind, rid2 = anon, "anonymous", rid
        qs = [q for q in loc["questions"] if condition_holds(q["show_if"], out["score"])]
        if d.metric == "text" or (not out["follow_up"] and not qs):
            return {"step": "thanks", "s": loc}
        return {"step": "comment", "s": loc, "follow_up": out["follow_up"], "questions": qs, "rid": rid2,
                "person": person, "kind": kind,
                "c": links.continuation_token(ws, survey_id, rid2, f"{kind}:{person}")}  # fmt: skip

    try:
        out = await _on(request, workspace, work)
    except CxlensError as e:
        return _hosted_error(request, e)
    ctx = {"options": _scale_options(out["s"]), "token": token or "", "rid": rid, "selected": None,
           "action": str(request.url.path), "error": None, **out}  # fmt: skip
    return _render(request, "surveys/hosted.html", ctx, 422 if out.get("error") else 200)
