"""PIXEL's biaffine parsing head: shapes, zero init, word pooling against PIXEL's per-sentence loop,
the loss (CE arcs + CE relations at the gold head, -100 ignored) and eval-mode predictions."""

from __future__ import annotations

import math

import pytest
import torch

from pixel_bench.modeling.pixel import PIXELConfig, PIXELForBiaffineParsing
from pixel_bench.modeling.pixel.parsing import Biaffine, word_pooling_weights

L, R = 8, 38
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            image_size=[16, 16 * L], num_labels=R, pad_token_id=-100)


def reference_pooling(patches: torch.Tensor, word_starts: torch.Tensor) -> torch.Tensor:
    """PIXEL's ``_merge_subword_tokens`` loop, written out as the spec."""
    out = []
    for vecs, starts in zip(patches, word_starts):
        starts = starts[starts.ne(-100)]
        words = []
        for j in range(len(starts) - 1):
            if starts[j + 1] <= 0:
                break
            s, e = int(starts[j]), int(starts[j + 1])
            words.append(vecs[s] if s == e else vecs[s:e].mean(0))
        words += [torch.zeros(vecs.shape[-1])] * (vecs.shape[0] - len(words))
        out.append(torch.stack(words))
    return torch.stack(out)


def test_word_pooling_matches_pixel_loop_and_hand_case() -> None:
    ws = torch.tensor([[0, 2, 3, 3, 6] + [-100] * 4, [0, 1] + [-100] * 7,
                       [0, 2, 0, 3, 5] + [-100] * 4])  # a start <= 0 ends the words (PIXEL)
    weights = word_pooling_weights(ws, L)
    assert weights.shape == (3, L, L)
    assert weights[2, 1:].abs().sum() == 0
    assert weights[0, 0].tolist()[:3] == [0.5, 0.5, 0.0]  # word 1 = mean of patches 0, 1
    assert weights[0, 2].tolist()[3] == 1.0  # start == end: the patch at the start
    assert weights[0, 3, 3:6].tolist() == pytest.approx([1 / 3] * 3)
    assert weights[0, 4:].abs().sum() == 0 and weights[1, 1:].abs().sum() == 0
    patches = torch.randn(3, L, 5)
    torch.testing.assert_close(weights @ patches, reference_pooling(patches, ws))


def test_biaffine_zero_init_and_shapes() -> None:
    b = Biaffine(6, n_out=3, bias_x=True, bias_y=False)
    assert b.weight.shape == (3, 7, 6) and b.weight.abs().sum() == 0
    assert b(torch.randn(2, 4, 6), torch.randn(2, 5, 6)).shape == (2, 3, 4, 5)


def test_parsing_head_shapes_loss_and_predictions() -> None:
    torch.manual_seed(0)
    model = PIXELForBiaffineParsing(PIXELConfig(**TINY))
    assert model.biaffine_arcs.weight.abs().sum() == 0  # zero init survives post_init
    assert {"vit.pooler.dense.weight", "biaffine_arcs.weight",
            "biaffine_rels.weight"} <= set(model.state_dict())
    pix = torch.rand(2, 3, 16, 16 * L)
    mask = torch.ones(2, L)
    ws = torch.tensor([[0, 1, 3, 4] + [-100] * 5] * 2)
    arcs = torch.tensor([[2, 0, 2] + [-100] * 5] * 2)
    rels = torch.tensor([[27, 35, 33] + [-100] * 5] * 2)
    model.train()
    out = model(pix, attention_mask=mask, word_starts=ws, arc_labels=arcs, rel_labels=rels)
    assert out.arc_logits.shape == (2, L, L + 1) and out.rel_logits.shape == (2, L, L + 1, R)
    # zero weights: uniform over L+1 heads and R relations
    assert out.loss.item() == pytest.approx(math.log(L + 1) + math.log(R), rel=1e-5)
    out.loss.backward()
    assert model.biaffine_rels.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        model.biaffine_arcs.weight.normal_()
        model.biaffine_rels.weight.normal_()
        ev = model(pix, attention_mask=mask, word_starts=ws, arc_labels=arcs, rel_labels=rels)
        full = model(pix, attention_mask=mask, word_starts=ws, return_scores=True)
    assert ev.arc_logits is None and ev.arc_preds.shape == (2, L) and ev.rel_preds.shape == (2, L)
    assert torch.equal(ev.arc_preds, full.arc_logits.argmax(-1))
    at_pred = full.rel_logits[0, torch.arange(L), full.arc_preds[0]]
    assert torch.equal(ev.rel_preds[0], at_pred.argmax(-1))
    # a batch without labelled words gives a zero loss, not NaN
    model.train()
    empty = model(pix, attention_mask=mask, word_starts=ws, arc_labels=torch.full_like(arcs, -100),
                  rel_labels=rels)
    assert empty.loss.item() == 0.0


def test_parsing_checkpoint_round_trip_keeps_every_weight(tmp_path) -> None:
    """A saved parsing model (the Team-PIXEL parsing checkpoints' key names) loads back whole:
    no missing or unexpected keys, same scores."""
    from pixel_bench.modeling.pixel import load_pixel_checkpoint

    torch.manual_seed(1)
    model = PIXELForBiaffineParsing(PIXELConfig(**TINY)).eval()
    with torch.no_grad():
        model.biaffine_arcs.weight.normal_()
        model.biaffine_rels.weight.normal_()
    model.save_pretrained(str(tmp_path))
    loaded, report = load_pixel_checkpoint(tmp_path, PIXELForBiaffineParsing, return_report=True)
    assert not report.dropped and not report.newly_initialised
    pix, ws = torch.rand(1, 3, 16, 16 * L), torch.tensor([[0, 2, 5] + [-100] * 6])
    with torch.no_grad():
        a = model(pix, attention_mask=torch.ones(1, L), word_starts=ws, return_scores=True)
        b = loaded(pix, attention_mask=torch.ones(1, L), word_starts=ws, return_scores=True)
    torch.testing.assert_close(a.rel_logits, b.rel_logits)
