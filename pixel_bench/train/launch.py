"""Where the ranks of a multi-node run come from: torchrun rendezvous settings, DeepSpeed
hostfiles, and the Slurm environment of an ``srun`` step.

Nothing here starts a process; :func:`pixel_bench.train.pretrain.launch_command` and the
``run --num-processes`` re-launch build their command lines from these values. No torch import.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..errors import ConfigError

DEFAULT_PORT = 29500


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
