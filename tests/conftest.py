"""Shared test setup: offline hubs, headless pygame, a private cache, and the shared/ folder."""

from __future__ import annotations

import os
from pathlib import Path

# Set before anything imports transformers, datasets or pygame.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pytest

from pixel_bench.paths import shared_dir


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Never touch the user's cache from tests."""
    if "PIXEL_BENCH_CACHE" not in os.environ:
        os.environ["PIXEL_BENCH_CACHE"] = str(tmp_path_factory.mktemp("pixel-bench-cache"))


#: what an in-process pretraining run sets for itself (train/launch.py ensure_dist_env); left
#: behind, a later test's subprocess would inherit a port the old process group still holds, and
#: ``run --num-processes`` would take itself for a torchrun worker
_DIST_ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
             "MASTER_PORT", "PIXEL_BENCH_SELF_DIST")


@pytest.fixture(autouse=True)
def _restore_dist_env():
    saved = {k: os.environ.get(k) for k in _DIST_ENV}
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def shared() -> Path:
    """The read-only shared/ folder (``PIXEL_BENCH_SHARED`` overrides); skip with a reason if
    absent. CI always has it."""
    path = shared_dir()
    if path is None:
        pytest.skip("shared/ reference folder not found beside the project "
                    "(set PIXEL_BENCH_SHARED to its path)")
    return path


@pytest.fixture(scope="session")
def golden(shared: Path) -> Path:
    return shared / "golden"


@pytest.fixture(scope="session")
def fonts(shared: Path) -> Path:
    return shared / "fonts"


@pytest.fixture(scope="session")
def data(shared: Path) -> Path:
    return shared / "data"


SLURM_CONF = "/tmp/pixel-bench-slurm/slurm.conf"  # where .ci/slurm-up.sh writes it


@pytest.fixture(scope="session")
def slurm_env() -> dict[str, str]:
    """The environment for Slurm commands on the one-node test cluster .ci/slurm-up.sh starts
    (.ci/run calls it); skips with the reason where there is none."""
    import shutil
    import subprocess

    if os.environ.get("PIXEL_BENCH_SLURM_SKIP"):
        pytest.skip(f"Slurm cluster not available: {os.environ['PIXEL_BENCH_SLURM_SKIP']}")
    if shutil.which("sbatch") is None:
        pytest.skip("Slurm cluster not available: no sbatch (.ci/slurm-up.sh installs and "
                    "starts a one-node cluster)")
    conf = os.environ.get("SLURM_CONF") or SLURM_CONF
    env = {**os.environ, "SLURM_CONF": conf} if Path(conf).is_file() else dict(os.environ)
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True,
                             timeout=20, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"Slurm cluster not available: sinfo failed: {exc}")
    if out.returncode != 0 or not any(s.startswith(("idle", "mixed", "alloc"))
                                      for s in out.stdout.split()):
        pytest.skip("Slurm cluster not available: no node up (sinfo: "
                    f"{(out.stdout + out.stderr).strip()[:200]})")
    return env
