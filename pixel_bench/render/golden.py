"""Golden render fixtures: run a case, flatten an Encoding to the golden key scheme, compare.

The fixtures (``shared/golden/render/*.npz``, read at test time) store, per case ``<id>``, the
arrays ``<id>/pixel_values``, ``<id>/num_text_patches``, ``<id>/sep_patches``,
``<id>/attention_mask``, ``<id>/word_starts``, ``<id>/offset_mapping``, ``<id>/num_overflow``,
``<id>/overflow/<k>/<field>`` and renderer extras (``<id>/binary``, ...). A field the renderer
returned as ``None`` is absent. This module is shared by the golden tests and by
``pixel-bench render --cases FILE.json --out FILE.npz``; keep the signatures stable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from ..errors import DataError
from ..io_utils import read_json
from .base import Encoding, TextRenderer, get_attention_mask

CASE_KINDS = ("sentence", "pair", "words", "qa")


def load_cases(path: str | Path) -> list[dict[str, Any]]:
    """Read a cases file (``{"cases": [{"id", "kind", "input", "kwargs"?}, ...]}``)."""
    path = Path(path)
    data = read_json(path, "cases file", DataError, expect=(dict, list))
    cases = data.get("cases") if isinstance(data, dict) else data
    if not isinstance(cases, list):
        raise DataError(f"{path}: expected {{\"cases\": [...]}} or a list of cases")
    for i, case in enumerate(cases):
        if not isinstance(case, dict) or "id" not in case or "input" not in case:
            raise DataError(f"{path}: case #{i} needs an 'id' and an 'input'")
        if case.get("kind", "sentence") not in CASE_KINDS:
            raise DataError(f"{path}: case {case['id']!r} has unknown kind {case.get('kind')!r}; "
                            f"expected one of {CASE_KINDS}")
    return cases


def render_case(renderer: TextRenderer, case: Mapping[str, Any]) -> Encoding:
    """Call ``renderer`` the way the reference did for ``case``.

    sentence -> ``str``; pair -> ``tuple``; words -> ``list``; qa -> ``tuple`` plus ``kwargs``.
    """
    kind = case.get("kind", "sentence")
    inp = case["input"]
    kwargs = dict(case.get("kwargs") or {})
    if kind == "sentence":
        if not isinstance(inp, str):
            raise DataError(f"case {case.get('id')!r}: a sentence input must be a string")
        return renderer(inp, **kwargs)
    if kind in ("pair", "qa"):
        if not (isinstance(inp, (list, tuple)) and len(inp) == 2):
            raise DataError(f"case {case.get('id')!r}: a {kind} input must be [text_a, text_b]")
        return renderer((str(inp[0]), str(inp[1])), **kwargs)
    if kind == "words":
        if not isinstance(inp, (list, tuple)):
            raise DataError(f"case {case.get('id')!r}: a words input must be a list of strings")
        return renderer([str(w) for w in inp], **kwargs)
    raise DataError(f"case {case.get('id')!r}: unknown kind {kind!r}; expected one of {CASE_KINDS}")


def encoding_to_arrays(case_id: str, enc: Encoding, max_seq_length: int | None = None
                       ) -> dict[str, np.ndarray]:
    """Flatten ``enc`` into the golden key scheme (``<case_id>/<field>``, see the module docstring).

    ``attention_mask`` is taken from the Encoding, or rebuilt PIXEL's way when it is None
    (``max_seq_length`` then defaults to the strip width / height).
    """
    out: dict[str, np.ndarray] = {}
    _flatten(f"{case_id}/", enc, out, max_seq_length)
    if enc.overflowing_patches is not None:
        out[f"{case_id}/num_overflow"] = np.asarray(len(enc.overflowing_patches), dtype=np.int64)
        for k, sub in enumerate(enc.overflowing_patches):
            _flatten(f"{case_id}/overflow/{k}/", sub, out, max_seq_length)
    return out


def _flatten(prefix: str, enc: Encoding, out: dict[str, np.ndarray],
             max_seq_length: int | None) -> None:
    out[prefix + "pixel_values"] = np.asarray(enc.pixel_values, dtype=np.uint8)
    out[prefix + "num_text_patches"] = np.asarray(int(enc.num_text_patches), dtype=np.int64)
    out[prefix + "sep_patches"] = np.asarray(list(enc.sep_patches), dtype=np.int64).reshape(-1)
    mask = enc.attention_mask
    if mask is None:
        pv = np.asarray(enc.pixel_values)
        length = max_seq_length or pv.shape[1] // pv.shape[0]
        mask = get_attention_mask(int(enc.num_text_patches), length)
    out[prefix + "attention_mask"] = np.asarray(mask, dtype=np.float32)
    if enc.word_starts is not None:
        out[prefix + "word_starts"] = np.asarray(list(enc.word_starts), dtype=np.int64).reshape(-1)
    if enc.offset_mapping is not None:
        out[prefix + "offset_mapping"] = np.asarray(
            [tuple(p) for p in enc.offset_mapping], dtype=np.int64).reshape(-1, 2)
    for key, value in (enc.extras or {}).items():
        out[prefix + key] = np.asarray(value)


def load_golden(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """Load a golden ``.npz`` as ``{case_id: {field: array}}`` (field may be ``overflow/0/...``)."""
    path = Path(path)
    try:
        npz = np.load(path)
    except FileNotFoundError:
        raise DataError(f"golden file not found: {path}") from None
    per_case: dict[str, dict[str, np.ndarray]] = {}
    with npz:
        for key in npz.files:
            case_id, _, fld = key.partition("/")
            per_case.setdefault(case_id, {})[fld] = npz[key]
    return per_case


def split_keys(arrays: Mapping[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """``{"<id>/<field>": a}`` -> ``{id: {field: a}}`` (inverse of the flat key scheme)."""
    per_case: dict[str, dict[str, np.ndarray]] = {}
    for key, value in arrays.items():
        case_id, _, fld = key.partition("/")
        per_case.setdefault(case_id, {})[fld] = value
    return per_case


def describe_mismatch(name: str, expected: np.ndarray, actual: np.ndarray | None) -> str | None:
    """None when bit-identical, else one readable line saying how they differ."""
    if actual is None:
        return f"{name}: missing from the rendering (golden has {_short(expected)})"
    expected, actual = np.asarray(expected), np.asarray(actual)
    if expected.dtype != actual.dtype:
        return f"{name}: dtype {actual.dtype} != golden {expected.dtype}"
    if expected.shape != actual.shape:
        return (f"{name}: shape {actual.shape} != golden {expected.shape} "
                f"(got {_short(actual)}, golden {_short(expected)})")
    if np.array_equal(expected, actual):
        return None
    diff = expected != actual
    count = int(diff.sum())
    if expected.ndim == 0:
        return f"{name}: got {actual.item()!r}, golden {expected.item()!r}"
    where = np.argwhere(diff)
    first = tuple(int(i) for i in where[0])
    msg = (f"{name}: {count}/{expected.size} values differ; first at {first}: "
           f"got {actual[first].item()!r}, golden {expected[first].item()!r}")
    if expected.ndim >= 2 and expected.dtype == np.uint8:
        cols = np.unique(where[:, 1])
        msg += (f"; max |diff| {int(np.abs(expected.astype(int) - actual.astype(int)).max())}, "
                f"columns {int(cols.min())}..{int(cols.max())}")
    elif expected.size <= 64:
        msg += f" (got {actual.tolist()}, golden {expected.tolist()})"
    return msg


def compare_case(expected: Mapping[str, np.ndarray], actual: Mapping[str, np.ndarray],
                 fields: Iterable[str] | None = None) -> list[str]:
    """Mismatch descriptions for one case (``{field: array}`` dicts); empty when identical.

    Without ``fields``, every golden field is checked and fields the golden lacks are reported.
    """
    problems: list[str] = []
    names = list(fields) if fields is not None else sorted(expected)
    for fld in names:
        if fld not in expected:
            problems.append(f"{fld}: not in the golden file")
            continue
        msg = describe_mismatch(fld, expected[fld], actual.get(fld))
        if msg:
            problems.append(msg)
    if fields is None:
        problems += [f"{fld}: produced but absent from the golden file ({_short(actual[fld])})"
                     for fld in sorted(set(actual) - set(expected))]
    return problems


def _short(a: np.ndarray) -> str:
    a = np.asarray(a)
    if a.size <= 8:
        return repr(a.tolist())
    return f"array{a.shape} {a.dtype}"


# -- where bit-identity can be expected (docs/rendering.md, "System requirements") -----------
REFERENCE_PANGO = "1.50."
REFERENCE_CAIRO = "1.16."
#: cases whose glyphs come from Pango's fallback to the *system* fonts (fonts-noto-core)
FALLBACK_CASES = frozenset({"s_emoji", "s_cjk_fallback", "s_arabic_fallback", "p_rtl_hebrew"})
_FALLBACK_FONT_PROBE = Path("/usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf")


def reference_system_problem(case_id: str | None = None) -> str | None:
    """Why PangoCairo renders here cannot be bit-identical to the golden files, or None.

    The fixtures were made with Debian 12's pango 1.50 / cairo 1.16; the fallback cases also
    need the font set of ``fonts-noto-core``.
    """
    try:
        import cairocffi
        import pangocffi
    except (ImportError, OSError) as exc:
        return f"cairocffi/pangocffi unavailable: {exc}"
    pango, cairo = pangocffi.pango_version_string(), cairocffi.cairo_version_string()
    if not pango.startswith(REFERENCE_PANGO) or not cairo.startswith(REFERENCE_CAIRO):
        return (f"golden renders need pango {REFERENCE_PANGO}x and cairo {REFERENCE_CAIRO}x "
                f"(Debian 12); this system has pango {pango}, cairo {cairo}")
    if case_id in FALLBACK_CASES and not _FALLBACK_FONT_PROBE.is_file():
        return (f"{case_id} draws glyphs from Pango's fallback to system fonts: install "
                "fonts-noto-core (Debian 12: 20201225-1)")
    return None


def golden_field_names(path: str | Path) -> dict[str, list[str]]:
    """``{case_id: [field, ...]}`` of a golden ``.npz`` without loading the arrays' data."""
    with np.load(Path(path)) as npz:
        out: dict[str, list[str]] = {}
        for key in npz.files:
            case_id, _, fld = key.partition("/")
            out.setdefault(case_id, []).append(fld)
    return out
