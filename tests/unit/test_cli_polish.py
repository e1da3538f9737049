"""What people expect from the CLI: ``--version``, defaults visible in ``--help``, download hints
that name a command the install has, quiet plain runs (``--verbose`` shows everything), the full
record path, ``doctor`` checking pdflatex, a warning for a warmup longer than the run, and
``runs/`` ignored by git."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import logging
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pixel_bench import diagnostics, quiet
from pixel_bench.cli.app import app
from pixel_bench.errors import CheckpointError

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]


def test_version_prints_without_a_command():
    from pixel_bench import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"pixel-bench {__version__}"


def _click_commands():
    import typer.main

    group = typer.main.get_command(app)
    yield "pixel-bench", group
    for name, cmd in group.commands.items():
        yield name, cmd


def test_no_help_text_is_eaten_as_rich_markup():
    """Typer renders help texts as Rich markup: ``[default: 8]`` is read as an (unknown) style
    tag and silently dropped. Shown defaults go through ``show_default`` instead; this guards
    every help text of every command."""
    from rich.text import Text

    eaten = []
    for name, cmd in _click_commands():
        texts = [("(command)", cmd.help or "")] + [(p.name, getattr(p, "help", None) or "")
                                                   for p in cmd.params]
        for param, text in texts:
            if Text.from_markup(text).plain != text:
                eaten.append(f"{name} {param}: {text!r}")
    assert not eaten, eaten


def test_pretrain_help_shows_defaults():
    result = runner.invoke(app, ["pretrain", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    flat = " ".join(result.output.replace("│", " ").split())
    for option, default in (("--warmup-steps", "5000"), ("--max-steps", "100000"),
                            ("--lr", "1.5e-4"), ("--batch-size", "8"), ("--seed", "42")):
        after = flat.split(option, 1)[1]
        assert after.split("[default: ", 1)[1].startswith(f"({default})]"), (option, after[:200])


def test_pretrain_shown_defaults_are_pretrainargs_defaults():
    """The CLI's options default to None (so --config values survive); the defaults it shows
    must be the ones PretrainArgs really uses."""
    from pixel_bench.train.pretrain import PretrainArgs

    cmd = dict(_click_commands())["pretrain"]
    real = {f.name: f.default for f in dataclasses.fields(PretrainArgs)}
    described = {"deepspeed": "models/deepspeed/zero2.json", "max_seq_length": "the model's"}
    checked = 0
    for param in cmd.params:
        shown = param.show_default
        if not isinstance(shown, str):
            continue
        checked += 1
        want = real[param.name]
        if param.name in described:
            assert want is None and shown == described[param.name]
        elif isinstance(want, bool):
            assert shown == ("" if want else "no-") + param.name.replace("_", "-")
        elif isinstance(want, (int, float)):
            assert float(shown) == want, param.name
        else:
            assert shown == want, param.name
    assert checked >= 20


def test_warmup_longer_than_the_run_is_warned(monkeypatch, tmp_path):
    from pixel_bench.cli.pretrain import warmup_warning
    from pixel_bench.train import pretrain as pretrain_mod
    from pixel_bench.train.pretrain import PretrainArgs

    note = warmup_warning(PretrainArgs(model="pixar-tiny", output_dir="x", max_steps=300))
    assert note is not None and "--warmup-steps 5000 >= --max-steps 300" in note
    assert "9e-06" in note and "--warmup-steps 30 " in note  # the README's old example
    assert warmup_warning(PretrainArgs(model="pixar-tiny", output_dir="x", max_steps=300,
                                       warmup_steps=30)) is None
    calls = []
    monkeypatch.setattr(pretrain_mod, "run_pretraining",
                        lambda args: calls.append(args) or {"steps": 0, "output_dir": "x"})
    result = runner.invoke(app, ["pretrain", "--model", "pixar-tiny", "-o", str(tmp_path),
                                 "--max-steps", "300"], env={"COLUMNS": "300"})
    assert result.exit_code == 0 and calls
    assert "warning: --warmup-steps 5000 >= --max-steps 300" in result.output


def test_download_hints_name_the_installed_hf_cli(monkeypatch):
    scripts = {e.name for e in importlib.metadata.entry_points(group="console_scripts")}
    assert "hf" in scripts  # huggingface_hub ships it; `huggingface-cli` is gone
    from pixel_bench.spec import _hub_weights

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CheckpointError, match="`hf download Team-PIXEL/no-such --local-dir DIR`"):
        _hub_weights("Team-PIXEL/no-such", "pixel-base")


def test_doctor_checks_pdflatex(monkeypatch, tmp_path):
    monkeypatch.setattr(diagnostics.shutil, "which", lambda name: None)
    row = diagnostics.check_latex()
    assert row.status == "warn" and "texlive-latex-recommended" in row.detail
    assert diagnostics.check_latex in diagnostics.CHECKS
    monkeypatch.undo()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("pdflatex", "pdfTeX 3.141592653-2.6-1.40.24 (TeX Live 2022/Debian)"),
                       ("kpsewhich", "/usr/share/texlive/booktabs.sty")):
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\necho '{text}'\n")
        script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    row = diagnostics.check_latex()
    assert row.status == "ok" and "pdfTeX 3.141592653" in row.detail
    (bin_dir / "kpsewhich").write_text("#!/bin/sh\nexit 1\n")
    assert "booktabs.sty missing" in diagnostics.check_latex().detail


# -- quiet plain runs ----------------------------------------------------------------------------
def test_quiet_drops_only_the_named_notices(monkeypatch):
    monkeypatch.delenv(quiet.VERBOSE_ENV, raising=False)
    log = logging.getLogger("DeepSpeed")
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[assignment]
    log.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            quiet.quiet_third_party()
            log.warning("Setting accelerator to CPU. If you have GPU or other accelerator, we "
                        "were unable to detect it.")
            log.warning("a real DeepSpeed warning")
            for module, category in (("transformers.utils.output_capturing", FutureWarning),
                                     ("mypackage.mod", FutureWarning),
                                     ("transformers.trainer", UserWarning)):
                warnings.warn_explicit("`past_key_values` is deprecated and will be removed in "
                                       "version 5.40.0 for `GPT2Model.forward`. Use `cache` "
                                       "instead.", category, "f.py", 1, module=module)
    finally:
        log.removeHandler(handler)
        for f in [f for f in log.filters if isinstance(f, quiet._DropMessages)]:
            log.removeFilter(f)
        with warnings.catch_warnings(record=True) as caught_torch:
            warnings.simplefilter("always")
            quiet.quiet_third_party()
            for module in ("torch.distributed.c10d_logger", "torch.nn.modules.module"):
                warnings.warn_explicit("`torch.distributed.all_gather_into_tensor` is deprecated. "
                                       "Please use `torch.distributed.all_gather_single` instead.",
                                       FutureWarning, module + ".py", 1, module=module)
    assert [w.filename for w in caught_torch] == ["torch.nn.modules.module.py"]
    assert seen == ["a real DeepSpeed warning"]
    assert [(w.category, w.filename) for w in caught] == [(FutureWarning, "f.py"),
                                                          (UserWarning, "f.py")]


def test_verbose_keeps_everything(monkeypatch):
    log = logging.getLogger("DeepSpeed")
    for f in [f for f in log.filters if isinstance(f, quiet._DropMessages)]:
        log.removeFilter(f)  # installed by earlier CLI invocations in this process
    monkeypatch.setenv(quiet.VERBOSE_ENV, "1")
    quiet.quiet_third_party()
    assert not any(isinstance(f, quiet._DropMessages) for f in log.filters)


def test_root_verbose_flag_sets_the_environment(monkeypatch):
    monkeypatch.delenv(quiet.VERBOSE_ENV, raising=False)
    result = runner.invoke(app, ["--verbose", "ls", "renderers"])
    assert result.exit_code == 0, result.output
    import os

    assert os.environ.get(quiet.VERBOSE_ENV) == "1"  # reaches pretrain's worker processes


@pytest.mark.parametrize("command", ["run", "pretrain", "render"])
def test_help_stays_light(command):
    """The quiet set-up runs for every command: ``<command> --help`` must still not import
    transformers or torch (hiding the shard bar does, so only `run`/`pretrain` bodies do it)."""
    import os
    import sys

    code = ("import sys\nfrom pixel_bench.cli.app import app\n"
            f"try:\n    app([{command!r}, '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout[-500:] + proc.stderr


def test_shard_bar_hidden_other_bars_kept(monkeypatch):
    from transformers.utils import logging as hf_logging

    monkeypatch.delenv(quiet.VERBOSE_ENV, raising=False)
    hf_logging.enable_progress_bar()
    try:
        quiet.hide_shard_bar()
        shards = hf_logging.tqdm(range(2), desc="Writing model shards")
        other = hf_logging.tqdm(range(2), desc="Loading weights")
        assert shards.disable and not other.disable and list(shards) == [0, 1]
        other.close()
    finally:
        hf_logging.set_tqdm_hook(None)


def test_deepspeed_import_is_quiet_unless_verbose():
    """The real thing, in a fresh interpreter: DeepSpeed's CPU-fallback line on import."""
    pytest.importorskip("deepspeed")
    import os
    import sys

    code = "from pixel_bench import quiet; quiet.quiet_third_party(); import deepspeed"
    env = {**os.environ, "PYTHONPATH": str(REPO), "CUDA_VISIBLE_DEVICES": ""}
    plain = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=300, env={**env, quiet.VERBOSE_ENV: "0"})
    loud = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={**env, quiet.VERBOSE_ENV: "1"})
    assert plain.returncode == 0 and loud.returncode == 0, plain.stderr + loud.stderr
    if "Setting accelerator to CPU" not in loud.stdout + loud.stderr:
        pytest.skip("this DeepSpeed found an accelerator (no CPU-fallback notice to hide)")
    assert "Setting accelerator to CPU" not in plain.stdout + plain.stderr


def test_tiny_tokenizer_training_prints_nothing(capfd):
    """The tokenizers trainer's progress bar printed bare newlines into bert-tiny/gpt2-tiny runs."""
    pytest.importorskip("tokenizers")
    from pixel_bench.modeling.text_baseline import tiny_tokenizer

    capfd.readouterr()
    tiny_tokenizer("wordpiece")
    tiny_tokenizer("bpe")
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


# -- run: the record path in full ------------------------------------------------------------------
def test_run_prints_the_full_record_path(tmp_path, monkeypatch):
    from pixel_bench.registry import MODELS, RENDERERS
    from pixel_bench.testing import register

    rows = "index\tsentence1\tsentence2\tlabel\n" + "".join(
        f"{i}\tA cat {i} sat .\tA cat sat .\t{'entailment' if i % 2 else 'not_entailment'}\n"
        for i in range(8))
    data = tmp_path / "RTE"
    data.mkdir()
    for name in ("train.tsv", "dev.tsv"):
        (data / name).write_text(rows)
    results = tmp_path / ("a-results-folder-with-a-name-long-enough-to-be-cut-in-a-table" * 2)
    register()
    try:
        result = runner.invoke(app, ["run", "--model", "testing-tiny", "--task", "rte",
                                     "--data-dir", str(data), "--max-steps", "1",
                                     "--results", str(results), "--set", "max_seq_length=16",
                                     "--set", "eval_steps=1", "--set", "warmup_steps=0"],
                               env={"COLUMNS": "80"})
    finally:
        MODELS._entries.pop("testing-tiny", None)
        RENDERERS._entries.pop("testing-blocks", None)
    assert result.exit_code == 0, (result.output, result.exception)
    record = results / "testing-tiny" / "rte" / "seed-42" / "record.json"
    assert record.is_file() and f"record: {record}\n" in result.output


def test_runs_folder_is_ignored_by_git():
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    proc = subprocess.run(["git", "-C", str(REPO), "check-ignore", "-q",
                           "runs/pixar-tiny/checkpoints/step-1/engine.pt"])
    assert proc.returncode == 0, "runs/ (pretrain output in the README's examples) not ignored"
