"""Every request a test sends to a live server names its timeout (or goes through :mod:`tests.live`).

httpx gives up after 5 s by default, which a loaded CI box exceeds: the test then fails for no fault of
the code. This reads the tests as text (AST), as tests/test_architecture.py reads the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
#: httpx's functions and clients that send with the 5 s default unless given ``timeout=``
SENDERS = {"get", "post", "put", "patch", "delete", "head", "options", "request", "stream", "Client", "AsyncClient"}


def _untimed(path: Path) -> list[str]:
    """``file:line httpx.<name>`` of each httpx call in ``path`` without a ``timeout`` (nor ``**kwargs``)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        f = node.func if isinstance(node, ast.Call) else None
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "httpx":
            keys = {k.arg for k in node.keywords}
            if f.attr in SENDERS and "timeout" not in keys and None not in keys:
                out.append(f"{path.relative_to(TESTS)}:{node.lineno} httpx.{f.attr}")
    return out


def test_every_httpx_call_in_the_tests_names_a_timeout():
    found = [hit for p in sorted(TESTS.rglob("*.py")) for hit in _untimed(p)]
    assert found == [], "give these a timeout, or use tests/live.py (60 s):\n" + "\n".join(found)
