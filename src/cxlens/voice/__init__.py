"""Voice of the customer: sentiment of verbatims (and, later, themes, drivers, redaction)."""

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

__all__ = [
    "CLASSES",
    "LABELS",
    "MIXED_MIN",
    "SentimentAnalyzer",
    "SentimentModel",
    "VaderAnalyzer",
    "analyse_sentiment",
    "default_model",
    "score_file",
]
