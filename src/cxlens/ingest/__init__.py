"""Getting data in: file import, adapters for known exports, the demo data generator."""

from cxlens.ingest.files import FORMATS, apply_mapping, parse_mapping, read_file
from cxlens.ingest.simulate import SimulatedData, simulate, write_demo

__all__ = ["FORMATS", "SimulatedData", "apply_mapping", "parse_mapping", "read_file", "simulate", "write_demo"]
