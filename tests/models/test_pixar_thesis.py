"""Thesis PIXAR (2023 MSc, encoder-decoder): masking, focal loss, causality, variants, generation."""

from __future__ import annotations

import math
import random
from collections import Counter

import numpy as np
import pytest

from pixel_bench.modeling.masking import (SpanMaskingGenerator, complete_mask, make_patch_mask,
                                          num_masked_by_model, random_mask)


# -- masking ------------------------------------------------------------------------------------
def _spans(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of ones."""
    out, start = [], None
    for i, v in enumerate(list(mask) + [0]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            out.append((start, i - start))
            start = None
    return out


def test_span_masking_pixel_base_ratio_and_spans():
    n = 529
    gen = SpanMaskingGenerator(n, math.ceil(0.25 * n), max_span_length=6, spacing="span",
                               cumulative_span_weights=[0.2, 0.4, 0.6, 0.8, 0.9, 1.0])
    rnd = random.Random(0)
    counts, lengths = [], Counter()
    for _ in range(200):
        mask = gen(n + 1, rng=rnd)
        assert mask.shape == (n,) and set(np.unique(mask)) <= {0, 1}
        counts.append(int(mask.sum()))
        for _s, length in _spans(mask):
            lengths[length] += 1
    # on a long, empty strip the greedy generator always reaches ceil(0.25 N) = 133 exactly
    assert counts.count(133) == len(counts)
    # spans are separated by at least their own length, so runs are whole spans of 1..6
    assert max(lengths) <= 6 and min(lengths) >= 1
    total = sum(lengths.values())
    freq = {k: lengths[k] / total for k in range(1, 7)}
    # lengths 1-4 each ~0.2 and 5-6 ~0.1 (the final span of each mask is budget-capped,
    # which shifts mass slightly towards short spans)
    for k in (1, 2, 3, 4):
        assert 0.15 < freq[k] < 0.28, freq
    for k in (5, 6):
        assert 0.05 < freq[k] < 0.14, freq


def test_span_masking_first_span_within_text():
    n, text = 100, 10
    gen = SpanMaskingGenerator(n, 25)
    for seed in range(200):
        rnd = random.Random(seed)
        # record the first accepted span by running with a budget of one span
        one = SpanMaskingGenerator(n, 1, cumulative_span_weights=[1, 1, 1, 1, 1, 1])
        first = one(text, rng=rnd)
        assert first.sum() == 1 and first[:text].sum() == 1
        mask = gen(text, rng=random.Random(seed))
        assert mask[:text].any()  # the first span always lies within the text region


def test_span_masking_reproducible_and_neighbourhood():
    gen = SpanMaskingGenerator(200, 50)
    a = gen(120, rng=random.Random(7))
    b = gen(120, rng=random.Random(7))
    np.testing.assert_array_equal(a, b)
    # accepted spans keep a gap >= their length to the next masked patch
    for (s1, l1), (s2, l2) in zip(_spans(a), _spans(a)[1:]):
        assert s2 - (s1 + l1) >= 1


def test_span_masking_short_strip_may_fall_short():
    gen = SpanMaskingGenerator(8, 6)
    mask = gen(9, rng=random.Random(1))
    assert 1 <= mask.sum() <= 6


def test_random_mask_exact_and_forces_text_patch():
    for seed in range(100):
        m = random_mask(64, 16, num_text_patches=2, rng=seed)
        assert m.sum() == 16 and m[:2].any()


def test_complete_mask_and_make_patch_mask():
    n = 529
    target = num_masked_by_model(n, 0.25)
    assert target == 133
    short = np.zeros(n, dtype=np.int64)
    short[:10] = 1
    full = complete_mask(short, target, rng=0)
    assert full.sum() == target and full[:10].all()
    for strategy in ("span", "random"):
        m = make_patch_mask(strategy, n, 0.25, 40, rng=np.random.default_rng(3))
        assert m.sum() == target
    assert make_patch_mask("none", n, 0.25, 40).sum() == 0
