"""The comparison helpers of benchmarks/bench_render_vs_original.py on tiny input (no timing:
benchmarks are never timed tests)."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _module(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


bench = _module("bench_render_vs_original")
worker = _module("render_worker")


@dataclass
class _Enc:  # what both sides' Encodings have in common
    pixel_values: np.ndarray
    num_text_patches: int
    sep_patches: list


def _enc(pixel: int = 255, ntp: int = 3, sep=(48,)) -> _Enc:
    image = np.full((16, 64), 255, dtype=np.uint8)
    image[0, 0] = pixel
    return _Enc(image, ntp, list(sep))


def test_digest_sees_every_field():
    base = worker.digest(_enc())
    assert worker.digest(_enc()) == base
    assert worker.digest(_Enc(np.asfortranarray(_enc().pixel_values), 3, [48])) == base
    assert worker.digest(_Enc(_enc().pixel_values, np.int64(3), [np.int64(48)])) == base
    changed = [worker.digest(_enc(pixel=254)), worker.digest(_enc(ntp=4)),
               worker.digest(_enc(sep=(32,))),
               worker.digest(_Enc(_enc().pixel_values.astype(np.int16), 3, [48])),
               worker.digest(_Enc(_enc().pixel_values[:, :48], 3, [48]))]
    assert all(d != base for d in changed)


def test_compare_digests_counts_fields_and_examples():
    ours = [worker.digest(_enc()), worker.digest(_enc(pixel=0)), worker.digest(_enc())]
    orig = [worker.digest(_enc()), worker.digest(_enc(pixel=1, ntp=4)), worker.digest(_enc())]
    res = bench.compare_digests(ours, orig)
    assert res["n"] == 3 and res["identical"] == 2
    assert res["differing_fields"]["pixels sha256"] == 1
    assert res["differing_fields"]["num_text_patches"] == 1
    assert res["differing_fields"]["sep_patches"] == 0
    assert res["examples"] == [{"index": 1, "fields": ["pixels sha256", "num_text_patches"]}]
    assert bench.compare_digests(ours, ours)["identical"] == 3
    with pytest.raises(ValueError, match="length"):
        bench.compare_digests(ours, orig[:2])


def test_pair_ratios_are_speed_ratios_of_adjacent_passes():
    # durations: ours 1 s and 2 s, original 2 s and 2 s -> ours is 2x, then 1x as fast
    assert bench.pair_ratios([1.0, 2.0], [2.0, 2.0]) == [2.0, 1.0]
    assert bench.summarize([2.0, 1.0, 1.5]) == {"median": 1.5, "min": 1.0, "max": 2.0}
    with pytest.raises(ValueError):
        bench.pair_ratios([1.0], [1.0, 2.0])
    with pytest.raises(ValueError):
        bench.pair_ratios([], [])


def test_inputs_per_mode():
    texts = ["a b", "c", "d e f"]
    assert bench.make_inputs(texts, "sentences") == texts
    assert bench.make_inputs(texts, "pairs") == [["a b", "c"], ["c", "d e f"], ["d e f", "a b"]]
    assert bench.make_inputs(texts, "words") == [["a", "b"], ["c"], ["d", "e", "f"]]
    with pytest.raises(ValueError, match="mode"):
        bench.make_inputs(texts, "paragraphs")


def test_interleaved_chunks_cover_every_input_in_alternating_order():
    chunks = bench.interleaved_chunks(5, 2)
    assert [(a, b) for a, b, _ in chunks] == [(0, 2), (2, 4), (4, 5)]
    assert [order for _, _, order in chunks] == [("ours", "original"), ("original", "ours"),
                                                  ("ours", "original")]
    assert bench.interleaved_chunks(0, 3) == []
    with pytest.raises(ValueError):
        bench.interleaved_chunks(5, 0)
