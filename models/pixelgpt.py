"""PixelGPT / MonoGPT / DualGPT adapters (``baidu/*`` checkpoints; model code in
:mod:`pixel_bench.modeling.pixelgpt`).

Registered names: ``pixelgpt`` (pixels), ``monogpt`` / ``dualgpt`` (pixels) with ``-text`` and
``-pair`` variants for the token-only and image+token modes, and ``*-tiny`` random-init versions
of the same layout for tests and CPU smoke runs.

* Pixel input: the checkpoints ship no renderer, so the adapter supplies PixelGPT's
  ``renderers/noto_renderer`` settings (PyGame, 8 pt at 120 dpi, 16 px patches, 1024 patches) with
  Noto Sans standing in for GoNotoCurrent. Recipes ask for L patches (GLUE 768, XNLI 256); the
  strip is rendered at 1024 patches and **left-cropped** to L as the original GLUE scripts do.
  Features: ``pixel_values`` float [3, 16, 16L] in [0, 1] (grey tiled to RGB; ``render_mode``
  gray / binary give one channel), ``attention_mask`` = text + EOS patches.
* Text input: the checkpoint's SentencePiece tokenizer, pad = EOS, truncation to L tokens.
* Pair input: both, pixels first (``patch_attention_mask`` + token ``attention_mask``);
  :meth:`PixelGPTAdapter.features` then needs the raw ``text`` too.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from pixel_bench.errors import CheckpointError, ConfigError, DataError
from pixel_bench.modeling.contracts import PretrainingAdapter, QAInputAdapter, TextInputAdapter
from pixel_bench.modeling.adapter import (HeadSpec, ModelAdapter, ModelCard, ModelEntry, TaskKind,
                                          checkpoint_renderer, head_overrides, stack_features)
from pixel_bench.modeling.generation import GenerativeAdapter
from pixel_bench.registry import MODELS
from pixel_bench.render.pangocairo import PangoCairoTextRenderer
from pixel_bench.render.pygame_renderer import PyGameTextRenderer

#: PixelGPT's ``renderers/noto_renderer`` settings: the PyGame renderer's "pixelgpt" layout
NOTO_RENDERER = PyGameTextRenderer.LAYOUTS["pixelgpt"]
RENDER_WIDTH = NOTO_RENDERER["max_seq_length"]  # the noto_renderer's canvas; recipes crop it

#: the golden pixelgpt-tiny layout (vocab 100, hidden 32, 2 layers, 4 heads)
TINY_CONFIG = dict(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                   num_attention_heads=4, num_key_value_heads=4, image_size=[16, 256],
                   patch_size=16, num_channels=3, pad_token_id=2, bos_token_id=1, eos_token_id=2)

#: GUESS for from-scratch builds without a checkpoint (the released config.json could not be
#: read; ~370M parameters = 1.48 GB in fp32 matches the 1.4 GB model.safetensors). The class
#: defaults of ErniePixelConfig are LLaMA-7B's, far too large for what baidu released.
BASE_CONFIG = dict(vocab_size=32000, hidden_size=1024, intermediate_size=2816,
                   num_hidden_layers=24, num_attention_heads=16, num_key_value_heads=16,
                   pad_token_id=2, bos_token_id=1, eos_token_id=2)


class PixelGPTAdapter(GenerativeAdapter, TextInputAdapter, QAInputAdapter, PretrainingAdapter,
                      ModelAdapter):
    """PixelGPT-family adapter; ``mode`` is ``pixel``, ``text`` or ``pair``."""

    input_modes = ("pixel", "text", "pair")

    def __init__(self, card: ModelCard, mode: str = "pixel", render_mode: str = "rgb",
                 tiny: bool = False, tokenizer: Any = None, resize: bool = False) -> None:
        if mode not in self.input_modes:
            raise ConfigError(f"unknown PixelGPT mode {mode!r}; choose one of {self.input_modes}")
        if render_mode not in ("rgb", "gray", "binary"):
            raise ConfigError(f"unknown render_mode {render_mode!r}; choose rgb, gray or binary")
        self.card = card
        self.mode = mode
        self.render_mode = render_mode
        self.resize = resize  # pixel-only XNLI scripts: bicubic resize instead of the crop
        self.tiny = tiny
        self.crop_patches = RENDER_WIDTH  # the recipe's length, bound by for_run()
        self.max_text_length = RENDER_WIDTH
        self._tokenizer = tokenizer
        self.tokenizer_source: str | None = card.hub_id

    def with_options(self, render_mode: str | None = None, mode: str | None = None,
                     resize: bool | None = None) -> "PixelGPTAdapter":
        """A copy with another ``render_mode`` (rgb / gray / binary, as the original
        ``--render_mode``), input ``mode``, or ``resize=True`` (the pixel-only XNLI scripts
        squeeze the 1024-patch strip to L patches with a bicubic resize instead of cropping)."""
        other = PixelGPTAdapter(self.card, mode=mode or self.mode,
                                render_mode=render_mode or self.render_mode, tiny=self.tiny,
                                tokenizer=self._tokenizer,
                                resize=self.resize if resize is None else resize)
        other.crop_patches, other.max_text_length = self.crop_patches, self.max_text_length
        other.tokenizer_source = self.tokenizer_source
        return other

    @property
    def input_kind(self) -> str:  # type: ignore[override]
        return {"pixel": "pixels", "text": "text", "pair": "pair"}[self.mode]

    @property
    def text_length(self) -> int:
        return int(self.max_text_length)

    def for_run(self, task_kind: TaskKind, max_seq_length: int | None) -> "PixelGPTAdapter":
        """A copy cropping strips to, and truncating tokens at, the recipe's length (GLUE 768,
        XNLI 256); without one, the renderer's 1024 patches."""
        bound = super().for_run(task_kind, max_seq_length)
        if max_seq_length is not None:
            if max_seq_length <= 0:
                raise ConfigError(f"max_seq_length must be positive, got {max_seq_length}")
            bound.crop_patches = bound.max_text_length = int(max_seq_length)
        return bound

    # -- rendering -------------------------------------------------------------------------
    def renderer_config(self, task_kind: TaskKind, max_seq_length: int | None = None,
                        renderer: str | None = None, checkpoint: str | Path | None = None):
        """The released checkpoints ship no renderer; a ``checkpoint`` directory that does (our
        :meth:`save_pretrained` writes one) supplies the font and settings instead of
        ``NOTO_RENDERER`` (width and backend still follow the recipe)."""
        if max_seq_length is not None and max_seq_length <= 0:
            raise ConfigError(f"max_seq_length must be positive, got {max_seq_length}")
        crop = int(max_seq_length) if max_seq_length is not None else self.crop_patches
        if self.mode == "text":
            return None
        kind = TaskKind(task_kind)
        if self.mode == "pair" and kind != TaskKind.SEQUENCE_CLASSIFICATION:
            raise ConfigError(f"{self.card.name}: image+text pair input exists for sequence "
                              "classification only (as in the original scripts); use the pixel "
                              "or -text variant for token classification and QA")
        if renderer is None:
            # PyGame has no QA options; PixelGPT keeps a live PangoCairo copy for that
            renderer = "pangocairo" if kind == TaskKind.QUESTION_ANSWERING else "pygame"
        if renderer not in ("pygame", "pangocairo"):
            raise ConfigError(f"PixelGPT data were rendered with pygame (its repo also keeps a "
                              f"PangoCairo copy); renderer {renderer!r} is not one of them")
        # Sequence classification is faithful: render at the checkpoint renderer's 1024 patches,
        # then features() left-crops to L. Token tasks and QA (pixel-bench additions) render at L
        # directly so per-patch labels and offsets line up with the model positions.
        width = max(RENDER_WIDTH, crop) if kind == TaskKind.SEQUENCE_CLASSIFICATION else crop
        renderer_type = (PangoCairoTextRenderer if renderer == "pangocairo"
                         else PyGameTextRenderer).text_renderer_type
        own = checkpoint_renderer(checkpoint, max_seq_length=width,
                                  text_renderer_type=renderer_type)
        if own is not None:
            if int(own.pixels_per_patch) != 16:
                raise ConfigError(f"{checkpoint}: its renderer has {own.pixels_per_patch} px "
                                  "patches; PixelGPT reads 16 px patches")
            return renderer, own
        # NOTO_RENDERER's settings feed the PangoCairo copy too (Noto Sans for GoNotoCurrent)
        return renderer, PyGameTextRenderer.layout("pixelgpt", max_seq_length=width,
                                                   text_renderer_type=renderer_type)

    # -- features --------------------------------------------------------------------------
    def pixel_features(self, encoding: Any) -> dict[str, np.ndarray]:
        from pixel_bench.render import get_attention_mask

        img = np.asarray(encoding.pixel_values)
        if img.ndim == 3 and img.shape[-1] == 3:
            gray = img.mean(axis=-1) if self.render_mode != "rgb" else None
            rgb = img.transpose(2, 0, 1)
        elif img.ndim == 2:
            gray, rgb = img, None
        else:
            raise DataError(f"pixel_values must be [H, W] or [H, W, 3], got {img.shape}")
        L = self.crop_patches
        pp = img.shape[0]
        if self.resize and img.shape[1] != pp * L:
            from PIL import Image

            img = np.asarray(Image.fromarray(img).resize((pp * L, pp), Image.BICUBIC))
            gray = img.mean(axis=-1) if img.ndim == 3 else img
            rgb = img.transpose(2, 0, 1) if img.ndim == 3 else None
        if self.render_mode == "rgb":
            x = rgb if rgb is not None else np.repeat(gray[None], 3, axis=0)
            x = x.astype(np.float32) / 255.0
        elif self.render_mode == "gray":  # PIL convert("L") of an RGB image of grey pixels
            x = (np.asarray(gray, dtype=np.float32) / 255.0)[None]
        else:  # binary: > 127 -> white
            x = (np.asarray(gray) > 127).astype(np.float32)[None]
        x = x[..., : pp * L]  # GLUE scripts: left crop to 16 x 16L (no resize)
        if x.shape[-1] < pp * L:  # shorter canvases are padded white
            x = np.pad(x, ((0, 0), (0, 0), (0, pp * L - x.shape[-1])), constant_values=1.0)
        return {"pixel_values": np.ascontiguousarray(x),
                "attention_mask": get_attention_mask(encoding.num_text_patches, L)}

    def text_features(self, text: Any, label: Any = None, *,
                      word_labels: Any = None) -> dict[str, np.ndarray]:
        """Tokenized input for text / pair modes (the checkpoint's tokenizer, pad = EOS)."""
        from pixel_bench.modeling.text_baseline import text_features

        feats = text_features(self.tokenizer, text, label, max_length=self.max_text_length,
                              word_labels=word_labels)
        return feats

    def qa_features(self, question: str, context: str, answer_start: int | None = None,
                    answer_text: str | None = None, stride: int = 128
                    ) -> list[dict[str, np.ndarray]]:
        """Text mode QA windows (see :func:`pixel_bench.modeling.text_baseline.qa_features`)."""
        from pixel_bench.modeling.text_baseline import qa_features

        if self.mode != "text":
            raise ConfigError(f"{self.card.name}: qa_features is for text mode; pixel QA comes "
                              "from the renderer's QA encodings")
        return qa_features(self.tokenizer, question, context, max_length=self.max_text_length,
                           stride=stride, answer_start=answer_start, answer_text=answer_text)

    def features(self, encoding: Any = None, text: Any = None) -> dict[str, np.ndarray]:
        if self.mode == "text":
            if text is None:
                raise DataError(f"{self.card.name} reads tokens: call text_features(text) "
                                "(or features(text=...))")
            return self.text_features(text)
        if encoding is None:
            raise DataError(f"{self.card.name} needs a rendered Encoding")
        if self.mode == "pair":
            if text is None:
                raise DataError(f"{self.card.name} (pair mode) needs the raw text beside the "
                                "rendering: features(encoding, text=...)")
            return self.pair_features(encoding, text)
        return self.pixel_features(encoding)

    def pair_features(self, encoding: Any, text: Any) -> dict[str, np.ndarray]:
        """Pixels first (``patch_attention_mask``), then the tokens as ``text_*``."""
        feats = self.pixel_features(encoding)
        feats["patch_attention_mask"] = feats.pop("attention_mask")
        for k, v in self.text_features(text).items():
            feats["text_" + k] = v
        return feats

    def collate(self, features: list[dict[str, np.ndarray]]):
        from pixel_bench.modeling.text_baseline import collate_tokens

        if not features:
            raise DataError("cannot collate an empty batch")
        if self.mode == "text":
            batch = collate_tokens(features, self.pad_token_id)
            batch.pop("offset_mapping", None)  # QA post-processing only
            batch.pop("token_type_ids", None)  # LLaMA has none
            return batch
        batch = (collate_tokens(features, self.pad_token_id, prefix="text_")
                 if self.mode == "pair" else {})
        # pixel mode: the patch mask is "attention_mask"; pair mode: "patch_attention_mask"
        batch.update(stack_features(features, long_keys=("attention_mask", "patch_attention_mask"),
                                    skip_prefix="text_"))
        return batch

    # -- tokenizer -------------------------------------------------------------------------
    @property
    def pad_token_id(self) -> int:
        if self._tokenizer is not None and self._tokenizer.pad_token_id is not None:
            return int(self._tokenizer.pad_token_id)
        return 2  # LLaMA EOS, the scripts' pad

    def set_tokenizer(self, tokenizer: Any) -> None:
        """A tokenizer object, or a directory / hub id to load it from (text and pair modes)."""
        if isinstance(tokenizer, (str, Path)):
            self._tokenizer, self.tokenizer_source = None, str(tokenizer)
        else:
            self._tokenizer = tokenizer

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from pixel_bench.modeling.text_baseline import load_tokenizer

            if self.tiny and self.tokenizer_source in (None, self.card.hub_id):
                from pixel_bench.modeling.text_baseline import tiny_tokenizer

                self._tokenizer = tiny_tokenizer("bpe")  # tiny names: no hub
            elif self.tokenizer_source is None:
                raise ConfigError(f"{self.card.name}: no tokenizer; call set_tokenizer(path)")
            else:
                self._tokenizer = load_tokenizer(self.tokenizer_source)
        return self._tokenizer

    # -- networks --------------------------------------------------------------------------
    def num_positions(self, max_seq_length: int) -> int:
        """Sequence classification renders 1024 patches and crops them to the recipe's length,
        so the model sees at most ``crop_patches`` positions."""
        return min(int(max_seq_length), int(self.crop_patches))

    def build(self, head: HeadSpec, checkpoint: str | Path | None = None,
              from_scratch: bool = False, max_seq_length: int | None = None,
              allow_mismatched: bool = False):
        from pixel_bench.modeling.pixelgpt import (ErniePixelConfig, build_pixelgpt,
                                                   load_pixelgpt)

        kind = TaskKind(head.kind).value
        overrides = head_overrides(head, ("attention_dropout",))
        if max_seq_length:
            overrides["image_size"] = [16, 16 * int(max_seq_length)]
        head_kwargs = {"dropout": head.dropout or 0.0} if kind == "token_classification" else {}
        if checkpoint is None and not from_scratch and self.tiny:
            from_scratch = True  # tiny names have no released weights
        if from_scratch and checkpoint is None:
            base = dict(TINY_CONFIG if self.tiny else BASE_CONFIG)
            if self.tiny and self.mode != "pixel":  # match the tiny tokenizer
                tok = self.tokenizer
                base.update(vocab_size=len(tok), pad_token_id=tok.pad_token_id,
                            eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id)
            if self.render_mode != "rgb":
                base["num_channels"] = 1
            config = ErniePixelConfig(**{**base, **overrides})
            if config.pad_token_id is None:
                config.pad_token_id = config.eos_token_id
            return build_pixelgpt(config, kind, **head_kwargs)
        directory = _resolve_checkpoint(checkpoint or self.card.hub_id)
        if self.mode != "pixel" and self._tokenizer is None and \
                self.tokenizer_source == self.card.hub_id and (directory / "tokenizer_config.json").is_file():
            self.tokenizer_source = str(directory)
        if from_scratch:  # the checkpoint's config, fresh weights
            from pixel_bench.modeling._llama_common import read_config_json
            from pixel_bench.modeling.pixelgpt import config_from_dict

            config = config_from_dict(read_config_json(directory), str(directory), **overrides)
            if self.render_mode != "rgb":
                config.num_channels = 1
            return build_pixelgpt(config, kind, **head_kwargs)
        return load_pixelgpt(directory, kind, render_mode=self.render_mode,
                             config_overrides=overrides, head_kwargs=head_kwargs)

    def build_pretraining(self, checkpoint: str | Path | None = None, from_scratch: bool = False,
                          max_seq_length: int | None = None, **config_overrides: Any):
        """The causal LM (next-patch MSE + next-token CE; pair mode sums both) for continued
        pretraining. ``lm_*_head`` weights load from a baidu checkpoint."""
        from pixel_bench.modeling._llama_common import read_config_json
        from pixel_bench.modeling.pixelgpt import (ErniePixelConfig, build_pixelgpt,
                                                   config_from_dict, load_pixelgpt)

        if max_seq_length:
            config_overrides.setdefault("image_size", [16, 16 * int(max_seq_length)])
        if checkpoint is None and not (from_scratch or self.tiny):
            checkpoint = self.card.hub_id
        if checkpoint is None:
            base = dict(TINY_CONFIG if self.tiny else BASE_CONFIG)
            if self.render_mode != "rgb":
                base["num_channels"] = 1
            return build_pixelgpt(ErniePixelConfig(**{**base, **config_overrides}), "causal_lm")
        directory = _resolve_checkpoint(checkpoint)
        if from_scratch:
            config = config_from_dict(read_config_json(directory), str(directory),
                                      **config_overrides)
            return build_pixelgpt(config, "causal_lm")
        return load_pixelgpt(directory, "causal_lm", render_mode=self.render_mode,
                             config_overrides=config_overrides)

    def build_generator(self, checkpoint: str | Path | None = None, from_scratch: bool = False,
                        device: str = "cpu", options: dict[str, Any] | None = None):
        """Pixel mode only: next-patch generation with ``lm_pixel_head`` and a KV cache (see
        pixel_bench.generative.decode for how normalised patches become pixels)."""
        from pixel_bench.generative.decode import PixelGPTGenerator

        if self.mode != "pixel":
            raise ConfigError(f"{self.card.name}: generative tasks are evaluated in pixel mode; "
                              f"use {self.card.name.replace('-' + self.mode, '')} (the "
                              f"{self.mode} variant's token generation is not wired up)")
        model = self.build_pretraining(checkpoint=checkpoint, from_scratch=from_scratch)
        model.to(device).eval()
        cfg = model.config
        return PixelGPTGenerator(model, block=cfg.patch_size, channels=cfg.num_channels,
                                 height=cfg.patch_size, device=device,
                                 binary=self.render_mode == "binary")

    def save_pretrained(self, model: Any, directory: str | Path, renderer: Any = None) -> None:
        if renderer is None and self.mode != "text":
            _name, renderer = self.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION)
        super().save_pretrained(model, directory, renderer)
        if self.mode != "pixel" and self._tokenizer is not None:
            self._tokenizer.save_pretrained(str(directory))


def _resolve_checkpoint(checkpoint: str | Path) -> Path:
    """A local directory as is; otherwise a hub id fetched with huggingface_hub (users have
    internet; tests never reach this)."""
    from pixel_bench.paths import local_or_hub

    path, hub_id = local_or_hub(checkpoint, owner_required=True)
    if path is not None and path.is_dir():
        return path
    if hub_id is None:
        raise CheckpointError(f"checkpoint directory not found: {checkpoint}")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(hub_id))
    except Exception as exc:  # offline, unknown repo, ...
        raise CheckpointError(f"cannot fetch {checkpoint} from the Hugging Face Hub ({exc}); "
                              "download it and pass the local directory") from None


_FAMILY = {
    "pixelgpt": ("baidu/PixelGPT", "pretrained on rendered text only (next-patch prediction)",
                 ("pixel",)),
    "monogpt": ("baidu/MonoGPT", "pretrained on separate rendered-text and text data",
                ("pixel", "text", "pair")),
    "dualgpt": ("baidu/DualGPT", "pretrained on paired rendered text and text",
                ("pixel", "text", "pair")),
}

for _base, (_hub, _desc, _modes) in _FAMILY.items():
    for _tiny in (False, True):
        for _mode in _modes:
            _name = _base + ("" if _mode == "pixel" else f"-{_mode}") + ("-tiny" if _tiny else "")
            _card = ModelCard(
                name=_name, family="pixelgpt", hub_id=_hub, size="tiny" if _tiny else "base",
                description=(f"tiny random-init {_hub.split('/')[1]} layout, {_mode} input"
                             if _tiny else f"{_hub}: LLaMA decoder, {_mode} input"),
                attributes={"architecture": "decoder", "input": _mode, "pooling": "eos",
                            "hidden": 32 if _tiny else None})
            MODELS.register(_name, ModelEntry(_card, partial(PixelGPTAdapter, mode=_mode,
                                                             tiny=_tiny)),
                            help=_card.description)
