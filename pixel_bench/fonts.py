"""Finding font files by name, so configs can say ``PixeloidSans.ttf`` or ``NotoSans-Regular.ttf``.

Search order: an existing path as given; the folders in ``PIXEL_BENCH_FONTS`` (``:``-separated);
``<cache>/fonts``; the shared reference folder's ``fonts/`` (read in place, never copied); the
system font folders (Debian's ``fonts-noto-core`` puts Noto Sans under /usr/share/fonts).
PIXEL's own font, GoNotoCurrent.ttf, ships with every PIXEL checkpoint directory and is resolved
from there by the renderer config; Noto Sans stands in for it when no checkpoint is at hand.
"""

from __future__ import annotations

import os
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
