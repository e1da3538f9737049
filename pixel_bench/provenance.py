"""Where a result came from: code version, libraries, hardware, command (for every record)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from typing import Any

#: libraries whose versions every record lists (the renderers add their own, see render/)
LIBRARIES = ("torch", "transformers", "datasets", "accelerate", "numpy", "seqeval", "scipy",
             "pygame", "cairocffi", "pangocffi")


def git_commit() -> str | None:
    from .paths import REPO_ROOT

    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def library_versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for lib in LIBRARIES:
        try:
            out[lib] = md.version(lib)
        except md.PackageNotFoundError:
            pass
    return out


def hardware() -> dict[str, Any]:
    import torch

    hw: dict[str, Any] = {"platform": platform.platform(), "machine": platform.machine(),
                          "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        hw["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    hw["world_size"] = int(os.environ.get("WORLD_SIZE", "1"))
    return hw


def provenance(**extra: Any) -> dict[str, Any]:
    """The ``provenance`` block of a record: versions, hardware, command, time, plus ``extra``
    (renderer, data, OCR engines ...)."""
    from . import __version__

    return {"pixel_bench_version": __version__, "git_commit": git_commit(),
            "libraries": library_versions(), "hardware": hardware(), **extra,
            "command": " ".join(sys.argv) if sys.argv else None,
            "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
