"""Metrics as pure functions over predictions (values are fractions, as records store them).

* POS: accuracy over words (PIXEL uses ``seqeval.accuracy_score`` on the flattened word labels,
  which is exactly that).
* NER: seqeval entity precision/recall/F1 in seqeval's default (conlleval-like) mode — PIXEL's
  main number — and in strict IOB2 mode, plus token accuracy.
* GLUE: accuracy, F1 (positive class 1), Matthews correlation, Pearson/Spearman, and GLUE's
  ``combined_score`` (the mean when a task has several metrics).
* SQuAD v1.1: EM/F1 exactly as the official ``evaluate-v1.1.py`` (normalisation: lower-case,
  strip punctuation, drop articles a/an/the, collapse whitespace; max over the ground truths).
"""

from __future__ import annotations

import collections
import math
import re
import string
from typing import Iterable, Sequence

import numpy as np


# -- classification ----------------------------------------------------------------------------
def accuracy(preds: Sequence, labels: Sequence) -> float:
    preds, labels = np.asarray(preds), np.asarray(labels)
    return float((preds == labels).mean()) if len(labels) else float("nan")


def f1_binary(preds: Sequence, labels: Sequence, positive: int = 1) -> float:
    preds, labels = np.asarray(preds), np.asarray(labels)
    tp = int(((preds == positive) & (labels == positive)).sum())
    fp = int(((preds == positive) & (labels != positive)).sum())
    fn = int(((preds != positive) & (labels == positive)).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def matthews_corrcoef(preds: Sequence, labels: Sequence) -> float:
    """Binary/multi-class MCC (sklearn's definition; 0 when undefined)."""
    preds, labels = np.asarray(preds), np.asarray(labels)
    classes = np.union1d(preds, labels)
    idx = {c: i for i, c in enumerate(classes)}
    cm = np.zeros((len(classes), len(classes)), dtype=np.float64)
    for p, t in zip(preds, labels):
        cm[idx[t], idx[p]] += 1
    t_sum, p_sum = cm.sum(1), cm.sum(0)
    n, correct = cm.sum(), np.trace(cm)
    cov_ytyp = correct * n - np.dot(t_sum, p_sum)
    cov_ypyp = n * n - np.dot(p_sum, p_sum)
    cov_ytyt = n * n - np.dot(t_sum, t_sum)
    if cov_ypyp * cov_ytyt == 0:
        return 0.0
    return float(cov_ytyp / math.sqrt(cov_ytyt * cov_ypyp))


def pearson_spearman(preds: Sequence[float], labels: Sequence[float]) -> dict[str, float]:
    from scipy.stats import pearsonr, spearmanr

    preds, labels = np.asarray(preds, dtype=float), np.asarray(labels, dtype=float)
    if len(preds) < 2 or np.all(preds == preds[0]) or np.all(labels == labels[0]):
        return {"pearson": 0.0, "spearmanr": 0.0}  # undefined: a constant predictor scores 0
    return {"pearson": float(pearsonr(preds, labels)[0]),
            "spearmanr": float(spearmanr(preds, labels)[0])}


def glue_metrics(task: str, preds: Sequence, labels: Sequence) -> dict[str, float]:
    """What HF's ``glue`` metric reports for ``task`` (plus ``combined_score`` for multi-metric
    tasks, as the GLUE example scripts add it)."""
    if task == "cola":
        return {"matthews_correlation": matthews_corrcoef(preds, labels)}
    if task == "stsb":
        out = pearson_spearman(preds, labels)
        out["combined_score"] = (out["pearson"] + out["spearmanr"]) / 2
        return out
    if task in ("mrpc", "qqp"):
        out = {"accuracy": accuracy(preds, labels), "f1": f1_binary(preds, labels)}
        out["combined_score"] = (out["accuracy"] + out["f1"]) / 2
        return out
    return {"accuracy": accuracy(preds, labels)}


# -- token classification ------------------------------------------------------------------------
def pos_metrics(preds: Sequence[Sequence[str]], labels: Sequence[Sequence[str]]
                ) -> dict[str, float]:
    flat_p = [p for s in preds for p in s]
    flat_l = [t for s in labels for t in s]
    if len(flat_p) != len(flat_l):
        raise ValueError("predictions and labels differ in length")
    return {"accuracy": accuracy(flat_p, flat_l)}


def ner_metrics(preds: Sequence[Sequence[str]], labels: Sequence[Sequence[str]]
                ) -> dict[str, float]:
    """seqeval P/R/F1: default mode (``precision``/``recall``/``f1``, PIXEL's) and strict IOB2
    mode (``strict_*``), plus token ``accuracy``."""
    from seqeval.metrics import accuracy_score, f1_score, precision_score, recall_score
    from seqeval.scheme import IOB2

    p, y = [list(s) for s in preds], [list(s) for s in labels]
    out = {"precision": precision_score(y, p, zero_division=0),
           "recall": recall_score(y, p, zero_division=0),
           "f1": f1_score(y, p, zero_division=0),
           "accuracy": accuracy_score(y, p)}
    strict = dict(mode="strict", scheme=IOB2, zero_division=0)
    out.update({"strict_precision": precision_score(y, p, **strict),
                "strict_recall": recall_score(y, p, **strict),
                "strict_f1": f1_score(y, p, **strict)})
    return {k: float(v) for k, v in out.items()}


# -- SQuAD v1.1 ------------------------------------------------------------------------------
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)


def normalize_answer(s: str) -> str:
    """Official v1.1: lower-case, remove punctuation, remove articles, collapse whitespace."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def squad_f1(prediction: str, ground_truth: str) -> float:
    pred_tokens = normalize_answer(prediction).split()
    truth_tokens = normalize_answer(ground_truth).split()
    common = collections.Counter(pred_tokens) & collections.Counter(truth_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(truth_tokens)
    return 2 * precision * recall / (precision + recall)


def squad_exact(prediction: str, ground_truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(ground_truth))


def squad_metrics(predictions: dict[str, str], references: dict[str, Iterable[str]]
                  ) -> dict[str, float]:
    """EM and F1 as fractions, each the max over a question's ground truths, averaged over
    questions (a question without a prediction scores 0, as the official script does after
    warning)."""
    em = f1 = 0.0
    for qid, truths in references.items():
        truths = list(truths)
        pred = predictions.get(qid)
        if pred is None:
            continue
        em += max(squad_exact(pred, t) for t in truths)
        f1 += max(squad_f1(pred, t) for t in truths)
    n = len(references)
    return {"exact_match": em / n if n else float("nan"), "f1": f1 / n if n else float("nan")}
