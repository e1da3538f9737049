"""OCR engines on rendered known words (the ceiling must be high), and whole generative cells
through ``runner.run``: record fields, predictions, --save-generations, zero-shot checks.
Engines that are absent skip with the reason (setup.sh installs both)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pixel_bench.errors import ConfigError
from pixel_bench.generative.ocr import engine_available, make_engines, prepare
from pixel_bench.generative.prompts import render_word
from pixel_bench.modeling.adapter import TaskKind
from pixel_bench.paths import shared_dir
from pixel_bench.registry import MODELS, RENDERERS

WORDS = ["kitchen", "bathroom", "hallway", "office", "bedroom"]
DATA = (shared_dir() or Path("/nonexistent")) / "data"


def _engine(name: str):
    why = engine_available(name)
    if why is not None:
        pytest.skip(why)
    return make_engines([name])[0]


@pytest.mark.parametrize("name", ["tesseract", "rapidocr"])
def test_ocr_reads_rendered_words(name: str) -> None:
    engine = _engine(name)
    adapter = MODELS.get("pixar2024-tiny")
    rname, cfg = adapter.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION)
    renderer = RENDERERS.get(rname)(cfg)
    images = [prepare(render_word(w, adapter, renderer, 80)) for w in WORDS]
    assert images[0].size == (312, 30)  # 80 x 8 centred on a 104 x 10 canvas, upscaled x3
    read = [r.strip().lower() for r in engine.read(images)]
    hits = sum(r == w for r, w in zip(read, WORDS))
    assert hits >= 4, read  # the OCR ceiling on clean renderings is high
    assert engine.version()


def test_rapidocr_models_ship_in_the_wheel() -> None:
    """No download at run time: the three ONNX models sit inside the installed package."""
    _engine("rapidocr")
    import rapidocr_onnxruntime

    models = Path(rapidocr_onnxruntime.__file__).parent / "models"
    assert {p.name for p in models.glob("*.onnx")} >= {
        "ch_PP-OCRv4_det_infer.onnx", "ch_PP-OCRv4_rec_infer.onnx",
        "ch_ppocr_mobile_v2.0_cls_infer.onnx"}


def test_unknown_engine() -> None:
    with pytest.raises(ConfigError, match="unknown OCR engine 'paddle'"):
        make_engines(["paddle"])


def _run(tmp_path: Path, model: str, task: str, **kw):
    from pixel_bench.runner import run

    return run(model, task, seeds=[3], data_dir=str(DATA), limit=3,
               results=tmp_path / "results", **kw)


needs_data = pytest.mark.skipif(not (DATA / "babi").is_dir(), reason=f"{DATA} not found")


@needs_data
def test_babi_cell_record(tmp_path: Path) -> None:
    for e in ("tesseract", "rapidocr"):
        _engine(e)
    from typer.testing import CliRunner

    from pixel_bench.cli.app import app
    from pixel_bench.records import read_record

    result = CliRunner().invoke(app, ["run", "--model", "pixar2024-tiny", "--task", "babi",
                                      "--data-dir", str(DATA), "--limit", "3", "--seed", "3",
                                      "--results", str(tmp_path / "results"),
                                      "--save-generations"])
    assert result.exit_code == 0, result.output
    cell = tmp_path / "results" / "pixar2024-tiny" / "babi" / "seed-3"
    rec = read_record(cell / "record.json")
    assert rec.main_metric == "accuracy" and rec.main_split == "test"
    assert rec.config["save_generations"] is True
    m = rec.metrics["test"]
    for key in ("accuracy", "accuracy_tesseract", "accuracy_rapidocr", "accuracy_pixar",
                "readability", "readability_pixar", "ocr_ceiling", "ocr_ceiling_pixar"):
        assert 0.0 <= m[key] <= 1.0, key
    assert m["ocr_ceiling"] >= 2 / 3  # the gold words rendered are readable
    assert set(rec.provenance["ocr"]) == {"tesseract", "rapidocr"}
    assert rec.provenance["vocabulary"]["size"] > 0
    assert rec.config["generation"]["generated_positions"] == 5  # 80 px of 16-px positions
    assert rec.train == {"steps": 0, "zero_shot": True} and rec.counts["examples"] == 3
    lines = [json.loads(x) for x in (cell / "predictions.jsonl").read_text().splitlines()]
    assert len(lines) == 3
    assert {"target", "readings", "correct", "ceiling_readings"} <= set(lines[0])
    sheet = cell / "generations" / "contact_sheet.png"
    assert sheet.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (cell / "generations" / "00002_gen.png").is_file()
    assert rec.identity["fields"]["data"]["test"] and rec.identity["fields"]["renderer"]
    again = _run(tmp_path, "pixar2024-tiny", "babi")  # an identical cell is skipped
    assert again[0].status == "skipped" and "identical" in again[0].note
    from pixel_bench.errors import CellConflictError

    from pixel_bench.runner import run

    with pytest.raises(CellConflictError, match="limit: 3 -> 4"):  # another experiment: refused
        run("pixar2024-tiny", "babi", seeds=[3], data_dir=str(DATA), limit=4,
            results=tmp_path / "results")


@needs_data
def test_text_model_and_zero_shot_checks(tmp_path: Path) -> None:
    [out] = _run(tmp_path, "gpt2-tiny", "lambada")
    m = out.record.metrics["test"]
    assert "accuracy_text" in m and "ocr_ceiling" not in m  # no OCR for text models
    assert out.record.config["generation"]["kind"] == "text"
    with pytest.raises(ConfigError, match="zero-shot"):
        _run(tmp_path, "gpt2-tiny", "babi", max_steps=10)
    with pytest.raises(ConfigError, match="cannot generate"):
        _run(tmp_path, "bert-tiny", "babi")
