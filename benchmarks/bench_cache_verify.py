"""What the render cache's integrity checks cost on real GLUE splits.

    .venv/bin/python benchmarks/bench_cache_verify.py [--splits SST-2/train RTE/train] [--limit N]

For each split (rendered with PIXEL's PyGame GLUE settings, as ``pixel-bench run`` does) it
fills a fresh cache entry and reports: entry size, rendering time, the time to checksum and
fsync every file when the entry is written (``seal``), and opening the entry as a cache hit
with size checks only (``PIXEL_BENCH_CACHE_VERIFY=size``) and with the full sha256 check (the
default; done once per process, from the page cache here). The machine is shared: the load
average is printed.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pixel_bench.paths import shared_dir  # noqa: E402


def read_split(name: str, limit: int | None) -> list:
    task, split = name.split("/")
    path = shared_dir() / "data" / "glue" / task / f"{split}.tsv.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = list(csv.DictReader(io.StringIO(fh.read()), delimiter="\t",
                                   quoting=csv.QUOTE_NONE))
    if "sentence1" in rows[0]:
        inputs = [(r["sentence1"], r["sentence2"]) for r in rows]
    else:
        inputs = [r["sentence"] for r in rows]
    return inputs[:limit] if limit else inputs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--splits", nargs="+", default=["SST-2/train", "RTE/train"])
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()
    import pixel_bench.cache as cache_mod
    from pixel_bench.render.defaults import default_config

    config = default_config("pygame")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("| split | examples | entry size | render | seal (sha256 + fsync) | hit, sizes only "
          "| hit, full sha256 | full check rate |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.splits:
        inputs = read_split(name, args.limit)
        with tempfile.TemporaryDirectory() as tmp:
            cache = cache_mod.RenderCache(Path(tmp) / "rendered")
            split = cache.get_or_render("pygame", config, inputs)
            t = split.manifest["timings"]
            size = split.manifest["stored_bytes"]
            os.environ[cache_mod.VERIFY_ENV] = "size"
            t0 = time.perf_counter()
            cache.get_or_render("pygame", config, inputs)
            size_only = time.perf_counter() - t0
            os.environ[cache_mod.VERIFY_ENV] = "full"
            cache_mod._VERIFIED.clear()  # as a new process would
            t0 = time.perf_counter()
            cache.get_or_render("pygame", config, inputs)
            full = time.perf_counter() - t0
            print(f"| {name} | {len(inputs):,} | {size / 2**20:.1f} MiB | {t['render_s']:.1f} s "
                  f"| {t['seal_s']:.2f} s | {size_only * 1e3:.0f} ms | {full * 1e3:.0f} ms | "
                  f"{size / 2**20 / max(full - size_only, 1e-9):.0f} MiB/s |", flush=True)


if __name__ == "__main__":
    main()
