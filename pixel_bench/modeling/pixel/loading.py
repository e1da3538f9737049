"""Loading Team-PIXEL checkpoints (and our own) into the PIXEL classes, with explicit key rules.

A checkpoint directory holds ``config.json`` and ``model.safetensors`` or ``pytorch_model.bin``.
The ``.bin`` is read with ``torch.load(weights_only=True)``: tensors only, no code from the file
is ever executed. Hub ids (``Team-PIXEL/pixel-base``) are fetched with
``huggingface_hub.snapshot_download``; offline, a :class:`CheckpointError` says what to download.

Key rules (the original names are our names, so the map is mostly the identity):

* ``vit.*`` (encoder) must match exactly; missing or shape-mismatched encoder keys are errors.
* ``decoder.*`` (the MAE decoder) is dropped, with a logged note, when loading into a head.
* Head keys of another task (``pooler.*``, ``vit.pooler.*``, ``classifier.*``, ``qa_outputs.*``)
  are dropped with a note; the QA checkpoints' unused ``classifier`` is one of them.
* Head keys the model has but the checkpoint lacks are newly initialised (logged).
* Keys in transformers-5 ViT naming (``attention.q_proj`` …) are renamed to PIXEL's.
* Anything else unexpected is an error naming the keys.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from ...errors import CheckpointError
from ..key_report import compare_keys
from .config import PIXELConfig

logger = logging.getLogger("pixel_bench.modeling.pixel")

CONFIG_NAME = "config.json"
SAFETENSORS_NAME = "model.safetensors"
BIN_NAME = "pytorch_model.bin"
HUB_FILES = ["config.json", "model.safetensors", "pytorch_model.bin", "text_renderer_config.json",
             "*.ttf", "*.otf"]

HEAD_PREFIXES = ("pooler.", "vit.pooler.", "classifier.", "qa_outputs.")
DECODER_PREFIX = "decoder."
ENCODER_PREFIX = "vit."

# transformers-5 ViT layer names -> PIXEL's (checkpoints re-saved by a stock ViT)
_V5_RENAMES = [
    (re.compile(r"\.attention\.q_proj\."), ".attention.attention.query."),
    (re.compile(r"\.attention\.k_proj\."), ".attention.attention.key."),
    (re.compile(r"\.attention\.v_proj\."), ".attention.attention.value."),
    (re.compile(r"\.attention\.o_proj\."), ".attention.output.dense."),
    (re.compile(r"\.mlp\.fc1\."), ".intermediate.dense."),
    (re.compile(r"\.mlp\.fc2\."), ".output.dense."),
]

M = TypeVar("M", bound=nn.Module)


@dataclass
class LoadReport:
    """What happened to each key family while loading (also logged)."""

    checkpoint: str
    loaded: list[str] = field(default_factory=list)
    dropped: dict[str, list[str]] = field(default_factory=dict)  # reason -> keys
    newly_initialised: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)


# -- locating files -----------------------------------------------------------------------------
def resolve_checkpoint(name_or_path: str | os.PathLike[str], revision: str | None = None) -> Path:
    """A local checkpoint directory, or a hub id downloaded with ``snapshot_download``."""
    from ...paths import local_or_hub

    path, name = local_or_hub(name_or_path, owner_required=True)
    if path is not None and path.is_dir():
        return path
    if path is not None:
        raise CheckpointError(f"checkpoint {path} is a file; pass the directory that holds "
                              f"{CONFIG_NAME} and the weights")
    if name is None:
        raise CheckpointError(f"checkpoint directory not found: {Path(name_or_path).expanduser()}")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=name, revision=revision, allow_patterns=HUB_FILES))
    except Exception as exc:  # offline, unknown repo, network: one clear message
        raise CheckpointError(
            f"could not fetch {name!r} from the Hugging Face Hub ({type(exc).__name__}: {exc}). "
            f"Download it where you have internet, e.g. `hf download {name} "
            f"--local-dir <dir>` (files: config.json, pytorch_model.bin or model.safetensors, "
            f"text_renderer_config.json and the font file), then pass that directory as the "
            f"checkpoint") from None


def read_state_dict(directory: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Tensors of ``model.safetensors`` (preferred) or ``pytorch_model.bin`` (weights only)."""
    directory = Path(directory)
    st, pt = directory / SAFETENSORS_NAME, directory / BIN_NAME
    try:
        if st.is_file():
            from safetensors.torch import load_file

            return dict(load_file(str(st), device="cpu"))
        if pt.is_file():
            state = torch.load(str(pt), map_location="cpu", weights_only=True)
            if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                                      for v in state.values()):
                raise CheckpointError(f"{pt}: expected a flat state dict of tensors")
            return dict(state)
    except CheckpointError:
        raise
    except Exception as exc:
        raise CheckpointError(f"cannot read weights in {directory}: {type(exc).__name__}: "
                              f"{exc}") from None
    raise CheckpointError(f"no weights in {directory}: expected {SAFETENSORS_NAME} or {BIN_NAME}")


def read_config(directory: str | os.PathLike[str], **overrides: Any) -> PIXELConfig:
    return PIXELConfig.from_json_file_checked(Path(directory) / CONFIG_NAME, **overrides)


# -- key mapping ----------------------------------------------------------------------------------
def _rename(key: str) -> str:
    for pattern, repl in _V5_RENAMES:
        key = pattern.sub(repl, key)
    return key


def _short(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" … (+{len(keys) - limit} more)" if len(keys) > limit else "")


def map_state_dict(state: dict[str, torch.Tensor], model: nn.Module, source: str = "<checkpoint>"
                   ) -> tuple[dict[str, torch.Tensor], LoadReport]:
    """Apply the key rules above; raise :class:`CheckpointError` on anything not covered."""
    report = LoadReport(checkpoint=source)
    expected = model.state_dict()
    has_decoder = any(k.startswith(DECODER_PREFIX) for k in expected)
    mapped: dict[str, torch.Tensor] = {}
    unexpected: list[str] = []
    for key, tensor in state.items():
        new = _rename(key)
        if new != key:
            report.renamed[key] = new
        if new in expected:
            mapped[new] = tensor
        elif new.startswith(DECODER_PREFIX) and not has_decoder:
            report.dropped.setdefault("MAE decoder (not used by fine-tuning heads)", []).append(new)
        elif new.startswith(HEAD_PREFIXES):
            reason = ("unused classifier of PIXEL's QA checkpoints"
                      if new.startswith("classifier.") and hasattr(model, "qa_outputs")
                      else "head of another task or pooling mode")
            report.dropped.setdefault(reason, []).append(new)
        else:
            unexpected.append(new)
    fit = compare_keys(expected, mapped, allow_missing=HEAD_PREFIXES)  # a new head: initialised
    fit.unexpected += unexpected  # keys no rename rule maps to the model
    if fit:
        raise CheckpointError(f"{source} does not fit {type(model).__name__}: {fit.describe()}")
    report.loaded = sorted(mapped)
    report.newly_initialised = fit.allowed_missing
    return mapped, report


def _log_report(report: LoadReport) -> None:
    for reason, keys in report.dropped.items():
        logger.info("%s: dropped %d key(s) (%s): %s", report.checkpoint, len(keys), reason,
                    _short(keys, 4))
    if report.newly_initialised:
        logger.info("%s: newly initialised: %s", report.checkpoint,
                    _short(report.newly_initialised, 6))
    if report.renamed:
        logger.info("%s: renamed %d transformers-5 style key(s)", report.checkpoint,
                    len(report.renamed))


# -- public entry points ------------------------------------------------------------------------
def load_pixel_checkpoint(checkpoint: str | os.PathLike[str], head_class: type[M], *,
                          config_overrides: dict[str, Any] | None = None,
                          revision: str | None = None, return_report: bool = False,
                          **head_kwargs: Any) -> M | tuple[M, LoadReport]:
    """Build ``head_class(config, **head_kwargs)`` from a PIXEL checkpoint and load its weights.

    ``checkpoint``: a directory (original Team-PIXEL layout or ours) or a hub id.
    ``config_overrides``: e.g. ``{"num_labels": 3}`` or dropout values; they win over config.json.
    ``head_kwargs``: constructor arguments such as ``pooling_mode="cls", add_layer_norm=False``.
    """
    directory = resolve_checkpoint(checkpoint, revision=revision)
    config = read_config(directory, **(config_overrides or {}))
    state = read_state_dict(directory)
    model = head_class(config, **head_kwargs)
    mapped, report = map_state_dict(state, model, source=str(directory))
    model.load_state_dict(mapped, strict=False)
    _log_report(report)
    model.eval()
    return (model, report) if return_report else model


def load_pixel_encoder_weights(checkpoint: str | os.PathLike[str], revision: str | None = None
                               ) -> tuple[PIXELConfig, dict[str, torch.Tensor]]:
    """The PIXEL encoder of any PIXEL checkpoint as ``(config, state_dict)``.

    Keys are relative to the encoder (``embeddings.cls_token``, ``embeddings.position_embeddings``,
    ``embeddings.patch_embeddings.projection.*``, ``encoder.layer.{i}.attention.attention.query.*``
    …, ``layernorm.*``), i.e. ready for ``PIXELModel(config).load_state_dict`` — or for another
    ViT encoder (thesis PIXAR) with its own key map. Decoder and head weights are left out.
    """
    directory = resolve_checkpoint(checkpoint, revision=revision)
    config = read_config(directory)
    state = {_rename(k): v for k, v in read_state_dict(directory).items()}
    encoder = {k[len(ENCODER_PREFIX):]: v for k, v in state.items()
               if k.startswith(ENCODER_PREFIX) and not k.startswith("vit.pooler.")}
    if not encoder:
        raise CheckpointError(f"{directory}: no encoder weights (keys starting with 'vit.')")
    return config, encoder


def load_pixel_encoder(checkpoint: str | os.PathLike[str], revision: str | None = None
                       ) -> "torch.nn.Module":
    """A :class:`PIXELModel` (fine-tuning encoder, trainable positions) with a checkpoint's
    encoder weights; missing or mismatched keys raise :class:`CheckpointError`."""
    from .encoder import PIXELModel

    config, state = load_pixel_encoder_weights(checkpoint, revision)
    model = PIXELModel(config)
    fit = compare_keys(model.state_dict(), state)
    if fit:
        raise CheckpointError(f"{checkpoint}: encoder weights do not fit {type(model).__name__}: "
                              f"{fit.describe()}")
    model.load_state_dict(state)
    return model
