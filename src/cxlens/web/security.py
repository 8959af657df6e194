"""Protections every route gets, whoever wrote it: the client's address, security headers, request limits.

Installed by :func:`cxlens.web.app.create_app` as plain ASGI middleware, outside every router, so a
page or API added later is covered without a line of its own:

* :class:`TrustedProxies` — the client address and scheme. ``X-Forwarded-For`` and
  ``X-Forwarded-Proto`` are read **only** when the TCP peer is one of the configured trusted proxies
  (``cxlens serve --trusted-proxy 10.0.0.2``); then the client is the right-most address of the
  chain that is not itself a trusted proxy. Anyone else's forwarded headers are ignored, so the
  sign-in throttle and the survey limits count real clients. (Run uvicorn with
  ``proxy_headers=False``: :func:`server_config` does.)
* :class:`SecurityHeaders` — on every response: ``X-Content-Type-Options: nosniff``, a
  ``Referrer-Policy``, and ``Cache-Control: no-store`` on everything but static files and the SDK
  (pages and APIs show personal data and customer text); on HTML: a ``Content-Security-Policy``
  allowing only this server's scripts (no inline script, no eval), ``frame-ancestors 'none'`` and
  ``X-Frame-Options: DENY``.
* :func:`check_request_target` — NUL bytes and over-long query strings are a 400 naming the
  parameter before any route parses them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import parse_qsl

from cxlens.errors import ParameterError, PayloadTooLargeError

__all__ = [
    "CSP",
    "MAX_QUERY",
    "SecurityHeaders",
    "TrustedProxies",
    "check_request_target",
    "parse_networks",
    "server_config",
]

#: the dashboard's Content-Security-Policy: scripts, styles, fonts and data only from this server
#: (inline style attributes are allowed; inline scripts, eval and plugins are not), no framing
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
#: the longest query string accepted (a browser sends at most ~8 KB; anything longer is abuse)
MAX_QUERY = 16 * 1024
#: paths whose responses may be cached by browsers (vendored assets, the SDK)
CACHEABLE = ("/static/", "/sdk/")


def parse_networks(values: Iterable[str] | None) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``["10.0.0.2", "192.168.0.0/24", "::1"]`` as networks (a ConfigError-like 400 names a bad one)."""
    out = []
    for v in values or ():
        for part in str(v).split(","):
            part = part.strip()
            if not part:
                continue
            try:
                out.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ParameterError(
                    "trusted_proxies", f"trusted proxy {part!r} is not an IP address or network such as 10.0.0.0/8"
                ) from None
    return tuple(out)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


class TrustedProxies:
    """ASGI middleware: take the client address and scheme from ``X-Forwarded-*`` only behind a trusted proxy."""

    def __init__(self, app: Any, trusted: Sequence[str] | None = None) -> None:
        self.app = app
        self.networks = parse_networks(trusted)

    def trusted(self, host: str | None) -> bool:
        ip = _ip(host or "")
        return ip is not None and any(ip in n for n in self.networks)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and self.networks:
            client = scope.get("client")
            if client and self.trusted(client[0]):
                headers = dict(scope.get("headers") or [])
                chain = [h.strip() for h in headers.get(b"x-forwarded-for", b"").decode("latin-1").split(",")]
                chain = [h for h in chain if h]
                real = next((h for h in reversed(chain) if not self.trusted(h)), chain[0] if chain else None)
                if real is not None and _ip(real) is not None:
                    scope = dict(scope, client=(real, 0))
                proto = headers.get(b"x-forwarded-proto", b"").decode("latin-1").split(",")[-1].strip().lower()
                if proto in ("http", "https"):
                    scope = dict(scope, scheme=proto)
        await self.app(scope, receive, send)


def check_request_target(scope: dict[str, Any]) -> None:
    """A 400 naming the parameter for a NUL byte in the path or query, a 414-like 413 for a huge query."""
    raw = scope.get("query_string") or b""
    if len(raw) > MAX_QUERY:
        raise PayloadTooLargeError(f"the query string is {len(raw):,} bytes; at most {MAX_QUERY:,} are accepted")
    if b"%00" in raw or b"\x00" in raw:
        for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
            if "\x00" in key or "\x00" in value:
                name = key.replace("\x00", "") or "query"
                raise ParameterError(name, f"query parameter {name!r} contains a NUL character; remove it")
    if "\x00" in scope.get("path", ""):
        raise ParameterError("path", "the address contains a NUL character; remove it")


class SecurityHeaders:
    """ASGI middleware adding the security headers (see the module docstring) to every response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        cacheable = path.startswith(CACHEABLE)
        # personal links carry a token in the address: never send it on as a referrer
        referrer = b"no-referrer" if path.startswith("/s/") else b"same-origin"

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                names = {k.lower() for k, _ in headers}
                add = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", referrer)]
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if ctype.startswith(b"text/html"):
                    add += [(b"content-security-policy", CSP.encode()), (b"x-frame-options", b"DENY")]
                if not cacheable and b"cache-control" not in names:
                    add.append((b"cache-control", b"no-store"))
                message = dict(message, headers=headers + [(k, v) for k, v in add if k not in names])
            await send(message)

        await self.app(scope, receive, send_with_headers)


def server_config(app: Any, host: str, port: int, **kwargs: Any) -> Any:
    """The uvicorn configuration ``cxlens serve`` runs: uvicorn's own forwarded-header handling is off
    (it trusts every local proxy), :class:`TrustedProxies` does it from the configured list instead."""
    import uvicorn

    return uvicorn.Config(app, host=host, port=port, proxy_headers=False, server_header=False,
                          log_level=kwargs.pop("log_level", "warning"), **kwargs)  # fmt: skip
