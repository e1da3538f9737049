"""Generative evaluation speed: seconds per 100 LAMBADA passages, generation vs OCR.

What it measures, per model (random init; speed does not depend on the weights): rendering the
prompts, greedy generation of 4 positions (64 px) with the KV cache in batches (and, for
comparison, PIXAR's full recompute per step, on PIXAR-2024 only), then each OCR engine reading
the generated crops, and the OCR ceiling (rendering + reading the gold words). The scores of a
random model are noise; only the times matter here.

Usage::

    nice -n 19 .venv/bin/python benchmarks/bench_generative.py --data-dir ../shared/data \
        --models pixar2024-tiny pixar2024 --passages 100
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def bench_model(name: str, rows: list[dict], batch: int, recompute: bool) -> dict:
    import numpy as np
    import torch

    from pixel_bench.generative.ocr import make_engines, prepare
    from pixel_bench.generative.prompts import render_prompts, render_word, to_grey_u8
    from pixel_bench.modeling.adapter import TaskKind
    from pixel_bench.registry import MODELS, RENDERERS

    torch.manual_seed(0)
    adapter = MODELS.get(name)
    rname, cfg = adapter.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION, max_seq_length=720)
    renderer = RENDERERS.get(rname)(cfg)
    gen = adapter.build_generator(None, True, "cpu", {"generation_mode": "gray",
                                                      "temperature": 0.1})
    out: dict = {"model": name, "passages": len(rows), "batch": batch,
                 "parameters": int(sum(p.numel() for p in gen.model.parameters())),
                 "torch_threads": torch.get_num_threads()}
    t = time.perf_counter()
    prompts = render_prompts([r["prompt"] for r in rows], adapter, renderer, gen.block, 3)
    out["render_s"] = time.perf_counter() - t
    out["prompt_positions_mean"] = float(np.mean([p.positions for p in prompts]))
    n_new = gen.positions_for(64)
    _say(f"{name}: rendered {len(rows)} prompts in {out['render_s']:.1f} s; generating")
    gen.generate([prompts[0].strip], n_new)  # warm-up (lazy imports, allocator)
    t = time.perf_counter()
    gens = gen.generate([p.strip for p in prompts], n_new, batch_size=batch)
    out["generate_s"] = time.perf_counter() - t
    t = time.perf_counter()
    gen.generate([p.strip for p in prompts[:20]], n_new, batch_size=1)
    out["generate_batch1_per100_s"] = (time.perf_counter() - t) * 100 / min(20, len(prompts))
    if recompute:  # PIXAR's loop: full sequence every step, no cache, one passage at a time
        t = time.perf_counter()
        for p in prompts[:20]:
            canvas = np.ones((1, 8, (p.positions + n_new + 1) * 16), dtype=np.float32)
            canvas[..., : p.strip.shape[-1]] = p.strip
            canvas[..., p.strip.shape[-1]: p.strip.shape[-1] + 8] = 0.0
            gen.model.generate(torch.as_tensor(canvas), p.positions + 1, n_new, mode="gray",
                               temperature=0.1)
        out["generate_recompute_per100_s"] = (time.perf_counter() - t) * 100 / min(20,
                                                                                    len(prompts))
    _say(f"{name}: generation done; OCR")
    crops = [prepare(to_grey_u8(g)) for g in gens]
    for engine in make_engines(["tesseract", "rapidocr"]):
        engine.read(crops[:2])  # warm-up (model load)
        t = time.perf_counter()
        engine.read(crops)
        out[f"ocr_{engine.name}_s"] = time.perf_counter() - t
        t = time.perf_counter()
        gold = [prepare(render_word(r["target"], adapter, renderer, n_new * gen.block))
                for r in rows]
        engine.read(gold)
        out[f"ceiling_{engine.name}_s"] = time.perf_counter() - t
    scale = 100 / len(rows)
    for k in [k for k in out if k.endswith("_s") and "per100" not in k]:
        out[k.replace("_s", "_per100_s")] = out.pop(k) * scale
    return out


def ceiling(task_name: str, data_dir: str, n: int, psm: int) -> dict:
    """OCR ceiling of the PIXAR-2024 rendering: gold words rendered in the generated window
    (64 px LAMBADA, 80 px bAbI), read by both engines, scored like a cell."""
    from pixel_bench.generative.ocr import make_engines, prepare
    from pixel_bench.generative.prompts import render_word
    from pixel_bench.generative.scoring import aggregate, score_example
    from pixel_bench.generative.vocab import build_vocabulary
    from pixel_bench.modeling.adapter import TaskKind
    from pixel_bench.registry import MODELS, RENDERERS, TASKS

    task = TASKS.get(task_name)
    rows, _ = task.load_split("test", data_dir, None, {})
    vocab, _ = build_vocabulary(rows)
    rows = rows[:n]
    adapter = MODELS.get("pixar2024-tiny")
    rname, cfg = adapter.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION)
    renderer = RENDERERS.get(rname)(cfg)
    width = 64 if task_name == "lambada" else 80
    images = [prepare(render_word(r["target"], adapter, renderer, width)) for r in rows]
    engines = make_engines(["tesseract", "rapidocr"], tesseract_psm=psm)
    reads = {e.name: e.read(images) for e in engines}
    scored = [score_example({e: reads[e][i] for e in reads}, r["target"], vocab,
                            task.pixar_scorers) for i, r in enumerate(rows)]
    m = aggregate(scored, list(reads), task.pixar_scorers, task.pixar_scorer,
                  prefix="ocr_ceiling")
    return {"task": task_name, "n": len(rows), "psm": psm, **m}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--models", nargs="+", default=["pixar2024-tiny", "pixar2024"])
    ap.add_argument("--passages", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--ceiling", type=int, default=0, metavar="N",
                    help="only measure the OCR ceiling on the first N targets of LAMBADA and "
                         "bAbI (Tesseract psm 3 and 7)")
    args = ap.parse_args()
    if args.ceiling:
        found = [ceiling(t, args.data_dir, args.ceiling, psm) for t in ("lambada", "babi")
                 for psm in (3, 7)]
        for r in found:
            print(json.dumps({k: round(v, 4) if isinstance(v, float) else v
                              for k, v in r.items()}))
        if args.json:
            Path(args.json).write_text(json.dumps(found, indent=1), encoding="utf-8")
        return
    from pixel_bench.registry import TASKS

    task = TASKS.get("lambada")
    rows, _ = task.load_split("test", args.data_dir, args.passages, {})
    results = [bench_model(m, rows, args.batch_size, recompute=m.startswith("pixar2024"))
               for m in args.models]
    keys = ["render_per100_s", "generate_per100_s", "generate_batch1_per100_s",
            "generate_recompute_per100_s", "ocr_tesseract_per100_s", "ocr_rapidocr_per100_s",
            "ceiling_tesseract_per100_s", "ceiling_rapidocr_per100_s"]
    print("| model | params | " + " | ".join(k.replace("_per100_s", "") for k in keys) + " |")
    print("|---|---:|" + "---:|" * len(keys))
    for r in results:
        print(f"| {r['model']} | {r['parameters'] / 1e6:.2f}M | "
              + " | ".join(f"{r[k]:.1f}" if k in r else "–" for k in keys) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
