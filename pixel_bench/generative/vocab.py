"""The known-word list behind "readability" (is the OCR'd word a word at all?).

PIXAR used ``storage/unigram_freq.csv`` (the Kaggle English word-frequency list, 333k words, not
in its repository) plus every alphabetic word of the task data, lower-cased. Here: the
``wordfreq`` package's large English list (shipped inside its wheel; ~320k forms) plus the
task data's words, the same construction from a list we can install. Without wordfreq the list
falls back to the task data alone, and the record says so.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Iterable

_WORDS = re.compile(r"[a-zA-Z]+")


def words_of(texts: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for t in texts:
        out.update(w.lower() for w in _WORDS.findall(t or ""))
    return out


@lru_cache(maxsize=1)
def _wordfreq_english() -> tuple[frozenset[str], str] | None:
    try:
        import importlib.metadata as md

        from wordfreq import iter_wordlist
    except ImportError:
        return None
    words = frozenset(w for w in iter_wordlist("en", wordlist="large") if _WORDS.fullmatch(w))
    return words, f"wordfreq {md.version('wordfreq')} large en"


def build_vocabulary(rows: Iterable[dict[str, Any]], use_wordfreq: bool = True
                     ) -> tuple[frozenset[str], dict[str, Any]]:
    """(lower-cased words, provenance) from the rows' prompts and targets (+ wordfreq)."""
    rows = list(rows)
    data = words_of([r.get("prompt", "") for r in rows] + [r.get("target", "") for r in rows])
    info: dict[str, Any] = {"task_words": len(data)}
    wf = _wordfreq_english() if use_wordfreq else None
    if wf is not None:
        words = data | wf[0]
        info["source"] = f"{wf[1]} + task data"
    else:
        words = data
        info["source"] = "task data only" + ("" if not use_wordfreq else
                                             " (wordfreq not installed)")
    info["size"] = len(words)
    return frozenset(words), info
