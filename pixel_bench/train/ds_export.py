"""The fp32 weights of a DeepSpeed-trained model, for every ZeRO stage (0-3).

With bf16/fp16 the module holds half-precision copies; the weights that are trained are the fp32
"master" copies kept by DeepSpeed's optimizer. Where they live depends on the stage:

* **ZeRO 1-3**: partitioned across ranks; ``utils.zero_to_fp32`` rebuilds them from the
  checkpoint's optimizer shards. It covers only the parameters the optimizer holds (and the
  tied ones DeepSpeed lists as ``shared_params``). Frozen parameters (``requires_grad=False``,
  e.g. PIXAR's unused GPT-2 token table, PIXEL's sin-cos position tables) are stored separately
  only from stage 2 on (DeepSpeed writes ``frozen_param_shapes`` when gradients are
  partitioned); at stage 1 they are only in the checkpoint's module state, which holds every
  parameter whole. They are taken from there.
* **ZeRO 0**: nothing is partitioned and ``zero_to_fp32`` does not apply (the checkpoint has no
  ``param_shapes``). Every rank holds the whole model; the fp32 masters are in DeepSpeed's
  mixed-precision wrapper (``FP16_UnfusedOptimizer``, used for bf16 and fp16 without ZeRO
  around a torch optimizer), paired group by group with the module's half-precision
  parameters (exporting the module itself would round every weight to bf16). With
  ``--precision fp32`` the module parameters are the trained weights themselves.

Each result maps every key of ``module.state_dict()`` to a CPU tensor (floating point: fp32).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import CheckpointError
from .safe_state import safe_module_loads, safe_torch_load

MODEL_STATES = "mp_rank_00_model_states.pt"  # rank 0's module state (DeepSpeed's file name)


def _cpu_fp32(t: Any) -> Any:
    import torch

    t = t.detach().to("cpu")
    return t.to(torch.float32) if t.is_floating_point() else t


def zero_stage(engine: Any) -> int:
    return int(engine.zero_optimization_stage())


def fp32_state_from_zero_checkpoint(checkpoint: Path, frozen: set[str]) -> dict[str, Any]:
    """ZeRO 1-3: ``zero_to_fp32`` over ``checkpoint`` (read with the restricted unpickler),
    plus the frozen parameters ``frozen`` it leaves out (stage 1) from the module state."""
    from deepspeed.utils import zero_to_fp32

    with safe_module_loads(zero_to_fp32):  # it calls torch.load(weights_only=False)
        state = zero_to_fp32.get_fp32_state_dict_from_zero_checkpoint(
            str(checkpoint.parent), tag=checkpoint.name)
    absent = sorted(frozen - set(state))
    if absent:
        module = safe_torch_load(checkpoint / MODEL_STATES, map_location="cpu").get("module")
        if not isinstance(module, dict):
            raise CheckpointError(f"{checkpoint / MODEL_STATES}: no module state to take the "
                                  f"frozen parameters {absent[:5]} from")
        for name in absent:
            value = module.get(name)
            if value is None or value.numel() == 0:  # ZeRO-3 placeholders are empty
                raise CheckpointError(f"{checkpoint}: frozen parameter {name!r} is neither in "
                                      f"the ZeRO shards nor whole in {MODEL_STATES}")
            state[name] = value
    return {k: _cpu_fp32(v) for k, v in state.items()}


def fp32_state_without_zero(engine: Any) -> dict[str, Any]:
    """ZeRO 0: the module state with every trained parameter replaced by its fp32 master."""
    import torch

    module = engine.module
    state = {k: _cpu_fp32(v) for k, v in module.state_dict().items()}
    optimizer = engine.optimizer
    low = getattr(optimizer, "fp16_groups", None)
    if low is not None and hasattr(optimizer, "fp32_groups"):
        # FP16_UnfusedOptimizer (the wrapper DeepSpeed puts around a torch optimizer such as
        # ours for bf16/fp16 without ZeRO): per group, fp16_groups[i][j] <- fp32_groups[i][j]
        masters = [list(g) for g in optimizer.fp32_groups]
    else:
        dtypes = {p.dtype for p in module.parameters() if p.requires_grad}
        if dtypes - {torch.float32}:
            raise CheckpointError(
                f"cannot find the fp32 master weights of DeepSpeed's "
                f"{type(optimizer).__name__} (ZeRO stage 0, {sorted(map(str, dtypes))} "
                "module): this optimizer wrapper is not supported for the final export")
        return state  # fp32 training: the module's parameters are the trained weights
    # the module's state-dict keys of each parameter object (tied parameters have several)
    names: dict[int, list[str]] = {}
    for name, p in module.named_parameters(remove_duplicate=False):
        names.setdefault(id(p), []).append(name)
    for group_low, group_master in zip(low, masters):
        if len(group_low) != len(group_master):
            raise CheckpointError(f"DeepSpeed {type(optimizer).__name__}: a parameter group "
                                  f"has {len(group_low)} weights but {len(group_master)} fp32 "
                                  "masters")
        for p, master in zip(group_low, group_master):
            if p.shape != master.shape or id(p) not in names:
                raise CheckpointError(f"DeepSpeed {type(optimizer).__name__}: an fp32 master "
                                      f"of shape {tuple(master.shape)} does not match the "
                                      "module's parameters")
            for name in names[id(p)]:
                state[name] = _cpu_fp32(master).clone()
    return state


def deepspeed_fp32_state(engine: Any, checkpoint: Path) -> dict[str, Any]:
    """The trained fp32 weights of ``engine`` (rank 0 only; ``checkpoint`` is the checkpoint
    just written or resumed from, holding the same state)."""
    if zero_stage(engine) == 0:
        return fp32_state_without_zero(engine)
    frozen = {n for n, p in engine.module.named_parameters(remove_duplicate=False)
              if not p.requires_grad}
    return fp32_state_from_zero_checkpoint(checkpoint, frozen)
