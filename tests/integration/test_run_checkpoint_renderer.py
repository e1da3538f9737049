"""``pixel-bench run --checkpoint DIR`` renders with the renderer settings and font shipped in DIR
(``text_renderer_config.json`` + font file written by the adapter's ``save_pretrained``), for
PIXEL and for thesis PIXAR, instead of the family's default font."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixel_bench.modeling.adapter import TaskKind
from pixel_bench.render.base import file_sha256

RTE_TRAIN = "index\tsentence1\tsentence2\tlabel\n" + "".join(
    f"{i}\tThe cat number {i} sat on the mat .\tA cat {'sat' if i % 2 else 'ran'} .\t"
    f"{'entailment' if i % 2 else 'not_entailment'}\n" for i in range(6))
RTE_DEV = "index\tsentence1\tsentence2\tlabel\n" + "".join(
    f"{i}\tA dog number {i} barked .\tA dog {'barked' if i % 2 else 'slept'} .\t"
    f"{'entailment' if i % 2 else 'not_entailment'}\n" for i in range(4))
L = 32


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    (root / "glue" / "RTE").mkdir(parents=True)
    (root / "glue" / "RTE" / "train.tsv").write_text(RTE_TRAIN)
    (root / "glue" / "RTE" / "dev.tsv").write_text(RTE_DEV)
    return root


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _prepare(model: str, data_dir: Path, checkpoint: Path | None):
    from pixel_bench.runner import prepare

    return prepare(model, "rte", str(data_dir), checkpoint=None if checkpoint is None
                   else str(checkpoint), from_scratch=checkpoint is None,
                   overrides={"max_seq_length": L})


def test_pixel_run_uses_checkpoint_font(fonts: Path, data_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("pygame")
    from pixel_bench.registry import MODELS

    adapter = MODELS.get("pixel-tiny")
    _, default = adapter.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION, L)
    assert Path(default.font_file).name == "NotoSans-Regular.ttf"
    # a checkpoint whose renderer differs from the default: Pixeloid Sans at 9 pt
    font = fonts / "pixeloid" / "PixeloidSans.ttf"
    shipped = default.with_overrides(font_file=str(font), font_size=9)
    ckpt = tmp_path / "ckpt"
    adapter.save_pretrained(adapter.build_pretraining(max_seq_length=L), ckpt, renderer=shipped)
    assert (ckpt / "PixeloidSans.ttf").is_file()

    prep = _prepare("pixel-tiny", data_dir, ckpt)
    name, cfg = prep.renderer
    assert prep.weights == "--checkpoint" and prep.checkpoint == str(ckpt)
    assert name == "pygame"  # rte.yaml's PIXEL renderer; the backend still follows the recipe
    assert cfg.text_renderer_type == "PyGameTextRenderer"
    assert Path(cfg.font_file) == ckpt / "PixeloidSans.ttf" and cfg.font_size == 9
    assert cfg.max_seq_length == L
    assert prep.render_info["font_sha256"] == file_sha256(font)

    base = _prepare("pixel-tiny", data_dir, None)  # no checkpoint: the stand-in font
    assert Path(base.renderer[1].font_file).name == "NotoSans-Regular.ttf"
    assert base.render_info["font_sha256"] != prep.render_info["font_sha256"]
    # the renderings themselves differ (a different cache entry, different pixels)
    assert base.render_info["cache_entries"] != prep.render_info["cache_entries"]


def test_thesis_pixar_run_uses_checkpoint_font(fonts: Path, data_dir: Path,
                                               tmp_path: Path) -> None:
    from pixel_bench.registry import MODELS
    from pixel_bench.render.binary import binary_layout

    adapter = MODELS.get("pixar-tiny")
    _, default = adapter.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION, L)
    assert Path(default.font_file).name == "PixeloidSans.ttf"
    font = fonts / "pixeloid" / "PixeloidMono.ttf"
    ckpt = tmp_path / "ckpt"
    adapter.save_pretrained(adapter.build_pretraining(), ckpt,
                            renderer=binary_layout("thesis", font_file=font))
    assert (ckpt / "PixeloidMono.ttf").is_file() and not (ckpt / "PixeloidSans.ttf").exists()

    # rte.yaml asks thesis PIXAR for pygame: the runner falls back to the model's own renderer,
    # which must still be the checkpoint's
    prep = _prepare("pixar-tiny", data_dir, ckpt)
    name, cfg = prep.renderer
    assert name == "binary" and cfg.binary and cfg.pixels_per_patch == 8
    assert Path(cfg.font_file) == ckpt / "PixeloidMono.ttf" and cfg.max_seq_length == L
    assert prep.render_info["font_sha256"] == file_sha256(font)
    assert "renderer_note" in prep.recipe

    base = _prepare("pixar-tiny", data_dir, None)
    assert Path(base.renderer[1].font_file).name == "PixeloidSans.ttf"
    assert base.render_info["font_sha256"] != prep.render_info["font_sha256"]


def test_checkpoint_renderer_must_fit_the_model(fonts: Path, tmp_path: Path) -> None:
    from pixel_bench.errors import ConfigError
    from pixel_bench.registry import MODELS
    from pixel_bench.render.binary import binary_layout

    grey = tmp_path / "grey"
    binary_layout("thesis", grey=True).save(grey)  # a grey renderer beside a binary model
    with pytest.raises(ConfigError, match="cannot feed pixar-tiny"):
        MODELS.get("pixar-tiny").renderer_config(TaskKind.SEQUENCE_CLASSIFICATION,
                                                 checkpoint=grey)
    (grey / "PixeloidSans.ttf").unlink()  # the font a config names must ship with it
    with pytest.raises(ConfigError, match="font file .*PixeloidSans.ttf is missing"):
        MODELS.get("pixar-enc-span-grey-tiny").renderer_config(TaskKind.SEQUENCE_CLASSIFICATION,
                                                               checkpoint=grey)


@pytest.mark.parametrize("model,length", [("pixar2024-tiny", 64), ("pixelgpt-tiny", 64)])
def test_llama_adapters_read_checkpoint_renderer(model: str, length: int, fonts: Path,
                                                 tmp_path: Path) -> None:
    from pixel_bench.registry import MODELS

    adapter = MODELS.get(model)
    name, default = adapter.renderer_config(TaskKind.TOKEN_CLASSIFICATION, length)
    font = fonts / "pixeloid" / "PixeloidSansBold.ttf"
    assert Path(default.font_file).name != font.name
    default.with_overrides(font_file=str(font), font_size=7).save(tmp_path)
    name2, own = adapter.renderer_config(TaskKind.TOKEN_CLASSIFICATION, length,
                                         checkpoint=tmp_path)
    assert name2 == name and Path(own.font_file) == tmp_path / font.name
    assert own.font_size == 7 and own.max_seq_length == length
    assert own.pixels_per_patch == default.pixels_per_patch
    assert own.text_renderer_type == default.text_renderer_type
