"""Multilingual tasks: UD treebanks (POS, parsing) and MasakhaNER on the real shared files (a
few sentences each), the parsing features and UAS/LAS on hand-made cases, and the errors a
missing treebank gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pixel_bench.data.ud import TREEBANKS, UD_HEAD_LABELS, read_conllu_parsing
from pixel_bench.errors import DataError
from pixel_bench.tasktypes.parsing import PAD, attachment_scores, parsing_features
from pixel_bench.registry import TASKS


# -- catalogue and names ------------------------------------------------------------------------
def test_every_pixel_treebank_has_a_pos_and_a_parsing_task() -> None:
    assert list(TREEBANKS) == ["en_ewt", "ar_padt", "cop_scriptorium", "hi_hdtb", "ja_gsd",
                               "ko_gsd", "ta_ttb", "vi_vtb", "zh_gsd"]
    names = set(TASKS.names())
    for code in TREEBANKS:
        assert {f"pos-{code}", f"parsing-{code}"} <= names
        assert TASKS.get(f"parsing-{code}").main_metric == "las"
    for lang in ("amh", "hau", "ibo", "kin", "lug", "luo", "pcm", "swa", "wol", "yor"):
        assert TASKS.get(f"masakhaner-{lang}").main_metric == "f1"


@pytest.mark.parametrize("code", ["ar_padt", "hi_hdtb"])
def test_absent_treebank_says_where_to_get_it(data: Path, code: str) -> None:
    folder = TREEBANKS[code].folder
    for kind in ("pos", "parsing"):
        with pytest.raises(DataError, match=rf"{folder}.*r2\.10.*--data-dir"):
            TASKS.get(f"{kind}-{code}").load_split("train", data)


def test_japanese_gsd_has_no_train_here_but_dev_reads(data: Path) -> None:
    task = TASKS.get("pos-ja_gsd")
    with pytest.raises(DataError, match="UD_Japanese-GSD"):
        task.load_split("train", data)
    rows, origin = task.load_split("validation", data, limit=3)
    assert origin.endswith("ja_gsd-ud-dev.conllu.gz") and len(rows) == 3


@pytest.mark.parametrize("data_dir", ["", "ud", "ud/UD_Korean-GSD"])
def test_treebank_found_from_any_parent_folder(data: Path, data_dir: str) -> None:
    rows, origin = TASKS.get("parsing-ko_gsd").load_split("validation", data / data_dir, limit=2)
    assert Path(origin).name == "ko_gsd-ud-dev.conllu.gz" and len(rows) == 2


def test_generic_pos_and_parsing_read_any_ud_folder(data: Path) -> None:
    folder = data / "ud" / "UD_Tamil-TTB"
    pos_rows, origin = TASKS.get("pos").load_split("train", folder, limit=1)
    assert Path(origin).name == "ta_ttb-ud-train.conllu.gz"
    parse_rows, _ = TASKS.get("parsing").load_split("train", folder, limit=1)
    assert pos_rows[0]["words"] == parse_rows[0]["words"]


# -- readers on the real treebanks --------------------------------------------------------------
def test_parsing_reader_skips_multiword_tokens_coptic(data: Path) -> None:
    rows = read_conllu_parsing(data / "ud/UD_Coptic-Scriptorium/cop_scriptorium-ud-dev.conllu.gz")
    # UD_Coptic-Scriptorium r2.10 stats.xml: 381 sentences, 10,961 syntactic words
    assert len(rows) == 381 and sum(len(r["words"]) for r in rows) == 10961
    for r in rows[:50]:
        n = len(r["words"])
        assert len(r["heads"]) == len(r["deprels"]) == n
        assert all(0 <= h <= n for h in r["heads"]) and r["heads"].count(0) >= 1
        assert set(r["deprels"]) <= set(UD_HEAD_LABELS)


@pytest.mark.parametrize("code,sentences,words", [("ko_gsd", 950, 11958), ("zh_gsd", 500, 12663),
                                                  ("ta_ttb", 80, 1263)])
def test_pos_counts_match_stats(data: Path, code: str, sentences: int, words: int) -> None:
    rows, _ = TASKS.get(f"pos-{code}").load_split("validation", data)
    assert len(rows) == sentences and sum(len(r["words"]) for r in rows) == words


def test_parsing_reader_folds_subtypes_and_checks_heads(tmp_path: Path) -> None:
    line = "{i}\t{w}\t_\tNOUN\t_\t_\t{h}\t{r}\t_\t_\n"
    good = tmp_path / "x-ud-dev.conllu"
    good.write_text("# text = a b\n1-2\tab\t_\t_\t_\t_\t_\t_\t_\t_\n"
                    + line.format(i=1, w="a", h=2, r="nsubj:pass")
                    + line.format(i=2, w="b", h=0, r="root") + "2.1\tx\t_\t_\t_\t_\t_\t_\t_\t_\n\n")
    assert read_conllu_parsing(good) == [{"words": ["a", "b"], "heads": [2, 0],
                                          "deprels": ["nsubj", "root"]}]
    bad = tmp_path / "bad.conllu"
    bad.write_text(line.format(i=1, w="a", h=5, r="root") + "\n")
    with pytest.raises(DataError, match="head 5 points past its 1 words"):
        read_conllu_parsing(bad)
    bad.write_text(line.format(i=1, w="a", h="x", r="root") + "\n")
    with pytest.raises(DataError, match=r"bad.conllu:1: HEAD must be an integer"):
        read_conllu_parsing(bad)
    bad.write_text(line.format(i=1, w="a", h=0, r="madeup") + "\n")
    with pytest.raises(DataError, match="madeup"):
        read_conllu_parsing(bad)


def test_masakhaner_reads_every_language_and_old_amharic(data: Path) -> None:
    for lang in ("amh", "hau", "yor"):
        rows, origin = TASKS.get(f"masakhaner-{lang}").load_split("validation", data, limit=4)
        assert len(rows) == 4 and all(len(r["words"]) == len(r["labels"]) for r in rows)
    _, origin = TASKS.get("masakhaner-amh").load_split("train", data, limit=1)
    assert "pre-2023-07-27" in origin  # PIXEL evaluated before the 2023 Amharic revision
    _, origin = TASKS.get("masakhaner-amh-2023").load_split("train", data, limit=1)
    assert "pre-2023-07-27" not in origin
    rows, _ = TASKS.get("masakhaner-hau").load_split("train", data / "masakhaner" / "hau")
    assert len(rows) == 1912  # MasakhaNER 1.0 hau train (the Hugging Face masakhaner card)


# -- parsing features and scores (hand-made) ---------------------------------------------------
def test_parsing_features_faithful_and_drop_modes() -> None:
    # 4 words, only 2 rendered (word_starts has 2 + EOS), L = 3: word 4 is past L, and
    # word 1's head (4) points past L
    ws, arcs, rels, lost = parsing_features([0, 2, 3], [4, 0, 2, 2], [1, 2, 3, 4], length=3)
    assert ws.tolist() == [0, 2, 3, PAD]
    assert arcs.tolist() == [PAD, 0, 2] and rels.tolist() == [1, 2, 3]
    assert lost == 2
    _, arcs, rels, lost = parsing_features([0, 2, 3], [4, 0, 2, 2], [1, 2, 3, 4], length=3,
                                           drop_unrendered=True)
    assert arcs.tolist() == [PAD, 0, PAD] and rels.tolist() == [1, 2, PAD] and lost == 2


def test_attachment_scores_hand_made() -> None:
    # 5 words: heads right for 4, relations right for 3 of those 4 -> UAS 80, LAS 60
    m = attachment_scores([2, 0, 2, 2, 1], [5, 35, 7, 33, 1],
                          [2, 0, 2, 3, 1], [5, 35, 7, 33, 2])
    assert m["uas"] == pytest.approx(0.8) and m["las"] == pytest.approx(0.6) and m["words"] == 5
    # punctuation counts like any word (PIXEL scores every labelled word)
    assert attachment_scores([1], [33], [1], [33])["las"] == 1.0
    assert attachment_scores([], [], [], [])["uas"] == 0.0


def test_parsing_score_uses_only_labelled_words() -> None:
    from pixel_bench.tasktypes.base import EncodedSplit, FeatureDataset

    task = TASKS.get("parsing-ko_gsd")
    arcs = np.array([2, 0, PAD, PAD]); rels = np.array([27, 35, PAD, PAD])
    split = EncodedSplit("validation", [{"words": ["a", "b"], "heads": [2, 0],
                                         "deprels": ["nsubj", "root"]}],
                         FeatureDataset(1, lambda i: {}),
                         meta={"labels": [(np.zeros(5, int), arcs, rels)]})
    preds = (np.array([[2, 1, 0, 0]]), np.array([[27, 35, 1, 1]]))
    metrics, rows = task.score(split, preds)
    assert metrics["uas"] == 0.5 and metrics["las"] == 0.5
    assert rows[0]["deprel_gold"] == ["nsubj", "root"] and rows[0]["head_pred"] == [2, 1]


def test_parsing_needs_a_pixel_model() -> None:
    from types import SimpleNamespace

    from pixel_bench.errors import ConfigError

    task = TASKS.get("parsing-ko_gsd")
    rows = [{"words": ["a"], "heads": [0], "deprels": ["root"]}]
    for family, rendered in (("pixar2024", [object()]), ("text", None)):
        adapter = SimpleNamespace(card=SimpleNamespace(name="m", family=family))
        with pytest.raises(ConfigError, match="biaffine head only"):
            task.encode("train", rows, adapter, rendered, 16, None)
    with pytest.raises(ConfigError, match="parsing_unrendered_words"):
        task.encode("train", rows, SimpleNamespace(card=SimpleNamespace(name="m", family="pixel")),
                    [object()], 16, None, recipe={"parsing_unrendered_words": "bogus"})


def test_hub_rows_for_parsing() -> None:
    hub_rows = TASKS.get("parsing-ko_gsd").hub_reader
    rows = hub_rows([{"idx": "s1", "tokens": ["a", "b"], "head": ["2", "0"],
                      "deprel": ["nsubj:pass", "root"]}])
    assert rows == [{"words": ["a", "b"], "heads": [2, 0], "deprels": ["nsubj", "root"]}]
    with pytest.raises(DataError, match="non-integer head"):
        hub_rows([{"idx": "s2", "tokens": ["a"], "head": ["None"], "deprel": ["_"]}])


def test_cjk_treebank_without_fallback_fonts_warns(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.WARNING, logger="pixel_bench.tasks.ud"):
        assert TASKS.get("pos-zh_gsd").render_kwargs({}) == {}
        assert "fallback_fonts_dir=noto-cjk" in caplog.text
        caplog.clear()
        TASKS.get("parsing-ko_gsd").render_kwargs({"fallback_fonts_dir": "noto-cjk"})
        TASKS.get("pos-cop_scriptorium").render_kwargs({})
        assert caplog.text == ""
