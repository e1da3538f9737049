"""Scores of a generated word: the PIXAR-compatible figures and the corrected one.

PIXAR's notebooks (april-tools/pixar ``lambada.ipynb``, ``babi.ipynb``) score OCR output with
two scorers, reproduced here quirks and all:

* ``lambada`` (``_evluate`` in lambada.ipynb): the prediction is the alphabetic run at the very
  start of the OCR string (``re.match('([a-zA-Z]+)')``: a leading space or quote gives ``''``);
  the *target* is folded ``g -> q`` and lower-cased, but the prediction's fold is computed and
  thrown away (``text.replace('g', 'q').lower()`` without assignment). So a prediction with a
  capital letter or a lower-case ``g`` can never match. Readable = the prediction lower-cased is
  in the vocabulary.
* ``babi`` (``evaluate_babi``, also what printed the notebook's final LAMBADA figures): prediction
  = ``re.match('^([a-zA-Z]*)')``, both sides folded ``g -> q``, compared **case-sensitively**
  (nothing is lower-cased). Readable = the first whitespace token of the OCR string, lower-cased
  *with* its punctuation, is in the vocabulary.

The corrected scorer (the main metric): the first alphabetic word anywhere in the OCR output,
both sides lower-cased and folded ``g -> q`` (the pixel font draws g and q alike, so the fold is
kept, symmetrically); readable = that word is in the vocabulary. "union" = either OCR engine
right, per example.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping

WORD = re.compile(r"[A-Za-z]+")
_PIXAR_LAMBADA_PAT = re.compile(r"([a-zA-Z]+)")
_PIXAR_BABI_PAT = re.compile(r"^([a-zA-Z]*)")
PIXAR_SCORERS = ("lambada", "babi")


def first_word(text: str) -> str:
    """The first alphabetic word anywhere in ``text`` ('' when there is none)."""
    m = WORD.search(text or "")
    return m.group(0) if m else ""


def fold(word: str) -> str:
    """Lower-case and fold g -> q (the corrected comparison key)."""
    return word.lower().replace("g", "q")


def target_word(target: str) -> str:
    """The gold word as the corrected scorer compares it: its first alphabetic word (LAMBADA
    targets are whitespace tokens; a stray quote or period must not make them unmatchable)."""
    return first_word(target)


@dataclass(frozen=True)
class WordScore:
    prediction: str  # the word this scorer extracted
    correct: bool
    readable: bool


def score_corrected(ocr_text: str, target: str, vocab: frozenset[str] | set[str]) -> WordScore:
    pred = first_word(ocr_text)
    gold = target_word(target)
    return WordScore(pred, bool(pred) and bool(gold) and fold(pred) == fold(gold),
                     bool(pred) and pred.lower() in vocab)


def score_pixar(ocr_text: str, target: str, vocab: frozenset[str] | set[str],
                scorer: str) -> WordScore:
    """One OCR string scored exactly as PIXAR's notebook scorer ``scorer`` does."""
    text = ocr_text or ""
    if scorer == "lambada":
        t = target.replace("g", "q").lower()
        m = _PIXAR_LAMBADA_PAT.match(text)
        pred = m.groups()[0] if m is not None else ""
        readable = pred.lower() in vocab
        # the original computes pred.replace('g', 'q').lower() here and discards it
        return WordScore(pred, pred == t, readable)
    if scorer == "babi":
        t = target.replace("g", "q")
        tokens = text.lower().split()
        raw = tokens[0] if tokens else ""
        m = _PIXAR_BABI_PAT.match(text)
        pred = m.groups()[0] if m is not None else ""
        return WordScore(pred, pred.replace("g", "q") == t, raw in vocab)
    raise ValueError(f"unknown PIXAR scorer {scorer!r}; choose one of {PIXAR_SCORERS}")


def score_example(readings: Mapping[str, str], target: str, vocab: frozenset[str] | set[str],
                  pixar_scorers: Iterable[str]) -> dict[str, object]:
    """Scores of one example read by several engines (``{"tesseract": text, ...}``).

    Returns per engine ``<engine>.word`` / ``.correct`` / ``.readable`` (corrected) and
    ``<engine>.pixar_<scorer>.correct`` / ``.readable``, plus the unions ``correct``,
    ``readable``, ``pixar_<scorer>.correct`` and ``pixar_<scorer>.readable``.
    """
    out: dict[str, object] = {}
    scorers = list(pixar_scorers)
    correct = readable = False
    union = {s: [False, False] for s in scorers}
    for engine, text in readings.items():
        c = score_corrected(text, target, vocab)
        out[f"{engine}.word"] = c.prediction
        out[f"{engine}.correct"] = c.correct
        out[f"{engine}.readable"] = c.readable
        correct |= c.correct
        readable |= c.readable
        for s in scorers:
            p = score_pixar(text, target, vocab, s)
            out[f"{engine}.pixar_{s}.correct"] = p.correct
            out[f"{engine}.pixar_{s}.readable"] = p.readable
            union[s][0] |= p.correct
            union[s][1] |= p.readable
    out["correct"] = correct
    out["readable"] = readable
    for s, (c_, r_) in union.items():
        out[f"pixar_{s}.correct"] = c_
        out[f"pixar_{s}.readable"] = r_
    return out


def aggregate(rows: list[Mapping[str, object]], engines: Iterable[str],
              pixar_scorers: Iterable[str], main_scorer: str, prefix: str = "") -> dict[str, float]:
    """Fractions over examples. Names: ``accuracy`` (corrected union, the main metric),
    ``accuracy_<engine>``, ``readability``, ``accuracy_pixar`` / ``readability_pixar`` (the
    task's own PIXAR scorer ``main_scorer``), ``accuracy_pixar_<scorer>`` for the other one,
    ``accuracy_pixar_<engine>``. ``prefix`` names a family (``ocr_ceiling``)."""
    n = len(rows)
    if n == 0:
        return {}

    def frac(key: str) -> float:
        return sum(bool(r.get(key)) for r in rows) / n

    head = prefix or "accuracy"
    out = {head: frac("correct")}
    for e in engines:
        out[f"{head}_{e}"] = frac(f"{e}.correct")
        out[f"{head}_pixar_{e}"] = frac(f"{e}.pixar_{main_scorer}.correct")
    out[f"{head}_pixar"] = frac(f"pixar_{main_scorer}.correct")
    for s in pixar_scorers:
        if s != main_scorer:
            out[f"{head}_pixar_{s}"] = frac(f"pixar_{s}.correct")
    if not prefix:
        out["readability"] = frac("readable")
        out["readability_pixar"] = frac(f"pixar_{main_scorer}.readable")
    return out
