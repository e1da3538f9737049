"""CoNLL-2003 column files for NER (one token per line, label = last column, space separated,
blank lines and ``-DOCSTART-`` end sentences), with IOB1 -> IOB2 conversion.

The original shared-task files use IOB1 (``I-X`` everywhere, ``B-X`` only between two adjacent
entities of one type); PIXEL's NER script and seqeval expect IOB2, so IOB1 input is converted
(``scheme="iob1"``, the default; ``"iob2"`` reads tags as they are).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ..errors import DataError
from .io import iter_lines

#: CoNLL-2003 in the Hugging Face order (with MISC); PIXEL's default list is MasakhaNER's
CONLL2003_LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]


def iob1_to_iob2(tags: Sequence[str]) -> list[str]:
    """``I-X`` becomes ``B-X`` when the previous tag is ``O``, of another type, or absent."""
    out: list[str] = []
    prev = "O"
    for tag in tags:
        if tag.startswith("I-"):
            typ = tag[2:]
            if prev == "O" or prev[2:] != typ:
                tag = "B-" + typ
        out.append(tag)
        prev = tag
    return out


def read_conll(path: str | Path, labels: Sequence[str] | None = CONLL2003_LABELS,
               scheme: str = "iob1") -> list[dict[str, Any]]:
    """Sentences as ``{"words": [...], "labels": [...]}`` in IOB2."""
    if scheme not in ("iob1", "iob2"):
        raise DataError(f"unknown tagging scheme {scheme!r} (iob1 or iob2)")
    sentences: list[dict[str, Any]] = []
    words: list[str] = []
    tags: list[str] = []
    lines: list[int] = []
    label_set = set(labels) if labels is not None else None

    def flush() -> None:
        nonlocal words, tags, lines
        if words:
            converted = iob1_to_iob2(tags) if scheme == "iob1" else tags
            if label_set is not None:
                for tag, ln in zip(converted, lines):
                    if tag not in label_set:
                        raise DataError(f"{path}:{ln}: label {tag!r} is not in the label set "
                                        f"({', '.join(labels)})")  # type: ignore[arg-type]
            sentences.append({"words": words, "labels": converted})
        words, tags, lines = [], [], []

    for lineno, line in iter_lines(path):
        if not line.strip() or line.startswith("-DOCSTART-"):
            flush()
            continue
        cols = line.split(" ")
        if len(cols) < 2 or not cols[0] or not cols[-1]:
            raise DataError(f"{path}:{lineno}: malformed CoNLL line: expected 'WORD ... LABEL' "
                            f"separated by single spaces, got {line[:80]!r}")
        words.append(cols[0])
        tags.append(cols[-1])
        lines.append(lineno)
    flush()
    if not sentences:
        raise DataError(f"{path}: no sentences (empty split)")
    return sentences


def hub_rows(ds: Any) -> list[dict[str, Any]]:
    """Rows of ``load_dataset("eriktks/conll2003")`` (IOB2 class ids) -> words + tag strings."""
    names = ds.features["ner_tags"].feature.names
    return [{"words": list(r["tokens"]), "labels": [names[i] for i in r["ner_tags"]]} for r in ds]
