"""Golden parity: PixelGPT-tiny (ernie-research/pixelgpt, transformers 4.36.2) through OUR loader.

Every stored key of ``golden/models/pixelgpt-tiny/cases.npz`` is recomputed: un-suffixed keys
with SDPA attention, ``*_eager`` keys with eager attention (the fixtures store both).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pixel_bench.modeling.pixelgpt import load_pixelgpt  # noqa: E402

ATOL = 1e-5


def _compute(root: Path, attn: str) -> dict[str, np.ndarray]:
    torch.set_num_threads(1)
    d = np.load(root / "cases.npz")
    t = {k[len("inputs/"):]: torch.from_numpy(d[k]) for k in d.files if k.startswith("inputs/")}
    sc = load_pixelgpt(root / "seqcls", "sequence_classification", attn_implementation=attn).eval()
    lm = load_pixelgpt(root / "causal_lm", "causal_lm", attn_implementation=attn).eval()
    pix = dict(pixel_values=t["pixel_values"], attention_mask=t["patch_attention_mask"])
    txt = dict(input_ids=t["input_ids"], attention_mask=t["text_attention_mask"])
    pair = dict(pixel_values=t["pixel_values"], patch_attention_mask=t["patch_attention_mask"],
                input_ids=t["input_ids"], attention_mask=t["text_attention_mask"])
    out: dict[str, np.ndarray] = {}
    with torch.no_grad():
        for mode, kw in (("pixel", pix), ("text", txt), ("pair", pair)):
            o = sc(**kw, labels=t["cls_labels"])
            out[f"seqcls/{mode}_logits"], out[f"seqcls/{mode}_loss"] = o.logits, o.loss
        o = lm(**pix)
        out["lm/pixel_logits"], out["lm/pixel_loss"] = o.logits, o.loss
        o = lm(**txt, labels=t["lm_labels"])
        out["lm/text_logits"], out["lm/text_loss"] = o.logits, o.loss
        out["base/pixel_last_hidden_state"] = lm.model(**pix).last_hidden_state
        base_pair = lm.model(**pair)
        assert base_pair.split_args == [("pixel", 16), ("text", 10)]
        out["base/pair_last_hidden_state"] = base_pair.last_hidden_state
    suffix = "" if attn == "sdpa" else "_eager"
    return {k + suffix: v.numpy() for k, v in out.items()}


@pytest.fixture(scope="module")
def case(golden: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    root = golden / "models" / "pixelgpt-tiny"
    if not (root / "cases.npz").is_file():
        pytest.skip(f"golden fixture missing: {root / 'cases.npz'}")
    stored = dict(np.load(root / "cases.npz"))
    ours = {**_compute(root, "sdpa"), **_compute(root, "eager")}
    return stored, ours


def test_every_stored_output_key_is_checked(case) -> None:
    stored, ours = case
    expected = {k for k in stored if not k.startswith("inputs/")}
    assert expected == set(ours), f"unchecked: {sorted(expected - set(ours))}"


@pytest.mark.parametrize("group", ["seqcls/pixel", "seqcls/text", "seqcls/pair", "lm/pixel",
                                   "lm/text", "base/"])
@pytest.mark.parametrize("suffix", ["", "_eager"])
def test_outputs_match_golden(case, group: str, suffix: str) -> None:
    stored, ours = case
    keys = [k for k in stored if k.startswith(group) and k.endswith(suffix)
            and (suffix or not k.endswith("_eager"))]
    assert keys
    for key in keys:
        np.testing.assert_allclose(ours[key], stored[key], atol=ATOL, rtol=1e-4, err_msg=key)


def test_backbone_loads_into_classifier_with_new_score(golden: Path) -> None:
    """baidu release = causal LM weights: score is new, lm heads dropped, rest strict."""
    model = load_pixelgpt(golden / "models" / "pixelgpt-tiny" / "causal_lm",
                          config_overrides={"num_labels": 3})
    assert model.loading_report == {"missing": ["score.weight"],
                                    "dropped": ["lm_pixel_head.weight", "lm_token_head.weight"]}
    assert model.score.weight.shape == (3, 32) and model.score.bias is None


def test_pair_causal_lm_works_unlike_the_original(golden: Path) -> None:
    """The original crashes here (``ErniePixelForCausalLM.forward`` drops ``patch_attention_mask``);
    ours sums the two losses."""
    root = golden / "models" / "pixelgpt-tiny"
    d = np.load(root / "cases.npz")
    t = {k[len("inputs/"):]: torch.from_numpy(d[k]) for k in d.files if k.startswith("inputs/")}
    lm = load_pixelgpt(root / "causal_lm", "causal_lm").eval()
    with torch.no_grad():
        o = lm(pixel_values=t["pixel_values"], patch_attention_mask=t["patch_attention_mask"],
               input_ids=t["input_ids"], attention_mask=t["text_attention_mask"],
               labels=t["lm_labels"])
    assert o.pixel_logits.shape == (3, 16, 768) and o.text_logits.shape == (3, 10, 100)
    torch.testing.assert_close(o.loss, o.pixel_loss + o.text_loss)


def test_gray_mode_averages_the_projection(golden: Path) -> None:
    root = golden / "models" / "pixelgpt-tiny" / "seqcls"
    rgb = load_pixelgpt(root)
    gray = load_pixelgpt(root, render_mode="gray")
    w = rgb.model.embed_patches.patch_embeddings.projection.weight
    g = gray.model.embed_patches.patch_embeddings.projection.weight
    assert gray.config.num_channels == 1 and g.shape[1] == 1
    torch.testing.assert_close(g, w.mean(dim=1, keepdim=True))
    # averaging (not summing) the weights: a grey image acts like an RGB image at 1/3 intensity
    img = torch.rand(2, 1, 16, 64)
    mask = torch.ones(2, 4, dtype=torch.long)
    with torch.no_grad():
        a = rgb(pixel_values=img.expand(-1, 3, -1, -1) / 3, attention_mask=mask).logits
        b = gray(pixel_values=img, attention_mask=mask).logits
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
