"""Voice of the customer: verbatims, PII redaction, language, sentiment, themes, signals, drivers.

>>> from cxlens.voice import redact
>>> redact("Call me on 07700 900123 or mail jo@example.com")
'Call me on [PHONE] or mail [EMAIL]'
"""

from cxlens.voice.aspects import aspect_sentiment
from cxlens.voice.drivers import driver_quadrant_chart, key_drivers, relative_weights, shapley_importance
from cxlens.voice.language import detect_language, is_english
from cxlens.voice.painpoints import emerging_themes, pain_points, theme_summary
from cxlens.voice.redact import find_pii, redact, redact_series
from cxlens.voice.sentiment import (
    CLASSES,
    LABELS,
    MIXED_MIN,
    SentimentAnalyzer,
    SentimentModel,
    VaderAnalyzer,
    analyse_sentiment,
    default_model,
    score_file,
)
from cxlens.voice.signals import SIGNALS, signals
from cxlens.voice.themes import ThemeExtractor, coherence
from cxlens.voice.verbatims import analyse_verbatims, verbatims

__all__ = [
    "CLASSES",
    "LABELS",
    "MIXED_MIN",
    "SIGNALS",
    "SentimentAnalyzer",
    "SentimentModel",
    "ThemeExtractor",
    "VaderAnalyzer",
    "analyse_sentiment",
    "analyse_verbatims",
    "aspect_sentiment",
    "coherence",
    "default_model",
    "detect_language",
    "driver_quadrant_chart",
    "emerging_themes",
    "find_pii",
    "is_english",
    "key_drivers",
    "pain_points",
    "redact",
    "redact_series",
    "relative_weights",
    "score_file",
    "shapley_importance",
    "signals",
    "theme_summary",
    "verbatims",
]
