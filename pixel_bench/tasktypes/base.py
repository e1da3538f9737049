"""What every task type shares: split loading (local files or hub), the encoded split handed
to the trainer, and the scoring protocol."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from ..data.io import DataSource, find_split_file, load_hub
from ..errors import DataError, SplitNotFoundError
from ..modeling.adapter import HeadSpec, ModelAdapter, TaskKind
from ..modeling.contracts import TextInputAdapter

if TYPE_CHECKING:
    from ..spec import RunSpec


@dataclass
class EncodedSplit:
    """One split ready for the model: a dataset of features plus what scoring needs."""

    name: str
    rows: list[dict[str, Any]]  # the examples as read
    dataset: "FeatureDataset"
    counts: dict[str, int] = field(default_factory=dict)  # examples, truncated, words dropped...
    meta: dict[str, Any] = field(default_factory=dict)  # task-type specific (QA windows, label idx)
    data_fingerprint: str = ""


class FeatureDataset:
    """A map-style dataset computing ``fn(i)`` lazily (features are cheap numpy work over the
    memory-mapped rendered cache, so nothing large is held in memory)."""

    def __init__(self, n: int, fn: Callable[[int], dict[str, Any]]) -> None:
        self.n = n
        self.fn = fn

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.fn(i)


@dataclass
class Task:
    """A task: where its data are, how to read them, which labels and metric.

    Task plug-ins (``tasks/*.py``) instantiate one of the task-type subclasses and register it in
    :data:`pixel_bench.registry.TASKS`.
    """

    name: str
    description: str
    source: DataSource
    reader: Callable[[Path], list[dict[str, Any]]]  # local file -> rows
    hub_reader: Callable[[Any], list[dict[str, Any]]] | None = None  # datasets.Dataset -> rows
    labels: list[str] | None = None  # None: regression
    main_metric: str = "accuracy"
    train_split: str = "train"
    eval_splits: tuple[str, ...] = ("validation",)  # the first one selects the model
    recipe: str | None = None  # recipes/<recipe>.yaml (defaults to the task name)
    greater_is_better: bool = True

    kind: TaskKind = TaskKind.SEQUENCE_CLASSIFICATION
    #: batch fields holding the labels (the Trainer keeps them out of the model's inputs)
    label_names: tuple[str, ...] = ("labels",)

    # -- data -------------------------------------------------------------------------------
    @property
    def main_split(self) -> str:
        return self.eval_splits[0]

    def load_split(self, split: str, data_dir: str | Path | None = None,
                   limit: int | None = None, recipe: Mapping[str, Any] | None = None
                   ) -> tuple[list[dict[str, Any]], str]:
        """Rows of ``split`` and where they came from (a file path or ``hub:<id>``). ``recipe``
        is for task types whose readers take options from it."""
        if data_dir is not None:
            path = find_split_file(data_dir, self.source, split)
            if path is None:
                pats = ", ".join(self.source.patterns.get(split, [])) or "(none known)"
                raise SplitNotFoundError(
                    f"{self.source.name}: no file for split {split!r} in {data_dir} (looked for "
                    f"{pats}" + (f" in . and {', '.join(self.source.subdirs)}"
                                 if self.source.subdirs else "") + ")")
            rows = self.reader(path)
            origin = str(path)
        else:
            ds = load_hub(self.source, split)
            if self.hub_reader is None:
                raise DataError(f"{self.name}: no hub reader")
            rows = self.hub_reader(ds)
            origin = "hub:" + "/".join(self.source.hub or ())
        if not rows:
            raise DataError(f"{self.name}: split {split!r} from {origin} is empty")
        if limit is not None:
            rows = rows[: int(limit)]
        return rows, origin

    # -- model -------------------------------------------------------------------------------
    def head_spec(self, recipe: Mapping[str, Any]) -> HeadSpec:
        n = len(self.labels) if self.labels else 1
        return HeadSpec(kind=self.kind, num_labels=n,
                        pooling=str(recipe.get("pooling", "mean")),
                        add_layer_norm=bool(recipe.get("pooler_add_layer_norm", True)),
                        dropout=recipe.get("dropout"),
                        id2label=dict(enumerate(self.labels)) if self.labels else None,
                        problem_type=None if self.labels else "regression")

    def render_kwargs(self, recipe: Mapping[str, Any]) -> dict[str, Any]:
        return {}

    def score_options(self, recipe: Mapping[str, Any]) -> dict[str, Any]:
        """Keyword arguments for :meth:`score` taken from the recipe (QA: n-best size...)."""
        return {}

    # -- task type hooks ---------------------------------------------------------------------
    def render_inputs(self, rows: Sequence[dict[str, Any]]) -> list[Any]:
        raise NotImplementedError

    def encode(self, name: str, rows: list[dict[str, Any]], adapter: ModelAdapter,
               rendered: Any, render_patches: int, renderer_name: str | None,
               renderer_config: Any = None, recipe: Mapping[str, Any] | None = None,
               ) -> EncodedSplit:
        """Features of one split: ``rendered`` holds the renderings (None for text models),
        ``render_patches`` the strip length they were rendered at."""
        raise NotImplementedError

    def score(self, split: EncodedSplit, predictions: Any, **options: Any
              ) -> tuple[dict[str, float], list[dict[str, Any]]]:
        """Metrics of one split from the model's raw outputs, and one prediction row per
        example (for ``predictions.jsonl``). ``options``: :meth:`score_options` of the recipe."""
        raise NotImplementedError


class ZeroShotTask(ABC):
    """Mixin: a task evaluated without fine-tuning (no rendering cache, no Trainer). The run
    loop hands it the resolved spec, under the same cell lock and identity rules."""

    def check_recipe(self, recipe: Mapping[str, Any]) -> None:
        """Raise ConfigError for recipe values that make no sense without training."""

    @abstractmethod
    def identity_fields(self, spec: "RunSpec") -> dict[str, Any]:
        """The ``data`` and ``renderer`` parts of a cell's identity (see pixel_bench.cells)."""

    @abstractmethod
    def evaluate(self, spec: "RunSpec", seed: int, results: Path, *,
                 identity: dict[str, Any] | None = None, save_generations: bool = False) -> Any:
        """Evaluate one seed and write its record; returns a runner.CellOutcome."""


def model_features(adapter: ModelAdapter, encoding: Any, text: Any) -> dict[str, Any]:
    """Features of one example by the adapter's declared ``input_kind``: the rendering, the
    raw text (text baselines, PixelGPT's -text variants) or both (-pair variants)."""
    kind = adapter.input_kind
    if kind == "pixels":
        if encoding is None:
            raise DataError(f"{adapter.card.name} reads pixels but nothing was rendered")
        return adapter.features(encoding)
    if not isinstance(adapter, TextInputAdapter):
        raise DataError(f"{adapter.card.name}: input_kind {kind!r} needs a TextInputAdapter")
    if kind == "text":
        return adapter.text_features(text)
    return adapter.pair_features(encoding, text)


def rendered_counts(rendered: Any, n: int) -> dict[str, int]:
    if rendered is None:
        return {"examples": n}
    counts = {"examples": n}
    try:
        c = rendered.counts
        counts.update({k: int(v) for k, v in c.items() if isinstance(v, (int, float))})
    except (AttributeError, KeyError, TypeError):
        pass
    return counts
