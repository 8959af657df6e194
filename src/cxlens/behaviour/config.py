"""What the browser SDK is told to capture: the workspace's behaviour settings (remote config).

Settings (``ws.set_setting``), each ``None`` (unset: the site's ``init`` options decide), ``True``
or ``False`` (overrides ``init`` without redeploying the site):

* ``behaviour.heatmaps`` — clicks, scroll depth, zone exposure;
* ``behaviour.frustration`` — rage, dead and error clicks, JavaScript errors;
* ``behaviour.replay`` — session replay (rrweb, cxlens.behaviour.replay);
* ``behaviour.zones`` — the zones: ``[{"name": "hero", "selector": "#hero", "url": "/"}]`` (``url``
  optional, a path prefix the zone belongs to);
* ``behaviour.mask_selector`` — a CSS selector whose elements' text is never sent.
"""

from __future__ import annotations

import re
from typing import Any

from cxlens.behaviour.baselines import page_baseline
from cxlens.errors import ParameterError

__all__ = ["HEATMAPS", "FRUSTRATION", "MASK", "REPLAY", "ZONES", "check_zones", "remote_config", "set_zones", "zones"]

HEATMAPS = "behaviour.heatmaps"
FRUSTRATION = "behaviour.frustration"
REPLAY = "behaviour.replay"
ZONES = "behaviour.zones"
MASK = "behaviour.mask_selector"
_NAME = re.compile(r"^[\w .:-]{1,80}$")


def check_zones(value: Any) -> list[dict[str, str]]:
    """Zone definitions, checked (ParameterError naming the field): stored ones and a caller's."""
    if not isinstance(value, list):
        raise ParameterError("zones", f"zones: expected a list of {{name, selector}} objects, got {value!r}")
    out, seen = [], set()
    for i, z in enumerate(value):
        if not isinstance(z, dict):
            raise ParameterError(f"zones[{i}]", f"zones[{i}]: expected an object with name and selector, got {z!r}")
        name, sel, url = z.get("name"), z.get("selector"), z.get("url")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ParameterError(
                f"zones[{i}].name", f"zones[{i}].name is {name!r}; expected 1-80 letters, digits, spaces or .:-_"
            )
        if name in seen:
            raise ParameterError(f"zones[{i}].name", f"zones[{i}].name {name!r} is used twice; names must be unique")
        if not isinstance(sel, str) or not sel.strip() or len(sel) > 300 or "<" in sel:
            raise ParameterError(
                f"zones[{i}].selector", f"zones[{i}].selector is {sel!r}; expected a CSS selector such as '#hero'"
            )
        if url is not None and (not isinstance(url, str) or len(url) > 500):
            raise ParameterError(f"zones[{i}].url", f"zones[{i}].url is {url!r}; expected a page URL or path prefix")
        seen.add(name)
        out.append({"name": name, "selector": sel.strip(), **({"url": url} if url else {})})
    return out


def zones(store: Any) -> list[dict[str, str]]:
    """The workspace's zones (``behaviour.zones``), validated."""
    return check_zones(store.setting(ZONES, []) or [])


def set_zones(store: Any, value: Any) -> list[dict[str, str]]:
    """Replace the zones (400 naming the bad field when one is malformed)."""
    checked = check_zones(value)
    store.set_setting(ZONES, checked)
    return checked


def _flag(store: Any, name: str) -> bool | None:
    v = store.setting(name)
    if v is None or isinstance(v, bool):
        return v
    raise ParameterError(name, f"setting {name!r} is {v!r}; expected true, false or unset")


def remote_config(store: Any, page: str | None = None) -> dict[str, Any]:
    """What ``GET /v1/behaviour/config`` answers: each part's override (``None``: the site's ``init``
    decides), the zones and the mask selector; with ``page`` (a URL, its query string and fragment
    ignored) also that page's baseline (``cxlens.behaviour.baselines``): ``{"quickBackMs",
    "dwellViews", "scrollFence", "scrollViews"}`` under ``"page"``."""
    out: dict[str, Any] = {
        "heatmaps": _flag(store, HEATMAPS),
        "frustration": _flag(store, FRUSTRATION),
        "replay": _flag(store, REPLAY),
        "zones": zones(store),
        "maskSelector": store.setting(MASK),
    }
    if page is not None:
        if not isinstance(page, str) or not page.strip() or len(page) > 2000:
            raise ParameterError("page", f"page is {page!r}; expected the page's URL (at most 2,000 characters)")
        out["page"] = page_baseline(store, re.sub(r"[?#].*$", "", page.strip()))
    return out
