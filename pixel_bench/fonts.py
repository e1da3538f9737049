"""Finding font files by name, so configs can say ``PixeloidSans.ttf`` or ``NotoSans-Regular.ttf``.

Search order: an existing path as given; the folders in ``PIXEL_BENCH_FONTS`` (``:``-separated);
``<cache>/fonts``; the shared reference folder's ``fonts/`` (read in place, never copied); the
system font folders (Debian's ``fonts-noto-core`` puts Noto Sans under /usr/share/fonts).
PIXEL's own font, GoNotoCurrent.ttf, ships with every PIXEL checkpoint directory and is resolved
from there by the renderer config; Noto Sans stands in for it when no checkpoint is at hand.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from .errors import ConfigError
from .paths import cache_dir, shared_dir

SYSTEM_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts",
                    "~/.fonts")


def font_search_dirs() -> list[Path]:
    dirs = [Path(p).expanduser() for p in os.environ.get("PIXEL_BENCH_FONTS", "").split(os.pathsep)
            if p]
    dirs.append(cache_dir() / "fonts")
    shared = shared_dir()
    if shared is not None:
        dirs.append(shared / "fonts")
    dirs.extend(Path(p).expanduser() for p in SYSTEM_FONT_DIRS)
    return dirs


def resolve_font(name: str | os.PathLike[str]) -> Path:
    """Return the path of font ``name`` (a path, or a file name searched for recursively)."""
    path = Path(name).expanduser()
    if path.is_file():
        return path.resolve()
    for directory in font_search_dirs():
        if not directory.is_dir():
            continue
        direct = directory / path.name
        if direct.is_file():
            return direct.resolve()
        for hit in sorted(directory.rglob(path.name)):
            if hit.is_file():
                return hit.resolve()
    searched = ", ".join(str(d) for d in font_search_dirs())
    raise ConfigError(f"font file {str(name)!r} not found (searched: {searched}); pass a path, "
                      "or add its folder to PIXEL_BENCH_FONTS")


#: Debian packages whose fonts Pango may fall back to (recorded in every result's provenance)
FONT_PACKAGES = ("fonts-noto-core", "fonts-noto-cjk", "fonts-noto-extra", "fonts-noto-ui-core")
#: where ``setup.sh`` unpacks Noto Sans CJK (kept out of the system font set;
#: see docs/multilingual.md)
CJK_DIR_NAME = "noto-cjk"


def resolve_fonts_dir(name: str | os.PathLike[str]) -> Path:
    """A fallback-fonts folder: an existing path, or a folder name (``noto-cjk``) looked up in the
    font search folders (``PIXEL_BENCH_FONTS``, ``<cache>/fonts``, ...)."""
    path = Path(name).expanduser()
    if path.is_dir():
        return path.resolve()
    if len(path.parts) == 1:
        for directory in font_search_dirs():
            if (directory / path.name).is_dir():
                return (directory / path.name).resolve()
    hint = (" (setup.sh unpacks Debian's fonts-noto-cjk there; see docs/multilingual.md)"
            if path.name == CJK_DIR_NAME else "")
    raise ConfigError(f"fallback fonts folder {str(name)!r} not found (searched: "
                      f"{', '.join(str(d) for d in font_search_dirs())}){hint}")


@lru_cache(maxsize=1)
def _font_packages() -> tuple[tuple[str, str], ...]:
    return tuple(sorted(_query_font_packages().items()))


def system_font_packages() -> dict[str, str]:
    """Installed versions of :data:`FONT_PACKAGES` (Debian ``dpkg-query``, asked once per
    process; empty elsewhere)."""
    return dict(_font_packages())


def _query_font_packages() -> dict[str, str]:
    import shutil
    import subprocess

    if shutil.which("dpkg-query") is None:
        return {}
    out: dict[str, str] = {}
    for pkg in FONT_PACKAGES:
        try:
            res = subprocess.run(["dpkg-query", "-W", "-f", "${Status}|${Version}", pkg],
                                 capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            continue
        status, _, version = res.stdout.partition("|")
        if res.returncode == 0 and status.endswith(" installed"):
            out[pkg] = version
    return out


def font_set(config) -> dict:
    """The font set a renderer config draws with: primary font, fallback folder files, and the
    system font packages Pango's own fallback can reach (for result provenance)."""
    from .render._fontconfig import fallback_font_files

    fallback = config.fallback_fonts_dir
    return {"primary": Path(config.font_file).name,
            "fallback_fonts_dir": fallback,
            "fallback_fonts": [p.name for p in fallback_font_files(fallback)] if fallback else [],
            "system_font_packages": system_font_packages()}
