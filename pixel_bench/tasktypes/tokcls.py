"""Token classification (POS, NER): PIXEL's first-patch labelling.

Words are rendered in the renderer's word mode: each word starts at a fresh patch, and
``Encoding.word_starts`` holds the first patch of every rendered word (plus the EOS position).
Only that first patch is labelled (mapped to model positions by ``adapter.label_positions``);
every other position is -100. Words that do not fit on the canvas are dropped from labels and
predictions alike, as PIXEL's scripts do (they only warn); here they are counted and reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..errors import DataError
from ..modeling.contracts import require_text_input
from ..modeling.adapter import ModelAdapter, TaskKind
from .base import EncodedSplit, FeatureDataset, Task, rendered_counts

IGNORE = -100


def align_word_labels(word_starts: Sequence[int] | None, word_label_ids: Sequence[int],
                      num_positions: int, label_positions: Callable[[np.ndarray], np.ndarray],
                      ) -> tuple[np.ndarray, list[int], int]:
    """Labels over model positions from the renderer's word starts.

    Returns ``(labels [num_positions] with -100 except at each word's first patch,
    word index labelled at each labelled position (in position order), words dropped)``.
    ``word_starts`` has one entry per rendered word plus the EOS position (PIXEL's layout); a
    word whose position falls outside the model's sequence, or onto a position another word
    already took (possible when a model position spans several renderer patches), is dropped.
    """
    labels = np.full(num_positions, IGNORE, dtype=np.int64)
    n_words = len(word_label_ids)
    if word_starts is None:
        raise DataError("the rendering has no word_starts: render words (a list[str]) in the "
                        "renderer's word mode")
    rendered = min(max(len(word_starts) - 1, 0), n_words)
    positions = np.asarray(label_positions(np.asarray(word_starts[:rendered], dtype=np.int64)))
    word_at: list[int] = []
    taken: set[int] = set()
    for w in range(rendered):
        pos = int(positions[w])
        if pos < 0 or pos >= num_positions or pos in taken:
            continue
        taken.add(pos)
        labels[pos] = int(word_label_ids[w])
        word_at.append(w)
    return labels, word_at, n_words - len(word_at)


@dataclass
class TokenClassificationTask(Task):
    """Word-level tagging; ``metric(pred_tags, gold_tags) -> dict`` over lists of tag lists."""

    metric: Callable[[Any, Any], dict[str, float]] | None = None
    kind: TaskKind = TaskKind.TOKEN_CLASSIFICATION

    def render_inputs(self, rows: Sequence[dict[str, Any]]) -> list[Any]:
        return [list(r["words"]) for r in rows]

    def label_ids(self, row: dict[str, Any]) -> list[int]:
        assert self.labels is not None
        index = {lab: i for i, lab in enumerate(self.labels)}
        try:
            return [index[t] for t in row["labels"]]
        except KeyError as exc:
            raise DataError(f"{self.name}: label {exc.args[0]!r} is not in the label set "
                            f"({', '.join(self.labels)})") from None

    def encode(self, name: str, rows: list[dict[str, Any]], adapter: ModelAdapter,
               rendered: Any, render_patches: int, renderer_name: str | None,
               renderer_config: Any = None, recipe: Mapping[str, Any] | None = None,
               ) -> EncodedSplit:
        n_pos = adapter.num_positions(render_patches)
        reader = require_text_input(adapter) if rendered is None else None
        word_at: list[list[int]] = []
        dropped = 0
        total = 0
        label_cache: list[np.ndarray | None] = []
        for i, row in enumerate(rows):
            ids = self.label_ids(row)
            total += len(ids)
            if rendered is None:  # text models label the first sub-token of each word
                feats = reader.text_features(list(row["words"]), word_labels=ids)
                k = int((feats["labels"] != IGNORE).sum())
                word_at.append(list(range(k)))
                dropped += len(ids) - k
                label_cache.append(None)
                continue
            enc = rendered[i]
            labels, at, lost = align_word_labels(enc.word_starts, ids, n_pos,
                                                 adapter.label_positions)
            word_at.append(at)
            dropped += lost
            label_cache.append(labels)

        def item(i: int) -> dict[str, Any]:
            row = rows[i]
            if reader is not None:
                return dict(reader.text_features(list(row["words"]),
                                                 word_labels=self.label_ids(row)))
            feats = dict(adapter.features(rendered[i]))
            feats["labels"] = label_cache[i]
            return feats

        counts = rendered_counts(rendered, len(rows))
        counts.update({"words": total, "words_dropped": dropped})
        return EncodedSplit(name=name, rows=rows, dataset=FeatureDataset(len(rows), item),
                            counts=counts, meta={"word_at": word_at, "labels": label_cache})

    def score(self, split: EncodedSplit, predictions: Any):
        logits = predictions[0] if isinstance(predictions, (tuple, list)) else predictions
        assert self.labels is not None and self.metric is not None
        word_at = split.meta["word_at"]
        pred_tags: list[list[str]] = []
        gold_tags: list[list[str]] = []
        out_rows = []
        for i, row in enumerate(split.rows):
            cached = split.meta.get("labels", [None] * len(split.rows))[i]
            # labelled positions: cached for rendered models (no image work), else re-tokenized
            feats_labels = cached if cached is not None else split.dataset[i]["labels"]
            positions = np.flatnonzero(np.asarray(feats_labels) != IGNORE)
            ex_logits = np.asarray(logits[i])
            pred_ids = ex_logits[positions].argmax(-1) if len(positions) else np.array([], int)
            words = word_at[i]
            p = [self.labels[int(k)] for k in pred_ids]
            g = [row["labels"][w] for w in words]
            pred_tags.append(p)
            gold_tags.append(g)
            out_rows.append({"split": split.name, "index": i,
                             "words": [row["words"][w] for w in words],
                             "prediction": p, "label": g,
                             "words_dropped": len(row["words"]) - len(words)})
        return self.metric(pred_tags, gold_tags), out_rows
