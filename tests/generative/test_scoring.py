"""PIXAR's two notebook scorers, quirks included, and the corrected scorer, on hand-made OCR
strings (see pixel_bench/generative/scoring.py for what each quirk is)."""

from __future__ import annotations

import pytest

from pixel_bench.generative.scoring import (aggregate, first_word, score_corrected,
                                            score_example, score_pixar)

VOCAB = frozenset({"signs", "shane", "going", "garden", "kitchen", "the"})


@pytest.mark.parametrize("ocr, target, pixar_ok, corrected_ok", [
    ("kitchen", "kitchen", True, True),
    ("Shane", "Shane", False, True),  # the target is lower-cased, the prediction is not
    ("going", "going", False, True),  # the target is folded g->q, the prediction is not
    ("signs", "signs", False, True),  # (any g in the word does it)
    ("qoinq", "going", True, True),   # ... so only a q-spelled reading matches
    (" kitchen", "kitchen", False, True),  # re.match: a leading space reads as ''
    ('"kitchen', "kitchen", False, True),  # a leading quote too
    ("kitche", "kitchen", False, False),
    ("", "kitchen", False, False),
    ("signs", '"Nadia', False, False),
    ("Nadia", '"Nadia', False, True),  # corrected: the target's word, without its quote
])
def test_lambada_scorer_quirks(ocr: str, target: str, pixar_ok: bool, corrected_ok: bool) -> None:
    assert score_pixar(ocr, target, VOCAB, "lambada").correct is pixar_ok
    assert score_corrected(ocr, target, VOCAB).correct is corrected_ok


@pytest.mark.parametrize("ocr, target, pixar_ok", [
    ("kitchen", "kitchen", True),
    ("Kitchen", "kitchen", False),  # case-sensitive
    ("qarden", "garden", True),  # both sides folded g->q
    ("garden.", "garden", True),  # the alphabetic prefix
    (" garden", "garden", False),  # '^([a-zA-Z]*)' at a leading space is ''
])
def test_babi_scorer(ocr: str, target: str, pixar_ok: bool) -> None:
    assert score_pixar(ocr, target, VOCAB, "babi").correct is pixar_ok
    assert score_corrected(ocr, target, VOCAB).correct is True


def test_readability_rules() -> None:
    # babi rule: first whitespace token lower-cased *with* its punctuation
    assert score_pixar("kitchen. x", "kitchen", VOCAB, "babi").readable is False
    assert score_pixar("Kitchen x", "kitchen", VOCAB, "babi").readable is True
    # lambada rule: the leading alphabetic run lower-cased
    assert score_pixar("Shane!", "x", VOCAB, "lambada").readable is True
    # corrected: first alphabetic word anywhere
    assert score_corrected("..the", "x", VOCAB).readable is True
    assert score_corrected("zzq", "x", VOCAB).readable is False
    assert first_word("12 ab-cd") == "ab"
    with pytest.raises(ValueError, match="unknown PIXAR scorer"):
        score_pixar("a", "a", VOCAB, "squad")


def test_union_and_aggregate() -> None:
    rows = [score_example({"tesseract": "Shane", "rapidocr": "x"}, "Shane", VOCAB,
                          ("lambada", "babi")),
            score_example({"tesseract": "", "rapidocr": "kitchen"}, "kitchen", VOCAB,
                          ("lambada", "babi")),
            score_example({"tesseract": "no", "rapidocr": "nope"}, "going", VOCAB,
                          ("lambada", "babi"))]
    m = aggregate(rows, ["tesseract", "rapidocr"], ("lambada", "babi"), "lambada")
    assert m["accuracy"] == pytest.approx(2 / 3)  # union: each row right by one engine
    assert m["accuracy_tesseract"] == pytest.approx(1 / 3)
    assert m["accuracy_rapidocr"] == pytest.approx(1 / 3)
    assert m["accuracy_pixar"] == pytest.approx(1 / 3)  # 'Shane' cannot match under lambada
    assert m["accuracy_pixar_babi"] == pytest.approx(2 / 3)  # the babi rules keep case
    assert m["readability"] == pytest.approx(2 / 3)
    c = aggregate(rows, ["tesseract"], ("lambada",), "lambada", prefix="ocr_ceiling")
    assert set(c) == {"ocr_ceiling", "ocr_ceiling_tesseract", "ocr_ceiling_pixar_tesseract",
                      "ocr_ceiling_pixar"}
