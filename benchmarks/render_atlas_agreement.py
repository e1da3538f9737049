"""Glyph-atlas fast path vs the Pango path of the binary renderer, on real text.

    .venv/bin/python benchmarks/render_atlas_agreement.py --n 5000 [--layout pixar2024]

Renders Wikipedia sentences (``shared/data/wikipedia_en_sample``, paragraphs split at sentence
ends, 10-400 characters) with ``BinaryTextRenderer`` twice: through Pango (the default) and with
``fast_glyph_atlas=True``. For the sentences the atlas accepts, it reports how often the raw grey
images, the binary strips and the EOS positions are identical, and the throughput of both paths
(cold = first pass, atlas caches filling; warm = second pass). It prints a Markdown section
(append it to BENCHMARKS.md). Single-threaded.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pixel_bench.paths import shared_dir  # noqa: E402

SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def wikipedia_sentences(n: int) -> list[str]:
    shared = shared_dir()
    if shared is None:
        sys.exit("shared/ not found (set PIXEL_BENCH_SHARED)")
    out: list[str] = []
    for path in sorted((shared / "data/wikipedia_en_sample/text/AA").glob("wiki_*.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line or line.startswith("<"):
                    continue
                out += [s for s in SENTENCE_END.split(line) if 10 <= len(s) <= 400]
                if len(out) >= n:
                    return out[:n]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--layout", default="pixar2024", choices=["pixar2024", "thesis"])
    args = ap.parse_args()

    from pixel_bench.render.binary import BinaryTextRenderer, binary_layout

    config = binary_layout(args.layout)
    pango = BinaryTextRenderer(config)
    fast = BinaryTextRenderer(config, fast_glyph_atlas=True)
    texts = wikipedia_sentences(args.n)
    accepted = [t for t in texts if fast.atlas.supports(t.replace("\n", " "))]

    def timed(renderer, batch, repeat=1):
        best, encs = float("inf"), []
        for _ in range(repeat):  # best of `repeat`: the machine is shared
            t0 = time.perf_counter()
            encs = [renderer(t) for t in batch]
            best = min(best, time.perf_counter() - t0)
        return encs, best

    cold, t_cold = timed(fast, accepted)
    ref, t_pango = timed(pango, accepted, repeat=3)
    _, t_warm = timed(fast, accepted, repeat=3)
    same_px = sum(np.array_equal(a.pixel_values, b.pixel_values) for a, b in zip(ref, cold))
    same_bin = sum(np.array_equal(a.extras["binary"], b.extras["binary"]) for a, b in zip(ref, cold))
    same_eos = sum(a.sep_patches == b.sep_patches and a.truncated == b.truncated
                   for a, b in zip(ref, cold))
    n = len(accepted)
    kern = fast.atlas._kern
    print(f"## Binary renderer: glyph-atlas fast path vs Pango ({args.layout}, Pixeloid Sans)\n")
    print(f"`.venv/bin/python benchmarks/render_atlas_agreement.py --n {args.n} "
          f"--layout {args.layout}` (load average {os.getloadavg()[0]:.2f}, single thread)\n")
    print("| quantity | value |\n|---|---|")
    print(f"| Wikipedia sentences (10-400 chars, mean {np.mean([len(t) for t in texts]):.0f}) "
          f"| {len(texts)} |")
    print(f"| accepted by the atlas (all characters in the font, no marks/RTL/controls) "
          f"| {n} ({100 * n / max(len(texts), 1):.1f}%) |")
    print(f"| identical grey images | {same_px}/{n} |")
    print(f"| identical binary strips | {same_bin}/{n} |")
    print(f"| identical EOS position and truncated flag | {same_eos}/{n} |")
    print(f"| Pango path (best of 3) | {n / t_pango:,.0f} sentences/s |")
    print(f"| atlas, cold (caches filling) | {n / t_cold:,.0f} sentences/s |")
    print(f"| atlas, warm (best of 3) | {n / t_warm:,.0f} sentences/s |")
    print(f"| cached glyphs / kerning pairs measured (non-zero) | {len(fast.atlas._advance)} / "
          f"{len(kern)} ({sum(1 for v in kern.values() if v)}) |")


if __name__ == "__main__":
    main()
