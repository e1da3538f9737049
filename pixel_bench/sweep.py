"""Sweeps: models x tasks x seeds (x ``--set`` grid) as result cells, run by ``pixel-bench run``.

A sweep does not schedule anything itself. It expands the grid into cells, asks
:mod:`pixel_bench.cells` what each holds (the same identity ``run`` uses: a cell whose record
matches is done, one holding another experiment refuses the whole sweep before anything starts)
and hands every pending cell to one ``python -m pixel_bench.cli.app run ...`` process, either
locally (N at a time, one GPU each through ``CUDA_VISIBLE_DEVICES``) or on Slurm through
submitit (one job array; a preempted or timed-out job is requeued and ``run`` resumes the cell
from its last complete checkpoint). ``run`` itself re-checks the full identity (data and
renderer too) and takes the cell's lock, so two sweeps over the same folder never mix.

Per-cell logs are ``<results>/.sweeps/<name>/logs/<cell>.log``; their last line is the exit
status. :func:`status` reads records, locks and logs: done / running / failed / pending (and
``differs``: the cell holds another experiment).
"""

from __future__ import annotations

import difflib
import fcntl
import itertools
import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from .cells import LOCK_FILE
from .errors import CellConflictError, ConfigError
from .io_utils import read_json

SWEEPS_DIR = ".sweeps"
EXIT_MARK = "pixel-bench sweep: exit status "
SPEC_KEYS = ("name", "models", "tasks", "seeds", "set", "grid", "limit", "max_steps",
             "data_dir", "checkpoint", "from_scratch", "results", "num_processes", "slurm")
SLURM_KEYS = ("partition", "timeout_min", "cpus_per_task", "gpus_per_task", "mem_gb",
              "array_parallelism", "account", "qos", "constraint", "setup")


@dataclass
class SweepSpec:
    models: list[str]
    tasks: list[str]
    seeds: list[int] = field(default_factory=lambda: [42])
    sets: dict[str, Any] = field(default_factory=dict)  # fixed --set overrides
    grid: dict[str, list[Any]] = field(default_factory=dict)  # key -> values (cross product)
    limit: int | None = None
    max_steps: int | None = None
    data_dir: str | None = None
    checkpoint: str | None = None
    from_scratch: bool = False
    results: str | None = None
    name: str = "sweep"
    num_processes: int = 1  # per cell: `run --num-processes` (one GPU each)
    slurm: dict[str, Any] = field(default_factory=dict)
    source: str = "command line"

    def results_dir(self) -> Path:
        from .paths import results_dir

        return Path(self.results).expanduser() if self.results else results_dir()

    def sweep_dir(self) -> Path:
        return self.results_dir() / SWEEPS_DIR / self.name


@dataclass
class SweepCell:
    model: str
    task: str
    seed: int
    overrides: dict[str, Any]  # --set values of this grid point (fixed ones included)
    results: Path  # the results folder of this grid point
    point: str = ""  # grid point label ("" without a grid)
    state: str = "pending"  # done | running | failed | pending | differs
    note: str = ""

    @property
    def label(self) -> str:
        where = f"{self.point}/" if self.point else ""
        return f"{where}{self.model}/{self.task}/seed-{self.seed}"

    @property
    def log_name(self) -> str:
        return re.sub(r"[^A-Za-z0-9._=-]+", "_", self.label.replace("/", "__")) + ".log"

    @property
    def path(self) -> Path:
        from .records import record_dir

        return record_dir(self.results, self.model, self.task, self.seed)


# -- the spec ------------------------------------------------------------------------------------
def _as_list(value: Any, key: str, source: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return [value]
    raise ConfigError(f"{source}: {key} must be a list, got {value!r}")


def load_spec(path: str | Path) -> dict[str, Any]:
    """The YAML sweep file as a mapping, its keys checked (close-match hints)."""
    import yaml

    path = Path(path).expanduser()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read sweep file {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"malformed sweep file {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"sweep file {path}: expected a mapping (models:, tasks:, seeds:, ...)")
    for key, known in (("", SPEC_KEYS),) + ((("slurm",), SLURM_KEYS),):
        block = data if not key else data.get(key[0]) or {}
        if not isinstance(block, dict):
            raise ConfigError(f"sweep file {path}: {key[0]} must be a mapping")
        for k in block:
            if k not in known:
                close = difflib.get_close_matches(str(k), known, n=1, cutoff=0.6)
                where = f"{key[0]}." if key else ""
                raise ConfigError(f"sweep file {path}: unknown key {where}{k}"
                                  + (f" (did you mean {close[0]!r}?)" if close else "")
                                  + f"; known: {', '.join(known)}")
    data["source"] = str(path)
    return data


def make_spec(file_values: dict[str, Any] | None = None, **cli: Any) -> SweepSpec:
    """File values, then command-line values on top (models, tasks and seeds given on the
    command line replace the file's; ``--set``/``--grid`` keys are added to or replace the
    file's keys). Every value is checked here, before anything runs."""
    from .recipe import parse_set

    merged: dict[str, Any] = dict(file_values or {})
    source = str(merged.pop("source", "command line"))
    file_set = merged.pop("set", None) or {}
    file_grid = merged.pop("grid", None) or {}
    for key, value in cli.items():
        if value is None or (isinstance(value, (list, tuple, dict)) and not value):
            continue
        merged[key] = value
    models = [str(m) for m in _as_list(merged.get("models"), "models", source)]
    tasks = [str(t) for t in _as_list(merged.get("tasks"), "tasks", source)]
    if not models or not tasks:
        raise ConfigError(f"{source}: a sweep needs at least one model and one task "
                          "(--model/--task, or models:/tasks: in the sweep file)")
    seeds_raw = _as_list(merged.get("seeds"), "seeds", source) or [42]
    try:
        seeds = list(dict.fromkeys(int(s) for s in seeds_raw))
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: seeds must be integers, got {seeds_raw!r}") from None
    if not isinstance(file_set, dict):
        raise ConfigError(f"{source}: set must be a mapping of recipe keys to values")
    sets = parse_set([f"{k}={json.dumps(v)}" for k, v in file_set.items()])
    cli_sets = merged.get("sets") or []  # command line: key=value strings, on top of the file's
    sets.update(parse_set(list(cli_sets)) if isinstance(cli_sets, (list, tuple)) else cli_sets)
    if not isinstance(file_grid, dict):
        raise ConfigError(f"{source}: grid must be a mapping of recipe keys to value lists")
    grid: dict[str, list[Any]] = {str(k): _as_list(v, f"grid.{k}", source)
                                  for k, v in file_grid.items()}
    for item in merged.get("grid") or []:  # command line: key=v1,v2 (replaces that key)
        key, eq, values = str(item).partition("=")
        if not eq or not values:
            raise ConfigError(f"--grid expects key=v1,v2,..., got {item!r}")
        grid[key.strip()] = values.split(",")
    checked: dict[str, list[Any]] = {}
    for key, values in grid.items():
        if not values:
            raise ConfigError(f"{source}: grid.{key} has no values")
        if key in sets:
            raise ConfigError(f"{source}: {key} is both fixed (set) and swept (grid)")
        checked[key] = [parse_set([f"{key}={v if isinstance(v, str) else json.dumps(v)}"])[key]
                        for v in values]
    for key in ("limit", "max_steps", "num_processes"):
        value = merged.get(key)
        least = 0 if key == "max_steps" else 1
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < least):
            raise ConfigError(f"{source}: {key} must be an integer >= {least}, got {value!r}")
    name = str(merged.get("name") or "sweep")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ConfigError(f"{source}: sweep name {name!r}: use letters, digits, . _ -")
    slurm = merged.get("slurm") or {}
    if not isinstance(slurm, dict):
        raise ConfigError(f"{source}: slurm must be a mapping")
    return SweepSpec(models=models, tasks=tasks, seeds=seeds, sets=sets, grid=checked,
                     limit=merged.get("limit"), max_steps=merged.get("max_steps"),
                     data_dir=merged.get("data_dir"), checkpoint=merged.get("checkpoint"),
                     from_scratch=bool(merged.get("from_scratch", False)),
                     results=merged.get("results"), name=name,
                     num_processes=int(merged.get("num_processes") or 1), slurm=dict(slurm),
                     source=source)


# -- expanding and planning ---------------------------------------------------------------------
def _point_label(point: dict[str, Any]) -> str:
    """``learning_rate=0.0001,dropout=0``: the sub-folder of one grid point."""
    parts = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in point.items()]
    return re.sub(r"[^A-Za-z0-9._=,+-]+", "_", ",".join(parts))


def expand(spec: SweepSpec) -> list[SweepCell]:
    """Every cell: grid point x model x task x seed. A grid point writes to its own results
    sub-folder (a cell is model/task/seed, so two recipes cannot share one)."""
    root = spec.results_dir()
    keys = list(spec.grid)
    points = [dict(zip(keys, combo)) for combo in itertools.product(*spec.grid.values())]
    out = []
    for point in points or [{}]:
        label = _point_label(point) if point else ""
        results = root / label if label else root
        for model, task, seed in itertools.product(spec.models, spec.tasks, spec.seeds):
            out.append(SweepCell(model, task, seed, {**spec.sets, **point}, results, label))
    return out


def _overrides_of(spec: SweepSpec, cell: SweepCell) -> dict[str, Any]:
    over = dict(cell.overrides)
    if spec.max_steps is not None:  # as runner.run does
        over["max_steps"] = int(spec.max_steps)
    return over


def plan(spec: SweepSpec, cells: Sequence[SweepCell] | None = None,
         refuse: bool = True) -> list[SweepCell]:
    """Each cell's state from its record, lock and log (:mod:`pixel_bench.cells` identity on
    names, recipe, limit and weights; ``run`` compares data and renderer when it runs the
    cell). ``refuse``: cells holding another experiment raise one CellConflictError listing
    them all, before anything is started."""
    from . import cells as cellmod

    cells = list(cells if cells is not None else expand(spec))
    groups: dict[tuple[str, str, str], list[SweepCell]] = {}
    for cell in cells:
        groups.setdefault((cell.point, cell.model, cell.task), []).append(cell)
    conflicts: list[str] = []
    logs = spec.sweep_dir() / "logs"
    for (_point, model, task), group in groups.items():
        from .spec import resolve_spec

        run_spec = resolve_spec(model, task, None, spec.checkpoint, spec.from_scratch,
                                spec.limit, _overrides_of(spec, group[0]))
        request = cellmod.request_of(run_spec)
        found = [cellmod.inspect_cell(group[0].results, model, task, c.seed, main=False)
                 for c in group]
        p = cellmod.Plan(group[0].results, request, found, overwrite=False, main=False)
        try:
            p.check_cheap()
        except CellConflictError as exc:
            conflicts.append(str(exc).split("\nNothing was run")[0])
        for cell, found_cell in zip(group, found):
            _set_state(cell, found_cell, logs / cell.log_name)
    if conflicts and refuse:
        raise CellConflictError(
            "\n".join(conflicts) + "\nNothing was started. Rerun those cells with `pixel-bench "
            "run ... --overwrite`, remove them, or give the sweep another results folder.")
    return cells


def _set_state(cell: SweepCell, found: Any, log: Path) -> None:
    if found.diffs:
        cell.state = "differs"
        cell.note = ("holds a record of another experiment" if found.record is not None else
                     "holds the checkpoints of another experiment's unfinished run")
    elif found.record is not None:
        cell.state = "done"
        main = found.record.metrics.get(found.record.main_split or "", {})
        metric = main.get(found.record.main_metric or "")
        cell.note = f"{found.record.main_metric} {metric:.4f}" if isinstance(metric, float) \
            else "record"
    elif lock_held(cell.path / LOCK_FILE):
        cell.state, cell.note = "running", "cell lock held"
    elif log.is_file():
        rc, last = log_exit(log)
        if rc == 0:  # finished but no record: e.g. removed since
            cell.state, cell.note = "pending", "log says finished but there is no record"
        else:
            cell.state = "failed"
            cell.note = (f"exit status {rc}: {last}" if rc is not None else
                         f"stopped without an exit status (killed or preempted): {last}")
    else:
        cell.state = "pending"
        if found.has_checkpoints:
            cell.note = "has checkpoints: resumes"


def lock_held(path: Path) -> bool:
    """Whether a process holds the ``flock`` on an existing lock file. The probe takes a shared
    lock for an instant and never creates the file; sweep workers start ``run --wait``, so one
    that meets the probe waits for that instant instead of failing."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def log_exit(log: Path) -> tuple[int | None, str]:
    """(exit status or None, the last error-looking line) of a cell log."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None, ""
    rc = None
    for line in reversed(lines[-3:]):
        if line.startswith(EXIT_MARK):
            try:
                rc = int(line[len(EXIT_MARK):].split()[0])
            except (ValueError, IndexError):
                rc = None
            break
    body = [ln for ln in lines if ln.strip() and not ln.startswith(EXIT_MARK)]
    errors = [ln for ln in body if re.search(r"error|Error|Traceback|Killed", ln)]
    last = (errors or body or [""])[-1].strip()
    return rc, last[:200]


# -- running one cell ---------------------------------------------------------------------------
def run_argv(spec: SweepSpec, cell: SweepCell) -> list[str]:
    """``pixel-bench run`` arguments of one cell (``--wait``: see :func:`lock_held`)."""
    argv = ["run", "--model", cell.model, "--task", cell.task, "--seed", str(cell.seed),
            "--results", str(cell.results), "--wait"]
    if spec.limit is not None:
        argv += ["--limit", str(spec.limit)]
    if spec.max_steps is not None:
        argv += ["--max-steps", str(spec.max_steps)]
    if spec.data_dir:
        argv += ["--data-dir", str(spec.data_dir)]
    if spec.checkpoint:
        argv += ["--checkpoint", str(spec.checkpoint)]
    if spec.from_scratch:
        argv += ["--from-scratch"]
    if spec.num_processes > 1:
        argv += ["--num-processes", str(spec.num_processes)]
    for key, value in cell.overrides.items():
        argv += ["--set", f"{key}={json.dumps(value)}"]
    return argv


def run_cell(argv: Sequence[str], log: str | Path, env: dict[str, str] | None = None) -> int:
    """One ``pixel-bench run`` process, output appended to ``log`` (a rerun keeps the earlier
    attempt above it), then the exit status as the log's last line."""
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pixel_bench.cli.app", *argv]
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(f"$ {' '.join(cmd)}\n")
        fh.flush()
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
        try:
            rc = proc.wait()
        except BaseException:  # Ctrl-C / preemption: stop the cell (it resumes next time)
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            raise
        fh.write(f"\n{EXIT_MARK}{rc}\n")
    return rc


def visible_gpus() -> list[str]:
    """GPU ids for one-device workers: ``CUDA_VISIBLE_DEVICES`` if set, else what torch sees."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [g for g in env.split(",") if g.strip() and g.strip() != "-1"]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except Exception:  # noqa: BLE001 - no torch / no CUDA: CPU workers
        return []


def run_local(spec: SweepSpec, cells: Iterable[SweepCell], workers: int = 1,
              gpus: Sequence[str] | None = None,
              on_done: Callable[[SweepCell, int], None] | None = None) -> dict[str, int]:
    """Run the cells, ``workers`` at a time; worker k sees only its own GPUs (``gpus`` split
    into groups of ``spec.num_processes``; none: CPU). Returns {cell label: exit status}."""
    from concurrent.futures import ThreadPoolExecutor

    cells = list(cells)
    gpus = list(visible_gpus() if gpus is None else gpus)
    per = max(1, int(spec.num_processes))
    if gpus and workers * per > len(gpus):
        raise ConfigError(f"--workers {workers} x --num-processes {per} but only {len(gpus)} "
                          f"GPU(s) ({','.join(gpus)}): one device per process")
    groups = [",".join(gpus[k * per:(k + 1) * per]) for k in range(workers)] if gpus else []
    n_slots = max(1, workers)
    slots = list(range(n_slots))
    lock = threading.Lock()
    logs = spec.sweep_dir() / "logs"
    out: dict[str, int] = {}

    def work(cell: SweepCell) -> None:
        with lock:
            slot = slots.pop(0)
        try:
            env = {"CUDA_VISIBLE_DEVICES": groups[slot]} if gpus else {}
            if not gpus:  # CPU workers share the cores instead of each taking them all
                env["OMP_NUM_THREADS"] = os.environ.get(
                    "OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // (n_slots * per))))
            rc = run_cell(run_argv(spec, cell), logs / cell.log_name, env)
            out[cell.label] = rc
            if on_done is not None:
                on_done(cell, rc)
        finally:
            with lock:
                slots.append(slot)

    pool = ThreadPoolExecutor(max_workers=n_slots)
    futures = [pool.submit(work, c) for c in cells]
    try:
        for future in futures:
            future.result()
    except BaseException:  # Ctrl-C or a broken worker: start no further cell
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return out


# -- Slurm ---------------------------------------------------------------------------------------
class CellJob:
    """The callable submitit runs on a node: one cell. On timeout or preemption submitit calls
    :meth:`checkpoint` (its ``Checkpointable`` protocol: any callable with that method) and
    requeues the same cell; ``run`` then resumes it from its last complete
    checkpoint (the cell folder is the state, nothing else needs pickling)."""

    def __call__(self, argv: list[str], log: str) -> int:
        return run_cell(argv, log)

    def checkpoint(self, argv: list[str], log: str) -> Any:
        import submitit

        with open(log, "a", encoding="utf-8") as fh:
            fh.write("\npixel-bench sweep: requeued (timeout or preemption); the cell resumes\n")
        return submitit.helpers.DelayedSubmission(CellJob(), argv, log)


def slurm_executor(spec: SweepSpec, folder: Path) -> Any:
    try:
        import submitit
    except ImportError:
        raise ConfigError("Slurm sweeps need submitit: pip install 'pixel-bench[cluster]'"
                          ) from None
    s = spec.slurm
    executor = submitit.AutoExecutor(folder=str(folder / "%j"), cluster="slurm")
    params: dict[str, Any] = {"name": f"pixel-bench-{spec.name}",
                              "timeout_min": int(s.get("timeout_min", 60)),
                              "cpus_per_task": int(s.get("cpus_per_task", 1)),
                              "tasks_per_node": 1, "nodes": 1}
    gpus = int(s.get("gpus_per_task") or 0)
    if gpus and spec.num_processes > gpus:
        raise ConfigError(f"num_processes {spec.num_processes} per cell but slurm.gpus_per_task "
                          f"{gpus}: give each cell one GPU per process")
    if gpus:
        params["gpus_per_node"] = gpus
    if s.get("mem_gb"):
        params["mem_gb"] = float(s["mem_gb"])
    if s.get("partition"):
        params["slurm_partition"] = str(s["partition"])
    if s.get("array_parallelism"):
        params["slurm_array_parallelism"] = int(s["array_parallelism"])
    extra = {k: s[k] for k in ("account", "qos", "constraint") if s.get(k)}
    if extra:
        params["slurm_additional_parameters"] = extra
    if s.get("setup"):
        params["slurm_setup"] = list(_as_list(s["setup"], "slurm.setup", spec.source))
    executor.update_parameters(**params)
    return executor


def submit_slurm(spec: SweepSpec, cells: Sequence[SweepCell]) -> list[Any]:
    """One Slurm job array, one task per cell (submitit logs in ``.sweeps/<name>/submitit``)."""
    cells = list(cells)
    if not cells:
        return []
    folder = spec.sweep_dir() / "submitit"
    executor = slurm_executor(spec, folder)
    logs = spec.sweep_dir() / "logs"
    return executor.map_array(CellJob(), [run_argv(spec, c) for c in cells],
                              [str(logs / c.log_name) for c in cells])


def wait_slurm(jobs: Sequence[Any], poll_s: float = 2.0) -> None:
    """Until every job has a result file or has left the queue. Asks ``squeue`` (not submitit's
    ``sacct`` watcher, which needs Slurm accounting: many small clusters run without it)."""
    import time

    pending = list(jobs)
    while pending:
        ids = {str(j.job_id) for j in pending}
        try:
            out = subprocess.run(["squeue", "-h", "-r", "-o", "%i", "-j",
                                  ",".join(sorted({i.split("_")[0] for i in ids}))],
                                 capture_output=True, text=True, timeout=60)
            queued = set(out.stdout.split()) if out.returncode == 0 else ids
        except (OSError, subprocess.TimeoutExpired):
            queued = ids
        pending = [j for j in pending if not j.paths.result_pickle.exists()
                   and str(j.job_id) in queued]
        if pending:
            time.sleep(poll_s)


def slurm_queue(job_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """{array task id: (Slurm state, reason)} of the given jobs still in the queue ({} when
    ``squeue`` cannot be asked)."""
    ids = sorted({str(j).split("_")[0] for j in job_ids if j})
    if not ids:
        return {}
    try:
        out = subprocess.run(["squeue", "-h", "-r", "-o", "%i|%T|%r", "-j", ",".join(ids)],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    queue = {}
    for line in out.stdout.splitlines() if out.returncode == 0 else []:
        parts = line.strip().split("|")
        if len(parts) == 3:
            queue[parts[0]] = (parts[1], parts[2])
    return queue


def apply_queue(cells: Sequence[SweepCell], jobs: dict[str, Any]) -> None:
    """A cell whose Slurm job is still queued is pending (queued) or running, whatever its
    log says (a requeued job's log has no exit status yet)."""
    queue = slurm_queue(str(j) for j in jobs.values() if j)
    for c in cells:
        job = jobs.get(c.label)
        if c.state == "done" or not job or str(job) not in queue:
            continue
        state, reason = queue[str(job)]
        if state in ("RUNNING", "COMPLETING"):
            c.state, c.note = "running", f"Slurm job {job} running"
        else:
            c.state, c.note = "pending", f"Slurm job {job} {state.lower()} ({reason})"


def write_manifest(spec: SweepSpec, cells: Sequence[SweepCell], jobs: Sequence[Any] = ()) -> Path:
    """``.sweeps/<name>/sweep.json``: the spec and (Slurm) the job id of each cell."""
    from .records import atomic_write_text

    data = {"name": spec.name, "source": spec.source, "models": spec.models,
            "tasks": spec.tasks, "seeds": spec.seeds, "set": spec.sets, "grid": spec.grid,
            "limit": spec.limit, "max_steps": spec.max_steps, "data_dir": spec.data_dir,
            "checkpoint": spec.checkpoint, "from_scratch": spec.from_scratch,
            "num_processes": spec.num_processes,
            "results": str(spec.results_dir()), "slurm": spec.slurm,
            "jobs": {c.label: getattr(j, "job_id", None) for c, j in zip(cells, jobs)}}
    path = spec.sweep_dir() / "sweep.json"
    atomic_write_text(path, json.dumps(data, indent=2, default=str) + "\n")
    return path


def read_manifest(results: str | Path | None, name: str) -> dict[str, Any]:
    from .paths import results_dir

    root = Path(results).expanduser() if results else results_dir()
    path = root / SWEEPS_DIR / name / "sweep.json"
    if not path.exists():
        known = sorted(p.name for p in (root / SWEEPS_DIR).glob("*/sweep.json"))
        raise ConfigError(f"no sweep named {name!r} in {root} ({path} missing); "
                          + (f"known: {', '.join(known)}" if known else
                             "give the sweep file or the same --model/--task options"))
    data = read_json(path, "sweep manifest")
    data.pop("jobs", None)
    data["source"] = str(path)
    return data
