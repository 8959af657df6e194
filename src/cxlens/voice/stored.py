"""The workspace's theme model: fitted once, edited (merge, rename, pin), reused everywhere.

A :class:`~cxlens.voice.themes.ThemeExtractor` is stored as its :meth:`~ThemeExtractor.to_dict`
JSON in the workspace setting ``voice.theme_model``. When one is stored, ``cxlens voice themes``
/ ``pain-points``, the dashboard's themes page, the feedback explorer's theme filter, the
overview's pain points and the journey map all assign themes with it, so theme ids and names
stay stable between runs and user edits persist. Without one, each of them fits a fresh model on
the latest English verbatims (:func:`workspace_themes`).

Examples
--------
>>> import cxlens
>>> from cxlens.ingest import simulate
>>> ws = cxlens.open(":memory:")
>>> texts = simulate("small", seed=0).feedback["comment"].dropna().tolist()
>>> tx = ThemeExtractor(n_themes=6).fit(texts)
>>> save_themes(ws, tx.rename("t0", "Billing")) and load_themes(ws).names()["t0"]
'Billing'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from cxlens.errors import ConfigError, NotFoundError
from cxlens.voice.themes import ThemeExtractor

__all__ = ["THEME_SETTING", "edit_themes", "forget_themes", "load_themes", "save_themes", "workspace_themes"]

THEME_SETTING = "voice.theme_model"
#: A fresh model is fitted on at most this many of the latest English verbatims.
FIT_LIMIT = 5000


def save_themes(ws: Any, extractor: ThemeExtractor) -> bool:
    """Store ``extractor`` as the workspace's theme model (replacing any earlier one); returns True."""
    ws.set_setting(THEME_SETTING, extractor.to_dict())
    return True


def load_themes(ws: Any) -> ThemeExtractor | None:
    """The stored theme model, or None when the workspace has none."""
    data = ws.setting(THEME_SETTING)
    return None if data is None else ThemeExtractor.from_dict(data)


def forget_themes(ws: Any) -> None:
    """Remove the stored theme model (the next analysis fits a fresh one)."""
    ws.set_setting(THEME_SETTING, None)


def edit_themes(
    ws: Any,
    *,
    rename: Mapping[str, str] | None = None,
    merge: Iterable[Sequence[str]] = (),
    pin: Iterable[str] = (),
    unpin: Iterable[str] = (),
) -> ThemeExtractor:
    """Apply edits to the stored theme model and store it again; returns the edited model.

    ``merge`` holds pairs ``(a, b)`` (``b`` merged into ``a``), applied first, then ``rename``
    (id → name), ``pin`` and ``unpin``. Nothing is stored if any edit fails.
    """
    tx = load_themes(ws)
    if tx is None:
        raise NotFoundError(
            "the workspace has no stored theme model; run 'cxlens voice themes --save' first, then edit it"
        )
    for pair in merge:
        if len(pair) != 2:
            raise ConfigError(f"merge {list(pair)!r} is not a pair; expected two theme ids such as ('t1', 't4')")
        tx.merge(str(pair[0]), str(pair[1]))
    for theme_id, name in (rename or {}).items():
        tx.rename(theme_id, name)
    for theme_id in pin:
        tx.pin(theme_id, True)
    for theme_id in unpin:
        tx.pin(theme_id, False)
    save_themes(ws, tx)
    return tx


_FITTED: dict[tuple[Any, ...], ThemeExtractor] = {}


def workspace_themes(ws: Any, *, n_themes: int | str = 10) -> ThemeExtractor:
    """The stored theme model, else one fitted on the workspace's latest English verbatims.

    The fitted model is not stored; it is cached per workspace, verbatim ids and ``n_themes``,
    so pages asking again get the same model without fitting again. Raises ConfigError when
    there are too few texts to discover themes.
    """
    tx = load_themes(ws)
    if tx is not None:
        return tx
    from cxlens.voice.verbatims import verbatims

    ids = verbatims(ws, redacted=False, language=False)["verbatim_id"]  # cheap: the cache key only
    key = (id(ws), str(getattr(ws, "path", "")), n_themes, len(ids), int(pd.util.hash_pandas_object(ids).sum()))
    if key not in _FITTED:
        v = verbatims(ws)  # redacted, language-tagged
        en = v[v["is_english"].eq(True)].tail(FIT_LIMIT)
        fitted = ThemeExtractor(n_themes=n_themes).fit(en["text"].tolist())
        _FITTED.clear()
        _FITTED[key] = fitted
    return _FITTED[key]
