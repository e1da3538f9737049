"""PIXEL's PyGame renderer (``pygame.freetype``), bit-identical to the reference on pygame 2.6.1.

PIXEL pre-rendered its pretraining corpora with this renderer and PixelGPT uses it for all of
its data, so its quirks are kept on purpose (``src/pixel/data/rendering/pygame_renderer.py`` of
github.com/xplip/pixel; docs/cache.md):

* sentences and pairs are placed by their *ink box*: ``rect.midleft = (x, pp/2)``, so the
  baseline moves with the content, and widths are ink widths, not advances;
* words are aligned by how far they reach above the patch middle:
  ``rect.top = pad_top + pp/2 - rect.top`` (baseline at y = 11 for PIXEL's settings);
* black separator/EOS patches are drawn in the *font* colour;
* ``sep_patches`` holds **patch indices** (PangoCairo holds pixel offsets);
* no glyph fallback (missing glyphs become .notdef boxes), no RGB, no RTL, no QA options.

Fast path (default for PIXEL's black-on-white grey setting). ``pygame.freetype`` spends ~15 us
per character laying out and rasterising every call, even for repeated glyphs; that is what made
the original ~110 sentences/s. Here each character is rasterised once (``render_raw``, its box
from ``get_rect``, its advance from ``get_metrics``) and texts are composed in numpy the way
pygame lays them out: integer pen advances, no kerning (pygame.freetype only reads the legacy
``kern`` table, which Noto Sans lacks), the text box is the union of the glyph boxes (a space's
box is its advance on the baseline), overlapping coverage combines as ``a + b - a*b // 255``,
and black ink blended onto white is exactly ``255 - coverage``. This was derived by measurement
and is checked, byte for byte against the pygame surface path, on all golden cases and on real
Wikipedia sentences, pairs and word lists in the tests (0 differences on 4,177 examples, about
10x faster for sentences). An example it cannot reproduce (a glyph without metrics such as a
tab, a fractional advance, a text without ink) is drawn with pygame surfaces instead; config
``extra`` ``{"pygame_fast_raster": false}`` turns the fast path off. Other colours and ``rgb``
always use surfaces.

The image is read from the red plane instead of OpenCV's RGB->grey conversion: for grey font and
background colours R = G = B after the blit and OpenCV's fixed-point weights sum to one, so both
give the same bytes (verified on all golden cases). Other colours use OpenCV's exact integer
formula, written out in numpy below, so cv2 is not needed.
"""

from __future__ import annotations

import importlib
import logging
import math
import os
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError
from .base import (PIXEL_LAYOUT, Encoding, RendererConfig, TextRenderer, get_attention_mask,
                   layouts)

# pygame must see these before its first import: no window, no audio device, no banner.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

#: the pygame module, imported by the first renderer built (:func:`_load_pygame`), so reading
#: the class's facts (layouts, as the model adapters do when they are listed) does not load SDL
pygame: Any = None


def _load_pygame() -> Any:
    global pygame
    if pygame is None:
        importlib.import_module("pygame.freetype")
        pygame = importlib.import_module("pygame")
    return pygame


logger = logging.getLogger(__name__)

#: options of PangoCairo's pair mode that PIXEL's PyGame renderer does not have
QA_OPTIONS = frozenset({"stride", "text_a_max_length", "return_offset_mapping",
                        "return_overflowing_patches", "rtl"})

SHORT_TEXT = 12  # up to this many characters a plain loop lays glyphs out faster than numpy
LEFT_PAD = 2  # text always starts 2 px into the canvas; 2 px of white before a black patch


_MISSING = object()


def _reported_width(width: int) -> int:
    """The ink width pygame 2.6.1's ``Font.render`` reports: texts wider than 65,535 px come
    back modulo 65,536 (a 16-bit field), which moves PIXEL's end patch into the text. Kept, so
    both drawing paths give the original's pixels; such examples are flagged as truncated."""
    return width % 65536


class _NeedsSurface(Exception):
    """The fast raster path cannot reproduce this example; draw it with pygame instead."""


def _cmap_codepoints(font_file: str) -> frozenset[int]:
    """Code points the font can draw (its best Unicode cmap), for counting unknown glyphs."""
    from fontTools.ttLib import TTFont

    try:
        with TTFont(font_file, lazy=True, fontNumber=0) as font:
            cmap = font.getBestCmap() or {}
    except Exception as exc:  # noqa: BLE001 - fontTools raises many types for bad files
        raise ConfigError(f"cannot read the character map of font {font_file}: {exc}") from None
    return frozenset(cmap)


def _color(name: str, key: str) -> Any:  # a pygame.Color
    try:
        return pygame.Color(name)
    except (ValueError, TypeError):
        raise ConfigError(f"renderer setting {key!r}: {name!r} is not a pygame colour name "
                          "(e.g. 'black', 'white', '#202020')") from None


class PyGameTextRenderer(TextRenderer):
    """PIXEL's ``PyGameTextRenderer``: sentences, sentence pairs and word lists."""

    name = "pygame"
    sep_patches_unit = "patches"  # PyGame's original stores patch indices (PangoCairo: pixels)
    version = "2"  # 2: texts over 65,535 px are flagged truncated (pixels unchanged)
    # SDL blits a glyph at x >= 65,536 to x - 65,536 (measured with pygame 2.6.1 / SDL 2), so
    # PIXEL's renderer cannot draw a wider strip; the fast raster path would, and differ.
    max_canvas_px = 65536
    max_canvas_reason = "SDL wraps blit coordinates at 65,536 px"
    text_renderer_type: ClassVar[str | None] = "PyGameTextRenderer"
    #: ``pixel``: PIXEL's settings (its pretraining renderer). ``pixelgpt``: PixelGPT's
    #: ``renderers/noto_renderer`` (the same settings on a 1024-patch canvas, which PixelGPT's
    #: recipes crop), Noto Sans again standing in for GoNotoCurrent.
    LAYOUTS = layouts(pixel=PIXEL_LAYOUT, pixelgpt={**PIXEL_LAYOUT, "max_seq_length": 1024})
    DEFAULT_LAYOUT: ClassVar[str | None] = "pixel"

    @classmethod
    def libraries(cls) -> dict[str, str]:
        """pygame and the FreeType it was built with (the render-cache key's ``libraries``)."""
        try:
            pg = _load_pygame()
            return {"pygame": pg.version.ver,
                    "pygame_freetype": ".".join(map(str, pg.freetype.get_version()))}
        except Exception:  # noqa: BLE001 - the renderer itself reports a missing pygame
            return {}

    def __init__(self, config: RendererConfig) -> None:
        super().__init__(config)
        _load_pygame()
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
        self._fast = (not config.rgb and bool(config.extra.get("pygame_fast_raster", True))
                      and tuple(self.font_color)[:3] == (0, 0, 0)
                      and tuple(self.background_color)[:3] == (255, 255, 255))
        self._raster = False  # which canvas the current example is drawn on
        self._canvas = np.empty((self.pixels_per_patch, self.max_pixels_len), dtype=np.uint8)
        self._glyphs: dict[str, Any] = {}  # per-character metrics and coverage (fast path)

    # -- pickling: workers rebuild the font from the config ------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["config"])

    # -- drawing primitives -----------------------------------------------------------------
    # Each dispatches on ``self._raster``: the numpy canvas (fast path) or the pygame surface.
    def _clear(self) -> None:
        if self._raster:
            self._canvas.fill(255)
        else:
            self._surface.fill(self.background_color)

    def _draw_black_patch(self, offset: int) -> None:
        pp = self.pixels_per_patch
        if self._raster:
            self._canvas[:, offset:offset + pp] = 0
        else:
            pygame.draw.rect(self._surface, self.font_color, pygame.Rect(offset, 0, pp, pp))

    def _glyph(self, ch: str) -> tuple[int, int, int, int, int, np.ndarray | None] | None:
        """One character as pygame.freetype lays it out: its box relative to the pen and the
        baseline (x bearing, ascent, width, height; a space's box is its advance on the
        baseline), its advance and its ink as int32 [3, n] rows (dy, dx, coverage) or None;
        None when the font has no glyph or positions are fractional (pygame lays it out)."""
        metrics = self.font.get_metrics(ch)
        if not metrics or metrics[0] is None:
            return None
        advance = float(metrics[0][4])
        if not advance.is_integer():
            return None
        box = self.font.get_rect(ch)
        buf, (w, h) = self.font.render_raw(ch)
        ink = None
        if w * h:
            if (w, h) != (box.width, box.height):
                return None
            cov = np.frombuffer(buf, dtype=np.uint8).reshape(h, w)
            dy, dx = np.nonzero(cov)
            ink = (np.stack([dy, dx, cov[dy, dx]]).astype(np.int64), cov.astype(np.int64))
        return box.x, box.top, box.width, box.height, int(advance), ink

    def _layout(self, text: str) -> tuple[np.ndarray, int]:
        """Coverage [h, w] of ``text`` and its ascent (``render(text)[1].top``), composed from
        cached glyphs the way pygame.freetype lays them out: integer pen advances, no kerning,
        the text box is the union of the glyph boxes, overlapping coverage combines as
        ``a + b - a*b // 255`` in text order."""
        glyphs = self._glyphs
        found = []
        for ch in text:
            g = glyphs.get(ch, _MISSING)
            if g is _MISSING:
                g = glyphs[ch] = self._glyph(ch)
            if g is None:
                raise _NeedsSurface
            found.append(g)
        if not found:
            raise _NeedsSurface
        if len(found) <= SHORT_TEXT:
            return self._layout_short(found)
        x, ascent, w, h, advance = np.array([g[:5] for g in found], dtype=np.int64).T
        lo = np.cumsum(advance) - advance + x  # glyph box left edges
        left, right = int(lo.min()), int((lo + w).max())
        top, bottom = int(ascent.max()), int((ascent - h).min())
        inked = [i for i, g in enumerate(found) if g[5] is not None]
        if not inked:  # no ink at all (spaces): rare, let pygame do it
            raise _NeedsSurface
        ink = np.concatenate([found[i][5][0] for i in inked], axis=1)
        counts = [found[i][5][0].shape[1] for i in inked]
        rows = ink[0] + np.repeat(top - ascent[inked], counts)
        cols = ink[1] + np.repeat(lo[inked] - left, counts)
        width = right - left
        flat = rows * width + cols
        out = np.zeros((top - bottom) * width, dtype=np.int64)
        overlap = np.bincount(flat, minlength=out.size)[flat] > 1
        if overlap.any():  # glyphs sharing pixels (rare): combine in text order
            single = ~overlap
            out[flat[single]] = ink[2][single]
            for pos, value in zip(flat[overlap].tolist(), ink[2][overlap].tolist()):
                prev = int(out[pos])
                out[pos] = prev + value - prev * value // 255
        else:
            out[flat] = ink[2]
        return out.reshape(top - bottom, width), top

    @staticmethod
    def _layout_short(found: list[tuple]) -> tuple[np.ndarray, int]:
        """:meth:`_layout` for a few glyphs (words): a plain loop beats array set-up there."""
        pen = 0
        left = right = top = bottom = None
        placed = []
        for x, ascent, w, h, advance, ink in found:
            lo = pen + x
            if left is None:
                left, right, top, bottom = lo, lo + w, ascent, ascent - h
            else:
                left, right = min(left, lo), max(right, lo + w)
                top, bottom = max(top, ascent), min(bottom, ascent - h)
            if ink is not None:
                placed.append((lo, ascent, ink[1]))
            pen += advance
        if not placed:
            raise _NeedsSurface
        out = np.zeros((top - bottom, right - left), dtype=np.int64)
        for lo, ascent, cov in placed:
            y0, x0 = top - ascent, lo - left
            region = out[y0:y0 + cov.shape[0], x0:x0 + cov.shape[1]]
            region += cov - (region * cov) // 255
        return out, top

    def _paste(self, cov: np.ndarray, left: int, top: int) -> None:
        """Blend black ink of coverage ``cov`` onto the white canvas at (left, top), clipped."""
        h, w = cov.shape
        rows, cols = self._canvas.shape
        y0, y1, x0, x1 = max(top, 0), min(top + h, rows), max(left, 0), min(left + w, cols)
        if y0 < y1 and x0 < x1:
            region = self._canvas[y0:y1, x0:x1]
            # on white, SDL's blend of black at alpha a is exactly 255 - a
            np.minimum(region, 255 - cov[y0 - top:y1 - top, x0 - left:x1 - left], out=region,
                       casting="unsafe")

    def _draw_sentence(self, text: str, offset: int) -> tuple[int, int]:
        """Draw ``text`` with its ink box vertically centred at ``offset``; return the ink width
        pygame reports (what PIXEL's geometry uses) and the true one."""
        if self._raster:
            cov, _ = self._layout(text)
            rect = pygame.Rect(0, 0, _reported_width(cov.shape[1]), cov.shape[0])
            rect.midleft = (offset, self.pixels_per_patch / 2)
            self._paste(cov, rect.left, rect.top)
            return rect.width, cov.shape[1]
        glyphs, rect = self.font.render(text, self.font_color)
        rect.midleft = (offset, self.pixels_per_patch / 2)
        self._surface.blit(glyphs, rect)
        return rect.width, glyphs.get_width()

    def _draw_word(self, word: str, offset: int, is_last: bool) -> tuple[int, bool]:
        """Draw one word at ``offset``; return the next patch boundary after it and whether
        the word ran into the final patch (the boundary had to be clamped)."""
        if self._raster:
            cov, ascent = self._layout(word)
            rect = pygame.Rect(offset, ascent, _reported_width(cov.shape[1]), cov.shape[0])
            true_width = cov.shape[1]
        else:
            glyphs, rect = self.font.render(word, self.font_color)
            rect.left = offset
            true_width = glyphs.get_width()
        # freetype's rect.top is the ink ascent above the baseline, so this puts every word's
        # baseline at pad_top + pp/2 (PIXEL's vertical word alignment).
        rect.top = self.pad_top + (self.pixels_per_patch / 2 - rect.top)
        if self._raster:
            self._paste(cov, rect.left, rect.top)
        else:
            self._surface.blit(glyphs, rect)
        if is_last:
            offset += LEFT_PAD
        end = offset + rect.width
        clipped = self._overflows(offset + true_width) or rect.width != true_width
        return self.next_patch(end), clipped

    def _image(self) -> np.ndarray:
        if self._raster:
            return self._canvas.copy()
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

    def _clipped(self, start: int, width: int, true_width: int) -> bool:
        """A text drawn at ``start`` ran into the final patch, or was so wide that pygame
        reported a wrapped width (then the end patch lands inside the text, as in PIXEL)."""
        return self._overflows(start + true_width + LEFT_PAD) or width != true_width

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
    def _run(self, draw: Any, item: Any) -> Encoding:
        """Draw one example on the fast canvas, or on the pygame surface when it cannot."""
        if self._fast:
            self._raster = True
            try:
                return draw(item)
            except _NeedsSurface:
                pass
        self._raster = False
        return draw(item)

    def render_text(self, text: str, **kwargs: Any) -> Encoding:
        self._check_kwargs("sentence", kwargs)
        return self._run(self._render_text, text)

    def render_text_pair(self, pair: tuple[str, str], **kwargs: Any) -> Encoding:
        self._check_kwargs("pair", kwargs)
        return self._run(self._render_text_pair, pair)

    def render_words(self, words: list[str], **kwargs: Any) -> Encoding:
        self._check_kwargs("words", kwargs)
        if not words:
            raise ConfigError("pygame renderer, word mode: the word list is empty (PIXEL's "
                              "renderer needs at least one word)")
        return self._run(self._render_words, words)

    def _render_text(self, text: str) -> Encoding:
        self._clear()
        width, true_width = self._draw_sentence(text, LEFT_PAD)
        end = LEFT_PAD + width + LEFT_PAD
        offset = self.next_patch(end)
        self._draw_black_patch(offset)
        return self._encoding(offset, [offset // self.pixels_per_patch],
                              truncated=self._clipped(LEFT_PAD, width, true_width),
                              unknown_glyphs=self._unknown(text))

    def _render_text_pair(self, pair: tuple[str, str]) -> Encoding:
        text_a, text_b = pair
        pp = self.pixels_per_patch
        self._clear()
        width_a, true_a = self._draw_sentence(text_a, LEFT_PAD)
        end_a = LEFT_PAD + width_a + LEFT_PAD
        sep = self.next_patch(end_a)
        self._draw_black_patch(sep)
        start_b = sep + pp + LEFT_PAD
        width_b, true_b = self._draw_sentence(text_b, start_b)
        end_b = start_b + width_b + LEFT_PAD
        offset = self.next_patch(end_b)
        self._draw_black_patch(offset)
        return self._encoding(
            offset, [sep // pp, offset // pp],
            truncated=(self._clipped(LEFT_PAD, width_a, true_a)
                       or self._clipped(start_b, width_b, true_b)),
            unknown_glyphs=self._unknown(text_a) + self._unknown(text_b))

    def _render_words(self, words: list[str]) -> Encoding:
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
