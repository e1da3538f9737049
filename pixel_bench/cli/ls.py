"""``pixel-bench ls renderers|tasks|models``: what is registered, built-ins and plug-ins alike."""

from __future__ import annotations

import typer

KINDS = ("renderers", "tasks", "models")


def register(app: typer.Typer) -> None:
    @app.command("ls")
    def ls(kind: str = typer.Argument(..., help="renderers, tasks or models")) -> None:
        """List registered renderers, tasks or models."""
        from rich.console import Console
        from rich.table import Table

        from ..errors import UnknownNameError
        from ..registry import MODELS, RENDERERS, TASKS

        registries = dict(zip(KINDS, (RENDERERS, TASKS, MODELS)))
        if kind not in registries:
            import difflib

            close = difflib.get_close_matches(kind, KINDS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnknownNameError(f"unknown listing {kind!r}.{hint} Choose one of: "
                                   f"{', '.join(KINDS)}")
        registry = registries[kind]
        table = Table(title=kind, show_lines=False)
        table.add_column("name", style="bold")
        table.add_column("description")
        if kind == "renderers":  # the named settings `pixel-bench render --layout` takes
            table.add_column("layouts (* default)")
        for name, _entry in registry.items():
            row = [name, registry.help(name)]
            if kind == "renderers":
                cls = registry.get(name)
                row.append(", ".join(n + ("*" if n == cls.DEFAULT_LAYOUT else "")
                                     for n in cls.LAYOUTS))
            table.add_row(*row)
        Console().print(table)
