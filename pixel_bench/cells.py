"""Result cells: one cell, one owner, one meaning.

A cell is ``<results>/<model>/<task>/seed-<n>/``. Its **identity** lists everything that changes
its result, and its key is the sha256 of the canonical JSON of those fields:

* ``model``, ``task``, ``seed``, ``limit`` (``--limit``);
* ``weights``: ``{"init": "random"}``, ``{"init": "hub", "hub_id", "revision"}`` or
  ``{"init": "checkpoint", "sha256"}`` (content hash of the checkpoint folder's files);
* ``recipe``: the resolved recipe after ``--set`` and ``--max-steps``;
* ``data``: per split, the sha256 of the examples as read (text *and* labels, after
  ``--limit``);
* ``renderer``: backend name, settings, font sha256, render kwargs and the renderer fingerprint
  (which also covers the renderer's version and fallback fonts); ``None`` for token baselines.

The first four groups are known before any data is read (``CHEAP_KEYS``); ``data`` and
``renderer`` after :func:`pixel_bench.runner.prepare` (cached renderings make that cheap).
``run`` skips a cell only when the stored identity is the same; otherwise it stops with the
differing keys (:class:`~pixel_bench.errors.CellConflictError`) unless ``--overwrite`` is given.
Records written before identities existed are compared on what they do record (limit, CLI
overrides, weights, data and renderer fingerprints).

The identity also says how the run deviates from the task's standard setup (``nonstandard``:
``--limit``, recipe values changed from the command line, random init of a model that has
pretrained weights). The report marks such cells instead of mixing them into the leaderboard.

Each cell has a lock (``.lock``, :mod:`pixel_bench.locks`) held while ``run`` works on it, and an
unfinished cell keeps ``identity.json`` beside its checkpoints so a resume only continues the
same experiment. Nothing here imports torch: the report reads :func:`nonstandard_of`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .errors import CellConflictError, CheckpointError
from .records import (RECORD_FILE, RecordError, ResultRecord, atomic_write_text,
                      read_cell_record, record_dir)

logger = logging.getLogger("pixel_bench.cells")

IDENTITY_SCHEME = 1
CHEAP_KEYS = ("model", "task", "seed", "limit", "weights", "recipe")
PREPARED_KEYS = ("data", "renderer")
LOCK_FILE = ".lock"
STARTED_FILE = "identity.json"  # identity of the unfinished run whose checkpoints are here
CHECKPOINTS = "checkpoints"


# -- hashing ---------------------------------------------------------------------------------
def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):  # numpy scalars and arrays
        return obj.tolist()
    return str(obj)


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_json_default)


def identity_key(fields: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(fields).encode("utf-8")).hexdigest()


def rows_sha256(rows: Sequence[Any]) -> str:
    """sha256 over the examples as read, labels included (the render fingerprint hashes only
    the text). Canonical JSON of 4096 rows at a time: 2.3 s for MNLI's 393k training pairs on
    the loaded 2-core machine (one row at a time: 3.9 s)."""
    encoder = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                               default=_json_default)
    digest = hashlib.sha256()
    rows = list(rows)
    for start in range(0, len(rows), 4096):
        digest.update(encoder.encode(rows[start:start + 4096]).encode("utf-8", "surrogatepass"))
        digest.update(b"\n")
    return digest.hexdigest()


# Files of a checkpoint folder that do not define the model: training bookkeeping of the HF
# Trainer and of `pixel-bench pretrain` (they change while weights stay the same).
_NOT_WEIGHTS = {"trainer_state.json", "training_args.bin", "optimizer.pt", "scheduler.pt",
                "pretrain_args.json", "scaler.pt"}
_NOT_WEIGHTS_SUFFIXES = (".jsonl", ".log", ".lock", ".tmp")


def checkpoint_files(directory: Path) -> list[Path]:
    """The files of a checkpoint folder its loaders read: top-level, not hidden, not training
    state (optimizer, scheduler, RNG, logs). Sub-folders (``checkpoints/``) are not weights."""
    out = []
    for path in sorted(Path(directory).iterdir()):
        name = path.name
        if name.startswith(".") or not path.is_file() or name in _NOT_WEIGHTS:
            continue
        if name.endswith(_NOT_WEIGHTS_SUFFIXES) or name.startswith("rng_state"):
            continue
        out.append(path)
    return out


def _file_sha256(path: Path, memo: dict[str, Any]) -> str:
    """sha256 of a file's bytes, remembered by (path, size, mtime) across runs."""
    st = path.stat()
    key = str(path.resolve())
    stamp = [st.st_size, st.st_mtime_ns]
    hit = memo.get(key)
    if isinstance(hit, dict) and hit.get("stamp") == stamp and isinstance(hit.get("sha256"), str):
        return hit["sha256"]
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            digest.update(chunk)
    memo[key] = {"stamp": stamp, "sha256": digest.hexdigest()}
    memo["_dirty"] = True
    return digest.hexdigest()


def checkpoint_sha256(directory: str | Path) -> str:
    """One hash over the names and contents of :func:`checkpoint_files` (file hashes are cached
    in ``<cache>/weights-sha256.json`` keyed by path, size and mtime, so a 400 MB checkpoint is
    read once)."""
    from .paths import cache_dir

    memo_path = cache_dir() / "weights-sha256.json"
    try:
        memo = json.loads(memo_path.read_text(encoding="utf-8"))
        memo = memo if isinstance(memo, dict) else {}
    except (OSError, ValueError):
        memo = {}
    files = checkpoint_files(Path(directory))
    if not files:
        raise CheckpointError(f"checkpoint folder {directory} has no weight or config files")
    lines = [f"{p.name}\0{_file_sha256(p, memo)}" for p in files]
    if memo.pop("_dirty", False):
        try:
            atomic_write_text(memo_path, json.dumps(memo, indent=0, sort_keys=True))
        except OSError:  # a read-only cache only costs the re-hash next time
            pass
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def _hub_snapshot(path: Path) -> tuple[str, str] | None:
    """(hub id, revision) of a Hugging Face cache snapshot folder
    ``.../models--org--name/snapshots/<commit>``; None for any other folder."""
    parts = path.resolve().parts if path.exists() else path.parts
    if len(parts) >= 3 and parts[-2] == "snapshots" and parts[-3].startswith("models--"):
        return parts[-3][len("models--"):].replace("--", "/"), parts[-1]
    return None


def _hub_revision(hub_id: str) -> str | None:
    """The commit the Hub serves for ``hub_id`` now (it is what a download will fetch); None
    when it cannot be asked."""
    try:
        from huggingface_hub import HfApi

        return HfApi().model_info(hub_id, timeout=10).sha
    except Exception:  # noqa: BLE001 - offline, private, rate-limited: the revision is unknown
        return None


def weights_fields(checkpoint: str | None) -> dict[str, Any]:
    """The ``weights`` identity of what ``spec.resolve_weights`` returned."""
    if checkpoint is None:
        return {"init": "random"}
    path = Path(checkpoint)
    if path.is_dir():
        hub = _hub_snapshot(path)
        if hub is not None:
            return {"init": "hub", "hub_id": hub[0], "revision": hub[1]}
        return {"init": "checkpoint", "sha256": checkpoint_sha256(path)}
    return {"init": "hub", "hub_id": str(checkpoint), "revision": _hub_revision(str(checkpoint))}


# -- identity --------------------------------------------------------------------------------
@dataclass
class Request:
    """What ``run`` was asked for (one model x task), resolved without reading data."""

    model: str
    task: str
    limit: int | None
    overrides: dict[str, Any]
    recipe: dict[str, Any]
    checkpoint: str | None  # resolved weights (None: random init)
    weights_how: str
    weights: dict[str, Any]
    nonstandard: dict[str, Any]

    def cheap_fields(self, seed: int) -> dict[str, Any]:
        return {"model": self.model, "task": self.task, "seed": int(seed), "limit": self.limit,
                "weights": self.weights, "recipe": self.recipe}


def request_of(spec: Any) -> Request:
    """The identity-relevant view of a :class:`pixel_bench.spec.RunSpec` (resolved once, by the
    same code prepare() reads, so the two cannot disagree)."""
    return Request(model=spec.model, task=spec.task_name, limit=spec.limit,
                   overrides=dict(spec.overrides), recipe=spec.recipe.to_dict(),
                   checkpoint=spec.checkpoint, weights_how=spec.weights,
                   weights=weights_fields(spec.checkpoint),
                   nonstandard=copy.deepcopy(dict(spec.nonstandard)))


def prepared_fields(prep: Any) -> dict[str, Any]:
    """``data`` and ``renderer`` of a :class:`pixel_bench.runner.Prepared`."""
    data = {split: rows_sha256(enc.rows) for split, enc in sorted(prep.splits.items())}
    info = prep.render_info or {}
    renderer = None
    if info.get("renderer"):
        renderer = {"name": info.get("renderer"), "settings": info.get("settings"),
                    "font_sha256": info.get("font_sha256"),
                    "render_kwargs": info.get("render_kwargs"),
                    "fingerprint": info.get("fingerprint")}
    return {"data": data, "renderer": renderer}


def make_identity(fields: dict[str, Any], nonstandard: dict[str, Any]) -> dict[str, Any]:
    """The record's ``identity`` block."""
    return {"scheme": IDENTITY_SCHEME, "key": identity_key(fields), "fields": fields,
            "nonstandard": nonstandard}


# -- records written before identities (best-effort comparison) -----------------------------
LEGACY_CHEAP = ("config", "model_info")  # compared before prepare(); "provenance" after


def _legacy_view_of(record: ResultRecord) -> dict[str, Any]:
    """What an old record says about its inputs, keyed by its own JSON paths."""
    config, info, prov = record.config or {}, record.model_info or {}, record.provenance or {}
    data = prov.get("data") if isinstance(prov.get("data"), dict) else {}
    renderer = prov.get("renderer") if isinstance(prov.get("renderer"), dict) else {}
    return {"config": {"limit": config.get("limit"),
                       "cli_overrides": config.get("cli_overrides") or {}},
            "model_info": {"weights": info.get("weights"), "checkpoint": info.get("checkpoint")},
            "provenance": {"data": {s: {"fingerprint": d.get("fingerprint")}
                                    for s, d in data.items() if isinstance(d, dict)},
                           "renderer": {"fingerprint": renderer.get("fingerprint")}}}


def _legacy_view(request: Request, prep: Any | None) -> dict[str, Any]:
    """The same view of the run being asked for (provenance only once prepared)."""
    view: dict[str, Any] = {
        "config": {"limit": request.limit, "cli_overrides": request.overrides},
        "model_info": {"weights": request.weights_how, "checkpoint": request.checkpoint}}
    if prep is not None:
        view["provenance"] = {
            "data": {s: {"fingerprint": e.data_fingerprint} for s, e in prep.splits.items()},
            "renderer": {"fingerprint": (prep.render_info or {}).get("fingerprint")}}
    return view


# -- comparing -------------------------------------------------------------------------------
_ABSENT = "<absent>"


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """{"recipe": {"max_steps": 50}} -> {"recipe.max_steps": 50} (empty dicts kept as {})."""
    if isinstance(obj, dict) and obj:
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: obj}


def diff_fields(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(dotted key, old value, new value) for every key whose value differs."""
    a, b = flatten(old), flatten(new)
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key, _ABSENT), b.get(key, _ABSENT)
        if canonical_json(va) != canonical_json(vb):
            out.append((key, va, vb))
    return out


def _short(value: Any, width: int = 48) -> str:
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef"
                                                            for c in value):
        return value[:12] + "..."  # a sha256: its head tells two apart
    text = value if value == _ABSENT else canonical_json(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def format_diff(diffs: Sequence[tuple[str, Any, Any]], indent: str = "    ") -> str:
    return "\n".join(f"{indent}{key}: {_short(a)} -> {_short(b)}" for key, a, b in diffs)


# -- cell states and the plan ----------------------------------------------------------------
@dataclass
class Cell:
    seed: int
    path: Path
    record: ResultRecord | None = None
    started: dict[str, Any] | None = None  # identity.json of an unfinished run
    has_checkpoints: bool = False
    set_aside: Path | None = None  # where a corrupt record was moved
    diffs: list[tuple[str, Any, Any]] = field(default_factory=list)
    legacy: bool = False  # the record predates identities
    action: str = "run"  # "run" | "skip"
    note: str = ""  # what happened to the cell, for the user
    identity: dict[str, Any] | None = None


def inspect_cell(results: Path, model: str, task: str, seed: int, main: bool = True) -> Cell:
    """Read what a cell holds. A corrupt or foreign record.json is reported (warning naming the
    file), moved aside as ``record.json.corrupt-<UTC time>`` (by the main process) and the cell
    counts as not done."""
    path = record_dir(results, model, task, seed)
    cell = Cell(seed, path)
    try:
        cell.record = read_cell_record(results, model, task, seed)
    except RecordError as exc:
        if main:
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            aside = path / f"{RECORD_FILE}.corrupt-{stamp}"
            n = 1
            while aside.exists():
                n += 1
                aside = path / f"{RECORD_FILE}.corrupt-{stamp}-{n}"
            os.replace(path / RECORD_FILE, aside)
            cell.set_aside = aside
            logger.warning("%s; it does not count as done: kept as %s, the cell is redone",
                           exc, aside.name)
            cell.note = f"corrupt record set aside as {aside.name}; redone"
    started = path / STARTED_FILE
    if cell.record is None and started.is_file():
        try:
            data = json.loads(started.read_text(encoding="utf-8"))
            cell.started = data if isinstance(data, dict) and "fields" in data else None
        except (OSError, ValueError):
            cell.started = None
        if cell.started is None:
            logger.warning("%s is unreadable; its checkpoints are resumed unchecked", started)
    ckpts = path / CHECKPOINTS
    cell.has_checkpoints = ckpts.is_dir() and any(ckpts.iterdir())
    return cell


@dataclass
class Plan:
    """Skip, resume, run or refuse, for every seed of one model x task (see module docs)."""

    results: Path
    request: Request
    cells: list[Cell]
    overwrite: bool
    main: bool = True

    # -- before prepare() --------------------------------------------------------------------
    def check_cheap(self) -> None:
        """Refuse at once (no data read) when a stored identity differs in recipe, limit,
        weights or names."""
        for cell in self.cells:
            stored = self._stored(cell)
            if stored is None:
                continue
            if cell.legacy:
                cell.diffs = diff_fields({k: stored[k] for k in LEGACY_CHEAP},
                                         _legacy_view(self.request, None))
            else:
                new = self.request.cheap_fields(cell.seed)
                cell.diffs = diff_fields({k: stored["fields"].get(k, _ABSENT)
                                          for k in CHEAP_KEYS}, new)
        self._refuse_if_conflicts()

    # -- after prepare() ---------------------------------------------------------------------
    def resolve(self, prep: Any) -> None:
        """Full identities; every cell becomes "skip" (identical record) or "run"; conflicts
        raise before anything is trained or deleted."""
        self.resolve_fields(prepared_fields(prep), prep)

    def resolve_fields(self, prepared: dict[str, Any], prep: Any | None = None) -> None:
        """:meth:`resolve` from ``{"data": ..., "renderer": ...}`` computed elsewhere (the
        zero-shot tasks, which have no :class:`~pixel_bench.runner.Prepared`)."""
        for cell in self.cells:
            fields = {**self.request.cheap_fields(cell.seed), **prepared}
            cell.identity = make_identity(fields, self.request.nonstandard)
            stored = self._stored(cell)
            if stored is None:
                continue
            if cell.legacy:
                cell.diffs = diff_fields(stored, _legacy_view(self.request, prep))
            else:
                cell.diffs = diff_fields(stored["fields"], fields)
        self._refuse_if_conflicts()
        for cell in self.cells:
            if cell.record is not None:
                if self.overwrite:
                    cell.action = "run"
                    cell.note = ("replaced an identical record" if not cell.diffs else
                                 "replaced a record of another experiment:\n" +
                                 format_diff(cell.diffs))
                    if cell.legacy and not cell.diffs:
                        cell.note = ("replaced a record written before cell identities (it "
                                     "matched on limit, overrides, weights, data, renderer)")
                else:
                    cell.action = "skip"
                    cell.note = ("skipped: identical record exists" if not cell.legacy else
                                 "skipped: a record exists (written before cell identities; it "
                                 "matches on limit, overrides, weights, data and renderer)")
            elif cell.has_checkpoints and self.overwrite:
                cell.note = "discarded the checkpoints of an unfinished run; started afresh"
            elif cell.has_checkpoints:
                cell.note = cell.note or "resumed from its last checkpoint"

    def skip_unverified(self, exc: Exception) -> bool:
        """prepare() failed (data or renderer unavailable, e.g. offline). When every cell has a
        record that matched on names, recipe, limit and weights, skip them all, saying that data
        and renderer could not be compared; otherwise (something to run) return False."""
        if self.overwrite or not all(c.record is not None and not c.diffs for c in self.cells):
            return False
        for cell in self.cells:
            cell.action = "skip"
            cell.note = ("skipped: a record exists that matches on recipe, limit and weights; "
                         f"data and renderer could not be compared ({exc})")
        return True

    # -- per cell, around training -----------------------------------------------------------
    def start(self, cell: Cell) -> None:
        """Clear what ``--overwrite`` replaces (never the lock or set-aside corrupt records),
        then remember the identity beside the checkpoints."""
        if not self.main:
            return
        if self.overwrite and cell.path.is_dir():
            for item in cell.path.iterdir():
                if item.name == LOCK_FILE or item.name.startswith(f"{RECORD_FILE}.corrupt-"):
                    continue
                if item.is_dir() and not item.is_symlink():
                    shutil.rmtree(item)
                else:
                    item.unlink()
        atomic_write_text(cell.path / STARTED_FILE, json.dumps(cell.identity, indent=2,
                                                               sort_keys=True) + "\n")

    def finish(self, cell: Cell) -> None:
        if self.main:
            try:
                (cell.path / STARTED_FILE).unlink()
            except FileNotFoundError:
                pass

    # -- helpers -----------------------------------------------------------------------------
    def _stored(self, cell: Cell) -> dict[str, Any] | None:
        """The identity to compare with: the record's, an unfinished run's, a legacy view of an
        old record, or None (nothing to compare: a fresh cell or unchecked checkpoints)."""
        if cell.record is not None:
            ident = cell.record.identity
            if isinstance(ident, dict) and ident.get("scheme") == IDENTITY_SCHEME and \
                    isinstance(ident.get("fields"), dict):
                cell.legacy = False
                return ident
            cell.legacy = True
            return _legacy_view_of(cell.record)
        if cell.started is not None and cell.has_checkpoints:
            cell.legacy = False
            return cell.started
        return None

    def _refuse_if_conflicts(self) -> None:
        if self.overwrite:
            return
        bad = [c for c in self.cells if c.diffs]
        if not bad:
            return
        parts = []
        for cell in bad:
            what = ("holds a record of a different experiment" if cell.record is not None else
                    "holds the checkpoints of an unfinished run of a different experiment")
            if cell.legacy:
                what += " (record written before cell identities; compared on what it records)"
            parts.append(f"{cell.path} {what}; differing (stored -> now):\n"
                         f"{format_diff(cell.diffs)}")
        raise CellConflictError(
            "\n".join(parts) + "\nNothing was run or changed. Either rerun with --overwrite to "
            "replace " + ("it" if len(bad) == 1 else "them") + ", or write to another folder "
            "with --results DIR.")


def plan_cells(results: Path, spec: Any, seeds: Sequence[int], overwrite: bool,
               main: bool = True) -> Plan:
    request = request_of(spec)
    cells = [inspect_cell(results, request.model, request.task, s, main) for s in seeds]
    plan = Plan(results, request, cells, overwrite, main)
    plan.check_cheap()
    return plan


def lock_cells(results: Path, model: str, task: str, seeds: Sequence[int], wait: bool = False,
               ) -> list[Any]:
    """Hold every cell's lock (all or none). A cell in use by another process stops ``run``
    at once with the holder's PID, or waits with ``wait``."""
    from .locks import acquire

    held: list[Any] = []

    def busy(cell: Path):
        def message(pid: int | None) -> str:
            who = f"process {pid}" if pid else "another process"
            return (f"result cell {cell} is in use by {who} (a `pixel-bench run` on the same "
                    f"model, task and seed; lock {cell / LOCK_FILE}). Wait for it to finish "
                    "(or pass --wait), stop it, or use another --results folder")
        return message

    def waiting(cell: Path):
        def say(pid: int | None) -> None:
            logger.warning("result cell %s is in use by %s; waiting (--wait)", cell,
                           f"process {pid}" if pid else "another process")
        return say

    try:
        for seed in sorted(set(seeds)):  # one order for everyone: two --wait runs never deadlock
            cell = record_dir(results, model, task, seed)
            held.append(acquire(cell / LOCK_FILE, busy(cell), wait=wait, on_wait=waiting(cell),
                                remove_on_release=True))
    except BaseException:
        release_cells(held)
        raise
    return held


def release_cells(held: list[Any]) -> None:
    for lock in reversed(held):
        lock.release()
        # a cell that got nothing (a refused or failed run) leaves no empty folders behind:
        # seed-<n>/, then <task>/ and <model>/ if they are empty too (never the results folder)
        folder = lock.path.parent
        for _ in range(3):
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent


# -- non-standard setups (read by the report; no torch) -------------------------------------
def nonstandard_of(record: ResultRecord) -> dict[str, Any]:
    """How a record's run deviates from the task's standard setup: ``limit``, ``overrides``
    ({key: {"recipe": value or None when unknown, "used": value}}), ``from_scratch``. {} for a
    standard run. Old records (no identity) are judged by ``config.limit``,
    ``config.cli_overrides`` (compared with today's recipe file: a value equal to it is no
    deviation) and ``model_info.weights``."""
    ident = record.identity if isinstance(record.identity, dict) else {}
    if isinstance(ident.get("nonstandard"), dict):
        return ident["nonstandard"]
    config = record.config if isinstance(record.config, dict) else {}
    info = record.model_info if isinstance(record.model_info, dict) else {}
    out: dict[str, Any] = {}
    if config.get("limit") is not None:
        out["limit"] = config["limit"]
    overrides = config.get("cli_overrides")
    if isinstance(overrides, dict) and overrides:
        recipe = _recipe_file(str(record.task), str(info.get("family") or ""))
        changed = {k: {"recipe": recipe.get(k), "used": v} for k, v in sorted(overrides.items())
                   if k not in recipe or canonical_json(recipe[k]) != canonical_json(v)}
        if changed:
            out["overrides"] = changed
    if str(info.get("weights", "")).endswith("(--from-scratch)") and info.get("size") != "tiny":
        out["from_scratch"] = True
    return out


_RECIPES: dict[tuple[str, str], dict[str, Any]] = {}


def _recipe_file(task: str, family: str) -> dict[str, Any]:
    """``defaults`` <- ``<family>`` of ``tasks/recipes/<task>.yaml`` (built-in or plug-in) as it
    is today ({} when there is none or it cannot be read), plus the run loop's own fallbacks."""
    if (task, family) not in _RECIPES:
        import yaml

        from .recipe import recipe_file

        out: dict[str, Any] = {}
        try:
            data = yaml.safe_load(recipe_file(task).read_text(encoding="utf-8")) or {}
            for block in ("defaults", family):
                values = data.get(block) if isinstance(data, dict) else None
                if isinstance(values, dict):
                    out.update(values)
            from .recipe import TRAINING_DEFAULTS

            for key, value in TRAINING_DEFAULTS.items():
                out.setdefault(key, value)
        except (OSError, yaml.YAMLError):
            out = {}
        _RECIPES[(task, family)] = out
    return _RECIPES[(task, family)]


def describe_nonstandard(dev: dict[str, Any]) -> str:
    """One line: "limit 500; from scratch; max_steps=50 (recipe 1000); dropout=0"."""
    parts = []
    if dev.get("limit") is not None:
        parts.append(f"limit {dev['limit']}")
    if dev.get("from_scratch"):
        parts.append("from scratch")
    for key, change in sorted((dev.get("overrides") or {}).items()):
        change = change if isinstance(change, dict) else {"used": change}
        text = f"{key}={_value(change.get('used'))}"
        if change.get("recipe") is not None:
            text += f" (recipe {_value(change['recipe'])})"
        parts.append(text)
    return "; ".join(parts)


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v) if not isinstance(v, (dict, list)) else canonical_json(v)
