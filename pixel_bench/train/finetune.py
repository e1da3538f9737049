"""The one fine-tuning loop: transformers' Trainer with early stopping on the task's main metric.

Checkpoints go to ``<cell>/checkpoints``; a run that finds a ``checkpoint-*`` there resumes from
the newest *complete* one (optimizer, scheduler, RNG and data order included; see
:mod:`pixel_bench.train.checkpoints`), so Ctrl-C or a killed job loses at most ``eval_steps``
steps. ``max_steps == 0`` skips training: :func:`evaluate_only` gives a Trainer that only
predicts.
"""

from __future__ import annotations

import logging
import os
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
    evaluate_only: bool = False
    train_loss_steps: int = 0  # optimizer steps train_loss averages over
    skipped_checkpoints: list[dict[str, Any]] = field(default_factory=list)


def pick_precision(requested: str = "auto", bf16: bool = False) -> str:
    """bf16 where the GPU has it, else fp16 on GPU; fp32 on CPU (``auto``). ``bf16``: the
    original recipe's flag; a GPU without bf16 says so and uses fp16."""
    import torch

    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        if torch.cuda.is_bf16_supported():
            return "bf16"
        if bf16:
            logger.warning("the recipe trains in bf16 but this GPU has no bf16; using fp16")
        return "fp16"
    return "fp32"


def warmup_warning(recipe: dict[str, Any]) -> str | None:
    """Like ``pretrain``'s: a warmup not shorter than the run (e.g. the README quick start's
    --max-steps 50 with the recipe's 100 warmup steps) never reaches the peak learning rate.
    Said, not changed: the schedule is part of the experiment (and of the cell identity)."""
    total, warmup = int(recipe["max_steps"]), int(recipe.get("warmup_steps") or 0)
    if total <= 0 or warmup < total or recipe.get("lr_scheduler_type") == "constant":
        return None
    peak = float(recipe.get("learning_rate") or 0)
    last = peak * (total - 1) / warmup  # transformers' linear warmup at the last step
    return (f"warmup_steps {warmup} >= max_steps {total}: the learning rate never leaves its "
            f"linear warmup and its last step uses {last:.2g} instead of the peak {peak:g}; "
            f"pass e.g. --set warmup_steps={max(1, total // 10)} (10% of the steps)")


def training_arguments(recipe: dict[str, Any], output_dir: Path, seed: int, main_metric: str,
                       greater_is_better: bool, label_names: list[str], has_eval: bool = True):
    import torch
    from transformers import TrainingArguments

    max_steps = int(recipe["max_steps"])
    eval_steps = max(1, min(int(recipe.get("eval_steps") or max_steps), max_steps))
    precision = pick_precision(str(recipe.get("precision") or "auto"), bool(recipe.get("bf16")))
    kwargs: dict[str, Any] = {k: recipe[k] for k in _DIRECT if recipe.get(k) is not None}
    kwargs.setdefault("per_device_eval_batch_size", kwargs.get("per_device_train_batch_size", 8))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:  # `run --num-processes N`: the recipe's batch stays the global batch
        batch = int(kwargs.get("per_device_train_batch_size", 8))
        if batch % world:
            from ..errors import ConfigError

            raise ConfigError(f"per_device_train_batch_size {batch} (the global batch) is not "
                              f"divisible by {world} processes")
        kwargs["per_device_train_batch_size"] = batch // world
        # Our heads return the batch-mean loss and ignore num_items_in_batch; with the default
        # True the Trainer multiplies that mean by N (gradients and logged losses N times too
        # large: measured 2x with 2 processes). DDP's gradient mean is the right scale.
        kwargs["average_tokens_across_devices"] = False
    kwargs.setdefault("save_total_limit", 2)
    kwargs.setdefault("logging_steps", max(1, min(50, eval_steps // 5)))
    warmup = recipe.get("warmup_steps", 0) or 0
    warning = warmup_warning(recipe)
    if warning:
        logger.warning(warning)
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


def _log_at_saves():
    """Log the running training loss at every checkpoint, so each checkpoint's log history
    covers every step up to it (the whole-run train_loss after a resume is built from it)."""
    from transformers import TrainerCallback

    class LogAtSaves(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if control.should_save:
                control.should_log = True

    return LogAtSaves()


def whole_run_train_loss(log_history: list[dict[str, Any]], resumed_step: int | None,
                         global_step: int, this_run_loss: float | None
                         ) -> tuple[float | None, int]:
    """(mean training loss over every step of the run, steps it covers).

    The Trainer's ``training_loss`` averages only the steps of the current ``train()`` call. The
    steps before a resume come from the checkpoint's log history: each ``loss`` entry is the
    mean over the steps since the previous one, so it is weighted by that step count."""
    if this_run_loss is None:
        return None, 0
    start = int(resumed_step or 0)
    total = float(this_run_loss) * (global_step - start)
    covered = previous = 0
    for entry in log_history:
        step = int(entry.get("step", 0))
        if "loss" in entry and previous < step <= start:
            total += float(entry["loss"]) * (step - previous)
            covered += step - previous
            previous = step
    if covered < start:  # a checkpoint whose last steps were never logged
        logger.warning("train_loss covers steps %d-%d and only %d of the %d steps before the "
                       "resume (not logged)", start + 1, global_step, covered, start)
    steps = global_step - start + covered
    return (total / steps if steps else None), steps


def finetune(model: Any, train_dataset: Any, eval_dataset: Any, collate: Callable,
             compute_metrics: Callable | None, recipe: dict[str, Any], output_dir: Path,
             seed: int, main_metric: str, greater_is_better: bool, label_names: list[str],
             callbacks: list[Any] | None = None) -> FinetuneResult:
    """Train ``model``; resume from the newest complete checkpoint in ``output_dir``."""
    from transformers import EarlyStoppingCallback, Trainer

    from .checkpoints import complete_checkpoints_trainer, newest_complete_checkpoint
    from .progress import progress_callback

    if int(recipe["max_steps"]) < 1:
        raise ValueError("finetune needs max_steps >= 1; use evaluate_only for 0")
    has_eval = eval_dataset is not None and compute_metrics is not None
    args, precision = training_arguments(recipe, output_dir, seed, main_metric,
                                         greater_is_better, label_names, has_eval)
    cbs = [progress_callback(), _log_at_saves()]
    patience = recipe.get("early_stopping_patience")
    if has_eval and patience:
        cbs.append(EarlyStoppingCallback(early_stopping_patience=int(patience)))
    cbs.extend(callbacks or [])
    trainer = complete_checkpoints_trainer(Trainer)(
        model=model, args=args, data_collator=collate, train_dataset=train_dataset,
        eval_dataset=eval_dataset if has_eval else None, compute_metrics=compute_metrics,
        callbacks=cbs)
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # our progress callback prints the logs once
    resume, skipped = newest_complete_checkpoint(output_dir)
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
    loss, loss_steps = whole_run_train_loss(list(state.log_history), resumed_step,
                                            int(state.global_step), out.training_loss)
    return FinetuneResult(
        model=trainer.model, trainer=trainer, steps=int(state.global_step), best_step=best_step,
        best_metric=state.best_metric, resumed_from_step=resumed_step,
        early_stopped=int(state.global_step) < int(args.max_steps),
        train_loss=loss, train_loss_steps=loss_steps,
        precision=precision, log_history=list(state.log_history), seconds=seconds,
        skipped_checkpoints=skipped)


def evaluate_only(model: Any, collate: Callable, recipe: dict[str, Any], output_dir: Path,
                  seed: int, label_names: list[str], callbacks: list[Any] | None = None,
                  trainer_class: type | None = None) -> FinetuneResult:
    """No training (``max_steps: 0``): a Trainer around ``model`` as it is (pretrained,
    checkpoint or random init) for ``trainer.predict``. ``trainer_class`` lets a task type
    (e.g. generative evaluation) bring its own prediction step."""
    import torch
    from transformers import Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback

    from .progress import progress_callback

    precision = pick_precision(str(recipe.get("precision") or "auto"), bool(recipe.get("bf16")))
    batch = recipe.get("per_device_eval_batch_size") or recipe.get(
        "per_device_train_batch_size") or 8
    args = TrainingArguments(
        output_dir=str(output_dir), per_device_eval_batch_size=int(batch), seed=seed,
        label_names=label_names, bf16=precision == "bf16", fp16=precision == "fp16",
        use_cpu=not torch.cuda.is_available(), report_to="none", remove_unused_columns=False,
        disable_tqdm=True, save_strategy="no", eval_strategy="no",
        dataloader_num_workers=int(recipe.get("dataloader_num_workers") or 0))
    trainer = (trainer_class or Trainer)(model=model, args=args, data_collator=collate,
                                         callbacks=[progress_callback(), *(callbacks or [])])
    trainer.remove_callback(PrinterCallback)
    return FinetuneResult(model=trainer.model, trainer=trainer, steps=0, precision=precision,
                          evaluate_only=True)
