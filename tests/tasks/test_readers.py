"""Data readers on small inline files: formats, gzip, IOB1 -> IOB2, and errors naming file+line."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import pytest

from pixel_bench.data.conll import iob1_to_iob2, read_conll
from pixel_bench.data.conllu import UPOS_LABELS, read_conllu
from pixel_bench.data.glue import GlueFormat, glue_strip_spaces, read_glue_tsv, read_nli_jsonl
from pixel_bench.data.squad import read_squad
from pixel_bench.data.xnli import read_xnli_tsv
from pixel_bench.errors import DataError

CONLLU = """# newdoc id = x
# sent_id = 1
# text = I don't know.
1\tI\tI\tPRON\tPRP\t_\t4\tnsubj\t_\t_
2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
2\tdo\tdo\tAUX\tVBP\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
4\tknow\tknow\tVERB\tVB\t_\t0\troot\t_\tSpaceAfter=No
4.1\tknow\tknow\tVERB\tVB\t_\t_\t_\t_\t_
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_
"""


def _write(path: Path, text: str, gz: bool = False) -> Path:
    if gz:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_conllu_skips_multiword_and_empty_nodes(tmp_path: Path, gz: bool) -> None:
    rows = read_conllu(_write(tmp_path / "x-ud-dev.conllu", CONLLU, gz))
    assert rows[0]["words"] == ["I", "do", "n't", "know", "."]
    assert rows[0]["labels"] == ["PRON", "AUX", "PART", "VERB", "PUNCT"]
    assert rows[1] == {"words": ["Hi"], "labels": ["INTJ"]}
    assert UPOS_LABELS[:3] == ["ADJ", "ADP", "ADV"] and len(UPOS_LABELS) == 17


def test_conllu_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = _write(tmp_path / "bad.conllu", "1\tI\tI\tPRON\n")
    with pytest.raises(DataError, match=r"bad\.conllu:1: malformed CoNLL-U line"):
        read_conllu(bad)
    bad = _write(tmp_path / "lab.conllu", "\n1\tI\tI\tNOPE\t_\t_\t0\troot\t_\t_\n")
    with pytest.raises(DataError, match=r"lab\.conllu:2: label 'NOPE'"):
        read_conllu(bad)
    with pytest.raises(DataError, match="empty split"):
        read_conllu(_write(tmp_path / "empty.conllu", "# only a comment\n\n"))


def test_iob1_to_iob2() -> None:
    assert iob1_to_iob2(["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG", "I-ORG"]) == \
        ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG", "I-ORG"]


def test_conll_reader_docstart_gzip_and_errors(tmp_path: Path) -> None:
    text = ("-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP O\n"
            "German JJ I-NP I-MISC\n\nPeter NNP I-NP I-PER\nBlackburn NNP I-NP I-PER\n")
    rows = read_conll(_write(tmp_path / "eng.train", text, gz=True))
    assert rows == [{"words": ["EU", "rejects", "German"], "labels": ["B-ORG", "O", "B-MISC"]},
                    {"words": ["Peter", "Blackburn"], "labels": ["B-PER", "I-PER"]}]
    with pytest.raises(DataError, match=r"eng\.bad:2: malformed CoNLL line"):
        read_conll(_write(tmp_path / "eng.bad", "EU NNP I-NP I-ORG\nlonely\n"))
    with pytest.raises(DataError, match=r"eng\.lab:1: label 'B-FOO'"):
        read_conll(_write(tmp_path / "eng.lab", "EU NNP I-NP I-FOO\n"))


def test_glue_strip_spaces_as_pixel() -> None:
    assert glue_strip_spaces("it 's a ( nice ) film , is n't it ?") == \
        "it's a (nice) film, isn't it?"
    assert glue_strip_spaces('he said " yes " .') == 'he said"yes".'  # naive, as PIXEL's


def test_glue_tsv_layouts_and_errors(tmp_path: Path) -> None:
    fmt = GlueFormat(text_a="sentence1", text_b="sentence2", label="label",
                     labels=("entailment", "not_entailment"))
    path = _write(tmp_path / "dev.tsv", "index\tsentence1\tsentence2\tlabel\n"
                  "0\tA cat .\tA pet .\tentailment\n1\tX\tY\tnot_entailment\n", gz=True)
    assert read_glue_tsv(path, fmt) == [{"text": ("A cat.", "A pet."), "label": 0},
                                        {"text": ("X", "Y"), "label": 1}]
    bad = _write(tmp_path / "short.tsv", "index\tsentence1\tsentence2\tlabel\n0\tonly\n")
    with pytest.raises(DataError, match=r"short\.tsv:2: missing column 'sentence2'"):
        read_glue_tsv(bad, fmt)
    bad = _write(tmp_path / "lab.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tmaybe\n")
    with pytest.raises(DataError, match=r"lab\.tsv:2: label 'maybe' is not in the label set"):
        read_glue_tsv(bad, fmt)
    bad = _write(tmp_path / "hdr.tsv", "index\tsentence1\tlabel\n0\ta\tentailment\n")
    with pytest.raises(DataError, match=r"hdr\.tsv:1: header lacks column 'sentence2'"):
        read_glue_tsv(bad, fmt)
    cola = GlueFormat(text_a=3, label=1, header=False, labels=("0", "1"))
    assert read_glue_tsv(_write(tmp_path / "cola.tsv", "gj04\t1\t\tThe cat sat .\n"), cola) == \
        [{"text": "The cat sat.", "label": 1}]
    stsb = GlueFormat(text_a="s1", text_b="s2", label="score", labels=None)
    assert read_glue_tsv(_write(tmp_path / "sts.tsv", "s1\ts2\tscore\na\tb\t3.800\n"),
                         stsb)[0]["label"] == pytest.approx(3.8)


def test_nli_jsonl_skips_no_majority(tmp_path: Path) -> None:
    path = _write(tmp_path / "dev.jsonl", '{"premise": "P", "hypothesis": "H ", "label": '
                  '"neutral"}\n{"premise": "P", "hypothesis": "H", "label": "-"}\n')
    rows = read_nli_jsonl(path, labels=["entailment", "neutral", "contradiction"])
    assert rows == [{"text": ("P", "H "), "label": 1}]


def test_xnli_crlf(tmp_path: Path) -> None:
    path = tmp_path / "dev-de.tsv"
    path.write_bytes("a b\tc d\tcontradiction\r\nx\ty\tentailment\r\n".encode())
    assert read_xnli_tsv(path) == [{"text": ("a b", "c d"), "label": 2},
                                   {"text": ("x", "y"), "label": 0}]


def test_squad_answers_checked(tmp_path: Path) -> None:
    import json

    def doc(ans: str, start: int) -> str:
        return json.dumps({"version": "1.1", "data": [{"title": "T", "paragraphs": [
            {"context": "The cat sat on the mat.", "qas": [
                {"id": "q1", "question": "Where?", "answers": [
                    {"text": ans, "answer_start": start}]}]}]}]})

    rows = read_squad(_write(tmp_path / "ok.json", doc("the mat", 15), gz=True))
    assert rows[0]["answers"] == {"text": ["the mat"], "answer_start": [15]}
    with pytest.raises(DataError, match=r"bad\.json: question q1: answer 'the dog' does not "
                                        "occur in its context"):
        read_squad(_write(tmp_path / "bad.json", doc("the dog", 15)))
    with pytest.raises(DataError, match="answer_start 3 does not point"):
        read_squad(_write(tmp_path / "off.json", doc("the mat", 3)))


def test_no_local_data_and_no_hub_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    from pixel_bench.registry import TASKS

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    with pytest.raises(DataError, match=r"UD English-EWT.*--data-dir"):
        TASKS.get("pos").load_split("train", None)
    assert time.perf_counter() - t0 < 5


def test_missing_split_file_names_patterns(tmp_path: Path) -> None:
    from pixel_bench.registry import TASKS

    with pytest.raises(DataError, match=r"no file for split 'train'.*-ud-train\.conllu"):
        TASKS.get("pos").load_split("train", tmp_path)


def test_shared_data_counts(data: Path) -> None:
    """The local copies parse to the published counts (dev splits: quick)."""
    from pixel_bench.registry import TASKS

    pos, _ = TASKS.get("pos").load_split("validation", data)
    assert len(pos) == 2001 and sum(len(r["words"]) for r in pos) == 25147
    ner, _ = TASKS.get("ner").load_split("validation", data)
    assert len(ner) == 3250 and sum(len(r["words"]) for r in ner) == 51362
    assert len(TASKS.get("rte").load_split("validation", data)[0]) == 277
    assert len(TASKS.get("cola").load_split("validation", data)[0]) == 1043
    assert len(TASKS.get("mnli").load_split("validation_matched", data)[0]) == 9815
