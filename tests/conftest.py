"""Shared fixtures: real-data folder, a local Spark session, scratch workspaces."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest

import cxlens

ROOT = Path(__file__).resolve().parents[1]


def _real_data_dir() -> Path:
    return Path(os.environ.get("CXLENS_REAL_DATA", ROOT.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The folder of real public datasets; skips (or fails under CXLENS_REQUIRE_REAL_DATA=1) when absent."""
    path = _real_data_dir()
    if not (path / "README.md").exists():
        msg = f"real data folder {path} not found (set CXLENS_REAL_DATA)"
        if os.environ.get("CXLENS_REQUIRE_REAL_DATA") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture()
def ws(tmp_path):
    """A fresh, empty workspace file."""
    w = cxlens.open(tmp_path / "ws.duckdb")
    yield w
    w.close()


@pytest.fixture(scope="session")
def spark():
    """One local SparkSession for the whole test session (UTC, fresh warehouse)."""
    pyspark = pytest.importorskip("pyspark", reason="pip install 'cxlens[spark]'")
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)
    warehouse = tempfile.mkdtemp(prefix="cxlens-spark-")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("cxlens-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", warehouse)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={warehouse}")
        .getOrCreate()
    )
    assert pyspark is not None
    yield session
    session.stop()
    shutil.rmtree(warehouse, ignore_errors=True)


# The modules holding the suite's longest tests (from `pytest --durations=80`, 2026-12-04), run first:
# pytest-xdist hands tests out in collection order, so a two-minute test collected last keeps one
# worker busy while the other has nothing left (longest-first scheduling). Whole modules move, so
# their module-scoped fixtures are still built once per worker (a single test is named only where
# it uses no module-scoped fixture). Refresh the list from --durations.
LONGEST_FIRST = (
    "tests/voice/test_sentiment.py::test_training_script_rebuilds_the_shipped_weights",
    "tests/voice/test_sentiment.py",
    "tests/store/test_share.py",
    "tests/journeys/test_funnels_spark.py",
    "tests/voice/test_themes_bench.py",
    "tests/security/test_fuzz.py",
    "tests/ingest/test_cli_import.py",
    "tests/report/test_stored_views.py",
    "tests/report/test_stored_pages.py",
    "tests/report/test_journey_canvas.py",
    "tests/voice/test_themes.py",
    "tests/journeys/test_funnels.py",
    "tests/test_cli.py",
)


def pytest_collection_modifyitems(config, items):
    """Move the tests and modules of :data:`LONGEST_FIRST` to the front, in that order (a stable sort)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    last = len(rank)
    items.sort(key=lambda item: rank.get(item.nodeid, rank.get(item.nodeid.split("::", 1)[0], last)))


def _load_sample_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("cxlens_test_sample_data", Path(__file__).with_name("sample_data.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sample = _load_sample_module()


@pytest.fixture(scope="session")
def sample_path(tmp_path_factory) -> Path:
    """The small demo business (seed 0) plus an XSS payload comment, in a workspace file."""
    return sample.build(tmp_path_factory.mktemp("sample") / "sample.duckdb")


@pytest.fixture()
def sample_ws(sample_path):
    w = cxlens.open(sample_path)
    yield w
    w.close()


@pytest.fixture(scope="session")
def sample_facts(sample_path) -> dict:
    """Data-dependent choices for tests (a channel, a segment, a date window)."""
    with cxlens.open(sample_path) as w:
        return sample.facts(w)


# -- real browser: Debian's Chromium driven by Playwright ---------------------------------------
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium; skips without it or Playwright, fails instead under CXLENS_REQUIRE_BROWSER=1."""
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "playwright is not installed (pip install 'cxlens[dev]')"
    if missing is None and not CHROMIUM.exists():
        missing = f"{CHROMIUM} not found (apt-get install chromium)"
    if missing:
        if os.environ.get("CXLENS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser test required but {missing}")
        pytest.skip(missing)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def new_page(browser, width: int = 1280, height: int = 1000, *, bypass_csp: bool = True):
    """A page that records script errors and dialogs in ``page.errors`` (XSS checks).

    Playwright evaluates string predicates (``wait_for_function("…")``) with eval, which the
    dashboard's Content-Security-Policy forbids: pages bypass the CSP unless ``bypass_csp=False``
    (tests/security checks the dashboard under its real CSP)."""
    pg = browser.new_page(viewport={"width": width, "height": height}, bypass_csp=bypass_csp)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("dialog", lambda d: (errors.append(f"dialog opened: {d.message}"), d.dismiss()))
    pg.errors = errors
    return pg


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(app, port: int | None = None, *, as_served: bool = False):
    """Serve an ASGI app with a real uvicorn in a thread on loopback; yields its base URL.

    ``as_served``: configured as ``cxlens serve`` runs it (:func:`cxlens.web.security.server_config`:
    forwarded headers believed only from the app's trusted proxies)."""
    import threading
    import time

    import uvicorn

    from cxlens.web.security import server_config

    port = port or free_port()
    config = server_config if as_served else uvicorn.Config
    srv = uvicorn.Server(config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start within 30 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def html_server(render):
    """A second local web server (another origin, as a customer's site is) answering every GET with
    the HTML ``render(path)`` returns; returns ``(server, base URL)`` — call ``server.shutdown()``."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            html = render(self.path).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


#: the password the browser and HTTP tests give their users
PASSWORD = "correct horse battery staple"


def signed_in(url: str, email: str, password: str = PASSWORD):
    """An ``httpx.Client`` signed in to the dashboard at ``url`` through its login form, sending the
    CSRF token as the ``x-csrf-token`` header (as htmx does) on every request."""
    import httpx

    from cxlens.web.deps import CSRF_COOKIE

    c = httpx.Client(base_url=url, timeout=60)
    c.get("/login")
    r = c.post("/login", data={"email": email, "password": password, "csrf_token": c.cookies.get(CSRF_COOKIE)})
    assert r.status_code == 303, r.text[:300]
    c.headers["x-csrf-token"] = c.cookies.get(CSRF_COOKIE) or ""
    return c


@contextlib.contextmanager
def shop_site(folder, page: str):
    """A workspace served by a real cxlens server, with a write key, and a customer's site on a second
    local server (another origin, allowed to send) whose every page is ``page`` formatted with
    ``host`` (the cxlens server), ``key`` (the write key) and ``path`` (the page's path); yields
    ``(workspace, site origin, cxlens base URL)``."""
    from cxlens.web.app import create_app
    from cxlens.web.hub import WorkspaceHub

    hub = WorkspaceHub.open({"shop": folder / "shop.duckdb"})
    _, key = hub.create_key("shop", "write")
    try:
        with running(create_app(hub)) as url:
            static, origin = html_server(lambda path: page.format(host=url, key=key, path=path))
            hub.get("shop").set_setting("collect.allowed_origins", [origin])
            try:
                yield hub.get("shop"), origin, url
            finally:
                static.shutdown()
    finally:
        hub.close()


def wait_rows(ws, sql: str, n: int, timeout: float = 15.0):
    """Rows of ``sql`` once there are at least ``n`` (or whatever is there after ``timeout`` s)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        rows = ws.sql(sql)
        if len(rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


@pytest.fixture(scope="module")
def server(sample_path, browser):
    """A real uvicorn server over the sample workspace, on a free loopback port."""
    from cxlens.web import create_app

    with running(create_app(sample_path)) as url:
        yield url


@pytest.fixture(scope="module")
def page(server, browser):
    pg = new_page(browser)
    yield pg
    pg.close()


@pytest.fixture()
def blank_page(browser):
    pg = new_page(browser, 1200, 900)
    yield pg
    pg.close()
