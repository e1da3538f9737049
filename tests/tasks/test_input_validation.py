"""Structurally wrong SQuAD / MNLI files stop at load time (before rendering or training) with a
DataError naming the file and the JSON path, line, key or question ids; a present but malformed
optional evaluation split stops the run instead of being skipped as "not found"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pixel_bench.data.glue import read_nli_jsonl
from pixel_bench.data.squad import hub_rows, read_squad
from pixel_bench.errors import DataError, SplitNotFoundError

NLI3 = ["entailment", "neutral", "contradiction"]
CONTEXT = "The cat sat on the mat."


def _qa(qid: Any = "q1", **extra: Any) -> dict[str, Any]:
    qa = {"id": qid, "question": "Where?", "answers": [{"text": "the mat", "answer_start": 15}]}
    qa.update(extra)
    return {k: v for k, v in qa.items() if v is not None}


def _squad(*qas: dict[str, Any], context: Any = CONTEXT) -> dict[str, Any]:
    return {"version": "1.1", "data": [{"title": "T", "paragraphs": [
        {"context": context, "qas": list(qas)}]}]}


def _write(path: Path, obj: Any) -> Path:
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj), encoding="utf-8")
    return path


@pytest.mark.parametrize("doc, message", [
    ([], "not SQuAD v1.1 JSON (expected an object with a 'data' list of articles, got a JSON "
         "array)"),
    ({"data": {"title": "T"}}, "got 'data' as a JSON object"),
    ({"version": "1.1"}, "got an object with keys ['version']"),
    ({"data": ["T"]}, "data[0]: expected an article object, got a JSON string"),
    ({"data": [{"title": "T"}]}, "data[0].paragraphs: missing (expected a list of paragraphs)"),
    ({"data": [{"title": "T", "paragraphs": [{"qas": []}]}]},
     "data[0].paragraphs[0].context: missing"),
    ({"data": [{"title": "T", "paragraphs": [{"context": CONTEXT}]}]},
     "data[0].paragraphs[0].qas: missing (expected a list of questions)"),
    ({"data": [{"title": "T", "paragraphs": [{"context": CONTEXT, "qas": {"id": "q1"}}]}]},
     "data[0].paragraphs[0].qas: expected a list of questions, got a JSON object"),
    (_squad(_qa(context=None), context=7), "context: expected the context text, got a JSON number"),
    (_squad(_qa(qid=None)), "data[0].paragraphs[0].qas[0]: missing key 'id'"),
    (_squad(_qa(qid=["a"])), "'id' must be a string, got ['a']"),
    (_squad(_qa(question=None) | {"question": None}),
     "question q1 (data[0].paragraphs[0].qas[0].question): expected the question text"),
    (_squad({"id": "q1", "answers": []}), "question q1 (data[0].paragraphs[0].qas[0].question): "
                                          "missing"),
    (_squad(_qa(answers="the mat")), "question q1 (data[0].paragraphs[0].qas[0].answers): "
                                     "expected a list of answers, got a JSON string"),
    (_squad(_qa(answers=[{"text": "the mat"}])), "question q1: answer needs 'text' and an integer "
                                                 "'answer_start'"),
    (_squad(_qa(answers=[{"text": "the mat", "answer_start": "15"}])), "integer 'answer_start'"),
])
def test_squad_structure_errors_name_file_and_path(tmp_path: Path, doc: Any, message: str):
    path = _write(tmp_path / "dev-v1.1.json", doc)
    with pytest.raises(DataError) as info:
        read_squad(path)
    assert str(path) in str(info.value) and message in str(info.value), str(info.value)


def test_squad_questions_without_answers_are_named(tmp_path: Path):
    """v1.1 needs an answer in every split (train: the span; dev: the ground truths to score)."""
    doc = _squad(_qa("q1"), _qa("q2", answers=[]), {"id": "q3", "question": "Who?"})
    with pytest.raises(DataError, match=r"train\.json: 2 question\(s\) without an answer: 'q2', "
                                        r"'q3'\. SQuAD v1.1 needs"):
        read_squad(_write(tmp_path / "train.json", doc))
    v2 = _squad(_qa("q1"), _qa("q2", answers=[], is_impossible=True))
    with pytest.raises(DataError, match=r"looks like SQuAD 2\.0"):
        read_squad(_write(tmp_path / "v2.json", v2))


def test_squad_duplicate_ids_are_named(tmp_path: Path):
    doc = _squad(*[_qa(f"q{i % 7}") for i in range(14)])  # q0..q6 twice each
    with pytest.raises(DataError) as info:
        read_squad(_write(tmp_path / "dev.json", doc))
    msg = str(info.value)
    assert "duplicate question id(s) 'q0', 'q1', 'q2', 'q3', 'q4' ... and 2 more" in msg
    ok = _squad(_qa("a"), _qa(7))  # integer ids are read as strings
    assert [r["id"] for r in read_squad(_write(tmp_path / "ok.json", ok))] == ["a", "7"]


def test_squad_hub_rows_are_checked_too():
    row = {"id": "x", "title": "T", "question": "Q?", "context": CONTEXT,
           "answers": {"text": ["the mat"], "answer_start": [15]}}
    assert hub_rows([row])[0]["id"] == "x"
    with pytest.raises(DataError, match="duplicate question id"):
        hub_rows([row, row])


@pytest.mark.parametrize("line, message", [
    ('["P", "H", "neutral"]', "dev.jsonl:2: expected one JSON object per line, got list"),
    ('{"text_a": "P", "text_b": "H", "gold": "neutral"}',
     "dev.jsonl:2: missing field(s) premise, hypothesis, label; expected "
     "premise/hypothesis/label or sentence1/sentence2/gold_label (the line has: text_a, text_b, "
     "gold)"),
    ('{"sentence1": "P", "sentence2": "H"}', "dev.jsonl:2: missing field(s) gold_label"),
    ('{"premise": null, "hypothesis": "H", "label": "neutral"}',
     "dev.jsonl:2: field 'premise' must be a string, got None"),
    ('{"premise": "P", "hypothesis": "H", "label": 1}', "field 'label' must be a string"),
    ('{"premise": "P", "hypothesis": "H", "label": "maybe"}', "dev.jsonl:2: label 'maybe' is not "
                                                             "in the label set"),
])
def test_mnli_jsonl_errors_name_file_line_and_fields(tmp_path: Path, line: str, message: str):
    good = '{"premise": "P", "hypothesis": "H", "label": "neutral"}'
    path = _write(tmp_path / "dev.jsonl", good + "\n" + line + "\n")
    with pytest.raises(DataError) as info:
        read_nli_jsonl(path, labels=NLI3)
    assert message in str(info.value), str(info.value)


MNLI_TSV_HEADER = "index\tgenre\tsentence1\tsentence2\tgold_label\n"


def test_mnli_tsv_with_wrong_columns_is_named(tmp_path: Path):
    from pixel_bench.registry import TASKS

    (tmp_path / "dev_matched.tsv").write_text("index\tpremise\thypothesis\tlabel\n0\tP\tH\t"
                                              "neutral\n")
    with pytest.raises(DataError, match=r"dev_matched\.tsv:1: header lacks column 'sentence1' "
                                        r"\(has index, premise, hypothesis, label\)"):
        TASKS.get("mnli").load_split("validation_matched", tmp_path)


def test_missing_split_is_not_found_but_malformed_is_not(tmp_path: Path):
    """Only a split that is absent may be skipped; one that is there but broken is an error."""
    from pixel_bench.registry import TASKS

    mnli = TASKS.get("mnli")
    with pytest.raises(SplitNotFoundError):
        mnli.load_split("validation_mismatched", tmp_path)
    (tmp_path / "dev_mismatched.tsv").write_text(MNLI_TSV_HEADER + "0\tfiction\tP\tH\n")
    with pytest.raises(DataError) as info:
        mnli.load_split("validation_mismatched", tmp_path)
    assert not isinstance(info.value, SplitNotFoundError)
    assert "dev_mismatched.tsv:2: missing column 'gold_label'" in str(info.value)


@pytest.fixture()
def _fakes():
    from pixel_bench.registry import MODELS, RENDERERS
    from pixel_bench.testing import register

    register()
    yield
    MODELS._entries.pop("testing-tiny", None)
    RENDERERS._entries.pop("testing-blocks", None)


def test_run_stops_at_load_on_a_malformed_optional_split(tmp_path: Path, _fakes):
    """MNLI's mismatched dev set is optional; a broken copy used to be skipped with "not found"
    (and the run went on, exit 0). Now ``prepare`` (before any training) stops on it."""
    from pixel_bench.runner import prepare
    from pixel_bench.spec import resolve_spec

    rows = "".join(f"{i}\tfiction\tA cat {i} .\tA cat .\t{NLI3[i % 3]}\n" for i in range(6))
    for name in ("train.tsv", "dev_matched.tsv"):
        (tmp_path / name).write_text(MNLI_TSV_HEADER + rows)
    prep = prepare(resolve_spec("testing-tiny", "mnli", str(tmp_path), from_scratch=True,
                                overrides={"max_seq_length": 16}))
    assert prep.missing_splits == ["validation_mismatched"]  # absent: skipped, as before
    (tmp_path / "dev_mismatched.tsv").write_text(MNLI_TSV_HEADER + rows + "9\tfiction\tP\tH\n")
    with pytest.raises(DataError, match=r"dev_mismatched\.tsv:8: missing column 'gold_label'"):
        prepare(resolve_spec("testing-tiny", "mnli", str(tmp_path), from_scratch=True,
                             overrides={"max_seq_length": 16}))


def test_run_stops_at_load_on_squad_without_answers(tmp_path: Path, _fakes):
    from pixel_bench.runner import prepare
    from pixel_bench.spec import resolve_spec

    _write(tmp_path / "train-v1.1.json", _squad(_qa("t1")))
    _write(tmp_path / "dev-v1.1.json", _squad(_qa("d1"), _qa("d2", answers=[])))
    with pytest.raises(DataError, match=r"dev-v1\.1\.json: 1 question\(s\) without an answer: "
                                        r"'d2'"):
        prepare(resolve_spec("testing-tiny", "squad", str(tmp_path), from_scratch=True,
                             overrides={"max_seq_length": 32}))
