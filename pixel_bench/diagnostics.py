"""Environment checks behind ``pixel-bench doctor``.

Each check returns a :class:`Check` row and never raises: a missing library or tool becomes a
``missing`` row with the reason. The golden render fixtures were made with pango 1.50.12,
cairo 1.16.0, HarfBuzz 6.0.0, FreeType 2.12.1, fontconfig 2.14.1 (290 fonts visible) and pygame
2.6.1 with its bundled FreeType 2.12.1; other versions shift pixels (docs/rendering.md, "System
requirements"; the april-tools/pixar README says the same), which the table flags as ``warn``.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable

GOLDEN_VERSIONS = {"pango": "1.50.12", "cairo": "1.16.0", "harfbuzz": "6.0.0",
                   "freetype": "2.12.1", "fontconfig": "2.14.1", "pygame": "2.6.1",
                   "pygame_freetype": "2.12.1"}
GOLDEN_FONT_COUNT = 290
NOTO_SHA256 = "89c3c497f618fdaa0b2d1e98fef93582f28c71debd2c4a8cdf41f190ced2909d"
PIXELOID_SHA256 = "2c8114befbc5636d481bd1e9abb784cb130d2d641bbe2d6122c496e671e32353"


@dataclass
class Check:
    component: str
    status: str  # ok | warn | missing | info
    detail: str = ""


def _versioned(component: str, version: str | None, golden_key: str | None = None,
               extra: str = "") -> Check:
    if version is None:
        return Check(component, "missing", extra or "not found")
    detail = version + (f"  {extra}" if extra else "")
    want = GOLDEN_VERSIONS.get(golden_key or "")
    if want and version != want:
        return Check(component, "warn", f"{detail}  (golden fixtures: {want}; pixels may differ)")
    return Check(component, "ok", detail)


def _lib(name: str) -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


def check_pango() -> list[Check]:
    rows = []
    try:
        import pangocffi

        version = pangocffi.ffi.string(pangocffi.pango.pango_version_string()).decode()
        rows.append(_versioned("Pango (pangocffi)", version, "pango"))
    except Exception as exc:  # noqa: BLE001 - any import/ABI failure is a red row
        rows.append(Check("Pango (pangocffi)", "missing", f"{type(exc).__name__}: {exc}"))
    try:
        import cairocffi

        rows.append(_versioned("cairo (cairocffi)", cairocffi.cairo_version_string(), "cairo"))
    except Exception as exc:  # noqa: BLE001
        rows.append(Check("cairo (cairocffi)", "missing", f"{type(exc).__name__}: {exc}"))
    try:
        import pangocairocffi  # noqa: F401

        rows.append(Check("pangocairocffi", "ok", importlib.metadata.version("pangocairocffi")))
    except Exception as exc:  # noqa: BLE001
        rows.append(Check("pangocairocffi", "missing", f"{type(exc).__name__}: {exc}"))
    return rows


def check_harfbuzz() -> Check:
    lib = _lib("libharfbuzz.so.0")
    if lib is None:
        return Check("HarfBuzz", "missing", "libharfbuzz.so.0 not found")
    lib.hb_version_string.restype = ctypes.c_char_p
    return _versioned("HarfBuzz", lib.hb_version_string().decode(), "harfbuzz")


def check_freetype() -> Check:
    lib = _lib("libfreetype.so.6")
    if lib is None:
        return Check("FreeType (system)", "missing", "libfreetype.so.6 not found")
    handle = ctypes.c_void_p()
    if lib.FT_Init_FreeType(ctypes.byref(handle)) != 0:
        return Check("FreeType (system)", "missing", "FT_Init_FreeType failed")
    major, minor, patch = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
    lib.FT_Library_Version(handle, ctypes.byref(major), ctypes.byref(minor), ctypes.byref(patch))
    lib.FT_Done_FreeType(handle)
    return _versioned("FreeType (system)", f"{major.value}.{minor.value}.{patch.value}",
                      "freetype", "used by Pango/cairo")


def check_fontconfig() -> list[Check]:
    rows = []
    lib = _lib("libfontconfig.so.1")
    if lib is None:
        rows.append(Check("fontconfig", "missing", "libfontconfig.so.1 not found"))
    else:
        v = lib.FcGetVersion()
        rows.append(_versioned("fontconfig", f"{v // 10000}.{v // 100 % 100}.{v % 100}",
                               "fontconfig"))
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        rows.append(Check("fonts visible (fc-list)", "missing", "fc-list not on PATH"))
    else:
        try:
            out = subprocess.run([fc_list, "--format", "%{file}\\n"], capture_output=True,
                                 text=True, timeout=30).stdout
            count = len({line for line in out.splitlines() if line.strip()})
            status = "ok" if count == GOLDEN_FONT_COUNT else "warn"
            note = "" if status == "ok" else (f"  (golden fixtures saw {GOLDEN_FONT_COUNT}; "
                                              "PangoCairo's fallback cases depend on the set)")
            rows.append(Check("fonts visible (fc-list)", status, f"{count}{note}"))
        except (OSError, subprocess.SubprocessError) as exc:
            rows.append(Check("fonts visible (fc-list)", "missing", str(exc)))
    return rows


def check_pygame() -> list[Check]:
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        import pygame
        import pygame.freetype

        sdl = ".".join(map(str, pygame.get_sdl_version()))
        ft = ".".join(map(str, pygame.freetype.get_version()))
        return [_versioned("pygame", pygame.version.ver, "pygame", f"SDL {sdl}"),
                _versioned("pygame FreeType (bundled)", ft, "pygame_freetype")]
    except Exception as exc:  # noqa: BLE001
        return [Check("pygame", "missing", f"{type(exc).__name__}: {exc}")]


def check_fonts() -> list[Check]:
    from .fonts import resolve_font
    from .render.base import file_sha256

    rows = []
    system_noto = "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf"
    rows.append(Check("fonts-noto-core (system Noto Sans)",
                      "ok" if os.path.isfile(system_noto) else "missing",
                      system_noto if os.path.isfile(system_noto)
                      else "apt-get install fonts-noto-core"))
    for name, sha in (("NotoSans-Regular.ttf", NOTO_SHA256), ("PixeloidSans.ttf", PIXELOID_SHA256)):
        try:
            path = resolve_font(name)
        except Exception as exc:  # noqa: BLE001
            rows.append(Check(f"font {name}", "missing", str(exc)))
            continue
        same = file_sha256(path) == sha
        rows.append(Check(f"font {name}", "ok" if same else "warn",
                          f"{path}" + ("" if same else "  (not the golden fixtures' file)")))
    return rows


#: one sample per script of the multilingual tasks (UD treebanks of PIXEL's paper, MasakhaNER)
SCRIPT_SAMPLES = {
    "Latin (incl. Vietnamese, Yorùbá)": "Tiếng Việt ọmọ ẹ̀kọ́",
    "Arabic": "مرحبا بالعالم", "Coptic": "ⲁⲛⲟⲕ ⲡⲉ", "Devanagari": "हिन्दी भाषा",
    "Tamil": "தமிழ் மொழி", "Ethiopic (Amharic)": "አማርኛ ቋንቋ", "Hangul": "한국어",
    "Han (Chinese)": "中文汉字", "Japanese kana": "ひらがなカタカナ",
}


def check_script_glyphs() -> list[Check]:
    """Which scripts the default renderer font set can draw: Noto Sans + Pango's system fallback
    first, then (for what is still missing) the ``noto-cjk`` fallback folder when setup.sh
    unpacked it. Registration is process-wide, so the system pass must come first."""
    from .fonts import CJK_DIR_NAME, resolve_fonts_dir
    from .render.defaults import default_config
    from .render.pangocairo import PangoCairoTextRenderer

    system = PangoCairoTextRenderer(default_config("pangocairo"))
    system._warned_unknown = True  # counted below; no per-text warning
    missing = {script: system(sample).unknown_glyphs for script, sample in SCRIPT_SAMPLES.items()}
    cjk: str | None = None
    fixed: dict[str, bool] = {}
    if any(missing.values()):
        try:
            cjk = str(resolve_fonts_dir(CJK_DIR_NAME))
        except Exception:  # noqa: BLE001 - absent: report without it
            cjk = None
        if cjk is not None:
            extra = PangoCairoTextRenderer(default_config("pangocairo", fallback_fonts_dir=cjk))
            extra._warned_unknown = True
            fixed = {s: extra(SCRIPT_SAMPLES[s]).unknown_glyphs == 0 for s, n in missing.items()
                     if n}
    rows = []
    for script, n in missing.items():
        sample = SCRIPT_SAMPLES[script]
        if n == 0:
            rows.append(Check(f"glyphs: {script}", "ok", "system fonts"))
        elif fixed.get(script):
            rows.append(Check(f"glyphs: {script}", "ok",
                              f"with --set fallback_fonts_dir={CJK_DIR_NAME} only ({cjk})"))
        else:
            rows.append(Check(f"glyphs: {script}", "missing",
                              f"{n}/{len(sample.replace(' ', ''))} chars drawn as hex boxes; "
                              "CJK: setup.sh unpacks fonts-noto-cjk, else apt-get install "
                              "fonts-noto-core"))
    return rows


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_ml() -> list[Check]:
    rows = []
    torch_ok = importlib.util.find_spec("torch") is not None
    if not torch_ok:
        rows.append(Check("torch", "missing", "pip install torch"))
    else:
        try:
            import torch

            rows.append(Check("torch", "ok", torch.__version__))
            if torch.cuda.is_available():
                names = ", ".join(torch.cuda.get_device_name(i)
                                  for i in range(torch.cuda.device_count()))
                rows.append(Check("GPU (CUDA)", "ok", f"{torch.cuda.device_count()}: {names}"))
            else:
                rows.append(Check("GPU (CUDA)", "info", "none available: training runs on CPU"))
        except Exception as exc:  # noqa: BLE001
            rows.append(Check("torch", "missing", f"{type(exc).__name__}: {exc}"))
    for dist, label, hint in (("transformers", "transformers", "pip install 'transformers>=5'"),
                              ("datasets", "datasets", "pip install datasets"),
                              ("accelerate", "accelerate", "pip install accelerate"),
                              ("deepspeed", "DeepSpeed", "optional: pip install deepspeed")):
        version = _dist_version(dist)
        status = "ok" if version else ("info" if dist == "deepspeed" else "missing")
        rows.append(Check(label, status, version or hint))
    return rows


def check_python() -> list[Check]:
    from . import __version__
    from .paths import cache_dir, shared_dir

    shared = shared_dir()
    return [
        Check("pixel-bench", "ok", f"{__version__}  (Python {platform.python_version()}, "
                                   f"{platform.platform()})"),
        Check("numpy", "ok" if _dist_version("numpy") else "missing",
              _dist_version("numpy") or ""),
        Check("cache dir", "info", str(cache_dir())),
        Check("shared/ reference folder", "ok" if shared else "info",
              str(shared) if shared else "not found (golden tests skip; PIXEL_BENCH_SHARED)"),
    ]


LATEX_HINT = ("needed only to compile `pixel-bench report --format latex` tables; Debian/Ubuntu: "
              "apt-get install --no-install-recommends texlive-latex-base "
              "texlive-latex-recommended")


def check_latex() -> Check:
    """pdflatex (and booktabs, which the report's LaTeX tables use). Optional: a warning, never
    a failure, when absent."""
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        return Check("LaTeX (pdflatex)", "warn", f"not found: {LATEX_HINT}")
    try:
        out = subprocess.run([pdflatex, "--version"], capture_output=True, text=True,
                             timeout=30).stdout
        version = (out.splitlines() or ["unknown version"])[0].strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return Check("LaTeX (pdflatex)", "warn", f"{pdflatex} does not run ({exc}): {LATEX_HINT}")
    kpsewhich = shutil.which("kpsewhich")
    if kpsewhich is not None:
        try:
            found = subprocess.run([kpsewhich, "booktabs.sty"], capture_output=True, text=True,
                                   timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            found = ""
        if not found:
            return Check("LaTeX (pdflatex)", "warn", f"{version}; booktabs.sty missing (the "
                                                     f"report's tables use it): {LATEX_HINT}")
    return Check("LaTeX (pdflatex)", "ok", f"{version}  ({pdflatex})")


CHECKS: list[Callable[[], Check | list[Check]]] = [
    check_python, check_pango, check_harfbuzz, check_freetype, check_fontconfig, check_pygame,
    check_fonts, check_script_glyphs, check_ml, check_latex,
]


def run_checks() -> list[Check]:
    """Run every check; a check that itself fails becomes a ``missing`` row."""
    rows: list[Check] = []
    for check in CHECKS:
        try:
            result = check()
        except Exception as exc:  # noqa: BLE001 - the doctor must never crash
            result = Check(check.__name__.removeprefix("check_"), "missing",
                           f"check failed: {type(exc).__name__}: {exc}")
        rows.extend(result if isinstance(result, list) else [result])
    return rows


if __name__ == "__main__":  # pragma: no cover
    for row in run_checks():
        print(f"{row.status:8s} {row.component}: {row.detail}", file=sys.stdout)
