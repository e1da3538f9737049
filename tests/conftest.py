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
