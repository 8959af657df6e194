"""Which browser origins may send to a workspace: one rule for the collection and survey endpoints.

The workspace setting ``collect.allowed_origins`` is a list of origins (a single string is taken as
a list of one). An origin is allowed when the list holds ``"*"`` or the same origin once both are
normalised: scheme and host lower-cased, a trailing ``/`` dropped, a default port (``:443`` for
https, ``:80`` for http) dropped. Nothing else matches: no wildcards inside names, no paths.

>>> origin_allowed(["https://Shop.example/"], "https://shop.example")
True
>>> origin_allowed("https://shop.example:443", "https://shop.example"), origin_allowed(["*"], "http://x.test")
(True, True)
>>> origin_allowed(["https://shop.example"], "https://evil.example"), origin_allowed(None, "https://shop.example")
(False, False)
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

__all__ = ["SETTING", "normalise_origin", "origin_allowed"]

#: the workspace setting listing the allowed origins
SETTING = "collect.allowed_origins"
_DEFAULT_PORTS = {"https": 443, "http": 80}


def normalise_origin(origin: str) -> str:
    """``scheme://host[:port]`` lower-cased, without a trailing slash or a default port."""
    text = str(origin).strip().rstrip("/")
    parts = urlsplit(text)
    if not parts.scheme or not parts.hostname:
        return text.lower()
    host = parts.hostname.lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        return text.lower()
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        host += f":{port}"
    return f"{parts.scheme.lower()}://{host}"


def origin_allowed(setting: Any, origin: str | None) -> bool:
    """Whether ``origin`` may send to a workspace whose ``collect.allowed_origins`` is ``setting``."""
    if not origin or not setting:
        return False
    allowed = [setting] if isinstance(setting, str) else setting
    if not isinstance(allowed, list | tuple):
        return False
    if "*" in allowed:
        return True
    want = normalise_origin(origin)
    return any(normalise_origin(str(a)) == want for a in allowed)
