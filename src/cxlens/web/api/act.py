"""Act endpoints: rules, destinations, deliveries (dead letters, retry) and cases.

Rules and destinations (admins change them; admins and analysts read)::

    GET    /api/v1/rules                      list
    POST   /api/v1/rules                      load: {"yaml": "<rules file>"} or {"rules": [...]}
    GET    /api/v1/rules/{name}               the rule as stored, with its history
    POST   /api/v1/rules/{name}/pause|resume  DELETE /api/v1/rules/{name}
    POST   /api/v1/rules/{name}/test          {"answer": {"metric": "nps", "score": 3}} or {} (stored answers)
    POST   /api/v1/rules/{name}/send-test     a test alert to each destination (the "send test" button)
    GET    /api/v1/act/hosts                  POST /api/v1/act/hosts {"host": …, "private": false}
    GET    /api/v1/act/deliveries?status=     GET /api/v1/act/dead
    POST   /api/v1/act/deliveries/{id}/retry

Cases (every role; an agent sees and changes only the cases of their teams)::

    GET    /api/v1/cases?status=&team=&owner=&customer_id=
    GET    /api/v1/act/closed-loop?by=team|owner   SLA contact share, time to first contact and to close
    POST   /api/v1/cases                      {"customer_id", "team", "priority", "owner", "note"}
    GET    /api/v1/cases/{id}                 with its audit trail
    PATCH  /api/v1/cases/{id}                 {"status", "owner", "team", "priority", "outcome", "note"}

State-changing calls must be JSON (a cross-site form cannot send it without a preflight).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from cxlens.errors import ConfigError, ForbiddenError
from cxlens.web.api.metrics import jsonable
from cxlens.web.deps import current_user, json_body, json_only, require_role, run_on_workspace
from cxlens.web.deps import who as changed_by

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["act"])


Reader = Depends(require_role("admin", "analyst"))
Admin = Depends(require_role("admin"))
Anyone = Depends(require_role("admin", "analyst", "agent"))
JsonOnly = Depends(json_only)


async def _body(request: Request) -> dict[str, Any]:
    return await json_body(request, 256 * 1024)  # a rules file fits


def _teams(request: Request, ws: Any) -> list[str] | None:
    """None for admins and analysts (all cases); an agent's teams otherwise."""
    user = current_user(request)
    if user is None or user.role != "agent":
        return None
    return ws.act.teams_of(user.email)


# -- rules ------------------------------------------------------------------------------------
@router.get("/rules", summary="Rules", dependencies=[Reader])
async def rules_list(request: Request) -> list[dict[str, Any]]:
    return jsonable(await run_on_workspace(request, lambda ws: ws.act.rules()))  # type: ignore[no-any-return]


@router.post("/rules", summary="Load rules (YAML text or JSON)", status_code=201, dependencies=[Admin, JsonOnly])
async def rules_load(request: Request) -> list[dict[str, Any]]:
    body = await _body(request)
    if "yaml" in body:
        if not isinstance(body["yaml"], str):
            raise ConfigError("field 'yaml' must be the text of a rules file")
        source: Any = body["yaml"] if "\n" in body["yaml"] else body["yaml"] + "\n"
    elif "rules" in body:
        source = body
    else:
        raise ConfigError("send {'yaml': '<rules file>'} or {'rules': [...]}")
    who = changed_by(request)
    return jsonable(await run_on_workspace(request, lambda ws: ws.act.load_rules(source, who=who)))  # type: ignore[no-any-return]


@router.get("/rules/{name}", summary="A rule and its history", dependencies=[Reader])
async def rules_show(request: Request, name: str) -> dict[str, Any]:
    def work(ws: Any) -> dict[str, Any]:
        r = ws.act.rule(name)
        return {"name": r.name, "version": r.version, "status": r.status, "changed_by": r.changed_by,
                "changed_at": r.changed_at, "rule": r.to_dict(), "history": ws.act.history(name).drop(
                    columns=["definition"])}  # fmt: skip

    return jsonable(await run_on_workspace(request, work))  # type: ignore[no-any-return]


def _status(verb: str) -> Any:
    async def endpoint(request: Request, name: str) -> dict[str, Any]:
        who = changed_by(request)

        def work(ws: Any) -> dict[str, Any]:
            if verb == "delete":
                ws.act.delete(name, who=who)
                return {"name": name, "status": "deleted"}
            r = getattr(ws.act, verb)(name, who=who)
            return {"name": r.name, "version": r.version, "status": r.status}

        return jsonable(await run_on_workspace(request, work))  # type: ignore[no-any-return]

    return endpoint


router.post("/rules/{name}/pause", summary="Pause a rule", dependencies=[Admin, JsonOnly])(_status("pause"))
router.post("/rules/{name}/resume", summary="Resume a rule", dependencies=[Admin, JsonOnly])(_status("resume"))
router.delete("/rules/{name}", summary="Delete a rule", dependencies=[Admin])(_status("delete"))


@router.post("/rules/{name}/test", summary="Which answers a rule fires on", dependencies=[Reader, JsonOnly])
async def rules_test(request: Request, name: str) -> list[dict[str, Any]]:
    body = await _body(request)
    answer = body.get("answer")
    if answer is not None and not isinstance(answer, dict):
        raise ConfigError("field 'answer' must be an object such as {'metric': 'nps', 'score': 3}")
    return jsonable(await run_on_workspace(request, lambda ws: ws.act.test(name, answer)))  # type: ignore[no-any-return]


@router.post("/rules/{name}/send-test", summary="Send a test alert to a rule's destinations", status_code=202,
             dependencies=[Admin, JsonOnly])  # fmt: skip
async def rules_send_test(request: Request, name: str) -> list[dict[str, Any]]:
    return jsonable(await run_on_workspace(request, lambda ws: ws.act.send_test(name)))  # type: ignore[no-any-return]


# -- destinations and deliveries -----------------------------------------------------------------
@router.get("/act/hosts", summary="Allowed destination hosts", dependencies=[Reader])
async def hosts_list(request: Request) -> list[dict[str, Any]]:
    return jsonable(await run_on_workspace(request, lambda ws: ws.act.hosts()))  # type: ignore[no-any-return]


@router.post("/act/hosts", summary="Allow a destination host", status_code=201, dependencies=[Admin, JsonOnly])
async def hosts_allow(request: Request) -> dict[str, Any]:
    body = await _body(request)
    host, private = body.get("host"), body.get("private", False)
    if not isinstance(host, str) or not isinstance(private, bool):
        raise ConfigError("send {'host': 'hooks.slack.com', 'private': false}")
    who = changed_by(request)
    h = await run_on_workspace(request, lambda ws: ws.act.allow_host(host, private=private, who=who))
    return {"host": h, "private": private}


@router.get("/act/deliveries", summary="Deliveries, newest first", dependencies=[Reader])
async def deliveries_list(
    request: Request,
    status: Annotated[str | None, Query(description="queued, running, sent, dead or refused")] = None,
    rule: str | None = None,
) -> list[dict[str, Any]]:
    return jsonable(await run_on_workspace(request, lambda ws: ws.act.deliveries(status=status, rule=rule)))  # type: ignore[no-any-return]


@router.get("/act/dead", summary="The dead-letter list", dependencies=[Reader])
async def dead_list(request: Request) -> list[dict[str, Any]]:
    return jsonable(await run_on_workspace(request, lambda ws: ws.act.dead_letters()))  # type: ignore[no-any-return]


@router.post("/act/deliveries/{delivery_id}/retry", summary="Retry a dead delivery", dependencies=[Admin, JsonOnly])
async def delivery_retry(request: Request, delivery_id: str) -> dict[str, Any]:
    return await run_on_workspace(request, lambda ws: ws.act.retry(delivery_id))


# -- cases ----------------------------------------------------------------------------------------
@router.get("/act/closed-loop", summary="Closed-loop metrics of the case queue (SLA, time to contact and close)",
            dependencies=[Reader])  # fmt: skip
async def closed_loop(request: Request, by: Annotated[str | None, Query(pattern="^(team|owner)$")] = None) -> Any:
    return jsonable(await run_on_workspace(request, lambda ws: ws.metrics.closed_loop(by=by)))


@router.get("/cases", summary="Cases (an agent: their teams' queue)", dependencies=[Anyone])
async def cases_list(
    request: Request,
    status: Annotated[list[str] | None, Query(description="new, in_progress, waiting, closed")] = None,
    team: str | None = None,
    owner: str | None = None,
    customer_id: str | None = None,
) -> list[dict[str, Any]]:
    def work(ws: Any) -> Any:
        return ws.act.cases(status=status or None, team=team, owner=owner, customer_id=customer_id,
                            teams=_teams(request, ws))  # fmt: skip

    return jsonable(await run_on_workspace(request, work))  # type: ignore[no-any-return]


@router.post("/cases", summary="Open a case", status_code=201, dependencies=[Anyone, JsonOnly])
async def cases_open(request: Request) -> dict[str, Any]:
    body = await _body(request)
    unknown = set(body) - {"customer_id", "team", "priority", "owner", "note"}
    if unknown:
        raise ConfigError(
            f"field {sorted(unknown)[0]!r} is not known; expected customer_id, team, priority, owner, note"
        )
    who = changed_by(request)

    def work(ws: Any) -> Any:
        teams = _teams(request, ws)
        team = body.get("team") or (teams[0] if teams else None)
        if teams is not None and team not in teams:
            raise ForbiddenError(
                f"you may not open a case for team {team!r}; you are in {', '.join(teams) or 'no team'}"
            )
        return ws.act.open_case(body.get("customer_id"), team=team, priority=body.get("priority", "normal"),
                                owner=body.get("owner"), note=body.get("note"), actor=who)  # fmt: skip

    return jsonable(await run_on_workspace(request, work))  # type: ignore[no-any-return]


@router.get("/cases/{case_id}", summary="A case with its audit trail", dependencies=[Anyone])
async def cases_show(request: Request, case_id: str) -> dict[str, Any]:
    return jsonable(await run_on_workspace(request, lambda ws: ws.act.case(case_id, teams=_teams(request, ws))))  # type: ignore[no-any-return]


@router.patch("/cases/{case_id}", summary="Change a case", dependencies=[Anyone, JsonOnly])
async def cases_update(request: Request, case_id: str) -> dict[str, Any]:
    body = await _body(request)
    allowed = {"status", "owner", "team", "priority", "outcome", "note"}
    unknown = set(body) - allowed
    if unknown:
        raise ConfigError(f"field {sorted(unknown)[0]!r} is not known; expected {', '.join(sorted(allowed))}")
    for k, v in body.items():
        if v is not None and not isinstance(v, str):
            raise ConfigError(f"field {k!r} must be text")
    who = changed_by(request)

    def work(ws: Any) -> Any:
        return ws.act.update_case(case_id, teams=_teams(request, ws), actor=who, **body)

    return jsonable(await run_on_workspace(request, work))  # type: ignore[no-any-return]
