"""``pixel-bench run --model M --task T``: render -> fine-tune -> score -> result record."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import List, Optional

import typer
from typer.core import TyperCommand


class SingleValueOptions(TyperCommand):
    """Refuses a single-value option given twice (``--task pos --task ner``), which click would
    otherwise settle silently by keeping the last one."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        single = {}
        for param in self.params:
            if param.param_type_name == "option" and not getattr(param, "multiple", False) \
                    and not getattr(param, "is_flag", False) and not getattr(param, "count", 0):
                for opt in param.opts + param.secondary_opts:
                    single[opt] = param
        given: dict[str, list[str]] = {}
        i = 0
        while i < len(args) and args[i] != "--":
            name, eq, value = args[i].partition("=")
            if name in single:
                if not eq:
                    value = args[i + 1] if i + 1 < len(args) else ""
                    i += 1
                given.setdefault(max(single[name].opts, key=len), []).append(value)
            i += 1
        for opt, values in given.items():
            if len(values) > 1:
                raise typer.BadParameter(
                    f"given {len(values)} times ({', '.join(values)}); give it once (one model "
                    "and one task per run: loop in the shell for more)", ctx=ctx,
                    param_hint=f"'{opt}'")
        return super().parse_args(ctx, args)


def check_results_dir(results: str | None) -> None:
    """``--results`` must be (or become) a folder: not empty, not a file, nor below one."""
    from ..errors import ConfigError

    if results is None:
        return
    if not results.strip():  # Path("") is the current folder: cells would land among its files
        raise ConfigError("--results '': empty folder name; give a results folder, or leave "
                          "--results out for ./results (or $PIXEL_BENCH_RESULTS)")
    path = Path(results).expanduser()
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                raise ConfigError(f"--results {results}: {p} is a file, not a folder; give a "
                                  "results folder (created if missing)")
            return


def resume_hint(exc: object) -> str:
    """What to tell the user after Ctrl-C: the cell, its checkpoint and the command."""
    command = "pixel-bench " + shlex.join(sys.argv[1:])
    cell = getattr(exc, "cell", None)
    if cell is None:
        return f"interrupted; nothing was lost: run the same command again\n  {command}"
    ckpt, step = getattr(exc, "checkpoint", None), getattr(exc, "step", None)
    where = (f"it resumes from step {step} ({ckpt})" if ckpt is not None else
             "no checkpoint was written yet, so it starts again")
    return (f"interrupted: cell {cell} has no record yet and can be resumed; {where} when you "
            f"run the same command again:\n  {command}")


def relaunch(n: int, model: str, task: str, seeds: list[int], data_dir, checkpoint,
             from_scratch: bool, max_steps, limit, results, overwrite: bool, wait: bool,
             sets: list[str], num_workers: int, keep_checkpoints: bool, overrides: dict,
             save_generations: bool = False) -> int:
    """``run`` again as N torchrun processes (rank 0 owns the cells and writes the records);
    returns their exit status. The global batch is checked here, before anything starts."""
    import os
    import subprocess

    from ..errors import ConfigError
    from ..spec import resolve_spec

    over = dict(overrides)
    if max_steps is not None:
        over["max_steps"] = int(max_steps)
    recipe = resolve_spec(model, task, None, checkpoint, from_scratch, limit, over).recipe
    batch = int(recipe.get("per_device_train_batch_size") or 8)
    if batch % n:
        raise ConfigError(f"--num-processes {n}: the batch {batch} (per_device_train_batch_size "
                          f"of the recipe, kept as the global batch) is not divisible by {n}; "
                          f"pass --set per_device_train_batch_size=<a multiple of {n}>")
    argv = ["run", "--model", model, "--task", task, "--num-workers", str(num_workers)]
    for s in seeds:
        argv += ["--seeds", str(s)]
    for flag, value in (("--data-dir", data_dir), ("--checkpoint", checkpoint),
                        ("--max-steps", max_steps), ("--limit", limit), ("--results", results)):
        if value is not None:
            argv += [flag, str(value)]
    for flag, on in (("--from-scratch", from_scratch), ("--overwrite", overwrite),
                     ("--wait", wait), ("--keep-checkpoints", keep_checkpoints),
                     ("--save-generations", save_generations)):
        if on:
            argv.append(flag)
    for item in sets:
        argv += ["--set", item]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
           str(n), "-m", "pixel_bench.cli.app", *argv]
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // n)))
    return subprocess.call(cmd, env=env)


def register(app: typer.Typer) -> None:
    @app.command("run", cls=SingleValueOptions)
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
        max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Override "
                                                "the recipe's training steps; 0 = evaluate "
                                                "only (no training)."),
        limit: Optional[int] = typer.Option(None, "--limit", help="Use only the first "
                                            "N examples of each split."),
        results: Optional[str] = typer.Option(None, "--results", help="Results folder "
                                              "(default ./results or $PIXEL_BENCH_RESULTS)."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Redo cells that already have "
                                       "a record, also of a different experiment (which is "
                                       "otherwise refused)."),
        wait: bool = typer.Option(False, "--wait", help="If another run is working on a cell, "
                                  "wait for it instead of stopping."),
        sets: Optional[List[str]] = typer.Option(None, "--set", help="Recipe override key=value "
                                                 "(repeatable), e.g. --set learning_rate=1e-4."),
        num_workers: int = typer.Option(1, "--num-workers", help="Rendering processes."),
        keep_checkpoints: bool = typer.Option(False, "--keep-checkpoints", help="Keep the "
                                              "Trainer checkpoints after the record is written."),
        save_generations: bool = typer.Option(False, "--save-generations", help="Generative "
                                              "tasks: write prompt/generation PNGs and a "
                                              "contact sheet into the cell folder."),
        num_processes: int = typer.Option(1, "--num-processes", "-n", help="Data-parallel "
                                          "processes (torchrun; one GPU each where there are "
                                          "GPUs). The recipe's batch stays the global batch: "
                                          "each process takes batch / N."),
        extra: Optional[List[str]] = typer.Argument(None, hidden=True),
    ) -> None:
        """Fine-tune MODEL on TASK and write one result record per seed (a cell with an identical
        record is skipped, one with a different experiment's record refused; an interrupted cell
        resumes from its last complete checkpoint; --max-steps 0 only evaluates)."""
        import os

        from ..errors import ConfigError
        from ..quiet import hide_shard_bar
        from ..recipe import parse_set
        from ..runner import run as run_cells

        hide_shard_bar()  # here, not for every command: it imports transformers

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
        for option, value, least in (("--limit", limit, 1), ("--max-steps", max_steps, 0),
                                     ("--num-workers", num_workers, 1)):
            if value is not None and value < least:
                raise ConfigError(f"{option} {value}: must be >= {least}"
                                  + (" (0 = evaluate only, no training)"
                                     if option == "--max-steps" else ""))
        overrides = parse_set(sets or [])
        if (max_steps is not None and "max_steps" in overrides
                and overrides["max_steps"] != max_steps):  # --max-steps would win silently
            raise ConfigError(f"--max-steps {max_steps} and --set max_steps="
                              f"{overrides['max_steps']} disagree; give only one of them")
        check_results_dir(results)
        if num_processes < 1:
            raise ConfigError(f"--num-processes {num_processes}: must be >= 1")
        if num_processes > 1 and "RANK" not in os.environ:
            rc = relaunch(num_processes, model, task, seed_list, data_dir, checkpoint,
                          from_scratch, max_steps, limit, results, overwrite, wait, sets or [],
                          num_workers, keep_checkpoints, overrides, save_generations)
            raise typer.Exit(rc)
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        try:
            outcomes = run_cells(model, task, seeds=seed_list, data_dir=data_dir,
                                 checkpoint=checkpoint, from_scratch=from_scratch,
                                 max_steps=max_steps, limit=limit, results=results,
                                 overwrite=overwrite, overrides=overrides,
                                 num_workers=num_workers, keep_checkpoints=keep_checkpoints,
                                 wait=wait, save_generations=save_generations)
        except KeyboardInterrupt as exc:
            from rich.console import Console

            Console(stderr=True).print(resume_hint(exc), highlight=False, markup=False,
                                       soft_wrap=True)  # keep the command copyable
            raise typer.Exit(130) from None
        if int(os.environ.get("RANK", "0")) != 0:  # torchrun: rank 0 reports
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{model} on {task}")
        for col in ("seed", "status", "split", "metrics", "steps", "record"):
            table.add_column(col)
        for o in outcomes:
            if o.record is None:
                table.add_row(str(o.seed), o.status, "", "", "", str(o.record_path))
                continue
            r = o.record
            for i, (split, m) in enumerate(r.metrics.items()):
                shown = ", ".join(f"{k} {v:.4f}" for k, v in m.items()
                                  if not k.startswith("strict_") or k == "strict_f1")
                steps = ("0 (evaluate only)" if r.train.get("evaluate_only")
                         else str(r.train.get("steps")))
                if split == r.config.get("model_selection_split"):
                    split += " (selection)"
                table.add_row(str(o.seed) if i == 0 else "", o.status if i == 0 else "", split,
                              shown, steps if i == 0 else "",
                              str(o.record_path) if i == 0 else "")
        console = Console()
        console.print(table)
        for o in outcomes:  # in full (the table cuts long paths), unwrapped so it can be copied
            console.print(f"record: {o.record_path}", soft_wrap=True, highlight=False)
            if o.note:  # why skipped, what --overwrite replaced, a corrupt record set aside
                console.print(f"seed {o.seed}: {o.note}", highlight=False, markup=False,
                              soft_wrap=True)
