"""What the pretraining code calls on a model adapter is the declared PretrainingAdapter
contract (pixel_bench/modeling/contracts.py), called plainly: no hasattr/signature probing."""

from __future__ import annotations

import numpy as np
import pytest

from pixel_bench.errors import ConfigError
from pixel_bench.registry import MODELS
from pixel_bench.train.pretrain_args import PretrainArgs
from pixel_bench.train.pretrain_plan import (Featurizer, Plan, get_adapter, mask_generator_for,
                                             renderer_for)

MODEL = "pixar-tiny"


def test_a_model_without_the_contract_is_refused_naming_those_with_it():
    with pytest.raises(ConfigError) as err:
        get_adapter("bert-tiny")
    msg = str(err.value)
    assert "'bert-tiny'" in msg and "not a PretrainingAdapter" in msg
    assert "pixar-tiny" in msg and "pixel-tiny" in msg and "pixar2024-tiny" in msg
    assert "bert-tiny," not in msg


def test_build_model_passes_every_declared_argument(monkeypatch):
    """checkpoint, from_scratch and max_seq_length (in model positions) always go through."""
    pytest.importorskip("torch")
    from pixel_bench.train.pretrain import Trainer

    adapter = MODELS.get(MODEL)
    calls = []
    monkeypatch.setattr(type(adapter), "build_pretraining",
                        lambda self, **kw: calls.append(kw) or "net")
    monkeypatch.setattr(type(adapter), "num_positions", lambda self, n: n + 1)
    args = PretrainArgs(model=MODEL, output_dir="-", max_seq_length=64)
    name, cfg = renderer_for(adapter, args)
    assert Trainer(Plan(args, name, cfg, None, None), dist=None).build_model() == "net"
    assert calls == [{"checkpoint": None, "from_scratch": True, "max_seq_length": 65}]
    args = PretrainArgs(model=MODEL, output_dir="-", max_seq_length=64, init_from="ckpt")
    Trainer(Plan(args, name, cfg, None, None), dist=None).build_model()
    assert calls[1] == {"checkpoint": "ckpt", "from_scratch": False, "max_seq_length": 65}


def test_mask_generator_is_the_adapters_and_draws_from_the_example_rng(monkeypatch):
    adapter = MODELS.get(MODEL)
    asked, drawn = [], []

    def generator(num_text_patches, rng=None):
        drawn.append((num_text_patches, rng))
        return rng.integers(0, 2, size=8)

    monkeypatch.setattr(type(adapter), "num_positions", lambda self, n: n * 2)
    monkeypatch.setattr(type(adapter), "pretraining_mask_generator",
                        lambda self, num, mask_ratio=0.25: asked.append((num, mask_ratio))
                        or generator)
    args = PretrainArgs(model=MODEL, output_dir="-", max_seq_length=64, mask_ratio=0.4)
    _name, cfg = renderer_for(adapter, args)
    gen = mask_generator_for(adapter, cfg, args)
    assert gen is generator and asked == [(128, 0.4)]

    class Fixed:
        def features(self, encoding):
            return {"attention_mask": np.array([1, 1, 1, 0])}

    rng = np.random.default_rng(5)
    feats = Featurizer(Fixed(), gen)(object(), rng)
    assert drawn == [(3, rng)]  # the attended patches, and the example's own generator
    assert np.array_equal(feats["patch_mask"],
                          np.random.default_rng(5).integers(0, 2, size=8).astype(np.float32))
    # a generator without the declared rng argument is an error, not silently re-seeded
    with pytest.raises(TypeError):
        Featurizer(Fixed(), lambda n: np.zeros(8))(object(), rng)
    # no mask generator: the model masks by itself
    monkeypatch.setattr(type(adapter), "pretraining_mask_generator",
                        lambda self, num, mask_ratio=0.25: None)
    assert mask_generator_for(adapter, cfg, args) is None
    assert "patch_mask" not in Featurizer(Fixed(), None)(object(), rng)


def test_a_picture_is_drawn_through_the_engine(tmp_path, monkeypatch):
    """Pictures use the engine's picture network and precision context; a failure there would
    only be a warning, so the file itself is checked."""
    pytest.importorskip("torch")
    from pixel_bench.train.pretrain import run_pretraining

    monkeypatch.setenv("PIXEL_BENCH_THREADS", "1")
    corpus = tmp_path / "c.txt"
    corpus.write_text("A short line of text for the picture corpus.\n" * 40, "utf-8")
    out = tmp_path / "run"
    run_pretraining(PretrainArgs(model=MODEL, output_dir=str(out), data=str(corpus),
                                 engine="torch", max_steps=1, max_seq_length=64, batch_size=2,
                                 num_workers=0, picture_steps=1, save_steps=1,
                                 min_text_patches=4, block_lines=32, warmup_steps=0))
    from PIL import Image

    picture = out / "pictures" / "step-0000001.png"
    assert picture.is_file()
    assert Image.open(picture).size[0] > 100
