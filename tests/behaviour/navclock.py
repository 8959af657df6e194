"""Page-view start times that a browser test sets, so quick-back tests do not race the wall clock.

The SDK dates a page view from the page's navigation start (``performance.timeOrigin``) and calls the
return to the previous page a quick back when the time between the two starts is under the left page's
threshold. Measured on the real clock, that time includes everything the test waits for on the page
(the scripts, the remote config with the threshold), so on a loaded machine a "quick" visit could last
longer than the 2 s threshold and the test failed. Here the test states each navigation's start: an init
script gives the next document the ``performance.timeOrigin`` the test left in ``sessionStorage`` (read
once, then removed). Nothing else in the page is faked: ``Date.now()``, timers and event times stay real.

Playwright's own ``page.clock`` does not fit: it gives every document the same ``timeOrigin`` (the
install time), so every dwell would be 0. Playwright runs Chromium without the back/forward cache, so
``page.go_back()`` loads the page again and the init script runs for it too.
"""

from __future__ import annotations

from collections.abc import Callable

KEY = "cxlens_test_nav_start"

#: runs before the page's own scripts in every document of the page (top frame only)
INIT_SCRIPT = f"""(() => {{
  if (window.top !== window) return;
  let t = null;
  try {{ t = sessionStorage.getItem({KEY!r}); sessionStorage.removeItem({KEY!r}); }} catch (e) {{ return; }}
  if (t !== null) Object.defineProperty(performance, "timeOrigin", {{value: Number(t), configurable: true}});
}})()"""


def install(page) -> int:
    """Add the init script to ``page``; returns a start time (ms since the epoch) to count from.

    Call it before the page's first navigation."""
    page.add_init_script(INIT_SCRIPT)
    return int(page.evaluate("Date.now()"))


def at(page, start_ms: int, go: Callable[[], object]) -> None:
    """Run ``go`` (a navigation of ``page``) with the next document started at ``start_ms``.

    The page must already show a document of the site's origin (``sessionStorage`` is per origin).
    Nothing is read back from the new document here (a call into the page can run a test's slow
    route handler early): tests check the ``$dwell_ms`` the SDK computed from these starts."""
    page.evaluate("([k, t]) => sessionStorage.setItem(k, String(t))", [KEY, start_ms])
    go()
