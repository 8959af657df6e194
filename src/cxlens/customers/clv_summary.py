"""Per-customer (frequency, recency, T, monetary) summaries computed by the backend (Ibis).

Convention (Fader, Hardie & Lee's CDNOW summary): purchases are grouped by **calendar day**, so
several orders on one day are one transaction whose value is their sum. For each customer:

- ``frequency`` — distinct purchase days after the first one (repeat transactions) up to the
  calibration end;
- ``recency`` — last purchase day minus first purchase day, in ``time_unit`` (``week`` = days / 7,
  fractional; ``day`` = days);
- ``T`` — calibration end minus first purchase day, in ``time_unit``;
- ``monetary`` — mean value of the repeat transactions (first day excluded; 0 when frequency is 0);
- with a holdout (``calibration_end`` before ``observation_end``): ``frequency_holdout`` (distinct
  purchase days in the holdout), ``monetary_holdout`` and ``duration_holdout``.

Ends are inclusive dates (a purchase on ``calibration_end`` is in the calibration period). lifetimes'
``summary_data_from_transaction_data(freq="W")`` differs: it counts distinct *weeks* and floors times
to whole weeks; ``time_unit="day"`` here equals lifetimes with ``freq="D"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ibis
import pandas as pd

from cxlens.errors import ConfigError, ImportFileError
from cxlens.metrics.common import DateLike

__all__ = ["holdout_chart", "holdout_table", "load_summary", "rfm_summary", "summary_counts"]

UNIT_DAYS = {"day": 1.0, "week": 7.0}
SUMMARY_COLUMNS = ("frequency", "recency", "T", "monetary")


def _day_number(d: ibis.Value) -> ibis.Value:
    """Days since 1970-01-01 of a date/timestamp truncated to the day (an integer)."""
    return (d.cast("timestamp").epoch_seconds() / 86400).round().cast("int64")


def _day_int(value: DateLike) -> int:
    """Days since 1970-01-01 of the (UTC) calendar day of ``value``."""
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return int((ts.normalize() - pd.Timestamp("1970-01-01")).days)


def rfm_summary(
    orders: ibis.Table,
    *,
    calibration_end: DateLike = None,
    observation_end: DateLike = None,
    time_unit: str = "week",
    customer_col: str = "customer_id",
    ts_col: str = "ts",
    amount_col: str = "amount",
) -> ibis.Table:
    """Per-customer CLV summary of an orders table, as a lazy Ibis expression.

    Parameters
    ----------
    orders
        A table with one row per order (``customer_id``, ``ts``, ``amount``), e.g.
        ``ws.table("orders")``. Filter it first to drop e.g. cancelled orders.
    calibration_end
        Last day (inclusive) of the calibration period; customers whose first purchase is later
        are left out. Default: ``observation_end`` (no holdout columns).
    observation_end
        Last day (inclusive) observed; default the day of the last order in the table.
    time_unit
        ``"week"`` (days / 7) or ``"day"``.

    Returns
    -------
    ibis.Table
        ``customer_id, frequency, recency, T, monetary`` (+ ``frequency_holdout,
        monetary_holdout, duration_holdout`` when ``calibration_end`` is given); run it with
        ``.to_pandas()``.

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> o = ibis.memtable(pd.DataFrame({"customer_id": ["a", "a", "a", "b"],
    ...     "ts": pd.to_datetime(["2024-01-01 09:00", "2024-01-01 18:00", "2024-01-15 00:00", "2024-01-08 00:00"]),
    ...     "amount": [10.0, 5.0, 20.0, 7.0]}))
    >>> rfm_summary(o, observation_end="2024-01-29").order_by("customer_id").to_pandas()
      customer_id  frequency  recency    T  monetary
    0           a          1      2.0  4.0      20.0
    1           b          0      0.0  3.0       0.0
    """
    if time_unit not in UNIT_DAYS:
        raise ConfigError(f"unknown time_unit {time_unit!r}; expected 'day' or 'week'")
    for c in (customer_col, ts_col, amount_col):
        if c not in orders.columns:
            raise ConfigError(
                f"orders table has no column {c!r}; expected {customer_col}, {ts_col}, {amount_col}; "
                "pass customer_col/ts_col/amount_col"
            )
    unit = UNIT_DAYS[time_unit]
    t = orders.select(
        cid=orders[customer_col].cast("string"),
        day=_day_number(orders[ts_col].truncate("D")),
        amount=orders[amount_col].cast("float64"),
    )
    t = t.filter(t.cid.notnull(), t.day.notnull())
    days = t.group_by(["cid", "day"]).aggregate(value=t.amount.sum().fill_null(0.0))

    holdout = calibration_end is not None
    if holdout and observation_end is not None and pd.Timestamp(calibration_end) > pd.Timestamp(observation_end):
        raise ConfigError(
            f"calibration_end {calibration_end!r} is after observation_end {observation_end!r}; "
            "expected calibration_end <= observation_end"
        )
    if observation_end is None:  # the last order day, computed by the backend (one-row cross join)
        days = days.cross_join(days.aggregate(obs=days.day.max()))
    else:
        days = days.mutate(obs=ibis.literal(_day_int(observation_end)))
    days = days.mutate(cal=ibis.literal(_day_int(calibration_end)) if holdout else days.obs)
    days = days.filter(days.day <= days.obs)
    first = days.group_by("cid").aggregate(first=days.day.min())
    j = days.inner_join(first, "cid")
    in_cal = j.day <= j.cal
    agg = {
        "n_cal": in_cal.ifelse(1, 0).sum(),
        "last_cal": in_cal.ifelse(j.day, j.first).max(),
        "first": j.first.min(),
        "cal": j.cal.max(),
        "obs": j.obs.max(),
        "value_cal": in_cal.ifelse(j.value, 0.0).sum(),
        "value_first": (j.day == j.first).ifelse(j.value, 0.0).sum(),
    }
    if holdout:
        agg["n_hold"] = (~in_cal).ifelse(1, 0).sum()
        agg["value_hold"] = (~in_cal).ifelse(j.value, 0.0).sum()
    s = j.filter(j.first <= j.cal).group_by("cid").aggregate(**agg)
    freq = (s.n_cal - 1).cast("int64")
    cols: dict[str, Any] = {
        customer_col: s.cid,
        "frequency": freq,
        "recency": ((s.last_cal - s.first) / unit).cast("float64"),
        "T": ((s.cal - s.first) / unit).cast("float64"),
        "monetary": (freq > 0).ifelse((s.value_cal - s.value_first) / freq.cast("float64"), 0.0),
    }
    if holdout:
        cols["frequency_holdout"] = s.n_hold.cast("int64")
        cols["monetary_holdout"] = (s.n_hold > 0).ifelse(s.value_hold / s.n_hold.cast("float64"), 0.0)
        cols["duration_holdout"] = ((s.obs - s.cal) / unit).cast("float64")
    return s.select(**cols)


def summary_counts(
    summary: ibis.Table | pd.DataFrame,
    *,
    columns: tuple[str, ...] = ("frequency", "recency", "T"),
    weight_col: str = "weight",
) -> ibis.Table | pd.DataFrame:
    """Collapse identical summaries into weighted rows (``columns`` + ``weight``).

    Works on an Ibis table (the backend does the grouping; the result has one row per distinct
    summary) or a DataFrame. Fit a model on it with ``fit(..., weights=df.weight)``.

    Examples
    --------
    >>> df = pd.DataFrame({"frequency": [0, 0, 2], "recency": [0.0, 0.0, 3.0], "T": [5.0, 5.0, 5.0]})
    >>> summary_counts(df)
       frequency  recency    T  weight
    0          0      0.0  5.0       2
    1          2      3.0  5.0       1
    """
    cols = list(columns)
    if isinstance(summary, pd.DataFrame):
        out = summary.groupby(cols, sort=True).size().rename(weight_col).reset_index()
        return out
    return summary.group_by(cols).aggregate(**{weight_col: summary.count()})


def load_summary(path: str | Path, mapping: Mapping[str, str] | str | None = None) -> pd.DataFrame:
    """Read a ready summary CSV/Parquet and rename its columns to frequency, recency, T, monetary.

    ``mapping`` is ``{"frequency": "x", "recency": "t_x", "monetary": "zbar"}`` or the CLI text
    ``"frequency=x,recency=t_x,monetary=zbar"`` (canonical name = file column).

    Examples
    --------
    >>> load_summary("cdnow_customers_summary_with_transactions.csv",
    ...              "frequency=x,recency=t_x,monetary=zbar")  # doctest: +SKIP
    """
    p = Path(path)
    if not p.exists():
        raise ImportFileError(f"summary file {str(p)!r} does not exist; check the path")
    if isinstance(mapping, str):
        pairs = [m.strip() for m in mapping.split(",") if m.strip()]
        bad = [m for m in pairs if "=" not in m]
        if bad:
            raise ConfigError(
                f"mapping item {bad[0]!r} has no '='; expected e.g. frequency=x,recency=t_x,monetary=zbar"
            )
        mapping = dict(m.split("=", 1) for m in pairs)
    mapping = {k.strip(): v.strip() for k, v in (mapping or {}).items()}
    unknown = [k for k in mapping if k not in SUMMARY_COLUMNS + ("customer_id",)]
    if unknown:
        raise ConfigError(
            f"unknown summary column {unknown[0]!r} in mapping; expected one of "
            f"{', '.join(SUMMARY_COLUMNS)}, customer_id"
        )
    df = pd.read_parquet(p) if p.suffix.lower() in {".parquet", ".pq"} else pd.read_csv(p)
    df = df.rename(columns={v: k for k, v in mapping.items()})
    for c in ("frequency", "recency", "T"):
        if c not in df.columns:
            raise ImportFileError(
                f"summary file {p.name!r} has no column {c!r} (columns: {', '.join(map(str, df.columns))}); "
                f"map it, e.g. --map {c}=<column>"
            )
    if "customer_id" not in df.columns:
        df.insert(0, "customer_id", (df["ID"] if "ID" in df.columns else pd.Series(range(1, len(df) + 1))).astype(str))
    return df


def holdout_table(model: Any, summary: pd.DataFrame, *, max_frequency: int = 7) -> pd.DataFrame:
    """Expected vs actual holdout repeat purchases by calibration repeat purchases (0 … ``max``+).

    The calibration/holdout check of Fader, Hardie & Lee (2005, Figure 4): for each number of
    calibration repeat purchases, the mean actual purchases in the holdout and the mean of
    ``model.expected_purchases(duration_holdout, …)``.
    """
    need = {"frequency", "recency", "T", "frequency_holdout", "duration_holdout"}
    if not need <= set(summary.columns):
        raise ConfigError("summary has no holdout columns; build it with rfm_summary(..., calibration_end=...)")
    s = summary
    exp = model.expected_purchases(s["duration_holdout"].to_numpy(float), s["frequency"], s["recency"], s["T"])
    group = s["frequency"].clip(upper=max_frequency).astype(int)
    out = pd.DataFrame({"group": group, "actual": s["frequency_holdout"].astype(float), "expected": exp})
    t = out.groupby("group").agg(customers=("actual", "size"), actual=("actual", "mean"), expected=("expected", "mean"))
    t = t.reindex(range(max_frequency + 1)).reset_index().rename(columns={"group": "frequency"})
    t["customers"] = t["customers"].fillna(0).astype("int64")
    t["label"] = [str(i) if i < max_frequency else f"{max_frequency}+" for i in t["frequency"]]
    return t[["frequency", "label", "customers", "actual", "expected"]]


def holdout_chart(df: pd.DataFrame) -> Any:
    """Altair line chart of :func:`holdout_table`: actual vs model-expected holdout purchases."""
    import altair as alt

    long = df.melt(
        id_vars=["frequency", "label", "customers"],
        value_vars=["actual", "expected"],
        var_name="series",
        value_name="purchases",
    )
    long["series"] = long["series"].map({"actual": "Actual", "expected": "Model"})
    return (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X("label:O", sort=list(df["label"]), title="Repeat purchases in calibration"),
            y=alt.Y("purchases:Q", title="Mean repeat purchases in holdout"),
            color=alt.Color("series:N", title=None, scale=alt.Scale(range=["#111827", "#2563eb"])),
            strokeDash=alt.StrokeDash("series:N", legend=None),
            tooltip=["label:O", "series:N", alt.Tooltip("purchases:Q", format=".3f"), "customers:Q"],
        )
        .properties(title="Holdout: actual vs expected repeat purchases", width=420, height=260)
    )
