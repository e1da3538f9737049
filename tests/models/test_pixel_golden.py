"""PIXEL-tiny golden parity: every key of shared/golden/models/pixel-tiny/cases.npz within
atol 1e-5, single-threaded as the fixtures were made."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pixel_bench.modeling.pixel import (PIXELForPreTraining, PIXELForQuestionAnswering,  # noqa: E402
                                        PIXELForSequenceClassification,
                                        PIXELForTokenClassification, load_pixel_checkpoint,
                                        resize_position_embeddings, sincos_table)

ATOL = 1e-5
# keys that describe inputs, not outputs
INPUT_KEYS = {"inputs/pixel_values", "inputs/attention_mask", "inputs/rendered_text_row0",
              "inputs/row0_uint8", "inputs/row0_num_text_patches", "seqcls/labels",
              "tokcls/labels", "qa/start_positions", "qa/end_positions", "pretrain/patch_mask",
              "trunc9/pixel_values", "trunc9/attention_mask"}


@pytest.fixture(scope="module")
def tiny(golden: Path) -> Path:
    path = golden / "models" / "pixel-tiny"
    if not (path / "cases.npz").is_file():
        pytest.skip(f"golden PIXEL-tiny fixtures not found in {path}")
    return path


@pytest.fixture(scope="module")
def outputs(tiny: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Run every case once; return (expected, ours) keyed like cases.npz."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        z = dict(np.load(tiny / "cases.npz"))
        ours = _run_all(tiny, z)
    finally:
        torch.set_num_threads(threads)
    return z, ours


def _t(a: np.ndarray) -> "torch.Tensor":
    return torch.from_numpy(np.asarray(a))


@torch.no_grad()
def _run_all(tiny: Path, z: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    pv, am = _t(z["inputs/pixel_values"]), _t(z["inputs/attention_mask"])
    res: dict[str, np.ndarray] = {}

    seq = load_pixel_checkpoint(tiny / "seqcls", PIXELForSequenceClassification,
                                pooling_mode="mean", add_layer_norm=True)
    out = seq(pv, am, labels=_t(z["seqcls/labels"]))
    res["seqcls/logits"], res["seqcls/loss"] = out.logits.numpy(), out.loss.numpy()
    res["seqcls/encoder_last_hidden_state"] = seq.vit(pv, am).last_hidden_state.numpy()

    tok = load_pixel_checkpoint(tiny / "tokcls", PIXELForTokenClassification)
    out = tok(pv, am, labels=_t(z["tokcls/labels"]))
    res["tokcls/logits"], res["tokcls/loss"] = out.logits.numpy(), out.loss.numpy()
    res["tokcls/encoder_last_hidden_state"] = tok.vit(pv, am).last_hidden_state.numpy()

    qa = load_pixel_checkpoint(tiny / "qa", PIXELForQuestionAnswering)
    out = qa(pv, am, start_positions=_t(z["qa/start_positions"]),
             end_positions=_t(z["qa/end_positions"]))
    res["qa/start_logits"], res["qa/end_logits"] = out.start_logits.numpy(), out.end_logits.numpy()
    res["qa/loss"] = out.loss.numpy()
    res["qa/encoder_last_hidden_state"] = qa.vit(pv, am).last_hidden_state.numpy()

    pre = load_pixel_checkpoint(tiny / "pretrain", PIXELForPreTraining)
    pm = _t(z["pretrain/patch_mask"])
    res["pretrain/position_embeddings"] = pre.vit.embeddings.position_embeddings.numpy()
    res["pretrain/decoder_pos_embed"] = pre.decoder.decoder_pos_embed.numpy()
    torch.manual_seed(0)  # the noise only orders patches; seeded exactly as the fixtures were
    out = pre(pv, am, patch_mask=pm)
    for key in ("loss", "logits", "mask", "ids_restore"):
        res[f"pretrain/{key}"] = getattr(out, key).numpy()
    torch.manual_seed(0)
    res["pretrain/encoder_last_hidden_state"] = pre.vit(pv, am, patch_mask=pm) \
        .last_hidden_state.numpy()
    torch.manual_seed(0)
    out = pre(pv, am)
    for key in ("loss", "logits", "mask", "ids_restore"):
        res[f"pretrain_random/{key}"] = getattr(out, key).numpy()

    trunc = load_pixel_checkpoint(tiny / "seqcls", PIXELForSequenceClassification,
                                  pooling_mode="mean", add_layer_norm=True)
    res["trunc9/position_embeddings_before"] = trunc.vit.embeddings.position_embeddings.numpy()
    resize_position_embeddings(trunc, 9)
    res["trunc9/position_embeddings"] = trunc.vit.embeddings.position_embeddings.numpy()
    tpv, tam = _t(z["trunc9/pixel_values"]), _t(z["trunc9/attention_mask"])
    res["trunc9/seqcls_logits"] = trunc(tpv, tam).logits.numpy()
    res["trunc9/encoder_last_hidden_state"] = trunc.vit(tpv, tam).last_hidden_state.numpy()
    res["_trunc9_image_size"] = np.array(trunc.config.image_size)
    return res


def _output_keys(tiny: Path) -> list[str]:
    with np.load(tiny / "cases.npz") as z:
        return [k for k in z.files if k not in INPUT_KEYS]


def _golden_keys() -> list[str]:
    from pixel_bench.paths import shared_dir

    shared = shared_dir()
    path = shared / "golden" / "models" / "pixel-tiny" if shared else None
    if path is None or not (path / "cases.npz").is_file():
        return ["<fixtures missing>"]
    return _output_keys(path)


@pytest.mark.parametrize("key", _golden_keys())
def test_golden_key(key: str, outputs: tuple[dict, dict]) -> None:
    expected, ours = outputs
    assert key in ours, f"no implementation produced golden key {key!r}"
    want, got = expected[key], ours[key]
    assert got.shape == want.shape, f"{key}: shape {got.shape} != golden {want.shape}"
    if want.dtype.kind in "iub":
        np.testing.assert_array_equal(got, want, err_msg=key)
    else:
        np.testing.assert_allclose(got, want, atol=ATOL, rtol=1e-4, err_msg=key)


def test_every_output_key_is_covered(tiny: Path, outputs: tuple[dict, dict]) -> None:
    _, ours = outputs
    assert set(_output_keys(tiny)) <= set(ours)


def test_trunc9_config_image_size(outputs: tuple[dict, dict]) -> None:
    assert list(outputs[1]["_trunc9_image_size"]) == [16, 144]  # generation_log.json


def test_inputs_row0_is_the_grey_render_copied_to_three_channels(tiny: Path) -> None:
    """The adapter's features() must turn the uint8 render into the fixture's pixel_values."""
    from pixel_bench.registry import MODELS

    z = np.load(tiny / "cases.npz")
    from pixel_bench.render import Encoding

    enc = Encoding(pixel_values=z["inputs/row0_uint8"],
                   num_text_patches=int(z["inputs/row0_num_text_patches"]))
    adapter = MODELS.get("pixel-tiny")
    feats = adapter.features(enc)
    np.testing.assert_array_equal(feats["pixel_values"], z["inputs/pixel_values"][0])
    np.testing.assert_array_equal(feats["attention_mask"], z["inputs/attention_mask"][0])


def test_sincos_table_matches_the_4x4_fixture(tiny: Path) -> None:
    z = np.load(tiny / "cases.npz")
    np.testing.assert_array_equal(sincos_table(32, 16).numpy(), z["pretrain/position_embeddings"])
    np.testing.assert_array_equal(sincos_table(16, 16).numpy(), z["pretrain/decoder_pos_embed"])
