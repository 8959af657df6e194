"""Helpers of the tests that read rendered dashboard pages."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient

from cxlens.web import create_app


def cells(page: str, field: str) -> list[str]:
    """The text of every element marked ``data-field="<field>"`` in ``page``, unescaped and stripped."""
    return [html.unescape(v).strip() for v in re.findall(rf'data-field="{field}"[^>]*>(.*?)</', page, re.S)]


def client_fixture(workspace: str):
    """A module-scoped ``client`` fixture: a TestClient of the dashboard of the workspace that fixture
    ``workspace`` (its name) gives."""

    @pytest.fixture(scope="module")
    def client(request):
        with TestClient(create_app(request.getfixturevalue(workspace))) as c:
            yield c

    return client
