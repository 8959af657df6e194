"""Where alerts may go: the hosts an admin allowed, and the SSRF check every delivery passes.

A destination is refused unless

* its URL is ``http`` or ``https`` (SMTP: the e-mail action's ``host``);
* its host is in ``act_hosts`` (``cxlens act allow-host HOST``);
* every address the host resolves to is public — a private (RFC 1918, ``fc00::/7``), loopback,
  link-local (``169.254.0.0/16``, cloud metadata), multicast, reserved or unspecified address is
  refused unless the admin allowed that host with ``--private`` (a receiver inside the company network).

The check runs when a rule is saved (hosts) and again before every try (addresses: DNS may change).
The HTTP client never follows redirects, so an allowed host cannot bounce a request elsewhere.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from cxlens.errors import ConfigError, ForbiddenError

__all__ = ["allow_host", "allowed_hosts", "connect", "forbid_host", "resolve_destination"]

_HOST_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789.-:[]")


def _norm(host: str) -> str:
    h = str(host or "").strip().lower().rstrip(".")
    if h.startswith("[") and h.endswith("]"):
        h = h[1:-1]
    if not h or not set(h) <= _HOST_CHARS or "/" in h:
        raise ConfigError(f"host {host!r} is not a host name or address; expected e.g. 'hooks.slack.com'")
    return h


def allow_host(store: Any, host: str, *, private: bool = False, who: str | None = None) -> str:
    """Allow alerts to ``host`` (``private``: even when it resolves to a private or loopback address)."""
    h = _norm(host)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with store.transaction(changes=["act_hosts"]) as cur:
        cur.execute(
            "INSERT INTO act_hosts VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET allow_private = excluded.allow_private, "
            "added_by = excluded.added_by, added_at = excluded.added_at",
            [h, bool(private), who, now],
        )
    return h


def forbid_host(store: Any, host: str) -> None:
    h = _norm(host)
    with store.transaction(changes=["act_hosts"]) as cur:
        cur.execute("DELETE FROM act_hosts WHERE host = ?", [h])


def allowed_hosts(store: Any) -> list[tuple[str, bool]]:
    """(host, private allowed) of every allowed host (cached until ``act_hosts`` changes)."""

    def read() -> list[tuple[str, bool]]:
        return [(h, bool(p)) for h, p in store.rows("SELECT host, allow_private FROM act_hosts ORDER BY host")]

    memo = getattr(getattr(store, "store", store), "memo", None)
    return list(memo("act.allowed_hosts", ("act_hosts",), read)) if memo else read()


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    bad = ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
    bad = bad or ip.is_unspecified or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
    return not bad


def resolve_destination(store: Any, url: str | None = None, *, host: str | None = None,
                        port: int | None = None) -> tuple[str, list[str]]:  # fmt: skip
    """Raise :class:`~cxlens.errors.ForbiddenError` unless ``url`` (or SMTP ``host``) may be sent to; returns
    the host and the addresses it resolved to, every one of them checked. A sender connects to one of
    these, never to the name again: a second lookup could answer with another address (DNS rebinding:
    public for the check, 127.0.0.1 or 169.254.169.254 for the connect)."""
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ForbiddenError(f"destination scheme {parts.scheme!r} is refused; only http and https are allowed")
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    h = _norm(host or "")
    allowed = dict(allowed_hosts(store))
    if h not in allowed:
        raise ForbiddenError(f"destination host {h!r} is not allowed; an admin allows it with "
                             f"`cxlens act allow-host {h}`")  # fmt: skip
    try:
        infos = socket.getaddrinfo(h, port or 0, proto=socket.IPPROTO_TCP)
    except socket.gaierror as e:
        raise ConnectionError(f"destination host {h!r} does not resolve: {e}") from None
    addrs: list[str] = []
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%")[0])
        if not _public(ip) and not allowed[h]:
            raise ForbiddenError(f"destination host {h!r} resolves to the non-public address {ip}; an admin who "
                                 f"means it allows it with `cxlens act allow-host {h} --private`")  # fmt: skip
        if info[4][0] not in addrs:
            addrs.append(info[4][0])
    return h, addrs


def connect(addrs: list[str], port: int, timeout: float | None) -> socket.socket:
    """A TCP connection to the first of ``addrs`` (checked by :func:`resolve_destination`) that answers."""
    err: OSError = ConnectionError("no address to connect to")
    for addr in addrs:
        try:
            return socket.create_connection((addr, port), timeout)
        except OSError as e:
            err = e
    raise err
