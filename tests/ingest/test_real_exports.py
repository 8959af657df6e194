"""Presets on REAL exports and on the quirks of real files (tests/fixtures/vendors/README.md names each
file's source, commit and licence): one command through the CLI, and the stored numbers equal an
independent pandas computation on the same file."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import cxlens
from cxlens.cli import app

from .test_presets import FIX, imp, runner, sql


def refused(ws: Path, kind: str, path: Path, *args: str) -> str:
    res = runner.invoke(app, ["--workspace", str(ws), "import", kind, str(path), *args])
    assert res.exit_code != 0
    return str(res.exception) + res.stdout


@pytest.fixture()
def ws(tmp_path) -> Path:
    return tmp_path / "ws.duckdb"


def test_qualtrics_real_legacy_export_two_header_rows_and_a_bom(ws):
    """The legacy export (before 2017): V1… over the embedded fields, their names in row 2, no RecordedDate."""
    f = FIX / "qualtrics" / "sample_legacy.csv"
    assert f.read_bytes()[:3] == b"\xef\xbb\xbf"  # as exported
    raw = pd.read_csv(f, header=1, encoding="utf-8-sig")
    assert "candidate columns: 'Q1' ('This is a multiple choice question.')" in refused(ws, "qualtrics", f)
    imp(ws, "qualtrics", f, "--score", "Q1", "--metric", "csat")
    got = sql(ws, "SELECT feedback_id, ts, score, properties FROM feedback")
    assert got["feedback_id"].tolist() == raw["ResponseID"].tolist()
    assert got["ts"].tolist() == pd.to_datetime(raw["EndDate"]).tolist()
    assert got["score"].tolist() == raw["This is a multiple choice question."].astype(float).tolist()
    props = json.loads(got["properties"][0])
    assert props["Q2"] == raw["This is a free text question."][0]
    # the respondent's IP, name and location are not copied
    assert not {"IPAddress", "Name", "LocationLatitude", "LocationLongitude", "LocationAccuracy"} & set(props)
    assert "0 rows added" in imp(ws, "qualtrics", f, "--score", "Q1", "--metric", "csat")


def test_segment_real_pages_table(ws):
    f = FIX / "segment" / "pages.csv"
    imp(ws, "segment", f)
    raw = pd.read_csv(f)
    got = sql(ws, "SELECT event_id, type, name, url, ts, customer_id, anonymous_id, properties FROM events")
    assert got["event_id"].tolist() == raw["id"].tolist() and set(got["type"]) == {"page"}
    assert got["ts"].tolist() == pd.to_datetime(raw["timestamp"]).tolist()
    assert got["url"].tolist() == raw["url"].tolist()
    assert got["customer_id"].tolist() == raw["user_id"].tolist()
    assert got["anonymous_id"].tolist() == raw["anonymous_id"].tolist()
    assert got["name"].tolist() == ["page_view"] * len(raw)  # a pages table without `name`
    assert json.loads(got["properties"][0])["path"] == raw["path"][0]


def _feed(tmp_path: Path, entries) -> Path:
    doc = json.loads((FIX / "app-reviews" / "appstore_customerreviews.json").read_text())
    doc["feed"]["entry"] = entries(doc["feed"]["entry"])
    f = tmp_path / "customerreviews.json"
    f.write_text(json.dumps(doc))
    return f


#: the entry the feed's first page lists for the app itself (no im:rating)
APP_ENTRY = {
    "im:name": {"label": "Shop"},
    "rights": {"label": "© Example"},
    "im:price": {"label": "Get", "attributes": {"amount": "0.00000", "currency": "USD"}},
    "id": {"label": "https://apps.apple.com/us/app/shop/id123?uo=2", "attributes": {"im:id": "123"}},
    "im:releaseDate": {"label": "2020-01-01T00:00:00-07:00"},
}


def test_app_store_feed_with_the_apps_own_entry_and_a_single_entry(ws, tmp_path):
    f = _feed(tmp_path, lambda e: [APP_ENTRY, *e])
    out = imp(ws, "app-reviews", f)
    assert "1 left out: not a review" in out
    entries = [e for e in json.loads(f.read_text())["feed"]["entry"] if "im:rating" in e]
    got = sql(ws, "SELECT review_id, rating, ts FROM reviews ORDER BY ts")
    assert got["review_id"].tolist() == ["appstore:" + e["id"]["label"] for e in entries]
    assert got["rating"].tolist() == [float(e["im:rating"]["label"]) for e in entries]
    expected = pd.to_datetime([e["updated"]["label"] for e in entries], utc=True).tz_localize(None)
    assert got["ts"].tolist() == expected.tolist()
    # a feed with one review writes `entry` as an object, not an array
    single = _feed(tmp_path, lambda e: e[0])
    ws2 = tmp_path / "ws2.duckdb"
    imp(ws2, "app-reviews", single)
    assert sql(ws2, "SELECT count(*) AS n FROM reviews")["n"][0] == 1
    # a page past the last review has no `entry`: a clear error, nothing written
    empty = _feed(tmp_path, lambda e: [APP_ENTRY])
    ws3 = tmp_path / "ws3.duckdb"
    assert "without reviews" in refused(ws3, "app-reviews", empty)


def test_typeform_current_export_leaves_out_partial_responses(ws):
    """Exports since 2023 add Response Type (completed|partial), Stage Date and Ending; a partial
    response has no Submit Date (the import used to fail on it: 'ts is empty')."""
    f = FIX / "typeform" / "responses_with_partials.csv"
    out = imp(ws, "typeform", f)
    raw = pd.read_csv(f, dtype={"#": str})
    done = raw[raw["Response Type"] == "completed"]
    assert f"{(raw['Response Type'] == 'partial').sum()} left out: not completed" in out
    got = sql(ws, "SELECT feedback_id, ts, score, comment, properties FROM feedback ORDER BY ts")
    assert got["feedback_id"].tolist() == done["#"].tolist()
    assert got["ts"].tolist() == pd.to_datetime(done["Submit Date (UTC)"]).tolist()
    score = done["How satisfied are you with your delivery?"]
    with cxlens.open(ws) as w:
        assert float(w.metrics.csat()["csat"].iloc[0]) == pytest.approx(100 * (score >= 4).mean())
    assert got["comment"].tolist() == done["Anything we could do better?"].where(lambda s: s.notna(), None).tolist()
    # the respondent's phone number is not copied
    assert not any("phone" in p.lower() for p in got["properties"].dropna())


def test_zendesk_incremental_export_repeats_and_deleted_tickets(ws, tmp_path):
    """A time-based incremental export lists a ticket updated during the export again and lists
    deleted tickets (status 'deleted'); the import used to refuse the file ('share tickets id but differ')."""
    doc = json.loads((FIX / "zendesk" / "incremental_tickets.json").read_text())
    first = doc["tickets"][0]
    again = {**first, "status": "closed", "updated_at": "2024-03-09T00:00:00Z"}
    again["generated_timestamp"] = first["generated_timestamp"] + 100_000
    gone = {**doc["tickets"][1], "id": 99999, "status": "deleted"}
    doc["tickets"] = [again, *doc["tickets"], gone]  # the later version first: order is not time
    f = tmp_path / "incremental_tickets.json"
    f.write_text(json.dumps(doc))
    out = imp(ws, "zendesk", f)
    assert "1 left out: an earlier version" in out and "1 left out: deleted in Zendesk" in out
    raw = pd.DataFrame(doc["tickets"])
    expected = (
        raw[raw["status"] != "deleted"].sort_values("generated_timestamp").drop_duplicates("id", keep="last")
    ).sort_values("id")
    got = sql(ws, "SELECT ticket_id, status FROM tickets ORDER BY ticket_id")
    assert got["ticket_id"].tolist() == expected["id"].astype(str).tolist()
    assert got["status"].tolist() == expected["status"].tolist()


@pytest.mark.parametrize("fname", ["api_all_tickets.json", "api_ticket_1.json"])
def test_freshdesk_real_api_answers(ws, fname):
    """python-freshdesk's recorded API answers: the list endpoint (with the *_name fields of its time)
    and one ticket with include=stats (codes only)."""
    f = FIX / "freshdesk" / fname
    imp(ws, "freshdesk", f)
    doc = json.loads(f.read_text())
    raw = pd.json_normalize(doc if isinstance(doc, list) else [doc])
    got = sql(ws, "SELECT * FROM tickets ORDER BY ticket_id")
    assert got["ticket_id"].tolist() == raw["id"].astype(str).tolist()
    assert got["customer_id"].tolist() == raw["requester_id"].astype(str).tolist()
    utc = pd.to_datetime(raw["created_at"], utc=True).dt.tz_localize(None)
    assert got["created_at"].tolist() == utc.tolist()
    # codes as the API reference names them: status 2 = Open, source 2 = Portal
    assert got["status"].tolist() == ["Open"] * len(raw) and got["channel"].tolist() == ["portal"] * len(raw)
    if "stats.first_responded_at" in raw:
        first = pd.to_datetime(raw["stats.first_responded_at"], utc=True).dt.tz_localize(None)
        assert got["first_response_at"].tolist() == first.tolist()
        done = pd.to_datetime(raw["stats.resolved_at"], utc=True).dt.tz_localize(None)
        assert got["resolved_at"].tolist() == done.tolist()
    else:
        assert got["first_response_at"].isna().all()
    assert got["body"].tolist() == raw["description"].str.replace(r"<[^>]+>", "", regex=True).tolist()
    assert "0 rows added" in imp(ws, "freshdesk", f)


def test_freshdesk_business_hour_durations_are_not_timestamps(ws, tmp_path):
    """'First response time (in hrs)' is in business hours (Freshdesk's first_res_time_bhrs): with no
    'Initial response time', the first response time is unknown — it was Created time + those hours."""
    raw = pd.read_csv(FIX / "freshdesk" / "tickets.csv", dtype=str)
    raw["Initial response time"] = None
    raw["Resolved time"] = None
    raw["First response time (in hrs)"] = raw["First response time (in hrs)"].where(raw.index != 0, "01:30:00")
    f = tmp_path / "tickets.csv"
    raw.to_csv(f, index=False)
    imp(ws, "freshdesk", f)
    got = sql(ws, "SELECT ticket_id, first_response_at, resolved_at, properties FROM tickets ORDER BY ticket_id")
    assert got["first_response_at"].isna().all()
    closed = pd.to_datetime(raw["Closed time"])
    assert got["resolved_at"].tolist() == closed.where(closed.notna(), None).tolist()
    props = json.loads(got["properties"][0])
    assert props["First response time (in hrs)"] == "01:30:00"  # kept as exported


def test_intercom_channel_reopened_and_single_conversation(ws, tmp_path):
    """source.type is the channel (Intercom's ConversationSource: conversation, email, phone_call…);
    delivered_as (customer_initiated…) was stored as the channel. A conversation reopened after a
    close keeps statistics.last_close_at: it is not resolved while open."""
    doc = json.loads((FIX / "intercom" / "conversations.json").read_text())
    reopened = json.loads(json.dumps(doc["conversations"][1]))
    reopened.update(id="150", state="open", open=True)
    reopened["statistics"]["count_reopens"] = 2
    doc["conversations"].append(reopened)
    f = tmp_path / "conversations.json"
    f.write_text(json.dumps(doc))
    imp(ws, "intercom", f)
    conv = pd.json_normalize(doc["conversations"]).sort_values("id")
    got = sql(ws, "SELECT ticket_id, channel, resolved_at, properties FROM tickets ORDER BY ticket_id")
    assert got["channel"].tolist() == conv["source.type"].tolist()
    closed = pd.to_datetime(conv["statistics.last_close_at"], unit="s").where(conv["state"] == "closed")
    assert got["resolved_at"].isna().tolist() == closed.isna().tolist()
    assert got["resolved_at"].dropna().tolist() == closed.dropna().tolist()
    assert {json.loads(p)["delivered_as"] for p in got["properties"]} == set(conv["source.delivered_as"])
    # GET /conversations/<id> answers the conversation itself, with its parts
    one = {**doc["conversations"][0], "id": "151"}
    one["conversation_parts"] = {
        "type": "conversation_part.list",
        "conversation_parts": [{"type": "conversation_part", "id": "1", "part_type": "close", "body": None}],
        "total_count": 1,
    }
    g = tmp_path / "conversation_151.json"
    g.write_text(json.dumps(one))
    imp(ws, "intercom", g)
    assert sql(ws, "SELECT count(*) AS n FROM tickets WHERE ticket_id = '151'")["n"][0] == 1


def test_delighted_api_with_the_person_expanded(ws, tmp_path):
    """GET /v1/survey_responses.json?expand[]=person (the clients' `expand=['person']`) answers the
    person object: its id is the customer, not the JSON of the person (e-mail and name included)."""
    doc = json.loads((FIX / "delighted" / "survey_responses.json").read_text())
    for r in doc:
        r["person"] = {"id": r["person"], "email": f"p{r['person']}@example.com", "name": "P", "created_at": 1}
    f = tmp_path / "survey_responses.json"
    f.write_text(json.dumps(doc))
    imp(ws, "delighted", f)
    got = sql(ws, "SELECT feedback_id, customer_id, properties FROM feedback ORDER BY feedback_id")
    raw = pd.json_normalize(doc).sort_values("id")
    assert got["customer_id"].tolist() == raw["person.id"].tolist()
    assert not any("example.com" in (p or "") for p in got["properties"])


def test_surveymonkey_question_wording_repeated(ws):
    """A wording asked twice (a 'Comments' box on two pages) repeats a name in the first header row:
    the import refused the file ('two columns named Comments'). Small exports whose days are all 12
    or less need --monthfirst (SurveyMonkey writes month/day/year with AM/PM)."""
    f = FIX / "surveymonkey" / "responses_repeated_question.csv"
    imp(ws, "surveymonkey", f, "--monthfirst")
    raw = pd.read_csv(f, header=None, skiprows=2, dtype=str)  # by position: the header repeats a name
    got = sql(ws, "SELECT feedback_id, ts, score, comment, properties FROM feedback ORDER BY feedback_id")
    assert got["feedback_id"].tolist() == raw[0].tolist()
    assert got["ts"].tolist() == pd.to_datetime(raw[3], format="%m/%d/%Y %I:%M:%S %p").tolist()
    score = raw[9].str.extract(r"^(\d+)")[0].astype(float)
    with cxlens.open(ws) as w:
        assert float(w.metrics.nps()["nps"].iloc[0]) == pytest.approx(100 * ((score >= 9).mean() - (score <= 6).mean()))
    assert [None if pd.isna(v) else v for v in got["comment"]] == [None if pd.isna(v) else v for v in raw[10]]
    second = [json.loads(p).get("Comments (2)") for p in got["properties"]]
    assert second == [None if pd.isna(v) else v for v in raw[14]]


def test_ga4_sessions_are_per_user(ws, tmp_path):
    """ga_session_id is the session's start in Unix seconds: two users starting in the same second
    share it. A session is user_pseudo_id + ga_session_id (they were merged into one session)."""
    rows = [json.loads(x) for x in (FIX / "ga4" / "events.jsonl").read_text().splitlines() if x.strip()]
    twin = json.loads(json.dumps(rows[0]))
    twin["user_pseudo_id"] = "999.111"
    twin["event_timestamp"] = str(int(twin["event_timestamp"]) + 7)
    rows.append(twin)
    f = tmp_path / "events.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    imp(ws, "ga4", f)

    def sid(r):
        p = {e["key"]: e["value"] for e in r.get("event_params") or []}
        v = (p.get("ga_session_id") or {}).get("int_value")
        return None if v is None else (r["user_pseudo_id"], str(v))

    expected = {s for s in map(sid, rows) if s is not None}
    got = sql(ws, "SELECT count(DISTINCT session_id) AS n FROM events")["n"][0]
    assert got == len(expected) and len(expected) > len({s[1] for s in expected})  # a shared ga_session_id


def test_shopify_full_export_cancelled_and_refunded_orders(ws):
    """Every column of the current orders export (79), as real exports have them: a voided order
    cancelled ('Cancelled at'), a partial and a full refund, a gift card line, a multi-line note,
    quoted empty strings, zip codes with Excel's leading ', a guest cash-on-delivery order. The
    payment status was stored as the order's status, so cancelled and refunded orders counted as
    revenue; 'Total' ignored refunds."""
    f = FIX / "shopify" / "orders_export_full.csv"
    imp(ws, "shopify", f)
    raw = pd.read_csv(f, dtype=str, keep_default_na=False)
    first = raw.drop_duplicates("Name").set_index("Name")
    net = first["Total"].astype(float) - first["Refunded Amount"].replace("", "0").astype(float)
    status = first["Financial Status"].where(first["Cancelled at"] == "", "cancelled")
    status = status.replace({"voided": "cancelled", "refunded": "returned"})
    got = sql(ws, "SELECT order_id, amount, status, customer_id FROM orders").set_index("order_id").sort_index()
    assert got["amount"].tolist() == pytest.approx(net.sort_index().tolist())
    assert got["status"].tolist() == status.sort_index().tolist()
    assert got.loc["#2006", "customer_id"] == "guest:#2006"
    kept = ~status.isin(["cancelled", "returned"])
    with cxlens.open(ws) as w:
        value = w.metrics.value()
    assert float(value["revenue"].iloc[0]) == pytest.approx(net[kept].sum())
    assert int(value["orders"].iloc[0]) == int(kept.sum())
    items = sql(ws, "SELECT count(*) AS n, sum(quantity * price) AS v FROM order_items")
    assert items["n"][0] == len(raw)
    assert items["v"][0] == pytest.approx(
        (raw["Lineitem quantity"].astype(float) * raw["Lineitem price"].astype(float)).sum()
    )


def test_qualtrics_import_id_zone_z_and_a_zone_that_is_not_iana(ws, tmp_path):
    """'Z' in the ImportId row (an export in UTC) was refused ('time zone Z is not known'); a zone
    that is not an IANA name is refused naming the ImportId row and --timezone."""
    text = (FIX / "qualtrics" / "nps.csv").read_text()
    utc = tmp_path / "nps_utc.csv"
    utc.write_text(text.replace("America/Denver", "Z"))
    imp(ws, "qualtrics", utc)
    raw = pd.read_csv(utc, skiprows=[1, 2])
    done = raw[raw["Finished"] == 1]
    got = sql(ws, "SELECT ts FROM feedback ORDER BY ts")["ts"]
    assert got.tolist() == pd.to_datetime(done["RecordedDate"]).sort_values().tolist()  # as written: UTC
    odd = tmp_path / "nps_odd.csv"
    odd.write_text(text.replace("America/Denver", "Mountain Time (US & Canada)"))
    ws2 = tmp_path / "ws2.duckdb"
    msg = refused(ws2, "qualtrics", odd)
    assert "ImportId header row states the time zone 'Mountain Time (US & Canada)'" in msg and "--timezone" in msg
    imp(ws2, "qualtrics", odd, "--timezone", "America/Denver")
    assert sql(ws2, "SELECT count(*) AS n FROM feedback")["n"][0] == len(done)
