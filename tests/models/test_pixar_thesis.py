"""Thesis PIXAR (2023 MSc, encoder-decoder): masking, focal loss, causality, variants, generation."""

from __future__ import annotations

import math
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from pixel_bench.modeling.masking import (SpanMaskingGenerator, complete_mask, make_patch_mask,
                                          num_masked_by_model, random_mask)


# -- masking ------------------------------------------------------------------------------------
def _spans(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of ones."""
    out, start = [], None
    for i, v in enumerate(list(mask) + [0]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            out.append((start, i - start))
            start = None
    return out


def test_span_masking_pixel_base_ratio_and_spans():
    n = 529
    gen = SpanMaskingGenerator(n, math.ceil(0.25 * n), max_span_length=6, spacing="span",
                               cumulative_span_weights=[0.2, 0.4, 0.6, 0.8, 0.9, 1.0])
    rnd = random.Random(0)
    counts, lengths = [], Counter()
    for _ in range(200):
        mask = gen(n + 1, rng=rnd)
        assert mask.shape == (n,) and set(np.unique(mask)) <= {0, 1}
        counts.append(int(mask.sum()))
        for _s, length in _spans(mask):
            lengths[length] += 1
    # on a long, empty strip the greedy generator always reaches ceil(0.25 N) = 133 exactly
    assert counts.count(133) == len(counts)
    # spans are separated by at least their own length, so runs are whole spans of 1..6
    assert max(lengths) <= 6 and min(lengths) >= 1
    total = sum(lengths.values())
    freq = {k: lengths[k] / total for k in range(1, 7)}
    # lengths 1-4 each ~0.2 and 5-6 ~0.1 (the final span of each mask is budget-capped,
    # which shifts mass slightly towards short spans)
    for k in (1, 2, 3, 4):
        assert 0.15 < freq[k] < 0.28, freq
    for k in (5, 6):
        assert 0.05 < freq[k] < 0.14, freq


def test_span_masking_first_span_within_text():
    n, text = 100, 10
    gen = SpanMaskingGenerator(n, 25)
    for seed in range(200):
        rnd = random.Random(seed)
        # record the first accepted span by running with a budget of one span
        one = SpanMaskingGenerator(n, 1, cumulative_span_weights=[1, 1, 1, 1, 1, 1])
        first = one(text, rng=rnd)
        assert first.sum() == 1 and first[:text].sum() == 1
        mask = gen(text, rng=random.Random(seed))
        assert mask[:text].any()  # the first span always lies within the text region


def test_span_masking_reproducible_and_neighbourhood():
    gen = SpanMaskingGenerator(200, 50)
    a = gen(120, rng=random.Random(7))
    b = gen(120, rng=random.Random(7))
    np.testing.assert_array_equal(a, b)
    # accepted spans keep a gap >= their length to the next masked patch
    for (s1, l1), (s2, l2) in zip(_spans(a), _spans(a)[1:]):
        assert s2 - (s1 + l1) >= 1


def test_span_masking_short_strip_may_fall_short():
    gen = SpanMaskingGenerator(8, 6)
    mask = gen(9, rng=random.Random(1))
    assert 1 <= mask.sum() <= 6


def test_random_mask_exact_and_forces_text_patch():
    for seed in range(100):
        m = random_mask(64, 16, num_text_patches=2, rng=seed)
        assert m.sum() == 16 and m[:2].any()


def test_complete_mask_and_make_patch_mask():
    n = 529
    target = num_masked_by_model(n, 0.25)
    assert target == 133
    short = np.zeros(n, dtype=np.int64)
    short[:10] = 1
    full = complete_mask(short, target, rng=0)
    assert full.sum() == target and full[:10].all()
    for strategy in ("span", "random"):
        m = make_patch_mask(strategy, n, 0.25, 40, rng=np.random.default_rng(3))
        assert m.sum() == target
    assert make_patch_mask("none", n, 0.25, 40).sum() == 0


# -- model ----------------------------------------------------------------------------------------
torch = pytest.importorskip("torch")

from pixel_bench.errors import CheckpointError, ConfigError  # noqa: E402
from pixel_bench.modeling.adapter import HeadSpec, TaskKind  # noqa: E402
from pixel_bench.modeling.pixar import (VARIANTS, PixarForPreTraining, focal_loss,  # noqa: E402
                                        variant_config)
from pixel_bench.registry import MODELS  # noqa: E402

N = 24  # patches in the synthetic strips


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny matrices: one thread is faster than two on a shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
NO_DROPOUT = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


@pytest.fixture(scope="module")
def pixeloid():
    """Saving a PIXAR checkpoint copies the Pixeloid font beside it (shared/fonts in CI)."""
    from pixel_bench.fonts import resolve_font

    try:
        return resolve_font("PixeloidSans.ttf")
    except ConfigError as exc:
        pytest.skip(f"Pixeloid Sans not found: {exc}")


def _batch(b: int = 3, n: int = N, seed: int = 0, lengths=(20, 12, 6)):
    """Synthetic binary strips: random 'ink' in the text patches, black EOS, white padding."""
    g = torch.Generator().manual_seed(seed)
    x = torch.ones(b, 1, 8, 8 * n)
    mask = torch.zeros(b, n)
    for i in range(b):
        k = lengths[i % len(lengths)]
        ink = (torch.rand(1, 8, 8 * (k - 1), generator=g) > 0.7).float()
        x[i, :, :, : 8 * (k - 1)] = 1 - ink
        x[i, :, :, 8 * (k - 1): 8 * k] = 0  # EOS
        mask[i, :k] = 1
    return x, mask


def _tiny(name: str = "pixar", **kw) -> PixarForPreTraining:
    torch.manual_seed(0)
    return PixarForPreTraining(variant_config(name, tiny=True, **{**NO_DROPOUT, **kw}))


def test_focal_loss_hand_checked():
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    # p = 0.9, target 1: -alpha (1 - p)^2 log p
    got = focal_loss(torch.tensor([logit(0.9)]), torch.tensor([1.0]), reduction="sum")
    assert got.item() == pytest.approx(-0.3 * 0.1 ** 2 * math.log(0.9), rel=1e-5)
    # p = 0.2, target 0: -(1 - alpha) p^2 log(1 - p)
    got = focal_loss(torch.tensor([logit(0.2)]), torch.tensor([0.0]), reduction="sum")
    assert got.item() == pytest.approx(-0.7 * 0.2 ** 2 * math.log(0.8), rel=1e-5)
    # mean over the counted pixels only: patch 1 is padding (weight 0) and is ignored
    logits = torch.tensor([[[logit(0.9)] * 2, [5.0, -5.0]]])  # [B=1, N=2, 2 pixels]
    targets = torch.tensor([[[1.0, 1.0], [0.0, 1.0]]])
    weight = torch.tensor([[1.0, 0.0]])
    got = focal_loss(logits, targets, weight)
    assert got.item() == pytest.approx(-0.3 * 0.01 * math.log(0.9), rel=1e-5)
    # gamma 0, alpha -1: plain BCE
    got = focal_loss(torch.tensor([0.3]), torch.tensor([1.0]), alpha=-1, gamma=0.0)
    assert got.item() == pytest.approx(-math.log(1 / (1 + math.exp(-0.3))), rel=1e-5)


def test_pretraining_shapes_mask_counts_and_padding_excluded():
    x, am = _batch()
    for masking, expected in (("span", N - int(N * 0.75)), ("random", N - int(N * 0.75)),
                              ("none", 0)):
        model = _tiny(masking=masking).eval()
        torch.manual_seed(1)
        out = model(x, am)
        assert out.logits.shape == (3, N, 64) and out.loss.ndim == 0
        assert out.mask.sum(1).tolist() == [expected] * 3
        if masking == "random":  # one attended patch always masked
            assert ((out.mask * am).sum(1) >= 1).all()
    # padding patches are excluded: changing them changes no counted output or the loss
    model = _tiny(masking="none").eval()
    x2 = x.clone()
    x2[2, :, :, 8 * 6:] = 0.0  # example 2 has 6 attended patches
    a, b = model(x, am), model(x2, am)
    assert a.loss.item() == pytest.approx(b.loss.item(), rel=1e-6)
    torch.testing.assert_close(a.logits[2, :6], b.logits[2, :6])


def test_decoder_is_causal_and_embedding_shared():
    model = _tiny(masking="none").eval()
    x, am = _batch()
    enc = model.pixar.encode(x, am)
    t = 9
    x2 = x.clone()
    x2[:, :, :, 8 * t: 8 * (t + 1)] = 1 - x2[:, :, :, 8 * t: 8 * (t + 1)]  # flip patch t
    d1 = model.pixar.decode(model.pixar.decoder_inputs(x), enc).last_hidden_state
    d2 = model.pixar.decode(model.pixar.decoder_inputs(x2), enc).last_hidden_state
    # position i predicts patch i from patches < i: positions <= t never see patch t
    torch.testing.assert_close(d1[:, : t + 1], d2[:, : t + 1])
    assert (d1[:, t + 1] - d2[:, t + 1]).abs().max() > 1e-4
    # one conv module, one parameter, used by the encoder and the decoder
    pixar = model.pixar
    assert pixar.patch_embeddings is pixar.embeddings.patch_embeddings
    convs = [k for k, _ in model.named_parameters() if "projection" in k]
    assert convs == ["pixar.embeddings.patch_embeddings.projection.weight",
                     "pixar.embeddings.patch_embeddings.projection.bias"]
    model.zero_grad()
    dec_only = pixar.decode(pixar.decoder_inputs(x), type(enc)(
        last_hidden_state=enc.last_hidden_state.detach(), attention_mask=enc.attention_mask))
    dec_only.last_hidden_state.sum().backward()  # the decoder path alone trains the conv
    assert pixar.embeddings.patch_embeddings.projection.weight.grad.abs().sum() > 0


def test_generation_counts_cache_and_binary_values():
    model = _tiny().eval()
    x, am = _batch()
    g1 = model.generate(x, 5, 7, use_cache=True)
    g2 = model.generate(x, 5, 7, use_cache=False)
    assert g1.shape == (3, 7, 64)
    assert set(torch.unique(g1).tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(g1, g2)
    # free-running from START, encoder reading the whole (attended) strip
    # the fed-back patch embedding equals the strip embedding, and one generated step after P
    # gold patches equals the teacher-forced prediction at position P
    pe = model.pixar.patch_embeddings
    torch.testing.assert_close(pe.embed_patches(model.patchify(x)), pe(x))
    tf = model.logits_to_pixels(model.next_patch_logits(x, am))
    for p in (0, 4, 11):
        step = model.generate(x, p, 1, encoder_attention_mask=am)
        torch.testing.assert_close(step[:, 0], tf[:, p])
    g3 = model.generate(x, 0, N, encoder_attention_mask=am)
    assert g3.shape == (3, N, 64)
    rows = model.reconstruction_images(x, am)
    assert list(rows) == ["input", "masked input", "prediction", "generation"]
    assert all(v.shape == (8, 8 * N) and v.dtype == np.uint8 for v in rows.values())
    grey = _tiny("pixar-encdec-span-grey").eval()
    assert not set(torch.unique(grey.generate(x, 5, 3)).tolist()) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="positions"):
        model.generate(x, 5, 600)


def test_decoder_passes_no_deprecated_keyword():
    """transformers renamed GPT2Model.forward's ``past_key_values`` to ``cache``; the old name's
    FutureWarning was printed in every fine-tuning run (and the name goes away in 5.40)."""
    import warnings

    model = _tiny().eval()
    x, am = _batch()
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        model.pixar.decode(model.pixar.decoder_inputs(x), model.pixar.encode(x, am))
        model.generate(x, 5, 3, use_cache=True)


VARIANT_NAMES = sorted(VARIANTS)


def test_registry_has_every_table_row_full_and_tiny():
    names = set(MODELS.names())
    for v in VARIANT_NAMES + ["pixar"]:
        assert v in names and f"{v}-tiny" in names
        card = MODELS.get(v).card
        assert card.family == "pixar" and set(card.attributes) >= {"architecture", "masking",
                                                                    "input"}
    assert len(VARIANT_NAMES) == 7  # Table 4.3: seven PIXAR rows (+ PIXEL)
    assert MODELS.get("pixar").card.attributes["architecture"] == "encoder-decoder"
    with pytest.raises(CheckpointError, match="no released"):
        MODELS.get("pixar").build(HeadSpec(TaskKind.SEQUENCE_CLASSIFICATION))


def _train(model, batch, steps=10, lr=3e-3):
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    losses = []
    for _ in range(steps):
        loss = model(**batch).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_variant_trains_saves_and_reloads(name, tmp_path):
    ad = MODELS.get(f"{name}-tiny")
    torch.manual_seed(0)
    x, am = _batch(4, lengths=(20, 12, 6, 16))
    if ad.input_type == "grey":
        x = x * 0.8 + 0.1
    pm = torch.as_tensor(np.stack([ad.pretraining_mask_generator(N)(int(a), rng=i)
                                   for i, a in enumerate(am.sum(1).tolist())])).float()
    pre = ad.build_pretraining(**NO_DROPOUT)
    assert pre.config.masking == ad.masking and pre.config.input_type == ad.input_type
    losses = _train(pre, {"pixel_values": x, "attention_mask": am, "patch_mask": pm})
    assert losses[-1] < losses[0] * 0.92, losses
    pre.eval()
    pre.save_pretrained(str(tmp_path / "pre"))  # adapter saving (+ font): test_checkpoint_errors
    again = ad.build_pretraining(checkpoint=tmp_path / "pre").eval()
    torch.manual_seed(5)
    a = pre(x, am, patch_mask=pm).logits
    torch.manual_seed(5)
    torch.testing.assert_close(again(x, am, patch_mask=pm).logits, a)
    # fine-tune: heads on decoder states (enc-dec) or encoder states (enc-only), no masking
    labels = torch.tensor([0, 1, 0, 1])
    cls = ad.build(HeadSpec(TaskKind.SEQUENCE_CLASSIFICATION, 2, dropout=0.0),
                   checkpoint=tmp_path / "pre")
    assert hasattr(cls.pixar, "decoder") == (ad.architecture == "encoder-decoder")
    torch.testing.assert_close(cls.pixar.encoder.layer[0].output.dense.weight,
                               pre.pixar.encoder.layer[0].output.dense.weight)
    losses = _train(cls, {"pixel_values": x, "attention_mask": am, "labels": labels}, steps=6)
    assert losses[-1] < losses[0], losses
    cls.eval()
    cls.save_pretrained(str(tmp_path / "cls"))
    cls2 = ad.build(HeadSpec(TaskKind.SEQUENCE_CLASSIFICATION, 2), checkpoint=tmp_path / "cls")
    torch.testing.assert_close(cls2.eval()(x, am).logits, cls(x, am).logits)
    tok = ad.build(HeadSpec(TaskKind.TOKEN_CLASSIFICATION, 5), checkpoint=tmp_path / "pre")
    tl = torch.full((4, N), -100)
    tl[:, 0] = 1
    out = tok(x, am, labels=tl)
    assert out.logits.shape == (4, N, 5) and torch.isfinite(out.loss)
    qa = ad.build(HeadSpec(TaskKind.QUESTION_ANSWERING), checkpoint=tmp_path / "pre")
    out = qa(x, am, start_positions=torch.tensor([1, 2, N, 3]), end_positions=torch.tensor(
        [2, 4, N, 3]))
    assert out.start_logits.shape == (4, N) and torch.isfinite(out.loss)


def test_checkpoint_errors(tmp_path, pixeloid):
    ad = MODELS.get("pixar-tiny")
    with pytest.raises(CheckpointError, match="config.json"):
        ad.build(HeadSpec(TaskKind.SEQUENCE_CLASSIFICATION), checkpoint=tmp_path)
    grey = MODELS.get("pixar-encdec-span-grey-tiny")
    ad.save_pretrained(ad.build_pretraining(), tmp_path / "bin")
    names = {p.name for p in (tmp_path / "bin").iterdir()}
    assert {"config.json", "model.safetensors", "text_renderer_config.json",
            "PixeloidSans.ttf"} <= names
    with pytest.raises(CheckpointError, match="input_type"):
        grey.build(HeadSpec(TaskKind.SEQUENCE_CLASSIFICATION), checkpoint=tmp_path / "bin")
    with pytest.raises(ConfigError, match="renderer"):
        ad.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION, renderer="pygame")
    with pytest.raises(ConfigError, match="max_seq_length"):
        ad.build(HeadSpec(TaskKind.SEQUENCE_CLASSIFICATION), max_seq_length=600)
    with pytest.raises(ConfigError, match="masking"):
        variant_config("pixar", tiny=True, masking="blocks")
    # no CLS: the model refuses cls pooling, the adapter falls back to mean (docs/models-pixar.md)
    from pixel_bench.modeling.pixar import PixarForSequenceClassification

    with pytest.raises(ConfigError, match="CLS"):
        PixarForSequenceClassification(variant_config("pixar", tiny=True), pooling_mode="cls")
    model = ad.build(HeadSpec(TaskKind.SEQUENCE_CLASSIFICATION, pooling="cls"))
    assert model.config.pooling_mode == "mean"


def test_checkpoint_renderer_must_fit_the_model(tmp_path, pixeloid):
    from pixel_bench.render.binary import binary_layout

    grey = tmp_path / "grey"
    binary_layout("thesis", grey=True).save(grey)  # a grey renderer beside a binary model
    with pytest.raises(ConfigError, match="cannot feed pixar-tiny"):
        MODELS.get("pixar-tiny").renderer_config(TaskKind.SEQUENCE_CLASSIFICATION,
                                                 checkpoint=grey)
    _, own = MODELS.get("pixar-enc-span-grey-tiny").renderer_config(
        TaskKind.SEQUENCE_CLASSIFICATION, 64, checkpoint=grey)
    assert Path(own.font_file) == grey / "PixeloidSans.ttf" and own.max_seq_length == 64
    (grey / "PixeloidSans.ttf").unlink()  # the font a config names must ship with it
    with pytest.raises(ConfigError, match="font file .*PixeloidSans.ttf is missing"):
        MODELS.get("pixar-enc-span-grey-tiny").renderer_config(TaskKind.SEQUENCE_CLASSIFICATION,
                                                               checkpoint=grey)


def test_init_encoder_from_pixel(tmp_path):
    from pixel_bench.modeling.pixar import init_encoder_from_pixel
    from pixel_bench.modeling.pixel.config import PIXELConfig
    from pixel_bench.modeling.pixel.pretraining import PIXELForPreTraining

    torch.manual_seed(0)
    pcfg = PIXELConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=64, decoder_hidden_size=16, decoder_num_hidden_layers=1,
                       decoder_num_attention_heads=2, decoder_intermediate_size=32,
                       image_size=[16, 16 * 529])
    PIXELForPreTraining(pcfg).save_pretrained(str(tmp_path / "pixel"))
    ad = MODELS.get("pixar-tiny")
    model = ad.build_pretraining(checkpoint=tmp_path / "pixel")
    from pixel_bench.modeling.pixel.loading import load_pixel_encoder_weights

    _cfg, state = load_pixel_encoder_weights(tmp_path / "pixel")
    torch.testing.assert_close(model.pixar.encoder.layer[1].attention.attention.query.weight,
                               state["encoder.layer.1.attention.attention.query.weight"])
    torch.testing.assert_close(model.pixar.layernorm.weight, state["layernorm.weight"])
    report = init_encoder_from_pixel(_tiny(), tmp_path / "pixel")
    assert any("patch_embeddings" in k for k in report["reinitialised"])
    assert "embeddings.cls_token" in report["dropped"]
    wide = PixarForPreTraining(variant_config("pixar", tiny=True, hidden_size=64,
                                              decoder_hidden_size=64))
    with pytest.raises(CheckpointError, match="hidden_size"):
        init_encoder_from_pixel(wide, tmp_path / "pixel")


def test_rendered_batch_features(fonts):
    from pixel_bench.registry import RENDERERS

    for name in ("pixar-tiny", "pixar-enc-span-grey-tiny"):
        ad = MODELS.get(name)
        rname, rcfg = ad.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION, max_seq_length=64)
        assert rcfg.pixels_per_patch == 8 and rcfg.patch_len == 1
        renderer = RENDERERS.get(rname)(rcfg)
        encs = [renderer("The quick brown fox."), renderer(("A premise.", "A hypothesis."))]
        feats = [ad.features(e) for e in encs]
        batch = ad.collate(feats)
        assert batch["pixel_values"].shape == (2, 1, 8, 512)
        assert batch["attention_mask"][0].sum() == encs[0].num_text_patches + 1
        values = set(torch.unique(batch["pixel_values"]).tolist())
        assert (values <= {0.0, 1.0}) == (ad.input_type == "binary")
        model = ad.build_pretraining()
        out = model(**batch)
        assert out.logits.shape == (2, 64, 64) and torch.isfinite(out.loss)


# -- CLI ------------------------------------------------------------------------------------------
def test_cli_generate(tmp_path, fonts):
    from typer.testing import CliRunner

    from pixel_bench.cli.app import app

    runner = CliRunner()
    res = runner.invoke(app, ["generate", "--model", "pixar-tiny", "Hello there."])
    assert res.exit_code != 0 and isinstance(res.exception, CheckpointError)
    assert "--checkpoint" in str(res.exception)
    out = tmp_path / "g.png"
    res = runner.invoke(app, ["generate", "--model", "pixar-tiny", "--from-scratch", "--masked",
                              "Hello there.", "--patches", "5", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "free-running generation" in res.output and "continuation" in res.output
    from PIL import Image

    img = Image.open(out)
    assert img.width > 8 * 4 and img.height > 5 * 8 * 4
    # from a saved checkpoint, no --from-scratch
    ad = MODELS.get("pixar-tiny")
    ad.save_pretrained(ad.build_pretraining(), tmp_path / "ck")
    res = runner.invoke(app, ["generate", "--model", "pixar-tiny", "-c", str(tmp_path / "ck"),
                              "Hi.", "-n", "3", "-o", str(tmp_path / "h.png")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["generate", "--model", "pixel-tiny", "--from-scratch", "x"])
    assert isinstance(res.exception, ConfigError)
