"""The one interface every model family implements, so the run loop never special-cases a family.

A :class:`ModelAdapter` answers four questions for the loop:

1. *How must text be rendered for this model?* -> :meth:`renderer_config` (renderer name plus a
   :class:`~pixel_bench.render.RendererConfig`), or ``None`` for text baselines, which tokenize.
2. *What does a rendered example look like as model input?* -> :meth:`features` turns one
   :class:`~pixel_bench.render.Encoding` into numpy arrays; :meth:`collate` stacks them.
3. *Which network, with which head?* -> :meth:`build` returns a ``torch.nn.Module`` whose
   ``forward(**batch)`` returns a transformers ``ModelOutput`` with ``loss`` (when labels are given)
   and ``logits`` (or ``start_logits``/``end_logits`` for QA).
4. *Where do positions live?* -> :meth:`label_positions` maps renderer patch indices (e.g. word
   starts) to model positions (PIXAR-2024 groups two 8-px renderer patches per position).

Adapters are registered in :data:`pixel_bench.registry.MODELS` by the plug-in files in the
top-level ``models/`` folder, so a user's own model registers exactly the same way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # heavy imports only for type checkers
    import torch

    from ..render import Encoding, RendererConfig


class TaskKind(str, Enum):
    SEQUENCE_CLASSIFICATION = "sequence_classification"  # single sentence or pair; 1 label = regression
    TOKEN_CLASSIFICATION = "token_classification"  # first patch (or sub-token) of each word
    QUESTION_ANSWERING = "question_answering"  # extractive span: start / end logits


@dataclass(frozen=True)
class HeadSpec:
    """What the task needs from the model's head. Family-specific knobs (pooling) are ignored by
    families that have none (PixelGPT and PIXAR-2024 always pool at the EOS position)."""

    kind: TaskKind
    num_labels: int = 2
    pooling: str = "mean"  # PIXEL / thesis PIXAR: mean | max | cls | pma<K>
    add_layer_norm: bool = True  # PIXEL pooler's optional LayerNorm
    dropout: float | None = None  # overrides hidden/attention dropout when set
    id2label: dict[int, str] | None = None
    problem_type: str | None = None  # "regression" for STS-B, else inferred from num_labels


@dataclass
class ModelCard:
    """Static facts about a registered model name, for ``ls models`` and result records."""

    name: str
    family: str  # "pixel" | "pixar" | "pixar2024" | "pixelgpt" | "text"
    description: str = ""
    hub_id: str | None = None  # where released weights live (users have internet)
    size: str = "base"  # "tiny" for tests and CPU runs, else the real size
    attributes: dict[str, Any] = field(default_factory=dict)  # e.g. architecture/masking/input


class ModelAdapter(ABC):
    """Base class; one subclass per family, one instance per registered model name."""

    card: ModelCard

    # -- rendering -------------------------------------------------------------------------
    @abstractmethod
    def renderer_config(self, task_kind: TaskKind, max_seq_length: int | None = None,
                        renderer: str | None = None, checkpoint: str | Path | None = None,
                        ) -> tuple[str, "RendererConfig"] | None:
        """Renderer name and settings this model was trained with (None: a text model).

        ``max_seq_length`` comes from the task recipe; ``renderer`` lets a recipe choose the
        backend where the original scripts allowed a choice (PIXEL GLUE: pygame or pangocairo).
        ``checkpoint``: the weights directory (or cached hub id) the run loads; when it ships a
        ``text_renderer_config.json`` and font (see :func:`checkpoint_renderer`), adapters use
        those settings. The run loop passes it only to adapters whose signature accepts it, so
        plug-ins written without the parameter keep working.
        """

    @abstractmethod
    def features(self, encoding: "Encoding") -> dict[str, np.ndarray]:
        """Model inputs of one rendered example as numpy arrays (cacheable, picklable)."""

    @abstractmethod
    def collate(self, features: list[dict[str, np.ndarray]]) -> dict[str, "torch.Tensor"]:
        """Stack per-example features (and ``labels`` / ``start_positions`` ...) into a batch."""

    def label_positions(self, patch_indices: np.ndarray) -> np.ndarray:
        """Map renderer patch indices to model sequence positions (identity by default)."""
        return patch_indices

    def num_positions(self, max_seq_length: int) -> int:
        """Model sequence length for a strip of ``max_seq_length`` renderer patches."""
        return max_seq_length

    # -- networks --------------------------------------------------------------------------
    @abstractmethod
    def build(self, head: HeadSpec, checkpoint: str | Path | None = None,
              from_scratch: bool = False, max_seq_length: int | None = None) -> "torch.nn.Module":
        """Build the model with a task head; load ``checkpoint`` (a local directory or hub id)
        unless ``from_scratch``. Raises CheckpointError naming what is missing."""

    def save_pretrained(self, model: "torch.nn.Module", directory: str | Path,
                        renderer: "RendererConfig | None" = None) -> None:
        """Write an HF-style checkpoint directory: config.json, model.safetensors and, for pixel
        models, text_renderer_config.json plus the font file."""
        model.save_pretrained(str(directory))  # type: ignore[operator]
        if renderer is not None:
            renderer.save(directory)


# -- helpers shared by the pixel adapters -------------------------------------------------------
def checkpoint_renderer_dir(checkpoint: str | Path | None) -> Path | None:
    """The directory holding a checkpoint's ``text_renderer_config.json``, or None.

    ``checkpoint`` is a local directory or a hub id; a hub id is looked up in the local Hugging
    Face cache only (never downloads here).
    """
    from ..render import CONFIG_FILE_NAME

    if checkpoint is None:
        return None
    path = Path(checkpoint).expanduser()
    if path.is_dir():
        return path if (path / CONFIG_FILE_NAME).is_file() else None
    try:
        from huggingface_hub import snapshot_download

        path = Path(snapshot_download(repo_id=str(checkpoint), local_files_only=True,
                                      allow_patterns=[CONFIG_FILE_NAME, "*.ttf", "*.otf"]))
    except Exception:  # noqa: BLE001 - not cached, not a hub id, no huggingface_hub
        return None
    return path if (path / CONFIG_FILE_NAME).is_file() else None


def checkpoint_renderer(checkpoint: str | Path | None, **overrides: Any) -> "RendererConfig | None":
    """The renderer settings a checkpoint ships (``text_renderer_config.json`` + the font file
    beside the weights, as ``save_pretrained`` writes them), with ``overrides`` applied; None when
    the checkpoint has none. Raises ConfigError when the config names a font that is missing."""
    from ..errors import ConfigError
    from ..render import CONFIG_FILE_NAME, RendererConfig

    own = checkpoint_renderer_dir(checkpoint)
    if own is None:
        return None
    cfg = RendererConfig.from_file(own / CONFIG_FILE_NAME)
    if not Path(cfg.font_file).is_file():
        raise ConfigError(f"{own / CONFIG_FILE_NAME}: font file {cfg.font_file} is missing "
                          "(checkpoints ship it beside the config)")
    return cfg.with_overrides(**overrides) if overrides else cfg
