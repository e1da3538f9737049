"""The run loop: model x task x seed -> render -> fine-tune -> score -> result record.

This is the only module that knows the stage order:

1. :func:`pixel_bench.spec.resolve_spec` — names, recipe, adapter and weights (no data read);
2. :func:`pixel_bench.cells.plan_cells` — skip / refuse / redo each seed by its identity;
3. :func:`prepare` — load every split, render it through the cache, encode it for the model;
4. :func:`run_seed` — build, fine-tune (or only evaluate), score every evaluation split, and
   write ``predictions.jsonl`` and ``record.json`` (assembled in :mod:`pixel_bench.records`).

Zero-shot tasks (:class:`~pixel_bench.tasktypes.base.ZeroShotTask`, e.g. LAMBADA) replace
stages 3-4 with their own ``evaluate``. Everything task-specific (label names, scoring options,
QA post-processing) is asked of the task object; everything model-specific of the adapter.

Each cell (model, task, seed) lives in ``<results>/<model>/<task>/seed-<n>/`` with ``record.json``
(written last, atomically), ``predictions.jsonl`` and, while training, ``checkpoints/``. A cell
whose record has the same identity is skipped, one with another identity is refused unless
``overwrite`` (rules, lock and identity in :mod:`pixel_bench.cells`); a cell with checkpoints but
no record resumes from the newest complete one. ``max_steps`` 0 evaluates without training.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .errors import PixelBenchError
from .records import PREDICTIONS_FILE, ResultRecord, atomic_write_text, record_dir, write_record
from .spec import RendererChoice, RunSpec, choose_renderer, resolve_spec

logger = logging.getLogger("pixel_bench.runner")

# -- the loop --------------------------------------------------------------------------------
@dataclass
class CellOutcome:
    model: str
    task: str
    seed: int
    status: str  # "done" | "skipped"
    record_path: Path | None = None
    record: ResultRecord | None = None
    note: str = ""  # skipped because / what was replaced or set aside (pixel_bench.cells)


@dataclass
class Prepared:
    """Everything shared by the seeds of one model x task: the spec, renderer, encoded splits.

    Lengths, one meaning each: ``render_patches`` is the strip the renderer draws (PixelGPT's
    GLUE scripts render 1024 and crop to the recipe's 768), ``model_positions`` what the encoder
    sees of it (PIXAR-2024 groups two 8 px patches per position), ``text_tokens`` where a
    tokenizer truncates (text and pair input)."""

    spec: RunSpec
    renderer: RendererChoice | None
    splits: dict[str, Any] = field(default_factory=dict)  # name -> EncodedSplit
    origins: dict[str, str] = field(default_factory=dict)
    missing_splits: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    render_info: dict[str, Any] = field(default_factory=dict)

    @property
    def render_patches(self) -> int | None:
        return None if self.renderer is None else int(self.renderer.config.max_seq_length)

    @property
    def model_positions(self) -> int | None:
        n = self.render_patches
        return None if n is None else int(self.spec.adapter.num_positions(n))

    @property
    def text_tokens(self) -> int | None:
        from .modeling.contracts import TextInputAdapter

        adapter = self.spec.adapter
        if adapter.input_kind == "pixels" or not isinstance(adapter, TextInputAdapter):
            return None
        return adapter.text_length

    def lengths(self) -> dict[str, int | None]:
        return {"render_patches": self.render_patches, "model_positions": self.model_positions,
                "text_tokens": self.text_tokens}


#: strip length for tasks encoded without a renderer (text models): PIXEL's 529 patches
_UNRENDERED_LENGTH = 529


def prepare(spec: RunSpec, num_workers: int = 1) -> Prepared:
    """Load, render (through the cache, ``num_workers`` processes) and encode every split of
    one resolved model x task (:func:`pixel_bench.spec.resolve_spec`)."""
    from .cache import RenderCache, data_fingerprint
    from .errors import SplitNotFoundError

    task, adapter, recipe = spec.task, spec.adapter, spec.recipe
    renderer = choose_renderer(spec)
    prep = Prepared(spec=spec, renderer=renderer)
    timings = prep.timings

    train_split = spec.train_split
    # every evaluation split that exists is scored (test included); max_steps 0 = evaluate
    # only, which needs no training data
    wanted = ([] if recipe.evaluate_only else [train_split]) + [
        s for s in task.eval_splits if s != train_split]
    rows_of: dict[str, list] = {}
    t0 = time.perf_counter()
    for split in wanted:
        try:
            rows, origin = task.load_split(split, spec.data_dir, spec.limit, recipe)
        except SplitNotFoundError as exc:  # a present but malformed file stops the run
            # only the training split and the model-selection split are required
            if split in (train_split, task.main_split):
                raise
            prep.missing_splits.append(split)
            logger.debug("%s: split %s not scored (%s)", task.name, split, exc)
            continue
        rows_of[split] = rows
        prep.origins[split] = origin
    if prep.missing_splits:
        logger.warning("%s: no data for evaluation split(s) %s; scoring %s", task.name,
                       ", ".join(prep.missing_splits),
                       ", ".join(s for s in task.eval_splits if s in rows_of))
    timings["load_data_s"] = time.perf_counter() - t0

    length = prep.render_patches or spec.max_seq_length or _UNRENDERED_LENGTH
    cache = RenderCache()
    t0 = time.perf_counter()
    render_kwargs = task.render_kwargs(recipe)
    for split, rows in rows_of.items():
        inputs = task.render_inputs(rows)
        fp = data_fingerprint(inputs)
        rendered = None
        if renderer is not None:
            rendered = cache.get_or_render(renderer.name, renderer.config, inputs, render_kwargs,
                                           num_workers=num_workers, data_fp=fp)
            prep.render_info.setdefault("cache_entries", {})[split] = rendered.path.name
        enc = task.encode(split, rows, adapter, rendered, length,
                          renderer.name if renderer else None,
                          renderer_config=renderer.config if renderer else None, recipe=recipe)
        enc.data_fingerprint = fp
        prep.splits[split] = enc
    timings["render_s"] = time.perf_counter() - t0
    if renderer is not None:
        from .fonts import font_set

        prep.render_info.update({**renderer.info(), "font_set": font_set(renderer.config),
                                 "render_kwargs": render_kwargs})
    return prep


def run(model: str, task_name: str, seeds: Sequence[int] = (42,), data_dir: str | None = None,
        checkpoint: str | None = None, from_scratch: bool = False, max_steps: int | None = None,
        limit: int | None = None, results: str | Path | None = None, overwrite: bool = False,
        overrides: dict[str, Any] | None = None, num_workers: int = 1,
        keep_checkpoints: bool = False, callbacks: list[Any] | None = None,
        wait: bool = False, save_generations: bool = False) -> list[CellOutcome]:
    """Run every seed of one model x task; return one outcome per seed.

    Cell rules (:mod:`pixel_bench.cells`): every cell is locked while this runs (another process
    on it: BusyError, or ``wait``); a cell whose record has the same identity is skipped, one
    with another identity stops the run before anything is trained or deleted
    (CellConflictError) unless ``overwrite``; a corrupt record is set aside and the cell redone.
    """
    from . import cells
    from .paths import results_dir
    from .tasktypes.base import ZeroShotTask

    results = Path(results) if results is not None else results_dir()
    overrides = dict(overrides or {})
    if max_steps is not None:
        overrides["max_steps"] = int(max_steps)
    seeds = list(dict.fromkeys(int(s) for s in seeds))
    main = int(os.environ.get("RANK", "0")) == 0  # torchrun: rank 0 owns the cells
    held = cells.lock_cells(results, model, task_name, seeds, wait) if main else []
    try:
        spec = resolve_spec(model, task_name, data_dir, checkpoint, from_scratch, limit,
                            overrides)
        plan = cells.plan_cells(results, spec, seeds, overwrite, main)
        if isinstance(spec.task, ZeroShotTask):  # no rendering cache, no Trainer
            return _run_zero_shot(spec, plan, results, save_generations)
        t_all = time.perf_counter()
        try:
            prep: Prepared | None = prepare(spec, num_workers=num_workers)
        except PixelBenchError as exc:
            if not plan.skip_unverified(exc):
                raise
            prep = None
        prep_s = time.perf_counter() - t_all
        if prep is not None:
            plan.resolve(prep)
        outcomes: list[CellOutcome] = []
        for cell in plan.cells:
            if cell.action == "skip":
                outcomes.append(CellOutcome(model, task_name, cell.seed, "skipped",
                                            cell.path / "record.json", note=cell.note))
                continue
            if cell.note:
                logger.warning("%s: %s", cell.path, cell.note)
            plan.start(cell)
            assert prep is not None  # a cell to run means prepare() succeeded
            outcome = run_seed(prep, cell.seed, results, identity=cell.identity,
                               prepare_s=prep_s, keep_checkpoints=keep_checkpoints,
                               callbacks=callbacks)
            plan.finish(cell)
            outcome.note = cell.note
            outcomes.append(outcome)
        return outcomes
    finally:
        cells.release_cells(held)


def _run_zero_shot(spec: RunSpec, plan: Any, results: Path, save_generations: bool
                   ) -> list[CellOutcome]:
    """Zero-shot cells (LAMBADA, bAbI) under the same cell rules: the task computes the data
    and renderer part of the identity, then evaluates and writes each record."""
    task = spec.task
    plan.resolve_fields(task.identity_fields(spec))
    outcomes: list[CellOutcome] = []
    for cell in plan.cells:
        if cell.action == "skip":
            outcomes.append(CellOutcome(spec.model, task.name, cell.seed, "skipped",
                                        cell.path / "record.json", note=cell.note))
            continue
        plan.start(cell)
        outcome = task.evaluate(spec, cell.seed, results, identity=cell.identity,
                                save_generations=save_generations)
        plan.finish(cell)
        outcome.note = cell.note
        outcomes.append(outcome)
    return outcomes


def _compute_metrics_for(task: Any, split: Any, options: dict[str, Any]):
    def compute(eval_pred: Any) -> dict[str, float]:
        metrics, _rows = task.score(split, eval_pred.predictions, **options)
        return {k: float(v) for k, v in metrics.items()}

    return compute


class CellInterrupted(KeyboardInterrupt):
    """Ctrl-C inside a cell: says which cell and the checkpoint a rerun resumes from."""

    def __init__(self, cell: Path, checkpoint: Path | None, step: int | None) -> None:
        super().__init__(str(cell))
        self.cell, self.checkpoint, self.step = cell, checkpoint, step


def run_seed(prep: Prepared, seed: int, results: Path, identity: dict[str, Any] | None = None,
             prepare_s: float = 0.0, keep_checkpoints: bool = False,
             callbacks: list[Any] | None = None) -> CellOutcome:
    """Build, fine-tune (or only evaluate), score and record one seed of a prepared cell."""
    from .train.progress import transformers_bars_off

    try:
        with transformers_bars_off():  # one progress display (ours), also while loading
            return _run_seed(prep, seed, results, identity or {}, prepare_s, keep_checkpoints,
                             callbacks)
    except CellInterrupted:
        raise
    except KeyboardInterrupt as exc:
        from .train.checkpoints import newest_complete_checkpoint

        cell = record_dir(results, prep.spec.model, prep.spec.task_name, seed)
        ckpt, _ = newest_complete_checkpoint(cell / "checkpoints", move_broken=False)
        step = int(ckpt.name.split("-")[1]) if ckpt is not None else None
        raise CellInterrupted(cell, ckpt, step) from exc


def _run_seed(prep: Prepared, seed: int, results: Path, identity: dict[str, Any],
              prepare_s: float, keep_checkpoints: bool, callbacks: list[Any] | None
              ) -> CellOutcome:
    import torch
    from transformers import set_seed

    from .records import finetune_record
    from .train.finetune import evaluate_only, finetune

    spec = prep.spec
    task, adapter, recipe = spec.task, spec.adapter, spec.recipe
    cell = record_dir(results, spec.model, spec.task_name, seed)
    cell.mkdir(parents=True, exist_ok=True)
    timings = dict(prep.timings)
    timings["prepare_s"] = prepare_s

    set_seed(seed)
    t0 = time.perf_counter()
    head = task.head_spec(recipe)
    allow_mismatched = bool(recipe.get("allow_mismatched_weights"))
    if allow_mismatched and not adapter.accepts_mismatched_weights:
        logger.warning("allow_mismatched_weights has no effect on %s (its loader checks "
                       "weights its own way)", adapter.card.name)
        allow_mismatched = False
    net = adapter.build(head, checkpoint=spec.checkpoint, from_scratch=spec.checkpoint is None,
                        max_seq_length=prep.render_patches or spec.max_seq_length,
                        allow_mismatched=allow_mismatched)
    timings["build_model_s"] = time.perf_counter() - t0

    train = prep.splits.get(spec.train_split)
    main = prep.splits[task.main_split]
    label_names = list(task.label_names)
    options = task.score_options(recipe)
    if recipe.evaluate_only:  # --max-steps 0: score the model as it is
        ft = evaluate_only(net, adapter.collate, recipe, cell / "checkpoints", seed, label_names,
                           callbacks)
    else:
        ft = finetune(net, train.dataset, main.dataset, adapter.collate,
                      _compute_metrics_for(task, main, options), recipe, cell / "checkpoints",
                      seed, task.main_metric, task.greater_is_better, label_names, callbacks)
    timings["train_s"] = ft.seconds

    # -- score every evaluation split with the selected (best) model ------------------------
    t0 = time.perf_counter()
    metrics: dict[str, dict[str, float]] = {}
    pred_lines: list[str] = []
    for split in task.eval_splits:
        if split not in prep.splits:
            continue
        enc = prep.splits[split]
        out = ft.trainer.predict(enc.dataset)
        m, rows = task.score(enc, out.predictions, **options)
        metrics[split] = {k: float(v) for k, v in m.items()}
        pred_lines.extend(json.dumps(r, ensure_ascii=False, default=_json_default) for r in rows)
    timings["predict_s"] = time.perf_counter() - t0
    if int(os.environ.get("RANK", "0")) != 0:  # torchrun: only the main process writes
        return CellOutcome(spec.model, spec.task_name, seed, "done (worker)")
    atomic_write_text(cell / PREDICTIONS_FILE, "\n".join(pred_lines) + ("\n" if pred_lines else ""))

    record = finetune_record(prep, seed, metrics, ft, head, timings, identity,
                             parameters=int(sum(p.numel() for p in ft.model.parameters())),
                             newly_initialized=getattr(net, "pixel_bench_newly_initialized",
                                                       None))
    path = write_record(record, results)
    if not keep_checkpoints:  # (checkpoints-broken/, if any, stays: it was warned about)
        shutil.rmtree(cell / "checkpoints", ignore_errors=True)
    del net
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return CellOutcome(spec.model, spec.task_name, seed, "done", path, record)


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)
