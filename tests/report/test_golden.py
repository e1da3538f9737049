"""Exact text of every layout in markdown, LaTeX and CSV for the fixture records.

The expected files live in tests/report/golden/. After an intended change, regenerate them with
``PIXEL_BENCH_UPDATE_GOLDEN=1 pytest tests/report/test_golden.py``, read the diff, then commit.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pixel_bench.cli.app import app

GOLDEN = Path(__file__).parent / "golden"
SUFFIX = {"markdown": "md", "latex": "tex", "csv": "csv"}
runner = CliRunner()


@pytest.mark.parametrize("fmt", ["markdown", "latex", "csv"])
@pytest.mark.parametrize("layout", ["main", "ablation", "leaderboard", "xnli"])
def test_golden_text(results_dir: Path, layout: str, fmt: str) -> None:
    result = runner.invoke(app, ["report", "--results", str(results_dir), "--layout", layout,
                                 "--format", fmt])
    assert result.exit_code == 0, result.output
    expected = GOLDEN / f"{layout}.{SUFFIX[fmt]}"
    if os.environ.get("PIXEL_BENCH_UPDATE_GOLDEN"):
        expected.write_text(result.stdout, encoding="utf-8")
    assert expected.is_file(), f"{expected} missing: run with PIXEL_BENCH_UPDATE_GOLDEN=1"
    assert result.stdout == expected.read_text(encoding="utf-8")


def test_test_split_golden(results_dir: Path) -> None:
    """XNLI read from the test.<lang> splits (--split test): only the PIXAR record has them."""
    result = runner.invoke(app, ["report", "--results", str(results_dir), "--layout", "xnli",
                                 "--split", "test"])
    assert result.exit_code == 0, result.output
    expected = GOLDEN / "xnli-test.md"
    if os.environ.get("PIXEL_BENCH_UPDATE_GOLDEN"):
        expected.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == expected.read_text(encoding="utf-8")


def test_stderr_golden(results_dir: Path) -> None:
    """What the report says about the fixture's bad files and left-out values (paths relative
    to the results folder): the truncated file, the future schema, the record without SQuAD F1."""
    result = runner.invoke(app, ["report", "--results", str(results_dir)])
    assert result.exit_code == 0, result.output
    text = result.stderr.replace(str(results_dir), "results")
    expected = GOLDEN / "main.stderr.txt"
    if os.environ.get("PIXEL_BENCH_UPDATE_GOLDEN"):
        expected.write_text(text, encoding="utf-8")
    assert text == expected.read_text(encoding="utf-8")
