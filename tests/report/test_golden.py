"""Exact text of every layout in markdown, LaTeX and CSV for the fixture records.

The expected files live in tests/report/golden/. After an intended change, regenerate them with
``PIXEL_BENCH_UPDATE_GOLDEN=1 pytest tests/report/test_golden.py``, read the diff, then commit.
Regeneration replaces a file atomically and only when its text changed, so a test run reading the
golden files at the same moment (another engineer's checkout-wide run) never sees a half-written
or empty file.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pixel_bench.cli.app import app
from pixel_bench.records import atomic_write_text

GOLDEN = Path(__file__).parent / "golden"
SUFFIX = {"markdown": "md", "latex": "tex", "csv": "csv"}
runner = CliRunner()


def _check(expected: Path, text: str) -> None:
    if os.environ.get("PIXEL_BENCH_UPDATE_GOLDEN"):
        old = expected.read_text(encoding="utf-8") if expected.is_file() else None
        if text != old:
            atomic_write_text(expected, text)  # tmp file + rename: readers see old or new
            expected.chmod(0o644)  # mkstemp made it owner-only
    assert expected.is_file(), f"{expected} missing: run with PIXEL_BENCH_UPDATE_GOLDEN=1"
    assert text == expected.read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", ["markdown", "latex", "csv"])
@pytest.mark.parametrize("layout", ["main", "ablation", "leaderboard", "xnli"])
def test_golden_text(results_dir: Path, layout: str, fmt: str) -> None:
    result = runner.invoke(app, ["report", "--results", str(results_dir), "--layout", layout,
                                 "--format", fmt])
    assert result.exit_code == 0, result.output
    _check(GOLDEN / f"{layout}.{SUFFIX[fmt]}", result.stdout)


def test_test_split_golden(results_dir: Path) -> None:
    """XNLI read from the test.<lang> splits (--split test): only the PIXAR record has them."""
    result = runner.invoke(app, ["report", "--results", str(results_dir), "--layout", "xnli",
                                 "--split", "test"])
    assert result.exit_code == 0, result.output
    _check(GOLDEN / "xnli-test.md", result.stdout)


def test_stderr_golden(results_dir: Path) -> None:
    """What the report says about the fixture's bad files and left-out values (paths relative
    to the results folder): the truncated file, the future schema, the record without SQuAD F1."""
    result = runner.invoke(app, ["report", "--results", str(results_dir)])
    assert result.exit_code == 0, result.output
    _check(GOLDEN / "main.stderr.txt", result.stderr.replace(str(results_dir), "results"))
