"""PIXEL's PangoCairo renderer, re-implemented on cffi bindings (cairocffi, pangocffi, pangocairocffi).

Bit-identical to PIXEL's ``PangoCairoTextRenderer`` on Debian 12 (pango 1.50, cairo 1.16, the
system fonts of ``fonts-noto-core``); see docs/rendering.md and the golden tests.

Geometry (``src/pixel/data/rendering/pangocairo_renderer.py`` of github.com/xplip/pixel): one row
``pixels_per_patch`` high, text at x = 2, vertical position ``pp/2 - h/2 - 2`` with h the Pango
*logical* height, widths are logical widths, every black patch (separator, EOS) starts at the next
patch boundary at least 2 px after the text and is clamped to the last patch. Images are
``255 - A8`` (grey) or BGRx -> RGB (``rgb=True``).

Reproduced quirks of the original (each with the option that fixes it, where it is a plain bug):

* ``text_a_max_length`` draws text A truncated, but places the separator, the text-A part of the
  offset mapping's blank-patch test, and the overflow copy region from the *untruncated* width
  (quirk 2 of docs/rendering.md). ``text_a_truncation="fixed"`` uses the truncated width
  throughout and a binary search that always returns the longest prefix that fits.
* Overflow encodings' ``sep_patches`` are the original list plus the new EOS (quirk 3).
* Offset mappings: a text that runs past the canvas, or whose end leaves less than 2 px before the
  next patch, gets its last two entries merged and a ``(-1, -1)`` "inserted blank patch"; the
  final entry's end may be ``len(text) + 1``. Patches a single glyph spans in full get no entry of
  their own. These are what PIXEL's QA post-processing was trained and scored with, so they are kept.
"""

from __future__ import annotations

import logging
import math
import string
import threading
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError
from .base import (PIXEL_LAYOUT, Encoding, RendererConfig, TextRenderer, get_attention_mask,
                   layouts)

logger = logging.getLogger(__name__)

QA_KWARGS = frozenset({"return_overflowing_patches", "return_offset_mapping", "stride", "rtl",
                       "text_a_max_length", "text_a_truncation"})
TRUNCATION_MODES = ("faithful", "fixed")

_PANGO_SCALE = 1024
_PANGO_DIRECTION_RTL = 1
_PANGO_ALIGN_RIGHT = 2


class _Bindings:
    """The cffi libraries, imported on first use so ``pixel-bench --help`` stays light."""

    def __init__(self) -> None:
        import cairocffi
        import pangocairocffi
        import pangocffi

        self.cairo = cairocffi
        self.ffi = pangocffi.ffi
        self.pango = pangocffi.pango
        self.gobject = pangocffi.gobject
        self.pangocairo = pangocairocffi.pangocairo


_BINDINGS: _Bindings | None = None


def _bindings() -> _Bindings:
    global _BINDINGS
    if _BINDINGS is None:
        try:
            _BINDINGS = _Bindings()
        except (ImportError, OSError) as exc:
            raise ConfigError(
                f"the PangoCairo renderer needs cairocffi, pangocffi and pangocairocffi plus the system "
                f"pango/cairo libraries ({exc}); install with `pip install pixel-bench[render]` and "
                "(Debian) `apt-get install libpango-1.0-0 libpangocairo-1.0-0 libcairo2`") from None
    return _BINDINGS


class _Canvas:
    """A white strip (cairo surface + context) that layouts are drawn onto."""

    def __init__(self, b: _Bindings, width: int, height: int, rgb: bool) -> None:
        self.b, self.width, self.height, self.rgb = b, width, height, rgb
        fmt = b.cairo.FORMAT_RGB24 if rgb else b.cairo.FORMAT_A8
        self.surface = b.cairo.ImageSurface(fmt, width, height)
        self.ctx = b.cairo.Context(self.surface)
        if rgb:  # A8 starts transparent (= white after inversion); RGB24 must be painted white
            self.ctx.set_source_rgb(1.0, 1.0, 1.0)
            self.ctx.rectangle(0, 0, width, height)
            self.ctx.fill()
            self.ctx.set_source_rgb(0.0, 0.0, 0.0)

    @property
    def cairo_t(self):
        return self.ctx._pointer  # cairocffi keeps the cairo_t private; pangocairocffi does the same

    def draw(self, layout: "_Layout", x: float) -> None:
        """Draw ``layout`` at ``x``, vertically placed by its logical height (PIXEL's formula)."""
        self.ctx.move_to(x, self.height / 2.0 - layout.height / 2.0 - 2)
        self.b.pangocairo.pango_cairo_show_layout(self.cairo_t, layout.ptr)

    def image(self, black_patches: list[int]) -> np.ndarray:
        """The strip as uint8 (255 = white), with a black ``height``-wide patch at each offset."""
        self.surface.flush()
        stride = self.surface.get_stride()
        data = np.frombuffer(self.surface.get_data(), dtype=np.uint8)
        if self.rgb:
            image = data.reshape(self.height, stride // 4, 4)[:, : self.width, 2::-1].copy()
        else:
            image = 255 - data.reshape(self.height, stride)[:, : self.width]
        for x in black_patches:
            image[:, x: x + self.height] = 0
        return image


class _Layout:
    """One Pango layout (single line) with the measurements the renderer needs."""

    def __init__(self, b: _Bindings, canvas: _Canvas, desc, text: str, rtl: bool = False) -> None:
        self.b = b
        self.text = text
        pctx = b.ffi.gc(b.pangocairo.pango_cairo_create_context(canvas.cairo_t),
                        b.gobject.g_object_unref)
        b.pango.pango_context_set_font_description(pctx, desc)
        self.pctx = pctx
        self.ptr = b.ffi.gc(b.pango.pango_layout_new(pctx), b.gobject.g_object_unref)
        if rtl:
            b.pango.pango_layout_set_auto_dir(self.ptr, False)
            b.pango.pango_context_set_base_dir(pctx, _PANGO_DIRECTION_RTL)
            b.pango.pango_layout_set_alignment(self.ptr, _PANGO_ALIGN_RIGHT)
        self.set_text(text)

    def set_text(self, text: str) -> None:
        self.text = text
        raw = text.encode("utf-8")
        self.b.pango.pango_layout_set_text(self.ptr, raw, len(raw))
        w = self.b.ffi.new("int *")
        h = self.b.ffi.new("int *")
        self.b.pango.pango_layout_get_pixel_size(self.ptr, w, h)  # logical size
        self.width, self.height = int(w[0]), int(h[0])

    def unknown_glyphs(self) -> int:
        return int(self.b.pango.pango_layout_get_unknown_glyphs_count(self.ptr))

    def positions(self, cluster: bool) -> list[float]:
        """Logical x (px, from the layout origin) of every character, or of every cluster."""
        b = self.b
        it = b.pango.pango_layout_get_iter(self.ptr)
        rect = b.ffi.new("PangoRectangle *")
        ink = b.ffi.new("PangoRectangle *")
        out: list[float] = []
        try:
            while True:
                if cluster:
                    b.pango.pango_layout_iter_get_cluster_extents(it, ink, rect)
                else:
                    b.pango.pango_layout_iter_get_char_extents(it, rect)
                out.append(rect.x / _PANGO_SCALE)
                step = (b.pango.pango_layout_iter_next_cluster if cluster
                        else b.pango.pango_layout_iter_next_char)
                if not step(it):
                    break
        finally:
            b.pango.pango_layout_iter_free(it)
        return out


class _Strip:
    """A strip, a Pango context and one layout, kept for sentences, word lists and plain pairs.

    PIXEL builds a cairo surface, a cairo context, a Pango context and a layout for every text
    (and a layout per word); so did this renderer, which made it 0.86-0.90x as fast as the
    original on one core (BENCHMARKS.md). Here they are built once per renderer and thread and reset per text: the
    strip is cleared to what a fresh surface holds (A8: all 0; RGB24: painted white), the layout
    gets the new text, and the hot C calls go straight to the cffi libraries (no wrapper objects,
    no per-call ``ffi.new``; cairo's sticky error status is checked once per text). Pixels and
    metrics are the same as with fresh objects: the golden tests and the side-by-side benchmark
    compare them bit for bit.
    """

    def __init__(self, b: _Bindings, desc, width: int, height: int, rgb: bool) -> None:
        self.width, self.height, self.rgb = width, height, rgb
        self._canvas = _Canvas(b, width, height, rgb)  # keeps the cairocffi objects alive
        self._cr = self._canvas.cairo_t
        self._surface = self._canvas.surface._pointer
        pctx = b.ffi.gc(b.pangocairo.pango_cairo_create_context(self._cr),
                        b.gobject.g_object_unref)
        b.pango.pango_context_set_font_description(pctx, desc)
        self._pctx = pctx
        self.layout = b.ffi.gc(b.pango.pango_layout_new(pctx), b.gobject.g_object_unref)
        self._size = b.ffi.new("int[2]")
        self._size_h = self._size + 1
        stride = self._canvas.surface.get_stride()
        data = np.frombuffer(self._canvas.surface.get_data(), dtype=np.uint8)
        if rgb:
            self._pixels = data.reshape(height, stride // 4, 4)[:, :width]
        else:
            self._pixels = data.reshape(height, stride)[:, :width]
        cairo = b.cairo.cairo
        self._cairo = cairo
        self._move_to, self._flush = cairo.cairo_move_to, cairo.cairo_surface_flush
        self._op_clear, self._op_over = b.cairo.OPERATOR_CLEAR, b.cairo.OPERATOR_OVER
        self._set_text = b.pango.pango_layout_set_text
        self._pixel_size = b.pango.pango_layout_get_pixel_size
        self._unknown = b.pango.pango_layout_get_unknown_glyphs_count
        self._show = b.pangocairo.pango_cairo_show_layout
        self._status = cairo.cairo_status
        self._status_string = cairo.cairo_status_to_string
        self._string = b.cairo.ffi.string
        self.broken = False

    def clear(self) -> None:
        """Back to what a fresh surface holds. A8: a CLEAR paint, after which cairo knows the
        surface is clear (as a new one) and composites the glyphs by its faster clear-destination
        path (a numpy fill + mark_dirty gave the same pixels with 2x the pixman work). RGB24:
        painted white, as ``_Canvas`` (and PIXEL) do for a new surface."""
        cr, cairo = self._cr, self._cairo
        if self.rgb:
            cairo.cairo_set_source_rgb(cr, 1.0, 1.0, 1.0)
            cairo.cairo_paint(cr)
            cairo.cairo_set_source_rgb(cr, 0.0, 0.0, 0.0)
        else:
            cairo.cairo_set_operator(cr, self._op_clear)
            cairo.cairo_paint(cr)
            cairo.cairo_set_operator(cr, self._op_over)

    def set_text(self, text: str) -> tuple[int, int, int]:
        """Lay out ``text``; return its logical width and height (px) and its unknown glyphs."""
        raw = text.encode("utf-8")
        self._set_text(self.layout, raw, len(raw))
        self._pixel_size(self.layout, self._size, self._size_h)
        return self._size[0], self._size[1], self._unknown(self.layout)

    def draw(self, x: float, height: int) -> None:
        """Draw the layout at ``x``, placed by ``height`` (PIXEL's formula, as ``_Canvas.draw``)."""
        self._move_to(self._cr, x, self.height / 2.0 - height / 2.0 - 2)
        self._show(self._cr, self.layout)

    def image(self, black_patches: list[int]) -> np.ndarray:
        """The strip as a new uint8 array (255 = white), as ``_Canvas.image``."""
        status = self._status(self._cr)
        if status:  # cairo errors are sticky: one check covers every call since the last one
            self.broken = True  # and they stay: the renderer builds a new strip next time
            message = self._string(self._status_string(status)).decode(errors="replace")
            raise RuntimeError(f"cairo error while rendering: {message}")
        self._flush(self._surface)
        if self.rgb:
            image = self._pixels[:, :, 2::-1].copy()
        else:
            image = 255 - self._pixels
        for x in black_patches:
            image[:, x: x + self.height] = 0
        return image


class PangoCairoTextRenderer(TextRenderer):
    """PIXEL's PangoCairo renderer: sentences, pairs (incl. QA extras) and word lists.

    ``text_a_truncation`` ("faithful" | "fixed") picks how ``text_a_max_length`` behaves (module
    docstring). It can also come from the config file (an extra key ``"text_a_truncation"``, so
    it reaches worker processes and the cache fingerprint) or be passed per call.
    """

    name: ClassVar[str] = "pangocairo"
    version: ClassVar[str] = "1"
    max_canvas_px: ClassVar[int | None] = 32767
    max_canvas_reason: ClassVar[str] = "cairo image surfaces are at most 32,767 px a side"
    text_renderer_type: ClassVar[str | None] = "PangoCairoTextRenderer"
    #: ``pixel``: PIXEL's settings (its PangoCairo fine-tuning renderer)
    LAYOUTS = layouts(pixel=PIXEL_LAYOUT)
    DEFAULT_LAYOUT: ClassVar[str | None] = "pixel"

    @classmethod
    def libraries(cls) -> dict[str, str]:
        """cairo and Pango, as the cffi bindings report them (the render-cache key's
        ``libraries``; the names and values are the ones cached entries were keyed with)."""
        try:
            import cairocffi
            import pangocffi

            return {"cairo": cairocffi.cairo_version_string(),
                    "pango": pangocffi.ffi.string(pangocffi.pango.pango_version_string()).decode()}
        except Exception:  # noqa: BLE001 - the renderer itself reports missing bindings
            return {}

    def __init__(self, config: RendererConfig, *, text_a_truncation: str | None = None) -> None:
        super().__init__(config)
        if text_a_truncation is None:
            text_a_truncation = str(config.extra.get("text_a_truncation", "faithful"))
        if text_a_truncation not in TRUNCATION_MODES:
            raise ConfigError(f"text_a_truncation must be one of {TRUNCATION_MODES}, "
                              f"got {text_a_truncation!r}")
        self.text_a_truncation = text_a_truncation
        from ._fontconfig import register_font, register_fonts_dir

        self._b = _bindings()
        self.font_family = register_font(config.font_file)
        if config.fallback_fonts_dir:
            register_fonts_dir(config.fallback_fonts_dir)
        # PIXEL's description string; Pango rounds the size to 1/1024 px (13.3330078125 at dpi 120)
        self.font_description_string = f"{self.font_family} {config.dpi / 72 * config.font_size}px"
        b = self._b
        desc = b.pango.pango_font_description_from_string(self.font_description_string.encode())
        self._desc = b.ffi.gc(desc, b.pango.pango_font_description_free)
        self._strips = threading.local()  # one reusable _Strip per thread, built on first use
        # unknown-glyph bookkeeping: one aggregated warning instead of one per text
        self.unknown_glyphs_total = 0
        self.texts_with_unknown_glyphs = 0
        self._warned_unknown = False

    # -- pickling: the cffi handles are rebuilt from the config -----------------------------------
    def _options(self) -> dict[str, Any]:
        return {"text_a_truncation": self.text_a_truncation}

    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config, "options": self._options()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["config"], **state["options"])

    # -- helpers --------------------------------------------------------------------------------
    def _canvas(self) -> _Canvas:
        return _Canvas(self._b, self.max_pixels_len, self.pixels_per_patch, bool(self.config.rgb))

    def _layout(self, canvas: _Canvas, text: str, rtl: bool = False) -> _Layout:
        return _Layout(self._b, canvas, self._desc, text, rtl=rtl)

    def _strip(self) -> _Strip:
        """This thread's reusable strip, cleared (sentences, word lists, plain pairs)."""
        strip = getattr(self._strips, "strip", None)
        if strip is None or strip.broken:
            strip = self._strips.strip = _Strip(self._b, self._desc, self.max_pixels_len,
                                                self.pixels_per_patch, bool(self.config.rgb))
        else:
            strip.clear()
        return strip

    def _count_unknown(self, layout: _Layout) -> int:
        return self._note_unknown(layout.unknown_glyphs(), layout.text)

    def _note_unknown(self, n: int, text: str) -> int:
        if n:
            self.unknown_glyphs_total += n
            self.texts_with_unknown_glyphs += 1
            if not self._warned_unknown:
                self._warned_unknown = True
                logger.warning(
                    "%s renderer (%s): %d unknown glyph(s) in %r; the fonts registered cannot draw "
                    "them (Pango draws hex boxes). Further cases are only counted: see "
                    "Encoding.unknown_glyphs and warn_unknown_glyphs_summary().",
                    self.name, self.font_family, n, text[:80])
        return n

    def warn_unknown_glyphs_summary(self) -> str | None:
        """Log (once per call) and return a one-line summary of unknown glyphs seen so far."""
        if not self.unknown_glyphs_total:
            return None
        msg = (f"{self.name} renderer ({self.font_family}): {self.unknown_glyphs_total} unknown "
               f"glyph(s) in {self.texts_with_unknown_glyphs} text(s); consider fallback_fonts_dir")
        logger.warning(msg)
        return msg

    def _patch_ceil(self, px: float) -> int:
        return math.ceil(px / self.pixels_per_patch)

    def _patch_floor(self, px: float) -> int:
        return math.floor(px / self.pixels_per_patch)

    def _finish(self, image: np.ndarray, sep_patches: list[int], num_text_patches: int,
                **fields: Any) -> Encoding:
        return Encoding(pixel_values=image, sep_patches=list(sep_patches),
                        num_text_patches=int(num_text_patches),
                        attention_mask=get_attention_mask(num_text_patches, self.max_seq_length),
                        **fields)

    @staticmethod
    def _check_kwargs(kwargs: dict[str, Any]) -> None:
        unknown = sorted(set(kwargs) - QA_KWARGS)
        if unknown:
            raise TypeError(f"unknown rendering option(s) {unknown}; known: {sorted(QA_KWARGS)}")

    def is_rtl(self, text: str) -> bool:
        """PIXEL's vote: after dropping whitespace, punctuation and digits, are at least two of the
        first, middle and last characters right-to-left (Pango's Unicode direction)?"""
        drop = str.maketrans("", "", string.whitespace + string.punctuation + string.digits)
        text = text.translate(drop)
        if not text:
            return False
        votes = sum(int(self._b.pango.pango_unichar_direction(ord(ch)) == _PANGO_DIRECTION_RTL)
                    for ch in (text[0], text[-1], text[len(text) // 2]))
        return votes >= 2

    # -- sentence ---------------------------------------------------------------------------------
    def render_text(self, text: str, **kwargs: Any) -> Encoding:
        """Render one sentence: ``[text][white >= 2 px][black EOS][white ...]``."""
        if kwargs:
            self._check_kwargs(kwargs)
        text = text.replace("\n", " ")
        strip = self._strip()
        width, height, unknown = strip.set_text(text)
        if unknown:
            self._note_unknown(unknown, text)
        strip.draw(2, height)
        eos = self.next_patch(2 + width + 2)
        return self._finish(strip.image([eos]), [eos], eos // self.pixels_per_patch,
                            truncated=2 + width > self.max_pixels_len - self.pixels_per_patch,
                            unknown_glyphs=unknown)

    # -- words ------------------------------------------------------------------------------------
    def render_words(self, words: list[str], **kwargs: Any) -> Encoding:
        """Token-classification mode: each word from a fresh patch; words that do not fit are
        dropped (counted in ``num_dropped_words``). An empty list renders like ``[""]``."""
        self._check_kwargs(kwargs)
        words = [str(w) for w in words] or [""]
        pp, last_patch = self.pixels_per_patch, self.max_pixels_len - self.pixels_per_patch
        strip = self._strip()  # PIXEL makes a layout per word; one reused layout draws the same
        word_starts = [0]
        offset, unknown, rendered = 2, 0, 0
        canvas_full = False
        for word in words[:-1]:
            text = f"{word} "  # every word but the last gets a space
            width, height, n = strip.set_text(text)
            unknown += self._note_unknown(n, text)
            strip.draw(offset, height)
            offset = self.next_patch(offset + width)
            word_starts.append(math.ceil(offset / pp))
            rendered += 1
            if offset == last_patch:  # canvas full: the rest is dropped silently by PIXEL
                canvas_full = True
                break
        if not canvas_full:
            width, height, n = strip.set_text(words[-1])
            unknown += self._note_unknown(n, words[-1])
            strip.draw(offset, height)
            end = offset + width
            offset = self.next_patch(end + 2)
            word_starts.append(math.ceil(offset / pp))
            rendered += 1
            canvas_full = end > last_patch
        dropped = len(words) - rendered
        return self._finish(strip.image([offset]), [offset], math.ceil(offset / pp),
                            word_starts=word_starts, num_dropped_words=dropped,
                            truncated=canvas_full or dropped > 0, unknown_glyphs=unknown)

    # -- pairs ------------------------------------------------------------------------------------
    def render_text_pair(self, pair: tuple[str, str], **kwargs: Any) -> Encoding:
        """Render ``(text_a, text_b)``: ``[A][black sep][B][black EOS]``.

        Options (PIXEL's QA interface): ``return_offset_mapping``, ``return_overflowing_patches``
        (needs the offset mapping), ``stride`` (patches of overlap between windows),
        ``text_a_max_length`` (patches), ``rtl`` (force the RTL code path; otherwise taken when
        both texts are RTL), ``text_a_truncation`` ("faithful" | "fixed").
        """
        self._check_kwargs(kwargs)
        text_a, text_b = (str(t).replace("\n", " ") for t in pair)
        mode = kwargs.get("text_a_truncation") or self.text_a_truncation
        if mode not in TRUNCATION_MODES:
            raise ConfigError(f"text_a_truncation must be one of {TRUNCATION_MODES}, got {mode!r}")
        opts = dict(
            return_offset_mapping=bool(kwargs.get("return_offset_mapping", False)),
            return_overflowing_patches=bool(kwargs.get("return_overflowing_patches", False)),
            stride=int(kwargs.get("stride") or 0),
            text_a_max_length=kwargs.get("text_a_max_length"),
            fixed=mode == "fixed",
        )
        if opts["return_overflowing_patches"] and not opts["return_offset_mapping"]:
            raise ValueError("return_overflowing_patches=True requires return_offset_mapping=True")
        if opts["stride"] < 0:
            raise ValueError(f"stride must be >= 0 patches, got {opts['stride']}")
        rtl = bool(kwargs.get("rtl", False)) or (self.is_rtl(text_a) and self.is_rtl(text_b))
        if not (rtl or opts["return_offset_mapping"] or opts["text_a_max_length"] is not None):
            return self._render_plain_pair(text_a, text_b)  # what sentence-pair tasks ask
        return self._render_pair(text_a, text_b, rtl=rtl, **opts)

    def _render_plain_pair(self, text_a: str, text_b: str) -> Encoding:
        """``_render_pair`` without its QA options (LTR, no truncation of A, no offset mapping),
        on the reused strip: A at x = 2, the separator, B, the EOS patch."""
        pp, last_patch = self.pixels_per_patch, self.max_pixels_len - self.pixels_per_patch
        strip = self._strip()
        width_a, height, unknown_a = strip.set_text(text_a)
        self._note_unknown(unknown_a, text_a)
        strip.draw(2, height)
        sep = self.next_patch(2 + width_a + 2)
        x_b = sep + pp + 2
        width_b, height, unknown_b = strip.set_text(text_b)
        self._note_unknown(unknown_b, text_b)
        strip.draw(x_b, height)
        eos = self.next_patch(x_b + width_b + 2)
        return self._finish(strip.image([sep, eos]), [sep, eos], eos // pp, offset_mapping=None,
                            truncated=x_b + width_b > last_patch or 2 + width_a > last_patch,
                            unknown_glyphs=unknown_a + unknown_b)

    def _render_sentence(self, canvas: _Canvas, text: str, x: int, max_length: int | None,
                         rtl: bool, fixed: bool) -> tuple[_Layout, _Layout, int]:
        """Draw ``text`` at ``x`` (cut to ``max_length`` patches if given); return the full
        layout, the drawn layout and the full width."""
        full = self._layout(canvas, text, rtl=rtl)
        drawn = full
        if max_length is not None and self._patch_ceil(x + full.width) > max_length:
            drawn = self._layout(canvas, "", rtl=rtl)
            if fixed:
                self._longest_fitting_prefix(drawn, text, x, max_length)
            else:
                self._pixel_binary_search(drawn, text, x, max_length)
        canvas.draw(drawn, x)  # placed by the drawn layout's own height, as PIXEL does
        return full, drawn, full.width

    def _pixel_binary_search(self, layout: _Layout, text: str, x: int, max_length: int) -> None:
        """PIXEL's search: stop at the first prefix filling exactly ``max_length`` patches; if
        none does, keep whatever prefix was tried last (it may not fit)."""
        lo, hi = 0, len(text)
        while lo <= hi:
            mid = (lo + hi) // 2
            layout.set_text(text[:mid])
            n = self._patch_ceil(x + layout.width)
            if n < max_length:
                lo = mid + 1
            elif n > max_length:
                hi = mid - 1
            else:
                break

    def _longest_fitting_prefix(self, layout: _Layout, text: str, x: int, max_length: int) -> None:
        lo, hi = 0, len(text)  # invariant: text[:lo] fits
        while lo < hi:
            mid = (lo + hi + 1) // 2
            layout.set_text(text[:mid])
            if self._patch_ceil(x + layout.width) <= max_length:
                lo = mid
            else:
                hi = mid - 1
        layout.set_text(text[:lo])

    def _render_pair(self, text_a: str, text_b: str, *, rtl: bool, return_offset_mapping: bool,
                     return_overflowing_patches: bool, stride: int, text_a_max_length: int | None,
                     fixed: bool) -> Encoding:
        pp, last_patch = self.pixels_per_patch, self.max_pixels_len - self.pixels_per_patch
        canvas = self._canvas()
        # text A at x = 2
        full_a, drawn_a, width_a = self._render_sentence(canvas, text_a, 2, text_a_max_length,
                                                         rtl, fixed)
        unknown = self._count_unknown(full_a)
        if fixed:  # the fix of quirk 2: everything after A follows the width actually drawn
            width_a = drawn_a.width
        map_a = (self._offset_mapping(drawn_a, 2, width_a + 2, 0, rtl)
                 if return_offset_mapping else None)
        sep = self.next_patch(2 + width_a + 2)
        # text B after the separator patch and 2 px
        x_b = sep + pp + 2
        max_b = self._patch_floor(last_patch) if rtl else None  # PIXEL cuts RTL B to the canvas
        full_b, drawn_b, width_b = self._render_sentence(canvas, text_b, x_b, max_b, rtl, fixed)
        unknown += self._count_unknown(full_b)
        eos = self.next_patch(x_b + width_b + 2)
        sep_patches = [sep, eos]
        image = canvas.image(sep_patches)
        offset_mapping = full_map_b = None
        if return_offset_mapping:
            full_map_b = self._offset_mapping(full_b, x_b, width_b + 2, x_b - 2, rtl)
            shown_b = (self._offset_mapping(drawn_b, x_b, width_b + 2, x_b - 2, rtl)
                       if rtl else full_map_b)
            offset_mapping = self._pad_mapping(map_a + [(0, 0)] + shown_b)
        truncated = (x_b + width_b > last_patch or 2 + width_a > last_patch
                     or drawn_a.text != text_a)
        encoding = self._finish(image, sep_patches, self._patch_floor(eos),
                                offset_mapping=offset_mapping, truncated=truncated,
                                unknown_glyphs=unknown)
        if return_overflowing_patches:
            assert map_a is not None and full_map_b is not None
            windows = (self._overflow_rtl if rtl else self._overflow_ltr)(
                text_b, image, sep_patches, map_a, full_map_b, x_b, width_a, width_b, stride)
            encoding.overflowing_patches = windows or None
        return encoding

    # -- offset mapping ---------------------------------------------------------------------------
    def _offset_mapping(self, layout: _Layout, offset: int, text_width: int, text_shift: int,
                        rtl: bool) -> list[tuple[int, int]]:
        """Per patch of one text, the ``(char_start, char_end)`` it shows, PIXEL's way.

        ``offset`` is the x where the text starts, ``text_width`` its width + 2 px of padding and
        ``text_shift`` the x where its first patch starts (``offset - 2``; 0 for text A).
        Each character gets the logical x of its cluster (so ligature parts share the
        cluster's start); a patch ends at the first character starting at or past its right
        edge. Character *i* of the returned spans is the i-th Unicode character of the text.
        """
        pp = self.pixels_per_patch
        chars = [x + offset for x in layout.positions(cluster=False)]
        clusters = [x + offset for x in layout.positions(cluster=True)]
        if len(chars) != len(clusters):
            # characters inside a multi-character cluster take the cluster's start (exact float
            # comparison, as PIXEL does)
            merged, c = [], 0
            for x in chars:
                if c == len(clusters) or x != clusters[c]:
                    merged.append(clusters[c - 1])
                else:
                    merged.append(x)
                    c += 1
            chars = merged
        n_text = len(layout.text)
        # "blank patch inserted": the 2 px padding after the text does not fit before the next
        # boundary (true for every text that runs past the canvas, as next_patch clamps)
        blank = (self.next_patch(text_width) - text_width
                 < offset - math.floor(offset / pp) * pp)
        chars.append(self.next_patch(text_width + offset))
        spans: list[tuple[int, int]] = []
        start = 0
        for k, x in enumerate(chars):
            edge = pp * (len(spans) + 1)
            if x - text_shift >= edge:  # at most one patch is closed per character
                end = k if x - text_shift == edge else k - 1
                spans.append((n_text - start, n_text - end) if rtl else (start, end))
                start = end
        if len(spans) < self._patch_ceil(text_width + offset - text_shift):
            spans.append((n_text - start, 0) if rtl else (start, len(chars)))
        if blank and len(spans) >= 2:  # (PIXEL raises IndexError on a one-patch text here)
            spans[-2] = (spans[-2][0], spans[-1][1])
            spans[-1] = (-1, -1)
        return spans

    def _pad_mapping(self, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Cut to ``max_seq_length - 1`` + a final ``(0, 0)``, or pad with ``(0, 0)``."""
        L = self.max_seq_length
        if len(spans) >= L:
            spans = spans[: L - 1] + [(0, 0)]
        return spans + [(0, 0)] * (L - len(spans))

    # -- overflow windows -------------------------------------------------------------------------
    def _overflow_window(self, text: str, x: int, rtl: bool, cut: int | None
                         ) -> tuple[_Canvas, _Layout, int]:
        canvas = self._canvas()
        full, _, width = self._render_sentence(canvas, text, x, cut, rtl, False)
        self._count_unknown(full)
        return canvas, full, width

    def _num_windows(self, pixel_overflow: int, sep_x: int, stride: int) -> int:
        """PIXEL's upper bound on the number of overflow windows."""
        pp = self.pixels_per_patch
        per_window = self.max_pixels_len - pp - (sep_x + pp + stride * pp)
        if per_window <= 0:  # PIXEL divides by this (ZeroDivisionError, or silently no windows)
            raise ValueError(
                f"stride={stride} leaves no room for new context: text A and the separator take "
                f"{(sep_x + pp) // pp} of {self.max_seq_length} patches")
        return math.ceil(pixel_overflow / per_window)

    def _overflow_ltr(self, text_b: str, image: np.ndarray, sep_patches: list[int],
                      map_a: list[tuple[int, int]], map_b: list[tuple[int, int]], x_b: int,
                      width_a: int, width_b: int, stride: int) -> list[Encoding]:
        pp, last_patch = self.pixels_per_patch, self.max_pixels_len - self.pixels_per_patch
        pixel_overflow = (x_b + width_b) - last_patch
        if pixel_overflow <= 0:
            return []
        patch_overflow = self._patch_ceil(pixel_overflow)
        sep_x = self.next_patch(2 + width_a + 2)
        start_x = sep_x + pp + 2  # where each continuation is drawn
        copy_to = sep_x + pp  # text A + separator are copied from the previous image
        windows: list[Encoding] = []
        previous = image
        for _ in range(self._num_windows(pixel_overflow, sep_x, stride)):
            if pixel_overflow <= 0:  # continuations start a little left, so fewer may be needed
                break
            first = max(-patch_overflow - stride, -len(map_b))
            remainder = text_b[map_b[first][0]:]
            canvas, _, width = self._overflow_window(remainder, start_x, False, None)
            eos = self.next_patch(start_x + width + 2)
            shown = min(2 + width, last_patch - start_x)
            last: int | None = -patch_overflow + self._patch_floor(shown)
            if last > -1:
                last = None
            spans = map_b[first:last]
            pixel_overflow = (start_x + width) - last_patch
            patch_overflow = self._patch_ceil(pixel_overflow)
            window = canvas.image([sep_patches[0], eos])
            window[:, :copy_to] = previous[:, :copy_to]
            previous = window
            windows.append(self._finish(
                window, sep_patches + [eos], self._patch_floor(eos),
                offset_mapping=self._pad_mapping(map_a + [(0, 0)] + spans),
                truncated=pixel_overflow > 0))
        return windows

    def _overflow_rtl(self, text_b: str, image: np.ndarray, sep_patches: list[int],
                      map_a: list[tuple[int, int]], map_b: list[tuple[int, int]], x_b: int,
                      width_a: int, width_b: int, stride: int) -> list[Encoding]:
        """PIXEL's RTL continuation: spans are taken from the start of the mirrored mapping."""
        pp, last_patch = self.pixels_per_patch, self.max_pixels_len - self.pixels_per_patch
        pixel_overflow = (x_b + width_b) - last_patch
        if pixel_overflow <= 0:
            return []
        patch_overflow = self._patch_ceil(pixel_overflow)
        sep_x = self.next_patch(2 + width_a + 2)
        start_x = sep_x + pp + 2
        copy_to = sep_x + pp
        windows: list[Encoding] = []
        previous = image
        for _ in range(self._num_windows(pixel_overflow, sep_x, stride)):
            if pixel_overflow <= 0:
                break
            idx = min(patch_overflow + stride, len(map_b) - 1)
            remainder = text_b[map_b[idx][1]:]
            canvas, _, width = self._overflow_window(remainder, start_x, True,
                                                     self._patch_floor(last_patch))
            eos = self.next_patch(start_x + width + 2)
            shown = min(2 + width, last_patch - start_x)
            end = patch_overflow + stride
            first = max(0, end - self._patch_floor(shown))
            spans = map_b[first: end + 1]
            patch_overflow = first
            pixel_overflow = patch_overflow * pp
            window = canvas.image([sep_patches[0], eos])
            window[:, :copy_to] = previous[:, :copy_to]
            previous = window
            windows.append(self._finish(
                window, sep_patches + [eos], self._patch_floor(eos),
                offset_mapping=self._pad_mapping(map_a + [(0, 0)] + spans),
                truncated=pixel_overflow > 0))
        return windows
