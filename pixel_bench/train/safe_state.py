"""Checkpoint state without pickles: what ``pretrain --resume`` reads from a run folder.

A run folder may come from someone else, and ``torch.load(weights_only=False)`` on a file in it
runs whatever code the pickle names. So:

* **Our own state** (torch engine: model, optimizer, schedule, scaler; every engine: RNGs, data
  position) is written as ``<stem>.safetensors`` (every tensor) + ``<stem>.json`` (the rest, with
  tensors replaced by references). Reading it executes nothing.
* **DeepSpeed's files** (``mp_rank_*_model_states.pt``, ``*_optim_states.pt``) are pickles that
  DeepSpeed writes and reads itself, with ``torch.load(weights_only=False)`` in 0.19 (its
  ``TorchCheckpointEngine.load`` and ``utils/zero_to_fp32``). We route those reads through
  :func:`safe_torch_load`: torch's restricted ``weights_only`` unpickler plus an allow-list of
  the few plain DeepSpeed/numpy types those files hold (:data:`DEEPSPEED_SAFE_GLOBALS`).
* Checkpoints written before this format (``engine.pt``, ``rank<R>_state.pt``) are read the same
  restricted way, so old run folders still resume; their next checkpoint uses the new format.

Anything else in a pickle (a ``__reduce__`` calling ``os.system``, an unknown class) is refused
with :class:`~pixel_bench.errors.CheckpointError` naming the file; nothing from it runs.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..errors import CheckpointError
from ..io_utils import read_json

TENSORS_SUFFIX = ".safetensors"
JSON_SUFFIX = ".json"


# -- our own state: safetensors + JSON ---------------------------------------------------------
def _encode(obj: Any, tensors: dict[str, Any], seen: set[int], where: str) -> Any:
    import torch

    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, float)):
        return obj
    if isinstance(obj, torch.Tensor):
        t = obj.detach().to("cpu")
        storage = t.untyped_storage()
        # safetensors refuses tensors sharing memory and non-contiguous views: copy those
        if (not t.is_contiguous() or storage.data_ptr() in seen
                or storage.nbytes() != t.numel() * t.element_size()):
            t = t.clone(memory_format=torch.contiguous_format)
        seen.add(t.untyped_storage().data_ptr())
        name = f"t{len(tensors)}"
        tensors[name] = t
        return {"__tensor__": name}
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": obj.tolist(), "dtype": obj.dtype.str, "shape": list(obj.shape)}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors, seen, f"{where}[{i}]")
                              for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, tensors, seen, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _encode(v, tensors, seen, f"{where}.{k}") for k, v in obj.items()}
        # int keys (optimizer state by parameter id, worker roles) keep their type
        return {"__dict__": [[_encode(k, tensors, seen, where), _encode(v, tensors, seen,
                                                                        f"{where}[{k!r}]")]
                             for k, v in obj.items()]}
    raise TypeError(f"cannot store {type(obj).__name__} at {where} in checkpoint state "
                    "(only tensors, arrays, numbers, strings and containers)")


def _decode(obj: Any, tensors: dict[str, Any], source: Path) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors, source) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        try:
            return tensors[obj["__tensor__"]]
        except KeyError:
            raise CheckpointError(f"{source}: refers to tensor {obj['__tensor__']!r}, which its "
                                  f"{TENSORS_SUFFIX} file lacks (a mismatched or damaged "
                                  "checkpoint)") from None
    if "__ndarray__" in obj:
        return np.asarray(obj["__ndarray__"], dtype=np.dtype(obj["dtype"])).reshape(obj["shape"])
    if "__tuple__" in obj:
        return tuple(_decode(v, tensors, source) for v in obj["__tuple__"])
    if "__dict__" in obj:
        return {_decode(k, tensors, source): _decode(v, tensors, source)
                for k, v in obj["__dict__"]}
    return {k: _decode(v, tensors, source) for k, v in obj.items()}


def save_state(obj: Any, directory: Path, stem: str) -> list[Path]:
    """Write ``obj`` as ``<directory>/<stem>.safetensors`` + ``<stem>.json`` (each via a
    temporary file, fsynced, then renamed)."""
    from safetensors.torch import save_file

    tensors: dict[str, Any] = {}
    skeleton = _encode(obj, tensors, set(), stem)
    paths = [directory / f"{stem}{TENSORS_SUFFIX}", directory / f"{stem}{JSON_SUFFIX}"]
    tmp = [p.with_name(f".{p.name}.tmp{os.getpid()}") for p in paths]
    save_file(tensors, str(tmp[0]))
    tmp[1].write_text(json.dumps({"format": 1, "state": skeleton}), encoding="utf-8")
    for t, p in zip(tmp, paths):
        with open(t, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(t, p)
    return paths


def has_state(directory: Path, stem: str) -> bool:
    return (directory / f"{stem}{JSON_SUFFIX}").is_file()


def load_state(directory: Path, stem: str) -> Any:
    """Read what :func:`save_state` wrote (tensors on the CPU). Raises CheckpointError naming
    the file when one is missing or malformed."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    meta, blob = directory / f"{stem}{JSON_SUFFIX}", directory / f"{stem}{TENSORS_SUFFIX}"
    doc = read_json(meta, "checkpoint state", CheckpointError)
    if "state" not in doc:
        raise CheckpointError(f"{meta}: malformed checkpoint state (no 'state' key)")
    state = doc["state"]
    try:
        tensors = load_file(str(blob), device="cpu")
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint file missing: {blob}") from None
    except (OSError, SafetensorError, ValueError) as exc:
        raise CheckpointError(f"malformed checkpoint tensors {blob}: {exc}") from None
    return _decode(state, tensors, meta)


# -- pickled files (DeepSpeed's, and our pre-safetensors checkpoints) -----------------------------
def _numpy_globals() -> list[Any]:
    """The numpy pieces a pickled ``np.random.get_state()`` refers to (old rank files)."""
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    out = [_reconstruct, np.ndarray, np.dtype]
    out += [type(np.dtype(t)) for t in ("uint32", "int64", "float64", "float32", "uint8",
                                        "bool")]
    return out


def _deepspeed_globals() -> list[Any]:
    """Plain-data types DeepSpeed 0.19 pickles into its checkpoints (enums, a loss-scaler
    record and the optimizer's fragment addresses; checked with
    ``torch.serialization.get_unsafe_globals_in_checkpoint`` on a ZeRO-2 bf16 checkpoint)."""
    out: list[Any] = []
    with contextlib.suppress(ImportError):
        from deepspeed.runtime.zero.config import ZeroStageEnum

        out.append(ZeroStageEnum)
    with contextlib.suppress(ImportError):
        from deepspeed.runtime.fp16.loss_scaler import DynamicLossScaler, LossScaler

        out += [LossScaler, DynamicLossScaler]
    with contextlib.suppress(ImportError):
        from deepspeed.utils.tensor_fragment import fragment_address

        out.append(fragment_address)
    return out


DEEPSPEED_SAFE_GLOBALS: list[Any] | None = None  # filled on first use (imports DeepSpeed)


def allowed_globals() -> list[Any]:
    global DEEPSPEED_SAFE_GLOBALS
    if DEEPSPEED_SAFE_GLOBALS is None:
        DEEPSPEED_SAFE_GLOBALS = _numpy_globals() + _deepspeed_globals()
    return DEEPSPEED_SAFE_GLOBALS


def safe_torch_load(path: str | os.PathLike, map_location: Any = None, **kwargs: Any) -> Any:
    """``torch.load`` with the restricted ``weights_only`` unpickler and :func:`allowed_globals`;
    a pickle naming anything else (code) is refused with CheckpointError naming the file."""
    import pickle

    import torch

    kwargs.pop("weights_only", None)
    with torch.serialization.safe_globals(allowed_globals()):
        try:
            return torch.load(path, map_location=map_location, weights_only=True, **kwargs)
        except pickle.UnpicklingError as exc:
            first = str(exc).strip().splitlines()
            detail = next((line for line in first if "GLOBAL" in line or "Unsupported" in line),
                          first[0] if first else "")
            raise CheckpointError(
                f"refusing to load {path}: it is a pickle that names code or types outside the "
                f"allow-list of plain checkpoint data ({detail.strip()}). Loading it could run "
                "that code. If this run folder is not yours, do not use it; if it is, start "
                "over with --resume never or another --output-dir") from None
        except FileNotFoundError:
            raise CheckpointError(f"checkpoint file missing: {path}") from None
        except (RuntimeError, EOFError, OSError, ValueError) as exc:  # truncated, not a zip
            raise CheckpointError(f"cannot read checkpoint file {path}: {exc}") from None


class SafeCheckpointEngine:
    """Wraps DeepSpeed's checkpoint engine so ``engine.load_checkpoint`` reads its files with
    :func:`safe_torch_load` (DeepSpeed 0.19 loads every model/optimizer file through
    ``engine.checkpoint_engine.load``); everything else is delegated unchanged."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def load(self, path: str, map_location: Any = None) -> Any:
        return safe_torch_load(path, map_location=map_location)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def make_deepspeed_loads_safe(engine: Any) -> None:
    engine.checkpoint_engine = SafeCheckpointEngine(engine.checkpoint_engine)


@contextlib.contextmanager
def safe_module_loads(module: Any) -> Iterator[None]:
    """Within the block, ``module.torch.load`` is :func:`safe_torch_load` (for DeepSpeed helpers
    such as ``utils.zero_to_fp32`` that call ``torch.load(weights_only=False)`` directly). Only
    that module's name ``torch`` is rebound, never the ``torch`` package itself."""
    real = module.torch

    class _Torch:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        @staticmethod
        def load(f: Any, map_location: Any = None, **kwargs: Any) -> Any:
            return safe_torch_load(f, map_location=map_location, **kwargs)

    module.torch = _Torch()
    try:
        yield
    finally:
        module.torch = real
