"""PIXEL encoder speed and memory against transformers' ViTMAEModel of the same size (CPU).

Real PIXEL-base layer sizes (hidden 768, 12 layers, 12 heads, MLP 3072, patch 16), random init,
strip of 256 patches ([8, 3, 16, 4096]), batch 8, training mode (dropout 0.1 in both), one
forward + backward of ``last_hidden_state.pow(2).mean()``.

ViTMAEModel has no attention mask and always shuffles/gathers its kept patches; with
``mask_ratio=0`` it keeps all 256 (``int(256 · 1.0)``), so both models process 257 positions.
Its ``image_size`` must be the strip size (16, 4096) or it rejects the input. PIXEL is timed
with a realistic patch attention mask (the additive mask goes to SDPA) and without one.

Timing: median of N interleaved iterations after a warm-up (other engineers share the CPU), both
wall-clock and process CPU time (``time.process_time``, all threads); CPU time is the steadier of
the two when the machine is contended. Peak memory: each model in a fresh subprocess, the peak
resident set size sampled every 2 ms during one forward+backward, minus the RSS just before it.

    .venv/bin/python benchmarks/bench_models_pixel.py [--iters 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BATCH, LENGTH, PATCH = 8, 256, 16


def build(which: str):
    import torch

    if which == "vitmae":
        from transformers import ViTMAEConfig, ViTMAEModel

        cfg = ViTMAEConfig(image_size=(PATCH, PATCH * LENGTH), patch_size=PATCH, mask_ratio=0.0,
                           hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
        model = ViTMAEModel(cfg)
    else:
        from pixel_bench.modeling.pixel import PIXELConfig, PIXELModel

        model = PIXELModel(PIXELConfig(image_size=[PATCH, PATCH * LENGTH]))
    model.train()
    torch.manual_seed(0)
    pixels = torch.rand(BATCH, 3, PATCH, PATCH * LENGTH)
    mask = torch.zeros(BATCH, LENGTH)
    for i, n in enumerate(torch.randint(LENGTH // 4, LENGTH + 1, (BATCH,)).tolist()):
        mask[i, :n] = 1
    kwargs = {"attention_mask": mask} if which == "pixel-masked" else {}
    return model, pixels, kwargs


def step(model, pixels, kwargs) -> tuple[float, float]:
    """One forward+backward; (wall seconds, process CPU seconds)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = model(pixels, **kwargs)
    out.last_hidden_state.pow(2).mean().backward()
    model.zero_grad(set_to_none=True)
    return time.perf_counter() - wall, time.process_time() - cpu


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def measure_peak(which: str) -> float:
    """In this (fresh) process: peak RSS during one step minus the RSS before it, in MiB."""
    import threading

    model, pixels, kwargs = build(which)
    base, peak, done = _rss_mib(), [0.0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mib())
            time.sleep(0.002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    step(model, pixels, kwargs)
    done.set()
    thread.join()
    return max(peak[0], _rss_mib()) - base


def peak_memory(which: str, threads: int) -> float:
    code = (f"import sys, torch; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            f"torch.set_num_threads({threads}); import bench_models_pixel as b; "
            f"print(b.measure_peak({which!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-memory", action="store_true")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    names = ["pixel-masked", "pixel-nomask", "vitmae"]
    setups = {n: build(n) for n in names}
    for n in names:  # warm-up
        step(*setups[n])
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(args.iters):
        for n in names:
            w, c = step(*setups[n])
            wall[n].append(w)
            cpu[n].append(c)
    med_w = {n: statistics.median(t) for n, t in wall.items()}
    med_c = {n: statistics.median(t) for n, t in cpu.items()}
    result = {
        "config": {"batch": BATCH, "patches": LENGTH, "hidden": 768, "layers": 12,
                   "threads": args.threads, "iters": args.iters,
                   "torch": torch.__version__},
        "median_wall_s": {n: round(v, 3) for n, v in med_w.items()},
        "median_cpu_s": {n: round(v, 3) for n, v in med_c.items()},
        "all_wall_s": {n: [round(x, 2) for x in t] for n, t in wall.items()},
        "ratio_vs_vitmae_wall": {n: round(med_w[n] / med_w["vitmae"], 3) for n in names[:2]},
        "ratio_vs_vitmae_cpu": {n: round(med_c[n] / med_c["vitmae"], 3) for n in names[:2]},
    }
    if not args.no_memory:
        result["peak_rss_added_mib"] = {n: round(peak_memory(n, args.threads), 1) for n in names}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
