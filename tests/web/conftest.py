"""Fixtures for the dashboard tests: one sample workspace file per session."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import cxlens

_spec = importlib.util.spec_from_file_location("cxlens_web_sample", Path(__file__).with_name("_sample.py"))
sample = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sample)


@pytest.fixture(scope="session")
def sample_path(tmp_path_factory) -> Path:
    return sample.build(tmp_path_factory.mktemp("web") / "sample.duckdb")


@pytest.fixture()
def sample_ws(sample_path):
    ws = cxlens.open(sample_path)
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def sample_facts(sample_path) -> dict:
    with cxlens.open(sample_path) as ws:
        return sample.facts(ws)
