"""Fixtures for survey tests: a workspace served by a hub with a write key."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import cxlens
from cxlens.web import create_app
from cxlens.web.hub import WorkspaceHub

NPS = {
    "id": "checkout-nps",
    "name": "Checkout NPS",
    "metric": "nps",
    "question": "How likely are you to recommend us?",
    "status": "active",
    "touchpoint": "checkout",
    "follow_up": {
        "promoter": "What did you love?",
        "passive": "What would make it a 10?",
        "detractor": "What went wrong?",
    },
    "targeting": {"recontact_days": 30},
}


@pytest.fixture()
def sws(tmp_path):
    w = cxlens.open(tmp_path / "shop.duckdb")
    yield w
    w.close()


@pytest.fixture()
def hub_key(sws):
    hub = WorkspaceHub({"shop": sws})
    _, key = hub.create_key("shop", "write")
    return hub, key


@pytest.fixture()
def client(hub_key):
    hub, _ = hub_key
    with TestClient(create_app(hub)) as c:
        yield c


@pytest.fixture()
def key(hub_key):
    return hub_key[1]
