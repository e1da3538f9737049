"""The rendered-data cache: hits, invalidation, concurrent and killed fills, counts."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from pixel_bench.cache import RenderCache, RenderedSplit, data_fingerprint
from pixel_bench.errors import DataError, PixelBenchError
from pixel_bench.render import RENDERERS, Encoding, RendererConfig, TextRenderer

REPO = Path(__file__).resolve().parents[2]
SENTENCES = [f"Sentence number {i}: the quick brown fox jumps over the lazy dog."
             for i in range(40)]


@pytest.fixture(scope="module")
def noto(fonts: Path) -> Path:
    return fonts / "noto" / "NotoSans-Regular.ttf"


@pytest.fixture()
def config(noto: Path) -> RendererConfig:
    return RendererConfig(font_file=str(noto))


@pytest.fixture()
def cache(tmp_path: Path) -> RenderCache:
    return RenderCache(tmp_path / "rendered")


def assert_same(a: Encoding, b: Encoding) -> None:
    assert np.array_equal(a.pixel_values, b.pixel_values)
    assert a.num_text_patches == b.num_text_patches
    assert list(a.sep_patches) == list(b.sep_patches)
    assert np.array_equal(a.attention_mask, b.attention_mask)
    assert a.word_starts == b.word_starts
    assert (a.truncated, a.num_dropped_words, a.unknown_glyphs) == (
        b.truncated, b.num_dropped_words, b.unknown_glyphs)


def test_miss_then_hit_and_identical_to_direct_rendering(cache, config):
    inputs = ["Hello world.", ("A man plays.", "A person plays."), ["The", "quick", "fox"], ""]
    first = cache.get_or_render("pygame", config, inputs)
    assert not first.from_cache and len(first) == 4
    second = cache.get_or_render("pygame", config, inputs)
    assert second.from_cache and second.key == first.key
    assert second.pixel_values.shape == (4, 16, 8464)
    renderer = RENDERERS.get("pygame")(config)
    direct = [renderer(item) for item in inputs]
    for i, enc in enumerate(direct):
        assert_same(second[i], enc)
    batch = second.pixel_values[1:3]
    assert batch.shape == (2, 16, 8464) and batch.dtype == np.uint8
    assert np.array_equal(batch, np.stack([direct[1].pixel_values, direct[2].pixel_values]))
    assert np.array_equal(np.asarray(second.pixel_values)[3], direct[3].pixel_values)
    batch = second.batch([3, 0])
    assert np.array_equal(batch["pixel_values"][0], direct[3].pixel_values)
    assert np.array_equal(batch["attention_mask"][1], direct[0].attention_mask)
    assert batch["num_text_patches"].tolist() == [direct[3].num_text_patches,
                                                  direct[0].num_text_patches]
    # images are stored cropped after their last non-white column: far below N x 16 x 8464
    assert second.manifest["stored_bytes"] < 4 * 16 * 8464 / 4
    assert second[-1].num_text_patches == second[3].num_text_patches
    with pytest.raises(IndexError):
        second[4]
    assert len(cache.entries()) == 1


def test_two_workers_keep_order(cache, config):
    split = cache.get_or_render("pygame", config, SENTENCES, num_workers=2, chunk_size=3)
    assert split.manifest["timings"]["num_workers"] == 2
    renderer = RENDERERS.get("pygame")(config)
    for i in (0, 1, 17, 39):
        assert_same(split[i], renderer(SENTENCES[i]))


def test_setting_change_invalidates(cache, config):
    a = cache.get_or_render("pygame", config, SENTENCES[:3])
    b = cache.get_or_render("pygame", config.with_overrides(font_size=9), SENTENCES[:3])
    c = cache.get_or_render("pygame", config, SENTENCES[:3], render_kwargs={})
    assert a.key != b.key and c.key == a.key and c.from_cache
    assert not np.array_equal(a.pixel_values, b.pixel_values)
    assert cache.get_or_render("pygame", config, SENTENCES[:4]).key != a.key  # data changed


def test_font_file_content_addresses_the_key(cache, config, fonts, tmp_path):
    base = cache.get_or_render("pygame", config, SENTENCES[:2])
    same_bytes = tmp_path / "copy" / "NotoSans-Regular.ttf"
    same_bytes.parent.mkdir()
    shutil.copyfile(config.font_file, same_bytes)
    hit = cache.get_or_render("pygame", config.with_overrides(font_file=str(same_bytes)),
                              SENTENCES[:2])
    assert hit.from_cache and hit.key == base.key  # same bytes, same pixels
    other = tmp_path / "other" / "NotoSans-Regular.ttf"  # same name, different font
    other.parent.mkdir()
    shutil.copyfile(fonts / "pixeloid" / "PixeloidSans.ttf", other)
    miss = cache.get_or_render("pygame", config.with_overrides(font_file=str(other)),
                               SENTENCES[:2])
    assert not miss.from_cache and miss.key != base.key
    assert miss.manifest["font_sha256"] != base.manifest["font_sha256"]


def test_counts_are_reported(cache, config):
    long = "The quick brown fox jumps over the lazy dog. " * 60
    words = ["word"] * 400
    inputs = ["Hello world.", long, words, "Tokyo 東京", ("ok", long)]
    split = cache.get_or_render("pygame", config, inputs)
    counts = split.counts
    assert counts["examples"] == 5
    assert counts["truncated"] == 3  # the long sentence, the word list, the pair
    assert counts["dropped_words"] == split[2].num_dropped_words > 0
    assert counts["unknown_glyphs"] == 2 and counts["examples_with_unknown_glyphs"] == 1
    assert split[1].truncated and not split[0].truncated
    again = RenderedSplit(split.path)
    assert again.counts == counts and again.manifest["settings"]["font_size"] == 8


def test_data_fingerprint_distinguishes_kinds():
    fps = {data_fingerprint(x) for x in (["a b"], [["a", "b"]], [("a", "b")], [("a b",)], [])}
    assert len(fps) == 5
    assert data_fingerprint(["x", "y"]) != data_fingerprint(["y", "x"])
    with pytest.raises(DataError, match="#1 of type int"):
        data_fingerprint(["ok", 3])


def test_info_and_clear(cache, config):
    assert cache.info()["entries"] == []
    split = cache.get_or_render("pygame", config, SENTENCES[:2])
    info = cache.info()
    assert [e["key"] for e in info["entries"]] == [split.key]
    assert info["size_bytes"] > 0 and info["entries"][0]["renderer"] == "pygame"
    result = cache.clear()
    assert result["removed"] == [split.key] and result["freed_bytes"] > 0
    assert cache.info()["entries"] == []


# -- a fake renderer exercising the QA fields (offset mapping, overflow windows, extras) -------
class _FakeQA(TextRenderer):
    name = "fake-qa"

    def __init__(self, config):  # noqa: D107 - no font needed
        self.config = config

    def fingerprint(self) -> str:
        return "fake-qa-1"

    def _enc(self, n: int, windows: int | None) -> Encoding:
        pv = np.full((4, 1100), 255, np.uint8)  # big enough for the cropped-extras path
        pv[:, :n] = 0
        return Encoding(
            pixel_values=pv, num_text_patches=n, sep_patches=[n, 8 * n],
            attention_mask=np.arange(8, dtype=np.float32) < n + 1,
            offset_mapping=[(i, i + n) for i in range(8)],
            overflowing_patches=None if windows is None else
            [self._enc(n + k + 1, None) for k in range(windows)],
            extras={"binary": (pv > 127).astype(np.uint8)[None], "ragged": np.arange(n)},
        )

    def render_text_pair(self, pair, **kwargs):
        n = len(pair[0])
        return self._enc(n, kwargs.get("windows", {}).get(pair[1]))


@pytest.fixture()
def fake_qa():
    RENDERERS.register("fake-qa", _FakeQA, override=True)
    yield
    RENDERERS._entries.pop("fake-qa", None)  # keep the registry clean for other tests


def test_overflow_offset_mapping_and_extras_round_trip(cache, config, fake_qa):
    inputs = [("ab", "x"), ("abc", "y"), ("a", "z")]
    kwargs = {"windows": {"x": 2, "y": 0}}  # z: None (no overflow list at all)
    split = cache.get_or_render("fake-qa", config, inputs, render_kwargs=kwargs)
    split = RenderedSplit(split.path)
    renderer = _FakeQA(config)
    assert split.counts["overflow_windows"] == 2
    for i, item in enumerate(inputs):
        want, got = renderer(item, **kwargs), split[i]
        assert np.array_equal(want.pixel_values, got.pixel_values)
        assert got.offset_mapping == want.offset_mapping
        assert got.sep_patches == want.sep_patches
        assert np.array_equal(got.extras["binary"], want.extras["binary"])
        assert np.array_equal(got.extras["ragged"], want.extras["ragged"])
        if want.overflowing_patches is None:
            assert got.overflowing_patches is None
        else:
            assert len(got.overflowing_patches) == len(want.overflowing_patches)
            for w, g in zip(want.overflowing_patches, got.overflowing_patches):
                assert np.array_equal(w.pixel_values, g.pixel_values)
                assert g.offset_mapping == w.offset_mapping and g.sep_patches == w.sep_patches


# -- processes ----------------------------------------------------------------------------------
FILL = textwrap.dedent("""
    import os, sys, time
    import pixel_bench.cache as cache_mod
    from pixel_bench.render import RendererConfig
    if os.environ.get("SLOW_FILL"):
        inner = cache_mod._render_records
        def slow(*args, **kwargs):
            time.sleep(0.05)
            return inner(*args, **kwargs)
        cache_mod._render_records = slow
    inputs = [f"Sentence number {i}: the quick brown fox." for i in range(int(sys.argv[3]))]
    split = cache_mod.RenderCache(sys.argv[1]).get_or_render(
        "pygame", RendererConfig(font_file=sys.argv[2]), inputs, chunk_size=1)
    print("RESULT", split.from_cache, split.key, len(split), flush=True)
""")


def _spawn(root: Path, font: Path, n: int, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", FILL, str(root), str(font), str(n)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **env})


def test_two_concurrent_fillers_make_one_entry(tmp_path, noto):
    root = tmp_path / "rendered"
    procs = [_spawn(root, noto, 60, SLOW_FILL="1") for _ in range(2)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        results.append(next(line.split() for line in out.splitlines()
                            if line.startswith("RESULT")))
    assert sorted(r[1] for r in results) == ["False", "True"]  # one rendered, one reused
    assert results[0][2] == results[1][2]
    cache = RenderCache(root)
    assert [p.name for p in cache.entries()] == [results[0][2]]
    assert cache.info()["partial"] == []
    assert len(RenderedSplit(root / results[0][2])) == 60


def test_killed_fill_leaves_no_half_entry(tmp_path, noto):
    root = tmp_path / "rendered"
    proc = _spawn(root, noto, 400, SLOW_FILL="1")  # ~20 s if left alone
    deadline = time.time() + 90  # generous: CI machines can be slow to start the filler
    while time.time() < deadline and not list(root.glob(".tmp-*/pixels.bin")):
        time.sleep(0.05)
    assert proc.poll() is None, "the filler finished or died before it could be killed"
    assert list(root.glob(".tmp-*/pixels.bin")), "the filler never started writing"
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    cache = RenderCache(root)
    assert cache.entries() == [] and len(cache.info()["partial"]) == 1
    inputs = [f"Sentence number {i}: the quick brown fox." for i in range(400)]
    split = cache.get_or_render("pygame", RendererConfig(font_file=str(noto)), inputs)
    assert not split.from_cache and len(split) == 400
    assert cache.info()["partial"] == []  # the killed fill's leftovers were removed


@pytest.mark.parametrize("make", [
    lambda: np.full((16, 64), 255, np.uint8),                       # blank: nothing stored
    lambda: np.pad(np.zeros((16, 16), np.uint8), ((0, 0), (48, 0)), constant_values=255),
    lambda: np.random.default_rng(0).integers(0, 256, (8, 40), dtype=np.uint8),
    lambda: np.concatenate([np.random.default_rng(1).integers(0, 256, (16, 20, 3), np.uint8),
                            np.full((16, 44, 3), 7, np.uint8)], axis=1),  # rgb, odd background
])
@pytest.mark.parametrize("hint", [None, 16, 32, 1000])
def test_crop_restore_is_exact(make, hint):
    from pixel_bench.cache import crop_image, restore_image

    img = make()
    crop, bg = crop_image(img, hint)
    assert crop.shape[1] <= img.shape[1]
    assert np.array_equal(restore_image(np.ascontiguousarray(crop), bg, img.shape[1]), img)


# -- PangoCairo: QA windows and offset mappings through the cache ------------------------------
def _golden_cases(shared: Path) -> dict[str, dict]:
    import json

    cases = json.loads((shared / "golden/render/cases.json").read_text(encoding="utf-8"))
    return {c["id"]: c for c in cases["cases"]}


def test_pangocairo_qa_overflow_round_trip(cache, noto, shared):
    pytest.importorskip("pangocffi", reason="the PangoCairo renderer needs pangocffi")
    if "pangocairo" not in RENDERERS:
        pytest.skip("pixel_bench.render.pangocairo not available")
    cases = _golden_cases(shared)
    qa = cases["qa_overflow"]
    kwargs = qa["kwargs"]
    inputs = [tuple(qa["input"]), tuple(cases["qa_fit"]["input"])]
    config = RendererConfig(font_file=str(noto))
    split = cache.get_or_render("pangocairo", config, inputs, render_kwargs=kwargs)
    split = RenderedSplit(split.path)  # read back from disk
    renderer = RENDERERS.get("pangocairo")(config)
    for i, item in enumerate(inputs):
        want, got = renderer(item, **kwargs), split[i]
        assert_same(got, want)
        assert got.offset_mapping == [tuple(p) for p in want.offset_mapping]
        if want.overflowing_patches is None:  # qa_fit: the context fits, no window list
            assert got.overflowing_patches is None
            continue
        assert len(got.overflowing_patches) == len(want.overflowing_patches)
        for w, g in zip(want.overflowing_patches, got.overflowing_patches):
            assert_same(g, w)
            assert g.offset_mapping == [tuple(p) for p in w.offset_mapping]
    assert split.counts["overflow_windows"] == len(
        renderer(inputs[0], **kwargs).overflowing_patches) > 0


def test_pangocairo_two_workers(cache, noto, shared):
    pytest.importorskip("pangocffi", reason="the PangoCairo renderer needs pangocffi")
    if "pangocairo" not in RENDERERS:
        pytest.skip("pixel_bench.render.pangocairo not available")
    cases = _golden_cases(shared)
    inputs = [tuple(c["input"]) if c["kind"] == "pair" else c["input"]
              for c in cases.values() if c["kind"] != "qa"]
    config = RendererConfig(font_file=str(noto))
    split = cache.get_or_render("pangocairo", config, inputs, num_workers=2, chunk_size=4)
    renderer = RENDERERS.get("pangocairo")(config)
    for i, item in enumerate(inputs):
        assert_same(split[i], renderer(item))
    assert split.counts["unknown_glyphs"] > 0  # the emoji / CJK cases


def test_binary_renderer_extras_round_trip(cache, shared):
    from pixel_bench.errors import PixelBenchError

    try:
        RENDERERS.get("binary")
    except (ImportError, PixelBenchError) as exc:
        pytest.skip(f"binary renderer not available: {exc}")
    from pixel_bench.render.defaults import default_config

    config = default_config("binary", max_seq_length=120)
    inputs = ["Hello world.", ("A pair", "of texts"), ["some", "words"],
              "The quick brown fox jumps over the lazy dog. " * 4]
    split = cache.get_or_render("binary", config, inputs)
    renderer = RENDERERS.get("binary")(config)
    for i, item in enumerate(inputs):
        want, got = renderer(item), split[i]
        assert_same(got, want)
        assert sorted(got.extras) == sorted(want.extras)
        for name, value in want.extras.items():
            assert got.extras[name].dtype == value.dtype and np.array_equal(got.extras[name],
                                                                            value), name


def test_bad_example_in_a_worker_names_its_index(cache, config):
    inputs = ["fine", "also fine", [], "never reached"]
    with pytest.raises(DataError, match="example #2: .*word list is empty"):
        cache.get_or_render("pygame", config, inputs, num_workers=2, chunk_size=1)
    assert cache.entries() == [] and cache.info()["partial"] == []


class _Dies(_FakeQA):
    name = "fake-dies"

    def render_text(self, text, **kwargs):
        if text == "die" and os.getpid() != int(os.environ.get("PIXEL_BENCH_TEST_PARENT", 0)):
            os._exit(3)  # a crash inside a C library looks like this to the pool
        return self._enc(1, None)


@pytest.mark.skipif(sys.platform != "linux", reason="needs the fork start method")
def test_dead_worker_fails_the_fill(cache, config, monkeypatch):
    monkeypatch.setenv("PIXEL_BENCH_TEST_PARENT", str(os.getpid()))
    RENDERERS.register("fake-dies", _Dies, override=True)
    try:
        with pytest.raises(PixelBenchError, match="render worker died"):
            cache.get_or_render("fake-dies", config, ["ok", "die", "ok"], num_workers=2,
                                chunk_size=1, mp_context="fork")
    finally:
        RENDERERS._entries.pop("fake-dies", None)
    assert cache.entries() == []
