"""PIXEL's PyGame renderer (``pygame.freetype``), bit-identical to the reference on pygame 2.6.1.

PIXEL pre-rendered its pretraining corpora with this renderer and PixelGPT uses it for all of
its data, so its quirks are kept on purpose (anchors §1.4, parity notes §2):

* sentences and pairs are placed by their *ink box*: ``rect.midleft = (x, pp/2)``, so the
  baseline moves with the content, and widths are ink widths, not advances;
* words are aligned by how far they reach above the patch middle:
  ``rect.top = pad_top + pp/2 - rect.top`` (baseline at y = 11 for PIXEL's settings);
* black separator/EOS patches are drawn in the *font* colour;
* ``sep_patches`` holds **patch indices** (PangoCairo holds pixel offsets);
* no glyph fallback (missing glyphs become .notdef boxes), no RGB, no RTL, no QA options.

The image is read from the red plane instead of OpenCV's RGB->grey conversion: for grey font and
background colours R = G = B after the blit and OpenCV's fixed-point weights sum to one, so both
give the same bytes (verified on all golden cases). Other colours use OpenCV's exact integer
formula, written out in numpy below, so cv2 is not needed.
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any

import numpy as np

from ..errors import ConfigError
from .base import Encoding, RendererConfig, TextRenderer, get_attention_mask

# pygame must see these before its first import: no window, no audio device, no banner.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame  # noqa: E402
import pygame.freetype  # noqa: E402

logger = logging.getLogger(__name__)

#: options of PangoCairo's pair mode that PIXEL's PyGame renderer does not have
QA_OPTIONS = frozenset({"stride", "text_a_max_length", "return_offset_mapping",
                        "return_overflowing_patches", "rtl"})

LEFT_PAD = 2  # text always starts 2 px into the canvas; 2 px of white before a black patch


def _cmap_codepoints(font_file: str) -> frozenset[int]:
    """Code points the font can draw (its best Unicode cmap), for counting unknown glyphs."""
    from fontTools.ttLib import TTFont

    try:
        with TTFont(font_file, lazy=True, fontNumber=0) as font:
            cmap = font.getBestCmap() or {}
    except Exception as exc:  # noqa: BLE001 - fontTools raises many types for bad files
        raise ConfigError(f"cannot read the character map of font {font_file}: {exc}") from None
    return frozenset(cmap)


def _color(name: str, key: str) -> pygame.Color:
    try:
        return pygame.Color(name)
    except (ValueError, TypeError):
        raise ConfigError(f"renderer setting {key!r}: {name!r} is not a pygame colour name "
                          "(e.g. 'black', 'white', '#202020')") from None


class PyGameTextRenderer(TextRenderer):
    """PIXEL's ``PyGameTextRenderer``: sentences, sentence pairs and word lists."""

    name = "pygame"
    version = "1"

    def __init__(self, config: RendererConfig) -> None:
        super().__init__(config)
        if config.binary or config.patch_len != 1:
            raise ConfigError("the pygame renderer has no binary/patch_len (PIXAR) mode; use the "
                              "'binary' renderer for PIXAR settings")
        if config.fallback_fonts_dir:
            logger.warning("pygame renderer: fallback_fonts_dir=%s is ignored (PIXEL's PyGame "
                           "renderer has no glyph fallback)", config.fallback_fonts_dir)
        self.pad_top = config.pad_size  # only word mode uses the padding (as in PIXEL)
        self.font_color = _color(config.font_color, "font_color")
        self.background_color = _color(config.background_color, "background_color")
        self._grey = all(c.r == c.g == c.b for c in (self.font_color, self.background_color))
        pygame.freetype.init()
        # PIXEL sets the process-wide default resolution; passing it to Font too keeps two
        # renderers with different dpi in one process independent.
        pygame.freetype.set_default_resolution(config.dpi)
        try:
            self.font = pygame.freetype.Font(config.font_file, size=config.font_size,
                                             resolution=config.dpi)
        except (OSError, pygame.error) as exc:
            raise ConfigError(f"pygame cannot load font {config.font_file}: {exc}") from None
        self.font.fgcolor = self.font_color
        self._codepoints = _cmap_codepoints(config.font_file)
        # One canvas per renderer, cleared before each example (saves an 8464x16 allocation).
        self._surface = pygame.Surface((self.max_pixels_len, self.pixels_per_patch))

    # -- pickling: workers rebuild the font from the config ------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["config"])

    # -- drawing primitives -----------------------------------------------------------------
    def _clear(self) -> pygame.Surface:
        self._surface.fill(self.background_color)
        return self._surface

    def _draw_black_patch(self, offset: int) -> None:
        pp = self.pixels_per_patch
        pygame.draw.rect(self._surface, self.font_color, pygame.Rect(offset, 0, pp, pp))

    def _draw_sentence(self, text: str, offset: int) -> int:
        """Draw ``text`` with its ink box vertically centred at ``offset``; return its ink width."""
        glyphs, rect = self.font.render(text, self.font_color)
        rect.midleft = (offset, self.pixels_per_patch / 2)
        self._surface.blit(glyphs, rect)
        return rect.width

    def _draw_word(self, word: str, offset: int, is_last: bool) -> tuple[int, bool]:
        """Draw one word at ``offset``; return the next patch boundary after it and whether
        the word ran into the final patch (the boundary had to be clamped)."""
        glyphs, rect = self.font.render(word, self.font_color)
        rect.left = offset
        # freetype's rect.top is the ink ascent above the baseline, so this puts every word's
        # baseline at pad_top + pp/2 (PIXEL's vertical word alignment).
        rect.top = self.pad_top + (self.pixels_per_patch / 2 - rect.top)
        self._surface.blit(glyphs, rect)
        if is_last:
            offset += LEFT_PAD
        end = offset + rect.width
        return self.next_patch(end), self._overflows(end)

    def _image(self) -> np.ndarray:
        if self.config.rgb:  # not in PIXEL's PyGame renderer; offered for inspection
            return np.ascontiguousarray(pygame.surfarray.pixels3d(self._surface).swapaxes(0, 1))
        if self._grey:
            return np.ascontiguousarray(pygame.surfarray.pixels_red(self._surface).T)
        rgb = pygame.surfarray.pixels3d(self._surface).swapaxes(0, 1).astype(np.uint32)
        # OpenCV's COLOR_RGB2GRAY for uint8: fixed-point BT.601 weights with rounding.
        grey = (rgb[..., 0] * 4899 + rgb[..., 1] * 9617 + rgb[..., 2] * 1868 + 8192) >> 14
        return grey.astype(np.uint8)

    def _unknown(self, text: str) -> int:
        cps = self._codepoints
        return sum(1 for ch in text if ord(ch) not in cps)

    def _overflows(self, x: float) -> bool:
        """True when snapping ``x`` had to be clamped: the text ran into the final patch."""
        pp = self.pixels_per_patch
        return math.ceil(x / pp) * pp > self.max_pixels_len - pp

    def _encoding(self, offset: int, sep_patches: list[int], **fields: Any) -> Encoding:
        num_text_patches = math.ceil(offset / self.pixels_per_patch)
        return Encoding(
            pixel_values=self._image(),
            num_text_patches=num_text_patches,
            sep_patches=sep_patches,
            attention_mask=get_attention_mask(num_text_patches, self.max_seq_length),
            **fields,
        )

    @staticmethod
    def _check_kwargs(mode: str, kwargs: dict[str, Any]) -> None:
        if not kwargs:
            return
        qa = sorted(set(kwargs) & QA_OPTIONS)
        if qa:
            raise ConfigError(
                f"the pygame renderer has no QA options ({', '.join(qa)}): PIXEL's PyGame renderer "
                "renders no offset mapping, overflow windows, text_a truncation or RTL pairs; use "
                "the 'pangocairo' renderer for question answering")
        raise ConfigError(f"pygame renderer, {mode} mode: unknown option(s) {sorted(kwargs)}")

    # -- the three modes --------------------------------------------------------------------
    def render_text(self, text: str, **kwargs: Any) -> Encoding:
        self._check_kwargs("sentence", kwargs)
        self._clear()
        width = self._draw_sentence(text, LEFT_PAD)
        end = LEFT_PAD + width + LEFT_PAD
        offset = self.next_patch(end)
        self._draw_black_patch(offset)
        return self._encoding(offset, [offset // self.pixels_per_patch],
                              truncated=self._overflows(end), unknown_glyphs=self._unknown(text))

    def render_text_pair(self, pair: tuple[str, str], **kwargs: Any) -> Encoding:
        self._check_kwargs("pair", kwargs)
        text_a, text_b = pair
        pp = self.pixels_per_patch
        self._clear()
        width_a = self._draw_sentence(text_a, LEFT_PAD)
        end_a = LEFT_PAD + width_a + LEFT_PAD
        sep = self.next_patch(end_a)
        self._draw_black_patch(sep)
        start_b = sep + pp + LEFT_PAD
        width_b = self._draw_sentence(text_b, start_b)
        end_b = start_b + width_b + LEFT_PAD
        offset = self.next_patch(end_b)
        self._draw_black_patch(offset)
        return self._encoding(
            offset, [sep // pp, offset // pp],
            truncated=self._overflows(end_a) or self._overflows(end_b),
            unknown_glyphs=self._unknown(text_a) + self._unknown(text_b))

    def render_words(self, words: list[str], **kwargs: Any) -> Encoding:
        self._check_kwargs("words", kwargs)
        if not words:
            raise ConfigError("pygame renderer, word mode: the word list is empty (PIXEL's "
                              "renderer needs at least one word)")
        pp = self.pixels_per_patch
        last_patch = self.max_pixels_len - pp
        self._clear()
        word_starts = [0]
        offset = LEFT_PAD
        rendered = 0
        clipped = False
        # Every word but the last is drawn with a trailing space and starts a fresh patch; once
        # the offset reaches the final patch, the remaining words are dropped (PIXEL does this
        # silently; here they are counted).
        for word in words[:-1]:
            offset, overflow = self._draw_word(f"{word} ", offset, is_last=False)
            clipped |= overflow
            rendered += 1
            word_starts.append(math.ceil(offset / pp))
            if offset == last_patch:
                break
        else:
            offset, overflow = self._draw_word(words[-1], offset, is_last=True)
            clipped |= overflow
            rendered += 1
            word_starts.append(math.ceil(offset / pp))
        dropped = len(words) - rendered
        self._draw_black_patch(offset)
        return self._encoding(
            offset, [offset // pp], word_starts=word_starts,
            truncated=dropped > 0 or clipped,
            num_dropped_words=dropped,
            unknown_glyphs=sum(self._unknown(w) for w in words[:rendered]))
