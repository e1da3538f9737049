"""The plan of a pretraining run: every check that can fail, made before any process, model or
data loader starts, and what the checks resolved (:class:`Plan`, shared by the launcher and
the ranks). Also the data workers' featuriser, which is where the model adapter meets the
corpus.

The model family only enters through its adapter (``pixel_bench.registry.MODELS``), which must
be a :class:`~pixel_bench.modeling.contracts.PretrainingAdapter`: ``renderer_config``,
``features``, ``collate``, ``num_positions``, ``build_pretraining``,
``pretraining_mask_generator`` and ``save_pretrained``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError, ConfigError, DataError
from ..io_utils import read_json
from .pretrain_args import PretrainArgs
from .pretrain_checkpoints import check_resume_state, find_resume_dir


@dataclass
class Plan:
    """What validation resolved (shared by the launcher and the ranks)."""

    args: PretrainArgs
    renderer_name: str
    renderer_config: Any
    ds_config: dict[str, Any] | None
    resume_dir: Path | None


def pretrainable_models() -> list[str]:
    """Registered models whose adapter declares a pretraining objective over pixels (the
    corpus is rendered; PixelGPT's -text / -pair variants read tokens)."""
    from ..modeling.contracts import PretrainingAdapter
    from ..registry import MODELS

    return [n for n in MODELS.names() if isinstance(a := MODELS.get(n), PretrainingAdapter)
            and a.input_kind == "pixels"]


def get_adapter(name: str) -> Any:
    """The model's adapter, if ``pixel-bench pretrain`` can train it."""
    from ..modeling.contracts import PretrainingAdapter
    from ..registry import MODELS

    adapter = MODELS.get(name)
    if not isinstance(adapter, PretrainingAdapter) or adapter.input_kind != "pixels":
        can = pretrainable_models()
        raise ConfigError(f"model {name!r} ({adapter.card.family}) has no pretraining objective "
                          f"over pixels (its adapter is not a PretrainingAdapter, or it reads "
                          f"{adapter.input_kind}); models that can pretrain: "
                          f"{', '.join(can) if can else '(none)'}")
    return adapter


def renderer_for(adapter: Any, args: PretrainArgs) -> tuple[str, Any]:
    """(renderer name, renderer config) the corpus is rendered with."""
    from ..modeling.adapter import TaskKind

    kwargs: dict[str, Any] = {"max_seq_length": args.max_seq_length}
    if args.renderer:
        kwargs["renderer"] = args.renderer
    out = adapter.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION, **kwargs)
    if out is None:
        raise ConfigError(f"model {args.model!r} reads text, not pixels: nothing to pretrain here")
    return out


#: config.json model_type values an --init-from checkpoint may carry, per family
INIT_MODEL_TYPES = {"pixel": {"pixel", "vit_mae", "vit"},
                    "pixar": {"pixel", "vit_mae", "vit", "pixar-thesis"},
                    "pixar2024": {"llama"}}


def check_init_checkpoint(path: str, family: str) -> None:
    from ..paths import local_or_hub

    directory, hub_id = local_or_hub(path, owner_required=True)
    if hub_id is not None:
        return  # a hub id; the adapter resolves (and reports) it
    if directory is None:
        raise CheckpointError(f"--init-from: checkpoint directory not found: "
                              f"{Path(path).expanduser()}")
    cfg = directory / "config.json"
    if not cfg.is_file():
        raise CheckpointError(f"--init-from {directory}: no config.json (not a model checkpoint)")
    model_type = read_json(cfg, "--init-from checkpoint config", CheckpointError).get("model_type")
    allowed = INIT_MODEL_TYPES.get(family)
    if allowed is not None and model_type not in allowed:
        raise CheckpointError(f"--init-from {directory}: config.json has model_type "
                              f"{model_type!r}, which cannot initialise a {family} model "
                              f"(expected one of {sorted(allowed)})")


def wants_gpu(args: PretrainArgs) -> bool:
    if args.device == "cpu":
        return False
    from .ds_config import cuda_available

    if args.device == "cuda" and not cuda_available():
        raise ConfigError("--device cuda but no GPU is visible")
    return cuda_available()


def validate(args: PretrainArgs, world_size: int | None = None) -> Plan:
    """Every check that can fail, BEFORE any process, model or data loader is started."""
    world_size = args.num_processes if world_size is None else world_size
    args.check()
    from .ds_config import check_precision, fill_ds_config, load_ds_config, validate_ds_config

    on_gpu = wants_gpu(args)
    check_precision(args.precision, on_gpu)
    adapter = get_adapter(args.model)
    renderer_name, renderer_config = renderer_for(adapter, args)
    from ..registry import RENDERERS

    RENDERERS.get(renderer_name).check_canvas(renderer_config)  # e.g. --max-seq-length too wide
    if args.init_from:
        check_init_checkpoint(args.init_from, adapter.card.family)
    ds = None
    if args.engine == "deepspeed":
        raw, source = load_ds_config(args.deepspeed)
        ds = fill_ds_config(raw, micro_batch_size=args.batch_size, grad_accum=args.grad_accum,
                            world_size=world_size, grad_clip=args.grad_clip,
                            precision=args.precision, zero_stage=args.zero_stage, source=source,
                            on_gpu=on_gpu)
        validate_ds_config(ds, world_size, source)
    elif args.deepspeed or args.zero_stage is not None:
        raise ConfigError("--deepspeed/--zero-stage need --engine deepspeed")
    resume_dir = find_resume_dir(args)
    if resume_dir is not None:
        check_resume_state(resume_dir, args, world_size)
    if args.data is None:
        raise DataError("no corpus given: pass --data PATH (text file, directory, .gz) or a "
                        "Hugging Face dataset name")
    from .pretrain_data import TextSource

    source = TextSource(args.data, split=args.data_split, text_column=args.text_column,
                        unescape_html=args.unescape_html)
    source.check_not_empty()
    return Plan(args, renderer_name, renderer_config, ds, resume_dir)


# -- featurising (runs in data workers) ----------------------------------------------------------
class Featurizer:
    """Encoding -> model features, plus the encoder's patch mask drawn from a per-example RNG
    (seeded by run seed, epoch and the example's first line: masks never depend on workers)."""

    def __init__(self, adapter: Any, mask_generator: Any = None) -> None:
        self.adapter = adapter
        self.mask_generator = mask_generator

    def __call__(self, encoding: Any, rng: np.random.Generator) -> dict[str, np.ndarray]:
        feats = dict(self.adapter.features(encoding))
        if self.mask_generator is not None:
            # PIXEL's callers pass text + EOS (the attended patches) to bound the first span.
            n_attended = int(np.asarray(feats["attention_mask"]).sum())
            mask = self.mask_generator(max(n_attended, 1), rng=rng)
            feats["patch_mask"] = np.asarray(mask, dtype=np.float32)
        return feats


def mask_generator_for(adapter: Any, renderer_config: Any, args: PretrainArgs) -> Any:
    """The adapter's pretraining mask generator (thesis PIXAR variants: span/random/none;
    PIXEL: spans) over the model's positions; None lets the model mask by itself."""
    num = adapter.num_positions(renderer_config.max_seq_length)
    return adapter.pretraining_mask_generator(num, mask_ratio=args.mask_ratio)
