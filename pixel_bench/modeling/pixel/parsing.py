"""PIXEL's dependency-parsing head, ``PIXELForBiaffineParsing`` (xplip/pixel ``modeling_pixel.py``
and ``biaffine.py``), re-implemented from a description of that source.

* Word vectors: the patch outputs (CLS dropped, dropout applied) are **mean-pooled over each
  word's patches**, i.e. from ``word_starts[j]`` up to (not including) ``word_starts[j+1]``; a word
  whose two starts coincide takes the patch at its start. Rows past the last word are zero.
* Root: the ViT pooler output (dense + tanh on CLS) is prepended as head candidate 0, so heads
  are ``[root, word_1 … word_L]`` (L + 1 candidates) and a gold head index needs no shift.
* Scores: ``biaffine_arcs`` (1 output, bias on the dependent only) -> ``[B, L, L+1]``;
  ``biaffine_rels`` (one output per relation, bias on both sides) -> ``[B, L, L+1, R]``. Both
  weights start at zero (as in the original, which takes its Biaffine from yzhangcs'
  biaffine-parser).
* Loss: over words whose ``arc_labels`` is not -100, CE of the arc scores plus CE of the relation
  scores at the **gold** head (summed, not averaged).
* Decoding: greedy argmax per word over all L + 1 candidates (no tree constraint, padded
  candidates included, as PIXEL decodes).

The one deviation: in eval mode the head returns ``arc_preds`` / ``rel_preds`` (argmax head, and
argmax relation at that head) instead of the full score tensors, which at L = 256 would be
~10 MB per sentence for the relations. PIXEL's evaluation loop takes the relation at the gold
head; LAS counts a word only when its head is right, when both choices coincide, so UAS/LAS are
the same. ``return_scores=True`` returns the scores as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers.utils import ModelOutput

from .config import PIXELConfig
from .encoder import PIXELModel, PIXELPreTrainedModel

PAD = -100


class Biaffine(nn.Module):
    """``s[b, o, x, y] = [x_b;1]ᵀ W_o [y_b;1]`` with optional bias columns; zero-initialised."""

    def __init__(self, n_in: int, n_out: int = 1, bias_x: bool = True, bias_y: bool = True) -> None:
        super().__init__()
        self.n_in, self.n_out, self.bias_x, self.bias_y = n_in, n_out, bias_x, bias_y
        self.weight = nn.Parameter(torch.zeros(n_out, n_in + int(bias_x), n_in + int(bias_y)))

    def init_pixel_weights(self, config: Any) -> None:  # called by PIXELPreTrainedModel
        nn.init.zeros_(self.weight)

    def extra_repr(self) -> str:
        return f"n_in={self.n_in}, n_out={self.n_out}, bias_x={self.bias_x}, bias_y={self.bias_y}"

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.bias_x:
            x = torch.cat([x, torch.ones_like(x[..., :1])], dim=-1)
        if self.bias_y:
            y = torch.cat([y, torch.ones_like(y[..., :1])], dim=-1)
        return torch.einsum("bxi,oij,byj->boxy", x, self.weight, y)


def word_pooling_weights(word_starts: torch.Tensor, num_patches: int) -> torch.Tensor:
    """``[B, num_patches(words), num_patches]`` averaging weights from ``word_starts`` ``[B, L+1]``
    (-100 = padding), reproducing PIXEL's per-sentence loop: words are read until the first
    padded start, or a next start ``<= 0``."""
    ws = word_starts.long()
    batch = ws.shape[0]
    starts, ends = ws[:, :-1], ws[:, 1:]
    valid = (starts != PAD) & (ends != PAD) & (ends > 0)
    valid = torch.cumprod(valid.long(), dim=1).bool()  # stop at the first invalid word
    n_words = min(starts.shape[1], num_patches)
    starts, ends, valid = starts[:, :n_words], ends[:, :n_words], valid[:, :n_words]
    p = torch.arange(num_patches, device=ws.device).view(1, 1, -1)
    inside = (p >= starts.unsqueeze(-1)) & (p < ends.unsqueeze(-1))
    count = inside.sum(-1, keepdim=True)
    weights = inside.float() / count.clamp(min=1).float()
    single = (count.squeeze(-1) == 0) & valid  # start == end: the patch at the start
    onehot = nn.functional.one_hot(starts.clamp(0, num_patches - 1), num_patches).float()
    weights = torch.where(single.unsqueeze(-1), onehot, weights)
    weights = weights * valid.unsqueeze(-1).float()
    if n_words < num_patches:
        weights = torch.cat([weights, weights.new_zeros(batch, num_patches - n_words,
                                                        num_patches)], dim=1)
    return weights


@dataclass
class DependencyParsingModelOutput(ModelOutput):
    loss: torch.Tensor | None = None
    arc_logits: torch.Tensor | None = None  # [B, L, L+1]
    rel_logits: torch.Tensor | None = None  # [B, L, L+1, R]
    arc_preds: torch.Tensor | None = None  # [B, L] (eval mode)
    rel_preds: torch.Tensor | None = None  # [B, L] (eval mode)
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


class PIXELForBiaffineParsing(PIXELPreTrainedModel):
    """PIXEL + biaffine arc/relation scorers; parameter names as in the Team-PIXEL parsing
    checkpoints (``vit.pooler.dense``, ``biaffine_arcs.weight``, ``biaffine_rels.weight``)."""

    def __init__(self, config: PIXELConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.vit = PIXELModel(config, add_pooling_layer=True)
        self.biaffine_arcs = Biaffine(config.hidden_size, 1, bias_x=True, bias_y=False)
        self.biaffine_rels = Biaffine(config.hidden_size, config.num_labels, bias_x=True,
                                      bias_y=True)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.post_init()

    def forward(self, pixel_values: torch.Tensor, attention_mask: torch.Tensor | None = None,
                word_starts: torch.Tensor | None = None, arc_labels: torch.Tensor | None = None,
                rel_labels: torch.Tensor | None = None, output_attentions: bool | None = None,
                output_hidden_states: bool | None = None,
                interpolate_pos_encoding: bool | None = None, return_scores: bool | None = None,
                **kwargs: Any) -> DependencyParsingModelOutput:
        if word_starts is None:
            raise ValueError("PIXELForBiaffineParsing needs word_starts [B, L+1] (-100 padded)")
        out = self.vit(pixel_values, attention_mask=attention_mask,
                       output_attentions=output_attentions,
                       output_hidden_states=output_hidden_states,
                       interpolate_pos_encoding=interpolate_pos_encoding)
        patches = self.dropout(out.last_hidden_state[:, 1:])
        weights = word_pooling_weights(word_starts.to(patches.device), patches.shape[1])
        deps = torch.bmm(weights.to(patches.dtype), patches)  # [B, L, H]
        heads = torch.cat([out.pooler_output.unsqueeze(1), deps], dim=1)  # [B, L+1, H]
        arc_logits = self.biaffine_arcs(deps, heads).squeeze(1)  # [B, L, L+1]
        rel_logits = self.biaffine_rels(deps, heads).permute(0, 2, 3, 1)  # [B, L, L+1, R]

        loss = None
        if arc_labels is not None and rel_labels is not None:
            loss = self.parsing_loss(arc_logits, rel_logits, arc_labels, rel_labels)
        if return_scores is None:
            return_scores = self.training
        arc_preds = rel_preds = None
        if not self.training:
            arc_preds = arc_logits.argmax(-1)
            picked = rel_logits.gather(2, arc_preds[:, :, None, None].expand(
                -1, -1, 1, rel_logits.shape[-1])).squeeze(2)
            rel_preds = picked.argmax(-1)
        return DependencyParsingModelOutput(
            loss=loss, arc_logits=arc_logits if return_scores else None,
            rel_logits=rel_logits if return_scores else None, arc_preds=arc_preds,
            rel_preds=rel_preds, hidden_states=out.hidden_states, attentions=out.attentions)

    @staticmethod
    def parsing_loss(arc_logits: torch.Tensor, rel_logits: torch.Tensor, arc_labels: torch.Tensor,
                     rel_labels: torch.Tensor) -> torch.Tensor:
        """PIXEL's ``_get_loss``: CE(arcs) + CE(relations at the gold head) over labelled words."""
        mask = arc_labels.ne(PAD)
        if not bool(mask.any()):  # a batch of unlabelled words (the original would give NaN)
            return arc_logits.sum() * 0.0 + rel_logits.sum() * 0.0
        arcs = arc_labels[mask]
        loss = nn.functional.cross_entropy(arc_logits[mask], arcs)
        rel_scores = rel_logits[mask][torch.arange(arcs.shape[0], device=arcs.device), arcs]
        return loss + nn.functional.cross_entropy(rel_scores, rel_labels[mask])
