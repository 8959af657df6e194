"""Dashboard pages and the navigation they register into.

A page is a module with an :class:`fastapi.APIRouter` that calls :func:`register` at import
time; :func:`load_pages` imports every module in :data:`PAGE_MODULES` and returns their
routers. Adding a page is two lines: the module, and its name in ``PAGE_MODULES``::

    router = APIRouter()
    register(router, id="funnels", label="Funnels", path="/funnels", order=20)
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from fastapi import APIRouter

__all__ = ["NAV", "PAGE_MODULES", "NavItem", "load_pages", "nav", "register"]


@dataclass(frozen=True)
class NavItem:
    """One entry of the dashboard navigation."""

    id: str
    label: str
    path: str
    order: int = 100


#: Modules imported by :func:`load_pages`, each registering one or more pages.
PAGE_MODULES: list[str] = [
    "cxlens.web.pages.overview",
    "cxlens.web.pages.journeys",
    "cxlens.web.pages.voice",
    "cxlens.web.pages.customers",
    "cxlens.web.pages.admin",
    "cxlens.web.pages.surveys",
    "cxlens.web.pages.imports",
    "cxlens.web.pages.experiments",
    "cxlens.web.pages.learn",
    "cxlens.web.pages.behaviour",
    "cxlens.web.pages.replay",
    "cxlens.web.pages.act",
    "cxlens.web.pages.share",
]

#: Registered navigation entries (see :func:`nav` for the ordered list).
NAV: dict[str, NavItem] = {}
_ROUTERS: dict[str, APIRouter] = {}


def register(router: APIRouter, *, id: str, label: str, path: str, order: int = 100) -> APIRouter:  # noqa: A002
    """Add a page's router and its navigation entry (idempotent per ``id``)."""
    NAV[id] = NavItem(id, label, path, order)
    _ROUTERS[id] = router
    return router


def nav() -> list[NavItem]:
    """Navigation entries in display order."""
    return sorted(NAV.values(), key=lambda item: (item.order, item.label))


def load_pages() -> list[APIRouter]:
    """Import every page module and return the registered routers."""
    for name in PAGE_MODULES:
        importlib.import_module(name)
    return list(_ROUTERS.values())
