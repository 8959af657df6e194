"""Every preset on its fixture (tests/fixtures/vendors, see its README for each file's source and
licence): one command, and the stored numbers equal an independent pandas computation on the file."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import cxlens
from cxlens.cli import app
from cxlens.ingest.presets import PRESETS

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "vendors"
runner = CliRunner()


def imp(ws: Path, kind: str, path: Path, *args: str) -> str:
    res = runner.invoke(app, ["--workspace", str(ws), "import", kind, str(path), *args])
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    assert res.exit_code == 0, res.stdout
    return res.stdout


def sql(ws: Path, q: str) -> pd.DataFrame:
    with cxlens.open(ws) as w:
        return w.sql(q)


def nps(scores: pd.Series) -> float:
    s = pd.to_numeric(scores, errors="coerce").dropna()
    return 100 * ((s >= 9).mean() - (s <= 6).mean())


@pytest.fixture()
def ws(tmp_path) -> Path:
    return tmp_path / "ws.duckdb"


def test_every_preset_has_a_fixture_and_a_documented_mapping():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "import-presets.md").read_text()
    readme = (FIX / "README.md").read_text()
    for name in PRESETS:
        assert (FIX / name).is_dir(), name
        assert f"## `{name}`" in doc, name
        assert f"`{name}/" in readme, name


def test_qualtrics_nps_export(ws):
    f = FIX / "qualtrics" / "nps.csv"
    out = imp(ws, "qualtrics", f)
    raw = pd.read_csv(f, skiprows=[1, 2])
    done = raw[raw["Finished"] == 1]
    assert "1 left out: not finished" in out
    got = sql(ws, "SELECT feedback_id, ts, score, comment, customer_id FROM feedback ORDER BY ts")
    assert sorted(got["feedback_id"]) == sorted(done["ResponseId"])
    with cxlens.open(ws) as w:
        assert abs(float(w.metrics.nps()["nps"].iloc[0]) - nps(done["Q1"])) < 1e-9
    # RecordedDate is in the survey's zone (America/Denver, from the ImportId row), stored as UTC
    expected = (pd.to_datetime(done["RecordedDate"]).dt.tz_localize("America/Denver").dt.tz_convert("UTC")
                .dt.tz_localize(None).sort_values().tolist())  # fmt: skip
    assert got["ts"].tolist() == expected
    assert got["comment"].iloc[0] == "Fast, friendly\nand the staff knew the product"
    props = json.loads(
        sql(ws, "SELECT properties FROM feedback WHERE feedback_id = 'R_1a2B3c4D5e6F7g8'")["properties"][0]
    )
    assert props["Q3"] == "Denver" and "Q1_NPS_GROUP" in props and not any("mail" in k.lower() for k in props)
    assert "0 rows added" in imp(ws, "qualtrics", f)


def test_qualtrics_real_sample_without_a_score_lists_candidates(ws):
    f = FIX / "qualtrics" / "sample.csv"
    res = runner.invoke(app, ["--workspace", str(ws), "import", "qualtrics", str(f)])
    assert "candidate columns: 'Q1'" in str(res.exception) and "--score" in str(res.exception)
    imp(ws, "qualtrics", f, "--score", "Q1", "--metric", "csat")
    got = sql(ws, "SELECT feedback_id, ts, score FROM feedback")
    assert got.values.tolist() == [["R_2YPOQ602ER1jkf1", pd.Timestamp("2017-07-18 08:28:48"), 2.0]]


def test_surveymonkey_two_header_rows(ws):
    f = FIX / "surveymonkey" / "responses.csv"
    imp(ws, "surveymonkey", f)
    raw = pd.read_csv(f, skiprows=[1])
    score = raw.iloc[:, 9]
    with cxlens.open(ws) as w:
        assert abs(float(w.metrics.nps()["nps"].iloc[0]) - nps(score)) < 1e-9
    got = sql(ws, "SELECT feedback_id, ts, comment FROM feedback ORDER BY feedback_id")
    assert got["feedback_id"].tolist() == raw["Respondent ID"].astype(str).tolist()
    assert got["ts"].tolist() == pd.to_datetime(raw["End Date"], format="%m/%d/%Y %I:%M:%S %p").tolist()
    assert got["comment"].iloc[3] == "Checkout broke, twice"


def test_typeform_csat(ws):
    f = FIX / "typeform" / "responses.csv"
    imp(ws, "typeform", f)
    raw = pd.read_csv(f)
    with cxlens.open(ws) as w:
        csat = w.metrics.csat()
    score = raw["How satisfied are you with your delivery?"]
    assert abs(float(csat["csat"].iloc[0]) - 100 * (score >= 4).mean()) < 1e-9
    assert (
        sql(ws, "SELECT count(comment) AS n FROM feedback")["n"][0] == raw["Anything we could do better?"].notna().sum()
    )


def test_delighted_api_json_and_csv(ws):
    f = FIX / "delighted" / "survey_responses.json"
    imp(ws, "delighted", f)
    raw = pd.read_json(f, dtype={"id": str})
    got = sql(ws, "SELECT feedback_id, ts, score, customer_id FROM feedback ORDER BY feedback_id")
    assert got["ts"].tolist() == pd.to_datetime(raw["created_at"], unit="s").tolist()
    with cxlens.open(ws) as w:
        assert abs(float(w.metrics.nps()["nps"].iloc[0]) - nps(raw["score"])) < 1e-9
    # the CSV export of the same responses adds nothing (same response ids)
    assert "0 rows added" in imp(ws, "delighted", FIX / "delighted" / "responses.csv")


def test_zendesk_csv_durations_become_timestamps(ws):
    f = FIX / "zendesk" / "tickets.csv"
    imp(ws, "zendesk", f)
    raw = pd.read_csv(f)
    created = pd.to_datetime(raw["Created at"], format="%Y-%m-%d %H:%M:%S %z").dt.tz_convert("UTC").dt.tz_localize(None)
    first = created + pd.to_timedelta(raw["First reply time in minutes"], unit="m")
    got = sql(
        ws, "SELECT ticket_id, created_at, first_response_at, resolved_at, contacts FROM tickets ORDER BY ticket_id"
    )
    assert got["created_at"].tolist() == created.tolist()
    assert got["first_response_at"].tolist() == first.tolist()
    res = created + pd.to_timedelta(raw["Full resolution time in minutes"], unit="m")
    assert [None if pd.isna(x) else x for x in got["resolved_at"]] == [None if pd.isna(x) else x for x in res]
    assert got["contacts"].tolist() == (raw["Replies"] + 1).tolist()
    csat = sql(ws, "SELECT score FROM feedback ORDER BY feedback_id")["score"].tolist()
    assert csat == [5.0 if v == "Good" else 1.0 for v in raw["Satisfaction Score"] if v in ("Good", "Bad")]


def test_zendesk_incremental_export(ws):
    f = FIX / "zendesk" / "incremental_tickets.json"
    imp(ws, "zendesk", f)
    raw = json.loads(f.read_text())["tickets"]
    got = sql(ws, "SELECT ticket_id, customer_id, created_at, channel, status, team, subject FROM tickets "
                  "ORDER BY ticket_id")  # fmt: skip
    want = [[str(t["id"]), str(t["requester_id"]), pd.Timestamp(t["created_at"]).tz_localize(None),
             t["via"]["channel"], t["status"], None if t["group_id"] is None else str(t["group_id"]), t["subject"]]
            for t in sorted(raw, key=lambda t: t["id"])]  # fmt: skip
    assert [[None if pd.isna(v) else v for v in row] for row in got.values.tolist()] == want
    # a given rating is a CSAT answer (good 5, bad 1) with its comment and time; "offered" is not an answer
    fb = sql(ws, "SELECT feedback_id, customer_id, ts, score, comment FROM feedback ORDER BY feedback_id")
    rated = [t for t in raw if (t["satisfaction_rating"] or {}).get("score") in ("good", "bad")]
    assert len(fb) == len(rated) == 2
    for t in rated:
        r = fb[fb["feedback_id"] == f"zendesk-csat:{t['id']}"].iloc[0]
        sr = t["satisfaction_rating"]
        assert r["score"] == {"good": 5, "bad": 1}[sr["score"]] and r["customer_id"] == str(t["requester_id"])
        assert r["ts"] == pd.Timestamp(sr["updated_at"]).tz_localize(None)
        assert (None if pd.isna(r["comment"]) else r["comment"]) == sr["comment"]


def test_freshdesk(ws):
    f = FIX / "freshdesk" / "tickets.csv"
    imp(ws, "freshdesk", f)
    raw = pd.read_csv(f)
    got = sql(ws, "SELECT ticket_id, first_response_at, resolved_at, contacts FROM tickets ORDER BY ticket_id")
    # the timestamps as exported ('(in hrs)' durations are business hours: not used for them)
    assert got["first_response_at"].tolist() == pd.to_datetime(raw["Initial response time"]).tolist()
    assert got["resolved_at"].tolist() == pd.to_datetime(raw["Resolved time"]).tolist()
    assert got["contacts"].tolist() == raw["Customer interactions"].tolist()


def test_intercom_conversations(ws):
    f = FIX / "intercom" / "conversations.json"
    imp(ws, "intercom", f)
    conv = pd.json_normalize(json.loads(f.read_text())["conversations"])
    got = sql(ws, "SELECT ticket_id, created_at, first_response_at, body FROM tickets ORDER BY ticket_id")
    assert got["created_at"].tolist() == pd.to_datetime(conv["created_at"], unit="s").tolist()
    mins = (got["first_response_at"] - got["created_at"]).dt.total_seconds() / 60
    exp = (conv["statistics.first_admin_reply_at"] - conv["created_at"]) / 60
    assert mins.fillna(-1).tolist() == exp.fillna(-1).tolist()
    assert got["body"].iloc[1] == "Still waiting for order  #1002"
    rated = conv["conversation_rating.rating"].dropna()
    assert sql(ws, "SELECT avg(score) AS a FROM feedback")["a"][0] == rated.mean()


def test_shopify_orders_line_items_and_guests(ws):
    f = FIX / "shopify" / "orders_export.csv"
    imp(ws, "shopify", f)
    raw = pd.read_csv(f)
    first = raw.drop_duplicates("Name")
    orders = sql(ws, "SELECT order_id, customer_id, amount FROM orders ORDER BY order_id")
    assert orders["order_id"].tolist() == first["Name"].tolist()
    assert orders["amount"].sum() == pytest.approx(first["Total"].sum())
    assert orders.set_index("order_id")["customer_id"]["#1002"] == "guest:#1002"
    items = sql(ws, "SELECT sum(quantity * price) AS v, count(*) AS n FROM order_items")
    assert items["v"][0] == pytest.approx((raw["Lineitem quantity"] * raw["Lineitem price"]).sum())
    assert items["n"][0] == len(raw)
    assert sql(ws, "SELECT count(*) AS n FROM customers")["n"][0] == first["Email"].dropna().nunique()


def test_ga4_bigquery_export(ws):
    f = FIX / "ga4" / "events.jsonl"
    imp(ws, "ga4", f)
    raw = pd.read_json(f, lines=True, dtype={"event_timestamp": str, "user_pseudo_id": str})
    got = sql(
        ws, "SELECT ts, name, anonymous_id, customer_id, session_id, url, revenue, properties FROM events ORDER BY ts"
    )
    exp_ts = pd.to_datetime(raw["event_timestamp"].astype("int64"), unit="us").sort_values()
    assert got["ts"].tolist() == exp_ts.tolist()
    assert got["revenue"].sum() == pytest.approx(35.5)
    assert got["session_id"].iloc[0] == f"{raw['user_pseudo_id'][0]}:1717236000"  # ga_session_id is per user
    assert got["url"].iloc[0] == "https://shop.example/"
    assert json.loads(got["properties"].iloc[1])["value"] == 20.0
    assert got["customer_id"].notna().sum() == raw["user_id"].notna().sum()


def test_segment_tracks_table(ws):
    f = FIX / "segment" / "tracks.csv"
    imp(ws, "segment", f)
    raw = pd.read_csv(f)
    got = sql(ws, "SELECT event_id, name, type, anonymous_id, customer_id, revenue FROM events ORDER BY ts")
    assert got["event_id"].tolist() == raw["id"].tolist() and set(got["type"]) == {"track"}
    assert got["revenue"].sum() == raw["revenue"].sum()
    assert got["customer_id"].isna().sum() == raw["user_id"].isna().sum()


def test_google_play_utf16_and_app_store_json(ws):
    f = FIX / "app-reviews" / "reviews_reviews_com.example.shop_202401.csv"
    imp(ws, "app-reviews", f)
    raw = pd.read_csv(f, encoding="utf-16")
    got = sql(ws, "SELECT rating, body, ts FROM reviews WHERE source = 'google_play' ORDER BY ts")
    assert got["rating"].mean() == raw["Star Rating"].mean()
    assert got["body"].tolist() == raw["Review Text"].tolist()
    imp(ws, "app-reviews", FIX / "app-reviews" / "appstore_customerreviews.json")
    apple = sql(ws, "SELECT ts, rating FROM reviews WHERE source = 'app_store' ORDER BY ts")
    assert apple["ts"].tolist() == [pd.Timestamp("2024-02-01 10:04:05"), pd.Timestamp("2024-02-03 06:00:00")]


def test_trustpilot(ws):
    f = FIX / "trustpilot" / "reviews.csv"
    imp(ws, "trustpilot", f)
    raw = pd.read_csv(f)
    got = sql(ws, "SELECT rating, ts FROM reviews ORDER BY ts")
    assert got["rating"].tolist() == raw["Review Stars"].astype(float).tolist()
    assert got["ts"].tolist() == pd.to_datetime(raw["Review Created (UTC)"]).tolist()


def test_preset_rejects_a_bad_row_naming_the_exports_row(ws, tmp_path):
    f = tmp_path / "nps.csv"
    text = (FIX / "qualtrics" / "nps.csv").read_text().replace(",1,0,Never again,", ",1,12,Never again,")
    f.write_text(text)
    res = runner.invoke(app, ["--workspace", str(ws), "import", "qualtrics", str(f)])
    # the score column's values no longer fit NPS; stated explicitly, the bad row is named (data row 6)
    res = runner.invoke(
        app, ["--workspace", str(ws), "import", "qualtrics", str(f), "--score", "Q1", "--metric", "nps"]
    )
    assert "column 'score' in nps.csv row 6 is '12'" in str(res.exception)
    assert not ws.exists() or sql(ws, "SELECT count(*) AS n FROM feedback")["n"][0] == 0
