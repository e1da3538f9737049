"""Make font files visible to Pango: fontconfig registration through cffi, no manimpango.

PIXEL registers its font with ``manimpango.register_font`` (an application font added to the
*current* fontconfig configuration) and asks Pango for the family named in the font's name table
(id 1). We do the same with a five-line cffi binding to the system ``libfontconfig`` (the very
library instance Pango uses), then tell Pango's default font map that the configuration changed.

That last call fixes the original's registration-order bug (docs/rendering.md quirk 1): without
it, a font registered after the first layout was drawn is silently ignored and Pango falls back to
another family. With it, renderers of different fonts can live in one process.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from ..errors import ConfigError

_LOCK = threading.Lock()
_REGISTERED: set[str] = set()


@lru_cache(maxsize=1)
def _libs():
    """Open libfontconfig and libpangoft2 with a private cffi instance (loaded once)."""
    from cffi import FFI

    ffi = FFI()
    ffi.cdef("""
        typedef struct _FcConfig FcConfig;
        FcConfig *FcConfigGetCurrent(void);
        int FcConfigAppFontAddFile(FcConfig *config, const unsigned char *file);
        void pango_fc_font_map_config_changed(void *fcfontmap);
    """)
    try:
        fc = ffi.dlopen("libfontconfig.so.1")
    except OSError as exc:
        raise ConfigError(f"cannot load the system fontconfig library (libfontconfig.so.1): {exc}; "
                          "install fontconfig (Debian: libfontconfig1)") from None
    try:
        pangoft2 = ffi.dlopen("libpangoft2-1.0.so.0")
    except OSError as exc:
        raise ConfigError(f"cannot load libpangoft2-1.0.so.0: {exc}; install pango "
                          "(Debian: libpango-1.0-0, libpangoft2-1.0-0)") from None
    return ffi, fc, pangoft2


def font_family(font_file: str | Path) -> str:
    """The family name Pango knows the font by: name-table record id 1 (as PIXEL reads it)."""
    from fontTools.ttLib import TTFont, TTLibError

    try:
        font = TTFont(str(font_file), lazy=True, fontNumber=0)
    except FileNotFoundError:
        raise ConfigError(f"font file not found: {font_file}") from None
    except (TTLibError, OSError, ValueError) as exc:
        raise ConfigError(f"cannot read font file {font_file}: {exc}") from None
    try:
        name = font["name"].getDebugName(1)
    finally:
        font.close()
    if not name:
        raise ConfigError(f"font file {font_file} has no family name (name-table id 1)")
    return name


def register_font(font_file: str | Path) -> str:
    """Register ``font_file`` with fontconfig (once per process) and return its family name."""
    path = str(Path(font_file).resolve())
    family = font_family(path)
    with _LOCK:
        if path in _REGISTERED:
            return family
        ffi, fc, pangoft2 = _libs()
        if not fc.FcConfigAppFontAddFile(fc.FcConfigGetCurrent(), path.encode()):
            raise ConfigError(f"fontconfig refused font file {path}")
        _REGISTERED.add(path)
        _refresh_pango(ffi, pangoft2)
    return family


def fallback_font_files(directory: str | Path) -> list[Path]:
    """The font files of a fallback directory: PIXEL's ``*tf`` glob (.ttf/.otf) plus font
    collections (.ttc/.otc, e.g. Debian's Noto CJK, which PIXEL's glob would miss)."""
    directory = Path(directory)
    return sorted(p for p in directory.iterdir() if p.is_file()
                  and p.suffix.lower() in (".ttf", ".otf", ".ttc", ".otc")) \
        if directory.is_dir() else []


def register_fonts_dir(directory: str | Path) -> list[str]:
    """Register every font file in ``directory`` (see :func:`fallback_font_files`), as PIXEL's
    fallback fonts."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"fallback fonts directory not found: {directory}")
    return [register_font(p) for p in fallback_font_files(directory)]


def _refresh_pango(ffi, pangoft2) -> None:
    """Tell Pango's default cairo font map (a PangoFcFontMap on Linux) to re-read fontconfig."""
    import pangocairocffi

    fontmap = pangocairocffi.pangocairo.pango_cairo_font_map_get_default()
    address = int(pangocairocffi.ffi.cast("uintptr_t", fontmap))
    pangoft2.pango_fc_font_map_config_changed(ffi.cast("void *", address))
