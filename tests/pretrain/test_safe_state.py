"""Resume reads no code from a run folder: our state is safetensors + JSON, DeepSpeed's and old
pickled files go through torch's restricted unpickler, and a hostile pickle is refused (its
payload never runs)."""

from __future__ import annotations

import json
import math
import os
import pickle
import random
from pathlib import Path

import numpy as np
import pytest

from pixel_bench.errors import CheckpointError

torch = pytest.importorskip("torch")


class _Payload:
    """Unpickling this would create ``marker`` (a stand-in for any code a pickle can run)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (str(self.marker),))


def _hostile(path: Path, marker: Path, as_torch: bool = True) -> Path:
    obj = {"rng": _Payload(marker), "worker_states": {}, "batches_consumed": 0}
    if as_torch:
        torch.save(obj, path)
    else:
        path.write_bytes(pickle.dumps(obj))
    return path


def test_state_round_trips_exactly(tmp_path: Path):
    from pixel_bench.train.pretrain import rng_state, set_rng_state
    from pixel_bench.train.safe_state import load_state, save_state

    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    model[1].weight = model[0].bias  # shared storage: stored as its own copy
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(2, 4)).sum().backward()
    opt.step()
    random.random()
    np.random.rand()
    state = {"optimizer": opt.state_dict(), "model": model.state_dict(), "rng": rng_state(),
             "worker_states": {0: {"invalid": 3}, 1: {"invalid": 0}}, "nan": math.nan,
             "tuple": (1, (2.5, None), "x"), "__odd": 1}
    save_state(state, tmp_path, "s")
    assert {p.name for p in tmp_path.iterdir()} == {"s.json", "s.safetensors"}
    back = load_state(tmp_path, "s")
    assert back["worker_states"] == {0: {"invalid": 3}, 1: {"invalid": 0}}
    assert back["tuple"] == (1, (2.5, None), "x") and back["__odd"] == 1
    assert math.isnan(back["nan"])
    assert back["optimizer"]["param_groups"] == state["optimizer"]["param_groups"]
    for pid, per in state["optimizer"]["state"].items():
        for k, v in per.items():
            assert torch.equal(back["optimizer"]["state"][pid][k], v), (pid, k)
    # the restored RNGs continue exactly where the saved ones would
    want = (random.random(), np.random.rand(), torch.rand(3))
    set_rng_state(back["rng"])
    got = (random.random(), np.random.rand(), torch.rand(3))
    assert want[:2] == got[:2] and torch.equal(want[2], got[2])
    fresh = torch.optim.AdamW(model.parameters(), lr=1e-3)
    fresh.load_state_dict(back["optimizer"])  # loads into a real optimizer


def test_damaged_state_names_the_file(tmp_path: Path):
    from pixel_bench.train.safe_state import load_state, save_state

    save_state({"a": torch.ones(2)}, tmp_path, "s")
    (tmp_path / "s.safetensors").write_bytes(b"\x00" * 5)
    with pytest.raises(CheckpointError, match="s.safetensors"):
        load_state(tmp_path, "s")
    (tmp_path / "s.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="s.json"):
        load_state(tmp_path, "s")


@pytest.mark.parametrize("as_torch", [True, False])
def test_hostile_pickle_is_refused_and_never_runs(tmp_path: Path, as_torch: bool):
    from pixel_bench.train.pretrain import _read_state

    marker = tmp_path / "PWNED"
    # the payload is real: plain unpickling runs it
    probe = tmp_path / "probe"
    pickle.loads(pickle.dumps(_Payload(probe)))
    assert probe.is_dir()

    _hostile(tmp_path / "rank0_state.pt", marker, as_torch)
    with pytest.raises(CheckpointError, match=r"refusing to load .*rank0_state\.pt"):
        _read_state(tmp_path, "rank0_state")
    assert not marker.exists()


def test_old_format_checkpoints_still_load(tmp_path: Path):
    """engine.pt / rank<R>_state.pt from before the safetensors format: plain data (numpy RNG
    state included) loads through the restricted unpickler."""
    from pixel_bench.train.pretrain import _read_state, rng_state

    model = torch.nn.Linear(2, 2)
    opt = torch.optim.AdamW(model.parameters())
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict()},
               tmp_path / "engine.pt")
    torch.save({"rng": rng_state(), "worker_states": {0: {"invalid": 0}},
                "batches_consumed": 4}, tmp_path / "rank0_state.pt")
    assert set(_read_state(tmp_path, "engine")) == {"model", "optimizer"}
    rank = _read_state(tmp_path, "rank0_state")
    assert rank["batches_consumed"] == 4
    assert rank["rng"]["numpy"][1].dtype == np.uint32
    with pytest.raises(CheckpointError, match="rank1_state.json"):
        _read_state(tmp_path, "rank1_state")
    (tmp_path / "engine.pt").write_bytes((tmp_path / "engine.pt").read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"cannot read checkpoint file .*engine\.pt"):
        _read_state(tmp_path, "engine")


def test_deepspeed_loads_go_through_the_restricted_unpickler(tmp_path: Path):
    """engine.load_checkpoint reads every file via ``engine.checkpoint_engine.load``; export
    reads via ``zero_to_fp32``'s own ``torch.load``: both are rerouted."""
    from pixel_bench.train.safe_state import (make_deepspeed_loads_safe, safe_module_loads,
                                              safe_torch_load)

    marker = tmp_path / "PWNED"
    bad = _hostile(tmp_path / "mp_rank_00_model_states.pt", marker)

    class Engine:  # what DeepSpeed's engine exposes: a checkpoint_engine with load/save
        class checkpoint_engine:  # noqa: N801
            name = "TorchCheckpointEngine"

            @staticmethod
            def load(path, map_location=None):
                return torch.load(path, map_location=map_location, weights_only=False)

    engine = Engine()
    make_deepspeed_loads_safe(engine)
    assert engine.checkpoint_engine.name == "TorchCheckpointEngine"  # the rest is delegated
    with pytest.raises(CheckpointError, match="mp_rank_00_model_states.pt"):
        engine.checkpoint_engine.load(str(bad), map_location="cpu")
    assert not marker.exists()

    zero_to_fp32 = pytest.importorskip("deepspeed.utils.zero_to_fp32")
    real = zero_to_fp32.torch
    with safe_module_loads(zero_to_fp32):
        with pytest.raises(CheckpointError, match="mp_rank_00_model_states.pt"):
            zero_to_fp32.torch.load(str(bad), map_location="cpu", weights_only=False)
        assert zero_to_fp32.torch.float32 is torch.float32
    assert zero_to_fp32.torch is real and torch.load is not safe_torch_load
    assert not marker.exists()


def test_resume_from_a_hostile_run_folder_is_refused(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch):
    """End to end through ``pretrain --resume auto``: the run stops naming the file, and the
    payload never ran."""
    from pixel_bench.train.pretrain import PretrainArgs, run_pretraining

    monkeypatch.setenv("PIXEL_BENCH_THREADS", "1")
    corpus = tmp_path / "c.txt"
    corpus.write_text("A short line of text for the corpus.\n" * 50, "utf-8")
    out = tmp_path / "run"
    args = PretrainArgs(model="pixar-tiny", output_dir=str(out), data=str(corpus),
                        engine="torch", max_steps=2, max_seq_length=64, batch_size=2,
                        num_workers=0, picture_steps=0, min_text_patches=4, block_lines=32)
    ckpt = out / "checkpoints" / "step-0000001"
    ckpt.mkdir(parents=True)
    (out / "checkpoints" / "latest").write_text("step-0000001\n")
    state = {"model": args.model, "engine": "torch", "step": 1, "world_size": 1,
             "num_workers": 1, "batch_size": 2, "grad_accum": 1, "args": args.to_dict()}
    (ckpt / "trainer_state.json").write_text(json.dumps(state))
    marker = tmp_path / "PWNED"
    _hostile(ckpt / "engine.pt", marker)
    with pytest.raises(CheckpointError, match=r"engine\.pt"):
        run_pretraining(args)
    assert not marker.exists()
