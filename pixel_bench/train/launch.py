"""Starting the ranks of a run: torchrun rendezvous settings, DeepSpeed hostfiles, the Slurm
environment of an ``srun`` step, and the launch of N pretraining processes.

:func:`check_launch` names impossible placements before anything starts, :func:`apply_slurm`
reads an ``srun`` step's, :func:`launch_command` / :func:`launch_ranks` start
:mod:`pixel_bench.train.pretrain_main` on this node's ranks, and :func:`ensure_dist_env` lets a
single plain process act as rank 0 of 1. No torch import.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, MutableMapping

from ..errors import ConfigError

if TYPE_CHECKING:
    from .pretrain_args import PretrainArgs

DEFAULT_PORT = 29500
SELF_DIST = "PIXEL_BENCH_SELF_DIST"  # set when this process made up its own RANK/WORLD_SIZE
LAUNCHERS = ("torchrun", "deepspeed")


def expand_nodelist(nodelist: str) -> list[str]:
    """Slurm's compressed host list: ``gpu[01-03,07],cpu5`` -> gpu01 gpu02 gpu03 gpu07 cpu5
    (zero padding kept, as ``scontrol show hostnames`` does)."""
    hosts: list[str] = []
    for part in re.findall(r"[^,\[]+(?:\[[^\]]*\])?[^,]*", nodelist.strip()):
        m = re.fullmatch(r"([^\[]*)\[([^\]]*)\](.*)", part)
        if not m:
            hosts.append(part)
            continue
        prefix, ranges, suffix = m.groups()
        for item in ranges.split(","):
            lo, dash, hi = item.partition("-")
            if not dash:
                hosts.append(f"{prefix}{lo}{suffix}")
                continue
            if not (lo.isdigit() and hi.isdigit()) or int(hi) < int(lo):
                raise ConfigError(f"SLURM_JOB_NODELIST {nodelist!r}: bad range {item!r}")
            width = len(lo)
            hosts.extend(f"{prefix}{i:0{width}d}{suffix}" for i in range(int(lo), int(hi) + 1))
    return hosts


@dataclass
class SlurmStep:
    """The part of an ``srun`` step's environment that places this process."""

    nnodes: int
    node_rank: int
    head: str
    job_id: str
    ntasks: int
    procid: int
    localid: int
    tasks_per_node: int


def slurm_step(env: Mapping[str, str] | None = None) -> SlurmStep | None:
    """The Slurm step this process runs in (``srun`` sets SLURM_STEP_ID and SLURM_PROCID), or
    None outside one (a plain sbatch script is not a step: it starts the step with srun)."""
    env = os.environ if env is None else env
    if "SLURM_PROCID" not in env or "SLURM_STEP_ID" not in env:
        return None
    try:
        nnodes = int(env.get("SLURM_NNODES") or env.get("SLURM_JOB_NUM_NODES") or 1)
        ntasks = int(env.get("SLURM_NTASKS") or env.get("SLURM_NPROCS") or nnodes)
        nodelist = env.get("SLURM_STEP_NODELIST") or env.get("SLURM_JOB_NODELIST") or ""
        hosts = expand_nodelist(nodelist) if nodelist else []
        return SlurmStep(nnodes=nnodes, node_rank=int(env.get("SLURM_NODEID", 0)),
                         head=hosts[0] if hosts else "127.0.0.1",
                         job_id=str(env.get("SLURM_JOB_ID", "pixel-bench")), ntasks=ntasks,
                         procid=int(env["SLURM_PROCID"]),
                         localid=int(env.get("SLURM_LOCALID", 0)),
                         tasks_per_node=max(1, ntasks // max(nnodes, 1)))
    except ValueError as exc:
        raise ConfigError(f"unreadable Slurm environment: {exc}") from None


def parse_hostfile(path: str | Path) -> list[tuple[str, int]]:
    """A DeepSpeed hostfile: ``host slots=N`` per line (``#`` comments, blank lines)."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read hostfile {path}: {exc.strerror or exc}") from None
    hosts: list[tuple[str, int]] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"(\S+)\s+slots\s*=\s*(\d+)", line)
        if not m or int(m.group(2)) < 1:
            raise ConfigError(f"{path}:{n}: expected 'HOST slots=N' (N >= 1), got {raw!r}")
        if any(h == m.group(1) for h, _ in hosts):
            raise ConfigError(f"{path}:{n}: host {m.group(1)} listed twice")
        hosts.append((m.group(1), int(m.group(2))))
    if not hosts:
        raise ConfigError(f"hostfile {path} lists no hosts ('HOST slots=N' per line)")
    return hosts


def split_endpoint(endpoint: str, what: str = "--rdzv-endpoint") -> tuple[str, int]:
    host, colon, port = endpoint.rpartition(":")
    if not colon:
        return endpoint, DEFAULT_PORT
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{what} {endpoint!r}: expected HOST:PORT, e.g. node01:29500")
    return host, int(port)


# -- this process ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def default_extensions_dir() -> str:
    """Where DeepSpeed's JIT-compiled ops are kept (compiled once per machine, ~90 s)."""
    from ..paths import cache_dir

    return str(cache_dir() / "torch_extensions")


def ensure_dist_env() -> None:
    """A single plain process: DeepSpeed wants RANK/WORLD_SIZE/MASTER_* (else it tries MPI)."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        return
    os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", LOCAL_WORLD_SIZE="1",
                      **{SELF_DIST: "1"})
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(free_port()))


def inside_launcher(env: Mapping[str, str] | None = None) -> bool:
    """Whether a launcher (torchrun, DeepSpeed, srun tasks) made this process one rank."""
    env = os.environ if env is None else env
    return "WORLD_SIZE" in env and "RANK" in env and SELF_DIST not in env


# -- a pretraining run's processes --------------------------------------------------------------
def world_size_of(args: "PretrainArgs") -> int:
    """Ranks in the whole run: every hostfile slot, or nodes x processes per node."""
    if args.hostfile:
        return sum(slots for _host, slots in parse_hostfile(args.hostfile))
    return int(args.nnodes) * int(args.num_processes)


def check_launch(args: "PretrainArgs") -> None:
    """Multi-node settings that cannot work, named before anything starts."""
    if args.launcher not in LAUNCHERS:
        raise ConfigError(f"--launcher must be one of {', '.join(LAUNCHERS)}, got "
                          f"{args.launcher!r}")
    if int(args.nnodes) < 1:
        raise ConfigError(f"--nnodes must be >= 1, got {args.nnodes}")
    if args.node_rank is not None and not 0 <= int(args.node_rank) < int(args.nnodes):
        raise ConfigError(f"--node-rank {args.node_rank}: must be in 0..{int(args.nnodes) - 1} "
                          f"(--nnodes {args.nnodes})")
    if args.rdzv_backend not in ("c10d", "static"):
        raise ConfigError(f"--rdzv-backend must be c10d or static, got {args.rdzv_backend!r}")
    if args.hostfile and args.launcher != "deepspeed":
        raise ConfigError("--hostfile is DeepSpeed's multi-node launcher: add --launcher "
                          "deepspeed --engine deepspeed (torchrun uses --nnodes and "
                          "--rdzv-endpoint)")
    if args.launcher == "deepspeed" and int(args.nnodes) > 1:
        raise ConfigError("--launcher deepspeed spans nodes through --hostfile (one 'HOST "
                          "slots=N' line per node), not --nnodes")
    if int(args.nnodes) > 1 and not args.rdzv_endpoint:
        raise ConfigError(f"--nnodes {args.nnodes} needs --rdzv-endpoint HOST:PORT (a host "
                          "every node reaches, e.g. the first node; under srun it is read from "
                          "SLURM_JOB_NODELIST)")
    if args.rdzv_backend == "static" and int(args.nnodes) > 1 and args.node_rank is None:
        raise ConfigError("--rdzv-backend static needs --node-rank on every node")
    if args.rdzv_endpoint:
        split_endpoint(args.rdzv_endpoint)


def apply_slurm(args: "PretrainArgs", env: MutableMapping[str, str] | None = None
                ) -> "PretrainArgs":
    """Inside an ``srun`` step, take the placement from Slurm (values given explicitly win):

    * one task per node (``srun --ntasks-per-node 1``): this task is the node's torchrun agent:
      ``--nnodes`` SLURM_NNODES, ``--node-rank`` SLURM_NODEID, rendezvous at the head node of
      SLURM_JOB_NODELIST, ``--rdzv-id`` SLURM_JOB_ID;
    * several tasks per node (one per GPU): every task is a rank: RANK/WORLD_SIZE/LOCAL_RANK
      from SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID, MASTER_ADDR the head node.
    """
    env = os.environ if env is None else env
    step = slurm_step(env)
    if step is None or args.hostfile or ("RANK" in env and "WORLD_SIZE" in env):
        return args
    port = int(env.get("PIXEL_BENCH_RDZV_PORT", DEFAULT_PORT))
    if step.tasks_per_node == 1:
        if step.nnodes == 1 or args.nnodes != 1:
            return args
        return replace(args, nnodes=step.nnodes,
                       node_rank=step.node_rank if args.node_rank is None else args.node_rank,
                       rdzv_endpoint=args.rdzv_endpoint or f"{step.head}:{port}",
                       rdzv_id=args.rdzv_id or f"slurm-{step.job_id}")
    if args.num_processes != 1:
        raise ConfigError(f"srun started {step.tasks_per_node} tasks per node, each a rank: pass "
                          f"--num-processes 1 (or srun --ntasks-per-node 1 and --num-processes "
                          f"{step.tasks_per_node})")
    env.update(RANK=str(step.procid), WORLD_SIZE=str(step.ntasks),
               LOCAL_RANK=str(step.localid), LOCAL_WORLD_SIZE=str(step.tasks_per_node),
               MASTER_ADDR=env.get("MASTER_ADDR", step.head),
               MASTER_PORT=env.get("MASTER_PORT", str(port)))
    return args


def launch_command(args: "PretrainArgs", args_file: Path, port: int | None = None) -> list[str]:
    """The command that starts ``args.num_processes`` ranks of :mod:`pretrain_main` on this node
    (with ``--nnodes``: this node's torchrun agent; with ``--hostfile``: DeepSpeed's launcher,
    which starts every node over ssh/pdsh)."""
    n = str(args.num_processes)
    main = ["-m", "pixel_bench.train.pretrain_main", "--args", str(args_file)]
    if args.launcher == "torchrun":
        torchrun = [sys.executable, "-m", "torch.distributed.run"]
        if int(args.nnodes) > 1 or args.rdzv_endpoint:
            rdzv = ["--rdzv-backend", args.rdzv_backend, "--rdzv-endpoint",
                    str(args.rdzv_endpoint),
                    "--rdzv-id", args.rdzv_id or f"pixel-bench-{Path(args.output_dir).name}"]
            if args.node_rank is not None:
                rdzv += ["--node-rank", str(args.node_rank)]
            return [*torchrun, "--nnodes", str(args.nnodes), "--nproc-per-node", n, *rdzv,
                    *main]
        port = port or free_port()
        return [*torchrun, "--nnodes", "1", "--nproc_per_node", n, "--master_addr",
                "127.0.0.1", "--master_port", str(port), *main]
    if args.launcher == "deepspeed":
        if args.engine != "deepspeed":
            raise ConfigError("--launcher deepspeed needs --engine deepspeed (use torchrun)")
        exe = shutil.which("deepspeed") or str(Path(sys.executable).parent / "deepspeed")
        module = ["--module", "pixel_bench.train.pretrain_main", "--args", str(args_file)]
        if args.hostfile:
            hosts = parse_hostfile(args.hostfile)
            addr, mport = (split_endpoint(args.rdzv_endpoint) if args.rdzv_endpoint
                           else (hosts[0][0], port or DEFAULT_PORT))
            return [exe, "--hostfile", str(Path(args.hostfile).expanduser()), "--master_addr",
                    addr, "--master_port", str(mport), *module]
        port = port or free_port()
        from .ds_config import cuda_available

        count = ["--num_gpus", n] if cuda_available() and args.device != "cpu" else \
            ["--num_accelerators", n]
        return [exe, "--num_nodes", "1", *count, "--master_port", str(port), *module]
    raise ConfigError(f"--launcher must be one of {', '.join(LAUNCHERS)}, got {args.launcher!r}")


def launch_ranks(args: "PretrainArgs", args_file: Path) -> int:
    """Start this node's ranks (reading their settings from ``args_file``) and wait for them;
    returns the launcher's exit code."""
    env = {k: v for k, v in os.environ.items()
           if k not in (SELF_DIST, "RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE")}
    env.setdefault("TORCH_EXTENSIONS_DIR", default_extensions_dir())
    env.setdefault("OMP_NUM_THREADS", "1")
    cmd = launch_command(args, args_file)
    import logging

    logging.getLogger("pixel_bench.train.pretrain").info(
        "launching %d processes%s: %s", args.num_processes,
        f" (node {args.node_rank} of {args.nnodes})" if int(args.nnodes) > 1 else "",
        " ".join(cmd))
    return subprocess.run(cmd, env=env).returncode
