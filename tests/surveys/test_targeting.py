"""Targeting and fatigue: sample rate, recontact window, max responses, date range, URL pattern, languages."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import pytest

from cxlens.surveys import create_survey, eligible_surveys, in_sample, pick_language, record_exposure, url_matches
from cxlens.surveys import record_response as respond

from .conftest import NPS

NOW = datetime(2026, 6, 1, 12, 0)


def ids(ws, **kw):
    return [s["id"] for s in eligible_surveys(ws, **kw)["surveys"]]


def test_sample_rate_is_deterministic_and_close_to_the_rate():
    people = [f"anon-{i}" for i in range(4000)]
    picked = [in_sample("s", p, 0.25) for p in people]
    assert picked == [in_sample("s", p, 0.25) for p in people]
    # independent recomputation of the documented rule: first 8 bytes of sha256("s\0person") / 2^64 < rate
    expected = [int.from_bytes(hashlib.sha256(f"s\x00{p}".encode()).digest()[:8], "big") / 2**64 < 0.25 for p in people]
    assert picked == expected
    # 4000 draws at p=0.25: sd ≈ 27, so the count lies in 1000 ± 110 unless sha256 is broken
    assert 890 <= sum(picked) <= 1110


def test_sample_rate_applies_to_eligibility(ws):
    create_survey(ws, {**NPS, "targeting": {"sample_rate": 0.3}})
    people = [f"p{i}" for i in range(200)]
    shown = [p for p in people if ids(ws, anonymous_id=p, now=NOW)]
    assert shown == [p for p in people if in_sample("checkout-nps", p, 0.3)]
    assert 0 < len(shown) < 200


def test_recontact_window_after_an_impression(ws):
    create_survey(ws, NPS)  # recontact_days: 30
    record_exposure(ws, "checkout-nps", "impression", anonymous_id="a1")
    seen = ws.sql("SELECT ts FROM survey_exposures").ts[0].to_pydatetime()
    assert ids(ws, anonymous_id="a1", now=seen + timedelta(days=29)) == []
    assert ids(ws, anonymous_id="a1", now=seen + timedelta(days=31)) == ["checkout-nps"]
    assert ids(ws, anonymous_id="a2", now=seen) == ["checkout-nps"]  # someone else


def test_dismissal_also_starts_the_window(ws):
    create_survey(ws, NPS)
    record_exposure(ws, "checkout-nps", "dismiss", anonymous_id="a1")
    assert ids(ws, anonymous_id="a1") == []


def test_one_response_per_person_even_after_the_window(ws):
    create_survey(ws, NPS)
    respond(ws, "checkout-nps", response_id="r1", anonymous_id="a1", score=9)
    assert ids(ws, anonymous_id="a1", now=datetime(2030, 1, 1)) == []
    create_survey(ws, {**NPS, "id": "again", "targeting": {"once_per_person": False, "recontact_days": 0}})
    respond(ws, "again", response_id="r1", anonymous_id="a1", score=9)
    assert ids(ws, anonymous_id="a1") == ["again"]


def test_a_customer_id_links_history_across_anonymous_ids(ws):
    create_survey(ws, NPS)
    respond(ws, "checkout-nps", response_id="r1", anonymous_id="laptop", customer_id="c1", score=9)
    assert ids(ws, anonymous_id="phone", customer_id="c1") == []
    assert ids(ws, anonymous_id="phone") == ["checkout-nps"]


def test_stops_after_max_responses(ws):
    create_survey(ws, {**NPS, "targeting": {"max_responses": 2}})
    respond(ws, "checkout-nps", response_id="r1", anonymous_id="a1", score=9)
    assert ids(ws, anonymous_id="z") == ["checkout-nps"]
    respond(ws, "checkout-nps", response_id="r2", anonymous_id="a2", score=3)
    assert ids(ws, anonymous_id="z") == []


def test_active_date_range(ws):
    create_survey(ws, {**NPS, "targeting": {"start": "2026-05-01", "end": "2026-07-01"}})
    assert ids(ws, anonymous_id="a", now=datetime(2026, 4, 30, 23, 59)) == []
    assert ids(ws, anonymous_id="a", now=datetime(2026, 5, 1)) == ["checkout-nps"]
    assert ids(ws, anonymous_id="a", now=datetime(2026, 6, 30, 23, 59)) == ["checkout-nps"]
    assert ids(ws, anonymous_id="a", now=datetime(2026, 7, 1)) == []  # end is exclusive


def test_status_must_be_active(ws):
    create_survey(ws, {**NPS, "status": "paused"})
    assert ids(ws, anonymous_id="a") == []


@pytest.mark.parametrize(
    ("patterns", "url", "expected"),
    [
        (["/checkout/*"], "https://shop.example/checkout/done?x=1", True),
        (["/checkout/*"], "https://shop.example/cart", False),
        (["/checkout"], "https://shop.example/checkout/", True),
        (["https://shop.example/*"], "https://shop.example/a/b", True),
        (["https://shop.example/*"], "https://evil.example/a", False),
        ([], "https://anything", True),
        (["/a", "/b/*"], "https://x/b/c", True),
    ],
)
def test_url_patterns(patterns, url, expected):
    assert url_matches(patterns, url) is expected


def test_url_targeting_and_event_trigger(ws):
    create_survey(ws, {**NPS, "targeting": {"url": ["/checkout/*"], "trigger": {"event": "order_completed",
                                                                                  "delay_seconds": 2}}})  # fmt: skip
    page = "https://shop.example/checkout/thanks"
    on_load = eligible_surveys(ws, anonymous_id="a", url=page)
    assert on_load["surveys"] == [] and on_load["watch_events"] == ["order_completed"]
    assert eligible_surveys(ws, anonymous_id="a", url="https://shop.example/cart")["watch_events"] == []
    got = eligible_surveys(ws, anonymous_id="a", url=page, event="order_completed")["surveys"]
    assert [(s["id"], s["trigger"]["delay_seconds"]) for s in got] == [("checkout-nps", 2.0)]
    assert ids(ws, anonymous_id="a", url=page, event="page_viewed") == []


@pytest.mark.parametrize(
    ("accept", "expected"),
    [("fr-CA,fr;q=0.9,en;q=0.8", "fr"), ("pt-BR", "pt-BR"), ("pt-PT,pt;q=0.5", "en"), ("de-DE,de;q=0.9", "en"),
     ("de;q=0.5,fr;q=0.9", "fr"), (None, "en"), ("", "en")],
)  # fmt: skip
def test_language_choice_with_fallback(accept, expected):
    assert pick_language(accept, ["fr", "pt-BR"], "en") == expected


def test_eligible_survey_is_localised(ws):
    create_survey(ws, {**NPS, "translations": {"fr": {"question": "Nous recommanderiez-vous ?"}}})
    fr = eligible_surveys(ws, anonymous_id="a", language="fr-FR,fr;q=0.9")["surveys"][0]
    de = eligible_surveys(ws, anonymous_id="b", language="de")["surveys"][0]
    assert (fr["language"], fr["question"]) == ("fr", "Nous recommanderiez-vous ?")
    assert (de["language"], de["question"]) == ("en", NPS["question"])


def test_feedback_tab_ignores_sampling_and_triggers_but_not_answers(ws):
    create_survey(ws, {**NPS, "targeting": {"sample_rate": 0.0, "trigger": "order_completed", "url": "/shop/*"},
                       "appearance": {"feedback_tab": True, "tab_label": "Avis"}})  # fmt: skip
    got = eligible_surveys(ws, anonymous_id="a", url="https://x/shop/p")
    assert got["surveys"] == [] and got["feedback_tab"]["id"] == "checkout-nps"
    assert got["feedback_tab"]["tab_label"] == "Avis"
    assert eligible_surveys(ws, anonymous_id="a", url="https://x/blog")["feedback_tab"] is None
    respond(ws, "checkout-nps", response_id="r", anonymous_id="a", score=7)
    assert eligible_surveys(ws, anonymous_id="a", url="https://x/shop/p")["feedback_tab"] is None
