"""The ``generative`` layout (LAMBADA, bAbI: accuracy, PIXAR's scorer, readability, OCR
ceiling) on its own small record set, compared with golden text like the other layouts.
Regenerate with ``PIXEL_BENCH_UPDATE_GOLDEN=1``."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pixel_bench.cli.app import app
from pixel_bench.records import ResultRecord, write_record
from test_golden import GOLDEN, SUFFIX, _check

runner = CliRunner()

# (model, family, task, seed, accuracy, pixar, readability, ceiling)
ROWS = [
    ("pixar2024", "pixar2024", "lambada", 1, 0.112, 0.061, 0.672, 0.883),
    ("pixar2024", "pixar2024", "lambada", 2, 0.118, 0.063, 0.668, 0.883),
    ("pixar2024", "pixar2024", "babi", 1, 0.196, 0.196, 0.770, 0.935),
    ("pixar-encdec-span-binary", "pixar", "babi", 1, 0.041, 0.040, 0.310, 0.935),
    ("gpt2", "text", "lambada", 1, 0.326, 0.210, 0.950, None),
]


def _write(results: Path) -> Path:
    for model, family, task, seed, acc, pixar, read, ceiling in ROWS:
        metrics = {"accuracy": acc, "accuracy_pixar": pixar, "readability": read}
        if ceiling is not None:
            metrics["ocr_ceiling"] = ceiling
        write_record(ResultRecord(model=model, task=task, seed=seed, metrics={"test": metrics},
                                  main_metric="accuracy", main_split="test",
                                  model_info={"family": family, "attributes": {}},
                                  train={"steps": 0, "zero_shot": True}), results)
    return results


@pytest.mark.parametrize("fmt", ["markdown", "latex", "csv"])
def test_generative_layout_golden(tmp_path: Path, fmt: str) -> None:
    results = _write(tmp_path / "results")
    result = runner.invoke(app, ["report", "--results", str(results), "--layout", "generative",
                                 "--format", fmt])
    assert result.exit_code == 0, result.output
    _check(GOLDEN / f"generative.{SUFFIX[fmt]}", result.stdout)
    if fmt == "markdown":  # the mean of two seeds, and the text model's missing ceiling
        assert "11.5" in result.stdout and "LAMBADA" in result.stdout and "bAbI" in result.stdout


def test_generative_latex_compiles(tmp_path: Path) -> None:
    import shutil
    import subprocess

    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed (.ci/run installs it)")
    results = _write(tmp_path / "results")
    result = runner.invoke(app, ["report", "--results", str(results), "--layout", "generative",
                                 "--format", "latex"])
    (tmp_path / "generative.tex").write_text(result.stdout, encoding="utf-8")
    (tmp_path / "doc.tex").write_text(
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage{graphicx}\n"
        "\\begin{document}\n\\input{generative.tex}\n\\end{document}\n", encoding="utf-8")
    out = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-2000:]
