"""Thesis PIXAR: training-step and greedy-generation speed (KV cache vs recomputation).

    .venv/bin/python benchmarks/bench_pixar_thesis.py --size tiny --patches 529 --batch 8
    .venv/bin/python benchmarks/bench_pixar_thesis.py --size base --patches 529 --batch 1 \
        --new 32 --device cuda

Prints one JSON line per measurement (median of --repeat runs after one warm-up).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", choices=["tiny", "base"], default="tiny")
    ap.add_argument("--variant", default="pixar")
    ap.add_argument("--patches", type=int, default=529)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--new", type=int, default=64, help="patches to generate")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import torch

    from pixel_bench.modeling.pixar import PixarForPreTraining, num_parameters, variant_config

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = PixarForPreTraining(variant_config(args.variant, tiny=args.size == "tiny"))
    model.to(args.device)
    x = (torch.rand(args.batch, 1, 8, 8 * args.patches, device=args.device) > 0.3).float()
    am = torch.ones(args.batch, args.patches, device=args.device)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)

    def timed(fn) -> float:
        fn()
        sync()
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    def step() -> None:
        out = model(x, am)
        out.loss.backward()
        model.zero_grad(set_to_none=True)

    base = {"size": args.size, "params": num_parameters(model), "device": args.device,
            "threads": args.threads, "batch": args.batch, "patches": args.patches}
    t = timed(step)
    print(json.dumps({**base, "what": "train step (fwd+bwd)", "seconds": round(t, 4),
                      "patches_per_s": round(args.batch * args.patches / t, 1)}))
    model.eval()
    prompt = min(16, args.patches)
    for cache in (True, False):
        t = timed(lambda: model.generate(x, prompt, args.new, use_cache=cache))
        print(json.dumps({**base, "what": f"generate {args.new} patches after {prompt} "
                          f"({'KV cache' if cache else 'no cache'})", "seconds": round(t, 4),
                          "patches_per_s": round(args.batch * args.new / t, 1)}))


if __name__ == "__main__":
    main()
