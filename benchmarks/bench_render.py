"""Rendering throughput on real text: one process, a 2-worker cache fill, and cached reads.

    .venv/bin/python benchmarks/bench_render.py --n 3000 [--renderers pangocairo pygame binary]

For every renderer (default settings, see ``pixel_bench.render.defaults``) it measures, on
Wikipedia sentences of ~130 characters from ``shared/data/wikipedia_en_sample``:

* ``direct``: ``renderer(text)`` in a loop, one process;
* ``fill 1w`` / ``fill 2w``: ``RenderCache.get_or_render`` on a miss with 1 and 2 workers
  (rendering + writing the memory-mapped entry). On a shared machine the wall-clock ratio
  depends on what else runs, so the CPU seconds of each fill (parent + workers) are recorded
  too: ``w * cpu(1 worker) / cpu(w workers)`` is the speed-up ``w`` free cores would give;
* ``read``: a cache hit (open) followed by ``split[i]`` for every example (an Encoding with its
  image restored from the memory-mapped crop), and ``batch``: ``split.pixel_values[a:a+32]`` plus
  the attention-mask rows (what a collator does);

and checks that every path gives identical examples (sha1 over pixels and metadata). It prints a
Markdown table (append it to BENCHMARKS.md). The machine is shared: the load average is printed.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pixel_bench.paths import shared_dir  # noqa: E402

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")


def wikipedia_sentences(n: int, min_len: int = 100, max_len: int = 160) -> list[str]:
    """The first ``n`` body sentences of ``min_len..max_len`` characters (mean ~130)."""
    shared = shared_dir()
    if shared is None:
        sys.exit("shared/ folder not found (set PIXEL_BENCH_SHARED)")
    files = sorted((shared / "data/wikipedia_en_sample/text/AA").glob("wiki_*.gz"))
    out: list[str] = []
    for path in files:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            title_next = False
            for line in fh:
                line = line.strip()
                if line.startswith("<doc"):
                    title_next = True
                    continue
                if title_next or not line or line.startswith("</doc"):
                    title_next = False
                    continue
                for sent in SENTENCE_END.split(line):
                    if min_len <= len(sent) <= max_len:
                        out.append(sent)
                        if len(out) == n:
                            return out
    return out


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def parallel_headroom(workers: int = 2, n: int = 3_000_000) -> float:
    """Speed-up of ``workers`` processes over one on a trivially parallel loop: the ceiling
    any worker pool can reach on this machine right now (the machine is shared)."""
    import multiprocessing

    t0 = time.perf_counter()
    for _ in range(workers):
        _spin(n)
    serial = time.perf_counter() - t0
    with multiprocessing.get_context().Pool(workers) as pool:
        t0 = time.perf_counter()
        pool.map(_spin, [n] * workers)
        parallel = time.perf_counter() - t0
    return serial / parallel


def _cpu() -> float:
    """CPU seconds used so far by this process and its finished children."""
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def example_digest(enc) -> str:
    h = hashlib.sha1(np.ascontiguousarray(enc.pixel_values).tobytes())
    h.update(repr((int(enc.num_text_patches), [int(s) for s in enc.sep_patches],
                   bool(enc.truncated), int(enc.unknown_glyphs))).encode())
    if enc.attention_mask is not None:
        h.update(np.asarray(enc.attention_mask, dtype=np.float32).tobytes())
    return h.hexdigest()


def bench_renderer(name: str, texts: list[str], workers: int) -> dict:
    from pixel_bench.cache import RenderCache
    from pixel_bench.registry import RENDERERS
    from pixel_bench.render.defaults import default_config

    config = default_config(name)
    renderer = RENDERERS.get(name)(config)
    for t in texts[:20]:  # warm-up: font loading, glyph caches
        renderer(t)
    n = len(texts)
    res: dict = {"renderer": name, "n": n}

    t0 = time.perf_counter()
    digests = [example_digest(renderer(t)) for t in texts]
    res["direct"] = n / (time.perf_counter() - t0)
    # the digest costs a little; time the bare loop too
    t0 = time.perf_counter()
    for t in texts:
        renderer(t)
    res["direct_bare"] = n / (time.perf_counter() - t0)

    same = True
    for w in (1, workers):
        with tempfile.TemporaryDirectory(prefix="bench-cache-") as root:
            cache = RenderCache(root)
            cpu0 = _cpu()
            t0 = time.perf_counter()
            split = cache.get_or_render(name, config, texts, num_workers=w)
            res[f"fill_{w}w"] = n / (time.perf_counter() - t0)
            res[f"cpu_{w}w"] = _cpu() - cpu0  # parent + workers, CPU seconds
            res[f"render_{w}w"] = split.manifest["timings"]["examples_per_s"]
            same &= [example_digest(split[i]) for i in range(n)] == digests
            if w == 1:
                t0 = time.perf_counter()
                hit = cache.get_or_render(name, config, texts)
                for i in range(n):
                    hit[i]
                res["read"] = n / (time.perf_counter() - t0)
                t0 = time.perf_counter()
                for start in range(0, n, 32):  # what a collator does: images + masks
                    hit.pixel_values[start:start + 32]
                    np.array(hit.attention_mask[start:start + 32])
                res["batch"] = n / (time.perf_counter() - t0)
                # the stored crops themselves (what a collator that pads per batch would copy):
                # no full-canvas rebuild, so not bound by filling ~135-400 kB of background
                t0 = time.perf_counter()
                for i in range(n):
                    np.array(hit.pixel_values.crop(i))
                    np.array(hit.attention_mask[i])
                res["crop"] = n / (time.perf_counter() - t0)
                assert hit.from_cache
                del hit
            del split
    res["identical"] = same
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=3000, help="sentences for pygame")
    parser.add_argument("--n-fast", type=int, default=10000,
                        help="sentences for pangocairo and binary (~15x faster than pygame)")
    parser.add_argument("--renderers", nargs="+", default=["pangocairo", "pygame", "binary"])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    all_texts = wikipedia_sentences(max(args.n, args.n_fast))
    mean_len = sum(map(len, all_texts)) / len(all_texts)
    load_before = os.getloadavg()
    headroom_before = parallel_headroom(args.workers)
    rows = []
    for name in args.renderers:
        try:
            n = args.n if name == "pygame" else args.n_fast
            rows.append(bench_renderer(name, all_texts[:n], args.workers))
        except Exception as exc:  # noqa: BLE001 - report and go on with the next renderer
            print(f"{name}: skipped ({type(exc).__name__}: {exc})", file=sys.stderr)
            continue
        r = rows[-1]
        print(f"{name}: direct {r['direct_bare']:.0f}/s, fill 1w {r['fill_1w']:.0f}/s, "
              f"fill {args.workers}w {r[f'fill_{args.workers}w']:.0f}/s, read "
              f"{r['read']:.0f}/s, identical={r['identical']}", file=sys.stderr, flush=True)
    load_after = os.getloadavg()
    headroom_after = parallel_headroom(args.workers)
    w = args.workers
    print(f"\nWikipedia sentences (100-160 chars, mean {mean_len:.0f}); {os.cpu_count()} CPUs; "
          f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min); "
          f"{w} processes of a pure-Python loop ran {headroom_before:.2f}x / "
          f"{headroom_after:.2f}x faster than one (before / after): the ceiling for "
          f"{w} workers right now\n")
    print(f"| renderer | n | direct, 1 process (/s) | cache fill, 1 worker (/s) | cache fill, {w} "
          f"workers (/s) | {w}w / 1w (wall) | {w}w / 1w if {w} cores were free (CPU) | "
          "cached read split[i] (/s) | cached batch read (/s) | batch read / direct | "
          "cached crops read (/s) | crops / direct | identical |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['renderer']} | {r['n']} | {r['direct_bare']:,.0f} | {r['fill_1w']:,.0f} | "
              f"{r[f'fill_{w}w']:,.0f} | {r[f'fill_{w}w'] / r['fill_1w']:.2f}x | "
              f"{w * r['cpu_1w'] / r[f'cpu_{w}w']:.2f}x | "
              f"{r['read']:,.0f} | {r['batch']:,.0f} | "
              f"{r['batch'] / r['direct_bare']:.0f}x | {r['crop']:,.0f} | "
              f"{r['crop'] / r['direct_bare']:.0f}x | {'yes' if r['identical'] else 'NO'} |")


if __name__ == "__main__":
    main()
