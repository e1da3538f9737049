from __future__ import annotations

import json
from pathlib import Path

import pytest

from pixel_bench.records import (RecordError, ResultRecord, has_record, iter_records, read_record,
                                 write_record)


def _record(seed: int = 1) -> ResultRecord:
    return ResultRecord(model="pixel-tiny", task="pos", seed=seed,
                        metrics={"validation": {"accuracy": 0.5}}, main_metric="accuracy")


def test_round_trip_and_layout(tmp_path: Path) -> None:
    path = write_record(_record(), tmp_path)
    assert path == tmp_path / "pixel-tiny" / "pos" / "seed-1" / "record.json"
    back = read_record(path)
    assert back == _record()
    assert back.main_score() == 0.5
    assert has_record(tmp_path, "pixel-tiny", "pos", 1)
    assert not list(path.parent.glob("*.tmp"))  # atomic write leaves no temp file


def test_bad_records_are_reported_not_raised(tmp_path: Path) -> None:
    write_record(_record(1), tmp_path)
    bad = tmp_path / "pixel-tiny" / "pos" / "seed-2" / "record.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"schema_version": 1, "model": "x"')  # truncated
    future = tmp_path / "pixel-tiny" / "pos" / "seed-3" / "record.json"
    future.parent.mkdir(parents=True)
    future.write_text(json.dumps({**_record(3).to_dict(), "schema_version": 99}))
    results = dict(iter_records(tmp_path))
    assert isinstance(results[bad], RecordError) and "truncated" in str(results[bad])
    assert isinstance(results[future], RecordError) and "schema_version 99" in str(results[future])
    good = [r for r in results.values() if isinstance(r, ResultRecord)]
    assert [r.seed for r in good] == [1]


def test_missing_field_is_named(tmp_path: Path) -> None:
    data = _record().to_dict()
    del data["main_metric"]
    with pytest.raises(RecordError, match="main_metric"):
        ResultRecord.from_dict(data, source="x.json")
