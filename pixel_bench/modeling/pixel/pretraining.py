"""PIXEL's masked-autoencoder pretraining model (``PIXELForPreTraining`` in xplip/pixel
``src/pixel/models/pixel/modeling_pixel.py``; loss as in ``scripts/training/run_pretraining.py``).

Encoder ``vit``: patches + frozen sin-cos positions, then MAE-style per-sample shuffling keeps
``int(L · (1 − mask_ratio))`` patches (``patch_mask`` from the span-masking generator, or random
masking that forces one text patch into the mask), CLS prepended, PIXEL layers, LayerNorm.
Decoder ``decoder``: Linear to the decoder width, mask tokens, un-shuffle, frozen sin-cos
positions, PIXEL layers with the full patch attention mask, LayerNorm (eps 1e-5), Linear to
p·p·C pixels. Loss: per-patch MSE against the per-patch normalised target (unbiased variance
+ 1e-6), averaged over patches that are masked **and** attended.

Randomness: exactly one ``torch.rand(B, L)`` per forward (like the original), so
``torch.manual_seed(s)`` right before the call reproduces the original's shuffle.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers import initialization as init
from transformers.utils import ModelOutput

from .config import PIXELConfig
from .encoder import (PIXELEncoder, PIXELLayer, PIXELPatchEmbeddings, PIXELPreTrainedModel,
                      extended_attention_mask, init_patch_projection, with_cls_mask)
from .positions import sincos_table


@dataclass
class PIXELMAEModelOutput(ModelOutput):
    last_hidden_state: torch.Tensor | None = None  # [B, 1 + kept, D], kept patches in shuffled order
    mask: torch.Tensor | None = None  # [B, L] 1 = masked (removed), 0 = kept
    ids_restore: torch.Tensor | None = None  # [B, L] un-shuffling indices
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


@dataclass
class PIXELForPreTrainingOutput(ModelOutput):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None  # [B, L, p*p*C] reconstructed (normalised) patches
    mask: torch.Tensor | None = None
    attention_mask: torch.Tensor | None = None
    ids_restore: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


def _rows(table: torch.Tensor, num_patches: int, what: str) -> torch.Tensor:
    if num_patches + 1 > table.shape[1]:
        raise ValueError(f"input has {num_patches} patches but the {what} table has "
                         f"{table.shape[1] - 1}; build the model for this length "
                         f"(config.set_num_patches({num_patches}))")
    return table if num_patches + 1 == table.shape[1] else table[:, : num_patches + 1]


class PIXELMAEEmbeddings(nn.Module):
    """Patch + frozen position embeddings and the MAE shuffle."""

    def __init__(self, config: PIXELConfig) -> None:
        super().__init__()
        self.config = config
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.hidden_size))
        self.patch_embeddings = PIXELPatchEmbeddings(config)
        self.position_embeddings = nn.Parameter(
            torch.zeros(1, config.num_patches + 1, config.hidden_size), requires_grad=False)

    def init_pixel_weights(self, config: PIXELConfig) -> None:
        init.copy_(self.position_embeddings,
                   sincos_table(config.hidden_size, self.position_embeddings.shape[1] - 1))
        init_patch_projection(self.patch_embeddings.projection.weight)
        init.normal_(self.cls_token, std=config.initializer_range)

    def shuffle(self, sequence: torch.Tensor, attention_mask: torch.Tensor,
                patch_mask: torch.Tensor | None, noise: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        batch, length, dim = sequence.shape
        len_keep = int(length * (1 - self.config.mask_ratio))
        if noise is None:
            noise = torch.rand(batch, length, device=sequence.device)
        if patch_mask is not None:
            # span mask + U[0, 0.01): masked patches sort last; the small noise fills a span mask
            # that fell short of the ratio and orders patches within each group
            noise = patch_mask.to(noise.dtype) + noise / 100
        else:
            # random masking; the attended patch with the highest noise is forced into the mask so
            # that the loss (masked AND attended patches) is never empty
            noise = noise.clone()
            forced = torch.argmax(noise * attention_mask.to(noise.dtype), dim=1)
            noise[torch.arange(batch, device=noise.device), forced] = 100.0
        ids_shuffle = torch.argsort(noise, dim=1)
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        ids_keep = ids_shuffle[:, :len_keep]
        kept = torch.gather(sequence, 1, ids_keep.unsqueeze(-1).expand(-1, -1, dim))
        kept_mask = torch.gather(attention_mask, 1, ids_keep)
        mask = torch.ones(batch, length, device=sequence.device)
        mask[:, :len_keep] = 0
        mask = torch.gather(mask, 1, ids_restore)
        return kept, kept_mask, mask, ids_restore

    def forward(self, pixel_values: torch.Tensor, attention_mask: torch.Tensor,
                patch_mask: torch.Tensor | None = None, noise: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        patches = self.patch_embeddings(pixel_values)
        table = _rows(self.position_embeddings, patches.shape[1], "position")
        patches = patches + table[:, 1:]
        kept, kept_mask, mask, ids_restore = self.shuffle(patches, attention_mask, patch_mask,
                                                          noise)
        cls = (self.cls_token + table[:, :1]).expand(kept.shape[0], -1, -1)
        return torch.cat([cls, kept], dim=1), with_cls_mask(kept_mask), mask, ids_restore


class PIXELMAEModel(PIXELPreTrainedModel):
    """The pretraining encoder (PIXEL's ``PIXELModel``): processes only the kept patches."""

    def __init__(self, config: PIXELConfig) -> None:
        super().__init__(config)
        self.embeddings = PIXELMAEEmbeddings(config)
        self.encoder = PIXELEncoder(config)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.patch_embeddings

    def forward(self, pixel_values: torch.Tensor, attention_mask: torch.Tensor | None = None,
                patch_mask: torch.Tensor | None = None, noise: torch.Tensor | None = None,
                output_attentions: bool | None = None, output_hidden_states: bool | None = None,
                **kwargs: Any) -> PIXELMAEModelOutput:
        param = self.embeddings.patch_embeddings.projection.weight
        pixel_values = pixel_values.to(param.dtype)
        num_patches = pixel_values.shape[-1] // self.config.patch_size
        if attention_mask is None:
            attention_mask = torch.ones(pixel_values.shape[0], num_patches,
                                        device=pixel_values.device)
        hidden, mask_with_cls, mask, ids_restore = self.embeddings(
            pixel_values, attention_mask.to(param.dtype), patch_mask, noise)
        out = self.encoder(hidden, extended_attention_mask(mask_with_cls, hidden.dtype),
                           bool(output_attentions), bool(output_hidden_states))
        return PIXELMAEModelOutput(last_hidden_state=self.layernorm(out.last_hidden_state),
                                   mask=mask, ids_restore=ids_restore,
                                   hidden_states=out.hidden_states, attentions=out.attentions)


def decoder_config(config: PIXELConfig) -> PIXELConfig:
    """The encoder config with the decoder's width, depth, heads and MLP size (PIXEL's way)."""
    cfg = copy.deepcopy(config)
    cfg.hidden_size = config.decoder_hidden_size
    cfg.num_hidden_layers = config.decoder_num_hidden_layers
    cfg.num_attention_heads = config.decoder_num_attention_heads
    cfg.intermediate_size = config.decoder_intermediate_size
    return cfg


class PIXELDecoder(nn.Module):
    def __init__(self, config: PIXELConfig) -> None:
        super().__init__()
        self.config = config
        self.decoder_embed = nn.Linear(config.hidden_size, config.decoder_hidden_size)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, config.decoder_hidden_size))
        self.decoder_pos_embed = nn.Parameter(
            torch.zeros(1, config.num_patches + 1, config.decoder_hidden_size),
            requires_grad=False)
        dec = decoder_config(config)
        self.decoder_layers = nn.ModuleList([PIXELLayer(dec)
                                             for _ in range(config.decoder_num_hidden_layers)])
        self.decoder_norm = nn.LayerNorm(config.decoder_hidden_size)  # eps 1e-5, as the original
        self.decoder_pred = nn.Linear(config.decoder_hidden_size,
                                      config.patch_size ** 2 * config.num_channels)

    def init_pixel_weights(self, config: PIXELConfig) -> None:
        init.copy_(self.decoder_pos_embed,
                   sincos_table(config.decoder_hidden_size, self.decoder_pos_embed.shape[1] - 1))
        init.normal_(self.mask_token, std=config.initializer_range)

    def forward(self, latent: torch.Tensor, ids_restore: torch.Tensor,
                attention_mask: torch.Tensor) -> torch.Tensor:
        x = self.decoder_embed(latent)
        batch, length = ids_restore.shape
        mask_tokens = self.mask_token.to(x.dtype).expand(batch, length + 1 - x.shape[1], -1)
        patches = torch.cat([x[:, 1:], mask_tokens], dim=1)
        patches = torch.gather(patches, 1, ids_restore.unsqueeze(-1).expand(-1, -1, x.shape[2]))
        hidden = torch.cat([x[:, :1], patches], dim=1)
        hidden = hidden + _rows(self.decoder_pos_embed, length, "decoder position")
        mask = extended_attention_mask(with_cls_mask(attention_mask.to(hidden.dtype)),
                                       hidden.dtype)
        for layer in self.decoder_layers:
            hidden, _ = layer(hidden, mask)
        return self.decoder_pred(self.decoder_norm(hidden))[:, 1:]


class PIXELForPreTraining(PIXELPreTrainedModel):
    """PIXEL's MAE. ``patch_mask`` ([B, L], 1 = mask; e.g. from the span-masking generator)
    controls masking; without it masking is random (one ``torch.rand`` draw)."""

    def __init__(self, config: PIXELConfig) -> None:
        super().__init__(config)
        self.vit = PIXELMAEModel(config)
        self.decoder = PIXELDecoder(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.vit.embeddings.patch_embeddings

    def patchify(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] -> [B, (H/p)(W/p), p·p·C] in MAE's ``nchpwq->nhwpqc`` order."""
        p = self.config.patch_size
        b, c, h, w = pixel_values.shape
        x = pixel_values.reshape(b, c, h // p, p, w // p, p)
        x = torch.einsum("nchpwq->nhwpqc", x)
        return x.reshape(b, (h // p) * (w // p), p * p * c)

    def unpatchify(self, patches: torch.Tensor) -> torch.Tensor:
        """[B, L, p·p·C] -> a [B, C, p, p·L] strip (the inverse of :meth:`patchify` for H = p)."""
        p, c = self.config.patch_size, self.config.num_channels
        b, length, _ = patches.shape
        x = patches.reshape(b, 1, length, p, p, c)
        x = torch.einsum("nhwpqc->nchpwq", x)
        return x.reshape(b, c, p, length * p)

    def forward_loss(self, pixel_values: torch.Tensor, pred: torch.Tensor,
                     mask: torch.Tensor) -> torch.Tensor:
        target = self.patchify(pixel_values.to(pred.dtype))
        if self.config.norm_pix_loss:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)  # unbiased, as torch's default
            target = (target - mean) / (var + 1.0e-6) ** 0.5
        loss = ((pred - target) ** 2).mean(dim=-1)
        return (loss * mask).sum() / mask.sum()

    def forward(self, pixel_values: torch.Tensor, attention_mask: torch.Tensor | None = None,
                patch_mask: torch.Tensor | None = None, noise: torch.Tensor | None = None,
                output_attentions: bool | None = None, output_hidden_states: bool | None = None,
                **kwargs: Any) -> PIXELForPreTrainingOutput:
        if attention_mask is None:
            attention_mask = torch.ones(pixel_values.shape[0],
                                        pixel_values.shape[-1] // self.config.patch_size,
                                        device=pixel_values.device)
        out = self.vit(pixel_values, attention_mask=attention_mask, patch_mask=patch_mask,
                       noise=noise, output_attentions=output_attentions,
                       output_hidden_states=output_hidden_states)
        logits = self.decoder(out.last_hidden_state, out.ids_restore, attention_mask)
        merged = ((out.mask == 1) & (attention_mask == 1)).to(logits.dtype)
        loss = self.forward_loss(pixel_values, logits, merged)
        return PIXELForPreTrainingOutput(loss=loss, logits=logits, mask=out.mask,
                                         attention_mask=attention_mask,
                                         ids_restore=out.ids_restore,
                                         hidden_states=out.hidden_states,
                                         attentions=out.attentions)
