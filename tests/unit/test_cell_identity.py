"""Pure parts of cell identity and ownership: canonical keys and diffs, checkpoint hashing,
hub snapshots, deviations from the standard setup, the directory lock, record validation and
the file mode of records."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from pixel_bench import cells
from pixel_bench.errors import BusyError
from pixel_bench.locks import acquire, holder_pid
from pixel_bench.records import (RecordError, ResultRecord, atomic_write_text, has_record,
                                 read_cell_record, record_dir, write_record)


def _record(seed: int = 1, **kw) -> ResultRecord:
    return ResultRecord(model="pixel-tiny", task="pos", seed=seed,
                        metrics={"validation": {"accuracy": 0.5}}, main_metric="accuracy", **kw)


def test_key_is_canonical_and_diff_names_dotted_keys() -> None:
    a = {"recipe": {"learning_rate": 3e-5, "max_steps": 50}, "limit": None, "seed": 1}
    b = {"seed": 1, "limit": None, "recipe": {"max_steps": 50, "learning_rate": 3e-5}}
    assert cells.identity_key(a) == cells.identity_key(b) and len(cells.identity_key(a)) == 64
    c = {"seed": 1, "limit": 500, "recipe": {"max_steps": 60}}
    assert cells.identity_key(c) != cells.identity_key(a)
    diffs = cells.diff_fields(a, c)
    assert diffs == [("limit", None, 500), ("recipe.learning_rate", 3e-5, "<absent>"),
                     ("recipe.max_steps", 50, 60)]
    text = cells.format_diff(diffs)
    assert "limit: null -> 500" in text and "recipe.learning_rate: 3e-05 -> <absent>" in text
    sha = "ab" * 32
    assert cells.format_diff([("weights.sha256", sha, None)]).strip() == \
        "weights.sha256: abababababab... -> null"


def test_rows_hash_covers_labels() -> None:
    rows = [{"sentence1": "a", "label": "entailment"}]
    flipped = [{"sentence1": "a", "label": "not_entailment"}]
    assert cells.rows_sha256(rows) != cells.rows_sha256(flipped)
    assert cells.rows_sha256(rows) == cells.rows_sha256([{"label": "entailment",
                                                          "sentence1": "a"}])


def test_checkpoint_hash_reads_weights_not_training_state(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PIXEL_BENCH_CACHE", str(tmp_path / "cache"))
    ckpt = tmp_path / "ckpt"
    (ckpt / "checkpoints" / "step-5").mkdir(parents=True)
    (ckpt / "config.json").write_text("{}")
    (ckpt / "model.safetensors").write_bytes(b"w1")
    first = cells.weights_fields(str(ckpt))
    assert first["init"] == "checkpoint"
    memo = json.loads((tmp_path / "cache" / "weights-sha256.json").read_text())
    assert str((ckpt / "model.safetensors").resolve()) in memo  # cached by path, size, mtime
    for name in ("trainer_state.json", "optimizer.pt", "metrics.jsonl", ".lock-rank0",
                 "rng_state_0.pth"):
        (ckpt / name).write_text("changes while training")
    (ckpt / "checkpoints" / "step-5" / "model.safetensors").write_bytes(b"other")
    assert cells.weights_fields(str(ckpt)) == first
    (ckpt / "model.safetensors").write_bytes(b"w2")
    assert cells.weights_fields(str(ckpt)) != first
    (ckpt / "model.safetensors").write_bytes(b"w1")
    (ckpt / "PixeloidSans.ttf").write_bytes(b"font")  # a shipped font is part of the model
    assert cells.weights_fields(str(ckpt)) != first
    assert cells.weights_fields(None) == {"init": "random"}


def test_hub_snapshot_folder_gives_id_and_revision(tmp_path: Path) -> None:
    snap = tmp_path / "hub" / "models--Team-PIXEL--pixel-base" / "snapshots" / "0a1b2c"
    snap.mkdir(parents=True)
    assert cells.weights_fields(str(snap)) == {"init": "hub", "hub_id": "Team-PIXEL/pixel-base",
                                               "revision": "0a1b2c"}


def test_nonstandard_of_new_and_old_records() -> None:
    new = _record(identity={"scheme": 1, "key": "k", "fields": {}, "nonstandard": {
        "limit": 500, "overrides": {"max_steps": {"recipe": 1000, "used": 50}}}})
    assert cells.describe_nonstandard(cells.nonstandard_of(new)) == \
        "limit 500; max_steps=50 (recipe 1000)"
    # before identities: overrides compared with today's recipe file (pos.yaml, pixel block)
    old = _record(config={"limit": None, "cli_overrides": {"dropout": 0, "learning_rate": 1e-3,
                                                           "max_seq_length": 256, "x": 1}},
                  model_info={"weights": "random init (--from-scratch)", "size": "base",
                              "family": "pixel"})
    assert cells.describe_nonstandard(cells.nonstandard_of(old)) == \
        "from scratch; dropout=0 (recipe 0.1); learning_rate=0.001 (recipe 5e-05); x=1"
    tiny = _record(config={"limit": None, "cli_overrides": {}},
                   model_info={"weights": "random init (--from-scratch)", "size": "tiny"})
    assert cells.nonstandard_of(tiny) == {}  # a tiny model has nothing but random init


def test_lock_is_exclusive_names_the_holder_and_cleans_up(tmp_path: Path) -> None:
    path = tmp_path / "cell" / ".lock"
    held = acquire(path, lambda pid: f"busy {pid}", remove_on_release=True)
    assert holder_pid(path) == os.getpid()
    with pytest.raises(BusyError, match=f"busy {os.getpid()}"):
        acquire(path, lambda pid: f"busy {pid}")  # a second open file description
    held.release()
    assert not path.exists()
    with acquire(path, lambda pid: "busy") as again:
        assert again.path == path
    assert path.exists()  # kept unless asked to remove: harmless, the kernel lock is gone
    acquire(path, lambda pid: "busy").release()


def test_corrupt_foreign_and_mistyped_records_do_not_count(tmp_path: Path) -> None:
    write_record(_record(1), tmp_path)
    assert has_record(tmp_path, "pixel-tiny", "pos", 1)
    cell2 = record_dir(tmp_path, "pixel-tiny", "pos", 2)
    cell2.mkdir(parents=True)
    (cell2 / "record.json").write_text('{"schema_version": 1, "mod')
    assert not has_record(tmp_path, "pixel-tiny", "pos", 2)
    (cell2 / "record.json").write_text(json.dumps(_record(1).to_dict()))  # seed 1's, copied
    assert not has_record(tmp_path, "pixel-tiny", "pos", 2)
    with pytest.raises(RecordError, match="not of this cell"):
        read_cell_record(tmp_path, "pixel-tiny", "pos", 2)
    bad = {**_record(2).to_dict(), "seed": True}
    (cell2 / "record.json").write_text(json.dumps(bad))
    assert not has_record(tmp_path, "pixel-tiny", "pos", 2)
    bad = {**_record(2).to_dict(), "config": [1, 2]}
    with pytest.raises(RecordError, match="'config' must be a JSON object"):
        ResultRecord.from_dict(bad)
    assert not has_record(tmp_path, "pixel-tiny", "pos", 3)  # none at all


def test_old_records_without_identity_still_load() -> None:
    data = _record().to_dict()
    del data["identity"]
    assert ResultRecord.from_dict(data).identity == {}


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_written_files_honour_the_umask(tmp_path: Path, mask: int, mode: int) -> None:
    old = os.umask(mask)
    try:
        atomic_write_text(tmp_path / "record.json", "{}\n")
        path = write_record(_record(), tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "record.json").stat().st_mode) == mode
    assert stat.S_IMODE(path.stat().st_mode) == mode
