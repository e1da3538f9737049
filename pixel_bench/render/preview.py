"""A picture of a rendered strip that a person can look at (used by ``pixel-bench render``).

The strip is upscaled with nearest-neighbour sampling (no blur: every source pixel becomes a
``scale x scale`` block), patches can be separated by 1-px grid lines (inserted between patches,
so no ink is hidden), and patches outside the attention mask (padding the model never sees) are
tinted. A long strip can be wrapped into rows of ``wrap`` patches.
"""

from __future__ import annotations

import numpy as np

from .base import Encoding

GRID_COLOUR = (120, 160, 230)
PAD_TINT = (255, 170, 170)  # padding patches (attention mask 0) are blended towards this
PAD_ALPHA = 0.45


def preview_array(enc: Encoding, pixels_per_patch: int, scale: int = 4, grid: bool = True,
                  tint: bool = True, wrap: int = 0) -> np.ndarray:
    """RGB uint8 picture of ``enc`` (see the module docstring)."""
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    pv = np.asarray(enc.pixel_values)
    if pv.ndim == 3 and pv.shape[0] == 1:  # [1, H, W] (e.g. a binary extra)
        pv = pv[0]
    rgb = np.repeat(pv[..., None], 3, axis=2) if pv.ndim == 2 else pv[..., :3]
    rgb = rgb.astype(np.float32)
    height, width = rgb.shape[:2]
    pp = pixels_per_patch
    n_patches = width // pp
    if tint and enc.attention_mask is not None:
        mask = np.asarray(enc.attention_mask).reshape(-1)
        if mask.size != n_patches and mask.size and n_patches % mask.size == 0:
            mask = np.repeat(mask, n_patches // mask.size)  # model positions of several patches
        cols = np.repeat(mask[:n_patches] <= 0, pp)
        cols = np.pad(cols, (0, width - cols.size))
        rgb[:, cols] = rgb[:, cols] * (1 - PAD_ALPHA) + np.asarray(PAD_TINT) * PAD_ALPHA
    img = np.clip(rgb, 0, 255).astype(np.uint8)
    img = img.repeat(scale, axis=0).repeat(scale, axis=1)
    patches = [img[:, i * pp * scale:(i + 1) * pp * scale] for i in range(n_patches)]
    per_row = wrap if wrap and wrap > 0 else n_patches
    rows = []
    line = 1 if grid else 0
    for start in range(0, n_patches, per_row):
        chunk = patches[start:start + per_row]
        row_w = per_row * (pp * scale + line) + line
        row = np.empty((height * scale + 2 * line, row_w, 3), dtype=np.uint8)
        row[:] = GRID_COLOUR if grid else 255
        x = line
        for patch in chunk:
            row[line:line + height * scale, x:x + patch.shape[1]] = patch
            x += patch.shape[1] + line
        if len(chunk) < per_row:  # the last row of a wrapped strip: blank the unused part
            row[:, x:] = 255
        rows.append(row)
    return np.concatenate(rows, axis=0) if len(rows) > 1 else rows[0]


def save_preview(enc: Encoding, path: str, pixels_per_patch: int, **kwargs) -> tuple[int, int]:
    """Write the picture as a PNG; return its (width, height)."""
    from PIL import Image

    arr = preview_array(enc, pixels_per_patch, **kwargs)
    Image.fromarray(arr, mode="RGB").save(path)
    return arr.shape[1], arr.shape[0]
