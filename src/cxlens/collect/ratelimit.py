"""Request rate per API key: a token bucket (``rate`` requests a second, bursts of ``burst``).

>>> bucket = TokenBuckets()
>>> [bucket.take("k", rate=1, burst=2, now=0.0) for _ in range(3)]
[0.0, 0.0, 1.0]
>>> bucket.take("k", rate=1, burst=2, now=1.0)
0.0
"""

from __future__ import annotations

import threading
import time

__all__ = ["TokenBuckets"]


class TokenBuckets:
    """One bucket per key; :meth:`take` answers 0 (go) or the seconds to wait."""

    def __init__(self) -> None:
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, *, rate: float, burst: float, now: float | None = None) -> float:
        """Take one token for ``key``: 0.0 when granted, else seconds until one is available."""
        t = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._state.get(key, (burst, t))
            tokens = min(burst, tokens + (t - last) * rate)
            if tokens >= 1:
                self._state[key] = (tokens - 1, t)
                return 0.0
            self._state[key] = (tokens, t)
            return (1 - tokens) / rate if rate > 0 else 60.0
