"""Adapting a built model to the task's sequence length (PIXEL's ``resize_model_embeddings``)."""

from __future__ import annotations

import torch
from torch import nn

from .positions import sincos_table


def _encoder_embeddings(model: nn.Module) -> nn.Module:
    vit = getattr(model, "vit", model)
    embeddings = getattr(vit, "embeddings", None)
    if embeddings is None or not hasattr(embeddings, "position_embeddings"):
        raise TypeError(f"{type(model).__name__} has no PIXEL position embeddings")
    return embeddings


def resize_position_embeddings(model: nn.Module, length: int) -> str:
    """Fit the position table to ``length`` patches and return what was done.

    Fine-tuning models (heads, :class:`PIXELModel`): L ≤ N keeps the **first L+1 rows** of the
    table (raster order of the √N×√N grid) and sets ``image_size = [p, p·L]``; L > N sets
    ``config.interpolate_pos_encoding = True`` so every forward resamples the grid bicubically to
    1×L (the table itself is kept, so it stays trainable). The pretraining model instead rebuilds
    both frozen sin-cos tables for L, as PIXEL's pretraining script does.
    """
    if length <= 0:
        raise ValueError(f"sequence length must be positive, got {length}")
    config = model.config
    embeddings = _encoder_embeddings(model)
    table = embeddings.position_embeddings
    current = table.shape[1] - 1
    decoder = getattr(model, "decoder", None)
    if decoder is not None and hasattr(decoder, "decoder_pos_embed"):  # pretraining model
        with torch.no_grad():
            embeddings.position_embeddings = nn.Parameter(
                sincos_table(table.shape[-1], length).to(table), requires_grad=False)
            dec = decoder.decoder_pos_embed
            decoder.decoder_pos_embed = nn.Parameter(
                sincos_table(dec.shape[-1], length).to(dec), requires_grad=False)
        config.set_num_patches(length)
        return f"rebuilt sin-cos tables for {length} patches"
    if length == current:
        config.interpolate_pos_encoding = False
        return "unchanged"
    if length < current:
        with torch.no_grad():
            embeddings.position_embeddings = nn.Parameter(
                table[:, : length + 1].detach().clone(), requires_grad=table.requires_grad)
        config.set_num_patches(length)
        config.interpolate_pos_encoding = False
        return f"truncated position table from {current} to the first {length} patches"
    config.interpolate_pos_encoding = True
    return f"interpolating the {current}-patch table to {length} patches on every forward"
