"""The read-out of an experiment: exposures, conversions within a window, and honest statistics.

A person is ``customer_id``, else the customer stitched to the anonymous id (``collect_identities``),
else the anonymous id. Their FIRST ``$exposure`` of the experiment counts (its variant and its time
``t0``); a person exposed to two variants is counted in ``excluded_multiple_variants`` and left out.
A goal converts when the person has an event of that name in ``[t0, t0 + window)`` — or, for a
funnel goal ``"view>cart>purchase"``, completes the journeys funnel inside that window. The same goal
in ``[t0 − window, t0)`` is the CUPED covariate. Everything is aggregated per variant by the
database, as one Ibis expression (:func:`aggregates`: counts, sums, squares, cross-products), so the
read-out runs on DuckDB, Spark or a warehouse (``cxlens.connect``); the statistics take those numbers.
:func:`person_frame` (DuckDB SQL) is the per-person view kept as the tests' reference. Revenue per visitor is the sum of ``events.revenue``
in the window (CUPED with the same window before exposure); NPS and CSAT are the person's first NPS
and CSAT answers in the window (NPS difference variance; Welch for CSAT).

The result (:func:`results`) is JSON-ready: ``srm_p_value`` and ``variants`` (control first; for the
first goal ``variant, exposed, converted, rate, uplift, ci_low, ci_high, p_value,
chance_to_beat_control`` — fixed horizon, absolute difference) plus extra fields, never mixed into
those: ``p_value_holm``, ``seq_*`` (always-valid, over every look: the running minimum p-value and the
running intersection of the intervals, this look's own values as ``seq_*_look``; :mod:`.looks`), ``cuped_*``, ``relative_*``, ``expected_loss``,
``revenue_*`` (``revenue_cuped_*``), ``nps_*``, ``csat_*``, ``ces_*``, ``frustration_*``
(people with a rage/dead/error click in the window; lower is better), ``*_chance_to_beat_control``
and ``*_expected_loss`` for means (normal approximation), ``seq_p_value`` (always-valid),
``ci_method`` (``unpooled`` by default, ``newcombe`` on request or with ``ci="auto"`` where an arm
has 0 or all conversions), ``by_goal`` for every goal and ``guardrails``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from cxlens.errors import NotFoundError, ParameterError
from cxlens.experiments import looks, stats
from cxlens.experiments.assign import EXPOSURE_EVENT, get_definition
from cxlens.metrics.common import backend_name, json_text
from cxlens.store import read_compiled

__all__ = ["CI_METHODS", "FRUSTRATION_EVENTS", "aggregates", "exposures", "funnel_steps", "person_frame", "results"]

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


def _json_text(doc: ir.Value, key: str, backend: str | None) -> ir.StringValue:
    """``properties[key]`` as text (``metrics.common.json_text``); on DuckDB text that is not valid JSON
    reads as null (DuckDB's JSON functions raise on it, Spark's return null)."""
    if backend == "duckdb":
        doc = ibis.cases((_json_valid(doc), doc), else_=ibis.null("string"))
    return json_text(doc, key, backend)


@ibis.udf.scalar.builtin(name="json_valid")
def _json_valid(doc: str) -> bool: ...


def _people(store: Any, name: str) -> tuple[ir.Table, ir.Table]:
    """The events with ``_person`` (``customer_id``, else the stitched customer, else the anonymous
    id) and the exposed people of ``name`` (``person, t0, variant, nv``) as Ibis expressions, so the
    read-out compiles on DuckDB, Spark or a warehouse. A backend without ``collect_identities`` (not
    a canonical table) is read unstitched."""
    events = store.table("events")
    backend = backend_name(events)
    if store.is_duckdb or store.has_table("collect_identities"):
        ci = store.table("collect_identities")
        ident = ci.group_by(_ia=ci.anonymous_id).aggregate(_ic=ci.customer_id.min())
        j = events.left_join(ident, events.anonymous_id == ident._ia)
        ev = j.select(*events.columns, _person=ibis.coalesce(j.customer_id, j._ic, j.anonymous_id))
    else:
        ev = events.mutate(_person=ibis.coalesce(events.customer_id, events.anonymous_id))
    doc = ev.properties.cast("string")
    x = ev.filter(ev.name == EXPOSURE_EVENT, ev._person.notnull(), _json_text(doc, "experiment", backend) == name)
    x = x.select(person=x._person, ts=x.ts, variant=_json_text(x.properties.cast("string"), "variant", backend))
    x = x.filter(x.variant.notnull())
    f = x.group_by("person").aggregate(t0=x.ts.min(), variant=x.variant.argmin(x.ts), nv=x.variant.nunique())
    return ev, f


def _read(store: Any, key: tuple, build: Callable[[], ir.Table]) -> pd.DataFrame:
    """Run the expression ``build()`` returns; on DuckDB its SQL is compiled once per ``key``
    (:func:`cxlens.store.read_compiled`: compiling costs ~30 ms a query, as much as the aggregation of
    10⁵ exposed people)."""
    return read_compiled(store, ("experiments.readout", *key), build)


def exposures(store: Any, name: str) -> pd.DataFrame:
    """One row per exposed person: ``person, t0, variant, nv`` (variants seen; > 1 means excluded)."""

    def build() -> ir.Table:
        _, f = _people(store, name)
        return f.order_by("t0", "person")

    return _read(store, ("exposures", name), build)


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


#: behaviour events that make a person "frustrated" in the window (src/cxlens/behaviour SIGNALS)
FRUSTRATION_EVENTS = ("$rageclick", "$deadclick", "$errorclick")
#: confidence interval methods for a difference of proportions
CI_METHODS = ("unpooled", "newcombe", "auto")


def funnel_steps(goal: str) -> list[Any] | None:
    """The steps of a funnel goal (``"view>cart>purchase"``), or None for a plain event name."""
    if ">" not in goal:
        return None
    from cxlens.journeys.funnels import parse_steps

    steps = parse_steps(goal)
    return steps if len(steps) > 1 else None


def _funnel_people(ev: ir.Table, f: ir.Table, steps: list[Any], window_days: int, before: bool) -> ir.Table:
    """The people (``customer``) who complete the funnel ``steps`` inside their window after
    (``before=False``) or before (``True``, the CUPED covariate) their first exposure — the journeys
    funnel (``FunnelQuery.customer_reach``, sequential order, strict ties) run on each counted
    person's events of that window, the person stitched as ``customer_id``."""
    from cxlens.journeys.funnels import FunnelQuery

    w = ibis.interval(days=int(window_days))
    k = f.filter(f.nv == 1).select(_fp=f.person, _t0=f.t0)
    lo, hi = (k._t0 - w, k._t0) if before else (k._t0, k._t0 + w)
    cols = [c for c in ev.columns if c != "_person"]
    ev = ev.view()  # k derives from ev: a self-join, or Ibis reads ev._person as k._fp
    j = ev.join(k, [ev._person == k._fp, ev.ts >= lo, ev.ts < hi])
    keep = [j[c] for c in cols if c not in ("customer_id", "anonymous_id")]
    events = j.select(*keep, customer_id=j._person, anonymous_id=ibis.null("string"))
    q = FunnelQuery(steps, window=f"{window_days}d", times=False)
    reach = q.customer_reach(events)
    return reach.filter(reach[f"reached_{len(steps)}"].notnull()).select("customer").distinct()


def _flag(cond: ir.BooleanValue) -> ir.IntegerValue:
    """1 where ``cond`` holds, else 0 (also where it is null: a person without events)."""
    return ibis.cases((cond, 1), else_=0).cast("int64")


def aggregates(store: Any, name: str, goals: Sequence[str], window_days: int,
               variants: Sequence[str]) -> pd.DataFrame:  # fmt: skip
    """Per variant (one row each, computed by the backend — one Ibis expression, DuckDB, Spark or a
    warehouse): ``n`` counted people and the sufficient statistics of every measure — for goal i
    ``y<i>`` (converted in the window; an event or a funnel), ``x<i>`` (the same before exposure),
    ``xx<i>``, ``xy<i>``; ``rev``/``rev_pre`` sums, squares and cross-products; ``frus`` (had a
    frustration event) likewise; NPS promoters, passives and detractors; CSAT and CES ``_n``, sums
    and squares. Only the first exposure of people exposed to one variant counts."""
    return _for_variants(_summary(store, name, goals, window_days), variants)


def _summary(store: Any, name: str, goals: Sequence[str], window_days: int) -> pd.DataFrame:
    """One row per variant of a first exposure: ``people`` (first exposed to it), ``multi`` (of them,
    exposed to another variant too, so not counted) and the aggregates of :func:`aggregates` — one
    query for the whole read-out, whatever variants it then keeps."""
    key = ("summary", name, tuple(goals), int(window_days))
    return _read(store, key, lambda: _summary_expr(store, name, goals, window_days))


def _for_variants(summary: pd.DataFrame, variants: Sequence[str]) -> pd.DataFrame:
    df = summary.drop(columns=["people", "multi"])
    out = pd.DataFrame({"variant": list(variants)}).merge(df, on="variant", how="left")
    return out.fillna({c_: 0 for c_ in out.columns if c_ != "variant"})


def _summary_expr(store: Any, name: str, goals: Sequence[str], window_days: int) -> ir.Table:
    ev, f = _people(store, name)
    w = ibis.interval(days=int(window_days))
    c = f.filter(f.nv == 1)
    v = ev.view()  # c derives from ev: join a self-reference (see _funnel_people)
    e = v.filter(v.name != EXPOSURE_EVENT).select(_ep=v._person, _en=v.name, _ets=v.ts, _erev=v.revenue)
    j = c.left_join(e, [c.person == e._ep, e._ets >= c.t0 - w, e._ets < c.t0 + w])
    after, before = j._ets >= j.t0, j._ets < j.t0
    frus = j._en.isin(list(FRUSTRATION_EVENTS))
    measures: dict[str, Any] = {}
    funnels = {}
    for i, g in enumerate(goals):
        steps = funnel_steps(g)
        if steps is None:
            measures[f"y_{i}"] = _flag((j._en == g) & after).max()
            measures[f"x_{i}"] = _flag((j._en == g) & before).max()
        else:
            funnels[i] = (
                _funnel_people(ev, f, steps, window_days, False),
                _funnel_people(ev, f, steps, window_days, True),
            )
    measures |= {
        "rev": j._erev.sum(where=after).fill_null(0),
        "rev_pre": j._erev.sum(where=before).fill_null(0),
        "frus": _flag(frus & after).max(),
        "frus_pre": _flag(frus & before).max(),
    }
    per = j.group_by(person=j.person, variant=j.variant).aggregate(**measures)
    fbt = store.table("feedback")
    k = f.filter(f.nv == 1).select(_kp=f.person, _kt0=f.t0)
    fj = k.join(fbt, [k._kp == fbt.customer_id, fbt.metric.isin(["nps", "csat", "ces"]), fbt.ts >= k._kt0,
                      fbt.ts < k._kt0 + w])  # fmt: skip
    fb = fj.group_by(_bp=fj._kp).aggregate(
        **{m: fj.score.argmin(fj.ts, where=fj.metric == m) for m in ("nps", "csat", "ces")}
    )
    p = per.left_join(fb, per.person == fb._bp)
    cols: dict[str, Any] = {"variant": p.variant}
    for i in range(len(goals)):
        if i not in funnels:
            cols[f"y_{i}"], cols[f"x_{i}"] = p[f"y_{i}"], p[f"x_{i}"]
    cols |= {k_: p[k_] for k_ in ("rev", "rev_pre", "frus", "frus_pre", "nps", "csat", "ces")}
    cols["_pp"] = p.person
    p = p.select(**cols)
    for i, (yf, xf) in funnels.items():
        for tag, people in (("y", yf), ("x", xf)):
            ppl = people.select(**{f"_{tag}f{i}": people.customer}).view()  # also derives from f
            p = p.left_join(ppl, p._pp == ppl[f"_{tag}f{i}"])
            p = p.mutate(**{f"{tag}_{i}": _flag(p[f"_{tag}f{i}"].notnull())}).drop(f"_{tag}f{i}")
    sums: dict[str, Any] = {"n": p.count()}
    for i in range(len(goals)):
        y, x = p[f"y_{i}"], p[f"x_{i}"]
        sums |= {f"y{i}": y.sum(), f"x{i}": x.sum(), f"xx{i}": (x * x).sum(), f"xy{i}": (x * y).sum()}
    sums |= {
        "rev": p.rev.sum(), "rev2": (p.rev * p.rev).sum(), "rev_pre": p.rev_pre.sum(),
        "rev_pre2": (p.rev_pre * p.rev_pre).sum(), "rev_x": (p.rev * p.rev_pre).sum(), "frus": p.frus.sum(),
        "frus_pre": p.frus_pre.sum(), "frus_x": (p.frus * p.frus_pre).sum(),
        "promoters": p.count(where=p.nps >= 9), "passives": p.count(where=(p.nps >= 7) & (p.nps < 9)),
        "detractors": p.count(where=p.nps <= 6), "csat_n": p.csat.count(), "csat_sum": p.csat.sum(),
        "csat_ss": (p.csat * p.csat).sum(), "ces_n": p.ces.count(), "ces_sum": p.ces.sum(),
        "ces_ss": (p.ces * p.ces).sum(),
    }  # fmt: skip
    agg = p.group_by(_av=p.variant).aggregate(**sums).view()  # derives from f, as seen does
    seen = f.group_by("variant").aggregate(people=f.count(), multi=(f.nv > 1).sum())
    j = seen.left_join(agg, seen.variant == agg._av)
    return j.select(seen.variant, seen.people, seen.multi, *(agg[k_] for k_ in sums))


def _num(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return f if math.isfinite(f) else None
    return v


def _suff(row: pd.Series, y: str, x: str, yy: str | None, xx: str, xy: str) -> dict[str, float]:
    """CUPED sufficient statistics from an aggregate row (``yy`` None: y is 0/1, so Σy² = Σy)."""
    return {"n": float(row["n"]), "sy": float(row[y]), "syy": float(row[yy or y]), "sx": float(row[x]),
            "sxx": float(row[xx]), "sxy": float(row[xy])}  # fmt: skip


def _bayes(key: str, d: stats.Diff) -> dict[str, Any]:
    """Chance to beat control and expected loss of a mean difference, normal approximation."""
    ctb, loss = stats.normal_chance_to_beat(d.estimate, d.se)
    return {f"{key}_chance_to_beat_control": _num(ctb), f"{key}_expected_loss": _num(loss)}


def _ci_method(method: str, xa: int, na: int, xb: int, nb: int) -> str:
    if method == "auto":
        return "newcombe" if stats.wald_degenerate(xa, na, xb, nb) else "unpooled"
    return method


def _prop(method: str, xa: int, na: int, xb: int, nb: int, alpha: float) -> stats.Diff:
    if method == "newcombe":
        return stats.newcombe_diff(xa, na, xb, nb, alpha)
    return stats.proportion_diff(xa, na, xb, nb, alpha)


def results(store: Any, name: str, goals: Sequence[str], *, window_days: int = 14, alpha: float = 0.05,
            variants: Sequence[str] | None = None, weights: Sequence[float] | None = None,
            guardrails: Sequence[str] = (), ci: str = "unpooled") -> dict[str, Any]:  # fmt: skip
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
    if ci not in CI_METHODS:
        raise ParameterError("ci", f"ci is {ci!r}; expected one of {', '.join(CI_METHODS)}")
    guardrails = [g for g in guardrails if g]
    summary = _summary(store, name, [*goals, *guardrails], window_days)
    d = get_definition(store, name, missing_ok=True)
    seen = sorted(summary["variant"].dropna().tolist())
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
    multi = int(summary["multi"].sum()) if len(summary) else 0
    if multi:
        warnings.append(f"{multi} people were exposed to more than one variant; they are excluded")
    unknown = sorted(set(seen) - set(variants))
    if unknown:
        warnings.append(f"exposures to unknown variants {unknown} are ignored; configured: {variants}")

    agg = _for_variants(summary, variants)
    rows_by = {r["variant"]: r for _, r in agg.iterrows()}
    exposed = [int(rows_by[v]["n"]) for v in variants]
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
    a = rows_by[control]
    n_total = sum(exposed)
    by_goal: dict[str, list[dict[str, Any]]] = {}
    pvals: list[tuple[str, int, float]] = []
    seq_looks: list[dict[str, Any]] = []
    degenerate = False
    for gi, goal in enumerate(goals):
        na, xa_ = int(a["n"]), int(a[f"y{gi}"])
        rows = []
        for vi, v in enumerate(variants):
            g = rows_by[v]
            n, c = int(g["n"]), int(g[f"y{gi}"])
            row: dict[str, Any] = {"variant": v, "exposed": n, "converted": c, "rate": c / n if n else None,
                                   "uplift": None, "ci_low": None, "ci_high": None, "p_value": None,
                                   "chance_to_beat_control": None}  # fmt: skip
            if vi > 0:
                method = _ci_method(ci, xa_, na, c, n)
                degenerate |= method == "unpooled" and stats.wald_degenerate(xa_, na, c, n)
                diff = _prop(method, xa_, na, c, n, alpha)
                ctb, loss = stats.beta_chance_to_beat(xa_, na, c, n)
                pa, pb = (xa_ / na if na else math.nan), (c / n if n else math.nan)
                rel = stats.relative_uplift(pa, pa * (1 - pa), na, pb, pb * (1 - pb), n, alpha)
                half = stats.sequential_halfwidth(diff.se, na + n, alpha)
                row |= {"uplift": diff.estimate, "ci_low": diff.ci_low, "ci_high": diff.ci_high,
                        "p_value": diff.p_value, "chance_to_beat_control": ctb, "ci_method": method,
                        "expected_loss": loss, "relative_uplift": rel[0], "relative_ci_low": rel[1],
                        "relative_ci_high": rel[2], "seq_ci_low_look": diff.estimate - half,
                        "seq_ci_high_look": diff.estimate + half,
                        "seq_p_value_look": stats.sequential_p_value(diff.estimate, diff.se, na + n, alpha)}  # fmt: skip
                seq_looks.append({"goal": goal, "variant": v, "n_control": na, "x_control": xa_, "n_variant": n,
                                  "x_variant": c, "estimate": diff.estimate, "se": diff.se,
                                  "seq_p_value": row["seq_p_value_look"], "seq_ci_low": row["seq_ci_low_look"],
                                  "seq_ci_high": row["seq_ci_high_look"], "_row": (goal, vi)})  # fmt: skip
                if na > 1 and n > 1:  # θ from the control and this variant pooled
                    cd, reduction = stats.cuped_diff_stats(_suff(a, f"y{gi}", f"x{gi}", None, f"xx{gi}", f"xy{gi}"),
                                                           _suff(g, f"y{gi}", f"x{gi}", None, f"xx{gi}", f"xy{gi}"),
                                                           alpha)  # fmt: skip
                    row |= {"cuped_uplift": cd.estimate, "cuped_ci_low": cd.ci_low, "cuped_ci_high": cd.ci_high,
                            "cuped_p_value": cd.p_value, "cuped_variance_reduction": reduction}  # fmt: skip
                pvals.append((goal, vi, diff.p_value))
            rows.append({k: _num(x) for k, x in row.items()})
        by_goal[goal] = rows
    # always-valid figures over every look at this read-out (experiments.looks): running min / intersection
    for lk, run in zip(seq_looks, looks.running(store, name, looks.params_key(window_days, alpha, ci), seq_looks),
                       strict=True):  # fmt: skip
        goal, vi = lk["_row"]
        lo, hi, p = run["seq_ci_low"], run["seq_ci_high"], run["seq_p_value"]
        empty = bool(math.isfinite(lo) and math.isfinite(hi) and lo > hi)
        by_goal[goal][vi] |= {"seq_p_value": _num(p), "seq_ci_low": _num(lo), "seq_ci_high": _num(hi),
                              "seq_looks": run["seq_looks"], "seq_ci_empty": empty,
                              "seq_significant": bool(lo > 0 or hi < 0) if math.isfinite(lo) and math.isfinite(hi)
                              else None}  # fmt: skip
        if empty:
            warnings.append(f"{goal!r} {lk['variant']!r}: the always-valid intervals of the {run['seq_looks']} looks "
                            "do not overlap (under the model this happens with probability ≤ alpha); the data "
                            "changed in a way the sequence did not expect — check the exposure logging")  # fmt: skip
    if degenerate:
        warnings.append("a variant has 0 or all conversions: the unpooled (Wald) CI understates the uncertainty "
                        "there; ask for ci='newcombe' (or 'auto') for Newcombe's score interval")  # fmt: skip
    adjusted = stats.holm([p for _, _, p in pvals])
    for (goal, vi, _), p in zip(pvals, adjusted, strict=True):
        by_goal[goal][vi]["p_value_holm"] = _num(p)

    # revenue per visitor (Welch), NPS (difference variance), CSAT and CES (Welch), frustration rate
    # (two proportions, lower is better) on the first goal's rows; Bayesian by the normal approximation
    def mean_of(r: pd.Series, key: str) -> tuple[int, float, float]:
        return int(r[f"{key}_n"]), float(r[f"{key}_sum"]), float(r[f"{key}_ss"])

    nps_a = (int(a["promoters"]), int(a["passives"]), int(a["detractors"]))
    for vi, v in enumerate(variants):
        g = rows_by[v]
        n = int(g["n"])
        row = by_goal[goals[0]][vi]
        row["revenue_per_visitor"] = _num(float(g["rev"]) / n) if n else None
        counts = (int(g["promoters"]), int(g["passives"]), int(g["detractors"]))
        nn = sum(counts)
        row["nps_n"] = nn
        row["nps"] = _num(100 * (counts[0] - counts[2]) / nn) if nn else None
        for key in ("csat", "ces"):
            k, sm, _ = mean_of(g, key)
            row[key], row[f"{key}_n"] = (_num(sm / k) if k else None), k
        fr = int(g["frus"])
        row |= {"frustrated": fr, "frustration_rate": _num(fr / n) if n else None}
        if vi == 0:
            continue
        rd = stats.mean_diff(int(a["n"]), float(a["rev"]), float(a["rev2"]), n, float(g["rev"]), float(g["rev2"]),
                             alpha=alpha)  # fmt: skip
        row |= {"revenue_diff": _num(rd.estimate), "revenue_ci_low": _num(rd.ci_low),
                "revenue_ci_high": _num(rd.ci_high), "revenue_p_value": _num(rd.p_value)}  # fmt: skip
        row |= _bayes("revenue", rd)
        if int(a["n"]) > 1 and n > 1:  # CUPED on revenue: the same window before exposure as covariate
            rc, red = stats.cuped_diff_stats(_suff(a, "rev", "rev_pre", "rev2", "rev_pre2", "rev_x"),
                                             _suff(g, "rev", "rev_pre", "rev2", "rev_pre2", "rev_x"), alpha)  # fmt: skip
            row |= {"revenue_cuped_diff": _num(rc.estimate), "revenue_cuped_ci_low": _num(rc.ci_low),
                    "revenue_cuped_ci_high": _num(rc.ci_high), "revenue_cuped_variance_reduction": _num(red)}  # fmt: skip
        for key in ("csat", "ces"):
            if int(a[f"{key}_n"]) > 1 and int(g[f"{key}_n"]) > 1:
                cd = stats.mean_diff(*mean_of(a, key), *mean_of(g, key), alpha=alpha)
                row |= {f"{key}_diff": _num(cd.estimate), f"{key}_ci_low": _num(cd.ci_low),
                        f"{key}_ci_high": _num(cd.ci_high), f"{key}_p_value": _num(cd.p_value)}  # fmt: skip
                row |= _bayes(key, cd)
        if sum(nps_a) and nn:
            nd = stats.nps_diff(nps_a, counts, alpha)
            row |= {"nps_diff": _num(nd.estimate), "nps_ci_low": _num(nd.ci_low),
                    "nps_ci_high": _num(nd.ci_high), "nps_p_value": _num(nd.p_value)}  # fmt: skip
            row |= _bayes("nps", nd)
        fa, na = int(a["frus"]), int(a["n"])
        if na and n:
            method = _ci_method(ci, fa, na, fr, n)
            fd = _prop(method, fa, na, fr, n, alpha)
            # lower is better: the chance the variant's rate is below control's, the loss if it is not
            ctb, loss = stats.beta_chance_to_beat(fr, n, fa, na)
            row |= {"frustration_diff": _num(fd.estimate), "frustration_ci_low": _num(fd.ci_low),
                    "frustration_ci_high": _num(fd.ci_high), "frustration_p_value": _num(fd.p_value),
                    "frustration_ci_method": method, "frustration_chance_to_beat_control": _num(ctb),
                    "frustration_expected_loss": _num(loss)}  # fmt: skip
    guard_rows = []
    for j, event in enumerate(guardrails):
        col = f"y{len(goals) + j}"
        xa_, na = int(a[col]), int(a["n"])
        for v in variants[1:]:
            xb, nb = int(rows_by[v][col]), int(rows_by[v]["n"])
            method = _ci_method(ci, xa_, na, xb, nb)
            gd = _prop(method, xa_, na, xb, nb, alpha)
            failed = bool(math.isfinite(gd.ci_low) and gd.ci_low > 0)
            guard_rows.append({"guardrail": event, "variant": v, "control_rate": _num(xa_ / na if na else None),
                               "rate": _num(xb / nb if nb else None), "uplift": _num(gd.estimate),
                               "ci_low": _num(gd.ci_low), "ci_high": _num(gd.ci_high), "p_value": _num(gd.p_value),
                               "ci_method": method, "failed": failed})  # fmt: skip
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
        "ci": ci,
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
