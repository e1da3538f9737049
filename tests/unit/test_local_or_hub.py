"""One rule telling a local checkpoint from a Hub repo id (pixel_bench.paths.local_or_hub),
used by --checkpoint, PIXEL / PixelGPT checkpoint loading, checkpoint renderer lookup and
pretraining's --init-from."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixel_bench.errors import CheckpointError
from pixel_bench.paths import local_or_hub


@pytest.mark.parametrize("spec,hub,owner_hub", [
    ("Team-PIXEL/pixel-base", "Team-PIXEL/pixel-base", "Team-PIXEL/pixel-base"),
    ("gpt2", "gpt2", None),  # legacy top-level ids exist for text models, not PIXEL ones
    ("./runs/ckpt", None, None),
    ("/no/such/dir", None, None),
    ("~/no-such-dir-pixel-bench", None, None),
    ("runs/a/checkpoint", None, None),  # more than one '/': a path
    (".hidden/x", None, None),
    ("my model", None, None),
])
def test_missing_specs_are_hub_ids_or_missing_paths(spec: str, hub: str | None,
                                                    owner_hub: str | None) -> None:
    assert local_or_hub(spec) == (None, hub)
    assert local_or_hub(spec, owner_required=True) == (None, owner_hub)


def test_an_existing_path_is_local_even_if_it_looks_like_a_hub_id(tmp_path: Path,
                                                                  monkeypatch) -> None:
    (tmp_path / "org" / "name").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert local_or_hub("org/name") == (Path("org/name"), None)


def test_init_from_nested_missing_path_is_an_error_not_a_hub_id(tmp_path: Path) -> None:
    """pretrain --init-from used to wave 'runs/a/ckpt' through as a hub id ('/' in it, no
    leading '.', '/' or '~'); the adapter then failed later with a hub error."""
    from pixel_bench.train.pretrain import check_init_checkpoint

    with pytest.raises(CheckpointError, match="--init-from: checkpoint directory not found"):
        check_init_checkpoint("runs/a/ckpt", "pixel")
    assert check_init_checkpoint("Team-PIXEL/pixel-base", "pixel") is None


def test_pixel_resolve_checkpoint_messages(tmp_path: Path) -> None:
    from pixel_bench.modeling.pixel.loading import resolve_checkpoint

    assert resolve_checkpoint(tmp_path) == tmp_path
    (tmp_path / "f.bin").write_bytes(b"")
    with pytest.raises(CheckpointError, match="is a file; pass the directory"):
        resolve_checkpoint(tmp_path / "f.bin")
    with pytest.raises(CheckpointError, match="checkpoint directory not found"):
        resolve_checkpoint("pixel-base")  # a model name, not an owner/name repo
