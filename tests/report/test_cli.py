"""``pixel-bench report`` on bad input, filters, formats and unknown names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pixel_bench.cli.app import app
from pixel_bench.errors import ConfigError, UnknownNameError

runner = CliRunner()


def _report(*args: str):
    return runner.invoke(app, ["report", *args])


def test_bad_files_are_listed_on_stderr_and_the_report_renders(results_dir: Path) -> None:
    result = _report("--results", str(results_dir))
    assert result.exit_code == 0
    assert "skipped 2 unreadable record file(s)" in result.stderr
    assert "seed-9/record.json: result record is not valid JSON" in result.stderr
    assert "unknown schema_version 99" in result.stderr
    assert "squad/seed-2/record.json: no metric 'f1' in split 'validation'" in result.stderr
    assert result.stdout.startswith("| Model | POS Acc |")


def test_nothing_readable_exits_non_zero(tmp_path: Path) -> None:
    bad = tmp_path / "m" / "pos" / "seed-1" / "record.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{")
    result = _report("--results", str(tmp_path))
    assert result.exit_code == 1
    assert "no readable record.json" in result.stderr and "corrupt" in result.stderr
    empty = _report("--results", str(tmp_path / "nowhere"))
    assert empty.exit_code != 0 and "does not exist" in str(empty.exception)


def test_unknown_layout_lists_the_valid_ones(results_dir: Path) -> None:
    result = _report("--results", str(results_dir), "--layout", "ablaton")
    assert isinstance(result.exception, UnknownNameError)
    message = str(result.exception)
    assert "Did you mean 'ablation'?" in message and "main, ablation, leaderboard, xnli" in message


def test_unknown_model_and_task_list_close_matches(results_dir: Path) -> None:
    result = _report("--results", str(results_dir), "--models", "pixel-bse")
    assert isinstance(result.exception, UnknownNameError)
    assert "Did you mean 'pixel-base'?" in str(result.exception)
    assert "pixar-enc-random-binary" in str(result.exception)
    result = _report("--results", str(results_dir), "--tasks", "sst3")
    assert isinstance(result.exception, UnknownNameError)
    assert "'sst2'" in str(result.exception) and "Valid tasks:" in str(result.exception)
    result = _report("--results", str(results_dir), "--format", "markdwn")
    assert isinstance(result.exception, UnknownNameError)
    assert "'markdown'" in str(result.exception)


def test_models_and_tasks_filter_and_order(results_dir: Path) -> None:
    result = _report("--results", str(results_dir), "--models",
                     "pixar-enc-random-binary,pixel-base", "--tasks", "pos", "--tasks", "SST-2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    # Avg is dropped: not all of its columns are kept
    assert lines[0] == "| Model | POS Acc | SST-2 Acc |"
    assert lines[2].startswith("| pixar-enc-random-binary | 93.3 (n=1) | 74.2 (n=1) |")
    assert lines[3].startswith("| pixel-base | 93.8 ± 0.3 (n=3) | 82.2 (n=1) |")
    assert len([x for x in lines if x.startswith("| pix")]) == 2


def test_html_and_format_from_suffix(results_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.html"
    result = _report("--results", str(results_dir), "--out", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")  # "±" and "–": never the locale's encoding
    assert text.startswith('<table class="pixel-bench-report">')
    assert "<strong>82.2 (n=1)</strong>" in text and "<th>pixar_encdec_nomask</th>" in text


def test_png_needs_out_and_is_written(results_dir: Path, tmp_path: Path) -> None:
    result = _report("--results", str(results_dir), "--format", "png")
    assert isinstance(result.exception, ConfigError)
    out = tmp_path / "chart.png"
    result = _report("--results", str(results_dir), "--format", "png", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_list_layouts() -> None:
    result = _report("--list-layouts")
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.stdout.splitlines()] == [
        "main", "ablation", "leaderboard", "xnli", "ud", "masakhaner", "generative"]


def test_record_written_mid_report_is_just_another_bad_file(results_dir: Path) -> None:
    """A half-written file (a writer not using atomic_write_text) is skipped, never fatal."""
    partial = results_dir / "pixel-base" / "sst2" / "seed-5" / "record.json"
    partial.parent.mkdir(parents=True)
    partial.write_text(json.dumps({"schema_version": 1, "model": "pixel-base"})[:20])
    result = _report("--results", str(results_dir), "--format", "csv")
    assert result.exit_code == 0 and "seed-5/record.json" in result.stderr


@pytest.mark.parametrize("fmt", ["markdown", "latex", "csv", "html"])
def test_empty_layout_still_renders(results_dir: Path, fmt: str, tmp_path: Path) -> None:
    only_pos = tmp_path / "r"
    (only_pos / "x").mkdir(parents=True)
    src = results_dir / "pixel-base" / "pos" / "seed-1" / "record.json"
    (only_pos / "x" / "record.json").write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    result = _report("--results", str(only_pos), "--layout", "xnli", "--format", fmt)
    assert result.exit_code == 0, result.output
    assert "no records match" in result.stderr


def test_png_marks_missing_cells_and_draws_error_bars_only_with_seeds(results_dir: Path) -> None:
    """Every missing cell gets an "n/a", every cell with 2+ seeds one error bar, one-seed cells
    none; a real 0.0 carries its value so it is not mistaken for a missing result. The figure
    lives on its own Agg canvas: pyplot's global figure list is left alone."""
    pytest.importorskip("matplotlib")
    from matplotlib._pylab_helpers import Gcf
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.container import ErrorbarContainer

    from pixel_bench.records import write_record
    from pixel_bench.report import build_table, get_layout, load_results
    from pixel_bench.report.plot import figure
    from report_fixtures import make_record

    write_record(make_record("zero", "ner", 1, {"validation": {"f1": 0.0}}, "f1"), results_dir)
    table = build_table(load_results(results_dir), get_layout("main"))
    cells = [row.cells[c.key] for row in table.rows for c in table.columns]
    managers = Gcf.get_num_fig_managers()
    fig = figure(table)
    assert isinstance(fig.canvas, FigureCanvasAgg) and Gcf.get_num_fig_managers() == managers
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("n/a") == sum(c.missing for c in cells) > 0
    assert texts.count("0.0") == 1
    bars = sum(len(cont.lines[2][0].get_segments()) for cont in ax.containers
               if isinstance(cont, ErrorbarContainer))
    assert bars == sum(c.std is not None for c in cells) > 0
    assert len(ax.get_legend().get_texts()) == len(table.rows)
    assert ax.get_xticklabels()[4].get_text() == "MNLI-MM\nAcc"


def test_default_folder_is_env_then_cwd_results(_no_default_results: Path, results_dir: Path,
                                                 tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --results: $PIXEL_BENCH_RESULTS, else ./results. Tests point the variable at a
    missing folder (conftest), so none of them can read the repository's live results/."""
    result = _report()
    assert result.exit_code != 0
    assert f"results folder {_no_default_results} does not exist" in str(result.exception)
    monkeypatch.setenv("PIXEL_BENCH_RESULTS", str(results_dir))
    result = _report("--format", "csv")
    assert result.exit_code == 0 and f"under {results_dir}:" in result.stderr
    monkeypatch.delenv("PIXEL_BENCH_RESULTS")
    monkeypatch.chdir(tmp_path)  # results_dir is tmp_path / "results"
    result = _report("--format", "csv")
    assert result.exit_code == 0 and f"under {Path.cwd() / 'results'}:" in result.stderr
    assert result.stdout.count("\npixel-base,") > 1
