"""A task's recipe for one model family, resolved once and frozen: :class:`Recipe`.

``tasks/recipes/<task>.yaml`` (or ``recipes/`` beside a plug-in task) has a ``defaults`` block
and one block per model family (``ModelCard.family``); ``--set key=value`` overrides both.
:func:`load_recipe` merges them, checks every key and value against the declared recipe keys
(:mod:`pixel_bench.recipe_keys`: unknown keys rejected with close matches, types converted) and
returns a read-only :class:`Recipe` that remembers where each value came from. Nothing writes into a recipe later: what a run derives
from it (strip length, model positions, renderer) lives in :class:`pixel_bench.spec.RunSpec`.

Importing this module is cheap (no torch, no transformers).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterator, Mapping, Sequence

from .errors import ConfigError
from .recipe_keys import RECIPE_KEYS, check_block, check_value

#: what a fine-tuning recipe gets when neither the file nor ``--set`` names it
TRAINING_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {"max_steps": 1000, "learning_rate": 5e-5, "per_device_train_batch_size": 8})


@dataclass(frozen=True)
class Recipe(Mapping[str, Any]):
    """Checked recipe values (only the keys that were given, plus :data:`TRAINING_DEFAULTS` for
    tasks that fine-tune) and, per key, where it came from (``rte.yaml:pixel``, ``cli``,
    ``default``). Read it like a mapping; ``get`` of a key missing from the key table is a
    programming error (a typo in code would otherwise read the default forever)."""

    values: Mapping[str, Any] = field(default_factory=dict)
    source: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))
        object.__setattr__(self, "source", MappingProxyType(dict(self.source)))

    # -- mapping ------------------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)

    def get(self, key: str, default: Any = None) -> Any:
        if key not in RECIPE_KEYS:
            raise KeyError(f"recipe key {key!r} is not in pixel_bench/recipe_keys.py")
        return self.values.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        """A plain copy (lists copied) for records and identities."""
        return {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in self.values.items()}

    def from_cli(self) -> dict[str, Any]:
        return {k: v for k, v in self.values.items() if self.source.get(k) == "cli"}

    # -- typed views of the keys every run reads ---------------------------------------------
    @property
    def max_steps(self) -> int:
        return int(self.values.get("max_steps", 0) or 0)

    @property
    def evaluate_only(self) -> bool:
        """``max_steps`` 0: score the model as it is, no training data needed."""
        return self.max_steps == 0


def model_families() -> tuple[str, ...]:
    """The model families of the registered models (``ModelCard.family``): the recipe blocks."""
    from .registry import MODELS

    return tuple(sorted({MODELS.entry(name).card.family for name in MODELS.names()}))


def recipe_file(name: str) -> Path:
    """``<tasks>/recipes/<name>.yaml`` in the first task folder that has it: the built-in
    ``tasks/``, then each plug-in folder (a plug-in task ships its recipe beside it). The
    built-in path when none has it (a task without a recipe runs on the defaults)."""
    from .registry import plugin_dirs

    folders = [d / "recipes" for d in plugin_dirs("tasks")]
    for folder in folders:
        if (folder / f"{name}.yaml").is_file():
            return folder / f"{name}.yaml"
    return folders[0] / f"{name}.yaml"


def load_recipe(task: Any, family: str, overrides: Mapping[str, Any] | None = None,
                recipe_dir: Path | None = None, training: bool = True) -> Recipe:
    """``defaults`` <- ``<family>`` block <- overrides, every key and value checked, so a typo or
    a wrong type fails here naming the file / ``--set`` and the key. ``training``: add
    :data:`TRAINING_DEFAULTS` for keys nobody gave (zero-shot tasks pass False)."""
    import yaml

    name = task.recipe or task.name
    path = (recipe_dir / f"{name}.yaml") if recipe_dir is not None else recipe_file(name)
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"malformed recipe {path}: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"malformed recipe {path}: expected a mapping of blocks")
        families = model_families()
        for block in data:
            # a block named like a known family but misspelt would be ignored silently (a
            # block for a family that is not installed is fine)
            known = ("defaults",) + families
            if block not in known and block != family:
                close = difflib.get_close_matches(str(block), known, n=1, cutoff=0.75)
                if close:
                    raise ConfigError(f"{path}: unknown block {block!r} (did you mean "
                                      f"{close[0]!r}?); blocks are defaults and the model "
                                      f"families {', '.join(families)}")
    values: dict[str, Any] = {}
    source: dict[str, str] = {}
    for block in ("defaults", family):
        given = data.get(block) or {}
        if not isinstance(given, dict):
            raise ConfigError(f"{path}: block {block!r} must be a mapping")
        for k, v in check_block(given, f"{path}: block {block!r}").items():
            values[k] = v
            source[k] = f"{path.name}:{block}"
    for k, v in check_block(dict(overrides or {}), "--set").items():
        values[k] = v
        source[k] = "cli"
    if training:
        for k, v in TRAINING_DEFAULTS.items():
            if k not in values:
                values[k], source[k] = v, "default"
    return Recipe(values, source)


def parse_set(items: Sequence[str]) -> dict[str, Any]:
    """``key=value`` pairs; values parsed as YAML scalars (``1e-4``, ``true``, ``null``), keys
    and types checked against the recipe key table (unknown keys get close-match hints)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, _, raw = item.partition("=")
        key = key.strip()
        if not key:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        if isinstance(value, str):  # YAML 1.1 reads "1e-4" as a string
            try:
                value = float(value)
            except ValueError:
                pass
        out[key] = check_value(key, value, f"--set {item}")
    return out
