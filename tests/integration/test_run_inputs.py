"""``pixel-bench run`` with bad options, evaluate-only, test splits, broken checkpoints, Ctrl-C
and resumes, text baselines from a local folder. Tiny data, tiny models, 0-6 steps."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pixel_bench.errors import CheckpointError
from pixel_bench.records import read_record, record_dir

from test_run import CONLLU, RTE_DEV, RTE_TRAIN, SMALL, _fakes, _invoke  # noqa: F401

CONLL = "-DOCSTART- -X- -X- O\n\n" + "".join(
    f"John NNP B-NP I-PER\nSmith NNP I-NP I-PER\nvisited VBD B-VP O\nParis{i} NNP B-NP I-LOC\n"
    ". . O O\n\n" for i in range(4))
RUN = ["run", "--model", "testing-tiny", "--task", "rte"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    (root / "glue" / "RTE").mkdir(parents=True)
    (root / "glue" / "RTE" / "train.tsv").write_text(RTE_TRAIN)
    (root / "glue" / "RTE" / "dev.tsv").write_text(RTE_DEV)
    (root / "ud_english_ewt").mkdir()
    for split in ("train", "dev", "test"):
        (root / "ud_english_ewt" / f"en_ewt-ud-{split}.conllu").write_text(CONLLU)
    (root / "conll2003").mkdir()
    for name in ("eng.train", "eng.testa", "eng.testb"):
        (root / "conll2003" / name).write_text(CONLL)
    (root / "xnli").mkdir()
    xnli = "".join(f"A man number {i} sleeps .\tA man {'sleeps' if i % 3 else 'runs'} .\t"
                   f"{('contradiction', 'entailment', 'neutral')[i % 3]}\n" for i in range(6))
    for name in ("dev-en.tsv", "test-en.tsv", "dev-fr.tsv"):  # no test-fr.tsv
        (root / "xnli" / name).write_text(xnli)
    (root / "dev-only" / "glue" / "RTE").mkdir(parents=True)  # no train.tsv
    (root / "dev-only" / "glue" / "RTE" / "dev.tsv").write_text(RTE_DEV)
    return root


def _main(argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys) -> tuple[int, str]:
    """The console entry point as a user runs it: exit code and everything printed."""
    from pixel_bench.cli.app import main

    monkeypatch.setattr(sys, "argv", ["pixel-bench", *argv])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out + out.err


# -- option validation: a clear message naming option and value, non-zero exit, no traceback ----
@pytest.mark.parametrize("extra,message", [
    (["--limit", "-1"], r"error: --limit -1: must be >= 1"),
    (["--limit", "0"], r"error: --limit 0: must be >= 1"),
    (["--max-steps", "-5"], r"error: --max-steps -5: must be >= 0 \(0 = evaluate only"),
    (["--set", "learning_rate=abc"], r"learning_rate='abc' is not a number"),
    (["--set", "learing_rate=1e-4"], r"unknown recipe key 'learing_rate'\. Did you mean "
                                     r"'learning_rate'"),
    (["--max-steps", "0", "--set", "max_steps=5"],
     r"--max-steps 0 and --set max_steps=5 disagree; give only one of them"),
    (["--task", "pos"], r"Invalid value for '--task': given 2 times \(rte, pos\)"),
    (["--model=pixel-tiny"], r"Invalid value for '--model': given 2 times \(testing-tiny, "
                             r"pixel-tiny\)"),
])
def test_bad_options_are_refused(extra: list[str], message: str, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import re

    code, text = _main([*RUN, "--results", str(tmp_path / "r"), *extra], monkeypatch, capsys)
    flat = " ".join(text.replace("│", " ").split())  # rich boxes wrap click's messages
    assert code == 2 and re.search(message, flat), text
    assert "Traceback" not in text
    assert not (tmp_path / "r").exists()  # refused before anything ran


def test_results_pointing_at_a_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys) -> None:
    f = tmp_path / "results.txt"
    f.write_text("not a folder")
    for target in (f, f / "sub"):
        code, text = _main([*RUN, "--results", str(target)], monkeypatch, capsys)
        flat = "".join(text.split())  # the console wraps long paths
        assert code == 2 and f"--results{target}:{f}isafile,notafolder" in flat, text
        assert "Traceback" not in text
    assert f.read_text() == "not a folder"


def test_empty_results_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys) -> None:
    """--results "" would be the current folder: cells written among the user's files."""
    monkeypatch.chdir(tmp_path)
    for empty in ("", " "):
        code, text = _main([*RUN, "--results", empty], monkeypatch, capsys)
        flat = " ".join(text.split())
        assert code == 2 and "--results '': empty folder name" in flat, text
        assert "Traceback" not in text
    assert list(tmp_path.iterdir()) == []


def test_limit_is_checked_in_the_library_too(data: Path, tmp_path: Path) -> None:
    from pixel_bench.errors import ConfigError
    from pixel_bench.runner import run

    for bad in (0, -1):
        with pytest.raises(ConfigError, match=rf"--limit {bad}: must be an integer >= 1"):
            run("testing-tiny", "rte", data_dir=str(data), limit=bad, results=tmp_path)


# -- --max-steps 0: evaluate only ---------------------------------------------------------------
def test_max_steps_zero_evaluates_without_training(data: Path, tmp_path: Path) -> None:
    # dev-only: no training file at all, which evaluate-only does not need
    out = _invoke([*RUN, "--data-dir", str(data / "dev-only"), "--max-steps", "0", "--seed", "5",
                   "--results", str(tmp_path), *SMALL])
    assert out.exit_code == 0, out.output
    rec = read_record(record_dir(tmp_path, "testing-tiny", "rte", 5) / "record.json")
    assert rec.train["steps"] == 0 and rec.train["max_steps"] == 0
    assert rec.train["evaluate_only"] is True and rec.config["evaluate_only"] is True
    assert rec.train["train_loss"] is None and rec.train["eval_history"] == []
    assert rec.config["model_selection_split"] is None
    assert rec.counts["train_examples"] == 0 and "train" not in rec.provenance["data"]
    assert set(rec.metrics) == {"validation"} and 0 <= rec.main_score() <= 1
    assert rec.model_info["weights"] == "random init (tiny model)"


# -- every evaluation split present is scored; validation selects the model --------------------
@pytest.mark.parametrize("task", ["pos", "ner"])
def test_test_split_is_scored(task: str, data: Path, tmp_path: Path) -> None:
    out = _invoke(["run", "--model", "testing-tiny", "--task", task, "--data-dir", str(data),
                   "--max-steps", "2", "--seed", "1", "--results", str(tmp_path), *SMALL])
    assert out.exit_code == 0, out.output
    cell = record_dir(tmp_path, "testing-tiny", task, 1)
    rec = read_record(cell / "record.json")
    assert set(rec.metrics) == {"validation", "test"}
    assert rec.config["scored_splits"] == ["validation", "test"]
    assert rec.config["model_selection_split"] == "validation" == rec.main_split
    assert rec.config["missing_splits"] == []
    assert rec.provenance["data"]["test"]["source"].endswith(
        "en_ewt-ud-test.conllu" if task == "pos" else "eng.testb")
    splits = {json.loads(line)["split"] for line in (cell / "predictions.jsonl").open()}
    assert splits == {"validation", "test"}


def test_xnli_test_splits_are_scored_when_present(data: Path, tmp_path: Path) -> None:
    from pixel_bench.runner import run

    rec = run("testing-tiny", "xnli", seeds=[1], data_dir=str(data), results=tmp_path,
              max_steps=1, overrides={**COMMON["overrides"],
                                      "train_split": "validation.en"})[0].record
    assert rec.config["scored_splits"] == ["validation.en", "validation.fr", "test.en"]
    assert rec.config["model_selection_split"] == "validation.en"
    assert "test.fr" in rec.config["missing_splits"] and "test.en" in rec.metrics


def test_absent_test_split_is_listed(data: Path, tmp_path: Path) -> None:
    from pixel_bench.runner import prepare
    from pixel_bench.spec import resolve_spec

    d = tmp_path / "ud"
    d.mkdir()
    for split in ("train", "dev"):
        (d / f"xx-ud-{split}.conllu").write_text(CONLLU)
    prep = prepare(resolve_spec("testing-tiny", "pos", str(d), overrides={"max_seq_length": 32}))
    assert prep.missing_splits == ["test"] and "test" not in prep.splits


# -- checkpoints: a checkpoint cut mid-save is skipped, the older complete one resumes ---------
COMMON = dict(model="testing-tiny", task_name="rte", max_steps=6,
              overrides={"max_seq_length": 32, "per_device_train_batch_size": 4,
                         "eval_steps": 2, "warmup_steps": 0})


def test_checkpoint_cut_mid_save_falls_back(data: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture) -> None:
    from transformers import Trainer

    from pixel_bench.runner import run
    from pixel_bench.train.checkpoints import MANIFEST, checkpoint_problem

    original = Trainer._save_rng_state

    def cut(self, output_dir):  # the job dies while checkpoint-4 is being written
        if str(output_dir).endswith("checkpoint-4"):
            raise KeyboardInterrupt
        return original(self, output_dir)

    monkeypatch.setattr(Trainer, "_save_rng_state", cut)
    with pytest.raises(KeyboardInterrupt):
        run(**COMMON, seeds=[3], data_dir=str(data), results=tmp_path)
    monkeypatch.setattr(Trainer, "_save_rng_state", original)
    ckpts = record_dir(tmp_path, "testing-tiny", "rte", 3) / "checkpoints"
    # what the cut left: weights and optimizer, no RNG state, no trainer_state.json
    assert (ckpts / "checkpoint-4" / "optimizer.pt").is_file()
    assert not (ckpts / "checkpoint-4" / "trainer_state.json").exists()
    assert not (ckpts / "checkpoint-4" / MANIFEST).exists()
    assert (ckpts / "checkpoint-2" / MANIFEST).is_file()
    assert checkpoint_problem(ckpts / "checkpoint-4") == "trainer_state.json is missing"
    assert checkpoint_problem(ckpts / "checkpoint-2") is None

    with caplog.at_level("WARNING", logger="pixel_bench.finetune"):
        outcome = run(**COMMON, seeds=[3], data_dir=str(data), results=tmp_path)[0]
    assert outcome.status == "done"
    train = outcome.record.train
    assert train["resumed_from_step"] == 2 and train["steps"] == 6
    moved = ckpts.parent / "checkpoints-broken" / "checkpoint-4"
    assert train["skipped_checkpoints"] == [{"checkpoint": str(ckpts / "checkpoint-4"),
                                             "problem": "trainer_state.json is missing",
                                             "moved_to": str(moved)}]
    assert moved.is_dir() and (moved / "optimizer.pt").is_file()  # kept, not deleted
    assert "checkpoint-4 is incomplete" in caplog.text


def test_checkpoint_problem_detects_truncation(data: Path, tmp_path: Path) -> None:
    from pixel_bench.runner import run
    from pixel_bench.train.checkpoints import MANIFEST, checkpoint_problem

    run(**COMMON, seeds=[4], data_dir=str(data), results=tmp_path, keep_checkpoints=True)
    ck = record_dir(tmp_path, "testing-tiny", "rte", 4) / "checkpoints" / "checkpoint-6"
    assert checkpoint_problem(ck) is None
    opt = ck / "optimizer.pt"
    size = opt.stat().st_size
    opt.write_bytes(opt.read_bytes()[: size // 2])
    assert checkpoint_problem(ck) == f"optimizer.pt has {size // 2} bytes, {size} were written"
    (ck / MANIFEST).unlink()  # the structural checks alone: the zip has no directory any more
    assert checkpoint_problem(ck).startswith("optimizer.pt is unreadable (BadZipFile")
    weights = ck / "model.safetensors"
    opt.unlink()
    assert checkpoint_problem(ck) == "optimizer.pt is missing"
    weights.write_bytes(weights.read_bytes()[:-10])
    assert checkpoint_problem(ck).startswith("model.safetensors is unreadable")
    (ck / "trainer_state.json").write_text('{"global_step": 6')
    assert checkpoint_problem(ck).startswith("trainer_state.json is unreadable")


# -- Ctrl-C: the message says how to resume; the resumed record's train_loss covers all steps ---
def test_ctrl_c_says_how_to_resume_and_loss_covers_the_whole_run(
        data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from transformers import TrainerCallback

    import pixel_bench.train.finetune as ft
    from pixel_bench.runner import run

    straight = run(**COMMON, seeds=[7], data_dir=str(data), results=tmp_path / "straight")[0]

    class CtrlC(TrainerCallback):
        def on_save(self, args, state, control, **kw):
            if state.global_step == 2:
                raise KeyboardInterrupt

    real = ft.finetune

    def with_ctrl_c(*args, **kwargs):
        return real(*args[:-1], [CtrlC()], **kwargs)

    # logging every 5 steps: the loss is still logged at the step-2 checkpoint (LogAtSaves)
    argv = [*RUN, "--data-dir", str(data), "--max-steps", "6", "--seed", "7", "--results",
            str(tmp_path / "resumed"), *SMALL, "--set", "logging_steps=5"]
    monkeypatch.setattr(ft, "finetune", with_ctrl_c)
    code, text = _main(argv, monkeypatch, capsys)
    cell = record_dir(tmp_path / "resumed", "testing-tiny", "rte", 7)
    assert code == 130, text
    flat = " ".join(text.split())
    assert f"cell {cell} has no record yet and can be resumed" in flat
    assert f"resumes from step 2 ({cell / 'checkpoints' / 'checkpoint-2'})" in flat
    assert "pixel-bench " + " ".join(argv) in flat
    assert "Traceback" not in text

    monkeypatch.setattr(ft, "finetune", real)
    code, text = _main(argv, monkeypatch, capsys)  # the same command again
    assert code == 0, text
    rec = read_record(cell / "record.json")
    assert rec.train["resumed_from_step"] == 2 and rec.train["steps"] == 6
    assert rec.train["train_loss_steps"] == 6
    # the same seed, data order and RNG: the resumed run's loss is the uninterrupted one's
    assert rec.train["train_loss"] == pytest.approx(straight.record.train["train_loss"],
                                                    rel=1e-5)


def test_whole_run_train_loss_weights_logged_steps() -> None:
    from pixel_bench.train.finetune import whole_run_train_loss

    history = [{"loss": 2.0, "step": 1}, {"loss": 1.0, "step": 4},
               {"eval_accuracy": 0.5, "step": 4}, {"loss": 9.0, "step": 6}]
    # steps 1..4 from the checkpoint's log (2.0 x 1 + 1.0 x 3), steps 5..8 this run (0.5 each)
    assert whole_run_train_loss(history, 4, 8, 0.5) == (pytest.approx((2 + 3 + 2) / 8), 8)
    assert whole_run_train_loss(history, None, 8, 0.5) == (0.5, 8)
    assert whole_run_train_loss([], None, 8, None) == (None, 0)


# -- text baselines: text:DIR loads the folder; only the task head may be new -------------------
@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import BertModel

    from pixel_bench.modeling.text_baseline import tiny_config, tiny_tokenizer

    tok = tiny_tokenizer("wordpiece")
    d = tmp_path_factory.mktemp("tiny-bert")
    BertModel(tiny_config("wordpiece", len(tok), tok.pad_token_id)).save_pretrained(d)
    tok.save_pretrained(d)
    return d


def test_text_dir_loads_the_folder_and_records_new_weights(tiny_bert: Path, data: Path,
                                                           tmp_path: Path) -> None:
    out = _invoke(["run", "--model", f"text:{tiny_bert}", "--task", "rte", "--data-dir",
                   str(data), "--max-steps", "1", "--seed", "2", "--results", str(tmp_path),
                   *SMALL])
    assert out.exit_code == 0, out.output
    rec = read_record(record_dir(tmp_path, f"text:{tiny_bert}", "rte", 2) / "record.json")
    assert rec.model_info["weights"] == "local directory (text:DIR)"
    assert rec.model_info["checkpoint"] == str(tiny_bert)
    assert rec.model_info["newly_initialized"] == ["classifier.bias", "classifier.weight"]


def test_text_missing_body_weights_are_an_error(tiny_bert: Path, data: Path,
                                               tmp_path: Path) -> None:
    import shutil

    from safetensors.torch import load_file, save_file

    from pixel_bench.runner import run

    broken = tmp_path / "broken"
    shutil.copytree(tiny_bert, broken)
    weights = load_file(broken / "model.safetensors")
    dropped = "encoder.layer.1.output.dense.weight"
    del weights[dropped]
    save_file(weights, broken / "model.safetensors", metadata={"format": "pt"})
    kw = dict(data_dir=str(data), max_steps=1, seeds=[2],
              overrides=dict(COMMON["overrides"]))
    with pytest.raises(CheckpointError, match=rf"outside the task head.*bert\.{dropped}.*"
                                              r"allow_mismatched_weights=true"):
        run(f"text:{broken}", "rte", results=tmp_path / "a", **kw)
    kw["overrides"]["allow_mismatched_weights"] = True
    rec = run(f"text:{broken}", "rte", results=tmp_path / "b", **kw)[0].record
    assert rec.model_info["newly_initialized"] == [f"bert.{dropped}", "classifier.bias",
                                                   "classifier.weight"]


def test_text_head_for_another_label_count_is_replaced(tmp_path: Path) -> None:
    from transformers import BertForSequenceClassification

    from pixel_bench.modeling.text_baseline import build_text_model, tiny_config, tiny_tokenizer

    tok = tiny_tokenizer("wordpiece")
    config = tiny_config("wordpiece", len(tok), tok.pad_token_id)
    config.num_labels = 3  # e.g. fine-tuned on MNLI before
    BertForSequenceClassification(config).save_pretrained(tmp_path)
    model = build_text_model(tmp_path, "sequence_classification", 2)
    assert model.classifier.out_features == 2
    assert model.pixel_bench_newly_initialized == ["classifier.bias", "classifier.weight"]


@pytest.mark.parametrize("verbose", [False, True])
def test_text_load_report_left_to_pixel_bench(tmp_path: Path, monkeypatch, verbose) -> None:
    """transformers' LOAD REPORT table duplicates what build_text_model checks and records
    (newly initialised keys): plain runs drop it, --verbose keeps it."""
    import logging

    from transformers import BertModel

    from pixel_bench import quiet
    from pixel_bench.modeling.text_baseline import build_text_model, tiny_config, tiny_tokenizer

    if verbose:
        monkeypatch.setenv(quiet.VERBOSE_ENV, "1")
    else:
        monkeypatch.delenv(quiet.VERBOSE_ENV, raising=False)
    tok = tiny_tokenizer("wordpiece")
    BertModel(tiny_config("wordpiece", len(tok), tok.pad_token_id)).save_pretrained(tmp_path)
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    log = logging.getLogger("transformers.modeling_utils")
    log.addHandler(handler)
    try:
        model = build_text_model(tmp_path, "sequence_classification", 2)
    finally:
        log.removeHandler(handler)
    assert model.pixel_bench_newly_initialized == ["classifier.bias", "classifier.weight"]
    assert any("LOAD REPORT" in m for m in seen) == verbose, seen
    assert not [f for f in log.filters if isinstance(f, quiet._DropContaining)]


def test_text_dir_that_does_not_exist(tmp_path: Path) -> None:
    from pixel_bench.spec import resolve_model

    with pytest.raises(CheckpointError, match="no such directory"):
        resolve_model(f"text:{tmp_path}/nope")


# -- progress: one rich display for training and evaluation --------------------------------------
def test_progress_bars_for_training_and_evaluation(data: Path, tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from pixel_bench.runner import run
    from pixel_bench.train.progress import progress_callback

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120)
    run(**COMMON, seeds=[1], data_dir=str(data), results=tmp_path,
        callbacks=[progress_callback(live=True, console=console)])
    shown = buf.getvalue()
    assert "fine-tuning" in shown and "evaluating" in shown and "ETA" in shown
    assert "step 2: eval_loss=" in shown  # one line per evaluation


def test_transformers_bars_stay_off(tiny_bert: Path, data: Path, tmp_path: Path, capfd) -> None:
    """Loading and saving a PreTrainedModel draw tqdm bars ("Loading weights", "Writing model
    shards" at every checkpoint); not during a cell."""
    from transformers.utils import logging as hf_logging

    from pixel_bench.runner import run

    run(f"text:{tiny_bert}", "rte", seeds=[1], data_dir=str(data), results=tmp_path,
        max_steps=2, overrides=dict(COMMON["overrides"]))
    err = capfd.readouterr().err
    assert "Writing model shards" not in err and "Loading weights" not in err
    assert hf_logging.is_progress_bar_enabled()  # restored afterwards
