"""PIXEL's fixed 2-D sin-cos position table and its length adaptation (xplip/pixel
``src/pixel/utils/modeling.py`` ``resize_model_embeddings``; docs/models-pixel.md).

The table is built for a √N×√N grid in raster order and applied to a 1×N strip, so patch i gets
grid cell (i // √N, i % √N). Shorter tasks keep the first L+1 rows; longer ones resample the grid
bicubically to 1×L on every forward (``interpolate_pos_encoding``), as the originals do.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


def sincos_1d(embed_dim: int, positions: np.ndarray) -> np.ndarray:
    """[M] positions -> [M, embed_dim]: sines of all frequencies, then cosines (MAE layout)."""
    if embed_dim % 2:
        raise ValueError(f"sin-cos embedding dimension must be even, got {embed_dim}")
    omega = np.arange(embed_dim // 2, dtype=np.float64) / (embed_dim / 2.0)
    omega = 1.0 / 10000 ** omega
    out = np.einsum("m,d->md", positions.reshape(-1).astype(np.float64), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_2d(embed_dim: int, grid_size: int, add_cls_token: bool = True) -> np.ndarray:
    """The MAE/PIXEL table, computed in float64 (PIXEL used ``np.float``) and returned as such.

    Layout: ``meshgrid(w, h)`` (so the first half of the dimensions encodes the *column* index
    although the originals call it ``emb_h``), sin | cos inside each half, a zero row for CLS.
    """
    if embed_dim % 4:
        raise ValueError(f"2-D sin-cos needs a hidden size divisible by 4, got {embed_dim}")
    coords = np.arange(grid_size, dtype=np.float32)
    grid = np.stack(np.meshgrid(coords, coords), axis=0).reshape(2, 1, grid_size, grid_size)
    emb = np.concatenate([sincos_1d(embed_dim // 2, grid[0]), sincos_1d(embed_dim // 2, grid[1])],
                         axis=1)
    if add_cls_token:
        emb = np.concatenate([np.zeros([1, embed_dim]), emb], axis=0)
    return emb


def sincos_table(embed_dim: int, num_patches: int) -> torch.Tensor:
    """``[1, num_patches + 1, embed_dim]`` float32 table for a strip of ``num_patches`` patches.

    For a square N this is exactly PIXEL's table. For a non-square N the originals fail (the
    table has ⌊√N⌋²+1 rows); we build the next larger grid and keep the first N+1 rows, i.e. the
    same rows that truncating a larger table would keep.
    """
    grid = math.isqrt(num_patches)
    if grid * grid < num_patches:
        grid += 1
    table = sincos_2d(embed_dim, grid, add_cls_token=True)[: num_patches + 1]
    return torch.from_numpy(table).float().unsqueeze(0)


def truncate_table(table: torch.Tensor, length: int) -> torch.Tensor:
    """Keep the first ``length + 1`` rows (CLS + the first L cells in raster order)."""
    if length + 1 > table.shape[1]:
        raise ValueError(f"cannot truncate a position table of {table.shape[1] - 1} patches to "
                         f"{length}; interpolate instead")
    return table[:, : length + 1].clone()


def interpolate_table(table: torch.Tensor, height_patches: int, width_patches: int) -> torch.Tensor:
    """Bicubic resampling of the √N×√N grid to ``height × width`` patches, as transformers 4.17's
    ViT ``interpolate_pos_encoding`` did it (used by PIXEL for L > 529): the target size gets
    +0.1 and is passed as a *scale factor*, which also sets the sampling positions."""
    num = table.shape[1] - 1
    side = math.isqrt(num)
    if side * side != num:
        raise ValueError(f"can only interpolate a square grid; the table has {num} patch rows")
    cls_pos, grid = table[:, :1], table[:, 1:]
    dim = table.shape[-1]
    h0, w0 = height_patches + 0.1, width_patches + 0.1
    grid = nn.functional.interpolate(
        grid.reshape(1, side, side, dim).permute(0, 3, 1, 2),
        scale_factor=(h0 / side, w0 / side), mode="bicubic", align_corners=False)
    if grid.shape[-2] != height_patches or grid.shape[-1] != width_patches:
        raise ValueError(f"position interpolation gave {tuple(grid.shape[-2:])}, expected "
                         f"({height_patches}, {width_patches})")
    grid = grid.permute(0, 2, 3, 1).reshape(1, -1, dim)
    return torch.cat([cls_pos, grid], dim=1)
