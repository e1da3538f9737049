"""``pixel-bench render``: look at what a renderer makes of a text, or render a cases file.

    pixel-bench render "Hello world." --renderer pygame -o hello.png
    pixel-bench render "Hello world." --renderer binary --full -o canvas.png   # all 720 patches
    pixel-bench render "Hello world." --renderer binary --layout thesis -o thesis.png
    pixel-bench render "A man plays." --pair "A person plays." --renderer pangocairo -o pair.png
    pixel-bench render "The quick brown fox" --words --renderer pygame -o words.png
    pixel-bench render --cases cases.json --renderer pygame --out pygame.npz
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

#: padding patches drawn after the attended ones, so the masked (tinted) region stays visible
MARGIN_PATCHES = 2


def register(app: typer.Typer) -> None:
    @app.command("render")
    def render(
        text: Optional[str] = typer.Argument(None, help="Text to render (a sentence, or text A "
                                             "with --pair, or words with --words)."),
        renderer: str = typer.Option(..., "--renderer", "-r",
                                     help="Renderer name (see `pixel-bench ls renderers`)."),
        pair: Optional[str] = typer.Option(None, "--pair", help="Text B: render a sentence pair."),
        words: bool = typer.Option(False, "--words", help="Split TEXT on whitespace and render "
                                   "one word per patch run (token classification mode)."),
        config: Optional[Path] = typer.Option(
            None, "--config", "-c", help="text_renderer_config.json, or a checkpoint directory "
            "holding one (default: the renderer's built-in settings)."),
        layout: Optional[str] = typer.Option(
            None, "--layout", "-l", help="A named layout of the renderer's built-in settings "
            "(pixel; pygame: pixelgpt; binary: pixar2024, thesis; default: the renderer's own). "
            "Not with --config."),
        font: Optional[Path] = typer.Option(None, "--font", help="Font file (overrides the "
                                            "config's)."),
        max_seq_length: Optional[int] = typer.Option(None, "--max-seq-length", help="Number of "
                                                     "patches (canvas width / patch width)."),
        rgb: bool = typer.Option(False, "--rgb", help="Render in colour (RGB) instead of grey."),
        grid: bool = typer.Option(True, "--grid/--no-grid", help="Draw patch boundaries."),
        scale: int = typer.Option(4, "--scale", min=1, max=32, help="Nearest-neighbour upscale "
                                  "factor of the PNG."),
        wrap: int = typer.Option(0, "--wrap", min=0, help="Wrap the strip into rows of this "
                                 "many patches (0: one long strip)."),
        full: bool = typer.Option(False, "--full", help="Draw the whole canvas (every patch up "
                                  "to --max-seq-length) instead of the attended patches (text + "
                                  "EOS) plus --margin padding patches."),
        margin: int = typer.Option(MARGIN_PATCHES, "--margin", min=0, help="Padding patches "
                                   "drawn after the attended ones (ignored with --full)."),
        cases: Optional[Path] = typer.Option(None, "--cases", help="Render every case of a "
                                             "cases.json file into an .npz (golden key scheme)."),
        out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output .png (text) or .npz "
                                           "(--cases)."),
    ) -> None:
        """Render TEXT to a PNG a person can look at, or a cases file to an .npz."""
        from rich.console import Console

        from ..errors import ConfigError

        console = Console()
        overrides = {"font_file": str(font) if font else None, "max_seq_length": max_seq_length,
                     "rgb": True if rgb else None}
        cfg = _load_config(renderer, config, overrides, layout)
        from ..registry import RENDERERS

        instance = RENDERERS.get(renderer)(cfg)
        if cases is not None:
            if text is not None or pair is not None or words:
                raise ConfigError("--cases renders a cases file; do not also give TEXT, --pair "
                                  "or --words")
            if out is None or out.suffix != ".npz":
                raise ConfigError("--cases needs --out FILE.npz")
            _render_cases(console, instance, cases, out)
            return
        if text is None:
            raise ConfigError("give a TEXT to render (or --cases FILE.json)")
        if pair is not None and words:
            raise ConfigError("--pair and --words cannot be combined")
        if out is None:
            raise ConfigError("give an output file: -o out.png")
        if out.suffix.lower() != ".png":
            raise ConfigError(f"the picture is written as PNG; {out} does not end in .png")
        item = (text, pair) if pair is not None else (text.split() if words else text)
        enc = instance(item)
        from ..render.preview import attended_patches, canvas_patches, save_preview

        total = canvas_patches(enc, cfg.pixels_per_patch)
        attended = attended_patches(enc, cfg.pixels_per_patch)
        shown = total if full else max(1, min(total, attended + margin))
        out.parent.mkdir(parents=True, exist_ok=True)
        width, height = save_preview(enc, str(out), cfg.pixels_per_patch, scale=scale,
                                     grid=grid, wrap=wrap, num_patches=shown)
        _print_summary(console, renderer, cfg, enc, out, (width, height), (shown, total),
                       sep_unit=instance.sep_patches_unit)


def _load_config(renderer: str, config: Path | None, overrides: dict,
                 layout: str | None = None):
    from ..errors import ConfigError
    from ..render.base import RendererConfig
    from ..render.defaults import default_config

    if config is not None:
        if layout is not None:
            raise ConfigError("--layout picks built-in settings and --config a file; give one")
        if config.is_dir():  # a checkpoint: its font must be one it ships
            from ..modeling.adapter import load_checkpoint_renderer_config

            cfg = load_checkpoint_renderer_config(config)
        else:
            cfg = RendererConfig.from_file(config)
        values = {k: v for k, v in overrides.items() if v is not None}
        return cfg.with_overrides(**values) if values else cfg
    return default_config(renderer, layout, **overrides)  # resolves a --font name too


def _sep_text(sep_patches, unit: str, pixels_per_patch: int) -> str:
    """``sep_patches`` as patch indices for every renderer (PangoCairo and binary store pixel
    offsets, PyGame patch indices; the stored value is shown too where it differs)."""
    from ..render.base import sep_patch_indices

    stored = [int(x) for x in sep_patches]
    indices = sep_patch_indices(stored, unit, pixels_per_patch)
    if unit == "patches":
        return f"{indices} (patch indices)"
    return f"{indices} (patch indices; stored as pixel offsets {stored})"


def _print_summary(console, renderer: str, cfg, enc, out: Path, size: tuple[int, int],
                   drawn: tuple[int, int], sep_unit: str = "pixels") -> None:
    from rich.table import Table

    mask = enc.attention_mask
    attended = int((mask > 0).sum()) if mask is not None else enc.num_text_patches + 1
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("renderer", f"{renderer}  ({Path(cfg.font_file).name}, {cfg.font_size} pt @ "
                              f"{cfg.dpi} dpi, {cfg.pixels_per_patch} px patches, "
                              f"{cfg.max_seq_length} patches)")
    table.add_row("num_text_patches", str(enc.num_text_patches))
    table.add_row("attention length", f"{attended} of {len(mask) if mask is not None else '?'}")
    table.add_row("sep_patches", _sep_text(enc.sep_patches, sep_unit, cfg.pixels_per_patch))
    if enc.word_starts is not None:
        table.add_row("word_starts", str(list(enc.word_starts)))
    table.add_row("truncated", "[red]yes[/]" if enc.truncated else "no")
    if enc.word_starts is not None:
        table.add_row("dropped words", str(enc.num_dropped_words))
    table.add_row("unknown glyphs", f"[yellow]{enc.unknown_glyphs}[/]" if enc.unknown_glyphs
                  else "0")
    shown, total = drawn
    what = (f"all {total} patches" if shown >= total else
            f"patches 0-{shown - 1} of {total}; --full draws the whole canvas")
    table.add_row("picture", f"{out}  ({size[0]}x{size[1]} px, {what}; padding tinted red)")
    console.print(table)


def _render_cases(console, renderer, cases_path: Path, out: Path) -> None:
    import numpy as np

    from ..errors import PixelBenchError
    from ..render.golden import encoding_to_arrays, load_cases, render_case

    arrays: dict = {}
    skipped: dict[str, str] = {}
    for case in load_cases(cases_path):
        try:
            enc = render_case(renderer, case)
        except PixelBenchError as exc:  # e.g. QA options on a renderer without them
            skipped[case["id"]] = str(exc)
            continue
        arrays.update(encoding_to_arrays(case["id"], enc, renderer.max_seq_length))
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    n_cases = len({k.split("/", 1)[0] for k in arrays})
    console.print(f"wrote {out}: {n_cases} cases, {len(arrays)} arrays")
    for case_id, reason in skipped.items():
        console.print(f"[yellow]skipped[/] {case_id}: {reason}", highlight=False)
