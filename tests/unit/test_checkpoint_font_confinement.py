"""A checkpoint's text_renderer_config.json may only name files inside the checkpoint folder
(symlinks resolved): every place that reads one refuses ``../../etc/passwd``, an absolute path
elsewhere, or a link pointing out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pixel_bench.errors import ConfigError, PixelBenchError
from pixel_bench.modeling.adapter import (TaskKind, checkpoint_renderer,
                                          load_checkpoint_renderer_config)


@pytest.fixture()
def font(fonts: Path) -> Path:
    return fonts / "pixeloid" / "PixeloidSansBold.ttf"


def _checkpoint(directory: Path, font_file: str, **extra) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    cfg = {"font_file": font_file, "font_size": 8, "dpi": 80, "pixels_per_patch": 8,
           "max_seq_length": 64, "binary": True, "patch_len": 2, **extra}
    (directory / "text_renderer_config.json").write_text(json.dumps(cfg))
    return directory


def test_font_inside_the_checkpoint_loads(tmp_path: Path, font: Path):
    ckpt = _checkpoint(tmp_path / "ckpt", font.name)
    shutil.copyfile(font, ckpt / font.name)
    (ckpt / "fonts").mkdir()
    shutil.copyfile(font, ckpt / "fonts" / "f.ttf")
    assert Path(checkpoint_renderer(ckpt).font_file) == ckpt / font.name
    _checkpoint(ckpt, "fonts/f.ttf", fallback_fonts_dir="fonts")
    cfg = load_checkpoint_renderer_config(ckpt)
    assert cfg.font_file == str(ckpt / "fonts" / "f.ttf")
    assert cfg.fallback_fonts_dir == str(ckpt / "fonts")


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink", "fallback_dir"])
def test_paths_leaving_the_checkpoint_are_refused(tmp_path: Path, font: Path, how: str):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copyfile(font, outside / "f.ttf")
    ckpt = tmp_path / "a" / "ckpt"
    key = "font_file"
    if how == "dotdot":
        _checkpoint(ckpt, "../../../../../../../../etc/passwd")
    elif how == "absolute":
        _checkpoint(ckpt, str(outside / "f.ttf"))
    elif how == "symlink":
        _checkpoint(ckpt, "f.ttf")
        (ckpt / "f.ttf").symlink_to(outside / "f.ttf")
    else:
        key = "fallback_fonts_dir"
        _checkpoint(ckpt, "f.ttf", fallback_fonts_dir="../../elsewhere")
        shutil.copyfile(font, ckpt / "f.ttf")
    with pytest.raises(ConfigError, match=rf"text_renderer_config\.json: {key} .* points "
                                          "outside the checkpoint folder"):
        checkpoint_renderer(ckpt)


def test_every_reader_of_a_checkpoint_config_confines_it(tmp_path: Path, font: Path):
    """The model adapters (renderer_config with a checkpoint), PIXEL's checkpoint check and
    ``pixel-bench render --config DIR`` all go through the confined loader."""
    from typer.testing import CliRunner

    from pixel_bench.cli.app import app
    from pixel_bench.registry import MODELS

    ckpt = _checkpoint(tmp_path / "ckpt", str(font))  # absolute, outside
    for model in ("pixar-tiny", "pixar2024-tiny", "pixelgpt-tiny", "pixel-tiny"):
        with pytest.raises(PixelBenchError, match="points outside the checkpoint folder"):
            MODELS.get(model).renderer_config(TaskKind.SEQUENCE_CLASSIFICATION, 64,
                                              checkpoint=ckpt)
    res = CliRunner().invoke(app, ["render", "hello", "--renderer", "binary", "--config",
                                   str(ckpt), "--out", str(tmp_path / "x.png")])
    assert res.exit_code != 0
    assert "points outside the checkpoint folder" in res.output + str(res.exception)


def test_hub_cache_snapshot_links_into_its_blobs(tmp_path: Path, font: Path):
    """Hugging Face cache snapshots are symlinks into the repo's ``blobs/``: allowed."""
    repo = tmp_path / "hub" / "models--org--name"
    (repo / "blobs").mkdir(parents=True)
    shutil.copyfile(font, repo / "blobs" / "abc123")
    snap = _checkpoint(repo / "snapshots" / "rev1", "f.ttf")
    (snap / "f.ttf").symlink_to("../../blobs/abc123")
    assert Path(checkpoint_renderer(snap).font_file) == snap / "f.ttf"


def test_run_does_not_fall_back_on_an_unsafe_checkpoint_config(tmp_path: Path, font: Path,
                                                             caplog: pytest.LogCaptureFixture):
    """The run loop falls back to a model's own renderer when a recipe's renderer is unusable
    for it; a checkpoint config pointing outside its folder is no such case: it stops at once,
    without the misleading "recipe renderer not usable" warning."""
    from pixel_bench.errors import UnsafePathError
    from pixel_bench.spec import choose_renderer, resolve_spec

    ckpt = _checkpoint(tmp_path / "ckpt", str(font))  # absolute, outside
    spec = resolve_spec("pixar2024-tiny", "pos", checkpoint=str(ckpt))
    assert spec.recipe.source["renderer"] == "pos.yaml:pixar2024"
    with caplog.at_level("WARNING", logger="pixel_bench.spec"):
        with pytest.raises(UnsafePathError, match="points outside the checkpoint folder"):
            choose_renderer(spec)
    assert "not usable" not in caplog.text
