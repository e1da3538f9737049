"""The project's one JSON reader and one atomic text writer.

Every JSON file a user can hand us (renderer configs, checkpoint configs, DeepSpeed configs,
result records, sweep manifests, golden case files) is read through :func:`read_json`, so a
missing, unreadable or malformed file always gets the same kind of message: the path, what the
file is, and what is wrong with it, raised as the caller's error type. Files that are written
for other processes to read go through :func:`atomic_write_text`. Imports nothing heavy.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .errors import ConfigError

_JSON_TYPE_NAMES = {dict: "object", list: "array", str: "string", int: "number",
                    float: "number", bool: "boolean", type(None): "null"}


def _json_kind(value: Any) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def read_json(path: str | Path, what: str, error: type[Exception] = ConfigError,
              expect: type | tuple[type, ...] | None = dict) -> Any:
    """Parse the JSON file ``path`` (a ``what``, e.g. "renderer config"). Any failure raises
    ``error`` naming the path and the problem: not found, unreadable (permissions, not UTF-8),
    not valid JSON (with line and column), or — unless ``expect`` is None — a top-level value
    that is not of the ``expect`` type(s) (a JSON object by default)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, not a {what} file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read {what} ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{path}: {what} is not valid JSON, corrupt or truncated ({exc.msg}: "
                    f"line {exc.lineno} column {exc.colno})") from None
    if expect is not None and not isinstance(data, expect):
        kinds = expect if isinstance(expect, tuple) else (expect,)
        wanted = " or ".join(f"a JSON {_JSON_TYPE_NAMES.get(k, k.__name__)}" for k in kinds)
        raise error(f"{path}: {what} must be {wanted} at the top level, not a JSON "
                    f"{_json_kind(data)}")
    return data


def current_umask() -> int:
    """The process umask, read without changing it where Linux reports it (``/proc``); else
    by the set-and-restore dance."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` so a reader never sees a partial file: a uniquely named
    temporary file in the same folder, fsynced, then renamed over ``path`` (removed again if
    anything fails, Ctrl-C included). Creates missing parent folders.

    The file gets the mode a plain ``open(path, "w")`` would give (0666 minus the umask, e.g.
    0644): ``mkstemp`` creates its file 0600, which would hide records from group members."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
