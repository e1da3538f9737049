"""Fine-tuning checkpoints that are complete or recognisably not.

The Trainer writes ``checkpoint-N/`` file by file (weights, optimizer, scheduler, RNG, then
``trainer_state.json``); a job killed in the middle leaves a folder that ``trainer.train(
resume_from_checkpoint=...)`` cannot load, and a run that always resumes from the newest folder
then fails forever. Here:

* :class:`CompleteCheckpoints` (a Trainer mixin) flushes every file of a new checkpoint to disk
  and then writes a manifest (file names and sizes) last, atomically. Older checkpoints are
  rotated away only after that, so a complete checkpoint always exists once one was written.
* :func:`checkpoint_problem` says what is wrong with a folder: manifest sizes, or (folders
  without a manifest) ``trainer_state.json`` parseable, weights and optimizer present and
  readable (safetensors header, the zip directory of ``torch.save`` files; nothing is unpickled).
* :func:`newest_complete_checkpoint` picks the newest good folder and moves broken newer ones
  aside (``<output>-broken/``) with a warning naming them; nothing is deleted.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

logger = logging.getLogger("pixel_bench.finetune")

MANIFEST = "pixel_bench_complete.json"
_NAME = re.compile(r"checkpoint-(\d+)")
_WEIGHTS = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
            "pytorch_model.bin.index.json")
_TORCH_FILES = ("optimizer.pt", "scheduler.pt", "rng_state.pth", "scaler.pt")


def step_of(path: Path) -> int:
    return int(_NAME.fullmatch(path.name).group(1))  # type: ignore[union-attr]


def checkpoint_dirs(directory: Path) -> list[Path]:
    """``checkpoint-N`` folders, oldest first."""
    if not Path(directory).is_dir():
        return []
    return sorted((p for p in Path(directory).iterdir() if p.is_dir() and _NAME.fullmatch(p.name)),
                  key=step_of)


def write_manifest(path: Path) -> None:
    """Flush every file of ``path`` to disk, then record names and sizes (written last)."""
    from ..records import atomic_write_text

    files = {}
    for f in sorted(p for p in Path(path).rglob("*") if p.is_file() and p.name != MANIFEST):
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
        files[str(f.relative_to(path))] = f.stat().st_size
    atomic_write_text(Path(path) / MANIFEST, json.dumps({"files": files}, indent=1) + "\n")


def checkpoint_problem(path: Path, need_optimizer: bool = True) -> str | None:
    """None if ``path`` is a complete checkpoint, else what is wrong with it."""
    path = Path(path)
    manifest = path / MANIFEST
    if manifest.is_file():
        try:
            files = json.loads(manifest.read_text(encoding="utf-8"))["files"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return f"unreadable {MANIFEST} ({exc})"
        for name, size in files.items():
            f = path / name
            if not f.is_file():
                return f"{name} is missing"
            if f.stat().st_size != size:
                return f"{name} has {f.stat().st_size} bytes, {size} were written"
    # structural checks (also for checkpoints from before the manifest existed)
    state = path / "trainer_state.json"
    if not state.is_file():
        return "trainer_state.json is missing"
    try:
        step = json.loads(state.read_text(encoding="utf-8"))["global_step"]
        int(step)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"trainer_state.json is unreadable ({type(exc).__name__}: {exc})"
    weights = [path / w for w in _WEIGHTS if (path / w).is_file()]
    if not weights:
        return f"no model weights ({' or '.join(_WEIGHTS[:2])})"
    for w in weights:
        problem = _file_problem(w)
        if problem:
            return problem
    if need_optimizer:
        for name in ("optimizer.pt", "scheduler.pt"):
            if not (path / name).is_file():
                return f"{name} is missing"
    for name in _TORCH_FILES:
        if (path / name).is_file():
            problem = _file_problem(path / name)
            if problem:
                return problem
    return None


def _file_problem(f: Path) -> str | None:
    if f.stat().st_size == 0:
        return f"{f.name} is empty"
    try:
        if f.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(f), framework="pt") as fh:  # checks header vs. file size
                fh.keys()
        elif f.name.endswith(".index.json"):
            index = json.loads(f.read_text(encoding="utf-8"))
            for shard in set(index["weight_map"].values()):
                problem = (_file_problem(f.parent / shard) if (f.parent / shard).is_file()
                           else f"weight shard {shard} is missing")
                if problem:
                    return problem
        elif f.suffix in (".pt", ".pth", ".bin"):
            with zipfile.ZipFile(f) as zf:  # torch.save's zip: a cut file has no directory
                zf.namelist()
    except Exception as exc:  # noqa: BLE001 - any failure to read means "not usable"
        return f"{f.name} is unreadable ({type(exc).__name__}: {exc})"
    return None


def newest_complete_checkpoint(directory: Path, need_optimizer: bool = True,
                               move_broken: bool = True) -> tuple[Path | None, list[dict]]:
    """(newest complete ``checkpoint-N`` or None, the broken newer ones skipped).

    Broken folders newer than the one returned are moved to ``<directory>-broken/`` (so the
    Trainer neither resumes from nor rotates them) and named in a warning."""
    skipped: list[dict[str, Any]] = []
    main_process = int(os.environ.get("RANK", "0")) == 0
    for ck in reversed(checkpoint_dirs(directory)):
        problem = checkpoint_problem(ck, need_optimizer)
        if problem is None:
            if skipped:
                logger.warning("resuming from %s instead", ck)
            return ck, skipped
        entry = {"checkpoint": str(ck), "problem": problem}
        if move_broken and main_process:
            aside = Path(f"{directory}-broken") / ck.name
            n = 1
            while aside.exists():
                aside = Path(f"{directory}-broken") / f"{ck.name}.{n}"
                n += 1
            aside.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(ck), str(aside))
            entry["moved_to"] = str(aside)
        logger.warning("checkpoint %s is incomplete (%s); %s", ck, problem,
                       f"moved to {entry['moved_to']}" if "moved_to" in entry else "skipped")
        skipped.append(entry)
    return None, skipped


def complete_checkpoints_trainer(base: type) -> type:
    """``base`` (a Trainer class) whose checkpoints get a manifest before old ones rotate."""

    class CompleteCheckpoints(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # rotation happens here, after the new checkpoint's manifest (see _save_checkpoint)
            self._keep_checkpoints = self.args.save_total_limit
            self.args.save_total_limit = None

        def _save_checkpoint(self, model: Any, trial: Any) -> None:
            super()._save_checkpoint(model, trial)
            if not self.args.should_save:
                return
            run_dir = Path(self._get_output_dir(trial=trial))
            write_manifest(run_dir / f"checkpoint-{self.state.global_step}")
            from transformers.trainer_utils import rotate_checkpoints

            rotate_checkpoints(output_dir=str(run_dir), save_total_limit=self._keep_checkpoints,
                               best_model_checkpoint=self.state.best_model_checkpoint,
                               use_mtime=False)

    return CompleteCheckpoints
