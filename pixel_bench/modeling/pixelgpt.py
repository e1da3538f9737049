"""PixelGPT / MonoGPT / DualGPT (``ernie-research/pixelgpt``, checkpoints ``baidu/*``).

A LLaMA decoder that reads rendered text as 16x16 patches, text tokens, or both
(``src/ernie_pixel/modeling_ernie_pixel.py`` and ``patch_embed.py`` of the repository above):

* :class:`PixelGPTModel` is a ``transformers.LlamaModel`` plus ``embed_patches`` (Conv2d 16x16 with
  bias, then a LayerNorm with the default eps 1e-5). Pair mode concatenates ``[patches ; tokens]``
  (pixels first, no separator) and their masks; RoPE positions run 0..N-1 over the *padded*
  sequence, so tokens always start at ``n_patch_positions`` however many patches are real.
* :class:`PixelGPTForSequenceClassification`: bias-free ``score`` on every position, one position
  picked by the original's index rules (see :func:`pooled_index`).
* :class:`PixelGPTForCausalLM`: ``lm_token_head`` + ``lm_pixel_head``; next-patch MSE on
  per-patch-normalised targets and next-token CE. The original's pair mode crashes (its forward
  never passes ``patch_attention_mask`` on: ``ErniePixelForCausalLM.forward``); ours works and sums
  both losses.
* Token classification and QA heads (linear layers over the hidden states) are pixel-bench
  additions: the original has none.

Module and parameter names reproduce the original key layout (``model.embed_patches...``,
``model.layers...``, ``score.weight``, ``lm_*_head.weight``), so released checkpoints load with a
strict, explicit key check (:func:`load_pixelgpt`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
import torch.nn.functional as F
from transformers import LlamaConfig, LlamaModel
from transformers.modeling_outputs import (BaseModelOutputWithPast, QuestionAnsweringModelOutput,
                                           SequenceClassifierOutputWithPast,
                                           TokenClassifierOutput)
from transformers.utils import ModelOutput

from ..errors import CheckpointError, ConfigError
from ._llama_common import (load_state_dict_file, read_config_json, save_checkpoint,
                            sequence_classification_loss, set_attention, span_loss, strict_load,
                            token_classification_loss)

MODEL_TYPE = "ernie-pixel"
RENDER_MODES = ("rgb", "gray", "binary")


class ErniePixelConfig(LlamaConfig):
    """``ErniePixelConfig``: LLaMA fields plus the patch settings. Class defaults are the
    original's (LLaMA-7B-like); real sizes always come from the checkpoint's config.json."""

    model_type = MODEL_TYPE
    image_size: Any = (16, 16384)  # 1024 patches; the image-size check is disabled, any width works
    patch_size: int = 16
    num_channels: int = 3
    norm_pix_loss: bool = True


def _register_auto_config() -> None:
    """Make ``AutoConfig.from_pretrained`` understand ``ernie-pixel`` (harmless: the type is
    not one transformers knows)."""
    from transformers import AutoConfig

    try:
        AutoConfig.register(MODEL_TYPE, ErniePixelConfig)
    except ValueError:  # already registered (re-import)
        pass


_register_auto_config()


# --------------------------------------------------------------------------------------------
# trunk
# --------------------------------------------------------------------------------------------
class PatchEmbeddings(nn.Module):
    """Conv2d(C -> hidden, p, stride p, with bias) then LayerNorm (default eps 1e-5: the
    golden parity depends on it)."""

    def __init__(self, config: ErniePixelConfig) -> None:
        super().__init__()
        p = config.patch_size
        self.projection = nn.Conv2d(config.num_channels, config.hidden_size, p, stride=p)
        self.norm = nn.LayerNorm(config.hidden_size)
        # xavier-initialised like a Linear (as MAE's PatchEmbed)
        w = self.projection.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.zeros_(self.projection.bias)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        x = self.projection(pixel_values)  # [B, H, h, w]
        return self.norm(x.flatten(2).transpose(1, 2))


class PixelEmbedding(nn.Module):
    def __init__(self, config: ErniePixelConfig) -> None:
        super().__init__()
        self.patch_embeddings = PatchEmbeddings(config)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.patch_embeddings(pixel_values)


@dataclass
class PixelGPTModelOutput(BaseModelOutputWithPast):
    """``split_args`` = [("pixel", n_patches), ("text", n_tokens)] for the parts present."""

    split_args: list[tuple[str, int]] | None = None


class PixelGPTModel(LlamaModel):
    """LLaMA trunk reading patches, tokens or both (pixels first)."""

    config_class = ErniePixelConfig

    def __init__(self, config: ErniePixelConfig) -> None:
        super().__init__(config)
        self.embed_patches = PixelEmbedding(config)

    def forward(self, pixel_values: torch.Tensor | None = None,  # type: ignore[override]
                input_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None,
                patch_attention_mask: torch.Tensor | None = None,
                output_hidden_states: bool | None = None, **kwargs: Any) -> PixelGPTModelOutput:
        """Pixel only: ``attention_mask`` is the patch mask. Text only: the token mask. Pair:
        ``patch_attention_mask`` + ``attention_mask`` (the original's argument names)."""
        if pixel_values is None and input_ids is None:
            raise ValueError("PixelGPTModel needs pixel_values, input_ids or both")
        parts, masks, split = [], [], []
        if pixel_values is not None:
            patches = self.embed_patches(pixel_values)
            parts.append(patches)
            pmask = attention_mask if input_ids is None else patch_attention_mask
            if input_ids is not None and pmask is None:
                raise ValueError("pair mode needs patch_attention_mask for the pixel part")
            masks.append(pmask)
            split.append(("pixel", patches.shape[1]))
        if input_ids is not None:
            parts.append(self.embed_tokens(input_ids))
            masks.append(attention_mask)
            split.append(("text", input_ids.shape[1]))
        embeds = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        if all(m is None for m in masks):
            mask = None
        else:
            full = [m if m is not None else torch.ones(p.shape[:2], device=p.device)
                    for m, p in zip(masks, parts)]
            mask = torch.cat([m.long() for m in full], dim=1)
        out = super().forward(inputs_embeds=embeds, attention_mask=mask, use_cache=False,
                              output_hidden_states=output_hidden_states, **kwargs)
        return PixelGPTModelOutput(last_hidden_state=out.last_hidden_state,
                                   hidden_states=out.hidden_states, split_args=split)


# --------------------------------------------------------------------------------------------
# heads
# --------------------------------------------------------------------------------------------
class _PixelGPTBase(nn.Module):
    """Common parts: config, trunk under ``model``, checkpoint writing, attention switch."""

    head_prefixes: tuple[str, ...] = ()

    def __init__(self, config: ErniePixelConfig) -> None:
        super().__init__()
        self.config = config
        self.model = PixelGPTModel(config)

    def _init_linear(self, layer: nn.Linear) -> None:
        nn.init.normal_(layer.weight, std=self.config.initializer_range)
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)

    def save_pretrained(self, directory: str | Path) -> Path:
        self.config.architectures = [self.original_architecture]
        return save_checkpoint(self, self.config, directory)

    def set_attn_implementation(self, name: str) -> None:
        set_attention(self.model, name)

    def gradient_checkpointing_enable(self, **kwargs: Any) -> None:
        self.model.gradient_checkpointing_enable(**kwargs)

    original_architecture = "ErniePixelModel"


def pooled_index(*, input_ids: torch.Tensor | None, attention_mask: torch.Tensor | None,
                 n_patch_positions: int | None, pad_token_id: int | None,
                 fix_unpadded_pair: bool = False) -> torch.Tensor:
    """Position whose logits the classifier uses (``ErniePixelForSequenceClassification.forward``):

    * pixel only: ``attention_mask.sum - 1``: the black EOS patch;
    * text only: first ``pad_token_id`` position - 1; a row without padding gives
      ``argmax(all false) - 1 = -1``: the last position;
    * pair: ``n_patch_positions`` + first pad in the text - 1. Quirk: a text row without
      padding gives ``n_patch_positions - 1``, the last *pixel* position, not the last token;
      ``fix_unpadded_pair=True`` points it at the last token instead.
    """
    if input_ids is None:
        if attention_mask is None:
            raise ValueError("pixel-only classification needs the patch attention_mask")
        return attention_mask.long().sum(-1) - 1
    if pad_token_id is None:
        raise ConfigError("PixelGPT classification needs config.pad_token_id (the original "
                          "scripts set it to eos_token_id, 2)")
    is_pad = input_ids == pad_token_id
    first = is_pad.int().argmax(-1)
    if n_patch_positions is None:
        return first - 1
    if fix_unpadded_pair:
        first = torch.where(is_pad.any(-1), first, torch.full_like(first, input_ids.shape[1]))
    return n_patch_positions + first - 1


class PixelGPTForSequenceClassification(_PixelGPTBase):
    """``ErniePixelForSequenceClassification``: bias-free ``score`` at the pooled position."""

    original_architecture = "ErniePixelForSequenceClassification"
    head_prefixes = ("score.",)

    def __init__(self, config: ErniePixelConfig, fix_unpadded_pair: bool = False) -> None:
        super().__init__(config)
        if config.pad_token_id is None:  # the scripts set pad = eos
            config.pad_token_id = config.eos_token_id if config.eos_token_id is not None else 2
        self.num_labels = config.num_labels
        self.score = nn.Linear(config.hidden_size, config.num_labels, bias=False)
        self._init_linear(self.score)
        self.fix_unpadded_pair = fix_unpadded_pair

    def forward(self, pixel_values: torch.Tensor | None = None,
                input_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None,
                patch_attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None,
                output_hidden_states: bool | None = None,
                **_: Any) -> SequenceClassifierOutputWithPast:
        out = self.model(pixel_values=pixel_values, input_ids=input_ids,
                         attention_mask=attention_mask, patch_attention_mask=patch_attention_mask,
                         output_hidden_states=output_hidden_states)
        logits = self.score(out.last_hidden_state)
        n_patch = out.split_args[0][1] if (pixel_values is not None and input_ids is not None) \
            else None
        index = pooled_index(input_ids=input_ids, attention_mask=attention_mask,
                             n_patch_positions=n_patch, pad_token_id=self.config.pad_token_id,
                             fix_unpadded_pair=self.fix_unpadded_pair)
        rows = torch.arange(logits.shape[0], device=logits.device)
        pooled = logits[rows, index.to(logits.device)]
        loss = None
        if labels is not None:
            loss, self.config.problem_type = sequence_classification_loss(
                pooled, labels.to(pooled.device), self.num_labels, self.config.problem_type)
        return SequenceClassifierOutputWithPast(loss=loss, logits=pooled,
                                                hidden_states=out.hidden_states)


class PixelGPTForTokenClassification(_PixelGPTBase):
    """pixel-bench addition: Linear(hidden, num_labels) on every position (labels -100 are
    ignored). A causal model sees only the left context of each patch."""

    head_prefixes = ("classifier.",)

    def __init__(self, config: ErniePixelConfig, dropout: float = 0.0) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self._init_linear(self.classifier)

    def forward(self, pixel_values: torch.Tensor | None = None,
                input_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None,
                patch_attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, **_: Any) -> TokenClassifierOutput:
        out = self.model(pixel_values=pixel_values, input_ids=input_ids,
                         attention_mask=attention_mask, patch_attention_mask=patch_attention_mask)
        logits = self.classifier(self.dropout(out.last_hidden_state))
        loss = token_classification_loss(logits, labels) if labels is not None else None
        return TokenClassifierOutput(loss=loss, logits=logits)


class PixelGPTForQuestionAnswering(_PixelGPTBase):
    """pixel-bench addition: ``qa_outputs`` Linear(hidden, 2) -> start / end logits per position."""

    head_prefixes = ("qa_outputs.",)

    def __init__(self, config: ErniePixelConfig) -> None:
        super().__init__(config)
        self.qa_outputs = nn.Linear(config.hidden_size, 2)
        self._init_linear(self.qa_outputs)

    def forward(self, pixel_values: torch.Tensor | None = None,
                input_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None,
                patch_attention_mask: torch.Tensor | None = None,
                start_positions: torch.Tensor | None = None,
                end_positions: torch.Tensor | None = None, **_: Any
                ) -> QuestionAnsweringModelOutput:
        out = self.model(pixel_values=pixel_values, input_ids=input_ids,
                         attention_mask=attention_mask, patch_attention_mask=patch_attention_mask)
        start, end = self.qa_outputs(out.last_hidden_state).unbind(-1)
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = span_loss(start, end, start_positions, end_positions)
        return QuestionAnsweringModelOutput(loss=loss, start_logits=start.contiguous(),
                                            end_logits=end.contiguous())


# --------------------------------------------------------------------------------------------
# causal LM (pretraining objective)
# --------------------------------------------------------------------------------------------
def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """[B, C, H, W] -> [B, (H/p)(W/p), p*p*C] in MAE's ``nchpwq->nhwpqc`` order."""
    b, c, h, w = images.shape
    p = patch_size
    if h % p or w % p:
        raise ValueError(f"image size {h}x{w} is not a multiple of the patch size {p}")
    x = images.reshape(b, c, h // p, p, w // p, p)
    x = torch.einsum("nchpwq->nhwpqc", x)
    return x.reshape(b, (h // p) * (w // p), p * p * c)


def next_patch_loss(pred: torch.Tensor, images: torch.Tensor, mask: torch.Tensor | None,
                    patch_size: int, norm_pix_loss: bool) -> torch.Tensor:
    """MSE between the prediction at t and the (normalised) patch t+1, averaged over the
    patches whose mask (positions 1..L-1) is 1."""
    target = patchify(images, patch_size)
    if norm_pix_loss:  # per patch, unbiased variance + 1e-6 (as the original)
        mean = target.mean(dim=-1, keepdim=True)
        var = target.var(dim=-1, keepdim=True)
        target = (target - mean) / (var + 1.0e-6) ** 0.5
    per_patch = ((pred[:, :-1] - target[:, 1:]) ** 2).mean(dim=-1)
    if mask is None:
        return per_patch.mean()
    m = mask[:, 1:].to(per_patch.dtype)
    return (per_patch * m).sum() / m.sum()


def next_token_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    shift_logits = logits[:, :-1].contiguous()
    shift_labels = labels[:, 1:].contiguous().to(logits.device)
    return F.cross_entropy(shift_logits.view(-1, shift_logits.shape[-1]), shift_labels.view(-1),
                           ignore_index=-100)


@dataclass
class PixelGPTCausalLMOutput(ModelOutput):
    """``logits``: token logits when tokens were given, else patch predictions."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    pixel_logits: torch.Tensor | None = None
    text_logits: torch.Tensor | None = None
    pixel_loss: torch.Tensor | None = None
    text_loss: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None


class PixelGPTForCausalLM(_PixelGPTBase):
    """``ErniePixelForCausalLM``: next-patch regression + next-token prediction (losses summed).

    Pair mode works here (the original crashes: it never forwards ``patch_attention_mask``).
    """

    original_architecture = "ErniePixelForCausalLM"
    head_prefixes = ("lm_token_head.", "lm_pixel_head.")

    def __init__(self, config: ErniePixelConfig) -> None:
        super().__init__(config)
        p = config.patch_size
        self.lm_token_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.lm_pixel_head = nn.Linear(config.hidden_size, p * p * config.num_channels, bias=False)
        self._init_linear(self.lm_token_head)
        self._init_linear(self.lm_pixel_head)

    def forward(self, pixel_values: torch.Tensor | None = None,
                input_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None,
                patch_attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None,
                output_hidden_states: bool | None = None, **_: Any) -> PixelGPTCausalLMOutput:
        out = self.model(pixel_values=pixel_values, input_ids=input_ids,
                         attention_mask=attention_mask, patch_attention_mask=patch_attention_mask,
                         output_hidden_states=output_hidden_states)
        hidden = out.last_hidden_state
        pixel_logits = text_logits = pixel_loss = text_loss = None
        offset = 0
        for kind, n in out.split_args or []:
            part = hidden[:, offset:offset + n]
            offset += n
            if kind == "pixel":
                pixel_logits = self.lm_pixel_head(part)
                pmask = attention_mask if input_ids is None else patch_attention_mask
                pixel_loss = next_patch_loss(pixel_logits, pixel_values, pmask,
                                             self.config.patch_size, self.config.norm_pix_loss)
            else:
                text_logits = self.lm_token_head(part)
                if labels is not None:
                    text_loss = next_token_loss(text_logits, labels)
        losses = [x for x in (pixel_loss, text_loss) if x is not None]
        loss = sum(losses[1:], losses[0]) if losses else None
        return PixelGPTCausalLMOutput(
            loss=loss, logits=text_logits if text_logits is not None else pixel_logits,
            pixel_logits=pixel_logits, text_logits=text_logits, pixel_loss=pixel_loss,
            text_loss=text_loss, hidden_states=out.hidden_states)


class PixelGPTBackbone(_PixelGPTBase):
    """The bare trunk under the checkpoint prefix ``model.`` (for hidden-state extraction)."""

    def forward(self, **kwargs: Any) -> PixelGPTModelOutput:
        return self.model(**kwargs)


HEAD_CLASSES = {
    "sequence_classification": PixelGPTForSequenceClassification,
    "token_classification": PixelGPTForTokenClassification,
    "question_answering": PixelGPTForQuestionAnswering,
    "causal_lm": PixelGPTForCausalLM,
    "base": PixelGPTBackbone,
}


# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------
def config_from_dict(data: dict[str, Any], source: str = "<dict>", **overrides: Any
                     ) -> ErniePixelConfig:
    model_type = data.get("model_type")
    if model_type != MODEL_TYPE:
        raise CheckpointError(f"{source}: model_type {model_type!r} is not a PixelGPT checkpoint "
                              f"(expected {MODEL_TYPE!r})")
    data = {k: v for k, v in data.items() if k not in ("model_type", "_name_or_path",
                                                      "transformers_version")}
    data.update(overrides)
    try:
        return ErniePixelConfig(**data)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: invalid PixelGPT config: {exc}") from None


def single_channel_projection(weight: torch.Tensor) -> torch.Tensor:
    """Gray/binary render modes: the RGB conv replaced by its mean over input channels (the
    original scripts do this; the bias is kept)."""
    return weight.mean(dim=1, keepdim=True)


def load_pixelgpt(directory: str | Path, head: str = "sequence_classification", *,
                  render_mode: str = "rgb", attn_implementation: str | None = "sdpa",
                  config_overrides: dict[str, Any] | None = None,
                  head_kwargs: dict[str, Any] | None = None) -> nn.Module:
    """Load a baidu-style checkpoint directory (``config.json`` ``ernie-pixel`` +
    ``model.safetensors``) into ``head``.

    Keys are checked strictly: the head's own weights may be missing (newly initialised, e.g.
    ``score`` when a pretrained backbone is fine-tuned), pretraining heads ``lm_*_head`` are
    dropped; anything else missing, unexpected or misshapen raises CheckpointError.
    ``render_mode`` gray/binary averages an RGB patch projection over channels (num_channels 1).
    """
    if head not in HEAD_CLASSES:
        raise ConfigError(f"unknown PixelGPT head {head!r}; choose one of {sorted(HEAD_CLASSES)}")
    if render_mode not in RENDER_MODES:
        raise ConfigError(f"unknown render_mode {render_mode!r}; choose one of {RENDER_MODES}")
    directory = Path(directory)
    config = config_from_dict(read_config_json(directory), str(directory / "config.json"),
                              **(config_overrides or {}))
    state, path = load_state_dict_file(directory)
    key = "model.embed_patches.patch_embeddings.projection.weight"
    if render_mode != "rgb":
        if key in state and state[key].shape[1] != 1:
            state[key] = single_channel_projection(state[key])
        config.num_channels = 1
    elif key in state and state[key].shape[1] != config.num_channels:
        raise CheckpointError(f"{path}: {key} has {state[key].shape[1]} input channels but "
                              f"config num_channels is {config.num_channels}")
    cls = HEAD_CLASSES[head]
    model = cls(config, **(head_kwargs or {}))
    other_heads = tuple(p for c in HEAD_CLASSES.values() for p in c.head_prefixes
                        if p not in cls.head_prefixes)
    report = strict_load(model, state, path, allow_missing=cls.head_prefixes,
                         drop_unexpected=other_heads)
    model.loading_report = report  # type: ignore[attr-defined]
    set_attention(model.model, attn_implementation)
    return model


def build_pixelgpt(config: ErniePixelConfig, head: str = "sequence_classification", *,
                   attn_implementation: str | None = "sdpa", **head_kwargs: Any) -> nn.Module:
    """A randomly initialised model (from scratch)."""
    if head not in HEAD_CLASSES:
        raise ConfigError(f"unknown PixelGPT head {head!r}; choose one of {sorted(HEAD_CLASSES)}")
    model = HEAD_CLASSES[head](config, **head_kwargs)
    set_attention(model.model, attn_implementation)
    return model
