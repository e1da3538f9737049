"""``pixel-bench pretrain``: pretrain PIXAR (thesis variants), PIXEL (MAE) or PIXAR-2024.

    pixel-bench pretrain --model pixar-tiny --data corpus.txt.gz --max-steps 300 -o runs/pixar
    pixel-bench pretrain --model pixar --data wiki/ --num-processes 2 --zero-stage 2 -o runs/p
    pixel-bench pretrain --model pixar-tiny --data wiki/ --engine torch --num-processes 2 -o r
    pixel-bench pretrain ... --resume auto        # continue exactly where a killed run stopped
    pixel-bench pretrain ... --nnodes 2 --num-processes 4 --rdzv-endpoint node01:29500  # each node
    srun --nodes 2 --ntasks-per-node 1 pixel-bench pretrain ... --num-processes 4  # SLURM_* read

Everything is validated (corpus, DeepSpeed config, precision vs device, checkpoints) before any
process starts; N processes are launched with torchrun (or the DeepSpeed launcher).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Optional

import typer

HELP = "Pretrain a pixel language model (DeepSpeed ZeRO or plain torch, N processes)."


def options() -> list[inspect.Parameter]:
    """One ``typer.Option`` per PretrainArgs field (``--config`` after ``--output-dir``).

    Every option defaults to None ("not given", so values from ``--config`` survive); the
    default ``--help`` shows is the dataclass's (a "[default: x]" inside a help text would be
    eaten as Rich markup)."""
    from ..train.pretrain_args import cli_settings, field_type, shown_default

    params = []
    for f, hint in cli_settings():
        meta = f.metadata
        base, _optional = field_type(hint)
        if meta.get("path"):
            base = Path
        flag = "--" + f.name.replace("_", "-")
        decls = [f"{flag}/--no-{flag[2:]}"] if base is bool else [flag, *meta.get("flags", ())]
        shown = shown_default(f)
        option = typer.Option(None, *decls, help=meta.get("help", ""),
                              show_default=shown if shown is not None else True)
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY,
                                        default=option, annotation=Optional[base]))
        if f.name == "output_dir":
            params.append(inspect.Parameter(
                "config", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[Path],
                default=typer.Option(None, "--config", "-c", help="JSON/YAML file of settings "
                                     "(keys = option names with _); command line options "
                                     "win.")))
    return params


def register(app: typer.Typer) -> None:
    def pretrain(**given: Any) -> None:
        config = given.pop("config", None)
        given = {k: str(v) if isinstance(v, Path) else v for k, v in given.items()
                 if v is not None}
        from rich.console import Console

        from ..errors import ConfigError
        from ..quiet import hide_shard_bar
        from ..train import pretrain as pretrain_mod
        from ..train.pretrain_args import REQUIRED, PretrainArgs

        hide_shard_bar()  # here, not for every command: it imports transformers

        if config is not None:
            args = PretrainArgs.from_file(config, **given)
        else:
            missing = [f"--{k.replace('_', '-')}" for k in REQUIRED if k not in given]
            if missing:
                raise ConfigError(f"pixel-bench pretrain needs {' and '.join(missing)}")
            args = PretrainArgs(**given)
        note = warmup_warning(args)
        if note:
            Console(stderr=True).print(f"[yellow]warning:[/] {note}", highlight=False)
        summary = pretrain_mod.run_pretraining(args)
        import os

        if int(os.environ.get("RANK", "0")) != 0:  # srun: every task is a rank; rank 0 reports
            return
        console = Console()
        console.print(f"[bold green]done[/]: {summary.get('steps')} steps; checkpoint for "
                      f"`pixel-bench run --checkpoint`: {summary['output_dir']}")

    params = options()
    pretrain.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    pretrain.__annotations__ = {p.name: p.annotation for p in params}
    pretrain.__doc__ = HELP
    app.command("pretrain")(pretrain)


def warmup_warning(args) -> str | None:
    """A run whose linear warmup is not shorter than the run never reaches its peak learning rate
    (the README's old 300-step example ended at 9e-06 instead of 1.5e-04): say so, with the
    learning rate of the last step and a warmup that fits. Not changed silently: the schedule is
    part of the experiment."""
    from ..train.pretrain_args import lr_at

    warmup, total = int(args.warmup_steps), int(args.max_steps)
    if total <= 0 or warmup < total:
        return None
    last = lr_at(total - 1, peak=args.lr, min_lr=args.min_lr, warmup=warmup, total=total)
    return (f"--warmup-steps {warmup} >= --max-steps {total}: the learning rate never leaves its "
            f"linear warmup and its last step uses {last:.2g} instead of the peak {args.lr:g}; "
            f"pass e.g. --warmup-steps {max(1, total // 10)} (10% of the steps)")
