"""Stored customer scores: predicted CLV and churn risk, fitted by a job and read by pages.

The ``models.fit`` job (:mod:`cxlens.customers.tasks`) fits the CLV model (BG/NBD + Gamma-Gamma,
:func:`~cxlens.customers.predict_clv`) and the churn model
(:func:`~cxlens.customers.churn_model.train_churn`), scores every customer and stores the scores in
``customer_scores`` with the model checks in the stored result ``models``. Pages and the API read
them here — they never fit inside a request — and say how fresh they are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from cxlens.jobs.results import StoredResult, load_result

__all__ = ["MODEL_TABLES", "SCORE_COLUMNS", "StoredScores", "customer_scores", "stored_scores", "write_scores"]

#: the tables the models are fitted on (a change makes the stored scores stale)
MODEL_TABLES = ("orders", "customers", "events", "feedback", "tickets")
SCORE_COLUMNS = [
    "customer_id", "frequency", "recency", "T", "monetary", "p_alive", "expected_purchases", "expected_value",
    "clv", "clv_low", "clv_high", "churn_risk", "reasons", "reason_list",
]  # fmt: skip
_CLV = ["customer_id", "frequency", "recency", "T", "monetary", "p_alive", "expected_purchases", "expected_value",
        "clv", "clv_low", "clv_high"]  # fmt: skip


@dataclass(frozen=True)
class StoredScores:
    """The stored CLV predictions and churn risks, and the result describing their fit."""

    clv: pd.DataFrame
    risk: pd.DataFrame
    result: StoredResult

    @property
    def as_of(self) -> str:
        return self.result.age_label()


def write_scores(cur: Any, clv: pd.DataFrame | None, risk: pd.DataFrame | None, computed_at: Any) -> int:
    """Replace ``customer_scores`` (inside the caller's transaction) with these predictions; returns rows."""
    frames = []
    if clv is not None and len(clv):
        frames.append(
            clv[[c for c in _CLV if c in clv.columns]].assign(customer_id=lambda d: d.customer_id.astype(str))
        )
    if risk is not None and len(risk):
        r = risk[[c for c in ("customer_id", "churn_risk", "reasons", "reason_list") if c in risk.columns]].copy()
        r["customer_id"] = r["customer_id"].astype(str)
        if "reason_list" in r.columns:
            r["reason_list"] = [json.dumps(x) for x in r["reason_list"]]
        frames.append(r)
    if not frames:
        merged = pd.DataFrame(columns=SCORE_COLUMNS)
    elif len(frames) == 1:
        merged = frames[0]
    else:
        merged = frames[0].merge(frames[1], on="customer_id", how="outer")
    for c in SCORE_COLUMNS:
        if c not in merged.columns:
            merged[c] = None
    merged = merged[SCORE_COLUMNS].assign(computed_at=pd.Timestamp(computed_at))
    cur.execute("DELETE FROM customer_scores")
    cur.register("_cx_scores", merged)
    try:
        cols = ", ".join(f'"{c}"' for c in [*SCORE_COLUMNS, "computed_at"])
        cur.execute(f"INSERT INTO customer_scores ({cols}) SELECT {cols} FROM _cx_scores")
    finally:
        cur.unregister("_cx_scores")
    return len(merged)


def stored_scores(store: Any) -> StoredScores | None:
    """The stored scores (None until the ``models.fit`` job has run once)."""
    result = load_result(store, "models")
    if result is None:
        return None
    df = store.read(f"SELECT {', '.join(f'{chr(34)}{c}{chr(34)}' for c in SCORE_COLUMNS)} FROM customer_scores")
    clv = df.loc[df["clv"].notna(), _CLV].reset_index(drop=True)
    risk = df.loc[df["churn_risk"].notna(), ["customer_id", "churn_risk", "reasons"]]
    risk = risk.sort_values(["churn_risk", "customer_id"], ascending=[False, True], kind="mergesort")
    return StoredScores(clv, risk.reset_index(drop=True), result)


def customer_scores(store: Any, customer_id: str) -> dict[str, Any] | None:
    """One customer's stored scores: ``{"clv": {...} | None, "churn": {...} | None, "as_of"}`` (None
    when no model was stored yet)."""
    result = load_result(store, "models")
    if result is None:
        return None
    cols = ", ".join(f'"{c}"' for c in SCORE_COLUMNS)
    row = store.one(f"SELECT {cols} FROM customer_scores WHERE customer_id = ?", [str(customer_id)])
    out: dict[str, Any] = {"clv": None, "churn": None, "as_of": result.age_label(), "result": result}
    if row is None:
        return out
    rec = dict(zip(SCORE_COLUMNS, row, strict=True))
    if rec["clv"] is not None:
        out["clv"] = {c: rec[c] for c in _CLV if c != "customer_id"}
    if rec["churn_risk"] is not None:
        out["churn"] = {
            "churn_risk": rec["churn_risk"],
            "reasons": rec["reasons"] or "",
            "reason_list": json.loads(rec["reason_list"]) if rec["reason_list"] else [],
            "as_of": pd.Timestamp(result.meta.get("churn", {}).get("test_as_of") or result.computed_at),
        }
    return out
