"""Import adapters for public customer text: airline tweets and women's clothing reviews.

Both land in the canonical ``reviews`` table, validated with
:func:`~cxlens.schema.validate.validate_frame` and inserted all or nothing through
:func:`~cxlens.ingest.load.insert_tables`; ids are derived from the source ids, so
importing the same file again adds nothing. Mapping, column by column:

Airline tweets (``Tweets.csv``, Twitter US Airline Sentiment, CC BY-NC-SA 4.0: evaluation only)

- review_id ``twitter:<tweet_id>``; source ``twitter``; body = text; rating empty;
- ts = tweet_created converted to UTC (the file carries a ``-0800`` offset);
- customer_id ``twitter:<name>`` (the author's handle);
- touchpoint = slug of the airline (``virgin_america``, ``united``, ``us_airways``…);
- properties: ``channel`` ``social``, ``airline``, and for evaluation ``airline_sentiment``,
  ``airline_sentiment_confidence``, ``negativereason``, ``negativereason_confidence``,
  ``retweet_count``.
- 155 tweet ids occur twice (the same tweet annotated twice); the first row in file order is kept.

Women's clothing reviews (``womens_clothing_ecommerce_reviews*.csv``, CC0)

- review_id ``clothing:<row index>`` (the unnamed first column); source ``clothing``;
- rating = Rating, title = Title, body = Review Text, product_id = Clothing ID;
- touchpoint ``review_site``; ts = ``ts`` argument (the data has no dates; default 2018-01-01);
- properties: ``division``, ``department``, ``class``, ``recommended`` (bool),
  ``positive_feedback_count``. Age is not imported.

Examples
--------
>>> import cxlens
>>> ws = cxlens.open(":memory:")
>>> import_clothing_reviews(ws, "data/womens_clothing_ecommerce_reviews_first1000.csv")  # doctest: +SKIP
{'reviews': 1000}
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cxlens.ingest.adapters import (
    bad_value,
    insert_all,
    number_column,
    read_source,
    required_column,
    slug,
    text_column,
    validated,
)
from cxlens.store import Store

__all__ = ["SOURCE_ADAPTERS", "import_airline_tweets", "import_clothing_reviews"]

TWEET_COLUMNS = (
    "tweet_id",
    "airline_sentiment",
    "airline_sentiment_confidence",
    "negativereason",
    "negativereason_confidence",
    "airline",
    "name",
    "retweet_count",
    "text",
    "tweet_created",
)
CLOTHING_COLUMNS = (
    "Clothing ID",
    "Title",
    "Review Text",
    "Rating",
    "Recommended IND",
    "Positive Feedback Count",
    "Division Name",
    "Department Name",
    "Class Name",
)
CLOTHING_DEFAULT_TS = "2018-01-01"


def _clean(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None and not (isinstance(v, float) and v != v)}


def import_airline_tweets(ws: Store, path: str | Path) -> dict[str, int]:
    """Import Twitter US Airline Sentiment (``Tweets.csv``) as reviews from source ``twitter``.

    Each tweet becomes a review at the airline's touchpoint with channel ``social`` (in
    ``properties``; see the module docstring for the whole mapping). Multi-line tweets are read
    intact.

    Returns
    -------
    dict
        ``{"reviews": rows inserted}`` (0 when the same file is imported again).

    Examples
    --------
    >>> import cxlens
    >>> ws = cxlens.open(":memory:")
    >>> import_airline_tweets(ws, "data/airline-tweets/Tweets.csv")  # doctest: +SKIP
    {'reviews': 14485}
    """
    p = Path(path)
    f = p.name
    t = read_source(p, TWEET_COLUMNS)
    tweet_id = required_column(t, "tweet_id", f, "a tweet id")
    airline = required_column(t, "airline", f, "an airline name")
    created_raw = t["tweet_created"].astype("string").str.strip()
    ts = pd.to_datetime(created_raw, format="%Y-%m-%d %H:%M:%S %z", errors="coerce", utc=True)
    bad = ts.isna().to_numpy()
    if bad.any():
        i = int(bad.argmax())
        raise bad_value(
            f, i, "tweet_created", t["tweet_created"].iloc[i], "a date-time such as '2015-02-24 11:35:52 -0800'"
        )
    conf = number_column(t, "airline_sentiment_confidence", f, lo=0, hi=1, required=False)
    nconf = number_column(t, "negativereason_confidence", f, lo=0, hi=1, required=False)
    retweets = number_column(t, "retweet_count", f, integer=True, lo=0, required=False)
    sentiment, reason, name = (
        text_column(t, "airline_sentiment"),
        text_column(t, "negativereason"),
        text_column(t, "name"),
    )
    props = [
        _clean(
            {
                "channel": "social",
                "airline": a,
                "airline_sentiment": s,
                "airline_sentiment_confidence": c,
                "negativereason": r,
                "negativereason_confidence": n,
                "retweet_count": None if rt != rt else int(rt),
            }
        )
        for a, s, c, r, n, rt in zip(airline, sentiment, conf, reason, nconf, retweets, strict=True)
    ]
    reviews = pd.DataFrame(
        {
            "review_id": "twitter:" + tweet_id,
            "source": "twitter",
            "customer_id": name.map(lambda x: None if x is None else f"twitter:{x}"),
            "ts": ts.dt.tz_localize(None).astype("datetime64[us]"),
            "body": text_column(t, "text"),
            "touchpoint": airline.map(slug),
            "properties": pd.Series(props, index=t.index, dtype=object),
        }
    )
    reviews = reviews[~tweet_id.duplicated(keep="first").to_numpy()]
    return insert_all(
        ws, {"reviews": validated(reviews, "reviews", f, {"review_id": "tweet_id", "ts": "tweet_created"})}
    )


def import_clothing_reviews(
    ws: Store, path: str | Path, *, ts: str | pd.Timestamp = CLOTHING_DEFAULT_TS
) -> dict[str, int]:
    """Import Women's E-Commerce Clothing Reviews (Kaggle ``nicapotato``) as reviews from ``clothing``.

    Parameters
    ----------
    ws
        A writable workspace.
    path
        The CSV, full (23,486 rows) or a head of it, with its unnamed index column.
    ts
        Timestamp given to every review: the source has no dates.

    Returns
    -------
    dict
        ``{"reviews": rows inserted}`` (0 when the same file is imported again).

    Examples
    --------
    >>> import cxlens
    >>> ws = cxlens.open(":memory:")
    >>> import_clothing_reviews(ws, "data/womens_clothing_ecommerce_reviews.csv")  # doctest: +SKIP
    {'reviews': 23486}
    """
    p = Path(path)
    f = p.name
    t = read_source(p, CLOTHING_COLUMNS)
    index_col = t.columns[0]
    if index_col in CLOTHING_COLUMNS:
        raise bad_value(f, 0, "(index)", None, "the unnamed row-index column first, as in the original export")
    row = required_column(t, index_col, f, "a row number")
    rating = number_column(t, "Rating", f, integer=True, lo=1, hi=5)
    recommended = number_column(t, "Recommended IND", f, integer=True, lo=0, hi=1, required=False)
    helpful = number_column(t, "Positive Feedback Count", f, integer=True, lo=0, required=False)
    props = [
        _clean(
            {
                "division": d,
                "department": dep,
                "class": c,
                "recommended": None if r != r else bool(r),
                "positive_feedback_count": None if h != h else int(h),
            }
        )
        for d, dep, c, r, h in zip(
            text_column(t, "Division Name"),
            text_column(t, "Department Name"),
            text_column(t, "Class Name"),
            recommended,
            helpful,
            strict=True,
        )
    ]
    reviews = pd.DataFrame(
        {
            "review_id": "clothing:" + row,
            "source": "clothing",
            "ts": pd.Timestamp(ts),
            "rating": rating,
            "title": text_column(t, "Title"),
            "body": text_column(t, "Review Text"),
            "product_id": text_column(t, "Clothing ID"),
            "touchpoint": "review_site",
            "properties": pd.Series(props, index=t.index, dtype=object),
        }
    )
    return insert_all(
        ws, {"reviews": validated(reviews, "reviews", f, {"review_id": index_col, "product_id": "Clothing ID"})}
    )


#: adapter name (as typed after ``cxlens import``) → function(workspace, path)
SOURCE_ADAPTERS = {"airline-tweets": import_airline_tweets, "clothing-reviews": import_clothing_reviews}
