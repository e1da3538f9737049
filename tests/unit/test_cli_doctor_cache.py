"""``pixel-bench doctor`` and ``pixel-bench cache info|clear``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from pixel_bench import diagnostics
from pixel_bench.cli.app import app

runner = CliRunner()


def test_doctor_reports_every_component(monkeypatch):
    def broken():
        raise RuntimeError("probe exploded")

    monkeypatch.setattr(diagnostics, "CHECKS", [*diagnostics.CHECKS, broken])
    result = runner.invoke(app, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["component"]: r for r in json.loads(result.output)}
    for name in ("Pango (pangocffi)", "HarfBuzz", "fontconfig", "fonts visible (fc-list)",
                 "pygame", "torch", "transformers", "DeepSpeed", "font NotoSans-Regular.ttf"):
        assert name in rows, sorted(rows)
    assert rows["broken"]["status"] == "missing" and "probe exploded" in rows["broken"]["detail"]
    table = runner.invoke(app, ["doctor"])
    assert table.exit_code == 0 and "pixel-bench doctor" in table.output


def test_doctor_survives_missing_libraries(monkeypatch):
    monkeypatch.setattr(diagnostics, "_lib", lambda name: None)
    monkeypatch.setattr(diagnostics.shutil, "which", lambda name: None)
    rows = {r.component: r for r in diagnostics.run_checks()}
    assert rows["HarfBuzz"].status == "missing" and rows["fontconfig"].status == "missing"
    assert rows["fonts visible (fc-list)"].status == "missing"


def test_cache_info_and_clear(tmp_path: Path, fonts: Path):
    from pixel_bench.cache import RenderCache
    from pixel_bench.render import RendererConfig

    root = tmp_path / "rendered"
    split = RenderCache(root).get_or_render(
        "pygame", RendererConfig(font_file=str(fonts / "noto/NotoSans-Regular.ttf"),
                                 max_seq_length=32), ["Hello.", "World."])
    result = runner.invoke(app, ["cache", "info", "--root", str(root), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert [e["key"] for e in info["entries"]] == [split.key]
    assert info["entries"][0]["settings"]["max_seq_length"] == 32
    assert runner.invoke(app, ["cache", "info", "--root", str(root)]).exit_code == 0
    result = runner.invoke(app, ["cache", "clear", split.key[:10], "--root", str(root)])
    assert result.exit_code == 0 and "removed 1 entry" in result.output
    assert RenderCache(root).entries() == []
