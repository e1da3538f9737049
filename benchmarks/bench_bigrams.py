"""Rendering speed: the bigrams renderer against PIXEL's continuous PangoCairo renderer.

    .venv/bin/python benchmarks/bench_bigrams.py --treebanks en_ewt ko_gsd zh_gsd \
        --n 300 --passes 5 [--fallback-fonts-dir DIR]

Word mode (what POS, NER and parsing render) on the first ``--n`` dev sentences of each UD
treebank, both renderers at PIXEL's settings (Noto Sans 8 pt, 120 dpi, 529 x 16 px patches).
The passes are **interleaved** (continuous, bigrams, continuous, bigrams, ...) in one process, so
load changes on the shared machine hit both alike; the table gives the median over passes of
milliseconds per sentence and the ratio. The bigrams renderer lays out every character on its
own (measured once per character and cached, drawn once per occurrence), the continuous one
lays out each word once. Also printed: mean patches per sentence (text patches before EOS).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--treebanks", nargs="+", default=["en_ewt", "ko_gsd", "zh_gsd"])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--fallback-fonts-dir", default=None)
    args = ap.parse_args()

    from pixel_bench.registry import TASKS
    from pixel_bench.render.bigrams import BigramsTextRenderer
    from pixel_bench.render.defaults import default_config
    from pixel_bench.render.pangocairo import PangoCairoTextRenderer

    import pixel_bench.registry  # noqa: F401  (loads the task plug-ins)

    cont = PangoCairoTextRenderer(default_config("pangocairo",
                                                 fallback_fonts_dir=args.fallback_fonts_dir))
    big = BigramsTextRenderer(default_config("pangocairo-bigrams",
                                             fallback_fonts_dir=args.fallback_fonts_dir))
    for r in (cont, big):
        r._warned_unknown = True
    print(f"load average {os.getloadavg()}; {args.passes} interleaved passes; median ms/sentence")
    print("| treebank | sentences | continuous ms | bigrams ms | bigrams / continuous | "
          "patches (cont.) | patches (bigrams) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for code in args.treebanks:
        rows, _ = TASKS.get(f"pos-{code}").load_split("validation", args.data_dir, args.n)
        sentences = [list(r["words"]) for r in rows]
        times: dict[str, list[float]] = {"cont": [], "big": []}
        patches: dict[str, float] = {}
        for _ in range(args.passes):
            for key, renderer in (("cont", cont), ("big", big)):
                t0 = time.perf_counter()
                encs = [renderer(words) for words in sentences]
                times[key].append((time.perf_counter() - t0) * 1000 / len(sentences))
                patches[key] = statistics.mean(e.num_text_patches for e in encs)
        c, b = statistics.median(times["cont"]), statistics.median(times["big"])
        print(f"| {code} | {len(sentences)} | {c:.2f} | {b:.2f} | {b / c:.2f} | "
              f"{patches['cont']:.1f} | {patches['big']:.1f} |")


if __name__ == "__main__":
    main()
