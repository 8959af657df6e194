"""Language detection: offline, deterministic, Portuguese Olist and English reviews recognised."""

from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("py3langid", reason="language detection needs py3langid (add it to pyproject dependencies)")

from cxlens.voice.language import detect_language, is_english  # noqa: E402


def test_detect_language_names_common_languages():
    texts = [
        "The parcel arrived two days late and the box was damaged",
        "O produto chegou antes do prazo e veio muito bem embalado",
        "El pedido llegó tarde y el servicio al cliente no respondió",
        "Le colis est arrivé en retard et le service client ne répond pas",
        "Das Paket kam zu spät an und der Kundendienst antwortet nicht",
    ]
    assert detect_language(texts) == ["en", "pt", "es", "fr", "de"]


def test_too_short_or_missing_text_is_unknown():
    assert detect_language(["ok", "10", "", None, "👍👍👍", "Great!"]) == [None] * 6


def test_mentions_links_and_tokens_do_not_count_as_letters():
    # 9 letters of real text once the @mention, URL and token are dropped
    assert detect_language(["@VirginAmerica https://t.co/abcdefghij [EMAIL] thanks!!"]) == [None]


def test_detection_is_deterministic():
    texts = ["Entrega rápida", "Produto nunca chegou ao destino", "lovely soft fabric, runs small"] * 3
    assert detect_language(texts) == detect_language(list(reversed(texts)))[::-1]


def test_is_english_marks_other_languages_and_unknown():
    assert is_english(["en", "pt", None]) == [True, False, None]


@pytest.mark.realdata
def test_olist_comments_are_portuguese_and_clothing_reviews_english(real_data):
    olist = pd.read_csv(real_data / "olist-ecommerce-subset" / "olist_order_reviews_dataset.csv")
    msgs = olist["review_comment_message"].dropna()
    msgs = msgs[msgs.str.strip().str.len() > 20]
    assert len(msgs) == 3589
    pt = pd.Series(detect_language(msgs.tolist())).eq("pt").mean()
    assert pt >= 0.90  # measured: 98.2% ('pt'), 1.7% unknown

    cloth = pd.read_csv(real_data / "womens-clothing-reviews-head" / "womens_clothing_ecommerce_reviews_first1000.csv")[
        "Review Text"
    ].dropna()
    assert len(cloth) == 958
    en = pd.Series(detect_language(cloth.tolist())).eq("en").mean()
    assert en >= 0.95  # measured: 99.9%
