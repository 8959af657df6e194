"""File import: formats, mapping, validation errors, all-or-nothing, idempotence."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import cxlens
from cxlens.errors import ImportFileError, NotFoundError, SchemaError

FEEDBACK_CSV = """feedback_id,customer_id,ts,metric,score,comment,touchpoint
f1,c1,2024-05-01 10:00:00,nps,9,Great,checkout
f2,c2,2024-05-01T12:00:00+02:00,nps,3,"Slow, late delivery",delivery
f3,c3,2024-05-02,csat,5,,support_chat
"""


def _snapshot(ws: cxlens.Workspace) -> dict[str, pd.DataFrame]:
    return {t: ws.sql(f'SELECT * FROM "{t}" ORDER BY ALL') for t in ws.counts()}


def _assert_unchanged(ws, before):
    after = _snapshot(ws)
    for t, frame in before.items():
        pd.testing.assert_frame_equal(frame, after[t], check_dtype=False)


def test_csv_import_stores_utc_and_fills_stage_from_journey(ws, tmp_path):
    p = tmp_path / "fb.csv"
    p.write_text(FEEDBACK_CSV)
    res = ws.load("feedback", p)
    assert (res.rows, res.inserted, res.skipped) == (3, 3, 0)
    got = ws.sql("SELECT feedback_id, ts, stage, channel, score FROM feedback ORDER BY feedback_id")
    # +02:00 noon is 10:00 UTC; a zoneless time is taken as UTC
    assert got["ts"].tolist() == [
        pd.Timestamp("2024-05-01 10:00:00"),
        pd.Timestamp("2024-05-01 10:00:00"),
        pd.Timestamp("2024-05-02 00:00:00"),
    ]
    journey = cxlens.default_journey()
    assert got["stage"].tolist() == [journey.stage_of()[t] for t in ("checkout", "delivery", "support_chat")]
    assert got["stage"].tolist() == ["purchase", "service", "service"]
    assert got["channel"].tolist() == ["web", "logistics", "chat"]
    assert got["score"].tolist() == [9.0, 3.0, 5.0]


def test_reimporting_the_same_file_adds_nothing(ws, tmp_path):
    p = tmp_path / "fb.csv"
    p.write_text(FEEDBACK_CSV)
    ws.load("feedback", p)
    before = _snapshot(ws)
    res = ws.load("feedback", p)
    assert res.inserted == 0 and res.skipped == 3
    _assert_unchanged(ws, before)


def test_rows_without_ids_get_stable_derived_ids(ws, tmp_path):
    p = tmp_path / "noid.csv"
    p.write_text("ts,metric,score,comment\n2024-01-01,nps,10,a\n2024-01-02,nps,0,b\n2024-01-02,nps,0,b\n")
    first = ws.load("feedback", p)
    # the two identical rows are two answers (their ids differ by occurrence), and stay two on re-import
    assert first.inserted == 3
    assert ws.load("feedback", p).inserted == 0
    ids = ws.sql("SELECT feedback_id FROM feedback ORDER BY ts, feedback_id")["feedback_id"]
    assert ids.str.startswith("fe_").all() and ids.nunique() == 3
    assert ids.iloc[2] == ids.iloc[1] + "-2"


def test_parquet_and_jsonl_give_the_same_rows_as_csv(tmp_path):
    csv = tmp_path / "fb.csv"
    csv.write_text(FEEDBACK_CSV)
    frame = pd.read_csv(csv, dtype=str)
    frame.to_parquet(tmp_path / "fb.parquet")
    with open(tmp_path / "fb.jsonl", "w") as fh:
        for rec in frame.to_dict("records"):
            fh.write(json.dumps({k: v for k, v in rec.items() if isinstance(v, str)}) + "\n")
    results = []
    for name in ("fb.csv", "fb.parquet", "fb.jsonl"):
        with cxlens.open(tmp_path / f"{name}.duckdb") as w:
            w.load("feedback", tmp_path / name)
            results.append(w.sql("SELECT feedback_id, ts, metric, score, comment, stage FROM feedback ORDER BY 1"))
    pd.testing.assert_frame_equal(results[0], results[1])
    pd.testing.assert_frame_equal(results[0], results[2])


def test_format_option_overrides_extension(ws, tmp_path):
    p = tmp_path / "export.data"
    p.write_text(FEEDBACK_CSV)
    with pytest.raises(ImportFileError, match="cannot tell the format of export.data"):
        ws.load("feedback", p)
    assert ws.load("feedback", p, format="csv").inserted == 3


def test_mapping_renames_source_columns(ws, tmp_path):
    p = tmp_path / "survey.csv"
    p.write_text("id,answered,kind,rating,note\nx1,2024-03-04,csat,4,ok\nx2,2024-03-05,csat,2,bad\n")
    res = ws.load("feedback", p, mapping=["feedback_id=id,ts=answered", "metric=kind", "score=rating", "comment=note"])
    assert res.inserted == 2
    got = ws.sql("SELECT feedback_id, score, comment FROM feedback ORDER BY 1")
    assert got.values.tolist() == [["x1", 4.0, "ok"], ["x2", 2.0, "bad"]]


def test_unknown_columns_are_kept_in_properties(ws):
    rows = pd.DataFrame({"ts": ["2024-01-01"], "metric": ["nps"], "score": [7], "store": ["Lyon"]})
    ws.load("feedback", rows)
    props = ws.sql("SELECT properties FROM feedback")["properties"].iloc[0]
    assert json.loads(props) == {"store": "Lyon"}


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        (
            "f9,c1,2024-05-01,nps,11,x,checkout",
            "column 'score' in bad.csv row 4 is '11'; expected a whole number 0-10 for metric 'nps'",
        ),
        ("f9,c1,2024-05-01,nps,ten,x,checkout", "column 'score' in bad.csv row 4 is 'ten'; expected a number"),
        (
            "f9,c1,2024-05-01,csat,0,x,checkout",
            "column 'score' in bad.csv row 4 is '0'; expected a whole number 1-5 for metric 'csat'",
        ),
        (
            "f9,c1,2024-05-01,ces,7.5,x,checkout",
            "column 'score' in bad.csv row 4 is '7.5'; expected a whole number 1-7 for metric 'ces'",
        ),
        ("f9,c1,yesterday,nps,5,x,checkout", "column 'ts' in bad.csv row 4 is 'yesterday'; expected a date-time"),
        ("f9,c1,,nps,5,x,checkout", "column 'ts' in bad.csv row 4 is empty; expected a value"),
        ("f1,c1,2024-05-09,nps,5,other,checkout", "bad.csv rows 1 and 4 share feedback id 'f1' but differ"),
    ],
)
def test_bad_value_names_file_row_column_and_leaves_workspace_unchanged(ws, tmp_path, csv, message):
    good = tmp_path / "good.csv"
    good.write_text(
        "feedback_id,customer_id,ts,metric,score,comment,touchpoint\nf0,c0,2024-04-01,nps,8,fine,homepage\n"
    )
    ws.load("feedback", good)
    before = _snapshot(ws)
    bad = tmp_path / "bad.csv"
    bad.write_text(FEEDBACK_CSV + csv + "\n")
    with pytest.raises(SchemaError) as info:
        ws.load("feedback", bad)
    assert message in str(info.value)
    _assert_unchanged(ws, before)


def test_missing_required_column_is_named_with_the_fix(ws, tmp_path):
    p = tmp_path / "nometric.csv"
    p.write_text("ts,score\n2024-01-01,9\n")
    with pytest.raises(SchemaError, match=r"nometric.csv has no column 'metric'.*--map metric=YOUR_COLUMN"):
        ws.load("feedback", p)
    assert ws.counts()["feedback"] == 0


def test_wrong_type_in_orders_amount(ws, tmp_path):
    p = tmp_path / "orders.csv"
    p.write_text("order_id,customer_id,ts,amount\no1,c1,2024-01-01,10.5\no2,c1,2024-01-02,12,00\n")
    with pytest.raises(ImportFileError, match="orders.csv is not valid CSV: line 3 has 5 fields, expected 4"):
        ws.load("orders", p)
    p.write_text("order_id,customer_id,ts,amount\no1,c1,2024-01-01,10.5\no2,c1,2024-01-02,€12\n")
    with pytest.raises(SchemaError, match="column 'amount' in orders.csv row 2 is '€12'; expected a number"):
        ws.load("orders", p)
    assert ws.counts()["orders"] == 0


def test_bad_json_properties_and_event_type(ws):
    rows = pd.DataFrame({"ts": ["2024-01-01"] * 2, "name": ["visit"] * 2, "properties": ['{"a": 1}', "{oops"]})
    with pytest.raises(SchemaError, match=r"column 'properties' in <frame> row 2 is '\{oops'; expected a JSON object"):
        ws.load("events", rows)
    rows = pd.DataFrame({"ts": ["2024-01-01"], "name": ["visit"], "type": ["click"]})
    with pytest.raises(SchemaError, match="column 'type' in <frame> row 1 is 'click'; expected one of track, page"):
        ws.load("events", rows)


def test_malformed_and_empty_files(ws, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ImportFileError, match="empty.csv is empty"):
        ws.load("feedback", empty)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"ts": "2024-01-01", "metric": "nps", "score": 1}\n{"ts": \n')
    with pytest.raises(ImportFileError, match="broken.jsonl line 2 is not valid JSON"):
        ws.load("feedback", broken)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("ts,metric,score,comment\n2024-01-01,nps,9,caf\xe9\n".encode("latin-1"))
    with pytest.raises(ImportFileError, match="latin.csv is not UTF-8"):
        ws.load("feedback", latin)
    notparquet = tmp_path / "x.parquet"
    notparquet.write_text("not parquet")
    with pytest.raises(ImportFileError, match="x.parquet cannot be read as parquet"):
        ws.load("feedback", notparquet)
    with pytest.raises(ImportFileError, match="does not exist"):
        ws.load("feedback", tmp_path / "nope.csv")
    assert ws.counts()["feedback"] == 0


def test_unknown_kind_and_bad_mapping(ws, tmp_path):
    with pytest.raises(NotFoundError, match="unknown table 'surveys'"):
        ws.load("surveys", pd.DataFrame())
    p = tmp_path / "fb.csv"
    p.write_text(FEEDBACK_CSV)
    with pytest.raises(ImportFileError, match="fb.csv has no column 'rating'"):
        ws.load("feedback", p, mapping="score=rating")
    with pytest.raises(ImportFileError, match="has no '='"):
        ws.load("feedback", p, mapping="score")


def test_order_items_without_item_id_are_numbered_per_product(ws):
    items = pd.DataFrame(
        {"order_id": ["o1", "o1", "o1"], "product_id": ["p", "p", "q"], "quantity": [1, 1, 2], "price": [3, 3, 4]}
    )
    assert ws.load("order_items", items).inserted == 3
    assert ws.load("order_items", items).inserted == 0
    got = ws.sql("SELECT item_id FROM order_items ORDER BY item_id")["item_id"].tolist()
    assert got == ["p#1", "p#2", "q#1"]


def test_dayfirst_dates(ws):
    rows = pd.DataFrame({"ts": ["04/05/2024 10:00"], "metric": ["nps"], "score": [5]})
    ws.load("feedback", rows, dayfirst=True)
    assert ws.sql("SELECT ts FROM feedback")["ts"].iloc[0] == pd.Timestamp("2024-05-04 10:00")
