"""The read-out of an experiment: exposures, conversions within a window, and honest statistics.

A person is ``customer_id``, else the customer stitched to the anonymous id (``collect_identities``),
else the anonymous id. Their FIRST ``$exposure`` of the experiment counts (its variant and its time
``t0``); a person exposed to two variants is counted in ``excluded_multiple_variants`` and left out.
A goal converts when the person has an event of that name in ``[t0, t0 + window)``. The same goal in
``[t0 − window, t0)`` is the CUPED covariate. Revenue per visitor is the sum of ``events.revenue``
in the window (CUPED with the same window before exposure); NPS and CSAT are the person's first NPS
and CSAT answers in the window (NPS difference variance; Welch for CSAT).

The result (:func:`results`) is JSON-ready: ``srm_p_value`` and ``variants`` (control first; for the
first goal ``variant, exposed, converted, rate, uplift, ci_low, ci_high, p_value,
chance_to_beat_control`` — fixed horizon, absolute difference) plus extra fields, never mixed into
those: ``p_value_holm``, ``seq_*`` (always-valid), ``cuped_*``, ``relative_*``, ``expected_loss``,
``revenue_*`` (``revenue_cuped_*``), ``nps_*``, ``csat_*``, ``by_goal`` for every goal and
``guardrails``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cxlens.errors import NotFoundError, ParameterError
from cxlens.experiments import stats
from cxlens.experiments.assign import EXPOSURE_EVENT, get_definition

__all__ = ["exposures", "person_frame", "results"]

_PERSON = (
    "WITH ident AS (SELECT anonymous_id, min(customer_id) AS customer_id FROM collect_identities GROUP BY 1), "
    "ev AS (SELECT e.name, e.ts, e.revenue, e.properties, "
    "coalesce(e.customer_id, i.customer_id, e.anonymous_id) AS person "
    "FROM events e LEFT JOIN ident i ON e.anonymous_id = i.anonymous_id), "
    "x AS (SELECT person, ts, CASE WHEN json_valid(properties) THEN json_extract_string(properties, '$.variant') END "
    "AS variant FROM ev WHERE name = '" + EXPOSURE_EVENT + "' AND person IS NOT NULL "
    "AND CASE WHEN json_valid(properties) THEN json_extract_string(properties, '$.experiment') END = ?), "
    "f AS (SELECT person, min(ts) AS t0, arg_min(variant, ts) AS variant, count(DISTINCT variant) AS nv "
    "FROM x WHERE variant IS NOT NULL GROUP BY person) "
)


def exposures(store: Any, name: str) -> pd.DataFrame:
    """One row per exposed person: ``person, t0, variant, nv`` (variants seen; > 1 means excluded)."""
    return store.read(_PERSON + "SELECT * FROM f ORDER BY t0", [name])


def person_frame(store: Any, name: str, goals: Sequence[str], window_days: int) -> pd.DataFrame:
    """Per person counted (one variant only): variant, ``y_<i>``/``x_<i>`` (goal i converted in the
    window / before exposure), ``rev``/``rev_pre``, ``nps`` (first NPS answer in the window)."""
    cols, params = [], []
    for i, g in enumerate(goals):
        cols.append(
            f"max(CASE WHEN ev.name = ? AND ev.ts >= f.t0 AND ev.ts < f.t0 + to_days(?) THEN 1 ELSE 0 END) AS y_{i}"
        )
        cols.append(
            f"max(CASE WHEN ev.name = ? AND ev.ts < f.t0 AND ev.ts >= f.t0 - to_days(?) THEN 1 ELSE 0 END) AS x_{i}"
        )
        params += [g, window_days, g, window_days]
    sql = (
        _PERSON
        + ", per AS (SELECT f.person, f.variant, "
        + ", ".join(cols)
        + ", coalesce(sum(CASE WHEN ev.ts >= f.t0 AND ev.ts < f.t0 + to_days(?) THEN ev.revenue END), 0) AS rev"
        ", coalesce(sum(CASE WHEN ev.ts < f.t0 AND ev.ts >= f.t0 - to_days(?) THEN ev.revenue END), 0) AS rev_pre"
        f" FROM f LEFT JOIN ev ON ev.person = f.person AND ev.name <> '{EXPOSURE_EVENT}' WHERE f.nv = 1 GROUP BY 1, 2), "
        "fb AS (SELECT f.person, arg_min(fb.score, fb.ts) FILTER (WHERE fb.metric = 'nps') AS nps, "
        "arg_min(fb.score, fb.ts) FILTER (WHERE fb.metric = 'csat') AS csat FROM f JOIN feedback fb "
        "ON fb.customer_id = f.person AND fb.metric IN ('nps', 'csat') AND fb.ts >= f.t0 "
        "AND fb.ts < f.t0 + to_days(?) WHERE f.nv = 1 GROUP BY 1) "
        "SELECT per.*, fb.nps, fb.csat FROM per LEFT JOIN fb USING (person)"
    )
    return store.read(sql, [name, *params, window_days, window_days, window_days])


def _num(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return f if math.isfinite(f) else None
    return v


def _moments(y: np.ndarray) -> tuple[int, float, float]:
    return len(y), float(y.sum()), float((y * y).sum())


def _nps_counts(s: pd.Series) -> tuple[int, int, int]:
    s = s.dropna()
    return int((s >= 9).sum()), int(((s >= 7) & (s < 9)).sum()), int((s <= 6).sum())


def results(store: Any, name: str, goals: Sequence[str], *, window_days: int = 14, alpha: float = 0.05,
            variants: Sequence[str] | None = None, weights: Sequence[float] | None = None,
            guardrails: Sequence[str] = ()) -> dict[str, Any]:  # fmt: skip
    """The read-out of experiment ``name`` for conversion ``goals`` (event names); see the module doc.

    ``variants``/``weights`` default to the experiment's definition, else to the variants seen
    (``control`` first if present, else alphabetical) with an equal split. ``guardrails`` are events
    that must not become more frequent (refunds, support contacts…): each variant's change with its
    CI, ``failed`` when the increase is significant (CI above 0), and a warning.
    """
    goals = [g for g in (goals or []) if g]
    if not goals:
        raise ParameterError("goal", "goals is empty; name at least one goal event, e.g. --goal purchase")
    if not (isinstance(window_days, int) and window_days > 0):
        raise ParameterError("window", f"window is {window_days!r}; expected a whole number of days > 0")
    if not 0 < alpha < 1:
        raise ParameterError("alpha", f"alpha is {alpha!r}; expected a number between 0 and 1")
    exp = exposures(store, name)
    d = get_definition(store, name, missing_ok=True)
    seen = sorted(exp["variant"].dropna().unique().tolist())
    if variants is None and d is not None:
        variants, weights = d["variants"], d["weights"]
    if variants is None:
        if not seen:
            raise NotFoundError(
                f"experiment {name!r} has no exposures and no definition; record '{EXPOSURE_EVENT}' events "
                "with properties.experiment and properties.variant"
            )
        variants = (["control"] if "control" in seen else []) + [v for v in seen if v != "control"]
    variants = list(variants)
    w = list(weights) if weights is not None else [1 / len(variants)] * len(variants)
    warnings: list[str] = []
    multi = int((exp["nv"] > 1).sum()) if len(exp) else 0
    if multi:
        warnings.append(f"{multi} people were exposed to more than one variant; they are excluded")
    unknown = sorted(set(seen) - set(variants))
    if unknown:
        warnings.append(f"exposures to unknown variants {unknown} are ignored; configured: {variants}")

    guardrails = [g for g in guardrails if g]
    per = person_frame(store, name, [*goals, *guardrails], window_days)
    per = per[per["variant"].isin(variants)]
    groups = {v: per[per["variant"] == v] for v in variants}
    exposed = [len(groups[v]) for v in variants]
    srm_p = stats.srm_p_value(exposed, w)
    srm_flag = bool(srm_p < stats.SRM_THRESHOLD)
    if srm_flag:
        warnings.insert(0, f"sample ratio mismatch: exposures {dict(zip(variants, exposed, strict=True))} do not fit "
                           f"the split {dict(zip(variants, [round(x, 4) for x in w], strict=True))} "
                           f"(χ² p = {srm_p:.2g} < {stats.SRM_THRESHOLD}); do not trust the results below")  # fmt: skip
    planned = d.get("planned_per_variant") if d else None
    if planned and min(exposed) < planned:
        warnings.append(f"fixed-horizon results read before the planned sample size ({min(exposed):,} of {planned:,} "
                        "per variant): use the sequential seq_* fields, which stay valid however often you look")  # fmt: skip
    control = variants[0]
    a = groups[control]
    n_total = len(per)
    by_goal: dict[str, list[dict[str, Any]]] = {}
    pvals: list[tuple[str, int, float]] = []
    for gi, goal in enumerate(goals):
        ya, xa = a[f"y_{gi}"].to_numpy(float), a[f"x_{gi}"].to_numpy(float)
        rows = []
        for vi, v in enumerate(variants):
            g = groups[v]
            y = g[f"y_{gi}"].to_numpy(float)
            n, c = len(y), int(y.sum())
            row: dict[str, Any] = {"variant": v, "exposed": n, "converted": c, "rate": c / n if n else None,
                                   "uplift": None, "ci_low": None, "ci_high": None, "p_value": None,
                                   "chance_to_beat_control": None}  # fmt: skip
            if vi > 0:
                diff = stats.proportion_diff(int(ya.sum()), len(ya), c, n, alpha)
                ctb, loss = stats.beta_chance_to_beat(int(ya.sum()), len(ya), c, n)
                pa, pb = (ya.mean() if len(ya) else math.nan), (y.mean() if n else math.nan)
                rel = stats.relative_uplift(pa, pa * (1 - pa), len(ya), pb, pb * (1 - pb), n, alpha)
                half = stats.sequential_halfwidth(diff.se, len(ya) + n, alpha)
                row |= {"uplift": diff.estimate, "ci_low": diff.ci_low, "ci_high": diff.ci_high,
                        "p_value": diff.p_value, "chance_to_beat_control": ctb, "expected_loss": loss,
                        "relative_uplift": rel[0], "relative_ci_low": rel[1], "relative_ci_high": rel[2],
                        "seq_ci_low": diff.estimate - half, "seq_ci_high": diff.estimate + half,
                        "seq_significant": bool(abs(diff.estimate) > half) if math.isfinite(half) else None}  # fmt: skip
                if len(ya) > 1 and n > 1:  # θ from the control and this variant pooled
                    cd, reduction = stats.cuped_diff(ya, xa, y, g[f"x_{gi}"].to_numpy(float), alpha)
                    row |= {"cuped_uplift": cd.estimate, "cuped_ci_low": cd.ci_low, "cuped_ci_high": cd.ci_high,
                            "cuped_p_value": cd.p_value, "cuped_variance_reduction": reduction}  # fmt: skip
                pvals.append((goal, vi, diff.p_value))
            rows.append({k: _num(x) for k, x in row.items()})
        by_goal[goal] = rows
    adjusted = stats.holm([p for _, _, p in pvals])
    for (goal, vi, _), p in zip(pvals, adjusted, strict=True):
        by_goal[goal][vi]["p_value_holm"] = _num(p)

    # revenue per visitor (Welch) and NPS (difference variance) on the first goal's rows
    ra, ra_pre = a["rev"].to_numpy(float), a["rev_pre"].to_numpy(float)
    ca = a["csat"].dropna().to_numpy(float)
    nps_a = _nps_counts(a["nps"])
    for vi, v in enumerate(variants):
        g = groups[v]
        r = g["rev"].to_numpy(float)
        row = by_goal[goals[0]][vi]
        row["revenue_per_visitor"] = _num(r.mean()) if len(r) else None
        counts = _nps_counts(g["nps"])
        nn = sum(counts)
        row["nps_n"] = nn
        cs = g["csat"].dropna()
        row["csat"], row["csat_n"] = (_num(cs.mean()) if len(cs) else None), int(len(cs))
        row["nps"] = _num(100 * (counts[0] - counts[2]) / nn) if nn else None
        if vi > 0:
            rd = stats.mean_diff(*_moments(ra), *_moments(r), alpha=alpha)
            row |= {"revenue_diff": _num(rd.estimate), "revenue_ci_low": _num(rd.ci_low),
                    "revenue_ci_high": _num(rd.ci_high), "revenue_p_value": _num(rd.p_value)}  # fmt: skip
            if len(ra) > 1 and len(r) > 1:  # CUPED on revenue: the same window before exposure as covariate
                rc, red = stats.cuped_diff(ra, ra_pre, r, g["rev_pre"].to_numpy(float), alpha)
                row |= {"revenue_cuped_diff": _num(rc.estimate), "revenue_cuped_ci_low": _num(rc.ci_low),
                        "revenue_cuped_ci_high": _num(rc.ci_high), "revenue_cuped_variance_reduction": _num(red)}  # fmt: skip
            cb = g["csat"].dropna().to_numpy(float)
            if len(ca) > 1 and len(cb) > 1:
                cd = stats.mean_diff(*_moments(ca), *_moments(cb), alpha=alpha)
                row |= {"csat_diff": _num(cd.estimate), "csat_ci_low": _num(cd.ci_low), "csat_ci_high": _num(cd.ci_high),
                        "csat_p_value": _num(cd.p_value)}  # fmt: skip
            if sum(nps_a) and nn:
                nd = stats.nps_diff(nps_a, counts, alpha)
                row |= {"nps_diff": _num(nd.estimate), "nps_ci_low": _num(nd.ci_low),
                        "nps_ci_high": _num(nd.ci_high), "nps_p_value": _num(nd.p_value)}  # fmt: skip
    guard_rows = []
    for j, event in enumerate(guardrails):
        col = f"y_{len(goals) + j}"
        ya = a[col].to_numpy(float)
        for v in variants[1:]:
            y = groups[v][col].to_numpy(float)
            gd = stats.proportion_diff(int(ya.sum()), len(ya), int(y.sum()), len(y), alpha)
            failed = bool(math.isfinite(gd.ci_low) and gd.ci_low > 0)
            guard_rows.append({"guardrail": event, "variant": v, "control_rate": _num(ya.mean() if len(ya) else None),
                               "rate": _num(y.mean() if len(y) else None), "uplift": _num(gd.estimate),
                               "ci_low": _num(gd.ci_low), "ci_high": _num(gd.ci_high), "p_value": _num(gd.p_value),
                               "failed": failed})  # fmt: skip
            if failed:
                warnings.append(f"guardrail {event!r} got worse in {v!r}: +{100 * gd.estimate:.2f} points "
                                f"(95% CI {100 * gd.ci_low:.2f} to {100 * gd.ci_high:.2f})")  # fmt: skip
    if n_total == 0:
        warnings.append(f"experiment {name!r} has no exposed people yet")
    return {
        "experiment": name,
        "goal": goals[0],
        "goals": goals,
        "window_days": window_days,
        "alpha": alpha,
        "control": control,
        "split": dict(zip(variants, w, strict=True)),
        "srm_p_value": srm_p,
        "srm_flag": srm_flag,
        "excluded_multiple_variants": multi,
        "warnings": warnings,
        "variants": by_goal[goals[0]],
        "by_goal": by_goal,
        "guardrails": guard_rows,
    }
