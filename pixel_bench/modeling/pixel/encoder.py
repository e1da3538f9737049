"""PIXEL's pre-LN ViT encoder with an attention mask over patches.

Module and parameter names follow the original checkpoints (``embeddings.patch_embeddings
.projection``, ``encoder.layer.{i}.attention.attention.query`` …), so their state dicts load
without renaming. The layer is written out in plain torch (erf GELU, LayerNorm eps from the config
= 1e-12, additive mask ``(1 - m) · -10000``) and attends with
``torch.nn.functional.scaled_dot_product_attention``; ``output_attentions=True`` switches to the
explicit softmax so the weights can be returned.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutput, BaseModelOutputWithPooling

from .config import PIXELConfig
from .positions import interpolate_table, sincos_table

MASK_FILL = -10000.0  # PIXEL's additive mask value (CLS is always attended, so no row is empty)


def extended_attention_mask(mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """``[B, S]`` 1/0 mask (CLS included) -> additive ``[B, 1, 1, S]`` mask in ``dtype``."""
    if mask is None:
        return None
    return (1.0 - mask[:, None, None, :].to(dtype)) * MASK_FILL


def with_cls_mask(mask: torch.Tensor) -> torch.Tensor:
    """Prepend the always-attended CLS position to a ``[B, L]`` patch mask."""
    return torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1)


def init_patch_projection(weight: torch.Tensor) -> None:
    """Xavier-uniform over the flattened kernel (MAE initialises the conv like a Linear); a
    weight already loaded from a checkpoint is left alone."""
    if not getattr(weight, "_is_hf_initialized", False):
        nn.init.xavier_uniform_(weight.view(weight.shape[0], -1))


class PIXELPatchEmbeddings(nn.Module):
    """Conv2d(C -> D, kernel = stride = patch) over the ``[B, C, p, p·L]`` strip -> ``[B, L, D]``."""

    def __init__(self, config: PIXELConfig) -> None:
        super().__init__()
        self.patch_size = config.patch_size
        self.num_channels = config.num_channels
        self.projection = nn.Conv2d(config.num_channels, config.hidden_size,
                                    kernel_size=config.patch_size, stride=config.patch_size)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        if pixel_values.dim() != 4:
            raise ValueError(f"pixel_values must be [batch, channels, height, width], got shape "
                             f"{tuple(pixel_values.shape)}")
        _, channels, height, width = pixel_values.shape
        if channels != self.num_channels:
            raise ValueError(f"pixel_values have {channels} channels but the model expects "
                             f"{self.num_channels} (config num_channels)")
        if height != self.patch_size or width % self.patch_size:
            raise ValueError(f"pixel_values of size {height}x{width} are not a strip of "
                             f"{self.patch_size}-px patches (height {self.patch_size}, width a "
                             f"multiple of {self.patch_size})")
        return self.projection(pixel_values).flatten(2).transpose(1, 2)


class PIXELSelfAttention(nn.Module):
    def __init__(self, config: PIXELConfig) -> None:
        super().__init__()
        if config.hidden_size % config.num_attention_heads:
            raise ValueError(f"hidden size {config.hidden_size} is not a multiple of the number "
                             f"of attention heads {config.num_attention_heads}")
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size, bias=config.qkv_bias)
        self.key = nn.Linear(config.hidden_size, config.hidden_size, bias=config.qkv_bias)
        self.value = nn.Linear(config.hidden_size, config.hidden_size, bias=config.qkv_bias)
        self.dropout_prob = config.attention_probs_dropout_prob

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None,
                output_attentions: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch, seq, dim = hidden_states.shape
        shape = (batch, seq, self.num_heads, self.head_dim)
        q = self.query(hidden_states).view(shape).transpose(1, 2)
        k = self.key(hidden_states).view(shape).transpose(1, 2)
        v = self.value(hidden_states).view(shape).transpose(1, 2)
        dropout = self.dropout_prob if self.training else 0.0
        probs = None
        if output_attentions:  # explicit softmax, as the originals compute it
            scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
            if attention_mask is not None:
                scores = scores + attention_mask
            probs = scores.softmax(dim=-1)
            context = nn.functional.dropout(probs, dropout, self.training) @ v
        else:
            context = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=attention_mask,
                                                                 dropout_p=dropout)
        return context.transpose(1, 2).reshape(batch, seq, dim), probs


class PIXELSelfOutput(nn.Module):
    def __init__(self, config: PIXELConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.dense(hidden_states))


class PIXELAttention(nn.Module):
    def __init__(self, config: PIXELConfig) -> None:
        super().__init__()
        self.attention = PIXELSelfAttention(config)
        self.output = PIXELSelfOutput(config)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None,
                output_attentions: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        context, probs = self.attention(hidden_states, attention_mask, output_attentions)
        return self.output(context), probs


class PIXELIntermediate(nn.Module):
    def __init__(self, config: PIXELConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        # "gelu" is the exact erf GELU; the tanh approximation misses the fixtures by 1.7e-5
        self.intermediate_act_fn = ACT2FN[config.hidden_act]

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.intermediate_act_fn(self.dense(hidden_states))


class PIXELOutput(nn.Module):
    def __init__(self, config: PIXELConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.dense(hidden_states))


class PIXELLayer(GradientCheckpointingLayer):
    """LN -> MHSA -> residual -> LN -> MLP -> residual."""

    def __init__(self, config: PIXELConfig) -> None:
        super().__init__()
        self.attention = PIXELAttention(config)
        self.intermediate = PIXELIntermediate(config)
        self.output = PIXELOutput(config)
        self.layernorm_before = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.layernorm_after = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None,
                output_attentions: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        attn, probs = self.attention(self.layernorm_before(hidden_states), attention_mask,
                                     output_attentions)
        hidden_states = hidden_states + attn
        out = self.output(self.intermediate(self.layernorm_after(hidden_states)))
        return hidden_states + out, probs


class PIXELEncoder(nn.Module):
    def __init__(self, config: PIXELConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList([PIXELLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None,
                output_attentions: bool = False, output_hidden_states: bool = False
                ) -> BaseModelOutput:
        all_hidden: tuple[torch.Tensor, ...] | None = () if output_hidden_states else None
        all_attn: tuple[torch.Tensor, ...] | None = () if output_attentions else None
        for layer in self.layer:
            if all_hidden is not None:
                all_hidden += (hidden_states,)
            hidden_states, probs = layer(hidden_states, attention_mask, output_attentions)
            if all_attn is not None:
                all_attn += (probs,)
        if all_hidden is not None:
            all_hidden += (hidden_states,)
        return BaseModelOutput(last_hidden_state=hidden_states, hidden_states=all_hidden,
                               attentions=all_attn)


class PIXELPreTrainedModel(PreTrainedModel):
    """Weight initialisation and the HF save/load plumbing shared by every PIXEL class."""

    config_class = PIXELConfig
    config: PIXELConfig
    base_model_prefix = "vit"
    main_input_name = "pixel_values"
    supports_gradient_checkpointing = True
    _no_split_modules = ["PIXELEmbeddings", "PIXELMAEEmbeddings", "PIXELLayer"]
    _supports_sdpa = True

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        hook = getattr(module, "init_pixel_weights", None)
        if hook is not None:
            hook(self.config)


class PIXELEmbeddings(nn.Module):
    """Fine-tuning embeddings: CLS + patches + a **trainable** position table, then dropout."""

    def __init__(self, config: PIXELConfig) -> None:
        super().__init__()
        self.config = config
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.hidden_size))
        self.patch_embeddings = PIXELPatchEmbeddings(config)
        self.position_embeddings = nn.Parameter(
            torch.zeros(1, config.num_patches + 1, config.hidden_size))
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def init_pixel_weights(self, config: PIXELConfig) -> None:
        # as PIXEL's pretraining embeddings: sin-cos table, xavier conv, normal CLS
        init.copy_(self.position_embeddings,
                   sincos_table(config.hidden_size, self.position_embeddings.shape[1] - 1))
        init_patch_projection(self.patch_embeddings.projection.weight)
        init.normal_(self.cls_token, std=config.initializer_range)

    def positions_for(self, num_patches: int, interpolate: bool) -> torch.Tensor:
        table = self.position_embeddings
        if interpolate:
            return interpolate_table(table, 1, num_patches)
        if num_patches + 1 > table.shape[1]:
            raise ValueError(
                f"input has {num_patches} patches but the position table has only "
                f"{table.shape[1] - 1}; set config.interpolate_pos_encoding=True (PIXEL's rule for "
                f"longer inputs) or use resize_position_embeddings(model, {num_patches})")
        # fewer patches: the first L+1 rows, exactly what PIXEL's truncation keeps
        return table if num_patches + 1 == table.shape[1] else table[:, : num_patches + 1]

    def forward(self, pixel_values: torch.Tensor, interpolate: bool = False) -> torch.Tensor:
        patches = self.patch_embeddings(pixel_values)
        cls = self.cls_token.expand(patches.shape[0], -1, -1).to(patches.dtype)
        embeddings = torch.cat([cls, patches], dim=1)
        embeddings = embeddings + self.positions_for(patches.shape[1], interpolate)
        return self.dropout(embeddings)


class PIXELPooler(nn.Module):
    """ViT's CLS pooler (dense + tanh), used only by the ``cls`` pooling mode."""

    def __init__(self, config: PIXELConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(hidden_states[:, 0]))


class PIXELModel(PIXELPreTrainedModel):
    """The fine-tuning encoder (PIXEL's ``ViTModel`` with attention-mask support).

    ``attention_mask`` is the ``[B, L]`` patch mask (text + EOS = 1); CLS is always attended.
    Output positions: ``[CLS, patch_1 … patch_L]``.
    """

    def __init__(self, config: PIXELConfig, add_pooling_layer: bool = False) -> None:
        super().__init__(config)
        self.embeddings = PIXELEmbeddings(config)
        self.encoder = PIXELEncoder(config)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.pooler = PIXELPooler(config) if add_pooling_layer else None
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.patch_embeddings

    def forward(self, pixel_values: torch.Tensor, attention_mask: torch.Tensor | None = None,
                output_attentions: bool | None = None, output_hidden_states: bool | None = None,
                interpolate_pos_encoding: bool | None = None, **kwargs: Any
                ) -> BaseModelOutputWithPooling:
        if pixel_values is None:
            raise ValueError("pixel_values are required")
        interpolate = (self.config.interpolate_pos_encoding if interpolate_pos_encoding is None
                       else interpolate_pos_encoding)
        param = self.embeddings.patch_embeddings.projection.weight
        hidden = self.embeddings(pixel_values.to(param.dtype), interpolate=bool(interpolate))
        mask = None
        if attention_mask is not None:
            if attention_mask.shape != hidden.shape[:1] + (hidden.shape[1] - 1,):
                raise ValueError(f"attention_mask has shape {tuple(attention_mask.shape)}; expected "
                                 f"{(hidden.shape[0], hidden.shape[1] - 1)} (one value per patch)")
            mask = extended_attention_mask(with_cls_mask(attention_mask), hidden.dtype)
        out = self.encoder(hidden, mask, bool(output_attentions), bool(output_hidden_states))
        sequence = self.layernorm(out.last_hidden_state)
        pooled = self.pooler(sequence) if self.pooler is not None else None
        return BaseModelOutputWithPooling(last_hidden_state=sequence, pooler_output=pooled,
                                          hidden_states=out.hidden_states,
                                          attentions=out.attentions)
