"""PIXAR-2024 adapters (``april-tools/pixar``; model code in :mod:`pixel_bench.modeling.pixar2024`).

Registered names: ``pixar2024`` (the released layout; weights come from the PIXAR README's
download, not the Hugging Face Hub, so pass the checkpoint directory) and ``pixar2024-tiny``
(random init, the golden tiny layout) for tests and CPU smoke runs.

Rendering is PIXAR's binary layout (``DEFAULT_BINARY_RENDERING``): Pixeloid Sans at dpi 80,
8 pt, 8 px patches, 720 renderer patches, ``patch_len`` 2. One model position = two 8-px renderer
patches (8 x 16 px), so 720 renderer patches -> 360 positions; ``label_positions`` halves
renderer patch indices. Features: ``pixel_values`` float [1, 8, W] in {0, 1} (1 = white),
``attention_mask`` = the first ``tgraph_num_text_patches = ceil((n + 1) / 2)`` positions.
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from pixel_bench.errors import CheckpointError, ConfigError, DataError
from pixel_bench.modeling.contracts import PretrainingAdapter
from pixel_bench.modeling.adapter import (HeadSpec, ModelAdapter, ModelCard, ModelEntry, TaskKind,
                                          checkpoint_renderer, head_overrides, stack_features)
from pixel_bench.modeling.generation import GenerativeAdapter
from pixel_bench.registry import MODELS
from pixel_bench.render.binary import BinaryTextRenderer

#: ``DEFAULT_BINARY_RENDERING``: the binary renderer's "pixar2024" layout
BINARY_RENDERER = BinaryTextRenderer.LAYOUTS["pixar2024"]

#: the golden pixar2024-tiny layout
TINY_CONFIG = dict(vocab_size=32, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                   num_attention_heads=4, num_key_value_heads=4, num_channel=1, patch_size=8,
                   patch_len=2, binary=True)
#: ASSUMPTION: the released layer sizes live in storage/llama_*/config.json files that are not in
#: the repository; the paper only says its size is "on par" with earlier encoder-decoder pixel
#: models, so a PIXEL-base-width LLaMA (~85M) stands in when building without a checkpoint.
BASE_CONFIG = dict(vocab_size=32, hidden_size=768, intermediate_size=2048, num_hidden_layers=12,
                   num_attention_heads=12, num_key_value_heads=12, num_channel=1, patch_size=8,
                   patch_len=2, binary=True, max_position_embeddings=2048)


def tgraph_num_text_patches(renderer_num_text_patches: int, patch_len: int = 2) -> int:
    """TGraph's count in model positions: text + the 8-px EOS patch, rounded up."""
    return int(math.ceil((renderer_num_text_patches + 1) / patch_len))


class Pixar2024Adapter(GenerativeAdapter, PretrainingAdapter, ModelAdapter):
    """Decoder-only PIXAR over binary 8x16 blocks; pooling at the EOS position."""

    def __init__(self, card: ModelCard, tiny: bool = False) -> None:
        self.card = card
        self.tiny = tiny
        self.patch_len = 2

    def renderer_config(self, task_kind: TaskKind, max_seq_length: int | None = None,
                        renderer: str | None = None, checkpoint: str | Path | None = None):
        """("binary", settings); a ``checkpoint`` directory's own ``text_renderer_config.json``
        and font (as :meth:`save_pretrained` writes them) replace the default layout."""
        if renderer not in (None, "binary"):
            raise ConfigError(f"PIXAR-2024 reads binary renderings; renderer {renderer!r} is "
                              "not what the model was trained with")
        length = BINARY_RENDERER["max_seq_length"] if max_seq_length is None else max_seq_length
        if length <= 0 or length % self.patch_len:
            raise ConfigError(f"PIXAR max_seq_length counts 8-px renderer patches and must be a "
                              f"positive multiple of patch_len {self.patch_len}, got {length}")
        own = checkpoint_renderer(checkpoint, max_seq_length=int(length))
        if own is not None:
            if (int(own.pixels_per_patch), int(own.patch_len)) != (8, self.patch_len):
                raise ConfigError(f"{checkpoint}: its renderer ({own.pixels_per_patch} px patches,"
                                  f" patch_len {own.patch_len}) cannot feed PIXAR-2024 (8 px "
                                  f"patches, patch_len {self.patch_len})")
            return "binary", own
        return "binary", BinaryTextRenderer.layout(
            "pixar2024", max_seq_length=int(length),
            text_renderer_type=BinaryTextRenderer.text_renderer_type)

    def features(self, encoding: Any) -> dict[str, np.ndarray]:
        extras = encoding.extras or {}
        if "binary" in extras:
            binary = np.asarray(extras["binary"])
        else:  # a grey rendering: PIXAR's threshold at half intensity
            img = np.asarray(encoding.pixel_values)
            if img.ndim == 3:
                img = img.mean(axis=-1)
            binary = (img > 127.5).astype(np.uint8)[None]
        if binary.ndim == 2:
            binary = binary[None]
        if binary.ndim != 3 or binary.shape[0] != 1 or binary.shape[1] != 8:
            raise DataError(f"PIXAR binary strip must be [1, 8, W], got {binary.shape}")
        block = 8 * self.patch_len
        if binary.shape[-1] % block:
            raise DataError(f"PIXAR strip width {binary.shape[-1]} is not a multiple of {block}")
        n_pos = binary.shape[-1] // block
        if "tgraph_num_text_patches" in extras:
            ntp = int(np.asarray(extras["tgraph_num_text_patches"]).reshape(-1)[0])
        else:
            ntp = tgraph_num_text_patches(encoding.num_text_patches, self.patch_len)
        mask = np.zeros(n_pos, dtype=np.float32)
        mask[: min(ntp, n_pos)] = 1.0
        return {"pixel_values": binary.astype(np.float32), "attention_mask": mask}

    def collate(self, features: list[dict[str, np.ndarray]]):
        return stack_features(features, long_keys=("attention_mask",),
                              required=("pixel_values", "attention_mask"))

    def label_positions(self, patch_indices: np.ndarray) -> np.ndarray:
        """8-px renderer patch index -> 16-px model position."""
        return np.asarray(patch_indices) // self.patch_len

    def num_positions(self, max_seq_length: int) -> int:
        return int(math.ceil(max_seq_length / self.patch_len))

    def build(self, head: HeadSpec, checkpoint: str | Path | None = None,
              from_scratch: bool = False, max_seq_length: int | None = None,
              allow_mismatched: bool = False):
        from pixel_bench.modeling.pixar2024 import (Pixar2024Config, build_pixar2024,
                                                    load_pixar2024)

        kind = TaskKind(head.kind).value
        overrides = head_overrides(head, ("attention_dropout",))
        head_kwargs = {"dropout": head.dropout or 0.0} if kind == "token_classification" else {}
        if checkpoint is None:
            if not (from_scratch or self.tiny):
                raise CheckpointError(
                    f"{self.card.name}: the released PIXAR weights are not on the Hugging Face "
                    "Hub; download the checkpoint named in the april-tools/pixar README and pass "
                    "its backbone directory, or build from scratch")
            base = TINY_CONFIG if self.tiny else BASE_CONFIG
            return build_pixar2024(Pixar2024Config(**{**base, **overrides}), kind, **head_kwargs)
        directory = Path(checkpoint).expanduser()
        if from_scratch:
            from pixel_bench.modeling._llama_common import read_config_json
            from pixel_bench.modeling.pixar2024 import config_from_dict

            config = config_from_dict(read_config_json(directory), str(directory), **overrides)
            return build_pixar2024(config, kind, **head_kwargs)
        return load_pixar2024(directory, kind, config_overrides=overrides,
                              head_kwargs=head_kwargs)

    def build_pretraining(self, checkpoint: str | Path | None = None, from_scratch: bool = False,
                          max_seq_length: int | None = None, **config_overrides: Any):
        """The stage-1 causal model (next-block BCE, or MSE when ``binary`` is false).
        The GAN stage 2 is not implemented."""
        from pixel_bench.modeling._llama_common import read_config_json
        from pixel_bench.modeling.pixar2024 import (Pixar2024Config, build_pixar2024,
                                                    config_from_dict, load_pixar2024)

        if checkpoint is None:
            base = TINY_CONFIG if self.tiny else BASE_CONFIG
            return build_pixar2024(Pixar2024Config(**{**base, **config_overrides}), "causal_lm")
        directory = Path(checkpoint).expanduser()
        if from_scratch:
            config = config_from_dict(read_config_json(directory), str(directory),
                                      **config_overrides)
            return build_pixar2024(config, "causal_lm")
        return load_pixar2024(directory, "causal_lm", config_overrides=config_overrides)

    def build_generator(self, checkpoint: str | Path | None = None, from_scratch: bool = False,
                        device: str = "cpu", options: dict[str, Any] | None = None):
        """Greedy block-by-block generation with a KV cache (pixel_bench.generative.decode);
        ``options``: ``generation_mode`` (threshold | gray | bernoulli), ``temperature``,
        ``threshold``, ``seed``."""
        from pixel_bench.generative.decode import GENERATION_MODES, Pixar2024Generator

        opts = options or {}
        mode = str(opts.get("generation_mode", "threshold"))
        if mode not in GENERATION_MODES:
            raise ConfigError(f"generation_mode {mode!r}: choose one of {GENERATION_MODES}")
        model = self.build_pretraining(checkpoint=checkpoint, from_scratch=from_scratch)
        model.to(device).eval()
        cfg = model.config
        return Pixar2024Generator(model, block=cfg.block_width, channels=cfg.num_channel,
                                  height=cfg.patch_size, device=device, mode=mode,
                                  temperature=float(opts.get("temperature", 1.0)),
                                  threshold=float(opts.get("threshold", 0.5)),
                                  seed=int(opts.get("seed", 0)))

    def save_pretrained(self, model: Any, directory: str | Path, renderer: Any = None) -> None:
        if renderer is None:
            _name, renderer = self.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION)
        super().save_pretrained(model, directory, renderer)


for _name, _tiny in (("pixar2024", False), ("pixar2024-tiny", True)):
    _card = ModelCard(
        name=_name, family="pixar2024", hub_id=None, size="tiny" if _tiny else "base",
        description=("tiny random-init PIXAR-2024 layout" if _tiny else
                     "PIXAR 2024 (april-tools): LLaMA decoder over binary 8x16 blocks"),
        attributes={"architecture": "decoder", "input": "binary", "pooling": "eos",
                    "patch": "8x16"})
    MODELS.register(_name, ModelEntry(_card, partial(Pixar2024Adapter, tiny=_tiny)),
                    help=_card.description)
