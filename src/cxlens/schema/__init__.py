"""Canonical tables and validation of incoming rows."""

from cxlens.schema.tables import SCORE_RANGES, TABLES, Column, Table
from cxlens.schema.validate import validate_frame

__all__ = ["SCORE_RANGES", "TABLES", "Column", "Table", "validate_frame"]
