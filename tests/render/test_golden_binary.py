"""PIXAR binary renderer vs ``golden/render/pixar_binary_pixeloid.npz``: raw grey render,
binarised strip and TGraph counts/masks, every case, every field, bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pixel_bench.paths import shared_dir
from pixel_bench.render import RENDERERS
from pixel_bench.render.binary import binary_layout
from pixel_bench.render.golden import (describe_mismatch, encoding_to_arrays, golden_field_names,
                                       load_golden, reference_system_problem, render_case,
                                       split_keys)

GOLDEN_FILE = "pixar_binary_pixeloid.npz"


def _cases() -> list[dict]:
    shared = shared_dir()
    path = shared / "golden/render/cases.json" if shared else None
    if path is None or not path.is_file():
        return []
    return json.loads(path.read_text(encoding="utf-8"))["cases"]


CASES = {c["id"]: c for c in _cases()}


def _params() -> list:
    shared = shared_dir()
    path = shared / "golden/render" / GOLDEN_FILE if shared else None
    if path is None or not path.is_file():
        return [pytest.param(None, None, id="no-shared", marks=pytest.mark.skip(
            reason="shared/ golden fixtures not found (set PIXEL_BENCH_SHARED)"))]
    fields = golden_field_names(path)
    return [pytest.param(cid, fld, id=f"{cid}/{fld}") for cid in CASES
            for fld in fields.get(cid, [])]


@pytest.fixture(scope="module")
def golden_npz(golden: Path) -> dict:
    return load_golden(golden / "render" / GOLDEN_FILE)


@pytest.fixture(scope="module")
def rendered(fonts: Path, golden_npz) -> dict:
    problem = reference_system_problem()
    if problem:
        pytest.skip(problem)
    # DEFAULT_BINARY_RENDERING of april-tools/pixar (configs/pixar_binary_pixeloid.json)
    config = binary_layout("pixar2024", fonts / "pixeloid/PixeloidSans.ttf")
    assert (config.dpi, config.font_size, config.pixels_per_patch, config.max_seq_length,
            config.patch_len, config.binary) == (80, 8, 8, 720, 2, True)
    renderer = RENDERERS.get("binary")(config)
    # PIXAR has no QA rendering: the golden file skips the qa_* cases
    return {cid: split_keys(encoding_to_arrays(cid, render_case(renderer, CASES[cid])))[cid]
            for cid in golden_npz}


@pytest.mark.parametrize("case_id, field", _params())
def test_golden_field(case_id, field, rendered, golden_npz):
    problem = reference_system_problem(case_id)
    if problem:
        pytest.skip(problem)
    msg = describe_mismatch(f"{GOLDEN_FILE} {case_id}/{field}", golden_npz[case_id][field],
                            rendered[case_id].get(field))
    assert msg is None, msg


def test_no_extra_fields(rendered, golden_npz):
    extra = {cid: sorted(set(rendered[cid]) - set(golden_npz[cid])) for cid in golden_npz}
    assert not {k: v for k, v in extra.items() if v}, f"fields absent from the golden file: {extra}"


def test_binary_is_the_threshold_of_the_grey_render(rendered):
    """1 = white (> half intensity), 0 = ink or black patch; values only 0/1."""
    for cid, arrays in rendered.items():
        grey, binary = arrays["pixel_values"], arrays["binary"]
        assert binary.dtype == np.uint8 and set(np.unique(binary)) <= {0, 1}, cid
        np.testing.assert_array_equal(binary[0], (grey > 127.5).astype(np.uint8), err_msg=cid)
