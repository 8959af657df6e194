"""Language of customer text, offline: ISO 639-1 codes from ``py3langid``'s shipped model.

``py3langid`` (a NumPy port of langid.py, Lui & Baldwin 2012, "langid.py: An Off-the-shelf
Language Identification Tool", ACL demo) ships its naive Bayes model inside the wheel, needs no
network and is deterministic. Candidates are restricted to :data:`DEFAULT_LANGUAGES`, the
languages customer feedback is commonly written in: without the restriction short Portuguese
reviews are often labelled Galician (96% vs 99.5% 'pt' on the Olist comments).

Texts with fewer than ``min_letters`` letters, or whose best language has a normalised
probability below ``min_confidence``, get ``None`` (unknown) instead of a guess.

Examples
--------
>>> detect_language(["Produto chegou antes do prazo, recomendo", "Great fit and lovely fabric", "ok"])
['pt', 'en', None]
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["DEFAULT_LANGUAGES", "detect_language", "is_english"]

#: candidate languages (ISO 639-1) considered by default
DEFAULT_LANGUAGES: tuple[str, ...] = tuple(
    "en pt es fr de it nl sv da no fi pl cs sk hu ro bg el ru uk tr ar he fa hi bn ur zh ja ko vi th id ms tl sw "
    "hr sr sl lt lv et ca".split()
)
_LETTER = re.compile(r"[^\W\d_]")
_NOISE = re.compile(r"(?:https?://|www\.)\S+|[@#]\w+|\[[A-Z]+\]")


@functools.lru_cache(maxsize=8)
def _identifier(languages: tuple[str, ...] | None) -> Any:
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "language detection needs the package 'py3langid' (a cxlens dependency), which is not installed; "
            "run: pip install py3langid"
        ) from None
    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    if languages:
        ident.set_languages(list(languages))
    return ident


def detect_language(
    texts: Iterable[str | None],
    *,
    languages: Sequence[str] | None = DEFAULT_LANGUAGES,
    min_letters: int = 10,
    min_confidence: float = 0.5,
    max_chars: int = 200,
) -> list[str | None]:
    """ISO 639-1 code of each text, or ``None`` when it is too short or the model is unsure.

    Parameters
    ----------
    texts
        Texts (``None`` allowed). URLs, @mentions, #hashtags and redaction tokens such as
        ``[EMAIL]`` are ignored.
    languages
        Candidate languages; ``None`` for all 97 of the model.
    min_letters
        Texts with fewer letters than this are not classified.
    min_confidence
        Minimum normalised probability of the best language.
    max_chars
        Only the first ``max_chars`` characters are classified (speed: on 48k real verbatims,
        200 gave the same labels as whole texts in 40% of the time).

    Examples
    --------
    >>> detect_language(["Il pacco è arrivato in ritardo e rotto", None])
    ['it', None]
    """
    ident = _identifier(tuple(languages) if languages else None)
    out: list[str | None] = []
    cache: dict[str, str | None] = {}
    for text in texts:
        if text is None or not isinstance(text, str):
            out.append(None)
            continue
        if text in cache:
            out.append(cache[text])
            continue
        clean = _NOISE.sub(" ", text[: max_chars + 100])[:max_chars]
        lang: str | None = None
        if len(_LETTER.findall(clean)) >= min_letters:
            code, prob = ident.classify(clean)
            lang = str(code) if prob >= min_confidence else None
        cache[text] = lang
        out.append(lang)
    return out


def is_english(languages: Iterable[str | None]) -> list[bool | None]:
    """``True`` for 'en', ``False`` for another language, ``None`` where the language is unknown.

    Examples
    --------
    >>> is_english(["en", "pt", None])
    [True, False, None]
    """
    return [None if lang is None else lang == "en" for lang in languages]
