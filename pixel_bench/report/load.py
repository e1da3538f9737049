"""Read result records into two pandas frames.

``records``: one row per readable record (model, task, seed, variant attributes, provenance).
``values``: the tidy frame, one row per record x split x metric with the record's columns repeated,
so a notebook can ``groupby`` it directly.

Unreadable files (corrupt or truncated JSON, unknown schema version, missing fields) never stop
the report; they are collected in :attr:`Results.skipped` with the reason. Records are written
atomically (temp file + rename), so reading while experiments run only ever sees whole files.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..cells import describe_nonstandard, nonstandard_of
from ..errors import DataError
from ..records import RecordError, ResultRecord, iter_records
from .names import task_key

ATTRIBUTES = ("architecture", "masking", "input")
# Provenance components that change scores; records differing in one are never averaged together.
PROVENANCE_KEYS = ("pixel_bench_version", "font_sha256", "renderer_fingerprint")

RECORD_COLUMNS = ["path", "model", "task", "task_key", "seed", "main_metric", "main_split",
                  "base_split", "family", *ATTRIBUTES, "pixel_bench_version", "font_sha256",
                  "renderer_name", "renderer_fingerprint", "data_fingerprint", "git_commit",
                  "prov_key", "nonstandard"]
VALUE_COLUMNS = [*RECORD_COLUMNS, "split", "metric", "value"]


@dataclass
class Results:
    """What :func:`load_results` read: both frames plus the files it had to skip and why."""

    records: pd.DataFrame
    values: pd.DataFrame
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def base_split(main_split: str) -> str:
    """The split family a record was scored on: "validation_matched" / "validation.fr" ->
    "validation". Layout columns add their own suffix ("_mismatched", ".de") to it."""
    base = str(main_split).split(".", 1)[0]
    for suffix in ("_mismatched", "_matched"):
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


def provenance_key(version: Any, font: Any, fingerprint: Any) -> str:
    """Short stable id of the provenance group (the three components joined and hashed)."""
    blob = "\x1f".join("" if v is None else str(v) for v in (version, font, fingerprint))
    return hashlib.sha256(blob.encode()).hexdigest()[:8]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _opt_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def record_row(path: Path, rec: ResultRecord) -> dict[str, Any]:
    """The record-level columns of one record."""
    info = _dict(rec.model_info)
    attrs = _dict(info.get("attributes"))
    prov = _dict(rec.provenance)
    renderer = _dict(prov.get("renderer"))
    version = _opt_str(prov.get("pixel_bench_version"))
    font = _opt_str(prov.get("font_sha256"))
    fingerprint = _opt_str(renderer.get("fingerprint"))
    row = {
        "path": str(path), "model": str(rec.model), "task": str(rec.task),
        "task_key": task_key(rec.task), "seed": rec.seed, "main_metric": str(rec.main_metric),
        "main_split": str(rec.main_split), "base_split": base_split(rec.main_split),
        "family": _opt_str(info.get("family")),
        "pixel_bench_version": version, "font_sha256": font,
        # the run loop writes the backend under "renderer" (render_info), the contract "name"
        "renderer_name": _opt_str(renderer.get("name") or renderer.get("renderer")),
        "renderer_fingerprint": fingerprint,
        "data_fingerprint": _data_fingerprint(prov),
        "git_commit": _opt_str(prov.get("git_commit")),
        "prov_key": provenance_key(version, font, fingerprint),
        # how the run deviates from the task's standard setup ("" = standard; pixel_bench.cells)
        "nonstandard": describe_nonstandard(nonstandard_of(rec)),
    }
    for name in ATTRIBUTES:
        row[name] = _opt_str(attrs.get(name))
    return row


def _data_fingerprint(prov: dict[str, Any]) -> str | None:
    """``provenance.data_fingerprint``, or one hash over the per-split fingerprints the run loop
    writes (``provenance.data.<split>.fingerprint``)."""
    if prov.get("data_fingerprint"):
        return str(prov["data_fingerprint"])
    data = _dict(prov.get("data"))
    parts = sorted(f"{split}={_dict(info).get('fingerprint')}" for split, info in data.items())
    return hashlib.sha256("\n".join(parts).encode()).hexdigest() if parts else None


def load_results(results: str | Path) -> Results:
    """Read every ``record.json`` under ``results``.

    Raises :class:`~pixel_bench.errors.DataError` only when ``results`` is not a directory; bad
    files are reported in ``Results.skipped``.
    """
    root = Path(results)
    if not root.is_dir():
        raise DataError(f"results folder {root} does not exist (pass --results DIR)")
    rows: list[dict[str, Any]] = []
    values: list[tuple[Any, ...]] = []
    skipped: list[tuple[str, str]] = []
    warnings: list[str] = []
    for path, rec in iter_records(root):
        if isinstance(rec, RecordError):
            skipped.append((str(path), str(rec)))
            continue
        if isinstance(rec.seed, bool) or not isinstance(rec.seed, int):
            skipped.append((str(path), f"{path}: 'seed' must be an integer, got {rec.seed!r}"))
            continue
        row = record_row(path, rec)
        rows.append(row)
        head = tuple(row[c] for c in RECORD_COLUMNS)
        for split, metrics in rec.metrics.items():
            for metric, value in metrics.items():
                number = _number(value)
                if number is None:
                    warnings.append(f"{path}: metric {metric!r} of split {split!r} is not a "
                                    f"number ({value!r}); ignored")
                    continue
                if abs(number) > 1.0 + 1e-9:
                    warnings.append(f"{path}: {split}/{metric} = {number} is outside [-1, 1]; "
                                    "records store fractions, is this a percentage?")
                values.append((*head, str(split), str(metric), number))
    records = pd.DataFrame(rows, columns=RECORD_COLUMNS)
    tidy = pd.DataFrame(values, columns=VALUE_COLUMNS)
    return Results(records=records, values=tidy, skipped=skipped, warnings=warnings)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value
