"""DeepSpeed or plain torch behind one interface: what the pretraining loop calls to build the
optimizer, take a step, save and load the engine's state and export fp32 weights.

* :class:`Dist` - ranks and the two collectives the loop needs (DeepSpeed's or torch's process
  group; a single plain process gets RANK/WORLD_SIZE made up by
  :func:`pixel_bench.train.launch.ensure_dist_env`).
* :class:`PretrainEngine` - the interface; :class:`DeepSpeedEngine` (ZeRO 0-3, bf16/fp16 weights
  with fp32 masters, DeepSpeed's accumulation and clipping) and :class:`TorchEngine` (DDP when
  several ranks, autocast bf16/fp16 with a GradScaler for fp16, our accumulation and clipping).

Both use AdamW with the HF Trainer's decay split (:func:`param_groups`) and the schedule of
:func:`pixel_bench.train.pretrain_args.make_scheduler`. The pretraining network's forward
returns a ``transformers`` ``ModelOutput`` whose ``loss`` is set (the
:class:`~pixel_bench.modeling.contracts.PretrainingAdapter` contract).
"""

from __future__ import annotations

import contextlib
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CheckpointError, ConfigError
from .launch import default_extensions_dir, ensure_dist_env
from .pretrain_args import make_scheduler
from .pretrain_checkpoints import ENGINE_STATE, read_state
from .safe_state import make_deepspeed_loads_safe, save_state

if TYPE_CHECKING:
    import torch

    from .pretrain_args import PretrainArgs


class Dist:
    """Rank bookkeeping and the few collectives the loop needs."""

    def __init__(self, engine: str, device_pref: str, timeout_s: int) -> None:
        import datetime

        import torch
        import torch.distributed as dist

        ensure_dist_env()
        self.rank = int(os.environ["RANK"])
        self.world_size = int(os.environ["WORLD_SIZE"])
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        use_cuda = torch.cuda.is_available() and device_pref != "cpu"
        self.device = torch.device(f"cuda:{self.local_rank}" if use_cuda else "cpu")
        if use_cuda:
            torch.cuda.set_device(self.device)
        timeout = datetime.timedelta(seconds=timeout_s)
        if engine == "deepspeed":
            os.environ.setdefault("TORCH_EXTENSIONS_DIR", default_extensions_dir())
            import deepspeed

            deepspeed.init_distributed(timeout=timeout)
        elif not dist.is_initialized():
            dist.init_process_group("nccl" if use_cuda else "gloo", timeout=timeout)
        self.dist = dist

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        self.dist.barrier()

    def mean(self, values: list[float]) -> list[float]:
        return [v / self.world_size for v in self.sum(values)]

    def sum(self, values: list[float]) -> list[float]:
        import torch

        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        self.dist.all_reduce(t)
        return t.tolist()


def param_groups(model: Any, weight_decay: float) -> list[dict[str, Any]]:
    """HF Trainer's split: no weight decay on biases and normalisation layers."""
    no_decay: set[str] = set()
    for mod_name, module in model.named_modules():
        if "norm" in type(module).__name__.lower():
            no_decay.update(f"{mod_name}.{n}" if mod_name else n
                            for n, _ in module.named_parameters(recurse=False))
    decay, plain = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (plain if name in no_decay or name.endswith("bias") else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": plain, "weight_decay": 0.0}]


class PretrainEngine(ABC):
    """One model being trained: ``wrapped`` runs the forward (DeepSpeed's engine, DDP or the
    module itself), ``module`` is the bare network (state dicts, pictures, export)."""

    module: "torch.nn.Module"
    wrapped: Any
    scheduler: Any

    def __init__(self, args: "PretrainArgs", dist: Dist) -> None:
        import torch

        self.torch = torch
        self.args = args
        self.dist = dist

    def _adamw(self, groups: list[dict[str, Any]]) -> Any:
        a = self.args
        return self.torch.optim.AdamW(groups, lr=a.lr, betas=(a.adam_beta1, a.adam_beta2),
                                      eps=a.adam_eps)

    # -- a step ---------------------------------------------------------------------------------
    @abstractmethod
    def to_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        """The batch on this rank's device, in the dtype the forward expects."""

    def forward(self, batch: dict[str, Any]) -> Any:
        """The loss of one micro batch (and the model output)."""
        with self.autocast():
            out = self.wrapped(**batch)
        if out.loss is None:
            raise ConfigError(f"model {self.args.model!r}: the pretraining forward returned no "
                              "loss")
        return out.loss, out

    @abstractmethod
    def micro_step(self, batch: dict[str, Any], last: bool) -> Any:
        """Forward and backward of one micro batch (``last``: the optimizer step follows);
        returns the unscaled loss."""

    @abstractmethod
    def optimizer_step(self) -> None:
        """After ``grad_accum`` micro steps: clip, step optimizer and schedule, clear grads."""

    def current_lr(self) -> float:
        return float(self.scheduler.get_last_lr()[0])

    def autocast(self) -> Any:
        """The precision context of a forward pass outside the engine (pictures)."""
        return contextlib.nullcontext()

    def picture_model(self) -> Any:
        """A network to draw reconstructions with (may be a copy), or None when it cannot be
        drawn from here."""
        return self.module

    # -- state ----------------------------------------------------------------------------------
    @abstractmethod
    def save(self, directory: Path, step: int) -> None:
        """Called on every rank: write the engine's state into the checkpoint ``directory``."""

    @abstractmethod
    def load(self, directory: Path) -> None:
        """Restore the engine's state from the checkpoint ``directory``."""

    @abstractmethod
    def fp32_state(self, last_checkpoint: Path) -> dict[str, Any]:
        """The trained weights in fp32, by state-dict name (rank 0 only)."""


class DeepSpeedEngine(PretrainEngine):
    """``deepspeed.initialize`` with our AdamW and schedule; DeepSpeed accumulates gradients
    (``engine.step`` at every micro batch acts at the boundary), clips and casts."""

    def __init__(self, args: "PretrainArgs", dist: Dist, model: Any,
                 ds_config: dict[str, Any]) -> None:
        super().__init__(args, dist)
        import deepspeed

        optimizer = self._adamw(param_groups(model, args.weight_decay))
        scheduler = make_scheduler(optimizer, args)
        self.wrapped, self.optimizer, _, self.scheduler = deepspeed.initialize(
            model=model, optimizer=optimizer, lr_scheduler=scheduler, config=ds_config,
            dist_init_required=False)
        self.module = self.wrapped.module
        self.model_dtype = next(self.module.parameters()).dtype
        self.zero_stage = int(ds_config.get("zero_optimization", {}).get("stage", 0))

    def to_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for k, v in batch.items():
            v = v.to(self.dist.device, non_blocking=True)
            if v.is_floating_point():
                # DeepSpeed bf16/fp16 holds half-precision weights (as the HF Trainer does)
                v = v.to(self.model_dtype)
            out[k] = v
        return out

    def micro_step(self, batch: dict[str, Any], last: bool) -> Any:
        loss, _ = self.forward(batch)
        self.wrapped.backward(loss)
        self.wrapped.step()
        return loss

    def optimizer_step(self) -> None:
        return None  # done by the engine's step at the accumulation boundary

    def picture_model(self) -> Any:
        if self.zero_stage >= 3:  # partitioned parameters: no whole network on any rank
            return None
        import copy

        return copy.deepcopy(self.module).float()  # draw with fp32, not the bf16/fp16 weights

    def save(self, directory: Path, step: int) -> None:
        self.wrapped.save_checkpoint(str(directory.parent), tag=directory.name,
                                     save_latest=False, client_state={"step": step})

    def load(self, directory: Path) -> None:
        # DeepSpeed's own files are pickles: read through the restricted unpickler
        make_deepspeed_loads_safe(self.wrapped)
        path, _client = self.wrapped.load_checkpoint(str(directory.parent), tag=directory.name)
        if path is None:
            raise CheckpointError(f"DeepSpeed could not load the checkpoint in {directory}")

    def fp32_state(self, last_checkpoint: Path) -> dict[str, Any]:
        from .ds_export import deepspeed_fp32_state

        # ZeRO 1-3: zero_to_fp32 over the checkpoint (+ frozen parameters); ZeRO 0: the
        # optimizer's fp32 masters in memory (the same state as last_checkpoint)
        return deepspeed_fp32_state(self.wrapped, last_checkpoint)


class TorchEngine(PretrainEngine):
    """fp32 weights, autocast to bf16/fp16 (GradScaler for fp16), DDP across ranks."""

    def __init__(self, args: "PretrainArgs", dist: Dist, model: Any) -> None:
        super().__init__(args, dist)
        torch = self.torch
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16,
                          "fp32": None}[args.precision]
        model.to(dist.device)
        self.module = model
        if dist.world_size > 1:
            ddp_kwargs = ({"device_ids": [dist.device.index]}
                          if dist.device.type == "cuda" else {})
            # Buffers here are constants (position ids, sin-cos tables), identical on every
            # rank; some are expanded views that DDP's buffer broadcast cannot write into.
            self.wrapped = torch.nn.parallel.DistributedDataParallel(
                model, broadcast_buffers=False, **ddp_kwargs)
        else:
            self.wrapped = model
        self.optimizer = self._adamw(param_groups(model, args.weight_decay))
        self.scheduler = make_scheduler(self.optimizer, args)
        self.scaler = torch.amp.GradScaler("cuda") if args.precision == "fp16" else None

    def to_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        return {k: v.to(self.dist.device, non_blocking=True) for k, v in batch.items()}

    def autocast(self) -> Any:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return self.torch.autocast(self.dist.device.type, dtype=self.amp_dtype)

    def micro_step(self, batch: dict[str, Any], last: bool) -> Any:
        # DDP all-reduces gradients in backward: only at the last micro batch of a step
        sync = last or self.dist.world_size == 1
        ctx = self.wrapped.no_sync() if not sync else contextlib.nullcontext()
        with ctx:
            loss, _ = self.forward(batch)
            scaled = loss.float() / self.args.grad_accum
            if self.scaler is not None:
                self.scaler.scale(scaled).backward()
            else:
                scaled.backward()
        return loss

    def optimizer_step(self) -> None:
        args = self.args
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        if args.grad_clip and args.grad_clip > 0:
            self.torch.nn.utils.clip_grad_norm_(self.module.parameters(), args.grad_clip)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)

    def save(self, directory: Path, step: int) -> None:
        if not self.dist.is_main:  # DDP: every rank holds the same weights
            return
        save_state({"model": self.module.state_dict(),
                    "optimizer": self.optimizer.state_dict(),
                    "scheduler": self.scheduler.state_dict(),
                    "scaler": self.scaler.state_dict() if self.scaler else None},
                   directory, ENGINE_STATE)

    def load(self, directory: Path) -> None:
        blob = read_state(directory, ENGINE_STATE)
        self.module.load_state_dict(blob["model"])
        self.optimizer.load_state_dict(blob["optimizer"])
        self.scheduler.load_state_dict(blob["scheduler"])
        if self.scaler is not None and blob.get("scaler"):
            self.scaler.load_state_dict(blob["scaler"])

    def fp32_state(self, last_checkpoint: Path) -> dict[str, Any]:
        torch = self.torch
        return {k: v.detach().to("cpu", torch.float32) if v.is_floating_point() else v
                for k, v in self.module.state_dict().items()}


def make_engine(args: "PretrainArgs", dist: Dist, model: Any,
                ds_config: dict[str, Any] | None) -> PretrainEngine:
    """The engine ``args.engine`` names, around ``model``, in training mode."""
    if args.engine == "deepspeed":
        engine: PretrainEngine = DeepSpeedEngine(args, dist, model, ds_config or {})
    else:
        engine = TorchEngine(args, dist, model)
    engine.wrapped.train()
    return engine
