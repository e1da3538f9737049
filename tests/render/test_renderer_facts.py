"""Renderer facts on the renderer classes: library versions, ``text_renderer_type`` and the named
layouts (``TextRenderer.LAYOUTS`` / ``layout()``), and that the model adapters, ``default_config``
and the render cache read them without anything drifting from the settings they had before."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pixel_bench.errors import ConfigError
from pixel_bench.fonts import resolve_font
from pixel_bench.registry import MODELS, RENDERERS
from pixel_bench.render.base import RendererConfig, TextRenderer

BUILT_INS = ("pangocairo", "pangocairo-bigrams", "pygame", "binary")
#: every setting a layout must state (a full settings dict; the rest are per-run choices)
LAYOUT_KEYS = {f.name for f in fields(RendererConfig)} - {
    "extra", "source", "fallback_fonts_dir", "text_renderer_type"}

# The settings tables as they stood in models/*.py, render/defaults.py and render/binary.py before
# they moved onto the renderer classes, copied literally so a drift in a layout shows up here.
OLD_PIXEL_RENDERER = dict(font_size=8, dpi=120, pixels_per_patch=16, max_seq_length=529,
                          pad_size=3, rgb=False)  # models/pixel.py, + NotoSans-Regular.ttf
OLD_PIXEL_DEFAULTS = {"font_file": "NotoSans-Regular.ttf", "font_size": 8, "dpi": 120,
                      "pixels_per_patch": 16, "max_seq_length": 529, "pad_size": 3, "rgb": False,
                      "font_color": "black", "background_color": "white"}  # render/defaults.py
OLD_NOTO_RENDERER = dict(font_size=8, dpi=120, pixels_per_patch=16, max_seq_length=1024,
                         pad_size=3, rgb=False, font_color="black", background_color="white",
                         text_renderer_type="PyGameTextRenderer")  # models/pixelgpt.py
OLD_BINARY_RENDERER = dict(font_size=8, dpi=80, pixels_per_patch=8, max_seq_length=720,
                           pad_size=3, rgb=False, binary=True, patch_len=2,
                           text_renderer_type="PangoCairoTextRenderer")  # models/pixar2024.py
OLD_BINARY_LAYOUTS = {  # render/binary.py, + PixeloidSans.ttf
    "pixar2024": dict(dpi=80, font_size=8, pixels_per_patch=8, max_seq_length=720, pad_size=3,
                      rgb=False, binary=True, patch_len=2),
    "thesis": dict(dpi=80, font_size=8, pixels_per_patch=8, max_seq_length=529, pad_size=3,
                   rgb=False, binary=True, patch_len=1),
}
OLD_RENDERER_TYPES = {"pangocairo": "PangoCairoTextRenderer", "pygame": "PyGameTextRenderer",
                      "pangocairo-bigrams": "PangoCairoBigramsRenderer"}  # models/pixel.py


def _old(font_file: str, **settings) -> RendererConfig:
    return RendererConfig(font_file=str(resolve_font(font_file)), **settings)


def _same(new: RendererConfig, old: RendererConfig) -> None:
    """Equal field by field, including what ``==`` skips (``extra``) and the written JSON."""
    assert new == old
    assert new.extra == old.extra and new.to_dict(font_basename=False) == \
        old.to_dict(font_basename=False)


# -- every renderer declares its facts -------------------------------------------------------------
@pytest.mark.parametrize("name", RENDERERS.names())
def test_every_registered_renderer_declares_its_facts(name: str) -> None:
    cls = RENDERERS.get(name)
    if not (isinstance(cls, type) and issubclass(cls, TextRenderer)):
        pytest.skip(f"{name} is not a TextRenderer class")
    libraries = cls.libraries()
    assert isinstance(libraries, dict)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in libraries.items())
    if name in BUILT_INS:  # plug-ins may declare none; the built-ins declare all of them
        assert cls.LAYOUTS and cls.DEFAULT_LAYOUT in cls.LAYOUTS
        assert cls.text_renderer_type
    for layout, table in cls.LAYOUTS.items():
        assert set(table) == LAYOUT_KEYS, f"{name} layout {layout!r} is not a full settings dict"
        assert Path(table["font_file"]).name == table["font_file"], "font by file name"


@pytest.mark.parametrize("name,layout", [(n, lay) for n in BUILT_INS
                                         for lay in RENDERERS.get(n).LAYOUTS])
def test_each_layout_builds_a_config_the_renderer_takes(name: str, layout: str) -> None:
    cls = RENDERERS.get(name)
    cfg = cls.layout(layout)
    assert isinstance(cfg, RendererConfig) and Path(cfg.font_file).is_file()
    assert {k: getattr(cfg, k) for k in LAYOUT_KEYS - {"font_file"}} == \
        {k: v for k, v in cls.LAYOUTS[layout].items() if k != "font_file"}
    assert cfg.source == f"{name} layout {layout!r}"
    short = cls.layout(layout, max_seq_length=16 * cfg.patch_len)
    enc = cls(short)("Hello world")  # the renderer accepts it and draws
    assert enc.pixel_values.shape[1] == short.max_pixels_len and enc.num_text_patches > 0
    assert "overridden: max_seq_length" in short.source


def test_layout_default_and_default_config_agree() -> None:
    from pixel_bench.render.defaults import default_config

    for name in BUILT_INS:
        cls = RENDERERS.get(name)
        _same(default_config(name), cls.layout(cls.DEFAULT_LAYOUT))
        _same(cls.layout(), cls.layout(cls.DEFAULT_LAYOUT))
    _same(default_config("binary", "thesis", font_file=None),
          RENDERERS.get("binary").layout("thesis"))


def test_unknown_layout_or_setting_names_the_close_match() -> None:
    binary = RENDERERS.get("binary")
    with pytest.raises(ConfigError, match=r"unknown layout 'thesys'\. Did you mean 'thesis'\?.*"
                                          r"Known layouts: pixar2024, thesis"):
        binary.layout("thesys")
    with pytest.raises(ConfigError, match=r"unknown layout 'pixelgtp'.*'pixelgpt'"):
        RENDERERS.get("pygame").layout("pixelgpt".replace("pt", "tp"))
    with pytest.raises(ConfigError, match=r"unknown renderer setting 'max_seq_len'.*"
                                          r"'max_seq_length'"):
        binary.layout("thesis", max_seq_len=64)
    with pytest.raises(ConfigError, match="declares no default layout"):
        TextRenderer.layout()


def test_layouts_are_read_only() -> None:
    """A registered class is shared by every run in the process: its facts cannot be changed."""
    from pixel_bench.render.pygame_renderer import PyGameTextRenderer

    with pytest.raises(TypeError):
        PyGameTextRenderer.LAYOUTS["pixelgpt"]["max_seq_length"] = 256  # type: ignore[index]
    with pytest.raises(TypeError):
        PyGameTextRenderer.LAYOUTS["mine"] = {}  # type: ignore[index]


# -- nothing drifted: the old constants and the new layouts give the same configs -----------------
def test_layouts_match_the_old_settings_tables() -> None:
    from pixel_bench.render.binary import binary_layout

    for name in ("pangocairo", "pygame", "pangocairo-bigrams"):
        _same(RENDERERS.get(name).layout("pixel"), _old(**OLD_PIXEL_DEFAULTS))
        assert RENDERERS.get(name).text_renderer_type == OLD_RENDERER_TYPES[name]
    _same(RENDERERS.get("pygame").layout("pixelgpt", text_renderer_type="PyGameTextRenderer"),
          _old("NotoSans-Regular.ttf", **OLD_NOTO_RENDERER))
    for layout, table in OLD_BINARY_LAYOUTS.items():
        _same(binary_layout(layout), _old("PixeloidSans.ttf", **table))
        _same(binary_layout(layout, grey=True), _old("PixeloidSans.ttf",
                                                     **{**table, "binary": False}))
    _same(RENDERERS.get("binary").layout("pixar2024", text_renderer_type="PangoCairoTextRenderer"),
          _old("PixeloidSans.ttf", **OLD_BINARY_RENDERER))


@pytest.mark.parametrize("model,renderer,length,old", [
    ("pixel-tiny", None, None,
     lambda: _old("NotoSans-Regular.ttf", **OLD_PIXEL_RENDERER,
                  text_renderer_type="PangoCairoTextRenderer")),
    ("pixel-tiny", "pygame", 128,
     lambda: _old("NotoSans-Regular.ttf", **{**OLD_PIXEL_RENDERER, "max_seq_length": 128},
                  text_renderer_type="PyGameTextRenderer")),
    ("pixelgpt-tiny", None, None, lambda: _old("NotoSans-Regular.ttf", **OLD_NOTO_RENDERER)),
    ("pixar2024-tiny", None, None, lambda: _old("PixeloidSans.ttf", **OLD_BINARY_RENDERER)),
    ("pixar2024-tiny", None, 64,
     lambda: _old("PixeloidSans.ttf", **{**OLD_BINARY_RENDERER, "max_seq_length": 64})),
    ("pixar-tiny", None, None, lambda: _old("PixeloidSans.ttf", **OLD_BINARY_LAYOUTS["thesis"])),
    ("pixar-enc-span-grey-tiny", None, None,
     lambda: _old("PixeloidSans.ttf", **{**OLD_BINARY_LAYOUTS["thesis"], "binary": False})),
])
def test_model_renderer_configs_are_unchanged(model, renderer, length, old) -> None:
    """The adapters now read the renderer classes' layouts; their configs are what the old
    module-level constants gave (sequence classification, no checkpoint renderer at hand)."""
    from pixel_bench.modeling.adapter import TaskKind

    adapter = MODELS.get(model)
    if model.startswith("pixelgpt"):  # crop width from the recipe; the canvas stays 1024
        adapter = type(adapter)(adapter.card, mode=adapter.mode, tiny=adapter.tiny)
    name, cfg = adapter.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION, max_seq_length=length,
                                        renderer=renderer)
    _same(cfg, old())


# -- the render-cache key is what it was ----------------------------------------------------------
def _old_library_versions(renderer_name: str) -> dict[str, str]:
    """cache.py's name switch before the versions moved onto the renderer classes."""
    versions: dict[str, str] = {}
    if renderer_name == "pygame":
        import pygame
        import pygame.freetype

        versions["pygame"] = pygame.version.ver
        versions["pygame_freetype"] = ".".join(map(str, pygame.freetype.get_version()))
    elif renderer_name in ("pangocairo", "binary"):
        import cairocffi
        import pangocffi

        versions["cairo"] = cairocffi.cairo_version_string()
        versions["pango"] = pangocffi.ffi.string(pangocffi.pango.pango_version_string()).decode()
    return versions


@pytest.mark.parametrize("name", BUILT_INS)
def test_cache_key_is_unchanged(name: str) -> None:
    from pixel_bench.cache import CACHE_FORMAT, cache_key

    cls = RENDERERS.get(name)
    assert cls.libraries() == _old_library_versions(name)
    renderer = cls(cls.layout(max_seq_length=32 * cls.LAYOUTS[cls.DEFAULT_LAYOUT]["patch_len"]))
    old_payload = {"format": CACHE_FORMAT, "renderer": renderer.fingerprint(),
                   "libraries": _old_library_versions(name), "render_kwargs": {"stride": 4},
                   "data": "fp"}
    old_key = hashlib.sha256(json.dumps(old_payload, sort_keys=True,
                                        default=str).encode()).hexdigest()
    assert cache_key(renderer, {"stride": 4}, "fp") == old_key


def test_reading_the_facts_does_not_load_the_backends() -> None:
    """Listing models reads the layouts at import; pygame (SDL) and cairo load with a renderer."""
    code = ("import sys\nfrom pixel_bench.registry import MODELS\nMODELS.names()\n"
            "from pixel_bench.render.pygame_renderer import PyGameTextRenderer as P\n"
            "assert P.LAYOUTS['pixelgpt']['max_seq_length'] == 1024\n"
            "print(sorted(m for m in ('pygame', 'cairocffi', 'pangocffi', 'torch') "
            "if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# -- pixel-bench render --layout / ls renderers ---------------------------------------------------
def test_cli_render_layout(tmp_path: Path) -> None:
    from pixel_bench.cli.app import app

    runner = CliRunner()
    out = tmp_path / "thesis.png"
    result = runner.invoke(app, ["render", "Hello world", "-r", "binary", "--layout", "thesis",
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "529" in " ".join(result.output.split()) and out.is_file()
    bad = runner.invoke(app, ["render", "Hello", "-r", "binary", "--layout", "thesys",
                              "-o", str(out)])
    assert isinstance(bad.exception, ConfigError) and "Did you mean 'thesis'" in str(bad.exception)
    both = runner.invoke(app, ["render", "Hello", "-r", "binary", "--layout", "thesis",
                               "--config", str(tmp_path), "-o", str(out)])
    assert isinstance(both.exception, ConfigError) and "give one" in str(both.exception)
    listing = runner.invoke(app, ["ls", "renderers"])
    assert listing.exit_code == 0 and "pixar2024*" in listing.output
