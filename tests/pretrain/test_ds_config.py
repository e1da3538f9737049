"""DeepSpeed config generation and validation, precision checks, LR schedule, param groups."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pixel_bench.errors import ConfigError
from pixel_bench.train.ds_config import (check_precision, default_ds_config_path,
                                         fill_ds_config, load_ds_config, validate_ds_config)
from pixel_bench.train.pretrain import lr_at


def _filled(**kw):
    raw, src = load_ds_config(None)
    args = dict(micro_batch_size=4, grad_accum=2, world_size=2, grad_clip=1.0, precision="bf16",
                source=src, on_gpu=False)
    args.update(kw)
    return fill_ds_config(raw, **args)


def test_shipped_zero2_json_fills_and_validates():
    assert default_ds_config_path().is_file()
    cfg = _filled()
    assert cfg["train_micro_batch_size_per_gpu"] == 4
    assert cfg["gradient_accumulation_steps"] == 2
    assert cfg["train_batch_size"] == 16
    assert cfg["gradient_clipping"] == 1.0
    assert cfg["bf16"]["enabled"] is True and cfg["fp16"]["enabled"] is False
    assert cfg["zero_optimization"]["stage"] == 2
    pytest.importorskip("deepspeed")
    validate_ds_config(cfg, world_size=2)


def test_zero_stage_override_and_bad_stage():
    assert _filled(zero_stage=3)["zero_optimization"]["stage"] == 3
    with pytest.raises(ConfigError, match="--zero-stage"):
        _filled(zero_stage=5)


def test_fp16_on_cpu_is_refused_clearly():
    with pytest.raises(ConfigError, match="fp16 needs a GPU"):
        check_precision("fp16", on_gpu=False)
    with pytest.raises(ConfigError, match="fp16 needs a GPU"):
        _filled(precision="fp16")
    check_precision("fp16", on_gpu=True)
    with pytest.raises(ConfigError, match="bf16, fp16, fp32"):
        check_precision("fp8", on_gpu=False)


def test_explicit_values_that_contradict_the_command_line(tmp_path: Path):
    path = tmp_path / "ds.json"
    path.write_text(json.dumps({"train_micro_batch_size_per_gpu": 8, "zero_optimization":
                                {"stage": 2}}))
    raw, src = load_ds_config(path)
    with pytest.raises(ConfigError, match="train_micro_batch_size_per_gpu.*8.*4"):
        fill_ds_config(raw, micro_batch_size=4, grad_accum=1, world_size=1, grad_clip=1.0,
                       precision="bf16", source=src, on_gpu=False)


def test_invalid_configs_name_the_file_and_key(tmp_path: Path):
    pytest.importorskip("deepspeed")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"zero_optimization": {"stage": 2, "overlap_commm": True}}))
    raw, src = load_ds_config(bad)
    cfg = fill_ds_config(raw, micro_batch_size=2, grad_accum=1, world_size=1, grad_clip=1.0,
                         precision="bf16", source=src, on_gpu=False)
    with pytest.raises(ConfigError, match=r"bad\.json.*overlap_commm"):
        validate_ds_config(cfg, source=src)
    with pytest.raises(ConfigError, match="train_batch_size 3"):
        validate_ds_config({"train_batch_size": 3, "train_micro_batch_size_per_gpu": 2,
                            "gradient_accumulation_steps": 1}, world_size=1)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_ds_config(broken)
    with pytest.raises(ConfigError, match="not found"):
        load_ds_config(tmp_path / "missing.json")
    with_opt = tmp_path / "opt.json"
    with_opt.write_text(json.dumps({"optimizer": {"type": "Adam"}}))
    raw, src = load_ds_config(with_opt)
    with pytest.raises(ConfigError, match="optimizer"):
        fill_ds_config(raw, micro_batch_size=2, grad_accum=1, world_size=1, grad_clip=1.0,
                       precision="bf16", source=src, on_gpu=False)


def test_schedule_warmup_then_cosine_to_min_lr():
    kw = dict(peak=1.5e-4, min_lr=1e-5, warmup=10, total=110)
    assert lr_at(0, **kw) == 0.0
    assert lr_at(5, **kw) == pytest.approx(0.75e-4)
    assert lr_at(10, **kw) == pytest.approx(1.5e-4)
    assert lr_at(60, **kw) == pytest.approx(1e-5 + (1.5e-4 - 1e-5) * 0.5)
    assert lr_at(110, **kw) == pytest.approx(1e-5)
    assert lr_at(500, **kw) == pytest.approx(1e-5)
    values = [lr_at(s, **kw) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(values, values[1:]))
    assert not math.isnan(lr_at(3, peak=1.0, min_lr=0.0, warmup=0, total=0))


def test_param_groups_skip_decay_on_bias_and_norms():
    torch = pytest.importorskip("torch")
    from pixel_bench.train.pretrain import param_groups

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    decay, plain = param_groups(model, 0.05)
    assert decay["weight_decay"] == 0.05 and len(decay["params"]) == 1
    assert plain["weight_decay"] == 0.0 and len(plain["params"]) == 3


def test_pretrain_config_file_and_overrides(tmp_path: Path):
    from pixel_bench.train.pretrain import PretrainArgs

    cfg = tmp_path / "run.yaml"
    cfg.write_text("model: pixar-tiny\noutput_dir: out\nmax_steps: 50\nlr: 0.001\n")
    args = PretrainArgs.from_file(cfg, max_steps=7)
    assert (args.model, args.max_steps, args.lr) == ("pixar-tiny", 7, 0.001)
    cfg.write_text("model: pixar-tiny\nmax_stepz: 5\n")
    with pytest.raises(ConfigError, match="max_stepz"):
        PretrainArgs.from_file(cfg)
    cfg.write_text("max_steps: 5\n")
    with pytest.raises(ConfigError, match="model"):
        PretrainArgs.from_file(cfg)
