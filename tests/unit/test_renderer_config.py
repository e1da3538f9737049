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
    ("{not json", "malformed"),
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
