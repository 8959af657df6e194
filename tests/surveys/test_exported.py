"""The surveys package's public names are pinned."""

import cxlens.surveys


def test_public_names_are_pinned():
    assert cxlens.surveys.__all__ == [
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
    assert all(hasattr(cxlens.surveys, n) for n in cxlens.surveys.__all__)
    assert cxlens.surveys.LinkGoneError.http_status == 410 and cxlens.surveys.ResponseConflictError.http_status == 409
    assert issubclass(cxlens.surveys.LinkGoneError, cxlens.CxlensError)
