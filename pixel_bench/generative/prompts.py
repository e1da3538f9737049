"""Prompts as the model sees them, shifted as PIXAR's ``_spacing_text(3)`` does.

PIXAR renders the prompt, then shifts it right so that exactly ``space`` white pixel columns
separate the last ink column from the start of the next model position: generation then starts
on a position boundary one word-space after the text, as if the next word were being typed.
Here the same shift is applied to any pixel model (``block`` = its position width: 16 px for
PIXAR-2024 and PixelGPT, 8 px for thesis PIXAR). The black EOS patch is dropped: a causal model
never sees past the prompt, and the thesis encoder gets it back (see :mod:`.decode`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..errors import DataError


@dataclass
class Prompt:
    strip: np.ndarray  # float32 [C, H, P * block] in [0, 1] (1 = white): shifted text + space
    positions: int  # P: model positions of the prompt
    shift: int  # white columns added on the left
    truncated: bool  # the renderer clipped the text (the prompt's end is missing)


def ink_columns(region: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Columns of a [C, H, W] strip holding any pixel darker than ``threshold``."""
    grey = region.mean(axis=0) if region.ndim == 3 else region
    return np.flatnonzero((grey < threshold).any(axis=0))


def shift_prompt(strip: np.ndarray, text_px: int, block: int, space: int = 3,
                 source: str = "prompt") -> tuple[np.ndarray, int, int]:
    """(shifted strip, positions, shift): keep ``strip[..., :last_ink + 1]``, add ``space``
    white columns, then pad white on the left to a multiple of ``block``."""
    if block <= 0 or space < 0:
        raise ValueError(f"block must be positive and space >= 0, got {block}, {space}")
    strip = np.asarray(strip, dtype=np.float32)
    if strip.ndim == 2:
        strip = strip[None]
    cols = ink_columns(strip[..., :text_px])
    if cols.size == 0:
        raise DataError(f"{source}: the rendered prompt has no ink (empty text?)")
    end = int(cols[-1]) + 1 + space
    shift = (-end) % block
    c, h, _ = strip.shape
    out = np.ones((c, h, shift + end), dtype=np.float32)
    keep = int(cols[-1]) + 1
    out[..., shift:shift + keep] = strip[..., :keep]
    return out, (shift + end) // block, shift


def render_prompts(texts: Sequence[str], adapter: Any, renderer: Any, block: int, space: int,
                   ) -> list[Prompt]:
    """Render each text with the model's renderer and features, then shift it."""
    out = []
    for i, text in enumerate(texts):
        enc = renderer(text)
        x = np.asarray(adapter.features(enc)["pixel_values"], dtype=np.float32)
        text_px = int(enc.num_text_patches) * int(renderer.config.pixels_per_patch)
        strip, positions, shift = shift_prompt(x, min(text_px, x.shape[-1]), block, space,
                                               source=f"prompt {i}")
        out.append(Prompt(strip, positions, shift, bool(getattr(enc, "truncated", False))))
    return out


def to_grey_u8(block_pixels: np.ndarray) -> np.ndarray:
    """[C, H, W] floats in [0, 1] -> uint8 [H, W] (255 = white), channels averaged."""
    x = np.asarray(block_pixels, dtype=np.float32)
    if x.ndim == 3:
        x = x.mean(axis=0)
    return (np.clip(x, 0.0, 1.0) * 255.0).round().astype(np.uint8)


def fit_width(grey: np.ndarray, width: int) -> np.ndarray:
    """Crop or right-pad (white) a uint8 [H, W] image to ``width`` columns."""
    if grey.shape[1] >= width:
        return grey[:, :width]
    return np.pad(grey, ((0, 0), (0, width - grey.shape[1])), constant_values=255)


def render_word(word: str, adapter: Any, renderer: Any, width: int) -> np.ndarray:
    """The gold word rendered alone with the model's renderer and features (the renderer's own
    left padding stands in for the 3 px space), as uint8 [H, width]: the OCR ceiling's input."""
    enc = renderer(word)
    x = np.asarray(adapter.features(enc)["pixel_values"], dtype=np.float32)
    text_px = int(enc.num_text_patches) * int(renderer.config.pixels_per_patch)
    return fit_width(to_grey_u8(x[..., :text_px]), width)
