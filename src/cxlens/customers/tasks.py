"""Jobs of the customers analyses: fitting the CLV and churn models, and ranking revenue at risk.

Registered with the job runner (:mod:`cxlens.jobs`) when this module is imported (the workspace
facade imports it). Both keep a stored result fresh: the runner queues them again when the data
they were computed on changes.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from cxlens.customers.scores import MODEL_TABLES, write_scores
from cxlens.errors import CxlensError
from cxlens.jobs import JobContext, load_result, task

__all__ = ["fit_models", "rank_revenue_at_risk"]


@task("models.fit", tables=MODEL_TABLES, min_interval=900.0, lease=1800.0, result="models", max_attempts=2)
def fit_models(ctx: JobContext) -> dict[str, Any]:
    """Fit the CLV (BG/NBD + Gamma-Gamma, 52 weeks) and churn (90 days) models, score every customer,
    and store the scores (``customer_scores``) with the models' holdout checks (result ``models``)."""
    from cxlens.customers.charts import clv_holdout
    from cxlens.customers.churn_model import score_churn, train_churn
    from cxlens.customers.clv import predict_clv

    store = ctx.store
    ctx.versions(MODEL_TABLES)  # what the fit sees: later changes make it stale
    t0 = time.perf_counter()
    meta: dict[str, Any] = {"clv": None, "churn": None, "clv_error": None, "churn_error": None}
    clv = risk = holdout = None
    try:
        clv = predict_clv(store, 52, draws=0)
        meta["clv"] = {"customers": len(clv), "horizon_weeks": 52}
    except (CxlensError, ValueError) as e:
        meta["clv_error"] = str(e)
    try:
        h = clv_holdout(store)
        holdout = h.assign(calibration_end=h.attrs["calibration_end"], observation_end=h.attrs["observation_end"])
    except (CxlensError, ValueError) as e:
        meta["holdout_error"] = str(e)
    try:
        run = train_churn(store, horizon_days=90)
        risk = score_churn(store, run.model, top=3, structured=True)
        cal = run.metrics["calibration"]
        meta["churn"] = {
            **run.summary(),
            "baseline": {k: run.baseline.get(k) for k in ("roc_auc", "pr_auc", "brier", "lift_top_decile")},
            "calibration": cal.to_dict("records") if isinstance(cal, pd.DataFrame) else cal,
            "customers": len(risk),
        }
    except (CxlensError, ValueError) as e:
        meta["churn_error"] = str(e)
    seconds = round(time.perf_counter() - t0, 2)
    computed = pd.Timestamp.now(tz="UTC").tz_localize(None)
    ctx.write(lambda cur: write_scores(cur, clv, risk, computed), changes=["customer_scores"])
    ctx.save_result("models", tables=MODEL_TABLES, frame=holdout, meta=meta, seconds=seconds)
    return {"customers_scored": 0 if risk is None else len(risk), "clv_customers": 0 if clv is None else len(clv)}


@task("risk.revenue", tables=("feedback", "customer_scores"), min_interval=60.0, result="revenue_at_risk")
def rank_revenue_at_risk(ctx: JobContext) -> dict[str, Any]:
    """Revenue at risk per pain point (themes, else touchpoints) from the stored scores (result
    ``revenue_at_risk``); waits for ``models.fit`` when no scores are stored yet."""
    from cxlens.customers.risk import revenue_at_risk
    from cxlens.customers.scores import stored_scores

    store = ctx.store
    ctx.versions(("feedback", "customer_scores"))
    scores = stored_scores(store)
    if scores is None:  # queued again when models.fit stores scores (customer_scores changes)
        return {"skipped": "no stored customer scores yet (the models.fit job makes them)"}
    t0 = time.perf_counter()
    out = revenue_at_risk(store, scores.clv, scores.risk, "auto")
    by = out.columns[0]
    ctx.save_result(
        "revenue_at_risk",
        tables=("feedback", "customer_scores"),
        frame=out.reset_index(drop=True),
        meta={"by": by, "models_as_of": scores.as_of},
        seconds=round(time.perf_counter() - t0, 2),
    )
    return {"rows": len(out), "by": by}


def models_result(store: Any) -> Any:
    """The stored ``models`` result (None until fitted)."""
    return load_result(store, "models")
