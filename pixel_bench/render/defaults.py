"""Ready-made renderer configurations, for when no checkpoint's ``text_renderer_config.json``
is at hand (``pixel-bench render`` without ``--config``, benchmarks, tests).

The settings live on the renderer classes (``TextRenderer.LAYOUTS`` / ``DEFAULT_LAYOUT``); this
module picks a registered renderer's default layout:

* ``pangocairo`` / ``pygame`` / ``pangocairo-bigrams``: PIXEL's settings (8 pt at 120 dpi, 16 px
  patches, 529 patches, pad 3) with Noto Sans standing in for PIXEL's ``GoNotoCurrent.ttf``
  (which only ships inside PIXEL checkpoints);
* ``binary``: PIXAR-2024's ``DEFAULT_BINARY_RENDERING`` (Pixeloid Sans, 80 dpi, 8 px patches,
  720 patches, ``patch_len`` 2, binarised).

Font names are resolved with :func:`pixel_bench.fonts.resolve_font` (``PIXEL_BENCH_FONTS``, the
cache, ``shared/fonts``, the system font folders).
"""

from __future__ import annotations

from typing import Any

from .base import RendererConfig


def default_config(renderer_name: str, layout: str | None = None,
                   **overrides: Any) -> RendererConfig:
    """The :class:`RendererConfig` of ``renderer_name``'s layout ``layout`` (default: the
    renderer's ``DEFAULT_LAYOUT``); ``None`` overrides are ignored. Unknown renderer or layout
    names raise with close matches."""
    from ..registry import RENDERERS

    cls = RENDERERS.get(renderer_name)
    return cls.layout(layout, **{k: v for k, v in overrides.items() if v is not None})
