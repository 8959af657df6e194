"""Reading request parameters: the one place a query string becomes library arguments."""

from __future__ import annotations

__all__ = ["split_values"]


def split_values(values: list[str] | None) -> list[str]:
    """Repeated and comma-separated query values as one list (``?by=a,b&by=c`` → ``[a, b, c]``)."""
    out: list[str] = []
    for v in values or []:
        out.extend(p.strip() for p in v.split(",") if p.strip())
    return out
