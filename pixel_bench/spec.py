"""One run, resolved before any data is read: :class:`RunSpec`.

``pixel-bench run --model M --task T`` (plus ``--set``, ``--max-steps``, ``--limit``,
``--checkpoint``, ``--from-scratch``) is resolved here, once: the task object, a fresh adapter
bound to the run (:meth:`~pixel_bench.modeling.adapter.ModelAdapter.for_run`), the frozen
:class:`~pixel_bench.recipe.Recipe`, the weights to load and how they were found, and what makes
the setup non-standard. The cell identity (:mod:`pixel_bench.cells`), ``prepare`` (render +
encode) and both kinds of cells (fine-tuned and zero-shot) all read this one object, so they
cannot disagree.

Naming: ``model`` / ``task_name`` are names; ``task`` / ``adapter`` are the objects.
"""

from __future__ import annotations

import logging
import numbers
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from .errors import CheckpointError, ConfigError, UnsafePathError
from .recipe import Recipe, load_recipe

if TYPE_CHECKING:
    from .modeling.adapter import ModelAdapter
    from .render import RendererConfig
    from .tasktypes.base import Task

logger = logging.getLogger("pixel_bench.spec")


@dataclass(frozen=True)
class RunSpec:
    model: str  # the model name as given (registered name or text:<name-or-dir>)
    task: "Task"
    adapter: "ModelAdapter"  # fresh, bound to this run
    recipe: Recipe
    data_dir: str | None = None
    limit: int | None = None  # the first N examples of every split
    overrides: Mapping[str, Any] = field(default_factory=dict)  # --set and --max-steps
    checkpoint: str | None = None  # weights to load (local dir or hub id); None: random init
    weights: str = ""  # how the weights were found, for the record
    from_scratch: bool = False
    nonstandard: Mapping[str, Any] = field(default_factory=dict)  # see pixel_bench.cells

    @property
    def task_name(self) -> str:
        return self.task.name

    @property
    def train_split(self) -> str:
        return str(self.recipe.get("train_split", self.task.train_split))

    @property
    def max_seq_length(self) -> int | None:
        """The recipe's length: renderer patches for pixel models, tokens for text models."""
        value = self.recipe.get("max_seq_length")
        return None if value is None else int(value)


def resolve_model(name: str) -> "ModelAdapter":
    """A fresh adapter for a registered name or ``text:<hub id or directory>``."""
    from .registry import MODELS

    if name.startswith("text:"):
        return MODELS.get("text").for_model(name)
    return MODELS.get(name)


def check_limit(limit: Any) -> int | None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, numbers.Integral)
                              or limit < 1):
        raise ConfigError(f"--limit {limit!r}: must be an integer >= 1 (the first N examples "
                          "of every split)")
    return None if limit is None else int(limit)


def resolve_spec(model: str, task_name: str, data_dir: str | None = None,
                 checkpoint: str | None = None, from_scratch: bool = False,
                 limit: int | None = None, overrides: Mapping[str, Any] | None = None
                 ) -> RunSpec:
    """Everything about one model x task that needs no data: fails within seconds on a bad
    name, recipe key, limit or missing weights."""
    from .registry import TASKS
    from .tasktypes.base import ZeroShotTask

    limit = check_limit(limit)
    overrides = dict(overrides or {})
    task = TASKS.get(task_name)
    adapter = resolve_model(model)
    family = adapter.card.family
    zero_shot = isinstance(task, ZeroShotTask)
    recipe = load_recipe(task, family, overrides, training=not zero_shot)
    if zero_shot:
        task.check_recipe(recipe)
    adapter = adapter.for_run(task.kind, recipe.get("max_seq_length"))
    ckpt, how = resolve_weights(adapter, model, checkpoint, from_scratch)
    return RunSpec(model=model, task=task, adapter=adapter, recipe=recipe, data_dir=data_dir,
                   limit=limit, overrides=overrides, checkpoint=ckpt, weights=how,
                   from_scratch=from_scratch,
                   nonstandard=_nonstandard(task, family, adapter, model, limit, overrides,
                                            ckpt, from_scratch, zero_shot))


def _nonstandard(task: Any, family: str, adapter: Any, model: str, limit: int | None,
                 overrides: dict[str, Any], ckpt: str | None, from_scratch: bool,
                 zero_shot: bool) -> dict[str, Any]:
    """What differs from the standard setup: ``limit``, recipe values changed on the command
    line ({key: {"recipe": file value, "used": value}}), random init of a model that has
    weights."""
    from .cells import canonical_json
    from .paths import checkpoints_dir

    base = load_recipe(task, family, None, training=not zero_shot)
    changed = {k: {"recipe": base.get(k), "used": v} for k, v in sorted(overrides.items())
               if k not in base or canonical_json(base[k]) != canonical_json(v)}
    out: dict[str, Any] = {}
    if limit is not None:
        out["limit"] = int(limit)
    if changed:
        out["overrides"] = changed
    pretrained = checkpoints_dir() / model.replace("/", "__")
    has_weights = adapter.card.size != "tiny" or (pretrained.is_dir() and any(
        pretrained.iterdir()))
    if ckpt is None and from_scratch and has_weights:
        out["from_scratch"] = True
    return out


# -- weights ---------------------------------------------------------------------------------
def resolve_weights(adapter: "ModelAdapter", name: str, checkpoint: str | None,
                    from_scratch: bool) -> tuple[str | None, str]:
    """(checkpoint to load or None, how it was resolved). Fails within seconds with a message
    saying which weights are missing and how to get them."""
    from .paths import checkpoints_dir, local_or_hub

    card = adapter.card
    if checkpoint is not None:
        path, hub_id = local_or_hub(checkpoint)
        if path is not None:
            return str(path), "--checkpoint"
        if hub_id is None:
            raise CheckpointError(f"--checkpoint {checkpoint}: no such directory")
        return _hub_weights(hub_id, name), "--checkpoint (hub)"
    if from_scratch:
        return None, "random init (--from-scratch)"
    if adapter.local_weights is not None:  # text:DIR
        return str(adapter.local_weights), "local directory (text:DIR)"
    pretrained = checkpoints_dir() / name.replace("/", "__")
    if pretrained.is_dir() and any(pretrained.iterdir()):
        return str(pretrained), "pixel-bench pretrain output"
    if card.size == "tiny":
        return None, "random init (tiny model)"
    if card.hub_id is None:
        raise CheckpointError(
            f"no weights for {name!r}: it has no released hub checkpoint and {pretrained} does not "
            f"exist. Pretrain it with `pixel-bench pretrain --model {name}` (writes there), pass "
            "--checkpoint DIR, or fine-tune from random init with --from-scratch")
    return _hub_weights(card.hub_id, name), f"hub {card.hub_id}"


def _hub_weights(hub_id: str, name: str) -> str:
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(repo_id=hub_id, local_files_only=True)
    except Exception:  # noqa: BLE001 - not cached: is the hub reachable?
        pass
    from .data.io import hub_available

    if not hub_available():
        raise CheckpointError(
            f"weights for {name!r} ({hub_id}) are not in the local Hugging Face cache and the Hub "
            f"is not reachable. On a machine with internet run `hf download "
            f"{hub_id} --local-dir DIR` and pass --checkpoint DIR (or use --from-scratch)")
    return hub_id


# -- renderer --------------------------------------------------------------------------------
@dataclass(frozen=True)
class RendererChoice:
    """The renderer a run uses: registered name, settings, and why it is not the recipe's
    (``note``; empty when it is)."""

    name: str
    config: "RendererConfig"
    note: str = ""

    def info(self) -> dict[str, Any]:
        """Name, settings, font hash and fingerprint, as records and identities store them."""
        from .registry import RENDERERS

        return {"renderer": self.name, "settings": self.config.to_dict(),
                "fingerprint": RENDERERS.get(self.name)(self.config).fingerprint(),
                "font_sha256": self.config.font_sha256()}


def choose_renderer(spec: RunSpec) -> RendererChoice | None:
    """The adapter's renderer for this run (None: a text model). A recipe renderer the model
    cannot read (e.g. the thesis PIXAR's PyGame renderings) falls back to the model's own, with a
    note; one asked for on the command line is an error, and so is a checkpoint config naming
    files outside its folder."""
    adapter, recipe = spec.adapter, spec.recipe
    want = recipe.get("renderer")
    length = spec.max_seq_length
    note = ""
    try:
        found = adapter.renderer_config(spec.task.kind, max_seq_length=length, renderer=want,
                                        checkpoint=spec.checkpoint)
    except ConfigError as exc:
        if recipe.source.get("renderer") == "cli" or want is None or isinstance(
                exc, UnsafePathError):
            raise
        logger.warning("recipe renderer %r not usable for %s (%s); using the model's own",
                       want, adapter.card.name, exc)
        note = (f"recipe asked for {want!r}; {adapter.card.name} cannot read it, so its own "
                "renderer was used")
        found = adapter.renderer_config(spec.task.kind, max_seq_length=length, renderer=None,
                                        checkpoint=spec.checkpoint)
    if found is None:
        return None
    name, cfg = found
    folder = recipe.get("fallback_fonts_dir")
    if folder:  # PIXEL's --fallback_fonts_dir: a folder, or a name such as noto-cjk
        from .fonts import resolve_fonts_dir

        cfg = cfg.with_overrides(fallback_fonts_dir=str(resolve_fonts_dir(str(folder))))
    return RendererChoice(name, cfg, note)
