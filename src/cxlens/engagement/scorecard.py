"""Agent and team CX scorecards from the ``tickets`` and ``feedback`` tables, with n and 95% CIs.

Per agent or team (``tickets.agent`` / ``tickets.team``), optionally per period (``week``,
``month``, ``quarter`` of ``tickets.created_at``):

- ``tickets``: tickets handled;
- ``csat`` (%): of the tickets whose customer answered CSAT within ``days`` after the ticket was
  created (the first such answer), the share satisfied (4–5 on 1–5); Wilson interval;
- ``fcr`` (%): first-contact resolution, tickets resolved (``resolved_at`` set) with ``contacts = 1``
  among resolved tickets with ``contacts`` known; Wilson interval;
- ``first_response_hours`` and ``resolution_hours``: medians of ``first_response_at − created_at``
  and ``resolved_at − created_at`` in hours, with the distribution-free order-statistic interval of a
  median (exact binomial; scipy ``quantile_test``); NaN with fewer than 6 values (no 95% interval exists);
- ``sentiment``: mean ``sentiment_score`` (−1…1) of the ticket texts the voice analysis stored
  (``verbatim_analysis``, ``ticket:<id>``); t interval;
- ``recovery`` (%): of the tickets whose customer was a **detractor** in the ``days`` before the
  ticket (an NPS answer 0–6 or a CSAT answer 1–2; the latest such answer sets the metric) and answered
  that metric again within ``RECOVERY_DAYS`` after the ticket, the share whose first such answer is
  no longer a detractor (NPS ≥ 7, CSAT ≥ 3); Wilson interval.

The small-group rule of :mod:`cxlens.engagement.summary` applies, because an agent is a person and
a small group's figures are a few identifiable cases: a row (group × period) with fewer than
``min_group`` tickets is suppressed whole, and within a shown row each figure with fewer than
``min_group`` observations is left empty (listed in ``hidden_figures``).

**Complementary suppression.** Scorecards overlap: a team's row is the sum of its agents' rows (an
agent who worked in several teams in a period counts through their *piece* in each team, a cell no
view shows), an agent's (or team's) row over all time the sum of its weeks, months or quarters, a
quarter the sum of its months and a month the sum of its weeks. Weeks are cut at month boundaries
(a week spanning two months is two periods, the second labelled by the month's first day), so the
periods nest and no "weeks minus months" difference is a few days' tickets. Every such relation (a
*margin*: a total and its parts, per figure) is checked over all the views at once (agent and team
× all time, week, month, quarter × every allowed window): when the hidden parts hold together more
than 0 and fewer than ``min_group`` observations, or exactly one cell of the margin is hidden (it
would be the difference of the others), the smallest shown part is hidden too, and when no part is
left to hide, the total; until no margin changes. A team's tickets without an agent are a hidden
part of the team (else a team minus all its agents would give a few of them away): they count in what
the hidden parts hold, but alone they are no hidden cell to keep from being a difference. A caller's
stricter ``min_group`` starts from the workspace setting's hidden cells and only hides more, so
comparing two strictnesses reveals nothing the default does not.

**Windows.** ``days`` (the CSAT window after a ticket and the detractor window before it) is one of
:data:`DAYS` (7, 14, 30, 90), not any number: the figures of two windows differ by the answers
between them, so ``days=7`` against ``days=8`` would single out one day's few answers. The hidden
cells are the same in every window and are planned over each window's table *and* the difference
of every two windows (a longer window's answers include a shorter one's), with the rules above, so
no window pair differs by 1…``min_group``−1 answers of a shown cell. A fixed set (rather than
snapping any number to it) keeps what a reader asked and got the same.

**Everything at once.** The margins are checked one at a time, and an attacker who combines several
could still, in rare patterns, determine a small set: a "rectangle" of hidden cells across team ×
agent and month × week (two agents' cells hidden in the same two weeks of a month whose other cells
are shown) gave the hidden side's sum away. So after the margins, :func:`_audit` checks the whole
published pattern per figure with linear programs (an atom of fewer than ``min_group`` observations
must reach ``min_group`` in some non-negative solution of every published count) and hides more until
it holds. The plan is the same for every view and window and is kept per data version
(``store.memo``).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pandas as pd

from cxlens.engagement.audit import bounded, incidence
from cxlens.engagement.summary import min_group_size
from cxlens.errors import ParameterError
from cxlens.metrics.stats import median_ci

__all__ = ["BY", "DAYS", "FIGURES", "PERIODS", "RECOVERY_DAYS", "scorecard"]

BY = ("agent", "team")
PERIODS = ("week", "month", "quarter")
#: the CSAT (after) and detractor (before) windows a scorecard may use, in days: a fixed set, because
#: two windows differ by the answers between them (see the module doc, "Windows")
DAYS = (7, 14, 30, 90)
#: how long after a ticket a detractor's next answer counts for recovery
RECOVERY_DAYS = 90
FIGURES = ("csat", "fcr", "first_response_hours", "resolution_hours", "sentiment", "recovery")
_Z = 1.959963984540054


def wilson(x: int, n: int) -> tuple[float, float]:
    """Wilson's 95% interval for x/n, in percent (NaN when n is 0)."""
    if n <= 0:
        return (math.nan, math.nan)
    p = x / n
    c = (p + _Z * _Z / (2 * n)) / (1 + _Z * _Z / n)
    h = _Z / (1 + _Z * _Z / n) * math.sqrt(p * (1 - p) / n + _Z * _Z / (4 * n * n))
    return (100 * max(c - h, 0.0), 100 * min(c + h, 1.0))


def _tickets(store: Any) -> pd.DataFrame:
    """One row per ticket with an agent or team; per allowed window ``d`` of :data:`DAYS` the columns
    ``csat_score_<d>`` (the first CSAT answer within ``d`` days after) and ``detractor_metric_<d>``
    (the metric of the latest detractor answer in the ``d`` days before)."""
    has_va = store.has_table("verbatim_analysis")
    va = "LEFT JOIN verbatim_analysis va ON va.verbatim_id = 'ticket:' || t.ticket_id" if has_va else ""
    sent = "va.sentiment_score" if has_va else "CAST(NULL AS DOUBLE)"
    per_window = "".join(
        f"(SELECT arg_min(f.score, f.ts) FROM feedback f WHERE f.metric = 'csat' AND f.customer_id = t.customer_id "
        f" AND f.ts >= t.created_at AND f.ts < t.created_at + to_days({d})) AS csat_score_{d}, "
        f"(SELECT arg_max(f.metric, f.ts) FROM feedback f WHERE f.metric IN ('nps', 'csat') "
        f" AND f.customer_id = t.customer_id AND f.ts < t.created_at AND f.ts >= t.created_at - to_days({d}) "
        f" AND ((f.metric = 'nps' AND f.score <= 6) OR (f.metric = 'csat' AND f.score <= 2))) AS detractor_metric_{d}, "
        for d in DAYS
    )
    sql = (
        "SELECT t.ticket_id, t.agent, t.team, t.created_at, t.contacts, t.resolved_at IS NOT NULL AS resolved, "
        "date_diff('second', t.created_at, t.first_response_at) / 3600.0 AS first_response_hours, "
        "date_diff('second', t.created_at, t.resolved_at) / 3600.0 AS resolution_hours, "
        f"{per_window}{sent} AS sentiment "
        f"FROM tickets t {va} WHERE t.agent IS NOT NULL OR t.team IS NOT NULL"
    )
    df = store.read(sql)
    created = pd.to_datetime(df["created_at"])
    for p, freq in (("week", "W-SUN"), ("month", "M"), ("quarter", "Q")):  # as DuckDB's date_trunc (ISO weeks)
        df[p] = created.dt.to_period(freq).dt.start_time.dt.date
    # a week spanning two months is two periods, one per month (labelled by its first day in that month),
    # so that weeks add up to months: periods nest (week ⊂ month ⊂ quarter) and no week minus months
    # (or month minus weeks) is a few days' tickets
    df["week"] = np.maximum(pd.to_datetime(df["week"]), pd.to_datetime(df["month"])).dt.date
    # the first NPS and the first CSAT answer after the ticket, within RECOVERY_DAYS
    nxt = store.read(
        "SELECT t.ticket_id, arg_min(f.score, f.ts) FILTER (WHERE f.metric = 'nps') AS next_nps, "
        "arg_min(f.score, f.ts) FILTER (WHERE f.metric = 'csat') AS next_csat "
        "FROM tickets t JOIN feedback f ON f.customer_id = t.customer_id AND f.metric IN ('nps', 'csat') "
        "AND f.ts > t.created_at AND f.ts < t.created_at + to_days(?) "
        "WHERE t.agent IS NOT NULL OR t.team IS NOT NULL GROUP BY 1",
        [RECOVERY_DAYS],
    )
    df = df.merge(nxt, on="ticket_id", how="left")
    for d in DAYS:
        df[f"recovered_{d}"] = _recovered(df, d)
    return df


def _window(df: pd.DataFrame, days: int) -> pd.DataFrame:
    """The tickets with the window-dependent columns of ``days`` as ``csat_score`` and ``recovered``."""
    return df.assign(csat_score=df[f"csat_score_{days}"], recovered=df[f"recovered_{days}"])


def _recovered(df: pd.DataFrame, days: int) -> pd.Series:
    """Per ticket: 1 recovered, 0 not, NaN when not a detractor case or no later answer of that metric."""
    metric = df[f"detractor_metric_{days}"]
    nps = metric == "nps"
    after = df["next_nps"].where(nps, df["next_csat"]).where(metric.notna())
    ok = (after >= 7).where(nps, after >= 3).astype(float)
    return ok.where(after.notna())


def _figures(g: pd.DataFrame, k: int) -> dict[str, Any]:
    from scipy import stats as st  # lazy: scipy.stats costs ~0.5 s at import

    out: dict[str, Any] = {"tickets": len(g)}
    hidden: list[str] = []

    def share(name: str, hits: pd.Series) -> None:
        hits = hits.dropna()
        n = len(hits)
        out[f"{name}_n"] = n
        if n < k:
            out.update({name: None, f"{name}_low": None, f"{name}_high": None, f"{name}_n": None})
            hidden.append(name)
            return
        x = int(hits.sum())
        lo, hi = wilson(x, n)
        out.update({name: 100 * x / n, f"{name}_low": lo, f"{name}_high": hi})

    share("csat", (g["csat_score"] >= 4).where(g["csat_score"].notna()))
    resolved = g[g["resolved"] & g["contacts"].notna()]
    share("fcr", (resolved["contacts"] == 1).astype(float))
    for name in ("first_response_hours", "resolution_hours"):
        v = g[name].dropna().to_numpy(float)
        out[f"{name}_n"] = len(v)
        if len(v) < k:
            out |= {name: None, f"{name}_low": None, f"{name}_high": None, f"{name}_n": None}
            hidden.append(name)
            continue
        m, lo, hi = median_ci(v)
        out |= {name: m, f"{name}_low": lo, f"{name}_high": hi}
    s = g["sentiment"].dropna().to_numpy(float)
    out["sentiment_n"] = len(s)
    if len(s) < k:
        out |= {"sentiment": None, "sentiment_low": None, "sentiment_high": None, "sentiment_n": None}
        hidden.append("sentiment")
    else:
        m = float(s.mean())
        h = float(st.t.ppf(0.975, len(s) - 1) * s.std(ddof=1) / math.sqrt(len(s)))
        out |= {"sentiment": m, "sentiment_low": m - h, "sentiment_high": m + h}
    share("recovery", g["recovered"])
    out["suppressed"] = False
    out["hidden_figures"] = ",".join(hidden) or None
    return out


#: the observation each figure counts, per ticket (the "tickets" figure is the whole row)
def _observations(df: pd.DataFrame) -> dict[str, pd.Series]:
    return {
        "tickets": pd.Series(True, index=df.index),
        "csat": df["csat_score"].notna(),
        "fcr": df["resolved"].astype(bool) & df["contacts"].notna(),
        "first_response_hours": df["first_response_hours"].notna(),
        "resolution_hours": df["resolution_hours"].notna(),
        "sentiment": df["sentiment"].notna(),
        "recovery": df["recovered"].notna(),
    }


_GRANS = (None, *PERIODS)
Cell = tuple[str, str | None, Any, Any]  # (by, period length, group, period start)
#: the figures whose observations depend on the window (the others are the same in every window)
_WINDOWED = ("csat", "recovery")


def _layers(df: pd.DataFrame) -> list[dict[str, pd.Series]]:
    """Per ticket and figure, the observations of every table an attacker can form: each allowed window
    and the difference of every two (a window's answers are a subset of a longer one's)."""
    per = {d: _observations(_window(df, d)) for d in DAYS}
    out = [per[d] for d in DAYS]
    for a, b in itertools.combinations(DAYS, 2):
        out.append({f: (per[b][f] & ~per[a][f]) if f in _WINDOWED else pd.Series(False, index=df.index)
                    for f in per[a]})  # fmt: skip
    return out


def _agentless(cell: Cell) -> bool:
    """A team's tickets without an agent (a part of the team no view shows)."""
    return cell[0] == "agent@team" and cell[2][0] is None


def _plan(df: pd.DataFrame, k: int, seed: set[tuple[Cell, str]] | None = None) -> set[tuple[Cell, str]]:
    """The (cell, figure) pairs hidden in every view and every window: small cells, then complementary
    suppression over every margin until stable (see the module doc).

    Each cell's count of a figure is a vector over the layers of :func:`_layers` (each allowed window and
    each difference of two); a layer's rules are those of one table. *Pieces* are cells no view shows
    (an agent's tickets in one of their teams, when they worked in several in that period): they are
    always hidden and take part in the margins (a team = its agents' pieces in it, an agent = its
    pieces)."""
    layers = _layers(df)
    figs = list(layers[0])
    nl = len(layers)
    cols = {f"{f}@{li}": layer[f].astype(int) for li, layer in enumerate(layers) for f in figs}
    o = pd.DataFrame(cols, index=df.index)
    base = pd.concat([df[["agent", "team", *PERIODS]].astype(object), o], axis=1)
    for g in PERIODS:
        base[g] = base[g].astype(object)
    ocols = list(cols)

    counts: dict[Cell, dict[str, np.ndarray]] = {}
    pieces: set[Cell] = set()

    def grouped(frame: pd.DataFrame, keys: list[str]) -> list[tuple[tuple, dict[str, np.ndarray]]]:
        if frame.empty:
            return []
        summed = frame.groupby(keys, sort=True)[ocols].sum()
        arr = summed.to_numpy(dtype=np.int64).reshape(len(summed), nl, len(figs))  # columns are layer-major
        return [(key if isinstance(key, tuple) else (key,), {f: arr[i, :, fi] for fi, f in enumerate(figs)})
                for i, key in enumerate(summed.index)]  # fmt: skip

    for by in BY:
        sub = base[base[by].notna()]
        for gran in _GRANS:
            keys = [by] if gran is None else [by, gran]
            for key, c in grouped(sub, keys):
                counts[(by, gran, key[0], key[1] if gran else None)] = c
    margins: list[tuple[Cell, list[Cell]]] = []
    both = base[base["agent"].notna() & base["team"].notna()]
    for gran in _GRANS:  # a team = its agents' pieces in it; an agent in several teams = its pieces
        keys = ["team", "agent"] if gran is None else ["team", gran, "agent"]
        rows = grouped(both, keys)
        teams_of: dict[tuple, list[Any]] = {}
        for key, _ in rows:
            team, pv, agent = (key[0], None, key[1]) if gran is None else key
            teams_of.setdefault((agent, pv), []).append(team)
        parts: dict[Cell, list[Cell]] = {}
        for key, c in rows:
            team, pv, agent = (key[0], None, key[1]) if gran is None else key
            if len(teams_of[(agent, pv)]) == 1:
                part: Cell = ("agent", gran, agent, pv)
            else:
                part = ("agent@team", gran, (agent, team), pv)
                counts[part] = c
                pieces.add(part)
            parts.setdefault(("team", gran, team, pv), []).append(part)
        # a team's tickets without an agent: one more part, always hidden (else team − its agents = them)
        for key, c in grouped(
            base[base["agent"].isna() & base["team"].notna()], ["team"] if gran is None else ["team", gran]
        ):
            part = ("agent@team", gran, (None, key[0]), key[1] if gran else None)
            counts[part] = c
            pieces.add(part)
            parts.setdefault(("team", gran, key[0], part[3]), []).append(part)
        margins += list(parts.items())
        for (agent, pv), teams in teams_of.items():
            if len(teams) > 1:
                margins.append((("agent", gran, agent, pv), [("agent@team", gran, (agent, t), pv) for t in teams]))
    for by in BY:  # all time = its periods; a quarter = its months; a month = its weeks
        per_group: dict[Cell, list[Cell]] = {}
        per_quarter: dict[Cell, list[Cell]] = {}
        for cell in counts:
            b, gran, grp, pv = cell
            if b != by or gran is None:
                continue
            per_group.setdefault((by, gran, grp), []).append(cell)
            if gran == "month":
                q = pd.Timestamp(pv).to_period("Q").start_time.date()
                per_quarter.setdefault((by, "quarter", grp, q), []).append(cell)
        margins += [((by, None, grp, None), ps) for (by, _, grp), ps in per_group.items()]
        margins += list(per_quarter.items())
        # a month = its weeks (weeks are cut at month boundaries, see _tickets)
        per_month: dict[Cell, list[Cell]] = {}
        for cell in counts:
            b, gran, grp, pv = cell
            if b == by and gran == "week":
                month = pd.Timestamp(pv).to_period("M").start_time.date()
                per_month.setdefault((by, "month", grp, month), []).append(cell)
        margins += list(per_month.items())

    hidden: set[tuple[Cell, str]] = set(seed or ())
    for cell, c in counts.items():
        if cell not in pieces:
            hidden |= {(cell, f) for f in figs if ((c[f] > 0) & (c[f] < k)).any()}

    def is_hidden(cell: Cell, f: str) -> bool:
        return cell in pieces or (cell, f) in hidden or (cell, "tickets") in hidden

    index: dict[Cell, list[int]] = {}
    for mi, (total, ps) in enumerate(margins):
        for cell in (total, *ps):
            index.setdefault(cell, []).append(mi)

    def needs(total: Cell, ps: list[Cell], f: str) -> np.ndarray:
        """The layers in which a margin gives a hidden cell away: the hidden parts hold
        1…k−1 observations, or exactly one of its live cells (total included) is hidden (it is then
        the difference of the others)."""
        n = np.stack([counts[p][f] for p in ps])  # parts × layers
        hid = np.array([is_hidden(p, f) for p in ps])[:, None] & (n > 0)
        held = (n * hid).sum(axis=0)
        n_hidden = hid.sum(axis=0) + ((counts[total][f] > 0) & is_hidden(total, f))
        # a team's tickets without an agent protect nothing else: alone, only their count matters (held)
        loose = (hid & np.array([_agentless(p) for p in ps])[:, None]).any(axis=0)
        return np.flatnonzero(((held > 0) & (held < k)) | ((n_hidden == 1) & ~loose))

    work = [(mi, f) for mi in range(len(margins)) for f in figs]
    while work:
        mi, f = work.pop()
        total, ps = margins[mi]
        target = None
        for li in needs(total, ps, f):
            shown = sorted((int(counts[p][f][li]), repr(p), p) for p in ps
                           if counts[p][f][li] > 0 and not is_hidden(p, f))  # fmt: skip
            if shown:
                target = shown[0][2]
            elif not is_hidden(total, f):
                target = total
            if target is not None:
                break
        if target is None:
            continue  # nothing left to hide in the layers that need it
        hidden.add((target, f))
        for mj in index.get(target, ()):  # re-check every margin the newly hidden cell is in
            work += [(mj, g) for g in (figs if f == "tickets" else [f])]
        work.append((mi, f))
    return hidden


def _atoms(df: pd.DataFrame, obs: dict[int, dict[str, pd.Series]], f: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The unknowns of an attacker for figure ``f``: tickets grouped by agent, team, (cut) week and, per
    allowed window, whether the ticket has an observation of ``f`` there. Returns the atoms (one row
    each, with ``n`` their observations) and their per-window flags (atoms × windows); ``obs`` holds
    :func:`_observations` per window."""
    flags = np.stack([obs[d][f].to_numpy(bool) for d in DAYS], axis=1)
    if f not in _WINDOWED:
        flags = flags[:, :1]
    keep = flags.any(axis=1)
    sub = df.loc[keep, ["agent", "team", *PERIODS]].astype(object)
    sub = sub.where(sub.notna(), None)
    fl = pd.DataFrame(flags[keep], index=sub.index, columns=[f"w{i}" for i in range(flags.shape[1])])
    keys = [*sub.columns, *fl.columns]
    atoms = pd.concat([sub, fl], axis=1).groupby(keys, dropna=False, sort=True).size().reset_index(name="n")
    for c in ("agent", "team"):  # a missing agent or team comes back from groupby as NaN
        atoms[c] = atoms[c].astype(object).where(atoms[c].notna(), None)
    return atoms, atoms[list(fl.columns)].to_numpy(bool)


def _audit(df: pd.DataFrame, hidden: set[tuple[Cell, str]], k: int) -> set[tuple[Cell, str]]:
    """Hide more until no set of 1…``k``−1 observations is given away by everything published at once.

    The margins of :func:`_plan` are checked one at a time; combining several (a team minus an agent
    over two weeks of a month, say) can still pin down a few tickets. Here every published count of a
    figure (each shown cell in each allowed window) is an equation over *atoms* — the tickets of one
    agent, team and week with the same windows holding an observation — and an atom with fewer than
    ``k`` observations is protected when some non-negative solution of all the equations gives it at
    least ``k``. Then no set of fewer than ``k`` observations has a determined sum (each of its atoms
    would be at most that sum in every solution). An unprotected atom hides the smallest shown cell
    holding it (ties by name), and the check repeats until every atom is protected."""
    hidden = set(hidden)
    obs = {d: _observations(_window(df, d)) for d in DAYS}
    done: dict[Any, list[Cell]] = {}  # figures with the same atoms and shown cells get the same answer
    for f in ("tickets", *FIGURES):
        atoms, flags = _atoms(df, obs, f)
        n = atoms["n"].to_numpy(np.int64)
        small = [j for j in range(len(n)) if n[j] < k]
        if not small:
            continue
        member: dict[Cell, list[int]] = {}  # cell → its atoms
        of_atom: list[list[Cell]] = []  # atom → its cells
        for j, r in enumerate(atoms.itertuples(index=False)):
            cells = [(by, gran, getattr(r, by), getattr(r, gran) if gran else None)
                     for by in BY if getattr(r, by) is not None for gran in _GRANS]  # fmt: skip
            for cell in cells:
                member.setdefault(cell, []).append(j)
            of_atom.append(cells)

        def shown(cell: Cell, f: str = f) -> bool:
            return (cell, "tickets") not in hidden and (cell, f) not in hidden

        key = (pd.util.hash_pandas_object(atoms, index=False).to_numpy().tobytes(),
               frozenset(c for c in member if shown(c)))  # fmt: skip
        if key in done:
            hidden.update((c, f) for c in done[key])
            continue
        added = done[key] = []
        todo = small
        while todo:
            cols = []
            for cell, js in member.items():
                if shown(cell):
                    for li in range(flags.shape[1]):
                        on = [j for j in js if flags[j, li]]
                        if on:
                            cols.append(on)
            a = incidence(cols, len(n))
            bad = bounded(a, a @ n.astype(float), n, todo, k)
            if not bad:
                break
            chosen: list[Cell] = []  # per unprotected atom, unless a cell of it is chosen already this round
            for j in bad:
                cells = [c for c in of_atom[j] if shown(c)]
                if not any(c in chosen for c in cells):
                    chosen.append(min(cells, key=lambda c: (int(n[member[c]].sum()), repr(c))))
            hidden.update((c, f) for c in chosen)
            added += chosen
            todo = bad  # the others were protected already: hiding more only widens the solutions
    return hidden


#: the tables a scorecard reads (its plan is kept until one of them changes)
_TABLES = ("tickets", "feedback", "verbatim_analysis")


def _protected(store: Any, k_ws: int, k: int) -> tuple[pd.DataFrame, set[tuple[Cell, str]]]:
    """The tickets and the cells hidden in every view and window: the margins (:func:`_plan`), then the
    check of everything published at once (:func:`_audit`) — for the workspace's ``min_group`` and, when
    ``k`` is stricter, starting from its hidden cells so that a stricter view only ever hides more. The
    same for every view, ``by``, ``period`` and ``days``, so :func:`scorecard` keeps it per data version."""
    frame = _tickets(store)
    df = _window(frame, DAYS[0])  # the plan covers every window (see _layers); any one gives the frame
    hidden = _audit(df, _plan(df, k_ws), k_ws)
    if k > k_ws:
        hidden = _audit(df, _plan(df, k, hidden), k)
    return frame, hidden


def scorecard(store: Any, by: str = "team", *, period: str | None = None, days: int = 7,
              min_group: int | None = None) -> pd.DataFrame:  # fmt: skip
    """The CX scorecard per ``by`` (``agent`` or ``team``) and, with ``period``, per week/month/quarter;
    see the module doc. One row per group (× period); NaN/None figures are suppressed or undefined."""
    if by not in BY:
        raise ParameterError("by", f"by is {by!r}; expected one of {', '.join(BY)}")
    if period is not None and period not in PERIODS:
        raise ParameterError("period", f"period is {period!r}; expected one of {', '.join(PERIODS)}")
    if isinstance(days, bool) or days not in DAYS:
        raise ParameterError("days", f"days is {days!r}; expected one of {', '.join(map(str, DAYS))} (a fixed set of "
                             "windows, so that two windows cannot be subtracted to single out a few answers)")  # fmt: skip
    k_ws = min_group_size(store)
    k = min_group_size(store, min_group)
    frame, hidden = store.memo(("engagement.scorecard", k_ws, k), _TABLES, lambda: _protected(store, k_ws, k))
    df = _window(frame, days)
    sub = df[df[by].notna()]
    keys = [by, period] if period else [by]
    rows = []
    for key, g in sub.groupby(keys, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        head = {by: key[0]} | ({"period": key[1]} if period else {})
        cell = (by, period, key[0], key[1] if period else None)
        if len(g) < k or (cell, "tickets") in hidden:
            why = (f"fewer than {k} tickets: hidden so no one's cases can be singled out" if len(g) < k else
                   "hidden so that totals minus the shown rows cannot give a smaller hidden row away")  # fmt: skip
            rows.append(head | {"tickets": None, "suppressed": True, "note": why})
            continue
        out = _figures(g, k)
        extra = [f for f in FIGURES if (cell, f) in hidden and out.get(f) is not None]
        for f in extra:  # complementary: hidden although large enough itself
            out |= {f: None, f"{f}_low": None, f"{f}_high": None, f"{f}_n": None}
        if extra:
            out["hidden_figures"] = ",".join(x for x in [out["hidden_figures"], *extra] if x)
        rows.append(head | out | {"note": None})
    cols = [by, *(["period"] if period else []), "tickets"]
    for f in FIGURES:
        cols += [f, f"{f}_low", f"{f}_high", f"{f}_n"]
    cols += ["hidden_figures", "suppressed", "note"]
    out = pd.DataFrame(rows)
    for c in cols:
        if c not in out.columns:
            out[c] = None
    return out[cols]
