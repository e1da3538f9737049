"""Text baselines: any transformers model with its tokenizer (model code and featurisation in
:mod:`pixel_bench.modeling.text_baseline`).

Registered names: ``bert-base-uncased``, ``bert-base-cased``, ``roberta-base``, ``gpt2``
(hub ids), ``bert-tiny`` / ``gpt2-tiny`` (2-layer random-init models with a tokenizer trained on
the fly; no hub), and ``text``: ``MODELS.get("text").for_model("<hub id or directory>")`` gives an
adapter for any other model (the CLI spelling is ``text:<name-or-dir>``).

Text models are not rendered (:meth:`renderer_config` returns None): the loop calls
:meth:`TextAdapter.text_features` (sentence, pair or word list) or :meth:`qa_features` instead of
``features(encoding)``.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from pixel_bench.errors import CheckpointError, ConfigError, DataError
from pixel_bench.modeling.contracts import QAInputAdapter, TextInputAdapter
from pixel_bench.modeling.adapter import HeadSpec, ModelAdapter, ModelCard, ModelEntry, TaskKind
from pixel_bench.modeling.generation import GenerativeAdapter
from pixel_bench.registry import MODELS

DEFAULT_MAX_LENGTH = 512
TEXT_PREFIX = "text:"


class TextAdapter(GenerativeAdapter, TextInputAdapter, QAInputAdapter, ModelAdapter):
    """A tokenizer-based model; ``model`` is a hub id or a local directory."""

    input_kind = "text"
    accepts_mismatched_weights = True
    generation_kind = "text"

    def __init__(self, card: ModelCard, model: str | None, tiny_kind: str | None = None) -> None:
        self.card = card
        self.model = model
        self.tiny_kind = tiny_kind  # "wordpiece" (BERT) / "bpe" (GPT-2) for the tiny names
        self.max_length = DEFAULT_MAX_LENGTH
        self._tokenizer: Any = None

    def for_model(self, name_or_dir: str | Path) -> "TextAdapter":
        """An adapter for any transformers model (``text:<name-or-dir>``)."""
        name = str(name_or_dir)
        if name.startswith(TEXT_PREFIX):
            name = name[len(TEXT_PREFIX):]
        if not name:
            raise ConfigError("text:<name-or-dir> needs a model name or directory")
        local = Path(name).expanduser()
        if local.is_dir():  # a local directory is the checkpoint itself (no --checkpoint)
            card = ModelCard(name=TEXT_PREFIX + name, family="text", hub_id=None,
                             description=f"text baseline from {local}",
                             attributes={"input": "tokens"})
            return TextAdapter(card, str(local))
        if name.startswith(("/", ".", "~")):
            raise CheckpointError(f"text:{name}: no such directory (a local model folder written "
                              "by save_pretrained, or a Hugging Face Hub id)")
        card = ModelCard(name=TEXT_PREFIX + name, family="text", hub_id=name,
                         description=f"text baseline {name}", attributes={"input": "tokens"})
        return TextAdapter(card, name)

    @property
    def local_weights(self) -> str | None:
        """The model directory of ``text:DIR`` (the runner loads it like ``--checkpoint DIR``)."""
        if self.model is not None and self.tiny_kind is None and Path(self.model).is_dir():
            return self.model
        return None

    # -- rendering: none -------------------------------------------------------------------
    @property
    def text_length(self) -> int:
        return int(self.max_length)

    def for_run(self, task_kind: TaskKind, max_seq_length: int | None) -> "TextAdapter":
        """A copy truncating at the recipe's length in tokens (default 512)."""
        bound = super().for_run(task_kind, max_seq_length)
        if max_seq_length is not None:
            bound.max_length = int(max_seq_length)
        return bound

    def renderer_config(self, task_kind: TaskKind, max_seq_length: int | None = None,
                        renderer: str | None = None, checkpoint: str | Path | None = None
                        ) -> None:
        return None

    def features(self, encoding: Any = None, text: Any = None) -> dict[str, np.ndarray]:
        if text is None:
            raise DataError(f"{self.card.name} is a text model: call text_features(text) "
                            "(it renders nothing)")
        return self.text_features(text)

    # -- tokenization ----------------------------------------------------------------------
    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from pixel_bench.modeling.text_baseline import load_tokenizer, tiny_tokenizer

            if self.tiny_kind is not None:
                self._tokenizer = tiny_tokenizer(self.tiny_kind)
            elif self.model is None:
                raise ConfigError(f"{self.card.name}: no model given; use "
                                  "MODELS.get('text').for_model(name_or_dir)")
            else:
                # byte-level BPE (GPT-2, RoBERTa) needs a prefix space for pre-split words
                kwargs = {"add_prefix_space": True} if _byte_level(self.model) else {}
                self._tokenizer = load_tokenizer(self.model, **kwargs)
        return self._tokenizer

    def set_tokenizer(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer

    def text_features(self, text: str | tuple[str, str] | list[str], label: Any = None, *,
                      word_labels: Any = None) -> dict[str, np.ndarray]:
        """Sentence, pair or words (with ``word_labels``: first sub-token labels)."""
        from pixel_bench.modeling.text_baseline import text_features

        return text_features(self.tokenizer, text, label, max_length=self.max_length,
                             word_labels=word_labels)

    def qa_features(self, question: str, context: str, answer_start: int | None = None,
                    answer_text: str | None = None, stride: int = 128
                    ) -> list[dict[str, np.ndarray]]:
        """Sliding windows with offsets and the answer's token span (see text_baseline)."""
        from pixel_bench.modeling.text_baseline import qa_features

        return qa_features(self.tokenizer, question, context, max_length=self.max_length,
                           stride=stride, answer_start=answer_start, answer_text=answer_text)

    def collate(self, features: list[dict[str, np.ndarray]]):
        from pixel_bench.modeling.text_baseline import collate_tokens

        batch = collate_tokens(features, int(self.tokenizer.pad_token_id))
        batch.pop("offset_mapping", None)  # post-processing only, not a model input
        return batch

    # -- networks --------------------------------------------------------------------------
    def build(self, head: HeadSpec, checkpoint: str | Path | None = None,
              from_scratch: bool = False, max_seq_length: int | None = None,
              allow_mismatched: bool = False):
        from pixel_bench.modeling.text_baseline import build_text_model, tiny_config

        kind = TaskKind(head.kind).value
        common = dict(pad_token_id=self.tokenizer.pad_token_id, id2label=head.id2label,
                      problem_type=head.problem_type, dropout=head.dropout)
        if checkpoint is None and self.tiny_kind is not None:
            config = tiny_config(self.tiny_kind, len(self.tokenizer),
                                 int(self.tokenizer.pad_token_id))
            return build_text_model(self.card.name, kind, head.num_labels, config=config,
                                    **common)
        source = checkpoint or self.model
        if source is None:
            raise ConfigError(f"{self.card.name}: no model given")
        return build_text_model(source, kind, head.num_labels, from_scratch=from_scratch,
                                allow_mismatched=allow_mismatched, **common)

    def build_generator(self, checkpoint: str | Path | None = None, from_scratch: bool = False,
                        device: str = "cpu", options: dict[str, Any] | None = None):
        """Greedy text continuation; causal LMs only (GPT-2 style), encoders raise."""
        from pixel_bench.generative.decode import build_text_generator

        return build_text_generator(self, checkpoint, from_scratch, device, options or {})

    def save_pretrained(self, model: Any, directory: str | Path, renderer: Any = None) -> None:
        model.save_pretrained(str(directory))
        self.tokenizer.save_pretrained(str(directory))


def _byte_level(model: str) -> bool:
    name = Path(model).name.lower()
    if any(k in name for k in ("gpt2", "roberta", "gpt-neo", "opt-", "bart")):
        return True
    tok_json = Path(model) / "tokenizer.json"
    if tok_json.is_file():
        return '"ByteLevel"' in tok_json.read_text(encoding="utf-8", errors="ignore")[-20000:]
    return False


_HUB = {
    "bert-base-uncased": "google-bert/bert-base-uncased",
    "bert-base-cased": "google-bert/bert-base-cased",
    "roberta-base": "FacebookAI/roberta-base",
    "gpt2": "openai-community/gpt2",
}
for _name, _hub in _HUB.items():
    _card = ModelCard(name=_name, family="text", hub_id=_hub,
                      description=f"text baseline {_hub}",
                      attributes={"input": "tokens"})
    MODELS.register(_name, ModelEntry(_card, partial(TextAdapter, model=_hub)),
                    help=_card.description)

for _name, _kind, _arch in (("bert-tiny", "wordpiece", "BERT"), ("gpt2-tiny", "bpe", "GPT-2")):
    _card = ModelCard(name=_name, family="text", size="tiny",
                      description=f"tiny random-init {_arch}, on-the-fly tokenizer",
                      attributes={"input": "tokens"})
    MODELS.register(_name, ModelEntry(_card, partial(TextAdapter, model=None, tiny_kind=_kind)),
                    help=_card.description)

MODELS.register("text", ModelEntry(ModelCard(name="text", family="text",
                                             description="any transformers model: "
                                             "text:<hub id or directory>"),
                                   partial(TextAdapter, model=None)),
                help="any transformers model: text:<hub id or directory> "
                     "(MODELS.get('text').for_model(name))")
