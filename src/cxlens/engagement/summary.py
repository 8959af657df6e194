"""eNPS and the engagement index per group, with the small-group rule that cannot be filtered around.

The rule (``min_group``, workspace setting ``engagement.min_group``, default 5, never below 3):

1. **one dimension per question** (team, role, location or manager): filters and ``by`` on the
   same one, so every population is a union of one partition's groups — crossed filters (team ×
   location) could make two results differ by one person;
2. a group is shown only with at least ``min_group`` respondents;
3. **complementary suppression**: when the groups hidden by rule 2 hold, together, fewer than
   ``min_group`` respondents, the smallest shown groups are hidden too until they hold at least
   that many — otherwise total − shown groups would give the hidden ones away;
4. a filter selecting a hidden group is refused (the whole result is suppressed), so a filter
   cannot show what a breakdown hides; the population total is shown only with ``min_group`` or more.

Groups and hiding are computed over all answers of the workspace, so every question sees the
same hidden groups. On top of these rules, the rows the trends' joint plan (:func:`trend`) hides over
all time are hidden here too: that plan checks the views of every dimension together, so a team's row
and a location's row cannot be subtracted to single someone out.

No function returns an individual answer. eNPS = % promoters (9-10) − % detractors (0-6) with the NPS
variance; the engagement index is, per respondent, the mean of the five driver items rescaled
from 1-5 to 0-100, averaged over respondents with a t interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from cxlens.engagement.audit import bounded, certificate, incidence
from cxlens.engagement.people import DRIVERS, GROUP_COLUMNS
from cxlens.errors import ParameterError

__all__ = [
    "DEFAULT_MIN_GROUP",
    "FLOOR",
    "PERIODS",
    "SETTING",
    "comments",
    "min_group_size",
    "summary",
    "trend",
]
PERIODS = ("week", "month", "quarter")

SETTING = "engagement.min_group"
DEFAULT_MIN_GROUP = 5
FLOOR = 3


def _valid(k: Any) -> int:
    try:
        k = int(k)
    except (TypeError, ValueError):
        raise ParameterError("min_group", f"min_group is {k!r}; expected a whole number ≥ {FLOOR}") from None
    if k < FLOOR:
        raise ParameterError("min_group", f"min_group is {k}; groups smaller than {FLOOR} are never shown")
    return k


def min_group_size(store: Any, override: int | None = None) -> int:
    """The smallest group shown: the workspace setting (default 5), or ``override`` when it is LARGER
    (a caller may be stricter, never laxer; only the setting lowers it, and never below 3)."""
    k = _valid(store.setting(SETTING, DEFAULT_MIN_GROUP))
    return k if override is None else max(k, _valid(override))


def _answers(store: Any) -> pd.DataFrame:
    return store.read("SELECT response_id, ts, team, role, location, manager_id, question, score FROM pulse_answers")


def _check_dims(names: list[str], what: str) -> None:
    for d in names:
        if d not in GROUP_COLUMNS:
            raise ParameterError(what, f"{what} {d!r} is not a group; expected one of {', '.join(GROUP_COLUMNS)}")


def _filter(df: pd.DataFrame, filters: Mapping[str, Any]) -> pd.DataFrame:
    for d, v in filters.items():
        values = [v] if isinstance(v, str) else list(v)
        df = df[df[d].isin(values)]
    return df


def _n(df: pd.DataFrame) -> int:
    return int(df["response_id"].nunique())


def _scores(df: pd.DataFrame) -> dict[str, Any]:
    from scipy import stats as st  # lazy: scipy.stats costs ~0.5 s at import

    e = df.loc[df["question"] == "enps", "score"].to_numpy(float)
    out: dict[str, Any] = {"enps": None, "enps_low": None, "enps_high": None, "enps_n": len(e)}
    if len(e):
        p, d = (e >= 9).mean(), (e <= 6).mean()
        v = 100 * (p - d)
        se = 100 * math.sqrt(max(p + d - (p - d) ** 2, 0) / len(e))
        out |= {"enps": v, "enps_low": max(-100.0, v - 1.959964 * se), "enps_high": min(100.0, v + 1.959964 * se)}
    drv = df[df["question"].isin(DRIVERS)]
    idx = ((drv["score"] - 1) / 4 * 100).groupby(drv["response_id"]).mean().to_numpy(float)
    out |= {"engagement": None, "engagement_low": None, "engagement_high": None, "engagement_n": len(idx)}
    if len(idx):
        m = float(idx.mean())
        out["engagement"] = m
        if len(idx) > 1:
            h = float(st.t.ppf(0.975, len(idx) - 1) * idx.std(ddof=1) / math.sqrt(len(idx)))
            out |= {"engagement_low": max(0.0, m - h), "engagement_high": min(100.0, m + h)}
    return out


def _row(group: str, df: pd.DataFrame, hidden: bool, note: str | None) -> dict[str, Any]:
    base = {"group": group, "respondents": None, "enps": None, "enps_low": None, "enps_high": None,
            "engagement": None, "engagement_low": None, "engagement_high": None}  # fmt: skip
    if hidden:
        return base | {"suppressed": True, "note": note}
    s = _scores(df)
    return base | {k: s[k] for k in base if k in s} | {"respondents": _n(df), "suppressed": False, "note": None}


def _partition(everyone: pd.DataFrame, dim: str, k: int) -> tuple[pd.Series, set[str]]:
    """Respondents per value of ``dim`` over ALL answers, and the values hidden: those under ``k``, then
    (complementary suppression) the smallest others until the hidden ones hold ``k`` or more."""
    sizes = everyone.groupby(everyone[dim].fillna("(none)"))["response_id"].nunique().sort_values(kind="stable")
    hidden = {str(g) for g, m in sizes.items() if m < k}
    while True:
        held = int(sum(sizes[g] for g in hidden))
        shown = [g for g in sizes.index if g not in hidden]
        if held == 0 or held >= k or not shown:
            return sizes, hidden
        hidden.add(shown[0])


def summary(store: Any, by: str | None = None, filters: Mapping[str, Any] | None = None,
            min_group: int | None = None) -> pd.DataFrame:  # fmt: skip
    """eNPS and engagement for the (filtered) population and, with ``by``, per group; see the module doc.

    One dimension per question (filters and ``by`` on the same one): across dimensions, two results
    could differ by one person. Columns: group, respondents, enps, enps_low, enps_high, engagement,
    engagement_low, engagement_high, suppressed, note. The first row is the population (``(all)``).
    """
    k_ws = min_group_size(store)
    k = min_group_size(store, min_group)
    filters = _prep(filters, by)
    out = _summarise(_answers(store), by, filters, k)
    dims = set(filters) | ({by} if by else set())
    dim = next(iter(dims)) if dims else None
    hidden = _plan(store, k_ws, k)[dim]
    _hide_planned(out, hidden, filters.get(dim) if dim else None, lambda g, i: (g, None, None))
    return out


def _prep(filters: Mapping[str, Any] | None, by: str | None) -> dict[str, list[str]]:
    """Filters as lists, checked: known group columns, one dimension for filters and ``by`` together."""
    out = {d: ([v] if isinstance(v, str) else list(v)) for d, v in (filters or {}).items() if v not in (None, "", [])}
    _check_dims(list(out), "filter")
    if by is not None:
        _check_dims([by], "by")
    dims = set(out) | ({by} if by else set())
    if len(dims) > 1:
        raise ParameterError("filter", f"filters and by use {sorted(dims)}; engagement results take one dimension "
                             "at a time, because two results over crossed groups can differ by one person")  # fmt: skip
    return out


def _summarise(everyone: pd.DataFrame, by: str | None, filters: dict[str, list[str]], k: int) -> pd.DataFrame:
    """:func:`summary` over the answers ``everyone`` (all of the workspace, or all of one period)."""
    dims = set(filters) | ({by} if by else set())
    reason = None
    if dims:
        dim = next(iter(dims))
        sizes, hidden = _partition(everyone, dim, k)
        picked = filters.get(dim)
        if picked is not None:
            small = sorted(v for v in picked if v in hidden)
            if small:
                reason = (f"{dim} {small} is hidden (fewer than {k} respondents, or needed to keep a small group "
                          "from being worked out); choose other values")  # fmt: skip
        f = _filter(everyone, filters)
    else:
        f = everyone
    if reason is None and _n(f) < k:
        reason = f"fewer than {k} respondents"
    rows = [_row("(all)", f, reason is not None, reason)]
    if by is not None:
        key = f[by].fillna("(none)")
        for g in sorted(key.unique().tolist(), key=str):
            hide = reason is not None or g in hidden
            note = reason or (f"fewer than {k} respondents" if sizes[g] < k else
                              "hidden so that the small groups cannot be worked out from the total")  # fmt: skip
            rows.append(_row(str(g), f[key == g], hide, note if hide else None))
    return pd.DataFrame(rows)


def _period_keys(ts: pd.Series) -> dict[str, pd.Series]:
    """Each answer's week, month and quarter (first day); a week spanning two months is two periods,
    the second starting on the month's first day, so weeks nest in months as months do in quarters."""
    t = pd.to_datetime(ts)
    month = t.dt.to_period("M").dt.start_time
    monday = t.dt.to_period("W").dt.start_time
    week = monday.where(monday >= month, month)
    return {"week": week.dt.date, "month": month.dt.date, "quarter": t.dt.to_period("Q").dt.start_time.dt.date}


def trend(store: Any, period: str = "month", by: str | None = None, filters: Mapping[str, Any] | None = None,
          min_group: int | None = None) -> pd.DataFrame:  # fmt: skip
    """:func:`summary` per ``period`` (``week``, ``month``, ``quarter`` of the answer time): the same
    columns plus ``period``; the small-group rule (with complementary suppression) is applied within
    each period, and then jointly over every period length and the all-time summary, so that no
    period's figures single anyone out, whichever views are combined.

    Weeks are cut at month boundaries (a week spanning two months is two periods), so periods nest.
    The relations checked (per group and per period) are: the population of a period = its groups;
    a group over all time (the :func:`summary` row, as it is shown) = its weeks = its months = its
    quarters; a quarter = its months; a month = its weeks. When a relation's hidden parts hold 1 to
    ``min_group``−1 respondents, or exactly one of its cells is hidden (it would be the difference
    of the others), its smallest shown period row is hidden too, until nothing changes. Then
    :func:`_joint` checks everything published for every dimension at once (linear programs over the
    respondents of one team × role × location × manager combination in one cut week) and hides more —
    period rows, and all-time rows that :func:`summary` then hides too — until no combination's week of
    fewer than ``min_group`` respondents is determined, whichever views of whichever dimensions are read
    together (with :data:`JOINT` off, :func:`_audit` checks each dimension alone: the former plan).

    The hidden rows are planned over all answers (no filter), the same for every view, and kept per
    data version; a filtered population row of a period is shown only when every picked group's row of
    that period is (it is then their sum)."""
    if period not in PERIODS:
        raise ParameterError("period", f"period is {period!r}; expected one of {', '.join(PERIODS)}")
    k_ws = min_group_size(store)
    k = min_group_size(store, min_group)
    filters = _prep(filters, by)
    dims = set(filters) | ({by} if by else set())
    dim = next(iter(dims)) if dims else None
    everyone = _answers(store)
    cols = ["period", "group", "respondents", "enps", "enps_low", "enps_high", "engagement", "engagement_low",
            "engagement_high", "suppressed", "note"]  # fmt: skip
    if everyone.empty:
        return pd.DataFrame(columns=cols)
    keys = _period_keys(everyone["ts"])
    frames = []
    for p, part in everyone.assign(_p=keys[period]).groupby("_p", sort=True):
        f = _summarise(part.drop(columns="_p"), by, filters, k)
        f.insert(0, "period", p)
        frames.append(f)
    out = pd.concat(frames, ignore_index=True)
    hidden = _plan(store, k_ws, k)[dim]
    _hide_planned(out, hidden, filters.get(dim) if dim else None, lambda g, i: (g, period, out.at[i, "period"]))
    return out[cols]


def _hide_planned(
    out: pd.DataFrame, hidden: set[tuple], picked: list[str] | None, cell: Callable[[str, Any], tuple]
) -> None:
    """Blank the rows of ``out`` whose plan cell (``cell(group, row index)``) is hidden; a filtered
    population row (the picked groups' sum) is shown only when each picked group's row is."""
    for i in out.index:
        g = str(out.at[i, "group"])
        if g == "(all)" and picked is not None:
            hide = any(cell(str(v), i) in hidden for v in picked)
        else:
            hide = cell(g, i) in hidden
        if hide and not bool(out.at[i, "suppressed"]):
            out.loc[i, _FIGURES] = None
            out.at[i, "suppressed"] = True
            out.at[i, "note"] = _NOTE


_FIGURES = ["respondents", "enps", "enps_low", "enps_high", "engagement", "engagement_low", "engagement_high"]
_NOTE = "hidden so that a small group or period cell cannot be worked out from other figures"
#: plan every dimension together (True: views of two dimensions cannot be combined to single anyone out);
#: False plans each dimension alone (the former plan, kept as the control the tests compare with)
JOINT = True


def _plan(store: Any, k_ws: int, k: int) -> dict[str | None, frozenset[Cell]]:
    """The rows hidden in every summary and trend view, kept per data version (see :func:`_protected`)."""
    return store.memo(("engagement.trend", k_ws, k, JOINT), _TABLES, lambda: _protected(store, k_ws, k))


#: the tables a trend's plan is read from (it is kept until one of them changes)
_TABLES = ("pulse_answers",)
#: the dimensions a trend is planned for (None: the population alone)
_DIMS = (None, *GROUP_COLUMNS)
Cell = tuple[str, str | None, Any]  # (group or "(all)", period length or None for all time, period start)


def _shown_rule(part: pd.DataFrame, dim: str | None, k: int) -> set[str]:
    """The rows :func:`_summarise` hides in ``part`` without filters: "(all)" and groups."""
    groups = set(part[dim].fillna("(none)").astype(str)) if dim else set()
    if _n(part) < k:
        return {"(all)", *groups}
    return _partition(part, dim, k)[1] if dim else set()


def _protected(store: Any, k_ws: int, k: int) -> dict[str | None, frozenset[Cell]]:
    """Per dimension (and None), the trend cells hidden in every view: the margins, then :func:`_audit`;
    for a stricter ``k`` starting from the workspace's plan, so a stricter view only hides more. A
    population cell hidden for one dimension is hidden for all (every view publishes the population)."""
    everyone = _answers(store)
    if everyone.empty:
        return dict.fromkeys(_DIMS, frozenset())
    keys = _period_keys(everyone["ts"])
    plans: dict[str | None, set[Cell]] = {}
    for d in _DIMS:
        seed: set[Cell] = set()
        if k > k_ws:
            seed = set(_plan(store, k_ws, k_ws)[d])
        hidden, fixed, atoms = _margins(everyone, keys, d, k, seed)
        fixed |= {c for c in seed if c[1] is None}
        plans[d] = (hidden | fixed) if JOINT else _audit(atoms, hidden, fixed, k)
    if JOINT:
        plans = _joint(everyone, keys, plans, k)
    population = {c for h in plans.values() for c in h if c[0] == "(all)"}
    return {d: frozenset(h | population) for d, h in plans.items()}


def _margins(everyone: pd.DataFrame, keys: dict[str, pd.Series], dim: str | None, k: int,
             seed: set[Cell]) -> tuple[set[Cell], set[Cell], pd.DataFrame]:  # fmt: skip
    """The cells hidden by the per-period rule and the margins (see :func:`trend`), the all-time cells
    :func:`summary` hides (fixed: the trend does not change them), and the atoms (respondents per group
    and cut week, with their month and quarter) for :func:`_audit`."""
    df = everyone.assign(_g=everyone[dim].fillna("(none)").astype(str) if dim else "(all)",
                         **{f"_{g}": keys[g] for g in PERIODS})  # fmt: skip
    fixed = {(g, None, None) for g in _shown_rule(everyone, dim, k)}
    hidden: set[Cell] = set(seed)
    for gran in PERIODS:
        for p, part in df.groupby(f"_{gran}", sort=True):
            hidden |= {(g, gran, p) for g in _shown_rule(part, dim, k)}
    parts = [df] if dim is None else [df, df.assign(_g="(all)")]
    long = pd.concat(parts, ignore_index=True)
    counts: dict[Cell, int] = {
        (str(g), None, None): int(m) for g, m in long.groupby("_g")["response_id"].nunique().items()
    }
    for gran in PERIODS:
        for (g, p), m in long.groupby(["_g", f"_{gran}"], sort=True)["response_id"].nunique().items():
            counts[(str(g), gran, p)] = int(m)
    cells = sorted((c for c in counts if c[1] is not None), key=repr)
    in_period: dict[tuple, list[Cell]] = {}
    of_group: dict[tuple, list[Cell]] = {}
    in_parent: dict[Cell, list[Cell]] = {}
    for c in cells:
        g, gran, p = c
        if g != "(all)":
            in_period.setdefault((gran, p), []).append(c)
        of_group.setdefault((g, gran), []).append(c)
        if gran in ("month", "week"):
            coarse, to = ("quarter", "Q") if gran == "month" else ("month", "M")
            in_parent.setdefault((g, coarse, pd.Timestamp(p).to_period(to).start_time.date()), []).append(c)
    margins: list[tuple[Cell, list[Cell]]] = []
    if dim:
        margins += [(("(all)", gran, p), ps) for (gran, p), ps in in_period.items()]
    margins += [((g, None, None), ps) for (g, _), ps in of_group.items()]
    margins += list(in_parent.items())

    def is_hidden(c: Cell) -> bool:
        return c in fixed if c[1] is None else c in hidden

    changed = True
    while changed:
        changed = False
        for total, ps in margins:
            live = [c for c in ps if counts.get(c, 0) > 0]
            held = sum(counts[c] for c in live if is_hidden(c))
            n_hidden = sum(is_hidden(c) for c in live) + (1 if counts.get(total, 0) > 0 and is_hidden(total) else 0)
            if not (0 < held < k or n_hidden == 1):
                continue
            shown = sorted((counts[c], repr(c), c) for c in live if not is_hidden(c))
            if shown:
                hidden.add(shown[0][2])
            elif total[1] is not None and not is_hidden(total):
                hidden.add(total)
            else:
                continue
            changed = True
    atoms = df.groupby(["_g", "_week"], sort=True).agg(
        n=("response_id", "nunique"), month=("_month", "first"), quarter=("_quarter", "first")
    )
    atoms = atoms.reset_index().rename(columns={"_g": "group", "_week": "week"})
    return hidden, fixed, atoms


def _audit(atoms: pd.DataFrame, hidden: set[Cell], fixed: set[Cell], k: int) -> set[Cell]:
    """Hide more trend cells until no group's week of 1…``k``−1 respondents is given away by everything
    published for the dimension at once: every shown cell (a group's or the population's week, month,
    quarter and all-time row) is an equation over *atoms* (the respondents of one group in one cut week),
    and an atom under ``k`` must reach ``k`` in some non-negative solution (:mod:`cxlens.engagement.audit`).
    An atom that cannot hides the smallest shown period cell holding it (ties by name); the all-time rows
    are :func:`summary`'s and stay as it shows them. Repeats until every small atom is protected."""
    hidden = set(hidden)
    n = atoms["n"].to_numpy(np.int64)
    todo = [j for j in range(len(n)) if n[j] < k]
    if not todo:
        return hidden
    member: dict[Cell, list[int]] = {}  # cell → its atoms
    of_atom: list[list[Cell]] = []  # atom → its cells
    for j, r in enumerate(atoms.itertuples(index=False)):
        cells = [(g, gran, p) for g in dict.fromkeys((str(r.group), "(all)"))
                 for gran, p in ((None, None), ("quarter", r.quarter), ("month", r.month), ("week", r.week))]  # fmt: skip
        for c in cells:
            member.setdefault(c, []).append(j)
        of_atom.append(cells)

    def shown(c: Cell) -> bool:
        return c not in (fixed if c[1] is None else hidden)

    while todo:
        rows = [c for c in member if shown(c)]
        a = incidence([member[c] for c in rows], len(n))
        b = a @ n.astype(float)
        bad = bounded(a, b, n, todo, k)
        chosen: list[Cell] = []
        for j in bad:
            cells = [c for c in of_atom[j] if c[1] is not None and shown(c)]
            if not cells:  # bounded through other cells only (e.g. the summary's rows and other groups' weeks)
                cells = [rows[i] for i in certificate(a, b, j) if rows[i][1] is not None]
            if cells and not any(c in chosen for c in cells):
                chosen.append(min(cells, key=lambda c: (int(n[member[c]].sum()), repr(c))))
        if not chosen:
            break  # nothing left to hide (only the summary's all-time rows bound these atoms)
        hidden.update(chosen)
        todo = bad  # the others were protected already: hiding more only widens the solutions
    return hidden


def _joint(everyone: pd.DataFrame, keys: dict[str, pd.Series], plans: dict[str | None, set[Cell]],
           k: int) -> dict[str | None, set[Cell]]:  # fmt: skip
    """The check of :func:`_audit` over every dimension at once: the atoms are the respondents of one
    combination of team, role, location and manager (a missing value is a value of its own) in one cut
    week; the equations are every count :func:`summary` and :func:`trend` publish, for every dimension
    and the population, all time and every period. An atom under ``k`` that no non-negative solution
    lifts to ``k`` hides the smallest shown row holding it (an all-time :func:`summary` row too, ties by
    name), until every small atom is protected. ``plans`` (per dimension, the rows the margins hide)
    are returned with the rows this adds."""
    dims = list(GROUP_COLUMNS)
    df = everyone.assign(**{d: everyone[d].fillna("(none)").astype(str) for d in dims},
                         **{f"_{g}": keys[g] for g in PERIODS})  # fmt: skip
    atoms = df.groupby([*dims, "_week"], sort=True).agg(
        n=("response_id", "nunique"), month=("_month", "first"), quarter=("_quarter", "first")
    )
    atoms = atoms.reset_index().rename(columns={"_week": "week"})
    JCell = tuple[str | None, str, str | None, Any]  # (dimension or None, group, period length, start)
    hidden: set[JCell] = {(d if c[0] != "(all)" else None, *c) for d, h in plans.items() for c in h}
    n = atoms["n"].to_numpy(np.int64)
    todo = [j for j in range(len(n)) if n[j] < k]
    member: dict[JCell, list[int]] = {}
    of_atom: list[list[JCell]] = []
    for j, r in enumerate(atoms[[*dims, "week", "month", "quarter"]].itertuples(index=False, name=None)):
        spans = ((None, None), ("quarter", r[-1]), ("month", r[-2]), ("week", r[-3]))
        cells = [
            (d, g, gran, p) for d, g in ((None, "(all)"), *zip(dims, r[: len(dims)], strict=True)) for gran, p in spans
        ]
        for c in cells:
            member.setdefault(c, []).append(j)
        of_atom.append(cells)
    size = {c: int(n[js].sum()) for c, js in member.items()}
    twins: dict[tuple[int, ...], list[JCell]] = {}  # rows with the same atoms publish the same number
    for c, js in member.items():
        twins.setdefault(tuple(js), []).append(c)
    while todo:
        rows = [c for c in member if c not in hidden]
        a = incidence([member[c] for c in rows], len(n))
        b = a @ n.astype(float)
        bad = bounded(a, b, n, todo, k)
        chosen: list[JCell] = []
        for j in bad:
            cells = [c for c in of_atom[j] if c not in hidden]
            if not cells:  # bounded through rows that do not hold it
                cells = [rows[i] for i in certificate(a, b, j)]
            if cells and not any(c in chosen for c in cells):
                chosen.append(min(cells, key=lambda c: (size[c], c[2] is None, repr(c))))
        if not chosen:
            break
        hidden.update(t for c in chosen for t in twins[tuple(member[c])])  # e.g. a role all share = the population
        todo = bad
    return {d: {c[1:] for c in hidden if c[0] == d or c[0] is None} for d in plans}


def comments(store: Any, by: str | None = None, filters: Mapping[str, Any] | None = None,
             min_group: int | None = None) -> pd.DataFrame:  # fmt: skip
    """Pulse comments (stored with names and other personal data redacted) of the groups the
    small-group rule shows: ``group`` and ``comment`` only — no time, no id — sorted by group and
    text, so that a comment cannot be matched to an answer. Hidden groups and a hidden population
    give no comments."""
    shown = summary(store, by, filters, min_group)
    if not store.has_table("pulse_comments"):
        return pd.DataFrame(columns=["group", "comment"])
    df = store.read("SELECT team, role, location, manager_id, comment FROM pulse_comments")
    filters = {
        d: ([v] if isinstance(v, str) else list(v)) for d, v in (filters or {}).items() if v not in (None, "", [])
    }
    df = _filter(df, filters)
    if bool(shown.iloc[0]["suppressed"]):
        return pd.DataFrame(columns=["group", "comment"])
    if by is None:
        out = pd.DataFrame({"group": "(all)", "comment": df["comment"]})
    else:
        ok = set(shown.loc[~shown["suppressed"].astype(bool), "group"].iloc[1:] if len(shown) > 1 else [])
        key = df[by].fillna("(none)").astype(str)
        out = pd.DataFrame({"group": key, "comment": df["comment"]})[key.isin(ok)]
    return out.sort_values(["group", "comment"]).reset_index(drop=True)
