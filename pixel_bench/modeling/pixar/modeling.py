"""Thesis PIXAR networks: ViT encoder over unmasked 8x8 patches + GPT-2 decoder with
cross-attention, patch-wise next-patch prediction with focal loss (thesis §3.2-3.3, Table A.1;
the sections quoted below are recorded in docs/models-pixar.md).

Layout (one strip ``[B, 1, 8, 8N]``, 1 = white):

* ``pixar.embeddings.patch_embeddings.projection``: Conv2d(1 -> D, kernel = stride = 8), the
  **one** patch embedding of the model: the encoder embeds the strip with it, and the decoder
  embeds its previous patches with the very same module (§3.2.3 "the shared 2D convolution
  layer from the encoder").
* encoder: conv + PIXEL's fixed 2-D sin-cos table (§3.2.2 "Following PIXEL, we add fixed
  sinusoidal positional embeddings"; 529 = 23x23 grid), no CLS (§3.2.2), only the kept
  (unmasked) patches (MAE-style gather), PIXEL's pre-LN ViT layers (reused from
  :mod:`pixel_bench.modeling.pixel.encoder`, SDPA), final LayerNorm (eps 1e-12).
* decoder: transformers' ``GPT2Model`` with ``add_cross_attention=True`` (GPT-2 blocks, learned
  positions, causal SDPA, KV cache); its token table is unused (vocab 1, frozen): inputs are
  ``[START, embed(x_1) … embed(x_{N-1})]`` with a learned START vector of decoder width (§3.2.3
  "dummy head"), teacher forcing with gold patches.
* ``pixel_head``: Linear(D -> 64), the logits of the 64 pixels of the next patch (§3.2.3).

Loss: focal loss (eq. 3.3), alpha 0.3 for the positive class (pixel value 1), gamma 2, on every
pixel of every non-padding patch (attention mask = text + EOS), whole sequence, not only the
masked patches (§3.3). Grey input: the same focal loss with the grey values as soft labels
(default; ``grey_loss="mse"`` offers MSE on sigmoid outputs) — see docs/models-pixar.md.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from transformers import GPT2Config, GPT2Model, PreTrainedModel
from transformers.modeling_outputs import (ModelOutput, QuestionAnsweringModelOutput,
                                           SequenceClassifierOutput, TokenClassifierOutput)

from ...errors import ConfigError
from ..masking import make_patch_mask, num_masked_by_model
from ..pixel.config import PIXELConfig
from ..pixel.encoder import PIXELEncoder, extended_attention_mask, init_patch_projection
from ..pixel.heads import PIXELPoolingHead, parse_pooling_mode
from ..pixel.positions import sincos_table
from .config import PixarConfig


@functools.lru_cache(maxsize=None)
def _cache_keyword(decoder_cls: type) -> str:
    """The key/value-cache keyword of ``decoder_cls.forward``: ``cache`` in recent transformers,
    ``past_key_values`` before the rename."""
    params = inspect.signature(decoder_cls.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


# -- loss ---------------------------------------------------------------------------------------
def focal_loss(logits: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor | None = None,
               alpha: float = 0.3, gamma: float = 2.0, reduction: str = "mean") -> torch.Tensor:
    """Sigmoid focal loss (Lin et al. 2018; thesis eq. 3.3) per pixel.

    ``p = sigmoid(logit)``, ``p_t = p`` where the target is 1 else ``1 - p`` (soft targets
    interpolate), ``alpha_t = alpha`` for the positive class (value 1 = white) else
    ``1 - alpha``, loss ``= -alpha_t (1 - p_t)^gamma log p_t`` (``log p_t`` taken as the BCE with
    logits, numerically stable). ``weight`` [B, N] (1 = counted patch) broadcasts over the
    patch's pixels. ``mean`` divides by the number of counted pixels; ``sum`` is eq. 3.3;
    ``none`` returns the per-pixel losses.
    """
    targets = targets.to(logits.dtype)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p = torch.sigmoid(logits)
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    if reduction == "none":
        return loss
    if weight is not None:
        w = weight.to(loss.dtype)
        w = w.reshape(w.shape + (1,) * (loss.dim() - w.dim()))
        loss = loss * w
        count = (w.expand_as(loss)).sum()
    else:
        count = torch.tensor(float(loss.numel()), device=loss.device, dtype=loss.dtype)
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / count.clamp(min=1.0)


# -- geometry -----------------------------------------------------------------------------------
def patchify(pixel_values: torch.Tensor, patch_size: int) -> torch.Tensor:
    """``[B, C, p, p*N]`` -> ``[B, N, p*p*C]`` (per patch: row, column, channel)."""
    b, c, h, w = pixel_values.shape
    if h != patch_size or w % patch_size:
        raise ValueError(f"pixel_values must be [B, C, {patch_size}, {patch_size}*N], got "
                         f"{tuple(pixel_values.shape)}")
    n = w // patch_size
    x = pixel_values.reshape(b, c, patch_size, n, patch_size)
    return x.permute(0, 3, 2, 4, 1).reshape(b, n, patch_size * patch_size * c)


def unpatchify(patches: torch.Tensor, patch_size: int, num_channels: int = 1) -> torch.Tensor:
    """``[B, N, p*p*C]`` -> ``[B, C, p, p*N]``."""
    b, n, _ = patches.shape
    x = patches.reshape(b, n, patch_size, patch_size, num_channels)
    return x.permute(0, 4, 2, 1, 3).reshape(b, num_channels, patch_size, n * patch_size)


def pixel_config_for(config: PixarConfig) -> PIXELConfig:
    """The PIXEL encoder settings of a PIXAR config (to reuse PIXEL's layers and pooler)."""
    return PIXELConfig(hidden_size=config.hidden_size, num_hidden_layers=config.num_hidden_layers,
                       num_attention_heads=config.num_attention_heads,
                       intermediate_size=config.intermediate_size, hidden_act=config.hidden_act,
                       hidden_dropout_prob=config.hidden_dropout_prob,
                       attention_probs_dropout_prob=config.attention_probs_dropout_prob,
                       initializer_range=config.initializer_range,
                       layer_norm_eps=config.layer_norm_eps,
                       image_size=(config.patch_size, config.patch_size * config.num_patches),
                       patch_size=config.patch_size, num_channels=config.num_channels,
                       qkv_bias=config.qkv_bias)


def gpt2_config_for(config: PixarConfig) -> GPT2Config:
    """GPT-2 decoder settings: Table A.1 widths, GeLU (erf), LayerNorm eps 1e-12, dropout 0.1."""
    cfg = GPT2Config(vocab_size=1, n_positions=config.num_patches,
                     n_embd=config.decoder_hidden_size, n_layer=config.decoder_num_hidden_layers,
                     n_head=config.decoder_num_attention_heads,
                     n_inner=config.decoder_intermediate_size,
                     activation_function=config.hidden_act,
                     resid_pdrop=config.hidden_dropout_prob,
                     embd_pdrop=config.hidden_dropout_prob,
                     attn_pdrop=config.attention_probs_dropout_prob,
                     layer_norm_epsilon=config.layer_norm_eps,
                     initializer_range=config.initializer_range, add_cross_attention=True,
                     use_cache=True, bos_token_id=None, eos_token_id=None)
    cfg._attn_implementation = "sdpa"
    return cfg


# -- modules ------------------------------------------------------------------------------------
class PixarPatchEmbeddings(nn.Module):
    """Conv2d(C -> D, kernel = stride = patch): strip -> ``[B, N, D]``; also embeds flat patches."""

    def __init__(self, config: PixarConfig) -> None:
        super().__init__()
        self.patch_size = config.patch_size
        self.num_channels = config.num_channels
        self.projection = nn.Conv2d(config.num_channels, config.hidden_size,
                                    kernel_size=config.patch_size, stride=config.patch_size)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        if pixel_values.dim() != 4 or pixel_values.shape[1] != self.num_channels:
            raise ValueError(f"pixel_values must be [B, {self.num_channels}, {self.patch_size}, W],"
                             f" got {tuple(pixel_values.shape)}")
        x = pixel_values.to(self.projection.weight.dtype)
        return self.projection(x).flatten(2).transpose(1, 2)

    def embed_patches(self, patches: torch.Tensor) -> torch.Tensor:
        """``[B, K, p*p*C]`` flat patches (the decoder's predictions) -> ``[B, K, D]``."""
        return self(unpatchify(patches, self.patch_size, self.num_channels))


class PixarEmbeddings(nn.Module):
    """The shared patch embedding plus the encoder's fixed sin-cos positions (no CLS)."""

    def __init__(self, config: PixarConfig) -> None:
        super().__init__()
        self.patch_embeddings = PixarPatchEmbeddings(config)
        # PIXEL's 2-D sin-cos table (23x23 for 529), CLS row dropped; fixed, recomputed on load
        self.register_buffer("position_embeddings",
                             sincos_table(config.hidden_size, config.num_patches)[:, 1:],
                             persistent=False)

    def init_pixar_weights(self, config: PixarConfig) -> None:
        init_patch_projection(self.patch_embeddings.projection.weight)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        patches = self.patch_embeddings(pixel_values)
        n = patches.shape[1]
        if n > self.position_embeddings.shape[1]:
            raise ValueError(f"input has {n} patches but the model has positions for "
                             f"{self.position_embeddings.shape[1]} (config.num_patches)")
        return patches + self.position_embeddings[:, :n].to(patches.dtype)


class PixarPreTrainedModel(PreTrainedModel):
    config_class = PixarConfig
    config: PixarConfig
    base_model_prefix = "pixar"
    main_input_name = "pixel_values"
    supports_gradient_checkpointing = True
    _no_split_modules = ["PIXELLayer", "GPT2Block"]
    _supports_sdpa = True

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        for hook_name in ("init_pixar_weights", "init_pixel_weights"):
            hook = getattr(module, hook_name, None)
            if hook is not None:
                hook(pixel_config_for(self.config) if hook_name == "init_pixel_weights"
                     else self.config)


@dataclass
class PixarEncoderOutput(ModelOutput):
    last_hidden_state: torch.Tensor | None = None  # [B, K, D] kept patches, positional order
    attention_mask: torch.Tensor | None = None  # [B, K] attended among the kept patches
    mask: torch.Tensor | None = None  # [B, N] 1 = removed by masking
    ids_keep: torch.Tensor | None = None  # [B, K] positions of the kept patches


@dataclass
class PixarModelOutput(ModelOutput):
    last_hidden_state: torch.Tensor | None = None  # decoder (enc-dec) or encoder states [B, N, D]
    encoder_last_hidden_state: torch.Tensor | None = None
    decoder_last_hidden_state: torch.Tensor | None = None
    mask: torch.Tensor | None = None


@dataclass
class PixarPreTrainingOutput(ModelOutput):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None  # [B, N, 64] next-patch pixel logits (teacher forcing)
    mask: torch.Tensor | None = None  # [B, N] 1 = patch removed from the encoder input
    encoder_last_hidden_state: torch.Tensor | None = None
    decoder_last_hidden_state: torch.Tensor | None = None


class PixarModel(PixarPreTrainedModel):
    """Encoder (+ decoder unless ``with_decoder`` is false: the encoder-only fine-tuning model)."""

    def __init__(self, config: PixarConfig, with_decoder: bool | None = None) -> None:
        super().__init__(config)
        self.with_decoder = config.is_encoder_decoder_arch if with_decoder is None \
            else bool(with_decoder)
        self.embeddings = PixarEmbeddings(config)
        self.encoder = PIXELEncoder(pixel_config_for(config))
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        if self.with_decoder:
            self.start_embedding = nn.Parameter(torch.zeros(1, 1, config.decoder_hidden_size))
            self.decoder = GPT2Model(gpt2_config_for(config))
            self.decoder.wte.weight.requires_grad_(False)  # token table unused: inputs are patches
        self.post_init()

    def init_pixar_weights(self, config: PixarConfig) -> None:
        if self.with_decoder:
            nn.init.normal_(self.start_embedding, std=config.initializer_range)

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.patch_embeddings

    @property
    def patch_embeddings(self) -> PixarPatchEmbeddings:
        return self.embeddings.patch_embeddings

    # -- encoder --------------------------------------------------------------------------------
    def num_masked(self, num_patches: int) -> int:
        if self.config.masking == "none":
            return 0
        return num_masked_by_model(num_patches, self.config.mask_ratio)

    def encode(self, pixel_values: torch.Tensor, attention_mask: torch.Tensor | None = None,
               patch_mask: torch.Tensor | None = None) -> PixarEncoderOutput:
        """Embed, drop the masked patches (``patch_mask`` 1 = masked; completed to the model's
        exact count like PIXEL: ``mask + U[0, 0.01)`` sorted), run the ViT over the rest."""
        emb = self.embeddings(pixel_values)
        b, n, d = emb.shape
        if attention_mask is None:
            attention_mask = torch.ones(b, n, device=emb.device)
        if attention_mask.shape != (b, n):
            raise ValueError(f"attention_mask has shape {tuple(attention_mask.shape)}; expected "
                             f"{(b, n)} (one value per patch)")
        attention_mask = attention_mask.to(emb.device)
        n_masked = self.num_masked(n) if patch_mask is not None else 0
        if n_masked:
            if patch_mask.shape != (b, n):
                raise ValueError(f"patch_mask has shape {tuple(patch_mask.shape)}; expected {(b, n)}")
            noise = patch_mask.to(emb.device, torch.float32) + torch.rand(
                b, n, device=emb.device) / 100
            ids_keep = torch.argsort(noise, dim=1)[:, : n - n_masked]
            ids_keep = torch.sort(ids_keep, dim=1).values  # keep positional order
            kept = torch.gather(emb, 1, ids_keep.unsqueeze(-1).expand(-1, -1, d))
            kept_mask = torch.gather(attention_mask, 1, ids_keep)
            mask = torch.ones(b, n, device=emb.device)
            mask.scatter_(1, ids_keep, 0.0)
        else:
            ids_keep = torch.arange(n, device=emb.device).expand(b, n)
            kept, kept_mask = emb, attention_mask
            mask = torch.zeros(b, n, device=emb.device)
        out = self.encoder(kept, extended_attention_mask(kept_mask, kept.dtype))
        return PixarEncoderOutput(last_hidden_state=self.layernorm(out.last_hidden_state),
                                  attention_mask=kept_mask, mask=mask, ids_keep=ids_keep)

    # -- decoder --------------------------------------------------------------------------------
    def decoder_inputs(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: ``[START, embed(x_1) … embed(x_{N-1})]`` with the shared conv."""
        gold = self.patch_embeddings(pixel_values)
        start = self.start_embedding.to(gold.dtype).expand(gold.shape[0], -1, -1)
        return torch.cat([start, gold[:, :-1]], dim=1)

    def decode(self, inputs_embeds: torch.Tensor, encoder: PixarEncoderOutput,
               past_key_values: Any = None, use_cache: bool = False) -> Any:
        if not self.with_decoder:
            raise ValueError("this PIXAR model was built without its decoder (encoder-only)")
        if inputs_embeds.shape[1] + (past_key_values.get_seq_length()
                                     if past_key_values is not None else 0) \
                > self.config.num_patches:
            raise ValueError(f"the decoder has positions for {self.config.num_patches} patches")
        # The decoder is purely causal: padding is trailing, so a query at a real patch never
        # sees a padding key; padded positions are excluded from every loss and pooling.
        # transformers renamed GPT2Model.forward's `past_key_values` to `cache` (the old name is
        # deprecated, to be removed in 5.40): pass whichever this version takes
        cache_kw = _cache_keyword(type(self.decoder))
        return self.decoder(inputs_embeds=inputs_embeds,
                            encoder_hidden_states=encoder.last_hidden_state,
                            encoder_attention_mask=encoder.attention_mask.long(),
                            use_cache=use_cache, **{cache_kw: past_key_values})

    def forward(self, pixel_values: torch.Tensor, attention_mask: torch.Tensor | None = None,
                patch_mask: torch.Tensor | None = None, **kwargs: Any) -> PixarModelOutput:
        """Fine-tuning forward (no masking unless ``patch_mask`` is given): decoder states for
        encoder-decoder models (thesis §3.4), encoder states for encoder-only ones (§4.5)."""
        enc = self.encode(pixel_values, attention_mask, patch_mask)
        if not self.with_decoder:
            return PixarModelOutput(last_hidden_state=enc.last_hidden_state,
                                    encoder_last_hidden_state=enc.last_hidden_state, mask=enc.mask)
        dec = self.decode(self.decoder_inputs(pixel_values), enc).last_hidden_state
        return PixarModelOutput(last_hidden_state=dec, encoder_last_hidden_state=enc.last_hidden_state,
                                decoder_last_hidden_state=dec, mask=enc.mask)


def _seeded_numpy_rng() -> np.random.Generator:
    """A numpy Generator drawn from torch's global RNG, so ``set_seed`` makes masks reproducible."""
    return np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,)).item()))


class PixarForPreTraining(PixarPreTrainedModel):
    """The thesis objective: reconstruct the whole strip patch by patch from a masked encoder
    input (encoder-only variants pretrain exactly like this too: thesis §4.5)."""

    def __init__(self, config: PixarConfig) -> None:
        super().__init__(config)
        self.pixar = PixarModel(config, with_decoder=True)
        self.pixel_head = nn.Linear(config.decoder_hidden_size, config.patch_dim)
        self.post_init()

    def patchify(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return patchify(pixel_values, self.config.patch_size)

    def unpatchify(self, patches: torch.Tensor) -> torch.Tensor:
        return unpatchify(patches, self.config.patch_size, self.config.num_channels)

    def make_patch_mask(self, attention_mask: torch.Tensor,
                        rng: np.random.Generator | None = None) -> torch.Tensor:
        """The config's masking for a batch (text + EOS counts bound the first span)."""
        rng = rng if rng is not None else _seeded_numpy_rng()
        n = attention_mask.shape[1]
        rows = [make_patch_mask(self.config.masking, n, self.config.mask_ratio,
                                max(int(a), 1), rng, self.config.max_span_length,
                                self.config.cumulative_span_weights)
                for a in attention_mask.sum(dim=1).tolist()]
        return torch.as_tensor(np.stack(rows), device=attention_mask.device, dtype=torch.float32)

    def loss_fn(self, logits: torch.Tensor, targets: torch.Tensor,
                weight: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        if cfg.input_type == "grey" and cfg.grey_loss == "mse":
            err = (torch.sigmoid(logits) - targets.to(logits.dtype)) ** 2
            w = weight.to(err.dtype).unsqueeze(-1)
            return (err * w).sum() / (w.expand_as(err).sum().clamp(min=1.0))
        return focal_loss(logits.float(), targets.float(), weight, cfg.focal_alpha,
                          cfg.focal_gamma, cfg.focal_reduction)

    def forward(self, pixel_values: torch.Tensor, attention_mask: torch.Tensor | None = None,
                patch_mask: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                **kwargs: Any) -> PixarPreTrainingOutput:
        """``pixel_values`` float [B, 1, 8, 8N] in [0, 1]; ``attention_mask`` [B, N] (text + EOS);
        ``patch_mask`` [B, N] 1 = masked (drawn from the config's masking when None);
        ``labels`` target strip (defaults to ``pixel_values``). Loss over all non-padding
        patches."""
        b = pixel_values.shape[0]
        n = pixel_values.shape[-1] // self.config.patch_size
        if attention_mask is None:
            attention_mask = torch.ones(b, n, device=pixel_values.device)
        if patch_mask is None and self.config.masking != "none":
            patch_mask = self.make_patch_mask(attention_mask)
        enc = self.pixar.encode(pixel_values, attention_mask, patch_mask)
        dec = self.pixar.decode(self.pixar.decoder_inputs(pixel_values), enc).last_hidden_state
        logits = self.pixel_head(dec)
        target = self.patchify(labels if labels is not None else pixel_values)
        loss = self.loss_fn(logits, target, attention_mask)
        return PixarPreTrainingOutput(loss=loss, logits=logits, mask=enc.mask,
                                      encoder_last_hidden_state=enc.last_hidden_state,
                                      decoder_last_hidden_state=dec)

    @torch.no_grad()
    def next_patch_logits(self, pixel_values: torch.Tensor,
                          attention_mask: torch.Tensor | None = None,
                          patch_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher-forced next-patch logits ``[B, N, 64]``; the encoder is masked only when
        ``patch_mask`` is given (no masking is drawn here, unlike :meth:`forward`)."""
        enc = self.pixar.encode(pixel_values, attention_mask, patch_mask)
        dec = self.pixar.decode(self.pixar.decoder_inputs(pixel_values), enc).last_hidden_state
        return self.pixel_head(dec)

    # -- generation -----------------------------------------------------------------------------
    def logits_to_pixels(self, logits: torch.Tensor) -> torch.Tensor:
        """Binary: ``sigmoid > 0.5`` as 0/1 (thesis generation); grey: the probabilities."""
        probs = torch.sigmoid(logits.float())
        return (probs > 0.5).to(probs.dtype) if self.config.input_type == "binary" else probs

    @torch.no_grad()
    def generate(self, prompt_pixels: torch.Tensor, prompt_num_patches: int, n_new_patches: int,
                 encoder_attention_mask: torch.Tensor | None = None,
                 patch_mask: torch.Tensor | None = None, use_cache: bool = True) -> torch.Tensor:
        """Greedy patch-by-patch generation; returns the new patches ``[B, n_new, 64]``.

        The encoder reads ``prompt_pixels`` (attending ``encoder_attention_mask``, default the
        first ``prompt_num_patches`` patches; optionally masked by ``patch_mask``); the decoder
        consumes START and the first ``prompt_num_patches`` gold patches, then feeds each
        predicted patch (thresholded at 0.5 for binary models, grey kept) back through the
        shared patch embedding. ``use_cache`` keeps GPT-2's key/value cache.
        """
        b, _, _, w = prompt_pixels.shape
        n = w // self.config.patch_size
        p = int(prompt_num_patches)
        if not 0 <= p <= n:
            raise ValueError(f"prompt_num_patches={p} is outside the strip's {n} patches")
        if p + n_new_patches > self.config.num_patches:
            raise ValueError(f"prompt ({p}) + new patches ({n_new_patches}) exceed the decoder's "
                             f"{self.config.num_patches} positions")
        if encoder_attention_mask is None:
            if p == 0:
                raise ValueError("nothing for the encoder to read: give prompt_num_patches > 0 "
                                 "or an encoder_attention_mask")
            encoder_attention_mask = torch.zeros(b, n, device=prompt_pixels.device)
            encoder_attention_mask[:, :p] = 1
        enc = self.pixar.encode(prompt_pixels, encoder_attention_mask, patch_mask)
        start = self.pixar.start_embedding.expand(b, -1, -1)
        prompt = self.pixar.patch_embeddings(prompt_pixels)[:, :p]
        inputs = torch.cat([start.to(prompt.dtype), prompt], dim=1)
        new: list[torch.Tensor] = []
        past = None
        for _step in range(n_new_patches):
            out = self.pixar.decode(inputs, enc, past_key_values=past, use_cache=use_cache)
            patch = self.logits_to_pixels(self.pixel_head(out.last_hidden_state[:, -1:]))
            new.append(patch)
            emb = self.pixar.patch_embeddings.embed_patches(patch)
            if use_cache:
                past, inputs = out.past_key_values, emb
            else:
                inputs = torch.cat([inputs, emb], dim=1)
        if not new:
            return prompt_pixels.new_zeros(b, 0, self.config.patch_dim)
        return torch.cat(new, dim=1)

    @torch.no_grad()
    def reconstruction_images(self, pixel_values: torch.Tensor,
                              attention_mask: torch.Tensor | None = None,
                              patch_mask: torch.Tensor | None = None,
                              generate: bool = True) -> dict[str, np.ndarray]:
        """Thesis Figure 3.3 rows for the first example, as uint8 ``[8, W]`` arrays (255 = white):
        ``input``, ``masked input`` (masked patches grey), ``prediction`` (teacher-forced
        next-patch prediction) and ``generation`` (free-running from START, encoder reading the
        masked input, as many patches as are attended)."""
        was_training = self.training
        self.eval()
        try:
            x = pixel_values[:1].float()
            n = x.shape[-1] // self.config.patch_size
            am = (attention_mask[:1] if attention_mask is not None
                  else torch.ones(1, n, device=x.device)).to(x.device)
            if patch_mask is None and self.config.masking != "none":
                patch_mask = self.make_patch_mask(am, np.random.default_rng(0))
            pm = patch_mask[:1].to(x.device) if patch_mask is not None else None
            out = self(x, am, patch_mask=pm)
            mask = out.mask[0].cpu().numpy()
            to_u8 = lambda t: (t[0].mean(0).clamp(0, 1).cpu().numpy() * 255).round().astype(np.uint8)  # noqa: E731
            img = to_u8(x)
            masked = img.copy()
            p = self.config.patch_size
            for i in np.flatnonzero(mask):
                masked[:, i * p:(i + 1) * p] = 160
            rows = {"input": img, "masked input": masked,
                    "prediction": to_u8(self.unpatchify(self.logits_to_pixels(out.logits)))}
            if generate:
                k = max(int(am.sum().item()), 1)
                gen = self.generate(x, 0, k, encoder_attention_mask=am, patch_mask=pm)
                full = torch.ones(1, n, self.config.patch_dim, device=x.device)
                full[:, :k] = gen
                rows["generation"] = to_u8(self.unpatchify(full))
            return rows
        finally:
            self.train(was_training)

    def reconstruction_rows(self, pixel_values: torch.Tensor,
                            attention_mask: torch.Tensor | None = None,
                            patch_mask: torch.Tensor | None = None,
                            **_: Any) -> list[tuple[str, np.ndarray]]:
        """The ``pretrain`` progress-picture hook: labelled Figure 3.3 rows."""
        images = self.reconstruction_images(pixel_values, attention_mask, patch_mask)
        labels = {"prediction": "next-patch prediction (teacher forcing)",
                  "generation": "free-running generation"}
        return [(labels.get(k, k), v) for k, v in images.items()]


# -- fine-tuning heads --------------------------------------------------------------------------
class _PixarHeadModel(PixarPreTrainedModel):
    def __init__(self, config: PixarConfig) -> None:
        super().__init__(config)
        self.pixar = PixarModel(config)

    def _hidden(self, pixel_values: torch.Tensor, attention_mask: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.pixar(pixel_values, attention_mask)
        hidden = out.last_hidden_state
        mask = attention_mask if attention_mask is not None else torch.ones(
            hidden.shape[:2], device=hidden.device)
        return hidden, mask.to(hidden.device)


class PixarForSequenceClassification(_PixarHeadModel):
    """PIXEL's pooler (Linear -> GELU -> LayerNorm -> Dropout -> masked mean/max/PMA) over the
    last decoder (encoder-only: encoder) states, then ``classifier`` (thesis §3.4). Loss: MSE
    for one label / regression, CE for single-label, BCE for multi-label."""

    def __init__(self, config: PixarConfig, pooling_mode: str | None = None,
                 add_layer_norm: bool | None = None) -> None:
        super().__init__(config)
        mode = pooling_mode or getattr(config, "pooling_mode", "mean")
        kind, _ = parse_pooling_mode(mode)
        if kind == "cls":
            raise ConfigError("thesis PIXAR has no CLS token: use mean, max or pma<K> pooling")
        ln = getattr(config, "add_layer_norm", True) if add_layer_norm is None else add_layer_norm
        config.pooling_mode, config.add_layer_norm = mode, bool(ln)  # saved with the model
        self.pooler = PIXELPoolingHead(pixel_config_for(config), mode, bool(ln))
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, pixel_values: torch.Tensor, attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, **kwargs: Any) -> SequenceClassifierOutput:
        hidden, mask = self._hidden(pixel_values, attention_mask)
        logits = self.classifier(self.pooler(hidden, mask))
        loss = None
        if labels is not None:
            cfg = self.config
            if cfg.problem_type is None:
                cfg.problem_type = ("regression" if cfg.num_labels == 1 else
                                    "single_label_classification"
                                    if labels.dtype in (torch.long, torch.int) else
                                    "multi_label_classification")
            if cfg.problem_type == "regression":
                loss = F.mse_loss(logits.squeeze(-1), labels.to(logits.dtype).reshape(-1)) \
                    if cfg.num_labels == 1 else F.mse_loss(logits, labels.to(logits.dtype))
            elif cfg.problem_type == "single_label_classification":
                loss = F.cross_entropy(logits.view(-1, cfg.num_labels), labels.view(-1))
            else:
                loss = F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
        return SequenceClassifierOutput(loss=loss, logits=logits)


class PixarForTokenClassification(_PixarHeadModel):
    """Dropout + ``classifier`` on every position; labels only at each word's first patch
    (-100 elsewhere), CE (thesis §3.4)."""

    def __init__(self, config: PixarConfig, dropout: float | None = None) -> None:
        super().__init__(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob if dropout is None else dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, pixel_values: torch.Tensor, attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, **kwargs: Any) -> TokenClassifierOutput:
        hidden, _ = self._hidden(pixel_values, attention_mask)
        logits = self.classifier(self.dropout(hidden))
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                   ignore_index=-100)
        return TokenClassifierOutput(loss=loss, logits=logits)


class PixarForQuestionAnswering(_PixarHeadModel):
    """``qa_outputs`` Linear(D, 2) -> start/end logits over the N positions (thesis §3.4). There
    is no CLS, so a window without the answer (target index N) is left out of the loss
    (positions clamped to [0, N], ``ignore_index`` N), as transformers' QA heads do."""

    def __init__(self, config: PixarConfig) -> None:
        super().__init__(config)
        self.qa_outputs = nn.Linear(config.hidden_size, 2)
        self.post_init()

    def forward(self, pixel_values: torch.Tensor, attention_mask: torch.Tensor | None = None,
                start_positions: torch.Tensor | None = None,
                end_positions: torch.Tensor | None = None,
                **kwargs: Any) -> QuestionAnsweringModelOutput:
        hidden, _ = self._hidden(pixel_values, attention_mask)
        start, end = self.qa_outputs(hidden).unbind(-1)
        start, end = start.contiguous(), end.contiguous()
        loss = None
        if start_positions is not None and end_positions is not None:
            n = start.shape[1]
            s = start_positions.reshape(-1).clamp(0, n)
            e = end_positions.reshape(-1).clamp(0, n)
            loss = (F.cross_entropy(start, s, ignore_index=n)
                    + F.cross_entropy(end, e, ignore_index=n)) / 2
        return QuestionAnsweringModelOutput(loss=loss, start_logits=start, end_logits=end)


HEAD_CLASSES = {"pretraining": PixarForPreTraining,
                "sequence_classification": PixarForSequenceClassification,
                "token_classification": PixarForTokenClassification,
                "question_answering": PixarForQuestionAnswering}


def num_parameters(module: nn.Module) -> int:
    """Distinct parameters (the shared conv counted once)."""
    return sum(p.numel() for p in {id(p): p for p in module.parameters()}.values())


__all__ = ["PixarModel", "PixarForPreTraining", "PixarForSequenceClassification",
           "PixarForTokenClassification", "PixarForQuestionAnswering", "focal_loss", "patchify",
           "unpatchify", "HEAD_CLASSES"]
