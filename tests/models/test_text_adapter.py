"""Text baselines: tiny BERT / GPT-2 with tokenizers built on the fly (no hub)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pixel_bench.errors import CheckpointError, ConfigError, DataError  # noqa: E402
from pixel_bench.modeling.adapter import HeadSpec, TaskKind  # noqa: E402
from pixel_bench.modeling.text_baseline import text_features, tiny_tokenizer  # noqa: E402
from pixel_bench.registry import MODELS  # noqa: E402

SEQ = HeadSpec(TaskKind.SEQUENCE_CLASSIFICATION, num_labels=2)
TOK = HeadSpec(TaskKind.TOKEN_CLASSIFICATION, num_labels=3)
QA = HeadSpec(TaskKind.QUESTION_ANSWERING)
CONTEXT = "John Smith lives in New York and works for the United Nations ."


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)


def _batch(adapter, head: HeadSpec):
    if head.kind == TaskKind.SEQUENCE_CLASSIFICATION:
        feats = [adapter.text_features("the movie was great", 1),
                 adapter.text_features(("a man sings", "a woman is singing"), 0)]
    elif head.kind == TaskKind.TOKEN_CLASSIFICATION:
        feats = [adapter.text_features(["John", "Smith", "lives"], word_labels=[1, 2, 0]),
                 adapter.text_features(["New", "York"], word_labels=[1, 2])]
    else:
        feats = [adapter.qa_features("who lives in New York?", CONTEXT, answer_start=0,
                                     answer_text="John Smith")[0],
                 adapter.qa_features("where?", CONTEXT, answer_start=20,
                                     answer_text="New York")[0]]
    return adapter.collate(feats)


@pytest.mark.parametrize("name", ["bert-tiny", "gpt2-tiny"])
@pytest.mark.parametrize("head", [SEQ, TOK, QA], ids=["seqcls", "tokcls", "qa"])
def test_tiny_text_models_train_and_roundtrip(name: str, head: HeadSpec, tmp_path: Path) -> None:
    adapter = MODELS.get(name).for_run(head.kind, 64)
    assert adapter.renderer_config(head.kind, 64) is None
    model = adapter.build(head)
    batch = _batch(adapter, head)
    out = model(**batch)
    out.loss.backward()
    model.eval()
    with torch.no_grad():
        before = model(**batch)
    adapter.save_pretrained(model, tmp_path / "ckpt")
    assert (tmp_path / "ckpt" / "tokenizer.json").is_file()
    other = MODELS.get("text").for_model(f"text:{tmp_path / 'ckpt'}")
    assert other.card.name.startswith("text:")
    reloaded = other.build(head).eval()
    batch2 = _batch(other, head)  # the saved tokenizer gives the same ids
    for key in batch:
        torch.testing.assert_close(batch2[key], batch[key])
    with torch.no_grad():
        after = reloaded(**batch2)
    for key in ("logits", "start_logits", "end_logits"):
        if getattr(before, key, None) is not None:
            torch.testing.assert_close(getattr(after, key), getattr(before, key))


def test_first_subtoken_labels_and_pair_token_types() -> None:
    tok = tiny_tokenizer("wordpiece")
    f = text_features(tok, ["Smithers", "lives"], max_length=32, word_labels=[2, 1])
    word_ids = tok(["Smithers", "lives"], is_split_into_words=True).word_ids()
    firsts = [i for i, w in enumerate(word_ids) if w is not None and
              (i == 0 or word_ids[i - 1] != w)]
    assert [int(f["labels"][i]) for i in firsts] == [2, 1]
    assert (np.delete(f["labels"], firsts) == -100).all()
    assert len(firsts) < len(word_ids) - 2  # "smithers" really is split into sub-tokens
    pair = text_features(tok, ("a b", "c"), max_length=32)
    assert pair["token_type_ids"].tolist() == [0, 0, 0, 0, 1, 1]
    with pytest.raises(DataError, match="labels for"):
        text_features(tok, ["a", "b"], max_length=8, word_labels=[1])


def test_qa_windows_locate_the_answer() -> None:
    adapter = MODELS.get("bert-tiny")
    adapter = adapter.for_run(TaskKind.QUESTION_ANSWERING, 24)
    windows = adapter.qa_features("who?", CONTEXT * 3, answer_start=20, answer_text="New York",
                                  stride=4)
    assert len(windows) > 1
    w = windows[0]
    s, e = int(w["start_positions"]), int(w["end_positions"])
    text = CONTEXT * 3
    assert text[w["offset_mapping"][s][0]:w["offset_mapping"][e][1]].lower() == "new york"
    assert all(int(x["start_positions"]) == 0 for x in windows[1:]
               if x["offset_mapping"].max() < 20)
    adapter = adapter.for_run(TaskKind.QUESTION_ANSWERING, 512)


def test_bad_input() -> None:
    adapter = MODELS.get("bert-tiny")
    with pytest.raises(DataError, match="text model"):
        adapter.features(object())
    with pytest.raises(CheckpointError):
        MODELS.get("text").for_model("/nonexistent/model/dir").build(SEQ)
    with pytest.raises(ConfigError, match="needs a model"):
        MODELS.get("text").for_model("text:")
