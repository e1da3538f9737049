"""SQuAD v1.1 JSON (``{"data": [{"title", "paragraphs": [{"context", "qas": [...]}]}]}``).

The whole file is checked when it is read, before anything is rendered or trained: its shape
(errors name the JSON path, e.g. ``data[3].paragraphs[0].qas[2]``, and the question id), that
every question has at least one answer (v1.1 has no unanswerable questions: training needs the
span and scoring the ground truths, in every split) and that ids are unique (predictions and
scores are keyed by id; a duplicate would be collapsed silently).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from ..errors import DataError
from .io import open_text

#: how many offending ids an error message lists before "... and N more"
SHOW_IDS = 5


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
        got = (f"'data' as a JSON {_kind(data['data'])}" if isinstance(data, dict) and "data" in data
               else f"an object with keys {sorted(data)[:8]}" if isinstance(data, dict)
               else f"a JSON {_kind(data)}")
        raise DataError(f"{path}: not SQuAD v1.1 JSON (expected an object with a 'data' list of "
                        f"articles, got {got})")
    rows: list[dict[str, Any]] = []
    squad2 = False  # 'is_impossible' keys: a SQuAD 2.0 file (said in the no-answer error)
    for a_idx, article in enumerate(data["data"]):
        where_a = f"data[{a_idx}]"
        _need(article, dict, path, where_a, "an article object")
        title = article.get("title", "")
        _need(article.get("paragraphs"), list, path, f"{where_a}.paragraphs",
              "a list of paragraphs", missing="paragraphs" not in article)
        for p_idx, para in enumerate(article["paragraphs"]):
            where_p = f"{where_a}.paragraphs[{p_idx}]"
            _need(para, dict, path, where_p, "a paragraph object")
            context = para.get("context")
            _need(context, str, path, f"{where_p}.context", "the context text",
                  missing="context" not in para)
            _need(para.get("qas"), list, path, f"{where_p}.qas", "a list of questions",
                  missing="qas" not in para)
            for q_idx, qa in enumerate(para["qas"]):
                where_q = f"{where_p}.qas[{q_idx}]"
                _need(qa, dict, path, where_q, "a question object")
                qid = qa.get("id")
                if isinstance(qid, bool) or not isinstance(qid, (str, int)) or qid == "":
                    raise DataError(f"{path}: {where_q}: " + (
                        "missing key 'id'" if "id" not in qa else f"'id' must be a string, got "
                        f"{qid!r}") + " (SQuAD questions need unique ids for scoring)")
                qid = str(qid)
                _need(qa.get("question"), str, path, f"question {qid} ({where_q}.question)",
                      "the question text", missing="question" not in qa)
                answers = qa.get("answers", [])
                _need(answers, list, path, f"question {qid} ({where_q}.answers)",
                      "a list of answers")
                squad2 = squad2 or "is_impossible" in qa
                texts, starts = [], []
                for ans in answers:
                    text, start = (ans.get("text"), ans.get("answer_start")) \
                        if isinstance(ans, dict) else (None, None)
                    if not isinstance(text, str) or not isinstance(start, int) \
                            or isinstance(start, bool):
                        raise DataError(f"{path}: question {qid}: answer needs 'text' and an "
                                        f"integer 'answer_start' (got {ans!r:.80})")
                    if text not in context:
                        raise DataError(f"{path}: question {qid}: answer {text!r} does not occur "
                                        "in its context")
                    if check_offsets and context[start:start + len(text)] != text:
                        raise DataError(f"{path}: question {qid}: answer_start {start} does not "
                                        f"point at the answer {text!r}")
                    texts.append(text)
                    starts.append(start)
                rows.append({"id": qid, "title": title, "question": qa["question"],
                             "context": context,
                             "answers": {"text": texts, "answer_start": starts}})
    if not rows:
        raise DataError(f"{path}: no questions (empty split)")
    check_rows(rows, str(path), squad2=squad2)
    return rows


def check_rows(rows: list[dict[str, Any]], origin: str, squad2: bool = False) -> None:
    """SQuAD v1.1 rules over all questions of a split: each has an answer, ids are unique."""
    unanswered = [r["id"] for r in rows if not r["answers"]["text"]]
    if unanswered:
        raise DataError(
            f"{origin}: {len(unanswered)} question(s) without an answer: {_ids(unanswered)}. "
            "SQuAD v1.1 needs at least one answer per question in every split (training needs "
            "the span, scoring the ground truths)"
            + ("; this looks like SQuAD 2.0 ('is_impossible'), which is not supported"
               if squad2 else ""))
    dup = [qid for qid, n in Counter(r["id"] for r in rows).items() if n > 1]
    if dup:
        raise DataError(f"{origin}: duplicate question id(s) {_ids(dup)}; predictions and "
                        "scores are keyed by id, so each question needs its own")


def hub_rows(ds: Any) -> list[dict[str, Any]]:
    """Rows of ``load_dataset("rajpurkar/squad")`` (already in this shape), checked like a file."""
    rows = [{"id": str(r["id"]), "title": r.get("title", ""), "question": r["question"],
             "context": r["context"],
             "answers": {"text": list(r["answers"]["text"]),
                         "answer_start": list(r["answers"]["answer_start"])}} for r in ds]
    check_rows(rows, "hub:rajpurkar/squad")
    return rows


def _need(value: Any, typ: type, path: Path, where: str, what: str,
          missing: bool = False) -> None:
    if missing:
        raise DataError(f"{path}: {where}: missing (expected {what})")
    if not isinstance(value, typ):
        raise DataError(f"{path}: {where}: expected {what}, got a JSON {_kind(value)}")


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
            float: "number", type(None): "null"}.get(type(value), type(value).__name__)


def _ids(ids: Iterable[str]) -> str:
    ids = list(ids)
    shown = ", ".join(repr(i) for i in ids[:SHOW_IDS])
    return shown + (f" ... and {len(ids) - SHOW_IDS} more" if len(ids) > SHOW_IDS else "")
