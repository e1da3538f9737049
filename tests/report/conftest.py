"""Fixtures for the report tests (the record set itself lives in report_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from report_fixtures import write_fixture


@pytest.fixture(autouse=True)
def _no_default_results(monkeypatch: pytest.MonkeyPatch,
                        tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report's default folder ($PIXEL_BENCH_RESULTS, else ./results) points at a folder
    that does not exist, so a test that forgets ``--results`` fails the same way every time
    instead of reading the repository's results/ (rewritten by real runs while tests run) or a
    user's $PIXEL_BENCH_RESULTS."""
    missing = tmp_path_factory.getbasetemp() / "no-default-results"
    monkeypatch.setenv("PIXEL_BENCH_RESULTS", str(missing))
    return missing


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    """The fixture record set (with one truncated and one future-schema file) in tmp_path."""
    return write_fixture(tmp_path / "results")
