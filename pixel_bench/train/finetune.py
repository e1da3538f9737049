"""The one fine-tuning loop: transformers' Trainer with early stopping on the task's main metric.

Checkpoints go to ``<cell>/checkpoints``; a run that finds a ``checkpoint-*`` there resumes from
the last one (optimizer, scheduler, RNG and data order included), so Ctrl-C or a killed job
loses at most ``eval_steps`` steps.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

logger = logging.getLogger("pixel_bench.finetune")

#: recipe keys that map 1:1 onto TrainingArguments
_DIRECT = ("learning_rate", "per_device_train_batch_size", "per_device_eval_batch_size",
           "gradient_accumulation_steps", "weight_decay", "adam_beta1", "adam_beta2",
           "adam_epsilon", "max_grad_norm", "lr_scheduler_type", "save_total_limit",
           "logging_steps", "dataloader_num_workers")


@dataclass
class FinetuneResult:
    model: Any
    trainer: Any
    steps: int = 0
    best_step: int | None = None
    best_metric: float | None = None
    resumed_from_step: int | None = None
    early_stopped: bool = False
    train_loss: float | None = None
    precision: str = "fp32"
    log_history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def last_checkpoint(directory: Path) -> Path | None:
    if not directory.is_dir():
        return None
    cks = [p for p in directory.iterdir() if p.is_dir() and re.fullmatch(r"checkpoint-\d+", p.name)
           and any(p.iterdir())]
    return max(cks, key=lambda p: int(p.name.split("-")[1])) if cks else None


def pick_precision(requested: str = "auto") -> str:
    """bf16 where the GPU has it, else fp16 on GPU; fp32 on CPU (``auto``)."""
    import torch

    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def training_arguments(recipe: dict[str, Any], output_dir: Path, seed: int, main_metric: str,
                       greater_is_better: bool, label_names: list[str], has_eval: bool = True):
    import torch
    from transformers import TrainingArguments

    max_steps = int(recipe["max_steps"])
    eval_steps = max(1, min(int(recipe.get("eval_steps") or max_steps), max_steps))
    precision = pick_precision(str(recipe.get("precision", "auto")))
    kwargs: dict[str, Any] = {k: recipe[k] for k in _DIRECT if recipe.get(k) is not None}
    kwargs.setdefault("per_device_eval_batch_size", kwargs.get("per_device_train_batch_size", 8))
    kwargs.setdefault("save_total_limit", 2)
    kwargs.setdefault("logging_steps", max(1, min(50, eval_steps // 5)))
    warmup = recipe.get("warmup_steps", 0) or 0
    sched_kwargs = {}
    if recipe.get("min_lr_rate") is not None:
        sched_kwargs["min_lr_rate"] = float(recipe["min_lr_rate"])
    return TrainingArguments(
        output_dir=str(output_dir), max_steps=max_steps, warmup_steps=warmup, seed=seed,
        data_seed=seed, eval_strategy="steps" if has_eval else "no", eval_steps=eval_steps,
        save_strategy="steps", save_steps=eval_steps,
        load_best_model_at_end=has_eval, metric_for_best_model=main_metric if has_eval else None,
        greater_is_better=greater_is_better, label_names=label_names,
        bf16=precision == "bf16", fp16=precision == "fp16",
        use_cpu=not torch.cuda.is_available(), report_to="none", remove_unused_columns=False,
        disable_tqdm=True, lr_scheduler_kwargs=sched_kwargs,
        **kwargs), precision


def _progress_callback():
    """A rich progress bar on a TTY; plain log lines otherwise."""
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        def __init__(self) -> None:
            self.progress = None
            self.task = None
            self.tty = sys.stderr.isatty()

        def on_train_begin(self, args, state, control, **kw):
            if self.tty:
                from rich.progress import (BarColumn, MofNCompleteColumn, Progress as P,
                                           TextColumn, TimeElapsedColumn, TimeRemainingColumn)

                self.progress = P(TextColumn("fine-tuning"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), TimeRemainingColumn(),
                                  TextColumn("{task.fields[info]}"), transient=True)
                self.progress.start()
                self.task = self.progress.add_task("train", total=state.max_steps,
                                                   completed=state.global_step, info="")

        def on_step_end(self, args, state, control, **kw):
            if self.progress is not None:
                self.progress.update(self.task, completed=state.global_step)

        def on_log(self, args, state, control, logs=None, **kw):
            logs = logs or {}
            msg = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in logs.items())
            if self.progress is not None:
                self.progress.update(self.task, info=msg[:80])
                if any(k.startswith("eval_") for k in logs):
                    self.progress.console.print(f"step {state.global_step}: {msg}")
            else:
                print(f"[pixel-bench] step {state.global_step}/{state.max_steps}: {msg}",
                      file=sys.stderr, flush=True)

        def on_train_end(self, args, state, control, **kw):
            if self.progress is not None:
                self.progress.stop()
                self.progress = None

    return Progress()


def finetune(model: Any, train_dataset: Any, eval_dataset: Any, collate: Callable,
             compute_metrics: Callable | None, recipe: dict[str, Any], output_dir: Path,
             seed: int, main_metric: str, greater_is_better: bool, label_names: list[str],
             callbacks: list[Any] | None = None) -> FinetuneResult:
    """Train ``model``; resume from the last checkpoint in ``output_dir`` if there is one."""
    from transformers import EarlyStoppingCallback, Trainer

    has_eval = eval_dataset is not None and compute_metrics is not None
    args, precision = training_arguments(recipe, output_dir, seed, main_metric,
                                         greater_is_better, label_names, has_eval)
    cbs = [_progress_callback()]
    patience = recipe.get("early_stopping_patience")
    if has_eval and patience:
        cbs.append(EarlyStoppingCallback(early_stopping_patience=int(patience)))
    cbs.extend(callbacks or [])
    trainer = Trainer(model=model, args=args, data_collator=collate,
                      train_dataset=train_dataset, eval_dataset=eval_dataset if has_eval else None,
                      compute_metrics=compute_metrics, callbacks=cbs)
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # our progress callback prints the logs once
    resume = last_checkpoint(output_dir)
    resumed_step = int(resume.name.split("-")[1]) if resume is not None else None
    if resume is not None:
        logger.info("resuming from %s", resume)
    t0 = time.perf_counter()
    out = trainer.train(resume_from_checkpoint=str(resume) if resume is not None else None)
    seconds = time.perf_counter() - t0
    state = trainer.state
    best_step = None
    if state.best_model_checkpoint:
        best_step = int(Path(state.best_model_checkpoint).name.split("-")[-1])
    return FinetuneResult(
        model=trainer.model, trainer=trainer, steps=int(state.global_step), best_step=best_step,
        best_metric=state.best_metric, resumed_from_step=resumed_step,
        early_stopped=int(state.global_step) < int(args.max_steps),
        train_loss=float(out.training_loss) if out.training_loss is not None else None,
        precision=precision, log_history=list(state.log_history), seconds=seconds)
