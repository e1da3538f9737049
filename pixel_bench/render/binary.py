"""PIXAR's binary rendering: PIXEL's PangoCairo geometry with Pixeloid Sans, then a threshold.

april-tools/pixar renders with PIXEL's PangoCairo renderer (dpi 80, font size 8 -> 8.89 px,
8-px patches, 720 patches) and binarises the grey strip in ``TGraph``: tile to 3 channels,
``> 127.5 -> 255``, ``/ 255``, mean over channels, ``> 0.5`` (``LatentPixel/text_graph.py``).
The result is ``1 = white background, 0 = ink or black EOS/separator patch``. Model positions are
``patch_len`` renderer patches wide, so ``tgraph_num_text_patches = ceil((n + 1) / patch_len)``
(text + EOS) and the attention mask has ``max_seq_length / patch_len`` positions.

The grey variant (``binary=False``, same geometry) keeps the grey values in [0, 1] for the
grey-vs-binary ablation. ``pixel_values`` always holds the raw uint8 render (the golden file
stores both).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError
from .base import Encoding, RendererConfig, layouts
from .pangocairo import PangoCairoTextRenderer

#: the font both PIXAR layouts use (PIXAR's scripts call it PixeloidSans-mLxMm.ttf, same family)
PIXAR_FONT = "PixeloidSans.ttf"


def binary_layout(layout: str = "pixar2024", font_file: str | Path | None = None,
                  grey: bool = False, **overrides: Any) -> RendererConfig:
    """A :class:`RendererConfig` for one of :attr:`BinaryTextRenderer.LAYOUTS` (``grey=True``:
    no threshold, the grey-vs-binary ablation); ``font_file`` defaults to the layout's font."""
    if font_file is not None:
        overrides["font_file"] = str(font_file)
    if grey:
        overrides.setdefault("binary", False)
    return BinaryTextRenderer.layout(layout, **overrides)


def binarize(pixel_values: np.ndarray) -> np.ndarray:
    """TGraph's threshold: uint8 ``[1, H, W]``, 1 = white (> half intensity), 0 = ink.

    A grey strip is tiled to 3 identical channels first, so the channel mean is the thresholded
    value itself; RGB strips are thresholded per channel and then averaged, as in TGraph.
    """
    img = np.asarray(pixel_values)
    if img.ndim == 2:
        if img.dtype == np.uint8:  # x > 127.5 <=> x > 127 for integers, without a float copy
            return (img > 127).view(np.uint8)[None]
        return (img > 127.5).astype(np.uint8)[None]
    if img.ndim == 3 and img.shape[-1] == 3:
        per_channel = (img > 127.5).astype(np.float32)  # {0,255}/255 -> {0,1}
        return (per_channel.mean(axis=-1) > 0.5).astype(np.uint8)[None]
    raise ValueError(f"cannot binarise an image of shape {img.shape}")


class BinaryTextRenderer(PangoCairoTextRenderer):
    """PIXAR's renderer: PangoCairo geometry + binarisation (``config.binary``) or grey in [0,1].

    ``fast_glyph_atlas=True`` (or ``"fast_glyph_atlas": true`` in the config file) draws the
    sentences it can reproduce from cached glyph bitmaps (:mod:`pixel_bench.render.atlas`).

    Extras: ``binary`` (uint8 [1, H, W]) or ``grey`` (float32 [1, H, W]),
    ``tgraph_num_text_patches`` (int64) and ``tgraph_attention_mask`` (float32
    [max_seq_length / patch_len]). Overflow encodings of QA pairs get the same extras.
    """

    name: ClassVar[str] = "binary"
    version: ClassVar[str] = "1"
    #: ``pixar2024``: ``DEFAULT_BINARY_RENDERING`` in ``LatentPixel/__init__.py`` of
    #: github.com/april-tools/pixar. ``thesis``: the 2023 MSc thesis (docs/models-pixar.md): 8x8
    #: patches, one channel, 529 patches (width 4232 px, its §3.1); it gives no dpi/size, so
    #: PIXAR's 80/8 are used.
    #: Both keep PIXEL's PangoCairo class name (``text_renderer_type``): PIXAR renders with it.
    LAYOUTS = layouts(
        pixar2024=dict(font_file=PIXAR_FONT, font_size=8, dpi=80, pixels_per_patch=8,
                       max_seq_length=720, pad_size=3, rgb=False, font_color="black",
                       background_color="white", binary=True, patch_len=2),
        thesis=dict(font_file=PIXAR_FONT, font_size=8, dpi=80, pixels_per_patch=8,
                    max_seq_length=529, pad_size=3, rgb=False, font_color="black",
                    background_color="white", binary=True, patch_len=1),
    )
    DEFAULT_LAYOUT: ClassVar[str | None] = "pixar2024"

    def __init__(self, config: RendererConfig, *, fast_glyph_atlas: bool | None = None,
                 **kwargs: Any) -> None:
        if config.max_seq_length % config.patch_len:
            raise ConfigError(f"max_seq_length ({config.max_seq_length}) must be a multiple of "
                              f"patch_len ({config.patch_len}) for the binary renderer")
        super().__init__(config, **kwargs)
        if fast_glyph_atlas is None:  # also settable in the config file (reaches workers)
            fast_glyph_atlas = bool(config.extra.get("fast_glyph_atlas", False))
        self.atlas = None
        if fast_glyph_atlas:  # opt-in: sentences from cached glyph bitmaps (render/atlas.py)
            if config.rgb:
                raise ConfigError("fast_glyph_atlas renders grey strips only (rgb=False)")
            from .atlas import GlyphAtlas

            self.atlas = GlyphAtlas(self)

    def _options(self) -> dict[str, Any]:
        return {**super()._options(), "fast_glyph_atlas": self.atlas is not None}

    @classmethod
    def from_layout(cls, layout: str = "pixar2024", font_file: str | Path | None = None,
                    grey: bool = False, **overrides: Any) -> "BinaryTextRenderer":
        return cls(binary_layout(layout, font_file, grey=grey, **overrides))

    @property
    def num_positions(self) -> int:
        """Model positions: ``max_seq_length / patch_len``."""
        return self.max_seq_length // self.config.patch_len

    def _add_extras(self, enc: Encoding) -> Encoding:
        patch_len = self.config.patch_len
        if self.config.binary:
            enc.extras["binary"] = binarize(enc.pixel_values)
        else:
            grey = np.asarray(enc.pixel_values, dtype=np.float32) / 255.0
            enc.extras["grey"] = (grey.mean(axis=-1) if grey.ndim == 3 else grey)[None]
        ntp = math.ceil((enc.num_text_patches + 1) / patch_len)  # text + EOS, model positions
        enc.extras["tgraph_num_text_patches"] = np.asarray(ntp, dtype=np.int64)
        mask = np.zeros(self.num_positions, dtype=np.float32)
        mask[: min(ntp, self.num_positions)] = 1.0
        enc.extras["tgraph_attention_mask"] = mask
        for sub in enc.overflowing_patches or []:
            self._add_extras(sub)
        return enc

    def render_text(self, text: str, **kwargs: Any) -> Encoding:
        if self.atlas is not None:
            self._check_kwargs(kwargs)
            clean = text.replace("\n", " ")
            if self.atlas.supports(clean):
                self.atlas.hits += 1
                return self._add_extras(self._render_text_atlas(clean))
            self.atlas.misses += 1
        return self._add_extras(super().render_text(text, **kwargs))

    def _render_text_atlas(self, text: str) -> Encoding:
        """PangoCairo's sentence geometry, drawn from the glyph atlas."""
        assert self.atlas is not None
        alpha, width = self.atlas.text_alpha(text, 2, self.max_pixels_len)
        image = 255 - alpha
        eos = self.next_patch(2 + width + 2)
        image[:, eos:eos + self.pixels_per_patch] = 0
        return self._finish(image, [eos], eos // self.pixels_per_patch,
                            truncated=2 + width > self.max_pixels_len - self.pixels_per_patch)

    def render_text_pair(self, pair: tuple[str, str], **kwargs: Any) -> Encoding:
        return self._add_extras(super().render_text_pair(pair, **kwargs))

    def render_words(self, words: list[str], **kwargs: Any) -> Encoding:
        return self._add_extras(super().render_words(words, **kwargs))
