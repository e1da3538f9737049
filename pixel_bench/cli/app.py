"""The ``pixel-bench`` command line.

The CLI only parses arguments and prints; the work lives in the library. Each sub-command lives
in its own module under ``pixel_bench.cli`` exposing ``register(app)``; modules import nothing
heavy at import time (torch, transformers, cairo and pygame are imported inside the command
bodies), so ``pixel-bench --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys

import typer

from ..errors import PixelBenchError

# Sub-command modules, in the order they appear in --help.
COMMAND_MODULES = ["render", "run", "pretrain", "generate", "report", "ls", "doctor", "cache"]

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


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    if version:
        from .. import __version__

        typer.echo(__version__)
        raise typer.Exit()


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
