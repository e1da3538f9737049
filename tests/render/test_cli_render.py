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
                                 "--max-seq-length", "16", "--scale", "2", "--full",
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "num_text_patches" in result.output and "8" in result.output
    assert "all 16 patches" in result.output
    from PIL import Image

    img = np.asarray(Image.open(out).convert("RGB"))
    # --full: 16 patches of 16 px at scale 2, one grid line between patches and around the strip
    assert img.shape == (16 * 2 + 2, 16 * (16 * 2 + 1) + 1, 3)
    last_patch = img[1:-1, -33:-1]  # padding: tinted, so not pure white
    assert (last_patch != 255).any() and (last_patch[..., 0] > last_patch[..., 1]).all()


def _patch_columns(img: np.ndarray, px: int) -> list[np.ndarray]:
    """The patches of a gridded preview (1-px grid lines around every patch)."""
    n = (img.shape[1] - 1) // (px + 1)
    return [img[1:-1, 1 + i * (px + 1): 1 + i * (px + 1) + px] for i in range(n)]


@pytest.mark.parametrize("name, pp", [("pygame", 16), ("pangocairo", 16), ("binary", 8)])
def test_png_shows_attended_region_plus_margin(name, pp, tmp_path: Path):
    """Default picture: text + EOS patches and two padding patches, not the whole canvas."""
    from PIL import Image

    from pixel_bench.errors import PixelBenchError
    from pixel_bench.registry import RENDERERS

    try:
        RENDERERS.get(name)
    except (ImportError, PixelBenchError) as exc:
        pytest.skip(f"renderer {name!r} not available: {exc}")
    out = tmp_path / f"{name}.png"
    result = runner.invoke(app, ["render", "Hello world", "--renderer", name, "--scale", "1",
                                 "-o", str(out)])
    assert result.exit_code == 0, (result.output, result.exception)
    flat = " ".join(result.output.split())
    ntp = int(flat.split("num_text_patches ")[1].split()[0])
    attended, total = (int(x) for x in flat.split("attention length ")[1].split()[:3:2])
    assert total in (529, 720) and attended == ntp + 1  # the counts are still printed
    shown = attended + 2
    assert f"patches 0-{shown - 1} of {total}" in flat and "--full" in flat
    img = np.asarray(Image.open(out).convert("RGB"))
    assert img.shape == (pp + 2, shown * (pp + 1) + 1, 3)  # not the ~23,761 px canvas
    patches = _patch_columns(img, pp)
    assert len(patches) == shown
    assert all(not (p[..., 0] > p[..., 1]).all() for p in patches[:attended])  # untinted
    assert (patches[attended - 1] < 60).all()  # the black EOS patch
    assert (patches[0] < 128).any()  # ink of the text
    for pad in patches[attended:]:  # the masked margin: tinted red, grid lines kept
        assert (pad[..., 0] > pad[..., 1]).all()
    assert (img[:, 0] == (120, 160, 230)).all() and (img[:, pp + 1] == (120, 160, 230)).all()

    full = tmp_path / f"{name}-full.png"
    result = runner.invoke(app, ["render", "Hello world", "--renderer", name, "--scale", "1",
                                 "--full", "-o", str(full)])
    assert result.exit_code == 0 and f"all {total} patches" in " ".join(result.output.split())
    assert Image.open(full).size == (total * (pp + 1) + 1, pp + 2)
    wide = tmp_path / f"{name}-m5.png"
    result = runner.invoke(app, ["render", "Hello world", "--renderer", name, "--scale", "1",
                                 "--margin", "5", "--no-grid", "-o", str(wide)])
    assert result.exit_code == 0
    assert Image.open(wide).size == ((attended + 5) * pp, pp)


def test_png_words_pair_and_no_grid(tmp_path: Path):
    out = tmp_path / "w.png"
    result = runner.invoke(app, ["render", "The quick brown fox", "--words", "--renderer",
                                 "pygame", "--max-seq-length", "20", "--no-grid", "--scale", "1",
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "word_starts" in result.output
    from PIL import Image

    # 4 words: 4 text patches + EOS + 2 patches of margin (not the 20-patch canvas)
    flat = " ".join(result.output.split())
    attended = int(flat.split("attention length ")[1].split()[0])
    assert Image.open(out).size == ((attended + 2) * 16, 16) and attended + 2 < 20
    result = runner.invoke(app, ["render", "A man.", "--pair", "A person.", "--renderer",
                                 "pygame", "--max-seq-length", "20", "-o", str(out)])
    assert result.exit_code == 0 and "sep_patches" in result.output


@pytest.mark.parametrize("name, pp", [("pygame", 16), ("pangocairo", 16), ("binary", 8)])
def test_pair_summary_prints_sep_patches_as_patch_indices(name, pp, tmp_path: Path):
    """Encoding.sep_patches holds pixel offsets for PangoCairo/binary and patch indices for
    PyGame (as the originals do); the summary prints patch indices for all three, and the stored
    pixel offsets beside them where that is the unit."""
    from pixel_bench.errors import PixelBenchError
    from pixel_bench.registry import RENDERERS

    try:
        cls = RENDERERS.get(name)
    except (ImportError, PixelBenchError) as exc:
        pytest.skip(f"renderer {name!r} not available: {exc}")
    assert cls.sep_patches_unit == ("patches" if name == "pygame" else "pixels")
    result = runner.invoke(app, ["render", "A man plays.", "--pair", "A person plays.",
                                 "--renderer", name, "--max-seq-length", "40",
                                 "-o", str(tmp_path / "pair.png")])
    assert result.exit_code == 0, (result.output, result.exception)
    flat = " ".join(result.output.split())
    ntp = int(flat.split("num_text_patches ")[1].split()[0])
    line = flat.split("sep_patches ")[1].split(" truncated")[0]
    indices = [int(x) for x in line.split("]")[0].strip("[").split(",")]
    # [separator, EOS] as patch indices: EOS is the patch right after the text patches
    assert len(indices) == 2 and 0 < indices[0] < indices[1] == ntp
    if name == "pygame":
        assert line == f"{indices} (patch indices)"
    else:
        assert line == (f"{indices} (patch indices; stored as pixel offsets "
                        f"{[i * pp for i in indices]})")


def test_sep_patch_indices_units():
    from pixel_bench.render.base import sep_patch_indices

    assert sep_patch_indices([48, 128], "pixels", 16) == [3, 8]
    assert sep_patch_indices([3, 8], "patches", 16) == [3, 8]
    with pytest.raises(ValueError, match="unknown sep_patches unit"):
        sep_patch_indices([3], "inches", 16)


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


@pytest.mark.parametrize("args, message", [
    (["--renderer", "binary", "--max-seq-length", "0"], "'max_seq_length' must be at least 1"),
    (["--renderer", "pangocairo", "--max-seq-length", "100000"], "maximum max_seq_length at 16 "
                                                                 "px patches is 2047"),
    (["--renderer", "pygame", "--max-seq-length", "5000"], "maximum max_seq_length at 16 px "
                                                           "patches is 4096"),
])
def test_bad_renderer_settings_are_one_clear_line(args, message, tmp_path):
    """Through the console entry point: an error line, exit 2, no traceback."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "pixel_bench.cli.app", "render", "Hello", *args,
                           "-o", str(tmp_path / "x.png")], capture_output=True, text=True,
                          timeout=120, env={**__import__("os").environ, "COLUMNS": "400"})
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_config_file_with_string_boolean_is_refused(tmp_path, fonts: Path):
    cfg = tmp_path / "text_renderer_config.json"
    cfg.write_text('{"font_file": "%s", "rgb": "false"}' % (fonts / "noto/NotoSans-Regular.ttf"))
    result = runner.invoke(app, ["render", "hi", "--renderer", "pangocairo", "--config", str(cfg),
                                 "-o", str(tmp_path / "x.png")])
    assert isinstance(result.exception, ConfigError)
    assert "'rgb' must be true or false" in str(result.exception)
