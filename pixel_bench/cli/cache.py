"""``pixel-bench cache info|clear``: what the rendered-data cache holds, and emptying it."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def register(app: typer.Typer) -> None:
    cache_app = typer.Typer(help="Inspect or empty the rendered-data cache "
                                 "(PIXEL_BENCH_CACHE moves it).", no_args_is_help=True)
    root_opt = typer.Option(None, "--root", help="Cache folder of rendered splits (default: "
                            "<PIXEL_BENCH_CACHE or ~/.cache/pixel-bench>/rendered).")

    @cache_app.command("info")
    def info(root: Optional[Path] = root_opt,
             as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
        """Size, entries and the settings each entry was rendered with."""
        import json

        from rich.console import Console
        from rich.table import Table

        from ..cache import RenderCache

        data = RenderCache(root).info()
        if as_json:
            typer.echo(json.dumps(data, indent=1))
            return
        console = Console()
        table = Table(title=f"{data['root']}: {len(data['entries'])} entries, "
                            f"{_human(data['size_bytes'])}")
        for col in ("key", "renderer", "font", "settings", "examples", "truncated",
                    "unknown glyphs", "size", "created"):
            table.add_column(col)
        for e in data["entries"]:
            s, c = e["settings"], e["counts"]
            summary = (f"{s.get('font_size')}pt@{s.get('dpi')}dpi {s.get('pixels_per_patch')}px "
                       f"x{s.get('max_seq_length')}" + (" rgb" if s.get("rgb") else "")
                       + (" binary" if s.get("binary") else ""))
            if e["render_kwargs"]:
                summary += f" {e['render_kwargs']}"
            table.add_row(e["key"][:12], str(e["renderer"]), Path(str(s.get("font_file"))).name,
                          summary, str(c.get("examples")), str(c.get("truncated")),
                          str(c.get("unknown_glyphs")), _human(e["size_bytes"]),
                          str(e["created"]))
        console.print(table)
        if data["partial"]:
            console.print(f"[yellow]{len(data['partial'])} unfinished fill(s)[/] (killed or in "
                          "progress): removed by the next fill of that key or by `cache clear`")

    @cache_app.command("clear")
    def clear(key: Optional[str] = typer.Argument(None, help="Only this entry (a key prefix)."),
              root: Optional[Path] = root_opt,
              yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask.")) -> None:
        """Remove cached renderings (all, or the entry whose key starts with KEY)."""
        from rich.console import Console

        from ..cache import RenderCache

        if key is not None and not key.strip():
            # "" would match every key: clearing everything is `cache clear` without a KEY
            raise typer.BadParameter("empty KEY; to remove every entry run `pixel-bench cache "
                                     "clear` without one (it asks first; --yes skips that)",
                                     param_hint="KEY")
        cache = RenderCache(root)
        if not yes and key is None:
            typer.confirm(f"Remove every rendered split under {cache.root}?", abort=True)
        result = cache.clear(key)
        console = Console()
        console.print(f"removed {len(result['removed'])} entr"
                      f"{'y' if len(result['removed']) == 1 else 'ies'}, freed "
                      f"{_human(result['freed_bytes'])}")
        for k in result["busy"]:
            console.print(f"[yellow]busy[/] {k[:12]}: being filled by another process; left alone")

    app.add_typer(cache_app, name="cache")
