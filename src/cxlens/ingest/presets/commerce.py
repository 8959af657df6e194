"""Commerce, analytics and review platforms: Shopify orders, GA4 and Segment events, app-store and
Trustpilot reviews."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cxlens.errors import ImportFileError
from cxlens.ingest.load import ImportReport
from cxlens.ingest.presets.base import (
    excluded_rows,
    load_tables,
    preset,
    properties,
    read_export,
    require_columns,
    text,
)
from cxlens.ingest.spec import ImportSpec

__all__: list[str] = []


def _with_epoch(spec: ImportSpec, unit: str) -> ImportSpec:
    return spec if spec.epoch else ImportSpec(**{**vars(spec), "epoch": unit})


# -- Shopify ----------------------------------------------------------------------------------------------------
@preset("shopify", ("customers", "orders", "order_items"), "Shopify orders export (CSV, one row per line item)")
def shopify(store: Any, path: Path, spec: ImportSpec, name: str) -> dict[str, ImportReport]:
    """Shopify 'Orders → Export → CSV for Excel…'. One row per line item; the order's fields are on
    its first row only. An order is its ``Name`` (``#1001``); a guest checkout without an e-mail is
    kept, as customer ``guest:#1001``; line items go to ``order_items``."""
    src, raw = read_export(path, spec, name)
    require_columns(raw, ("Name", "Created at", "Total", "Lineitem quantity", "Lineitem name", "Lineitem price"),
                    name, "Shopify orders")  # fmt: skip
    first = ~raw["Name"].duplicated()
    orders_raw = raw[first]
    email = text(orders_raw["Email"]) if "Email" in raw else pd.Series(None, index=orders_raw.index, dtype=object)
    customer = email.where(email.notna(), "guest:" + orders_raw["Name"].astype(str))
    # the order's status for the value metrics (metrics/value.py leaves out cancelled and returned
    # orders): a cancelled order ('Cancelled at' set; a voided payment) is 'cancelled', a fully
    # refunded one 'returned'; otherwise the payment status (paid, pending, partially_refunded…)
    pay = orders_raw["Financial Status"].astype("str").str.strip().str.lower() if "Financial Status" in raw \
        else pd.Series("", index=orders_raw.index)  # fmt: skip
    cancelled = text(orders_raw["Cancelled at"]).notna() if "Cancelled at" in raw \
        else pd.Series(False, index=orders_raw.index)  # fmt: skip
    status = pd.Series(
        np.where(cancelled | pay.eq("voided"), "cancelled", np.where(pay.eq("refunded"), "returned", pay)),
        index=orders_raw.index,
    )
    status = status.where(~status.isin(["", "nan", "none"]), None)
    # revenue net of refunds: 'Total' less 'Refunded Amount' (the gross total stays in properties)
    total = pd.to_numeric(orders_raw["Total"], errors="coerce")
    refunded = pd.to_numeric(orders_raw["Refunded Amount"], errors="coerce").fillna(0) if "Refunded Amount" in raw \
        else 0  # fmt: skip
    net = (total - refunded).round(2)
    orders = pd.DataFrame({
        "order_id": orders_raw["Name"], "customer_id": customer, "ts": orders_raw["Created at"],
        "amount": net.where(total.notna(), orders_raw["Total"]), "currency": orders_raw.get("Currency"),
        "status": status, "channel": orders_raw.get("Source"),
    })  # fmt: skip
    orders["properties"] = properties(orders_raw, ["Financial Status", "Fulfillment Status", "Total", "Subtotal",
                                               "Shipping", "Taxes", "Discount Code", "Discount Amount", "Shipping Method",
                                               "Refunded Amount", "Outstanding Balance", "Id", "Tags", "Payment Method",
                                               "Cancelled at"])  # fmt: skip
    items = pd.DataFrame({
        "order_id": raw["Name"],
        "product_id": text(raw["Lineitem sku"]).where(lambda s: s.notna(), raw["Lineitem name"]) if "Lineitem sku" in raw
        else raw["Lineitem name"],
        "quantity": raw["Lineitem quantity"], "price": raw["Lineitem price"],
    })  # fmt: skip
    items["properties"] = properties(raw, ["Lineitem name", "Lineitem compare at price", "Lineitem discount", "Vendor",
                                       "Lineitem fulfillment status"])  # fmt: skip
    known = orders_raw[email.notna()]
    customers = pd.DataFrame({
        "customer_id": email[email.notna()], "email": email[email.notna()],
        "name": text(known["Billing Name"]) if "Billing Name" in raw else None,
        "country": text(known["Billing Country"]) if "Billing Country" in raw else None,
    })  # fmt: skip
    customers = customers[~customers["customer_id"].duplicated()]
    return load_tables(store, {"customers": customers, "orders": orders, "order_items": items}, spec, name)


# -- GA4 (BigQuery export) ---------------------------------------------------------------------------------------
def _params(v: Any) -> dict[str, Any]:
    """GA4 ``event_params`` (``[{key, value: {string_value|int_value|float_value|double_value}}]``) → dict."""
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except ValueError:
            return {}
    if isinstance(v, np.ndarray):
        v = v.tolist()
    out: dict[str, Any] = {}
    for p in v or []:
        if not isinstance(p, dict):
            continue
        val = p.get("value") or {}
        got = next(
            (val[k] for k in ("string_value", "int_value", "double_value", "float_value") if val.get(k) is not None),
            None,
        )
        if got is not None:
            out[str(p.get("key"))] = int(got) if isinstance(got, str) and got.lstrip("-").isdigit() else got
    return out


@preset("ga4", ("events",), "Google Analytics 4 BigQuery export (JSON Lines or Parquet)")
def ga4(store: Any, path: Path, spec: ImportSpec, name: str) -> dict[str, ImportReport]:
    """GA4's BigQuery export rows (``events_YYYYMMDD``): ``event_timestamp`` in microseconds,
    ``event_params`` flattened into ``properties`` (``page_location`` → url, ``ga_session_id`` →
    session); events with only ``user_pseudo_id`` are kept as anonymous."""
    src, raw = read_export(path, spec, name)
    require_columns(raw, ("event_timestamp", "event_name", "user_pseudo_id"), name, "GA4 BigQuery")
    params = raw["event_params"].map(_params) if "event_params" in raw else pd.Series([{}] * len(raw), index=raw.index)
    session = params.map(lambda p: p.get("ga_session_id"))
    revenue = raw["ecommerce"].map(lambda e: (e or {}).get("purchase_revenue") if isinstance(e, dict) else None) \
        if "ecommerce" in raw else params.map(lambda p: p.get("value"))  # fmt: skip
    extra = []
    for p, dev, geo in zip(params, raw.get("device", pd.Series(None, index=raw.index)),
                           raw.get("geo", pd.Series(None, index=raw.index)), strict=True):  # fmt: skip
        d = dict(p)
        if isinstance(dev, dict):
            d["device"] = {k: v for k, v in dev.items() if v is not None}
        if isinstance(geo, dict):
            d["geo"] = {k: v for k, v in geo.items() if v is not None}
        extra.append(d or None)
    events = pd.DataFrame({
        "customer_id": raw.get("user_id"), "anonymous_id": raw["user_pseudo_id"],
        # ga_session_id is the session's start in seconds: unique only with the user (Google's
        # "[GA4] BigQuery Export" query examples count sessions as user_pseudo_id + ga_session_id)
        "session_id": [None if s is None else f"{u}:{s}" if u is not None and u == u else f"{s}"
                       for u, s in zip(raw["user_pseudo_id"], session, strict=True)],
        "ts": raw["event_timestamp"], "type": raw["event_name"].map(lambda n: "page" if n == "page_view" else "track"),
        "name": raw["event_name"], "channel": raw["platform"].map(lambda p: str(p).lower() if p else None) if "platform" in raw else "web",
        "url": params.map(lambda p: p.get("page_location")), "properties": extra, "revenue": revenue,
    })  # fmt: skip
    return load_tables(store, {"events": events}, _with_epoch(spec, "us"), name)


# -- Segment (warehouse tables) -----------------------------------------------------------------------------------
@preset("segment", ("events",), "Segment warehouse tables: tracks, pages, identifies (CSV, JSON Lines, Parquet)")
def segment(store: Any, path: Path, spec: ImportSpec, name: str) -> dict[str, ImportReport]:
    """A Segment warehouse table exported as a file: ``tracks`` (``event``), ``pages``
    (``name``/``path``/``url``) or ``identifies`` (traits as columns). ``id`` is the event id;
    rows with only ``anonymous_id`` are kept."""
    src, raw = read_export(path, spec, name)
    require_columns(raw, ("id", "timestamp"), name, "Segment warehouse")
    cols = set(raw.columns)
    if "event" in cols:
        kind, event_name = "track", raw["event"]
    elif cols & {"path", "url"}:
        kind, event_name = "page", (text(raw["name"]) if "name" in cols else pd.Series(None, index=raw.index))
        event_name = event_name.where(event_name.notna(), "page_view")
    else:
        kind, event_name = "identify", pd.Series("identify", index=raw.index)
    url = raw["url"] if "url" in cols else raw.get("context_page_url")
    used = {"id", "user_id", "anonymous_id", "timestamp", "event", "event_text", "name", "url", "context_page_url",
            "received_at", "sent_at", "original_timestamp", "uuid_ts", "loaded_at"}  # fmt: skip
    events = pd.DataFrame({
        "event_id": raw["id"], "customer_id": raw.get("user_id"), "anonymous_id": raw.get("anonymous_id"),
        "ts": raw["timestamp"], "type": kind, "name": event_name, "url": url, "channel": "web",
        "properties": properties(raw, [c for c in raw.columns if c not in used]),
        "revenue": raw.get("revenue"),
    })  # fmt: skip
    return load_tables(store, {"events": events}, spec, name)


# -- App stores ----------------------------------------------------------------------------------------------------
@preset("app-reviews", ("reviews",), "Google Play console review reports (UTF-16 CSV) and App Store reviews (JSON)")
def app_reviews(store: Any, path: Path, spec: ImportSpec, name: str) -> dict[str, ImportReport]:
    """Google Play Console 'Download reports → Reviews' (``reviews_reviews_<package>_<YYYYMM>.csv``,
    UTF-16) or App Store customer reviews as JSON (the RSS feed's ``feed.entry`` or App Store
    Connect API ``data`` items)."""
    left: dict[str, list[Any]] = {}
    if path.suffix.lower() == ".json" and _is_rss(path):
        raw = pd.DataFrame(_rss_entries(path, name))
        review = raw["im:rating"].notna() if "im:rating" in raw else pd.Series(False, index=raw.index)
        if not review.any():
            raise ImportFileError(
                f"{name} is an App Store customer-reviews feed without reviews: no entry of feed.entry has an "
                "'im:rating' (the feed's first page also lists the app itself, which is not a review)"
            )
        left = excluded_rows(~review, "not a review (the feed's entry for the app, without im:rating)")
        raw = raw[review]
    else:
        src, raw = read_export(path, spec, name)
    if "Star Rating" in raw.columns:
        require_columns(
            raw, ("Package Name", "Review Submit Date and Time", "Star Rating"), name, "Google Play reviews"
        )
        rid = text(raw["Review Link"]) if "Review Link" in raw else None
        reviews = pd.DataFrame({
            "source": "google_play", "ts": raw["Review Submit Date and Time"], "rating": raw["Star Rating"],
            "title": text(raw["Review Title"]) if "Review Title" in raw else None,
            "body": text(raw["Review Text"]) if "Review Text" in raw else None, "product_id": raw["Package Name"],
            "touchpoint": "app_store",
        })  # fmt: skip
        if rid is not None and rid.notna().all():
            reviews["review_id"] = rid
        reviews["properties"] = properties(raw, ["App Version Name", "App Version Code", "Reviewer Language", "Device",
                                             "Developer Reply Text", "Developer Reply Date and Time"])  # fmt: skip
        return load_tables(store, {"reviews": reviews}, spec, name)

    def label(col: str) -> pd.Series:
        return (
            raw[col].map(lambda v: v.get("label") if isinstance(v, dict) else v)
            if col in raw
            else pd.Series(None, index=raw.index)
        )

    if "im:rating" in raw.columns:
        reviews = pd.DataFrame({
            "review_id": "appstore:" + label("id").astype(str), "source": "app_store", "ts": label("updated"),
            "rating": label("im:rating"), "title": label("title"), "body": label("content"), "touchpoint": "app_store",
            "customer_id": raw["author"].map(lambda a: (a.get("name") or {}).get("label") if isinstance(a, dict) else None),
        })  # fmt: skip
        reviews["properties"] = [{"version": v} if isinstance(v, str) and v else None for v in label("im:version")]
        return load_tables(store, {"reviews": reviews}, spec, name, excluded=left)
    require_columns(raw, ("id", "attributes"), name, "App Store Connect customerReviews")
    attr = raw["attributes"]
    reviews = pd.DataFrame({
        "review_id": "appstore:" + raw["id"].astype(str), "source": "app_store",
        "ts": attr.map(lambda a: a.get("createdDate")), "rating": attr.map(lambda a: a.get("rating")),
        "title": attr.map(lambda a: a.get("title")), "body": attr.map(lambda a: a.get("body")),
        "customer_id": attr.map(lambda a: a.get("reviewerNickname")), "touchpoint": "app_store",
        "properties": attr.map(lambda a: {"territory": a.get("territory")} if a.get("territory") else None),
    })  # fmt: skip
    return load_tables(store, {"reviews": reviews}, spec, name)


def _rss_entries(path: Path, name: str) -> list[dict[str, Any]]:
    """``feed.entry`` of an App Store customer-reviews feed: the feed writes a single entry as an
    object rather than an array, and a page without reviews without ``entry``."""
    try:
        doc = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ImportFileError(f"{name} is not valid UTF-8 JSON: {e}") from None
    feed = doc.get("feed") if isinstance(doc, dict) else None
    entry = feed.get("entry") if isinstance(feed, dict) else None
    if isinstance(entry, dict):
        entry = [entry]
    if not isinstance(entry, list) or not all(isinstance(e, dict) for e in entry) or not entry:
        raise ImportFileError(
            f"{name} is an App Store customer-reviews feed without reviews: feed.entry is missing or not a list "
            "of objects (the feed leaves it out on a page past the last review)"
        )
    return entry


def _is_rss(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(4096)
    return b'"feed"' in head


# -- Trustpilot -----------------------------------------------------------------------------------------------------
@preset("trustpilot", ("reviews",), "Trustpilot Business review export (CSV)")
def trustpilot(store: Any, path: Path, spec: ImportSpec, name: str) -> dict[str, ImportReport]:
    """Trustpilot Business 'Reviews → Export' CSV: ``Review ID``, ``Review Created (UTC)``,
    ``Review Stars``, ``Review Title``, ``Review Content``, ``Review Consumer User ID``."""
    src, raw = read_export(path, spec, name)
    require_columns(raw, ("Review ID", "Review Created (UTC)", "Review Stars"), name, "Trustpilot")
    used = {"Review ID", "Review Created (UTC)", "Review Stars", "Review Title", "Review Content",
            "Review Consumer User ID", "Review Consumer Name", "Review Consumer Email"}  # fmt: skip
    reviews = pd.DataFrame({
        "review_id": "trustpilot:" + raw["Review ID"].astype(str), "source": "trustpilot",
        "ts": raw["Review Created (UTC)"], "rating": raw["Review Stars"], "title": raw.get("Review Title"),
        "body": raw.get("Review Content"), "customer_id": raw.get("Review Consumer User ID"), "touchpoint": "review_site",
        "properties": properties(raw, [c for c in raw.columns if c not in used]),
    })  # fmt: skip
    return load_tables(store, {"reviews": reviews}, spec, name)
