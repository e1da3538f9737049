"""The ``pixel-bench`` command line.

The CLI only parses arguments and prints; the work lives in the library. Each sub-command lives
in its own module under ``pixel_bench.cli`` exposing ``register(app)``; modules import nothing
heavy at import time (torch, transformers, cairo and pygame are imported inside the command
bodies), so ``pixel-bench --help`` stays fast.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from ..errors import PixelBenchError

# Sub-command modules, in the order they appear in --help.
COMMAND_MODULES = ["render", "run", "sweep", "pretrain", "generate", "report", "ls", "doctor", "cache"]

app = typer.Typer(
    name="pixel-bench",
    help="Render, fine-tune and score pixel-based language models (PIXEL, PIXAR, PixelGPT).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"{__package__}.{name}")
        module.register(app)


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"pixel-bench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    # eager: handled while parsing, before click asks for the (missing) sub-command
    version: bool = typer.Option(False, "--version", help="Print the version and exit.",
                                 callback=_print_version, is_eager=True),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show third-party notices that "
                                 "plain runs hide (DeepSpeed's CPU fallback, library "
                                 "deprecation notices, the shard-writing bar); also "
                                 "PIXEL_BENCH_VERBOSE=1."),
) -> None:
    from .. import quiet

    if verbose:  # also reaches the worker processes pretrain launches
        os.environ[quiet.VERBOSE_ENV] = "1"
    quiet.quiet_third_party()  # cheap; the shard bar is hidden in `run`/`pretrain` themselves


_register_commands()


def main() -> None:
    """Console entry point: user errors print one clear line instead of a traceback."""
    try:
        app()
    except PixelBenchError as exc:
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
