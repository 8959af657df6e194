"""httpx against a live test server (:func:`tests.conftest.running`), with one generous timeout.

httpx gives up after 5 s by default; a loaded CI box (two cores shared by several test workers, a
first request that builds a page or a chart) takes longer, and the test then fails for no fault of
the code. Every request a test sends to a real server goes through these few functions, which give
:data:`TIMEOUT` unless the call names its own (a health poll may want a short one).
"""

from __future__ import annotations

from typing import Any

import httpx

#: seconds a test waits for a live server to answer (connect, read, write, pool)
TIMEOUT = httpx.Timeout(60.0)


def Client(**kw: Any) -> httpx.Client:  # noqa: N802 (stands in for httpx.Client)
    """An :class:`httpx.Client` with :data:`TIMEOUT` unless ``timeout`` is given."""
    kw.setdefault("timeout", TIMEOUT)
    return httpx.Client(**kw)


def request(method: str, url: str, **kw: Any) -> httpx.Response:
    """:func:`httpx.request` with :data:`TIMEOUT` unless ``timeout`` is given."""
    kw.setdefault("timeout", TIMEOUT)
    return httpx.request(method, url, **kw)


def get(url: str, **kw: Any) -> httpx.Response:
    """A GET with :data:`TIMEOUT` unless ``timeout`` is given."""
    return request("GET", url, **kw)


def post(url: str, **kw: Any) -> httpx.Response:
    """A POST with :data:`TIMEOUT` unless ``timeout`` is given."""
    return request("POST", url, **kw)


def put(url: str, **kw: Any) -> httpx.Response:
    """A PUT with :data:`TIMEOUT` unless ``timeout`` is given."""
    return request("PUT", url, **kw)


def patch(url: str, **kw: Any) -> httpx.Response:
    """A PATCH with :data:`TIMEOUT` unless ``timeout`` is given."""
    return request("PATCH", url, **kw)


def delete(url: str, **kw: Any) -> httpx.Response:
    """A DELETE with :data:`TIMEOUT` unless ``timeout`` is given."""
    return request("DELETE", url, **kw)
