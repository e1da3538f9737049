"""``pixel-bench run`` checks the renderer settings (from the recipe, ``--set`` or a checkpoint)
before any training: a canvas wider than the backend can draw stops with the largest
``max_seq_length`` that fits, and no cell folder or record is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pixel_bench.errors import ConfigError

RTE = "index\tsentence1\tsentence2\tlabel\n" + "".join(
    f"{i}\tA cat sat .\tA cat {'sat' if i % 2 else 'ran'} .\t"
    f"{'entailment' if i % 2 else 'not_entailment'}\n" for i in range(4))


@pytest.mark.parametrize("model, length, message", [
    ("pixel-tiny", 5000, "maximum max_seq_length at 16 px patches is 4096"),  # RTE: pygame
    ("pixar-tiny", 5000, "maximum max_seq_length at 8 px patches is 4095"),
])
def test_run_refuses_bad_renderer_settings(model: str, length: int, message: str, tmp_path: Path,
                                           shared: Path) -> None:
    from pixel_bench.cli.app import app

    (tmp_path / "RTE").mkdir()
    for name in ("train.tsv", "dev.tsv"):
        (tmp_path / "RTE" / name).write_text(RTE)
    results = tmp_path / "results"
    out = CliRunner().invoke(app, ["run", "--model", model, "--task", "rte", "--from-scratch",
                                   "--data-dir", str(tmp_path / "RTE"), "--max-steps", "1",
                                   "--set", f"max_seq_length={length}",
                                   "--results", str(results)])
    assert isinstance(out.exception, ConfigError), out.output
    assert message in str(out.exception)
    assert not list(results.rglob("record.json"))


def test_pretrain_refuses_a_canvas_too_wide_before_launch(tmp_path: Path, shared: Path) -> None:
    """``pretrain`` validates before any process starts; the renderer is only built inside the
    data-loader workers, so the canvas limit is checked in ``validate`` itself."""
    from pixel_bench.train.pretrain import PretrainArgs, validate

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("A line of text.\n" * 4)
    args = PretrainArgs(model="pixar-tiny", output_dir=str(tmp_path / "run"), data=str(corpus),
                        engine="torch", max_seq_length=5000, precision="fp32", device="cpu")
    with pytest.raises(ConfigError, match="maximum max_seq_length at 8 px patches is"):
        validate(args, world_size=1)
    assert not (tmp_path / "run").exists()
