"""The import's fast paths (Arrow compute for blank cells and ISO dates, touchpoints looked up once,
metrics compared once per chunk) give exactly the answers and errors the slow paths give.

Oracles are literal: the instants each text stands for, the stage the journey gives a touchpoint,
the row and column a bad value is in — written here by hand, not computed by the code under test.
"""

from __future__ import annotations

import pandas as pd
import pytest

from cxlens.errors import SchemaError
from cxlens.ingest.load import fill_from_journey
from cxlens.schema.journey import default_journey
from cxlens.schema.tables import TABLES
from cxlens.schema.validate import validate_frame

FB = TABLES["feedback"]


def _frame(ts: list[str | None], **more: list) -> pd.DataFrame:
    n = len(ts)
    cols = {
        "feedback_id": [f"f{i}" for i in range(n)],
        "ts": ts,
        "metric": more.pop("metric", ["nps"] * n),
        "score": more.pop("score", ["9"] * n),
        **more,
    }
    return pd.DataFrame({k: pd.Series(v, dtype="str") for k, v in cols.items()})


@pytest.mark.parametrize(
    ("texts", "want"),
    [
        # every value with a zone: Arrow's ISO cast
        (
            ["2024-03-01T10:00:00+01:00", "2024-03-01T10:00:00Z", "2024-12-31 23:30:00-02:00"],
            ["2024-03-01 09:00:00", "2024-03-01 10:00:00", "2025-01-01 01:30:00"],
        ),
        # none with a zone (UTC by default), fractions kept to the microsecond
        (
            ["2024-03-01T10:00:00.123456", "2024-03-01 10:00", "2024-02-29T00:00:00"],
            ["2024-03-01 10:00:00.123456", "2024-03-01 10:00:00", "2024-02-29 00:00:00"],
        ),
        # zones on some only, and nanoseconds: left to pandas, same instants
        (
            ["2024-03-01T10:00:00+01:00", "2024-03-01T10:00:00"],
            ["2024-03-01 09:00:00", "2024-03-01 10:00:00"],
        ),
        (["2024-03-01T10:00:00.123456789Z"], ["2024-03-01 10:00:00.123456"]),
    ],
)
def test_iso_times_read_as_the_instants_they_name(texts, want):
    out = validate_frame(_frame(texts), FB, source="fb.csv", derive=False)
    assert out["ts"].dtype == "datetime64[us]"
    assert out["ts"].tolist() == [pd.Timestamp(w) for w in want]


def test_an_impossible_iso_date_is_refused_with_its_row_and_column():
    with pytest.raises(SchemaError) as e:
        validate_frame(_frame(["2024-03-01T10:00:00Z", "2024-02-30T10:00:00Z"]), FB, source="fb.csv", derive=False)
    assert "column 'ts' in fb.csv row 2" in str(e.value) and "2024-02-30" in str(e.value)


def test_white_space_only_cells_are_empty_and_a_required_one_is_named():
    frame = _frame(["2024-03-01T10:00:00Z"] * 3, comment=["ok", "  \t ", None])
    out = validate_frame(frame, FB, source="fb.csv", derive=False)
    assert out["comment"].tolist()[0] == "ok" and out["comment"].isna().tolist() == [False, True, True]
    with pytest.raises(SchemaError, match=r"column 'metric' in fb.csv row 2 is empty"):
        validate_frame(
            _frame(["2024-03-01T10:00:00Z"] * 3, metric=["nps", "   ", "nps"]), FB, source="fb.csv", derive=False
        )


def test_scores_are_checked_against_each_rows_own_metric():
    frame = _frame(["2024-03-01T10:00:00Z"] * 5, metric=["NPS", " csat", "ces", "nps", "csat"],
                   score=["10", "5", "7", "0", "6"])  # fmt: skip
    with pytest.raises(SchemaError) as e:
        validate_frame(frame, FB, source="fb.csv", derive=False)
    assert "column 'score' in fb.csv row 5 is '6'" in str(e.value) and "1-5 for metric 'csat'" in str(e.value)
    ok = validate_frame(frame.iloc[:4], FB, source="fb.csv", derive=False)
    assert ok["metric"].tolist() == ["nps", "csat", "ces", "nps"] and ok["score"].tolist() == [10, 5, 7, 0]


def test_stage_and_channel_come_from_the_journey_only_where_empty():
    journey = default_journey()
    tp = journey.touchpoints[0]
    other = journey.touchpoints[-1]
    rows = pd.DataFrame(
        {
            "touchpoint": [tp.id, "not-a-touchpoint", None, other.id, tp.id],
            "stage": [None, None, None, None, "kept"],
            "channel": [None, None, None, "mine", None],
        },
        dtype=object,
    )
    out = fill_from_journey(journey, FB, rows)
    assert out["stage"].tolist()[:4] == [tp.stage, None, None, other.stage] and out["stage"].iloc[4] == "kept"
    assert out["channel"].tolist()[0] == tp.channel and out["channel"].iloc[3] == "mine"
    assert pd.isna(out["channel"].iloc[1]) and pd.isna(out["channel"].iloc[2]) and out["channel"].iloc[4] == tp.channel
    assert rows["stage"].isna().sum() == 4  # the caller's frame is left as it was
