"""The eNPS attacker shared by test_trend_audit.py and test_cross_dimension.py: independent of the
suppression code, it knows only the raw answers and what the product published.

* :func:`built` — one workspace file per seed;
* :func:`atoms` — respondents per group combination and week cut at month starts (its own calendar);
* :func:`leaks` — given the shown counts as equations over the atoms, (1) sets of up to three atoms
  with 1…``k``−1 respondents whose sum is determined (orthogonal to the null space of the equations),
  and (2) atoms and suppressed rows whose least and largest possible counts (two linear programs, scipy
  ``linprog``) both lie in 1…``k``−1.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy.linalg import null_space
from scipy.optimize import linprog

import cxlens


def built(tmp_path_factory, prefix: str, seeds, build) -> dict:
    """One workspace file per seed, made by ``build(path, seed)`` (the module fixtures of both tests)."""
    out = {}
    for seed in seeds:
        p = tmp_path_factory.mktemp(f"{prefix}{seed}") / "t.duckdb"
        build(p, seed)
        out[seed] = p
    return out


def atoms(path, dims: list[str]) -> pd.DataFrame:
    """Respondents per value of ``dims`` and cut week, with the week's month and quarter (raw answers)."""
    cols = ", ".join(f"any_value({d}) AS {d}" for d in dims)
    with cxlens.open(path, read_only=True) as ws:
        a = ws.sql(f"SELECT response_id, min(ts) AS ts, {cols} FROM pulse_answers GROUP BY 1")
    day = pd.to_datetime(a["ts"]).dt.normalize()
    first = day - pd.to_timedelta(day.dt.day - 1, unit="D")
    monday = day - pd.to_timedelta(day.dt.day_of_week, unit="D")
    a["week"] = monday.where(monday >= first, first).dt.date.astype(str)
    a["month"] = first.dt.date.astype(str)
    a["quarter"] = [f"{d.year}-{3 * ((d.month - 1) // 3) + 1:02d}-01" for d in day]
    return a.groupby([*dims, "week", "month", "quarter"]).size().reset_index(name="n")


def leaks(a: np.ndarray, b: np.ndarray, n: np.ndarray, names: list[str],
          targets: list[tuple[str, np.ndarray]], k: int) -> list[str]:  # fmt: skip
    """What the shown counts ``a @ x = b`` (``x`` ≥ 0: respondents per atom, truly ``n``) give away:
    determined small sets of atoms (named by ``names``) and ``targets`` (name, atom weights) whose
    possible counts all lie in 1…``k``−1."""
    assert np.allclose(a @ n, b)  # the attacker's model of what is published is right
    out = []
    ns = null_space(a) if len(a) else np.eye(len(n))
    small = [i for i in range(len(n)) if n[i] < k]
    for size in (1, 2, 3):
        for s in itertools.combinations(small, size):
            if n[list(s)].sum() < k:
                e = np.zeros(len(n))
                e[list(s)] = 1
                if np.linalg.norm(ns.T @ e) < 1e-8:
                    out.append("determined " + ", ".join(names[i] for i in s))
    bounds = [(0, None)] * len(n)
    for what, c in targets:
        if c @ n == 0:
            continue
        lo = linprog(c, A_eq=a, b_eq=b, bounds=bounds, method="highs")
        hi = linprog(-c, A_eq=a, b_eq=b, bounds=bounds, method="highs")
        assert lo.status == 0 and hi.status in (0, 3)  # 3: unbounded above (a row no shown count holds)
        if hi.status == 0 and lo.fun > 1e-6 and -hi.fun < k - 1e-6:
            out.append(f"{what}: {lo.fun:.2f}…{-hi.fun:.2f} (true {c @ n:.0f})")
    return out
