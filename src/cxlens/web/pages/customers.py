"""Customer pages: the customers list (``/customers``), the customer 360 (``/customers/{id}``),
saved segments (``/segments``), personas (``/personas``) and the customer models' checks (``/models``).

Routes parse parameters with :mod:`cxlens.web.api.customers`, call :mod:`cxlens.customers` and turn
the results into display rows; they compute nothing themselves. The customer 360 shows PII to the
admin and agent roles (masked for analysts and in open mode); admins may export (JSON download) and
erase (POST, CSRF, typed confirmation) a customer there.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import pandas as pd
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from cxlens.customers.profile import erase_customer, export_customer
from cxlens.errors import ConfigError, ForbiddenError
from cxlens.schema.pii import current_policy
from cxlens.web.api.customers import (
    PER_PAGE,
    SORTS,
    TIMELINE_SHOWN,
    CustomerListQuery,
    customer_list,
    customer_list_query,
    customer_view,
    persona_cards,
    segment_rows,
)
from cxlens.web.api.metrics import jsonable
from cxlens.web.auth import can_see
from cxlens.web.deps import ALL_DATA, cached_view, csrf_protect, run_on_workspace
from cxlens.web.pages import register

customers_router = register(APIRouter(include_in_schema=False), id="customers", label="Customers",
                            path="/customers", order=50)  # fmt: skip
personas_router = register(APIRouter(include_in_schema=False), id="personas", label="Personas",
                           path="/personas", order=55)  # fmt: skip
segments_router = register(APIRouter(include_in_schema=False), id="segments", label="Segments",
                           path="/segments", order=53)  # fmt: skip
models_router = register(APIRouter(include_in_schema=False), id="models", label="Customer models",
                         path="/models", order=57)  # fmt: skip

ListQuery = Annotated[CustomerListQuery, Depends(customer_list_query)]
PII_NOTE = ("Personal data (email, name, ticket bodies) is always masked here: the dashboard has no sign-in "
            "or roles yet. Erasure is not offered on the web for the same reason; use "
            "`cxlens customer erase ID` on the command line.")  # fmt: skip


def _ok(v: Any) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _num(v: Any, spec: str = ",.2f") -> str:
    return format(float(v), spec) if _ok(v) else "—"


def _text(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    try:
        import pandas as pd

        if v is pd.NaT:
            return ""
        if isinstance(v, pd.Timestamp):
            return str(v)[:19]
    except ImportError:  # pragma: no cover
        pass
    return str(v)


def _render(request: Request, template: str, ctx: dict[str, Any], *, url: str | None = None) -> HTMLResponse:
    resp = request.app.state.templates.TemplateResponse(request, template, ctx)
    if url is not None:
        resp.headers["HX-Replace-Url"] = url
    return resp


def customer_url(customer_id: Any) -> str:
    return "/customers/" + quote(str(customer_id), safe="")


# -- list -----------------------------------------------------------------------------------------
def _list_view(out: dict[str, Any], q: CustomerListQuery) -> dict[str, Any]:
    rows = [{"id": str(r["customer_id"]), "url": customer_url(r["customer_id"]), "segment": _text(r["segment"]),
             "rfm": _text(r["rfm"]), "recency": _num(r["recency_days"], ",.0f"), "frequency": _num(r["frequency"], ",.0f"),
             "monetary": _num(r["monetary"]), "country": _text(r["country"]), "plan": _text(r["plan"]),
             "clv": _num(r["clv"]), "risk": _num(100 * r["churn_risk"], ".1f") + "%" if _ok(r["churn_risk"]) else "—",
             "band": _text(r["risk_band"])}
            for r in out["rows"].to_dict(orient="records")]  # fmt: skip
    page, pages = out["page"], out["pages"]

    def link(**over: Any) -> str:
        return "/customers?" + urlencode(q.pairs(**over))

    sort_links = {
        key: link(sort=key, order=("asc" if q.order == "desc" else "desc") if key == q.sort else None, page=1)
        for key in SORTS
    }
    first = (page - 1) * PER_PAGE + 1 if out["total"] else 0
    return {
        "rows": rows, "total": f"{out['total']:,}", "page": page, "pages": pages,
        "range": f"{first:,}–{first + len(rows) - 1:,}" if rows else "0",
        "prev": link(page=page - 1) if page > 1 else None, "next": link(page=page + 1) if page < pages else None,
        "sort_links": sort_links,
    }  # fmt: skip


async def _list_context(request: Request, q: CustomerListQuery) -> dict[str, Any]:
    out = await cached_view(request, "customers", q, ALL_DATA, lambda ws: customer_list(ws, q))
    return {"nav_active": "customers", "q": q, "options": out["options"], "result": _list_view(out, q),
            "pii_note": PII_NOTE, "models": out["models"]}  # fmt: skip


@customers_router.get("/customers", response_class=HTMLResponse)
async def customers_page(request: Request, q: ListQuery) -> HTMLResponse:
    return _render(request, "customers/list.html", await _list_context(request, q))


@customers_router.get("/partials/customers", response_class=HTMLResponse)
async def customers_partial(request: Request, q: ListQuery) -> HTMLResponse:
    ctx = await _list_context(request, q)
    return _render(request, "customers/_list_results.html", ctx, url="/customers?" + urlencode(q.pairs()))


# -- customer 360 ---------------------------------------------------------------------------------
def _profile_view(p: dict[str, Any]) -> dict[str, Any]:
    traits = []
    for k, v in p["traits"].items():
        if isinstance(v, dict):
            traits.extend((f"{k}.{kk}", _text(vv)) for kk, vv in v.items())
        else:
            traits.append((k, _text(v)))
    s, v = p["summary"], p["value"]
    summary = [("Events", f"{s['events']:,}"), ("Feedback answers", f"{s['feedback']:,}"),
               ("Tickets", f"{s['tickets']:,} ({s['open_tickets']:,} open)"), ("Orders", f"{s['orders']:,}"),
               ("Reviews", f"{s['reviews']:,}"), ("First seen", _text(s["first_seen"])),
               ("Last seen", _text(s["last_seen"])), ("Last NPS", _num(s["last_nps"], ".0f"))]  # fmt: skip
    value = [("Counted orders", f"{v['orders']:,}"), ("Revenue", _num(v["revenue"])), ("AOV", _num(v["aov"])),
             ("First order", _text(v["first_order"])), ("Last order", _text(v["last_order"]))]  # fmt: skip
    rfm = p.get("rfm")
    clv, churn = p.get("clv"), p.get("churn")
    predictions = []
    if clv:
        predictions.append(("Predicted CLV, 52 weeks", _num(clv.get("clv"))))
        if _ok(clv.get("clv_low")) and _ok(clv.get("clv_high")):
            predictions.append(("CLV 95% interval", f"{_num(clv['clv_low'])} to {_num(clv['clv_high'])}"))
        predictions += [("Probability alive", _num(100 * float(clv.get("p_alive") or 0), ".0f") + "%"),
                        ("Expected purchases, 52 weeks", _num(clv.get("expected_purchases"), ".2f"))]  # fmt: skip
    if churn and _ok(churn.get("churn_risk")):
        predictions.append(("Churn risk, next 90 days", _num(100 * float(churn["churn_risk"]), ".0f") + "%"))
    reasons = [{"feature": _text(r["feature"]), "value": _text(r["value"]), "typical": _text(r["typical"]),
                "contribution": f"{float(r['contribution']):+.2f}"}
               for r in ((churn or {}).get("reason_list") or [])]  # fmt: skip
    timeline = [{"kind": r["kind"], "ts": _text(r["ts"]), "id": _text(r["id"]), "title": _text(r["title"]),
                 "text": _text(r["text"]), "score": _num(r["score"], "g") if _ok(r["score"]) else "",
                 "amount": _num(r["amount"]) if _ok(r["amount"]) else "", "status": _text(r["status"]),
                 "where": " · ".join(x for x in (_text(r["touchpoint"]), _text(r["channel"])) if x)}
                for r in p["timeline"].to_dict(orient="records")]  # fmt: skip
    return {
        "id": p["customer_id"], "known": p["known"], "traits": traits, "summary": summary, "value": value,
        "rfm": None if rfm is None else {"segment": _text(rfm["segment"]), "rfm": _text(rfm["rfm"]),
                                          "recency": _num(rfm["recency_days"], ",.0f"),
                                          "frequency": _num(rfm["frequency"], ",.0f"),
                                          "monetary": _num(rfm["monetary"])},
        "segments": [{"segment": _text(x["segment"]), "kind": _text(x["kind"])} for x in p["segments"]],
        "predictions": predictions, "reasons": reasons, "models_note": p.get("models_note"),
        "models_as_of": p.get("models_as_of"),
        "timeline": timeline, "timeline_total": p["timeline_total"], "timeline_shown": len(timeline),
        "cap": TIMELINE_SHOWN,
    }  # fmt: skip


def _pii_note(user: Any, show: bool) -> str:
    if user is None:
        return ("Personal data (email, name, ticket bodies) is always masked in open mode (no users). Sign in as an "
                "admin or agent to see it; an admin can export or erase the customer here, or use "
                "`cxlens customer export|erase ID` on the command line.")  # fmt: skip
    if show:
        return f"Personal data is shown: your role ({user.role}) may see it. Handle it with care."
    return (f"Personal data (email, name, ticket bodies) is masked for the {user.role} role, and e-mails, phone and "
            "card numbers in customer text are redacted.")  # fmt: skip


def _admin_user(request: Request) -> Any:
    user = getattr(request.state, "user", None)
    if user is None or user.role != "admin":
        raise ForbiddenError("exporting or erasing a customer needs a signed-in admin; without dashboard users "
                             "use `cxlens customer export|erase ID` on the command line")  # fmt: skip
    return user


# export is declared before the 360 so that ``/customers/<id>/export`` is not read as an id
@customers_router.get("/customers/{customer_id:path}/export", dependencies=[Depends(_admin_user)])
async def customer_export(request: Request, customer_id: str) -> Response:
    data = await run_on_workspace(request, lambda ws: export_customer(ws, customer_id))
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in customer_id)[:80] or "customer"
    return Response(json.dumps(jsonable(data), ensure_ascii=False, indent=1), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="customer-{name}.json"',
                             "Cache-Control": "no-store"})  # fmt: skip


@customers_router.post(
    "/customers/{customer_id:path}/erase", dependencies=[Depends(_admin_user), Depends(csrf_protect)]
)
async def customer_erase(request: Request, customer_id: str, confirm: str = Form("")) -> HTMLResponse:
    if confirm.strip() != customer_id:
        raise ConfigError(f"the confirmation {confirm!r} does not match the customer id {customer_id!r}; "
                          "type the id exactly to erase the customer")  # fmt: skip
    deleted = await run_on_workspace(request, lambda ws: erase_customer(ws, customer_id))
    rows = [(t, n) for t, n in deleted.items() if n]
    return _render(request, "admin/erased.html", {"nav_active": "customers", "customer_id": customer_id,
                                                  "rows": rows, "total": sum(n for _, n in rows)})  # fmt: skip


def _cases_of(ws: Any, user: Any, customer_id: str) -> list[dict[str, Any]]:
    """The customer's open and past cases (an agent: those of their teams), newest first; read fresh,
    not cached with the 360 (cases change without the facts changing)."""
    teams = ws.act.teams_of(user.email) if user is not None and user.role == "agent" else None
    df = ws.act.cases(customer_id=customer_id, teams=teams, limit=50)
    return [{k: _text(v) for k, v in r.items()} for r in df.to_dict("records")]


@customers_router.get("/customers/{customer_id:path}", response_class=HTMLResponse)
async def customer_page(request: Request, customer_id: str) -> HTMLResponse:
    user = getattr(request.state, "user", None)
    show = current_policy().reveal  # the request's PII policy (cxlens.schema.pii.policy_for: admins, agents)
    p = await cached_view(
        request, "customer", (customer_id, show), ALL_DATA, lambda ws: customer_view(ws, customer_id, show_pii=show)
    )
    cases = await run_on_workspace(request, lambda ws: _cases_of(ws, user, customer_id))
    c = _profile_view(p)
    c["replays"] = can_see(request, "/replays")
    if c["replays"]:  # each row's replay: its own session's, else the person's nearest in time
        rows = list(zip(p["timeline"]["session_id"], p["timeline"]["ts"], strict=True))
        links = await cached_view(request, "customer-replays", (customer_id,), (*ALL_DATA, "replay_sessions"),
                                  lambda ws: ws.behaviour.timeline_replays(customer_id, rows))  # fmt: skip
        for t, link in zip(c["timeline"], links, strict=True):
            if link is not None:
                t["replay"], t["replay_own"] = "/replays/" + quote(link[0], safe=""), link[1]
    return _render(request, "customers/profile.html",
                   {"nav_active": "customers", "c": c, "pii_note": _pii_note(user, show), "cases": cases,
                    "can_erase": user is not None and user.role == "admin",
                    "url": customer_url(customer_id)})  # fmt: skip


# -- personas -------------------------------------------------------------------------------------
def _ci(v: Any, lo: Any, hi: Any, n: Any, spec: str = "+.0f", unit: str = "") -> dict[str, Any]:
    return {"value": f"{format(float(v), spec)}{unit}" if _ok(v) else "—",
            "ci": f"{format(float(lo), spec)}{unit} to {format(float(hi), spec)}{unit}" if _ok(lo) and _ok(hi) else None,
            "n": f"{int(n):,}" if _ok(n) else "0"}  # fmt: skip


def _tops(items: Any, key: str) -> list[str]:
    return [f"{x.get(key)} ({float(x.get('share', 0)):.0f}%)" for x in (items or [])]


def _persona_view(df: Any) -> list[dict[str, Any]]:
    cards = []
    for r in df.to_dict(orient="records"):
        cards.append({
            "segment": _text(r["segment"]), "size": f"{int(r['size']):,}", "size_raw": int(r["size"]),
            "share": _num(r["share"], ".1f") + "%", "revenue": _num(r["revenue_mean"]),
            "orders": _num(r["orders_mean"], ".1f"),
            "nps": _ci(r["nps"], r["nps_ci_low"], r["nps_ci_high"], r["nps_n"]),
            "csat": _ci(r["csat"], r["csat_ci_low"], r["csat_ci_high"], r["csat_n"], ".0f", "%"),
            "channels": _tops(r["channels"], "channel"), "touchpoints": _tops(r["touchpoints"], "touchpoint"),
            "themes": _tops(r["themes"], "theme"),
            "pains": [f"{x.get('touchpoint')} ({float(x.get('unhappy', 0)):.0f}% unhappy of {int(x.get('answers', 0))})"
                      for x in (r["pain_points"] or [])],
            "description": _text(r["description"]),
            "list_url": "/customers?" + urlencode({"segment": r["segment"]}),
            "clv": _num(r["clv_mean"]) if _ok(r["clv_mean"]) else None,
            "risk": f"{100 * float(r['churn_risk']):.1f}%" if _ok(r["churn_risk"]) else None,
            "goals": [x["name"] for x in (r.get("goals") or [])],
            "frustrations": [x["name"] for x in (r.get("frustrations") or [])],
            "quote": (r.get("quote") or {}).get("text") if isinstance(r.get("quote"), dict) else None,
            "verbatims": int(r["verbatims"]) if _ok(r.get("verbatims")) else 0,
        })  # fmt: skip
    return cards


@personas_router.get("/personas", response_class=HTMLResponse)
async def personas_page(request: Request) -> HTMLResponse:
    df = await cached_view(request, "personas", None, ALL_DATA, persona_cards)
    said = await cached_view(request, "persona-interview-quotes", None, ("orders", "interview_turns", "interview_tags"),
                             lambda ws: ws.interviews.quotes_by_persona())  # fmt: skip
    cards = [c | {"interview_quotes": said.get(str(c["segment"]), [])} for c in _persona_view(df)]
    return _render(request, "customers/personas.html", {"nav_active": "personas", "cards": cards})


# -- saved segments -------------------------------------------------------------------------------
def _segment_view(df: Any) -> list[dict[str, Any]]:
    return [{
        "segment": _text(r["segment"]), "kind": _text(r["kind"]), "size": f"{int(r['size']):,}",
        "revenue": _num(r["revenue_mean"]), "clv": _num(r["clv_mean"]), "clv_total": _num(r["clv_total"], ",.0f"),
        "nps": _ci(r["nps"], r["nps_ci_low"], r["nps_ci_high"], r["nps_n"]),
        "csat": _ci(r["csat"], r["csat_ci_low"], r["csat_ci_high"], r["csat_n"], ".0f", "%"),
        "risk": _num(100 * r["churn_risk"], ".1f") + "%" if _ok(r["churn_risk"]) else "—",
        "at_risk": _num(r["at_risk"], ",.0f"),
        "list_url": "/customers?" + urlencode({"saved_segment": r["segment"]}),
        "overview_url": "/?" + urlencode({"saved_segment": r["segment"]}),
    } for r in df.to_dict(orient="records")]  # fmt: skip


def _chart_view(id_: str, title: str, chart: Any, description: str) -> dict[str, Any]:
    from cxlens.charts import to_vega_lite

    return {"id": id_, "title": title, "description": description, "spec": to_vega_lite(chart) if chart else None,
            "empty": "Not enough data for this chart."}  # fmt: skip


@segments_router.get("/segments", response_class=HTMLResponse)
async def segments_page(request: Request) -> HTMLResponse:
    from cxlens.customers.charts import segment_map_chart

    def work(ws: Any) -> dict[str, Any]:
        df = segment_rows(ws)
        has_clv = len(df) and df["clv_mean"].notna().any()
        chart = segment_map_chart(df, title="") if has_clv else None
        return {"rows": _segment_view(df),
                "segment_map": _chart_view("segment-map", "Segment map", chart,
                                     "Scatter of saved segments: size against mean predicted CLV, coloured by churn risk")}  # fmt: skip

    ctx = await cached_view(request, "segments", (), ALL_DATA, work)
    return _render(request, "customers/segments.html", {"nav_active": "segments", **ctx})


# -- model checks ---------------------------------------------------------------------------------
@models_router.get("/models", response_class=HTMLResponse)
async def models_page(request: Request) -> HTMLResponse:
    def work(ws: Any) -> dict[str, Any]:
        return model_checks(ws)

    ctx = await cached_view(request, "models", (), ("results",), work)  # the stored ``models`` result
    return _render(request, "customers/models.html", {"nav_active": "models", **ctx})


def model_checks(ws: Any) -> dict[str, Any]:
    """Display context of the models page, from the stored ``models`` result (fitted by a job, never here):
    the CLV holdout fit and the churn calibration (each may be unavailable), and how fresh they are."""
    from cxlens.customers.charts import calibration_chart
    from cxlens.customers.clv_summary import holdout_chart
    from cxlens.customers.tasks import models_result

    out: dict[str, Any] = {"holdout": None, "holdout_error": None, "churn": None, "churn_error": None,
                           "as_of": None}  # fmt: skip
    res = models_result(ws)
    if res is None:
        note = "the models have not been fitted yet; a background job does it (or run `cxlens models fit`)"
        return {**out, "holdout_error": note, "churn_error": note}
    out["as_of"] = res.age_label()
    h = res.frame()
    if h is not None and len(h):
        h.attrs["calibration_end"], h.attrs["observation_end"] = (
            h["calibration_end"].iloc[0],
            h["observation_end"].iloc[0],
        )
        h = h.drop(columns=["calibration_end", "observation_end"])
        out["holdout"] = {
            "chart": _chart_view("clv-holdout", "CLV model: holdout", holdout_chart(h).properties(title=""),
                                 "Line chart of actual and model-expected repeat purchases in the holdout"),
            "calibration_end": h.attrs["calibration_end"], "observation_end": h.attrs["observation_end"],
            "rows": [{"label": r["label"], "customers": f"{int(r['customers']):,}", "actual": _num(r["actual"], ".3f"),
                      "expected": _num(r["expected"], ".3f")} for r in h.to_dict("records")],
        }  # fmt: skip
    else:
        out["holdout_error"] = res.meta.get("holdout_error") or res.meta.get("clv_error")
    churn = res.meta.get("churn")
    if churn:
        m, b = churn["model"], churn["baseline"]
        out["churn"] = {
            "chart": _chart_view("churn-calibration", "Churn model: calibration",
                                 calibration_chart(pd.DataFrame(churn["calibration"]), title=""),
                                 "Reliability curve: mean predicted churn probability against observed churn rate per decile"),
            "test_as_of": str(churn["test_as_of"])[:10], "horizon": churn["horizon_days"], "n": f"{m['n']:,}",
            "figures": [("ROC-AUC", _num(m["roc_auc"], ".3f"), _num(b["roc_auc"], ".3f")),
                        ("PR-AUC", _num(m["pr_auc"], ".3f"), _num(b["pr_auc"], ".3f")),
                        ("Brier score", _num(m["brier"], ".4f"), _num(b["brier"], ".4f")),
                        ("Lift at top decile", _num(m["lift_top_decile"], ".2f"), _num(b["lift_top_decile"], ".2f"))],
        }  # fmt: skip
    else:
        out["churn_error"] = res.meta.get("churn_error")
    return out
