"""DeepSpeed configuration: load a JSON (default ``models/deepspeed/zero2.json``), fill its
``"auto"`` values from the command line, and validate it before any process starts.

The thesis PIXAR was trained with the HF Trainer + DeepSpeed ZeRO stage 2 (§3.5.2; see
docs/models-pixar.md); the shipped JSON is the Trainer-style ZeRO-2 file. ``"auto"`` keys are
filled exactly as the HF integration does (micro batch, accumulation, global batch, clipping,
bf16/fp16); an explicit value that contradicts the command line is an error, not silently
overridden.

Validation uses ``deepspeed.runtime.config.DeepSpeedConfig(dict)``, which needs no process group.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..io_utils import read_json

PRECISIONS = ("bf16", "fp16", "fp32")


def default_ds_config_path(stage: int = 2) -> Path:
    from ..paths import builtin_dir

    return builtin_dir("models") / "deepspeed" / f"zero{stage}.json"


def load_ds_config(path: str | Path | None) -> tuple[dict[str, Any], str]:
    """Read a DeepSpeed JSON; ``None`` reads the shipped ZeRO-2 file. Returns (dict, source)."""
    path = Path(path).expanduser() if path is not None else default_ds_config_path(2)
    return read_json(path, "DeepSpeed config"), str(path)


def cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:  # pragma: no cover
        return False


def check_precision(precision: str, on_gpu: bool | None = None) -> None:
    """bf16 works on CPU and GPU; fp16 only on GPU (DeepSpeed and torch refuse it on CPU)."""
    if precision not in PRECISIONS:
        raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    on_gpu = cuda_available() if on_gpu is None else on_gpu
    if precision == "fp16" and not on_gpu:
        raise ConfigError("--precision fp16 needs a GPU: fp16 mixed precision is not supported on "
                          "CPU (DeepSpeed: 'Type fp16 is not supported on your device'); use "
                          "--precision bf16 on CPU")


def _fill(cfg: dict[str, Any], key: str, value: Any, source: str) -> None:
    """Set ``cfg[key]`` when absent or "auto"; an explicit different value is a conflict."""
    current = cfg.get(key, "auto")
    if current == "auto":
        cfg[key] = value
    elif current != value:
        raise ConfigError(f"{source}: {key!r} is {current!r} but the command line implies "
                          f"{value!r}; set it to \"auto\" or change the command line")


def fill_ds_config(cfg: dict[str, Any], *, micro_batch_size: int, grad_accum: int,
                   world_size: int, grad_clip: float, precision: str,
                   zero_stage: int | None = None, source: str = "<ds config>",
                   on_gpu: bool | None = None) -> dict[str, Any]:
    """A copy of ``cfg`` with every "auto" value filled; checks precision against the device."""
    check_precision(precision, on_gpu)
    cfg = copy.deepcopy(cfg)
    _fill(cfg, "train_micro_batch_size_per_gpu", int(micro_batch_size), source)
    _fill(cfg, "gradient_accumulation_steps", int(grad_accum), source)
    _fill(cfg, "train_batch_size", int(micro_batch_size * grad_accum * world_size), source)
    _fill(cfg, "gradient_clipping", float(grad_clip), source)
    for name in ("bf16", "fp16"):
        section = cfg.get(name)
        if section is None:
            if precision == name:
                cfg[name] = {"enabled": True}
            continue
        if not isinstance(section, dict):
            raise ConfigError(f"{source}: {name!r} must be an object like {{\"enabled\": true}}")
        enabled = section.get("enabled", "auto")
        want = precision == name
        if enabled == "auto":
            section["enabled"] = want
        elif bool(enabled) != want:
            raise ConfigError(f"{source}: {name}.enabled is {enabled!r} but --precision is "
                              f"{precision!r}; set it to \"auto\"")
    if cfg.get("fp16", {}).get("enabled") and not (cuda_available() if on_gpu is None else on_gpu):
        raise ConfigError(f"{source}: fp16 is enabled but no GPU is available (DeepSpeed refuses "
                          "fp16 on CPU); use bf16")
    zero = cfg.setdefault("zero_optimization", {})
    if not isinstance(zero, dict):
        raise ConfigError(f"{source}: 'zero_optimization' must be an object")
    if zero_stage is not None:
        if zero_stage not in (0, 1, 2, 3):
            raise ConfigError(f"--zero-stage must be 0, 1, 2 or 3, got {zero_stage}")
        zero["stage"] = int(zero_stage)
    # A torch (client) optimizer avoids compiling DeepSpeed's fused Adam; ZeRO then needs this.
    cfg.setdefault("zero_allow_untested_optimizer", True)
    if "optimizer" in cfg or "scheduler" in cfg:
        raise ConfigError(f"{source}: remove the 'optimizer'/'scheduler' sections; pixel-bench "
                          "builds AdamW and the warmup+cosine schedule from the command line "
                          "(--lr, --weight-decay, --warmup-steps, --min-lr)")
    leftover = _find_auto(cfg)
    if leftover:
        raise ConfigError(f"{source}: cannot fill \"auto\" for {', '.join(leftover)} (only batch "
                          "sizes, gradient_clipping and bf16/fp16.enabled are filled)")
    return cfg


def _find_auto(obj: Any, prefix: str = "") -> list[str]:
    found = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            found += _find_auto(v, f"{prefix}{k}.")
    elif obj == "auto":
        found.append(prefix.rstrip("."))
    return found


def validate_ds_config(cfg: dict[str, Any], world_size: int = 1, source: str = "<ds config>"
                       ) -> None:
    """Run DeepSpeed's own validation (pydantic models and batch arithmetic) without a process
    group; errors become ConfigError naming the file and the offending key."""
    try:
        from deepspeed.runtime.config import DeepSpeedConfig
    except ImportError:
        raise ConfigError("the DeepSpeed engine needs the 'deepspeed' package: pip install "
                          "'pixel-bench[deepspeed]', or use --engine torch") from None
    check = copy.deepcopy(cfg)
    # Without a process group DeepSpeed assumes world size 1: check the arithmetic ourselves.
    micro = check.get("train_micro_batch_size_per_gpu")
    accum = check.get("gradient_accumulation_steps", 1)
    total = check.get("train_batch_size")
    if isinstance(micro, int) and isinstance(accum, int) and isinstance(total, int):
        if total != micro * accum * world_size:
            raise ConfigError(f"{source}: train_batch_size {total} != "
                              f"train_micro_batch_size_per_gpu {micro} x "
                              f"gradient_accumulation_steps {accum} x {world_size} processes")
        check["train_batch_size"] = micro * accum
    try:
        DeepSpeedConfig(check)
    except Exception as exc:  # pydantic ValidationError, AssertionError, ValueError
        msg = " ".join(str(exc).split())
        raise ConfigError(f"{source}: DeepSpeed rejects the config: {msg}") from None
