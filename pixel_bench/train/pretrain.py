"""Pretraining loop: PIXAR (thesis), PIXEL MAE and PIXAR-2024 objectives, DeepSpeed or torch.

One function, :func:`pretrain`, runs on every rank (launched by ``torchrun`` or the DeepSpeed
launcher for N processes, or directly for one). The model family only enters through the model
adapter (``pixel_bench.registry.MODELS``): ``renderer_config``, ``features``, ``collate``,
``build_pretraining`` (the pretraining network whose ``forward(**batch)`` returns ``loss``),
optionally ``pretraining_mask_generator``/``span_mask_generator`` (the encoder's patch mask,
drawn in the data workers from a per-example seed), and ``save_pretrained``.

Optimisation follows thesis table A.1 / §3.3: AdamW (weight decay 0.05 on weights, not on biases
or norms, as the HF Trainer does), linear warmup then cosine decay to ``min_lr`` (1e-5; the table's
"0.05" is a typo: docs/models-pixar.md), peak 1.5e-4, gradient accumulation and clipping, bf16
(CPU/GPU) or fp16 (GPU).

Checkpoints (``<output>/checkpoints/step-NNNNNNN/``) are written beside the previous one; only
after every rank has finished is ``<output>/checkpoints/latest`` replaced atomically
(``os.replace``), so a run killed at any moment leaves the last complete checkpoint usable.
``--resume auto`` restores step, optimizer, schedule, data position (per rank and data worker)
and every RNG, so losses continue exactly as in an uninterrupted run.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import shutil
import socket
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError, ConfigError, DataError
from ..io_utils import atomic_write_text, read_json
from .safe_state import (has_state, load_state, make_deepspeed_loads_safe, safe_torch_load,
                         save_state)

logger = logging.getLogger("pixel_bench.train.pretrain")

CHECKPOINTS = "checkpoints"
LATEST = "latest"
STATE_FILE = "trainer_state.json"
METRICS_FILE = "metrics.jsonl"
ARGS_FILE = "pretrain_args.json"
ENGINE_STATE = "engine"  # torch engine: engine.safetensors + engine.json (see safe_state.py)
ENGINES = ("deepspeed", "torch")
SELF_DIST = "PIXEL_BENCH_SELF_DIST"  # set when this process made up its own RANK/WORLD_SIZE


@dataclass
class PretrainArgs:
    """Every setting of one pretraining run (the CLI's options; also readable from --config)."""

    model: str
    output_dir: str
    data: str | None = None
    data_split: str = "train"
    text_column: str = "text"
    engine: str = "deepspeed"
    deepspeed: str | None = None  # ds_config JSON; None: models/deepspeed/zero2.json
    zero_stage: int | None = None
    num_processes: int = 1  # per node
    launcher: str = "torchrun"
    nnodes: int = 1  # torchrun: nodes that meet at --rdzv-endpoint (under srun: SLURM_NNODES)
    node_rank: int | None = None  # torchrun --node-rank (static rendezvous; c10d assigns ranks)
    rdzv_endpoint: str | None = None  # HOST:PORT of the rendezvous (under srun: the head node)
    rdzv_id: str | None = None  # one id per run, the same on every node (default: from -o)
    rdzv_backend: str = "c10d"  # c10d (ranks by arrival) or static (ranks by --node-rank)
    hostfile: str | None = None  # DeepSpeed launcher: "HOST slots=N" lines (ssh/pdsh to each)
    init_from: str | None = None
    max_steps: int = 100_000
    batch_size: int = 8  # per process, per micro step
    grad_accum: int = 1
    lr: float = 1.5e-4
    min_lr: float = 1e-5
    warmup_steps: int = 5000
    weight_decay: float = 0.05
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8
    grad_clip: float = 1.0
    precision: str = "bf16"
    seed: int = 42
    num_workers: int = 1
    save_steps: int = 1000
    save_total_limit: int = 2
    log_steps: int = 10
    picture_steps: int = 500
    resume: str = "auto"  # auto | never | a checkpoint directory
    max_seq_length: int | None = None
    renderer: str | None = None
    mask_ratio: float = 0.25
    min_text_patches: int = 22
    block_lines: int = 256
    render_cache: bool = False  # read/write renderings through the rendered-data cache
    unescape_html: bool = False  # html.unescape every corpus text line (WikiExtractor's &amp;)
    device: str = "auto"  # auto | cpu | cuda
    dist_timeout_s: int = 1800
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> "PretrainArgs":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown pretraining setting(s) {unknown}; known: "
                              f"{sorted(known - {'extra'})}")
        missing = [k for k in ("model", "output_dir") if data.get(k) in (None, "")]
        if missing:
            raise ConfigError(f"{source}: missing setting(s) {missing} (or pass "
                              f"{', '.join('--' + k.replace('_', '-') for k in missing)})")
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> "PretrainArgs":
        path = Path(path).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read pretraining config {path}: {exc}") from None
        try:
            if path.suffix in (".yaml", ".yml"):
                import yaml

                data = yaml.safe_load(text) or {}
            else:
                data = json.loads(text)
        except Exception as exc:
            raise ConfigError(f"malformed pretraining config {path}: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"pretraining config {path}: expected a mapping of settings")
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(data, source=str(path))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- learning-rate schedule ---------------------------------------------------------------------
def lr_at(step: int, *, peak: float, min_lr: float, warmup: int, total: int) -> float:
    """Linear warmup from 0 to ``peak`` over ``warmup`` steps, then cosine decay to ``min_lr``
    at ``total`` (PIXEL's custom scheduler; thesis §3.3)."""
    if warmup > 0 and step < warmup:
        return peak * step / warmup
    progress = (step - warmup) / max(1, total - warmup)
    progress = min(max(progress, 0.0), 1.0)
    return min_lr + (peak - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_scheduler(optimizer: Any, args: PretrainArgs) -> Any:
    import torch

    peak = args.lr

    def factor(step: int) -> float:
        return lr_at(step, peak=peak, min_lr=args.min_lr, warmup=args.warmup_steps,
                     total=args.max_steps) / peak

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def param_groups(model: Any, weight_decay: float) -> list[dict[str, Any]]:
    """HF Trainer's split: no weight decay on biases and normalisation layers."""
    no_decay: set[str] = set()
    for mod_name, module in model.named_modules():
        if "norm" in type(module).__name__.lower():
            no_decay.update(f"{mod_name}.{n}" if mod_name else n
                            for n, _ in module.named_parameters(recurse=False))
    decay, plain = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (plain if name in no_decay or name.endswith("bias") else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": plain, "weight_decay": 0.0}]


# -- pre-flight checks ----------------------------------------------------------------------------
@dataclass
class Plan:
    """What validation resolved (shared by the launcher and the ranks)."""

    args: PretrainArgs
    renderer_name: str
    renderer_config: Any
    ds_config: dict[str, Any] | None
    resume_dir: Path | None


def get_adapter(name: str) -> Any:
    from ..registry import MODELS

    adapter = MODELS.get(name)
    if not hasattr(adapter, "build_pretraining"):
        raise ConfigError(f"model {name!r} ({adapter.card.family}) has no pretraining objective "
                          "(its adapter lacks build_pretraining)")
    return adapter


def renderer_for(adapter: Any, args: PretrainArgs) -> tuple[str, Any]:
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


def find_resume_dir(args: PretrainArgs) -> Path | None:
    """The checkpoint to continue from (``--resume auto``: the ``latest`` pointer), or None."""
    if args.resume in ("never", "no", "none", "", None):
        return None
    if args.resume == "auto":
        pointer = Path(args.output_dir) / CHECKPOINTS / LATEST
        if not pointer.is_file():
            return None
        tag = pointer.read_text(encoding="utf-8").strip()
        directory = pointer.parent / tag
    else:
        directory = Path(args.resume).expanduser()
    state = directory / STATE_FILE
    if not state.is_file():
        raise CheckpointError(f"cannot resume from {directory}: {STATE_FILE} is missing (not a "
                              "complete pixel-bench pretraining checkpoint)")
    return directory


def check_resume_state(directory: Path, args: PretrainArgs, world_size: int) -> dict[str, Any]:
    state = read_json(directory / STATE_FILE, "pretraining checkpoint state", CheckpointError)
    if state.get("model") != args.model:
        raise CheckpointError(f"cannot resume from {directory}: it was written for model "
                              f"{state.get('model')!r}, not {args.model!r} (use another "
                              "--output-dir or --resume never)")
    if state.get("engine") != args.engine:
        raise CheckpointError(f"cannot resume from {directory}: it was written by the "
                              f"{state.get('engine')!r} engine, not {args.engine!r}")
    for key, now in (("world_size", world_size), ("num_workers", max(args.num_workers, 1)),
                     ("batch_size", args.batch_size), ("grad_accum", args.grad_accum)):
        if state.get(key) != now:
            raise CheckpointError(f"cannot resume exactly from {directory}: {key} was "
                                  f"{state.get(key)} and is now {now} (the data position is "
                                  "per process and worker)")
    # the text itself: continuing with other characters than the run was trained on would
    # silently mix two corpora (checkpoints made before the option existed did not unescape)
    before = bool((state.get("args") or {}).get("unescape_html", False))
    if before != bool(args.unescape_html):
        flag = "--unescape-html" if before else "--no-unescape-html"
        raise CheckpointError(f"cannot resume from {directory}: it was trained with "
                              f"unescape_html={before} and this run asks for "
                              f"{bool(args.unescape_html)} (pass {flag} to continue it, or use "
                              "another --output-dir or --resume never)")
    return state


def validate(args: PretrainArgs, world_size: int | None = None) -> Plan:
    """Every check that can fail, BEFORE any process, model or data loader is started."""
    world_size = args.num_processes if world_size is None else world_size
    if args.engine not in ENGINES:
        raise ConfigError(f"--engine must be one of {', '.join(ENGINES)}, got {args.engine!r}")
    for key in ("max_steps", "batch_size", "grad_accum", "num_processes", "save_steps",
                "log_steps"):
        if int(getattr(args, key)) <= 0:
            raise ConfigError(f"--{key.replace('_', '-')} must be positive, got "
                              f"{getattr(args, key)}")
    if args.lr <= 0 or args.min_lr < 0 or args.min_lr > args.lr:
        raise ConfigError(f"need 0 <= --min-lr <= --lr and --lr > 0 (got lr {args.lr}, "
                          f"min_lr {args.min_lr})")
    if not 0 <= args.mask_ratio < 1:
        raise ConfigError(f"--mask-ratio must be in [0, 1), got {args.mask_ratio}")
    from .ds_config import check_precision, fill_ds_config, load_ds_config, validate_ds_config

    on_gpu = _wants_gpu(args)
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


def _wants_gpu(args: PretrainArgs) -> bool:
    if args.device == "cpu":
        return False
    from .ds_config import cuda_available

    if args.device == "cuda" and not cuda_available():
        raise ConfigError("--device cuda but no GPU is visible")
    return cuda_available()


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
            try:
                mask = self.mask_generator(max(n_attended, 1), rng=rng)
            except TypeError:  # a generator that draws from the global RNGs: seed them
                seed = int(rng.integers(0, 2**31 - 1))
                random.seed(seed)
                np.random.seed(seed)
                mask = self.mask_generator(max(n_attended, 1))
            feats["patch_mask"] = np.asarray(mask, dtype=np.float32)
        return feats


def mask_generator_for(adapter: Any, renderer_config: Any, args: PretrainArgs) -> Any:
    """The adapter's pretraining mask generator (thesis PIXAR variants: span/random/none), or
    PIXEL's span generator; None lets the model mask by itself."""
    num = adapter.num_positions(renderer_config.max_seq_length) \
        if hasattr(adapter, "num_positions") else renderer_config.max_seq_length
    for attr in ("pretraining_mask_generator", "span_mask_generator"):
        factory = getattr(adapter, attr, None)
        if factory is not None:
            return factory(num, mask_ratio=args.mask_ratio)
    return None


# -- distributed setup ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def default_extensions_dir() -> str:
    from ..paths import cache_dir

    return str(cache_dir() / "torch_extensions")


def ensure_dist_env() -> None:
    """A single plain process: DeepSpeed wants RANK/WORLD_SIZE/MASTER_* (else it tries MPI)."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        return
    os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", LOCAL_WORLD_SIZE="1",
                      **{SELF_DIST: "1"})
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(free_port()))


class Dist:
    """Rank bookkeeping and the few collectives the loop needs."""

    def __init__(self, engine: str, device_pref: str, timeout_s: int) -> None:
        import datetime

        import torch
        import torch.distributed as dist

        ensure_dist_env()
        self.rank = int(os.environ["RANK"])
        self.world_size = int(os.environ["WORLD_SIZE"])
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        use_cuda = torch.cuda.is_available() and device_pref != "cpu"
        self.device = torch.device(f"cuda:{self.local_rank}" if use_cuda else "cpu")
        if use_cuda:
            torch.cuda.set_device(self.device)
        timeout = datetime.timedelta(seconds=timeout_s)
        if engine == "deepspeed":
            os.environ.setdefault("TORCH_EXTENSIONS_DIR", default_extensions_dir())
            import deepspeed

            deepspeed.init_distributed(timeout=timeout)
        elif not dist.is_initialized():
            dist.init_process_group("nccl" if use_cuda else "gloo", timeout=timeout)
        self.dist = dist

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        self.dist.barrier()

    def mean(self, values: list[float]) -> list[float]:
        import torch

        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        self.dist.all_reduce(t)
        return (t / self.world_size).tolist()

    def sum(self, values: list[float]) -> list[float]:
        import torch

        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        self.dist.all_reduce(t)
        return t.tolist()


# -- RNG state ----------------------------------------------------------------------------------
def rng_state() -> dict[str, Any]:
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _read_state(directory: Path, stem: str) -> dict[str, Any]:
    """A checkpoint's ``<stem>`` state: the safetensors + JSON pair, or (checkpoints written
    before that format) ``<stem>.pt`` read with torch's restricted unpickler."""
    if has_state(directory, stem):
        state = load_state(directory, stem)
    elif (directory / f"{stem}.pt").is_file():
        state = safe_torch_load(directory / f"{stem}.pt", map_location="cpu")
    else:
        raise CheckpointError(f"cannot resume from {directory}: {stem}.json and "
                              f"{stem}.safetensors are missing (an incomplete checkpoint; "
                              "resume from an older one with --resume DIR, or --resume never)")
    if not isinstance(state, dict):
        raise CheckpointError(f"cannot resume from {directory}: {stem} holds a "
                              f"{type(state).__name__}, not a state mapping")
    return state


def seed_all(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# -- the loop ------------------------------------------------------------------------------------
class Trainer:
    def __init__(self, plan: Plan, dist: Dist) -> None:
        self.plan = plan
        self.args = args = plan.args
        self.dist = dist
        self.out = Path(args.output_dir)
        self.ckpt_root = self.out / CHECKPOINTS
        self.adapter = get_adapter(args.model)
        self.step = 0
        self.worker_states: dict[int, dict[str, int]] = {}
        self.batches_consumed = 0
        self.invalid_bytes = 0
        self.patches_seen = 0.0
        import torch

        self.torch = torch
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16,
                          "fp32": None}[args.precision]

    # -- building ----------------------------------------------------------------------------
    def build_model(self) -> Any:
        """The adapter's pretraining network: random init (``from_scratch``), or started from
        ``--init-from`` (PIXAR: a PIXEL checkpoint initialises the encoder)."""
        import inspect

        build = self.adapter.build_pretraining
        params = inspect.signature(build).parameters
        kwargs: dict[str, Any] = {"checkpoint": self.args.init_from or None}
        if not self.args.init_from and "from_scratch" in params:
            kwargs["from_scratch"] = True  # never fetch released weights unasked
        if "max_seq_length" in params:  # model positions for the renderer's strip length
            length = self.plan.renderer_config.max_seq_length
            kwargs["max_seq_length"] = (self.adapter.num_positions(length)
                                        if hasattr(self.adapter, "num_positions") else length)
        return build(**kwargs)

    def build_loader(self, roles: list[int]) -> Any:
        from ..paths import cache_dir
        from .pretrain_data import PackedCorpus, PretrainStream, TextSource, split_meta

        args = self.args
        source = TextSource(args.data, split=args.data_split, text_column=args.text_column,
                            unescape_html=args.unescape_html)
        featurize = Featurizer(self.adapter, mask_generator_for(
            self.adapter, self.plan.renderer_config, args))
        corpus = PackedCorpus(source, self.plan.renderer_name, self.plan.renderer_config,
                              featurize, seed=args.seed, min_text_patches=args.min_text_patches,
                              block_lines=args.block_lines,
                              cache_root=str(cache_dir()) if args.render_cache else None)
        stream = PretrainStream(corpus, self.dist.rank, self.dist.world_size,
                                max(args.num_workers, 1), self.worker_states, roles)
        adapter = self.adapter

        def collate(batch: list[dict[str, np.ndarray]]) -> tuple[dict[str, Any], Any]:
            feats, meta = split_meta(batch)
            return adapter.collate(feats), meta

        gen = self.torch.Generator()
        gen.manual_seed(args.seed + 7919 * self.dist.rank)  # worker seeds; main RNG untouched
        return self.torch.utils.data.DataLoader(
            stream, batch_size=args.batch_size, num_workers=args.num_workers,
            collate_fn=collate, generator=gen,
            persistent_workers=False, prefetch_factor=2 if args.num_workers > 0 else None)

    def setup(self) -> None:
        torch, args = self.torch, self.args
        seed_all(args.seed)
        model = self.build_model()
        self.groups = param_groups(model, args.weight_decay)
        if args.engine == "deepspeed":
            import deepspeed

            optimizer = torch.optim.AdamW(self.groups, lr=args.lr,
                                          betas=(args.adam_beta1, args.adam_beta2),
                                          eps=args.adam_eps)
            scheduler = make_scheduler(optimizer, args)
            self.engine, self.optimizer, _, self.scheduler = deepspeed.initialize(
                model=model, optimizer=optimizer, lr_scheduler=scheduler,
                config=self.plan.ds_config, dist_init_required=False)
            self.model = self.engine
            self.module = self.engine.module
            self.model_dtype = next(self.module.parameters()).dtype
        else:
            model.to(self.dist.device)
            self.module = model
            if self.dist.world_size > 1:
                ddp_kwargs = ({"device_ids": [self.dist.device.index]}
                              if self.dist.device.type == "cuda" else {})
                # Buffers here are constants (position ids, sin-cos tables), identical on every
                # rank; some are expanded views that DDP's buffer broadcast cannot write into.
                self.model = torch.nn.parallel.DistributedDataParallel(
                    model, broadcast_buffers=False, **ddp_kwargs)
            else:
                self.model = model
            self.optimizer = torch.optim.AdamW(self.groups, lr=args.lr,
                                               betas=(args.adam_beta1, args.adam_beta2),
                                               eps=args.adam_eps)
            self.scheduler = make_scheduler(self.optimizer, args)
            self.scaler = (torch.amp.GradScaler("cuda") if args.precision == "fp16" else None)
            self.model_dtype = torch.float32
        self.model.train()

    # -- checkpoints -------------------------------------------------------------------------
    def tag(self, step: int) -> str:
        return f"step-{step:07d}"

    def save_checkpoint(self) -> Path:
        torch, args = self.torch, self.args
        tag = self.tag(self.step)
        directory = self.ckpt_root / tag
        if self.dist.is_main:
            if directory.exists():  # a partial write from a killed run: never the `latest` one
                shutil.rmtree(directory)
            directory.mkdir(parents=True)
        self.dist.barrier()
        if args.engine == "deepspeed":
            self.engine.save_checkpoint(str(self.ckpt_root), tag=tag, save_latest=False,
                                        client_state={"step": self.step})
        elif self.dist.is_main:
            save_state({"model": self.module.state_dict(),
                        "optimizer": self.optimizer.state_dict(),
                        "scheduler": self.scheduler.state_dict(),
                        "scaler": self.scaler.state_dict() if self.scaler else None},
                       directory, ENGINE_STATE)
        save_state({"rng": rng_state(), "worker_states": self.worker_states,
                    "batches_consumed": self.batches_consumed,
                    "invalid_bytes": self.invalid_bytes, "patches_seen": self.patches_seen},
                   directory, f"rank{self.dist.rank}_state")
        self.dist.barrier()
        if self.dist.is_main:
            state = {"model": args.model, "engine": args.engine, "step": self.step,
                     "world_size": self.dist.world_size, "num_workers": max(args.num_workers, 1),
                     "batch_size": args.batch_size, "grad_accum": args.grad_accum,
                     "lr": self.scheduler.get_last_lr()[0], "time": time.time(),
                     "args": args.to_dict()}
            atomic_write_text(directory / STATE_FILE, json.dumps(state, indent=2))
            atomic_write_text(self.ckpt_root / LATEST, tag + "\n")  # the atomic switch
            self.prune()
        self.dist.barrier()
        return directory

    def prune(self) -> None:
        keep = max(self.args.save_total_limit, 1)
        tags = sorted(p for p in self.ckpt_root.glob("step-*") if p.is_dir())
        current = (self.ckpt_root / LATEST).read_text(encoding="utf-8").strip()
        for old in tags[:-keep]:
            if old.name != current:
                shutil.rmtree(old, ignore_errors=True)

    def load_checkpoint(self, directory: Path) -> None:
        torch, args = self.torch, self.args
        state = check_resume_state(directory, args, self.dist.world_size)
        if args.engine == "deepspeed":
            # DeepSpeed's own files are pickles: read through the restricted unpickler
            make_deepspeed_loads_safe(self.engine)
            path, client = self.engine.load_checkpoint(str(directory.parent), tag=directory.name)
            if path is None:
                raise CheckpointError(f"DeepSpeed could not load the checkpoint in {directory}")
        else:
            blob = _read_state(directory, ENGINE_STATE)
            self.module.load_state_dict(blob["model"])
            self.optimizer.load_state_dict(blob["optimizer"])
            self.scheduler.load_state_dict(blob["scheduler"])
            if self.scaler is not None and blob.get("scaler"):
                self.scaler.load_state_dict(blob["scaler"])
        rank_state = _read_state(directory, f"rank{self.dist.rank}_state")
        self.step = int(state["step"])
        self.worker_states = {int(k): v for k, v in rank_state["worker_states"].items()}
        self.batches_consumed = int(rank_state["batches_consumed"])
        self.invalid_bytes = int(rank_state.get("invalid_bytes", 0))
        self.patches_seen = float(rank_state.get("patches_seen", 0.0))
        set_rng_state(rank_state["rng"])

    # -- final export ------------------------------------------------------------------------
    def export_final(self, last_checkpoint: Path) -> Path:
        """Consolidated fp32 weights -> a normal pixel-bench checkpoint in ``output_dir``."""
        torch = self.torch
        if not self.dist.is_main:
            self.dist.barrier()
            return self.out
        if self.args.engine == "deepspeed":
            from .ds_export import deepspeed_fp32_state

            # ZeRO 1-3: zero_to_fp32 over the checkpoint (+ frozen parameters); ZeRO 0: the
            # optimizer's fp32 masters in memory (the same state as last_checkpoint)
            state = deepspeed_fp32_state(self.engine, last_checkpoint)
        else:
            state = {k: v.detach().to("cpu", torch.float32) if v.is_floating_point() else v
                     for k, v in self.module.state_dict().items()}
        final = self.build_model().float()
        missing, unexpected = final.load_state_dict(state, strict=False)
        missing = [k for k in missing if k in dict(final.named_parameters())]
        if missing or unexpected:
            raise CheckpointError(f"consolidated weights do not match the model: missing "
                                  f"{missing[:5]}, unexpected {list(unexpected)[:5]}")
        tmp = self.out / ".final.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        self.adapter.save_pretrained(final, tmp, renderer=self.plan.renderer_config)
        info = {"model": self.args.model, "steps": self.step, "engine": self.args.engine,
                "precision": self.args.precision, "world_size": self.dist.world_size,
                "invalid_utf8_sequences": self.invalid_bytes,
                "unescape_html": bool(self.args.unescape_html), "from_checkpoint":
                str(last_checkpoint)}
        (tmp / "pretrain_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
        for item in tmp.iterdir():
            os.replace(item, self.out / item.name)
        tmp.rmdir()
        self.dist.barrier()
        return self.out

    # -- training ----------------------------------------------------------------------------
    def to_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for k, v in batch.items():
            v = v.to(self.dist.device, non_blocking=True)
            if self.args.engine == "deepspeed" and v.is_floating_point():
                # DeepSpeed bf16/fp16 holds half-precision weights (as the HF Trainer does)
                v = v.to(self.model_dtype)
            out[k] = v
        return out

    def forward_loss(self, batch: dict[str, Any]) -> Any:
        torch = self.torch
        if self.args.engine == "torch" and self.amp_dtype is not None:
            with torch.autocast(self.dist.device.type, dtype=self.amp_dtype):
                out = self.model(**batch)
        else:
            out = self.model(**batch)
        loss = out.loss if hasattr(out, "loss") else out["loss"]
        if loss is None:
            raise ConfigError(f"model {self.args.model!r}: the pretraining forward returned no "
                              "loss")
        return loss, out

    def train_step(self, it: Any) -> tuple[float, float]:
        """One optimizer step (``grad_accum`` micro batches); returns (mean loss, patches)."""
        torch, args = self.torch, self.args
        losses, patches = [], 0.0
        for micro in range(args.grad_accum):
            batch, (role, state) = next(it)
            self.batches_consumed += 1
            prev = self.worker_states.get(role, {}).get("invalid", 0)
            self.invalid_bytes += int(state["invalid"]) - int(prev)
            self.worker_states[role] = state
            batch = self.to_device(batch)
            patches += float(batch["attention_mask"].sum())
            self.last_batch = batch
            if args.engine == "deepspeed":
                loss, _ = self.forward_loss(batch)
                self.engine.backward(loss)
                self.engine.step()
            else:
                sync = micro == args.grad_accum - 1 or self.dist.world_size == 1
                ctx = (self.model.no_sync() if not sync and hasattr(self.model, "no_sync")
                       else _null())
                with ctx:
                    loss, _ = self.forward_loss(batch)
                    scaled = loss.float() / args.grad_accum
                    if self.scaler is not None:
                        self.scaler.scale(scaled).backward()
                    else:
                        scaled.backward()
            losses.append(float(loss.detach().float()))
        if args.engine == "torch":
            if self.scaler is not None:
                self.scaler.unscale_(self.optimizer)
            if args.grad_clip and args.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self.module.parameters(), args.grad_clip)
            if self.scaler is not None:
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return float(np.mean(losses)), patches

    def current_lr(self) -> float:
        return float(self.scheduler.get_last_lr()[0])

    def run(self) -> dict[str, Any]:
        args = self.args
        from .pretrain_data import worker_roles

        self.setup()
        if self.plan.resume_dir is not None:
            self.load_checkpoint(self.plan.resume_dir)
            if self.dist.is_main:
                logger.info("resumed from %s at step %d", self.plan.resume_dir, self.step)
        display = Display(self, enabled=self.dist.is_main)
        metrics_path = self.out / METRICS_FILE
        if self.dist.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            _truncate_metrics(metrics_path, self.step)
        loader = self.build_loader(worker_roles(max(args.num_workers, 1), self.batches_consumed))
        it = iter(loader)
        last_ckpt: Path | None = self.plan.resume_dir
        t0, window_patches, window_loss, window_n = time.time(), 0.0, 0.0, 0
        history: list[dict[str, Any]] = []
        display.start()
        try:
            while self.step < args.max_steps:
                loss, patches = self.train_step(it)
                window_patches += patches
                window_loss += loss
                window_n += 1
                if self.step % args.log_steps == 0 or self.step == args.max_steps:
                    mean_loss, = self.dist.mean([window_loss / window_n])
                    total_patches, = self.dist.sum([window_patches])
                    self.patches_seen += window_patches
                    elapsed = max(time.time() - t0, 1e-9)
                    record = {"step": self.step, "loss": mean_loss, "lr": self.current_lr(),
                              "patches_per_s": total_patches / elapsed,
                              "invalid_utf8": self.invalid_bytes, "time": time.time()}
                    if self.dist.is_main:
                        with open(metrics_path, "a", encoding="utf-8") as fh:
                            fh.write(json.dumps(record) + "\n")
                        history.append(record)
                    display.update(record)
                    t0, window_patches, window_loss, window_n = time.time(), 0.0, 0.0, 0
                if args.picture_steps and self.step % args.picture_steps == 0 and \
                        self.dist.is_main:
                    self.save_picture()
                if self.step % args.save_steps == 0 or self.step == args.max_steps:
                    last_ckpt = self.save_checkpoint()
        finally:
            display.stop()
        if last_ckpt is None or self.step != int(json.loads(
                (last_ckpt / STATE_FILE).read_text())["step"]):
            last_ckpt = self.save_checkpoint()
        self.export_final(last_ckpt)
        return {"steps": self.step, "history": history, "output_dir": str(self.out),
                "checkpoint": str(last_ckpt), "invalid_utf8": self.invalid_bytes}

    def save_picture(self) -> None:
        """Reconstruction picture: the adapter's (or model's) helper draws it when available."""
        try:
            from .pretrain_picture import save_reconstruction

            with self.torch.no_grad():
                save_reconstruction(self, self.out / "pictures" / f"step-{self.step:07d}.png")
        except Exception as exc:  # a picture must never kill a run
            logger.warning("reconstruction picture at step %d failed: %s", self.step, exc)


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def _truncate_metrics(path: Path, step: int) -> None:
    """On resume, drop metric lines past the checkpoint so the log is one clean curve."""
    if not path.is_file():
        return
    keep = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if int(json.loads(line)["step"]) <= step:
                keep.append(line)
        except (ValueError, KeyError):
            continue
    atomic_write_text(path, "".join(k + "\n" for k in keep))


class Display:
    """Live progress on rank 0 (rich when attached to a terminal, plain lines otherwise)."""

    def __init__(self, trainer: Trainer, enabled: bool) -> None:
        self.trainer = trainer
        self.enabled = enabled
        self.progress = None

    def start(self) -> None:
        if not self.enabled:
            return
        import sys

        if sys.stdout.isatty():
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeRemainingColumn)

            self.progress = Progress(TextColumn("[bold]pretrain"), BarColumn(),
                                     MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                                     TimeRemainingColumn())
            self.task = self.progress.add_task("steps", total=self.trainer.args.max_steps,
                                               completed=self.trainer.step, info="")
            self.progress.start()

    def update(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        info = (f"loss {record['loss']:.4f}  lr {record['lr']:.2e}  "
                f"{record['patches_per_s']:.0f} patches/s")
        if record.get("invalid_utf8"):
            info += f"  ({record['invalid_utf8']} invalid UTF-8 sequences replaced)"
        if self.progress is not None:
            self.progress.update(self.task, completed=record["step"], info=info)
        else:
            print(f"step {record['step']}/{self.trainer.args.max_steps}  {info}", flush=True)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def pretrain(args: PretrainArgs, plan: Plan | None = None) -> dict[str, Any]:
    """Run (or continue) one pretraining run on this rank; returns a summary on every rank."""
    if args.engine == "deepspeed":
        os.environ.setdefault("TORCH_EXTENSIONS_DIR", default_extensions_dir())
    world = 1 if SELF_DIST in os.environ else int(os.environ.get("WORLD_SIZE", "1"))
    plan = plan or validate(args, world_size=world)
    lock = _claim_run_dir(Path(args.output_dir), int(os.environ.get("RANK", "0")))
    try:
        return _pretrain_locked(args, plan)
    finally:
        lock.release()


def _claim_run_dir(out: Path, rank: int) -> Any:
    """One live run per output directory: each rank holds ``.lock-rank<R>`` (an OS file lock,
    freed when the process dies), so a second run, or a restart while orphaned ranks of a killed
    launcher still write, fails at once instead of mixing checkpoints."""
    from ..locks import acquire

    out.mkdir(parents=True, exist_ok=True)
    path = out / f".lock-rank{rank}"

    def busy(pid: int | None) -> str:
        who = f" (process {pid})" if pid else ""
        return (f"{out} is in use by another pretraining run{who} (rank {rank} holds {path}); "
                "stop it (all its processes) or use another --output-dir")

    return acquire(path, busy, error=CheckpointError)


def _pretrain_locked(args: PretrainArgs, plan: Plan) -> dict[str, Any]:
    import torch

    dist = Dist(args.engine, args.device, args.dist_timeout_s)
    if os.environ.get("PIXEL_BENCH_THREADS"):
        torch.set_num_threads(int(os.environ["PIXEL_BENCH_THREADS"]))
    trainer = Trainer(plan, dist)
    return trainer.run()


# -- launching N processes -------------------------------------------------------------------------
LAUNCHERS = ("torchrun", "deepspeed")


def world_size_of(args: PretrainArgs) -> int:
    """Ranks in the whole run: every hostfile slot, or nodes x processes per node."""
    if args.hostfile:
        from .launch import parse_hostfile

        return sum(slots for _host, slots in parse_hostfile(args.hostfile))
    return int(args.nnodes) * int(args.num_processes)


def check_launch(args: PretrainArgs) -> None:
    """Multi-node settings that cannot work, named before anything starts."""
    if args.launcher not in LAUNCHERS:
        raise ConfigError(f"--launcher must be one of {', '.join(LAUNCHERS)}, got "
                          f"{args.launcher!r}")
    if int(args.nnodes) < 1:
        raise ConfigError(f"--nnodes must be >= 1, got {args.nnodes}")
    if args.node_rank is not None and not 0 <= int(args.node_rank) < int(args.nnodes):
        raise ConfigError(f"--node-rank {args.node_rank}: must be in 0..{int(args.nnodes) - 1} "
                          f"(--nnodes {args.nnodes})")
    if args.rdzv_backend not in ("c10d", "static"):
        raise ConfigError(f"--rdzv-backend must be c10d or static, got {args.rdzv_backend!r}")
    if args.hostfile and args.launcher != "deepspeed":
        raise ConfigError("--hostfile is DeepSpeed's multi-node launcher: add --launcher "
                          "deepspeed --engine deepspeed (torchrun uses --nnodes and "
                          "--rdzv-endpoint)")
    if args.launcher == "deepspeed" and int(args.nnodes) > 1:
        raise ConfigError("--launcher deepspeed spans nodes through --hostfile (one 'HOST "
                          "slots=N' line per node), not --nnodes")
    if int(args.nnodes) > 1 and not args.rdzv_endpoint:
        raise ConfigError(f"--nnodes {args.nnodes} needs --rdzv-endpoint HOST:PORT (a host "
                          "every node reaches, e.g. the first node; under srun it is read from "
                          "SLURM_JOB_NODELIST)")
    if args.rdzv_backend == "static" and int(args.nnodes) > 1 and args.node_rank is None:
        raise ConfigError("--rdzv-backend static needs --node-rank on every node")
    if args.rdzv_endpoint:
        from .launch import split_endpoint

        split_endpoint(args.rdzv_endpoint)


def apply_slurm(args: PretrainArgs, env: dict[str, str] | None = None) -> PretrainArgs:
    """Inside an ``srun`` step, take the placement from Slurm (values given explicitly win):

    * one task per node (``srun --ntasks-per-node 1``): this task is the node's torchrun agent:
      ``--nnodes`` SLURM_NNODES, ``--node-rank`` SLURM_NODEID, rendezvous at the head node of
      SLURM_JOB_NODELIST, ``--rdzv-id`` SLURM_JOB_ID;
    * several tasks per node (one per GPU): every task is a rank: RANK/WORLD_SIZE/LOCAL_RANK
      from SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID, MASTER_ADDR the head node.
    """
    from dataclasses import replace

    from .launch import DEFAULT_PORT, slurm_step

    env = os.environ if env is None else env
    step = slurm_step(env)
    if step is None or args.hostfile or ("RANK" in env and "WORLD_SIZE" in env):
        return args
    port = int(env.get("PIXEL_BENCH_RDZV_PORT", DEFAULT_PORT))
    if step.tasks_per_node == 1:
        if step.nnodes == 1 or args.nnodes != 1:
            return args
        return replace(args, nnodes=step.nnodes,
                       node_rank=step.node_rank if args.node_rank is None else args.node_rank,
                       rdzv_endpoint=args.rdzv_endpoint or f"{step.head}:{port}",
                       rdzv_id=args.rdzv_id or f"slurm-{step.job_id}")
    if args.num_processes != 1:
        raise ConfigError(f"srun started {step.tasks_per_node} tasks per node, each a rank: pass "
                          f"--num-processes 1 (or srun --ntasks-per-node 1 and --num-processes "
                          f"{step.tasks_per_node})")
    env.update(RANK=str(step.procid), WORLD_SIZE=str(step.ntasks),
               LOCAL_RANK=str(step.localid), LOCAL_WORLD_SIZE=str(step.tasks_per_node),
               MASTER_ADDR=env.get("MASTER_ADDR", step.head),
               MASTER_PORT=env.get("MASTER_PORT", str(port)))
    return args


def launch_command(args: PretrainArgs, args_file: Path, port: int | None = None) -> list[str]:
    """The command that starts ``args.num_processes`` ranks of :mod:`pretrain_main` on this node
    (with ``--nnodes``: this node's torchrun agent; with ``--hostfile``: DeepSpeed's launcher,
    which starts every node over ssh/pdsh)."""
    import sys

    n = str(args.num_processes)
    main = ["-m", "pixel_bench.train.pretrain_main", "--args", str(args_file)]
    if args.launcher == "torchrun":
        torchrun = [sys.executable, "-m", "torch.distributed.run"]
        if int(args.nnodes) > 1 or args.rdzv_endpoint:
            rdzv = ["--rdzv-backend", args.rdzv_backend, "--rdzv-endpoint",
                    str(args.rdzv_endpoint),
                    "--rdzv-id", args.rdzv_id or f"pixel-bench-{Path(args.output_dir).name}"]
            if args.node_rank is not None:
                rdzv += ["--node-rank", str(args.node_rank)]
            return [*torchrun, "--nnodes", str(args.nnodes), "--nproc-per-node", n, *rdzv,
                    *main]
        port = port or free_port()
        return [*torchrun, "--nnodes", "1", "--nproc_per_node", n, "--master_addr",
                "127.0.0.1", "--master_port", str(port), *main]
    if args.launcher == "deepspeed":
        if args.engine != "deepspeed":
            raise ConfigError("--launcher deepspeed needs --engine deepspeed (use torchrun)")
        exe = shutil.which("deepspeed") or str(Path(sys.executable).parent / "deepspeed")
        module = ["--module", "pixel_bench.train.pretrain_main", "--args", str(args_file)]
        if args.hostfile:
            from .launch import DEFAULT_PORT, parse_hostfile, split_endpoint

            hosts = parse_hostfile(args.hostfile)
            addr, mport = (split_endpoint(args.rdzv_endpoint) if args.rdzv_endpoint
                           else (hosts[0][0], port or DEFAULT_PORT))
            return [exe, "--hostfile", str(Path(args.hostfile).expanduser()), "--master_addr",
                    addr, "--master_port", str(mport), *module]
        port = port or free_port()
        from .ds_config import cuda_available

        count = ["--num_gpus", n] if cuda_available() and args.device != "cpu" else \
            ["--num_accelerators", n]
        return [exe, "--num_nodes", "1", *count, "--master_port", str(port), *module]
    raise ConfigError(f"--launcher must be one of {', '.join(LAUNCHERS)}, got {args.launcher!r}")


def run_pretraining(args: PretrainArgs) -> dict[str, Any]:
    """What ``pixel-bench pretrain`` does: validate, then run in this process (one process, or
    already inside a launcher) or re-launch N processes and wait for them."""
    import subprocess

    args = apply_slurm(args)  # srun: nodes, node rank and rendezvous from SLURM_*
    inside_launcher = ("WORLD_SIZE" in os.environ and "RANK" in os.environ
                       and SELF_DIST not in os.environ)
    check_launch(args)
    world = int(os.environ["WORLD_SIZE"]) if inside_launcher else world_size_of(args)
    plan = validate(args, world_size=world)
    if inside_launcher or world == 1:
        return pretrain(args, plan)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    args_file = out / ARGS_FILE
    atomic_write_text(args_file, json.dumps(args.to_dict(), indent=2))
    env = {k: v for k, v in os.environ.items()
           if k not in (SELF_DIST, "RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE")}
    env.setdefault("TORCH_EXTENSIONS_DIR", default_extensions_dir())
    env.setdefault("OMP_NUM_THREADS", "1")
    cmd = launch_command(args, args_file)
    logger.info("launching %d processes%s: %s", args.num_processes,
                f" (node {args.node_rank} of {args.nnodes})" if int(args.nnodes) > 1 else "",
                " ".join(cmd))
    proc = subprocess.run(cmd, env=env)
    if proc.returncode != 0:
        raise ConfigError(f"pretraining processes failed (exit code {proc.returncode}); see the "
                          "output above and the last checkpoint in "
                          f"{out / CHECKPOINTS} (resume with --resume auto)")
    history = []
    metrics = out / METRICS_FILE
    if metrics.is_file():
        history = [json.loads(line) for line in metrics.read_text().splitlines() if line]
    return {"steps": history[-1]["step"] if history else None, "history": history,
            "output_dir": str(out)}
