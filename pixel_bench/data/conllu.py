"""CoNLL-U reader for POS tagging (UD English-EWT), as PIXEL's ``run_pos.py`` reads it.

Word = column 2 (FORM), label = column 4 (UPOS). Only token lines whose ID is all digits are
words: multiword-token ranges (``1-2``) and empty nodes (``8.1``) are skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Sequence

from ..errors import DataError
from .io import iter_lines

#: UPOS in PIXEL's fixed order (xplip/pixel scripts/training/run_pos.py)
UPOS_LABELS = ["ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON",
               "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X"]


def iter_tokens(path: str | Path) -> Iterator[tuple[int, list[str] | None]]:
    """``(line number, the 10 columns)`` for every word line of a CoNLL-U file and
    ``(line number, None)`` at each blank line (a sentence boundary). Comments, multiword-token
    ranges (``1-2``) and empty nodes (``8.1``) are skipped; anything else malformed is a
    DataError naming file and line."""
    for lineno, line in iter_lines(path):
        if not line.strip():
            yield lineno, None
            continue
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 10:
            raise DataError(f"{path}:{lineno}: malformed CoNLL-U line: expected 10 tab-separated "
                            f"columns, got {len(cols)}: {line[:80]!r}")
        token_id = cols[0]
        if not token_id.isdigit():
            if "-" in token_id or "." in token_id:  # multiword range / empty node
                continue
            raise DataError(f"{path}:{lineno}: malformed CoNLL-U token id {token_id!r}")
        yield lineno, cols


def read_conllu(path: str | Path, labels: Sequence[str] | None = UPOS_LABELS,
                column: int = 3) -> list[dict[str, Any]]:
    """Sentences as ``{"words": [...], "labels": [...]}`` (``column`` is 0-based: 3 = UPOS)."""
    label_set = set(labels) if labels is not None else None
    sentences: list[dict[str, Any]] = []
    words: list[str] = []
    tags: list[str] = []
    for lineno, cols in iter_tokens(path):
        if cols is None:
            if words:
                sentences.append({"words": words, "labels": tags})
                words, tags = [], []
            continue
        tag = cols[column]
        if label_set is not None and tag not in label_set:
            raise DataError(f"{path}:{lineno}: label {tag!r} is not in the label set "
                            f"({', '.join(labels)})")  # type: ignore[arg-type]
        words.append(cols[1])
        tags.append(tag)
    if words:
        sentences.append({"words": words, "labels": tags})
    if not sentences:
        raise DataError(f"{path}: no sentences (empty split)")
    return sentences


def hub_rows(ds: Any) -> list[dict[str, Any]]:
    """Rows of ``load_dataset("universal_dependencies", "en_ewt")`` (UPOS stored as class ids in
    the hub's own label order) mapped to words + UPOS strings."""
    names = ds.features["upos"].feature.names
    return [{"words": list(r["tokens"]), "labels": [names[i] for i in r["upos"]]} for r in ds]
