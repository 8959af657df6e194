"""The whole-pattern check shared by the scorecards and the eNPS trends: linear programs over *atoms*.

Everything a view publishes is a set of counts, each the sum of some atoms (the smallest pieces an
attacker cannot split: e.g. one team's respondents in one week). An atom with fewer than ``min_group``
observations is *protected* when some non-negative solution of all the published equations gives it at
least ``min_group``; then no set of fewer than ``min_group`` observations has a determined sum (each of
its atoms would be at most that sum in every solution). :func:`bounded` finds the atoms that are not
protected (scipy ``linprog``, HiGHS); :func:`incidence` builds the equations.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

__all__ = ["TOL", "bounded", "certificate", "incidence"]

#: an atom whose LP upper bound reaches ``k`` − this is protected (float tolerance of the LP solver)
TOL = 1e-6


def bounded(a: Any, b: np.ndarray, n: np.ndarray, todo: list[int], k: int) -> list[int]:
    """Of the atoms ``todo``, those whose largest value over every x ≥ 0 with ``a @ x = b`` is below
    ``k`` (linear programs; an atom that reaches ``k`` at any feasible point found on the way is
    protected, so a few programs settle most atoms). ``a`` is CSC (see :func:`incidence`), ``n`` the
    atoms' true sizes (only their number is used)."""
    from scipy.optimize import linprog

    m = len(n)
    used = np.diff(a.indptr) > 0  # a is CSC: the atoms in a published equation (the others are unbounded)
    left = [j for j in todo if used[j]]

    def highest(cols: list[int]) -> np.ndarray | None:
        """A solution maximising the sum of ``cols``, each capped at k (a point of the capped region is
        a solution, so whoever reaches k there can reach it)."""
        c = np.zeros(m)
        c[cols] = -1.0
        ub = np.full(m, np.inf)
        ub[cols] = k
        res = linprog(c, A_eq=a, b_eq=b, bounds=np.stack([np.zeros(m), ub], axis=1), method="highs")
        return res.x if res.status == 0 else None

    out: list[int] = []
    joint = True  # one program for all that are left, while it lifts some; then one program each
    while left:
        x = highest(left if joint else left[:1])
        reached = set() if x is None else {j for j in left if x[j] >= k - TOL}
        if not joint and left[0] not in reached:
            out.append(left[0])
            reached.add(left[0])
        joint = joint and bool(reached)
        left = [j for j in left if j not in reached]
    return out


def incidence(rows: list[list[int]], m: int) -> Any:
    """The 0/1 matrix (CSC) with one row per list of atoms, over ``m`` atoms."""
    from scipy import sparse

    cols = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64)
    ri = np.repeat(np.arange(len(rows)), [len(r) for r in rows])
    return sparse.csc_matrix((np.ones(len(cols)), (ri, cols)), shape=(len(rows), m))


def certificate(a: Any, b: np.ndarray, j: int) -> list[int]:
    """The equations (rows of ``a``) that bound atom ``j``: those with a non-zero dual value in the
    program maximising ``x[j]`` over x ≥ 0 with ``a @ x = b``. Hiding one of them removes this proof
    of the bound (another may remain: check again). Empty when the program has no finite optimum."""
    from scipy.optimize import linprog

    c = np.zeros(a.shape[1])
    c[j] = -1.0
    res = linprog(c, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
    if res.status != 0:
        return []
    return [int(i) for i in np.flatnonzero(np.abs(res.eqlin.marginals) > TOL)]
