"""Import adapters for known public exports: Olist, CDNOW, IBM Telco churn, NPS verbatims.

Each adapter reads the source files with pandas, maps them onto the canonical tables of
:mod:`cxlens.schema`, validates every table with :func:`~cxlens.schema.validate.validate_frame`
and only then inserts all of them in **one** transaction: a bad file leaves the workspace
unchanged. Ids are derived deterministically from the source, so re-running an adapter on the
same input inserts nothing. Errors name the source file, its 1-based data row (the header is
not counted), the source column, the bad value and what was expected.

The mapping rules are documented column by column in ``docs/import-mappings.md``.

>>> from cxlens.ingest.adapters import ADAPTERS
>>> sorted(ADAPTERS)
['cdnow', 'nps-verbatims', 'olist', 'telco-churn']
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cxlens.errors import ImportFileError, SchemaError
from cxlens.ingest.files import read_file
from cxlens.ingest.load import insert_tables
from cxlens.schema.tables import TABLES
from cxlens.schema.validate import validate_frame
from cxlens.store import Store

__all__ = ["ADAPTERS", "import_cdnow", "import_nps_verbatims", "import_olist", "import_telco_churn"]


# -- reading and checking source columns ------------------------------------------------------
def read_source(path: Path, columns: Sequence[str], *, sep: str | None = None) -> pd.DataFrame:
    """Read a CSV as strings and check it has ``columns``."""
    frame = read_file(path, "csv", sep=sep)
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        found = ", ".join(map(repr, list(frame.columns)[:25])) or "none"
        raise ImportFileError(
            f"{path.name} has no column {missing[0]!r}; expected the columns {', '.join(columns)} but found {found}; "
            "import the unmodified export file"
        )
    return frame.reset_index(drop=True)


def bad_value(source: str, row: int, column: str, value: Any, expected: str) -> SchemaError:
    """A SchemaError for data row ``row`` (0-based position) of a source file."""
    shown = "empty" if value is None or (isinstance(value, float) and np.isnan(value)) else repr(value)
    err = SchemaError(f"column '{column}' in {source} row {row + 1} is {shown}; expected {expected}")
    err.source, err.row, err.column, err.value, err.expected = source, row + 1, column, value, expected
    return err


def _blank(s: pd.Series) -> pd.Series:
    return s.isna() | s.astype("string").str.strip().eq("").fillna(True)


def text_column(frame: pd.DataFrame, column: str) -> pd.Series:
    """Stripped text, None where blank."""
    s = frame[column].astype("string").str.strip()
    return s.astype(object).where(~_blank(frame[column]), None)


def required_column(frame: pd.DataFrame, column: str, source: str, what: str) -> pd.Series:
    s = text_column(frame, column)
    bad = s.isna().to_numpy()
    if bad.any():
        i = int(bad.argmax())
        raise bad_value(source, i, column, None, what)
    return s


def number_column(
    frame: pd.DataFrame,
    column: str,
    source: str,
    *,
    integer: bool = False,
    lo: float | None = None,
    hi: float | None = None,
    required: bool = True,
) -> pd.Series:
    """Parse a numeric source column; blanks are NaN (an error when ``required``)."""
    raw = frame[column]
    blank = _blank(raw)
    num = pd.to_numeric(raw.astype("string").str.strip(), errors="coerce").astype("float64")
    what = "a whole number" if integer else "a number"
    if lo is not None and hi is not None:
        what += f" {lo:g}-{hi:g}"
    elif lo is not None:
        what += f" of at least {lo:g}"
    bad = (num.isna() & ~blank) | (blank if required else False)
    bad |= ~np.isfinite(num.fillna(0))
    if integer:
        bad |= num.notna() & (num != np.floor(num))
    if lo is not None:
        bad |= num < lo
    if hi is not None:
        bad |= num > hi
    arr = bad.to_numpy(dtype=bool)
    if arr.any():
        i = int(arr.argmax())
        raise bad_value(source, i, column, None if blank.iloc[i] else raw.iloc[i], what)
    return num


def _times(
    frame: pd.DataFrame, column: str, source: str, fmt: str, example: str, *, required: bool = True
) -> pd.Series:
    """Parse a date-time source column with an exact format; blanks are NaT."""
    raw = frame[column]
    blank = _blank(raw)
    ts = pd.to_datetime(raw.astype("string").str.strip().where(~blank, None), format=fmt, errors="coerce")
    bad = (ts.isna() & ~blank) | (blank if required else False)
    arr = bad.to_numpy(dtype=bool)
    if arr.any():
        i = int(arr.argmax())
        raise bad_value(source, i, column, None if blank.iloc[i] else raw.iloc[i], f"a date-time such as {example!r}")
    return ts.astype("datetime64[us]")


def _known(values: pd.Series, known: pd.Index | set[str], column: str, source: str, where: str) -> None:
    """Every non-null value must be one of ``known`` (a foreign key into another file)."""
    arr = (values.notna() & ~values.isin(known)).to_numpy(dtype=bool)
    if arr.any():
        i = int(arr.argmax())
        raise bad_value(source, i, column, values.iloc[i], f"an id listed in {where}")


_PREFIX = re.compile(r"^column '([^']*)' in .* row (\d+) is ")


def validated(frame: pd.DataFrame, kind: str, source: str, columns: dict[str, str]) -> pd.DataFrame:
    """:func:`validate_frame`, with errors pointing back at the source column and row.

    ``frame``'s index holds the 0-based source row of each canonical row; ``columns`` maps
    canonical column → source column.
    """
    rows = frame.index.to_numpy()
    try:
        return validate_frame(frame.reset_index(drop=True), TABLES[kind], source=source)
    except SchemaError as e:
        m = _PREFIX.match(str(e))
        if not m:
            raise
        canon, pos = m.group(1), int(m.group(2)) - 1
        src_col, src_row = columns.get(canon, canon), int(rows[pos]) + 1
        msg = f"column '{src_col}' in {source} row {src_row} is " + str(e)[m.end() :]
        err = SchemaError(msg)
        err.source, err.row, err.column = source, src_row, src_col
        err.value, err.expected = getattr(e, "value", None), getattr(e, "expected", None)
        raise err from None


def _stages(ws: Store, touchpoints: pd.Series, fallback: dict[str, str]) -> pd.Series:
    """Stage of each touchpoint from the workspace journey, else the adapter's default."""
    stage = touchpoints.map(ws.journey.stage_of())
    return stage.where(stage.notna(), touchpoints.map(fallback)).astype(object).where(lambda s: s.notna(), None)


def insert_all(ws: Store, tables: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Insert validated canonical tables in ONE transaction; rows whose id exists are skipped."""
    return {name: r.inserted for name, r in insert_tables(ws, tables).items()}


# -- Olist ------------------------------------------------------------------------------------
OLIST_FILES = {
    "orders": (
        "olist_orders_dataset.csv",
        (
            "order_id",
            "customer_id",
            "order_status",
            "order_purchase_timestamp",
            "order_approved_at",
            "order_delivered_carrier_date",
            "order_delivered_customer_date",
            "order_estimated_delivery_date",
        ),
    ),
    "customers": (
        "olist_customers_dataset.csv",
        ("customer_id", "customer_unique_id", "customer_zip_code_prefix", "customer_city", "customer_state"),
    ),
    "items": (
        "olist_order_items_dataset.csv",
        ("order_id", "order_item_id", "product_id", "price", "freight_value"),
    ),
    "payments": ("olist_order_payments_dataset.csv", ("order_id", "payment_value")),
    "reviews": (
        "olist_order_reviews_dataset.csv",
        (
            "review_id",
            "order_id",
            "review_score",
            "review_comment_title",
            "review_comment_message",
            "review_creation_date",
            "review_answer_timestamp",
        ),
    ),
}
_OLIST_TS = ("%Y-%m-%d %H:%M:%S", "2017-10-02 10:56:33")
_OLIST_FALLBACK_STAGE = {"checkout": "purchase", "order_confirmation": "purchase", "delivery": "service"}


def import_olist(ws: Store, directory: str | Path) -> dict[str, int]:
    """Import the Olist Brazilian e-commerce export (Kaggle ``olistbr/brazilian-ecommerce``).

    Reads the orders, customers, order items, payments and reviews files of ``directory`` and
    fills customers, orders, order_items, events, feedback and reviews. A customer is Olist's
    ``customer_unique_id`` (Olist issues a new ``customer_id`` per order), so repeat buyers are
    one customer. An order's amount is the sum of its payments (what the customer paid, vouchers
    included); an order without payments falls back to the sum of item price + freight, else 0.
    Each review becomes a CSAT answer at touchpoint ``delivery`` and a row of ``reviews``; order
    milestones become events ``purchase``, ``order_approved``, ``shipped`` and ``delivery``.

    Parameters
    ----------
    ws
        A writable workspace.
    directory
        Folder holding the Olist CSV files under their original names.

    Returns
    -------
    dict
        Table name → rows inserted (0 everywhere when the same export is imported again).

    Raises
    ------
    ImportFileError
        A file or column is missing.
    SchemaError
        A value is malformed, naming file, row, column and what was expected; nothing is written.

    Examples
    --------
    >>> import cxlens
    >>> ws = cxlens.open(":memory:")
    >>> import_olist(ws, "data/olist")  # doctest: +SKIP
    {'customers': 8016, 'orders': 8135, 'order_items': 8365, 'events': 27647, 'feedback': 8225, 'reviews': 8225}
    """
    d = Path(directory)
    if not d.is_dir():
        raise ImportFileError(f"{str(d)!r} is not a folder; expected the folder holding the Olist CSV files")
    absent = [name for name, _ in OLIST_FILES.values() if not (d / name).is_file()]
    if absent:
        raise ImportFileError(
            f"folder {str(d)!r} has no {absent[0]}; expected the Olist files "
            f"{', '.join(n for n, _ in OLIST_FILES.values())} under their original names"
        )
    raw = {k: read_source(d / name, cols) for k, (name, cols) in OLIST_FILES.items()}
    src = {k: name for k, (name, _) in OLIST_FILES.items()}

    # customers file: per-order customer_id → customer_unique_id
    cu = raw["customers"]
    cu_id = required_column(cu, "customer_id", src["customers"], "a customer id")
    cu_uid = required_column(cu, "customer_unique_id", src["customers"], "a customer unique id")
    dup = cu_id.duplicated(keep=False)
    if dup.any():
        clash = pd.DataFrame({"id": cu_id, "uid": cu_uid})[dup].drop_duplicates()
        twice = clash["id"].duplicated().to_numpy()
        if twice.any():
            i = int(clash.index[int(twice.argmax())])
            raise bad_value(
                src["customers"],
                i,
                "customer_unique_id",
                cu_uid.iloc[i],
                f"one customer_unique_id per customer_id ({cu_id.iloc[i]!r} has several)",
            )
    uid_of = pd.Series(cu_uid.to_numpy(), index=cu_id.to_numpy()).groupby(level=0).first()

    # orders
    o = raw["orders"]
    f = src["orders"]
    order_id = required_column(o, "order_id", f, "an order id")
    o_cid = required_column(o, "customer_id", f, "a customer id")
    _known(o_cid, uid_of.index, "customer_id", f, src["customers"])
    purchased = _times(o, "order_purchase_timestamp", f, *_OLIST_TS)
    approved = _times(o, "order_approved_at", f, *_OLIST_TS, required=False)
    carrier = _times(o, "order_delivered_carrier_date", f, *_OLIST_TS, required=False)
    delivered = _times(o, "order_delivered_customer_date", f, *_OLIST_TS, required=False)
    estimated = _times(o, "order_estimated_delivery_date", f, *_OLIST_TS, required=False)
    status = text_column(o, "order_status")
    customer = o_cid.map(uid_of)
    known_orders = pd.Index(order_id.dropna())

    # payments and items give the amount
    p = raw["payments"]
    p_order = required_column(p, "order_id", src["payments"], "an order id")
    _known(p_order, known_orders, "order_id", src["payments"], f)
    paid = number_column(p, "payment_value", src["payments"], lo=0).groupby(p_order.to_numpy()).sum()

    it = raw["items"]
    fi = src["items"]
    i_order = required_column(it, "order_id", fi, "an order id")
    _known(i_order, known_orders, "order_id", fi, f)
    price = number_column(it, "price", fi, lo=0)
    freight = number_column(it, "freight_value", fi, lo=0, required=False)
    number_column(it, "order_item_id", fi, integer=True, lo=1)
    item_total = (price + freight.fillna(0)).groupby(i_order.to_numpy()).sum()

    amount = order_id.map(paid)
    amount = amount.where(amount.notna(), order_id.map(item_total)).fillna(0.0).astype(float).round(2)

    orders = pd.DataFrame(
        {
            "order_id": order_id,
            "customer_id": customer,
            "ts": purchased,
            "amount": amount,
            "currency": "BRL",
            "status": status,
            "channel": "web",
        }
    )
    order_items = pd.DataFrame(
        {
            "order_id": i_order,
            "item_id": text_column(it, "order_item_id"),
            "product_id": text_column(it, "product_id"),
            "quantity": 1.0,
            "price": price,
        }
    )

    # customers: one per unique id; created_at = first purchase; address of the latest order
    per_order = pd.DataFrame({"cid": o_cid, "uid": customer, "ts": purchased})
    first = per_order.groupby("uid")["ts"].min()
    latest_cid = per_order.sort_values("ts", kind="stable").groupby("uid")["cid"].last()
    cu_rows = pd.DataFrame({"cid": cu_id, "uid": cu_uid})
    cu_rows["rank"] = cu_rows["cid"].isin(set(latest_cid.to_numpy())).astype(int)
    pick = cu_rows.sort_values("rank", kind="stable").groupby("uid").tail(1).sort_index()
    traits = [
        {k: v for k, v in (("city", c), ("state", s), ("zip_code_prefix", z)) if v is not None}
        for c, s, z in zip(
            text_column(cu, "customer_city")[pick.index],
            text_column(cu, "customer_state")[pick.index],
            text_column(cu, "customer_zip_code_prefix")[pick.index],
            strict=True,
        )
    ]
    customers = pd.DataFrame(
        {
            "customer_id": pick["uid"],
            "created_at": pick["uid"].map(first).astype("datetime64[us]"),
            "country": "BR",
            "traits": pd.Series(traits, index=pick.index, dtype=object),
        }
    )

    # reviews → CSAT feedback + reviews
    r = raw["reviews"]
    fr = src["reviews"]
    r_id = required_column(r, "review_id", fr, "a review id")
    r_order = required_column(r, "order_id", fr, "an order id")
    _known(r_order, known_orders, "order_id", fr, f)
    score = number_column(r, "review_score", fr, integer=True, lo=1, hi=5)
    created = _times(r, "review_creation_date", fr, *_OLIST_TS)
    answered = _times(r, "review_answer_timestamp", fr, *_OLIST_TS, required=False)
    title, message = text_column(r, "review_comment_title"), text_column(r, "review_comment_message")
    comment = [" — ".join(x for x in (t, m) if x) or None for t, m in zip(title, message, strict=True)]
    fb_id = r_id + ":" + r_order
    r_customer = r_order.map(pd.Series(customer.to_numpy(), index=order_id.to_numpy()))
    props = [
        {"order_id": oid, "answered_at": (a.isoformat(sep=" ") if pd.notna(a) else None)}
        for oid, a in zip(r_order, answered, strict=True)
    ]
    feedback = pd.DataFrame(
        {
            "feedback_id": fb_id,
            "customer_id": r_customer,
            "ts": created,
            "metric": "csat",
            "score": score,
            "comment": comment,
            "touchpoint": "delivery",
            "channel": "email",
            "survey_id": "olist_review",
            "properties": pd.Series(props, index=r.index, dtype=object),
        }
    )
    feedback["stage"] = _stages(ws, feedback["touchpoint"], _OLIST_FALLBACK_STAGE)
    reviews = pd.DataFrame(
        {
            "review_id": fb_id,
            "source": "olist",
            "customer_id": r_customer,
            "ts": created,
            "rating": score,
            "title": title,
            "body": message,
            "touchpoint": "delivery",
        }
    )

    # order milestones → events
    days_late = (delivered.dt.normalize() - estimated.dt.normalize()).dt.days
    milestones = (
        ("purchase", purchased, "checkout", "web"),
        ("order_approved", approved, "order_confirmation", "email"),
        ("shipped", carrier, "delivery", "logistics"),
        ("delivery", delivered, "delivery", "logistics"),
    )
    parts = []
    for name, when, touchpoint, channel in milestones:
        has = when.notna()
        ev = pd.DataFrame(
            {
                "event_id": "olist:" + order_id[has] + ":" + name,
                "customer_id": customer[has],
                "ts": when[has],
                "type": "track",
                "name": name,
                "channel": channel,
                "touchpoint": touchpoint,
            }
        )
        props = [{"order_id": oid, "status": st} for oid, st in zip(order_id[has], status[has], strict=True)]
        if name == "delivery":
            for pr, late, est in zip(props, days_late[has], estimated[has], strict=True):
                if pd.notna(est):
                    pr.update(late=bool(late > 0), days_late=int(late), estimated_delivery_date=est.date().isoformat())
        ev["properties"] = pd.Series(props, index=ev.index, dtype=object)
        ev["revenue"] = amount[has] if name == "purchase" else np.nan
        parts.append(ev)
    events = pd.concat(parts)
    events["stage"] = _stages(ws, events["touchpoint"], _OLIST_FALLBACK_STAGE)

    tables = {
        "customers": validated(
            customers, "customers", src["customers"], {"customer_id": "customer_unique_id", "traits": "customer_city"}
        ),
        "orders": validated(
            orders, "orders", f, {"ts": "order_purchase_timestamp", "status": "order_status", "amount": "payment_value"}
        ),
        "order_items": validated(order_items, "order_items", fi, {"item_id": "order_item_id"}),
        "events": validated(events, "events", f, {"event_id": "order_id"}),
        "feedback": validated(
            feedback,
            "feedback",
            fr,
            {"feedback_id": "review_id", "score": "review_score", "ts": "review_creation_date"},
        ),
        "reviews": validated(
            reviews, "reviews", fr, {"review_id": "review_id", "rating": "review_score", "ts": "review_creation_date"}
        ),
    }
    return insert_all(ws, tables)


# -- CDNOW ------------------------------------------------------------------------------------
def import_cdnow(ws: Store, path: str | Path) -> dict[str, int]:
    """Import the CDNOW transaction log (``CDNOW_master.txt``, Fader & Hardie).

    Each line is one transaction: ``customer_id date number_of_cds dollar_value``, separated by
    whitespace. A customer can buy several times on one day, so the order id is
    ``{customer_id}-{YYYYMMDD}-{n}`` where ``n`` numbers that customer's transactions of that day
    in file order (1, 2, …): identical lines stay distinct orders. Amounts are USD; a customer's
    ``created_at`` is their first purchase. ``number_of_cds`` has no canonical column and is
    checked but not stored.

    Examples
    --------
    >>> import cxlens
    >>> ws = cxlens.open(":memory:")
    >>> import_cdnow(ws, "data/cdnow/CDNOW_master.txt")  # doctest: +SKIP
    {'customers': 23570, 'orders': 69659}
    """
    p = Path(path)
    t = read_source(p, ("customer_id", "date", "number_of_cds", "dollar_value"), sep=r"\s+")
    f = p.name
    cid = required_column(t, "customer_id", f, "a customer id")
    day = _times(t, "date", f, "%Y%m%d", "19970101")
    number_column(t, "number_of_cds", f, integer=True, lo=0)
    value = number_column(t, "dollar_value", f, lo=0)
    date_text = text_column(t, "date")
    seq = pd.DataFrame({"c": cid, "d": date_text}).groupby(["c", "d"], sort=False).cumcount() + 1
    orders = pd.DataFrame(
        {
            "order_id": cid + "-" + date_text + "-" + seq.astype(str),
            "customer_id": cid,
            "ts": day,
            "amount": value,
            "currency": "USD",
            "status": "completed",
        }
    )
    first = orders.reset_index().sort_values(["ts", "index"]).groupby("customer_id", sort=False).first()
    customers = pd.DataFrame(
        {"customer_id": first.index.to_numpy(), "created_at": first["ts"].to_numpy()},
        index=first["index"].to_numpy(),
    ).sort_index()
    return insert_all(
        ws,
        {
            "customers": validated(customers, "customers", f, {"created_at": "date"}),
            "orders": validated(
                orders, "orders", f, {"ts": "date", "amount": "dollar_value", "order_id": "customer_id"}
            ),
        },
    )


# -- IBM Telco customer churn -----------------------------------------------------------------
#: source column → trait name; numbers are stored as JSON numbers, the rest as the source text
TELCO_TRAITS = {
    "gender": "gender",
    "SeniorCitizen": "senior_citizen",
    "Partner": "partner",
    "Dependents": "dependents",
    "tenure": "tenure_months",
    "PhoneService": "phone_service",
    "MultipleLines": "multiple_lines",
    "InternetService": "internet_service",
    "OnlineSecurity": "online_security",
    "OnlineBackup": "online_backup",
    "DeviceProtection": "device_protection",
    "TechSupport": "tech_support",
    "StreamingTV": "streaming_tv",
    "StreamingMovies": "streaming_movies",
    "Contract": "contract",
    "PaperlessBilling": "paperless_billing",
    "PaymentMethod": "payment_method",
    "MonthlyCharges": "monthly_charges",
    "TotalCharges": "total_charges",
    "Churn": "churn",
}


def import_telco_churn(ws: Store, path: str | Path) -> dict[str, int]:
    """Import IBM's Telco Customer Churn sample (``WA_Fn-UseC_-Telco-Customer-Churn.csv``).

    One customer per row: ``segment`` = Contract, ``plan`` = InternetService, ``country`` US, and
    every column but customerID as a snake_case trait (``traits.churn`` is "Yes"/"No",
    ``traits.tenure_months`` the months as a customer). The data has no dates, so ``created_at``
    and ``churned_at`` stay empty. A blank TotalCharges (new customers, tenure 0) becomes null.

    Examples
    --------
    >>> import cxlens
    >>> ws = cxlens.open(":memory:")
    >>> import_telco_churn(ws, "data/telco-churn/WA_Fn-UseC_-Telco-Customer-Churn.csv")  # doctest: +SKIP
    {'customers': 7043}
    """
    p = Path(path)
    t = read_source(p, ("customerID", *TELCO_TRAITS))
    f = p.name
    cid = required_column(t, "customerID", f, "a customer id")
    values: dict[str, pd.Series] = {}
    for col, trait in TELCO_TRAITS.items():
        values[trait] = text_column(t, col)
    values["senior_citizen"] = number_column(t, "SeniorCitizen", f, integer=True, lo=0, hi=1)
    values["tenure_months"] = number_column(t, "tenure", f, integer=True, lo=0)
    values["monthly_charges"] = number_column(t, "MonthlyCharges", f, lo=0)
    values["total_charges"] = number_column(t, "TotalCharges", f, lo=0, required=False)
    churn = values["churn"]
    bad = (~churn.isin(["Yes", "No"])).to_numpy()
    if bad.any():
        i = int(bad.argmax())
        raise bad_value(f, i, "Churn", t["Churn"].iloc[i], "'Yes' or 'No'")
    ints = {"senior_citizen", "tenure_months"}
    frame = pd.DataFrame(values)
    traits = []
    for rec in frame.to_dict("records"):
        out = {}
        for k, v in rec.items():
            if v is None or (isinstance(v, float) and np.isnan(v)):
                continue
            out[k] = int(v) if k in ints else v
        traits.append(out)
    customers = pd.DataFrame(
        {
            "customer_id": cid,
            "segment": values["contract"],
            "plan": values["internet_service"],
            "country": "US",
            "traits": pd.Series(traits, index=t.index, dtype=object),
        }
    )
    return insert_all(ws, {"customers": validated(customers, "customers", f, {"customer_id": "customerID"})})


# -- NPS verbatims (UK telecom) ---------------------------------------------------------------
#: SURVEY_SUB_TYPE → (touchpoint, stage used when the workspace journey does not know the touchpoint)
NPS_SURVEY_TOUCHPOINTS = {
    "Order": ("order", "purchase"),
    "Equipment Received": ("delivery", "service"),
    "First Payment": ("billing", "service"),
    "Service in Use": ("service_in_use", "loyalty"),
}
_NPS_BUCKETS = ((0, 6, "Detractor"), (7, 8, "Passive"), (9, 10, "Promoter"))


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def import_nps_verbatims(ws: Store, path: str | Path) -> dict[str, int]:
    """Import NPS survey answers with verbatims (``nps_verbatims.csv``: UK broadband provider).

    Each scored row becomes NPS feedback: score = NPS_SCORE, ts = CUSTOMER_RESPONSE_DATE read
    **day first** (``dd/mm/yyyy HH:MM``), comment = text, survey_id = slug of SURVEY_SUB_TYPE
    (``order``, ``first_payment``, …), touchpoint and stage from :data:`NPS_SURVEY_TOUCHPOINTS`,
    properties ``{nps_rating, qtr, survey_sub_type}``. Rows without a score (and without a
    rating) cannot be NPS answers and are skipped; a rating that disagrees with its score
    (Detractor 0–6, Passive 7–8, Promoter 9–10) is an error. The source has no id, so the
    feedback id is a hash of the row plus its occurrence number among identical rows.

    Examples
    --------
    >>> import cxlens
    >>> ws = cxlens.open(":memory:")
    >>> import_nps_verbatims(ws, "data/nps-verbatims-telecom/nps_verbatims.csv")  # doctest: +SKIP
    {'feedback': 2353}
    """
    p = Path(path)
    cols = ("CUSTOMER_RESPONSE_DATE", "SURVEY_SUB_TYPE", "NPS_RATING", "NPS_SCORE", "text", "Qtr")
    t = read_source(p, cols)
    f = p.name
    ts = _times(t, "CUSTOMER_RESPONSE_DATE", f, "%d/%m/%Y %H:%M", "31/01/2018 19:45")
    sub = required_column(t, "SURVEY_SUB_TYPE", f, "a survey type")
    unknown = (~sub.isin(NPS_SURVEY_TOUCHPOINTS)).to_numpy()
    if unknown.any():
        i = int(unknown.argmax())
        raise bad_value(f, i, "SURVEY_SUB_TYPE", sub.iloc[i], "one of " + ", ".join(map(repr, NPS_SURVEY_TOUCHPOINTS)))
    score = number_column(t, "NPS_SCORE", f, integer=True, lo=0, hi=10, required=False)
    rating = text_column(t, "NPS_RATING")
    expected = pd.Series(None, index=t.index, dtype=object)
    for lo, hi, label in _NPS_BUCKETS:
        expected[(score >= lo) & (score <= hi)] = label
    wrong = (rating.notna() & (rating != expected).fillna(True)).to_numpy()
    if wrong.any():
        i = int(wrong.argmax())
        want = (
            f"{expected.iloc[i]!r} for NPS_SCORE {score.iloc[i]:g}"
            if pd.notna(score.iloc[i])
            else "empty, as NPS_SCORE is empty"
        )
        raise bad_value(f, i, "NPS_RATING", rating.iloc[i], want)

    text, qtr = text_column(t, "text"), text_column(t, "Qtr")
    key = (
        t["CUSTOMER_RESPONSE_DATE"].astype(str)
        + "\x1f"
        + sub
        + "\x1f"
        + t["NPS_SCORE"].fillna("").astype(str)
        + "\x1f"
        + t["text"].fillna("").astype(str)
    )
    digest = key.map(lambda k: hashlib.sha1(k.encode("utf-8")).hexdigest()[:16])
    occurrence = digest.groupby(digest).cumcount() + 1
    touchpoint = sub.map({k: v[0] for k, v in NPS_SURVEY_TOUCHPOINTS.items()})
    fallback = {tp: st for tp, st in NPS_SURVEY_TOUCHPOINTS.values()}
    props = [
        {k: v for k, v in (("nps_rating", r), ("qtr", q), ("survey_sub_type", s)) if v is not None}
        for r, q, s in zip(rating, qtr, sub, strict=True)
    ]
    feedback = pd.DataFrame(
        {
            "feedback_id": "npsv_" + digest + "-" + occurrence.astype(str),
            "ts": ts,
            "metric": "nps",
            "score": score,
            "comment": text,
            "touchpoint": touchpoint,
            "stage": _stages(ws, touchpoint, fallback),
            "survey_id": sub.map(slug),
            "properties": pd.Series(props, index=t.index, dtype=object),
        }
    )
    feedback = feedback[score.notna()]
    return insert_all(
        ws,
        {
            "feedback": validated(
                feedback,
                "feedback",
                f,
                {
                    "ts": "CUSTOMER_RESPONSE_DATE",
                    "score": "NPS_SCORE",
                    "comment": "text",
                    "survey_id": "SURVEY_SUB_TYPE",
                },
            ),
        },
    )


#: adapter name (as typed after ``cxlens import``) → function(workspace, path)
ADAPTERS: dict[str, Callable[[Store, str | Path], dict[str, int]]] = {
    "olist": import_olist,
    "cdnow": import_cdnow,
    "telco-churn": import_telco_churn,
    "nps-verbatims": import_nps_verbatims,
}
