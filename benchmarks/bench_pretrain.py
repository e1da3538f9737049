"""Pretraining benchmark: loss curves, kill-and-resume, throughput (1 vs 2 processes).

    .venv/bin/python benchmarks/bench_pretrain.py --model pixar-tiny --steps 200 \
        --out /tmp/bench_pretrain

Runs, on ``shared/data/wikipedia_en_sample`` (via the real CLI, ``pixel-bench pretrain``):

1. ``ds2``: 2 processes, DeepSpeed ZeRO-2, bf16, ``--steps`` steps;
2. ``torch2``: the same with ``--engine torch`` (DDP, gloo);
3. ``killed``: run 1's command in a new directory, SIGKILLed once a checkpoint past the middle is
   written, then the same command again (``--resume auto``): the loss curve must equal run 1's;
4. ``ds1``: 1 process, ZeRO-2, a short run for patches/s (1 vs 2 processes).

Prints one JSON summary and a markdown table for BENCHMARKS.md. CPU only here (2 shared cores):
every process uses one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def cli(args: argparse.Namespace, out: Path, *extra: str) -> list[str]:
    data = args.data or str(REPO.parent / "shared" / "data" / "wikipedia_en_sample")
    return [sys.executable, "-m", "pixel_bench.cli.app", "pretrain", "--model", args.model,
            "--data", data, "--output-dir", str(out), "--batch-size", str(args.batch_size),
            "--warmup-steps", str(max(1, args.steps // 10)), "--lr", str(args.lr),
            "--log-steps", "5", "--picture-steps", str(args.steps), "--num-workers", "1",
            "--save-steps", str(max(1, args.steps // 4)),
            "--max-seq-length", str(args.max_seq_length), *extra]


def env() -> dict[str, str]:
    e = dict(os.environ, OMP_NUM_THREADS="1", PIXEL_BENCH_THREADS="1")
    e.setdefault("TORCH_EXTENSIONS_DIR",
                 str(Path.home() / ".cache" / "pixel-bench" / "torch_extensions"))
    return e


def metrics(out: Path) -> list[dict]:
    path = out / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def run(cmd: list[str]) -> float:
    t = time.time()
    subprocess.run(cmd, env=env(), check=True, cwd=REPO)
    return time.time() - t


def curve_summary(rows: list[dict]) -> dict:
    losses = [r["loss"] for r in rows]
    k = max(1, len(losses) // 5)
    speed = [r["patches_per_s"] for r in rows[1:]] or [0.0]
    return {"steps": rows[-1]["step"] if rows else 0,
            "loss_first": sum(losses[:k]) / k if losses else None,
            "loss_last": sum(losses[-k:]) / k if losses else None,
            "patches_per_s": sum(speed) / len(speed)}


def descendants(pid: int) -> list[int]:
    """PIDs of every process below ``pid`` (from /proc), children first."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out: list[int] = []
    stack = list(children.get(pid, []))
    while stack:
        p = stack.pop()
        out.append(p)
        stack.extend(children.get(p, []))
    return out[::-1]


def kill_and_resume(args: argparse.Namespace, out: Path, extra: list[str]) -> dict:
    cmd = cli(args, out, *extra)
    proc = subprocess.Popen(cmd, env=env(), cwd=REPO, start_new_session=True)
    target = args.steps // 2 + 1
    killed_at = None
    while proc.poll() is None:
        rows = metrics(out)
        if rows and rows[-1]["step"] >= target:
            killed_at = rows[-1]["step"]
            for pid in descendants(proc.pid) + [proc.pid]:  # the whole tree, as a scheduler
                try:                                         # would: torchrun's workers run in
                    os.kill(pid, signal.SIGKILL)             # their own process groups
                except ProcessLookupError:
                    pass
            break
        time.sleep(0.5)
    proc.wait()
    latest = (out / "checkpoints" / "latest").read_text().strip()
    t = time.time()
    subprocess.run(cmd, env=env(), check=True, cwd=REPO)
    return {"killed_at_step": killed_at, "resumed_from": latest,
            "resume_wall_s": time.time() - t}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="pixar-tiny")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--max-seq-length", type=int, default=256)
    parser.add_argument("--data", default=None)
    parser.add_argument("--out", default="/tmp/bench_pretrain")
    parser.add_argument("--only", default="ds2,torch2,killed,ds1")
    args = parser.parse_args()
    root = Path(args.out)
    root.mkdir(parents=True, exist_ok=True)
    only = set(args.only.split(","))
    results: dict = {"model": args.model, "steps": args.steps, "batch_size": args.batch_size,
                     "max_seq_length": args.max_seq_length, "lr": args.lr}
    ds2 = ["--num-processes", "2", "--engine", "deepspeed", "--zero-stage", "2",
           "--max-steps", str(args.steps), "--resume", "auto"]
    if "ds2" in only:
        wall = run(cli(args, root / "ds2", *ds2))
        results["ds2"] = {**curve_summary(metrics(root / "ds2")), "wall_s": wall}
    if "torch2" in only:
        cmd = cli(args, root / "torch2", "--num-processes", "2", "--engine", "torch",
                  "--max-steps", str(args.steps), "--resume", "auto")
        wall = run(cmd)
        results["torch2"] = {**curve_summary(metrics(root / "torch2")), "wall_s": wall}
    if "killed" in only:
        info = kill_and_resume(args, root / "killed", ds2)
        ref = {r["step"]: r["loss"] for r in metrics(root / "ds2")}
        got = {r["step"]: r["loss"] for r in metrics(root / "killed")}
        same = [s for s in got if s in ref and got[s] == ref[s]]
        steps = [r["step"] for r in metrics(root / "killed")]
        info["log_in_order"] = steps == sorted(steps) and len(steps) == len(set(steps))
        info["steps_compared"] = len([s for s in got if s in ref])
        info["identical_losses"] = len(same)
        info["max_abs_diff"] = max((abs(got[s] - ref[s]) for s in got if s in ref), default=None)
        results["killed"] = info
    if "ds1" in only:
        steps = max(20, args.steps // 4)
        cmd = cli(args, root / "ds1", "--num-processes", "1", "--engine", "deepspeed",
                  "--max-steps", str(steps), "--resume", "auto")
        wall = run(cmd)
        results["ds1"] = {**curve_summary(metrics(root / "ds1")), "wall_s": wall}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
