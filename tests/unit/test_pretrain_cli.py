"""``pixel-bench pretrain``'s options are generated from PretrainArgs: every setting has an
option spelled ``--field-name``, ``--help`` lists it with the dataclass's default, values given
on the command line reach PretrainArgs, and config files get the same names and types."""

from __future__ import annotations

import dataclasses

import pytest
from typer.testing import CliRunner

from pixel_bench.cli.app import app
from pixel_bench.errors import ConfigError
from pixel_bench.train.pretrain_args import PretrainArgs, shown_default

runner = CliRunner()


def _command():
    import typer.main

    return typer.main.get_command(app).commands["pretrain"]


def _help() -> str:
    result = runner.invoke(app, ["pretrain", "--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return " ".join(result.output.replace("│", " ").split())


def test_every_setting_is_an_option_listed_with_its_default():
    params = {p.name: p for p in _command().params}
    text = _help()
    cli_fields = [f for f in dataclasses.fields(PretrainArgs) if f.metadata.get("cli", True)]
    assert {f.name for f in dataclasses.fields(PretrainArgs)} - {f.name for f in cli_fields} \
        == {"extra"}  # free-form notes: config files only
    for f in cli_fields:
        flag = "--" + f.name.replace("_", "-")
        assert f.name in params, f"PretrainArgs.{f.name} has no option"
        param = params[f.name]
        assert flag in param.opts, (f.name, param.opts)
        assert param.default is None  # "not given": --config values survive
        assert f" {flag} " in f" {text} ", f"{flag} missing from --help"
        assert param.help and param.help == f.metadata["help"]
        shown = shown_default(f)
        if shown is None:
            assert param.show_default is True and f.default in (None, dataclasses.MISSING)
            continue
        assert param.show_default == shown
        after = text.split(f" {flag} ", 1)[1]
        assert after.split("[default: ", 1)[1].startswith(f"({shown})]"), (flag, after[:200])
        if f.metadata.get("shown"):
            assert f.default is None  # described in words: "the model's"
        elif isinstance(f.default, bool):
            assert shown == ("" if f.default else "no-") + flag[2:]
        elif isinstance(f.default, (int, float)):
            assert type(f.default)(float(shown)) == f.default, f.name
        else:
            assert shown == f.default
    # the spellings users already type
    for flag in ("-m", "-o", "-n", "-c", "--render-cache", "--no-unescape-html"):
        assert f" {flag} " in f" {text} ", flag


def test_command_line_values_reach_pretrainargs(monkeypatch, tmp_path):
    from pixel_bench.train import pretrain as pretrain_mod

    seen = []
    monkeypatch.setattr(pretrain_mod, "run_pretraining",
                        lambda args: seen.append(args) or {"steps": 0, "output_dir": "x"})
    config = tmp_path / "run.yaml"
    config.write_text("model: pixel-tiny\nlr: 1e-4\nmax_steps: 200\nextra: {note: hi}\n")
    result = runner.invoke(app, ["pretrain", "-c", str(config), "-o", str(tmp_path / "out"),
                                 "--adam-beta2", "0.95", "--render-cache", "--max-steps", "300",
                                 "--warmup-steps", "30", "--deepspeed", "ds.json"])
    assert result.exit_code == 0, result.output
    args = seen[0]
    assert (args.model, args.lr, args.max_steps, args.adam_beta2, args.render_cache) == (
        "pixel-tiny", 1e-4, 300, 0.95, True)  # YAML's "1e-4" string is read as a float
    assert args.output_dir == str(tmp_path / "out") and args.deepspeed == "ds.json"
    assert args.extra == {"note": "hi"} and args.seed == 42


def test_config_settings_are_named_and_typed():
    base = {"model": "pixar-tiny", "output_dir": "o"}
    with pytest.raises(ConfigError, match=r"run.yaml: unknown .*warmup_step \(did you mean "
                                          r"warmup_steps"):
        PretrainArgs.from_dict({**base, "warmup_step": 10}, "run.yaml")
    with pytest.raises(ConfigError, match=r"run.yaml: batch_size must be an int, got 'eight'"):
        PretrainArgs.from_dict({**base, "batch_size": "eight"}, "run.yaml")
    with pytest.raises(ConfigError, match=r"max_steps must be an int, got 2.5"):
        PretrainArgs.from_dict({**base, "max_steps": 2.5})
    args = PretrainArgs(**base, lr=3e-4, render_cache=True)
    assert PretrainArgs.from_dict(args.to_dict()) == args  # pretrain_args.json round trip
