"""The README's quick start must do real work on a fresh clone: its cell may not already have a
record in the repository (a committed record would make the run a skip, or now a refusal), and
its output goes to a git-ignored folder, never beside the shipped results."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from pixel_bench.paths import REPO_ROOT
from pixel_bench.records import record_dir


def _quickstart() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    line = next(x for x in readme.splitlines() if x.startswith("bash setup.sh && "))
    return shlex.split(line.split("&&", 1)[1])


def _option(args: list[str], name: str, default: str | None = None) -> str | None:
    return args[args.index(name) + 1] if name in args else default


def test_quickstart_cell_is_not_shipped_and_its_folder_is_ignored() -> None:
    args = _quickstart()
    assert args[:2] == [".venv/bin/pixel-bench", "run"]
    results = _option(args, "--results", "results")
    cell = record_dir(Path(results), _option(args, "--model"), _option(args, "--task"),
                      int(_option(args, "--seed", "42")))
    record = cell / "record.json"
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(["git", "-C", str(REPO_ROOT), "ls-files", "--", str(record)],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert not tracked, f"{record} is committed: the README quick start would not train"
    ignored = subprocess.run(["git", "-C", str(REPO_ROOT), "check-ignore", "-q", str(record)])
    assert ignored.returncode == 0, f"{record} is not git-ignored ({results}/)"
    assert not results.rstrip("/").endswith("results")  # never beside the shipped records
