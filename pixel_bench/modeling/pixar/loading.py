"""Loading thesis-PIXAR checkpoints (ours) and initialising the encoder from PIXEL (thesis §2.4:
"initialised from the latest PIXEL-base checkpoint"; docs/models-pixar.md).

Key rules for :func:`load_pixar` (checkpoints written by ``save_pretrained``):

* ``pixar.embeddings.*``, ``pixar.encoder.*``, ``pixar.layernorm.*`` must be present and fit;
  the decoder keys (``pixar.decoder.*``, ``pixar.start_embedding``) too when the target model
  has a decoder — missing backbone keys are a :class:`CheckpointError`.
* An encoder-only target drops the decoder keys (the thesis's encoder-only models are "just the
  encoder of their encoder-decoder counterparts", §4.5).
* ``pixel_head.*`` (pretraining) and other tasks' heads are dropped; head keys the target has but
  the checkpoint lacks are newly initialised. Both are logged.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...errors import CheckpointError, ConfigError
from ...io_utils import read_json
from ..key_report import compare_keys
from .config import PixarConfig

logger = logging.getLogger("pixel_bench.modeling.pixar")

HEAD_PREFIXES = ("pixel_head.", "pooler.", "classifier.", "qa_outputs.")
DECODER_PREFIXES = ("pixar.decoder.", "pixar.start_embedding")


def read_pixar_config(directory: str | os.PathLike[str], **overrides: Any) -> PixarConfig:
    path = Path(directory).expanduser() / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{path.parent}: no config.json (not a thesis PIXAR checkpoint)")
    data = read_json(path, "checkpoint config", CheckpointError)
    if data.get("model_type") != PixarConfig.model_type:
        raise CheckpointError(f"{path}: model_type is {data.get('model_type')!r}, expected "
                              f"{PixarConfig.model_type!r} (a PIXEL checkpoint initialises the "
                              "encoder only: use init_encoder_from_pixel / --init-from)")
    data.pop("model_type", None)
    try:
        return PixarConfig(**{**data, **overrides})
    except ConfigError as exc:
        raise CheckpointError(f"{path}: {exc}") from None


def read_state_dict(directory: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    directory = Path(directory).expanduser()
    st = directory / "model.safetensors"
    if st.is_file():
        from safetensors.torch import load_file

        return load_file(str(st))
    binf = directory / "pytorch_model.bin"
    if binf.is_file():
        return torch.load(str(binf), map_location="cpu", weights_only=True)
    raise CheckpointError(f"{directory}: no model.safetensors or pytorch_model.bin")


def _short(keys: list[str], limit: int = 6) -> str:
    return ", ".join(keys[:limit]) + (f" … (+{len(keys) - limit})" if len(keys) > limit else "") \
        if keys else "none"


def load_state_into(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> dict:
    """Apply the key rules above; returns ``{"dropped": [...], "initialised": [...]}``."""
    expected = model.state_dict()
    # heads of other tasks and the pretraining decoder may be dropped; a new head is initialised
    fit = compare_keys(expected, state, allow_missing=HEAD_PREFIXES,
                       allow_unexpected=HEAD_PREFIXES + DECODER_PREFIXES)
    if fit:
        raise CheckpointError(f"{source}: weights do not fit {type(model).__name__} "
                              f"(backbone keys must all match): {fit.describe()}")
    dropped, missing = fit.allowed_unexpected, fit.allowed_missing
    model.load_state_dict({k: v for k, v in state.items() if k in expected}, strict=False)
    if dropped:
        logger.info("%s: dropped %s", source, _short(sorted(dropped)))
    if missing:
        logger.info("%s: newly initialised %s", source, _short(missing))
    return {"dropped": sorted(dropped), "initialised": sorted(missing)}


def load_pixar(checkpoint: str | os.PathLike[str], head: str = "pretraining",
               config_overrides: dict[str, Any] | None = None,
               head_kwargs: dict[str, Any] | None = None) -> nn.Module:
    """Build ``HEAD_CLASSES[head]`` from a thesis-PIXAR checkpoint directory."""
    from .modeling import HEAD_CLASSES

    directory = Path(checkpoint).expanduser()
    if not directory.is_dir():
        raise CheckpointError(f"thesis PIXAR checkpoint directory not found: {directory}")
    config = read_pixar_config(directory, **(config_overrides or {}))
    model = HEAD_CLASSES[head](config, **(head_kwargs or {}))
    load_state_into(model, read_state_dict(directory), str(directory))
    return model


def _encoder_of(model: nn.Module) -> nn.Module:
    base = getattr(model, "pixar", model)
    if not hasattr(base, "encoder") or not hasattr(base, "layernorm"):
        raise ConfigError(f"{type(model).__name__} has no thesis-PIXAR encoder")
    return base


def init_encoder_from_pixel(model: nn.Module, pixel_dir: str | os.PathLike[str],
                            revision: str | None = None) -> dict[str, list[str]]:
    """Copy a PIXEL checkpoint's transformer layers and final LayerNorm into PIXAR's encoder.

    Copied: ``encoder.layer.{i}.*`` (attention, MLP, both LayerNorms) and ``layernorm.*``.
    Re-initialised (shapes differ): the patch embedding (PIXEL: Conv2d 3->768, 16x16; PIXAR:
    1->768, 8x8). Recomputed: the fixed sin-cos positions (same formula and 23x23 grid; PIXEL's
    table is fixed too). Dropped: PIXEL's CLS token (PIXAR has none), its MAE decoder and heads.
    Returns the lists ``copied`` / ``reinitialised`` / ``dropped``.
    """
    from ..pixel.loading import load_pixel_encoder_weights

    pconfig, state = load_pixel_encoder_weights(pixel_dir, revision=revision)
    base = _encoder_of(model)
    cfg = base.config
    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"):
        if getattr(pconfig, key) != getattr(cfg, key):
            raise CheckpointError(f"{pixel_dir}: PIXEL {key}={getattr(pconfig, key)} does not "
                                  f"fit the PIXAR encoder's {getattr(cfg, key)}")
    target = {f"encoder.{k}": v for k, v in base.encoder.state_dict().items()}
    target.update({f"layernorm.{k}": v for k, v in base.layernorm.state_dict().items()})
    copy = {k: v for k, v in state.items() if k.startswith(("encoder.", "layernorm."))}
    fit = compare_keys(target, copy)
    if fit:
        raise CheckpointError(f"{pixel_dir}: PIXEL encoder weights do not fit the PIXAR encoder: "
                              f"{fit.describe()}")
    with torch.no_grad():
        base.encoder.load_state_dict({k[len("encoder."):]: v for k, v in copy.items()
                                      if k.startswith("encoder.")})
        base.layernorm.load_state_dict({k[len("layernorm."):]: v for k, v in copy.items()
                                        if k.startswith("layernorm.")})
    report = {"copied": sorted(copy),
              "reinitialised": ["embeddings.patch_embeddings.projection (PIXEL 16x16x3 conv -> "
                                "PIXAR 8x8x1 conv)"],
              "recomputed": ["embeddings.position_embeddings (fixed 2-D sin-cos)"],
              "dropped": sorted(k for k in state if k not in copy)}
    logger.info("initialised the PIXAR encoder from %s: %d tensors copied; re-initialised %s; "
                "dropped %s", pixel_dir, len(copy), report["reinitialised"],
                _short(report["dropped"]))
    return report
