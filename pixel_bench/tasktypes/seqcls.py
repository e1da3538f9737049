"""Sequence classification: single sentences, sentence pairs (rendered as a tuple, i.e. PIXEL's
``[A][black][B][black]`` layout) and regression (STS-B: one output, MSE)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..modeling.adapter import ModelAdapter, TaskKind
from .base import EncodedSplit, FeatureDataset, Task, model_features, rendered_counts


@dataclass
class SequenceClassificationTask(Task):
    """GLUE-style classification or regression; ``metric(preds, labels) -> dict``."""

    metric: Callable[[Sequence, Sequence], dict[str, float]] | None = None
    kind: TaskKind = TaskKind.SEQUENCE_CLASSIFICATION

    @property
    def regression(self) -> bool:
        return not self.labels

    def render_inputs(self, rows: Sequence[dict[str, Any]]) -> list[Any]:
        return [r["text"] for r in rows]

    def encode(self, name: str, rows: list[dict[str, Any]], adapter: ModelAdapter,
               rendered: Any, render_patches: int, renderer_name: str | None,
               renderer_config: Any = None, recipe: Mapping[str, Any] | None = None,
               ) -> EncodedSplit:
        regression = self.regression

        def item(i: int) -> dict[str, Any]:
            row = rows[i]
            feats = dict(model_features(adapter, None if rendered is None else rendered[i],
                                        row["text"]))
            feats["labels"] = (np.float32(row["label"]) if regression
                               else np.int64(row["label"]))
            return feats

        return EncodedSplit(name=name, rows=rows, dataset=FeatureDataset(len(rows), item),
                            counts=rendered_counts(rendered, len(rows)))

    def predictions_from_logits(self, logits: np.ndarray) -> np.ndarray:
        logits = np.asarray(logits)
        if self.regression:
            return logits.reshape(len(logits), -1)[:, 0]
        return logits.argmax(-1)

    def score(self, split: EncodedSplit, predictions: Any):
        logits = predictions[0] if isinstance(predictions, (tuple, list)) else predictions
        preds = self.predictions_from_logits(logits)
        labels = [r["label"] for r in split.rows]
        assert self.metric is not None, f"task {self.name} declares no metric"
        metrics = self.metric(preds, labels)
        rows = []
        for i, (p, r) in enumerate(zip(preds, split.rows)):
            pred = float(p) if self.regression else self.labels[int(p)]  # type: ignore[index]
            gold = float(r["label"]) if self.regression else self.labels[int(r["label"])]  # type: ignore[index]
            rows.append({"split": split.name, "index": i, "prediction": pred, "label": gold})
        return metrics, rows
