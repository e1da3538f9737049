"""A picture of a rendered strip that a person can look at (used by ``pixel-bench render``).

The strip is upscaled with nearest-neighbour sampling (no blur: every source pixel becomes a
``scale x scale`` block), patches can be separated by 1-px grid lines (inserted between patches,
so no ink is hidden), and patches outside the attention mask (padding the model never sees) are
tinted. ``num_patches`` draws only the first patches of the canvas (``pixel-bench render`` shows
the attended patches plus a small margin unless ``--full``). A long strip can be wrapped into
rows of ``wrap`` patches.
"""

from __future__ import annotations

import numpy as np

from .base import Encoding

GRID_COLOUR = (120, 160, 230)
PAD_TINT = (255, 170, 170)  # padding patches (attention mask 0) are blended towards this
PAD_ALPHA = 0.45


def _strip(enc: Encoding) -> np.ndarray:
    pv = np.asarray(enc.pixel_values)
    if pv.ndim == 3 and pv.shape[0] == 1:  # [1, H, W] (e.g. a binary extra)
        pv = pv[0]
    return pv


def canvas_patches(enc: Encoding, pixels_per_patch: int) -> int:
    """Number of renderer patches on the canvas (``max_seq_length``)."""
    return _strip(enc).shape[1] // pixels_per_patch


def patch_mask(enc: Encoding, pixels_per_patch: int) -> np.ndarray | None:
    """The attention mask per renderer patch (a mask over model positions that group several
    patches is repeated), or None when the encoding has none."""
    if enc.attention_mask is None:
        return None
    n_patches = canvas_patches(enc, pixels_per_patch)
    mask = np.asarray(enc.attention_mask).reshape(-1)
    if mask.size != n_patches and mask.size and n_patches % mask.size == 0:
        mask = np.repeat(mask, n_patches // mask.size)  # model positions of several patches
    return mask[:n_patches]


def attended_patches(enc: Encoding, pixels_per_patch: int) -> int:
    """How many leading renderer patches the model attends to (text + EOS): one past the last
    patch whose attention mask is set, or ``num_text_patches + 1`` without a mask."""
    mask = patch_mask(enc, pixels_per_patch)
    if mask is None:
        return int(enc.num_text_patches) + 1
    on = np.flatnonzero(mask > 0)
    return int(on[-1]) + 1 if on.size else 0


def preview_array(enc: Encoding, pixels_per_patch: int, scale: int = 4, grid: bool = True,
                  tint: bool = True, wrap: int = 0, num_patches: int | None = None) -> np.ndarray:
    """RGB uint8 picture of ``enc`` (see the module docstring); ``num_patches``: draw only the
    first that many patches (None: the whole canvas)."""
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    pv = _strip(enc)
    pp = pixels_per_patch
    n_patches = pv.shape[1] // pp
    mask = patch_mask(enc, pp) if tint else None
    if num_patches is not None:
        if num_patches < 1:
            raise ValueError(f"num_patches must be >= 1, got {num_patches}")
        n_patches = min(n_patches, int(num_patches))
        pv = pv[:, : n_patches * pp]  # crop before upscaling: the full canvas can be huge
    rgb = np.repeat(pv[..., None], 3, axis=2) if pv.ndim == 2 else pv[..., :3]
    rgb = rgb.astype(np.float32)
    height, width = rgb.shape[:2]
    if mask is not None:
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


def labelled_strips(rows: list[tuple[str, np.ndarray]], boundary_px: int, scale: int = 4,
                    title: str = "", min_width: int = 320):
    """Labelled strips (grey or RGB uint8 arrays), upscaled with nearest-neighbour sampling, one
    under the other on a white RGB canvas, with a red line ``boundary_px`` source pixels into
    each strip (prompt | generation). Used by ``pixel-bench generate`` and the generative
    tasks' contact sheet."""
    from PIL import Image, ImageDraw

    label_h, pad = 14, 6
    width = max(r.shape[1] for _, r in rows) * scale + 2 * pad
    height = (label_h + 4 if title else 0) + sum(label_h + r.shape[0] * scale + pad
                                                 for _, r in rows) + pad
    canvas = Image.new("RGB", (max(width, min_width), height), "white")
    draw = ImageDraw.Draw(canvas)
    y = pad
    if title:
        draw.text((pad, y), title, fill=(0, 0, 0))
        y += label_h + 4
    for label, strip in rows:
        draw.text((pad, y), label, fill=(0, 0, 0))
        y += label_h
        img = Image.fromarray(np.asarray(strip, dtype=np.uint8)).resize(
            (strip.shape[1] * scale, strip.shape[0] * scale), Image.NEAREST).convert("RGB")
        canvas.paste(img, (pad, y))
        x = pad + boundary_px * scale
        draw.line([(x, y - 2), (x, y + img.height + 1)], fill=(220, 0, 0), width=1)
        y += img.height + pad
    return canvas
