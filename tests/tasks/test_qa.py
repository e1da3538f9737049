"""QA windows: start/end patch labels, no-answer windows, n-best spans back to characters."""

from __future__ import annotations

import numpy as np
import pytest

from pixel_bench.tasktypes.qa import (best_span, label_window, position_spans,
                                     trim_partial_words)
from pixel_bench.testing.fake import BlockRenderer, TinyAdapter, _default_config

CONTEXT = ("Super Bowl 50 was an American football game to determine the champion of the "
           "National Football League for the 2015 season. The American Football Conference "
           "champion Denver Broncos defeated the National Football Conference champion "
           "Carolina Panthers to earn their third Super Bowl title.")
ANSWER = "Denver Broncos"


def test_label_window_rules() -> None:
    spans = {4: (0, 4), 5: (3, 8), 6: (7, 12), 7: (11, 16)}
    assert label_window(spans, 5, 10, 99) == (5, 6)  # last start<=5, first end>=10
    assert label_window(spans, 0, 16, 99) == (4, 7)
    assert label_window(spans, 14, 20, 99) == (99, 99)  # answer runs past the window
    assert label_window({}, 0, 1, 99) == (99, 99)


def test_best_span_and_trim() -> None:
    spans = {2: (0, 4), 3: (4, 8), 4: (8, 12)}
    start = np.array([0, 0, 1, 5, 0, 9.0])  # index 5 = no-answer, never a span
    end = np.array([0, 0, 0, 1, 4, 9.0])
    assert best_span(start, end, spans) == (5.0 + 4.0, 4, 12)
    assert best_span(start, end, spans, max_answer_length=1) == (6.0, 4, 8)
    ctx = "the answer is forty two today"
    # a span from inside "the" to inside "today" loses both partial words
    assert ctx[slice(*trim_partial_words(ctx, 1, 26))] == "answer is forty two"


@pytest.fixture
def squad_split():
    from pixel_bench.registry import TASKS

    task = TASKS.get("squad")
    rows = [{"id": "q1", "question": " Who won? ", "context": "  " + CONTEXT,
             "answers": {"text": [ANSWER], "answer_start": [2 + CONTEXT.index(ANSWER)]}}]
    L = 32
    renderer = BlockRenderer(_default_config(L))
    kwargs = task.render_kwargs({"max_seq_length": L, "question_max_length": 4,
                                 "doc_stride": 8})
    rendered = [renderer(r, **kwargs) for r in task.render_inputs(rows)]
    split = task.encode("validation", rows, TinyAdapter(), rendered, L, "testing-blocks",
                        renderer.config)
    return task, split, L


def test_windows_labels_and_no_answer(squad_split) -> None:
    task, split, L = squad_split
    windows = split.meta["windows"]
    assert len(windows) > 2  # the context overflows into several windows
    context = CONTEXT
    s_char = context.index(ANSWER)
    e_char = s_char + len(ANSWER)
    answered = 0
    for k in range(len(windows)):
        f = split.dataset[k]
        s, e = int(f["start_positions"]), int(f["end_positions"])
        spans = split.meta["spans"][k]
        if s == L:  # no-answer index = L (PIXEL's CLS at the end)
            assert e == L
            assert not spans or min(v[0] for v in spans.values()) > s_char or \
                max(v[1] for v in spans.values()) < e_char
            continue
        answered += 1
        assert spans[s][0] <= s_char < spans[s][1] + 1 and spans[e][1] >= e_char
        assert context[spans[s][0]:spans[e][1]].find(ANSWER) >= 0
    assert answered >= 1
    assert split.counts["windows"] == len(windows)
    assert split.counts["windows_without_answer"] == len(windows) - answered


def test_nbest_maps_back_to_characters(squad_split) -> None:
    task, split, L = squad_split
    n = len(split.meta["windows"])
    start = np.full((n, L + 1), -5.0)
    end = np.full((n, L + 1), -5.0)
    for k in range(n):
        f = split.dataset[k]
        s, e = int(f["start_positions"]), int(f["end_positions"])
        start[k, s] = end[k, e] = 5.0  # the gold patches (no-answer index for the others)
    metrics, rows = task.score(split, (start, end))
    assert rows[0]["prediction"] == ANSWER
    assert metrics == {"exact_match": 1.0, "f1": 1.0}
    untrimmed = task.postprocess(split, start, end, trim=False)["q1"]
    assert ANSWER in untrimmed and len(untrimmed) <= len(ANSWER) + 8


def test_text_model_windows_map_back() -> None:
    """Token baselines: the tokenizer's windows and offsets feed the same n-best search."""
    from pixel_bench.registry import MODELS, TASKS

    task = TASKS.get("squad")
    adapter = MODELS.get("bert-tiny").for_run(task.kind, 48)
    rows = [{"id": "q1", "question": "Who won?", "context": " " + CONTEXT,
             "answers": {"text": [ANSWER], "answer_start": [1 + CONTEXT.index(ANSWER)]}}]
    split = task.encode("validation", rows, adapter, None, 48, None,
                        recipe={"doc_stride": 8})
    n = len(split.meta["windows"])
    assert n > 1
    width = max(len(split.dataset[k]["input_ids"]) for k in range(n))
    start = np.full((n, width), -5.0)
    end = np.full((n, width), -5.0)
    for k in range(n):
        f = split.dataset[k]
        if int(f["start_positions"]) > 0:
            start[k, int(f["start_positions"])] = end[k, int(f["end_positions"])] = 5.0
    metrics, rows_out = task.score(split, (start, end))
    assert rows_out[0]["prediction"] == ANSWER and metrics["exact_match"] == 1.0
