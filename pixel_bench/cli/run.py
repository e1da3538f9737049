"""``pixel-bench run --model M --task T``: render -> fine-tune -> score -> result record."""

from __future__ import annotations

from typing import List, Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        model: str = typer.Option(..., "--model", "-m", help="Model name (pixel-bench ls models) "
                                  "or text:<hub-id-or-dir>."),
        task: str = typer.Option(..., "--task", "-t", help="Task name (pixel-bench ls tasks)."),
        data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Folder with the task's "
                                               "files (or the folder holding all datasets); "
                                               "default: the Hugging Face Hub."),
        checkpoint: Optional[str] = typer.Option(None, "--checkpoint", help="Weights directory "
                                                 "(or hub id) overriding the model's default."),
        from_scratch: bool = typer.Option(False, "--from-scratch", help="Random init instead "
                                          "of pretrained weights."),
        seeds: Optional[List[int]] = typer.Option(None, "--seeds", help="Seeds, e.g. --seeds 1 "
                                                  "--seeds 2 (or --seeds 1 2 3)."),
        seed: Optional[int] = typer.Option(None, "--seed", help="A single seed (default 42)."),
        max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Override the "
                                                "recipe's training steps."),
        limit: Optional[int] = typer.Option(None, "--limit", help="Use only the first N "
                                            "examples of each split."),
        results: Optional[str] = typer.Option(None, "--results", help="Results folder "
                                              "(default ./results or $PIXEL_BENCH_RESULTS)."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Redo cells that already have "
                                       "a record."),
        sets: Optional[List[str]] = typer.Option(None, "--set", help="Recipe override key=value "
                                                 "(repeatable), e.g. --set learning_rate=1e-4."),
        num_workers: int = typer.Option(1, "--num-workers", help="Rendering processes."),
        keep_checkpoints: bool = typer.Option(False, "--keep-checkpoints", help="Keep the "
                                              "Trainer checkpoints after the record is written."),
        save_generations: bool = typer.Option(False, "--save-generations", help="Generative "
                                              "tasks: write prompt/generation PNGs and a "
                                              "contact sheet into the cell folder."),
        extra: Optional[List[str]] = typer.Argument(None, hidden=True),
    ) -> None:
        """Fine-tune MODEL on TASK and write one result record per seed (cells with a record are
        skipped; an interrupted cell resumes from its last checkpoint)."""
        import os

        from ..errors import ConfigError
        from ..runner import parse_set, run as run_cells

        # `--seeds 1 2 3`: click hands the 2nd and later numbers over as stray arguments
        seed_list = list(seeds or [])
        for item in extra or []:
            if item.lstrip("-").isdigit() and seed_list:
                seed_list.append(int(item))
            else:
                raise ConfigError(f"unexpected argument {item!r}")
        if seed is not None:
            seed_list.append(seed)
        seed_list = list(dict.fromkeys(seed_list)) or [42]
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        overrides = parse_set(sets or [])
        if save_generations:
            overrides["save_generations"] = True
        outcomes = run_cells(model, task, seeds=seed_list, data_dir=data_dir,
                             checkpoint=checkpoint, from_scratch=from_scratch,
                             max_steps=max_steps, limit=limit, results=results,
                             overwrite=overwrite, overrides=overrides,
                             num_workers=num_workers, keep_checkpoints=keep_checkpoints)
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{model} on {task}")
        for col in ("seed", "status", "split", "metrics", "steps", "record"):
            table.add_column(col)
        for o in outcomes:
            if o.record is None:
                table.add_row(str(o.seed), "skipped (has a record; --overwrite redoes it)", "", "",
                              "", str(o.record_path))
                continue
            r = o.record
            for i, (split, m) in enumerate(r.metrics.items()):
                shown = ", ".join(f"{k} {v:.4f}" for k, v in m.items()
                                  if not k.startswith("strict_") or k == "strict_f1")
                table.add_row(str(o.seed) if i == 0 else "", o.status if i == 0 else "", split,
                              shown, str(r.train.get("steps")) if i == 0 else "",
                              str(o.record_path) if i == 0 else "")
        Console().print(table)
