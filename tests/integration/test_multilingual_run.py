"""End to end on the real multilingual data (16 sentences, 2 steps, pixel-tiny from scratch): one
run per new family / renderer writes a record with the metrics the family promises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pixel_bench.records import read_record, record_dir

COMMON = dict(seeds=[1], from_scratch=True, max_steps=2, limit=16,
              overrides={"max_seq_length": 64, "per_device_train_batch_size": 8,
                         "eval_steps": 2, "warmup_steps": 0})


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _run(task: str, data: Path, tmp_path: Path, **extra):
    from pixel_bench.runner import run

    overrides = {**COMMON["overrides"], **extra}
    out = run("pixel-tiny", task, data_dir=str(data), results=tmp_path,
              **{**COMMON, "overrides": overrides})
    assert out[0].status == "done"
    cell = record_dir(tmp_path, "pixel-tiny", task, 1)
    return read_record(cell / "record.json"), cell


def test_parsing_run(data: Path, tmp_path: Path) -> None:
    rec, cell = _run("parsing-cop_scriptorium", data, tmp_path)
    assert set(rec.metrics) == {"validation", "test"}
    assert {"uas", "las"} <= set(rec.metrics["validation"]) and rec.main_metric == "las"
    assert 0 <= rec.metrics["validation"]["las"] <= rec.metrics["validation"]["uas"] <= 1
    assert rec.config["head"]["kind"] == "dependency_parsing"
    assert rec.config["recipe"]["learning_rate"] == pytest.approx(8e-5)  # parsing.yaml
    assert rec.counts["validation.words"] > 0 and "validation.words_unrendered" in rec.counts
    row = json.loads((cell / "predictions.jsonl").read_text().splitlines()[0])
    assert len(row["head_pred"]) == len(row["head_gold"]) == len(row["deprel_gold"])


def test_masakhaner_run(data: Path, tmp_path: Path) -> None:
    rec, _ = _run("masakhaner-yor", data, tmp_path)
    assert {"f1", "precision", "recall"} <= set(rec.metrics["test"])
    assert rec.config["head"]["id2label"]["1"] == "B-DATE"


def test_bigrams_renderer_run(data: Path, tmp_path: Path) -> None:
    rec, _ = _run("pos-zh_gsd", data, tmp_path, renderer="pangocairo-bigrams")
    assert rec.provenance["renderer"]["renderer"] == "pangocairo-bigrams"
    assert 0 <= rec.metrics["validation"]["accuracy"] <= 1
