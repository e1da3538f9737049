"""Pretraining checkpoints: layout, the atomic ``latest`` switch, resume checks, RNG state.

``<output>/checkpoints/step-NNNNNNN/`` holds the engine's state (DeepSpeed's own files, or
``engine.safetensors`` + ``engine.json``), one ``rank<R>_state`` pair per rank (RNGs, data
position per worker, counters) and, written last by rank 0, ``trainer_state.json``. Only after
every rank has finished is ``<output>/checkpoints/latest`` replaced atomically (``os.replace``),
so a run killed at any moment leaves the last complete checkpoint usable. ``--resume auto``
restores step, optimizer, schedule, data position and every RNG, so losses continue exactly as
in an uninterrupted run. (Fine-tuning checkpoints are :mod:`pixel_bench.train.checkpoints`.)
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import CheckpointError
from ..io_utils import atomic_write_text, read_json
from .safe_state import has_state, load_state, safe_torch_load

if TYPE_CHECKING:
    from .pretrain_args import PretrainArgs

CHECKPOINTS = "checkpoints"
LATEST = "latest"
STATE_FILE = "trainer_state.json"
METRICS_FILE = "metrics.jsonl"
ARGS_FILE = "pretrain_args.json"
ENGINE_STATE = "engine"  # torch engine: engine.safetensors + engine.json (see safe_state.py)


def step_tag(step: int) -> str:
    return f"step-{step:07d}"


def rank_stem(rank: int) -> str:
    return f"rank{rank}_state"


def find_resume_dir(args: "PretrainArgs") -> Path | None:
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


def check_resume_state(directory: Path, args: "PretrainArgs", world_size: int) -> dict[str, Any]:
    """The checkpoint's ``trainer_state.json``, if this run can continue it exactly."""
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


def fresh_dir(directory: Path) -> None:
    """An empty checkpoint folder (a partial write from a killed run is never the ``latest``
    one, so it may go)."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)


def commit(ckpt_root: Path, tag: str, state: dict[str, Any], keep: int) -> None:
    """Rank 0, after every rank wrote its part: the state file, then the atomic switch of
    ``latest``, then older checkpoints beyond ``keep`` go."""
    atomic_write_text(ckpt_root / tag / STATE_FILE, json.dumps(state, indent=2))
    atomic_write_text(ckpt_root / LATEST, tag + "\n")  # the atomic switch
    prune(ckpt_root, keep)


def prune(ckpt_root: Path, keep: int) -> None:
    keep = max(keep, 1)
    tags = sorted(p for p in ckpt_root.glob("step-*") if p.is_dir())
    current = (ckpt_root / LATEST).read_text(encoding="utf-8").strip()
    for old in tags[:-keep]:
        if old.name != current:
            shutil.rmtree(old, ignore_errors=True)


def saved_step(directory: Path) -> int:
    return int(json.loads((directory / STATE_FILE).read_text())["step"])


def truncate_metrics(path: Path, step: int) -> None:
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


# -- RNG state ----------------------------------------------------------------------------------
def seed_all(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


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


def read_state(directory: Path, stem: str) -> dict[str, Any]:
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
