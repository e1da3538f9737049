"""One cell, one owner, one meaning (pixel_bench.cells) on real tiny runs: an identical rerun is
skipped, a different experiment is refused with the differing keys (before any data is read
when the recipe, limit or weights differ), ``--overwrite`` replaces and says what, a data or
weights change is caught, records written before identities are compared on what they hold, a
corrupt record is set aside and redone, an unfinished run of another experiment is not resumed,
and a cell in use by another process stops ``run`` with the holder's PID."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pixel_bench.errors import BusyError, CellConflictError
from pixel_bench.records import read_record, record_dir

from test_run import RTE_DEV, RTE_TRAIN, SMALL, _fakes, _invoke  # noqa: F401 (shared fixtures)

TINY = ["--model", "testing-tiny", "--task", "rte"]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "glue" / "RTE").mkdir(parents=True)
    (root / "glue" / "RTE" / "train.tsv").write_text(RTE_TRAIN)
    (root / "glue" / "RTE" / "dev.tsv").write_text(RTE_DEV)
    return root


def _args(data_dir: Path, results: Path, *extra: str, steps: str = "2") -> list[str]:
    return ["run", *TINY, "--data-dir", str(data_dir), "--results", str(results),
            "--max-steps", steps, "--seed", "1", *SMALL, *extra]


def _cell(results: Path, seed: int = 1) -> Path:
    return record_dir(results, "testing-tiny", "rte", seed)


def _conflict(args: list[str]) -> str:
    with pytest.raises(CellConflictError) as info:
        _invoke(args)
    return str(info.value)


def test_identity_skip_refuse_overwrite(data_dir: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results"
    first = _invoke(_args(data_dir, results))
    assert first.exit_code == 0, first.output
    path = _cell(results) / "record.json"
    rec = read_record(path)
    ident = rec.identity
    assert len(ident["key"]) == 64 and ident["scheme"] == 1
    fields = ident["fields"]
    assert fields["recipe"]["max_steps"] == 2 and fields["limit"] is None
    assert fields["weights"] == {"init": "random"}
    assert set(fields["data"]) == {"train", "validation"}
    assert fields["renderer"]["name"] == "testing-blocks"
    assert len(fields["renderer"]["font_sha256"]) == 64
    assert ident["nonstandard"]["overrides"]["max_steps"] == {"recipe": 15000, "used": 2}
    assert not (_cell(results) / "identity.json").exists()  # only while unfinished
    assert not (_cell(results) / ".lock").exists()
    stored = path.read_bytes()

    again = _invoke(_args(data_dir, results))
    assert again.exit_code == 0 and "skipped: identical record exists" in again.output

    # a different step cap is refused before any data is read (the cheap path)
    import pixel_bench.runner as runner

    def no_prepare(*_a, **_k):
        raise AssertionError("prepare() must not run when the recipe already differs")

    with monkeypatch.context() as m:
        m.setattr(runner, "prepare", no_prepare)
        message = _conflict(_args(data_dir, results, steps="3"))
        assert "recipe.max_steps: 2 -> 3" in message
        message = _conflict(_args(data_dir, results, "--limit", "8"))
        assert "limit: null -> 8" in message
        message = _conflict(_args(data_dir, results, "--set", "learning_rate=1e-3"))
        assert "recipe.learning_rate: 3e-05 -> 0.001" in message
    assert str(_cell(results)) in message
    assert "--overwrite" in message and "--results DIR" in message
    assert path.read_bytes() == stored  # nothing changed

    # --set equal to the recipe's own value is the same experiment
    same = _invoke(_args(data_dir, results, "--set", "learning_rate=3e-5"))
    assert same.exit_code == 0 and "skipped: identical record exists" in same.output

    # --overwrite replaces it and says what differed
    replaced = _invoke(_args(data_dir, results, "--limit", "8", "--overwrite"))
    assert replaced.exit_code == 0, replaced.output
    assert "replaced a record of another experiment" in replaced.output
    assert "limit: null -> 8" in replaced.output
    new = read_record(path)
    assert new.identity["fields"]["limit"] == 8 and new.counts["train_examples"] == 8
    assert new.identity["key"] != ident["key"]
    assert new.identity["nonstandard"]["limit"] == 8


def test_changed_data_or_weights_are_caught(data_dir: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text('{"hidden_size": 16}')
    (ckpt / "model.safetensors").write_bytes(b"weights-1")
    (ckpt / "metrics.jsonl").write_text("{}\n")  # training log: not part of the weights
    args = _args(data_dir, results, "--checkpoint", str(ckpt))
    assert _invoke(args).exit_code == 0
    weights = read_record(_cell(results) / "record.json").identity["fields"]["weights"]
    assert weights["init"] == "checkpoint" and len(weights["sha256"]) == 64

    (ckpt / "metrics.jsonl").write_text('{"step": 9}\n')
    assert "skipped: identical record exists" in _invoke(args).output
    (ckpt / "model.safetensors").write_bytes(b"weights-2")
    assert "weights.sha256" in _conflict(args)
    (ckpt / "model.safetensors").write_bytes(b"weights-1")

    # same text, one label flipped: the render fingerprint would not see it, the identity does
    dev = data_dir / "glue" / "RTE" / "dev.tsv"
    dev.write_text(RTE_DEV.replace("\tnot_entailment\n", "\tentailment\n", 1))
    assert "data.validation" in _conflict(args)


def test_records_without_identity_are_compared_on_what_they_hold(data_dir: Path,
                                                                 tmp_path: Path) -> None:
    results = tmp_path / "results"
    assert _invoke(_args(data_dir, results)).exit_code == 0
    path = _cell(results) / "record.json"
    data = json.loads(path.read_text())
    del data["identity"]  # as written by pixel-bench before cell identities
    path.write_text(json.dumps(data))
    out = _invoke(_args(data_dir, results))
    assert out.exit_code == 0 and "written before cell identities" in out.output
    message = _conflict(_args(data_dir, results, "--limit", "8"))
    assert "config.limit: null -> 8" in message
    assert "written before cell identities" in message


def test_corrupt_record_is_set_aside_and_redone(data_dir: Path, tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    results = tmp_path / "results"
    cell = _cell(results)
    cell.mkdir(parents=True)
    (cell / "record.json").write_text('{"schema_version": 1, "model": "testing-ti')
    from pixel_bench.records import has_record

    assert not has_record(results, "testing-tiny", "rte", 1)
    out = _invoke(_args(data_dir, results))
    assert out.exit_code == 0, out.output
    assert "corrupt record set aside as record.json.corrupt-" in out.output
    aside = list(cell.glob("record.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text().endswith('"testing-ti')  # nothing lost
    assert any("is not valid JSON, corrupt or truncated" in r.getMessage() and str(cell) in r.getMessage()
               for r in caplog.records)
    assert read_record(cell / "record.json").seed == 1


def test_unfinished_run_of_another_experiment_is_not_resumed(data_dir: Path,
                                                             tmp_path: Path) -> None:
    from transformers import TrainerCallback

    from pixel_bench.runner import run

    class Crash(TrainerCallback):
        def on_save(self, args, state, control, **kw):
            raise KeyboardInterrupt

    common = dict(model="testing-tiny", task_name="rte", seeds=[1], data_dir=str(data_dir),
                  results=tmp_path, overrides={"max_seq_length": 32,
                                               "per_device_train_batch_size": 4,
                                               "eval_steps": 2, "warmup_steps": 0})
    with pytest.raises(KeyboardInterrupt):
        run(**common, max_steps=4, callbacks=[Crash()])
    cell = _cell(tmp_path)
    assert (cell / "identity.json").is_file() and (cell / "checkpoints").is_dir()
    with pytest.raises(CellConflictError, match=r"unfinished run(.|\n)*recipe.max_steps: 4 -> 6"):
        run(**common, max_steps=6)
    out = run(**common, max_steps=4)[0]  # the same experiment resumes
    assert out.status == "done" and out.record.train["resumed_from_step"] == 2
    assert "resumed" in out.note and not (cell / "identity.json").exists()


HOLDER = textwrap.dedent("""
    import sys, time
    from pixel_bench.locks import acquire
    lock = acquire(sys.argv[1], lambda pid: "busy")
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
    lock.release()
""")


def _holder(path: Path, seconds: float) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(seconds)],
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_cell_in_use_stops_the_second_run(data_dir: Path, tmp_path: Path) -> None:
    from pixel_bench.runner import run

    cell = _cell(tmp_path)
    holder = _holder(cell / ".lock", 60)
    try:
        with pytest.raises(BusyError) as info:
            _invoke(_args(data_dir, tmp_path))
        message = str(info.value)
        assert str(cell) in message and f"process {holder.pid}" in message
        assert "--wait" in message
    finally:
        holder.kill()
        holder.wait()
    assert not (cell / "record.json").exists()
    # killed holder: the kernel dropped its lock, the stale file does not block
    assert _invoke(_args(data_dir, tmp_path)).exit_code == 0
    # --wait: the second run waits for the first, then finds its identical record
    holder = _holder(_cell(tmp_path) / ".lock", 1.5)
    try:
        out = run("testing-tiny", "rte", seeds=[1], data_dir=str(data_dir), results=tmp_path,
                  max_steps=2, wait=True,
                  overrides={"max_seq_length": 32, "per_device_train_batch_size": 4,
                             "eval_steps": 2, "warmup_steps": 0})
    finally:
        holder.wait()
    assert out[0].status == "skipped" and "identical" in out[0].note
