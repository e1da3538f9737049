"""The one missing / unexpected / shape-mismatch report (pixel_bench.modeling.key_report) that
the PIXEL, thesis PIXAR and Llama-based (PIXAR-2024, PixelGPT) loaders share."""

from __future__ import annotations

import numpy as np
import pytest

from pixel_bench.errors import CheckpointError
from pixel_bench.modeling.key_report import compare_keys, short_keys


def _t(*shape: int) -> np.ndarray:
    return np.zeros(shape)


def test_compare_keys_sorts_problems_from_allowed_keys() -> None:
    model = {"enc.w": _t(2, 2), "enc.b": _t(2), "head.w": _t(3, 2)}
    ckpt = {"enc.w": _t(2, 3), "decoder.w": _t(1), "stray.w": _t(1)}
    fit = compare_keys(model, ckpt, allow_missing=("head.",), allow_unexpected=("decoder.",))
    assert fit.missing == ["enc.b"] and fit.allowed_missing == ["head.w"]
    assert fit.unexpected == ["stray.w"] and fit.allowed_unexpected == ["decoder.w"]
    assert fit.mismatched == ["enc.w: checkpoint (2, 3) vs model (2, 2)"]
    assert bool(fit)
    assert fit.describe() == ("missing keys [enc.b]; unexpected keys [stray.w]; shape mismatch "
                              "[enc.w: checkpoint (2, 3) vs model (2, 2)]")


def test_a_fitting_checkpoint_reports_nothing() -> None:
    fit = compare_keys({"a": _t(1)}, {"a": _t(1)})
    assert not fit and fit.describe() == ""


def test_short_keys_caps_the_list() -> None:
    assert short_keys([f"k{i}" for i in range(10)], 3) == "[k0, k1, k2] ... (+7 more)"


def test_pixar_loader_names_every_problem_at_once() -> None:
    """Thesis PIXAR's load_state_into used to stop at the first kind of problem (unexpected keys),
    hiding the missing and misshapen ones; it now names all three like the other loaders."""
    torch = pytest.importorskip("torch")
    from pixel_bench.modeling.pixar.loading import load_state_into

    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["0.weight"] = torch.zeros(3, 2)
    del state["1.bias"]
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError) as err:
        load_state_into(model, state, "ck")
    msg = str(err.value)
    assert "missing keys [1.bias]" in msg and "unexpected keys [extra.weight]" in msg
    assert "shape mismatch [0.weight: checkpoint (3, 2) vs model (2, 2)]" in msg
