"""How long ``pixel-bench report`` takes on a large results folder.

Writes N synthetic records (default 5,000: 50 models x 10 tasks x 10 seeds, MNLI with two splits,
XNLI with 15 language splits, NER with three metrics) into a temporary folder, then times each
stage (load, aggregate, render) per layout and format, best of 3 runs, plus one cold CLI process
(`pixel-bench report --layout leaderboard`, which includes the Python and pandas import).

    .venv/bin/python benchmarks/bench_report.py [--records 5000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pixel_bench.records import ResultRecord, write_record
from pixel_bench.report import build_table, get_layout, load_results, render
from pixel_bench.report.names import XNLI_LANGUAGES

TASKS = {  # task -> (main metric, splits -> metrics)
    "pos": ("accuracy", {"validation": ["accuracy"], "test": ["accuracy"]}),
    "ner": ("f1", {"validation": ["f1", "precision", "recall"]}),
    "sst2": ("accuracy", {"validation": ["accuracy"]}),
    "mnli": ("accuracy", {"validation_matched": ["accuracy"],
                          "validation_mismatched": ["accuracy"]}),
    "rte": ("accuracy", {"validation": ["accuracy"]}),
    "squad": ("f1", {"validation": ["f1", "exact_match"]}),
    "cola": ("matthews_correlation", {"validation": ["matthews_correlation"]}),
    "stsb": ("spearmanr", {"validation": ["pearson", "spearmanr"]}),
    "mrpc": ("f1", {"validation": ["f1", "accuracy"]}),
    "xnli": ("accuracy", {f"validation.{lang}": ["accuracy"] for lang in XNLI_LANGUAGES}),
}


def synthesize(root: Path, n_records: int, rng: random.Random) -> int:
    seeds = 10
    n_models = max(1, n_records // (len(TASKS) * seeds))
    written = 0
    for m in range(n_models):
        arch = ("encoder", "encoder-decoder")[m % 2]
        masking = ("none", "random", "span")[m % 3]
        for task, (main, splits) in TASKS.items():
            for seed in range(seeds):
                metrics = {s: {k: rng.uniform(0.4, 0.95) for k in ms} for s, ms in splits.items()}
                rec = ResultRecord(
                    model=f"pixar-{m:03d}", task=task, seed=seed, metrics=metrics,
                    main_metric=main, main_split=next(iter(splits)),
                    model_info={"family": "pixar", "attributes": {
                        "architecture": arch, "masking": masking, "input": "binary"}},
                    provenance={"pixel_bench_version": "0.1.0", "font_sha256": "ab" * 32,
                                "renderer": {"name": "pygame", "fingerprint": f"{task:0>8}" * 8},
                                "git_commit": "0" * 40, "libraries": {"torch": "2.13"}},
                    config={"lr": 3e-5, "batch_size": 256, "max_steps": 15000},
                    counts={"examples": 1000}, timings={"train": 100.0})
                write_record(rec, root)
                written += 1
    return written


def best_of(fn, repeat: int = 3) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--keep", type=Path, help="write the records here and keep them")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-report-"))
    try:
        t0 = time.perf_counter()
        n = synthesize(root, args.records, random.Random(0))
        print(f"wrote {n} records in {time.perf_counter() - t0:.1f} s to {root}")
        t_load, loaded = best_of(lambda: load_results(root))
        print(f"load_results: {t_load:.2f} s ({len(loaded.values)} tidy rows)")
        print("| layout | build_table (s) | markdown (s) | latex (s) | csv (s) | html (s) |")
        print("|---|---:|---:|---:|---:|---:|")
        for name in ("main", "ablation", "leaderboard", "xnli"):
            t_build, table = best_of(lambda: build_table(loaded, get_layout(name)))
            times = [best_of(lambda f=f: render(table, f))[0]
                     for f in ("markdown", "latex", "csv", "html")]
            print(f"| {name} | {t_build:.3f} | " + " | ".join(f"{t:.4f}" for t in times) + " |")
        exe = Path(sys.executable).with_name("pixel-bench")
        start = time.perf_counter()
        proc = subprocess.run([str(exe), "report", "--results", str(root), "--layout",
                               "leaderboard", "--format", "latex"], capture_output=True)
        print(f"cold CLI `pixel-bench report --layout leaderboard --format latex`: "
              f"{time.perf_counter() - start:.2f} s (exit {proc.returncode})")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
