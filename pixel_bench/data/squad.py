"""SQuAD v1.1 JSON (``{"data": [{"title", "paragraphs": [{"context", "qas": [...]}]}]}``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import DataError
from .io import open_text


def read_squad(path: str | Path, check_offsets: bool = True) -> list[dict[str, Any]]:
    """Questions as ``{"id", "title", "question", "context", "answers": {"text", "answer_start"}}``.

    Every answer must occur in its context; with ``check_offsets`` an ``answer_start`` that does
    not point at the answer text is an error too (the shared reconstruction sets it to the first
    occurrence, which always points at the text)."""
    path = Path(path)
    try:
        with open_text(path) as fh:
            data = json.load(fh)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: malformed SQuAD JSON ({exc.msg})") from None
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{path}: unreadable ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise DataError(f"{path}: not SQuAD JSON (expected an object with a 'data' list)")
    rows: list[dict[str, Any]] = []
    for article in data["data"]:
        title = article.get("title", "")
        for p_idx, para in enumerate(article.get("paragraphs", [])):
            context = para.get("context")
            if not isinstance(context, str):
                raise DataError(f"{path}: article {title!r} paragraph {p_idx} has no context")
            for qa in para.get("qas", []):
                qid = qa.get("id", f"{title}-{p_idx}-{len(rows)}")
                texts, starts = [], []
                for ans in qa.get("answers", []):
                    text, start = ans.get("text"), ans.get("answer_start")
                    if not isinstance(text, str) or not isinstance(start, int):
                        raise DataError(f"{path}: question {qid}: answer needs 'text' and an "
                                        "integer 'answer_start'")
                    if text not in context:
                        raise DataError(f"{path}: question {qid}: answer {text!r} does not occur "
                                        "in its context")
                    if check_offsets and context[start:start + len(text)] != text:
                        raise DataError(f"{path}: question {qid}: answer_start {start} does not "
                                        f"point at the answer {text!r}")
                    texts.append(text)
                    starts.append(start)
                if "question" not in qa:
                    raise DataError(f"{path}: question {qid} has no 'question' text")
                rows.append({"id": str(qid), "title": title, "question": qa["question"],
                             "context": context,
                             "answers": {"text": texts, "answer_start": starts}})
    if not rows:
        raise DataError(f"{path}: no questions (empty split)")
    return rows


def hub_rows(ds: Any) -> list[dict[str, Any]]:
    """Rows of ``load_dataset("rajpurkar/squad")`` (already in this shape)."""
    return [{"id": r["id"], "title": r.get("title", ""), "question": r["question"],
             "context": r["context"],
             "answers": {"text": list(r["answers"]["text"]),
                         "answer_start": list(r["answers"]["answer_start"])}} for r in ds]
