"""Dashboard pages for employee engagement (``/engagement``) and interviews (``/interviews``).

Both render what the library returns: the engagement page shows only groups the small-group rule
lets through (:func:`cxlens.engagement.summary`); the interviews page shows interviews and the
recruit list (customer e-mail masked unless the viewer's role reveals PII).
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any
from urllib.parse import quote

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from cxlens.collect.ratelimit import TokenBuckets
from cxlens.engagement import GROUP_COLUMNS, QUESTIONS, pulse_links
from cxlens.engagement.scorecard import DAYS
from cxlens.errors import CxlensError, ParameterError, RateLimitError
from cxlens.interviews import invite as interview_invite
from cxlens.schema.pii import current_policy
from cxlens.web.api.surveys import check_survey_rate
from cxlens.web.deps import csrf_protect, current_workspace_name, hub, require_role, run_on_workspace
from cxlens.web.pages import register

router = register(APIRouter(include_in_schema=False), id="engagement", label="Engagement", path="/engagement",
                  order=48)  # fmt: skip
interviews_router = register(APIRouter(include_in_schema=False), id="interviews", label="Interviews",
                             path="/interviews", order=49)  # fmt: skip
Reader = Depends(require_role("admin", "analyst"))
Admin = Depends(require_role("admin"))
CSRF = Depends(csrf_protect)


def _render(request: Request, template: str, ctx: dict[str, Any]) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, template, ctx)


@router.get("/engagement", response_class=HTMLResponse, dependencies=[Reader])
async def engagement_page(
    request: Request,
    by: Annotated[str, Query()] = "team",
    days: Annotated[int, Query()] = 7,
    card: Annotated[str, Query(pattern="^(agent|team)$")] = "team",
) -> HTMLResponse:
    if days not in DAYS:  # the scorecard's fixed windows (engagement.scorecard.DAYS); the form offers only these
        raise ParameterError("days", f"days is {days}; expected one of {', '.join(map(str, DAYS))}")
    error = None
    try:
        rows = (await run_on_workspace(request, lambda ws: ws.engagement.summary(by or None))).to_dict("records")
        cx = await run_on_workspace(request, lambda ws: ws.engagement.beside_cx(days=days))
        trend = await run_on_workspace(request, lambda ws: ws.engagement.trend("month"))
        notes = await run_on_workspace(request, lambda ws: ws.engagement.comments(by or None))
        card_df = await run_on_workspace(request, lambda ws: ws.engagement.scorecard(card, days=days))
    except CxlensError as e:
        rows, cx, trend, notes, card_df, error = [], None, None, None, None, str(e)

    def records(df: Any) -> list[dict[str, Any]]:
        return [] if df is None else df.astype(object).where(df.notna(), None).to_dict("records")

    teams = records(cx["teams"]) if cx else []
    return _render(request, "engagement/page.html", {"nav_active": "engagement", "rows": rows, "by": by,
                                                     "dims": GROUP_COLUMNS, "cx": cx, "teams": teams,
                                                     "error": error, "days": days, "trend": records(trend),
                                                     "comments": records(notes), "card": card, "windows": DAYS,
                                                     "scorecard": records(card_df)})  # fmt: skip


@interviews_router.get("/interviews", response_class=HTMLResponse, dependencies=[Reader])
async def interviews_page(
    request: Request,
    segment: Annotated[str, Query()] = "",
    per_segment: Annotated[int | None, Query(ge=1)] = None,
    min_churn_risk: Annotated[float | None, Query(ge=0, le=1)] = None,
    persona: Annotated[str, Query()] = "",
    theme: Annotated[str, Query()] = "",
    frustrated: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    return await _interviews(request, segment, per_segment, min_churn_risk, persona, theme, frustrated)


async def _interviews(request: Request, segment: str, per_segment: int | None, min_churn_risk: float | None,
                      persona: str, theme: str, frustrated: int | None, invite: dict[str, Any] | None = None,
                      invite_error: str | None = None, status: int = 200) -> HTMLResponse:  # fmt: skip
    interviews = (await run_on_workspace(request, lambda ws: ws.interviews.list())).to_dict("records")
    error = None
    try:
        cands = await run_on_workspace(
            request,
            lambda ws: ws.interviews.candidates(
                segment=segment or None,
                per_segment=per_segment,
                min_churn_risk=min_churn_risk,
                persona=persona or None,
                theme=theme or None,
                frustrated=frustrated,
            ),  # fmt: skip
        )
    except CxlensError as e:  # an unknown persona: say so on the page
        cands, error = (
            pd.DataFrame(columns=["customer_id", "name", "email", "segment", "churn_risk", "opted_at"]),
            str(e),
        )
    tag_rows = (await run_on_workspace(request, lambda ws: ws.interviews.tag_summary())).to_dict("records")
    policy = current_policy()
    cands["email"] = [policy.value(v) for v in cands["email"]]
    cands["name"] = [policy.value(v) for v in cands["name"]]
    user = getattr(request.state, "user", None)
    ctx = {"nav_active": "interviews", "interviews": interviews, "candidates": cands.to_dict("records"),
           "segment": segment, "per_segment": per_segment or "",
           "min_churn_risk": "" if min_churn_risk is None else min_churn_risk, "persona": persona, "theme": theme,
           "frustrated": frustrated or "", "error": error, "tags": tag_rows,
           "can_invite": user is None or user.role == "admin", "invite": invite, "invite_error": invite_error,
           "base_url": str(request.base_url).rstrip("/")}  # fmt: skip
    return request.app.state.templates.TemplateResponse(request, "interviews/page.html", ctx, status_code=status)


@interviews_router.post("/interviews/invite", response_class=HTMLResponse, dependencies=[Admin, CSRF])
async def interviews_invite_form(request: Request) -> HTMLResponse:
    """Send the invitations of the recruit list as filtered on the page (admins; CSRF-protected)."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}

    def num(name: str, kind: type) -> Any:
        raw = form.get(name, "").strip()
        if not raw:
            return None
        try:
            return kind(raw)
        except ValueError:
            from cxlens.errors import ParameterError

            raise ParameterError(name, f"{name} is {raw!r}; expected a number") from None

    filters = {"segment": form.get("segment", ""), "persona": form.get("persona", ""), "theme": form.get("theme", "")}
    invite, error, status = None, None, 200
    try:
        per_segment, risk = num("per_segment", int), num("min_churn_risk", float)
        frustrated, port = num("frustrated", int), num("smtp_port", int) or 25
        smtp = {"host": form.get("smtp_host", "").strip(), "port": port, "from": form.get("from") or None,
                "starttls": form.get("starttls") == "1", "username": form.get("username") or None,
                "password_env": form.get("password_env") or None}  # fmt: skip
        name = current_workspace_name(request)
        invite = await run_on_workspace(
            request,
            lambda ws: ws.interviews.invite(
                form.get("study", "").strip(), scheduling_url=form.get("scheduling_url", "").strip(),
                base_url=form.get("base_url", "").strip(), workspace=name, smtp=smtp,
                segment=filters["segment"] or None, persona=filters["persona"] or None,
                theme=filters["theme"] or None, min_churn_risk=risk, per_segment=per_segment, frustrated=frustrated),
        )  # fmt: skip
    except CxlensError as e:
        error, status = str(e), e.http_status
        per_segment = risk = frustrated = None
    return await _interviews(request, filters["segment"], per_segment, risk, filters["persona"], filters["theme"],
                             frustrated, invite=invite, invite_error=error, status=status)  # fmt: skip


# -- the public link pages' rate: per client address (the survey write limit the hosted survey pages use,
# settings ``surveys.rate_limit``/``surveys.rate_burst``) and per link token (a link is one person's: a few
# loads and one answer; settings ``learn.link_rate_limit`` requests a second, ``learn.link_rate_burst``)
LINK_RATE, LINK_BURST = 0.1, 10.0


def check_link_rate(request: Request, ws: Any, token: str, what: str) -> None:
    """429 (:class:`RateLimitError`, with the seconds to wait) when this address or this link is over its rate."""
    check_survey_rate(request, ws, what)
    buckets = getattr(request.app.state, "link_buckets", None)
    if buckets is None:
        buckets = request.app.state.link_buckets = TokenBuckets()
    rate = float(ws.setting("learn.link_rate_limit", LINK_RATE))
    burst = float(ws.setting("learn.link_rate_burst", LINK_BURST))
    key = hashlib.sha256(f"{id(ws)}/{what}/{token}".encode()).hexdigest()  # no link kept in memory as is
    wait = buckets.take(key, rate=rate, burst=burst)
    if wait:
        raise RateLimitError(f"too many requests for this {what} link; retry in {wait:.0f} s", wait)


def _limited(resp: HTMLResponse, e: CxlensError) -> HTMLResponse:
    if isinstance(e, RateLimitError):
        resp.headers["Retry-After"] = str(max(1, int(e.retry_after + 0.999)))
    return resp


# -- pulse by link (public: the signed single-use token is the key; under /s like hosted surveys) --
def _pulse_page(request: Request, ctx: dict[str, Any], status: int = 200) -> HTMLResponse:
    qs = [{"id": q, "prompt": pulse_links.PROMPTS[q], "scale": list(range(lo, hi + 1))}
          for q, (lo, hi) in QUESTIONS.items()]  # fmt: skip
    return request.app.state.templates.TemplateResponse(
        request, "engagement/pulse.html", {"questions": qs, "action": str(request.url.path), "error": None,
                                           "status": status, **ctx}, status_code=status)  # fmt: skip


@router.get("/s/{workspace}/pulse/{token}", response_class=HTMLResponse)
async def pulse_form(request: Request, workspace: str, token: str) -> HTMLResponse:
    try:
        ws = hub(request).get(workspace)
        check_link_rate(request, ws, token, "pulse")
        await run_in_threadpool(pulse_links.verify_token, ws.store, token)
    except CxlensError as e:
        return _limited(_pulse_page(request, {"step": "error", "message": str(e)}, e.http_status), e)
    return _pulse_page(request, {"step": "form"})


@router.post("/s/{workspace}/pulse/{token}", response_class=HTMLResponse)
async def pulse_submit(request: Request, workspace: str, token: str) -> HTMLResponse:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    scores = {q: form.get(f"q_{q}") for q in QUESTIONS}
    try:
        ws = hub(request).get(workspace)
        check_link_rate(request, ws, token, "pulse")
        await run_in_threadpool(pulse_links.answer, ws.store, token, scores, form.get("comment"))
    except CxlensError as e:
        if e.http_status in (403, 404, 410, 429):
            return _limited(_pulse_page(request, {"step": "error", "message": str(e)}, e.http_status), e)
        return _pulse_page(request, {"step": "form", "error": str(e)}, e.http_status)
    return _pulse_page(request, {"step": "thanks"})


# -- interview opt-out (public; the signed customer id is the key; GET asks, POST records) --
def _optout_page(request: Request, step: str, message: str = "", status: int = 200) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(
        request, "interviews/optout.html", {"step": step, "message": message, "action": str(request.url.path),
                                            "status": status}, status_code=status)  # fmt: skip


@interviews_router.get("/s/{workspace}/interview-optout/{token}", response_class=HTMLResponse)
async def interview_optout_form(request: Request, workspace: str, token: str) -> HTMLResponse:
    try:
        ws = hub(request).get(workspace)
        check_link_rate(request, ws, token, "opt-out")
        await run_in_threadpool(interview_invite.verify_optout, ws.store, token)
    except CxlensError as e:
        return _limited(_optout_page(request, "error", str(e), e.http_status), e)
    return _optout_page(request, "confirm")


@interviews_router.post("/s/{workspace}/interview-optout/{token}", response_class=HTMLResponse)
async def interview_optout(request: Request, workspace: str, token: str) -> HTMLResponse:
    try:
        ws = hub(request).get(workspace)
        check_link_rate(request, ws, token, "opt-out")

        def work() -> None:
            interview_invite.opt_out(ws.store, interview_invite.verify_optout(ws.store, token), "link")

        await run_in_threadpool(work)
    except CxlensError as e:
        return _limited(_optout_page(request, "error", str(e), e.http_status), e)
    return _optout_page(request, "done")


# -- one interview's transcript: tag turns or passages from the dashboard --
async def _transcript(request: Request, interview_id: str, error: str | None = None, status: int = 200) -> HTMLResponse:
    from cxlens.schema.redact import redact

    def work(ws: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
        return ws.interviews.turns(interview_id), ws.interviews.tags(interview_id=interview_id)

    turns, tags = await run_on_workspace(request, work)
    if turns.empty:
        from cxlens.errors import NotFoundError

        raise NotFoundError(f"interview {interview_id!r} not found")
    tags = tags.assign(passage=tags["passage"].map(lambda v: redact(v) if isinstance(v, str) else v))
    by_turn = {t: g.to_dict("records") for t, g in tags.groupby("turn")} if len(tags) else {}
    rows = [r | {"text": redact(r["text"]) or "", "tags": by_turn.get(r["turn"], [])} for r in turns.to_dict("records")]
    return request.app.state.templates.TemplateResponse(
        request, "interviews/transcript.html", {"nav_active": "interviews", "interview_id": interview_id,
                                                "turns": rows, "error": error}, status_code=status)  # fmt: skip


@interviews_router.get("/interviews/{interview_id}", response_class=HTMLResponse, dependencies=[Reader])
async def interview_transcript(request: Request, interview_id: str) -> HTMLResponse:
    return await _transcript(request, interview_id)


@interviews_router.post("/interviews/{interview_id}/tags", dependencies=[Reader, CSRF])
async def interview_tag_form(request: Request, interview_id: str) -> Any:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}

    def work(ws: Any) -> int:
        from cxlens.errors import ParameterError

        raw = form.get("turn", "")
        if not raw.isdigit():
            raise ParameterError("turn", f"turn is {raw!r}; expected a turn number")
        turn = int(raw)
        passage = " ".join(form.get("passage", "").split())
        start = end = None
        if passage:
            t = ws.interviews.turns(interview_id)
            text = t.loc[t["turn"] == turn, "text"]
            at = str(text.iloc[0]).find(passage) if len(text) else -1
            if at < 0:
                raise ParameterError("passage", f"passage {passage!r} is not in turn {turn}; copy the exact words")
            start, end = at, at + len(passage)
        ws.interviews.tag(interview_id, turn, form.get("tag", ""), start=start, end=end,
                          note=form.get("note") or None, highlight=form.get("highlight") == "1")  # fmt: skip
        return turn

    try:
        turn = await run_on_workspace(request, work)
    except CxlensError as e:
        if e.http_status == 404:
            raise
        return await _transcript(request, interview_id, str(e), e.http_status)
    return RedirectResponse(f"/interviews/{quote(interview_id, safe='')}#turn-{turn}", status_code=303)


@interviews_router.post("/interviews/{interview_id}/tags/{tag_id}/delete", dependencies=[Reader, CSRF])
async def interview_untag_form(request: Request, interview_id: str, tag_id: str) -> Any:
    await run_on_workspace(request, lambda ws: ws.interviews.untag(tag_id))
    return RedirectResponse(f"/interviews/{quote(interview_id, safe='')}", status_code=303)
