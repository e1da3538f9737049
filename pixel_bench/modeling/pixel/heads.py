"""PIXEL's fine-tuning heads: sequence classification (with its pooling head), token
classification and extractive QA (xplip/pixel ``src/pixel/models/pixel/modeling_pixel.py`` and
``src/pixel/models/pooling.py``). Parameter names follow the original checkpoints
(``pooler.linear``, ``pooler.ln``, ``pooler.pooling.pooler.*`` for PMA, ``vit.pooler.dense`` for
CLS pooling, ``classifier``, ``qa_outputs``).
"""

from __future__ import annotations

import math
import re
from typing import Any

import torch
from torch import nn
from transformers import initialization as init
from transformers.modeling_outputs import (QuestionAnsweringModelOutput, SequenceClassifierOutput,
                                           TokenClassifierOutput)

from ...errors import ConfigError
from .config import ADD_LAYER_NORM_KEY, POOLING_MODE_KEY, PIXELConfig
from .encoder import PIXELModel, PIXELPreTrainedModel

POOLING_MODES = ("mean", "max", "cls", "pma<K>")


def parse_pooling_mode(mode: str) -> tuple[str, int]:
    """``"mean" | "max" | "cls" | "pma<K>"`` -> (kind, K); K = PMA heads (0 otherwise)."""
    text = str(getattr(mode, "value", mode)).strip().lower()
    if text in ("mean", "max", "cls"):
        return text, 0
    match = re.fullmatch(r"pma(\d+)", text)
    if match and int(match.group(1)) > 0:
        return "pma", int(match.group(1))
    raise ConfigError(f"unknown pooling mode {mode!r}; choose one of {', '.join(POOLING_MODES)} "
                      "(e.g. pma8)")


class MultiheadAttentionBlock(nn.Module):
    """Set-Transformer MAB as PIXEL uses it for PMA pooling. Quirks kept: padding is applied by
    zeroing the *keys* (padded patches still get softmax weight, with score 0), scores are
    scaled by √dim (not √head_dim), residual on the projected query, ``O + relu(fc_o(O))``."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ConfigError(f"PMA heads {num_heads} must divide the hidden size {dim}")
        self.dim = dim
        self.num_heads = num_heads
        self.fc_q = nn.Linear(dim, dim)
        self.fc_k = nn.Linear(dim, dim)
        self.fc_v = nn.Linear(dim, dim)
        self.fc_o = nn.Linear(dim, dim)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        q = self.fc_q(query)
        k = self.fc_k(keys) * mask
        v = self.fc_v(keys)
        batch, heads = q.shape[0], self.num_heads

        def split(x: torch.Tensor) -> torch.Tensor:  # [B, S, D] -> [B, H, S, D/H]
            return x.view(batch, x.shape[1], heads, -1).transpose(1, 2)

        qh, kh, vh = split(q), split(k), split(v)
        attn = torch.softmax(qh @ kh.transpose(-1, -2) / math.sqrt(self.dim), dim=-1)
        out = (qh + attn @ vh).transpose(1, 2).reshape(batch, q.shape[1], self.dim)
        return out + torch.relu(self.fc_o(out))


class PoolingByMultiheadAttention(nn.Module):
    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.S = nn.Parameter(torch.empty(1, 1, dim))  # one learned seed
        self.mab = MultiheadAttentionBlock(dim, num_heads)

    def init_pixel_weights(self, config: PIXELConfig) -> None:
        init.xavier_uniform_(self.S)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.mab(self.S.expand(hidden.shape[0], -1, -1), hidden, mask)


class Pooling(nn.Module):
    """Masked mean / max, or PMA (attribute ``pooler``, as in the original key names)."""

    def __init__(self, hidden_size: int, kind: str, heads: int = 0) -> None:
        super().__init__()
        self.kind = kind
        if kind == "pma":
            self.pooler = PoolingByMultiheadAttention(hidden_size, heads)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        expanded = mask.unsqueeze(-1).to(hidden.dtype).expand_as(hidden)
        if self.kind == "max":
            return hidden.masked_fill(expanded == 0, -1e9).max(dim=1).values
        if self.kind == "mean":
            return (hidden * expanded).sum(1) / expanded.sum(1).clamp(min=1e-9)
        return self.pooler(hidden, expanded).squeeze(1)


class PIXELPoolingHead(nn.Module):
    """Linear -> GELU -> LayerNorm (eps 1e-12, optional) -> Dropout -> pooling over the patch
    states (CLS dropped). PMA skips Linear/GELU but keeps the LayerNorm; in ``cls`` mode the
    module only passes the ViT pooler output through (its Linear/LN exist but are unused, as in
    the original checkpoints)."""

    def __init__(self, config: PIXELConfig, pooling_mode: str, add_layer_norm: bool) -> None:
        super().__init__()
        self.kind, heads = parse_pooling_mode(pooling_mode)
        self.add_layer_norm = add_layer_norm
        self.linear = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.GELU()
        self.ln = nn.LayerNorm(config.hidden_size, eps=1e-12)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        if self.kind != "cls":
            self.pooling = Pooling(config.hidden_size, self.kind, heads)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.kind == "cls":
            return hidden
        if self.kind != "pma":
            hidden = self.activation(self.linear(hidden))
        if self.add_layer_norm:
            hidden = self.ln(hidden)
        return self.pooling(self.dropout(hidden), mask)


def _patch_mask(attention_mask: torch.Tensor | None, hidden: torch.Tensor) -> torch.Tensor:
    if attention_mask is None:
        return torch.ones(hidden.shape[:2], dtype=hidden.dtype, device=hidden.device)
    return attention_mask


class PIXELForSequenceClassification(PIXELPreTrainedModel):
    """Sentence (pair) classification / regression. ``pooling_mode`` and ``add_layer_norm`` are
    constructor arguments as in PIXEL; we also store them in the config (keys ``pooling_mode``,
    ``add_layer_norm``) so our own checkpoints round-trip; original configs lack them."""

    def __init__(self, config: PIXELConfig, pooling_mode: str | None = None,
                 add_layer_norm: bool | None = None) -> None:
        super().__init__(config)
        if pooling_mode is None:
            pooling_mode = getattr(config, POOLING_MODE_KEY, None) or "mean"
        if add_layer_norm is None:
            add_layer_norm = getattr(config, ADD_LAYER_NORM_KEY, None)
            add_layer_norm = True if add_layer_norm is None else bool(add_layer_norm)
        kind, _ = parse_pooling_mode(pooling_mode)
        setattr(config, POOLING_MODE_KEY, str(getattr(pooling_mode, "value", pooling_mode)).lower())
        setattr(config, ADD_LAYER_NORM_KEY, bool(add_layer_norm))
        self.num_labels = config.num_labels
        self.vit = PIXELModel(config, add_pooling_layer=kind == "cls")
        self.pooler = PIXELPoolingHead(config, pooling_mode, add_layer_norm)
        self.classifier = (nn.Linear(config.hidden_size, config.num_labels)
                           if config.num_labels > 0 else nn.Identity())
        self.post_init()

    @property
    def pooling_mode(self) -> str:
        return getattr(self.config, POOLING_MODE_KEY)

    def forward(self, pixel_values: torch.Tensor, attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, output_attentions: bool | None = None,
                output_hidden_states: bool | None = None,
                interpolate_pos_encoding: bool | None = None, **kwargs: Any
                ) -> SequenceClassifierOutput:
        out = self.vit(pixel_values, attention_mask=attention_mask,
                       output_attentions=output_attentions,
                       output_hidden_states=output_hidden_states,
                       interpolate_pos_encoding=interpolate_pos_encoding)
        if self.pooler.kind == "cls":
            features = out.pooler_output
        else:
            features = out.last_hidden_state[:, 1:]
        pooled = self.pooler(features, _patch_mask(attention_mask, out.last_hidden_state[:, 1:]))
        logits = self.classifier(pooled)
        loss = self.compute_loss(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=out.hidden_states,
                                        attentions=out.attentions)

    def compute_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """MSE (1 label / regression), CE (integer labels), BCE (multi-label), as in PIXEL."""
        problem = self.config.problem_type
        if problem is None:
            if self.num_labels == 1:
                problem = "regression"
            elif labels.dtype in (torch.long, torch.int):
                problem = "single_label_classification"
            else:
                problem = "multi_label_classification"
            self.config.problem_type = problem
        if problem == "regression":
            if self.num_labels == 1:
                return nn.functional.mse_loss(logits.squeeze(), labels.squeeze().to(logits.dtype))
            return nn.functional.mse_loss(logits, labels.to(logits.dtype))
        if problem == "single_label_classification":
            return nn.functional.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1))
        return nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))


class PIXELForTokenClassification(PIXELPreTrainedModel):
    """One prediction per patch (CLS dropped): dropout -> ``classifier``; CE ignoring −100."""

    def __init__(self, config: PIXELConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.vit = PIXELModel(config, add_pooling_layer=False)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, pixel_values: torch.Tensor, attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, output_attentions: bool | None = None,
                output_hidden_states: bool | None = None,
                interpolate_pos_encoding: bool | None = None, **kwargs: Any
                ) -> TokenClassifierOutput:
        out = self.vit(pixel_values, attention_mask=attention_mask,
                       output_attentions=output_attentions,
                       output_hidden_states=output_hidden_states,
                       interpolate_pos_encoding=interpolate_pos_encoding)
        logits = self.classifier(self.dropout(out.last_hidden_state[:, 1:]))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.reshape(-1, self.num_labels),
                                               labels.reshape(-1), ignore_index=-100)
        return TokenClassifierOutput(loss=loss, logits=logits, hidden_states=out.hidden_states,
                                     attentions=out.attentions)


class PIXELForQuestionAnswering(PIXELPreTrainedModel):
    """Extractive QA over ``[patch_1 … patch_L, CLS]`` (CLS moved to the **end**, no dropout):
    start/end logits of length L+1, "no answer" = index L. Loss: positions clamped to
    [0, L+1] and CE with ``ignore_index = L+1``, mean of start and end."""

    def __init__(self, config: PIXELConfig) -> None:
        super().__init__(config)
        self.vit = PIXELModel(config, add_pooling_layer=False)
        self.qa_outputs = nn.Linear(config.hidden_size, 2)
        self.post_init()

    def forward(self, pixel_values: torch.Tensor, attention_mask: torch.Tensor | None = None,
                start_positions: torch.Tensor | None = None,
                end_positions: torch.Tensor | None = None, output_attentions: bool | None = None,
                output_hidden_states: bool | None = None,
                interpolate_pos_encoding: bool | None = None, **kwargs: Any
                ) -> QuestionAnsweringModelOutput:
        out = self.vit(pixel_values, attention_mask=attention_mask,
                       output_attentions=output_attentions,
                       output_hidden_states=output_hidden_states,
                       interpolate_pos_encoding=interpolate_pos_encoding)
        hidden = out.last_hidden_state
        sequence = torch.cat([hidden[:, 1:], hidden[:, :1]], dim=1)
        start_logits, end_logits = self.qa_outputs(sequence).unbind(dim=-1)
        start_logits, end_logits = start_logits.contiguous(), end_logits.contiguous()
        loss = None
        if start_positions is not None and end_positions is not None:
            ignored = start_logits.shape[1]
            start = start_positions.reshape(-1).clamp(0, ignored)
            end = end_positions.reshape(-1).clamp(0, ignored)
            loss = (nn.functional.cross_entropy(start_logits, start, ignore_index=ignored)
                    + nn.functional.cross_entropy(end_logits, end, ignore_index=ignored)) / 2
        return QuestionAnsweringModelOutput(loss=loss, start_logits=start_logits,
                                            end_logits=end_logits,
                                            hidden_states=out.hidden_states,
                                            attentions=out.attentions)
