"""``pixel-bench sweep``: a grid of real tiny cells run by `pixel-bench run` processes, locally (N
workers) and on a real one-node Slurm cluster through submitit (.ci/slurm-up.sh starts it; the
Slurm tests skip, saying why, where it is not up). Same cell identity as `run`: finished
identical cells are skipped, cells of another experiment refuse the sweep before it starts, and
`sweep status` reads records, locks and logs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pixel_bench.errors import CellConflictError, ConfigError
from pixel_bench.records import read_record, record_dir

SEEDS = "1,2"
BASE = ["-m", "pixel-tiny", "-t", "pos", "--limit", "16", "--max-steps", "2",
        "--set", "max_seq_length=64", "--set", "per_device_train_batch_size=4"]
CELL = BASE + ["--seeds", SEEDS]


def _invoke(args: list[str]):
    from typer.testing import CliRunner

    from pixel_bench.cli.app import app

    result = CliRunner().invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def _records(results: Path) -> dict[int, object]:
    return {s: read_record(record_dir(results, "pixel-tiny", "pos", s) / "record.json")
            for s in (1, 2)}


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory, data: Path) -> Path:
    """One local sweep (2 cells, 2 workers), shared by the tests below."""
    results = tmp_path_factory.mktemp("sweep-local")
    out = _invoke(["sweep", *CELL, "--data-dir", str(data), "--results", str(results),
                   "--workers", "2"])
    assert out.exit_code == 0, out.output
    return results


def test_local_sweep_runs_every_cell(local: Path) -> None:
    recs = _records(local)
    assert {s: r.seed for s, r in recs.items()} == {1: 1, 2: 2}
    assert all(r.train["steps"] == 2 and "accuracy" in r.metrics["validation"]
               for r in recs.values())
    logs = sorted((local / ".sweeps" / "sweep" / "logs").iterdir())
    assert [p.name for p in logs] == ["pixel-tiny__pos__seed-1.log", "pixel-tiny__pos__seed-2.log"]
    assert all(p.read_text().rstrip().endswith("pixel-bench sweep: exit status 0") for p in logs)
    # each cell was one `pixel-bench run` with the sweep's options
    assert "run --model pixel-tiny --task pos --seed 1" in logs[0].read_text()


def test_finished_cells_are_skipped(local: Path, data: Path) -> None:
    logs = local / ".sweeps" / "sweep" / "logs"
    before = {p.name: p.read_text() for p in logs.iterdir()}
    out = _invoke(["sweep", *CELL, "--data-dir", str(data), "--results", str(local)])
    assert out.exit_code == 0, out.output
    assert "2 cells (2 done); 0 to run" in out.output
    assert {p.name: p.read_text() for p in logs.iterdir()} == before  # nothing was started


def test_differing_cells_refuse_the_sweep(local: Path, data: Path) -> None:
    logs = local / ".sweeps" / "other" / "logs"
    with pytest.raises(CellConflictError) as err:
        _invoke(["sweep", *CELL, "--set", "learning_rate=0.001", "--data-dir", str(data),
                 "--results", str(local), "--name", "other"])
    text = str(err.value)
    assert "recipe.learning_rate" in text and "seed-1" in text and "seed-2" in text
    assert "Nothing was started" in text and not logs.exists()
    out = _invoke(["sweep", "status", *CELL, "--set", "learning_rate=0.001", "--results",
                   str(local), "--json"])
    assert [json.loads(line)["state"] for line in out.output.splitlines()] == ["differs"] * 2


def test_status_done_running_failed_pending(local: Path, tmp_path: Path, data: Path) -> None:
    from pixel_bench.cells import LOCK_FILE
    from pixel_bench.locks import acquire

    # done: the local sweep's records, read back through the saved spec (--name alone)
    out = _invoke(["sweep", "status", "--name", "sweep", "--results", str(local), "--json"])
    states = {json.loads(x)["cell"]: json.loads(x)["state"] for x in out.output.splitlines()}
    assert states == {"pixel-tiny/pos/seed-1": "done", "pixel-tiny/pos/seed-2": "done"}
    # failed: a real failing `run` (its data folder does not exist); pending: never started
    results = tmp_path / "r"
    out = _invoke(["sweep", *BASE, "--seeds", "3", "--data-dir", str(tmp_path / "nowhere"),
                   "--results", str(results), "--name", "bad"])
    assert out.exit_code == 1, out.output
    lock = acquire(record_dir(results, "pixel-tiny", "pos", 2) / LOCK_FILE, lambda pid: "busy")
    try:
        out = _invoke(["sweep", "status", *BASE, "--seeds", "1,2,3", "--results", str(results),
                       "--name", "bad", "--json"])
    finally:
        lock.release()
    rows = {json.loads(x)["cell"]: json.loads(x) for x in out.output.splitlines()}
    assert rows["pixel-tiny/pos/seed-3"]["state"] == "failed"
    assert "exit status 2" in rows["pixel-tiny/pos/seed-3"]["note"]
    assert "no file for split 'train'" in rows["pixel-tiny/pos/seed-3"]["note"]  # log's error
    assert rows["pixel-tiny/pos/seed-2"]["state"] == "running"
    assert rows["pixel-tiny/pos/seed-1"]["state"] == "pending"


def test_spec_file_and_grid(tmp_path: Path) -> None:
    from pixel_bench.sweep import expand, load_spec, make_spec, run_argv

    spec = tmp_path / "table.yaml"
    spec.write_text("models: [pixel-tiny, pixar-tiny]\ntasks: [pos]\nseeds: [1, 2]\n"
                    "limit: 16\nset: {max_seq_length: 64}\n"
                    "grid: {learning_rate: [1.0e-4, 3.0e-4]}\n")
    s = make_spec(load_spec(spec), results=str(tmp_path / "res"), name="table")
    cells = expand(s)
    assert len(cells) == 8  # 2 grid points x 2 models x 1 task x 2 seeds
    assert {c.results.name for c in cells} == {"learning_rate=0.0001", "learning_rate=0.0003"}
    argv = run_argv(s, cells[0])
    assert argv[:6] == ["run", "--model", "pixel-tiny", "--task", "pos", "--seed"]
    assert "max_seq_length=64" in argv and "learning_rate=0.0001" in argv
    # the command line wins over the file; --set keys are added to the file's
    both = make_spec(load_spec(spec), seeds=[7], sets=["max_seq_length=32", "dropout=0.0"])
    assert both.seeds == [7] and both.sets == {"max_seq_length": 32, "dropout": 0.0}
    spec.write_text("models: [pixel-tiny]\ntasks: [pos]\nsedes: [1]\n")
    with pytest.raises(ConfigError, match=r"table.yaml: unknown key sedes \(did you mean "
                                          r"'seeds'\?\)"):
        load_spec(spec)
    with pytest.raises(ConfigError, match="learning_rate is both fixed"):
        make_spec(None, models=["pixel-tiny"], tasks=["pos"], sets=["learning_rate=1e-4"],
                  grid=["learning_rate=1e-4,2e-4"])
    with pytest.raises(ConfigError, match="unknown recipe key|learning_rat"):
        make_spec(None, models=["pixel-tiny"], tasks=["pos"], grid=["learning_rat=1e-4"])


def test_one_gpu_per_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from pixel_bench import sweep

    s = sweep.make_spec(None, models=["pixel-tiny"], tasks=["pos"], seeds=[1, 2, 3, 4],
                        results=str(tmp_path))
    seen: list[str] = []
    running: set[str] = set()
    clash = threading.Event()
    lock = threading.Lock()

    def fake_run_cell(argv, log, env=None):
        import time

        with lock:
            gpu = env["CUDA_VISIBLE_DEVICES"]
            clash.set() if gpu in running else running.add(gpu)
            seen.append(gpu)
        time.sleep(0.2)
        with lock:
            running.discard(gpu)
        return 0

    monkeypatch.setattr(sweep, "run_cell", fake_run_cell)
    out = sweep.run_local(s, sweep.expand(s), workers=2, gpus=["0", "1"])
    assert sorted(out.values()) == [0] * 4 and sorted(set(seen)) == ["0", "1"]
    assert not clash.is_set()  # never two cells on one GPU
    with pytest.raises(ConfigError, match="--workers 3 x --num-processes 1 but only 2 GPU"):
        sweep.run_local(s, sweep.expand(s), workers=3, gpus=["0", "1"])
    # two processes per cell: each worker gets its own pair, and `run` is told
    s2 = sweep.make_spec(None, models=["pixel-tiny"], tasks=["pos"], seeds=[1, 2, 3, 4],
                         results=str(tmp_path), num_processes=2)
    seen.clear()
    sweep.run_local(s2, sweep.expand(s2), workers=2, gpus=["0", "1", "2", "3"])
    assert sorted(set(seen)) == ["0,1", "2,3"] and not clash.is_set()
    assert sweep.run_argv(s2, sweep.expand(s2)[0])[-2:] == ["--num-processes", "2"]


def test_interrupt_starts_no_further_cell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    from pixel_bench import sweep

    s = sweep.make_spec(None, models=["pixel-tiny"], tasks=["pos"], seeds=[1, 2, 3, 4, 5],
                        results=str(tmp_path))
    started: list[str] = []

    def fake_run_cell(argv, log, env=None):
        started.append(argv[argv.index("--seed") + 1])
        if len(started) == 1:
            raise KeyboardInterrupt
        return 0

    monkeypatch.setattr(sweep, "run_cell", fake_run_cell)
    with pytest.raises(KeyboardInterrupt):
        sweep.run_local(s, sweep.expand(s), workers=1, gpus=[])
    assert started == ["1"]


def test_requeue_resubmits_the_same_cell(tmp_path: Path) -> None:
    """On timeout/preemption submitit calls checkpoint(): the same cell is resubmitted (its
    `run` resumes from the cell's checkpoints)."""
    pytest.importorskip("submitit")
    from pixel_bench.sweep import CellJob

    log = tmp_path / "c.log"
    delayed = CellJob().checkpoint(["run", "--model", "m"], str(log))
    assert isinstance(delayed.function, CellJob)
    assert delayed.args == (["run", "--model", "m"], str(log))
    assert "requeued" in log.read_text()


# -- Slurm ---------------------------------------------------------------------------------------
def _squeue(job: str) -> str:
    out = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T %r"], capture_output=True,
                         text=True, timeout=30)
    return out.stdout.strip()


def test_slurm_sweep_equals_local(local: Path, tmp_path: Path, data: Path,
                                  monkeypatch: pytest.MonkeyPatch,
                                  slurm_env: dict[str, str]) -> None:
    """The local sweep's cells as one Slurm job array; one array task is preempted (USR2, as
    Slurm signals before preemption/timeout) and requeued by submitit; the records equal the
    local ones."""
    import time

    pytest.importorskip("submitit")
    if "SLURM_CONF" in slurm_env:
        monkeypatch.setenv("SLURM_CONF", slurm_env["SLURM_CONF"])
    results = tmp_path / "slurm"
    out = _invoke(["sweep", *CELL, "--data-dir", str(data), "--results", str(results),
                   "--slurm", "--timeout-min", "10"])
    assert out.exit_code == 0, out.output
    assert "submitted 2 cells as Slurm job array" in out.output
    sweep_dir = results / ".sweeps" / "sweep"
    jobs = json.loads((sweep_dir / "sweep.json").read_text())["jobs"]
    victim = jobs["pixel-tiny/pos/seed-2"]
    log = sweep_dir / "logs" / "pixel-tiny__pos__seed-2.log"
    deadline = time.time() + 240

    def until(what, check):
        while not check():
            assert time.time() < deadline, f"Slurm: timed out waiting for {what}"
            time.sleep(0.5)

    st = _invoke(["sweep", "status", "--name", "sweep", "--results", str(results), "--json"])
    assert {json.loads(x)["cell"]: json.loads(x)["slurm_job"] for x in st.output.splitlines()
            } == jobs  # status names each cell's array task
    until("the cell to start", lambda: log.is_file() and "$ " in log.read_text())
    subprocess.run(["scancel", "--signal=USR2", victim], check=True, timeout=30)
    until("the requeue", lambda: _squeue(victim).startswith("PENDING"))
    st = _invoke(["sweep", "status", "--name", "sweep", "--results", str(results), "--json"])
    row = [json.loads(x) for x in st.output.splitlines()
           if json.loads(x)["cell"] == "pixel-tiny/pos/seed-2"][0]
    assert row["state"] == "pending" and "pending" in row["note"]  # queued again, not failed
    # Slurm holds a requeued job back ~2 minutes (BeginTime); a test need not wait for that
    subprocess.run(["scontrol", "update", f"JobId={victim}", "StartTime=now"], check=True,
                   timeout=30)

    def finished() -> bool:
        st = _invoke(["sweep", "status", "--name", "sweep", "--results", str(results), "--json"])
        return {json.loads(x)["state"] for x in st.output.splitlines()} == {"done"}

    until("both cells", finished)
    text = log.read_text()
    assert "requeued (timeout or preemption)" in text and text.count("\n$ ") + \
        text.startswith("$ ") == 2  # two attempts, one log
    assert len(list((sweep_dir / "submitit").glob("*_*/*_log.out"))) >= 2  # submitit's logs
    slurm, here = _records(results), _records(local)
    for seed in (1, 2):
        assert slurm[seed].metrics == here[seed].metrics
        assert slurm[seed].identity == here[seed].identity
        assert slurm[seed].train["train_loss"] == here[seed].train["train_loss"]


# -- run --num-processes -------------------------------------------------------------------------
def test_two_processes_equal_one(local: Path, tmp_path: Path, data: Path) -> None:
    """`run --num-processes 2` (torchrun, gloo): each process takes half of the batch of 4, the
    record equals the one-process record of the local sweep within noise, same identity."""
    results = tmp_path / "np2"
    out = _invoke(["run", *BASE, "--seed", "1", "--num-processes", "2", "--data-dir", str(data),
                   "--results", str(results)])
    assert out.exit_code == 0, out.output
    two = read_record(record_dir(results, "pixel-tiny", "pos", 1) / "record.json")
    one = _records(local)[1]
    assert two.identity == one.identity  # the same experiment: global batch 4 in both
    assert two.provenance["hardware"]["world_size"] == 2
    assert two.metrics["validation"]["accuracy"] == pytest.approx(
        one.metrics["validation"]["accuracy"], abs=0.02)
    # losses on the same scale (the Trainer's default would report and train on N x the loss)
    e1, e2 = one.train["eval_history"][-1]["eval_loss"], two.train["eval_history"][-1]["eval_loss"]
    assert e2 == pytest.approx(e1, rel=1e-3)
    assert two.train["train_loss"] == pytest.approx(one.train["train_loss"], rel=0.02)


def test_num_processes_must_divide_the_batch(tmp_path: Path, data: Path) -> None:
    with pytest.raises(ConfigError, match=r"--num-processes 2: the batch 3 .* not divisible"):
        _invoke(["run", *BASE, "--set", "per_device_train_batch_size=3", "--seed", "1",
                 "--num-processes", "2", "--data-dir", str(data), "--results", str(tmp_path)])
    assert not any(tmp_path.iterdir())  # refused before anything started


def test_slurm_options_reach_sbatch(tmp_path: Path) -> None:
    """Every `slurm:` key of a sweep file is a valid submitit/sbatch setting (no cluster
    needed: the executor is built, nothing is submitted)."""
    pytest.importorskip("submitit")
    from pixel_bench.sweep import SLURM_KEYS, make_spec, slurm_executor

    s = make_spec(None, models=["pixel-tiny"], tasks=["pos"], results=str(tmp_path),
                  num_processes=2)
    s.slurm.update(partition="gpu", timeout_min=30, cpus_per_task=4, gpus_per_task=2,
                   mem_gb=16, array_parallelism=3, account="acc", qos="high",
                   constraint="a100", setup=["module load cuda"])
    assert set(s.slurm) == set(SLURM_KEYS)
    params = slurm_executor(s, tmp_path)._executor.parameters
    assert params["partition"] == "gpu" and params["time"] == 30
    assert params["gpus_per_node"] == 2 and params["cpus_per_task"] == 4
    assert params["array_parallelism"] == 3 and params["setup"] == ["module load cuda"]
    assert params["additional_parameters"] == {"account": "acc", "qos": "high",
                                               "constraint": "a100"}
    s.slurm["gpus_per_task"] = 1
    with pytest.raises(ConfigError, match="num_processes 2 per cell but slurm.gpus_per_task 1"):
        slurm_executor(s, tmp_path)
