"""PIXAR 2024 (``april-tools/pixar``): a decoder-only LLaMA over binary 8x16 pixel patches.

Faithful to ``LatentPixel/modeling/llama.py`` of the repository above
(``LlamaForPatchCausalInference``, ``LatentLlama.forward_loss``,
``LlamaForPatchSequenceClassification``):

* trunk = ``transformers.LlamaModel`` with ``embed_tokens`` deleted; ``in_proj`` Conv2d(C -> H,
  kernel (8, 16), stride 16, no bias) turns the ``[B, 1, 8, W]`` strip into W/16 positions;
  ``out_proj`` ConvTranspose2d(H -> C, (8, 16), stride 16, no bias) maps each position back to an
  8x16 block. Inputs are ``{0,1} -> {-1,+1}`` (1 = white background).
* causal loss: the block predicted at position t against the pixels of position t+1; per-pixel
  BCE-with-logits (binary) or MSE in [-1, 1] (grey), masked by the attention mask expanded to
  pixels without the first position, mean per sample then over the batch.
* sequence classification: ``score`` Linear **with bias** on the hidden state at
  ``attention_mask.sum - 1`` (the position holding the black EOS patch).
* generation: greedy, one block per step (:meth:`Pixar2024ForCausalLM.generate`).

Checkpoint keys have no ``model.`` prefix (``layers.*``, ``norm.weight``, ``in_proj.weight``,
``out_proj.weight`` / ``score.*``), exactly as the original ``save_pretrained`` writes them.
Token classification and QA heads are pixel-bench additions (the original has none).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
import torch.nn.functional as F
from transformers import LlamaConfig, LlamaModel
from transformers.modeling_outputs import QuestionAnsweringModelOutput, TokenClassifierOutput
from transformers.utils import ModelOutput

from ..errors import CheckpointError, ConfigError
from ._llama_common import (load_state_dict_file, read_config_json, save_checkpoint,
                            sequence_classification_loss, set_attention, span_loss, strict_load,
                            token_classification_loss)

GENERATION_MODES = ("threshold", "gray", "bernoulli")


class Pixar2024Config(LlamaConfig):
    """A LLaMA config plus PIXAR's patch attributes (saved as ``model_type: llama`` like the
    original, so its code reads our checkpoints)."""

    model_type = "llama"
    num_channel: int = 1
    patch_size: int = 8  # patch height (and renderer patch width)
    patch_len: int = 2  # renderer patches per model position: 8 x 16 px blocks
    binary: bool = True

    @property
    def block_width(self) -> int:
        return self.patch_size * self.patch_len


class Pixar2024Model(LlamaModel):
    """The backbone: LLaMA layers over ``in_proj`` patch embeddings (``embed_tokens`` deleted)."""

    config_class = Pixar2024Config

    def __init__(self, config: Pixar2024Config) -> None:
        super().__init__(config)
        del self.embed_tokens  # as LatentLlama.load_backbone does; the table is never used
        self.embed_tokens = None
        kernel = (config.patch_size, config.block_width)
        self.in_proj = nn.Conv2d(config.num_channel, config.hidden_size, kernel,
                                 stride=kernel, bias=False)

    def encode(self, pixel_values: torch.Tensor, attention_mask: torch.Tensor | None = None,
               scale: bool = True, output_hidden_states: bool | None = None) -> Any:
        """Final-norm hidden states ``[B, N, H]`` of a ``[B, C, 8, W]`` strip in [0, 1]
        (``scale=False``: already in [-1, 1])."""
        x = pixel_values.float()
        if scale:
            x = x * 2 - 1
        if x.shape[-2] != self.config.patch_size or x.shape[-1] % self.config.block_width:
            raise ValueError(f"PIXAR input must be [B, {self.config.num_channel}, "
                             f"{self.config.patch_size}, k*{self.config.block_width}], "
                             f"got {tuple(x.shape)}")
        embeds = self.in_proj(x).flatten(2).transpose(1, 2)  # [B, N, H]
        mask = attention_mask.long() if attention_mask is not None else None
        return LlamaModel.forward(self, inputs_embeds=embeds, attention_mask=mask,
                                  use_cache=False, output_hidden_states=output_hidden_states)

    def save_pretrained(self, directory: str | Path, **_: Any) -> Path:  # type: ignore[override]
        self.config.architectures = [self.original_architecture]
        return save_checkpoint(self, self.config, directory)

    original_architecture = "LlamaForPatchCausalInference"
    head_prefixes: tuple[str, ...] = ()

    def _init_linear(self, layer: nn.Module) -> None:
        nn.init.normal_(layer.weight, std=self.config.initializer_range)
        if getattr(layer, "bias", None) is not None:
            nn.init.zeros_(layer.bias)


# --------------------------------------------------------------------------------------------
# causal (pretraining) head
# --------------------------------------------------------------------------------------------
def loss_mask_image(attention_mask: torch.Tensor, block_width: int, height: int) -> torch.Tensor:
    """``mask2img`` without its first block: ``[B, 1, height, W - block_width]``."""
    m = attention_mask.float().repeat_interleave(block_width, dim=-1)[:, block_width:]
    return m[:, None, None, :].expand(-1, 1, height, -1)


def next_block_loss(logits: torch.Tensor, target: torch.Tensor, attention_mask: torch.Tensor,
                    block_width: int, binary: bool) -> torch.Tensor:
    """PIXAR's ``forward_loss``: logits of block t vs pixels of block t+1 (target in [0, 1],
    1 = white); BCE-with-logits (binary) or MSE in [-1, 1]; mean per sample, then batch."""
    pred = logits[..., :-block_width]
    tgt = target[..., block_width:].to(pred.dtype)
    if binary:
        per_pixel = F.binary_cross_entropy_with_logits(pred, tgt, reduction="none")
    else:
        per_pixel = (pred - (tgt * 2 - 1)) ** 2
    mask = loss_mask_image(attention_mask, block_width, pred.shape[-2]).to(pred.dtype)
    mask = mask.expand_as(per_pixel)
    per_sample = (per_pixel * mask).sum(dim=(1, 2, 3)) / mask.sum(dim=(1, 2, 3))
    return per_sample.mean()


@dataclass
class Pixar2024CausalOutput(ModelOutput):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None  # [B, C, 8, W]: out_proj output (pre-sigmoid)
    last_hidden_state: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None


class Pixar2024ForCausalLM(Pixar2024Model):
    """``LlamaForPatchCausalInference`` with ``out_proj`` and the next-block loss."""

    original_architecture = "LlamaForPatchCausalInference"
    head_prefixes = ("out_proj.",)

    def __init__(self, config: Pixar2024Config) -> None:
        super().__init__(config)
        kernel = (config.patch_size, config.block_width)
        self.out_proj = nn.ConvTranspose2d(config.hidden_size, config.num_channel, kernel,
                                           stride=kernel, bias=False)

    def forward(self, pixel_values: torch.Tensor, attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, return_loss: bool = True,
                output_hidden_states: bool | None = None, **_: Any) -> Pixar2024CausalOutput:
        """``pixel_values``: ``[B, C, 8, W]`` in [0, 1] (binary strips: 1 = white). The loss
        target is ``labels`` if given, else the input itself (needs ``attention_mask``)."""
        out = self.encode(pixel_values, attention_mask, output_hidden_states=output_hidden_states)
        h = out.last_hidden_state
        b, n, d = h.shape
        logits = self.out_proj(h.transpose(1, 2).reshape(b, d, 1, n))
        loss = None
        if return_loss and attention_mask is not None:
            target = labels if labels is not None else pixel_values
            loss = next_block_loss(logits, target, attention_mask, self.config.block_width,
                                   bool(self.config.binary))
        return Pixar2024CausalOutput(loss=loss, logits=logits, last_hidden_state=h,
                                     hidden_states=out.hidden_states)

    @torch.no_grad()
    def generate(self, binary_prompt: torch.Tensor, num_text_patches: torch.Tensor | int,
                 n_patches: int, threshold: float = 0.5, temperature: float = 1.0,
                 mode: str = "threshold", generator: torch.Generator | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """Greedy block-by-block generation (``autoregressive_generate``).

        Each step runs the full sequence (no cache), takes the output at position
        ``num_text_patches - 2`` (the last text block), applies ``sigmoid(logit / temperature)``,
        binarises it (``threshold``: > ``threshold``; ``bernoulli``: sampled; ``gray``: kept) and
        writes it into position ``num_text_patches - 1`` (over the EOS block), then increments
        ``num_text_patches``. Returns the strip (float in [0, 1]) and the new counts.
        """
        if mode not in GENERATION_MODES:
            raise ConfigError(f"unknown generation mode {mode!r}; choose one of "
                              f"{GENERATION_MODES}")
        device = self.in_proj.weight.device
        image = binary_prompt.to(device=device, dtype=torch.float32).clone()
        if image.dim() == 3:
            image = image[None]
        b = image.shape[0]
        bw = self.config.block_width
        n_pos = image.shape[-1] // bw
        ntp = torch.as_tensor(num_text_patches, dtype=torch.long).reshape(-1).expand(b).clone()
        ntp = ntp.cpu()  # per-row Python indexing below
        if (ntp < 2).any():
            raise ValueError("generation needs num_text_patches >= 2 (a text block and the EOS)")
        positions = torch.arange(n_pos)
        for _ in range(n_patches):
            if (ntp > n_pos).any():
                break  # the canvas is full
            mask = (positions[None] < ntp[:, None]).long().to(device)
            logits = self.forward(image, mask, return_loss=False).logits
            for row in range(b):
                src = int(ntp[row]) - 2
                block = logits[row, ..., src * bw:(src + 1) * bw]
                prob = torch.sigmoid(block / temperature)
                if mode == "threshold":
                    prob = (prob > threshold).float()
                elif mode == "bernoulli":
                    prob = torch.bernoulli(prob, generator=generator)
                dst = src + 1
                image[row, ..., dst * bw:(dst + 1) * bw] = prob
            ntp += 1
        return image, ntp


# --------------------------------------------------------------------------------------------
# task heads
# --------------------------------------------------------------------------------------------
@dataclass
class Pixar2024SequenceClassifierOutput(ModelOutput):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    last_hidden_state: torch.Tensor | None = None  # final-norm states of every position
    eos_index: torch.Tensor | None = None


class Pixar2024ForSequenceClassification(Pixar2024Model):
    """``LlamaForPatchSequenceClassification``: ``score`` (with bias) at ``mask.sum - 1``."""

    original_architecture = "LlamaForPatchSequenceClassification"
    head_prefixes = ("score.",)

    def __init__(self, config: Pixar2024Config) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.score = nn.Linear(config.hidden_size, config.num_labels, bias=True)
        self._init_linear(self.score)

    def forward(self, pixel_values: torch.Tensor, attention_mask: torch.Tensor,
                labels: torch.Tensor | None = None, **_: Any) -> Pixar2024SequenceClassifierOutput:
        h = self.encode(pixel_values, attention_mask).last_hidden_state
        index = attention_mask.long().sum(-1) - 1
        pooled = h[torch.arange(h.shape[0], device=h.device), index.to(h.device)]
        logits = self.score(pooled)
        loss = None
        if labels is not None:
            loss, self.config.problem_type = sequence_classification_loss(
                logits, labels.to(logits.device), self.num_labels, self.config.problem_type)
        return Pixar2024SequenceClassifierOutput(loss=loss, logits=logits, last_hidden_state=h,
                                                 eos_index=index)


class Pixar2024ForTokenClassification(Pixar2024Model):
    """pixel-bench addition: Linear(hidden, num_labels) on every 16-px position."""

    original_architecture = "Pixar2024ForTokenClassification"
    head_prefixes = ("classifier.",)

    def __init__(self, config: Pixar2024Config, dropout: float = 0.0) -> None:
        super().__init__(config)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self._init_linear(self.classifier)

    def forward(self, pixel_values: torch.Tensor, attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, **_: Any) -> TokenClassifierOutput:
        h = self.encode(pixel_values, attention_mask).last_hidden_state
        logits = self.classifier(self.dropout(h))
        loss = token_classification_loss(logits, labels) if labels is not None else None
        return TokenClassifierOutput(loss=loss, logits=logits)


class Pixar2024ForQuestionAnswering(Pixar2024Model):
    """pixel-bench addition: ``qa_outputs`` Linear(hidden, 2) -> start / end logits."""

    original_architecture = "Pixar2024ForQuestionAnswering"
    head_prefixes = ("qa_outputs.",)

    def __init__(self, config: Pixar2024Config) -> None:
        super().__init__(config)
        self.qa_outputs = nn.Linear(config.hidden_size, 2)
        self._init_linear(self.qa_outputs)

    def forward(self, pixel_values: torch.Tensor, attention_mask: torch.Tensor | None = None,
                start_positions: torch.Tensor | None = None,
                end_positions: torch.Tensor | None = None, **_: Any
                ) -> QuestionAnsweringModelOutput:
        h = self.encode(pixel_values, attention_mask).last_hidden_state
        start, end = self.qa_outputs(h).unbind(-1)
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = span_loss(start, end, start_positions, end_positions)
        return QuestionAnsweringModelOutput(loss=loss, start_logits=start.contiguous(),
                                            end_logits=end.contiguous())


HEAD_CLASSES: dict[str, type[Pixar2024Model]] = {
    "sequence_classification": Pixar2024ForSequenceClassification,
    "token_classification": Pixar2024ForTokenClassification,
    "question_answering": Pixar2024ForQuestionAnswering,
    "causal_lm": Pixar2024ForCausalLM,
    "base": Pixar2024Model,
}

_PIXAR_KEYS = ("num_channel", "patch_size", "patch_len", "binary")


def config_from_dict(data: dict[str, Any], source: str = "<dict>", **overrides: Any
                     ) -> Pixar2024Config:
    model_type = data.get("model_type")
    if model_type != "llama":
        raise CheckpointError(f"{source}: model_type {model_type!r} is not a PIXAR-2024 "
                              "checkpoint (expected 'llama' with num_channel/patch_size/"
                              "patch_len/binary)")
    absent = [k for k in _PIXAR_KEYS if k not in data and k not in overrides]
    if len(absent) == len(_PIXAR_KEYS):
        raise CheckpointError(f"{source}: a plain LLaMA config (no {', '.join(_PIXAR_KEYS)}); "
                              "not a PIXAR-2024 backbone")
    data = {k: v for k, v in data.items() if k not in ("model_type", "_name_or_path",
                                                      "transformers_version")}
    data.update(overrides)
    try:
        return Pixar2024Config(**data)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: invalid PIXAR-2024 config: {exc}") from None


def load_pixar2024(directory: str | Path, head: str = "sequence_classification", *,
                   attn_implementation: str | None = "sdpa",
                   config_overrides: dict[str, Any] | None = None,
                   head_kwargs: dict[str, Any] | None = None) -> Pixar2024Model:
    """Load an april-tools checkpoint directory (``config.json`` + ``model.safetensors`` or
    ``pytorch_model.bin``) into ``head``, checking keys strictly: the head's own weights may be
    new, other heads' weights (``out_proj``, ``score``...) are dropped, a stray
    ``embed_tokens.weight`` is ignored (the original deletes the table)."""
    if head not in HEAD_CLASSES:
        raise ConfigError(f"unknown PIXAR-2024 head {head!r}; choose one of "
                          f"{sorted(HEAD_CLASSES)}")
    directory = Path(directory)
    config = config_from_dict(read_config_json(directory), str(directory / "config.json"),
                              **(config_overrides or {}))
    state, path = load_state_dict_file(directory)
    cls = HEAD_CLASSES[head]
    model = cls(config, **(head_kwargs or {}))
    others = tuple(p for c in HEAD_CLASSES.values() for p in c.head_prefixes
                   if p not in cls.head_prefixes) + ("embed_tokens.",)
    model.loading_report = strict_load(model, state, path,  # type: ignore[attr-defined]
                                       allow_missing=cls.head_prefixes, drop_unexpected=others)
    set_attention(model, attn_implementation)
    return model


def build_pixar2024(config: Pixar2024Config, head: str = "sequence_classification", *,
                    attn_implementation: str | None = "sdpa", **head_kwargs: Any
                    ) -> Pixar2024Model:
    if head not in HEAD_CLASSES:
        raise ConfigError(f"unknown PIXAR-2024 head {head!r}; choose one of "
                          f"{sorted(HEAD_CLASSES)}")
    model = HEAD_CLASSES[head](config, **head_kwargs)
    set_attention(model, attn_implementation)
    return model
