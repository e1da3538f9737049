"""The settings of one pretraining run and its learning-rate schedule.

:class:`PretrainArgs` is the one list of settings: ``pixel-bench pretrain`` builds its options
from these fields (name, type, default and help text from each field's metadata), ``--config``
files use the same names, and every rank reads the same values back from ``pretrain_args.json``.
This module imports neither torch nor DeepSpeed, so ``pixel-bench pretrain --help`` stays fast.

The schedule follows thesis table A.1 / §3.3: linear warmup, then cosine decay to ``min_lr``
(1e-5; the table's "0.05" is taken as a typo: docs/models-pixar.md) from the peak 1.5e-4.
"""

from __future__ import annotations

import difflib
import json
import math
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import ConfigError

ENGINES = ("deepspeed", "torch")
LAUNCHERS = ("torchrun", "deepspeed")
REQUIRED = ("model", "output_dir")


def setting(default: Any = MISSING, help: str = "", *, flags: tuple[str, ...] = (),
            shown: str | None = None, path: bool = False, cli: bool = True,
            default_factory: Any = MISSING) -> Any:
    """A PretrainArgs field with what the command line needs to know about it.

    ``flags``: short spellings besides ``--field-name``; ``shown``: the default as the help text
    describes it when the value itself says little (None); ``path``: the option reads a path;
    ``cli``: False for settings only a ``--config`` file can give."""
    meta = {"help": help, "flags": flags, "shown": shown, "path": path, "cli": cli}
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class PretrainArgs:
    """Every setting of one pretraining run (the CLI's options; also readable from --config)."""

    model: str = setting(help="Model name, e.g. pixar-tiny, pixel-tiny, pixar2024-tiny "
                         "(`pixel-bench ls models`).", flags=("-m",))
    output_dir: str = setting(help="Run directory (checkpoints, metrics, final model).",
                              flags=("-o",), path=True)
    data: str | None = setting(None, "Text file, directory of text files (.gz ok), or a Hugging "
                               "Face text dataset.")
    data_split: str = setting("train", "HF split.")
    text_column: str = setting("text", "HF text column.")
    engine: str = setting("deepspeed", "deepspeed or torch (DDP).")
    deepspeed: str | None = setting(None, "DeepSpeed JSON (\"auto\" values are filled).",
                                    shown="models/deepspeed/zero2.json", path=True)
    zero_stage: int | None = setting(None, "ZeRO stage 0-3 (overrides the JSON).")
    num_processes: int = setting(1, "Data-parallel processes (per node).", flags=("-n",))
    launcher: str = setting("torchrun", "torchrun or deepspeed.")
    nnodes: int = setting(1, "Nodes (torchrun; run the same command on each node; under srun "
                          "read from SLURM_NNODES).")
    node_rank: int | None = setting(None, "This node's rank (static rendezvous; c10d assigns "
                                    "ranks).")
    rdzv_endpoint: str | None = setting(None, "HOST:PORT every node reaches (under srun: the "
                                        "job's first node).")
    rdzv_id: str | None = setting(None, "Rendezvous id, the same on every node (default: from "
                                  "-o).")
    rdzv_backend: str = setting("c10d", "c10d (ranks by arrival) or static (ranks by "
                                "--node-rank).")
    hostfile: str | None = setting(None, "DeepSpeed launcher hostfile ('HOST slots=N' lines; "
                                   "needs passwordless ssh to each host).")
    init_from: str | None = setting(None, "Initialise from a checkpoint (PIXAR: the encoder "
                                    "from a PIXEL checkpoint).")
    max_steps: int = setting(100_000, "Optimizer steps.")
    batch_size: int = setting(8, "Per-process micro batch.")
    grad_accum: int = setting(1, "Gradient accumulation steps.")
    lr: float = setting(1.5e-4, "Peak learning rate.")
    min_lr: float = setting(1e-5, "Cosine floor.")
    warmup_steps: int = setting(5000, "Linear warmup steps (should be well below --max-steps).")
    weight_decay: float = setting(0.05, "AdamW weight decay (not on biases and norms).")
    adam_beta1: float = setting(0.9, "AdamW beta1.")
    adam_beta2: float = setting(0.999, "AdamW beta2.")
    adam_eps: float = setting(1e-8, "AdamW epsilon.")
    grad_clip: float = setting(1.0, "Max gradient norm.")
    precision: str = setting("bf16", "bf16, fp16 (GPU only) or fp32.")
    seed: int = setting(42, "Random seed.")
    num_workers: int = setting(1, "Rendering data-loader workers per process.")
    save_steps: int = setting(1000, "Checkpoint every K steps.")
    save_total_limit: int = setting(2, "Checkpoints kept.")
    log_steps: int = setting(10, "Log every K steps.")
    picture_steps: int = setting(500, "Reconstruction picture every K steps (0: never).")
    resume: str = setting("auto", "auto (continue from the latest checkpoint if any), never, or "
                          "a checkpoint directory.")
    max_seq_length: int | None = setting(None, "Renderer patches per example.",
                                         shown="the model's")
    renderer: str | None = setting(None, "Renderer where the model allows a choice.")
    mask_ratio: float = setting(0.25, "Encoder masking ratio.")
    min_text_patches: int = setting(22, "Drop shorter examples (PIXEL: 22).")
    block_lines: int = setting(256, "Lines per data shard block.")
    render_cache: bool = setting(False, "Store/read packed, rendered blocks in the rendered-data "
                                 "cache (each block packed on its own).")
    unescape_html: bool = setting(False, "Resolve HTML entities (&amp; -> &, as in "
                                  "WikiExtractor output) in every text line before packing "
                                  "(off: the text exactly as given).")
    device: str = setting("auto", "auto, cpu or cuda.")
    dist_timeout_s: int = setting(1800, "Seconds a collective may wait for the other ranks.")
    extra: dict[str, Any] = setting(help="Free-form notes kept with the run's arguments.",
                                    cli=False, default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> "PretrainArgs":
        """Settings from a mapping (a --config file, ``pretrain_args.json``): unknown names are
        refused with the closest known ones, values are converted to the field's type."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            hints = [f"{k} (did you mean {', '.join(close)}?)" if close else k
                     for k in unknown
                     for close in [difflib.get_close_matches(k, sorted(known), n=2)]]
            raise ConfigError(f"{source}: unknown pretraining setting(s) {', '.join(hints)}; "
                              f"known: {sorted(known - {'extra'})}")
        missing = [k for k in REQUIRED if data.get(k) in (None, "")]
        if missing:
            raise ConfigError(f"{source}: missing setting(s) {missing} (or pass "
                              f"{', '.join('--' + k.replace('_', '-') for k in missing)})")
        hints = typing.get_type_hints(cls)
        return cls(**{k: _convert(v, hints[k], k, source) for k, v in data.items()})

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

    def check(self) -> None:
        """The checks that need nothing but the values themselves."""
        if self.engine not in ENGINES:
            raise ConfigError(f"--engine must be one of {', '.join(ENGINES)}, got "
                              f"{self.engine!r}")
        for key in ("max_steps", "batch_size", "grad_accum", "num_processes", "save_steps",
                    "log_steps"):
            if int(getattr(self, key)) <= 0:
                raise ConfigError(f"--{key.replace('_', '-')} must be positive, got "
                                  f"{getattr(self, key)}")
        if self.lr <= 0 or self.min_lr < 0 or self.min_lr > self.lr:
            raise ConfigError(f"need 0 <= --min-lr <= --lr and --lr > 0 (got lr {self.lr}, "
                              f"min_lr {self.min_lr})")
        if not 0 <= self.mask_ratio < 1:
            raise ConfigError(f"--mask-ratio must be in [0, 1), got {self.mask_ratio}")


def _convert(value: Any, hint: Any, key: str, source: str) -> Any:
    """``value`` as the field's type (YAML reads ``1e-4`` as a string, JSON has no ints vs
    floats); a clear error naming the setting when it is not one."""
    base, optional = field_type(hint)
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{source}: {key} cannot be null")
    origin = typing.get_origin(base) or base
    try:
        if origin is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
                return value.lower() in ("true", "yes")
            raise ValueError
        if origin is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if origin is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if origin is str:
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise ValueError
            return str(value)
        if origin is dict:
            if not isinstance(value, dict):
                raise ValueError
            return value
    except (TypeError, ValueError):
        name = getattr(origin, "__name__", str(origin))
        raise ConfigError(f"{source}: {key} must be {'a' if name != 'int' else 'an'} {name}, "
                          f"got {value!r}") from None
    return value


def field_type(hint: Any) -> tuple[Any, bool]:
    """(the type, whether None is allowed) of a field annotated ``T`` or ``T | None``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        return next(a for a in args if a is not type(None)), type(None) in args
    return hint, False


def cli_settings() -> list[tuple[Any, Any]]:
    """(field, resolved type) of every setting the command line offers, in field order."""
    hints = typing.get_type_hints(PretrainArgs)
    return [(f, hints[f.name]) for f in fields(PretrainArgs) if f.metadata.get("cli", True)]


def shown_default(f: Any) -> str | None:
    """A field's default as ``--help`` shows it (None: nothing to show)."""
    if f.metadata.get("shown"):
        return f.metadata["shown"]
    value = f.default
    if value is MISSING or value is None:
        return None
    if isinstance(value, bool):
        return ("" if value else "no-") + f.name.replace("_", "-")
    if isinstance(value, float) and value != 0 and abs(value) < 1e-3:
        mantissa, exponent = f"{value:e}".split("e")  # 1.5e-4, not 0.00015
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    return str(value)


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
    """:func:`lr_at` as a torch ``LambdaLR`` over ``optimizer``."""
    import torch

    peak = args.lr

    def factor(step: int) -> float:
        return lr_at(step, peak=peak, min_lr=args.min_lr, warmup=args.warmup_steps,
                     total=args.max_steps) / peak

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
