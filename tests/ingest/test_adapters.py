"""Import adapters on the real public exports: counts against pandas, idempotence, all-or-nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import cxlens
from cxlens.errors import ImportFileError, SchemaError
from cxlens.ingest.adapters import (
    ADAPTERS,
    import_cdnow,
    import_nps_verbatims,
    import_olist,
    import_telco_churn,
)

pytestmark = pytest.mark.realdata

OLIST = "olist-ecommerce-subset"
CDNOW = "cdnow/CDNOW_master.txt"
TELCO = "telco-churn/WA_Fn-UseC_-Telco-Customer-Churn.csv"
NPS = "nps-verbatims-telecom/nps_verbatims.csv"


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


def _empty(ws: cxlens.Workspace) -> bool:
    return all(n == 0 for n in ws.counts().values())


@pytest.fixture(scope="module")
def imported(real_data, tmp_path_factory):
    """One workspace with all four adapters run twice; yields (workspace, first results, second results)."""
    ws = cxlens.open(tmp_path_factory.mktemp("adapters") / "ws.duckdb")
    paths = {"olist": OLIST, "cdnow": CDNOW, "telco-churn": TELCO, "nps-verbatims": NPS}
    first = {name: ADAPTERS[name](ws, real_data / p) for name, p in paths.items()}
    second = {name: ADAPTERS[name](ws, real_data / p) for name, p in paths.items()}
    yield ws, first, second
    ws.close()


def test_adapters_registry_names_the_cli_sources():
    assert ADAPTERS == {
        "olist": import_olist,
        "cdnow": import_cdnow,
        "telco-churn": import_telco_churn,
        "nps-verbatims": import_nps_verbatims,
    }


@pytest.mark.parametrize("name", ["olist", "cdnow", "telco-churn", "nps-verbatims"])
def test_reimporting_the_same_export_inserts_nothing(imported, name):
    ws, first, second = imported
    assert sum(first[name].values()) > 0
    assert second[name] == {table: 0 for table in first[name]}


# -- Olist ------------------------------------------------------------------------------------
def test_olist_row_counts_match_the_raw_files(imported, real_data):
    ws, first, _ = imported
    d = real_data / OLIST
    orders = _csv(d / "olist_orders_dataset.csv")
    customers = _csv(d / "olist_customers_dataset.csv")
    items = _csv(d / "olist_order_items_dataset.csv")
    reviews = _csv(d / "olist_order_reviews_dataset.csv")
    milestones = [
        "order_purchase_timestamp",
        "order_approved_at",
        "order_delivered_carrier_date",
        "order_delivered_customer_date",
    ]
    expected = {
        "customers": customers["customer_unique_id"].nunique(),
        "orders": len(orders),
        "order_items": len(items),
        "events": int(orders[milestones].notna().sum().sum()),
        "feedback": len(reviews),
        "reviews": len(reviews),
    }
    assert first["olist"] == expected
    assert (expected["orders"], expected["customers"], expected["feedback"]) == (8135, 8016, 8225)
    got = ws.sql("SELECT count(*) n FROM orders WHERE currency = 'BRL'")["n"].iloc[0]
    assert got == 8135


def test_olist_order_amount_is_the_sum_of_its_payments(imported, real_data):
    ws, _, _ = imported
    pay = _csv(real_data / OLIST / "olist_order_payments_dataset.csv")
    expected = pay.assign(v=pay["payment_value"].astype(float)).groupby("order_id")["v"].sum().round(2)
    got = ws.sql("SELECT order_id, amount FROM orders WHERE currency = 'BRL'").set_index("order_id")["amount"]
    assert len(got) == len(expected) == 8135
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False, atol=1e-9)


def test_olist_repeat_buyers_are_one_customer_created_at_first_purchase(imported, real_data):
    ws, _, _ = imported
    d = real_data / OLIST
    joined = _csv(d / "olist_orders_dataset.csv").merge(_csv(d / "olist_customers_dataset.csv"), on="customer_id")
    per = joined.groupby("customer_unique_id").agg(n=("order_id", "size"), first=("order_purchase_timestamp", "min"))
    repeat = per[per["n"] > 1]
    got = ws.sql(
        "SELECT o.customer_id, count(*) n, min(c.created_at) created_at FROM orders o "
        "JOIN customers c USING (customer_id) WHERE o.currency = 'BRL' GROUP BY 1 HAVING count(*) > 1"
    ).set_index("customer_id")
    assert len(got) == len(repeat) > 0
    assert got["n"].sort_index().tolist() == repeat["n"].sort_index().tolist()
    assert got["created_at"].sort_index().tolist() == pd.to_datetime(repeat["first"]).sort_index().tolist()


def test_olist_delivery_event_is_late_when_delivered_after_the_estimated_day(imported, real_data):
    ws, _, _ = imported
    o = _csv(real_data / OLIST / "olist_orders_dataset.csv").dropna(subset=["order_delivered_customer_date"])
    days = (
        pd.to_datetime(o["order_delivered_customer_date"]).dt.normalize()
        - pd.to_datetime(o["order_estimated_delivery_date"]).dt.normalize()
    ).dt.days
    got = (
        ws.sql(
            "SELECT properties->>'order_id' order_id, CAST(properties->>'days_late' AS INT) days_late, "
            "properties->>'late' late, touchpoint, channel, stage FROM events WHERE name = 'delivery'"
        )
        .set_index("order_id")
        .sort_index()
    )
    expected = pd.Series(days.to_numpy(), index=o["order_id"]).sort_index()
    assert got["days_late"].tolist() == expected.tolist()
    assert (got["late"] == "true").sum() == (expected > 0).sum() == 343
    assert set(zip(got["touchpoint"], got["channel"], got["stage"], strict=True)) == {
        ("delivery", "logistics", "service")
    }


def test_olist_reviews_become_csat_feedback_and_reviews(imported, real_data):
    ws, _, _ = imported
    r = _csv(real_data / OLIST / "olist_order_reviews_dataset.csv")
    fb = ws.sql("SELECT * FROM feedback WHERE survey_id = 'olist_review'")
    assert sorted(fb["feedback_id"]) == sorted(r["review_id"] + ":" + r["order_id"])
    assert (
        fb["score"].value_counts().sort_index().tolist()
        == r["review_score"].astype(int).value_counts().sort_index().tolist()
    )
    assert set(fb["metric"]) == {"csat"} and set(fb["touchpoint"]) == {"delivery"} and set(fb["stage"]) == {"service"}
    # comment = title — message, whichever exist
    row = r[r["review_comment_title"].notna() & r["review_comment_message"].notna()].iloc[0]
    got = fb.set_index("feedback_id").loc[row["review_id"] + ":" + row["order_id"]]
    assert got["comment"] == f"{row['review_comment_title'].strip()} — {row['review_comment_message'].strip()}"
    assert json.loads(got["properties"])["order_id"] == row["order_id"]
    rv = ws.sql("SELECT review_id, rating FROM reviews WHERE source = 'olist'").set_index("review_id")["rating"]
    assert rv.sort_index().tolist() == fb.set_index("feedback_id")["score"].sort_index().tolist()


def _olist_copy(real_data: Path, tmp_path: Path) -> Path:
    d = tmp_path / "olist"
    shutil.copytree(real_data / OLIST, d)
    for f in d.iterdir():
        f.chmod(0o644)
    return d


def _set_cell(path: Path, row: int, column: str, value: str) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[row, column] = value
    frame.to_csv(path, index=False)


def test_olist_bad_review_score_names_file_row_column_and_writes_nothing(ws, real_data, tmp_path):
    d = _olist_copy(real_data, tmp_path)
    _set_cell(d / "olist_order_reviews_dataset.csv", 16, "review_score", "ten")
    with pytest.raises(SchemaError) as e:
        import_olist(ws, d)
    assert str(e.value) == (
        "column 'review_score' in olist_order_reviews_dataset.csv row 17 is 'ten'; expected a whole number 1-5"
    )
    assert (e.value.source, e.value.row, e.value.column) == ("olist_order_reviews_dataset.csv", 17, "review_score")
    assert _empty(ws)


def test_olist_missing_file_or_column_is_an_import_file_error(ws, real_data, tmp_path):
    d = _olist_copy(real_data, tmp_path)
    (d / "olist_order_payments_dataset.csv").unlink()
    with pytest.raises(ImportFileError, match="has no olist_order_payments_dataset.csv"):
        import_olist(ws, d)
    shutil.copy(real_data / OLIST / "olist_order_payments_dataset.csv", d)
    orders = _csv(d / "olist_orders_dataset.csv").drop(columns="order_status")
    orders.to_csv(d / "olist_orders_dataset.csv", index=False)
    with pytest.raises(ImportFileError, match="olist_orders_dataset.csv has no column 'order_status'"):
        import_olist(ws, d)
    assert _empty(ws)


def test_olist_order_of_an_unknown_customer_is_rejected(ws, real_data, tmp_path):
    d = _olist_copy(real_data, tmp_path)
    _set_cell(d / "olist_orders_dataset.csv", 99, "customer_id", "nobody")
    with pytest.raises(
        SchemaError,
        match=r"'customer_id' in olist_orders_dataset.csv row 100 is 'nobody'; "
        r"expected an id listed in olist_customers_dataset.csv",
    ):
        import_olist(ws, d)
    assert _empty(ws)


def test_olist_failure_in_the_last_table_rolls_back_every_table(ws, real_data):
    # reviews are inserted last; make that insert fail inside the transaction
    ws.sql("ALTER TABLE reviews ALTER COLUMN title SET NOT NULL")
    with pytest.raises(Exception, match="NOT NULL"):
        import_olist(ws, real_data / OLIST)
    assert _empty(ws)


# -- CDNOW ------------------------------------------------------------------------------------
def test_cdnow_keeps_every_transaction_including_same_day_repeats(imported, real_data):
    ws, first, _ = imported
    raw = pd.read_csv(real_data / CDNOW, sep=r"\s+", dtype={"customer_id": str, "date": str})
    assert (
        first["cdnow"]
        == {"customers": raw["customer_id"].nunique(), "orders": len(raw)}
        == {"customers": 23570, "orders": 69659}
    )
    got = (
        ws.sql(
            "SELECT customer_id, strftime(ts, '%Y%m%d') date, count(*) n, sum(amount) amount "
            "FROM orders WHERE currency = 'USD' GROUP BY ALL"
        )
        .set_index(["customer_id", "date"])
        .sort_index()
    )
    exp = (
        raw.groupby(["customer_id", "date"])
        .agg(n=("dollar_value", "size"), amount=("dollar_value", "sum"))
        .sort_index()
    )
    assert (exp["n"] > 1).sum() > 0  # same-day repeats exist in the data
    assert got["n"].tolist() == exp["n"].tolist()
    assert got["amount"].round(2).tolist() == exp["amount"].round(2).tolist()
    ids = ws.sql("SELECT order_id FROM orders WHERE customer_id = '00001' AND currency = 'USD' ORDER BY 1")
    assert ids["order_id"].iloc[0] == "00001-19970101-1"


def test_cdnow_customer_created_at_is_first_purchase(imported, real_data):
    ws, _, _ = imported
    raw = pd.read_csv(real_data / CDNOW, sep=r"\s+", dtype={"customer_id": str, "date": str})
    first = pd.to_datetime(raw.groupby("customer_id")["date"].min(), format="%Y%m%d").sort_index()
    got = ws.sql(
        "SELECT c.customer_id, c.created_at FROM customers c WHERE c.customer_id IN "
        "(SELECT customer_id FROM orders WHERE currency = 'USD')"
    ).set_index("customer_id")["created_at"]
    assert got.sort_index().tolist() == first.tolist()


def test_cdnow_bad_date_names_row_and_writes_nothing(ws, tmp_path, real_data):
    lines = (real_data / CDNOW).read_text().splitlines()
    fields = lines[5].split()  # data row 5
    lines[5] = f" {fields[0]} 19971301 {fields[2]} {fields[3]}"
    p = tmp_path / "CDNOW_master.txt"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(SchemaError, match=r"column 'date' in CDNOW_master.txt row 5 is '19971301'; expected a date"):
        import_cdnow(ws, p)
    assert _empty(ws)


# -- Telco churn ------------------------------------------------------------------------------
def test_telco_customers_carry_every_column_as_traits(imported, real_data):
    ws, first, _ = imported
    raw = _csv(real_data / TELCO)
    assert first["telco-churn"] == {"customers": len(raw)} == {"customers": 7043}
    got = ws.sql("SELECT * FROM customers WHERE country = 'US'")
    traits = pd.DataFrame([json.loads(t) for t in got["traits"]], index=got["customer_id"]).sort_index()
    raw = raw.set_index("customerID").sort_index()
    assert (traits["churn"] == "Yes").sum() == (raw["Churn"] == "Yes").sum() == 1869
    assert traits["tenure_months"].tolist() == raw["tenure"].astype(int).tolist()
    blank = raw["TotalCharges"].str.strip() == ""
    assert traits["total_charges"].isna().sum() == blank.sum() == 11
    assert traits["total_charges"][~blank.to_numpy()].tolist() == raw["TotalCharges"][~blank].astype(float).tolist()
    assert got["segment"].value_counts().to_dict() == raw["Contract"].value_counts().to_dict()
    assert got["plan"].value_counts().to_dict() == raw["InternetService"].value_counts().to_dict()
    assert got["created_at"].isna().all() and got["churned_at"].isna().all()


def test_telco_bad_churn_value_writes_nothing(ws, tmp_path, real_data):
    p = tmp_path / "telco.csv"
    raw = _csv(real_data / TELCO)
    raw.loc[41, "Churn"] = "Maybe"
    raw.to_csv(p, index=False)
    with pytest.raises(SchemaError, match=r"column 'Churn' in telco.csv row 42 is 'Maybe'; expected 'Yes' or 'No'"):
        import_telco_churn(ws, p)
    assert _empty(ws)


# -- NPS verbatims ----------------------------------------------------------------------------
def test_nps_verbatims_scored_rows_become_nps_feedback(imported, real_data):
    ws, first, _ = imported
    raw = _csv(real_data / NPS)
    scored = raw[raw["NPS_SCORE"].notna()]
    assert first["nps-verbatims"] == {"feedback": len(scored)} == {"feedback": 2385 - 32}
    got = ws.sql("SELECT * FROM feedback WHERE metric = 'nps'")
    assert got["survey_id"].value_counts().to_dict() == {
        k.lower().replace(" ", "_"): v for k, v in scored["SURVEY_SUB_TYPE"].value_counts().items()
    }
    assert got["score"].sum() == scored["NPS_SCORE"].astype(int).sum()
    stages = dict(zip(got["survey_id"], zip(got["touchpoint"], got["stage"], strict=True), strict=True))
    assert stages == {
        "order": ("order", "purchase"),
        "equipment_received": ("delivery", "service"),
        "first_payment": ("billing", "service"),
        "service_in_use": ("service_in_use", "loyalty"),
    }


def test_nps_verbatims_dates_are_day_first(imported, real_data):
    ws, _, _ = imported
    raw = _csv(real_data / NPS)
    day, month = raw["CUSTOMER_RESPONSE_DATE"].str.extract(r"^(\d+)/(\d+)/").astype(int).T.to_numpy()
    # the first field reaches 31 and the second never passes 12: day first
    assert day.max() == 31 and month.max() == 12
    got = ws.sql("SELECT min(ts) lo, max(ts) hi FROM feedback WHERE metric = 'nps'").iloc[0]
    assert (got["lo"], got["hi"]) == (pd.Timestamp("2017-12-11 19:36"), pd.Timestamp("2018-06-20 19:51"))


def test_nps_verbatims_rating_labels_agree_with_scores_in_the_data(real_data):
    raw = _csv(real_data / NPS)
    scored = raw[raw["NPS_SCORE"].notna()]
    bucket = pd.cut(scored["NPS_SCORE"].astype(int), [-1, 6, 8, 10], labels=["Detractor", "Passive", "Promoter"])
    assert (bucket.astype(str) == scored["NPS_RATING"]).all()
    assert raw["NPS_RATING"].isna().equals(raw["NPS_SCORE"].isna())


def test_nps_verbatims_rating_that_disagrees_with_score_writes_nothing(ws, tmp_path, real_data):
    raw = _csv(real_data / NPS)
    i = int(raw.index[raw["NPS_SCORE"] == "3"][0])
    raw.loc[i, "NPS_RATING"] = "Promoter"
    p = tmp_path / "nps.csv"
    raw.to_csv(p, index=False)
    with pytest.raises(
        SchemaError,
        match=rf"column 'NPS_RATING' in nps.csv row {i + 1} is 'Promoter'; "
        r"expected 'Detractor' for NPS_SCORE 3",
    ):
        import_nps_verbatims(ws, p)
    assert _empty(ws)


def test_nps_verbatims_month_first_dates_are_rejected(ws, tmp_path, real_data):
    raw = _csv(real_data / NPS)
    raw.loc[3, "CUSTOMER_RESPONSE_DATE"] = "2018-05-03 19:36"
    p = tmp_path / "nps.csv"
    raw.to_csv(p, index=False)
    with pytest.raises(SchemaError, match=r"'CUSTOMER_RESPONSE_DATE' in nps.csv row 4 is '2018-05-03 19:36'"):
        import_nps_verbatims(ws, p)
    assert _empty(ws)
