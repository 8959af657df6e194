"""The unified verbatims view and incremental analysis."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import cxlens
from cxlens.errors import ConfigError, WorkspaceError
from cxlens.ingest import write_demo
from cxlens.voice.verbatims import ANALYSIS_TABLE, VERBATIM_COLUMNS, analyse_verbatims, verbatims


def _langid():
    pytest.importorskip("py3langid", reason="language detection needs py3langid (add it to pyproject dependencies)")


@pytest.fixture()
def small(tmp_path):
    """Two customers, three feedback rows (one blank comment), two tickets, two reviews."""
    w = cxlens.open(tmp_path / "v.duckdb")
    w.load("customers", pd.DataFrame({"customer_id": ["c1", "c2"], "segment": ["gold", "basic"]}))
    w.load(
        "feedback",
        pd.DataFrame(
            {
                "feedback_id": ["f1", "f2", "f3"],
                "customer_id": ["c1", "c2", "c2"],
                "ts": ["2024-05-01 10:00", "2024-05-02 10:00", "2024-05-03 10:00"],
                "metric": ["nps", "csat", "nps"],
                "score": [3, 5, 9],
                "comment": [
                    "The router never arrived, call me on 07700 900123 please",
                    "O produto chegou quebrado e ninguém respondeu meu e-mail",
                    "   ",
                ],
                "touchpoint": ["delivery", "checkout", None],
            }
        ),
    )
    w.load(
        "tickets",
        pd.DataFrame(
            {
                "ticket_id": ["t1", "t2"],
                "customer_id": ["c1", None],
                "created_at": ["2024-05-04 09:00", "2024-06-01 09:00"],
                "channel": ["email", "chat"],
                "subject": ["Refund", None],
                "body": ["Still waiting for my refund, write to jo@example.com", "Where is my parcel? It is late"],
                "touchpoint": ["support_email", None],
            }
        ),
    )
    w.load(
        "reviews",
        pd.DataFrame(
            {
                "review_id": ["r1", "r2"],
                "source": ["trustpilot", None],
                "customer_id": ["c2", None],
                "ts": ["2024-05-05", "2024-05-06"],
                "rating": [1, None],
                "title": ["Awful", None],
                "body": ["Delivered to 12 High Street instead of my house", "Lovely staff and a quick delivery"],
                "touchpoint": ["review_site", "delivery"],
                "properties": ['{"channel": "social"}', None],
            }
        ),
    )
    yield w
    w.close()


def test_verbatims_unions_feedback_tickets_and_reviews(small):
    v = verbatims(small, redacted=False, language=False)
    assert list(v.columns) == VERBATIM_COLUMNS
    assert v["verbatim_id"].tolist() == [
        "feedback:f1",
        "feedback:f2",
        "ticket:t1",
        "review:r1",
        "review:r2",
        "ticket:t2",
    ]  # by ts; the blank comment f3 is left out
    row = v.set_index("verbatim_id")
    assert row.loc["feedback:f1", "source"] == "feedback:nps"
    assert row.loc["feedback:f2", "score"] == 5 and row.loc["feedback:f2", "metric"] == "csat"
    assert row.loc["ticket:t1", "text"] == "Refund\nStill waiting for my refund, write to jo@example.com"
    assert row.loc["ticket:t2", "text"] == "Where is my parcel? It is late"
    assert row.loc["review:r1", "text"] == "Awful\nDelivered to 12 High Street instead of my house"
    assert row.loc["review:r1", "source"] == "review:trustpilot"
    assert row.loc["review:r2", "source"] == "review:unknown"
    assert row.loc["review:r1", "score"] == 1 and row.loc["review:r1", "metric"] == "rating"
    assert pd.isna(row.loc["review:r2", "score"]) and row.loc["review:r2", "metric"] is None
    assert pd.isna(row.loc["ticket:t1", "score"]) and row.loc["ticket:t1", "metric"] is None
    # channel from properties, else from the journey's touchpoint; stage from the journey
    assert row.loc["review:r1", "channel"] == "social"
    assert row.loc["review:r2", "channel"] == "logistics"
    assert row.loc["review:r1", "stage"] == "advocacy"
    assert row.loc["ticket:t1", "stage"] == "service"
    assert row.loc["ticket:t2", "stage"] is None
    assert row.loc["feedback:f2", "stage"] == "purchase"


def test_verbatims_redacts_by_default_and_tags_language(small):
    _langid()
    v = verbatims(small).set_index("verbatim_id")
    assert v.loc["feedback:f1", "text"] == "The router never arrived, call me on [PHONE] please"
    assert v.loc["ticket:t1", "text"] == "Refund\nStill waiting for my refund, write to [EMAIL]"
    assert v.loc["review:r1", "text"] == "Awful\nDelivered to [ADDRESS] instead of my house"
    assert v.loc["feedback:f2", "language"] == "pt" and v.loc["feedback:f2", "is_english"] is False
    assert v.loc["feedback:f1", "language"] == "en" and v.loc["feedback:f1", "is_english"] is True


def test_verbatims_filters_sources_and_dates(small):
    ids = lambda **kw: verbatims(small, language=False, **kw)["verbatim_id"].tolist()  # noqa: E731
    assert ids(sources=["ticket"]) == ["ticket:t1", "ticket:t2"]
    assert ids(sources=["feedback:nps", "review"]) == ["feedback:f1", "review:r1", "review:r2"]
    assert ids(start="2024-05-04", end="2024-06-01") == ["ticket:t1", "review:r1", "review:r2"]
    assert ids(filters={"stage": "service"}) == ["feedback:f1", "ticket:t1", "review:r2"]
    assert ids(filters={"segment": "gold"}) == ["feedback:f1", "ticket:t1"]
    assert ids(filters={"channel": ["social", "chat"]}) == ["review:r1", "ticket:t2"]
    with pytest.raises(ConfigError, match="unknown verbatim source 'survey'"):
        verbatims(small, sources=["survey"])


def test_analyse_scores_english_only_and_is_incremental(small):
    _langid()
    from cxlens.voice.sentiment import default_model

    a = analyse_verbatims(small)
    assert a.attrs == {"analysed": 6, "scored": 5}
    row = a.set_index("verbatim_id")
    # Portuguese: no score, marked; English: the model's own score of the redacted text
    assert pd.isna(row.loc["feedback:f2", "sentiment_score"]) and row.loc["feedback:f2", "sentiment_label"] is None
    assert row.loc["feedback:f2", "sentiment_skipped"] == "not_english"
    expected = default_model().score([row.loc["feedback:f1", "text"]])
    assert row.loc["feedback:f1", "sentiment_score"] == pytest.approx(expected["score"].iloc[0])
    assert row.loc["feedback:f1", "sentiment_label"] == expected["label"].iloc[0]
    assert row.loc["feedback:f1", "sentiment_skipped"] is None
    assert row.loc["feedback:f1", "model"] == "cxlens:sentiment-v4"
    assert "[PHONE]" in row.loc["feedback:f1", "text"]
    stored = small.sql(f"SELECT verbatim_id, redacted_text FROM {ANALYSIS_TABLE} ORDER BY verbatim_id")
    assert len(stored) == 6 and not stored["redacted_text"].str.contains("07700|jo@example", regex=True).any()

    again = analyse_verbatims(small)
    assert again.attrs == {"analysed": 0, "scored": 0}
    pd.testing.assert_frame_equal(again, a, check_like=False)

    small.load(
        "feedback",
        pd.DataFrame(
            {
                "feedback_id": ["f4", "f5", "f6"],
                "ts": ["2024-07-01", "2024-07-02", "2024-07-03"],
                "metric": ["nps", "nps", "csat"],
                "score": [10, 9, 5],
                "comment": ["Brilliant!", "Ótimo né", "Otimo"],
            }
        ),
    )
    third = analyse_verbatims(small)
    # too short to tell: plain ASCII from a mostly English source is scored; accented text is not,
    # nor plain ASCII from feedback:csat, whose only known-language comment (stored by the first run) is 'pt'
    assert third.attrs == {"analysed": 3, "scored": 1}
    row = third.set_index("verbatim_id")
    assert row.loc["feedback:f4", "language"] is None and row.loc["feedback:f4", "sentiment_label"] is not None
    assert row.loc["feedback:f5", "sentiment_skipped"] == "unknown_language"
    assert row.loc["feedback:f6", "sentiment_skipped"] == "unknown_language"
    assert row.loc["feedback:f5", "is_english"] is None
    assert len(third) == 9
    assert small.sql(f"SELECT count(*) AS n FROM {ANALYSIS_TABLE}")["n"].iloc[0] == 9


def test_verbatims_on_demo_match_sql_counts(tmp_path):
    with cxlens.open(tmp_path / "demo.duckdb") as ws:
        write_demo(ws, 400, seed=2)
        v = verbatims(ws, language=False)
        expected = ws.sql(
            "SELECT 'feedback:' || metric AS source, count(*) AS n FROM feedback WHERE trim(comment) <> '' GROUP BY 1 "
            "UNION ALL SELECT 'ticket', count(*) FROM tickets "
            "UNION ALL SELECT 'review:' || source, count(*) FROM reviews GROUP BY 1"
        )
        got = v["source"].value_counts()
        assert got.sort_index().to_dict() == expected.set_index("source")["n"].sort_index().to_dict()
        assert v["verbatim_id"].is_unique
        # every planted PII comment/ticket is redacted in the view
        truth = json.loads(ws.sql("SELECT value FROM demo_truth WHERE key = 'pii'")["value"].iloc[0])
        planted = {"feedback:" + i for i in truth["feedback_ids"]} | {"ticket:" + i for i in truth["ticket_ids"]}
        texts = v.set_index("verbatim_id").loc[sorted(planted), "text"]
        assert texts.str.contains(r"\[(?:EMAIL|PHONE)\]", regex=True).all()
        assert not texts.str.contains("@", regex=False).any()


def test_analyse_on_a_read_only_workspace_says_how_to_fix(small):
    path = small.path
    small.close()
    with cxlens.open(path, read_only=True) as ro:
        with pytest.raises(WorkspaceError, match=r"is open read-only; .* open it with cxlens.open\(path\)"):
            analyse_verbatims(ro)


def test_originals_are_kept_only_while_the_workspace_allows_it(small):
    _langid()
    from cxlens.voice.verbatims import KEEP_ORIGINALS

    a = analyse_verbatims(small)
    assert "original_text" not in a.columns
    stored = small.sql(f"SELECT count(original_text) AS n FROM {ANALYSIS_TABLE}")["n"].iloc[0]
    assert stored == 0  # default: nothing but the redacted text is stored

    small.set_setting(KEEP_ORIGINALS, True)
    small.load(
        "feedback",
        pd.DataFrame({"feedback_id": ["f9"], "ts": ["2024-08-01"], "metric": ["nps"], "score": [2],
                      "comment": ["Mail me at jo@example.com, the engineer never came"]}),
    )  # fmt: skip
    b = analyse_verbatims(small).set_index("verbatim_id")
    assert b.loc["feedback:f9", "original_text"] == "Mail me at jo@example.com, the engineer never came"
    assert b.loc["feedback:f9", "text"] == "Mail me at [EMAIL], the engineer never came"
    assert b.loc["feedback:f1", "original_text"] is None  # analysed before originals were allowed

    small.set_setting(KEEP_ORIGINALS, False)  # withdrawn: the kept originals are erased
    c = analyse_verbatims(small)
    assert c.attrs["analysed"] == 0 and "original_text" not in c.columns
    assert small.sql(f"SELECT count(original_text) AS n FROM {ANALYSIS_TABLE}")["n"].iloc[0] == 0
