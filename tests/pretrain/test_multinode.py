"""Multi-node pretraining: two torchrun agents ("nodes") on this machine meeting at a c10d
rendezvous on 127.0.0.1 train exactly like one node with the same ranks (same global batch);
the Slurm environment of an srun step, DeepSpeed hostfiles and bad settings."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pixel_bench.errors import ConfigError

MODEL = "pixar-tiny"
COMMON = dict(max_seq_length=64, batch_size=2, warmup_steps=2, log_steps=1, num_workers=0,
              picture_steps=0, min_text_patches=4, block_lines=32, precision="bf16",
              engine="torch", max_steps=3, save_steps=3)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, data: Path) -> Path:
    src = data / "wikipedia_en_sample" / "text" / "AA" / "wiki_01.gz"
    out = tmp_path_factory.mktemp("multinode-corpus") / "wiki.txt"
    with gzip.open(src, "rt", encoding="utf-8") as fh:
        out.write_text("".join(next(fh) for _ in range(400)), "utf-8")
    return out


def _args(out: Path, corpus: Path, **kw):
    from pixel_bench.train.pretrain import PretrainArgs

    return PretrainArgs(model=MODEL, output_dir=str(out), data=str(corpus), **{**COMMON, **kw})


def _losses(out: Path) -> list[tuple[int, float]]:
    return [(json.loads(x)["step"], json.loads(x)["loss"])
            for x in (out / "metrics.jsonl").read_text().splitlines()]


def _cli(out: Path, corpus: Path, *extra: str) -> list[str]:
    opts = []
    for key, value in COMMON.items():
        opts += [f"--{key.replace('_', '-')}", str(value)]
    return [sys.executable, "-m", "pixel_bench.cli.app", "pretrain", "--model", MODEL, "-o",
            str(out), "--data", str(corpus), *opts, *extra]


@pytest.fixture(scope="module")
def one_node(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Path:
    """The reference: one node, 2 processes (torchrun, gloo)."""
    from pixel_bench.train.pretrain import run_pretraining

    out = tmp_path_factory.mktemp("one-node")
    old = os.environ.get("PIXEL_BENCH_THREADS")
    os.environ["PIXEL_BENCH_THREADS"] = "1"
    try:
        run_pretraining(_args(out, corpus, num_processes=2))
    finally:
        if old is None:
            os.environ.pop("PIXEL_BENCH_THREADS")
        else:
            os.environ["PIXEL_BENCH_THREADS"] = old
    return out


def _same_curve(one: Path, other: Path) -> None:
    state = json.loads((other / "checkpoints" / "step-0000003" / "trainer_state.json")
                       .read_text())
    assert state["world_size"] == 2  # the two agents / tasks formed one run
    a, b = _losses(one), _losses(other)
    assert [s for s, _ in a] == [s for s, _ in b] == [1, 2, 3]
    # measured: 0.072355, 0.071053, 0.072703 in all three (2 ranks, same data per rank)
    assert [x for _, x in b] == pytest.approx([x for _, x in a], abs=1e-5)
    assert (other / "model.safetensors").is_file()


@pytest.mark.slow
def test_two_nodes_equal_one_node(tmp_path: Path, corpus: Path, one_node: Path) -> None:
    from pixel_bench.train.pretrain import free_port

    two = tmp_path / "two-nodes"
    endpoint = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "PIXEL_BENCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
    nodes = [subprocess.Popen(_cli(two, corpus, "--nnodes", "2", "--num-processes", "1",
                                   "--rdzv-endpoint", endpoint, "--rdzv-id", "test-2n"),
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for _ in range(2)]  # 2 nodes x 1 process
    outputs = [p.communicate(timeout=400)[0] for p in nodes]
    assert [p.returncode for p in nodes] == [0, 0], "\n----\n".join(outputs)
    _same_curve(one_node, two)


@pytest.mark.slow
def test_srun_tasks_are_ranks(tmp_path: Path, corpus: Path, one_node: Path,
                              slurm_env: dict[str, str]) -> None:
    """`srun -n 2 pixel-bench pretrain ...` on the test cluster: each task is a rank, placed
    from SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID (no torchrun)."""
    from pixel_bench.train.pretrain import free_port

    out = tmp_path / "srun"
    env = {**slurm_env, "PIXEL_BENCH_THREADS": "1", "OMP_NUM_THREADS": "1",
           "PIXEL_BENCH_RDZV_PORT": str(free_port())}
    proc = subprocess.run(["srun", "-n", "2", "-c", "1", "--time", "5",
                           *_cli(out, corpus, "--num-processes", "1")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("done: 3 steps") == 1  # rank 0 reports
    _same_curve(one_node, out)


def test_nodelist_and_srun_environment() -> None:
    from pixel_bench.train.launch import expand_nodelist
    from pixel_bench.train.pretrain import apply_slurm

    assert expand_nodelist("gpu[01-03,07],cpu5") == ["gpu01", "gpu02", "gpu03", "gpu07", "cpu5"]
    assert expand_nodelist("node7") == ["node7"]
    assert expand_nodelist("a[9-11]-ib") == ["a9-ib", "a10-ib", "a11-ib"]
    step = {"SLURM_PROCID": "1", "SLURM_STEP_ID": "0", "SLURM_NNODES": "2",
            "SLURM_NODEID": "1", "SLURM_NTASKS": "2", "SLURM_LOCALID": "0",
            "SLURM_JOB_NODELIST": "gpu[03-04]", "SLURM_JOB_ID": "777"}
    args = apply_slurm(_args(Path("o"), Path("c"), num_processes=4), dict(step))
    assert (args.nnodes, args.node_rank, args.rdzv_endpoint, args.rdzv_id) == (
        2, 1, "gpu03:29500", "slurm-777")
    explicit = apply_slurm(_args(Path("o"), Path("c"), nnodes=2, rdzv_endpoint="h:1"), dict(step))
    assert explicit.rdzv_endpoint == "h:1"  # given values win
    # 4 tasks per node: every task is a rank (no torchrun)
    env = {**step, "SLURM_NTASKS": "8", "SLURM_PROCID": "5", "SLURM_LOCALID": "1"}
    apply_slurm(_args(Path("o"), Path("c")), env)
    assert (env["RANK"], env["WORLD_SIZE"], env["LOCAL_RANK"], env["MASTER_ADDR"]) == (
        "5", "8", "1", "gpu03")
    with pytest.raises(ConfigError, match="4 tasks per node.*--num-processes 1"):
        apply_slurm(_args(Path("o"), Path("c"), num_processes=4),
                    {**step, "SLURM_NTASKS": "8"})
    # not in a step (sbatch script, laptop): nothing changes
    assert apply_slurm(_args(Path("o"), Path("c")), {}).nnodes == 1


def test_launch_commands(tmp_path: Path) -> None:
    from pixel_bench.train.pretrain import check_launch, launch_command, world_size_of

    a = _args(tmp_path / "run", tmp_path, nnodes=2, num_processes=4, rdzv_endpoint="n1:29400")
    cmd = launch_command(a, tmp_path / "args.json")
    assert cmd[cmd.index("--nnodes") + 1] == "2" and cmd[cmd.index("--nproc-per-node") + 1] == "4"
    assert cmd[cmd.index("--rdzv-endpoint") + 1] == "n1:29400"
    assert cmd[cmd.index("--rdzv-id") + 1] == "pixel-bench-run"  # the same on every node
    assert world_size_of(a) == 8
    hostfile = tmp_path / "hosts"
    hostfile.write_text("# two nodes\nnode1 slots=4\nnode2 slots=2\n")
    ds = _args(tmp_path / "run", tmp_path, engine="deepspeed", launcher="deepspeed",
               hostfile=str(hostfile))
    check_launch(ds)
    cmd = launch_command(ds, tmp_path / "args.json")
    assert cmd[1:3] == ["--hostfile", str(hostfile)]
    assert cmd[cmd.index("--master_addr") + 1] == "node1" and "--num_nodes" not in cmd
    assert world_size_of(ds) == 6
    hostfile.write_text("node1 4\n")
    with pytest.raises(ConfigError, match=r"hosts:1: expected 'HOST slots=N'"):
        world_size_of(ds)
    for bad, msg in ((dict(nnodes=2), "needs --rdzv-endpoint"),
                     (dict(nnodes=2, node_rank=2, rdzv_endpoint="h:1"), "--node-rank 2"),
                     (dict(hostfile=str(hostfile)), "--hostfile is DeepSpeed"),
                     (dict(nnodes=2, rdzv_endpoint="h:x"), "expected HOST:PORT")):
        with pytest.raises(ConfigError, match=msg):
            check_launch(_args(tmp_path, tmp_path, **bad))
