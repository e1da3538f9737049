"""End to end: ``pixel-bench run`` on tiny data with tiny models writes a record; a rerun skips;
an interrupted run resumes from its last checkpoint; missing weights/data fail fast; ``--checkpoint
DIR`` renders with the renderer settings and font shipped in DIR (PIXEL and thesis PIXAR)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pixel_bench.errors import CheckpointError, DataError
from pixel_bench.records import read_record, record_dir

RTE_TRAIN = "index\tsentence1\tsentence2\tlabel\n" + "".join(
    f"{i}\tThe cat number {i} sat on the mat .\tA cat {'sat' if i % 2 else 'ran'} .\t"
    f"{'entailment' if i % 2 else 'not_entailment'}\n" for i in range(12))
RTE_DEV = "index\tsentence1\tsentence2\tlabel\n" + "".join(
    f"{i}\tA dog number {i} barked .\tA dog {'barked' if i % 2 else 'slept'} .\t"
    f"{'entailment' if i % 2 else 'not_entailment'}\n" for i in range(6))
CONLLU = "".join(
    f"# sent_id = {i}\n1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_\n"
    f"2\tcat\tcat\tNOUN\tNN\t_\t3\tnsubj\t_\t_\n3\tsat\tsit\tVERB\tVBD\t_\t0\troot\t_\t_\n"
    f"4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_\n\n" for i in range(6))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    (root / "glue" / "RTE").mkdir(parents=True)
    (root / "glue" / "RTE" / "train.tsv").write_text(RTE_TRAIN)
    (root / "glue" / "RTE" / "dev.tsv").write_text(RTE_DEV)
    (root / "ud").mkdir()
    (root / "ud" / "xx-ud-train.conllu").write_text(CONLLU)
    (root / "ud" / "xx-ud-dev.conllu").write_text(CONLLU)
    return root


@pytest.fixture(scope="module", autouse=True)
def _fakes():
    import torch

    from pixel_bench.registry import MODELS, RENDERERS
    from pixel_bench.testing import register

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    register()
    yield
    torch.set_num_threads(threads)
    # keep the registries clean for other tests
    MODELS._entries.pop("testing-tiny", None)
    RENDERERS._entries.pop("testing-blocks", None)


SMALL = ["--set", "max_seq_length=32", "--set", "per_device_train_batch_size=4",
         "--set", "eval_steps=2", "--set", "warmup_steps=0"]


def _invoke(args: list[str]):
    from pixel_bench.cli.app import app

    result = CliRunner().invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def test_run_writes_record_then_skips(data_dir: Path, tmp_path: Path) -> None:
    args = ["run", "--model", "testing-tiny", "--task", "rte", "--data-dir", str(data_dir),
            "--max-steps", "4", "--results", str(tmp_path), "--seeds", "1", "2", *SMALL]
    out = _invoke(args)
    assert out.exit_code == 0, out.output
    for seed in (1, 2):
        cell = record_dir(tmp_path, "testing-tiny", "rte", seed)
        rec = read_record(cell / "record.json")  # round trip through the schema
        assert rec.model == "testing-tiny" and rec.task == "rte" and rec.seed == seed
        assert set(rec.metrics) == {"validation"}
        assert 0.0 <= rec.main_score() <= 1.0
        assert rec.train["steps"] == 4 and rec.train["best_step"] in (2, 4)
        assert rec.config["recipe"]["learning_rate"] == pytest.approx(3e-5)  # rte.yaml
        assert rec.config["recipe_source"]["max_seq_length"] == "cli"
        assert rec.counts["validation.examples"] == 6 and rec.counts["train_examples"] == 12
        prov = rec.provenance
        assert prov["renderer"]["renderer"] == "testing-blocks"
        assert len(prov["font_sha256"]) == 64 and prov["libraries"]["torch"]
        assert prov["data"]["validation"]["fingerprint"]
        assert set(rec.timings) >= {"train_s", "render_s", "predict_s"}
        lines = (cell / "predictions.jsonl").read_text().splitlines()
        assert len(lines) == 6 and json.loads(lines[0])["split"] == "validation"
        assert not (cell / "checkpoints").exists()
    again = _invoke(args)
    assert again.exit_code == 0 and "skipped" in again.output


def test_interrupted_run_resumes(data_dir: Path, tmp_path: Path) -> None:
    from transformers import TrainerCallback

    from pixel_bench.runner import run

    class Crash(TrainerCallback):
        def on_save(self, args, state, control, **kw):
            if state.global_step == 2:
                raise KeyboardInterrupt  # Ctrl-C right after the first checkpoint

    common = dict(model="testing-tiny", task_name="rte", seeds=[7], data_dir=str(data_dir),
                  max_steps=6, results=tmp_path,
                  overrides={"max_seq_length": 32, "per_device_train_batch_size": 4,
                             "eval_steps": 2, "warmup_steps": 0})
    with pytest.raises(KeyboardInterrupt):
        run(**common, callbacks=[Crash()])
    cell = record_dir(tmp_path, "testing-tiny", "rte", 7)
    assert not (cell / "record.json").exists()
    assert (cell / "checkpoints" / "checkpoint-2").is_dir()
    outcome = run(**common)[0]
    assert outcome.status == "done"
    assert outcome.record.train["resumed_from_step"] == 2
    assert outcome.record.train["steps"] == 6


def test_pixel_tiny_pos_real_renderer(data_dir: Path, tmp_path: Path, fonts: Path) -> None:
    """The built-in PIXEL tiny adapter on the real PangoCairo word mode."""
    try:
        from pixel_bench.registry import RENDERERS

        RENDERERS.get("pangocairo")
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"pangocairo renderer unavailable: {exc}")
    out = _invoke(["run", "--model", "pixel-tiny", "--task", "pos", "--data-dir",
                   str(data_dir / "ud"), "--from-scratch", "--max-steps", "2", "--seed", "3",
                   "--results", str(tmp_path), *SMALL])
    assert out.exit_code == 0, out.output
    rec = read_record(record_dir(tmp_path, "pixel-tiny", "pos", 3) / "record.json")
    assert rec.config["renderer"] == "pangocairo" and rec.counts["validation.words"] == 24
    assert rec.model_info["family"] == "pixel" and "accuracy" in rec.metrics["validation"]


def test_missing_weights_fail_fast(data_dir: Path, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from pixel_bench.runner import run

    monkeypatch.setenv("PIXEL_BENCH_CHECKPOINTS", str(tmp_path / "none"))
    t0 = time.perf_counter()
    with pytest.raises(CheckpointError, match=r"pixar2024.*pixel-bench pretrain.*--checkpoint"):
        run("pixar2024", "rte", data_dir=str(data_dir), results=tmp_path)
    with pytest.raises(CheckpointError, match=r"pixel-base.*Team-PIXEL/pixel-base.*--checkpoint"):
        run("pixel-base", "rte", data_dir=str(data_dir), results=tmp_path)
    with pytest.raises(CheckpointError, match="no such directory"):
        run("pixel-tiny", "rte", checkpoint="./nope/ckpt", results=tmp_path)
    assert time.perf_counter() - t0 < 10


def test_missing_data_fails_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    out = CliRunner().invoke(__import__("pixel_bench.cli.app", fromlist=["app"]).app,
                             ["run", "--model", "testing-tiny", "--task", "rte",
                              "--results", str(tmp_path)])
    assert isinstance(out.exception, DataError)
    assert "GLUE RTE" in str(out.exception) and "--data-dir" in str(out.exception)
    assert time.perf_counter() - t0 < 10


# -- --checkpoint DIR: the run renders with DIR's text_renderer_config.json and font ------------
def _prepare(model: str, data_dir: Path, checkpoint: Path | None, length: int = 32):
    from pixel_bench.runner import prepare
    from pixel_bench.spec import resolve_spec

    return prepare(resolve_spec(model, "rte", str(data_dir),
                                checkpoint=None if checkpoint is None else str(checkpoint),
                                from_scratch=checkpoint is None,
                                overrides={"max_seq_length": length}))


def test_pixel_run_uses_checkpoint_font(fonts: Path, data_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("pygame")
    from pixel_bench.modeling.adapter import TaskKind
    from pixel_bench.registry import MODELS
    from pixel_bench.render.base import file_sha256

    adapter = MODELS.get("pixel-tiny")
    _, default = adapter.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION, 32)
    assert Path(default.font_file).name == "NotoSans-Regular.ttf"
    # a checkpoint whose renderer differs from the default: Pixeloid Sans at 9 pt
    font = fonts / "pixeloid" / "PixeloidSans.ttf"
    shipped = default.with_overrides(font_file=str(font), font_size=9)
    ckpt = tmp_path / "ckpt"
    adapter.save_pretrained(adapter.build_pretraining(max_seq_length=32), ckpt, renderer=shipped)
    assert (ckpt / "PixeloidSans.ttf").is_file()

    prep = _prepare("pixel-tiny", data_dir, ckpt)
    name, cfg = prep.renderer.name, prep.renderer.config
    assert prep.spec.weights == "--checkpoint" and prep.spec.checkpoint == str(ckpt)
    assert name == "pygame"  # rte.yaml's PIXEL renderer; the backend still follows the recipe
    assert cfg.text_renderer_type == "PyGameTextRenderer"
    assert Path(cfg.font_file) == ckpt / "PixeloidSans.ttf" and cfg.font_size == 9
    assert cfg.max_seq_length == 32
    assert prep.render_info["font_sha256"] == file_sha256(font)

    base = _prepare("pixel-tiny", data_dir, None)  # no checkpoint: the stand-in font
    assert Path(base.renderer.config.font_file).name == "NotoSans-Regular.ttf"
    assert base.render_info["font_sha256"] != prep.render_info["font_sha256"]
    # the renderings themselves differ (a different cache entry, different pixels)
    assert base.render_info["cache_entries"] != prep.render_info["cache_entries"]


def test_thesis_pixar_run_uses_checkpoint_font(fonts: Path, data_dir: Path,
                                               tmp_path: Path) -> None:
    from pixel_bench.modeling.adapter import TaskKind
    from pixel_bench.registry import MODELS
    from pixel_bench.render.base import file_sha256
    from pixel_bench.render.binary import binary_layout

    adapter = MODELS.get("pixar-tiny")
    _, default = adapter.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION, 32)
    assert Path(default.font_file).name == "PixeloidSans.ttf"
    font = fonts / "pixeloid" / "PixeloidMono.ttf"
    ckpt = tmp_path / "ckpt"
    adapter.save_pretrained(adapter.build_pretraining(), ckpt,
                            renderer=binary_layout("thesis", font_file=font))
    assert (ckpt / "PixeloidMono.ttf").is_file() and not (ckpt / "PixeloidSans.ttf").exists()

    # rte.yaml asks thesis PIXAR for pygame: the runner falls back to the model's own renderer,
    # which must still be the checkpoint's
    prep = _prepare("pixar-tiny", data_dir, ckpt)
    name, cfg = prep.renderer.name, prep.renderer.config
    assert name == "binary" and cfg.binary and cfg.pixels_per_patch == 8
    assert Path(cfg.font_file) == ckpt / "PixeloidMono.ttf" and cfg.max_seq_length == 32
    assert prep.render_info["font_sha256"] == file_sha256(font)
    assert "cannot read it" in prep.renderer.note and "renderer_note" not in prep.spec.recipe

    base = _prepare("pixar-tiny", data_dir, None)
    assert Path(base.renderer.config.font_file).name == "PixeloidSans.ttf"
    assert base.render_info["font_sha256"] != prep.render_info["font_sha256"]
