"""Golden parity: PIXAR2024-tiny (april-tools/pixar, transformers 4.34.1) through OUR loader.

Every stored output key of ``golden/models/pixar2024-tiny/cases.npz`` is recomputed; the
reference used eager attention (its config sets no ``flash``), so both eager and SDPA are checked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pixel_bench.modeling.pixar2024 import load_pixar2024, loss_mask_image  # noqa: E402

ATOL = 1e-5


def _compute(root: Path, attn: str) -> dict[str, np.ndarray]:
    torch.set_num_threads(1)
    d = np.load(root / "cases.npz")
    binary = torch.from_numpy(d["inputs/binary"])
    mask = torch.from_numpy(d["inputs/attention_mask"])
    lm = load_pixar2024(root / "causal", "causal_lm", attn_implementation=attn).eval()
    sc = load_pixar2024(root / "seqcls", "sequence_classification",
                        attn_implementation=attn).eval()
    out = {}
    with torch.no_grad():
        o = lm(binary, mask)
        out["causal/logits"] = o.logits
        out["causal/probs_sigmoid"] = torch.sigmoid(o.logits)
        out["causal/loss"] = o.loss
        out["causal/loss_mask_image"] = loss_mask_image(mask, 16, 8)
        out["causal/logits_no_attention_mask"] = lm(binary, None).logits
        o = sc(binary, mask, labels=torch.from_numpy(d["seqcls/labels"]))
        out["seqcls/logits"], out["seqcls/loss"] = o.logits, o.loss
        out["seqcls/final_hidden_states"] = o.last_hidden_state
        out["seqcls/eos_index"] = o.eos_index
        out["seqcls/labels"] = torch.from_numpy(d["seqcls/labels"])  # an input, stored here
    return {k: v.numpy() for k, v in out.items()}


@pytest.fixture(scope="module", params=["eager", "sdpa"])
def case(request, golden: Path):
    root = golden / "models" / "pixar2024-tiny"
    if not (root / "cases.npz").is_file():
        pytest.skip(f"golden fixture missing: {root / 'cases.npz'}")
    return dict(np.load(root / "cases.npz")), _compute(root, request.param)


def test_every_stored_output_key_is_checked(case) -> None:
    stored, ours = case
    expected = {k for k in stored if not k.startswith("inputs/")}
    assert expected == set(ours), f"unchecked: {sorted(expected - set(ours))}"


@pytest.mark.parametrize("key", ["causal/logits", "causal/probs_sigmoid", "causal/loss",
                                 "causal/loss_mask_image", "causal/logits_no_attention_mask",
                                 "seqcls/logits", "seqcls/loss", "seqcls/final_hidden_states",
                                 "seqcls/eos_index"])
def test_outputs_match_golden(case, key: str) -> None:
    stored, ours = case
    np.testing.assert_allclose(ours[key], stored[key], atol=ATOL, rtol=1e-4, err_msg=key)


def test_model_input_scaling(golden: Path) -> None:
    d = np.load(golden / "models" / "pixar2024-tiny" / "cases.npz")
    np.testing.assert_array_equal(d["inputs/binary"].astype(np.float32) * 2 - 1,
                                  d["inputs/model_input"])


def test_backbone_into_classifier_and_generation(golden: Path) -> None:
    root = golden / "models" / "pixar2024-tiny"
    sc = load_pixar2024(root / "causal", "sequence_classification")
    assert sc.loading_report == {"missing": ["score.bias", "score.weight"],
                                 "dropped": ["out_proj.weight"]}
    lm = load_pixar2024(root / "causal", "causal_lm").eval()
    d = np.load(root / "cases.npz")
    binary = torch.from_numpy(d["inputs/binary"])
    ntp = torch.from_numpy(d["inputs/num_text_patches"])
    image, new = lm.generate(binary, ntp, 2)
    assert new.tolist() == (ntp + 2).tolist()
    # step 1 writes sigmoid(logits at ntp-2) > 0.5 into block ntp-1 of row 0
    with torch.no_grad():
        logits = lm(binary, torch.from_numpy(d["inputs/attention_mask"])).logits
    n0 = int(ntp[0])
    expect = (torch.sigmoid(logits[0, ..., (n0 - 2) * 16:(n0 - 1) * 16]) > 0.5).float()
    torch.testing.assert_close(image[0, ..., (n0 - 1) * 16:n0 * 16], expect)
    # the prompt before the generated blocks is untouched, binary values only
    torch.testing.assert_close(image[0, ..., :(n0 - 1) * 16], binary[0, ..., :(n0 - 1) * 16].float())
    assert set(image.unique().tolist()) <= {0.0, 1.0}
    gray, _ = lm.generate(binary, ntp, 1, mode="gray", temperature=0.1)
    assert gray.min() >= 0 and gray.max() <= 1


def test_adapter_features_from_the_binary_renderer_match_golden_inputs(golden: Path) -> None:
    """End to end: render the golden texts with the adapter's renderer settings (L = 40) and
    compare the adapter's features with the TGraph inputs stored in the fixture."""
    import importlib.util

    if importlib.util.find_spec("pixel_bench.render.binary") is None:
        pytest.skip("pixel_bench/render/binary.py (the binary renderer) is not in this checkout")
    from pixel_bench.modeling.adapter import TaskKind
    from pixel_bench.registry import MODELS, RENDERERS

    d = np.load(golden / "models" / "pixar2024-tiny" / "cases.npz")
    adapter = MODELS.get("pixar2024-tiny")
    name, cfg = adapter.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION, max_seq_length=40)
    renderer = RENDERERS.get(name)(cfg)
    feats = [adapter.features(renderer(str(t))) for t in d["inputs/texts"]]
    batch = adapter.collate(feats)
    np.testing.assert_array_equal(batch["pixel_values"].numpy(),
                                  d["inputs/binary"].astype(np.float32))
    np.testing.assert_array_equal(batch["attention_mask"].numpy(), d["inputs/attention_mask"])
