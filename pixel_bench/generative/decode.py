"""Greedy generation with a KV cache, batched, for every model family that generates.

Pixel generators continue shifted prompts (:mod:`.prompts`) by whole model positions. Batches
are **left-padded** (white pixels, attention mask 0) with explicit position ids, so every row's
prompt ends at the same column and one cached step serves the whole batch; a row's result equals
its unbatched generation (``tests/generative/test_decode.py``).

* PIXAR-2024: PIXAR's ``autoregressive_generate`` with a cache: the block predicted at the last
  prompt position is ``sigmoid(logit / temperature)``, thresholded at ``threshold`` (mode
  ``threshold``), kept grey (``gray``) or sampled (``bernoulli``), and fed back. The original
  reruns the full sequence each step and writes over the EOS block; a causal model's outputs at
  earlier positions never see that block, so the result is the same.
* thesis PIXAR: encoder over the prompt + black EOS patch (as in training), GPT-2 decoder over
  START + the prompt's patches, then each predicted 8x8 patch (binary: > 0.5) fed back.
* PixelGPT / MonoGPT / DualGPT (pixel mode): ``lm_pixel_head`` predicts a *per-patch normalised*
  16x16 patch (its pretraining target, ``norm_pix_loss``); pixel-bench maps it back to pixels with
  the mean and standard deviation of the prompt's own patches (the original has no pixel
  generation; this choice is ours) and clamps to [0, 1] (binary render mode: > 0.5).
* text baselines (GPT-2 style): ``model.generate`` greedy, left padding, a few new tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ..errors import ConfigError


@dataclass
class PixelGeneratorBase:
    """Common batching; subclasses implement :meth:`_generate_batch`."""

    model: Any
    block: int  # pixels per model position (horizontally)
    channels: int
    height: int
    device: str = "cpu"
    kind: str = "pixels"

    def positions_for(self, pixels: int) -> int:
        """Model positions covering ``pixels`` generated columns."""
        return -(-int(pixels) // self.block)

    @torch.no_grad()
    def generate(self, prompts: Sequence[np.ndarray], n_new: int, batch_size: int = 16
                 ) -> list[np.ndarray]:
        """New pixels per prompt: float32 [C, H, n_new * block] in [0, 1]. Prompts are sorted by
        length so batches pad little; results come back in input order."""
        order = sorted(range(len(prompts)), key=lambda i: -prompts[i].shape[-1])
        out: list[np.ndarray | None] = [None] * len(prompts)
        for start in range(0, len(order), max(1, int(batch_size))):
            idx = order[start:start + batch_size]
            new = self._generate_batch([prompts[i] for i in idx], n_new)
            for j, i in enumerate(idx):
                out[i] = new[j]
        return out  # type: ignore[return-value]

    def _left_pad(self, prompts: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = [p.shape[-1] // self.block for p in prompts]
        longest = max(lengths)
        x = torch.ones(len(prompts), self.channels, self.height, longest * self.block)
        mask = torch.zeros(len(prompts), longest, dtype=torch.long)
        for i, (p, n) in enumerate(zip(prompts, lengths)):
            if p.shape[0] != self.channels or p.shape[1] != self.height:
                raise ConfigError(f"prompt strip {tuple(p.shape)} does not fit a "
                                  f"[{self.channels}, {self.height}, W] model input")
            x[i, ..., (longest - n) * self.block:] = torch.as_tensor(p[..., : n * self.block])
            mask[i, longest - n:] = 1
        return x.to(self.device), mask.to(self.device)

    def _generate_batch(self, prompts: Sequence[np.ndarray], n_new: int) -> list[np.ndarray]:
        raise NotImplementedError


def _positions(mask: torch.Tensor) -> torch.Tensor:
    return (mask.cumsum(-1) - 1).clamp(min=0)


def _llama_loop(trunk: Any, embed: Callable[[torch.Tensor], torch.Tensor],
                head: Callable[[torch.Tensor, int], torch.Tensor], x: torch.Tensor,
                mask: torch.Tensor, n_new: int) -> torch.Tensor:
    """Prefill, then one cached step per new position; returns [B, C, H, n_new * block]."""
    from transformers import DynamicCache, LlamaModel

    pos = _positions(mask)
    cache = DynamicCache()
    out = LlamaModel.forward(trunk, inputs_embeds=embed(x), attention_mask=mask,
                             position_ids=pos, cache=cache, use_cache=True)
    blocks = []
    for step in range(n_new):
        blk = head(out.last_hidden_state[:, -1:], step)
        blocks.append(blk)
        if step == n_new - 1:
            break
        mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=1)
        pos = pos[:, -1:] + 1
        out = LlamaModel.forward(trunk, inputs_embeds=embed(blk), attention_mask=mask,
                                 position_ids=pos, cache=cache, use_cache=True)
    return torch.cat(blocks, dim=-1)


GENERATION_MODES = ("threshold", "gray", "bernoulli")


@dataclass
class Pixar2024Generator(PixelGeneratorBase):
    mode: str = "threshold"
    temperature: float = 1.0
    threshold: float = 0.5
    seed: int = 0

    def _generate_batch(self, prompts: Sequence[np.ndarray], n_new: int) -> list[np.ndarray]:
        m = self.model
        x, mask = self._left_pad(prompts)
        gen = torch.Generator(device="cpu").manual_seed(self.seed)

        def embed(img: torch.Tensor) -> torch.Tensor:
            return m.in_proj(img.float() * 2 - 1).flatten(2).transpose(1, 2)

        def head(h: torch.Tensor, _step: int) -> torch.Tensor:
            b, n, d = h.shape
            logits = m.out_proj(h.transpose(1, 2).reshape(b, d, 1, n))
            prob = torch.sigmoid(logits.float() / self.temperature)
            if self.mode == "threshold":
                return (prob > self.threshold).float()
            if self.mode == "bernoulli":
                return torch.bernoulli(prob.cpu(), generator=gen).to(prob.device)
            return prob

        new = _llama_loop(m, embed, head, x, mask, n_new)
        return [new[i].float().cpu().numpy() for i in range(new.shape[0])]


@dataclass
class PixelGPTGenerator(PixelGeneratorBase):
    binary: bool = False

    def _generate_batch(self, prompts: Sequence[np.ndarray], n_new: int) -> list[np.ndarray]:
        m = self.model
        p, c = self.block, self.channels
        x, mask = self._left_pad(prompts)
        # per-row pixel statistics of the prompt's real patches, to undo the per-patch norm
        patches = x.unfold(-1, p, p)  # [B, C, H, N, p]
        per_patch = patches.permute(0, 3, 1, 2, 4).reshape(x.shape[0], -1, c * p * p)
        real = mask.bool()
        means = per_patch.mean(-1)
        stds = per_patch.std(-1)
        w = real.float()
        ref_mean = (means * w).sum(1, keepdim=True) / w.sum(1, keepdim=True)
        ref_std = (stds * w).sum(1, keepdim=True) / w.sum(1, keepdim=True)

        def embed(img: torch.Tensor) -> torch.Tensor:
            return m.model.embed_patches(img.float())

        def head(h: torch.Tensor, _step: int) -> torch.Tensor:
            pred = m.lm_pixel_head(h)[:, 0].float()  # [B, p*p*C] in MAE's (p, q, c) order
            pix = pred * ref_std + ref_mean
            blk = pix.reshape(-1, p, p, c).permute(0, 3, 1, 2).clamp(0, 1)
            return (blk > 0.5).float() if self.binary else blk

        new = _llama_loop(m.model, embed, head, x, mask, n_new)
        return [new[i].float().cpu().numpy() for i in range(new.shape[0])]


@dataclass
class PixarThesisGenerator(PixelGeneratorBase):
    left_cropped: int = 0  # prompts longer than the position tables allow (tail kept)

    def _generate_batch(self, prompts: Sequence[np.ndarray], n_new: int) -> list[np.ndarray]:
        m = self.model
        cfg = m.config
        p = self.block
        if n_new >= cfg.num_patches:
            raise ConfigError(f"{n_new} new patches do not fit the thesis PIXAR's "
                              f"{cfg.num_patches} decoder positions")
        # fixed position tables: keep each prompt's last num_patches - n_new patches
        room = cfg.num_patches - n_new
        self.left_cropped += sum(q.shape[-1] // p > room for q in prompts)
        prompts = [q[..., -room * p:] if q.shape[-1] // p > room else q for q in prompts]
        lengths = [q.shape[-1] // p for q in prompts]
        longest = max(lengths)
        b = len(prompts)
        # encoder input: right-padded prompt + black EOS patch, attention over text + EOS
        enc_x = torch.ones(b, self.channels, self.height, (longest + 1) * p)
        enc_mask = torch.zeros(b, longest + 1)
        for i, (q, n) in enumerate(zip(prompts, lengths)):
            enc_x[i, ..., : n * p] = torch.as_tensor(q[..., : n * p])
            enc_x[i, ..., n * p:(n + 1) * p] = 0.0
            enc_mask[i, : n + 1] = 1
        enc = m.pixar.encode(enc_x.to(self.device), enc_mask.to(self.device))
        # decoder input: START + the prompt's patches, left-padded (START right before each
        # row's first real patch)
        x, _ = self._left_pad(prompts)
        emb = m.pixar.patch_embeddings(x)  # [B, longest, D]
        start = m.pixar.start_embedding.to(emb.dtype)[0, 0]
        inputs = emb.new_zeros(b, longest + 1, emb.shape[-1])
        mask = torch.zeros(b, longest + 1, dtype=torch.long, device=emb.device)
        for i, n in enumerate(lengths):
            s = longest - n
            inputs[i, s] = start
            inputs[i, s + 1:] = emb[i, s:]
            mask[i, s:] = 1
        pos = _positions(mask)
        dec = m.pixar.decoder
        kwargs = dict(encoder_hidden_states=enc.last_hidden_state,
                      encoder_attention_mask=enc.attention_mask.long(), use_cache=True)
        out = dec(inputs_embeds=inputs, attention_mask=mask, position_ids=pos, **kwargs)
        new = []
        for step in range(n_new):
            patch = m.logits_to_pixels(m.pixel_head(out.last_hidden_state[:, -1:]))
            new.append(patch)
            if step == n_new - 1:
                break
            mask = torch.cat([mask, mask.new_ones(b, 1)], dim=1)
            pos = pos[:, -1:] + 1
            out = dec(inputs_embeds=m.pixar.patch_embeddings.embed_patches(patch),
                      attention_mask=mask, position_ids=pos,
                      cache=out.cache, **kwargs)
        img = m.unpatchify(torch.cat(new, dim=1))  # [B, C, 8, n_new * 8]
        return [img[i].float().cpu().numpy() for i in range(b)]


@dataclass
class TextGenerator:
    """Greedy continuation of the prompt text by a causal LM (left padding, batched)."""

    model: Any
    tokenizer: Any
    device: str = "cpu"
    max_new_tokens: int = 5
    max_prompt_tokens: int = 1024
    kind: str = "text"

    @torch.no_grad()
    def generate_text(self, prompts: Sequence[str], batch_size: int = 16) -> list[str]:
        tok = self.tokenizer
        if tok.pad_token_id is None:
            raise ConfigError("the tokenizer has no pad token; set one (e.g. the EOS token)")
        out: list[str] = []
        for start in range(0, len(prompts), max(1, int(batch_size))):
            chunk = list(prompts[start:start + batch_size])
            # left padding for generation, without changing the adapter's shared tokenizer
            # (fine-tuning code tokenizes with the same object and right padding)
            side = tok.padding_side
            tok.padding_side = "left"
            try:
                enc = tok(chunk, return_tensors="pt", padding=True, truncation=True,
                          max_length=self.max_prompt_tokens)
            finally:
                tok.padding_side = side
            enc = {k: v.to(self.device) for k, v in enc.items() if k in ("input_ids",
                                                                        "attention_mask")}
            gen = self.model.generate(**enc, max_new_tokens=self.max_new_tokens, do_sample=False,
                                      num_beams=1, pad_token_id=tok.pad_token_id)
            new = gen[:, enc["input_ids"].shape[1]:]
            out.extend(tok.batch_decode(new, skip_special_tokens=True))
        return out


def pick_device(name: str | None) -> str:
    if name in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(name)


def build_text_generator(adapter: Any, checkpoint: Any, from_scratch: bool, device: str,
                         options: dict[str, Any]) -> TextGenerator:
    """A :class:`TextGenerator` for a text adapter (``models/text.py``): the tiny GPT-2 layout,
    or any causal LM from a checkpoint / hub id. Encoders (BERT, RoBERTa) cannot continue a text
    and raise ConfigError."""
    import transformers

    from ..errors import CheckpointError
    from ..modeling.text_baseline import tiny_config

    name = adapter.card.name
    if adapter.tiny_kind is not None and checkpoint is None:
        if adapter.tiny_kind != "bpe":
            raise ConfigError(f"{name} is an encoder (BERT layout): it cannot generate text; "
                              "use gpt2-tiny or a causal LM (text:<gpt-2-style model>)")
        tok = adapter.tokenizer
        config = tiny_config("bpe", len(tok), int(tok.pad_token_id))
        model = transformers.AutoModelForCausalLM.from_config(config)
    else:
        source = str(checkpoint or adapter.model)
        try:
            config = transformers.AutoConfig.from_pretrained(source)
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"cannot load a transformers config from {source}: {exc}") \
                from None
        arch = " ".join(getattr(config, "architectures", None) or [])
        if not any(k in arch for k in ("CausalLM", "LMHeadModel")):
            raise ConfigError(f"{name} ({arch or config.model_type}) is not a causal language "
                              "model, so it cannot continue a prompt; use a GPT-2-style model")
        auto = transformers.AutoModelForCausalLM
        try:
            model = auto.from_config(config) if from_scratch else auto.from_pretrained(source)
        except OSError as exc:
            raise CheckpointError(f"cannot load weights from {source}: {exc}") from None
        tok = adapter.tokenizer
    model.to(device).eval()
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.pad_token_id = tok.pad_token_id
    return TextGenerator(model, tok, device=device,
                         max_new_tokens=int(options.get("max_new_tokens", 5)),
                         max_prompt_tokens=int(options.get("max_prompt_tokens", 1024)))
