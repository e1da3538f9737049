"""The pretraining pipeline's side of the objectives (the model engineer tests the models):
encoder masks drawn in the data workers, focal loss over the non-padding patches of pipeline
batches, no future leakage through teacher forcing, every Table 4.3 variant trains a step."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pixel_bench.registry import MODELS  # noqa: E402
from pixel_bench.train.pretrain import Featurizer, PretrainArgs, mask_generator_for  # noqa: E402
from pixel_bench.train.pretrain import renderer_for  # noqa: E402
from pixel_bench.train.pretrain_data import PackedCorpus, ShardState, TextSource  # noqa: E402

VARIANTS = ["pixar-enc-random-binary", "pixar-enc-span-grey", "pixar-enc-span-binary",
            "pixar-encdec-none-binary", "pixar-encdec-random-binary", "pixar-encdec-span-grey",
            "pixar-encdec-span-binary"]
L = 64  # patches per example (8 px each) in these tests


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory: pytest.TempPathFactory, data: Path) -> Path:
    src = data / "wikipedia_en_sample" / "text" / "AA" / "wiki_02.gz"
    out = tmp_path_factory.mktemp("objective-corpus") / "wiki.txt"
    with gzip.open(src, "rt", encoding="utf-8") as fh:
        out.write_text("".join(next(fh) for _ in range(300)), "utf-8")
    return out


def _examples(model: str, corpus_file: Path, n: int, min_patches: int = 8) -> tuple[list, object]:
    adapter = MODELS.get(model)
    args = PretrainArgs(model=model, output_dir="-", max_seq_length=L)
    name, cfg = renderer_for(adapter, args)
    feat = Featurizer(adapter, mask_generator_for(adapter, cfg, args))
    corpus = PackedCorpus(TextSource(corpus_file), name, cfg, feat, min_text_patches=min_patches,
                          block_lines=64)
    it = corpus.examples(0, 1, ShardState())
    return [next(it)[0] for _ in range(n)], adapter


@pytest.mark.parametrize("model,kind", [("pixar-encdec-span-binary-tiny", "span"),
                                        ("pixar-encdec-random-binary-tiny", "random"),
                                        ("pixar-encdec-none-binary-tiny", "none")])
def test_worker_masks_follow_the_variant(corpus_file: Path, model: str, kind: str):
    from pixel_bench.modeling.masking import num_masked_by_model

    feats, _ = _examples(model, corpus_file, 12)
    masks = np.stack([f["patch_mask"] for f in feats])
    if kind == "none":
        assert masks.sum() == 0
        return
    # every row masks exactly the model's count (PIXEL: L - int(0.75 L)), i.e. ~25 %
    assert set(masks.sum(axis=1).tolist()) == {num_masked_by_model(L, 0.25)}
    assert abs(masks.mean() - 0.25) < 0.02
    assert len({m.tobytes() for m in masks}) == len(masks)  # a fresh mask per example
    if kind == "span":  # spans: masked patches come in runs, unlike random masking
        runs = [len(r) for m in masks for r in np.split(m, np.flatnonzero(np.diff(m)) + 1)
                if r[0] == 1]
        assert np.mean(runs) > 1.5
    # reproducible: the same corpus position gives the same mask
    again, _ = _examples(model, corpus_file, 12)
    assert all(np.array_equal(a["patch_mask"], b["patch_mask"]) for a, b in zip(feats, again))


def _focal_by_hand(logits, target, weight, alpha=0.3, gamma=2.0):
    p = torch.sigmoid(logits.double())
    t = target.double()
    p_t = torch.where(t == 1, p, 1 - p)
    a_t = torch.where(t == 1, torch.full_like(p, alpha), torch.full_like(p, 1 - alpha))
    per_pixel = -a_t * (1 - p_t) ** gamma * torch.log(p_t)
    w = weight.double()[..., None].expand_as(per_pixel)
    return (per_pixel * w).sum() / w.sum()


def test_focal_loss_over_non_padding_patches_of_a_pipeline_batch(corpus_file: Path):
    feats, adapter = _examples("pixar-tiny", corpus_file, 40)
    short = [f for f in feats if f["attention_mask"].sum() < L][:3]  # short documents: padding
    full = [f for f in feats if f["attention_mask"].sum() == L][:1]
    batch = adapter.collate(short + full)
    assert set(batch) == {"pixel_values", "attention_mask", "patch_mask"}
    assert (batch["attention_mask"].sum(1) < L).sum() == 3
    torch.manual_seed(0)
    model = adapter.build_pretraining().eval()
    with torch.no_grad():
        out = model(**batch)
    target = model.patchify(batch["pixel_values"])
    want = _focal_by_hand(out.logits, target, batch["attention_mask"])
    assert float(out.loss) == pytest.approx(float(want), rel=1e-5)
    # padding patches do not count: changing their predictions changes nothing
    assert float(_focal_by_hand(out.logits + 5 * (1 - batch["attention_mask"])[..., None],
                                target, batch["attention_mask"])) == pytest.approx(float(want))


def test_teacher_forcing_does_not_leak_the_future(corpus_file: Path):
    """Prediction i sees START, gold patches < i and the encoder; with every patch >= t hidden
    from the encoder, changing those patches changes no prediction <= t."""
    from pixel_bench.modeling.masking import num_masked_by_model

    feats, adapter = _examples("pixar-tiny", corpus_file, 2, min_patches=L - 4)
    batch = adapter.collate(feats)
    t = L - num_masked_by_model(L, 0.25)
    batch["patch_mask"] = torch.zeros(2, L)
    batch["patch_mask"][:, t:] = 1
    torch.manual_seed(0)
    model = adapter.build_pretraining().eval()
    with torch.no_grad():
        a = model(**batch).logits
        changed = dict(batch, pixel_values=batch["pixel_values"].clone())
        changed["pixel_values"][..., t * 8:] = 1 - changed["pixel_values"][..., t * 8:]
        b = model(**changed).logits
    assert torch.equal(a[:, : t + 1], b[:, : t + 1])
    assert not torch.allclose(a[:, t + 1:], b[:, t + 1:])


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_table_4_3_variant_trains_a_step(corpus_file: Path, variant: str):
    feats, adapter = _examples(f"{variant}-tiny", corpus_file, 2)
    batch = adapter.collate(feats)
    torch.manual_seed(0)
    model = adapter.build_pretraining()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss = model(**batch).loss
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    assert sum(float(p.grad.abs().sum()) for p in model.parameters() if p.grad is not None) > 0


@pytest.mark.parametrize("model", ["pixel-tiny", "pixar2024-tiny"])
def test_pixel_mae_and_pixar2024_objectives_train_a_step(corpus_file: Path, model: str):
    """PIXEL's MAE (span masks from the workers) and PIXAR-2024's next-block BCE."""
    feats, adapter = _examples(model, corpus_file, 2)
    batch = adapter.collate(feats)
    assert ("patch_mask" in batch) == (model == "pixel-tiny")
    torch.manual_seed(0)
    net = adapter.build_pretraining(checkpoint=None, from_scratch=True,
                                    max_seq_length=adapter.num_positions(L))
    loss = net(**batch).loss
    loss.backward()
    assert torch.isfinite(loss) and float(loss.detach()) > 0
    if model == "pixel-tiny":  # the worker's span mask is masked (topped up at random if short)
        with torch.no_grad():
            out = net(**batch)
        assert bool((out.mask >= batch["patch_mask"]).all())
