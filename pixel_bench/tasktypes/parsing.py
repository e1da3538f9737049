"""Dependency parsing (UD): PIXEL's ``run_ud.py`` data handling and UAS/LAS.

Words are rendered in word mode; features per sentence (PIXEL's
``convert_examples_to_image_features``), all of length L = ``max_seq_length`` patches:

* ``word_starts`` [L+1]: the renderer's word starts (one per rendered word + the EOS position),
  padded with -100;
* ``arc_labels`` [L]: the gold head of each of the first L words (0 = root), -100 where the head
  index is past L, padded with -100;
* ``rel_labels`` [L]: the relation id of each of the first L words, padded with -100.

PIXEL quirk, reproduced by default (``parsing_unrendered_words: score``): labels are kept for words
that did not fit on the canvas. Their word vectors are zero, they are trained on and they count
in UAS/LAS. ``parsing_unrendered_words: drop`` masks them out of training and scoring instead (as
the token-classification task type does); the record counts them either way
(``words_unrendered``).

Metrics (PIXEL's ``compute_metrics``): over every labelled word, punctuation included,
UAS = share of words with the right head, LAS = share with the right head and relation
(fractions, as every score here; PIXEL's script prints them x 100).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import ConfigError
from ..modeling.adapter import HeadSpec, ModelAdapter, TaskKind
from ..recipe_keys import recipe_key, register_keys
from .base import EncodedSplit, FeatureDataset, Task, rendered_counts

PAD = -100
UNRENDERED_MODES = ("score", "drop")


def attachment_scores(arc_preds: Sequence[int], rel_preds: Sequence[int],
                      arc_gold: Sequence[int], rel_gold: Sequence[int]) -> dict[str, float]:
    """UAS/LAS over aligned flat lists of labelled words (PIXEL's compute_metrics). Fractions,
    like every score in the harness (PIXEL's script multiplies by 100; the report prints
    percentages)."""
    arc_preds, rel_preds = np.asarray(arc_preds), np.asarray(rel_preds)
    arc_gold, rel_gold = np.asarray(arc_gold), np.asarray(rel_gold)
    if arc_gold.size == 0:
        return {"uas": 0.0, "las": 0.0, "words": 0}
    arcs = arc_preds == arc_gold
    both = arcs & (rel_preds == rel_gold)
    return {"uas": float(arcs.mean()), "las": float(both.mean()),
            "words": int(arc_gold.size)}


def parsing_features(word_starts: Sequence[int], heads: Sequence[int], rel_ids: Sequence[int],
                     length: int, drop_unrendered: bool = False
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """``(word_starts [L+1], arc_labels [L], rel_labels [L], words not rendered)``."""
    starts = list(word_starts)[: length + 1]
    rendered = max(len(starts) - 1, 0)
    ws = np.full(length + 1, PAD, dtype=np.int64)
    ws[: len(starts)] = starts
    arcs = np.full(length, PAD, dtype=np.int64)
    rels = np.full(length, PAD, dtype=np.int64)
    n = min(len(heads), length)
    for j in range(n):
        if drop_unrendered and j >= rendered:
            break
        head = int(heads[j])
        arcs[j] = PAD if head > length else head
        rels[j] = int(rel_ids[j])
    return ws, arcs, rels, max(len(heads) - rendered, 0)


register_keys({
    "parsing_unrendered_words": recipe_key(str, "parsing: words past the canvas keep their "
                                           "labels and are scored (PIXEL) or are dropped",
                                           choices=("score", "drop")),
}, owner="tasktypes/parsing.py")


@dataclass
class DependencyParsingTask(Task):
    kind: TaskKind = TaskKind.DEPENDENCY_PARSING
    main_metric: str = "las"

    #: the batch fields that are labels (the run loop passes them to the Trainer)
    label_names: tuple[str, ...] = ("arc_labels", "rel_labels")

    def head_spec(self, recipe: Mapping[str, Any]) -> HeadSpec:
        assert self.labels is not None
        return HeadSpec(kind=self.kind, num_labels=len(self.labels), dropout=recipe.get("dropout"),
                        id2label=dict(enumerate(self.labels)))

    def render_inputs(self, rows: Sequence[dict[str, Any]]) -> list[Any]:
        return [list(r["words"]) for r in rows]

    def encode(self, name: str, rows: list[dict[str, Any]], adapter: ModelAdapter,
               rendered: Any, render_patches: int, renderer_name: str | None,
               renderer_config: Any = None, recipe: Mapping[str, Any] | None = None,
               ) -> EncodedSplit:
        if rendered is None or adapter.card.family != "pixel":
            raise ConfigError(f"{self.name}: dependency parsing has PIXEL's biaffine head only; "
                              f"{adapter.card.name} ({adapter.card.family}) has none")
        mode = str((recipe or {}).get("parsing_unrendered_words", "score"))
        if mode not in UNRENDERED_MODES:
            raise ConfigError(f"parsing_unrendered_words must be one of {UNRENDERED_MODES}, got "
                              f"{mode!r}")
        assert self.labels is not None
        index = {lab: i for i, lab in enumerate(self.labels)}
        L = adapter.num_positions(render_patches)
        cached: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        unrendered = total = beyond = 0
        for i, row in enumerate(rows):
            starts = np.asarray(adapter.label_positions(
                np.asarray(rendered[i].word_starts or [0], dtype=np.int64)))
            ws, arcs, rels, lost = parsing_features(starts.tolist(), row["heads"],
                                                    [index[r] for r in row["deprels"]], L,
                                                    drop_unrendered=mode == "drop")
            cached.append((ws, arcs, rels))
            unrendered += lost
            total += len(row["words"])
            beyond += max(len(row["words"]) - L, 0)

        def item(i: int) -> dict[str, Any]:
            feats = dict(adapter.features(rendered[i]))
            ws, arcs, rels = cached[i]
            feats.update(word_starts=ws, arc_labels=arcs, rel_labels=rels)
            return feats

        counts = rendered_counts(rendered, len(rows))
        counts.update({"words": total, "words_unrendered": unrendered,
                       "words_beyond_max_seq_length": beyond})
        return EncodedSplit(name=name, rows=rows, dataset=FeatureDataset(len(rows), item),
                            counts=counts, meta={"labels": cached, "unrendered": mode})

    def score(self, split: EncodedSplit, predictions: Any):
        if not (isinstance(predictions, (tuple, list)) and len(predictions) >= 2):
            raise ConfigError(f"{self.name}: expected (arc_preds, rel_preds) from the parsing "
                              f"head, got {type(predictions).__name__}")
        arc_preds, rel_preds = (np.asarray(p) for p in predictions[:2])
        assert self.labels is not None
        flat: list[list[int]] = [[], [], [], []]
        out_rows = []
        for i, row in enumerate(split.rows):
            _, arcs, rels = split.meta["labels"][i]
            idx = np.flatnonzero(arcs != PAD)
            pa, pr = arc_preds[i][idx], rel_preds[i][idx]
            for bucket, values in zip(flat, (pa, pr, arcs[idx], rels[idx])):
                bucket.extend(int(v) for v in values)
            out_rows.append({"split": split.name, "index": i,
                             "words": [row["words"][j] for j in idx],
                             "head_pred": [int(v) for v in pa],
                             "head_gold": [int(v) for v in arcs[idx]],
                             "deprel_pred": [self.labels[int(v)] for v in pr],
                             "deprel_gold": [self.labels[int(v)] for v in rels[idx]]})
        return attachment_scores(*flat), out_rows
