"""Every layout's LaTeX compiles in a minimal document (article + booktabs).

Skipped only when no pdflatex is installed (Debian/Ubuntu: ``apt-get install -y
texlive-latex-base texlive-latex-recommended``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pixel_bench.cli.app import app

PDFLATEX = shutil.which("pdflatex")


@pytest.mark.skipif(PDFLATEX is None, reason="pdflatex not installed (apt-get install -y "
                    "texlive-latex-base texlive-latex-recommended)")
def test_all_layouts_compile(results_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    inputs = []
    for layout in ("main", "ablation", "leaderboard", "xnli"):
        out = tmp_path / f"{layout}.tex"
        result = runner.invoke(app, ["report", "--results", str(results_dir), "--layout", layout,
                                     "--format", "latex", "--out", str(out)])
        assert result.exit_code == 0, result.output
        inputs.append(f"\\input{{{layout}.tex}}")
    (tmp_path / "doc.tex").write_text(
        "\\documentclass{article}\n\\usepackage[margin=1cm,landscape]{geometry}\n"
        "\\usepackage{booktabs}\n\\begin{document}\n" + "\n".join(inputs) +
        "\n\\end{document}\n")
    proc = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000
    assert "Undefined control sequence" not in proc.stdout
