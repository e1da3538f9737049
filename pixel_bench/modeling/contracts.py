"""What the loops may call on a model adapter beyond :class:`~.adapter.ModelAdapter`: small
declared mixins, checked with ``isinstance`` (never ``hasattr`` / signature probing).

* :class:`TextInputAdapter` — the model reads tokens (text baselines, PixelGPT's ``-text`` and
  ``-pair`` variants): :meth:`~TextInputAdapter.text_features` for sentences, pairs and word lists.
* :class:`QAInputAdapter` — extractive QA from tokens: sliding windows with offsets.
* :class:`PretrainingAdapter` — ``pixel-bench pretrain`` can train it: the pretraining network and,
  optionally, the encoder's patch-mask generator for the data workers.
* :class:`~pixel_bench.modeling.generation.GenerativeAdapter` — generative tasks (LAMBADA, bAbI).

Which input a run feeds is the adapter's declared :attr:`~.adapter.ModelAdapter.input_kind`
(``pixels`` / ``text`` / ``pair``); ``text`` and ``pair`` adapters must be TextInputAdapters.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    import torch

    from ..render import Encoding


class TextInputAdapter(ABC):
    """Mixin: the model reads tokens (alone, ``input_kind == "text"``, or beside the rendering,
    ``input_kind == "pair"``)."""

    @property
    @abstractmethod
    def text_length(self) -> int:
        """Tokens kept per example (the run's ``max_seq_length`` for text input)."""

    @abstractmethod
    def text_features(self, text: str | tuple[str, str] | list[str], label: Any = None, *,
                      word_labels: Any = None) -> dict[str, np.ndarray]:
        """Token features of a sentence, a pair or (with ``word_labels``: labels on each word's
        first sub-token) a word list."""

    def pair_features(self, encoding: "Encoding", text: Any) -> dict[str, np.ndarray]:
        """Features of the rendering and the tokens together (``input_kind == "pair"``)."""
        from ..errors import ConfigError

        raise ConfigError(f"{type(self).__name__} reads no image+text pairs")


def require_text_input(adapter: Any) -> TextInputAdapter:
    """``adapter`` as a TextInputAdapter, or a ConfigError naming it (nothing was rendered for a
    model that cannot read tokens)."""
    if isinstance(adapter, TextInputAdapter):
        return adapter
    from ..errors import ConfigError

    raise ConfigError(f"{adapter.card.name} has no renderer and reads no tokens "
                      "(TextInputAdapter)")


class QAInputAdapter(ABC):
    """Mixin: extractive QA windows from tokens (text input; pixel QA comes from the renderer)."""

    @abstractmethod
    def qa_features(self, question: str, context: str, answer_start: int | None = None,
                    answer_text: str | None = None, stride: int = 128
                    ) -> list[dict[str, np.ndarray]]:
        """One feature dict per window, with ``offset_mapping`` and the answer's token span."""


class MaskGenerator(Protocol):
    """An encoder patch mask for one example: 1 = masked, drawn from ``rng`` only (so masks never
    depend on worker count or order)."""

    def __call__(self, num_text_patches: int, rng: Any = None) -> np.ndarray: ...


class PretrainingAdapter(ABC):
    """Mixin: a model family ``pixel-bench pretrain`` can train."""

    @abstractmethod
    def build_pretraining(self, checkpoint: str | Path | None = None, from_scratch: bool = False,
                          max_seq_length: int | None = None, **config_overrides: Any
                          ) -> "torch.nn.Module":
        """The pretraining network (its ``forward(**batch)`` returns ``loss``): random init when
        ``from_scratch`` (or a tiny model without checkpoint), else ``checkpoint``'s weights.
        ``max_seq_length`` is in model positions (:meth:`ModelAdapter.num_positions`)."""

    def pretraining_mask_generator(self, num_positions: int, mask_ratio: float = 0.25
                                   ) -> MaskGenerator | None:
        """The encoder's patch-mask generator for the data workers, or None when the model masks
        by itself (or needs no mask)."""
        return None
