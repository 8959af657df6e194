"""Fixtures of the report tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture()
def wpath(sample_path, tmp_path) -> Path:
    """A copy of the sample workspace this test may change."""
    path = tmp_path / "shop.duckdb"
    shutil.copy(sample_path, path)
    return path
