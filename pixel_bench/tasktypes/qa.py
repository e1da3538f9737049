"""Extractive QA (SQuAD): PIXEL's sliding-window pair rendering, start/end patch labels and
n-best span search over patches (xplip/pixel ``run_qa.py``, ``utils/question_answering.py``).

Rendering: ``(question, context)`` pairs, both ``.strip()``-ed, with ``text_a_max_length``
(question patches), ``stride`` (patches of context repeated between windows),
``return_offset_mapping`` and ``return_overflowing_patches``: every example gives one or more
windows ``[question][black][context part][black]``, each patch carrying the ``(char_start,
char_end)`` of the text it shows.

Labels per window: start = the last context patch whose span begins at or before the answer
start; end = the first context patch whose span ends at or after the answer end; a window that
does not contain the whole answer points both at the no-answer index (``num_positions`` =
PIXEL's CLS, moved to the end of the sequence).

Prediction: per window the ``n_best`` highest start and end logits over context patches, spans
with ``end >= start`` and at most ``max_answer_length`` patches, score = start + end logit; the
best span over all windows of an example wins (SQuAD v1.1 has no unanswerable questions), mapped
back to characters through the offsets. PIXEL additionally trims partial words at the span edges
(a patch usually starts or ends inside a word); :func:`trim_partial_words` does that here
(``qa_trim_partial_words``, on by default) — an approximation of PIXEL's heuristics, not a copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import ConfigError, DataError
from ..metrics import squad_metrics
from ..modeling.contracts import QAInputAdapter
from ..modeling.adapter import ModelAdapter, TaskKind
from ..recipe_keys import recipe_key, register_keys
from .base import EncodedSplit, FeatureDataset, Task, rendered_counts

NO_OFFSET = (0, 0)


def context_start_patch(encoding: Any, renderer_name: str | None, pixels_per_patch: int) -> int:
    """First context patch: the one after the black separator. PangoCairo stores the separator
    as a pixel offset, PyGame as a patch index (kept as the originals do); the renderer class's
    ``sep_patches_unit`` says which."""
    from ..registry import RENDERERS
    from ..render.base import TextRenderer, sep_patch_indices

    if not encoding.sep_patches:
        raise DataError("a QA window has no separator patch: render (question, context) pairs")
    # an unregistered name (a renderer used directly) gets the base class's unit, pixels
    cls = RENDERERS.get(renderer_name) if renderer_name in RENDERERS else TextRenderer
    return sep_patch_indices(encoding.sep_patches[:1], cls.sep_patches_unit,
                             pixels_per_patch)[0] + 1


def position_spans(offsets: Sequence[tuple[int, int]], first_context_patch: int,
                   num_text_patches: int, label_positions: Any, num_positions: int,
                   ) -> dict[int, tuple[int, int]]:
    """Model position -> (char_start, char_end) of the context it shows (several renderer
    patches per position are merged). Question, separator, blank and padding patches are left
    out."""
    spans: dict[int, tuple[int, int]] = {}
    last = min(num_text_patches, len(offsets))
    patches = np.arange(first_context_patch, last, dtype=np.int64)
    if not len(patches):
        return spans
    positions = np.asarray(label_positions(patches))
    for patch, pos in zip(patches.tolist(), positions.tolist()):
        s, e = (int(v) for v in offsets[patch])
        if s < 0 or e <= s or not 0 <= pos < num_positions:
            continue
        if pos in spans:
            s0, e0 = spans[pos]
            spans[pos] = (min(s0, s), max(e0, e))
        else:
            spans[pos] = (s, e)
    return spans


def label_window(spans: dict[int, tuple[int, int]], start_char: int, end_char: int,
                 no_answer: int) -> tuple[int, int]:
    """(start, end) positions of the answer ``[start_char, end_char)`` in one window, or
    ``(no_answer, no_answer)`` when the window does not contain all of it."""
    if not spans:
        return no_answer, no_answer
    order = sorted(spans)
    if spans[order[0]][0] > start_char or spans[order[-1]][1] < end_char:
        return no_answer, no_answer
    start = max(p for p in order if spans[p][0] <= start_char)
    end = min(p for p in order if spans[p][1] >= end_char)
    if end < start:  # a degenerate span inside one patch
        end = start
    return start, end


def trim_partial_words(context: str, start: int, end: int) -> tuple[int, int]:
    """Drop the partial words a patch boundary cut (and edge whitespace), keeping at least one
    character."""
    s, e = start, end
    if 0 < s < e and context[s - 1].isalnum() and context[s].isalnum():
        nxt = s
        while nxt < e and context[nxt].isalnum():
            nxt += 1
        if nxt < e:
            s = nxt
    if s < e < len(context) and context[e - 1].isalnum() and context[e].isalnum():
        prv = e
        while prv > s and context[prv - 1].isalnum():
            prv -= 1
        if prv > s:
            e = prv
    while s < e and context[s].isspace():
        s += 1
    while e > s and context[e - 1].isspace():
        e -= 1
    return (s, e) if e > s else (start, end)


def best_span(start_logits: np.ndarray, end_logits: np.ndarray,
              spans: dict[int, tuple[int, int]], n_best: int = 20,
              max_answer_length: int = 30) -> tuple[float, int, int] | None:
    """(score, char_start, char_end) of the best valid span in one window, or None."""
    valid = np.array(sorted(spans), dtype=np.int64)
    if not len(valid):
        return None
    s_idx = valid[np.argsort(-start_logits[valid], kind="stable")[:n_best]]
    e_idx = valid[np.argsort(-end_logits[valid], kind="stable")[:n_best]]
    best: tuple[float, int, int] | None = None
    for s in s_idx.tolist():
        for e in e_idx.tolist():
            if e < s or e - s + 1 > max_answer_length:
                continue
            score = float(start_logits[s] + end_logits[e])
            if best is None or score > best[0]:
                best = (score, spans[s][0], spans[e][1])
    return best


#: recipe keys of extractive QA (windows and PIXEL's n-best post-processing)
register_keys({
    "doc_stride": recipe_key(int, "overlap between QA windows (patches; tokens for text models)",
                             minimum=0),
    "question_max_length": recipe_key(int, "patches kept for the question", minimum=1),
    "n_best_size": recipe_key(int, "start/end candidates per window", minimum=1),
    "max_answer_length": recipe_key(int, "longest answer span (patches/tokens)", minimum=1),
    "qa_trim_partial_words": recipe_key(bool, "trim words cut by a patch boundary from answers"),
}, owner="tasktypes/qa.py")


@dataclass
class QuestionAnsweringTask(Task):
    """SQuAD-style extractive QA over rendered windows."""

    kind: TaskKind = TaskKind.QUESTION_ANSWERING
    main_metric: str = "f1"
    label_names: tuple[str, ...] = ("start_positions", "end_positions")

    def score_options(self, recipe: Mapping[str, Any]) -> dict[str, Any]:
        """n-best search settings of PIXEL's SQuAD post-processing."""
        return {"n_best": int(recipe.get("n_best_size", 20)),
                "max_answer_length": int(recipe.get("max_answer_length", 30)),
                "trim": bool(recipe.get("qa_trim_partial_words", True))}

    def head_spec(self, recipe: Mapping[str, Any]):
        from ..modeling.adapter import HeadSpec

        return HeadSpec(kind=self.kind, num_labels=2, dropout=recipe.get("dropout"))

    def render_kwargs(self, recipe: Mapping[str, Any]) -> dict[str, Any]:
        L = int(recipe.get("max_seq_length", 400))
        q, stride = int(recipe.get("question_max_length", 128)), int(recipe.get("doc_stride", 160))
        if stride >= L - q - 2:
            raise ConfigError(f"doc_stride {stride} must be smaller than the context part of a "
                              f"window (max_seq_length {L} - question_max_length {q} - 2 "
                              "separator/EOS patches)")
        return {"text_a_max_length": int(recipe.get("question_max_length", 128)),
                "stride": int(recipe.get("doc_stride", 160)),
                "return_offset_mapping": True, "return_overflowing_patches": True}

    def render_inputs(self, rows: Sequence[dict[str, Any]]) -> list[Any]:
        return [(r["question"].strip(), r["context"].strip()) for r in rows]

    def encode(self, name: str, rows: list[dict[str, Any]], adapter: ModelAdapter,
               rendered: Any, render_patches: int, renderer_name: str | None,
               renderer_config: Any = None, recipe: Mapping[str, Any] | None = None,
               ) -> EncodedSplit:
        if rendered is None:
            return self._encode_tokens(name, rows, adapter, recipe or {})
        ppp = int(getattr(renderer_config, "pixels_per_patch", 16))
        n_pos = adapter.num_positions(render_patches)
        no_answer = n_pos
        windows: list[tuple[int, int]] = []  # (example, window-in-example)
        spans_of: list[dict[int, tuple[int, int]]] = []
        targets: list[tuple[int, int]] = []
        unanswerable_windows = 0
        for i, row in enumerate(rows):
            enc = rendered[i]
            shift = len(row["context"]) - len(row["context"].lstrip())
            answers = row["answers"]
            if answers["text"]:
                start_char = int(answers["answer_start"][0]) - shift
                end_char = start_char + len(answers["text"][0])
            else:
                start_char = end_char = -1
            for w, win in enumerate([enc, *(enc.overflowing_patches or [])]):
                if win.offset_mapping is None:
                    raise DataError(f"{self.name}: the renderer returned no offset_mapping "
                                    "(QA needs return_offset_mapping)")
                ctx = context_start_patch(win, renderer_name, ppp)
                spans = position_spans(win.offset_mapping, ctx, int(win.num_text_patches),
                                       adapter.label_positions, n_pos)
                tgt = (label_window(spans, start_char, end_char, no_answer) if start_char >= 0
                       else (no_answer, no_answer))
                unanswerable_windows += tgt[0] == no_answer
                windows.append((i, w))
                spans_of.append(spans)
                targets.append(tgt)

        def item(k: int) -> dict[str, Any]:
            i, w = windows[k]
            enc = rendered[i]
            win = enc if w == 0 else enc.overflowing_patches[w - 1]
            feats = dict(adapter.features(win))
            feats["start_positions"] = np.int64(targets[k][0])
            feats["end_positions"] = np.int64(targets[k][1])
            return feats

        counts = rendered_counts(rendered, len(rows))
        counts.update({"windows": len(windows), "windows_without_answer": int(unanswerable_windows)})
        return EncodedSplit(name=name, rows=rows, dataset=FeatureDataset(len(windows), item),
                            counts=counts, meta={"windows": windows, "spans": spans_of})

    def _encode_tokens(self, name: str, rows: list[dict[str, Any]], adapter: ModelAdapter,
                       recipe: Mapping[str, Any]) -> EncodedSplit:
        """Text-token models: the tokenizer's own sliding windows and offsets (HF's recipe);
        the same n-best search then runs over tokens instead of patches."""
        if not isinstance(adapter, QAInputAdapter):
            raise ConfigError(f"{adapter.card.name} has neither a renderer nor QA windows from "
                              "tokens (QAInputAdapter)")
        stride = int(recipe.get("doc_stride", 128))
        feats: list[dict[str, Any]] = []
        windows: list[tuple[int, int]] = []
        spans_of: list[dict[int, tuple[int, int]]] = []
        no_answer_windows = 0
        for i, row in enumerate(rows):
            question, context = row["question"].strip(), row["context"].strip()
            shift = len(row["context"]) - len(row["context"].lstrip())
            answers = row["answers"]
            kw: dict[str, Any] = {}
            if answers["text"]:
                kw = {"answer_start": int(answers["answer_start"][0]) - shift,
                      "answer_text": answers["text"][0]}
            for w, f in enumerate(adapter.qa_features(question, context, stride=stride, **kw)):
                offsets = f.pop("offset_mapping")
                spans_of.append({j: (int(s), int(e)) for j, (s, e) in enumerate(offsets.tolist())
                                 if s >= 0 and e > s})
                if "start_positions" not in f:  # no answer given: CLS convention
                    f["start_positions"] = f["end_positions"] = np.int64(0)
                no_answer_windows += int(f["start_positions"]) == 0
                feats.append(f)
                windows.append((i, w))
        counts = {"examples": len(rows), "windows": len(windows),
                  "windows_without_answer": no_answer_windows}
        return EncodedSplit(name=name, rows=rows, dataset=FeatureDataset(len(feats),
                                                                         feats.__getitem__),
                            counts=counts, meta={"windows": windows, "spans": spans_of})

    def postprocess(self, split: EncodedSplit, start_logits: np.ndarray, end_logits: np.ndarray,
                    n_best: int = 20, max_answer_length: int = 30, trim: bool = True,
                    ) -> dict[str, str]:
        best: dict[int, tuple[float, int, int]] = {}
        for k, (i, _w) in enumerate(split.meta["windows"]):
            cand = best_span(np.asarray(start_logits[k]), np.asarray(end_logits[k]),
                             split.meta["spans"][k], n_best, max_answer_length)
            if cand is not None and (i not in best or cand[0] > best[i][0]):
                best[i] = cand
        preds: dict[str, str] = {}
        for i, row in enumerate(split.rows):
            context = row["context"].strip()
            if i not in best:
                preds[row["id"]] = ""
                continue
            _, s, e = best[i]
            if trim:
                s, e = trim_partial_words(context, s, e)
            preds[row["id"]] = context[s:e]
        return preds

    def score(self, split: EncodedSplit, predictions: Any, n_best: int = 20,
              max_answer_length: int = 30, trim: bool = True):
        start_logits, end_logits = predictions[0], predictions[1]
        preds = self.postprocess(split, start_logits, end_logits, n_best, max_answer_length, trim)
        refs = {r["id"]: r["answers"]["text"] for r in split.rows}
        rows = [{"split": split.name, "id": r["id"], "prediction": preds[r["id"]],
                 "label": r["answers"]["text"]} for r in split.rows]
        return squad_metrics(preds, refs), rows
