from __future__ import annotations

import json
from pathlib import Path

import pytest

from pixel_bench.errors import ConfigError
from pixel_bench.render import RendererConfig, get_attention_mask


def test_pixel_checkpoint_config_loads_unchanged(fonts: Path) -> None:
    path = fonts / "pixel_noto_renderer" / "text_renderer_config.json"
    cfg = RendererConfig.from_file(path)
    assert cfg.font_file == str(path.parent / "GoNotoCurrent.ttf")  # resolved next to the file
    assert (cfg.dpi, cfg.font_size, cfg.pixels_per_patch, cfg.max_seq_length, cfg.pad_size) == (
        120, 8, 16, 529, 3)
    assert cfg.max_pixels_len == 8464


def test_unknown_keys_kept_and_fonts_list_ignored(tmp_path: Path) -> None:
    (tmp_path / "text_renderer_config.json").write_text(json.dumps(
        {"font_file": "f.ttf", "fonts_list": ["a", "b"], "custom": 3}))
    cfg = RendererConfig.from_file(tmp_path)
    assert cfg.extra == {"custom": 3}
    assert "fonts_list" not in cfg.to_dict()


@pytest.mark.parametrize("content,needle", [
    ("{not json", "not valid JSON"),
    ('{"dpi": 120}', "font_file"),
    ('{"font_file": "f.ttf", "dpi": "high"}', "'dpi'"),
    ("[1, 2]", "JSON object"),
])
def test_bad_configs_name_file_and_key(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "cfg.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        RendererConfig.from_file(path)
    assert needle in str(info.value) and str(path) in str(info.value)


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        RendererConfig.from_file(tmp_path / "nope.json")


def test_attention_mask_covers_text_and_eos() -> None:
    assert get_attention_mask(3, 6).tolist() == [1, 1, 1, 1, 0, 0]
    assert get_attention_mask(6, 6).tolist() == [1] * 6


# -- validation: every construction path, one place (RendererConfig.__post_init__) --------------
@pytest.mark.parametrize("settings,needle", [
    ('"font_size": NaN', "'font_size' must be a finite number"),
    ('"font_size": Infinity', "'font_size' must be a finite number"),
    ('"font_size": -Infinity', "'font_size'"),
    ('"font_size": 0', "'font_size'"),
    ('"font_size": "8"', "write the JSON value without quotes"),
    ('"rgb": "false"', "'rgb' must be true or false"),
    ('"rgb": 0', "'rgb' must be true or false"),
    ('"binary": "true"', "'binary' must be true or false"),
    ('"max_seq_length": 0', "'max_seq_length' must be at least 1"),
    ('"max_seq_length": -5', "'max_seq_length' must be at least 1"),
    ('"max_seq_length": 52.5', "'max_seq_length' must be a whole number"),
    ('"max_seq_length": true', "'max_seq_length' must be a whole number"),
    ('"max_seq_length": "529"', "'max_seq_length' must be a whole number"),
    ('"dpi": 0', "'dpi' must be at least 1"),
    ('"pad_size": -1', "'pad_size' must be at least 0"),
    ('"pixels_per_patch": NaN', "'pixels_per_patch' must be a whole number"),
    ('"font_color": 0', "'font_color'"),
    ('"fast_glyph_atlas": "false"', "'fast_glyph_atlas' must be true or false"),
    ('"pygame_fast_raster": "false"', "'pygame_fast_raster' must be true or false"),
])
def test_bad_values_name_file_key_and_value(tmp_path: Path, settings: str, needle: str) -> None:
    path = tmp_path / "text_renderer_config.json"
    path.write_text('{"font_file": "f.ttf", ' + settings + "}")  # raw: NaN/Infinity as JSON allows
    with pytest.raises(ConfigError) as info:
        RendererConfig.from_file(path)
    assert needle in str(info.value) and str(path) in str(info.value)


def test_every_construction_path_is_validated(fonts: Path) -> None:
    from pixel_bench.render.binary import binary_layout
    from pixel_bench.render.defaults import default_config

    font = str(fonts / "noto" / "NotoSans-Regular.ttf")
    with pytest.raises(ConfigError, match="'font_size'"):
        RendererConfig(font_file=font, font_size=float("nan"))
    with pytest.raises(ConfigError, match="'rgb'"):
        RendererConfig(font_file=font).with_overrides(rgb="false")
    with pytest.raises(ConfigError, match=r"binary layout 'pixar2024'.*'max_seq_length'.*got 0"):
        binary_layout(max_seq_length=0)
    with pytest.raises(ConfigError, match=r"overridden: max_seq_length.*got -1"):
        default_config("pangocairo", max_seq_length=-1)


def test_whole_floats_are_stored_as_ints(tmp_path: Path) -> None:
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"font_file": "f.ttf", "max_seq_length": 256.0, "dpi": 120.0,
                                "font_size": 8.0, "rgb": True}))
    cfg = RendererConfig.from_file(path)
    assert (cfg.max_seq_length, cfg.dpi, cfg.font_size, cfg.rgb) == (256, 120, 8, True)
    assert all(type(v) is int for v in (cfg.max_seq_length, cfg.dpi, cfg.font_size))
    assert cfg.to_dict()["max_seq_length"] == 256 and "source" not in cfg.to_dict()


# -- the backends' canvas limits -----------------------------------------------------------------
@pytest.mark.parametrize("name,pp,limit", [("pangocairo", 16, 32767), ("binary", 8, 32767),
                                           ("pygame", 16, 65536)])
def test_canvas_wider_than_the_backend_is_refused(name: str, pp: int, limit: int) -> None:
    from pixel_bench.registry import RENDERERS
    from pixel_bench.render.defaults import default_config

    cls = RENDERERS.get(name)
    longest = limit // pp - (limit // pp) % (2 if name == "binary" else 1)  # binary: patch_len 2
    with pytest.raises(ConfigError) as info:
        cls(default_config(name, max_seq_length=longest + 2))
    msg = str(info.value)
    assert f"at most {limit:,} px" in msg and f"the {name} renderer" in msg
    assert f"maximum max_seq_length at {pp} px patches is {longest}" in msg
    assert "overridden: max_seq_length" in msg  # where the value came from
    enc = cls(default_config(name, max_seq_length=longest))("Hello world")  # the largest works
    assert enc.pixel_values.shape[1] == longest * pp and enc.num_text_patches > 0


def test_pygame_limit_is_where_sdl_wraps_blits() -> None:
    """Why 65,536 px: SDL draws a surface blitted at x >= 65,536 at x - 65,536 (so PIXEL's
    renderer would put text at the wrong place), while a glyph starting just before it is fine."""
    import numpy as np
    import pygame

    canvas = pygame.Surface((70000, 4))
    glyph = pygame.Surface((10, 4))
    for x, want in ((65530, 65530), (66000, 66000 - 65536)):
        canvas.fill((255, 255, 255))
        glyph.fill((0, 0, 0))
        canvas.blit(glyph, (x, 0))
        ink = np.nonzero((pygame.surfarray.array3d(canvas)[:, :, 0] == 0).any(axis=1))[0]
        assert ink[0] == want
