"""The security suite's server: two workspaces, every role, keys, and data full of personal data.

Every attack in ``tests/security`` goes through a real uvicorn server configured as ``cxlens serve``
runs it (:func:`cxlens.web.security.server_config`: uvicorn's own forwarded-header handling off).

Workspaces ``shop`` and ``bank`` each have an admin, an analyst and an agent (password :data:`PW`), a
write and a secret key. ``shop`` holds six customers with e-mails, names and a phone trait, events
for a funnel, survey answers and tickets whose text carries an e-mail address, a phone number and a
card number (:data:`PLANTED`), and the stored text analysis of them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pandas as pd
import pytest

from cxlens.access import users
from cxlens.surveys import create_survey
from cxlens.web import create_app
from cxlens.web.deps import CSRF_COOKIE
from cxlens.web.hub import WorkspaceHub

from ..conftest import running

PW = "correct horse battery staple"
ROLES = ("admin", "analyst", "agent")
#: personal data planted in customer text: none of it may reach a role that sees PII masked
PHONE, CARD, TEXT_EMAIL = "+44 20 7946 0958", "4111 1111 1111 1111", "ann.private@mail.example"
PLANTED = (PHONE, CARD, TEXT_EMAIL)
PII_COMMENT = f"Terrible checkout. Call me on {PHONE} or mail {TEXT_EMAIL}; I paid with card {CARD}."
CUSTOMERS = {
    f"C{i}": {"email": f"person{i}@shop.example", "name": f"Person Number{i}", "phone": f"+44 7700 90012{i}"}
    for i in range(1, 7)
}
SURVEY = {"id": "s1", "name": "Checkout NPS", "metric": "nps", "question": "Recommend us?", "status": "active",
          "link": {"public": True}, "follow_up": {"default": "Why?"}}  # fmt: skip


def serve(app: Any) -> contextlib.AbstractContextManager[str]:
    """Run ``app`` under uvicorn exactly as ``cxlens serve`` configures it; the base URL."""
    return running(app, as_served=True)


def all_routes(routes: Any, prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """(path, methods) of every route of an app, inside included routers too (FastAPI keeps those as
    ``_IncludedRouter`` with the router and its prefix)."""
    for r in routes:
        inner = getattr(r, "original_router", None)
        if inner is not None:
            ctx = getattr(r, "include_context", None)
            yield from all_routes(inner.routes, prefix + (getattr(ctx, "prefix", "") or ""))
        elif getattr(r, "methods", None) and getattr(r, "path", None):
            yield prefix + r.path, set(r.methods)


def build_shop(ws: Any) -> None:
    day = pd.Timestamp("2026-03-02")
    ids = list(CUSTOMERS)
    ws.load("customers", pd.DataFrame({
        "customer_id": ids, "created_at": day - pd.Timedelta(days=60),
        "email": [c["email"] for c in CUSTOMERS.values()], "name": [c["name"] for c in CUSTOMERS.values()],
        "segment": ["retail", "retail", "b2b", "b2b", "retail", "b2b"],
        "plan": ["pro", "free", "pro", "free", "pro", "free"],
        "traits": [f'{{"phone": "{c["phone"]}", "tier": "gold"}}' for c in CUSTOMERS.values()],
    }))  # fmt: skip
    steps = ["visit", "add_to_cart", "purchase"]
    rows = []
    for i, cid in enumerate(ids):
        for k, name in enumerate(steps[: 1 + i % 3]):
            rows.append({"event_id": f"e-{cid}-{k}", "customer_id": cid, "anonymous_id": f"anon-{cid}",
                         "ts": day + pd.Timedelta(hours=i, minutes=k), "type": "track", "name": name,
                         "channel": "web", "touchpoint": "checkout", "stage": "purchase"})  # fmt: skip
    ws.load("events", pd.DataFrame(rows))
    fb = [{"feedback_id": f"f-{cid}", "customer_id": cid, "ts": day + pd.Timedelta(hours=i), "metric": "nps",
           "score": float(i % 11), "comment": PII_COMMENT if cid == "C1" else f"fine service number {i}",
           "touchpoint": "checkout", "channel": "web", "stage": "purchase", "survey_id": "s1"}
          for i, cid in enumerate(ids)]  # fmt: skip
    ws.load("feedback", pd.DataFrame(fb))
    ws.load("tickets", pd.DataFrame({
        "ticket_id": ["t1"], "customer_id": ["C1"], "created_at": [day], "channel": ["email"],
        "subject": [f"Refund please, {TEXT_EMAIL}"], "body": [PII_COMMENT], "status": ["open"],
    }))  # fmt: skip
    create_survey(ws, SURVEY)
    ws.refresh(["voice.analyse"])  # the stored (redacted) text analysis the explorer reads


@dataclass
class Env:
    url: str
    hub: WorkspaceHub
    keys: dict[str, dict[str, str]]
    app: Any
    clients: dict[tuple[str, str], httpx.Client] = field(default_factory=dict)

    def client(self, role: str, workspace: str = "shop") -> httpx.Client:
        """A signed-in session of ``role`` in ``workspace`` (cached)."""
        key = (workspace, role)
        if key not in self.clients:
            self.clients[key] = login(self.url, f"{role}@{workspace}.example", workspace)
        return self.clients[key]

    def api(self, workspace: str = "shop", kind: str = "secret") -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.keys[workspace][kind]}"},
                            timeout=60)  # fmt: skip


def login(url: str, email: str, workspace: str, password: str = PW) -> httpx.Client:
    c = httpx.Client(base_url=url, timeout=60)
    c.get("/login")
    r = c.post("/login", data={"email": email, "password": password, "workspace": workspace,
                               "csrf_token": c.cookies.get(CSRF_COOKIE)})  # fmt: skip
    assert r.status_code == 303, (r.status_code, r.text[:300])
    return c


def csrf(c: httpx.Client) -> str:
    return c.cookies.get(CSRF_COOKIE) or ""


@pytest.fixture(scope="session")
def env(tmp_path_factory) -> Iterator[Env]:
    d = tmp_path_factory.mktemp("security")
    hub = WorkspaceHub.open([d / "shop.duckdb", d / "bank.duckdb"])
    build_shop(hub.get("shop"))
    hub.get("bank").load("customers", pd.DataFrame({"customer_id": ["B1"], "email": ["b1@bank.example"]}))
    keys: dict[str, dict[str, str]] = {}
    for name in hub.names:
        for role in ROLES:
            users.create_user(hub.get(name), f"{role}@{name}.example", PW, role=role)
        keys[name] = {kind: hub.create_key(name, kind)[1] for kind in ("write", "secret")}
    app = create_app(hub)
    with serve(app) as url:
        e = Env(url, hub, keys, app)
        yield e
        for c in e.clients.values():
            c.close()
    hub.close()
