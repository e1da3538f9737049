"""Readers for the generative tasks: LAMBADA (OpenAI jsonl) and bAbI task files.

LAMBADA (``lambada_test.jsonl[.gz]``, one ``{"text": ...}`` per line): as PIXAR's notebook, the
passage is split on whitespace, the last token is the target and the others, joined by single
spaces, go through :func:`detokenize` (PIXAR's ``process_lambda``, written for the Hugging Face
``lambada`` copy, which is tokenised and lower-cased). The OpenAI file is already detokenised and
cased; the pass changes little there (it still drops a space before ``(`` and before quotes
followed by a letter, as the original does).

bAbI (``qa<N>_*_{train,test}.txt[.gz]``, v1.2 format ``<id> <text>[\\t<answer>\\t<support>]``):
PIXAR called the bAbI generator (``gen_babi(task, n, '|', '')``) and built one sample per story:
every line's text in order, each question followed by ``|`` and its answer, the last answer
being the target and everything before it (joined by single spaces) the prompt. So a sample asks
the story's last question with the earlier questions and their answers in context::

    Mary moved to the bathroom. John went to the hallway. Where is Mary?  | bathroom ... Where is
    Daniel?  |        -> target "hallway"

(The question text keeps bAbI's trailing space before the tab, as the original regex does, so
``?`` and ``|`` are two spaces apart.) We freeze the public test file instead of sampling the
generator: ``questions="last"`` (PIXAR's format, one sample per story) or ``"all"`` (one sample
per question, the story cut after it: same format, five times as many samples).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..errors import DataError
from .io import iter_lines

BABI_LINE = re.compile(r"^(\d+) ([^\t]*)(?:\t([^\t]*)\t([\d ]*))?$")
ANSWER_PROMPT = "|"  # PIXAR's gen_babi(..., prompt='|', after_prompt='')


def detokenize(raw: str) -> str:
    """PIXAR's ``process_lambda``: PTB quotes to ``"``, then drop a space that precedes one of
    ``,.?><{}()'`` or a contraction (``n't 're 'd 's 'm``). The last character is always kept."""
    raw = raw.replace("`` ", '"').replace(" ''", '"').replace("``", '"').replace("''", '"')
    if not raw:
        return raw
    out = []
    for i in range(len(raw) - 1):
        c, nxt = raw[i], raw[i + 1]
        if c == " ":
            if nxt in ",.?><{}()'":
                continue
            if raw[i + 1:i + 4] in ("n't", "'re") or raw[i + 1:i + 3] in ("'d", "'s", "'m"):
                continue
        out.append(c)
    out.append(raw[-1])
    return "".join(out)


def lambada_example(text: str, detok: bool = True) -> dict[str, str]:
    words = text.split()
    if len(words) < 2:
        raise DataError(f"LAMBADA passage with fewer than two words: {text[:60]!r}")
    context = " ".join(words[:-1])
    return {"prompt": detokenize(context) if detok else context, "target": words[-1]}


def read_lambada(path: str | Path, detok: bool = True) -> list[dict[str, Any]]:
    rows = []
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        try:
            text = json.loads(line)["text"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DataError(f"{path}:{lineno}: expected a JSON object with a 'text' field "
                            f"({type(exc).__name__}: {exc})") from None
        if not isinstance(text, str):
            raise DataError(f"{path}:{lineno}: 'text' must be a string")
        try:
            ex = lambada_example(text, detok)
        except DataError as exc:
            raise DataError(f"{path}:{lineno}: {exc}") from None
        rows.append({"id": len(rows), **ex})
    return rows


def read_babi(path: str | Path, questions: str = "last") -> list[dict[str, Any]]:
    """Samples in PIXAR's prompt format (see the module docstring)."""
    if questions not in ("last", "all"):
        raise DataError(f"bAbI questions must be 'last' or 'all', got {questions!r}")
    stories: list[list[tuple[str, str | None]]] = []
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        m = BABI_LINE.match(line)
        if m is None:
            raise DataError(f"{path}:{lineno}: not a bAbI line ('<id> <text>[\\t<answer>\\t"
                            f"<supporting ids>]'): {line[:80]!r}")
        if m.group(1) == "1" or not stories:
            stories.append([])
        stories[-1].append((m.group(2), m.group(3)))
    rows: list[dict[str, Any]] = []
    for s, story in enumerate(stories):
        parts: list[str] = []
        samples = []
        for text, answer in story:
            parts.append(text)
            if answer is not None:
                samples.append((" ".join(parts + [ANSWER_PROMPT]), answer))
                parts += [ANSWER_PROMPT, answer]
        if not samples:
            continue
        chosen = samples if questions == "all" else samples[-1:]
        for q, (prompt, target) in enumerate(chosen):
            rows.append({"id": len(rows), "story": s, "question": q if questions == "all"
                         else len(samples) - 1, "prompt": prompt, "target": target})
    return rows
