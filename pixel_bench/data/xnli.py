"""XNLI: the XTREME per-language TSV (``dev-<lang>.tsv``: premise, hypothesis, label; no header,
CRLF) as stored in ``../shared/data/xnli``; hub fallback ``facebook/xnli`` per language."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import DataError
from .glue import _label, glue_strip_spaces
from .io import iter_lines

XNLI_LANGUAGES = ["ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur",
                  "vi", "zh"]
NLI_LABELS = ["entailment", "neutral", "contradiction"]


def read_xnli_tsv(path: str | Path, strip_spaces: bool = True) -> list[dict[str, Any]]:
    rows = []
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) != 3:
            raise DataError(f"{path}:{lineno}: expected 3 tab-separated columns "
                            f"(premise, hypothesis, label), got {len(cols)}")
        a, b, lab = cols
        if lab == "contradictory":  # the official XNLI spelling; XTREME maps it
            lab = "contradiction"
        prep = glue_strip_spaces if strip_spaces else (lambda s: s)
        rows.append({"text": (prep(a), prep(b)), "label": _label(lab, NLI_LABELS, path, lineno)})
    if not rows:
        raise DataError(f"{path}: no examples (empty split)")
    return rows
