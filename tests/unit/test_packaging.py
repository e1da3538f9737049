"""A non-editable install (wheel) ships the built-in plug-ins: the task and model files of the
top-level ``tasks/`` and ``models/`` folders, the recipes and the DeepSpeed config, inside the
package as ``pixel_bench/_builtin/``; :func:`pixel_bench.paths.builtin_dir` finds them there."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pixel_bench import paths

ROOT = paths.REPO_ROOT


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_subpackage_and_builtin_folder_is_listed() -> None:
    setuptools = pytest.importorskip("setuptools")
    tool = _pyproject()["tool"]["setuptools"]
    listed = set(tool["packages"])
    found = set(setuptools.find_packages(str(ROOT), include=["pixel_bench*"]))
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    for package, folder in tool["package-dir"].items():
        assert package in listed and (ROOT / folder).is_dir(), (package, folder)
    assert {tool["package-dir"]["pixel_bench._builtin.tasks"],
            tool["package-dir"]["pixel_bench._builtin.models"]} == {"tasks", "models"}


def test_builtin_dir_prefers_the_packaged_copy(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("PIXEL_BENCH_TASKS_DIR", raising=False)
    assert paths.builtin_dir("tasks") == ROOT / "tasks"  # a checkout / editable install
    (tmp_path / "_builtin" / "tasks").mkdir(parents=True)
    monkeypatch.setattr(paths, "PACKAGE_DIR", tmp_path)  # as installed from a wheel
    assert paths.builtin_dir("tasks") == tmp_path / "_builtin" / "tasks"
    assert paths.builtin_dir("models") == ROOT / "models"  # not packaged here: the repo's
    monkeypatch.setenv("PIXEL_BENCH_TASKS_DIR", str(tmp_path / "mine"))
    assert paths.builtin_dir("tasks") == tmp_path / "mine"  # the override still wins


def test_wheel_contains_the_builtin_plugins(tmp_path: Path) -> None:
    pytest.importorskip("setuptools")
    src = tmp_path / "src"  # build from a copy: an in-tree build would write build/ in the repo
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("pixel_bench", "tasks", "models"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                           "--no-build-isolation", "--no-index", "-q", "-w", str(tmp_path / "whl"),
                           str(src)], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 and "No module named pip" in proc.stderr:
        pytest.skip("pip is not installed in this environment")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = (tmp_path / "whl").glob("pixel_bench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    want = {f"pixel_bench/_builtin/{p.relative_to(ROOT).as_posix()}"
            for pattern in ("tasks/*.py", "models/*.py", "tasks/recipes/*.yaml",
                            "models/deepspeed/*.json")
            for p in ROOT.glob(pattern)}
    assert "pixel_bench/_builtin/tasks/recipes/rte.yaml" in want
    assert "pixel_bench/_builtin/models/deepspeed/zero2.json" in want
    assert want - names == set()
    assert {n.split("/")[0] for n in names} == {"pixel_bench", wheel.name.split("-")[0] + "-"
                                                + wheel.name.split("-")[1] + ".dist-info"}
