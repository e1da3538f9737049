"""LAMBADA and bAbI readers on the shared files, the prompt format, and bad input."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from pixel_bench.data.generative import detokenize, read_babi, read_lambada
from pixel_bench.errors import DataError
from pixel_bench.paths import shared_dir

DATA = (shared_dir() or Path("/nonexistent")) / "data"
BABI = DATA / "babi" / "qa1_single-supporting-fact_test.txt.gz"
LAMBADA = DATA / "lambada" / "lambada_test.jsonl.gz"


@pytest.mark.skipif(not BABI.is_file(), reason=f"{BABI} not found")
def test_babi_prompt_format() -> None:
    rows = read_babi(BABI)
    assert len(rows) == 200  # one sample per story: its last question (PIXAR's format)
    first = rows[0]
    assert first["target"] == "kitchen"
    assert first["prompt"].startswith("John travelled to the hallway. Mary journeyed to the "
                                      "bathroom. Where is John?  | hallway Daniel went back")
    assert first["prompt"].endswith("Sandra moved to the kitchen. Where is Sandra?  |")
    every = read_babi(BABI, questions="all")
    assert len(every) == 1000
    assert every[0]["prompt"].endswith("Where is John?  |") and every[0]["target"] == "hallway"


@pytest.mark.skipif(not LAMBADA.is_file(), reason=f"{LAMBADA} not found")
def test_lambada_reader() -> None:
    rows = read_lambada(LAMBADA)
    assert len(rows) == 5153
    assert rows[0]["target"] == "signs"
    assert rows[0]["prompt"].endswith("I don't care about")
    assert "\n" not in rows[1]["prompt"] and rows[1]["target"] == "Shane"


def test_detokenize() -> None:
    assert detokenize("`` hello , world '' she did n't go .") == '"hello, world" she didn\'t go.'
    assert detokenize("the cat 's toy (big)") == "the cat's toy(big)"  # the original's '(' rule
    assert detokenize("a '") == "a'"
    assert detokenize("") == ""


def test_bad_input_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "qa1_test.txt"
    bad.write_text("1 Mary went home.\nnot a babi line\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"qa1_test.txt:2: not a bAbI line"):
        read_babi(bad)
    with pytest.raises(DataError, match="'last' or 'all'"):
        read_babi(bad, questions="some")
    lam = tmp_path / "lambada_test.jsonl.gz"
    with gzip.open(lam, "wt", encoding="utf-8") as fh:
        fh.write('{"text": "a b c"}\n{"txt": "x"}\n')
    with pytest.raises(DataError, match=r"lambada_test.jsonl.gz:2: expected a JSON object"):
        read_lambada(lam)
