"""Thesis PIXAR adapters (Liao 2023 MSc; model code in :mod:`pixel_bench.modeling.pixar`).

Registered names: the seven PIXAR rows of thesis Table 4.3, each at real size and ``-tiny``:

=============================  ===============  =======  ======
name                           architecture     masking  input
=============================  ===============  =======  ======
pixar-enc-random-binary        encoder-only     random   binary
pixar-enc-span-grey            encoder-only     span     grey
pixar-enc-span-binary          encoder-only     span     binary
pixar-encdec-none-binary       encoder-decoder  none     binary
pixar-encdec-random-binary     encoder-decoder  random   binary
pixar-encdec-span-grey         encoder-decoder  span     grey
pixar-encdec-span-binary       encoder-decoder  span     binary   (= ``pixar``, the thesis model)
=============================  ===============  =======  ======

plus ``pixar`` / ``pixar-tiny`` (the main variant). Table 4.3's eighth row (PIXEL: Enc / Span /
Grey) is the PIXEL family's ``pixel-base``.

Rendering: the binary renderer's ``thesis`` layout (PangoCairo geometry, Pixeloid Sans, 8x8
patches, one channel, 529 patches); grey variants use the same layout without the threshold.
The thesis fine-tuned most tasks on PyGame renderings (Appendix A.2); we keep one PangoCairo
layout for pretraining and fine-tuning (docs/models-pixar.md, "Deviations").
Features: ``pixel_values`` float32 [1, 8, W] (binary: 0/1, 1 = white; grey: /255) and
``attention_mask`` (text + EOS).
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from pixel_bench.errors import CheckpointError, ConfigError, DataError
from pixel_bench.io_utils import read_json
from pixel_bench.modeling.contracts import PretrainingAdapter
from pixel_bench.modeling.adapter import (HeadSpec, ModelAdapter, ModelCard, ModelEntry, TaskKind,
                                          check_patch_size, checkpoint_renderer,
                                          encoding_attention_mask, head_overrides,
                                          stack_features)
from pixel_bench.modeling.generation import GenerativeAdapter
from pixel_bench.registry import MODELS
from pixel_bench.render.binary import BinaryTextRenderer

logger = logging.getLogger("pixel_bench.models.pixar")

#: §3.1: W = 4232 px = 529 patches of 8x8 (the binary renderer's "thesis" layout)
THESIS_PATCHES = BinaryTextRenderer.LAYOUTS["thesis"]["max_seq_length"]
PIXEL_MODEL_TYPES = ("pixel", "vit_mae", "vit")

# Table 4.3 rows (kept here as plain data so `ls models` never imports torch)
_ROWS = [("pixar-enc-random-binary", "encoder-only", "random", "binary"),
         ("pixar-enc-span-grey", "encoder-only", "span", "grey"),
         ("pixar-enc-span-binary", "encoder-only", "span", "binary"),
         ("pixar-encdec-none-binary", "encoder-decoder", "none", "binary"),
         ("pixar-encdec-random-binary", "encoder-decoder", "random", "binary"),
         ("pixar-encdec-span-grey", "encoder-decoder", "span", "grey"),
         ("pixar-encdec-span-binary", "encoder-decoder", "span", "binary")]
MAIN = "pixar-encdec-span-binary"


def _read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise CheckpointError(f"{path.parent}: no config.json (not a model checkpoint)")
    return read_json(path, "checkpoint config", CheckpointError)


class PixarThesisAdapter(GenerativeAdapter, PretrainingAdapter, ModelAdapter):
    """Thesis PIXAR: ViT encoder + GPT-2 decoder over binary (or grey) 8x8 patches."""

    def __init__(self, card: ModelCard, variant: str, tiny: bool = False) -> None:
        self.card = card
        self.variant = variant
        self.tiny = tiny
        _n, self.architecture, self.masking, self.input_type = next(r for r in _ROWS
                                                                    if r[0] == variant)

    # -- rendering ------------------------------------------------------------------------------
    def renderer_config(self, task_kind: TaskKind, max_seq_length: int | None = None,
                        renderer: str | None = None, checkpoint: str | Path | None = None):
        """("binary", settings). ``checkpoint``: a checkpoint directory whose own
        ``text_renderer_config.json`` and font (written by :meth:`save_pretrained`) are used."""
        if renderer not in (None, "binary"):
            raise ConfigError(
                f"{self.card.name}: renderer {renderer!r} is not supported; thesis PIXAR reads "
                "the binary renderer's 'thesis' layout (PangoCairo geometry + Pixeloid Sans; the "
                "thesis's PyGame fine-tuning renderings are not reproduced, see "
                "docs/models-pixar.md)")
        length = THESIS_PATCHES if max_seq_length is None else int(max_seq_length)
        if length <= 0:
            raise ConfigError(f"{self.card.name}: max_seq_length must be positive, got {length}")
        own = checkpoint_renderer(checkpoint, max_seq_length=length)
        if own is not None:
            if int(own.pixels_per_patch) != 8 or bool(own.binary) != (self.input_type == "binary"):
                raise ConfigError(
                    f"{checkpoint}: its renderer ({own.pixels_per_patch} px patches, binary="
                    f"{own.binary}) cannot feed {self.card.name} (8 px patches, "
                    f"{self.input_type} input)")
            return "binary", own
        from pixel_bench.render.binary import binary_layout

        return "binary", binary_layout("thesis", grey=self.input_type == "grey",
                                       max_seq_length=length)

    def features(self, encoding: Any) -> dict[str, np.ndarray]:
        extras = encoding.extras or {}
        if self.input_type == "binary":
            if "binary" in extras:
                x = np.asarray(extras["binary"], dtype=np.float32)
            else:  # a grey render: PIXAR's threshold at half intensity (1 = white)
                img = np.asarray(encoding.pixel_values, dtype=np.float32)
                img = img.mean(axis=-1) if img.ndim == 3 else img
                x = (img > 127.5).astype(np.float32)
        else:
            if "grey" in extras:
                x = np.asarray(extras["grey"], dtype=np.float32)
            else:
                img = np.asarray(encoding.pixel_values, dtype=np.float32) / 255.0
                x = img.mean(axis=-1) if img.ndim == 3 else img
        if x.ndim == 2:
            x = x[None]
        if x.ndim != 3 or x.shape[0] != 1 or x.shape[1] != 8 or x.shape[2] % 8:
            raise DataError(f"{self.card.name}: expected an 8-px strip [1, 8, 8N], got "
                            f"{tuple(x.shape)} (render with the binary 'thesis' layout)")
        mask = encoding_attention_mask(encoding, x.shape[2] // 8, self.card.name)
        return {"pixel_values": x, "attention_mask": mask}

    def collate(self, features: list[dict[str, np.ndarray]]):
        return stack_features(features, float_keys=("pixel_values", "attention_mask", "patch_mask"),
                              required=("pixel_values", "attention_mask"))

    # -- networks -------------------------------------------------------------------------------
    def base_config(self, **overrides: Any):
        from pixel_bench.modeling.pixar import variant_config

        return variant_config(self.variant, tiny=self.tiny, **overrides)

    def _head_overrides(self, head: HeadSpec) -> dict[str, Any]:
        return {**head_overrides(head, ("hidden_dropout_prob", "attention_probs_dropout_prob")),
                "architecture": self.architecture}

    def _check_checkpoint(self, directory: Path) -> dict[str, Any]:
        data = _read_json(directory / "config.json")
        if data.get("model_type") != "pixar-thesis":
            raise CheckpointError(
                f"{directory}: model_type {data.get('model_type')!r} is not a thesis PIXAR "
                "checkpoint (pretrain one with `pixel-bench pretrain --model "
                f"{self.card.name}`; a PIXEL checkpoint can only initialise the encoder, via "
                "--init-from)")
        if data.get("input_type", "binary") != self.input_type:
            raise CheckpointError(f"{directory}: checkpoint input_type "
                                  f"{data.get('input_type')!r} does not match {self.card.name} "
                                  f"({self.input_type})")
        return data

    def build(self, head: HeadSpec, checkpoint: str | Path | None = None,
              from_scratch: bool = False, max_seq_length: int | None = None,
              allow_mismatched: bool = False):
        from pixel_bench.modeling.pixar import HEAD_CLASSES, PixarConfig, load_pixar

        kind = TaskKind(head.kind).value
        overrides = self._head_overrides(head)
        head_kwargs: dict[str, Any] = {}
        if kind == "sequence_classification":
            pooling = head.pooling
            if pooling == "cls":
                # thesis §4.4: "we can not use either 'CLS' pooling method as PIXEL [...] so we
                # use mean pooling" (PIXAR has no CLS token); recipes asking for cls get mean
                logger.warning("%s has no CLS token; using mean pooling instead of 'cls' "
                               "(thesis §4.4)", self.card.name)
                pooling = "mean"
            head_kwargs = {"pooling_mode": pooling, "add_layer_norm": head.add_layer_norm}
        if checkpoint is None:
            if not (from_scratch or self.tiny):
                raise CheckpointError(
                    f"{self.card.name}: no released thesis-PIXAR weights exist; pass a checkpoint "
                    f"directory from `pixel-bench pretrain --model {self.card.name}` or build "
                    "from scratch")
            config = self.base_config(**overrides)
        else:
            directory = Path(checkpoint).expanduser()
            data = self._check_checkpoint(directory)
            if not from_scratch:
                model = load_pixar(directory, kind, config_overrides=overrides,
                                   head_kwargs=head_kwargs)
                self._check_length(model.config, max_seq_length)
                return model
            data.pop("model_type", None)
            config = PixarConfig(**{**data, **overrides})
        self._check_length(config, max_seq_length)
        return HEAD_CLASSES[kind](config, **head_kwargs)

    def _check_length(self, config: Any, max_seq_length: int | None) -> None:
        if max_seq_length is not None and max_seq_length > config.num_patches:
            raise ConfigError(f"{self.card.name}: max_seq_length {max_seq_length} exceeds the "
                              f"model's {config.num_patches} positions (fixed sin-cos encoder "
                              "table, learned decoder positions)")

    def build_pretraining(self, checkpoint: str | Path | None = None, from_scratch: bool = False,
                          max_seq_length: int | None = None, **config_overrides: Any):
        """The thesis objective (encoder-decoder, focal loss). ``checkpoint``: a thesis-PIXAR
        checkpoint (continued), or a PIXEL checkpoint / hub id whose transformer layers initialise
        the encoder (thesis §2.4; :func:`init_encoder_from_pixel`)."""
        from pixel_bench.modeling.pixar import (PixarConfig, PixarForPreTraining,
                                                init_encoder_from_pixel, load_pixar)

        if max_seq_length is not None and int(max_seq_length) > THESIS_PATCHES:
            # shorter strips use the first rows of the 529-patch tables (as fine-tuning does);
            # only a longer strip needs a larger model
            config_overrides.setdefault("num_patches", int(max_seq_length))
        if checkpoint is None:
            return PixarForPreTraining(self.base_config(**config_overrides))
        directory = Path(checkpoint).expanduser()
        model_type = _read_json(directory / "config.json").get("model_type") \
            if directory.is_dir() else "pixel"  # a hub id: PIXEL's
        if model_type in PIXEL_MODEL_TYPES:
            model = PixarForPreTraining(self.base_config(**config_overrides))
            if not from_scratch:
                init_encoder_from_pixel(model, checkpoint)
            return model
        data = self._check_checkpoint(directory)
        if from_scratch:
            data.pop("model_type", None)
            return PixarForPreTraining(PixarConfig(**{**data, **config_overrides}))
        config_overrides.pop("num_patches", None)
        model = load_pixar(directory, "pretraining", config_overrides=config_overrides)
        self._check_length(model.config, max_seq_length)
        return model

    def pretraining_mask_generator(self, num_patches: int, mask_ratio: float = 0.25):
        """The variant's encoder mask for data workers: span / random / none, exact count."""
        from pixel_bench.modeling.masking import PatchMaskGenerator

        return PatchMaskGenerator(self.masking, num_patches, mask_ratio)

    def build_generator(self, checkpoint: str | Path | None = None, from_scratch: bool = False,
                        device: str = "cpu", options: dict[str, Any] | None = None):
        """Greedy patch-by-patch generation (encoder over the prompt, cached GPT-2 decoder).
        Encoder-only variants have no decoder to generate with."""
        from pixel_bench.generative.decode import PixarThesisGenerator

        if self.architecture != "encoder-decoder":
            raise ConfigError(f"{self.card.name} is encoder-only (thesis Table 4.3): it has no "
                              "decoder to generate with; use an encoder-decoder variant")
        model = self.build_pretraining(checkpoint=checkpoint, from_scratch=from_scratch)
        model.to(device).eval()
        cfg = model.config
        return PixarThesisGenerator(model, block=cfg.patch_size, channels=cfg.num_channels,
                                    height=cfg.patch_size, device=device)

    def save_pretrained(self, model: Any, directory: str | Path, renderer: Any = None) -> None:
        """config.json + model.safetensors + text_renderer_config.json + the Pixeloid font."""
        if renderer is None:
            _name, renderer = self.renderer_config(
                TaskKind.SEQUENCE_CLASSIFICATION,
                max_seq_length=min(THESIS_PATCHES, int(model.config.num_patches)))
        check_patch_size(renderer, model.config)
        super().save_pretrained(model, directory, renderer)


def _register() -> None:
    entries = [(name, name, arch, masking, inp) for name, arch, masking, inp in _ROWS]
    entries.append(("pixar", MAIN, "encoder-decoder", "span", "binary"))
    for name, variant, arch, masking, inp in entries:
        for tiny in (False, True):
            full = f"{name}-tiny" if tiny else name
            desc = (f"thesis PIXAR (2023 MSc) {arch}, {masking} masking, {inp} input"
                    + (" — tiny random-init layout" if tiny else ""))
            card = ModelCard(name=full, family="pixar", hub_id=None,
                             size="tiny" if tiny else "base", description=desc,
                             attributes={"architecture": arch, "masking": masking, "input": inp,
                                         "variant": variant, "patch": "8x8",
                                         "pooling": "mean"})
            MODELS.register(full, ModelEntry(card, partial(PixarThesisAdapter, variant=variant,
                                                           tiny=tiny)), help=desc)


_register()
