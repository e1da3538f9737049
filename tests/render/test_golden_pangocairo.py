"""PangoCairo renderer vs ``golden/render/pangocairo_{noto,pixeloid}.npz``: every case, every
field (incl. QA offset mappings and overflow windows), bit for bit."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pixel_bench.paths import REPO_ROOT, shared_dir
from pixel_bench.render import RENDERERS, RendererConfig
from pixel_bench.render.golden import (describe_mismatch, encoding_to_arrays, golden_field_names,
                                       load_golden, reference_system_problem, render_case,
                                       split_keys)

FONTS = {"noto": "noto/NotoSans-Regular.ttf", "pixeloid": "pixeloid/PixeloidSans.ttf"}


def _cases() -> list[dict]:
    shared = shared_dir()
    path = shared / "golden/render/cases.json" if shared else None
    if path is None or not path.is_file():
        return []
    return json.loads(path.read_text(encoding="utf-8"))["cases"]


CASES = _cases()
CASES_BY_ID = {c["id"]: c for c in CASES}


def _params() -> list:
    shared = shared_dir()
    params = []
    for font in FONTS:
        path = shared / f"golden/render/pangocairo_{font}.npz" if shared else None
        if path is None or not path.is_file():
            continue
        fields = golden_field_names(path)
        params += [pytest.param(font, c["id"], fld, id=f"{font}:{c['id']}/{fld}")
                   for c in CASES for fld in fields.get(c["id"], [])]
    return params or [pytest.param(None, None, None, id="no-shared", marks=pytest.mark.skip(
        reason="shared/ golden fixtures not found (set PIXEL_BENCH_SHARED)"))]


@pytest.fixture(scope="module")
def golden_files(golden: Path) -> dict[str, dict]:
    return {font: load_golden(golden / "render" / f"pangocairo_{font}.npz") for font in FONTS}


@pytest.fixture(scope="module")
def renderers(fonts: Path) -> dict:
    problem = reference_system_problem()
    if problem:
        pytest.skip(problem)
    # the golden constructor arguments (configs/pangocairo_*.json); both fonts in one process
    return {font: RENDERERS.get("pangocairo")(RendererConfig(
        font_file=str(fonts / rel), font_size=8, dpi=120, pixels_per_patch=16, max_seq_length=529,
        rgb=False, pad_size=3)) for font, rel in FONTS.items()}


_RENDERED: dict[tuple[str, str], dict[str, np.ndarray]] = {}


def _rendered(renderers: dict, font: str, case_id: str) -> dict[str, np.ndarray]:
    if (font, case_id) not in _RENDERED:
        enc = render_case(renderers[font], CASES_BY_ID[case_id])
        _RENDERED[font, case_id] = split_keys(encoding_to_arrays(case_id, enc))[case_id]
    return _RENDERED[font, case_id]


@pytest.mark.parametrize("font, case_id, field", _params())
def test_golden_field(font, case_id, field, renderers, golden_files):
    problem = reference_system_problem(case_id)
    if problem:
        pytest.skip(problem)
    got = _rendered(renderers, font, case_id)
    msg = describe_mismatch(f"pangocairo_{font}.npz {case_id}/{field}",
                            golden_files[font][case_id][field], got.get(field))
    assert msg is None, msg


@pytest.mark.parametrize("font", list(FONTS))
def test_no_extra_fields(font, renderers, golden_files):
    """A field the reference returned as None must be absent (e.g. no overflow for qa_fit)."""
    if not CASES:
        pytest.skip("shared/ golden fixtures not found")
    extra = {cid: sorted(set(_rendered(renderers, font, cid)) - set(golden_files[font][cid]))
             for cid in golden_files[font]}
    assert not {k: v for k, v in extra.items() if v}, f"fields absent from the golden file: {extra}"


def test_fonts_registered_after_a_render_are_used(fonts: Path, golden: Path):
    """Quirk 1 of docs/rendering.md: a font registered after the first layout was drawn used to be
    ignored (Pango fell back to the other font). Fresh process: render with Noto, only then
    build the Pixeloid renderer; both must match their golden files."""
    problem = reference_system_problem()
    if problem:
        pytest.skip(problem)
    script = textwrap.dedent(f"""
        import numpy as np
        from pixel_bench.render import RENDERERS, RendererConfig
        gold = {{f: np.load({str(golden / 'render')!r} + f"/pangocairo_{{f}}.npz")
                 for f in ("noto", "pixeloid")}}
        new = lambda rel: RENDERERS.get("pangocairo")(RendererConfig(font_file={str(fonts)!r} + "/" + rel))
        noto = new({FONTS['noto']!r})
        a = noto("Hello world.").pixel_values
        pixeloid = new({FONTS['pixeloid']!r})
        b = pixeloid("Hello world.").pixel_values
        c = noto("Hello world.").pixel_values
        print(np.array_equal(a, gold["noto"]["s_short/pixel_values"]),
              np.array_equal(b, gold["pixeloid"]["s_short/pixel_values"]),
              np.array_equal(c, gold["noto"]["s_short/pixel_values"]))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, cwd=REPO_ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", "True"], (
        f"noto-before, pixeloid-after, noto-again equal to golden: {out.stdout.strip()}")
