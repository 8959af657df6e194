"""What every preset shares: reading the export, finding the score question, loading all or nothing.

A preset turns a vendor's export into frames whose columns carry canonical names (extra
columns go to ``properties``) and hands each to :func:`cxlens.ingest.load.load`, inside ONE
transaction when it writes several tables; so a preset validates, reports and rolls back exactly
as ``cxlens import TABLE FILE`` does. The user's :class:`~cxlens.ingest.spec.ImportSpec` still
applies: its read options override the preset's defaults, its ``map``/``set``/``drop`` act on
the preset's output, and ``score``/``comment``/``metric`` choose the survey question.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cxlens.errors import ImportFileError, ParameterError, SchemaError
from cxlens.ingest.files import ReadOptions, SourceFile
from cxlens.ingest.load import ImportReport, load
from cxlens.ingest.spec import ImportSpec

__all__ = [
    "PRESETS",
    "Importer",
    "Preset",
    "excluded_rows",
    "find_comment",
    "find_score",
    "leading_number",
    "load_tables",
    "preset",
    "properties",
    "read_export",
    "require_columns",
    "text",
]


@dataclass(frozen=True)
class Importer:
    """A named importer: ``run(store, path, spec, name)`` → one report per table written."""

    name: str
    tables: tuple[str, ...]
    description: str
    run: Callable[[Any, Path, ImportSpec, str], dict[str, ImportReport]]
    #: a preset for a vendor export (documented in docs/import-presets.md), else a dataset adapter
    preset: bool = False
    #: reads a folder rather than a file
    folder: bool = False


#: a vendor export's importer
Preset = Importer

#: preset name → its importer (filled by the preset modules)
PRESETS: dict[str, Importer] = {}


def preset(name: str, tables: tuple[str, ...], description: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a preset function ``fn(store, path, spec, name)``."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        PRESETS[name] = Importer(name, tables, description, fn, preset=True)
        return fn

    return wrap


def read_export(path: Path, spec: ImportSpec, name: str, **defaults: Any) -> tuple[SourceFile, pd.DataFrame]:
    """The whole export as a frame; the user's read options win over the preset's ``defaults``."""
    opts = spec.read_options()
    given = {k: v for k, v in vars(opts).items() if v != getattr(ReadOptions(), k)}
    src = SourceFile(path, replace(ReadOptions(**defaults), **given), name=name)
    return src, src.read_all()


def require_columns(frame: pd.DataFrame, columns: list[str] | tuple[str, ...], name: str, vendor: str) -> None:
    """The export must have ``columns`` (an error names the first missing one and the closest found)."""
    found = [str(c) for c in frame.columns]
    for c in columns:
        if c not in found:
            near = difflib.get_close_matches(c, found, n=1)
            hint = f" (closest: {near[0]!r})" if near else ""
            raise ImportFileError(
                f"{name} has no column {c!r}{hint}; expected a {vendor} export with the columns "
                f"{', '.join(map(repr, columns))} — export it again as described in docs/import-presets.md"
            )


def text(s: pd.Series) -> pd.Series:
    """Stripped text, None where blank."""
    t = s.astype("str").str.strip()
    return t.astype(object).where(s.notna() & t.ne("").fillna(False), None)


def properties(frame: pd.DataFrame, cols: list[str]) -> list[dict[str, Any] | None]:
    """Each row's values of ``cols`` as a dict for ``properties`` (empty values and empty lists left out)."""
    cols = [c for c in cols if c in frame.columns]
    sub = frame[cols].astype(object).where(frame[cols].notna(), None)
    return [{k: v for k, v in r.items() if not _empty(v)} or None for r in sub.to_dict("records")]


def _empty(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, list | dict) and not v)


def leading_number(s: pd.Series) -> pd.Series:
    """``"10 - Extremely likely"`` → 10; plain numbers stay; anything else stays as it is (for the error)."""
    t = s.astype("str").str.strip()
    lead = t.str.extract(r"^(-?\d+(?:\.\d+)?)(?:\s*[-–:]\s*\D.*)?$")[0]
    return lead.astype(object).where(lead.notna(), s.astype(object))


#: question wording → metric (first match wins); the values must fit the metric's scale
WORDING: list[tuple[str, str]] = [
    ("nps", r"how likely.{0,80}recommend|likely to recommend|net promoter|\bnps\b"),
    ("ces", r"\beas(y|ier|ily)\b|\beffort"),
    ("csat", r"satisf"),
]
SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7), "enps": (0, 10), "rating": (1, 5)}
_GROUPS = {"promoter", "passive", "detractor", "promoters", "passives", "detractors"}


def _is_group_column(col: str, values: pd.Series) -> bool:
    if re.search(r"nps_?group|npsgroup|\(group\)", col, re.I):
        return True
    present = values.dropna().astype(str).str.strip().str.lower()
    return bool(len(present)) and present.isin(_GROUPS).all()


def _fits(values: pd.Series, metric: str) -> bool:
    lo, hi = SCALES[metric]
    num = pd.to_numeric(leading_number(values.dropna()), errors="coerce")
    return bool(len(num)) and num.notna().all() and bool(((num >= lo) & (num <= hi) & (num == np.floor(num))).all())


def find_score(frame: pd.DataFrame, labels: dict[str, str], spec: ImportSpec, name: str,
               skip: set[str] = frozenset()) -> tuple[str, str]:  # fmt: skip
    """(column, metric) of the score question: ``--score``/``--metric`` when given, else the one
    question whose wording names a metric and whose values fit its scale (a computed group column
    such as Qualtrics' ``Q1_NPS_GROUP`` is never a score). Otherwise the error lists the candidates."""
    cols = [c for c in frame.columns if c not in skip]
    if spec.score:
        if spec.score not in frame.columns:
            near = difflib.get_close_matches(spec.score, cols, n=1)
            raise ParameterError("score", f"--score {spec.score!r}: {name} has no such column"
                                          + (f"; did you mean {near[0]!r}?" if near else ""))  # fmt: skip
        metric = spec.metric or _metric_of(labels.get(spec.score, spec.score))
        if metric is None:
            raise ParameterError(
                "metric", f"cannot tell the metric of {spec.score!r} from its wording; pass --metric nps, csat or ces"
            )
        return spec.score, metric
    found = []
    for c in cols:
        label = labels.get(c, c)
        metric = spec.metric or _metric_of(label)
        if metric and not _is_group_column(c, frame[c]) and _fits(frame[c], metric):
            found.append((c, metric))
    if len(found) == 1:
        return found[0]
    if found:
        listed = "; ".join(f"{c!r} ({labels.get(c, c)[:60]!r}, {m})" for c, m in found)
        raise ParameterError("score", f"{name} has several score questions: {listed}; choose one with --score COLUMN")
    numeric = [
        c for c in cols if any(_fits(frame[c], m) for m in ("nps", "csat", "ces")) and not _is_group_column(c, frame[c])
    ]
    listed = ", ".join(f"{c!r} ({labels.get(c, c)[:50]!r})" for c in numeric[:8]) or "none"
    raise ParameterError(
        "score",
        f"{name}: no question reads as NPS ('how likely … recommend'), CSAT ('satisfied') or CES ('easy') with "
        f"matching values; candidate columns: {listed}; choose with --score COLUMN --metric nps|csat|ces",
    )


def _metric_of(label: str) -> str | None:
    return next((m for m, pat in WORDING if re.search(pat, label, re.I)), None)


_COMMENT = r"\bwhy\b|reason|comment|explain|tell us|anything else|feedback|improve|better|suggest|describe"


def find_comment(frame: pd.DataFrame, labels: dict[str, str], spec: ImportSpec, after: str,
                 skip: set[str] = frozenset()) -> str | None:  # fmt: skip
    """The free-text column: ``--comment`` when given, else the first text question after the score
    whose wording asks for a reason or comment."""
    if spec.comment:
        if spec.comment not in frame.columns:
            raise ParameterError("comment", f"--comment {spec.comment!r}: no such column")
        return spec.comment
    cols = list(frame.columns)
    start = cols.index(after) + 1 if after in cols else 0
    for c in cols[start:] + cols[:start]:
        if c in skip or c == after:
            continue
        if re.search(_COMMENT, labels.get(c, c), re.I):
            vals = frame[c].dropna()
            if not len(vals) or pd.to_numeric(vals, errors="coerce").isna().mean() > 0.5:
                return c
    return None


def load_tables(store: Any, parts: dict[str, pd.DataFrame], spec: ImportSpec, name: str, *,
                constants: dict[str, dict[str, Any]] | None = None,
                excluded: dict[str, list[Any]] | None = None) -> dict[str, ImportReport]:  # fmt: skip
    """Load canonical-named frames, several tables in ONE transaction; the user's spec still applies.

    A frame's index holds the export's data row (0-based) of each of its rows, so messages name
    the export's rows even when the preset left some out or made several rows of one.
    ``excluded`` (reason → [rows, first rows]) is what the preset left out on purpose.
    """
    reports: dict[str, ImportReport] = {}
    opts = spec.validate_options()
    with store.transaction():
        for kind, frame in parts.items():
            consts = {**(constants or {}).get(kind, {}), **spec.set}
            drop = [c for c in spec.drop if c in frame.columns]
            mapping = {k: v for k, v in spec.map.items() if v in frame.columns}
            rows = frame.index.to_numpy() + 1
            try:
                rep = load(store, kind, frame.reset_index(drop=True), mapping=mapping, constants=consts, drop=drop,
                           options=opts, name=name)  # fmt: skip
            except SchemaError as e:
                raise _renumbered(e, rows) from None
            rep.problems = [str(_renumbered(SchemaError(p), rows)) for p in rep.problems]
            if excluded and kind == next(iter(parts)):
                rep.excluded = excluded
                rep.rows += sum(v[0] for v in excluded.values())
            reports[kind] = rep
    return reports


def _renumbered(err: SchemaError, rows: Any) -> SchemaError:
    """The same error with frame rows replaced by the export's rows."""

    def sub(m: re.Match[str]) -> str:
        nums = [int(x) for x in m.groups() if x]
        mapped = [str(rows[n - 1]) if 0 < n <= len(rows) else str(n) for n in nums]
        return f"{m.group(0).split()[0]} " + " and ".join(mapped)

    out = SchemaError(re.sub(r"\brows? (\d+)(?: and (\d+))?", sub, str(err), count=1))
    for attr in ("source", "column", "value", "expected"):
        if hasattr(err, attr):
            setattr(out, attr, getattr(err, attr))
    return out


def excluded_rows(mask: Any, reason: str) -> dict[str, list[Any]]:
    """``{reason: [rows, first rows]}`` for the rows of ``mask`` (a preset leaving them out)."""
    idx = np.flatnonzero(np.asarray(mask, dtype=bool))
    return {reason: [len(idx), [int(i) + 1 for i in idx[:5]]]} if len(idx) else {}
