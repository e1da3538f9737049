"""Shared plumbing of the LLaMA-based families (PixelGPT and PIXAR-2024): strict checkpoint I/O,
config reading and the sequence-classification loss.

Both families keep the originals' state-dict key layout exactly, so released checkpoints load
with an explicit, strict key check and our own ``save_pretrained`` writes files the original code
can read back.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from ..errors import CheckpointError, ConfigError
from ..io_utils import read_json
from .key_report import compare_keys

if TYPE_CHECKING:
    import torch

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")

# Buffers transformers recomputes at construction; never part of a released checkpoint.
_IGNORED_SUFFIXES = ("rotary_emb.inv_freq", "rotary_emb.original_inv_freq")


def read_config_json(directory: str | Path) -> dict[str, Any]:
    """The ``config.json`` of a checkpoint directory as a dict (CheckpointError naming the file)."""
    path = Path(directory) / "config.json"
    if not Path(directory).is_dir():
        raise CheckpointError(f"checkpoint directory not found: {directory}")
    if not path.exists():
        raise CheckpointError(f"checkpoint {directory} has no config.json")
    return read_json(path, "checkpoint config", CheckpointError)


def load_state_dict_file(directory: str | Path) -> tuple[dict[str, "torch.Tensor"], Path]:
    """Read the weights of a checkpoint directory: ``model.safetensors`` preferred, else
    ``pytorch_model.bin`` through ``torch.load(weights_only=True)`` (never arbitrary pickles)."""
    import torch

    directory = Path(directory)
    for name in WEIGHT_FILES:
        path = directory / name
        if not path.is_file():
            continue
        try:
            if name.endswith(".safetensors"):
                from safetensors.torch import load_file

                return load_file(str(path)), path
            state = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as exc:  # corrupt or truncated file
            raise CheckpointError(f"cannot read weights {path}: {exc}") from None
        if not isinstance(state, dict):
            raise CheckpointError(f"{path} does not hold a state dict")
        return state, path
    sharded = sorted(directory.glob("*.index.json"))
    hint = f" (sharded checkpoints such as {sharded[0].name} are not supported)" if sharded else ""
    raise CheckpointError(f"checkpoint {directory} has no weights: expected one of "
                          f"{', '.join(WEIGHT_FILES)}{hint}")


def strict_load(module: "torch.nn.Module", state: dict[str, "torch.Tensor"], source: Path | str,
                *, allow_missing: Iterable[str] = (), drop_unexpected: Iterable[str] = ()
                ) -> dict[str, list[str]]:
    """Load ``state`` into ``module`` checking every key and shape.

    ``allow_missing`` / ``drop_unexpected`` are key prefixes that may legitimately be absent
    (a new task head) or present (pretraining heads dropped for fine-tuning). Anything else that
    is missing, unexpected or of the wrong shape raises :class:`CheckpointError` naming the keys.
    Returns ``{"missing": [...], "dropped": [...]}`` for logging.
    """
    own = {k: v for k, v in module.state_dict().items() if not k.endswith(_IGNORED_SUFFIXES)}
    state = {k: v for k, v in sorted(state.items()) if not k.endswith(_IGNORED_SUFFIXES)}
    report = compare_keys(dict(sorted(own.items())), state, allow_missing=allow_missing,
                          allow_unexpected=drop_unexpected)
    if report:
        raise CheckpointError(f"weights {source} do not match {type(module).__name__}: "
                              f"{report.describe()}")
    load = {k: v for k, v in state.items() if k in own}
    module.load_state_dict(load, strict=False)
    return {"missing": report.allowed_missing, "dropped": report.allowed_unexpected}


def save_checkpoint(module: "torch.nn.Module", config: Any, directory: str | Path,
                    key_map: Any = None) -> Path:
    """Write ``config.json`` + ``model.safetensors`` (contiguous CPU copies of every parameter
    and persistent buffer, in the originals' key layout)."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(str(directory))
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()
             if not k.endswith(_IGNORED_SUFFIXES)}
    if key_map is not None:
        state = {key_map(k): v for k, v in state.items()}
    save_file(state, str(directory / "model.safetensors"), metadata={"format": "pt"})
    return directory


def sequence_classification_loss(logits: "torch.Tensor", labels: "torch.Tensor", num_labels: int,
                                 problem_type: str | None) -> tuple["torch.Tensor", str]:
    """transformers' rule: 1 label -> MSE, integer labels -> CE, else multi-label BCE."""
    import torch.nn.functional as F
    import torch

    if problem_type is None:
        if num_labels == 1:
            problem_type = "regression"
        elif labels.dtype in (torch.long, torch.int):
            problem_type = "single_label_classification"
        else:
            problem_type = "multi_label_classification"
    if problem_type == "regression":
        if num_labels == 1:
            loss = F.mse_loss(logits.squeeze(-1), labels.to(logits.dtype).view(-1))
        else:
            loss = F.mse_loss(logits, labels.to(logits.dtype))
    elif problem_type == "single_label_classification":
        loss = F.cross_entropy(logits.view(-1, num_labels), labels.view(-1))
    elif problem_type == "multi_label_classification":
        loss = F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
    else:
        raise ConfigError(f"unknown problem_type {problem_type!r}")
    return loss, problem_type


def token_classification_loss(logits: "torch.Tensor", labels: "torch.Tensor") -> "torch.Tensor":
    import torch.nn.functional as F

    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                           ignore_index=-100)


def span_loss(start_logits: "torch.Tensor", end_logits: "torch.Tensor",
              start_positions: "torch.Tensor", end_positions: "torch.Tensor") -> "torch.Tensor":
    """transformers' QA loss: positions outside the sequence are clamped and ignored."""
    import torch.nn.functional as F

    n = start_logits.size(1)
    start = start_positions.view(-1).clamp(0, n)
    end = end_positions.view(-1).clamp(0, n)
    return (F.cross_entropy(start_logits, start, ignore_index=n)
            + F.cross_entropy(end_logits, end, ignore_index=n)) / 2


def set_attention(model: "torch.nn.Module", attn_implementation: str | None) -> None:
    """Switch a transformers trunk between "sdpa" and "eager" attention."""
    if attn_implementation is None:
        return
    if attn_implementation not in ("sdpa", "eager", "flash_attention_2"):
        raise ConfigError(f"unknown attention implementation {attn_implementation!r}; "
                          "choose sdpa, eager or flash_attention_2")
    model.set_attn_implementation(attn_implementation)  # type: ignore[operator]
