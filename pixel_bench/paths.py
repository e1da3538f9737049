"""Where things live: the shared reference folder, the user cache, built-in adapters, results.

Every location can be overridden by an environment variable so that tests, CI and users on
clusters can point the harness elsewhere without editing code.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent


def shared_dir() -> Path | None:
    """The read-only ``shared/`` folder beside the project (``PIXEL_BENCH_SHARED`` overrides).

    Returns None when it does not exist; callers (tests, benchmarks) skip with a reason.
    """
    env = os.environ.get("PIXEL_BENCH_SHARED")
    candidates = [Path(env)] if env else [REPO_ROOT.parent / "shared", Path.cwd().parent / "shared"]
    for cand in candidates:
        if cand.is_dir():
            return cand.resolve()
    return None


def cache_dir() -> Path:
    """User cache for rendered splits and compiled ops (``PIXEL_BENCH_CACHE`` overrides)."""
    env = os.environ.get("PIXEL_BENCH_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "pixel-bench"


def builtin_dir(kind: str) -> Path:
    """Directory holding the built-in adapters and recipes of ``kind`` ("tasks" or "models").

    They live at the repository top level and are loaded by path, exactly like a user's plug-in
    directory (``PIXEL_BENCH_<KIND>_DIR`` overrides). A wheel (non-editable install) ships them
    inside the package as ``pixel_bench/_builtin/<kind>`` (see pyproject.toml), which wins when
    present; a checkout or editable install has no such folder and reads ``<repo>/<kind>``.
    """
    env = os.environ.get(f"PIXEL_BENCH_{kind.upper()}_DIR")
    if env:
        return Path(env)
    packaged = PACKAGE_DIR / "_builtin" / kind
    return packaged if packaged.is_dir() else REPO_ROOT / kind


def results_dir() -> Path:
    """Default results folder (``PIXEL_BENCH_RESULTS`` overrides; ``--results`` wins over both)."""
    env = os.environ.get("PIXEL_BENCH_RESULTS")
    return Path(env) if env else Path.cwd() / "results"


def checkpoints_dir() -> Path:
    """Where ``pixel-bench pretrain`` puts named checkpoints that ``run`` resolves by model name
    (``PIXEL_BENCH_CHECKPOINTS`` overrides)."""
    env = os.environ.get("PIXEL_BENCH_CHECKPOINTS")
    return Path(env).expanduser() if env else cache_dir() / "checkpoints"


# A Hugging Face Hub repo id: "owner/name", or a legacy top-level "name" (gpt2,
# bert-base-uncased); letters, digits, '_', '-', '.', each part starting with a letter or digit.
_HUB_PART = r"[A-Za-z0-9][\w.-]*"
_HUB_ID = re.compile(rf"(?:{_HUB_PART}/)?{_HUB_PART}")
_HUB_ID_WITH_OWNER = re.compile(rf"{_HUB_PART}/{_HUB_PART}")


def local_or_hub(spec: str | os.PathLike[str], owner_required: bool = False,
                 ) -> tuple[Path | None, str | None]:
    """Tell a local checkpoint (or other file) from a Hub repo id, the one rule for all callers.

    Returns ``(path, None)`` when ``spec`` (``~`` expanded) exists on disk; ``(None, hub_id)``
    when it does not and can only be a hub id; ``(None, None)`` when it is a missing local path
    (starts with '.', '/' or '~', has more than one '/', or characters a hub id cannot have).
    ``owner_required``: only "owner/name" counts as a hub id (the PIXEL-family checkpoints are
    all published under an owner, so a bare "pixel-base" is a mistyped folder, not a repo)."""
    path = Path(spec).expanduser()
    if path.exists():
        return path, None
    text = str(spec)
    pattern = _HUB_ID_WITH_OWNER if owner_required else _HUB_ID
    return None, (text if pattern.fullmatch(text) else None)

