"""GLUE task files (``download_glue_data.py`` TSVs, read with quoting disabled) and MNLI jsonl.

Each task is described by a :class:`GlueFormat`: which columns hold text A, text B and the label,
whether the file has a header, and how labels map to class ids (HF ``glue`` order).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..errors import DataError
from .io import iter_lines

# PIXEL's ``glue_strip_spaces`` (xplip/pixel src/pixel/utils/misc.py): plain replacements, in order,
# so e.g. ``it 's`` -> ``it's`` and ``( a )`` -> ``(a)``. Naive on purpose (kept faithful): quotes
# lose the space on both sides regardless of whether they open or close.
_STRIP_RULES: tuple[tuple[str, str], ...] = (
    (" ,", ","), (" .", "."), (" !", "!"), (" ?", "?"), (" #", "#"), (" /", "/"),
    (' "', '"'), ('" ', '"'), (" '", "'"), ("' ", "'"), (" n't", "n't"),
    ("( ", "("), (" )", ")"), ("[ ", "["), (" ]", "]"),
)


def glue_strip_spaces(text: str) -> str:
    """Remove the spaces PTB-style tokenisation put around punctuation (PIXEL's GLUE pre-step)."""
    for old, new in _STRIP_RULES:
        text = text.replace(old, new)
    return text


@dataclass(frozen=True)
class GlueFormat:
    """Column layout of one GLUE TSV (columns by header name, or by index when no header)."""

    text_a: str | int
    label: str | int
    text_b: str | int | None = None
    header: bool = True
    labels: tuple[str, ...] | None = None  # label strings in class-id order; None: regression


def _col(cols: list[str], header: list[str] | None, key: str | int, path: Path, lineno: int,
         ) -> str:
    if isinstance(key, str):
        assert header is not None
        idx = header.index(key)
    else:
        idx = key
    if idx >= len(cols):
        raise DataError(f"{path}:{lineno}: missing column "
                        f"{key!r} (line has {len(cols)} tab-separated columns)")
    return cols[idx]


def read_glue_tsv(path: str | Path, fmt: GlueFormat, strip_spaces: bool = True,
                  ) -> list[dict[str, Any]]:
    """Rows ``{"text": str | (str, str), "label": int | float}``."""
    path = Path(path)
    rows: list[dict[str, Any]] = []
    header: list[str] | None = None
    prep = glue_strip_spaces if strip_spaces else (lambda s: s)
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        cols = line.split("\t")
        if fmt.header and header is None:
            header = cols
            for key in (fmt.text_a, fmt.text_b, fmt.label):
                if isinstance(key, str) and key not in header:
                    raise DataError(f"{path}:{lineno}: header lacks column {key!r} "
                                    f"(has {', '.join(header)})")
            continue
        a = prep(_col(cols, header, fmt.text_a, path, lineno))
        text: Any = a
        if fmt.text_b is not None:
            text = (a, prep(_col(cols, header, fmt.text_b, path, lineno)))
        raw = _col(cols, header, fmt.label, path, lineno).strip()
        rows.append({"text": text, "label": _label(raw, fmt.labels, path, lineno)})
    if not rows:
        raise DataError(f"{path}: no examples (empty split)")
    return rows


def _label(raw: str, labels: Sequence[str] | None, path: Path | str, lineno: int) -> int | float:
    if labels is None:
        try:
            return float(raw)
        except ValueError:
            raise DataError(f"{path}:{lineno}: regression label {raw!r} is not a number") from None
    if raw not in labels:
        raise DataError(f"{path}:{lineno}: label {raw!r} is not in the label set "
                        f"({', '.join(labels)})")
    return labels.index(raw)


#: MultiNLI's own jsonl field names (text A, text B, label)
MULTINLI_FIELDS = ("sentence1", "sentence2", "gold_label")


def read_nli_jsonl(path: str | Path, labels: Sequence[str], text_a: str = "premise",
                   text_b: str = "hypothesis", label: str = "label", strip_spaces: bool = True,
                   ) -> list[dict[str, Any]]:
    """One JSON object per line (MNLI as in the shared ``generative-nli`` copy, or MultiNLI's
    own ``sentence1``/``sentence2``/``gold_label`` jsonl). Pairs labelled ``-`` (no annotator
    majority) are skipped, as GLUE does."""
    prep = glue_strip_spaces if strip_spaces else (lambda s: s)
    rows: list[dict[str, Any]] = []
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{lineno}: malformed JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{path}:{lineno}: expected one JSON object per line, got "
                            f"{type(obj).__name__} {str(obj)[:60]!r}")
        layouts = ((text_a, text_b, label), MULTINLI_FIELDS)
        keys = next((k for k in layouts if k[0] in obj), layouts[0])
        missing = [k for k in keys if k not in obj]
        if missing:
            raise DataError(f"{path}:{lineno}: missing field(s) {', '.join(missing)}; expected "
                            + " or ".join("/".join(k) for k in layouts)
                            + f" (the line has: {', '.join(map(str, obj)) or 'no fields'})")
        for key in keys:
            if not isinstance(obj[key], str):
                raise DataError(f"{path}:{lineno}: field {key!r} must be a string, got "
                                f"{obj[key]!r}")
        if obj[keys[2]] == "-":
            continue
        rows.append({"text": (prep(obj[keys[0]]), prep(obj[keys[1]])),
                     "label": _label(obj[keys[2]], labels, path, lineno)})
    if not rows:
        raise DataError(f"{path}: no examples (empty split)")
    return rows


def hub_rows(ds: Any, keys: Sequence[str], regression: bool = False, strip_spaces: bool = True,
             ) -> list[dict[str, Any]]:
    """Rows of ``load_dataset("nyu-mll/glue", task)`` (labels are already class ids)."""
    prep = glue_strip_spaces if strip_spaces else (lambda s: s)
    rows = []
    for r in ds:
        text: Any = prep(r[keys[0]]) if len(keys) == 1 else (prep(r[keys[0]]), prep(r[keys[1]]))
        rows.append({"text": text, "label": float(r["label"]) if regression else int(r["label"])})
    return rows
