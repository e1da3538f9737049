"""The report runs without importing torch or transformers (it must work on a laptop holding
only results/, and stay fast)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
from typer.testing import CliRunner
import pixel_bench.cli.report
from pixel_bench.cli.app import app
for fmt in ("markdown", "latex", "csv", "html"):
    result = CliRunner().invoke(app, ["report", "--results", sys.argv[1], "--format", fmt,
                                      "--layout", "leaderboard"])
    assert result.exit_code == 0, result.output
heavy = sorted(m for m in ("torch", "transformers", "matplotlib") if m in sys.modules)
assert not heavy, heavy
print("ok")
"""


def test_report_does_not_import_torch(results_dir: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(results_dir)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "ok"
