"""Personal data by role, through the real server: breakdowns, redaction of customer text, and a scan
of every page, partial, API and export for what a role that sees PII masked must never get."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from .. import live
from .conftest import CARD, CUSTOMERS, PHONE, PLANTED, TEXT_EMAIL, all_routes

#: everything personal the shop workspace holds: e-mails, names, phone traits, and what the text plants
SECRETS = [*PLANTED] + [v for c in CUSTOMERS.values() for v in (c["email"], c["name"], c["phone"])]
FUNNEL = "steps=visit&steps=add_to_cart&steps=purchase"
#: query strings for routes that need parameters (everything else is called bare)
QUERIES = {
    "/api/v1/journeys/funnel": FUNNEL,
    "/api/v1/journeys/funnel/dropped": FUNNEL + "&step=1",
    "/api/v1/journeys/dropoff": "goal=purchase",
    "/funnels": FUNNEL,
    "/partials/funnels": FUNNEL,
    "/partials/funnels/dropped": FUNNEL + "&step=1",
    "/funnels/dropped.csv": FUNNEL + "&step=1",
    "/partials/journey/cell": "stage=purchase&touchpoint=checkout",
}
PATH_VALUES = {"customer_id": "C1", "survey_id": "s1", "workspace": "shop", "name": "nps", "key_id": "x",
               "user_id": "x", "rest": "x", "kind": "track"}  # fmt: skip


def get_routes(app) -> list[str]:
    """Every GET address of the app (path parameters filled with the shop's values), with its query."""
    out = []
    for route, methods in all_routes(app.routes):
        if "GET" not in methods:
            continue
        path = re.sub(r"\{(\w+)(:path)?\}", lambda m: quote(PATH_VALUES.get(m.group(1), "x")), route)
        if path.startswith("/customers/") and path.endswith("/export"):
            continue  # the data subject's own copy: admins only, checked in test_erase
        q = QUERIES.get(route, "")
        out.append(path + (f"?{q}" if q else ""))
    return sorted(set(out))


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def test_every_page_partial_api_and_export_is_free_of_personal_data_for_the_analyst(env):
    analyst = env.client("analyst")
    routes = get_routes(env.app)
    assert len(routes) > 40  # the whole dashboard, API and exports, not a sample
    checked = {}
    for path in routes:
        r = analyst.get(path)
        assert r.status_code < 500, (path, r.status_code, r.text[:300])
        assert not leaks(r.text), (path, leaks(r.text))
        checked[path] = r.status_code
    # the pages that show customer text were really shown (not refused)
    for path in ("/", "/feedback", "/surveys/s1", "/customers/C1", "/api/v1/surveys/s1/results",
                 "/partials/journey/cell?stage=purchase&touchpoint=checkout", "/api/v1/customers/C1"):  # fmt: skip
        assert checked[path] == 200, (path, checked[path])


def test_public_pages_and_the_api_reference_carry_no_personal_data(env):

    with live.Client(base_url=env.url) as anon:
        for path in ("/login", "/s/shop/s1", "/docs", "/openapi.json", "/health", "/customers/C1", "/feedback"):
            r = anon.get(path)
            assert r.status_code < 500 and not leaks(r.text), path


@pytest.mark.parametrize("role", ["admin", "agent"])
def test_roles_that_may_see_personal_data_see_it_on_the_customer_360(env, role):
    page = env.client(role).get("/customers/C1").text
    assert CUSTOMERS["C1"]["email"] in page and CUSTOMERS["C1"]["phone"] in page and PHONE in page


def test_survey_results_comments_are_redacted_for_analysts_and_shown_to_admins(env):
    masked = env.client("analyst").get("/api/v1/surveys/s1/results").json()["comments"]
    mine = next(c for c in masked if c["customer_id"] == "C1")["comment"]
    assert mine == "Terrible checkout. Call me on [PHONE] or mail [EMAIL]; I paid with card [CARD]."
    shown = env.api().get("/api/v1/surveys/s1/results").json()["comments"]  # a secret key acts as an admin
    assert next(c for c in shown if c["customer_id"] == "C1")["comment"].endswith(CARD + ".")
    page = env.client("analyst").get("/surveys/s1").text
    assert "[PHONE]" in page and PHONE not in page


def test_journey_cell_timeline_and_overview_redact_the_same_text(env):
    analyst = env.client("analyst")
    for path in ("/partials/journey/cell?stage=purchase&touchpoint=checkout", "/customers/C1", "/"):
        text = analyst.get(path).text
        assert "[EMAIL]" in text and "[CARD]" in text and TEXT_EMAIL not in text and CARD not in text, path


@pytest.mark.parametrize(
    ("path", "param"),
    [
        (f"/api/v1/journeys/funnel?{FUNNEL}&by=email", "by"),
        (f"/api/v1/journeys/funnel?{FUNNEL}&by=name", None),  # events.name: the event's name, allowed
        (f"/api/v1/journeys/funnel?{FUNNEL}&by=traits", "by"),
        (f"/api/v1/journeys/funnel/dropped?{FUNNEL}&step=1&by=email", None),  # ids only: no breakdown
        ("/api/v1/metrics/nps?by=traits.phone", "by"),
        ("/api/v1/metrics/nps?by=traits.Phone_Number", "by"),
        ("/api/v1/metrics/nps?by=traits.email", "by"),
        ("/api/v1/metrics/churn?by=traits.first_name", "by"),
    ],
)
def test_personal_data_is_never_a_breakdown_for_the_analyst(env, path, param):
    r = env.client("analyst").get(path)
    if param is None:
        assert r.status_code == 200 and not leaks(r.text)
        return
    assert r.status_code == 403, r.text
    err = r.json()["error"]
    assert err["type"] == "PersonalDataError" and err["param"] == param and "personal data" in err["message"]
    assert not leaks(r.text)


def test_the_funnels_page_refuses_an_email_breakdown_without_showing_one(env):
    r = env.client("analyst").get(f"/funnels?{FUNNEL}&by=email")
    assert r.status_code in (400, 403) and "personal data" in r.text and not leaks(r.text)


def test_an_admin_may_break_a_funnel_down_by_email(env):
    rows = env.client("admin").get(f"/api/v1/journeys/funnel?{FUNNEL}&by=email").json()["rows"]
    got = {r["email"] for r in rows}
    known = set(env.hub.get("shop").sql("SELECT email FROM customers")["email"]) | {None}
    assert {CUSTOMERS[c]["email"] for c in ("C1", "C3", "C4", "C5", "C6")} <= got <= known
