"""Progress displays: fine-tuning and evaluation (a Trainer callback; transformers' tqdm bars
stay off) and pretraining (:class:`PretrainDisplay`, rank 0 only).

Fine-tuning, on an interactive terminal: a rich bar with elapsed time and ETA for the training
steps, and one per evaluation/prediction pass (batches), plus one line per evaluation. Elsewhere
(logs, CI, tests): no bars, one plain line per logged step on stderr. Pretraining: a rich bar on
a terminal stdout, else one plain line per logged step on stdout.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, Iterator


def interactive() -> bool:
    """Whether stderr is a terminal a live display can redraw (not a pipe, file or dumb TERM)."""
    from rich.console import Console

    return Console(stderr=True).is_interactive


@contextlib.contextmanager
def transformers_bars_off() -> Iterator[None]:
    """transformers' own tqdm bars (e.g. "Writing model shards" at every checkpoint) off while
    the rich display runs; restored afterwards."""
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            hf_logging.enable_progress_bar()


def progress_callback(live: bool | None = None, console: Any = None) -> Any:
    """A TrainerCallback; ``live`` defaults to :func:`interactive`, ``console`` to stderr."""
    from transformers import TrainerCallback

    class RichProgress(TrainerCallback):
        def __init__(self) -> None:
            self.live = interactive() if live is None else live
            self.progress: Any = None
            self.train_task: Any = None
            self.eval_task: Any = None

        # -- the display ---------------------------------------------------------------------
        def _start(self) -> None:
            if self.progress is None and self.live:
                from rich.console import Console
                from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                           TimeElapsedColumn, TimeRemainingColumn)

                self.progress = Progress(
                    TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                    TextColumn("{task.fields[info]}"),
                    console=console if console is not None else Console(stderr=True),
                    transient=True)
                self.progress.start()

        def _stop(self) -> None:
            if self.progress is not None:
                self.progress.stop()
                self.progress = None
                self.train_task = self.eval_task = None

        # -- training ------------------------------------------------------------------------
        def on_train_begin(self, args, state, control, **kw):
            self._start()
            if self.progress is not None:
                self.train_task = self.progress.add_task(
                    "fine-tuning", total=state.max_steps, completed=state.global_step, info="")

        def on_step_end(self, args, state, control, **kw):
            if self.train_task is not None:
                self.progress.update(self.train_task, completed=state.global_step)

        def on_log(self, args, state, control, logs=None, **kw):
            logs = logs or {}
            msg = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in logs.items())
            if self.progress is not None:
                if self.train_task is not None:
                    self.progress.update(self.train_task, info=msg[:80])
                if any(k.startswith("eval_") for k in logs):
                    self.progress.console.print(f"step {state.global_step}: {msg}",
                                                highlight=False, markup=False)
            else:
                print(f"[pixel-bench] step {state.global_step}/{state.max_steps}: {msg}",
                      file=sys.stderr, flush=True)

        def on_train_end(self, args, state, control, **kw):
            self._stop()

        # -- evaluation and prediction (batches of one pass) ---------------------------------
        def on_prediction_step(self, args, state, control, eval_dataloader=None, **kw):
            if not self.live:
                return
            self._start()
            if self.eval_task is None:
                try:
                    total = len(eval_dataloader)
                except TypeError:  # None, or an iterable dataset of unknown length
                    total = None
                self.eval_task = self.progress.add_task("evaluating", total=total, info="")
            self.progress.advance(self.eval_task)

        def _end_pass(self) -> None:
            if self.eval_task is not None:
                self.progress.remove_task(self.eval_task)
                self.eval_task = None
            if self.train_task is None:  # predicting after (or without) training
                self._stop()

        def on_evaluate(self, args, state, control, **kw):
            self._end_pass()

        def on_predict(self, args, state, control, **kw):
            self._end_pass()

    return RichProgress()


class PretrainDisplay:
    """Live pretraining progress on rank 0 (rich when stdout is a terminal, plain lines
    otherwise): step, loss, learning rate, throughput and replaced invalid UTF-8."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled
        self.progress: Any = None
        self.task: Any = None

    def start(self, step: int) -> None:
        if not self.enabled or not sys.stdout.isatty():
            return
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeRemainingColumn)

        self.progress = Progress(TextColumn("[bold]pretrain"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[info]}"), TimeRemainingColumn())
        self.task = self.progress.add_task("steps", total=self.total, completed=step, info="")
        self.progress.start()

    def update(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        info = (f"loss {record['loss']:.4f}  lr {record['lr']:.2e}  "
                f"{record['patches_per_s']:.0f} patches/s")
        if record.get("invalid_utf8"):
            info += f"  ({record['invalid_utf8']} invalid UTF-8 sequences replaced)"
        if self.progress is not None:
            self.progress.update(self.task, completed=record["step"], info=info)
        else:
            print(f"step {record['step']}/{self.total}  {info}", flush=True)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
