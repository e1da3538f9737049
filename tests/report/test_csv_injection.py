"""CSV reports never hand a spreadsheet a formula: text cells starting with = + - @ (or tab/CR)
get a leading quote (OWASP), numbers such as -0.5 stay numbers."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from typer.testing import CliRunner

from pixel_bench.cli.app import app
from pixel_bench.records import write_record
from pixel_bench.report.formats import csv_safe

from report_fixtures import make_record

HOSTILE = "=HYPERLINK(\"http://x\",\"y\")"


def test_csv_safe_guards_text_not_numbers():
    for bad in ("=1+1", "+SUM(A1)", "-2+3", "@cmd", "\t=1", "\r=1", "-x"):
        assert csv_safe(bad) == "'" + bad
    for fine in ("-0.5", "-50.0000", "+1e5", "12.5", "", "pixel-base", "a=b", 3, -0.5, None):
        assert csv_safe(fine) == fine


def test_csv_report_quotes_formula_cells(tmp_path: Path):
    attrs = {"architecture": "@SUM(1+1)", "masking": "-2+3", "input": "+grey"}
    write_record(make_record(HOSTILE, "cola", 1, {"validation": {"matthews_correlation": -0.5}},
                             "matthews_correlation", family="pixel", attrs=attrs), tmp_path)
    res = CliRunner().invoke(app, ["report", "--results", str(tmp_path), "--layout",
                                   "leaderboard", "--format", "csv"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert rows
    cola = [r for r in rows if r["task"] == "cola"]
    assert cola and all(r["model"] == "'" + HOSTILE for r in rows)
    assert cola[0]["mean"] == "-50.0000"  # a negative score is still a number
    for row in rows:
        for key, value in row.items():
            assert not value.startswith(("=", "+", "@", "\t", "\r")), (key, value)
            assert not value.startswith("-") or value.lstrip("-").replace(".", "").isdigit(), \
                (key, value)
