"""Forward+backward time and peak memory of the LLaMA-based families at real size (CPU, SDPA).

Sizes (none of the released config.json files could be read here, see docs/models-llama.md):

* ``pixelgpt``: GUESS hidden 1024, 24 layers, 16 heads, intermediate 2816, vocab 32000
  (~370M parameters incl. both LM heads = 1.48 GB in fp32, consistent with the 1.4 GB
  ``model.safetensors`` of baidu/PixelGPT). Sequence classification, pixel input.
* ``pixar2024``: ASSUMPTION hidden 768, 12 layers, 12 heads, intermediate 2048 (~85M; the paper
  says the decoder is on par with PIXEL's encoder-decoder size; layer sizes are in files that are
  not in the repository). Sequence classification, binary input.
* ``bert-base`` / ``gpt2``: transformers' default configs (BERT-base, GPT-2 small), for scale.

Every model sees batch 8 x 256 positions (PixelGPT: 256 16x16 patches; PIXAR: 256 8x16 blocks;
text: 256 tokens). Each configuration runs in its own subprocess so that the peak RSS
(``ru_maxrss``) belongs to it alone. Usage::

    .venv/bin/python benchmarks/bench_models_llama.py [--steps 2] [--models pixelgpt,pixar2024]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

SEQ, BATCH = 256, 8
# the same guess as BASE_CONFIG in models/pixelgpt.py
PIXELGPT_GUESS = dict(vocab_size=32000, hidden_size=1024, intermediate_size=2816,
                      num_hidden_layers=24, num_attention_heads=16, num_key_value_heads=16,
                      pad_token_id=2, num_labels=2)
MODELS = ("pixelgpt", "pixar2024", "bert-base", "gpt2")


def _build(name: str):
    import torch

    if name == "pixelgpt":
        from pixel_bench.modeling.pixelgpt import ErniePixelConfig, build_pixelgpt

        model = build_pixelgpt(ErniePixelConfig(**PIXELGPT_GUESS))
        mask = torch.ones(BATCH, SEQ, dtype=torch.long)
        mask[:, SEQ // 2:] = 0
        batch = dict(pixel_values=torch.rand(BATCH, 3, 16, 16 * SEQ), attention_mask=mask,
                     labels=torch.zeros(BATCH, dtype=torch.long))
    elif name == "pixar2024":
        from pixel_bench.modeling.pixar2024 import Pixar2024Config, build_pixar2024

        cfg = dict(vocab_size=32, hidden_size=768, intermediate_size=2048, num_hidden_layers=12,
                   num_attention_heads=12, num_key_value_heads=12, num_channel=1, patch_size=8,
                   patch_len=2, binary=True, num_labels=2)
        model = build_pixar2024(Pixar2024Config(**cfg))
        mask = torch.ones(BATCH, SEQ, dtype=torch.long)
        mask[:, SEQ // 2:] = 0
        batch = dict(pixel_values=(torch.rand(BATCH, 1, 8, 16 * SEQ) > 0.5).float(),
                     attention_mask=mask, labels=torch.zeros(BATCH, dtype=torch.long))
    else:
        import transformers

        cfg = (transformers.BertConfig() if name == "bert-base"
               else transformers.GPT2Config(pad_token_id=50256))
        cfg.num_labels = 2
        cfg._attn_implementation = "sdpa"
        model = transformers.AutoModelForSequenceClassification.from_config(cfg)
        batch = dict(input_ids=torch.randint(0, 1000, (BATCH, SEQ)),
                     attention_mask=torch.ones(BATCH, SEQ, dtype=torch.long),
                     labels=torch.zeros(BATCH, dtype=torch.long))
    return model, batch


def run_one(name: str, steps: int, threads: int) -> dict:
    import resource

    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model, batch = _build(name)
    model.train()
    rss_model = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n_params = sum(p.numel() for p in model.parameters())
    times = []
    for i in range(steps + 1):  # the first step is a warm-up
        t0 = time.perf_counter()
        out = model(**batch)
        out.loss.backward()
        model.zero_grad(set_to_none=True)
        if i:
            times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"model": name, "params_M": round(n_params / 1e6, 1), "threads": threads,
            "steps": steps, "sec_per_step": round(sum(times) / len(times), 2),
            "tokens_per_sec": round(BATCH * SEQ * len(times) / sum(times), 1),
            "rss_after_build_MiB": round(rss_model, 0),
            "peak_rss_MiB": round(peak, 0)}


def main() -> None:
    global BATCH, SEQ
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=BATCH)
    ap.add_argument("--seq", type=int, default=SEQ)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    BATCH, SEQ = args.batch, args.seq
    if args.one:
        print(json.dumps(run_one(args.one, args.steps, args.threads)))
        return
    import platform

    import torch
    import transformers

    print(f"# CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores visible; "
          f"torch {torch.__version__}, transformers {transformers.__version__}; threads "
          f"{args.threads}; batch {BATCH} x {SEQ} positions; SDPA; fp32; forward+backward, "
          f"no optimizer step; mean of {args.steps} steps after 1 warm-up")
    print("| model | params (M) | s / step | positions / s | RSS after build (MiB) | "
          "peak RSS (MiB) |")
    print("|---|---|---|---|---|---|")
    for name in args.models.split(","):
        proc = subprocess.run([sys.executable, __file__, "--one", name, "--steps",
                               str(args.steps), "--threads", str(args.threads),
                               "--batch", str(BATCH), "--seq", str(SEQ)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
            print(f"| {name} | failed: {tail} | | | | |")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"| {name} | {r['params_M']} | {r['sec_per_step']} | {r['tokens_per_sec']} | "
              f"{r['rss_after_build_MiB']:.0f} | {r['peak_rss_MiB']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
