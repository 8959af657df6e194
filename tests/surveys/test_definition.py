"""Survey definitions: parsing, validation errors naming the field, wording per answer group, languages."""

from __future__ import annotations

import pytest

from cxlens.errors import ConfigError
from cxlens.surveys import create_survey, load_definition
from cxlens.surveys.definition import SurveyDefinition

from .conftest import NPS

FULL_YAML = """
id: delivery-csat
name: Delivery CSAT
metric: csat
display: faces
question: How satisfied are you with the delivery?
follow_up: {low: "What went wrong?", high: "What did we do well?"}
touchpoint: delivery
questions:
  - {id: reason, type: choice, question: "Main problem?", options: [Late, Damaged, Other], show_if: "score <= 2"}
language: en
translations:
  fr: {question: "Êtes-vous satisfait de la livraison ?", thank_you: "Merci !", questions: {reason: "Problème principal ?"}}
targeting: {url: ["/orders/*"], trigger: {event: order_delivered, delay_seconds: 2}, sample_rate: 0.5,
            recontact_days: 60, max_responses: 1000, start: 2026-01-01, end: 2027-01-01}
appearance: {position: bottom-left, colors: {primary: "#0f766e"}, feedback_tab: true}
"""


def test_full_yaml_parses_every_section():
    d = load_definition(FULL_YAML)
    assert (d.id, d.metric, d.display, d.scale) == ("delivery-csat", "csat", "faces", (1, 5))
    assert d.targeting["trigger"] == {"event": "order_delivered", "delay_seconds": 2.0}
    assert d.targeting["sample_rate"] == 0.5 and d.targeting["max_responses"] == 1000
    assert d.appearance["position"] == "bottom-left" and d.appearance["colors"] == {"primary": "#0f766e"}
    assert d.questions[0].options == ("Late", "Damaged", "Other")
    # a definition survives its own YAML
    assert SurveyDefinition.from_dict(load_definition(d.to_yaml()).to_dict()) == d


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"metric": "nsp"}, "'metric'"),
        ({"id": "Has Spaces"}, "'id'"),
        ({"status": "live"}, "'status'"),
        ({"display": "stars"}, "'display'"),  # NPS has no stars
        ({"targeting": {"sample_rate": 1.5}}, "'targeting.sample_rate'"),
        ({"targeting": {"recontact_days": -1}}, "'targeting.recontact_days'"),
        ({"targeting": {"start": "soon"}}, "'targeting.start'"),
        ({"targeting": {"start": "2026-02-01", "end": "2026-01-01"}}, "'targeting.end'"),
        ({"targeting": {"trigger": {"delay_seconds": "2s"}}}, "'targeting.trigger.delay_seconds'"),
        ({"appearance": {"colors": {"primary": "red;}body{x"}}}, "'appearance.colors.primary'"),
        ({"appearance": {"position": "middle"}}, "'appearance.position'"),
        ({"follow_up": {"low": "x"}}, "'low'"),  # NPS groups are promoter/passive/detractor
        ({"questions": [{"id": "q", "question": "?", "show_if": "score is low"}]}, "'questions[0].show_if'"),
        ({"questions": [{"id": "q", "type": "choice", "question": "?", "options": ["a"]}]}, "'questions[0].options'"),
        ({"translations": {"fr": {"questoin": "?"}}}, "'questoin'"),
        ({"samplerate": 1}, "'samplerate'"),
        ({"question": ""}, "'question'"),
    ],
)
def test_invalid_definitions_name_the_field(patch, field):
    data = {**NPS, **patch}
    with pytest.raises(ConfigError) as e:
        SurveyDefinition.from_dict(data)
    assert field in str(e.value)


def test_bad_yaml_names_the_line():
    with pytest.raises(ConfigError, match="line 3, column 1"):
        load_definition("id: a\nname: [unclosed\n")


def test_missing_question_names_the_field():
    data = {k: v for k, v in NPS.items() if k != "question"}
    with pytest.raises(ConfigError, match="'question' is missing"):
        SurveyDefinition.from_dict(data)


def test_touchpoint_and_channel_are_checked_against_the_journey(ws):
    with pytest.raises(ConfigError, match="'touchpoint' is 'chekout'"):
        create_survey(ws, {**NPS, "touchpoint": "chekout"})
    with pytest.raises(ConfigError, match="'channel' is 'pigeon'"):
        create_survey(ws, {**NPS, "channel": "pigeon"})
    d = create_survey(ws, NPS)
    assert d.channel == "web"  # the default journey's channel of 'checkout'


@pytest.mark.parametrize(
    ("score", "wording"),
    [(10, "What did you love?"), (9, "What did you love?"), (8, "What would make it a 10?"), (7, "What would make it a 10?"),
     (6, "What went wrong?"), (0, "What went wrong?")],
)  # fmt: skip
def test_nps_follow_up_wording_per_group(score, wording):
    assert SurveyDefinition.from_dict(NPS).follow_up_for(score) == wording


def test_csat_follow_up_low_and_high():
    d = load_definition(FULL_YAML)
    assert [d.follow_up_for(s) for s in (1, 2, 3, 4, 5)] == ["What went wrong?"] * 3 + ["What did we do well?"] * 2


def test_localised_texts_fall_back_field_by_field():
    d = load_definition(FULL_YAML)
    fr = d.localised("fr")
    assert fr["language"] == "fr"
    assert fr["question"] == "Êtes-vous satisfait de la livraison ?" and fr["thank_you"] == "Merci !"
    assert fr["questions"][0]["question"] == "Problème principal ?"
    assert fr["follow_up"]["low"] == "What went wrong?"  # untranslated: the survey's own text
    assert d.localised("de")["language"] == "en" and d.localised("de")["question"] == d.question


def test_the_documented_example_is_valid(ws):
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "surveys.md").read_text(encoding="utf-8")
    example = re.search(r"## Definition reference.*?```yaml\n(.*?)```", doc, re.S).group(1)
    d = create_survey(ws, example)
    assert (d.id, d.metric, d.channel, d.targeting["max_responses"]) == ("checkout-nps", "nps", "web", 2000)
    assert d.localised("fr")["thank_you"] == "Merci !"
    assert [q.show_if for q in d.questions] == ["score <= 6", None]
