"""PixelGPT-family and PIXAR-2024 adapters: build, forward/backward, save/reload, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pixel_bench.errors import CheckpointError, ConfigError, DataError  # noqa: E402
from pixel_bench.modeling.adapter import HeadSpec, TaskKind  # noqa: E402
from pixel_bench.registry import MODELS  # noqa: E402
from pixel_bench.render import Encoding, get_attention_mask  # noqa: E402

SEQ = HeadSpec(TaskKind.SEQUENCE_CLASSIFICATION, num_labels=3)
TOK = HeadSpec(TaskKind.TOKEN_CLASSIFICATION, num_labels=4)
QA = HeadSpec(TaskKind.QUESTION_ANSWERING)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)


def _grey_encoding(n_text: int, width_patches: int = 1024) -> Encoding:
    rng = np.random.default_rng(n_text)
    img = np.full((16, 16 * width_patches), 255, dtype=np.uint8)
    img[:, : 16 * n_text] = rng.integers(0, 256, (16, 16 * n_text), dtype=np.uint8)
    img[:, 16 * n_text: 16 * (n_text + 1)] = 0  # black EOS patch
    return Encoding(pixel_values=img, num_text_patches=n_text,
                    attention_mask=get_attention_mask(n_text, width_patches))


def _binary_encoding(n_renderer_patches: int, width: int = 40) -> Encoding:
    rng = np.random.default_rng(n_renderer_patches)
    binary = np.ones((1, 8, 8 * width), dtype=np.uint8)
    binary[..., : 8 * n_renderer_patches] = rng.integers(0, 2, (8, 8 * n_renderer_patches))
    binary[..., 8 * n_renderer_patches: 8 * (n_renderer_patches + 1)] = 0
    ntp = np.asarray(int(np.ceil((n_renderer_patches + 1) / 2)))
    return Encoding(pixel_values=binary[0] * 255, num_text_patches=n_renderer_patches,
                    extras={"binary": binary, "tgraph_num_text_patches": ntp})


# ----------------------------------------------------------------------------------------------
# registry and rendering settings
# ----------------------------------------------------------------------------------------------
def test_names_are_registered() -> None:
    names = set(MODELS.names())
    assert {"pixelgpt", "monogpt", "dualgpt", "dualgpt-text", "dualgpt-pair", "monogpt-pair",
            "pixelgpt-tiny", "dualgpt-pair-tiny", "pixar2024", "pixar2024-tiny"} <= names
    assert MODELS.get("dualgpt").card.hub_id == "baidu/DualGPT"
    assert MODELS.get("pixelgpt").card.family == "pixelgpt"


def test_pixelgpt_renderer_is_the_noto_renderer_cropped_by_the_recipe() -> None:
    adapter = MODELS.get("pixelgpt-tiny").for_run(TaskKind.SEQUENCE_CLASSIFICATION, 768)
    name, cfg = adapter.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION, max_seq_length=768)
    assert name == "pygame"
    assert (cfg.dpi, cfg.font_size, cfg.pixels_per_patch, cfg.max_seq_length) == (120, 8, 16, 1024)
    assert Path(cfg.font_file).name == "NotoSans-Regular.ttf"
    feats = adapter.features(_grey_encoding(900))
    assert feats["pixel_values"].shape == (3, 16, 16 * 768)  # left crop, no resize
    assert feats["attention_mask"].sum() == 768  # clipped text fills the crop
    assert MODELS.get("dualgpt-text-tiny").renderer_config(TaskKind.SEQUENCE_CLASSIFICATION) is None
    with pytest.raises(ConfigError, match="pygame"):
        adapter.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION, renderer="binary")
    # token tasks render at L (labels per model position); QA needs PangoCairo's offsets
    name, cfg = adapter.renderer_config(TaskKind.TOKEN_CLASSIFICATION, max_seq_length=256)
    assert (name, cfg.max_seq_length) == ("pygame", 256)
    name, cfg = adapter.renderer_config(TaskKind.QUESTION_ANSWERING, max_seq_length=384)
    assert (name, cfg.max_seq_length) == ("pangocairo", 384)


def test_pixelgpt_features_rgb_gray_binary() -> None:
    enc = _grey_encoding(5)
    base = MODELS.get("pixelgpt-tiny")
    rgb = base.with_options(render_mode="rgb").for_run(TaskKind.SEQUENCE_CLASSIFICATION, 16)
    f = rgb.features(enc)
    assert f["pixel_values"].shape == (3, 16, 256) and f["pixel_values"].dtype == np.float32
    assert 0.0 <= f["pixel_values"].min() and f["pixel_values"].max() <= 1.0
    assert f["attention_mask"].tolist() == [1.0] * 6 + [0.0] * 10  # text + EOS
    gray = base.with_options(render_mode="gray")
    gray.crop_patches = 16
    np.testing.assert_allclose(gray.features(enc)["pixel_values"][0], f["pixel_values"][0])
    binary = base.with_options(render_mode="binary")
    binary.crop_patches = 16
    assert set(np.unique(binary.features(enc)["pixel_values"])) <= {0.0, 1.0}
    with pytest.raises(ConfigError, match="render_mode"):
        base.with_options(render_mode="sepia")


def test_pixar_renderer_and_positions() -> None:
    adapter = MODELS.get("pixar2024-tiny")
    name, cfg = adapter.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION)
    assert name == "binary"
    assert (cfg.dpi, cfg.pixels_per_patch, cfg.max_seq_length, cfg.patch_len, cfg.binary) == \
        (80, 8, 720, 2, True)
    assert Path(cfg.font_file).name == "PixeloidSans.ttf"
    assert adapter.num_positions(720) == 360
    assert adapter.label_positions(np.array([0, 1, 2, 7])).tolist() == [0, 0, 1, 3]
    with pytest.raises(ConfigError, match="multiple"):
        adapter.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION, max_seq_length=41)


def test_pixar_features_follow_tgraph() -> None:
    adapter = MODELS.get("pixar2024-tiny")
    enc = _binary_encoding(6)  # 6 text patches + EOS -> ceil(7/2) = 4 positions
    f = adapter.features(enc)
    assert f["pixel_values"].shape == (1, 8, 320)
    assert f["attention_mask"].tolist() == [1.0] * 4 + [0.0] * 16
    del enc.extras["binary"], enc.extras["tgraph_num_text_patches"]  # from the grey strip
    g = adapter.features(enc)
    np.testing.assert_array_equal(g["pixel_values"], f["pixel_values"])
    np.testing.assert_array_equal(g["attention_mask"], f["attention_mask"])
    bad = Encoding(pixel_values=np.zeros((8, 100), np.uint8), num_text_patches=1)
    with pytest.raises(DataError, match="multiple of 16"):
        adapter.features(bad)


# ----------------------------------------------------------------------------------------------
# build, train step, save / reload
# ----------------------------------------------------------------------------------------------
def _with_labels(feats, adapter, head: HeadSpec, n_pos: int):
    for i, f in enumerate(feats):
        if head.kind == TaskKind.SEQUENCE_CLASSIFICATION:
            f["labels"] = np.asarray(i % head.num_labels)
        elif head.kind == TaskKind.TOKEN_CLASSIFICATION:
            lab = np.full(n_pos, -100, dtype=np.int64)
            lab[[0, 2]] = [1, 3]
            f["labels"] = lab
        else:
            f["start_positions"], f["end_positions"] = np.asarray(1), np.asarray(2)
    return adapter.collate(feats)


def _roundtrip(adapter, model, batch, tmp_path: Path, head: HeadSpec):
    out = model(**batch)
    assert out.loss is not None and torch.isfinite(out.loss)
    out.loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    model.eval()
    with torch.no_grad():
        before = model(**batch)
    adapter.save_pretrained(model, tmp_path / "ckpt")
    reloaded = adapter.build(head, checkpoint=tmp_path / "ckpt").eval()
    assert reloaded.loading_report["missing"] == []
    with torch.no_grad():
        after = reloaded(**batch)
    for key in ("logits", "start_logits", "end_logits"):
        if getattr(before, key, None) is not None:
            torch.testing.assert_close(getattr(after, key), getattr(before, key), rtol=0, atol=0)
    return tmp_path / "ckpt"


@pytest.mark.parametrize("head", [SEQ, TOK, QA], ids=["seqcls", "tokcls", "qa"])
def test_pixelgpt_pixel_mode_train_step_and_roundtrip(head: HeadSpec, tmp_path: Path) -> None:
    adapter = MODELS.get("pixelgpt-tiny").with_options()
    adapter.crop_patches = 16
    model = adapter.build(head)
    feats = [adapter.features(_grey_encoding(n)) for n in (3, 7)]
    batch = _with_labels(feats, adapter, head, 16)
    ckpt = _roundtrip(adapter, model, batch, tmp_path, head)
    assert (ckpt / "text_renderer_config.json").is_file()
    assert (ckpt / "NotoSans-Regular.ttf").is_file()
    assert json.loads((ckpt / "config.json").read_text())["model_type"] == "ernie-pixel"


def test_pixelgpt_pair_mode(tmp_path: Path) -> None:
    adapter = MODELS.get("dualgpt-pair-tiny").with_options()
    adapter = adapter.for_run(TaskKind.SEQUENCE_CLASSIFICATION, 16)
    feats = [adapter.features(_grey_encoding(n), text=t)
             for n, t in ((3, "a short one"), (7, ("a pair", "of sentences here")))]
    assert set(feats[0]) >= {"pixel_values", "patch_attention_mask", "text_input_ids"}
    batch = _with_labels(feats, adapter, SEQ, 16)
    assert batch["input_ids"].shape[0] == 2 and batch["patch_attention_mask"].shape == (2, 16)
    model = adapter.build(SEQ)
    _roundtrip(adapter, model, batch, tmp_path, SEQ)
    with pytest.raises(DataError, match="raw text"):
        adapter.features(_grey_encoding(3))
    with pytest.raises(ConfigError, match="sequence classification only"):
        adapter.renderer_config(TaskKind.TOKEN_CLASSIFICATION, 16)


def test_pixelgpt_text_mode_pools_last_token() -> None:
    adapter = MODELS.get("monogpt-text-tiny").with_options()
    feats = [adapter.text_features(t) for t in ("one two three", "one")]
    batch = _with_labels(feats, adapter, SEQ, 0)
    pad = adapter.pad_token_id
    assert (batch["input_ids"][1, len(feats[1]["input_ids"]):] == pad).all()
    model = adapter.build(SEQ).eval()
    out = model(**batch)
    out.loss.backward()
    # the logits of row 1 equal those of the unpadded single example (right padding + causal)
    single = adapter.collate([adapter.text_features("one")])
    with torch.no_grad():
        torch.testing.assert_close(model(**single).logits[0], out.logits[1].detach(),
                                   atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("head", [SEQ, TOK, QA], ids=["seqcls", "tokcls", "qa"])
def test_pixar_train_step_and_roundtrip(head: HeadSpec, tmp_path: Path) -> None:
    adapter = MODELS.get("pixar2024-tiny")
    model = adapter.build(head)
    feats = [adapter.features(_binary_encoding(n)) for n in (3, 9)]
    batch = _with_labels(feats, adapter, head, 20)
    ckpt = _roundtrip(adapter, model, batch, tmp_path, head)
    assert json.loads((ckpt / "text_renderer_config.json").read_text())["binary"] is True
    assert (ckpt / "PixeloidSans.ttf").is_file()


def test_pixar_causal_lm_trains_and_generates(tmp_path: Path) -> None:
    from pixel_bench.modeling.pixar2024 import Pixar2024Config, build_pixar2024

    from_adapter = MODELS.get("pixar2024-tiny")
    feats = from_adapter.collate([from_adapter.features(_binary_encoding(n)) for n in (3, 9)])
    model = build_pixar2024(Pixar2024Config(hidden_size=32, intermediate_size=64,
                                            num_hidden_layers=1, num_attention_heads=4,
                                            vocab_size=8), "causal_lm")
    out = model(**feats)
    out.loss.backward()
    assert model.in_proj.weight.grad is not None
    grey = build_pixar2024(Pixar2024Config(hidden_size=32, intermediate_size=64, vocab_size=8,
                                           num_hidden_layers=1, num_attention_heads=4,
                                           binary=False), "causal_lm")
    assert torch.isfinite(grey(**feats).loss)
    image, ntp = model.generate(feats["pixel_values"], feats["attention_mask"].sum(-1), 3,
                                mode="bernoulli", generator=torch.Generator().manual_seed(0))
    assert ntp.tolist() == (feats["attention_mask"].sum(-1) + 3).tolist()
    with pytest.raises(ConfigError, match="generation mode"):
        model.generate(feats["pixel_values"], 3, 1, mode="nucleus")


def test_from_scratch_keeps_the_checkpoint_config(golden: Path) -> None:
    adapter = MODELS.get("pixelgpt")
    model = adapter.build(SEQ, checkpoint=golden / "models" / "pixelgpt-tiny" / "causal_lm",
                          from_scratch=True)
    assert model.config.hidden_size == 32 and model.config.num_labels == 3
    pixar = MODELS.get("pixar2024").build(SEQ, checkpoint=golden / "models" / "pixar2024-tiny" /
                                          "causal")
    assert pixar.loading_report["dropped"] == ["out_proj.weight"]


# ----------------------------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------------------------
def test_missing_checkpoint_files(tmp_path: Path) -> None:
    adapter = MODELS.get("pixelgpt")
    with pytest.raises(CheckpointError, match="not found"):
        adapter.build(SEQ, checkpoint=tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="config.json"):
        adapter.build(SEQ, checkpoint=tmp_path / "empty")
    with pytest.raises(CheckpointError, match="Hub"):
        MODELS.get("pixar2024").build(SEQ)


def test_missing_weights_and_unknown_model_type(golden: Path, tmp_path: Path) -> None:
    src = golden / "models" / "pixelgpt-tiny" / "seqcls"
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    shutil.copy(src / "config.json", ckpt / "config.json")
    with pytest.raises(CheckpointError, match="model.safetensors"):
        MODELS.get("pixelgpt").build(SEQ, checkpoint=ckpt)
    cfg = json.loads((src / "config.json").read_text())
    cfg["model_type"] = "vit_mae"
    (ckpt / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="'vit_mae'"):
        MODELS.get("pixelgpt").build(SEQ, checkpoint=ckpt)
    plain = {k: v for k, v in cfg.items() if k not in ("patch_size", "num_channels")}
    (ckpt / "config.json").write_text(json.dumps({**plain, "model_type": "llama"}))
    with pytest.raises(CheckpointError, match="plain LLaMA"):
        MODELS.get("pixar2024").build(SEQ, checkpoint=ckpt)


def test_shape_mismatch_names_the_keys(golden: Path, tmp_path: Path) -> None:
    src = golden / "models" / "pixelgpt-tiny" / "seqcls"
    ckpt = tmp_path / "ckpt"
    shutil.copytree(src, ckpt)
    cfg = json.loads((src / "config.json").read_text())
    (ckpt / "config.json").write_text(json.dumps({**cfg, "hidden_size": 64}))
    with pytest.raises(CheckpointError, match=r"shape mismatch \[model\.embed_patches"):
        MODELS.get("pixelgpt").build(SEQ, checkpoint=ckpt)
    # a fine-tuned 3-label head cannot be loaded as a 2-label head without saying so
    (ckpt / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="score.weight"):
        MODELS.get("pixelgpt").build(HeadSpec(TaskKind.SEQUENCE_CLASSIFICATION, 2),
                                     checkpoint=ckpt)


def test_unexpected_keys_are_named(golden: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    src = golden / "models" / "pixelgpt-tiny" / "seqcls"
    ckpt = tmp_path / "ckpt"
    shutil.copytree(src, ckpt)
    state = load_file(str(src / "model.safetensors"))
    state["model.extra.weight"] = torch.zeros(2)
    save_file(state, str(ckpt / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"unexpected keys \[model\.extra\.weight\]"):
        MODELS.get("pixelgpt").build(SEQ, checkpoint=ckpt)


def test_build_pretraining(golden: Path) -> None:
    lm = MODELS.get("pixelgpt").build_pretraining(
        checkpoint=golden / "models" / "pixelgpt-tiny" / "causal_lm")
    assert lm.loading_report == {"missing": [], "dropped": []}
    tiny = MODELS.get("pixelgpt-tiny").build_pretraining()
    assert tiny.lm_pixel_head.out_features == 768
    px = MODELS.get("pixar2024").build_pretraining(
        checkpoint=golden / "models" / "pixar2024-tiny" / "causal")
    assert px.loading_report == {"missing": [], "dropped": []}
    assert MODELS.get("pixar2024-tiny").build_pretraining().out_proj.weight.shape == (32, 1, 8, 16)


def test_xnli_resize_option() -> None:
    adapter = MODELS.get("pixelgpt-tiny").with_options(resize=True)
    adapter.crop_patches = 256
    enc = _grey_encoding(900)  # 1024-patch canvas squeezed to 256 patches
    f = adapter.features(enc)
    assert f["pixel_values"].shape == (3, 16, 16 * 256)
    # the black EOS patch at 900 lands near 900 / 4 = 225 after the resize
    dark = np.where(f["pixel_values"][0].mean(axis=0) < 0.05)[0]
    assert abs(dark.min() / 16 - 225) < 2


def test_pixelgpt_text_mode_qa_and_tokens() -> None:
    adapter = MODELS.get("dualgpt-text-tiny").with_options()
    adapter = adapter.for_run(TaskKind.QUESTION_ANSWERING, 32)
    windows = adapter.qa_features("who?", "John Smith lives in New York .", answer_start=0,
                                  answer_text="John Smith")
    batch = adapter.collate(windows)
    model = adapter.build(QA)
    out = model(**batch)
    assert out.start_logits.shape == batch["input_ids"].shape and torch.isfinite(out.loss)
    tok = adapter.collate([adapter.text_features(["John", "Smith"], word_labels=[1, 2])])
    assert (tok["labels"] != -100).sum() == 2
    assert adapter.build(TOK)(**tok).logits.shape[-1] == 4


def test_regression_head_and_pair_index_fix() -> None:
    from pixel_bench.modeling.pixelgpt import pooled_index

    adapter = MODELS.get("pixelgpt-tiny").with_options()
    adapter.crop_patches = 16
    head = HeadSpec(TaskKind.SEQUENCE_CLASSIFICATION, num_labels=1, problem_type="regression")
    feats = [adapter.features(_grey_encoding(n)) for n in (3, 7)]
    for f, y in zip(feats, (0.5, 4.2)):
        f["labels"] = np.asarray(y, dtype=np.float32)
    batch = adapter.collate(feats)
    out = adapter.build(head)(**batch)
    assert out.logits.shape == (2, 1)
    torch.testing.assert_close(out.loss, ((out.logits[:, 0] - batch["labels"]) ** 2).mean())
    ids = torch.tensor([[1, 5, 2, 2], [1, 5, 6, 7]])
    faithful = pooled_index(input_ids=ids, attention_mask=None, n_patch_positions=16,
                            pad_token_id=2)
    fixed = pooled_index(input_ids=ids, attention_mask=None, n_patch_positions=16,
                         pad_token_id=2, fix_unpadded_pair=True)
    assert faithful.tolist() == [17, 15] and fixed.tolist() == [17, 19]


@pytest.mark.parametrize("model", ["pixar2024-tiny", "pixelgpt-tiny"])
def test_checkpoint_renderer_replaces_the_default(model: str, fonts: Path, tmp_path: Path) -> None:
    """A checkpoint directory with its own text_renderer_config.json + font (as save_pretrained
    writes them) supplies the renderer; the recipe still sets the length."""
    adapter = MODELS.get(model)
    name, default = adapter.renderer_config(TaskKind.TOKEN_CLASSIFICATION, 64)
    font = fonts / "pixeloid" / "PixeloidSansBold.ttf"
    assert Path(default.font_file).name != font.name
    default.with_overrides(font_file=str(font), font_size=7).save(tmp_path)
    name2, own = adapter.renderer_config(TaskKind.TOKEN_CLASSIFICATION, 64, checkpoint=tmp_path)
    assert name2 == name and Path(own.font_file) == tmp_path / font.name
    assert own.font_size == 7 and own.max_seq_length == 64
    assert own.pixels_per_patch == default.pixels_per_patch
    assert own.text_renderer_type == default.text_renderer_type
