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
