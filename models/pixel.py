"""PIXEL adapters (``Team-PIXEL/*`` checkpoints; model code in :mod:`pixel_bench.modeling.pixel`).

Registered names (see ``TEAM_PIXEL`` below for the other Team-PIXEL sizes and the bigrams /
PIXEL-M4 models): ``pixel-base`` (hub ``Team-PIXEL/pixel-base``: hidden 768, 12 layers, 12 heads,
MLP 3072, 529 patches of 16 px) and ``pixel-tiny`` (hidden 32, 2 layers, 4 heads, MLP 64, the
golden tiny layout but 529 patches; random init) for tests and CPU smoke runs.

* Rendering: PangoCairo by default with PIXEL's settings (8 pt, 120 dpi, 16 px patches, grey,
  pad 3); PyGame is selectable (PIXEL's GLUE recipe). The font is the checkpoint's own
  (``text_renderer_config.json`` + font file beside the weights) when the checkpoint directory is
  known, else Noto Sans, which stands in for PIXEL's GoNotoCurrent.
* Features: uint8 grey ``[16, W]`` -> float32 ``[3, 16, W]`` / 255 (grey copied to 3 channels;
  RGB ``[16, W, 3]`` transposed), no normalisation; ``attention_mask`` = text + EOS patches.
* Build: the head for the task; the position table is truncated (L ≤ 529: first L+1 rows) or
  interpolated (L > 529) to the recipe's ``max_seq_length``.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from pixel_bench.errors import CheckpointError, ConfigError, DataError
from pixel_bench.modeling.contracts import PretrainingAdapter
from pixel_bench.modeling.adapter import (HeadSpec, ModelAdapter, ModelCard, ModelEntry, TaskKind,
                                          check_patch_size, checkpoint_renderer,
                                          encoding_attention_mask, head_overrides,
                                          stack_features)
from pixel_bench.registry import MODELS
from pixel_bench.render.bigrams import BigramsTextRenderer
from pixel_bench.render.pangocairo import PangoCairoTextRenderer
from pixel_bench.render.pygame_renderer import PyGameTextRenderer

logger = logging.getLogger("pixel_bench.models.pixel")

#: the renderers a PIXEL model reads; their facts (``LAYOUTS``, ``text_renderer_type``) live on
#: the classes
RENDERER_CLASSES = {"pangocairo": PangoCairoTextRenderer, "pygame": PyGameTextRenderer,
                    "pangocairo-bigrams": BigramsTextRenderer}
#: PIXEL's renderer settings (pixel-base's text_renderer_config.json; Noto Sans stands in for
#: GoNotoCurrent.ttf): the "pixel" layout each of these renderers declares
RENDERER_LAYOUT = "pixel"
RENDERER_TYPES = {name: cls.text_renderer_type for name, cls in RENDERER_CLASSES.items()}
CONTINUOUS = ("pangocairo", "pygame", "pangocairo-bigrams")  # what a continuous model accepts
BIGRAMS = ("pangocairo-bigrams",)  # bigrams models were pretrained on bigrams only
BASE_PATCHES = 529

#: the golden pixel-tiny layer sizes, at PIXEL's real length (529 patches)
TINY_CONFIG = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                   decoder_hidden_size=16, decoder_num_hidden_layers=1,
                   decoder_num_attention_heads=2, decoder_intermediate_size=32,
                   image_size=[16, 16 * BASE_PATCHES])
BASE_CONFIG = dict(image_size=[16, 16 * BASE_PATCHES])  # every other value is a PIXELConfig default
#: Team-PIXEL small (pixel-small-continuous / pixel-small-bigrams config.json)
SMALL_CONFIG = dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6,
                    intermediate_size=1536, decoder_hidden_size=264, decoder_intermediate_size=1056,
                    decoder_num_attention_heads=6, decoder_num_hidden_layers=4,
                    image_size=[16, 16 * BASE_PATCHES])
#: Team-PIXEL tiny, from the paper's sizes; its config.json was not readable here, so a hub
#: checkpoint's own config.json is what counts when one is loaded
TEAM_TINY_CONFIG = dict(hidden_size=192, num_hidden_layers=12, num_attention_heads=3,
                        intermediate_size=768, decoder_hidden_size=132,
                        decoder_intermediate_size=512, decoder_num_attention_heads=3,
                        decoder_num_hidden_layers=4, image_size=[16, 16 * BASE_PATCHES])


def check_renderer_fits_model(renderer: Any, config: Any, source: str = "renderer") -> None:
    """Raise ConfigError when a renderer config cannot feed the model (patch size, channels)."""
    check_patch_size(renderer, config, source)
    if int(config.num_channels) != 3:
        raise ConfigError(f"{source}: PIXEL inputs have 3 channels (grey is copied to RGB) but the "
                          f"model config has num_channels {config.num_channels}")


class PixelAdapter(PretrainingAdapter, ModelAdapter):
    """PIXEL: pre-LN ViT over 16x16 patches of a rendered strip; pooling is a task choice."""

    def __init__(self, card: ModelCard, tiny: bool = False, renderer: str = "pangocairo",
                 layout: dict[str, Any] | None = None) -> None:
        self.card = card
        self.tiny = tiny
        self.renderer = renderer  # the renderer the model was pretrained with
        self.layout = layout or (TINY_CONFIG if tiny else BASE_CONFIG)  # from-scratch sizes

    # -- rendering ---------------------------------------------------------------------------
    def renderer_config(self, task_kind: TaskKind, max_seq_length: int | None = None,
                        renderer: str | None = None, checkpoint: str | Path | None = None):
        """(renderer name, settings). ``checkpoint``: a local checkpoint directory whose own
        ``text_renderer_config.json`` and font are then used (PIXEL ships GoNotoCurrent.ttf)."""
        name = renderer or self.renderer
        allowed = BIGRAMS if self.renderer in BIGRAMS else CONTINUOUS
        if name not in allowed:
            raise ConfigError(f"{self.card.name} was pretrained with the {self.renderer} renderer "
                              f"and reads {', '.join(allowed)}; got {name!r}")
        length = BASE_PATCHES if max_seq_length is None else int(max_seq_length)
        if length <= 0:
            raise ConfigError(f"max_seq_length must be a positive number of patches, got {length}")
        cfg = checkpoint_renderer(self.card.hub_id if checkpoint is None else checkpoint,
                                  max_seq_length=length, text_renderer_type=RENDERER_TYPES[name])
        if cfg is None:
            cfg = RENDERER_CLASSES[name].layout(RENDERER_LAYOUT, max_seq_length=length,
                                                text_renderer_type=RENDERER_TYPES[name])
        return name, cfg

    # -- features ------------------------------------------------------------------------------
    def features(self, encoding: Any) -> dict[str, np.ndarray]:
        img = np.asarray(encoding.pixel_values)
        if img.ndim == 2:  # grey [H, W] -> 3 identical channels
            img = np.broadcast_to(img[None], (3,) + img.shape)
        elif img.ndim == 3 and img.shape[-1] == 3:  # RGB [H, W, 3] -> [3, H, W]
            img = img.transpose(2, 0, 1)
        elif not (img.ndim == 3 and img.shape[0] == 3):
            raise DataError(f"PIXEL expects a grey [16, W] or RGB [16, W, 3] rendering, got shape "
                            f"{img.shape}")
        if img.shape[1] != 16 or img.shape[2] % 16:
            raise DataError(f"PIXEL strips are 16 px high with a width that is a multiple of 16, "
                            f"got {img.shape[1]}x{img.shape[2]}")
        pixel_values = (img.astype(np.float32) / 255.0)
        mask = encoding_attention_mask(encoding, img.shape[2] // 16, self.card.name)
        return {"pixel_values": np.ascontiguousarray(pixel_values), "attention_mask": mask}

    def collate(self, features: list[dict[str, np.ndarray]]):
        inputs = ("pixel_values", "attention_mask")
        return stack_features(features, float_keys=inputs, required=inputs)

    # -- networks ------------------------------------------------------------------------------
    def _overrides(self, head: HeadSpec) -> dict[str, Any]:
        overrides = head_overrides(head, ("hidden_dropout_prob", "attention_probs_dropout_prob"),
                                   with_labels=TaskKind(head.kind)
                                   is not TaskKind.QUESTION_ANSWERING)
        if TaskKind(head.kind) is TaskKind.DEPENDENCY_PARSING:
            overrides["pad_token_id"] = -100  # run_ud.py sets it; the word_starts padding value
        return overrides

    @staticmethod
    def head_class(kind: TaskKind):
        from pixel_bench.modeling import pixel as P

        return {TaskKind.SEQUENCE_CLASSIFICATION: P.PIXELForSequenceClassification,
                TaskKind.TOKEN_CLASSIFICATION: P.PIXELForTokenClassification,
                TaskKind.QUESTION_ANSWERING: P.PIXELForQuestionAnswering,
                TaskKind.DEPENDENCY_PARSING: P.PIXELForBiaffineParsing}[TaskKind(kind)]

    def build(self, head: HeadSpec, checkpoint: str | Path | None = None,
              from_scratch: bool = False, max_seq_length: int | None = None,
              allow_mismatched: bool = False):
        from pixel_bench.modeling.pixel import (PIXELConfig, load_pixel_checkpoint,
                                                resize_position_embeddings)
        from pixel_bench.modeling.pixel.loading import read_config, resolve_checkpoint

        kind = TaskKind(head.kind)
        cls = self.head_class(kind)
        kwargs = ({"pooling_mode": head.pooling, "add_layer_norm": head.add_layer_norm}
                  if kind is TaskKind.SEQUENCE_CLASSIFICATION else {})
        overrides = self._overrides(head)
        if checkpoint is None and not (from_scratch or self.tiny):
            checkpoint = self.card.hub_id
        if checkpoint is None:
            base = self.layout
            model = cls(PIXELConfig(**{**base, **overrides}), **kwargs)
        elif from_scratch:
            model = cls(read_config(resolve_checkpoint(checkpoint), **overrides), **kwargs)
        else:
            model = load_pixel_checkpoint(checkpoint, cls, config_overrides=overrides, **kwargs)
            self._check_checkpoint_renderer(checkpoint, model.config)
        if max_seq_length is not None:
            logger.info("%s: %s", self.card.name, resize_position_embeddings(model, max_seq_length))
        return model

    def build_pretraining(self, checkpoint: str | Path | None = None, from_scratch: bool = False,
                          max_seq_length: int | None = None, **config_overrides: Any):
        """The MAE pretraining model (tiny/base layout or a checkpoint), sized for L patches."""
        from pixel_bench.modeling.pixel import (PIXELConfig, PIXELForPreTraining,
                                                load_pixel_checkpoint, resize_position_embeddings)
        from pixel_bench.modeling.pixel.loading import read_config, resolve_checkpoint

        if checkpoint is None and not (from_scratch or self.tiny):
            checkpoint = self.card.hub_id
        if checkpoint is None:
            base = self.layout
            model = PIXELForPreTraining(PIXELConfig(**{**base, **config_overrides}))
        elif from_scratch:
            model = PIXELForPreTraining(read_config(resolve_checkpoint(checkpoint),
                                                    **config_overrides))
        else:
            model = load_pixel_checkpoint(checkpoint, PIXELForPreTraining,
                                          config_overrides=config_overrides)
        if max_seq_length is not None and max_seq_length != model.config.num_patches:
            resize_position_embeddings(model, max_seq_length)
        return model

    def pretraining_mask_generator(self, num_positions: int, mask_ratio: float = 0.25):
        """PIXEL's span-masking generator (:mod:`pixel_bench.modeling.masking`) with
        pixel-base's parameters (see that module)."""
        import math

        from pixel_bench.modeling.masking import SpanMaskingGenerator

        num_patches = num_positions

        return SpanMaskingGenerator(num_patches=num_patches,
                                    num_masking_patches=math.ceil(mask_ratio * num_patches),
                                    max_span_length=6, spacing="span",
                                    cumulative_span_weights=[0.2, 0.4, 0.6, 0.8, 0.9, 1.0])

    def _check_checkpoint_renderer(self, checkpoint: str | Path, config: Any) -> None:
        from pixel_bench.modeling.adapter import load_checkpoint_renderer_config
        from pixel_bench.render import CONFIG_FILE_NAME

        path = Path(checkpoint).expanduser()
        if path.is_dir() and (path / CONFIG_FILE_NAME).is_file():
            try:
                renderer = load_checkpoint_renderer_config(path)
            except ConfigError as exc:
                raise CheckpointError(str(exc)) from None
            check_renderer_fits_model(renderer, config, source=str(path / CONFIG_FILE_NAME))

    def save_pretrained(self, model: Any, directory: str | Path, renderer: Any = None) -> None:
        """config.json + model.safetensors + text_renderer_config.json + the font file."""
        if renderer is None:
            _name, renderer = self.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION,
                                                   max_seq_length=model.config.num_patches)
        check_renderer_fits_model(renderer, model.config)
        super().save_pretrained(model, directory, renderer)


for _name, _tiny in (("pixel-base", False), ("pixel-tiny", True)):
    _card = ModelCard(
        name=_name, family="pixel", hub_id=None if _tiny else "Team-PIXEL/pixel-base",
        size="tiny" if _tiny else "base",
        description=("PIXEL: pre-LN ViT-MAE over rendered text, 16x16 patches" +
                     (", tiny random-init (hidden 32, 2 layers)" if _tiny
                      else " (Team-PIXEL/pixel-base, 86M encoder)")),
        attributes={"architecture": "encoder", "input": "grey", "patch": "16x16",
                    "pooling": "mean|max|cls|pma<K>", "masking": "span",
                    "max_seq_length": BASE_PATCHES})
    MODELS.register(_name, ModelEntry(_card, partial(PixelAdapter, tiny=_tiny)),
                    help=_card.description)

#: the other released Team-PIXEL pretrained models: PIXEL's architecture, other sizes and
#: renderers ("Text Rendering Strategies for Pixel Language Models", Lotz et al. 2023: small
#: continuous and tiny/small/base bigrams; PIXEL-M4, Kesen et al. 2025: base, bigrams, pretrained
#: on English, Hindi, Ukrainian and Simplified Chinese)
TEAM_PIXEL = (
    # name, hub id, size, renderer, layout, description
    ("pixel-small", "Team-PIXEL/pixel-small-continuous", "small", "pangocairo", SMALL_CONFIG,
     "PIXEL-small, continuous rendering (hidden 384, 12 layers, 6 heads)"),
    ("pixel-tiny-bigrams", "Team-PIXEL/pixel-tiny-bigrams", "tiny192", "pangocairo-bigrams",
     TEAM_TINY_CONFIG, "PIXEL-tiny, bigrams rendering (hidden 192, 12 layers, 3 heads)"),
    ("pixel-small-bigrams", "Team-PIXEL/pixel-small-bigrams", "small", "pangocairo-bigrams",
     SMALL_CONFIG, "PIXEL-small, bigrams rendering (hidden 384, 12 layers, 6 heads)"),
    ("pixel-base-bigrams", "Team-PIXEL/pixel-base-bigrams", "base", "pangocairo-bigrams",
     BASE_CONFIG, "PIXEL-base, bigrams rendering (hidden 768, 12 layers, 12 heads)"),
    ("pixel-m4", "Team-PIXEL/pixel-m4", "base", "pangocairo-bigrams", BASE_CONFIG,
     "PIXEL-M4: base, bigrams, pretrained on English, Hindi, Ukrainian, Chinese"),
)
for _name, _hub, _size, _renderer, _layout, _desc in TEAM_PIXEL:
    _card = ModelCard(
        name=_name, family="pixel", hub_id=_hub, size=_size, description=f"{_desc} ({_hub})",
        attributes={"architecture": "encoder", "input": "grey", "patch": "16x16",
                    "pooling": "mean|max|cls|pma<K>", "masking": "span",
                    "max_seq_length": BASE_PATCHES, "renderer": _renderer,
                    "hidden_size": _layout.get("hidden_size", 768)})
    MODELS.register(_name, ModelEntry(_card, partial(PixelAdapter, renderer=_renderer,
                                                     layout=_layout)),
                    help=_card.description)
