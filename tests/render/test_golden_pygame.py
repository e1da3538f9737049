"""PyGame renderer vs ``golden/render/pygame_noto.npz``: every case, every field, bit for bit."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from pixel_bench.errors import ConfigError
from pixel_bench.paths import shared_dir
from pixel_bench.render import RENDERERS, RendererConfig
from pixel_bench.render.golden import (describe_mismatch, encoding_to_arrays, load_golden,
                                       render_case)

GOLDEN_FILE = "pygame_noto.npz"


def _cases() -> list[dict]:
    shared = shared_dir()
    if shared is None:
        return []
    return json.loads((shared / "golden/render/cases.json").read_text(encoding="utf-8"))["cases"]


CASES = _cases()
RENDER_CASES = [c for c in CASES if c["kind"] != "qa"]
QA_CASES = [c for c in CASES if c["kind"] == "qa"]
FIELDS = ["pixel_values", "num_text_patches", "sep_patches", "attention_mask", "word_starts"]
needs_shared = pytest.mark.skipif(not CASES, reason="shared/ reference folder not found "
                                  "(set PIXEL_BENCH_SHARED); golden cases unavailable")


def _input(case: dict):
    return tuple(case["input"]) if case["kind"] in ("pair", "qa") else case["input"]


def encoding_arrays(case_id: str, enc) -> dict[str, np.ndarray]:
    """The golden key scheme for one Encoding, keyed by field (without the case prefix)."""
    return {k.split("/", 1)[1]: v for k, v in encoding_to_arrays(case_id, enc).items()}


@pytest.fixture(scope="module")
def golden_npz(golden: Path):
    return load_golden(golden / "render" / GOLDEN_FILE)


def _config(fonts: Path, fast: bool = True) -> RendererConfig:
    return RendererConfig(font_file=str(fonts / "noto/NotoSans-Regular.ttf"), font_size=8,
                          dpi=120, pixels_per_patch=16, max_seq_length=529, pad_size=3,
                          background_color="white", font_color="black",
                          extra={} if fast else {"pygame_fast_raster": False})


@pytest.fixture(scope="module", params=["glyph-cache", "surface"])
def renderer(request, fonts: Path):
    """Both drawing paths: cached glyphs composed in numpy (default) and pygame surfaces."""
    return RENDERERS.get("pygame")(_config(fonts, fast=request.param == "glyph-cache"))


@pytest.fixture(scope="module")
def rendered(renderer):
    return {c["id"]: render_case(renderer, c) for c in RENDER_CASES}


@needs_shared
@pytest.mark.parametrize("case_id", [c["id"] for c in RENDER_CASES])
def test_fields_present(case_id, rendered, golden_npz):
    want = sorted(golden_npz[case_id])
    got = sorted(encoding_arrays(case_id, rendered[case_id]))
    assert got == want, f"{case_id}: golden has fields {want}, rendering gives {got}"


@needs_shared
@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("case_id", [c["id"] for c in RENDER_CASES])
def test_golden_field(case_id, field, rendered, golden_npz):
    key = f"{case_id}/{field}"
    got = encoding_arrays(case_id, rendered[case_id])
    if field not in golden_npz[case_id]:
        assert field not in got, f"{key}: produced but not in the golden file"
        return
    problem = describe_mismatch(key, golden_npz[case_id][field], got.get(field))
    assert problem is None, problem


@needs_shared
@pytest.mark.parametrize("case_id", [c["id"] for c in QA_CASES])
def test_qa_options_are_refused(case_id, renderer):
    case = next(c for c in QA_CASES if c["id"] == case_id)
    with pytest.raises(ConfigError, match="no QA options.*pangocairo"):
        renderer(_input(case), **case["kwargs"])


@needs_shared
def test_bookkeeping_counts(rendered):
    assert rendered["s_overflow"].truncated and not rendered["s_long_fit"].truncated
    assert rendered["p_overflow_b"].truncated and rendered["p_overflow_a"].truncated
    assert not rendered["p_short"].truncated
    w = rendered["w_overflow"]
    # 221 word_starts with PangoCairo; PyGame's ink widths fit a few more words
    assert w.truncated and w.num_dropped_words == 384 - (len(w.word_starts) - 1)
    assert rendered["w_simple"].num_dropped_words == 0
    assert rendered["s_short"].unknown_glyphs == 0
    assert rendered["s_cjk_fallback"].unknown_glyphs == 4  # 東京 서울: no Noto Sans glyphs
    assert rendered["s_emoji"].unknown_glyphs == 2


@needs_shared
def test_colour_conversion_matches_red_plane(renderer):
    """The OpenCV RGB->grey formula (used for non-grey colours) agrees with the red plane."""
    enc = renderer("Grey check: gjpqy ABHKL")
    renderer._grey = False
    try:
        again = renderer("Grey check: gjpqy ABHKL")
    finally:
        renderer._grey = True
    assert np.array_equal(enc.pixel_values, again.pixel_values)


@needs_shared
def test_pickle_round_trip(renderer):
    clone = pickle.loads(pickle.dumps(renderer))
    assert clone.config == renderer.config
    assert np.array_equal(clone("Hello world.").pixel_values, renderer("Hello world.").pixel_values)


@needs_shared
def test_bad_inputs(renderer, fonts):
    with pytest.raises(ConfigError, match="word list is empty"):
        renderer([])
    with pytest.raises(ConfigError, match="unknown option"):
        renderer("x", bogus=1)
    with pytest.raises(ConfigError, match="colour"):
        RENDERERS.get("pygame")(renderer.config.with_overrides(font_color="no-such-colour"))
    with pytest.raises(ConfigError, match="binary"):
        RENDERERS.get("pygame")(renderer.config.with_overrides(binary=True))


@needs_shared
def test_glyph_cache_path_equals_surface_path_on_real_text(fonts, data):
    """The fast path must give the surface path's bytes on real text, pairs and word lists."""
    import gzip

    sentences = []
    with gzip.open(data / "wikipedia_en_sample/text/AA/wiki_01.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if len(line) > 40 and not line.startswith("<"):
                sentences.append(line[:300])
            if len(sentences) == 150:
                break
    items = sentences[:100] + [(a, b) for a, b in zip(sentences[100:120], sentences[120:140])]
    items += [s.split() for s in sentences[140:150]]
    items += [" ".join(sentences), sentences[0].split() * 20, "", " ", ("", "x"), ["a", "", "b"],
              "x\ty", "a\u0301", "Tokyo 東京", "\"quoted\" -- (x)", "ffi ﬁ"]
    fast = RENDERERS.get("pygame")(_config(fonts))
    slow = RENDERERS.get("pygame")(_config(fonts, fast=False))
    used = 0
    for item in items:
        a, b = fast(item), slow(item)
        used += fast._raster
        problem = describe_mismatch(repr(item)[:60], b.pixel_values, a.pixel_values)
        assert problem is None, problem
        assert (a.num_text_patches, a.sep_patches, a.word_starts, a.truncated,
                a.num_dropped_words, a.unknown_glyphs) == (
            b.num_text_patches, b.sep_patches, b.word_starts, b.truncated,
            b.num_dropped_words, b.unknown_glyphs), repr(item)[:60]
    assert used >= len(items) - 8  # the fast path really ran (spaces-only etc. fall back)
