"""PIXEL adapter and loader: every head builds, trains a step on a rendered batch, round-trips
through save_pretrained, loads the golden checkpoints, and fails clearly on bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pixel_bench.errors import CheckpointError, ConfigError, DataError  # noqa: E402
from pixel_bench.modeling.adapter import HeadSpec, TaskKind  # noqa: E402
from pixel_bench.modeling.pixel import (PIXELForSequenceClassification,  # noqa: E402
                                        PIXELForTokenClassification, load_pixel_checkpoint,
                                        load_pixel_encoder, load_pixel_encoder_weights)
from pixel_bench.registry import MODELS  # noqa: E402
from pixel_bench.render import Encoding, get_attention_mask  # noqa: E402

L = 32  # short strips keep the tests fast; the position table is truncated from 529
TEXTS = ["Hello world.", "Pixels instead of tokens", "a"]
WORDS = [["Hello", "world", "."], ["Pixel", "models"], ["x"]]


@pytest.fixture(scope="module")
def adapter():
    return MODELS.get("pixel-tiny")


@pytest.fixture(scope="module")
def tiny_golden(golden: Path) -> Path:
    path = golden / "models" / "pixel-tiny"
    if not (path / "cases.npz").is_file():
        pytest.skip(f"golden PIXEL-tiny fixtures not found in {path}")
    return path


def _encodings(adapter, words: bool = False) -> list[Encoding]:
    """Render with the adapter's renderer when one is importable, else synthetic strips."""
    from pixel_bench.registry import RENDERERS

    for name in ("pangocairo", "pygame"):
        try:
            _, cfg = adapter.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION, L, renderer=name)
            renderer = RENDERERS.get(name)(cfg)
            return [renderer(w if words else t) for t, w in zip(TEXTS, WORDS)]
        except (ImportError, ModuleNotFoundError, ConfigError):
            continue
    rng = np.random.default_rng(0)
    out = []
    for n in (5, 12, 1):
        img = np.full((16, 16 * L), 255, np.uint8)
        img[:, : 16 * n] = rng.integers(0, 256, (16, 16 * n), dtype=np.uint8)
        out.append(Encoding(pixel_values=img, num_text_patches=n,
                            attention_mask=get_attention_mask(n, L), word_starts=[0, 1, 2, n]))
    return out


def _batch(adapter, kind: TaskKind) -> dict:
    encs = _encodings(adapter, words=kind is TaskKind.TOKEN_CLASSIFICATION)
    feats = [adapter.features(e) for e in encs]
    for i, f in enumerate(feats):
        if kind is TaskKind.SEQUENCE_CLASSIFICATION:
            f["labels"] = np.int64(i % 2)
        elif kind is TaskKind.TOKEN_CLASSIFICATION:
            labels = np.full(L, -100, np.int64)
            labels[0] = i % 3
            f["labels"] = labels
        else:
            f["start_positions"], f["end_positions"] = np.int64(1), np.int64(2)
    return adapter.collate(feats)


@pytest.mark.parametrize("kind,pooling", [(TaskKind.SEQUENCE_CLASSIFICATION, "mean"),
                                          (TaskKind.SEQUENCE_CLASSIFICATION, "max"),
                                          (TaskKind.SEQUENCE_CLASSIFICATION, "cls"),
                                          (TaskKind.SEQUENCE_CLASSIFICATION, "pma4"),
                                          (TaskKind.TOKEN_CLASSIFICATION, "mean"),
                                          (TaskKind.QUESTION_ANSWERING, "mean")])
def test_each_head_trains_a_step(adapter, kind: TaskKind, pooling: str) -> None:
    torch.manual_seed(0)
    model = adapter.build(HeadSpec(kind=kind, num_labels=3, pooling=pooling), from_scratch=True,
                          max_seq_length=L)
    assert model.vit.embeddings.position_embeddings.shape[1] == L + 1
    batch = _batch(adapter, kind)
    assert batch["pixel_values"].shape == (3, 3, 16, 16 * L)
    model.train()
    out = model(**batch)
    assert torch.isfinite(out.loss)
    out.loss.backward()
    grads = [p.grad for n, p in model.named_parameters() if p.requires_grad and p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert model.vit.embeddings.position_embeddings.grad is not None  # trainable when fine-tuning
    if kind is TaskKind.QUESTION_ANSWERING:
        assert out.start_logits.shape == (3, L + 1)  # CLS moved to the end
    elif kind is TaskKind.TOKEN_CLASSIFICATION:
        assert out.logits.shape == (3, L, 3)
    else:
        assert out.logits.shape == (3, 3)


def test_regression_and_multilabel_losses(adapter) -> None:
    batch = _batch(adapter, TaskKind.SEQUENCE_CLASSIFICATION)
    reg = adapter.build(HeadSpec(kind=TaskKind.SEQUENCE_CLASSIFICATION, num_labels=1),
                        max_seq_length=L)
    out = reg(batch["pixel_values"], batch["attention_mask"], labels=torch.tensor([0.5, 1., 2.]))
    assert reg.config.problem_type == "regression" and torch.isfinite(out.loss)
    multi = adapter.build(HeadSpec(kind=TaskKind.SEQUENCE_CLASSIFICATION, num_labels=2),
                          max_seq_length=L)
    out = multi(batch["pixel_values"], batch["attention_mask"], labels=torch.ones(3, 2))
    assert multi.config.problem_type == "multi_label_classification"


def test_save_pretrained_round_trip(adapter, tmp_path: Path) -> None:
    head = HeadSpec(kind=TaskKind.SEQUENCE_CLASSIFICATION, num_labels=2, pooling="max",
                    add_layer_norm=False)
    model = adapter.build(head, from_scratch=True, max_seq_length=L).eval()
    _, renderer = adapter.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION, L)
    adapter.save_pretrained(model, tmp_path, renderer=renderer)
    for name in ("config.json", "model.safetensors", "text_renderer_config.json",
                 Path(renderer.font_file).name):
        assert (tmp_path / name).is_file(), name
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["pooling_mode"] == "max" and saved["add_layer_norm"] is False
    assert saved["image_size"] == [16, 16 * L]
    batch = _batch(adapter, TaskKind.SEQUENCE_CLASSIFICATION)
    with torch.no_grad():
        want = model(batch["pixel_values"], batch["attention_mask"]).logits
        # our loader: pooling mode comes back from the saved config
        again = load_pixel_checkpoint(tmp_path, PIXELForSequenceClassification)
        assert again.pooler.kind == "max" and again.pooler.add_layer_norm is False
        assert torch.equal(again(batch["pixel_values"], batch["attention_mask"]).logits, want)
        # the adapter, with the checkpoint's own renderer (font beside the weights)
        via = adapter.build(head, checkpoint=tmp_path, max_seq_length=L)
        assert torch.equal(via(batch["pixel_values"], batch["attention_mask"]).logits, want)
        # plain transformers from_pretrained
        hf = PIXELForSequenceClassification.from_pretrained(tmp_path).eval()
        assert torch.equal(hf(batch["pixel_values"], batch["attention_mask"]).logits, want)
    name, own = adapter.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION, 64, checkpoint=tmp_path)
    assert Path(own.font_file).parent == tmp_path and own.max_seq_length == 64


def test_golden_pretrain_into_seqcls_drops_decoder(tiny_golden: Path) -> None:
    model, report = load_pixel_checkpoint(tiny_golden / "pretrain", PIXELForSequenceClassification,
                                          config_overrides={"num_labels": 3}, return_report=True)
    dropped = [k for keys in report.dropped.values() for k in keys]
    assert dropped and all(k.startswith("decoder.") for k in dropped)
    assert "decoder.decoder_pred.weight" in dropped
    assert set(report.newly_initialised) == {"pooler.linear.weight", "pooler.linear.bias",
                                             "pooler.ln.weight", "pooler.ln.bias",
                                             "classifier.weight", "classifier.bias"}
    assert model.vit.embeddings.position_embeddings.requires_grad  # frozen table becomes trainable


def test_golden_qa_checkpoint_drops_unused_classifier(tiny_golden: Path) -> None:
    from pixel_bench.modeling.pixel import PIXELForQuestionAnswering

    _, report = load_pixel_checkpoint(tiny_golden / "qa", PIXELForQuestionAnswering,
                                      return_report=True)
    assert sorted(k for keys in report.dropped.values() for k in keys) == \
        ["classifier.bias", "classifier.weight"]


def test_adapter_loads_golden_checkpoint_and_truncates(adapter, tiny_golden: Path) -> None:
    z = np.load(tiny_golden / "cases.npz")
    model = adapter.build(HeadSpec(kind=TaskKind.SEQUENCE_CLASSIFICATION, num_labels=3),
                          checkpoint=tiny_golden / "seqcls", max_seq_length=9)
    with torch.no_grad():
        logits = model(torch.from_numpy(z["trunc9/pixel_values"]),
                       torch.from_numpy(z["trunc9/attention_mask"])).logits
    np.testing.assert_allclose(logits.numpy(), z["trunc9/seqcls_logits"], atol=1e-5)


def test_interpolation_for_longer_inputs(adapter) -> None:
    model = adapter.build(HeadSpec(kind=TaskKind.TOKEN_CLASSIFICATION, num_labels=2),
                          max_seq_length=600).eval()
    assert model.config.interpolate_pos_encoding is True
    assert model.vit.embeddings.position_embeddings.shape[1] == 530  # the table is kept
    with torch.no_grad():
        out = model(torch.rand(1, 3, 16, 16 * 600), torch.ones(1, 600))
    assert out.logits.shape == (1, 600, 2)


def test_encoder_weights_for_reuse(tiny_golden: Path) -> None:
    config, state = load_pixel_encoder_weights(tiny_golden / "pretrain")
    assert "embeddings.cls_token" in state and "encoder.layer.0.attention.attention.query.weight" \
        in state and not any(k.startswith(("decoder", "vit.")) for k in state)
    z = np.load(tiny_golden / "cases.npz")
    encoder = load_pixel_encoder(tiny_golden / "pretrain").eval()
    with torch.no_grad():
        hidden = encoder(torch.from_numpy(z["inputs/pixel_values"]),
                         torch.from_numpy(z["inputs/attention_mask"])).last_hidden_state
    np.testing.assert_allclose(hidden.numpy(), z["seqcls/encoder_last_hidden_state"], atol=1e-5)


def test_pretraining_model_masks_and_trains(adapter) -> None:
    model = adapter.build_pretraining(max_seq_length=L)
    assert model.vit.embeddings.position_embeddings.requires_grad is False
    batch = _batch(adapter, TaskKind.SEQUENCE_CLASSIFICATION)
    model.train()
    torch.manual_seed(0)
    out = model(batch["pixel_values"], batch["attention_mask"])
    n_masked = L - int(L * (1 - model.config.mask_ratio))
    assert out.mask.sum(1).tolist() == [n_masked] * 3
    # random masking forces one attended patch into the mask, so the loss is defined
    assert ((out.mask == 1) & (batch["attention_mask"] == 1)).any(1).all()
    out.loss.backward()
    patch_mask = torch.zeros(3, L)
    patch_mask[:, 1:1 + n_masked] = 1
    out = model(batch["pixel_values"], batch["attention_mask"], patch_mask=patch_mask)
    assert torch.equal(out.mask, patch_mask) and out.logits.shape == (3, L, 768)


def test_features_and_collate(adapter) -> None:
    grey = np.full((16, 64), 255, np.uint8)
    grey[:, :16] = 0
    f = adapter.features(Encoding(pixel_values=grey, num_text_patches=1))
    assert f["pixel_values"].shape == (3, 16, 64) and f["pixel_values"].dtype == np.float32
    assert f["pixel_values"][:, 0, 0].tolist() == [0, 0, 0] and f["pixel_values"].max() == 1.0
    assert f["attention_mask"].tolist() == [1, 1, 0, 0]
    rgb = np.zeros((16, 64, 3), np.uint8)
    rgb[..., 1] = 255
    f2 = adapter.features(Encoding(pixel_values=rgb, num_text_patches=3))
    assert f2["pixel_values"][:, 0, 0].tolist() == [0, 1, 0]
    with pytest.raises(DataError, match="16 px high"):
        adapter.features(Encoding(pixel_values=np.zeros((8, 64), np.uint8), num_text_patches=1))
    batch = adapter.collate([{**f, "labels": np.int64(1)}, {**f, "labels": np.int64(0)}])
    assert batch["labels"].tolist() == [1, 0] and batch["attention_mask"].dtype == torch.float32
    with pytest.raises(DataError):
        adapter.collate([])


def test_renderer_config_choices(adapter) -> None:
    name, cfg = adapter.renderer_config(TaskKind.QUESTION_ANSWERING, 400)
    assert name == "pangocairo" and cfg.max_seq_length == 400 and cfg.pixels_per_patch == 16
    assert Path(cfg.font_file).name == "NotoSans-Regular.ttf" and cfg.dpi == 120
    name, cfg = adapter.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION, 256, renderer="pygame")
    assert name == "pygame" and cfg.text_renderer_type == "PyGameTextRenderer"
    with pytest.raises(ConfigError, match="binary"):
        adapter.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION, 256, renderer="binary")


# -- bad input -----------------------------------------------------------------------------------
def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_missing_files(tmp_path: Path, tiny_golden: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_pixel_checkpoint(tmp_path / "nowhere", PIXELForTokenClassification)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match="config.json"):
        load_pixel_checkpoint(empty, PIXELForTokenClassification)
    shutil.copy(tiny_golden / "tokcls" / "config.json", empty / "config.json")
    with pytest.raises(CheckpointError, match="pytorch_model.bin"):
        load_pixel_checkpoint(empty, PIXELForTokenClassification)


def test_unknown_model_type(tmp_path: Path, tiny_golden: Path) -> None:
    ckpt = _copy(tiny_golden / "tokcls", tmp_path / "ck")
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["model_type"] = "bert"
    (ckpt / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="model_type 'bert'"):
        load_pixel_checkpoint(ckpt, PIXELForTokenClassification)


def test_shape_mismatch_and_unexpected_keys_are_named(tmp_path: Path, tiny_golden: Path) -> None:
    ckpt = _copy(tiny_golden / "tokcls", tmp_path / "ck")
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["intermediate_size"] = 128
    (ckpt / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"vit\.encoder\.layer\.0\.intermediate\.dense\.weight"):
        load_pixel_checkpoint(ckpt, PIXELForTokenClassification)
    ckpt2 = _copy(tiny_golden / "tokcls", tmp_path / "ck2")
    state = torch.load(ckpt2 / "pytorch_model.bin", weights_only=True)
    state["vit.surprise.weight"] = torch.zeros(1)
    del state["vit.layernorm.bias"]
    torch.save(state, ckpt2 / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="vit.surprise.weight") as err:
        load_pixel_checkpoint(ckpt2, PIXELForTokenClassification)
    assert "missing keys [vit.layernorm.bias]" in str(err.value)


def test_pickled_code_is_refused(tmp_path: Path, tiny_golden: Path) -> None:
    ckpt = _copy(tiny_golden / "tokcls", tmp_path / "ck")
    torch.save({"weights": object()}, ckpt / "pytorch_model.bin")  # not loadable weights-only
    with pytest.raises(CheckpointError, match="cannot read weights"):
        load_pixel_checkpoint(ckpt, PIXELForTokenClassification)


def test_hub_id_offline_says_what_to_download(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CheckpointError, match="`hf download Team-PIXEL/no-such"):
        load_pixel_checkpoint("Team-PIXEL/no-such", PIXELForTokenClassification)


def test_renderer_disagreeing_with_model(adapter, tmp_path: Path, tiny_golden: Path) -> None:
    model = adapter.build(HeadSpec(kind=TaskKind.TOKEN_CLASSIFICATION), max_seq_length=L)
    _, renderer = adapter.renderer_config(TaskKind.TOKEN_CLASSIFICATION, L)
    with pytest.raises(ConfigError, match="pixels_per_patch 8"):
        adapter.save_pretrained(model, tmp_path / "a", renderer.with_overrides(pixels_per_patch=8))
    model.config.num_channels = 1
    with pytest.raises(ConfigError, match="num_channels 1"):
        adapter.save_pretrained(model, tmp_path / "b", renderer)
    ckpt = _copy(tiny_golden / "tokcls", tmp_path / "ck")
    renderer.with_overrides(pixels_per_patch=8).save(ckpt)
    with pytest.raises(ConfigError, match="pixels_per_patch 8"):
        adapter.build(HeadSpec(kind=TaskKind.TOKEN_CLASSIFICATION, num_labels=5), checkpoint=ckpt)


def test_wrong_input_shapes_are_explained(adapter) -> None:
    model = adapter.build(HeadSpec(kind=TaskKind.TOKEN_CLASSIFICATION), max_seq_length=L)
    with pytest.raises(ValueError, match="channels"):
        model(torch.rand(1, 1, 16, 16 * L))
    with pytest.raises(ValueError, match="interpolate_pos_encoding"):
        model(torch.rand(1, 3, 16, 16 * (L + 1)))
    with pytest.raises(ValueError, match="attention_mask"):
        model(torch.rand(1, 3, 16, 16 * L), torch.ones(1, L + 1))
    with pytest.raises(ConfigError, match="pooling mode"):
        adapter.build(HeadSpec(kind=TaskKind.SEQUENCE_CLASSIFICATION, pooling="median"))


def test_span_masks_feed_the_pretraining_model(adapter) -> None:
    generator = adapter.pretraining_mask_generator(L)
    if generator is None:
        pytest.skip("pixel_bench.modeling.masking (span masking) is not present")
    import random

    random.seed(0)
    patch_mask = torch.as_tensor(np.stack([generator(n) for n in (6, 13, 2)]), dtype=torch.float32)
    model = adapter.build_pretraining(max_seq_length=L).eval()
    batch = _batch(adapter, TaskKind.SEQUENCE_CLASSIFICATION)
    with torch.no_grad():
        out = model(batch["pixel_values"], batch["attention_mask"], patch_mask=patch_mask)
    n_masked = L - int(L * (1 - model.config.mask_ratio))
    assert out.mask.sum(1).tolist() == [n_masked] * 3
    assert bool((out.mask >= patch_mask).all())  # every span-masked patch is masked
