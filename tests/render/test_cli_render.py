"""``pixel-bench render``: the PNG preview and the cases -> .npz path (pygame vs golden)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pixel_bench.cli.app import app
from pixel_bench.errors import ConfigError

runner = CliRunner()


def test_png_preview(tmp_path: Path, fonts: Path):
    out = tmp_path / "hello.png"
    result = runner.invoke(app, ["render", "Hello gjpqy world.", "--renderer", "pygame",
                                 "--max-seq-length", "16", "--scale", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "num_text_patches" in result.output and "8" in result.output
    from PIL import Image

    img = np.asarray(Image.open(out).convert("RGB"))
    # 16 patches of 16 px at scale 2, one grid line between patches and around the strip
    assert img.shape == (16 * 2 + 2, 16 * (16 * 2 + 1) + 1, 3)
    last_patch = img[1:-1, -33:-1]  # padding: tinted, so not pure white
    assert (last_patch != 255).any() and (last_patch[..., 0] > last_patch[..., 1]).all()


def test_png_words_pair_and_no_grid(tmp_path: Path):
    out = tmp_path / "w.png"
    result = runner.invoke(app, ["render", "The quick brown fox", "--words", "--renderer",
                                 "pygame", "--max-seq-length", "20", "--no-grid", "--scale", "1",
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "word_starts" in result.output
    from PIL import Image

    assert Image.open(out).size == (20 * 16, 16)
    result = runner.invoke(app, ["render", "A man.", "--pair", "A person.", "--renderer",
                                 "pygame", "--max-seq-length", "20", "-o", str(out)])
    assert result.exit_code == 0 and "sep_patches" in result.output


@pytest.mark.parametrize("name", ["pangocairo", "binary"])
def test_png_other_renderers(name, tmp_path: Path):
    from pixel_bench.errors import PixelBenchError
    from pixel_bench.registry import RENDERERS

    try:
        RENDERERS.get(name)
    except (ImportError, PixelBenchError) as exc:
        pytest.skip(f"renderer {name!r} not available: {exc}")
    out = tmp_path / f"{name}.png"
    result = runner.invoke(app, ["render", "Hello world.", "--renderer", name,
                                 "--max-seq-length", "24", "-o", str(out)])
    assert result.exit_code == 0, (result.output, result.exception)
    assert out.is_file() and "num_text_patches" in result.output


@pytest.mark.parametrize("args, message", [
    (["render", "--renderer", "pygame", "-o", "x.png"], "give a TEXT"),
    (["render", "hi", "--renderer", "pygame", "-o", "x.jpg"], "PNG"),
    (["render", "hi", "--words", "--pair", "b", "--renderer", "pygame", "-o", "x.png"],
     "cannot be combined"),
    (["render", "hi", "--renderer", "pygame", "--config", "/nonexistent/cfg.json", "-o",
      "x.png"], "not found"),
])
def test_bad_arguments(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError) and message in str(result.exception)


def test_cases_to_npz_equals_golden(tmp_path: Path, golden: Path):
    pytest.importorskip("pixel_bench.render.golden", reason="pixel_bench/render/golden.py "
                        "(render_case, encoding_to_arrays) not available")
    out = tmp_path / "pygame.npz"
    result = runner.invoke(app, ["render", "--cases", str(golden / "render/cases.json"),
                                 "--renderer", "pygame", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "skipped qa_fit" in result.output.replace("\n", " ")
    with np.load(out) as got, np.load(golden / "render/pygame_noto.npz") as want:
        assert sorted(got.files) == sorted(want.files)
        for key in want.files:
            a, b = want[key], got[key]
            assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), key
