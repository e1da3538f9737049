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


# -- benchmarks/check_metrics.py: the same comparison on hand-made tricky cases ---------------
def _check_metrics_module():
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "check_metrics.py"
    spec = importlib.util.spec_from_file_location("check_metrics", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("check_metrics", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return sys.modules["check_metrics"]


SQUAD_PREDS = {
    "articles": "the Broncos",                   # article dropped: EM 1
    "whitespace": "  Denver\tBroncos \n",        # whitespace collapsed: EM 1
    "punct": "Levi's Stadium.",                  # ASCII punctuation removed: "levis stadium"
    "golds": "Santa Clara",                      # max over golds: F1 0.8 from the second
    "repeats": "the the cat cat",                # token multiset: P 1/2, R 1 -> F1 2/3
    "empty": "the",                              # both normalise to "": v1.1 EM 1, F1 0
    "unicode": "\u201cquoted\u201d",             # curly quotes are not string.punctuation
    "hyphen": "1990-1995",                       # "19901995" != "1990 1995"
    "word-boundary": "Anaheim",                  # the "an" inside a word stays
}
SQUAD_REFS = {
    "articles": ["Broncos"], "whitespace": ["Denver Broncos"], "punct": ["Levis Stadium"],
    "golds": ["Levi's Stadium", "Santa Clara, California"], "repeats": ["cat"],
    "empty": ["a"], "unicode": ["quoted"], "hyphen": ["1990 1995"],
    "word-boundary": ["the Anaheim"], "no-prediction": ["missing"],  # scores 0
}


def test_check_metrics_squad_tricky_cases() -> None:
    pytest.importorskip("torchmetrics")
    cm = _check_metrics_module()
    c = cm.check_squad(SQUAD_PREDS, SQUAD_REFS)
    assert c.questions == 10
    # EM: articles, whitespace, punct, empty, word-boundary
    assert c.ours["exact_match"] == pytest.approx(0.5)
    assert c.ours["f1"] == pytest.approx((4 + 0.8 + 2 / 3) / 10)
    assert M.squad_f1("Santa Clara", "Santa Clara, California") == pytest.approx(0.8)
    assert M.normalize_answer("\u201cquoted\u201d") == "\u201cquoted\u201d"
    # torchmetrics agrees everywhere but on the answer that normalises to nothing: it uses the
    # v2.0 script's rule (F1 = 1 when both token lists are empty), v1.1 scores 0.
    assert (c.em_disagree, c.f1_disagree) == (0, 1)
    (ex,) = c.examples
    assert ex["id"] == "empty" and ex["ours"] == (1.0, 0.0) and ex["torchmetrics"] == (1.0, 1.0)
    assert "no tokens" in ex["why"]
    assert c.torchmetrics["exact_match"] == pytest.approx(0.5, abs=1e-6)
    assert c.torchmetrics["f1"] == pytest.approx(c.ours["f1"] + 0.1, abs=1e-6)


def test_check_metrics_seqeval_default_vs_strict() -> None:
    cm = _check_metrics_module()
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-PER", "B-LOC"], ["B-ORG", "I-ORG", "B-ORG"],
            ["O", "B-MISC", "I-MISC"]]
    pred = [["I-PER", "I-PER", "O", "B-LOC"],  # entity opened by I-: default keeps it
            ["B-PER", "I-LOC"],                # type change inside a span: default splits it
            ["I-ORG", "I-ORG", "B-ORG"],       # IOB1-style tags left unconverted
            ["O", "B-MISC", "I-MISC"]]         # valid IOB2: both modes agree
    c = cm.check_ner(pred, gold)
    assert (c.sentences, c.gold_entities) == (4, 7)
    assert (c.pred_default, c.pred_strict, c.differing_sentences) == (7, 4, 3)
    assert c.default == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert c.strict["precision"] == 1.0 and c.strict["recall"] == pytest.approx(4 / 7)
    assert c.strict["f1"] == pytest.approx(2 * (4 / 7) / (1 + 4 / 7))
    # what the run loop stores is exactly these two numbers
    stored = M.ner_metrics(pred, gold)
    assert stored["f1"] == c.default["f1"] and stored["strict_f1"] == c.strict["f1"]
    with pytest.raises(ValueError):
        cm.check_ner([["O"]], [["O", "O"]])


def test_check_metrics_report_on_run_loop_files(tmp_path) -> None:
    """predictions.jsonl + record.json as `pixel-bench run` writes them -> the Markdown tables."""
    import json

    pytest.importorskip("torchmetrics")
    cm = _check_metrics_module()
    ner = tmp_path / "m" / "ner" / "seed-1"
    ner.mkdir(parents=True)
    rows = [{"split": "validation", "index": 0, "words": ["Ann", "lives", "in", "Oslo"],
             "prediction": ["I-PER", "O", "O", "B-LOC"], "label": ["B-PER", "O", "O", "B-LOC"],
             "words_dropped": 2}]
    (ner / "predictions.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    metrics = M.ner_metrics([rows[0]["prediction"]], [rows[0]["label"]])
    (ner / "record.json").write_text(json.dumps({"model": "m", "task": "ner", "seed": 1,
                                                 "metrics": {"validation": metrics}}))
    squad = tmp_path / "m" / "squad" / "seed-1"
    squad.mkdir(parents=True)
    qa = [{"split": "validation", "id": k, "prediction": SQUAD_PREDS.get(k, ""), "label": v}
          for k, v in SQUAD_REFS.items()]
    (squad / "predictions.jsonl").write_text("\n".join(json.dumps(r) for r in qa) + "\n")
    (squad / "record.json").write_text(json.dumps(
        {"model": "m", "task": "squad", "seed": 1,
         "metrics": {"validation": M.squad_metrics(SQUAD_PREDS, SQUAD_REFS)}}))
    files = cm.find_cells([str(tmp_path)])
    assert len(files) == 2
    text = cm.report(files)
    ner_row = next(line for line in text.splitlines() if line.startswith("| m / ner"))
    # 1 sentence, 2 dropped words, 2 gold entities, 2 / 1 predicted, strict F1 2/3, both "="
    assert ner_row.startswith(f"| m / ner / seed 1 ({tmp_path}) | validation | 1 | 2 | 2 | "
                              "2 / 1 | 1 | 100.00 |")
    assert "100.00 (=)" in ner_row and "66.67 (=)" in ner_row
    squad_row = next(line for line in text.splitlines() if line.startswith("| m / squad"))
    assert squad_row.endswith("| 50.00 / 54.67 | 50.00 / 54.67 | 50.00 / 64.67 | 0 / 1 |")
    assert "question `empty`" in text


def test_check_metrics_synthetic_squad_predictions(tmp_path) -> None:
    import gzip
    import json

    pytest.importorskip("torchmetrics")
    cm = _check_metrics_module()
    ctx = "Super Bowl 50 was an American football game played at Levi's Stadium in 2016."
    qas = [{"id": f"q{i}", "question": "?", "answers": [{"text": t, "answer_start": ctx.find(t)}]}
           for i, t in enumerate(["Levi's Stadium", "2016", "an American football game", "."])]
    path = tmp_path / "dev.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        json.dump({"data": [{"title": "t", "paragraphs": [{"context": ctx, "qas": qas}]}]}, fh)
    preds, refs = cm.perturbed_dev(path, seed=3)
    assert list(preds) == list(refs) == ["q0", "q1", "q2", "q3"]
    assert all(p and p in ctx for p in preds.values())
    assert cm.perturbed_dev(path, seed=3) == (preds, refs)  # deterministic
    text = cm.report([], path, seed=3)
    assert "| synthetic predictions on dev.json.gz (seed 3) | all | 4 |" in text
