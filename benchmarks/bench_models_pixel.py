"""PIXEL encoder speed and memory against transformers' ViTMAEModel of the same size (CPU).

Real PIXEL-base layer sizes (hidden 768, 12 layers, 12 heads, MLP 3072, patch 16), random init,
strip of 256 patches ([8, 3, 16, 4096]), batch 8, training mode (dropout 0.1 in both), one
forward + backward of ``last_hidden_state.pow(2).mean()``.

ViTMAEModel has no attention mask and always shuffles/gathers its kept patches; with
``mask_ratio=0`` it keeps all 256 (``int(256 · 1.0)``), so both models process 257 positions.
Its ``image_size`` must be the strip size (16, 4096) or it rejects the input. PIXEL is timed
with a realistic patch attention mask (the additive mask goes to SDPA) and without one.

Timing: median of N interleaved iterations after a warm-up (other engineers share the CPU).
Peak memory: each model in a fresh subprocess, ``ru_maxrss`` after one step minus before it.

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


def step(model, pixels, kwargs) -> float:
    start = time.perf_counter()
    out = model(pixels, **kwargs)
    out.last_hidden_state.pow(2).mean().backward()
    model.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def peak_memory(which: str, threads: int) -> float:
    """MiB added to the peak RSS by one forward+backward, in a fresh process."""
    code = (f"import sys, resource, torch; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            f"torch.set_num_threads({threads}); import bench_models_pixel as b; "
            f"m, x, k = b.build({which!r}); "
            f"r0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; b.step(m, x, k); "
            f"print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - r0) / 1024)")
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
    times: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(args.iters):
        for n in names:
            times[n].append(step(*setups[n]))
    med = {n: statistics.median(t) for n, t in times.items()}
    result = {
        "config": {"batch": BATCH, "patches": LENGTH, "hidden": 768, "layers": 12,
                   "threads": args.threads, "iters": args.iters,
                   "torch": torch.__version__},
        "median_s": {n: round(v, 3) for n, v in med.items()},
        "all_s": {n: [round(x, 3) for x in t] for n, t in times.items()},
        "ratio_vs_vitmae": {n: round(med[n] / med["vitmae"], 3) for n in names[:2]},
    }
    if not args.no_memory:
        result["peak_rss_added_mib"] = {n: round(peak_memory(n, args.threads), 1) for n in names}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
