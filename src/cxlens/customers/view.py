"""The customer 360 as pages and notebooks show it: the profile, its latest timeline, the RFM row and
the stored model scores (predicted CLV and churn risk with its reasons, never fitted here).

>>> import cxlens
>>> from cxlens.ingest import write_demo
>>> ws = cxlens.open(":memory:"); _ = write_demo(ws, 200, seed=1)
>>> v = customer_view(ws, "C0000001")
>>> v["customer_id"], v["clv"] is None, v["models_note"].startswith("the CLV and churn models have not been fitted")
('C0000001', True, True)
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from cxlens.customers.profile import customer_profile
from cxlens.customers.segments import rfm_segments

__all__ = ["TIMELINE_SHOWN", "customer_view"]

#: timeline items shown on the 360 (the newest; the total is reported)
TIMELINE_SHOWN = 200


def _models_for_360(ws: Any, customer_id: str) -> tuple[dict | None, dict | None, str | None, str | None]:
    """The customer's stored CLV and churn scores (never fitted inside a request): ``(clv, churn, note, as_of)``;
    ``note`` says why there are none."""
    from cxlens.customers.scores import customer_scores

    got = customer_scores(ws, customer_id)
    if got is None:
        return None, None, "the CLV and churn models have not been fitted yet; a background job does it", None
    meta = got["result"].meta
    note = None
    if got["clv"] is None and got["churn"] is None:
        note = meta.get("clv_error") or meta.get("churn_error")
    return got["clv"], got["churn"], note, got["as_of"]


def customer_view(
    ws: Any, customer_id: str, *, shown: int = TIMELINE_SHOWN, show_pii: bool = False, models: bool = True
) -> dict[str, Any]:
    """The customer 360 (PII masked unless ``show_pii``: the page passes it for roles that may see
    PII), its latest ``shown`` timeline items (newest first), the customer's RFM row (``None``
    without counted orders) and, with ``models``, predicted 52-week CLV and churn risk with its top
    reasons from the workspace's stored scores (:mod:`cxlens.customers.scores`, fitted by a job)."""
    p = customer_profile(ws, customer_id, show_pii=show_pii)
    clv, churn, note, as_of = _models_for_360(ws, p["customer_id"]) if models else (None, None, None, None)
    p["clv"], p["churn"], p["models_note"], p["models_as_of"] = clv, churn, note, as_of
    tl = p["timeline"]
    p["timeline_total"] = len(tl)
    p["timeline"] = tl.iloc[::-1].head(shown).reset_index(drop=True)
    try:
        rfm = rfm_segments(ws)
    except Exception:  # noqa: BLE001 — a workspace without orders has no RFM
        rfm = pd.DataFrame(columns=["customer_id"])
    hit = rfm[rfm["customer_id"] == p["customer_id"]]
    p["rfm"] = hit.iloc[0].to_dict() if len(hit) else None
    return p
