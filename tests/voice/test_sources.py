"""Import adapters for airline tweets and women's clothing reviews, checked against pandas."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from cxlens.errors import SchemaError
from cxlens.voice.sources import import_airline_tweets, import_clothing_reviews
from cxlens.voice.verbatims import verbatims

pytestmark = pytest.mark.realdata


def test_airline_tweets_become_social_reviews_per_airline(real_data, ws):
    path = real_data / "airline-tweets" / "Tweets.csv"
    src = pd.read_csv(path, dtype=str)
    first = src.drop_duplicates("tweet_id", keep="first")
    assert len(src) == 14640 and len(first) == 14485  # 155 tweets annotated twice

    assert import_airline_tweets(ws, path) == {"reviews": 14485}
    assert import_airline_tweets(ws, path) == {"reviews": 0}

    got = ws.sql("SELECT * FROM reviews ORDER BY review_id")
    assert set(got["source"]) == {"twitter"}
    by_airline = got["touchpoint"].value_counts().to_dict()
    assert by_airline == {k.lower().replace(" ", "_"): v for k, v in first["airline"].value_counts().to_dict().items()}
    props = got["properties"].map(json.loads)
    assert set(props.map(lambda p: p["channel"])) == {"social"}
    assert props.map(lambda p: p["airline_sentiment"]).value_counts().to_dict() == (
        first["airline_sentiment"].value_counts().to_dict()
    )
    assert props.map(lambda p: p.get("negativereason")).value_counts().to_dict() == (
        first["negativereason"].value_counts().to_dict()
    )

    # multi-line tweets are kept whole; times converted from -0800 to UTC
    multi = first[first["text"].str.contains("\n", regex=False)]
    assert len(multi) > 10
    one = multi.iloc[0]
    row = got.set_index("review_id").loc["twitter:" + one["tweet_id"]]
    assert row["body"] == one["text"].strip()
    created = pd.Timestamp(one["tweet_created"]).tz_convert("UTC").tz_localize(None)
    assert row["ts"] == created

    v = verbatims(ws, sources=["review:twitter"], filters={"touchpoint": "virgin_america"}, language=False)
    assert len(v) == by_airline["virgin_america"] and set(v["channel"]) == {"social"}


def test_clothing_reviews_keep_rating_title_and_product(real_data, ws):
    path = real_data / "womens-clothing-reviews-head" / "womens_clothing_ecommerce_reviews_first1000.csv"
    src = pd.read_csv(path)
    assert import_clothing_reviews(ws, path) == {"reviews": 1000}
    assert import_clothing_reviews(ws, path) == {"reviews": 0}
    got = ws.sql("SELECT * FROM reviews ORDER BY CAST(split_part(review_id, ':', 2) AS INTEGER)")
    assert got["rating"].value_counts().sort_index().to_dict() == {1.0: 27, 2.0: 72, 3.0: 127, 4.0: 228, 5.0: 546}
    assert got["product_id"].tolist() == src["Clothing ID"].astype(str).tolist()
    assert got["title"].isna().sum() == src["Title"].isna().sum()
    assert got["body"].isna().sum() == src["Review Text"].isna().sum() == 42
    props = got["properties"].map(json.loads)
    assert props.map(lambda p: p["recommended"]).sum() == 818
    assert props.map(lambda p: p.get("department")).value_counts().to_dict() == (
        src["Department Name"].value_counts().to_dict()
    )
    assert set(got["touchpoint"]) == {"review_site"} and set(got["source"]) == {"clothing"}


def test_bad_tweet_date_names_row_and_writes_nothing(real_data, ws, tmp_path):
    src = pd.read_csv(real_data / "airline-tweets" / "Tweets.csv", dtype=str, nrows=5)
    src.loc[3, "tweet_created"] = "yesterday"
    bad = tmp_path / "Tweets.csv"
    src.to_csv(bad, index=False)
    with pytest.raises(SchemaError, match=r"column 'tweet_created' in Tweets.csv row 4 is 'yesterday'"):
        import_airline_tweets(ws, bad)
    assert ws.counts()["reviews"] == 0
