"""Text (tokenizer-based) baselines: any transformers model name or directory (BERT, GPT-2, ...).

Models come from ``AutoModelForSequenceClassification`` / ``...TokenClassification`` /
``...QuestionAnswering``; inputs from the model's own tokenizer. The featurisation follows the
transformers example scripts: sentence (pair) encoding with truncation, first-sub-token word
labels (``word_ids``, -100 elsewhere) for token tasks, and sliding windows with offset mappings
and start/end token positions for extractive QA.

The helpers here are shared with PixelGPT's text and pair modes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..errors import CheckpointError, ConfigError, DataError
from ..quiet import no_load_report

if TYPE_CHECKING:
    import torch

logger = logging.getLogger("pixel_bench.text_baseline")

AUTO_CLASSES = {
    "sequence_classification": "AutoModelForSequenceClassification",
    "token_classification": "AutoModelForTokenClassification",
    "question_answering": "AutoModelForQuestionAnswering",
}


# --------------------------------------------------------------------------------------------
# tokenizer
# --------------------------------------------------------------------------------------------
def load_tokenizer(name_or_dir: str | Path, pad_with_eos: bool = True, **kwargs: Any) -> Any:
    """``AutoTokenizer.from_pretrained``; a tokenizer without a pad token (GPT-2, LLaMA) gets
    pad = EOS, as the PixelGPT scripts and most GPT-2 fine-tuning recipes do."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(name_or_dir), **kwargs)
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot load a tokenizer from {name_or_dir}: {exc}") from None
    if tok.pad_token is None and pad_with_eos and tok.eos_token is not None:
        tok.pad_token = tok.eos_token
    return tok


def _word_tokenize(tokenizer: Any, words: Sequence[str], max_length: int) -> Any:
    try:
        return tokenizer(list(words), is_split_into_words=True, truncation=True,
                         max_length=max_length)
    except (AssertionError, ValueError) as exc:  # byte-level BPE needs add_prefix_space
        raise ConfigError(f"tokenizer {type(tokenizer).__name__} cannot encode pre-split words "
                          f"({exc}); load byte-level BPE tokenizers with add_prefix_space=True"
                          ) from None


def text_features(tokenizer: Any, text: str | tuple[str, str] | Sequence[str],
                  label: Any = None, *, max_length: int,
                  word_labels: Sequence[int] | None = None) -> dict[str, np.ndarray]:
    """Token ids of one example.

    ``str``: a sentence; ``tuple``: a sentence pair (the tokenizer's own pair template);
    ``list``: pre-split words for token classification, where ``word_labels`` give one label
    per word and only the first sub-token of each word is labelled (others -100). Truncated to
    ``max_length`` tokens (no padding: :func:`collate_tokens` pads per batch, like the scripts'
    ``padding=True``).
    """
    if isinstance(text, str):
        enc = tokenizer(text, truncation=True, max_length=max_length)
    elif isinstance(text, tuple):
        if len(text) != 2:
            raise DataError(f"a sentence pair must have 2 texts, got {len(text)}")
        enc = tokenizer(text[0], text[1], truncation=True, max_length=max_length)
    elif isinstance(text, list):
        enc = _word_tokenize(tokenizer, text, max_length)
    else:
        raise DataError(f"cannot tokenize input of type {type(text).__name__}")
    feats = {"input_ids": np.asarray(enc["input_ids"], dtype=np.int64),
             "attention_mask": np.asarray(enc["attention_mask"], dtype=np.int64)}
    if "token_type_ids" in enc:
        feats["token_type_ids"] = np.asarray(enc["token_type_ids"], dtype=np.int64)
    if word_labels is not None:
        if not isinstance(text, list):
            raise DataError("word_labels need a list of words")
        if len(word_labels) != len(text):
            raise DataError(f"{len(word_labels)} labels for {len(text)} words")
        word_ids = enc.word_ids()
        labels, previous = [], None
        for wid in word_ids:
            labels.append(-100 if wid is None or wid == previous else int(word_labels[wid]))
            previous = wid
        feats["labels"] = np.asarray(labels, dtype=np.int64)
    elif label is not None:
        feats["labels"] = np.asarray(label, dtype=np.float32 if isinstance(label, float)
                                     else np.int64)
    return feats


def qa_features(tokenizer: Any, question: str, context: str, *, max_length: int,
                stride: int = 128, answer_start: int | None = None,
                answer_text: str | None = None) -> list[dict[str, np.ndarray]]:
    """Sliding windows over ``context`` (``only_second`` truncation, ``stride`` tokens of
    overlap) with per-token character ``offset_mapping`` (None outside the context -> (-1,-1)).

    With an answer, ``start_positions``/``end_positions`` are its token span in each window, or
    (0, 0) (the first token, the CLS convention) when the window does not contain it.
    """
    pad_right = getattr(tokenizer, "padding_side", "right") == "right"
    n_question = len(tokenizer(question, add_special_tokens=True)["input_ids"])
    # the windows' overlap must stay below the room left for the context
    stride = max(0, min(stride, max_length - n_question - 4))
    enc = tokenizer(question if pad_right else context, context if pad_right else question,
                    truncation="only_second" if pad_right else "only_first",
                    max_length=max_length, stride=stride, return_overflowing_tokens=True,
                    return_offsets_mapping=True)
    ctx_id = 1 if pad_right else 0
    windows = []
    for i, ids in enumerate(enc["input_ids"]):
        seq_ids = enc.sequence_ids(i)
        offsets = [tuple(o) if s == ctx_id else (-1, -1)
                   for o, s in zip(enc["offset_mapping"][i], seq_ids)]
        feats = {"input_ids": np.asarray(ids, dtype=np.int64),
                 "attention_mask": np.asarray(enc["attention_mask"][i], dtype=np.int64),
                 "offset_mapping": np.asarray(offsets, dtype=np.int64).reshape(-1, 2)}
        if "token_type_ids" in enc:
            feats["token_type_ids"] = np.asarray(enc["token_type_ids"][i], dtype=np.int64)
        if answer_start is not None and answer_text is not None:
            start_char, end_char = answer_start, answer_start + len(answer_text)
            ctx = [j for j, s in enumerate(seq_ids) if s == ctx_id]
            start = end = 0
            if ctx and offsets[ctx[0]][0] <= start_char and offsets[ctx[-1]][1] >= end_char:
                start = next(j for j in ctx if offsets[j][1] > start_char)
                end = max(j for j in ctx if offsets[j][0] < end_char)
            feats["start_positions"] = np.asarray(start, dtype=np.int64)
            feats["end_positions"] = np.asarray(end, dtype=np.int64)
        windows.append(feats)
    return windows


_PAD_VALUES = {"attention_mask": 0, "token_type_ids": 0, "labels": -100,
               "offset_mapping": -1}


def collate_tokens(features: list[dict[str, np.ndarray]], pad_token_id: int,
                   prefix: str = "") -> dict[str, "torch.Tensor"]:
    """Right-pad token features to the longest example (``input_ids`` with ``pad_token_id``,
    masks with 0, token labels with -100); scalars are stacked. ``prefix`` selects keys such as
    ``text_`` (PixelGPT pair mode) and strips it."""
    import torch

    if not features:
        raise DataError("cannot collate an empty batch")
    keys = [k for k in features[0] if k.startswith(prefix)]
    lengths = [len(f[prefix + "input_ids"]) for f in features]
    longest = max(lengths)
    batch: dict[str, torch.Tensor] = {}
    for key in keys:
        name = key[len(prefix):]
        arrays = [np.asarray(f[key]) for f in features]
        if arrays[0].ndim == 0:  # sequence labels, answer positions
            batch[name] = torch.as_tensor(np.stack(arrays))
            continue
        pad = pad_token_id if name == "input_ids" else _PAD_VALUES.get(name, 0)
        out = np.full((len(arrays), longest, *arrays[0].shape[1:]), pad, dtype=arrays[0].dtype)
        for i, a in enumerate(arrays):
            out[i, : len(a)] = a
        batch[name] = torch.as_tensor(out)
    return batch


# --------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------
def build_text_model(name_or_dir: str | Path, kind: str, num_labels: int, *,
                     from_scratch: bool = False, pad_token_id: int | None = None,
                     id2label: dict[int, str] | None = None, problem_type: str | None = None,
                     dropout: float | None = None, config: Any = None,
                     allow_mismatched: bool = False) -> "torch.nn.Module":
    """``AutoModelFor<kind>`` from a hub id or directory (or a config object when
    ``config`` is given, always from scratch).

    Only the task head (and a BERT-style pooler, which only the head uses) may be newly
    initialised (absent from the checkpoint, or with another shape, e.g. a head fine-tuned for
    another label count). Any other weight the checkpoint does
    not provide is a CheckpointError unless ``allow_mismatched`` (recipe key
    ``allow_mismatched_weights``); either way the model's ``pixel_bench_newly_initialized``
    lists every newly initialised weight, for the record."""
    import transformers

    if kind not in AUTO_CLASSES:
        raise ConfigError(f"unknown task kind {kind!r} for a text model; choose one of "
                          f"{sorted(AUTO_CLASSES)}")
    auto = getattr(transformers, AUTO_CLASSES[kind])
    overrides: dict[str, Any] = {}
    if kind != "question_answering":
        overrides["num_labels"] = num_labels
        if id2label:
            overrides["id2label"] = {int(k): v for k, v in id2label.items()}
            overrides["label2id"] = {v: int(k) for k, v in id2label.items()}
    if problem_type:
        overrides["problem_type"] = problem_type
    if config is None:
        try:
            config = transformers.AutoConfig.from_pretrained(str(name_or_dir), **overrides)
        except (OSError, ValueError, KeyError) as exc:
            raise CheckpointError(f"cannot load a transformers config from {name_or_dir}: "
                                  f"{exc}") from None
    else:
        for k, v in overrides.items():
            setattr(config, k, v)
        from_scratch = True
    if pad_token_id is not None and getattr(config, "pad_token_id", None) is None:
        config.pad_token_id = pad_token_id  # GPT-2 classification needs it to find the last token
    if dropout is not None:
        for attr in ("hidden_dropout_prob", "attention_probs_dropout_prob", "resid_pdrop",
                     "embd_pdrop", "attn_pdrop", "dropout", "attention_dropout"):
            if hasattr(config, attr):
                setattr(config, attr, dropout)
    try:
        if from_scratch:
            model = auto.from_config(config)
            model.pixel_bench_newly_initialized = ["(all: random init)"]
            return model
        # ignore_mismatched_sizes lets a differently sized head load; what was re-initialised
        # is checked below
        with no_load_report():  # the keys are checked and reported below
            model, info = auto.from_pretrained(str(name_or_dir), config=config,
                                               ignore_mismatched_sizes=True,
                                               output_loading_info=True)
    except ValueError as exc:  # no head class for this architecture
        raise ConfigError(f"{name_or_dir}: {exc}") from None
    except OSError as exc:
        raise CheckpointError(f"cannot load weights from {name_or_dir}: {exc}") from None
    new = sorted(set(info.get("missing_keys") or ()) |
                 {m[0] for m in info.get("mismatched_keys") or ()})
    prefix = getattr(model, "base_model_prefix", "") or ""
    # the pooler (BERT-style) feeds only the classification head, and MLM-only checkpoints do
    # not have it: it counts as part of the head
    body = [k for k in new if prefix and (k == prefix or k.startswith(prefix + "."))
            and not k.startswith(f"{prefix}.pooler.")]
    if body:
        shown = ", ".join(body[:5]) + (f" and {len(body) - 5} more" if len(body) > 5 else "")
        if not allow_mismatched:
            raise CheckpointError(
                f"{name_or_dir}: {len(body)} weight(s) outside the task head are missing from "
                f"the checkpoint or have another shape ({shown}); they would be randomly "
                "initialised. Check the checkpoint, or accept it with --set "
                "allow_mismatched_weights=true (the record lists them)")
        logger.warning("%s: newly initialised outside the task head: %s", name_or_dir, shown)
    model.pixel_bench_newly_initialized = new
    return model


# --------------------------------------------------------------------------------------------
# tiny tokenizers and models (tests, CPU smoke runs; no hub)
# --------------------------------------------------------------------------------------------
TINY_CORPUS = (
    "the quick brown fox jumps over the lazy dog .",
    "a man is playing a guitar , and a woman is singing .",
    "pixel based language models read rendered text as images !",
    "is this sentence a paraphrase of that one ? yes , it is .",
    "John Smith lives in New York and works for the United Nations .",
    "the movie was great but the ending was not so good .",
)
_ALPHABET = [chr(c) for c in range(32, 127)]


def tiny_tokenizer(kind: str = "wordpiece") -> Any:
    """A small fast tokenizer built in milliseconds from :data:`TINY_CORPUS`, covering every
    printable ASCII character, the same in every process: ``wordpiece`` (BERT-style, [CLS] a
    [SEP] b [SEP], token types; a fixed vocabulary) or ``bpe`` (GPT-2-style byte-level BPE
    trained on the corpus, ``<|endoftext|>`` = EOS = pad, prefix space)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers import trainers
    from transformers import PreTrainedTokenizerFast

    if kind == "wordpiece":
        # A fixed vocabulary (specials, every character alone and as ``##`` continuation, the
        # corpus words), not WordPieceTrainer: its tie-breaking differs from process to process,
        # so the same tiny run gave different token ids, and different losses, in each process.
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        chars = sorted({c.lower() for c in _ALPHABET} - {" "})
        words = sorted({w.lower() for line in TINY_CORPUS for w in line.split()} - set(chars))
        vocab = specials + chars + ["##" + c for c in chars] + words
        tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=True)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
        tok.decoder = decoders.WordPiece()
        return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                       cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                       model_input_names=["input_ids", "token_type_ids",
                                                          "attention_mask"])
    if kind == "bpe":
        eos = "<|endoftext|>"
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        tok.train_from_iterator(TINY_CORPUS, trainers.BpeTrainer(
            vocab_size=400, special_tokens=[eos],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
        tok.post_processor = processors.ByteLevel(trim_offsets=True)
        tok.decoder = decoders.ByteLevel()
        return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=eos, bos_token=eos,
                                       unk_token=eos, pad_token=eos,
                                       model_input_names=["input_ids", "attention_mask"])
    raise ConfigError(f"unknown tiny tokenizer kind {kind!r}; choose wordpiece or bpe")


def tiny_config(kind: str, vocab_size: int, pad_token_id: int) -> Any:
    """A 2-layer, 32-wide BERT (``wordpiece``) or GPT-2 (``bpe``) config."""
    from transformers import BertConfig, GPT2Config

    if kind == "wordpiece":
        return BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2,
                          num_attention_heads=2, intermediate_size=64,
                          max_position_embeddings=512, pad_token_id=pad_token_id)
    return GPT2Config(vocab_size=vocab_size, n_embd=32, n_layer=2, n_head=2, n_positions=512,
                      bos_token_id=pad_token_id, eos_token_id=pad_token_id,
                      pad_token_id=pad_token_id)
