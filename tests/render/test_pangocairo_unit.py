"""PangoCairo and binary renderers: bad input, edge cases and the options beyond the golden files."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from pixel_bench.errors import ConfigError
from pixel_bench.render import RENDERERS, RendererConfig

pytest.importorskip("pangocffi", reason="the PangoCairo renderer needs pangocffi (extra 'render')")

LONG = "The quick brown fox jumps over the lazy dog. " * 80


@pytest.fixture(scope="module")
def noto(fonts: Path) -> Path:
    return fonts / "noto/NotoSans-Regular.ttf"


@pytest.fixture(scope="module")
def renderer(noto: Path):
    return RENDERERS.get("pangocairo")(RendererConfig(font_file=str(noto)))


@pytest.fixture(scope="module")
def small(noto: Path):
    """A short canvas (40 patches) so overflow is cheap."""
    return RENDERERS.get("pangocairo")(RendererConfig(font_file=str(noto), max_seq_length=40))


@pytest.mark.parametrize("name", ["pangocairo", "binary"])
def test_missing_font_names_the_file(tmp_path: Path, name: str):
    missing = tmp_path / "NoSuchFont.ttf"
    with pytest.raises(ConfigError, match="NoSuchFont.ttf"):
        RENDERERS.get(name)(RendererConfig(font_file=str(missing), pixels_per_patch=8,
                                           max_seq_length=720, patch_len=2))


def test_unreadable_font_names_the_file(tmp_path: Path):
    bad = tmp_path / "broken.ttf"
    bad.write_bytes(b"not a font at all")
    with pytest.raises(ConfigError, match="broken.ttf"):
        RENDERERS.get("pangocairo")(RendererConfig(font_file=str(bad)))


def test_missing_fallback_dir_is_named(noto: Path, tmp_path: Path):
    with pytest.raises(ConfigError, match="nofallback"):
        RENDERERS.get("pangocairo")(RendererConfig(font_file=str(noto),
                                                   fallback_fonts_dir=str(tmp_path / "nofallback")))


def test_fallback_fonts_dir_registers_every_font(noto: Path, fonts: Path):
    from pixel_bench.render._fontconfig import register_fonts_dir

    families = register_fonts_dir(fonts / "pixeloid")
    assert "Pixeloid Sans" in families and len(families) >= 3  # Sans, Sans Bold, Mono
    r = RENDERERS.get("pangocairo")(RendererConfig(font_file=str(noto),
                                                   fallback_fonts_dir=str(fonts / "pixeloid")))
    plain = RENDERERS.get("pangocairo")(RendererConfig(font_file=str(noto)))
    # the main font still wins for glyphs it has
    np.testing.assert_array_equal(r("Hello").pixel_values, plain("Hello").pixel_values)


def test_empty_text_is_an_eos_only_strip(renderer):
    enc = renderer("")
    img = enc.pixel_values
    assert img.shape == (16, 16 * 529) and img.dtype == np.uint8
    assert enc.num_text_patches == 1 and enc.sep_patches == [16]
    assert (img[:, :16] == 255).all() and (img[:, 16:32] == 0).all() and (img[:, 32:] == 255).all()
    assert enc.attention_mask.tolist()[:3] == [1.0, 1.0, 0.0] and enc.attention_mask.sum() == 2
    assert not enc.truncated and enc.unknown_glyphs == 0


def test_overflowing_text_sets_truncated(small):
    enc = small(LONG)
    assert enc.truncated and enc.num_text_patches == 39 and enc.sep_patches == [39 * 16]
    assert (enc.pixel_values[:, -16:] == 0).all()  # the EOS is drawn over the last patch
    assert not small("Short text.").truncated


def test_dropped_words_are_counted(small):
    words = LONG.split()
    enc = small(words)
    rendered = len(enc.word_starts) - 1
    assert enc.num_dropped_words == len(words) - rendered > 0 and enc.truncated
    assert enc.word_starts[-1] == enc.num_text_patches == 39
    ok = small(["a", "", "b"])
    assert ok.word_starts == [0, 1, 2, 3] and ok.num_dropped_words == 0 and not ok.truncated


def test_unknown_glyphs_counted_with_one_warning(noto: Path, caplog):
    r = RENDERERS.get("pangocairo")(RendererConfig(font_file=str(noto)))
    with caplog.at_level(logging.WARNING, logger="pixel_bench.render.pangocairo"):
        counts = [r("Tokyo 東京 and Seoul 서울").unknown_glyphs for _ in range(3)]
        assert r("plain text").unknown_glyphs == 0
    assert counts == [4, 4, 4]
    assert len([rec for rec in caplog.records if "unknown glyph" in rec.getMessage()]) == 1
    summary = r.warn_unknown_glyphs_summary()
    assert summary and "12 unknown glyph(s) in 3 text(s)" in summary


def test_rgb_matches_grey(noto: Path, renderer):
    rgb = RENDERERS.get("pangocairo")(RendererConfig(font_file=str(noto), rgb=True))
    a, b = renderer("Hello world."), rgb("Hello world.")
    assert b.pixel_values.shape == (16, 16 * 529, 3)
    for c in range(3):  # black text on white: every channel equals the grey render
        np.testing.assert_array_equal(b.pixel_values[..., c], a.pixel_values)


def test_bad_options(renderer):
    with pytest.raises(TypeError, match="return_offset_maping"):
        renderer(("a", "b"), return_offset_maping=True)
    with pytest.raises(ValueError, match="return_offset_mapping"):
        renderer(("a", "b"), return_overflowing_patches=True)
    with pytest.raises(ConfigError, match="text_a_truncation"):
        renderer(("a", "b"), text_a_truncation="sometimes")
    with pytest.raises(TypeError):
        renderer(42)


QUESTION = ("Considering the geological history described in the passage, including the Eocene "
            "era, over which range of latitudes did the rainforest extend?")


def test_text_a_max_length_faithful_vs_fixed(noto: Path, renderer):
    kwargs = dict(text_a_max_length=16, return_offset_mapping=True)
    faithful = renderer((QUESTION, "Short context."), **kwargs)
    fixed = renderer((QUESTION, "Short context."), **kwargs, text_a_truncation="fixed")
    for enc in (faithful, fixed):
        ink = [p for p in range(60) if (enc.pixel_values[:, 16 * p:16 * p + 16] < 255).any()]
        assert max(p for p in ink if p * 16 < enc.sep_patches[0]) < 16  # A drawn cut to 16
        assert enc.truncated
    # faithful: separator placed after the *untruncated* question, the mapping disagrees
    sep_faithful = faithful.sep_patches[0] // 16
    assert sep_faithful > 17 and faithful.offset_mapping.index((0, 0)) <= 17
    # fixed: separator right after the drawn question, where the mapping puts it
    sep_fixed = fixed.sep_patches[0] // 16
    assert sep_fixed <= 17 and fixed.offset_mapping.index((0, 0)) == sep_fixed
    assert fixed.offset_mapping[sep_fixed + 1] == (0, 1)


def test_overflow_windows_continue_the_context(small):
    question, context = "Where?", " ".join(f"w{i}" for i in range(200))
    enc = small((question, context), return_offset_mapping=True, return_overflowing_patches=True,
                stride=4)
    assert enc.overflowing_patches
    sep = enc.sep_patches[0]
    for window in enc.overflowing_patches:
        np.testing.assert_array_equal(window.pixel_values[:, :sep + 16],
                                      enc.pixel_values[:, :sep + 16])  # question + separator
        assert window.sep_patches[:2] == enc.sep_patches and len(window.sep_patches) == 3
        assert len(window.offset_mapping) == 40
        assert window.attention_mask.sum() == min(window.num_text_patches + 1, 40)
    starts = [w.offset_mapping[sep // 16 + 1][0] for w in enc.overflowing_patches]
    assert starts == sorted(starts) and starts[0] > 0
    last = enc.overflowing_patches[-1].offset_mapping
    assert max(e for _, e in last) >= len(context)  # the last window reaches the end


def test_rtl_detection(renderer):
    assert renderer.is_rtl("שלום עולם") and renderer.is_rtl("مرحبا بالعالم")
    assert not renderer.is_rtl("Hello") and not renderer.is_rtl("123 !?")


def test_fingerprint_depends_on_font(noto: Path, fonts: Path, renderer):
    other = RENDERERS.get("pangocairo")(RendererConfig(font_file=str(fonts / "pixeloid/PixeloidSans.ttf")))
    assert renderer.fingerprint() != other.fingerprint()
    assert renderer.fingerprint() == RENDERERS.get("pangocairo")(renderer.config).fingerprint()


# -- binary renderer ------------------------------------------------------------------------------
def test_binary_layouts(fonts: Path):
    from pixel_bench.render.binary import BinaryTextRenderer, binary_layout

    font = fonts / "pixeloid/PixeloidSans.ttf"
    thesis = BinaryTextRenderer(binary_layout("thesis", font))
    enc = thesis("Hello world.")
    assert enc.pixel_values.shape == (8, 4232) and enc.extras["binary"].shape == (1, 8, 4232)
    n = enc.num_text_patches
    assert int(enc.extras["tgraph_num_text_patches"]) == n + 1  # patch_len 1
    assert enc.extras["tgraph_attention_mask"].shape == (529,)

    grey = BinaryTextRenderer(binary_layout("pixar2024", font, grey=True))
    g = grey("Hello world.")
    assert "binary" not in g.extras and g.extras["grey"].dtype == np.float32
    assert g.extras["grey"].shape == (1, 8, 5760)
    assert 0.0 <= g.extras["grey"].min() and g.extras["grey"].max() <= 1.0
    assert ((g.extras["grey"] > 0) & (g.extras["grey"] < 1)).any()  # antialiased grey levels
    assert int(g.extras["tgraph_num_text_patches"]) == -(-(g.num_text_patches + 1) // 2)
    assert g.extras["tgraph_attention_mask"].shape == (360,)


def test_binary_layout_errors(fonts: Path):
    from pixel_bench.render.binary import BinaryTextRenderer, binary_layout

    with pytest.raises(ConfigError, match="pixar2025"):
        binary_layout("pixar2025")
    with pytest.raises(ConfigError, match="patch_len"):
        BinaryTextRenderer(binary_layout("pixar2024", fonts / "pixeloid/PixeloidSans.ttf",
                                         max_seq_length=721))


def test_glyph_atlas_agrees_with_pango(fonts: Path, noto: Path):
    from pixel_bench.render.binary import BinaryTextRenderer, binary_layout

    config = binary_layout("pixar2024", fonts / "pixeloid/PixeloidSans.ttf", max_seq_length=80)
    pango, fast = BinaryTextRenderer(config), BinaryTextRenderer(config, fast_glyph_atlas=True)
    texts = ["Hello world.", "", " ", "He said: \"It costs $3.50 (incl. 20% VAT)\"", LONG,
             "Café naïve façade, Łódź", "line one\nline two"]
    for text in texts:
        a, b = pango(text), fast(text)
        for key in ("binary", "tgraph_num_text_patches", "tgraph_attention_mask"):
            np.testing.assert_array_equal(a.extras[key], b.extras[key], err_msg=f"{text!r} {key}")
        np.testing.assert_array_equal(a.pixel_values, b.pixel_values, err_msg=repr(text))
        assert (a.sep_patches, a.truncated) == (b.sep_patches, b.truncated), text
    assert fast.atlas.hits == len(texts) and fast.atlas.misses == 0
    fast("tab\there and 東京")  # not reproducible by the atlas: the Pango path draws it
    assert fast.atlas.misses == 1
    with pytest.raises(ConfigError, match="substitutes glyphs"):  # Noto has ligatures
        BinaryTextRenderer(config.with_overrides(font_file=str(noto)), fast_glyph_atlas=True)


def test_options_survive_pickling_and_config(fonts: Path, noto: Path):
    import pickle

    from pixel_bench.render.binary import BinaryTextRenderer, binary_layout

    r = RENDERERS.get("pangocairo")(RendererConfig(font_file=str(noto)), text_a_truncation="fixed")
    clone = pickle.loads(pickle.dumps(r))
    assert clone.text_a_truncation == "fixed" and clone("Hi").num_text_patches == r("Hi").num_text_patches
    cfg = RendererConfig.from_dict({"font_file": str(noto), "text_a_truncation": "fixed"})
    assert RENDERERS.get("pangocairo")(cfg).text_a_truncation == "fixed"
    b = BinaryTextRenderer(binary_layout("pixar2024", fonts / "pixeloid/PixeloidSans.ttf"),
                           fast_glyph_atlas=True)
    assert pickle.loads(pickle.dumps(b)).atlas is not None


def test_bad_stride(small):
    long_pair = ("Where?", LONG)
    with pytest.raises(ValueError, match="stride=38"):
        small(long_pair, return_offset_mapping=True, return_overflowing_patches=True, stride=38)
    with pytest.raises(ValueError, match="stride"):
        small(long_pair, return_offset_mapping=True, return_overflowing_patches=True, stride=-1)


# -- the reused strip (sentence and word paths) ---------------------------------------------------
REUSE_TEXTS = [LONG, "Short text.", "", "Tokyo 東京 🙂 and ﬁne ligatures", LONG[:300], "x",
               "tab\tand\nnewline", "ÅÄÖ åäö — “quotes” …", "A" * 40, "The end."]


def _fresh_sentence(r, text: str):
    """The pre-reuse path: new surface, context, Pango context and layout for the text."""
    text = text.replace("\n", " ")
    canvas = r._canvas()
    layout = r._layout(canvas, text)
    canvas.draw(layout, 2)
    eos = r.next_patch(2 + layout.width + 2)
    return canvas.image([eos]), eos, layout.unknown_glyphs()


@pytest.mark.parametrize("rgb", [False, True])
def test_reused_strip_matches_fresh_objects(noto: Path, rgb: bool):
    # long texts before short ones: no ink may survive from one text to the next
    r = RENDERERS.get("pangocairo")(RendererConfig(font_file=str(noto), rgb=rgb))
    for text in REUSE_TEXTS + REUSE_TEXTS[::-1]:
        enc = r(text)
        image, eos, unknown = _fresh_sentence(r, text)
        assert np.array_equal(enc.pixel_values, image), text[:40]
        assert enc.sep_patches == [eos] and enc.num_text_patches == eos // 16
        assert enc.unknown_glyphs == unknown


def test_words_after_sentences_match_a_fresh_renderer(noto: Path):
    words = ["Hello", "wörld", "東京", "", "ﬁne", "end."]
    used = RENDERERS.get("pangocairo")(RendererConfig(font_file=str(noto)))
    for text in REUSE_TEXTS:
        used(text)
    fresh = RENDERERS.get("pangocairo")(RendererConfig(font_file=str(noto)))
    for ws in (words, LONG.split(), ["x"]):
        a, b = used(ws), fresh(ws)
        assert np.array_equal(a.pixel_values, b.pixel_values)
        assert (a.word_starts, a.sep_patches, a.num_dropped_words, a.unknown_glyphs) == \
            (b.word_starts, b.sep_patches, b.num_dropped_words, b.unknown_glyphs)
        used(LONG)  # and a sentence in between


def test_strip_is_kept_per_thread(renderer):
    import threading

    renderer("one")
    strip = renderer._strips.strip
    renderer("two")
    assert renderer._strips.strip is strip  # reused, not rebuilt per text
    expected = {t: renderer(t).pixel_values for t in REUSE_TEXTS}
    results, strips = {}, []

    def work(i: int) -> None:
        for _ in range(3):
            for t in REUSE_TEXTS:
                if not np.array_equal(renderer(t).pixel_values, expected[t]):
                    results[i] = t
        strips.append(renderer._strips.strip)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not results
    assert len({id(s) for s in strips}) == 3 and strip not in strips


def test_broken_strip_is_rebuilt(renderer):
    expected = renderer("Hello world.").pixel_values
    renderer._strips.strip.broken = True  # as after a (sticky) cairo error
    old = renderer._strips.strip
    assert np.array_equal(renderer("Hello world.").pixel_values, expected)
    assert renderer._strips.strip is not old and not renderer._strips.strip.broken


def test_plain_pairs_on_the_strip_match_the_full_pair_path(renderer):
    # the QA pair path (fresh objects) with options that change nothing here
    pairs = [(LONG[:200], "Short."), ("", "x"), ("Tokyo 東京", "ﬁne"), (LONG, "after the end"),
             ("a", LONG), ("tab\there", "new\nline")]
    for a, b in pairs + pairs[::-1]:
        fast = renderer((a, b))
        full = renderer._render_pair(a.replace("\n", " "), b.replace("\n", " "), rtl=False,
                                     return_offset_mapping=False,
                                     return_overflowing_patches=False, stride=0,
                                     text_a_max_length=None, fixed=False)
        assert np.array_equal(fast.pixel_values, full.pixel_values), (a[:20], b[:20])
        assert (fast.sep_patches, fast.num_text_patches, fast.truncated, fast.unknown_glyphs,
                fast.offset_mapping) == (full.sep_patches, full.num_text_patches, full.truncated,
                                         full.unknown_glyphs, full.offset_mapping)
