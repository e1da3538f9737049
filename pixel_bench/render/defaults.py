"""Ready-made renderer configurations, for when no checkpoint's ``text_renderer_config.json``
is at hand (``pixel-bench render`` without ``--config``, benchmarks, tests).

* ``pangocairo`` / ``pygame``: PIXEL's settings (8 pt at 120 dpi, 16 px patches, 529 patches,
  pad 3) with Noto Sans standing in for PIXEL's ``GoNotoCurrent.ttf`` (which only ships inside
  PIXEL checkpoints);
* ``binary``: PIXAR-2024's ``DEFAULT_BINARY_RENDERING`` (Pixeloid Sans, 80 dpi, 8 px patches,
  720 patches, ``patch_len`` 2, binarised).

Font names are resolved with :func:`pixel_bench.fonts.resolve_font` (``PIXEL_BENCH_FONTS``, the
cache, ``shared/fonts``, the system font folders).
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from ..fonts import resolve_font
from .base import RendererConfig

PIXEL_DEFAULTS: dict[str, Any] = {
    "font_file": "NotoSans-Regular.ttf", "font_size": 8, "dpi": 120, "pixels_per_patch": 16,
    "max_seq_length": 529, "pad_size": 3, "rgb": False, "font_color": "black",
    "background_color": "white",
}
PIXAR_DEFAULTS: dict[str, Any] = {
    "font_file": "PixeloidSans.ttf", "font_size": 8, "dpi": 80, "pixels_per_patch": 8,
    "max_seq_length": 720, "pad_size": 3, "rgb": False, "binary": True, "patch_len": 2,
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "pangocairo": PIXEL_DEFAULTS, "pygame": PIXEL_DEFAULTS, "binary": PIXAR_DEFAULTS,
    "pangocairo-bigrams": PIXEL_DEFAULTS,  # the bigrams models keep PIXEL's font settings
}


def default_config(renderer_name: str, **overrides: Any) -> RendererConfig:
    """The default :class:`RendererConfig` of ``renderer_name``; ``None`` overrides are ignored.

    A plug-in renderer can provide its own defaults with a ``default_config()`` classmethod.
    """
    values = {k: v for k, v in overrides.items() if v is not None}
    if renderer_name == "binary":
        try:  # the binary renderer's own preset, when its module is installed
            from .binary import binary_layout
        except ImportError:
            pass
        else:
            font = values.pop("font_file", None)
            return binary_layout("pixar2024", font_file=font, **values)
    if renderer_name in DEFAULTS:
        settings = {**DEFAULTS[renderer_name], **values}
    else:
        from ..registry import RENDERERS

        cls = RENDERERS.get(renderer_name)  # unknown names raise with close matches
        factory = getattr(cls, "default_config", None)
        if factory is None:
            raise ConfigError(f"renderer {renderer_name!r} has no default settings; pass a "
                              "renderer config (--config text_renderer_config.json)")
        base = factory()
        return base.with_overrides(**values) if values else base
    settings["font_file"] = str(resolve_font(settings["font_file"]))
    given = sorted(k for k in values if k != "font_file")
    return RendererConfig.from_dict(settings, source=f"default config of {renderer_name!r}" + (
        f" (overridden: {', '.join(given)})" if given else ""))
