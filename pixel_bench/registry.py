"""One registry mechanism for renderers, tasks and models.

Built-ins register exactly as a user's plug-in does: a module calls ``RENDERERS.register("name")``
(as a decorator) or ``register_lazy("name", "module:attr")`` so nothing heavy is imported until
the entry is used. Plug-in directories (the repository's ``tasks/`` and ``models/``, or any folder
named in ``PIXEL_BENCH_PLUGINS``) are imported by file path, so they never have to be importable
packages.

An unknown name raises :class:`~pixel_bench.errors.UnknownNameError` listing close matches.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Generic, Iterator, TypeVar

from .errors import PixelBenchError, UnknownNameError

T = TypeVar("T")


@dataclass
class _Entry:
    name: str
    obj: Any = None
    target: str | None = None  # "package.module:attr", resolved on first use
    help: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def resolve(self) -> Any:
        if self.obj is None and self.target is not None:
            module_name, _, attr = self.target.partition(":")
            module = importlib.import_module(module_name)
            self.obj = getattr(module, attr) if attr else module
        return self.obj


class Registry(Generic[T]):
    """A named collection of objects of one kind (renderer classes, task factories, ...)."""

    def __init__(self, kind: str, plugin_dirs: Callable[[], list[Path]] | None = None,
                 bootstrap: str | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, _Entry] = {}
        self._plugin_dirs = plugin_dirs
        self._bootstrap = bootstrap  # module whose import registers the package's own entries
        self._plugins_loaded = False

    # -- registration -------------------------------------------------------------------------
    def register(
        self, name: str, obj: T | None = None, *, help: str = "", override: bool = False, **meta: Any
    ) -> Any:
        """Register ``obj`` under ``name``; without ``obj`` return a decorator."""

        def _add(o: T) -> T:
            self._add(_Entry(name=name, obj=o, help=help or _first_doc_line(o), meta=meta), override)
            return o

        return _add if obj is None else _add(obj)

    def register_lazy(self, name: str, target: str, *, help: str = "", override: bool = False,
                      **meta: Any) -> None:
        """Register ``"module:attr"`` without importing it."""
        self._add(_Entry(name=name, target=target, help=help, meta=meta), override)

    def _add(self, entry: _Entry, override: bool) -> None:
        existing = self._entries.get(entry.name)
        if existing is not None and not override:
            same = (existing.obj is not None and existing.obj is entry.obj) or (
                existing.target is not None and existing.target == entry.target)
            if same:  # re-import of the same module: harmless
                return
            raise PixelBenchError(
                f"{self.kind} {entry.name!r} is registered twice; pass override=True to replace it")
        self._entries[entry.name] = entry

    # -- lookup -------------------------------------------------------------------------------
    def get(self, name: str) -> T:
        self.load_plugins()
        entry = self._entries.get(name)
        if entry is None:
            raise UnknownNameError(self.unknown_message(name))
        return entry.resolve()

    def unknown_message(self, name: str) -> str:
        names = self.names()
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return (f"unknown {self.kind} {name!r}.{hint} Known {self.kind}s: "
                f"{', '.join(names) if names else '(none)'}")

    def __contains__(self, name: object) -> bool:
        self.load_plugins()
        return name in self._entries

    def names(self) -> list[str]:
        self.load_plugins()
        return sorted(self._entries)

    def items(self) -> Iterator[tuple[str, _Entry]]:
        self.load_plugins()
        for name in sorted(self._entries):
            yield name, self._entries[name]

    def help(self, name: str) -> str:
        self.load_plugins()
        entry = self._entries[name]
        return entry.help or _first_doc_line(entry.obj)

    def meta(self, name: str) -> dict[str, Any]:
        self.load_plugins()
        return self._entries[name].meta

    # -- plug-ins -----------------------------------------------------------------------------
    def load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True  # set first: plug-ins may call back into the registry
        if self._bootstrap:
            importlib.import_module(self._bootstrap)
        for directory in self._plugin_dirs() if self._plugin_dirs else []:
            load_plugin_dir(directory)


def load_plugin_dir(directory: Path) -> list[str]:
    """Import every ``*.py`` file in ``directory`` (not recursively) by path; return module names."""
    loaded = []
    if not directory.is_dir():
        return loaded
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        loaded.append(load_plugin_file(path))
    return loaded


def load_plugin_file(path: Path) -> str:
    """Import one plug-in file under a private, path-derived module name (idempotent)."""
    path = Path(path).resolve()
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    module_name = f"pixel_bench_plugin_{path.stem}_{digest}"
    if module_name in sys.modules:
        return module_name
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PixelBenchError(f"cannot import plug-in file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception:
        del sys.modules[module_name]
        raise
    return module_name


def _extra_plugin_dirs() -> list[Path]:
    env = os.environ.get("PIXEL_BENCH_PLUGINS", "")
    return [Path(p) for p in env.split(os.pathsep) if p]


def _first_doc_line(obj: Any) -> str:
    doc = getattr(obj, "__doc__", None) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def plugin_dirs(kind: str) -> list[Path]:
    """Where ``kind`` ("tasks", "models") plug-ins live: the built-in folder, then every folder
    of ``PIXEL_BENCH_PLUGINS`` (its ``<kind>/`` sub-folder when it has one)."""
    return _dirs_for(kind)()


def _dirs_for(kind: str) -> Callable[[], list[Path]]:
    def dirs() -> list[Path]:
        from .paths import builtin_dir

        return [builtin_dir(kind), *(d / kind if (d / kind).is_dir() else d
                                     for d in _extra_plugin_dirs())]
    return dirs


class ModelRegistry(Registry[Any]):
    """Model names -> :class:`~pixel_bench.modeling.adapter.ModelEntry` (card + factory).

    :meth:`get` builds a fresh adapter on every call, so a run that binds or configures its
    adapter never changes what the next run (or the next cell in the same process) gets. A
    plug-in that registers an adapter instance gets it wrapped: each ``get`` returns a deep copy.
    """

    def _add(self, entry: _Entry, override: bool) -> None:
        from .modeling.adapter import ModelAdapter, ModelEntry

        if isinstance(entry.obj, ModelAdapter):
            entry.obj = ModelEntry.of(entry.obj)
        elif entry.obj is not None and not isinstance(entry.obj, ModelEntry):
            raise PixelBenchError(f"model {entry.name!r}: register a ModelEntry(card, factory) "
                                  f"(or a ModelAdapter), not {type(entry.obj).__name__}")
        super()._add(entry, override)

    def entry(self, name: str) -> Any:
        """The registered :class:`ModelEntry` (card without building an adapter)."""
        return super().get(name)

    def get(self, name: str) -> Any:
        return self.entry(name).create()


# The three registries. Renderers are built into the package (pixel_bench.render registers them
# lazily); tasks and models come from the plug-in folders ``tasks/`` and ``models/``.
RENDERERS: Registry[Any] = Registry(
    "renderer", plugin_dirs=lambda: [d / "renderers" for d in _extra_plugin_dirs()],
    bootstrap="pixel_bench.render")
TASKS: Registry[Any] = Registry("task", plugin_dirs=_dirs_for("tasks"))
MODELS: ModelRegistry = ModelRegistry("model", plugin_dirs=_dirs_for("models"))
