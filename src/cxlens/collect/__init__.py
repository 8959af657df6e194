"""Collection: Segment-spec messages validated, mapped to canonical rows and committed durably.

* :func:`parse_body` / :func:`parse_messages` — the JSON body of ``/v1/<kind>`` → rows
  (:mod:`cxlens.collect.messages`), with 400/413 errors naming the field path;
* :class:`Collector` — the per-workspace writer thread doing group commits, idempotent on the
  message id (:mod:`cxlens.collect.writer`); :func:`collector_for` gives a workspace's one;
* :class:`TokenBuckets` — request rate per key.

>>> import cxlens
>>> from datetime import datetime
>>> from cxlens.collect import collector_for, close_collectors, parse_messages
>>> ws = cxlens.open(":memory:")
>>> msgs = parse_messages({"batch": [{"type": "track", "userId": "u1", "event": "Signed Up", "messageId": "m1"},
...                                  {"type": "identify", "userId": "u1", "traits": {"email": "a@b.example"}}]},
...                       "batch", datetime(2024, 5, 1))
>>> collector_for(ws).write(msgs)
CommitResult(inserted=2, duplicates=0)
>>> collector_for(ws).write(msgs)  # a retry: nothing counted twice
CommitResult(inserted=0, duplicates=2)
>>> ws.sql("SELECT customer_id, email FROM customers").values.tolist()
[['u1', 'a@b.example']]
>>> close_collectors(ws)
"""

from cxlens.collect.columns import parse_request
from cxlens.collect.messages import (
    DEFAULT_LIMITS,
    EVENT_COLUMNS,
    KINDS,
    Limits,
    Messages,
    id_hash,
    parse_body,
    parse_messages,
)
from cxlens.collect.ratelimit import TokenBuckets
from cxlens.collect.writer import Collector, CommitResult, close_collectors, collector_for

__all__ = [
    "DEFAULT_LIMITS",
    "EVENT_COLUMNS",
    "KINDS",
    "Collector",
    "CommitResult",
    "Limits",
    "Messages",
    "TokenBuckets",
    "close_collectors",
    "collector_for",
    "id_hash",
    "parse_body",
    "parse_messages",
    "parse_request",
]
