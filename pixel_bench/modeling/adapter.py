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

Adapters are registered in :data:`pixel_bench.registry.MODELS` as a :class:`ModelEntry` (card +
factory) by the plug-in files in the top-level ``models/`` folder, so a user's own model registers
exactly the same way. ``MODELS.get(name)`` builds a fresh adapter every time and the run loop binds
it to one run with :meth:`ModelAdapter.for_run`, so nothing registered is ever changed by a run.
What else the loops may call is declared in :mod:`pixel_bench.modeling.contracts` (text input,
QA windows, pretraining) and :mod:`pixel_bench.modeling.generation` (generation).
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

if TYPE_CHECKING:  # heavy imports only for type checkers
    import torch

    from ..render import Encoding, RendererConfig


class TaskKind(str, Enum):
    SEQUENCE_CLASSIFICATION = "sequence_classification"  # single sentence or pair; 1 label = regression
    TOKEN_CLASSIFICATION = "token_classification"  # first patch (or sub-token) of each word
    QUESTION_ANSWERING = "question_answering"  # extractive span: start / end logits
    DEPENDENCY_PARSING = "dependency_parsing"  # head + relation of every word (biaffine)


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


@dataclass(frozen=True)
class ModelCard:
    """Static facts about a registered model name, for ``ls models`` and result records."""

    name: str
    family: str  # "pixel" | "pixar" | "pixar2024" | "pixelgpt" | "text"
    description: str = ""
    hub_id: str | None = None  # where released weights live (users have internet)
    size: str = "base"  # "tiny" for tests and CPU runs, else the real size
    attributes: dict[str, Any] = field(default_factory=dict)  # e.g. architecture/masking/input


class ModelAdapter(ABC):
    """Base class; one subclass per model family. Instances are made per run by a registered
    :class:`ModelEntry` and bound to that run by :meth:`for_run`."""

    card: ModelCard

    #: what the model reads: "pixels" (a rendering), "text" (tokens only) or "pair" (both; see
    #: :class:`~pixel_bench.modeling.contracts.TextInputAdapter`)
    input_kind: str = "pixels"
    #: :meth:`build` honours ``allow_mismatched`` (recipe ``allow_mismatched_weights``)
    accepts_mismatched_weights: bool = False

    @property
    def local_weights(self) -> str | None:
        """A directory the model name itself points at (``text:DIR``), loaded like
        ``--checkpoint DIR``; None for registered names."""
        return None

    def for_run(self, task_kind: TaskKind, max_seq_length: int | None) -> "ModelAdapter":
        """A copy of this adapter bound to one run: ``task_kind`` and the recipe's
        ``max_seq_length`` (renderer patches for pixel models, tokens for text models; None: the
        model's own). Adapters whose features depend on them (PixelGPT's crop, a tokenizer's
        length) override this; the default is a shallow copy."""
        return copy.copy(self)

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
        those settings. Pure: the adapter is not changed.
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
              from_scratch: bool = False, max_seq_length: int | None = None,
              allow_mismatched: bool = False) -> "torch.nn.Module":
        """Build the model with a task head; load ``checkpoint`` (a local directory or hub id)
        unless ``from_scratch``. ``max_seq_length``: the input length of this run (renderer
        patches, mapped to positions with :meth:`num_positions`; tokens for text models).
        ``allow_mismatched``: only where :attr:`accepts_mismatched_weights`. Raises
        CheckpointError naming what is missing."""

    def save_pretrained(self, model: "torch.nn.Module", directory: str | Path,
                        renderer: "RendererConfig | None" = None) -> None:
        """Write an HF-style checkpoint directory: config.json, model.safetensors and, for pixel
        models, text_renderer_config.json plus the font file."""
        model.save_pretrained(str(directory))  # type: ignore[operator]
        if renderer is not None:
            renderer.save(directory)


@dataclass(frozen=True)
class ModelEntry:
    """What :data:`pixel_bench.registry.MODELS` holds for one model name: the card and a factory
    ``factory(card) -> ModelAdapter`` called afresh for every run."""

    card: ModelCard
    factory: Callable[[ModelCard], ModelAdapter]

    def create(self) -> ModelAdapter:
        return self.factory(self.card)

    @classmethod
    def of(cls, adapter: ModelAdapter) -> "ModelEntry":
        """An entry for an adapter instance (plug-ins that register one): every run gets a deep
        copy, so the registered instance is never changed."""
        return cls(adapter.card, lambda _card: copy.deepcopy(adapter))


# -- helpers shared by the adapters -------------------------------------------------------------
#: batch fields besides the model inputs (integer ones are collated as int64)
LABEL_KEYS = ("labels", "start_positions", "end_positions", "arc_labels", "rel_labels",
              "word_starts")


def head_overrides(head: HeadSpec, dropout_keys: tuple[str, ...] = (),
                   with_labels: bool = True) -> dict[str, Any]:
    """Config overrides a task head asks for: ``num_labels`` and ``id2label``/``label2id``
    (unless ``with_labels`` is false), ``problem_type``, and ``head.dropout`` written to each of
    the family's ``dropout_keys`` (e.g. ``hidden_dropout_prob``)."""
    overrides: dict[str, Any] = {}
    if with_labels:
        overrides["num_labels"] = head.num_labels
        if head.id2label:
            overrides["id2label"] = {int(k): v for k, v in head.id2label.items()}
            overrides["label2id"] = {v: int(k) for k, v in head.id2label.items()}
    if head.problem_type:
        overrides["problem_type"] = head.problem_type
    if head.dropout is not None:
        for key in dropout_keys:
            overrides[key] = head.dropout
    return overrides


def stack_features(features: list[dict[str, np.ndarray]], float_keys: tuple[str, ...] = (),
                   long_keys: tuple[str, ...] = (), required: tuple[str, ...] = (),
                   skip_prefix: str | None = None) -> dict[str, "torch.Tensor"]:
    """Stack per-example features key by key into tensors: ``float_keys`` as float32,
    ``long_keys`` and integer :data:`LABEL_KEYS` as int64 (float labels, i.e. regression, stay
    float), every other key in its own dtype. Keys starting with ``skip_prefix`` are left out.
    Raises DataError for an empty batch, ragged features or a missing ``required`` key."""
    import torch

    from ..errors import DataError

    if not features:
        raise DataError("cannot collate an empty batch")
    batch: dict[str, torch.Tensor] = {}
    for key in features[0]:
        if skip_prefix is not None and key.startswith(skip_prefix):
            continue
        try:
            stacked = np.stack([np.asarray(f[key]) for f in features])
        except ValueError as exc:
            raise DataError(f"cannot batch feature {key!r}: {exc}") from None
        tensor = torch.as_tensor(stacked)
        if key in float_keys:
            tensor = tensor.float()
        elif key in long_keys or (key in LABEL_KEYS and not tensor.is_floating_point()):
            tensor = tensor.long()
        batch[key] = tensor
    missing = [k for k in required if k not in batch]
    if missing:
        raise DataError(f"batch lacks {missing}; features() produces them")
    return batch


def encoding_attention_mask(encoding: "Encoding", num_patches: int, name: str) -> np.ndarray:
    """The encoding's attention mask as float32 ``[num_patches]`` (checked), or text + EOS
    patches from ``num_text_patches`` when the encoding carries none."""
    from ..errors import DataError

    if encoding.attention_mask is None:
        from ..render.base import get_attention_mask

        return get_attention_mask(int(encoding.num_text_patches), num_patches)
    mask = np.asarray(encoding.attention_mask, dtype=np.float32).reshape(-1)
    if mask.shape[0] != num_patches:
        raise DataError(f"{name}: attention_mask has {mask.shape[0]} entries for {num_patches} "
                        "patches")
    return mask


def check_patch_size(renderer: "RendererConfig", config: Any, source: str = "renderer") -> None:
    """Raise ConfigError when the renderer's patch width is not the model's ``patch_size``."""
    if int(renderer.pixels_per_patch) != int(config.patch_size):
        from ..errors import ConfigError

        raise ConfigError(f"{source}: pixels_per_patch {renderer.pixels_per_patch} does not "
                          f"match the model's patch_size {config.patch_size}")


def checkpoint_renderer_dir(checkpoint: str | Path | None) -> Path | None:
    """The directory holding a checkpoint's ``text_renderer_config.json``, or None.

    ``checkpoint`` is a local directory or a hub id; a hub id is looked up in the local Hugging
    Face cache only (never downloads here).
    """
    from ..paths import local_or_hub
    from ..render import CONFIG_FILE_NAME

    if checkpoint is None:
        return None
    path, hub_id = local_or_hub(checkpoint)
    if path is not None:
        return path if (path / CONFIG_FILE_NAME).is_file() else None
    if hub_id is None:
        return None
    try:
        from huggingface_hub import snapshot_download

        path = Path(snapshot_download(repo_id=hub_id, local_files_only=True,
                                      allow_patterns=[CONFIG_FILE_NAME, "*.ttf", "*.otf"]))
    except Exception:  # noqa: BLE001 - not cached, not a hub id, no huggingface_hub
        return None
    return path if (path / CONFIG_FILE_NAME).is_file() else None


def _trusted_roots(directory: Path) -> list[Path]:
    """Folders a checkpoint's renderer files may resolve into: the checkpoint folder itself and,
    for a Hugging Face cache snapshot (``models--org--name/snapshots/<rev>``, whose files are
    symlinks into ``../../blobs``), that repository's cache folder."""
    own = directory.resolve()
    roots = [own]
    if own.parent.name == "snapshots" and own.parent.parent.name.startswith("models--"):
        roots.append(own.parent.parent)
    return roots


def _confine(path: str, directory: Path, key: str, source: Path) -> None:
    from ..errors import UnsafePathError

    target = Path(path).resolve()
    if not any(target == root or root in target.parents for root in _trusted_roots(directory)):
        raise UnsafePathError(f"{source}: {key} {path!r} points outside the checkpoint folder "
                          f"{directory} (to {target}); a checkpoint's renderer may only use "
                          "files shipped inside it. Put the font beside the config and name it "
                          "by its file name")


def load_checkpoint_renderer_config(directory: str | Path) -> "RendererConfig":
    """``<directory>/text_renderer_config.json`` of a checkpoint, with its font file (and
    ``fallback_fonts_dir``) confined to the checkpoint folder, symlinks resolved: a config naming
    ``../../etc/passwd`` or an absolute path elsewhere raises ConfigError."""
    from ..render import CONFIG_FILE_NAME, RendererConfig

    directory = Path(directory).expanduser()
    source = directory / CONFIG_FILE_NAME
    cfg = RendererConfig.from_file(source)
    _confine(cfg.font_file, directory, "font_file", source)
    if cfg.fallback_fonts_dir:
        fallback = Path(cfg.fallback_fonts_dir).expanduser()
        if not fallback.is_absolute():  # as the font file: relative to the config's folder
            fallback = directory / fallback
        _confine(str(fallback), directory, "fallback_fonts_dir", source)
        cfg = cfg.with_overrides(fallback_fonts_dir=str(fallback))
    return cfg


def checkpoint_renderer(checkpoint: str | Path | None, **overrides: Any) -> "RendererConfig | None":
    """The renderer settings a checkpoint ships (``text_renderer_config.json`` + the font file
    beside the weights, as ``save_pretrained`` writes them), with ``overrides`` applied; None when
    the checkpoint has none. Raises ConfigError when the config names a font that is missing or
    lies outside the checkpoint folder."""
    from ..errors import ConfigError
    from ..render import CONFIG_FILE_NAME

    own = checkpoint_renderer_dir(checkpoint)
    if own is None:
        return None
    cfg = load_checkpoint_renderer_config(own)
    if not Path(cfg.font_file).is_file():
        raise ConfigError(f"{own / CONFIG_FILE_NAME}: font file {cfg.font_file} is missing "
                          "(checkpoints ship it beside the config)")
    return cfg.with_overrides(**overrides) if overrides else cfg
