"""The one JSON reader and the one atomic writer (pixel_bench/io_utils.py), and callers that
went through them."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from pixel_bench.errors import CheckpointError, ConfigError, DataError
from pixel_bench.io_utils import atomic_write_text, read_json
from pixel_bench.records import RecordError, read_record


def test_read_json_reads_an_object(tmp_path: Path) -> None:
    f = tmp_path / "a.json"
    f.write_text('{"x": [1, 2]}', encoding="utf-8")
    assert read_json(f, "thing") == {"x": [1, 2]}


def test_read_json_names_path_and_problem(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(ConfigError, match=r"nope\.json: renderer config not found"):
        read_json(missing, "renderer config")
    with pytest.raises(DataError, match=r": is a directory, not a cases file file"):
        read_json(tmp_path, "cases file", DataError)
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1,\n "b": }', encoding="utf-8")
    with pytest.raises(CheckpointError, match=r"bad\.json: checkpoint config is not valid JSON, "
                       r"corrupt or truncated \(Expecting value: line 2 column 7\)"):
        read_json(bad, "checkpoint config", CheckpointError)
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"a": "\xe9"}')
    with pytest.raises(ConfigError, match=r"latin\.json: cannot read DeepSpeed config \(.*utf-8"):
        read_json(latin, "DeepSpeed config")


def test_read_json_checks_the_top_level_type(tmp_path: Path) -> None:
    f = tmp_path / "list.json"
    f.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(RecordError, match=r"list\.json: result record must be a JSON object at "
                       r"the top level, not a JSON array"):
        read_json(f, "result record", RecordError)
    assert read_json(f, "cases file", expect=(dict, list)) == [1, 2]
    assert read_json(f, "anything", expect=None) == [1, 2]


def test_read_record_goes_through_read_json(tmp_path: Path) -> None:
    f = tmp_path / "record.json"
    f.write_text('{"schema_version": 1, "mod', encoding="utf-8")
    with pytest.raises(RecordError, match=r"record\.json: result record is not valid JSON"):
        read_record(f)


def test_pixar_config_that_is_not_an_object_is_a_checkpoint_error(tmp_path: Path) -> None:
    """read_pixar_config used to call .get on whatever the file held (AttributeError on a list)."""
    from pixel_bench.modeling.pixar.loading import read_pixar_config

    (tmp_path / "config.json").write_text("[]", encoding="utf-8")
    with pytest.raises(CheckpointError, match=r"config\.json: checkpoint config must be a JSON "
                       r"object"):
        read_pixar_config(tmp_path)


def test_atomic_write_text_replaces_whole_file_with_open_mode(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.json"  # parent folders are created
    atomic_write_text(target, json.dumps({"v": 1}))
    atomic_write_text(target, "second\n")
    assert target.read_text(encoding="utf-8") == "second\n"
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.json"]  # no temp file left


def test_atomic_write_text_leaves_old_file_and_no_temp_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(target, "bad \udc80 surrogate")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_pretrain_uses_the_shared_writer() -> None:
    """train/pretrain.py had its own copy (fixed temp name per pid, no cleanup on failure)."""
    import pixel_bench.io_utils as io_utils
    import pixel_bench.records as records
    import pixel_bench.train.pretrain as pretrain

    assert pretrain.atomic_write_text is io_utils.atomic_write_text
    assert records.atomic_write_text is io_utils.atomic_write_text
