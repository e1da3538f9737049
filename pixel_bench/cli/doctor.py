"""``pixel-bench doctor``: which rendering and training components this machine has.

Every probe is guarded: a missing library is a red row, never a crash. The renderers' pixels
depend on exact library versions (docs/rendering.md, "System requirements"), so the versions are
printed in full.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("doctor")
    def doctor(
        as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON."),
    ) -> None:
        """Check rendering libraries, fonts, ML stack and GPU; print a green/red table."""
        import json

        from rich.console import Console
        from rich.table import Table

        from ..diagnostics import run_checks

        rows = run_checks()
        if as_json:
            typer.echo(json.dumps([r.__dict__ for r in rows], indent=1))
            return
        styles = {"ok": "[green]ok[/]", "missing": "[red]missing[/]", "warn": "[yellow]warn[/]",
                  "info": "[blue]info[/]"}
        table = Table(title="pixel-bench doctor")
        table.add_column("component", style="bold")
        table.add_column("status")
        table.add_column("details", overflow="fold")
        for row in rows:
            table.add_row(row.component, styles.get(row.status, row.status), row.detail)
        Console().print(table)
