"""Deterministic, sticky assignment of a visitor to a variant, and the ``$exposure`` events recording it.

The bucket of a visitor is GrowthBook's hash v2 (``growthbook/growthbook`` ``packages/sdk-js/src/util.ts``):
``fnv1a32(str(fnv1a32(experiment + visitor))) % 10000 / 10000`` — FNV-1a, 32 bits, over UTF-8
bytes, hashed twice because one FNV pass spreads similar ids (``p1``, ``p2``…) badly — cut into the
variants' shares in their order. The browser SDK
(``cxlens.variant(name, variants)`` in ``web/static/sdk/cxlens.js``) computes the same hash, so the
server, a notebook and the browser agree on every visitor's variant without storing anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from cxlens.errors import NotFoundError, ParameterError

__all__ = ["EXPOSURE_EVENT", "Definition", "assign", "bucket", "define", "expose", "fnv1a32", "get_definition",
           "list_definitions", "normalise_weights"]  # fmt: skip

EXPOSURE_EVENT = "$exposure"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")


def fnv1a32(text: str) -> int:
    """32-bit FNV-1a of the UTF-8 bytes of ``text`` (the SDK's ``fnv1a`` gives the same)."""
    h = 0x811C9DC5
    for b in text.encode("utf-8"):
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def bucket(experiment: str, visitor: str) -> float:
    """The visitor's position in [0, 1) for this experiment (GrowthBook's hash v2)."""
    return (fnv1a32(str(fnv1a32(f"{experiment}{visitor}"))) % 10000) / 10000


def normalise_weights(variants: Sequence[str], weights: Sequence[float] | None) -> list[float]:
    """Weights summing to 1, equal by default; errors name the bad value."""
    if len(variants) < 2:
        raise ParameterError("variants", f"variants is {list(variants)!r}; expected at least two (the control first)")
    if len(set(variants)) != len(variants):
        raise ParameterError("variants", f"variants {list(variants)!r} repeat a name; each variant needs its own name")
    for v in variants:
        if not isinstance(v, str) or not NAME.match(v):
            raise ParameterError(
                "variants", f"variant {v!r} is not a valid name; use letters, digits, '-', '_', '.', ':'"
            )
    if weights is None:
        return [1 / len(variants)] * len(variants)
    w = [float(x) for x in weights]
    if len(w) != len(variants) or any(x < 0 for x in w) or sum(w) <= 0:
        raise ParameterError(
            "weights",
            f"weights {list(weights)!r} do not fit variants {list(variants)!r}; expected one non-negative "
            "weight per variant, not all zero",
        )
    return [x / sum(w) for x in w]


def assign(experiment: str, visitor: str, variants: Sequence[str], weights: Sequence[float] | None = None) -> str:
    """The variant of ``visitor`` (a customer id or an anonymous id): the same on every call.

    >>> assign("checkout-v2", "visitor-1", ["control", "one-page"]) == assign("checkout-v2", "visitor-1", ["control", "one-page"])
    True
    """
    if not visitor:
        raise ParameterError("visitor", "visitor is empty; pass the customer id or the anonymous id")
    w = normalise_weights(variants, weights)
    u = bucket(experiment, str(visitor))
    acc = 0.0
    for v, x in zip(variants, w, strict=True):
        acc += x
        if u < acc:
            return v
    return variants[-1]


# -- definitions ---------------------------------------------------------------------------------
class Definition(dict):
    """An experiment's configuration: ``name``, ``variants`` (control first), ``weights``, ``planned_per_variant``."""

    @property
    def control(self) -> str:
        return self["variants"][0]


def define(store: Any, name: str, variants: Sequence[str], weights: Sequence[float] | None = None, *,
           planned_per_variant: int | None = None, description: str | None = None) -> Definition:  # fmt: skip
    """Create or replace experiment ``name`` with its variants (control first) and split."""
    if not isinstance(name, str) or not NAME.match(name):
        raise ParameterError("name", f"experiment name {name!r} is not valid; use letters, digits, '-', '_', '.', ':'")
    w = normalise_weights(list(variants), weights)
    if planned_per_variant is not None and int(planned_per_variant) <= 0:
        raise ParameterError(
            "planned_per_variant", f"planned_per_variant is {planned_per_variant!r}; expected a positive number"
        )
    with store.transaction(changes=["experiments"]) as cur:
        cur.execute("DELETE FROM experiments WHERE name = ?", [name])
        cur.execute(
            "INSERT INTO experiments VALUES (?, ?, ?, ?, ?, ?)",
            [name, json.dumps(list(variants)), json.dumps(w), planned_per_variant, description,
             datetime.now(UTC).replace(tzinfo=None)],
        )  # fmt: skip
    return get_definition(store, name)


def _definition_row(store: Any, name: str) -> tuple | None:
    cols = ["name", "variants", "weights", "planned_per_variant", "description"]
    if store.is_duckdb:
        return store.one(f"SELECT {', '.join(cols)} FROM experiments WHERE name = ?", [name])
    # a workspace over Spark or a warehouse (cxlens.connect): the table is optional there
    if not store.has_table("experiments"):
        return None
    t = store.table("experiments")
    df = store.read(t.filter(t.name == name).select(*cols).limit(1))
    if not len(df):
        return None
    row = tuple(None if pd.isna(v) else v for v in df.iloc[0])
    return row[:3] + (None if row[3] is None else int(row[3]),) + row[4:]


def get_definition(store: Any, name: str, *, missing_ok: bool = False) -> Definition | None:
    row = _definition_row(store, name)
    if row is None:
        if missing_ok:
            return None
        raise NotFoundError(f"experiment {name!r} is not defined; create it with `cxlens experiment create {name} …`")
    return Definition(name=row[0], variants=json.loads(row[1]), weights=json.loads(row[2]),
                      planned_per_variant=row[3], description=row[4])  # fmt: skip


def list_definitions(store: Any) -> pd.DataFrame:
    """Defined experiments with their exposures so far (first exposures, people counted once)."""
    return store.read(
        "SELECT x.name, x.variants, x.weights, x.planned_per_variant, x.created_at, "
        "(SELECT count(DISTINCT coalesce(e.customer_id, e.anonymous_id)) FROM events e "
        f"WHERE e.name = '{EXPOSURE_EVENT}' AND json_valid(e.properties) "
        "AND json_extract_string(e.properties, '$.experiment') = x.name) AS exposed "
        "FROM experiments x ORDER BY x.created_at DESC"
    )


def expose(store: Any, experiment: str, *, customer_id: str | None = None, anonymous_id: str | None = None,
           variants: Sequence[str] | None = None, weights: Sequence[float] | None = None,
           ts: Any = None) -> str:  # fmt: skip
    """Assign the visitor (``customer_id`` or else ``anonymous_id``) and record a ``$exposure`` event.

    ``variants``/``weights`` default to the experiment's definition. Returns the variant.
    """
    if variants is None:
        d = get_definition(store, experiment)
        assert d is not None
        variants, weights = d["variants"], d["weights"]
    visitor = customer_id or anonymous_id
    if not visitor:
        raise ParameterError("customer_id", "expose needs customer_id or anonymous_id; both are empty")
    variant = assign(experiment, visitor, list(variants), weights)
    when = pd.Timestamp(ts) if ts is not None else pd.Timestamp(datetime.now(UTC).replace(tzinfo=None))
    event_id = f"exposure:{experiment}:{visitor}:{when.isoformat()}"  # names the experiment: a derived id would not
    props = json.dumps({"experiment": experiment, "variant": variant})
    with store.transaction(changes=["events"]) as cur:  # one row: no file-import machinery needed
        cur.execute(
            "INSERT INTO events (event_id, customer_id, anonymous_id, ts, type, name, properties) "
            "SELECT ?, ?, ?, ?, 'track', ?, ? WHERE NOT EXISTS (SELECT 1 FROM events WHERE event_id = ?)",
            [event_id, customer_id, anonymous_id, when.to_pydatetime(), EXPOSURE_EVENT, props, event_id],
        )
    return variant
