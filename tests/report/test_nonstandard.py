"""Non-standard setups (a --limit smoke run, recipe values changed on the command line, random
init of a pretrained model) are marked in every format, never averaged with another setup,
never ranked best, and left out with --only-standard."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pixel_bench.cli.app import app
from pixel_bench.records import write_record
from pixel_bench.report import build_table, get_layout, load_results, render
from report_fixtures import PIXEL, make_record

runner = CliRunner()


def _smoke(limit: int = 500, steps: int = 50) -> dict:
    return {"scheme": 1, "key": "k", "fields": {}, "nonstandard": {
        "limit": limit, "overrides": {"max_steps": {"recipe": 15000, "used": steps}}}}


def _pos(seed: int, acc: float, **kw):
    return make_record("pixel-base", "pos", seed, {"validation": {"accuracy": acc}}, "accuracy",
                       **PIXEL, **kw)


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Two standard POS seeds, two seeds of one smoke setup, an SST-2 run with an old-style
    --set override, and a standard NER run of another model that scores lower."""
    root = tmp_path / "results"
    for rec in (_pos(1, 0.90), _pos(2, 0.92), _pos(3, 0.40, identity=_smoke()),
                _pos(4, 0.42, identity=_smoke()),
                make_record("pixel-base", "sst2", 1, {"validation": {"accuracy": 0.99}},
                            "accuracy", **PIXEL, config={"cli_overrides": {"dropout": 0}}),
                make_record("other", "sst2", 1, {"validation": {"accuracy": 0.80}}, "accuracy",
                            **PIXEL),
                make_record("other", "pos", 1, {"validation": {"accuracy": 0.85}}, "accuracy",
                            **PIXEL)):
        write_record(rec, root)
    return root


def test_smoke_runs_get_their_own_marked_row_and_are_never_averaged_in(mixed: Path) -> None:
    table = build_table(load_results(mixed), get_layout("main"))
    rows = {r.label: r for r in table.rows}
    assert set(rows) == {"pixel-base", "pixel-base [†2]", "other"}
    standard = rows["pixel-base"].cells["pos"]
    assert standard.n == 2 and standard.mean == pytest.approx(91.0) and not standard.mark
    smoke = rows["pixel-base [†2]"].cells["pos"]
    assert smoke.n == 2 and smoke.mean == pytest.approx(41.0) and smoke.mark == "†2"
    sst2 = rows["pixel-base"].cells["sst2"]  # alone in its cell: stays in the row, marked
    assert sst2.mark == "†1" and sst2.mean == pytest.approx(99.0)
    assert table.nonstandard_legend == [("†1", "dropout=0 (recipe 0.1)"),
                                        ("†2", "limit 500; max_steps=50 (recipe 15000)")]


def test_marks_and_legend_in_every_format(mixed: Path, tmp_path: Path) -> None:
    table = build_table(load_results(mixed), get_layout("main"))
    md = render(table, "markdown")
    assert "| pixel-base [†2] | 41.0 ± 1.4 (n=2) †2 |" in md
    assert "99.0 (n=1) †1" in md and "†2 = limit 500; max_steps=50 (recipe 15000)" in md
    tex = render(table, "latex")
    assert r"41.0\,{\scriptsize$\pm$\,1.4}$^{n=2,\dagger2}$" in tex
    assert r"99.0$^{\dagger1}$" in tex
    assert r"\textdagger{}1 = dropout=0 (recipe 0.1)" in tex
    assert r"pixel-base [\textdagger{}2]" in tex
    csv = render(table, "csv").splitlines()
    assert csv[0].endswith(",n,nonstandard")
    assert any(line.startswith("pixel-base,†2,POS Acc,") and
               line.endswith(",limit 500; max_steps=50 (recipe 15000)") for line in csv)
    assert any(line.startswith("pixel-base,,POS Acc,") and line.endswith(",2,") for line in csv)
    html = render(table, "html")
    assert "41.0 ± 1.4 (n=2) †2" in html and "†1 = dropout=0 (recipe 0.1)" in html
    pytest.importorskip("matplotlib")
    from pixel_bench.report.plot import figure

    texts = [t.get_text() for t in figure(table).axes[0].texts]
    assert texts.count("†2") == 1 and texts.count("†1") == 1


def test_marked_cells_are_never_ranked_best(mixed: Path) -> None:
    table = build_table(load_results(mixed), get_layout("main"))
    html = render(table, "html")
    # SST-2: the marked 99.0 is the highest value, the standard 80.0 the only rankable one
    assert "<strong>99.0" not in html and "<strong>80.0" not in html
    # POS: the standard 91.0 beats 85.0; the smoke run's 41.0 takes no part
    assert "<strong>91.0 ± 1.4 (n=2)</strong>" in html


def test_only_standard_leaves_them_out_and_says_so(mixed: Path) -> None:
    result = runner.invoke(app, ["report", "--results", str(mixed), "--only-standard"])
    assert result.exit_code == 0, result.output
    assert "†" not in result.stdout and "[" not in result.stdout
    assert "left out 3 record(s) of non-standard setups (--only-standard)" in result.stderr
    marked = runner.invoke(app, ["report", "--results", str(mixed)])
    assert "cells marked † come from 2 non-standard setup(s)" in marked.stderr


def test_what_counts_as_non_standard(tmp_path: Path) -> None:
    root = tmp_path / "r"
    tiny = make_record("tiny", "pos", 1, {"validation": {"accuracy": 0.5}}, "accuracy")
    tiny.model_info.update(weights="random init (--from-scratch)", size="tiny")
    base = make_record("base", "pos", 1, {"validation": {"accuracy": 0.5}}, "accuracy")
    base.model_info.update(weights="random init (--from-scratch)", size="base")
    same = make_record("same", "pos", 1, {"validation": {"accuracy": 0.5}}, "accuracy",
                       identity={"scheme": 1, "key": "k", "fields": {}, "nonstandard": {}})
    for rec in (tiny, base, same):
        write_record(rec, root)
    frame = load_results(root).records.set_index("model")["nonstandard"]
    # tiny models have no pretrained weights: random init is their standard
    assert frame.to_dict() == {"tiny": "", "base": "from scratch", "same": ""}


def test_marks_are_numbered_in_reading_order(tmp_path: Path) -> None:
    root = tmp_path / "r"
    write_record(make_record("m", "pos", 1, {"validation": {"accuracy": 0.5}}, "accuracy",
                             config={"cli_overrides": {"max_steps": 9}}), root)
    write_record(make_record("m", "ner", 1, {"validation": {"f1": 0.5}}, "f1",
                             config={"cli_overrides": {"dropout": 0}}), root)
    table = build_table(load_results(root), get_layout("main"))
    cells = table.rows[0].cells
    assert (cells["pos"].mark, cells["ner"].mark) == ("†1", "†2")  # POS is the first column
    assert [m for m, _d in table.nonstandard_legend] == ["†1", "†2"]
    assert table.nonstandard_legend[0][1].startswith("max_steps=9")
