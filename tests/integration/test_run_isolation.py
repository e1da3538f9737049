"""Cells run one after another in one process give the same records as each cell in its own
process: nothing a run resolves (recipe, bound adapter, renderer) leaks into the next one.

PixelGPT is the case that used to leak: binding a recipe's ``max_seq_length`` changed the
registered ``pixelgpt-tiny`` adapter's crop for the rest of the process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pixel_bench.records import read_record, record_dir

from test_run import data_dir  # noqa: F401 (the tiny RTE data, shared fixture)

#: two cells of one model with different settings, then a text model
CELLS = [("pixelgpt-tiny", ["max_seq_length=48"]),
         ("pixelgpt-tiny", ["max_seq_length=24", "pooling=cls"]),
         ("bert-tiny", ["max_seq_length=20"])]
COMMON = ["per_device_train_batch_size=4", "eval_steps=2", "warmup_steps=0"]
#: record fields that describe the process, not the result
VOLATILE_PROVENANCE = ("time_utc", "command", "hardware")


def _argv(model: str, sets: list[str], data_dir: Path, results: Path) -> list[str]:
    argv = ["run", "--model", model, "--task", "rte", "--data-dir", str(data_dir),
            "--max-steps", "2", "--seeds", "3", "--results", str(results)]
    for item in COMMON + sets:
        argv += ["--set", item]
    return argv


def _comparable(results: Path, model: str) -> dict:
    cell = record_dir(results, model, "rte", 3)
    rec = read_record(cell / "record.json").to_dict()
    rec.pop("timings")
    for key in VOLATILE_PROVENANCE:
        rec["provenance"].pop(key)
    rec["provenance"]["renderer"].pop("cache_entries", None)  # same content, same name anyway
    rec["train"]["eval_history"] = [{k: v for k, v in h.items()  # wall-clock speed
                                     if not k.endswith(("_runtime", "_per_second"))}
                                    for h in rec["train"]["eval_history"]]
    return {"record": rec, "predictions": (cell / "predictions.jsonl").read_text()}


def test_cells_in_one_process_equal_cells_in_separate_processes(data_dir: Path,
                                                                tmp_path: Path) -> None:
    import torch
    from typer.testing import CliRunner

    from pixel_bench.cli.app import app
    from pixel_bench.registry import MODELS

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the subprocesses below run with one thread too
    try:
        together = []
        for i, (model, sets) in enumerate(CELLS):
            out = CliRunner().invoke(app, _argv(model, sets, data_dir, tmp_path / f"one-{i}"))
            assert out.exit_code == 0, out.output
            together.append(_comparable(tmp_path / f"one-{i}", model))
    finally:
        torch.set_num_threads(threads)
    # the registered entry is untouched by the runs above
    assert MODELS.get("pixelgpt-tiny").crop_patches == 1024

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path.cwd())}
    for i, (model, sets) in enumerate(CELLS):
        results = tmp_path / f"alone-{i}"
        code = ("import sys, torch; torch.set_num_threads(1); "
                "from pixel_bench.cli.app import app; app(sys.argv[1:])")
        proc = subprocess.run([sys.executable, "-c", code, *_argv(model, sets, data_dir, results)],
                              capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        alone = _comparable(results, model)
        assert alone["predictions"] == together[i]["predictions"], model
        a, b = alone["record"], together[i]["record"]
        for key in a:
            assert a[key] == b[key], (model, sets, key, json.dumps(a[key], default=str)[:500],
                                      json.dumps(b[key], default=str)[:500])
    # the settings really differ between the two PixelGPT cells
    lengths = [t["record"]["config"]["lengths"] for t in together]
    assert lengths[0] != lengths[1]
    assert together[1]["record"]["config"]["head"]["pooling"] == "cls"
