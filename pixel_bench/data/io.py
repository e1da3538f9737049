"""Shared plumbing for the readers: transparent gzip, split-file discovery, hub fallback."""

from __future__ import annotations

import fnmatch
import gzip
import io
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..errors import DataError, SplitNotFoundError


def open_text(path: str | Path) -> io.TextIOBase:
    """Open a text file, gunzipping ``*.gz`` (the shared data are stored gzip-compressed).

    ``newline=""`` keeps CRLF visible to readers that must not split on it (XNLI's XTREME copy
    uses CRLF; readers strip ``\\r`` themselves)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")  # type: ignore[return-value]
    return open(path, encoding="utf-8", newline="")


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its end-of-line characters)."""
    try:
        with open_text(path) as fh:
            for lineno, line in enumerate(fh, 1):
                yield lineno, line.rstrip("\r\n")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{path}: unreadable ({exc})") from None


@dataclass
class DataSource:
    """Where a task's data come from: local file patterns per split and a hub fallback.

    ``patterns`` map a split name to glob patterns (matched against file names, ``.gz`` or not);
    ``subdirs`` are tried below ``--data-dir`` so that both the dataset folder itself and the
    folder that holds all datasets (``../shared/data``) work.
    """

    name: str  # human name, e.g. "UD English-EWT"
    patterns: dict[str, list[str]]
    subdirs: list[str] = field(default_factory=list)
    hub: tuple[str, ...] | None = None  # load_dataset(*hub)
    hub_splits: dict[str, str] = field(default_factory=dict)  # our split -> hub split


def find_split_file(data_dir: str | Path, source: DataSource, split: str) -> Path | None:
    """The first file in ``data_dir`` (or one of ``source.subdirs`` below it) whose name matches
    one of the split's patterns (with or without ``.gz``)."""
    data_dir = Path(data_dir).expanduser()
    dirs = [data_dir] + [data_dir / s for s in source.subdirs]
    for directory in dirs:
        if not directory.is_dir():
            continue
        names = sorted(p.name for p in directory.iterdir() if p.is_file())
        for pattern in source.patterns.get(split, []):
            for name in names:
                if fnmatch.fnmatch(name, pattern) or fnmatch.fnmatch(name, pattern + ".gz"):
                    return directory / name
    return None


def hub_available(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub can be reached at all (a quick TCP probe, so an offline
    machine fails in seconds instead of after the datasets library's ~23 s of retries)."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False") or \
            os.environ.get("HF_DATASETS_OFFLINE", "0") not in ("", "0", "false", "False"):
        return False
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    host = endpoint.split("://", 1)[-1].split("/", 1)[0].split(":")[0]
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def load_hub(source: DataSource, split: str) -> Any:
    """``datasets.load_dataset(*source.hub, split=...)`` or a DataError naming the dataset and
    ``--data-dir`` when the hub cannot be reached."""
    if source.hub is None:
        raise SplitNotFoundError(f"{source.name}: no local files found and no hub copy is "
                                 f"known; pass --data-dir DIR with the files "
                                 f"({_describe(source, split)})")
    hint = (f"{source.name} ({'/'.join(source.hub)}): the Hugging Face Hub is not reachable and "
            f"no local files were given; pass --data-dir DIR with the files "
            f"({_describe(source, split)})")
    if not hub_available():
        raise SplitNotFoundError(hint)
    try:
        import datasets

        return datasets.load_dataset(*source.hub, split=source.hub_splits.get(split, split))
    except Exception as exc:  # noqa: BLE001 - network, auth, missing config: all the user's
        raise SplitNotFoundError(f"{hint} [{type(exc).__name__}: {exc}]") from None


def _describe(source: DataSource, split: str) -> str:
    pats = source.patterns.get(split) or []
    return f"{split}: {', '.join(pats) if pats else '(no local format)'}"
