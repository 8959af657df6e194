"""Surveys: definitions, targeting and fatigue, responses as canonical feedback, personal links.

See docs/surveys.md. The widget (``/sdk/cxlens-survey.js``) and the hosted pages call the
library through :mod:`cxlens.web.api.surveys`.
"""

from cxlens.surveys.definition import SurveyDefinition, load_definition
from cxlens.surveys.links import LinkGoneError, make_token, verify_token, write_links
from cxlens.surveys.results import survey_results
from cxlens.surveys.store import (
    ResponseConflictError,
    create_survey,
    eligible_surveys,
    get_survey,
    list_surveys,
    record_exposure,
    record_response,
    set_status,
    submit_response,
    update_survey,
)
from cxlens.surveys.targeting import eligibility, in_sample, pick_language, url_matches

__all__ = [
    "LinkGoneError",
    "ResponseConflictError",
    "SurveyDefinition",
    "create_survey",
    "eligibility",
    "eligible_surveys",
    "get_survey",
    "in_sample",
    "list_surveys",
    "load_definition",
    "make_token",
    "pick_language",
    "record_exposure",
    "record_response",
    "set_status",
    "submit_response",
    "survey_results",
    "update_survey",
    "url_matches",
    "verify_token",
    "write_links",
]
