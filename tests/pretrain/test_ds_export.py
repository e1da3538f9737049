"""The DeepSpeed export on a toy model with a tied and a frozen parameter, at ZeRO 0 and 1 (the
stages ``zero_to_fp32`` alone gets wrong): every state-dict key comes back, tied keys share
their value, trained weights are the fp32 masters and frozen ones the module's values. (The
real models go through the same code in test_pretrain_engine.py's exact-resume test.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
deepspeed = pytest.importorskip("deepspeed")


class Toy(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(16, 8)
        self.norm = torch.nn.LayerNorm(8)
        self.head = torch.nn.Linear(8, 16, bias=False)
        self.head.weight = self.emb.weight  # tied: one Parameter, two state-dict keys
        self.table = torch.nn.Parameter(torch.randn(4, 8), requires_grad=False)  # frozen

    def forward(self, ids):
        h = self.norm(self.emb(ids)) + self.table.mean(0)
        return torch.nn.functional.cross_entropy(self.head(h).float().flatten(0, 1),
                                                 ids.flatten())


@pytest.fixture(autouse=True)
def _one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    if "TORCH_EXTENSIONS_DIR" not in os.environ:  # DeepSpeed's shm_comm build, once per machine
        monkeypatch.setenv("TORCH_EXTENSIONS_DIR",
                           str(Path.home() / ".cache" / "pixel-bench" / "torch_extensions"))
    from pixel_bench.train.pretrain import ensure_dist_env

    ensure_dist_env()
    deepspeed.init_distributed()


@pytest.mark.parametrize("stage", [0, 1])
def test_export_keeps_tied_and_frozen_parameters(tmp_path: Path, stage: int):
    from deepspeed.utils import safe_get_full_fp32_param

    from pixel_bench.train.ds_export import deepspeed_fp32_state

    torch.manual_seed(0)
    model = Toy()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    engine, *_ = deepspeed.initialize(model=model, optimizer=optimizer, config={
        "train_micro_batch_size_per_gpu": 2, "train_batch_size": 2, "bf16": {"enabled": True},
        "zero_optimization": {"stage": stage}, "zero_allow_untested_optimizer": True})
    for _ in range(3):
        engine.backward(engine(torch.randint(0, 16, (2, 5))))
        engine.step()
    engine.save_checkpoint(str(tmp_path), tag="last", save_latest=False)

    state = deepspeed_fp32_state(engine, tmp_path / "last")

    module = engine.module.state_dict()
    assert state.keys() == module.keys()
    assert all(v.dtype == torch.float32 and v.device.type == "cpu" for v in state.values())
    assert torch.equal(state["head.weight"], state["emb.weight"])
    assert torch.equal(state["table"], module["table"].float())  # frozen: as the model holds it
    opt = engine.optimizer
    if stage == 0:  # DeepSpeed's wrapper pairs the module's bf16 weights with fp32 masters
        names = {id(p): n for n, p in engine.module.named_parameters()}
        masters = {names[id(p)]: q for lo, hi in zip(opt.fp16_groups, opt.fp32_groups)
                   for p, q in zip(lo, hi)}
    else:
        masters = {n: safe_get_full_fp32_param(p) for n, p in engine.module.named_parameters()
                   if p.requires_grad}
    assert set(masters) == {"emb.weight", "norm.weight", "norm.bias"}
    for name, master in masters.items():
        assert torch.equal(state[name], master.detach().float().cpu()), name
        assert torch.equal(state[name].to(torch.bfloat16), module[name]), name
    assert not torch.equal(state["emb.weight"], module["emb.weight"].float())  # not the bf16 copy
