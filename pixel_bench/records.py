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
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

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
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def record_dir(results: Path, model: str, task: str, seed: int) -> Path:
    return Path(results) / _safe(model) / _safe(task) / f"seed-{seed}"


def _safe(name: str) -> str:
    return name.replace("/", "__")


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so a reader never sees a partial file (tmp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_record(record: ResultRecord, results: Path) -> Path:
    out = record_dir(results, record.model, record.task, record.seed) / RECORD_FILE
    atomic_write_text(out, json.dumps(record.to_dict(), indent=2, sort_keys=True, default=str)
                      + "\n")
    return out


def read_record(path: Path) -> ResultRecord:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RecordError(f"{path}: corrupt or truncated JSON ({exc.msg}: line {exc.lineno} "
                          f"column {exc.colno})") \
            from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(f"{path}: unreadable ({exc})") from None
    return ResultRecord.from_dict(data, source=str(path))


def has_record(results: Path, model: str, task: str, seed: int) -> bool:
    return (record_dir(results, model, task, seed) / RECORD_FILE).is_file()


def iter_records(results: Path) -> Iterator[tuple[Path, ResultRecord | RecordError]]:
    """Yield every ``record.json`` under ``results`` with its record, or the reason it failed."""
    for path in sorted(Path(results).rglob(RECORD_FILE)):
        try:
            yield path, read_record(path)
        except RecordError as exc:
            yield path, exc
