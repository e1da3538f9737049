"""Real-data fine-tuning smoke benchmark: tiny random-init pixel models on POS, NER, SST-2, RTE.

What it measures: that the whole loop (local data -> rendering -> fine-tuning -> scoring ->
record) runs on the real benchmark files, how long each stage takes on this machine, and what a
tiny model learns in a few hundred steps, next to the majority-class baseline of each task.
These are NOT the recipes' numbers: the recipes ask for 15k+ steps of a base-size pretrained
model (hours on a GPU); here tiny models start from random init with a larger learning rate, a
limited number of examples and steps, on 2 shared CPU cores.

Usage::

    .venv/bin/python benchmarks/bench_finetune.py --data-dir ../shared/data \
        --models pixel-tiny pixar-tiny --tasks pos ner sst2 rte --steps 300 --limit 2000

Records go to ``--results`` (default ``results/``) in the usual layout; a markdown table is
printed at the end (and written to ``--table``).
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def majority_baseline(task, data_dir: str, limit: int | None) -> dict[str, float]:
    """Predict the most frequent training label everywhere (per word for tagging tasks; for
    parsing, neighbour attachment with the most frequent relation)."""
    from pixel_bench.modeling.adapter import TaskKind

    train, _ = task.load_split(task.train_split, data_dir, limit)
    dev, _ = task.load_split(task.main_split, data_dir, limit)
    if task.kind == TaskKind.DEPENDENCY_PARSING:
        # no majority class for heads: attach every word to its left neighbour (first word ->
        # root) or to its right neighbour (last word -> root), whichever direction fits the
        # training data better, with the most frequent training relation
        from pixel_bench.tasktypes.parsing import attachment_scores

        def heads(rows, right):
            return [(i + 2 if i + 1 < len(r["words"]) else 0) if right else i
                    for r in rows for i in range(len(r["words"]))]

        def score(rows, right, rel):
            gold_rels = [task.labels.index(d) for r in rows for d in r["deprels"]]
            guess = heads(rows, right)
            return attachment_scores(guess, [rel] * len(guess),
                                     [h for r in rows for h in r["heads"]], gold_rels)

        top = collections.Counter(d for r in train for d in r["deprels"]).most_common(1)[0][0]
        rel = task.labels.index(top)
        right = score(train, True, rel)["uas"] > score(train, False, rel)["uas"]
        return score(dev, right, rel)
    if task.kind == TaskKind.TOKEN_CLASSIFICATION:
        top = collections.Counter(t for r in train for t in r["labels"]).most_common(1)[0][0]
        return task.metric([[top] * len(r["labels"]) for r in dev], [r["labels"] for r in dev])
    top = collections.Counter(r["label"] for r in train).most_common(1)[0][0]
    return task.metric([top] * len(dev), [r["label"] for r in dev])


def time_budget_callback(minutes: float):
    """A TrainerCallback that ends training once `minutes` of training time are spent.

    The stopping step is evaluated and saved, so the best-checkpoint restore sees it too.
    The LR schedule still follows --steps: pick --steps near what fits in the budget.
    """
    from transformers import TrainerCallback

    class TimeBudget(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.t0 = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if time.perf_counter() - self.t0 > 60 * minutes:
                control.should_training_stop = True
                control.should_evaluate = True
                control.should_save = True
            return control

    return TimeBudget()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--models", nargs="+", default=["pixel-tiny", "pixar-tiny"])
    ap.add_argument("--tasks", nargs="+", default=["pos", "ner", "sst2", "rte"])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--limit", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--results", default="results")
    ap.add_argument("--table", default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--evals", type=int, default=3, help="evaluations during training")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra recipe override (repeatable), e.g. --set max_seq_length=128")
    ap.add_argument("--minutes", type=float, default=None,
                    help="training time budget per run: stop (after a last evaluation and "
                         "save) once it is spent, even before --steps")
    ap.add_argument("--checkpoint", default=None,
                    help="start from these weights (e.g. a `pixel-bench pretrain` output) "
                         "instead of a random initialisation")
    args = ap.parse_args()
    limit = args.limit or None  # 0 = every example of every split

    import torch

    torch.set_num_threads(args.threads)
    from pixel_bench.registry import TASKS
    from pixel_bench.recipe import parse_set
    from pixel_bench.runner import run

    extra = parse_set(args.set)

    rows = []
    for task_name in args.tasks:
        task = TASKS.get(task_name)
        base = majority_baseline(task, args.data_dir, limit)
        for model in args.models:
            t0 = time.perf_counter()
            out = run(model, task_name, seeds=[args.seed], data_dir=args.data_dir,
                      checkpoint=args.checkpoint, from_scratch=args.checkpoint is None,
                      max_steps=args.steps, limit=limit,
                      results=args.results, overwrite=True,
                      callbacks=[time_budget_callback(args.minutes)] if args.minutes else None,
                      overrides={"learning_rate": args.lr, "per_device_train_batch_size": args.batch,
                                 "gradient_accumulation_steps": 1, "eval_steps": max(1, args.steps // args.evals),
                                 "warmup_steps": max(1, args.steps // 10),
                                 "per_device_eval_batch_size": 64, **extra})[0]
            wall = time.perf_counter() - t0
            rec = out.record
            score = rec.main_score()
            rows.append((task_name, model, task.main_metric, score, base[task.main_metric],
                         rec.train["steps"], rec.train["best_step"], rec.config["renderer"],
                         rec.timings.get("render_s", 0), rec.timings.get("train_s", 0), wall,
                         rec.counts.get("train_examples"),
                         rec.counts.get(f"{task.main_split}.examples")))
            print(f"{task_name:5s} {model:12s} {task.main_metric} {score:.4f} "
                  f"(majority {base[task.main_metric]:.4f}) steps {rec.train['steps']} "
                  f"wall {wall:.0f}s", flush=True)
    lines = ["| task | model | metric | dev score | majority | steps (best) | renderer | "
             "render s | train s | wall s | train / dev examples |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for (t, m, met, s, b, st, best, r, rs, ts, w, ntr, ndev) in rows:
        lines.append(f"| {t} | {m} | {met} | {100 * s:.1f} | {100 * b:.1f} | {st} ({best}) | "
                     f"{r} | {rs:.1f} | {ts:.0f} | {w:.0f} | {ntr} / {ndev} |")
    table = "\n".join(lines)
    print(table)
    if args.table:
        with open(args.table, "a") as fh:  # appended: several invocations build one table
            fh.write("\n".join(lines[2:]) + "\n")


if __name__ == "__main__":
    main()
