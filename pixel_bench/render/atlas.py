"""Optional fast path for pixel fonts: compose sentences from cached per-character bitmaps.

Pixeloid Sans at PIXAR's size is drawn on an integer pixel grid (hinted, rounded glyph
positions), so a sentence's A8 image is the sum of each character's bitmap placed at the running
sum of the characters' advances, plus pair kerning. :class:`GlyphAtlas` caches, per character, the
bitmap Pango draws for it alone and its advance; per character pair, the kerning Pango applies
(measured once: ``width(ab) - width(a) - width(b)``). Glyphs draw with cairo's ADD-saturate mask
composition, reproduced with a saturating sum.

It only takes texts it can reproduce. Every character must be in the main font's cmap, so there
is no Pango fallback font, and there may be no combining marks, right-to-left or control
characters (tabs included), and no variation selectors. Any other text goes through Pango. The
path is **off by default** (``BinaryTextRenderer(config, fast_glyph_atlas=True)``).
``benchmarks/render_atlas_agreement.py`` measures how often it agrees with the Pango path on real
text. On the Wikipedia sample it agreed bit for bit on every sentence it accepted (BENCHMARKS.md).
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .pangocairo import PangoCairoTextRenderer

_MARGIN = 16  # px of canvas left of a glyph's origin, to catch negative side bearings
_RTL_CLASSES = frozenset({"R", "AL", "RLE", "RLO", "RLI", "AN"})


class GlyphAtlas:
    """Per-character bitmaps and advances of one renderer's font (grey, single row)."""

    def __init__(self, renderer: "PangoCairoTextRenderer") -> None:
        from fontTools.ttLib import TTFont

        from ..errors import ConfigError

        self.renderer = renderer
        self.pp = renderer.pixels_per_patch
        font = TTFont(renderer.config.font_file, lazy=True)
        try:
            cmap = font.getBestCmap() or {}
            if _has_substitutions(font):
                raise ConfigError(f"{renderer.config.font_file}: the font substitutes glyphs "
                                  "(ligatures, contextual forms); the glyph atlas cannot "
                                  "reproduce that, use the Pango path")
            kern_first_glyphs, kern_unknown = _kerning_first_glyphs(font)
        finally:
            font.close()
        self._cmap = frozenset(cmap)
        by_glyph: dict[str, set[str]] = {}
        for code, glyph in cmap.items():
            by_glyph.setdefault(glyph, set()).add(chr(code))
        #: characters that may start a kerning pair (pairs starting elsewhere kern by 0)
        self._kern_first = frozenset(ch for g in kern_first_glyphs for ch in by_glyph.get(g, ()))
        self._kern_all = kern_unknown  # class-based or legacy kerning: measure every pair
        self._advance: dict[str, int] = {}
        self._block: dict[str, np.ndarray] = {}  # glyphs whose ink lies inside their advance
        self._columns: dict[str, bytes] = {}  # the same blocks, column-major bytes
        self._alpha: dict[str, np.ndarray] = {}  # the others, with _MARGIN px each side
        self._kern: dict[tuple[str, str], int] = {}
        self._supported: dict[str, bool] = {}
        self._ok: set[str] = set()
        self.hits = 0
        self.misses = 0

    # -- what the atlas can reproduce ------------------------------------------------------------
    def _char_ok(self, ch: str) -> bool:
        ok = self._supported.get(ch)
        if ok is None:
            cat = unicodedata.category(ch)
            ok = (ord(ch) in self._cmap and not unicodedata.combining(ch)
                  and unicodedata.bidirectional(ch) not in _RTL_CLASSES
                  and cat not in ("Cc", "Cf", "Mn", "Me", "Mc", "Zl", "Zp")
                  and not 0xFE00 <= ord(ch) <= 0xFE0F)
            self._supported[ch] = ok
        return ok

    def supports(self, text: str) -> bool:
        chars = set(text)
        if chars <= self._ok:
            return True
        if all(self._char_ok(ch) for ch in chars):
            self._ok |= chars
            return True
        return False

    # -- cached measurements -----------------------------------------------------------------------
    def _measure(self, text: str) -> int:
        from .pangocairo import _Canvas

        canvas = _Canvas(self.renderer._b, 8, self.pp, False)
        return self.renderer._layout(canvas, text).width

    def _add_glyph(self, ch: str) -> None:
        from .pangocairo import _Canvas

        advance = self._measure(ch)
        span = _MARGIN + advance + _MARGIN
        canvas = _Canvas(self.renderer._b, span, self.pp, False)
        canvas.draw(self.renderer._layout(canvas, ch), _MARGIN)
        alpha = (255 - canvas.image([])).astype(np.uint8)
        inside = alpha[:, _MARGIN:_MARGIN + advance]
        if int(alpha.sum(dtype=np.int64)) == int(inside.sum(dtype=np.int64)):
            self._block[ch] = inside.copy()
            self._columns[ch] = np.ascontiguousarray(inside.T).tobytes()
        else:
            self._alpha[ch] = alpha
        self._advance[ch] = advance

    def _pair_kern(self, a: str, b: str) -> int:
        k = self._kern.get((a, b))
        if k is None:
            k = self._measure(a + b) - self._advance[a] - self._advance[b]
            self._kern[a, b] = k
        return k

    # -- composition -------------------------------------------------------------------------------
    def text_alpha(self, text: str, x0: int, width: int) -> tuple[np.ndarray, int]:
        """A8 alpha (uint8 [pp, width]) of ``text`` drawn at ``x0``, and its logical width."""
        chars = set(text)
        for ch in chars - self._advance.keys():
            self._add_glyph(ch)
        kerned = self._kern_all or not self._kern_first.isdisjoint(chars)
        out = np.zeros((self.pp, width), dtype=np.uint8)
        if not kerned and chars <= self._block.keys():
            # no kerning and no overhangs: the strip is the glyph blocks side by side
            cols = self._columns
            raw = b"".join([cols[ch] for ch in text])  # joining bytes beats np.concatenate
            total = len(raw) // self.pp
            end = max(0, min(total, width - x0))
            if end:
                strip = np.frombuffer(raw, dtype=np.uint8, count=end * self.pp)
                out[:, x0:x0 + end] = strip.reshape(end, self.pp).T
            return out, total
        # general case: glyph masks added with saturation (cairo's glyph mask), pair kerning
        acc = np.zeros((self.pp, width + 2 * _MARGIN), dtype=np.uint16)
        x, prev = 0, None
        for ch in text:
            if prev is not None and (self._kern_all or prev in self._kern_first):
                x += self._pair_kern(prev, ch)
            left = _MARGIN + x0 + x
            if left < width + _MARGIN:
                block = self._block.get(ch)
                piece, start = (block, left) if block is not None else (self._alpha[ch],
                                                                        left - _MARGIN)
                stop = min(start + piece.shape[1], acc.shape[1])
                if stop > start:
                    acc[:, start:stop] += piece[:, : stop - start]
            x += self._advance[ch]
            prev = ch
        np.minimum(acc, 255, out=acc)
        out[:] = acc[:, _MARGIN:_MARGIN + width]
        return out, x


def _has_substitutions(font) -> bool:
    """Does the font's GSUB hold any lookup (ligatures, contextual alternates, ...)?"""
    if "GSUB" not in font:
        return False
    table = font["GSUB"].table
    return bool(table.LookupList and table.LookupList.LookupCount)


def _kerning_first_glyphs(font) -> tuple[set[str], bool]:
    """Glyphs that start a GPOS pair adjustment, and whether kerning is unknown beyond them
    (class-based pairs, a legacy ``kern`` table, or non-pair GPOS lookups)."""
    first: set[str] = set()
    unknown = "kern" in font
    if "GPOS" in font and font["GPOS"].table.LookupList:
        for lookup in font["GPOS"].table.LookupList.Lookup:
            for sub in lookup.SubTable:
                kind = lookup.LookupType
                if kind == 9:  # extension
                    kind, sub = sub.ExtensionLookupType, sub.ExtSubTable
                if kind != 2:
                    unknown = True
                elif sub.Format == 1:
                    first.update(sub.Coverage.glyphs)
                else:
                    unknown = True
    return first, unknown
