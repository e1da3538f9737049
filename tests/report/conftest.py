"""Fixtures for the report tests (the record set itself lives in report_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from report_fixtures import write_fixture


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    """The fixture record set (with one truncated and one future-schema file) in tmp_path."""
    return write_fixture(tmp_path / "results")
