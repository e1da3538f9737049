"""Pretraining: PIXAR (thesis), PIXEL MAE and PIXAR-2024 objectives, DeepSpeed or torch.

:func:`run_pretraining` is what ``pixel-bench pretrain`` does: plan (every check, before any
process starts; :mod:`.pretrain_plan`), then either train in this process or launch N ranks
(:mod:`.launch`) that each call :func:`pretrain`. On a rank, :class:`Trainer` orders the
stages: build (the adapter's network inside a :mod:`.pretrain_engine` engine, the data loader
of :mod:`.pretrain_data`), resume, the loop (metrics, pictures, the display of
:mod:`.progress`), checkpoints (:mod:`.pretrain_checkpoints`) and the export of the final fp32
model as a normal pixel-bench checkpoint. Settings and the learning-rate schedule are
:mod:`.pretrain_args`.

Optimisation follows thesis table A.1 / §3.3: AdamW (weight decay 0.05 on weights, not on biases
or norms, as the HF Trainer does), linear warmup then cosine decay to ``min_lr`` (1e-5; the table's
"0.05" is a typo: docs/models-pixar.md), peak 1.5e-4, gradient accumulation and clipping, bf16
(CPU/GPU) or fp16 (GPU).

The names other code imports from here (``PretrainArgs``, ``validate``, ``launch_command``, ...)
are re-exported from their modules.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError, ConfigError
from ..io_utils import atomic_write_text
from .launch import (LAUNCHERS, SELF_DIST, apply_slurm, check_launch, default_extensions_dir,
                     ensure_dist_env, free_port, inside_launcher, launch_command, launch_ranks,
                     world_size_of)
from .pretrain_args import ENGINES, PretrainArgs, lr_at, make_scheduler
from .pretrain_checkpoints import (ARGS_FILE, CHECKPOINTS, ENGINE_STATE, LATEST, METRICS_FILE,
                                   STATE_FILE, check_resume_state, commit, find_resume_dir,
                                   fresh_dir, rank_stem, read_state, rng_state, saved_step,
                                   seed_all, set_rng_state, step_tag, truncate_metrics)
from .pretrain_engine import Dist, PretrainEngine, make_engine, param_groups
from .pretrain_plan import (INIT_MODEL_TYPES, Featurizer, Plan, check_init_checkpoint,
                            get_adapter, mask_generator_for, renderer_for, validate)
from .safe_state import save_state

_read_state = read_state  # the name tests and older code use

__all__ = ["ARGS_FILE", "CHECKPOINTS", "ENGINES", "ENGINE_STATE", "INIT_MODEL_TYPES", "LATEST",
           "LAUNCHERS", "METRICS_FILE", "SELF_DIST", "STATE_FILE", "Dist", "Featurizer", "Plan",
           "PretrainArgs", "Trainer", "apply_slurm", "atomic_write_text", "check_init_checkpoint",
           "check_launch", "check_resume_state", "default_extensions_dir", "ensure_dist_env",
           "find_resume_dir", "free_port", "get_adapter", "launch_command", "lr_at",
           "make_scheduler", "mask_generator_for", "param_groups", "pretrain", "renderer_for",
           "rng_state", "run_pretraining", "seed_all", "set_rng_state", "validate",
           "world_size_of"]

logger = logging.getLogger("pixel_bench.train.pretrain")


class Trainer:
    """One rank of a run: build -> (resume) -> loop -> checkpoints -> export."""

    def __init__(self, plan: Plan, dist: Dist | None) -> None:
        self.plan = plan
        self.args = plan.args
        self.dist = dist
        self.out = Path(self.args.output_dir)
        self.ckpt_root = self.out / CHECKPOINTS
        self.adapter = get_adapter(self.args.model)
        self.backend: PretrainEngine | None = None  # set by setup()
        self.step = 0
        self.worker_states: dict[int, dict[str, int]] = {}
        self.batches_consumed = 0
        self.invalid_bytes = 0
        self.patches_seen = 0.0
        self.last_batch: dict[str, Any] | None = None  # for the reconstruction pictures

    @property
    def module(self) -> Any:
        """The bare network being trained."""
        return self.backend.module

    @property
    def engine(self) -> Any:
        """What runs the forward: DeepSpeed's engine, DDP, or the network itself."""
        return self.backend.wrapped

    # -- build ---------------------------------------------------------------------------------
    def build_model(self) -> Any:
        """The adapter's pretraining network: random init (``from_scratch``: never fetch
        released weights unasked), or started from ``--init-from`` (PIXAR: a PIXEL checkpoint
        initialises the encoder); sized in model positions for the renderer's strip."""
        length = self.plan.renderer_config.max_seq_length
        return self.adapter.build_pretraining(checkpoint=self.args.init_from or None,
                                              from_scratch=not self.args.init_from,
                                              max_seq_length=self.adapter.num_positions(length))

    def build_loader(self, roles: list[int]) -> Any:
        import torch

        from ..paths import cache_dir
        from .pretrain_data import PackedCorpus, PretrainStream, TextSource, split_meta

        args = self.args
        source = TextSource(args.data, split=args.data_split, text_column=args.text_column,
                            unescape_html=args.unescape_html)
        featurize = Featurizer(self.adapter, mask_generator_for(
            self.adapter, self.plan.renderer_config, args))
        corpus = PackedCorpus(source, self.plan.renderer_name, self.plan.renderer_config,
                              featurize, seed=args.seed, min_text_patches=args.min_text_patches,
                              block_lines=args.block_lines,
                              cache_root=str(cache_dir()) if args.render_cache else None)
        stream = PretrainStream(corpus, self.dist.rank, self.dist.world_size,
                                max(args.num_workers, 1), self.worker_states, roles)
        adapter = self.adapter

        def collate(batch: list[dict[str, np.ndarray]]) -> tuple[dict[str, Any], Any]:
            feats, meta = split_meta(batch)
            return adapter.collate(feats), meta

        gen = torch.Generator()
        gen.manual_seed(args.seed + 7919 * self.dist.rank)  # worker seeds; main RNG untouched
        return torch.utils.data.DataLoader(
            stream, batch_size=args.batch_size, num_workers=args.num_workers,
            collate_fn=collate, generator=gen,
            persistent_workers=False, prefetch_factor=2 if args.num_workers > 0 else None)

    def setup(self) -> None:
        seed_all(self.args.seed)
        self.backend = make_engine(self.args, self.dist, self.build_model(), self.plan.ds_config)

    # -- checkpoints ---------------------------------------------------------------------------
    def save_checkpoint(self) -> Path:
        args, dist = self.args, self.dist
        tag = step_tag(self.step)
        directory = self.ckpt_root / tag
        if dist.is_main:
            fresh_dir(directory)
        dist.barrier()
        self.backend.save(directory, self.step)
        save_state({"rng": rng_state(), "worker_states": self.worker_states,
                    "batches_consumed": self.batches_consumed,
                    "invalid_bytes": self.invalid_bytes, "patches_seen": self.patches_seen},
                   directory, rank_stem(dist.rank))
        dist.barrier()
        if dist.is_main:
            commit(self.ckpt_root, tag, {
                "model": args.model, "engine": args.engine, "step": self.step,
                "world_size": dist.world_size, "num_workers": max(args.num_workers, 1),
                "batch_size": args.batch_size, "grad_accum": args.grad_accum,
                "lr": self.backend.current_lr(), "time": time.time(), "args": args.to_dict()},
                keep=args.save_total_limit)
        dist.barrier()
        return directory

    def load_checkpoint(self, directory: Path) -> None:
        state = check_resume_state(directory, self.args, self.dist.world_size)
        self.backend.load(directory)
        rank_state = read_state(directory, rank_stem(self.dist.rank))
        self.step = int(state["step"])
        self.worker_states = {int(k): v for k, v in rank_state["worker_states"].items()}
        self.batches_consumed = int(rank_state["batches_consumed"])
        self.invalid_bytes = int(rank_state.get("invalid_bytes", 0))
        self.patches_seen = float(rank_state.get("patches_seen", 0.0))
        set_rng_state(rank_state["rng"])

    # -- export --------------------------------------------------------------------------------
    def export_final(self, last_checkpoint: Path) -> Path:
        """Consolidated fp32 weights -> a normal pixel-bench checkpoint in ``output_dir``."""
        if not self.dist.is_main:
            self.dist.barrier()
            return self.out
        state = self.backend.fp32_state(last_checkpoint)
        final = self.build_model().float()
        missing, unexpected = final.load_state_dict(state, strict=False)
        missing = [k for k in missing if k in dict(final.named_parameters())]
        if missing or unexpected:
            raise CheckpointError(f"consolidated weights do not match the model: missing "
                                  f"{missing[:5]}, unexpected {list(unexpected)[:5]}")
        tmp = self.out / ".final.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        self.adapter.save_pretrained(final, tmp, renderer=self.plan.renderer_config)
        info = {"model": self.args.model, "steps": self.step, "engine": self.args.engine,
                "precision": self.args.precision, "world_size": self.dist.world_size,
                "invalid_utf8_sequences": self.invalid_bytes,
                "unescape_html": bool(self.args.unescape_html), "from_checkpoint":
                str(last_checkpoint)}
        (tmp / "pretrain_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
        for item in tmp.iterdir():
            os.replace(item, self.out / item.name)
        tmp.rmdir()
        self.dist.barrier()
        return self.out

    # -- the loop ------------------------------------------------------------------------------
    def train_step(self, it: Any) -> tuple[float, float]:
        """One optimizer step (``grad_accum`` micro batches); returns (mean loss, patches)."""
        accum = self.args.grad_accum
        losses, patches = [], 0.0
        for micro in range(accum):
            batch, (role, state) = next(it)
            self.batches_consumed += 1
            prev = self.worker_states.get(role, {}).get("invalid", 0)
            self.invalid_bytes += int(state["invalid"]) - int(prev)
            self.worker_states[role] = state
            batch = self.backend.to_device(batch)
            patches += float(batch["attention_mask"].sum())
            self.last_batch = batch
            loss = self.backend.micro_step(batch, last=micro == accum - 1)
            losses.append(float(loss.detach().float()))
        self.backend.optimizer_step()
        self.step += 1
        return float(np.mean(losses)), patches

    def current_lr(self) -> float:
        return self.backend.current_lr()

    def run(self) -> dict[str, Any]:
        from .pretrain_data import worker_roles
        from .progress import PretrainDisplay

        args, dist = self.args, self.dist
        self.setup()
        if self.plan.resume_dir is not None:
            self.load_checkpoint(self.plan.resume_dir)
            if dist.is_main:
                logger.info("resumed from %s at step %d", self.plan.resume_dir, self.step)
        display = PretrainDisplay(args.max_steps, enabled=dist.is_main)
        metrics_path = self.out / METRICS_FILE
        if dist.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            truncate_metrics(metrics_path, self.step)
        loader = self.build_loader(worker_roles(max(args.num_workers, 1), self.batches_consumed))
        it = iter(loader)
        last_ckpt: Path | None = self.plan.resume_dir
        t0, window_patches, window_loss, window_n = time.time(), 0.0, 0.0, 0
        history: list[dict[str, Any]] = []
        display.start(self.step)
        try:
            while self.step < args.max_steps:
                loss, patches = self.train_step(it)
                window_patches += patches
                window_loss += loss
                window_n += 1
                if self.step % args.log_steps == 0 or self.step == args.max_steps:
                    mean_loss, = dist.mean([window_loss / window_n])
                    total_patches, = dist.sum([window_patches])
                    self.patches_seen += window_patches
                    elapsed = max(time.time() - t0, 1e-9)
                    record = {"step": self.step, "loss": mean_loss, "lr": self.current_lr(),
                              "patches_per_s": total_patches / elapsed,
                              "invalid_utf8": self.invalid_bytes, "time": time.time()}
                    if dist.is_main:
                        with open(metrics_path, "a", encoding="utf-8") as fh:
                            fh.write(json.dumps(record) + "\n")
                        history.append(record)
                    display.update(record)
                    t0, window_patches, window_loss, window_n = time.time(), 0.0, 0.0, 0
                if args.picture_steps and self.step % args.picture_steps == 0 and dist.is_main:
                    self.save_picture()
                if self.step % args.save_steps == 0 or self.step == args.max_steps:
                    last_ckpt = self.save_checkpoint()
        finally:
            display.stop()
        if last_ckpt is None or self.step != saved_step(last_ckpt):
            last_ckpt = self.save_checkpoint()
        self.export_final(last_ckpt)
        return {"steps": self.step, "history": history, "output_dir": str(self.out),
                "checkpoint": str(last_ckpt), "invalid_utf8": self.invalid_bytes}

    def save_picture(self) -> None:
        """Reconstruction picture of the last batch (pixel_bench/train/pretrain_picture.py)."""
        try:
            import torch

            from .pretrain_picture import save_reconstruction

            with torch.no_grad():
                save_reconstruction(self, self.out / "pictures" / f"step-{self.step:07d}.png")
        except Exception as exc:  # a picture must never kill a run
            logger.warning("reconstruction picture at step %d failed: %s", self.step, exc)


# -- the stages ------------------------------------------------------------------------------------
def pretrain(args: PretrainArgs, plan: Plan | None = None) -> dict[str, Any]:
    """Run (or continue) one pretraining run on this rank; returns a summary on every rank."""
    if args.engine == "deepspeed":
        os.environ.setdefault("TORCH_EXTENSIONS_DIR", default_extensions_dir())
    world = 1 if SELF_DIST in os.environ else int(os.environ.get("WORLD_SIZE", "1"))
    plan = plan or validate(args, world_size=world)
    lock = _claim_run_dir(Path(args.output_dir), int(os.environ.get("RANK", "0")))
    try:
        import torch

        dist = Dist(args.engine, args.device, args.dist_timeout_s)
        if os.environ.get("PIXEL_BENCH_THREADS"):
            torch.set_num_threads(int(os.environ["PIXEL_BENCH_THREADS"]))
        return Trainer(plan, dist).run()
    finally:
        lock.release()


def _claim_run_dir(out: Path, rank: int) -> Any:
    """One live run per output directory: each rank holds ``.lock-rank<R>`` (an OS file lock,
    freed when the process dies), so a second run, or a restart while orphaned ranks of a killed
    launcher still write, fails at once instead of mixing checkpoints."""
    from ..locks import acquire

    out.mkdir(parents=True, exist_ok=True)
    path = out / f".lock-rank{rank}"

    def busy(pid: int | None) -> str:
        who = f" (process {pid})" if pid else ""
        return (f"{out} is in use by another pretraining run{who} (rank {rank} holds {path}); "
                "stop it (all its processes) or use another --output-dir")

    return acquire(path, busy, error=CheckpointError)


def run_pretraining(args: PretrainArgs) -> dict[str, Any]:
    """What ``pixel-bench pretrain`` does: validate, then run in this process (one process, or
    already inside a launcher) or launch this node's ranks and wait for them."""
    args = apply_slurm(args)  # srun: nodes, node rank and rendezvous from SLURM_*
    inside = inside_launcher()
    check_launch(args)
    world = int(os.environ["WORLD_SIZE"]) if inside else world_size_of(args)
    plan = validate(args, world_size=world)
    if inside or world == 1:
        return pretrain(args, plan)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    args_file = out / ARGS_FILE
    atomic_write_text(args_file, json.dumps(args.to_dict(), indent=2))
    code = launch_ranks(args, args_file)
    if code != 0:
        raise ConfigError(f"pretraining processes failed (exit code {code}); see the output "
                          f"above and the last checkpoint in {out / CHECKPOINTS} (resume with "
                          "--resume auto)")
    history = []
    metrics = out / METRICS_FILE
    if metrics.is_file():
        history = [json.loads(line) for line in metrics.read_text().splitlines() if line]
    return {"steps": history[-1]["step"] if history else None, "history": history,
            "output_dir": str(out)}
