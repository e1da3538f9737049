"""The bigrams renderer (pangocairo-bigrams): hand-checked geometry. Bit-for-bit parity with the
original code path on its own stack is test_bigrams_parity.py; the cases here are checked by hand
against the geometry read in xplip/pixel ``pangocairo_renderer_bigrams.py`` and ilkerkesen/pixel-m4
``pangocairo_renderer_bigrams_iso_char.py`` (widths are Noto Sans 8 pt at 120 dpi: H 10, e 8,
l 3, o 8, w 10, r 6, d 8 px), and the drawing itself against PIXEL's continuous renderer, whose
output is golden-verified (a single character drawn at x = 0 here is the continuous renderer's
x = 2 drawing moved 2 px left)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from pixel_bench.registry import RENDERERS
from pixel_bench.render.bigrams import BigramsTextRenderer, to_bigrams
from pixel_bench.render.defaults import default_config
from pixel_bench.render.pangocairo import PangoCairoTextRenderer


@pytest.fixture(scope="module")
def r() -> BigramsTextRenderer:
    return BigramsTextRenderer(default_config("pangocairo-bigrams"))


def short(length: int) -> BigramsTextRenderer:
    return BigramsTextRenderer(default_config("pangocairo-bigrams", max_seq_length=length))


def test_to_bigrams() -> None:
    assert to_bigrams("hello") == ["he", "ll", "o"]
    assert to_bigrams("abcde", rtl=True) == ["e", "dc", "ba"]
    assert to_bigrams("") == []


def test_registered_with_patch_unit_seps() -> None:
    assert RENDERERS.get("pangocairo-bigrams") is BigramsTextRenderer
    assert BigramsTextRenderer.sep_patches_unit == "patches"


def test_hand_checked_word_geometry(r: BigramsTextRenderer) -> None:
    # Hello: He (10+8=18 px -> 2 patches), ll (6 -> 1), o (8 -> 1); world: wo 18 -> 2, rl 9 -> 1,
    # d 8 -> 1; no space between words, no left padding
    enc = r(["Hello", "world"])
    assert enc.word_starts == [0, 4, 8]
    assert enc.sep_patches == [8] and enc.num_text_patches == 8
    assert (enc.pixel_values[:, 8 * 16: 9 * 16] == 0).all()  # black EOS patch
    assert (enc.pixel_values[:, 9 * 16:] == 255).all()
    assert enc.attention_mask[:9].sum() == 9 and enc.attention_mask[9:].sum() == 0
    # each bigram starts at a patch boundary: patch 2 holds "ll" and nothing of "e"/"o"
    ink = (enc.pixel_values < 255).any(axis=0)
    assert ink[32:48].any() and not ink[32 + 6 + 1: 48].any()


def test_drawing_matches_continuous_renderer_shifted(r: BigramsTextRenderer) -> None:
    cont = PangoCairoTextRenderer(default_config("pangocairo"))
    for ch in ("H", "g", "ж"):
        a, b = r([ch]).pixel_values, cont([ch]).pixel_values
        np.testing.assert_array_equal(a[:, 0:14], b[:, 2:16])


def test_truncation_drops_one_more_word() -> None:
    # "llll" = ll + ll = 2 patches; 6 words measure to 12 > 10 patches: drop words until the last
    # kept one starts within 10 (word 5 starts at 8), then one more -> 4 words, 8 patches
    enc = short(10)(["llll"] * 6)
    assert enc.word_starts == [0, 2, 4, 6, 8] and enc.num_dropped_words == 2
    assert enc.truncated and enc.sep_patches == [8]


def test_single_word_is_measured_twice_quirk(caplog: pytest.LogCaptureFixture) -> None:
    # 14 x "l" = 7 patches, fits in 10, but the originals measure a one-word list twice (14 > 10):
    # flagged truncated, a warning, and the word is still drawn whole
    with caplog.at_level(logging.WARNING):
        enc = short(10)(["l" * 14])
    assert enc.word_starts == [0, 7] and enc.truncated and enc.num_dropped_words == 0
    assert "does not fit" in caplog.text


def test_rtl_word_characters_run_right_to_left(r: BigramsTextRenderer) -> None:
    word = "مرحبا"  # bigrams مر حب ا -> RTL order: ا, بح, رم
    enc = r([word])
    assert enc.word_starts[0] == 0
    alone = r([word[-1]]).pixel_values  # the last letter, isolated, at x = 0
    np.testing.assert_array_equal(enc.pixel_values[:, :16], alone[:, :16])
    # sentence mode also reverses the word order of an RTL sentence
    sent = r(f"{word} {word[-1]}")
    np.testing.assert_array_equal(sent.pixel_values[:, :16], alone[:, :16])


def test_sentence_and_pair_modes(r: BigramsTextRenderer) -> None:
    words = r(["Hello", "world"])
    sent = r("  Hello   world ")
    np.testing.assert_array_equal(sent.pixel_values, words.pixel_values)
    pair = r(("Hello", "world"))
    assert pair.sep_patches == [4, 9] and pair.num_text_patches == 9
    assert (pair.pixel_values[:, 64:80] == 0).all()
    with pytest.raises(NotImplementedError, match="offset mapping"):
        r(("a", "b"), return_offset_mapping=True)
    with pytest.raises(TypeError, match="unknown rendering option"):
        r(["a"], bogus=1)


def test_loads_a_bigrams_checkpoint_config_unchanged(tmp_path, r: BigramsTextRenderer) -> None:
    # the keys a Team-PIXEL *-bigrams / pixel-m4 checkpoint's text_renderer_config.json carries
    font = r.config.font_file
    cfg = {"background_color": "white", "dpi": 120, "fallback_fonts_dir": None,
           "font_color": "black", "font_file": font, "font_size": 8, "fonts_list": ["x"],
           "max_seq_length": 529, "pad_size": 3, "pixels_per_patch": 16, "rgb": False,
           "text_renderer_type": "PangoCairoBigramsRenderer"}
    (tmp_path / "text_renderer_config.json").write_text(json.dumps(cfg))
    loaded = BigramsTextRenderer.from_pretrained(tmp_path)
    np.testing.assert_array_equal(loaded(["Hello"]).pixel_values, r(["Hello"]).pixel_values)
