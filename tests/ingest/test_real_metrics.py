"""CX metrics on imported real data agree with an independent pandas computation on the raw files."""

from __future__ import annotations

import pandas as pd
import pytest

import cxlens
from cxlens.ingest.adapters import import_nps_verbatims, import_olist

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def ws(real_data, tmp_path_factory):
    w = cxlens.open(tmp_path_factory.mktemp("real_metrics") / "ws.duckdb")
    import_olist(w, real_data / "olist-ecommerce-subset")
    import_nps_verbatims(w, real_data / "nps-verbatims-telecom" / "nps_verbatims.csv")
    yield w
    w.close()


def _nps(scores: pd.Series) -> float:
    return 100 * ((scores >= 9).mean() - (scores <= 6).mean())


def _nps_scores(real_data) -> pd.DataFrame:
    raw = pd.read_csv(real_data / "nps-verbatims-telecom" / "nps_verbatims.csv", dtype=str)
    raw = raw[raw["NPS_SCORE"].notna()]
    return raw.assign(score=raw["NPS_SCORE"].astype(int))


def test_olist_csat_is_the_share_of_4_and_5_reviews(ws, real_data):
    scores = pd.read_csv(real_data / "olist-ecommerce-subset" / "olist_order_reviews_dataset.csv")["review_score"]
    expected = 100 * (scores >= 4).mean()
    assert round(expected, 2) == 55.17  # (1,184 + 3,354) / 8,225
    got = ws.metrics.csat().iloc[0]
    assert got["n"] == len(scores) == 8225
    assert got["satisfied"] == (scores >= 4).sum()
    assert got["csat"] == pytest.approx(expected, abs=1e-9)
    assert got["ci_low"] < got["csat"] < got["ci_high"]


def test_olist_csat_by_touchpoint_is_all_delivery(ws, real_data):
    scores = pd.read_csv(real_data / "olist-ecommerce-subset" / "olist_order_reviews_dataset.csv")["review_score"]
    got = ws.metrics.csat(by="touchpoint")
    assert got["touchpoint"].tolist() == ["delivery"]
    assert got["csat"].iloc[0] == pytest.approx(100 * (scores >= 4).mean(), abs=1e-9)


def test_nps_verbatims_overall_nps_matches_pandas(ws, real_data):
    scored = _nps_scores(real_data)
    expected = _nps(scored["score"])
    assert round(expected, 2) == -24.69  # (690 promoters - 1,271 detractors) / 2,353
    got = ws.metrics.nps().iloc[0]
    assert (got["n"], got["promoters"], got["detractors"]) == (len(scored), 690, 1271)
    assert got["nps"] == pytest.approx(expected, abs=1e-9)
    assert got["ci_low"] < got["nps"] < got["ci_high"]


def test_nps_verbatims_nps_by_survey_type_matches_pandas(ws, real_data):
    scored = _nps_scores(real_data)
    expected = scored.groupby("SURVEY_SUB_TYPE")["score"].agg([_nps, "size"])
    expected.index = expected.index.str.lower().str.replace(" ", "_")
    got = ws.metrics.nps(by="survey_id").set_index("survey_id").sort_index()
    expected = expected.sort_index()
    assert (
        got.index.tolist()
        == expected.index.tolist()
        == ["equipment_received", "first_payment", "order", "service_in_use"]
    )
    assert got["n"].tolist() == expected["size"].tolist()
    assert got["nps"].tolist() == pytest.approx(expected["_nps"].tolist(), abs=1e-9)
    # and by journey stage: Order → purchase; Equipment Received + First Payment → service; Service in Use → loyalty
    stage_of = {
        "order": "purchase",
        "equipment_received": "service",
        "first_payment": "service",
        "service_in_use": "loyalty",
    }
    scored["stage"] = scored["SURVEY_SUB_TYPE"].str.lower().str.replace(" ", "_").map(stage_of)
    by_stage = ws.metrics.nps(by="stage").set_index("stage")["nps"].sort_index()
    assert by_stage.tolist() == pytest.approx(scored.groupby("stage")["score"].agg(_nps).sort_index().tolist())
