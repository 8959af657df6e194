"""Getting data in: file import, adapters for known exports, the demo data generator."""

from cxlens.ingest.files import FORMATS, apply_mapping, parse_mapping, read_file

__all__ = ["FORMATS", "apply_mapping", "parse_mapping", "read_file"]
