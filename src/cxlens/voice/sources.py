"""Moved to :mod:`cxlens.ingest.sources` (every importer lives under ``ingest/``); kept so that old imports work."""

from cxlens.ingest.sources import SOURCE_ADAPTERS, import_airline_tweets, import_clothing_reviews

__all__ = ["SOURCE_ADAPTERS", "import_airline_tweets", "import_clothing_reviews"]
