"""The 3 px prompt shift, and greedy KV-cache generation: batched = unbatched for every pixel
family, and the cached PIXAR-2024 / thesis PIXAR loops = the models' own full-recompute
generation (the original algorithm)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pixel_bench.generative.prompts import render_prompts, shift_prompt
from pixel_bench.modeling.adapter import TaskKind
from pixel_bench.registry import MODELS, RENDERERS

TEXTS = ["Where is Mary?  |", "John travelled to the hallway. Where is John?  |", "a b"]


def test_shift_leaves_exactly_the_space() -> None:
    strip = np.ones((1, 8, 64), dtype=np.float32)
    strip[0, 3:6, 5:21] = 0.0  # ink in columns 5..20
    out, positions, shift = shift_prompt(strip, text_px=40, block=16, space=3)
    assert out.shape[-1] == positions * 16 and out.shape[-1] % 16 == 0
    ink = np.flatnonzero((out[0] < 0.5).any(axis=0))
    assert out.shape[-1] - (ink[-1] + 1) == 3  # three white columns before the boundary
    assert shift == out.shape[-1] - 24  # 21 ink-bearing columns + 3 = 24, padded on the left
    assert ink[0] == 5 + shift
    with pytest.raises(Exception, match="no ink"):
        shift_prompt(np.ones((1, 8, 32), np.float32), 32, 16)


def _setup(name: str):
    torch.manual_seed(0)
    adapter = MODELS.get(name)
    rname, cfg = adapter.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION)
    gen = adapter.build_generator(None, True, "cpu", {})
    prompts = render_prompts(TEXTS, adapter, RENDERERS.get(rname)(cfg), gen.block, 3)
    return adapter, gen, prompts


@pytest.mark.parametrize("name", ["pixar2024-tiny", "pixar-tiny", "pixelgpt-tiny"])
def test_batched_equals_unbatched(name: str) -> None:
    _adapter, gen, prompts = _setup(name)
    batched = gen.generate([p.strip for p in prompts], 3, batch_size=8)
    for p, b in zip(prompts, batched):
        single = gen.generate([p.strip], 3, batch_size=1)[0]
        assert b.shape == (gen.channels, gen.height, 3 * gen.block)
        np.testing.assert_allclose(b, single, atol=1e-5)


def test_pixar2024_cache_matches_full_recompute() -> None:
    _adapter, gen, prompts = _setup("pixar2024-tiny")
    p = prompts[1]
    ours = gen.generate([p.strip], 4)[0]
    # the original: strip + black EOS block + white, rerun every step, write over the EOS
    canvas = np.ones((1, 8, (p.positions + 6) * 16), dtype=np.float32)
    canvas[..., : p.strip.shape[-1]] = p.strip
    canvas[..., p.strip.shape[-1]: p.strip.shape[-1] + 8] = 0.0
    image, _ = gen.model.generate(torch.as_tensor(canvas), p.positions + 1, 4)
    start = p.positions * 16
    np.testing.assert_array_equal(ours, image[0, ..., start:start + 64].numpy())


def test_thesis_cache_matches_model_generate() -> None:
    _adapter, gen, prompts = _setup("pixar-tiny")
    p = prompts[0]
    ours = gen.generate([p.strip], 5)[0]
    enc = np.ones((1, 1, 8, (p.positions + 1) * 8), dtype=np.float32)
    enc[0, ..., : p.strip.shape[-1]] = p.strip
    enc[0, ..., p.strip.shape[-1]:] = 0.0  # the EOS patch
    mask = torch.ones(1, p.positions + 1)
    new = gen.model.generate(torch.as_tensor(enc), p.positions, 5, encoder_attention_mask=mask,
                             use_cache=False)
    np.testing.assert_array_equal(ours, gen.model.unpatchify(new)[0].numpy())


def test_text_generation_batched() -> None:
    torch.manual_seed(0)
    gen = MODELS.get("gpt2-tiny").build_generator(None, True, "cpu", {"max_new_tokens": 3})
    prompts = ["the quick brown fox", "a man is playing a guitar , and"]
    batched = gen.generate_text(prompts, batch_size=2)
    assert batched == [gen.generate_text([p], batch_size=1)[0] for p in prompts]
    assert gen.tokenizer.padding_side == "right"  # the shared tokenizer is left as it was


def test_models_that_cannot_generate_say_so() -> None:
    from pixel_bench.errors import ConfigError
    from pixel_bench.modeling.generation import require_generative

    with pytest.raises(ConfigError, match=r"pixel-tiny \(pixel\) cannot generate.*pixar2024"):
        require_generative(MODELS.get("pixel-tiny"))
    with pytest.raises(ConfigError, match="encoder-only"):
        MODELS.get("pixar-enc-span-binary-tiny").build_generator(None, True)
    with pytest.raises(ConfigError, match="cannot generate text"):
        MODELS.get("bert-tiny").build_generator(None, True)
    with pytest.raises(ConfigError, match="pixel mode"):
        MODELS.get("monogpt-text-tiny").build_generator(None, True)
