"""Fonts for the multilingual tasks: fallback folders by name (``noto-cjk``), font collections
(.ttc) in fallback folders and the cache fingerprint, the font set recorded in provenance, and
``doctor``'s per-script glyph rows."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pixel_bench.errors import ConfigError
from pixel_bench.fonts import font_set, resolve_fonts_dir
from pixel_bench.render._fontconfig import fallback_font_files
from pixel_bench.render.defaults import default_config


def test_fallback_folder_by_name_and_collections(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "fonts" / "noto-cjk"
    folder.mkdir(parents=True)
    src = default_config("pangocairo").font_file
    shutil.copyfile(src, folder / "A.ttf")
    shutil.copyfile(src, folder / "B.ttc")  # collections count (PIXEL's *tf glob would skip it)
    (folder / "README").write_text("not a font")
    monkeypatch.setenv("PIXEL_BENCH_FONTS", str(tmp_path / "fonts"))
    assert resolve_fonts_dir("noto-cjk") == folder.resolve()
    assert [p.name for p in fallback_font_files(folder)] == ["A.ttf", "B.ttc"]
    with pytest.raises(ConfigError, match="setup.sh unpacks"):
        resolve_fonts_dir(str(tmp_path / "x" / "noto-cjk"))
    cfg = default_config("pangocairo", fallback_fonts_dir=str(folder))
    record = font_set(cfg)
    assert record["primary"] == "NotoSans-Regular.ttf"
    assert record["fallback_fonts"] == ["A.ttf", "B.ttc"]
    assert isinstance(record["system_font_packages"], dict)


def test_ttc_in_fallback_folder_changes_the_cache_fingerprint(tmp_path: Path) -> None:
    from pixel_bench.render.pangocairo import PangoCairoTextRenderer

    folder = tmp_path / "fb"
    folder.mkdir()
    cfg = default_config("pangocairo", fallback_fonts_dir=str(folder))
    before = PangoCairoTextRenderer(cfg).fingerprint()
    shutil.copyfile(cfg.font_file, folder / "C.ttc")
    assert PangoCairoTextRenderer(cfg).fingerprint() != before


def test_doctor_reports_glyphs_per_script() -> None:
    from pixel_bench.diagnostics import SCRIPT_SAMPLES, check_script_glyphs

    rows = {r.component: r for r in check_script_glyphs()}
    assert len(rows) == len(SCRIPT_SAMPLES)
    for script in ("Arabic", "Coptic", "Devanagari", "Tamil", "Ethiopic (Amharic)"):
        assert rows[f"glyphs: {script}"].status == "ok"  # fonts-noto-core covers these
    for row in rows.values():
        assert row.status in ("ok", "missing")
        if row.status == "missing":
            assert "hex boxes" in row.detail


def test_recipe_fallback_fonts_dir_reaches_the_renderer(tmp_path: Path) -> None:
    from pixel_bench.spec import choose_renderer, resolve_spec

    plain = choose_renderer(resolve_spec("pixel-tiny", "pos"))
    assert plain.name == "pangocairo" and not plain.config.fallback_fonts_dir
    out = choose_renderer(resolve_spec("pixel-tiny", "pos",
                                       overrides={"fallback_fonts_dir": str(tmp_path)}))
    assert out.name == "pangocairo" and out.config.fallback_fonts_dir == str(tmp_path.resolve())
    with pytest.raises(ConfigError, match="not found"):
        choose_renderer(resolve_spec("pixel-tiny", "pos",
                                     overrides={"fallback_fonts_dir": str(tmp_path / "nope")}))
    assert choose_renderer(resolve_spec("bert-tiny", "pos",
                                        overrides={"fallback_fonts_dir": "x"})) is None


def test_system_font_packages_are_part_of_the_cache_fingerprint(monkeypatch) -> None:
    # a system-wide fonts-noto-cjk changes Pango's CJK fallback pixels (it breaks the binary
    # renderer's s_cjk_fallback golden), so cached renderings must not survive it
    import pixel_bench.render.base as base
    from pixel_bench.render.pangocairo import PangoCairoTextRenderer

    renderer = PangoCairoTextRenderer(default_config("pangocairo"))
    before = renderer.fingerprint()
    monkeypatch.setattr(base, "system_font_packages",
                        lambda: {"fonts-noto-core": "20201225-1", "fonts-noto-cjk": "1:2022"})
    assert renderer.fingerprint() != before
