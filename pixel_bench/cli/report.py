"""``pixel-bench report``: leaderboard tables (markdown, LaTeX, CSV, HTML, PNG) from results/.

Never imports torch or transformers (pandas is imported inside the command, so ``--help`` stays
fast). Bad record files are listed on stderr and skipped; the exit status is non-zero only when no
record at all could be read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

MAX_LISTED = 20  # skipped files / warnings printed in full; the rest are counted


def _names(values: list[str] | None) -> list[str] | None:
    """``--models a,b --models c`` -> [a, b, c]."""
    if not values:
        return None
    out = [v.strip() for value in values for v in value.split(",") if v.strip()]
    return out or None


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        results: Optional[Path] = typer.Option(
            None, "--results", help="Results folder (default: $PIXEL_BENCH_RESULTS or ./results)."),
        fmt: Optional[str] = typer.Option(
            None, "--format", "-f",
            help="markdown, latex, csv, html or png (default: from --out's suffix, else "
                 "markdown)."),
        layout: str = typer.Option("main", "--layout", "-l",
                                   help="main, ablation, leaderboard, xnli or generative "
                                        "(--list-layouts)."),
        models: Optional[list[str]] = typer.Option(
            None, "--models", "-m",
            help="Models to show, in this order (repeat or comma-separate)."),
        tasks: Optional[list[str]] = typer.Option(
            None, "--tasks", "-t", help="Restrict the columns to these tasks."),
        split: Optional[str] = typer.Option(
            None, "--split",
            help="Split family to read (test -> test, test_matched, test.fr). Default: per "
                 "task, the family most of its records were scored on."),
        out: Optional[Path] = typer.Option(None, "--out", "-o",
                                           help="Write here instead of stdout (required for png)."),
        only_standard: bool = typer.Option(
            False, "--only-standard",
            help="Leave out records of non-standard setups (--limit, --set/--max-steps values "
                 "differing from the recipe, --from-scratch). Default: show them marked †, "
                 "never averaged with another setup."),
        list_layouts: bool = typer.Option(False, "--list-layouts", help="List layouts and exit."),
    ) -> None:
        """Aggregate result records into a leaderboard table (mean ± std over seeds)."""
        from ..errors import ConfigError, UnknownNameError
        from ..paths import results_dir
        from ..report.formats import FORMATS, SUFFIXES, render
        from ..report.layouts import LAYOUTS, get_layout

        if list_layouts:
            for name, lay in LAYOUTS.items():
                typer.echo(f"{name:12s} {lay.description}")
            return
        chosen = get_layout(layout)
        if fmt is None:
            fmt = SUFFIXES.get(out.suffix.lower(), "markdown") if out else "markdown"
        if fmt not in FORMATS:
            import difflib

            close = difflib.get_close_matches(fmt, FORMATS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnknownNameError(f"unknown format {fmt!r}.{hint} Formats: {', '.join(FORMATS)}")
        if fmt == "png" and out is None:
            raise ConfigError("--format png needs --out FILE.png (a chart cannot go to stdout)")

        from ..report.load import load_results
        from ..report.table import build_table

        folder = results if results is not None else results_dir()
        loaded = load_results(folder)
        _print_problems("skipped", [reason for _path, reason in loaded.skipped],
                        f"skipped {len(loaded.skipped)} unreadable record file(s) under {folder}:")
        if loaded.records.empty:
            typer.echo(f"error: no readable record.json under {folder}", err=True)
            raise typer.Exit(1)
        table = build_table(loaded, chosen, models=_names(models), tasks=_names(tasks),
                            split=split, only_standard=only_standard)
        _print_problems("warnings", loaded.warnings + table.warnings,
                        f"{len(loaded.warnings) + len(table.warnings)} warning(s) about values "
                        "(left out of a cell, or kept and flagged):")
        if table.nonstandard_left_out:
            typer.echo(f"note: left out {table.nonstandard_left_out} record(s) of non-standard "
                       "setups (--only-standard)", err=True)
        elif table.nonstandard_legend:
            typer.echo(f"note: cells marked † come from {len(table.nonstandard_legend)} "
                       "non-standard setup(s) (see the table notes); --only-standard leaves "
                       "them out", err=True)
        if not table.rows:
            typer.echo(f"note: no records match layout {chosen.name!r} (tasks: "
                       f"{', '.join(chosen.tasks)}); the table is empty", err=True)

        if fmt == "png":
            from ..report.plot import to_png

            typer.echo(f"wrote {to_png(table, out)}", err=True)
            return
        text = render(table, fmt)
        if out is None:
            typer.echo(text, nl=False)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text, encoding="utf-8")
            typer.echo(f"wrote {out}", err=True)


def _print_problems(_kind: str, lines: list[str], title: str) -> None:
    if not lines:
        return
    typer.echo(title, err=True)
    for line in lines[:MAX_LISTED]:
        typer.echo(f"  - {line}", err=True)
    if len(lines) > MAX_LISTED:
        typer.echo(f"  ... and {len(lines) - MAX_LISTED} more", err=True)
