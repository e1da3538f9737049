"""Every layout's LaTeX compiles in a minimal portrait document (article + booktabs + graphicx)
and fits the text width (no overfull box: wide tables are scaled down, never up).

Skipped only when no pdflatex is installed. `.ci/run` installs it where it runs as root with
apt-get (Debian/Ubuntu: ``apt-get install -y --no-install-recommends texlive-latex-base
texlive-latex-recommended``); where that install fails, this test skips with this reason.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pixel_bench.cli.app import app

PDFLATEX = shutil.which("pdflatex")
LAYOUTS = ("main", "ablation", "leaderboard", "xnli")


@pytest.mark.skipif(PDFLATEX is None, reason="pdflatex not installed (apt-get install -y "
                    "--no-install-recommends texlive-latex-base texlive-latex-recommended)")
def test_all_layouts_compile(results_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    inputs = []
    for layout in LAYOUTS:
        out = tmp_path / f"{layout}.tex"
        result = runner.invoke(app, ["report", "--results", str(results_dir), "--layout", layout,
                                     "--format", "latex", "--out", str(out)])
        assert result.exit_code == 0, result.output
        inputs.append(f"\\input{{{layout}.tex}}")
    (tmp_path / "doc.tex").write_text(
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage{graphicx}\n"
        "\\begin{document}\n" + "\n".join(inputs) + "\n\\end{document}\n")
    proc = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert "Undefined control sequence" not in log
    assert "Overfull \\hbox" not in log, log[-3000:]  # XNLI's 16 columns are scaled to fit
    assert len(inputs) == len(LAYOUTS)
