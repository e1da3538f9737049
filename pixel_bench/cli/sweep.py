"""``pixel-bench sweep``: models x tasks x seeds as cells, run locally (N workers) or on Slurm.

    pixel-bench sweep -m pixel-tiny -m pixar-tiny -t pos -t rte --seeds 1,2,3 --workers 2
    pixel-bench sweep --spec table1.yaml --slurm            # one Slurm job array (submitit)
    pixel-bench sweep status --spec table1.yaml             # done / running / failed / pending
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

sweep_app = typer.Typer(help="Run a grid of cells (models x tasks x seeds x --grid) locally or "
                        "on Slurm; `sweep status` shows each cell.", no_args_is_help=False)

_SPEC = typer.Option(None, "--spec", "-f", help="Sweep file (YAML: name, models, tasks, seeds, "
                     "set, grid, limit, max_steps, data_dir, results, slurm); options given "
                     "here win over it.")
_NAME = typer.Option(None, "--name", help="Sweep name (logs in <results>/.sweeps/<name>/; "
                     "default: the sweep file's, else 'sweep').")


def _spec(spec: Optional[Path], name: Optional[str], models, tasks, seeds, sets, grid,
          limit, max_steps, data_dir, checkpoint, from_scratch, results, num_processes=None):
    from ..errors import ConfigError
    from ..sweep import load_spec, make_spec, read_manifest

    seed_list = []
    for item in seeds or []:  # --seeds 1,2,3 or --seeds 1 --seeds 2
        for part in str(item).split(","):
            try:
                seed_list.append(int(part))
            except ValueError:
                raise ConfigError(f"--seeds {item}: seeds are integers (--seeds 1,2,3)"
                                  ) from None
    file_values = load_spec(spec) if spec is not None else None
    if file_values is None and not models and not tasks and name:
        file_values = read_manifest(results, name)  # `sweep status --name X`
    if file_values is not None and name:
        file_values["name"] = name
    if file_values is not None and not file_values.get("name") and spec is not None:
        file_values["name"] = Path(spec).stem
    return make_spec(file_values, models=list(models or []), tasks=list(tasks or []),
                     seeds=seed_list, sets=list(sets or []), grid=list(grid or []),
                     limit=limit, max_steps=max_steps, data_dir=data_dir, checkpoint=checkpoint,
                     from_scratch=from_scratch or None, results=results,
                     name=name, num_processes=num_processes)


def _table(cells, title: str):
    from rich.table import Table

    table = Table(title=title)
    for col in ("cell", "state", "note"):
        table.add_column(col, overflow="fold")
    colour = {"done": "green", "running": "cyan", "failed": "red", "differs": "magenta",
              "pending": "yellow"}
    for c in cells:
        table.add_row(c.label, f"[{colour.get(c.state, 'white')}]{c.state}[/]", c.note)
    return table


def _counts(cells) -> str:
    from collections import Counter

    n = Counter(c.state for c in cells)
    return ", ".join(f"{n[s]} {s}" for s in ("done", "running", "failed", "pending", "differs")
                     if n[s])


@sweep_app.callback(invoke_without_command=True)
def sweep(
    ctx: typer.Context,
    spec: Optional[Path] = _SPEC,
    name: Optional[str] = _NAME,
    models: Optional[List[str]] = typer.Option(None, "--model", "-m", help="Model (repeatable)."),
    tasks: Optional[List[str]] = typer.Option(None, "--task", "-t", help="Task (repeatable)."),
    seeds: Optional[List[str]] = typer.Option(None, "--seeds", help="Seeds: --seeds 1,2,3 "
                                              "(or repeated)."),
    sets: Optional[List[str]] = typer.Option(None, "--set", help="Recipe override key=value "
                                             "for every cell (repeatable)."),
    grid: Optional[List[str]] = typer.Option(None, "--grid", help="Swept recipe key "
                                             "key=v1,v2 (repeatable; cross product; each point "
                                             "in its own results sub-folder)."),
    limit: Optional[int] = typer.Option(None, "--limit", help="First N examples per split."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Training steps."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Task data folder."),
    checkpoint: Optional[str] = typer.Option(None, "--checkpoint", help="Weights for every "
                                             "model."),
    from_scratch: bool = typer.Option(False, "--from-scratch", help="Random init."),
    results: Optional[str] = typer.Option(None, "--results", help="Results folder."),
    workers: int = typer.Option(1, "--workers", "-j", help="Local: cells at a time (one GPU "
                                "per process when GPUs are visible)."),
    num_processes: Optional[int] = typer.Option(None, "--num-processes", "-n", help="Processes "
                                                "per cell (`run --num-processes`, one GPU "
                                                "each).", show_default="1"),
    slurm: bool = typer.Option(False, "--slurm", help="Submit one Slurm job array (submitit) "
                               "instead of running here."),
    partition: Optional[str] = typer.Option(None, "--partition", help="Slurm partition."),
    timeout_min: Optional[int] = typer.Option(None, "--timeout-min", help="Slurm time limit "
                                              "per cell (a timed-out cell is requeued and "
                                              "resumes).", show_default="60"),
    cpus_per_task: Optional[int] = typer.Option(None, "--cpus-per-task", show_default="1",
                                                help="Slurm CPUs per cell."),
    gpus_per_task: Optional[int] = typer.Option(None, "--gpus-per-task", show_default="0",
                                                help="Slurm GPUs per cell."),
    array_parallelism: Optional[int] = typer.Option(None, "--array-parallelism",
                                                    help="Slurm: cells running at once."),
    wait: bool = typer.Option(False, "--wait", help="Slurm: wait for the jobs and show the "
                              "final status."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the cells and their state; "
                                 "run nothing."),
) -> None:
    """Run every cell of a sweep that is not done: an identical record is skipped, a cell that
    holds another experiment stops the sweep before anything starts; each cell is one
    `pixel-bench run` (logs in <results>/.sweeps/<name>/logs/)."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = dict(spec=spec, name=name, models=models, tasks=tasks, seeds=seeds, sets=sets,
                       grid=grid, limit=limit, max_steps=max_steps, data_dir=data_dir,
                       checkpoint=checkpoint, from_scratch=from_scratch, results=results)
        return
    from rich.console import Console

    from ..errors import ConfigError
    from ..sweep import plan, run_local, submit_slurm, wait_slurm, write_manifest

    if workers < 1:
        raise ConfigError(f"--workers {workers}: must be >= 1")
    slurm_opts = {k: v for k, v in dict(partition=partition, timeout_min=timeout_min,
                                        cpus_per_task=cpus_per_task,
                                        gpus_per_task=gpus_per_task,
                                        array_parallelism=array_parallelism).items()
                  if v is not None}
    s = _spec(spec, name, models, tasks, seeds, sets, grid, limit, max_steps, data_dir,
              checkpoint, from_scratch, results, num_processes)
    s.slurm.update(slurm_opts)
    console = Console()
    cells = plan(s)  # refuses (CellConflictError) before anything starts
    todo = [c for c in cells if c.state not in ("done", "running")]
    busy = [c for c in cells if c.state == "running"]
    console.print(f"sweep {s.name}: {len(cells)} cells ({_counts(cells)}); "
                  f"{len(todo)} to run", highlight=False)
    for c in busy:
        console.print(f"  {c.label}: being run by another process; left to it", highlight=False)
    if dry_run:
        console.print(_table(cells, f"sweep {s.name} (dry run)"))
        return
    if slurm:
        jobs = submit_slurm(s, todo)
        write_manifest(s, todo, jobs)
        if jobs:
            console.print(f"submitted {len(jobs)} cells as Slurm job array "
                          f"{str(jobs[0].job_id).split('_')[0]} (submitit folder "
                          f"{s.sweep_dir() / 'submitit'})", highlight=False)
        if wait:
            wait_slurm(jobs)
    else:
        write_manifest(s, todo)

        def said(cell, rc):
            state = "[green]done[/]" if rc == 0 else f"[red]failed (exit {rc})[/]"
            console.print(f"  {cell.label}: {state}")

        try:
            run_local(s, todo, workers=workers, on_done=said)
        except KeyboardInterrupt:
            Console(stderr=True).print(
                "interrupted: no further cell was started; run the same sweep command again "
                "(finished cells are skipped, interrupted ones resume from their checkpoints)",
                highlight=False)
            raise typer.Exit(130) from None
    if not slurm or wait:
        final = plan(s, refuse=False)
        console.print(_table(final, f"sweep {s.name}"))
        console.print(f"logs: {s.sweep_dir() / 'logs'}", soft_wrap=True, highlight=False)
        if any(c.state == "failed" for c in final):
            raise typer.Exit(1)


@sweep_app.command("status")
def status(
    ctx: typer.Context,
    spec: Optional[Path] = _SPEC,
    name: Optional[str] = _NAME,
    models: Optional[List[str]] = typer.Option(None, "--model", "-m"),
    tasks: Optional[List[str]] = typer.Option(None, "--task", "-t"),
    seeds: Optional[List[str]] = typer.Option(None, "--seeds"),
    sets: Optional[List[str]] = typer.Option(None, "--set"),
    grid: Optional[List[str]] = typer.Option(None, "--grid"),
    limit: Optional[int] = typer.Option(None, "--limit"),
    max_steps: Optional[int] = typer.Option(None, "--max-steps"),
    data_dir: Optional[str] = typer.Option(None, "--data-dir"),
    checkpoint: Optional[str] = typer.Option(None, "--checkpoint"),
    from_scratch: bool = typer.Option(False, "--from-scratch"),
    results: Optional[str] = typer.Option(None, "--results"),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per cell."),
) -> None:
    """Each cell's state: done (record of this sweep's experiment), running (its lock is
    held), failed (its log ends in an error and there is no record), pending, or differs (a
    record of another experiment). `--name X --results DIR` alone reads the sweep's saved
    spec."""
    import json

    from rich.console import Console

    from ..sweep import apply_queue, plan

    s = _spec(spec, name, models, tasks, seeds, sets, grid, limit, max_steps, data_dir,
              checkpoint, from_scratch, results)
    cells = plan(s, refuse=False)
    try:  # the Slurm job of each cell, where the sweep was submitted
        jobs = json.loads((s.sweep_dir() / "sweep.json").read_text(encoding="utf-8"))["jobs"]
    except (OSError, ValueError, KeyError, TypeError):
        jobs = {}
    for c in cells:
        if jobs.get(c.label) and c.state != "done":
            c.note = f"Slurm job {jobs[c.label]}" + (f"; {c.note}" if c.note else "")
    if jobs:
        apply_queue(cells, jobs)
    if as_json:
        for c in cells:
            typer.echo(json.dumps({"cell": c.label, "model": c.model, "task": c.task,
                                   "seed": c.seed, "point": c.point, "state": c.state,
                                   "note": c.note, "slurm_job": jobs.get(c.label),
                                   "record": str(c.path / "record.json")}))
        return
    console = Console()
    console.print(_table(cells, f"sweep {s.name}: {_counts(cells)}"))


def register(app: typer.Typer) -> None:
    app.add_typer(sweep_app, name="sweep")
