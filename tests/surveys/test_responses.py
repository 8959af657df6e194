"""Responses: partial answers merged into one feedback row, the rollup kept in step, idempotency, limits."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from cxlens.errors import PayloadTooLargeError, SchemaError
from cxlens.surveys import ResponseConflictError, create_survey, record_response
from cxlens.surveys.store import feedback_id_of

from .conftest import NPS


def rollup(ws) -> pd.DataFrame:
    df = ws.sql("SELECT metric, day, touchpoint, channel, stage, survey_id, score, n FROM feedback_rollup")
    return df.sort_values(["survey_id", "score"]).reset_index(drop=True)


def assert_rollup_consistent(ws):
    """The incrementally kept rollup equals one rebuilt from scratch out of feedback."""
    kept = rollup(ws)
    ws.rebuild_rollups()
    pd.testing.assert_frame_equal(kept, rollup(ws))


@pytest.fixture()
def nps(ws):
    create_survey(ws, NPS)
    return ws


def test_score_then_comment_is_one_feedback_row(nps):
    first = record_response(nps, "checkout-nps", response_id="r1", anonymous_id="anon-1", score=6)
    assert first["follow_up"] == "What went wrong?" and first["created"]
    second = record_response(nps, "checkout-nps", response_id="r1", anonymous_id="anon-1", comment="Slow delivery")
    assert not second["created"]
    fb = nps.sql("SELECT * FROM feedback")
    assert len(fb) == 1
    row = fb.iloc[0]
    assert (row.metric, row.score, row.comment, row.touchpoint, row.channel, row.stage, row.survey_id) == (
        "nps",
        6.0,
        "Slow delivery",
        "checkout",
        "web",
        "purchase",
        "checkout-nps",
    )
    assert row.feedback_id == feedback_id_of("checkout-nps", "r1")
    assert row.customer_id is None and json.loads(row.properties)["anonymous_id"] == "anon-1"
    assert_rollup_consistent(nps)


def test_comment_first_waits_for_the_score(nps):
    record_response(nps, "checkout-nps", response_id="r1", anonymous_id="a", comment="early words")
    assert len(nps.sql("SELECT * FROM feedback")) == 0
    record_response(nps, "checkout-nps", response_id="r1", anonymous_id="a", score=10)
    fb = nps.sql("SELECT score, comment FROM feedback")
    assert fb.values.tolist() == [[10.0, "early words"]]
    assert_rollup_consistent(nps)


def test_changed_score_moves_the_rollup_count(nps):
    record_response(nps, "checkout-nps", response_id="r1", anonymous_id="a", score=3)
    record_response(nps, "checkout-nps", response_id="r2", anonymous_id="b", score=3)
    record_response(nps, "checkout-nps", response_id="r1", anonymous_id="a", score=9)
    assert dict(zip(rollup(nps).score, rollup(nps).n, strict=True)) == {3.0: 1, 9.0: 1}
    assert_rollup_consistent(nps)
    # NPS from the rollup fast path and from a scan agree with the hand count: 1 promoter, 1 detractor → 0
    from cxlens.metrics import Metrics

    fast = nps.metrics.nps(filters={"survey_id": "checkout-nps"})
    scan = Metrics(nps, use_rollup=False).nps(filters={"survey_id": "checkout-nps"})
    assert fast.nps.iloc[0] == scan.nps.iloc[0] == 0.0 and fast.n.iloc[0] == 2


def test_same_partial_twice_changes_nothing(nps):
    for _ in range(3):
        record_response(nps, "checkout-nps", response_id="r1", anonymous_id="a", score=8, comment="ok")
    assert nps.sql("SELECT count(*) AS n FROM feedback").n[0] == 1
    assert nps.sql("SELECT count(*) AS n FROM survey_responses").n[0] == 1
    assert rollup(nps).n.tolist() == [1]


def test_one_response_per_person(nps):
    record_response(nps, "checkout-nps", response_id="r1", anonymous_id="a", score=8)
    with pytest.raises(ResponseConflictError, match="already answered"):
        record_response(nps, "checkout-nps", response_id="r2", anonymous_id="a", score=2)
    assert nps.sql("SELECT score FROM feedback").score.tolist() == [8.0]


def test_response_id_of_another_person_is_refused(nps):
    record_response(nps, "checkout-nps", response_id="r1", anonymous_id="a", score=8)
    with pytest.raises(ResponseConflictError, match="belongs to another person"):
        record_response(nps, "checkout-nps", response_id="r1", anonymous_id="b", comment="hijack")
    assert nps.sql("SELECT comment FROM feedback").comment.tolist() == [None]


@pytest.mark.parametrize(("score", "msg"), [(11, "from 0 to 10"), (-1, "from 0 to 10"), (7.5, "whole number"),
                                            ("ten", "'ten'"), (True, "True")])  # fmt: skip
def test_score_outside_the_scale_names_the_field(nps, score, msg):
    with pytest.raises(SchemaError, match="field 'score'") as e:
        record_response(nps, "checkout-nps", response_id="r1", anonymous_id="a", score=score)
    assert msg in str(e.value)


def test_comment_size_limit(nps):
    with pytest.raises(PayloadTooLargeError, match="field 'comment' is 5001 characters"):
        record_response(nps, "checkout-nps", response_id="r1", anonymous_id="a", score=5, comment="x" * 5001)


def test_script_in_comment_is_stored_as_text(nps):
    payload = "<script>alert('x')</script>"
    record_response(nps, "checkout-nps", response_id="r1", anonymous_id="a", score=1, comment=payload)
    assert nps.sql("SELECT comment FROM feedback").comment[0] == payload


def test_branching_questions_and_answers(ws):
    create_survey(ws, {**NPS, "questions": [
        {"id": "why", "type": "choice", "question": "Main reason?", "options": ["Price", "Speed"], "show_if": "score <= 6"},
        {"id": "more", "type": "text", "question": "Anything else?"}]})  # fmt: skip
    low = record_response(ws, "checkout-nps", response_id="r1", anonymous_id="a", score=4)
    high = record_response(ws, "checkout-nps", response_id="r2", anonymous_id="b", score=9)
    assert low["next_questions"] == ["why", "more"] and high["next_questions"] == ["more"]
    record_response(ws, "checkout-nps", response_id="r1", anonymous_id="a", answers={"why": "Price"})
    props = json.loads(ws.sql("SELECT properties FROM feedback WHERE score = 4").properties[0])
    assert props["answers"] == {"why": "Price"}
    with pytest.raises(SchemaError, match="'answers.why' is 'Cheap'"):
        record_response(ws, "checkout-nps", response_id="r1", anonymous_id="a", answers={"why": "Cheap"})


def test_text_and_choice_surveys(ws):
    create_survey(ws, {"id": "idea", "name": "Ideas", "metric": "text", "question": "One idea?", "status": "active"})
    create_survey(ws, {"id": "pick", "name": "Pick", "metric": "choice", "question": "Which?", "status": "active",
                       "options": ["Red", "Blue"]})  # fmt: skip
    record_response(ws, "idea", response_id="r1", anonymous_id="a", comment="Dark mode")
    record_response(ws, "pick", response_id="r1", anonymous_id="a", score=2)
    fb = ws.sql("SELECT survey_id, score, comment, properties FROM feedback ORDER BY survey_id")
    assert fb.survey_id.tolist() == ["idea", "pick"]
    assert pd.isna(fb.score[0]) and fb.comment[0] == "Dark mode"
    assert fb.score[1] == 2.0 and json.loads(fb.properties[1])["choice"] == "Blue"
    assert_rollup_consistent(ws)


def test_paused_survey_takes_no_new_responses_and_no_changes_but_completes_started_ones(nps):
    from cxlens.surveys import set_status

    record_response(nps, "checkout-nps", response_id="r1", anonymous_id="a", score=9)
    set_status(nps, "checkout-nps", "paused")
    record_response(nps, "checkout-nps", response_id="r1", anonymous_id="a", comment="late comment")
    with pytest.raises(ResponseConflictError, match="paused"):
        record_response(nps, "checkout-nps", response_id="r2", anonymous_id="b", score=9)
    for change in ({"score": 0}, {"comment": "rewritten"}):  # what was answered stays as answered
        with pytest.raises(ResponseConflictError, match="paused"):
            record_response(nps, "checkout-nps", response_id="r1", anonymous_id="a", **change)
    assert nps.sql("SELECT score, comment FROM feedback").values.tolist() == [[9.0, "late comment"]]


def test_score_change_removes_an_emptied_rollup_group(nps):
    record_response(nps, "checkout-nps", response_id="r1", anonymous_id="a", score=3)
    record_response(nps, "checkout-nps", response_id="r1", anonymous_id="a", score=9)
    assert rollup(nps)[["score", "n"]].values.tolist() == [[9.0, 1]]
    assert_rollup_consistent(nps)


def test_concurrent_partials_of_one_response_make_one_row(nps):
    from concurrent.futures import ThreadPoolExecutor

    parts = [{"score": 7}, {"comment": "c"}, {"score": 7}, {"comment": "c"}] * 5

    def send(p):
        return record_response(nps, "checkout-nps", response_id="r1", anonymous_id="a", **p)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(send, parts))
    assert sum(r["created"] for r in results) == 1
    assert nps.sql("SELECT score, comment FROM feedback").values.tolist() == [[7.0, "c"]]
    assert rollup(nps)[["score", "n"]].values.tolist() == [[7.0, 1]]
