"""The pretraining loop end to end: torch engine (1 and 2 processes), DeepSpeed ZeRO 0/1/2 (one
process) and ZeRO-2 with 2 processes, atomic checkpoints, exact resume, the consolidated final
checkpoint, and clear errors before any work starts."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import pytest

from pixel_bench.errors import CheckpointError, ConfigError, DataError

MODEL = "pixar-tiny"  # thesis PIXAR, tiny layout (objective details: test_objectives.py)
COMMON = dict(max_seq_length=64, batch_size=2, warmup_steps=2, log_steps=1, num_workers=0,
              picture_steps=0, min_text_patches=4, block_lines=32, precision="bf16")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, data: Path) -> Path:
    src = data / "wikipedia_en_sample" / "text" / "AA" / "wiki_01.gz"
    out = tmp_path_factory.mktemp("pretrain-corpus") / "wiki.txt"
    with gzip.open(src, "rt", encoding="utf-8") as fh:
        out.write_text("".join(next(fh) for _ in range(400)), "utf-8")
    return out


@pytest.fixture(autouse=True)
def _persistent_extensions(monkeypatch: pytest.MonkeyPatch) -> None:
    # DeepSpeed JIT-compiles shm_comm once (~90 s); keep it across test sessions.
    if "TORCH_EXTENSIONS_DIR" not in os.environ:
        monkeypatch.setenv("TORCH_EXTENSIONS_DIR",
                           str(Path.home() / ".cache" / "pixel-bench" / "torch_extensions"))
    monkeypatch.setenv("PIXEL_BENCH_THREADS", "1")


def _args(out: Path, corpus: Path, **kw):
    from pixel_bench.train.pretrain import PretrainArgs

    return PretrainArgs(model=MODEL, output_dir=str(out), data=str(corpus),
                        **{**COMMON, **kw})


def _losses(out: Path) -> dict[int, float]:
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return {json.loads(x)["step"]: json.loads(x)["loss"] for x in lines}


def _simulate_kill_after(src: Path, dst: Path, step: int) -> None:
    """A copy of a finished run as a run killed right after checkpoint ``step`` would leave it
    (later checkpoint partially written, no final model)."""
    shutil.copytree(src, dst)
    ckpts = dst / "checkpoints"
    (ckpts / "latest").write_text(f"step-{step:07d}\n")
    for d in ckpts.glob("step-*"):
        if int(d.name.split("-")[1]) > step:
            (d / "trainer_state.json").unlink()  # a half-written checkpoint
    for name in ("model.safetensors", "config.json"):
        (dst / name).unlink()


def _trained_fp32(engine) -> dict:
    """The fp32 weights DeepSpeed trains, read from the live engine by name: ZeRO 1-3 through
    ``safe_get_full_fp32_param`` (DeepSpeed's API), ZeRO 0 from its mixed-precision wrapper,
    which pairs ``fp16_groups`` (the module's bf16 parameters) with their fp32 masters."""
    from deepspeed.utils import safe_get_full_fp32_param

    names = {id(p): n for n, p in engine.module.named_parameters()}
    if engine.zero_optimization_stage() == 0:
        opt = engine.optimizer
        pairs = [(names[id(p)], q) for lo, hi in zip(opt.fp16_groups, opt.fp32_groups)
                 for p, q in zip(lo, hi)]
    else:
        pairs = [(n, safe_get_full_fp32_param(p)) for n, p in engine.module.named_parameters()
                 if p.requires_grad]
    return {n: q.detach().to("cpu").float().clone() for n, q in pairs}


@pytest.mark.parametrize("engine,extra", [
    ("torch", {"num_workers": 2}),  # 3 batches consumed: the restarted workers swap roles
    ("deepspeed", {"grad_accum": 2}),  # the shipped zero2.json
    ("deepspeed", {"zero_stage": 0}),  # no ZeRO: zero_to_fp32 does not apply
    ("deepspeed", {"zero_stage": 1}),  # frozen parameters are not in the ZeRO-1 shards
], ids=["torch", "deepspeed-zero2", "deepspeed-zero0", "deepspeed-zero1"])
def test_checkpoint_and_exact_resume(tmp_path: Path, corpus: Path, engine: str, extra: dict,
                                     monkeypatch: pytest.MonkeyPatch):
    """Kill after a checkpoint, resume: the loss curve and final weights are the uninterrupted
    run's, bit for bit (one process, in this process; DeepSpeed bf16 at ZeRO 0, 1, 2). The
    exported weights are the trained model's: every state-dict key, fp32 masters bit for bit.
    Our state is safetensors + JSON; DeepSpeed's pickles are read by the restricted
    unpickler."""
    torch = pytest.importorskip("torch")
    if engine == "deepspeed":
        pytest.importorskip("deepspeed")
    from safetensors.torch import load_file

    from pixel_bench.modeling.adapter import HeadSpec, TaskKind
    from pixel_bench.registry import MODELS
    from pixel_bench.train.pretrain import Trainer, run_pretraining

    trained: dict = {}
    real_export = Trainer.export_final

    def export_final(self, last_checkpoint):  # the in-memory model at the end of training
        trained["module"] = {k: v.detach().to("cpu").clone()
                             for k, v in self.module.state_dict().items()}
        trained["fp32"] = (_trained_fp32(self.engine) if engine == "deepspeed"
                           else {k: v.float() for k, v in trained["module"].items()})
        return real_export(self, last_checkpoint)

    monkeypatch.setattr(Trainer, "export_final", export_final)
    full = tmp_path / "full"
    run_pretraining(_args(full, corpus, engine=engine, max_steps=6, save_steps=3, **extra))
    want = _losses(full)
    assert sorted(want) == [1, 2, 3, 4, 5, 6]
    assert (full / "checkpoints" / "latest").read_text().strip() == "step-0000006"
    for name in ("model.safetensors", "config.json", "text_renderer_config.json",
                 "PixeloidSans.ttf", "pretrain_info.json"):
        assert (full / name).is_file(), name

    exported = load_file(full / "model.safetensors")
    module, fp32 = trained["module"], trained["fp32"]
    assert exported.keys() == module.keys()  # frozen and tied parameters included
    assert fp32 and all(torch.equal(exported[k], v) for k, v in fp32.items())
    for k, v in module.items():  # the rest (frozen parameters, buffers) as the model holds them
        assert torch.equal(exported[k].to(v.dtype), v), k
    if engine == "deepspeed":  # fp32 masters, not the module's bf16 copies
        assert any(not torch.equal(exported[k], module[k].float()) for k in fp32)

    ckpt = full / "checkpoints" / "step-0000003"
    assert {"rank0_state.json", "rank0_state.safetensors"} <= {p.name for p in ckpt.iterdir()}
    if engine == "torch":
        assert not list(ckpt.glob("*.pt"))  # no pickle at all

    from pixel_bench.train import safe_state

    pickles_read = []
    real_load = safe_state.safe_torch_load
    monkeypatch.setattr(safe_state, "safe_torch_load",
                        lambda path, *a, **kw: pickles_read.append(Path(path).name)
                        or real_load(path, *a, **kw))
    killed = tmp_path / "killed"
    _simulate_kill_after(full, killed, 3)
    run_pretraining(_args(killed, corpus, engine=engine, max_steps=6, save_steps=3, **extra))
    if engine == "deepspeed":  # resume and export both went through the safe loader
        assert "mp_rank_00_model_states.pt" in pickles_read
        # (ZeRO 0 keeps the optimizer state in the model-states file)
        assert extra.get("zero_stage") == 0 or any(n.endswith("optim_states.pt")
                                                   for n in pickles_read)
    else:
        assert pickles_read == []
    got = _losses(killed)
    assert got == want  # steps 4-6 recomputed after the resume, bit for bit
    a, b = load_file(full / "model.safetensors"), load_file(killed / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert all(v.dtype == torch.float32 for v in a.values())

    # the final directory is a normal checkpoint the model adapter loads
    model = MODELS.get(MODEL).build(HeadSpec(TaskKind.SEQUENCE_CLASSIFICATION, num_labels=2),
                                    checkpoint=full, max_seq_length=64)
    state = model.state_dict()
    shared = [k for k in state if k in a]
    assert len(shared) > 20
    assert all(torch.equal(state[k], a[k]) for k in shared)


def _invoke(argv: list[str]):
    from typer.testing import CliRunner

    from pixel_bench.cli.app import app

    return CliRunner().invoke(app, ["pretrain", *argv])


def test_bad_input_is_reported_before_any_work(tmp_path: Path, corpus: Path):
    out = tmp_path / "run"
    base = ["--model", MODEL, "--output-dir", str(out), "--max-steps", "2"]

    res = _invoke(base + ["--data", str(tmp_path / "nope.txt")])
    assert isinstance(res.exception, DataError) and "not found" in str(res.exception)

    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n")
    res = _invoke(base + ["--data", str(empty)])
    assert isinstance(res.exception, DataError) and "empty" in str(res.exception)

    res = _invoke(base + ["--data", str(corpus), "--precision", "fp16", "--device", "cpu"])
    assert isinstance(res.exception, ConfigError) and "fp16" in str(res.exception)

    bad_ds = tmp_path / "ds.json"
    bad_ds.write_text(json.dumps({"zero_optimization": {"stage": 2, "bucket": 1}}))
    res = _invoke(base + ["--data", str(corpus), "--deepspeed", str(bad_ds)])
    assert isinstance(res.exception, ConfigError) and "ds.json" in str(res.exception)

    other = tmp_path / "llama_ckpt"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "llama"}))
    res = _invoke(base + ["--data", str(corpus), "--init-from", str(other)])
    assert isinstance(res.exception, CheckpointError) and "llama" in str(res.exception)

    # a run directory whose checkpoints belong to another model
    ck = out / "checkpoints" / "step-0000001"
    ck.mkdir(parents=True)
    (ck / "trainer_state.json").write_text(json.dumps({"model": "pixel-tiny", "step": 1}))
    (out / "checkpoints" / "latest").write_text("step-0000001\n")
    res = _invoke(base + ["--data", str(corpus), "--engine", "torch"])
    assert isinstance(res.exception, CheckpointError) and "pixel-tiny" in str(res.exception)
    assert not (out / "metrics.jsonl").exists()  # nothing ran

    res = _invoke(["--output-dir", str(out)])
    assert isinstance(res.exception, ConfigError) and "--model" in str(res.exception)


@pytest.mark.slow
def test_two_processes_torch_ddp_gloo(tmp_path: Path, corpus: Path):
    from pixel_bench.train.pretrain import run_pretraining

    out = tmp_path / "ddp"
    summary = run_pretraining(_args(out, corpus, engine="torch", num_processes=2, max_steps=3,
                                    save_steps=3))
    assert [h["step"] for h in summary["history"]] == [1, 2, 3]
    state = json.loads((out / "checkpoints" / "step-0000003" / "trainer_state.json").read_text())
    assert state["world_size"] == 2
    assert (out / "checkpoints" / "step-0000003" / "rank1_state.safetensors").is_file()
    assert (out / "model.safetensors").is_file()


@pytest.mark.slow
def test_two_processes_deepspeed_zero2_bf16(tmp_path: Path, corpus: Path):
    """The one multi-process DeepSpeed test (the first DeepSpeed run on a machine JIT-compiles
    shm_comm, ~90 s, cached in TORCH_EXTENSIONS_DIR)."""
    pytest.importorskip("deepspeed")
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    from pixel_bench.train.pretrain import run_pretraining

    out = tmp_path / "ds"
    summary = run_pretraining(_args(out, corpus, engine="deepspeed", zero_stage=2,
                                    num_processes=2, max_steps=3, save_steps=3))
    assert [h["step"] for h in summary["history"]] == [1, 2, 3]
    ck = out / "checkpoints" / "step-0000003"
    assert any(ck.glob("*zero_pp_rank_1*optim_states.pt"))  # optimizer state sharded by ZeRO
    assert (ck / "rank1_state.safetensors").is_file()
    weights = load_file(out / "model.safetensors")
    assert all(v.dtype == torch.float32 for v in weights.values())  # consolidated fp32


def test_init_from_a_pixel_checkpoint_initialises_the_encoder(tmp_path: Path, corpus: Path):
    """Thesis §3.5.1 (docs/models-pixar.md): the PIXAR encoder starts from PIXEL's weights."""
    torch = pytest.importorskip("torch")
    from pixel_bench.registry import MODELS
    from pixel_bench.train.pretrain import Trainer, validate

    pixel = MODELS.get("pixel-tiny")
    torch.manual_seed(1)
    donor = pixel.build_pretraining()
    pixel.save_pretrained(donor, tmp_path / "pixel")
    plan = validate(_args(tmp_path / "run", corpus, engine="torch",
                          init_from=str(tmp_path / "pixel")))
    model = Trainer(plan, dist=None).build_model()
    enc = dict(model.named_parameters())
    src = dict(donor.named_parameters())
    key = next(k for k in enc if k.endswith("encoder.layer.0.attention.attention.query.weight"))
    assert torch.equal(enc[key], src["vit.encoder.layer.0.attention.attention.query.weight"])


def test_a_run_directory_in_use_is_refused(tmp_path: Path, corpus: Path):
    """A live process holding the directory (e.g. an orphaned rank of a killed launcher)."""
    import subprocess
    import sys
    import time

    from pixel_bench.train.pretrain import run_pretraining

    out = tmp_path / "busy"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from filelock import FileLock; "
        f"l = FileLock({str(out / '.lock-rank0')!r}); l.acquire(); print('held', flush=True); "
        "time.sleep(60)")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(CheckpointError, match="in use by another pretraining run"):
            run_pretraining(_args(out, corpus, engine="torch", max_steps=1, save_steps=1))
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    assert not (out / "metrics.jsonl").exists()
