"""First-patch labelling of words and the counting of words the canvas cut off."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pixel_bench.tasktypes.tokcls import IGNORE, align_word_labels
from pixel_bench.testing.fake import BlockRenderer, TinyAdapter, _default_config


def test_align_first_patch_only() -> None:
    labels, at, dropped = align_word_labels([0, 1, 2, 5, 6], [3, 4, 5, 6], 8, lambda p: p)
    assert labels.tolist() == [3, 4, 5, IGNORE, IGNORE, 6, IGNORE, IGNORE]
    assert at == [0, 1, 2, 3] and dropped == 0


def test_align_counts_words_the_canvas_dropped() -> None:
    # 5 words but only 3 rendered (word_starts = 3 starts + the EOS position)
    labels, at, dropped = align_word_labels([0, 2, 4, 7], [1, 1, 2, 2, 2], 8, lambda p: p)
    assert (labels != IGNORE).sum() == 3 and at == [0, 1, 2] and dropped == 2


def test_align_merged_positions_drop_the_later_word() -> None:
    # PIXAR-2024: two 8-px renderer patches per position; words at patches 2 and 3 collide
    labels, at, dropped = align_word_labels([0, 2, 3, 6], [1, 2, 3], 4, lambda p: p // 2)
    assert labels.tolist() == [1, 2, IGNORE, IGNORE] and at == [0, 1] and dropped == 1


def _pos_task():
    from pixel_bench.registry import TASKS

    return TASKS.get("pos")


def test_tokcls_encode_with_renderer_word_mode() -> None:
    task = _pos_task()
    rows = [{"words": ["a", "bb", "ccccccccc", "d"], "labels": ["DET", "NOUN", "VERB", "X"]},
            # 40 one-letter words: 2 per 16-px patch; an 8-patch canvas keeps only a few
            {"words": ["w"] * 40, "labels": ["NOUN"] * 40}]
    renderer = BlockRenderer(_default_config(8))
    rendered = [renderer(list(r["words"])) for r in rows]
    split = task.encode("validation", rows, TinyAdapter(), rendered, 8, "testing-blocks")
    feats = split.dataset[0]
    ids = {lab: i for i, lab in enumerate(task.labels)}
    expected = np.full(8, IGNORE)
    expected[[0, 1, 2, 5]] = [ids["DET"], ids["NOUN"], ids["VERB"], ids["X"]]
    assert feats["labels"].tolist() == expected.tolist()
    assert feats["pixel_values"].shape == (1, 16, 128)
    kept = len(split.meta["word_at"][1])
    assert 0 < kept < 40
    assert split.counts["words_dropped"] == 40 - kept
    assert split.counts["words"] == 44
    # scoring only sees the kept words
    logits = np.zeros((2, 8, len(task.labels)))
    logits[0, [0, 1, 2, 5], [ids["DET"], ids["NOUN"], ids["ADJ"], ids["X"]]] = 1
    logits[1, :, ids["NOUN"]] = 1
    metrics, preds = task.score(split, logits)
    assert preds[0]["prediction"] == ["DET", "NOUN", "ADJ", "X"]
    assert metrics["accuracy"] == pytest.approx((3 + kept) / (4 + kept))
    assert preds[1]["words_dropped"] == 40 - kept


def test_pixel_tiny_pangocairo_word_starts(fonts: Path) -> None:
    """The real renderer + PIXEL adapter: labels sit exactly at the renderer's word starts."""
    from pixel_bench.modeling.adapter import TaskKind
    from pixel_bench.registry import MODELS, RENDERERS

    adapter = MODELS.get("pixel-tiny")
    try:
        name, cfg = adapter.renderer_config(TaskKind.TOKEN_CLASSIFICATION, max_seq_length=16,
                                            renderer="pangocairo")
        renderer = RENDERERS.get(name)(cfg)
    except Exception as exc:  # noqa: BLE001 - font/Pango missing on this machine
        pytest.skip(f"pangocairo renderer unavailable: {exc}")
    words = ["Peter", "Blackburn", "visited", "the", "European", "Commission", "in",
             "Brussels", "yesterday", "afternoon", "with", "several", "colleagues", "."]
    rows = [{"words": words, "labels": ["PROPN"] * len(words)}]
    enc = renderer(list(words))
    task = _pos_task()
    split = task.encode("validation", rows, adapter, [enc], 16, name)
    labels = split.dataset[0]["labels"]
    starts = enc.word_starts[:-1]
    assert np.flatnonzero(labels != IGNORE).tolist() == [s for s in starts if s < 16]
    assert split.counts["words_dropped"] == len(words) - len(starts)
    assert split.counts["words_dropped"] > 0  # 16 patches cannot hold 14 words
