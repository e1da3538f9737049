"""Result records: one self-describing JSON file per model x task x seed.

Layout: ``<results>/<model>/<task>/seed-<n>/record.json`` with ``predictions.jsonl`` beside it.
This module is the only place that knows the schema; it imports nothing heavy, so the report can
read thousands of records quickly while experiments are still writing them.

Metric values are stored as fractions (accuracy 0.967, F1 0.895, Pearson 0.81); reports scale them.
Splits are keyed by name (``validation``, ``validation_matched``, ``validation_mismatched``, ``test``,
or ``validation.<lang>`` for XNLI).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

# atomic_write_text lives in io_utils (the one atomic writer); re-exported for its many callers.
from .io_utils import atomic_write_text, read_json

SCHEMA_VERSION = 1
RECORD_FILE = "record.json"
PREDICTIONS_FILE = "predictions.jsonl"


class RecordError(ValueError):
    """A record file is unreadable, truncated, of an unknown schema or missing a field."""


@dataclass
class ResultRecord:
    model: str  # the model name as the user gave it (e.g. "pixel-tiny", "pixar-encdec-span-binary")
    task: str  # task name (e.g. "pos", "mnli", "xnli")
    seed: int
    metrics: dict[str, dict[str, float]]  # split -> metric name -> value (fraction)
    main_metric: str  # e.g. "accuracy", "f1", "matthews_correlation", "spearmanr"
    main_split: str = "validation"
    config: dict[str, Any] = field(default_factory=dict)  # the resolved recipe and settings
    model_info: dict[str, Any] = field(default_factory=dict)  # family, variant attributes, ckpt
    provenance: dict[str, Any] = field(default_factory=dict)  # versions, font sha, data, hw
    counts: dict[str, int] = field(default_factory=dict)  # examples, truncated, words dropped
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    train: dict[str, Any] = field(default_factory=dict)  # steps, best step, early stopping
    # what the result was computed from (pixel_bench.cells): {"scheme", "key", "fields",
    # "nonstandard"}; {} in records written before identities existed ("unknown identity")
    identity: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    # -- convenience -------------------------------------------------------------------------
    def main_score(self) -> float | None:
        return self.metrics.get(self.main_split, {}).get(self.main_metric)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, source: str = "<record>") -> "ResultRecord":
        if not isinstance(data, dict):
            raise RecordError(f"{source}: expected a JSON object")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise RecordError(f"{source}: unknown schema_version {version!r} "
                              f"(this pixel-bench reads {SCHEMA_VERSION})")
        missing = [k for k in ("model", "task", "seed", "metrics", "main_metric") if k not in data]
        if missing:
            raise RecordError(f"{source}: missing field(s) {', '.join(missing)}")
        if not isinstance(data["metrics"], dict) or not all(
                isinstance(v, dict) for v in data["metrics"].values()):
            raise RecordError(f"{source}: 'metrics' must map split names to metric dicts")
        seed = data["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise RecordError(f"{source}: 'seed' must be an integer, got {seed!r}")
        for key in ("model", "task", "main_metric"):
            if not isinstance(data[key], str):
                raise RecordError(f"{source}: {key!r} must be a string, got {data[key]!r}")
        for key in ("config", "model_info", "provenance", "counts", "timings", "train",
                    "identity"):
            if key in data and not isinstance(data[key], dict):
                raise RecordError(f"{source}: {key!r} must be a JSON object")
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


# -- assembling records (the run loop and zero-shot tasks call these) --------------------------
def model_info(spec: Any, **extra: Any) -> dict[str, Any]:
    """The ``model_info`` block: the card's facts and the weights of a :class:`RunSpec`."""
    card = spec.adapter.card
    return {"name": spec.model, "family": card.family, "size": card.size,
            "hub_id": card.hub_id, "attributes": dict(card.attributes),
            "weights": spec.weights, "checkpoint": spec.checkpoint, **extra}


def run_config(spec: Any, **extra: Any) -> dict[str, Any]:
    """The ``config`` block's common part: the recipe as resolved (never changed by the run)
    and where each value came from, the data folder, limit and command-line overrides."""
    return {"recipe": spec.recipe.to_dict(), "recipe_source": dict(spec.recipe.source),
            "data_dir": spec.data_dir, "limit": spec.limit,
            "cli_overrides": dict(spec.overrides), **extra}


#: counts summed over the splits as well as kept per split
SUMMED_COUNTS = ("truncated", "words_dropped", "dropped_words", "unknown_glyphs", "windows")


def split_counts(splits: dict[str, Any], trained_on: Any = None) -> dict[str, int]:
    """``<split>.<count>`` for every split, the :data:`SUMMED_COUNTS` totals, and
    ``train_examples`` (0 when nothing was trained)."""
    counts: dict[str, int] = {}
    for split, enc in splits.items():
        for k, v in enc.counts.items():
            counts[f"{split}.{k}"] = int(v)
    for k in SUMMED_COUNTS:
        if any(k in enc.counts for enc in splits.values()):
            counts[k] = sum(int(enc.counts.get(k, 0)) for enc in splits.values())
    counts["train_examples"] = len(trained_on.rows) if trained_on is not None else 0
    return counts


def finetune_record(prep: Any, seed: int, metrics: dict[str, dict[str, float]], ft: Any,
                    head: Any, timings: dict[str, float], identity: dict[str, Any], *,
                    parameters: int, newly_initialized: Any = None) -> ResultRecord:
    """The record of one fine-tuned (or ``max_steps 0``) cell from the prepared run
    (:class:`pixel_bench.runner.Prepared`), its scores and the training result."""
    from .provenance import provenance

    spec = prep.spec
    task = spec.task
    eval_only = spec.recipe.evaluate_only
    renderer = prep.renderer
    config = run_config(
        spec, train_split=spec.train_split, missing_splits=prep.missing_splits,
        scored_splits=list(metrics), model_selection_split=None if eval_only else task.main_split,
        evaluate_only=eval_only, precision=ft.precision,
        renderer=renderer.name if renderer else None, lengths=prep.lengths(),
        head=_head_dict(head))
    if renderer is not None and renderer.note:
        config["renderer_note"] = renderer.note
    trained_on = None if eval_only else prep.splits.get(spec.train_split)
    return ResultRecord(
        model=spec.model, task=task.name, seed=seed, metrics=metrics,
        main_metric=task.main_metric, main_split=task.main_split, config=config,
        model_info=model_info(spec, newly_initialized=newly_initialized, parameters=parameters),
        provenance=provenance(
            renderer=prep.render_info, font_sha256=prep.render_info.get("font_sha256"),
            data={s: {"source": prep.origins.get(s), "fingerprint": e.data_fingerprint,
                      "examples": len(e.rows)} for s, e in prep.splits.items()}),
        counts=split_counts(prep.splits, trained_on),
        timings={k: round(float(v), 3) for k, v in timings.items()}, identity=identity,
        train={"steps": ft.steps, "max_steps": spec.recipe.max_steps, "evaluate_only": eval_only,
               "best_step": ft.best_step, "best_metric": ft.best_metric,
               "early_stopped": ft.early_stopped, "resumed_from_step": ft.resumed_from_step,
               "train_loss": ft.train_loss, "train_loss_steps": ft.train_loss_steps,
               "skipped_checkpoints": ft.skipped_checkpoints,
               "eval_history": [h for h in ft.log_history if any(k.startswith("eval_")
                                                                 for k in h)]})


def _head_dict(head: Any) -> dict[str, Any]:
    d = asdict(head)
    d["kind"] = str(getattr(head.kind, "value", head.kind))
    return d


def record_dir(results: Path, model: str, task: str, seed: int) -> Path:
    return Path(results) / _safe(model) / _safe(task) / f"seed-{seed}"


def _safe(name: str) -> str:
    return name.replace("/", "__")


def write_record(record: ResultRecord, results: Path) -> Path:
    out = record_dir(results, record.model, record.task, record.seed) / RECORD_FILE
    atomic_write_text(out, json.dumps(record.to_dict(), indent=2, sort_keys=True, default=str)
                      + "\n")
    return out


def read_record(path: Path) -> ResultRecord:
    path = Path(path)
    return ResultRecord.from_dict(read_json(path, "result record", RecordError),
                                  source=str(path))


def read_cell_record(results: Path, model: str, task: str, seed: int) -> ResultRecord | None:
    """The record of one cell, validated; None when the cell has none. A file that is corrupt,
    of an unknown schema or written for another cell raises :class:`RecordError`."""
    path = record_dir(results, model, task, seed) / RECORD_FILE
    if not path.exists():
        return None
    rec = read_record(path)
    if (rec.model, rec.task, rec.seed) != (model, task, seed):
        raise RecordError(f"{path}: holds the record of {rec.model} / {rec.task} / seed "
                          f"{rec.seed}, not of this cell ({model} / {task} / seed {seed})")
    return rec


def has_record(results: Path, model: str, task: str, seed: int) -> bool:
    """True only for a readable, valid record of this very cell (a corrupt one does not count)."""
    try:
        return read_cell_record(results, model, task, seed) is not None
    except RecordError:
        return False


def iter_records(results: Path) -> Iterator[tuple[Path, ResultRecord | RecordError]]:
    """Yield every ``record.json`` under ``results`` with its record, or the reason it failed."""
    for path in sorted(Path(results).rglob(RECORD_FILE)):
        try:
            yield path, read_record(path)
        except RecordError as exc:
            yield path, exc
