"""The run loop: model x task x seed -> render -> fine-tune -> score -> result record.

This is the only module that knows the stage order. Each cell (model, task, seed) lives in
``<results>/<model>/<task>/seed-<n>/`` with ``record.json`` (written last, atomically),
``predictions.jsonl`` and, while training, ``checkpoints/``. A cell whose record has the same
identity is skipped, one with another identity is refused unless ``overwrite`` (rules, lock and
identity in :mod:`pixel_bench.cells`); a cell with checkpoints but no record resumes from the
newest complete one. ``max_steps`` 0 evaluates without training.
"""

from __future__ import annotations

import inspect
import json
import logging
import numbers
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .errors import CheckpointError, ConfigError, PixelBenchError, UnsafePathError
from .records import PREDICTIONS_FILE, ResultRecord, atomic_write_text, record_dir, write_record

logger = logging.getLogger("pixel_bench.runner")


# -- recipes ---------------------------------------------------------------------------------
def load_recipe(task: Any, family: str, overrides: dict[str, Any] | None = None,
                recipe_dir: Path | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """``defaults`` <- ``<family>`` block <- overrides; plus where each key came from.

    Every key and value is checked against :data:`pixel_bench.recipe_keys.RECIPE_KEYS` (known
    key, right type), so a typo or a wrong type fails here naming the file/``--set`` and key."""
    import yaml

    from .paths import builtin_dir
    from .recipe_keys import FAMILIES, check_block

    name = task.recipe or task.name
    directory = recipe_dir or builtin_dir("tasks") / "recipes"
    path = directory / f"{name}.yaml"
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"malformed recipe {path}: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"malformed recipe {path}: expected a mapping of blocks")
        for block in data:
            # a block named like a known family but misspelt would be ignored silently (a
            # plugin's own family name is fine)
            known = ("defaults",) + FAMILIES
            if block not in known and block != family:
                import difflib

                close = difflib.get_close_matches(str(block), known, n=1, cutoff=0.75)
                if close:
                    raise ConfigError(f"{path}: unknown block {block!r} (did you mean "
                                      f"{close[0]!r}?); blocks are defaults and the model "
                                      f"families {', '.join(FAMILIES)}")
    recipe: dict[str, Any] = {}
    source: dict[str, str] = {}
    for block in ("defaults", family):
        values = data.get(block) or {}
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: block {block!r} must be a mapping")
        for k, v in check_block(values, f"{path}: block {block!r}").items():
            recipe[k] = v
            source[k] = f"{path.name}:{block}"
    for k, v in check_block(dict(overrides or {}), "--set").items():
        recipe[k] = v
        source[k] = "cli"
    recipe.setdefault("max_steps", 1000)
    recipe.setdefault("learning_rate", 5e-5)
    recipe.setdefault("per_device_train_batch_size", 8)
    return recipe, source


def parse_set(items: Sequence[str]) -> dict[str, Any]:
    """``key=value`` pairs; values parsed as YAML scalars (``1e-4``, ``true``, ``null``), keys
    and types checked against the recipe key table (unknown keys get close-match hints)."""
    import yaml

    from .recipe_keys import check_value

    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, _, raw = item.partition("=")
        key = key.strip()
        if not key:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        if isinstance(value, str):  # YAML 1.1 reads "1e-4" as a string
            try:
                value = float(value)
            except ValueError:
                pass
        out[key] = check_value(key, value, f"--set {item}")
    return out


# -- models and weights ----------------------------------------------------------------------
def resolve_model(name: str) -> Any:
    from .registry import MODELS

    if name.startswith("text:"):
        return MODELS.get("text").for_model(name)
    return MODELS.get(name)


def resolve_weights(adapter: Any, name: str, checkpoint: str | None, from_scratch: bool,
                    ) -> tuple[str | None, str]:
    """(checkpoint to load or None, how it was resolved). Fails within seconds with a message
    saying which weights are missing and how to get them."""
    from .paths import checkpoints_dir, local_or_hub

    card = adapter.card
    if checkpoint is not None:
        path, hub_id = local_or_hub(checkpoint)
        if path is not None:
            return str(path), "--checkpoint"
        if hub_id is None:
            raise CheckpointError(f"--checkpoint {checkpoint}: no such directory")
        return _hub_weights(hub_id, name), "--checkpoint (hub)"
    if from_scratch:
        return None, "random init (--from-scratch)"
    local = getattr(adapter, "local_weights", None)  # text:DIR
    if local is not None:
        return str(local), "local directory (text:DIR)"
    pretrained = checkpoints_dir() / name.replace("/", "__")
    if pretrained.is_dir() and any(pretrained.iterdir()):
        return str(pretrained), "pixel-bench pretrain output"
    if card.size == "tiny":
        return None, "random init (tiny model)"
    if card.hub_id is None:
        raise CheckpointError(
            f"no weights for {name!r}: it has no released hub checkpoint and {pretrained} does not "
            f"exist. Pretrain it with `pixel-bench pretrain --model {name}` (writes there), pass "
            "--checkpoint DIR, or fine-tune from random init with --from-scratch")
    return _hub_weights(card.hub_id, name), f"hub {card.hub_id}"


def _hub_weights(hub_id: str, name: str) -> str:
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(repo_id=hub_id, local_files_only=True)
    except Exception:  # noqa: BLE001 - not cached: is the hub reachable?
        pass
    from .data.io import hub_available

    if not hub_available():
        raise CheckpointError(
            f"weights for {name!r} ({hub_id}) are not in the local Hugging Face cache and the Hub "
            f"is not reachable. On a machine with internet run `hf download "
            f"{hub_id} --local-dir DIR` and pass --checkpoint DIR (or use --from-scratch)")
    return hub_id


def _renderer_config(adapter: Any, task: Any, recipe: dict[str, Any], source: dict[str, str],
                     checkpoint: str | None) -> tuple[str, Any] | None:
    L = recipe.get("max_seq_length")
    want = recipe.get("renderer")
    kwargs: dict[str, Any] = {}
    if checkpoint is not None and "checkpoint" in inspect.signature(
            adapter.renderer_config).parameters:
        kwargs["checkpoint"] = checkpoint
    try:
        return _with_fallback_fonts(
            adapter.renderer_config(task.kind, max_seq_length=L, renderer=want, **kwargs), recipe)
    except ConfigError as exc:
        # a renderer from a recipe that this model's adapter cannot read (e.g. the thesis PIXAR's
        # PyGame renderings): use the model's own and say so; one the user asked for is an error,
        # and so is a checkpoint config naming files outside its folder
        if source.get("renderer") == "cli" or want is None or isinstance(exc, UnsafePathError):
            raise
        logger.warning("recipe renderer %r not usable for %s (%s); using the model's own",
                       want, adapter.card.name, exc)
        recipe["renderer_note"] = (f"recipe asked for {want!r}; {adapter.card.name} cannot read "
                                   f"it, so its own renderer was used")
        return _with_fallback_fonts(
            adapter.renderer_config(task.kind, max_seq_length=L, renderer=None, **kwargs), recipe)


def _with_fallback_fonts(renderer: tuple[str, Any] | None, recipe: dict[str, Any]
                         ) -> tuple[str, Any] | None:
    """Apply the recipe's ``fallback_fonts_dir`` (a folder, or a name such as ``noto-cjk`` found
    in the font folders) to the renderer settings: PIXEL's ``--fallback_fonts_dir``."""
    folder = recipe.get("fallback_fonts_dir")
    if renderer is None or not folder:
        return renderer
    from .fonts import resolve_fonts_dir

    name, cfg = renderer
    return name, cfg.with_overrides(fallback_fonts_dir=str(resolve_fonts_dir(str(folder))))


# -- provenance ------------------------------------------------------------------------------
def git_commit() -> str | None:
    from .paths import REPO_ROOT

    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def library_versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for lib in ("torch", "transformers", "datasets", "accelerate", "numpy", "seqeval", "scipy",
                "pygame", "cairocffi", "pangocffi"):
        try:
            out[lib] = md.version(lib)
        except md.PackageNotFoundError:
            pass
    return out


def hardware() -> dict[str, Any]:
    import torch

    hw: dict[str, Any] = {"platform": platform.platform(), "machine": platform.machine(),
                          "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        hw["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    hw["world_size"] = int(os.environ.get("WORLD_SIZE", "1"))
    return hw


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
    """Everything shared by the seeds of one model x task: data, renderings, recipe."""

    adapter: Any
    task: Any
    recipe: dict[str, Any]
    recipe_source: dict[str, str]
    checkpoint: str | None
    weights: str
    renderer: tuple[str, Any] | None
    splits: dict[str, Any] = field(default_factory=dict)  # name -> EncodedSplit
    origins: dict[str, str] = field(default_factory=dict)
    missing_splits: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    render_info: dict[str, Any] = field(default_factory=dict)


def prepare(model: str, task_name: str, data_dir: str | None = None,
            checkpoint: str | None = None, from_scratch: bool = False,
            limit: int | None = None, overrides: dict[str, Any] | None = None,
            num_workers: int = 1) -> Prepared:
    from .cache import RenderCache, data_fingerprint
    from .errors import SplitNotFoundError
    from .registry import RENDERERS, TASKS

    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, numbers.Integral)
                              or limit < 1):
        raise ConfigError(f"--limit {limit!r}: must be an integer >= 1 (the first N examples "
                          "of every split)")
    task = TASKS.get(task_name)
    adapter = resolve_model(model)
    recipe, source = load_recipe(task, adapter.card.family, overrides)
    ckpt, weights = resolve_weights(adapter, model, checkpoint, from_scratch)
    renderer = _renderer_config(adapter, task, recipe, source, ckpt)
    timings: dict[str, float] = {}
    prep = Prepared(adapter=adapter, task=task, recipe=recipe, recipe_source=source,
                    checkpoint=ckpt, weights=weights, renderer=renderer, timings=timings)

    train_split = str(recipe.get("train_split", task.train_split))
    # every evaluation split that exists is scored (test included); max_steps 0 = evaluate
    # only, which needs no training data
    wanted = ([] if int(recipe["max_steps"]) == 0 else [train_split]) + [
        s for s in task.eval_splits if s != train_split]
    rows_of: dict[str, list] = {}
    t0 = time.perf_counter()
    for split in wanted:
        try:
            rows, origin = task.load_split(split, data_dir, limit)
        except SplitNotFoundError as exc:  # a present but malformed file stops the run
            # only the training split and the model-selection split are required
            if split in (train_split, task.main_split):
                raise
            prep.missing_splits.append(split)
            logger.debug("%s: split %s not scored (%s)", task_name, split, exc)
            continue
        rows_of[split] = rows
        prep.origins[split] = origin
    if prep.missing_splits:
        logger.warning("%s: no data for evaluation split(s) %s; scoring %s", task_name,
                       ", ".join(prep.missing_splits),
                       ", ".join(s for s in task.eval_splits if s in rows_of))
    timings["load_data_s"] = time.perf_counter() - t0

    L = int(recipe.get("max_seq_length") or 529)
    cache = RenderCache()
    t0 = time.perf_counter()
    render_kwargs = task.render_kwargs(recipe)
    for split, rows in rows_of.items():
        inputs = task.render_inputs(rows)
        fp = data_fingerprint(inputs)
        rendered = None
        if renderer is not None:
            name, cfg = renderer
            rendered = cache.get_or_render(name, cfg, inputs, render_kwargs,
                                           num_workers=num_workers, data_fp=fp)
            L = int(cfg.max_seq_length)
            prep.render_info.setdefault("cache_entries", {})[split] = rendered.path.name
        enc = task.encode(split, rows, adapter, rendered, L,
                          renderer[0] if renderer else None,
                          renderer_config=renderer[1] if renderer else None, recipe=recipe)
        enc.data_fingerprint = fp
        prep.splits[split] = enc
    timings["render_s"] = time.perf_counter() - t0
    if renderer is not None:
        name, cfg = renderer
        r = RENDERERS.get(name)(cfg)
        from .fonts import font_set

        prep.render_info.update({"renderer": name, "settings": cfg.to_dict(),
                                 "font_set": font_set(cfg),
                                 "fingerprint": r.fingerprint(), "font_sha256": cfg.font_sha256(),
                                 "render_kwargs": render_kwargs})
    prep.recipe["max_seq_length"] = L
    prep.recipe["train_split"] = train_split
    return prep


def run(model: str, task: str, seeds: Sequence[int] = (42,), data_dir: str | None = None,
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
    from .registry import TASKS

    results = Path(results) if results is not None else results_dir()
    overrides = dict(overrides or {})
    if max_steps is not None:
        overrides["max_steps"] = int(max_steps)
    seeds = list(dict.fromkeys(int(s) for s in seeds))
    main = int(os.environ.get("RANK", "0")) == 0  # torchrun: rank 0 owns the cells
    held = cells.lock_cells(results, model, task, seeds, wait) if main else []
    try:
        request = cells.resolve_request(model, task, limit, overrides, checkpoint, from_scratch)
        plan = cells.plan_cells(results, request, seeds, overwrite, main)
        task_obj = TASKS.get(task)
        if task_obj.family == "generative":  # zero-shot: no rendering cache, no Trainer
            return _run_generative(task_obj, plan, model, results, data_dir=data_dir,
                                   checkpoint=checkpoint, from_scratch=from_scratch,
                                   limit=limit, overrides=overrides,
                                   save_generations=save_generations)
        t_all = time.perf_counter()
        try:
            prep = prepare(model, task, data_dir, checkpoint, from_scratch, limit, overrides,
                           num_workers)
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
                outcomes.append(CellOutcome(model, task, cell.seed, "skipped",
                                            cell.path / "record.json", note=cell.note))
                continue
            if cell.note:
                logger.warning("%s: %s", cell.path, cell.note)
            plan.start(cell)
            outcome = run_seed(prep, model, task, cell.seed, results, keep_checkpoints,
                               callbacks, {"data_dir": data_dir, "limit": limit,
                                           "overrides": overrides, "prepare_s": prep_s,
                                           "identity": cell.identity})
            plan.finish(cell)
            outcome.note = cell.note
            outcomes.append(outcome)
        return outcomes
    finally:
        cells.release_cells(held)


def _run_generative(task: Any, plan: Any, model: str, results: Path, **kwargs: Any
                    ) -> list[CellOutcome]:
    """Generative cells (LAMBADA, bAbI) under the same cell rules: the family computes the data
    and renderer part of the identity, then generates, reads back with OCR and writes each
    record (tasktypes/generative.py)."""
    save = kwargs.pop("save_generations")
    plan.resolve_fields(task.identity_fields(model, **kwargs))
    outcomes: list[CellOutcome] = []
    for cell in plan.cells:
        if cell.action == "skip":
            outcomes.append(CellOutcome(model, task.name, cell.seed, "skipped",
                                        cell.path / "record.json", note=cell.note))
            continue
        plan.start(cell)
        outcome = task.evaluate(model, cell.seed, results, identity=cell.identity,
                                save_generations=save, **kwargs)
        plan.finish(cell)
        outcome.note = cell.note
        outcomes.append(outcome)
    return outcomes


def _compute_metrics_for(task: Any, split: Any, recipe: dict[str, Any]):
    extra = _score_kwargs(task, recipe)

    def compute(eval_pred: Any) -> dict[str, float]:
        preds = eval_pred.predictions
        metrics, _rows = task.score(split, preds, **extra)
        return {k: float(v) for k, v in metrics.items()}

    return compute


def _score_kwargs(task: Any, recipe: dict[str, Any]) -> dict[str, Any]:
    if task.family == "question_answering":
        return {"n_best": int(recipe.get("n_best_size", 20)),
                "max_answer_length": int(recipe.get("max_answer_length", 30)),
                "trim": bool(recipe.get("qa_trim_partial_words", True))}
    return {}


class CellInterrupted(KeyboardInterrupt):
    """Ctrl-C inside a cell: says which cell and the checkpoint a rerun resumes from."""

    def __init__(self, cell: Path, checkpoint: Path | None, step: int | None) -> None:
        super().__init__(str(cell))
        self.cell, self.checkpoint, self.step = cell, checkpoint, step


def run_seed(prep: Prepared, model_name: str, task_name: str, seed: int, results: Path,
             keep_checkpoints: bool = False, callbacks: list[Any] | None = None,
             context: dict[str, Any] | None = None) -> CellOutcome:
    from .train.progress import transformers_bars_off

    try:
        with transformers_bars_off():  # one progress display (ours), also while loading
            return _run_seed(prep, model_name, task_name, seed, results, keep_checkpoints,
                             callbacks, context)
    except CellInterrupted:
        raise
    except KeyboardInterrupt as exc:
        from .train.checkpoints import newest_complete_checkpoint

        cell = record_dir(results, model_name, task_name, seed)
        ckpt, _ = newest_complete_checkpoint(cell / "checkpoints", move_broken=False)
        step = int(ckpt.name.split("-")[1]) if ckpt is not None else None
        raise CellInterrupted(cell, ckpt, step) from exc


def _run_seed(prep: Prepared, model_name: str, task_name: str, seed: int, results: Path,
              keep_checkpoints: bool = False, callbacks: list[Any] | None = None,
              context: dict[str, Any] | None = None) -> CellOutcome:
    import numpy as np
    import torch
    from transformers import set_seed

    from . import __version__
    from .train.finetune import evaluate_only, finetune

    context = context or {}
    task, adapter, recipe = prep.task, prep.adapter, prep.recipe
    cell = record_dir(results, model_name, task_name, seed)
    cell.mkdir(parents=True, exist_ok=True)
    timings = dict(prep.timings)
    timings["prepare_s"] = context.get("prepare_s", 0.0)
    eval_only = int(recipe["max_steps"]) == 0

    set_seed(seed)
    t0 = time.perf_counter()
    head = task.head_spec(recipe)
    build_kwargs: dict[str, Any] = {}
    if recipe.get("allow_mismatched_weights"):
        if "allow_mismatched" in inspect.signature(adapter.build).parameters:
            build_kwargs["allow_mismatched"] = True
        else:
            logger.warning("allow_mismatched_weights has no effect on %s (its loader checks "
                           "weights its own way)", adapter.card.name)
    net = adapter.build(head, checkpoint=prep.checkpoint,
                        from_scratch=prep.checkpoint is None,
                        max_seq_length=recipe.get("max_seq_length"), **build_kwargs)
    timings["build_model_s"] = time.perf_counter() - t0

    train = prep.splits.get(recipe["train_split"])
    main = prep.splits[task.main_split]
    label_names = list(getattr(task, "label_names", ()) or (
        ["start_positions", "end_positions"] if task.family == "question_answering"
        else ["labels"]))
    if eval_only:  # --max-steps 0: score the model as it is
        ft = evaluate_only(net, adapter.collate, recipe, cell / "checkpoints", seed, label_names,
                           callbacks)
    else:
        ft = finetune(net, train.dataset, main.dataset, adapter.collate,
                      _compute_metrics_for(task, main, recipe), recipe, cell / "checkpoints",
                      seed, task.main_metric, task.greater_is_better, label_names, callbacks)
    timings["train_s"] = ft.seconds

    # -- score every evaluation split with the selected (best) model ------------------------
    t0 = time.perf_counter()
    metrics: dict[str, dict[str, float]] = {}
    pred_lines: list[str] = []
    extra = _score_kwargs(task, recipe)
    for split in task.eval_splits:
        if split not in prep.splits:
            continue
        enc = prep.splits[split]
        out = ft.trainer.predict(enc.dataset)
        m, rows = task.score(enc, out.predictions, **extra)
        metrics[split] = {k: float(v) for k, v in m.items()}
        pred_lines.extend(json.dumps(r, ensure_ascii=False, default=_json_default) for r in rows)
    timings["predict_s"] = time.perf_counter() - t0
    if int(os.environ.get("RANK", "0")) != 0:  # torchrun: only the main process writes
        return CellOutcome(model_name, task_name, seed, "done (worker)")
    atomic_write_text(cell / PREDICTIONS_FILE, "\n".join(pred_lines) + ("\n" if pred_lines else ""))

    counts: dict[str, int] = {}
    for split, enc in prep.splits.items():
        for k, v in enc.counts.items():
            counts[f"{split}.{k}"] = int(v)
    for k in ("truncated", "words_dropped", "dropped_words", "unknown_glyphs", "windows"):
        total = sum(int(enc.counts.get(k, 0)) for enc in prep.splits.values())
        if any(k in enc.counts for enc in prep.splits.values()):
            counts[k] = total
    counts["train_examples"] = len(train.rows) if train is not None and not eval_only else 0

    renderer_name = prep.renderer[0] if prep.renderer else None
    record = ResultRecord(
        model=model_name, task=task_name, seed=seed, metrics=metrics,
        main_metric=task.main_metric, main_split=task.main_split,
        config={"recipe": recipe, "recipe_source": prep.recipe_source,
                "data_dir": context.get("data_dir"), "limit": context.get("limit"),
                "cli_overrides": context.get("overrides") or {},
                "missing_splits": prep.missing_splits, "scored_splits": list(metrics),
                "model_selection_split": None if eval_only else task.main_split,
                "evaluate_only": eval_only, "precision": ft.precision,
                "renderer": renderer_name, "head": _head_dict(head)},
        model_info={"name": model_name, "family": adapter.card.family,
                    "size": adapter.card.size, "hub_id": adapter.card.hub_id,
                    "attributes": adapter.card.attributes, "weights": prep.weights,
                    "checkpoint": prep.checkpoint,
                    "newly_initialized": getattr(net, "pixel_bench_newly_initialized", None),
                    "parameters": int(sum(p.numel() for p in ft.model.parameters()))},
        provenance={"pixel_bench_version": __version__, "git_commit": git_commit(),
                    "libraries": library_versions(), "hardware": hardware(),
                    "renderer": prep.render_info,
                    "font_sha256": prep.render_info.get("font_sha256"),
                    "data": {s: {"source": prep.origins.get(s),
                                 "fingerprint": e.data_fingerprint, "examples": len(e.rows)}
                             for s, e in prep.splits.items()},
                    "command": " ".join(sys.argv) if sys.argv else None,
                    "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
        counts=counts, timings={k: round(float(v), 3) for k, v in timings.items()},
        identity=context.get("identity") or {},
        train={"steps": ft.steps, "max_steps": int(recipe["max_steps"]),
               "evaluate_only": eval_only,
               "best_step": ft.best_step, "best_metric": ft.best_metric,
               "early_stopped": ft.early_stopped, "resumed_from_step": ft.resumed_from_step,
               "train_loss": ft.train_loss, "train_loss_steps": ft.train_loss_steps,
               "skipped_checkpoints": ft.skipped_checkpoints,
               "eval_history": [h for h in ft.log_history if any(k.startswith("eval_")
                                                                 for k in h)]})
    path = write_record(record, results)
    if not keep_checkpoints:  # (checkpoints-broken/, if any, stays: it was warned about)
        shutil.rmtree(cell / "checkpoints", ignore_errors=True)
    del net
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    _ = np  # numpy imported for predictions' default serialisation
    return CellOutcome(model_name, task_name, seed, "done", path, record)


def _head_dict(head: Any) -> dict[str, Any]:
    from dataclasses import asdict

    d = asdict(head)
    d["kind"] = str(getattr(head.kind, "value", head.kind))
    return d


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)
