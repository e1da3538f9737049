"""Comments and docs cite files in this repository or public sources, never documents that live
only outside it (the reference notes beside the checkout, the golden fixtures' README, the
thesis text file of the shared folder). The shared folder is fine as a runtime fixture/data
folder; it is not a source to cite."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from pixel_bench import paths

ROOT = paths.REPO_ROOT
SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".sh", ".cfg", ".txt"}
SKIP_DIRS = {".git", ".venv", "venv", "build", "dist", "__pycache__", ".pytest_cache", "runs",
             "results", ".cache", "out", "tmp"}

#: citations of documents that are not in the repository and not public
OUTSIDE = {
    "reference notes 'anchors'": re.compile(r"\banchors(\.md)?\s*(§|\d+\.\d)|\banchors\.md\b"),
    "reference notes 'parity notes'": re.compile(r"parity[- _]notes", re.I),
    "reference notes 'design'/'environment'": re.compile(
        r"reference/(design|environment)\.md|\b(design|environment)\.md\b"),
    "the golden fixtures' README": re.compile(r"golden[ /]README|README\s*§", re.I),
    "the shared folder's thesis/README text": re.compile(r"seeds/|shared/(data|golden|fonts)/README"),
}

#: the 2023 PIXAR MSc thesis is not public: its section and table numbers (the only "§" left in
#: the project) may be quoted only where the file names the repository's record of what it says
THESIS = re.compile(r"§|\bthesis('s)?\s*table\s+A", re.I)
THESIS_RECORD = "models-pixar.md"


def _files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout
        names = [ROOT / line for line in out.splitlines() if line]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout
        names = []
        for folder, dirs, files in os.walk(ROOT):
            dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
            names += [Path(folder) / f for f in files]
    this = Path(__file__).resolve()
    return sorted(p for p in names if p.suffix in SUFFIXES and p.is_file() and p.resolve() != this)


def _outside_citations(files: list[Path], root: Path = ROOT) -> list[str]:
    found = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        rel = path.relative_to(root)
        flagged = set()
        for number, line in enumerate(text.splitlines(), 1):
            for what, pattern in OUTSIDE.items():
                if pattern.search(line):
                    flagged.add(number)
                    found.append(f"{rel}:{number}: cites {what}: {line.strip()[:100]}")
        if THESIS_RECORD not in text and path.name != THESIS_RECORD:
            for number, line in enumerate(text.splitlines(), 1):
                if number not in flagged and THESIS.search(line):
                    found.append(f"{rel}:{number}: quotes the unpublished thesis without naming "
                                 f"docs/{THESIS_RECORD}: {line.strip()[:100]}")
                    break
    return found


def test_the_scan_sees_the_project() -> None:
    rels = {str(p.relative_to(ROOT)) for p in _files()}
    assert {"README.md", "pixel_bench/render/pangocairo.py", "tasks/recipes/pos.yaml",
            "docs/models-pixar.md"} <= rels


def test_the_patterns_catch_outside_citations(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("# geometry (anchors §1.2)\n# see golden README §7 quirk 1\n"
                   "# recipe (anchors 3.3)\n# measured in parity-notes\n"
                   "# from shared/seeds/000_x.txt\n# thesis §3.1 says so\n", encoding="utf-8")
    good = tmp_path / "good.py"
    good.write_text("# PIXEL: src/pixel/utils/misc.py in github.com/xplip/pixel\n"
                    "# thesis §3.1 (docs/models-pixar.md)\n# README: 74.1\n", encoding="utf-8")
    found = _outside_citations([bad, good], tmp_path)
    assert [f.split(":")[:2] for f in found] == [["bad.py", str(n)] for n in range(1, 7)]


def test_no_citation_of_documents_outside_the_repository() -> None:
    found = _outside_citations(_files())
    assert not found, ("cite a file of this repository or a public source (the original "
                       "repository and file, or a paper's arXiv id) instead:\n" + "\n".join(found))
