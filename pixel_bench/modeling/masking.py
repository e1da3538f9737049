"""Patch masking for pixel-model pretraining: PIXEL's span masking, random masking, no masking.

Used by PIXEL's MAE pretraining and by the thesis PIXAR encoder (whose §3.2.1 "follow[s] the
practice of PIXEL", docs/models-pixar.md). Written from the description of PIXEL's
``SpanMaskingGenerator`` (``src/pixel/models/masking.py`` of github.com/xplip/pixel); parameters
for pixel-base (its ``configs/models/scratch_noto_span0.25-dropout.json``): ``num_patches=529``,
``num_masking_patches=ceil(0.25*529)=133``, ``max_span_length=6``,
``cumulative_span_weights=[0.2, 0.4, 0.6, 0.8, 0.9, 1.0]``, ``spacing="span"``.

Algorithm (one call):

* repeat until ``num_masking_patches`` are masked or one round adds nothing:
  the round's budget is ``min(remaining, max_span_length)``; up to 100 attempts, each draws a span
  length from the cumulative weights and a left edge: the call's **first drawn** span (attempt 0
  of round 0) has its left edge drawn within the text region ``[0, num_text_patches - span]``,
  every later attempt anywhere in ``[0, num_patches - span]`` -- even when that first attempt was
  rejected (see below); an attempt is rejected when any masked patch lies within ``space``
  patches (``space = span`` for ``spacing="span"``, else the integer spacing) to the left or to the
  right of the span; it is accepted when it adds between 1 and the budget new patches, which ends
  the round.
* PIXEL's callers pass ``num_text_patches + 1`` (text + the black EOS patch) as the argument.

Exact draw sequence (Python ``random``; reproduces the PIXEL-tiny golden ``pretrain/patch_mask``
rows, ``tests/models/test_masking_golden.py``), per attempt::

    span = rnd.choices(range(1, max_span_length + 1), cum_weights=weights, k=1)[0]  # 1 random()
    left = rnd.randint(0, high)   # high = num_text_patches - span on attempt 0 of the call,
                                  # else num_patches - span; no draw when high < 0
    # then the neighbourhood test, then the budget test (no further draws)

Quirk (kept): only the first *attempt* is confined to the text, not the first *accepted* span.
With PIXEL's settings (budget 6 = the longest span) the first attempt is only rejected when the
span is longer than the text, so the first span lands in the text whenever it can; with a small
target (e.g. 4 of 16 patches) a first span longer than the budget is rejected and the next
attempts range over the whole strip, so no span need touch the text (golden row 0).

The generator can fall short of the target (every attempt of a round rejected); the models then
top the mask up with random patches so every row keeps the same number of patches
(:func:`complete_mask`, PIXEL's ``span_mask + U[0, 0.01)`` sort).

Randomness comes from a passed :class:`random.Random` (or an int seed, or a
:class:`numpy.random.Generator`, from which a ``random.Random`` is seeded), never from global
state unless nothing is passed (then the ``random`` module, as the original).
"""

from __future__ import annotations

import math
import random
from typing import Sequence, Union

import numpy as np

from ..errors import ConfigError

DEFAULT_CUMULATIVE_SPAN_WEIGHTS = (0.2, 0.4, 0.6, 0.8, 0.9, 1.0)
MAX_ATTEMPTS = 100  # per round, as in PIXEL

RandomLike = Union[random.Random, np.random.Generator, int, None]


def as_random(rng: RandomLike) -> random.Random:
    """A :class:`random.Random` for ``rng`` (an instance, an int seed, a numpy Generator, None)."""
    if rng is None:
        return random._inst  # type: ignore[attr-defined]  # the module's global generator
    if isinstance(rng, random.Random):
        return rng
    if isinstance(rng, np.random.Generator):
        return random.Random(int(rng.integers(0, 2**63 - 1)))
    if isinstance(rng, (int, np.integer)):
        return random.Random(int(rng))
    raise TypeError(f"expected random.Random, numpy Generator, int or None, got {type(rng)!r}")


def num_masking_patches(num_patches: int, mask_ratio: float) -> int:
    """The span generator's target, ``ceil(mask_ratio * num_patches)`` (PIXEL's)."""
    return int(math.ceil(mask_ratio * num_patches))


def num_masked_by_model(num_patches: int, mask_ratio: float) -> int:
    """How many patches the MAE-style shuffle removes: ``N - int(N * (1 - ratio))`` (133 of 529)."""
    return num_patches - int(num_patches * (1 - mask_ratio))


class SpanMaskingGenerator:
    """PIXEL's span-mask generator; ``gen(num_text_patches)`` -> int64 0/1 array [num_patches].

    Args:
        num_patches: patches in the strip.
        num_masking_patches: the target count (``ceil(ratio * num_patches)``).
        max_span_length: the longest span (6 in PIXEL).
        spacing: ``"span"`` (keep a gap of the drawn span's length to any masked patch) or an int.
        cumulative_span_weights: cumulative probabilities of span lengths 1..max_span_length.
        rng: default randomness for calls that pass none (see :func:`as_random`).
    """

    def __init__(self, num_patches: int, num_masking_patches: int = 1, max_span_length: int = 6,
                 spacing: Union[str, int] = "span",
                 cumulative_span_weights: Sequence[float] | None = DEFAULT_CUMULATIVE_SPAN_WEIGHTS,
                 rng: RandomLike = None) -> None:
        if num_patches <= 0:
            raise ConfigError(f"span masking: num_patches must be positive, got {num_patches}")
        if not 0 <= num_masking_patches <= num_patches:
            raise ConfigError(f"span masking: num_masking_patches={num_masking_patches} is not in "
                              f"[0, num_patches={num_patches}]")
        if max_span_length < 1:
            raise ConfigError(f"span masking: max_span_length must be >= 1, got {max_span_length}")
        if not (spacing == "span" or (isinstance(spacing, int) and spacing >= 0)):
            raise ConfigError(f"span masking: spacing must be 'span' or an int >= 0, "
                              f"got {spacing!r}")
        if cumulative_span_weights is not None:
            weights = list(cumulative_span_weights)
            if len(weights) != max_span_length or any(b < a for a, b in zip(weights, weights[1:])):
                raise ConfigError(
                    f"span masking: cumulative_span_weights {weights} must be non-decreasing "
                    f"with one entry per span length 1..{max_span_length}")
            cumulative_span_weights = weights
        self.num_patches = int(num_patches)
        self.num_masking_patches = int(num_masking_patches)
        self.max_span_length = int(max_span_length)
        self.spacing = spacing
        self.cumulative_span_weights = cumulative_span_weights
        self.rng = rng

    def __repr__(self) -> str:
        return (f"SpanMaskingGenerator(num_patches={self.num_patches}, "
                f"num_masking_patches={self.num_masking_patches}, "
                f"max_span_length={self.max_span_length}, spacing={self.spacing!r}, "
                f"cumulative_span_weights={self.cumulative_span_weights})")

    def get_shape(self) -> tuple[int]:
        return (self.num_patches,)

    def _draw_span(self, rnd: random.Random) -> int:
        lengths = range(1, self.max_span_length + 1)
        return rnd.choices(lengths, cum_weights=self.cumulative_span_weights, k=1)[0]

    def _mask(self, mask: np.ndarray, max_mask_patches: int, num_text_patches: int,
              rnd: random.Random, first_round: bool) -> int:
        """One round: up to 100 attempts to place one span; returns the patches it added."""
        for attempt in range(MAX_ATTEMPTS):
            span = self._draw_span(rnd)
            # only the call's very first attempt is confined to the text region (text + EOS as
            # the callers pass it); every other attempt, including the rest of round 0 after a
            # rejected first attempt, ranges over the whole strip (matches the golden draws)
            in_text = first_round and attempt == 0
            high = (num_text_patches if in_text else self.num_patches) - span
            if high < 0:  # the span does not fit: a failed attempt (randint would raise)
                continue
            left = rnd.randint(0, high)
            right = left + span
            space = span if self.spacing == "span" else int(self.spacing)
            # no masked patch within `space` patches on either side of the span
            if mask[max(0, left - space):left].any() or mask[right:right + space].any():
                continue
            added = span - int(mask[left:right].sum())
            if 1 <= added <= max_mask_patches:
                mask[left:right] = 1
                return added
        return 0

    def __call__(self, num_text_patches: int | None = None, rng: RandomLike = None) -> np.ndarray:
        """A 0/1 int64 mask of length ``num_patches``.

        ``num_text_patches`` bounds the first span; PIXEL passes ``num_text_patches + 1`` (text
        and EOS). ``None`` means the whole strip.
        """
        rnd = as_random(rng if rng is not None else self.rng)
        limit = self.num_patches if num_text_patches is None else int(num_text_patches)
        limit = max(0, min(limit, self.num_patches))
        mask = np.zeros(self.get_shape(), dtype=np.int64)
        count = 0
        while count < self.num_masking_patches:
            budget = min(self.num_masking_patches - count, self.max_span_length)
            delta = self._mask(mask, budget, limit, rnd, first_round=count == 0)
            if delta == 0:
                break
            count += delta
        return mask


def random_mask(num_patches: int, num_masking_patches: int, num_text_patches: int | None = None,
                rng: Union[np.random.Generator, int, None] = None) -> np.ndarray:
    """Uniform random masking with one text patch forced into the mask (PIXEL without spans).

    Returns an int64 0/1 array with exactly ``num_masking_patches`` ones; when
    ``num_text_patches`` (text + EOS, the attended patches) is given and positive, at least one
    of the first ``num_text_patches`` patches is masked, so a loss restricted to masked attended
    patches is never empty (PIXEL's rule).
    """
    if not 0 <= num_masking_patches <= num_patches:
        raise ConfigError(f"random masking: num_masking_patches={num_masking_patches} is not in "
                          f"[0, num_patches={num_patches}]")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    noise = gen.random(num_patches)
    if num_text_patches and num_masking_patches > 0:
        text = min(int(num_text_patches), num_patches)
        forced = int(np.argmax(noise[:text]))  # the text patch with the highest noise
        noise[forced] = 100.0
    order = np.argsort(noise, kind="stable")  # ascending: lowest noise kept, highest masked
    mask = np.zeros(num_patches, dtype=np.int64)
    mask[order[num_patches - num_masking_patches:]] = 1
    return mask


def no_mask(num_patches: int) -> np.ndarray:
    """The "no masking" ablation: nothing is removed (an all-zero mask)."""
    return np.zeros(num_patches, dtype=np.int64)


def complete_mask(mask: np.ndarray, num_masked: int,
                  rng: Union[np.random.Generator, int, None] = None) -> np.ndarray:
    """Top a (span) mask up, or trim it, to exactly ``num_masked`` ones, as PIXEL's shuffle does.

    PIXEL sorts ``mask + U[0, 0.01)`` and removes the ``num_masked`` highest: every span patch
    first, then random unmasked patches; a mask with too many ones loses random ones.
    """
    mask = np.asarray(mask)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    noise = mask.astype(np.float64) + gen.random(mask.shape) / 100
    order = np.argsort(noise, axis=-1, kind="stable")
    out = np.zeros(mask.shape, dtype=np.int64)
    n = mask.shape[-1]
    np.put_along_axis(out, order[..., n - num_masked:], 1, axis=-1)
    return out


def make_patch_mask(strategy: str, num_patches: int, mask_ratio: float, num_text_patches: int,
                    rng: Union[np.random.Generator, int, None] = None,
                    max_span_length: int = 6,
                    cumulative_span_weights: Sequence[float] = DEFAULT_CUMULATIVE_SPAN_WEIGHTS
                    ) -> np.ndarray:
    """One example's mask for ``strategy`` "span" | "random" | "none", with exactly
    :func:`num_masked_by_model` ones for span/random (the count every row of a batch shares).

    ``num_text_patches`` counts text + EOS (the attended patches), as PIXEL's callers pass it.
    """
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    target = num_masked_by_model(num_patches, mask_ratio)
    if strategy == "none":
        return no_mask(num_patches)
    if strategy == "random":
        return random_mask(num_patches, target, num_text_patches, gen)
    if strategy == "span":
        span = SpanMaskingGenerator(num_patches, num_masking_patches(num_patches, mask_ratio),
                                    max_span_length=max_span_length, spacing="span",
                                    cumulative_span_weights=cumulative_span_weights)
        return complete_mask(span(num_text_patches, rng=gen), target, gen)
    raise ConfigError(f"unknown masking strategy {strategy!r}; expected span, random or none")


class PatchMaskGenerator:
    """A picklable per-example mask factory for data workers: ``gen(num_text_patches, rng)`` ->
    :func:`make_patch_mask` for one strategy ("span" | "random" | "none")."""

    def __init__(self, strategy: str, num_patches: int, mask_ratio: float = 0.25,
                 max_span_length: int = 6,
                 cumulative_span_weights: Sequence[float] = DEFAULT_CUMULATIVE_SPAN_WEIGHTS
                 ) -> None:
        if strategy not in ("span", "random", "none"):
            raise ConfigError(f"unknown masking strategy {strategy!r}; expected span, random or "
                              "none")
        self.strategy = strategy
        self.num_patches = int(num_patches)
        self.mask_ratio = float(mask_ratio)
        self.max_span_length = int(max_span_length)
        self.cumulative_span_weights = tuple(cumulative_span_weights)

    def __repr__(self) -> str:
        return (f"PatchMaskGenerator({self.strategy!r}, num_patches={self.num_patches}, "
                f"mask_ratio={self.mask_ratio})")

    def __call__(self, num_text_patches: int,
                 rng: Union[np.random.Generator, int, None] = None) -> np.ndarray:
        return make_patch_mask(self.strategy, self.num_patches, self.mask_ratio,
                               num_text_patches, rng, self.max_span_length,
                               self.cumulative_span_weights)


__all__ = ["SpanMaskingGenerator", "PatchMaskGenerator", "random_mask", "no_mask", "complete_mask", "make_patch_mask",
           "num_masking_patches", "num_masked_by_model", "as_random",
           "DEFAULT_CUMULATIVE_SPAN_WEIGHTS"]
