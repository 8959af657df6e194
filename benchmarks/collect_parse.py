"""The collection server's parse step alone, for instruction counts that a busy machine cannot blur.

``python -m benchmarks.collect_parse behaviour 8`` parses 8 bodies of 500 messages shaped as the bench's
behaviour phase (``batch`` for the plain phase) and builds their Arrow batches, in one thread; with ``0``
it builds the bodies and parses nothing. Under callgrind the difference of the two runs is the parse::

    valgrind --tool=callgrind --cache-sim=no --separate-threads=yes --callgrind-out-file=cg.8 \\
        python -m benchmarks.collect_parse behaviour 8      # and again with 0; read `summary:` of cg.*-01
"""

from __future__ import annotations

import sys
from datetime import datetime

import orjson

from benchmarks.collect import _behaviour_message, _message
from cxlens.collect.messages import parse_body, parse_messages

__all__ = ["bodies", "main"]


def bodies(mode: str, n: int, size: int = 500) -> list[bytes]:
    """``n`` request bodies of ``size`` messages of the bench's ``mode`` phase (``behaviour`` or ``batch``)."""
    make = _behaviour_message if mode == "behaviour" else (lambda i, r: _message(i, r, "track"))
    return [
        orjson.dumps(
            {"batch": [make(i, "p") for i in range(k * size, (k + 1) * size)], "sentAt": "2026-11-24T10:00:01.000Z"}
        )
        for k in range(max(n, 8))
    ]


def main(argv: list[str]) -> None:
    mode, n = argv[0], int(argv[1])
    received = datetime(2026, 11, 24, 10, 0, 2)
    built = bodies(mode, n)
    tables = [parse_messages(parse_body(b), "batch", received).to_table() for b in built[:n]]
    sys.stdout.write(f"{mode}: {sum(t.num_rows for t in tables)} messages parsed\n")


if __name__ == "__main__":
    main(sys.argv[1:])
