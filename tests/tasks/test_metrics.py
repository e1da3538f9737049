"""Metrics: SQuAD v1.1 against torchmetrics, seqeval default vs strict, GLUE numbers."""

from __future__ import annotations

import numpy as np
import pytest

from pixel_bench import metrics as M


def test_squad_matches_torchmetrics() -> None:
    torchmetrics_text = pytest.importorskip("torchmetrics.text")
    preds = {"a": "the Denver Broncos", "b": "Santa Clara, California", "c": "1990s",
             "d": "an orange", "e": ""}
    refs = {"a": ["Denver Broncos", "Broncos"], "b": ["Levi's Stadium", "Santa Clara"],
            "c": ["the 1990s."], "d": ["apple"], "e": ["x"]}
    ours = M.squad_metrics(preds, refs)
    tm = torchmetrics_text.SQuAD()(
        [{"prediction_text": p, "id": k} for k, p in preds.items()],
        [{"answers": {"answer_start": [0] * len(v), "text": v}, "id": k}
         for k, v in refs.items()])
    assert ours["exact_match"] * 100 == pytest.approx(float(tm["exact_match"]), abs=1e-4)
    assert ours["f1"] * 100 == pytest.approx(float(tm["f1"]), abs=1e-4)
    assert M.normalize_answer("The  Cat's, an end!") == "cats end"


def test_seqeval_default_vs_strict() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    pred = [["I-PER", "I-PER", "O", "B-LOC"]]  # an entity starting with I-: invalid IOB2
    m = M.ner_metrics(pred, gold)
    assert m["f1"] == pytest.approx(1.0)  # default (conlleval) mode accepts it
    assert m["strict_precision"] == 1.0 and m["strict_recall"] == 0.5  # only LOC counts
    assert m["strict_f1"] == pytest.approx(2 / 3)
    assert m["accuracy"] == pytest.approx(0.75)


def test_glue_metrics() -> None:
    preds, labels = [1, 0, 1, 1, 0, 0], [1, 0, 0, 1, 0, 1]
    assert M.glue_metrics("rte", preds, labels) == {"accuracy": pytest.approx(4 / 6)}
    mrpc = M.glue_metrics("mrpc", preds, labels)
    assert mrpc["f1"] == pytest.approx(2 / 3)
    assert mrpc["combined_score"] == pytest.approx((4 / 6 + 2 / 3) / 2)
    torchmetrics = pytest.importorskip("torchmetrics")
    import torch

    mcc = torchmetrics.classification.BinaryMatthewsCorrCoef()(torch.tensor(preds),
                                                                torch.tensor(labels))
    assert M.glue_metrics("cola", preds, labels)["matthews_correlation"] == \
        pytest.approx(float(mcc), abs=1e-6)
    x = np.array([0.1, 0.5, 0.2, 0.9])
    y = np.array([0.0, 1.0, 0.5, 0.8])
    st = M.glue_metrics("stsb", x, y)
    assert st["pearson"] == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert st["spearmanr"] == pytest.approx(0.8)
    assert M.pos_metrics([["A", "B"], ["C"]], [["A", "X"], ["C"]]) == {"accuracy": 2 / 3}
