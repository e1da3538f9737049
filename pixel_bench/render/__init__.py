"""Text renderers: PIXEL's PangoCairo and PyGame renderers and PIXAR's binary rendering.

Importing this package registers the built-in renderers lazily (their modules, and so cairo,
pango or pygame, are imported only when a renderer is used).
"""

from __future__ import annotations

from ..registry import RENDERERS
from .base import CONFIG_FILE_NAME, Encoding, RendererConfig, TextRenderer, get_attention_mask

RENDERERS.register_lazy("pangocairo", "pixel_bench.render.pangocairo:PangoCairoTextRenderer",
                        help="PIXEL's PangoCairo renderer (16 px patches, grey or RGB, QA pairs)")
RENDERERS.register_lazy("pangocairo-bigrams", "pixel_bench.render.bigrams:BigramsTextRenderer",
                        help="bigrams rendering (two characters per 16 px patch): PIXEL "
                             "*-bigrams models and PIXEL-M4")
RENDERERS.register_lazy("pygame", "pixel_bench.render.pygame_renderer:PyGameTextRenderer",
                        help="PIXEL's PyGame renderer (PIXEL-base pretraining, all PixelGPT data)")
RENDERERS.register_lazy("binary", "pixel_bench.render.binary:BinaryTextRenderer",
                        help="PIXAR's binary rendering with Pixeloid Sans (8 px patches)")

__all__ = ["CONFIG_FILE_NAME", "Encoding", "RendererConfig", "TextRenderer",
           "get_attention_mask", "RENDERERS"]
