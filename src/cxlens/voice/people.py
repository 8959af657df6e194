"""The people behind a theme: one definition for every list filtered by theme, and of the themes known.

The replay list (``ws.behaviour.replays(theme=)``) and interview recruiting
(``ws.interviews.candidates(theme=)``) both keep the customers whose verbatims the feedback explorer lists
under that theme (``/feedback?theme=``). This module imports only the voice modules those layers already
use (not the ``cxlens.voice`` package, whose drivers read behaviour features).
"""

from __future__ import annotations

import json
from typing import Any

from cxlens.errors import ParameterError
from cxlens.schema.ddl import VERBATIM_THEMES_TABLE
from cxlens.voice.tasks import theme_model
from cxlens.voice.themes import OTHER_ID, OTHER_NAME, ThemeExtractor
from cxlens.voice.verbatims import KINDS, verbatim_expression

__all__ = ["known_theme", "theme_customers"]


def known_theme(store: Any, theme: str | None = None) -> tuple[ThemeExtractor | None, dict[str, str]]:
    """The workspace's theme model and the theme names it knows, checking ``theme`` against them.

    Parameters
    ----------
    store : Store
        The workspace store.
    theme : str, optional
        A theme id to check; ``None`` checks nothing.

    Returns
    -------
    tuple
        The theme model (:func:`~cxlens.voice.tasks.theme_model`, ``None`` before the themes job has run) and
        id → name of its themes, then ``"other"`` → ``"Other (no theme)"`` (the verbatims the job gave no primary
        theme); empty before any model, so every theme is unknown then.

    Raises
    ------
    ParameterError
        When ``theme`` is not a known id: a filter on it would silently find nothing. The message names the
        known ids (or says there are no themes yet).
    """
    tx, _ = theme_model(store)
    names = {**tx.names(), OTHER_ID: OTHER_NAME} if tx is not None else {}
    if theme is not None and theme not in names:
        raise ParameterError("theme", f"theme is {theme!r}; expected one of {', '.join(names) or 'no themes yet'}")
    return tx, names


def theme_customers(store: Any, theme: str) -> list[str]:
    """The people behind the explorer's ``theme=`` rows: the customers with at least one verbatim (survey
    answer, ticket, review or interview turn) that :func:`cxlens.voice.explorer.feedback_page` lists under ``theme``.

    A theme id keeps the verbatims carrying it among their labels (primary or not); ``"other"``
    (:data:`~cxlens.voice.themes.OTHER_ID`) those the themes job assigned no primary theme (a verbatim not
    assigned yet has no stored row, and is in neither). So someone may be in several themes and in
    ``other``. The one definition of "people with theme X" that the replay list
    (``ws.behaviour.replays(theme=)``) and interview recruiting (:func:`cxlens.interviews.candidates`)
    filter on. An id the workspace's theme model does not know is
    a :class:`~cxlens.errors.ParameterError` (it would silently find nobody)."""
    known_theme(store, theme)
    v = verbatim_expression(store, list(KINDS))
    th = store.table(VERBATIM_THEMES_TABLE)
    # a stored row without a primary theme is the other group; labels are a JSON list of quoted ids
    th = th.filter(th.theme.isnull() if theme == OTHER_ID else th.themes.contains(json.dumps(theme)))
    hit = v.filter(v.customer_id.notnull()).semi_join(th, v.verbatim_id == th.verbatim_id)
    return sorted(str(c) for c in store.read(hit.select(c=hit.customer_id.cast("string")).distinct())["c"])
