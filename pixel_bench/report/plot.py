"""PNG output: a grouped bar chart (one group per column, one bar per row, error bar = std).

matplotlib is imported here, inside the function, so only ``--format png`` pays for it. The figure
is built on its own Agg canvas, not through pyplot: no global backend switch (``matplotlib.use``
would close every open pyplot figure of a notebook or of other code in the process), no figure
registered with pyplot to leak, and nothing shared between calls or threads.
"""

from __future__ import annotations

from pathlib import Path

from .layouts import AverageColumn
from .table import Table


def tick_label(column) -> str:
    """Two lines, task over metric ("MNLI-MM\\nAcc"), so neighbouring labels never collide."""
    if isinstance(column, AverageColumn) or not column.metric_label:
        return column.header
    return f"{column.header}\n{column.metric_label}"


def to_png(table: Table, out: str | Path) -> Path:
    """Write the chart (:func:`figure`) to ``out``."""
    fig = figure(table)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight")
    return out


def figure(table: Table):
    """The grouped bar chart as a matplotlib Figure on its own Agg canvas (not managed by pyplot:
    nothing to close, it is freed with its last reference).

    Bars are cell means; error bars (± sample std) only where a cell has two or more seeds; an
    empty slot is marked "n/a" so a missing result never looks like a zero, and bars too short
    to see (a real 0.0) carry their value.
    """
    import matplotlib
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    columns = table.columns
    rows = table.rows
    n_rows = max(len(rows), 1)
    x = np.arange(len(columns), dtype=float)
    width = 0.8 / n_rows
    fig_w = min(max(6.0, 1.2 + len(columns) * (0.3 + 0.12 * n_rows)), 16.0)
    fig = Figure(figsize=(fig_w, 4.8), dpi=150)
    FigureCanvasAgg(fig)  # headless (no display on clusters and CI), without matplotlib.use()
    ax = fig.subplots()
    cmap = matplotlib.colormaps["tab10" if n_rows <= 10 else "tab20"]
    lowest = min([0.0] + [r.cells[c.key].mean for r in rows for c in columns
                          if r.cells[c.key].mean is not None])  # MCC can be negative
    bottom = lowest - 5 if lowest < 0 else 0.0
    small = 0.02 * (100.0 - bottom)  # bars shorter than this are hard to see
    note_size = 6 if n_rows * len(columns) <= 60 else 5
    for i, row in enumerate(rows):
        offsets = x - 0.4 + width * (i + 0.5)
        cells = [row.cells[c.key] for c in columns]
        have = np.array([not cell.missing for cell in cells])
        means = np.array([cell.mean if not cell.missing else 0.0 for cell in cells])
        ax.bar(offsets[have], means[have], width * 0.92, label=row.label,
               color=cmap(i % cmap.N))
        spread = np.array([cell.std is not None for cell in cells])
        if spread.any():  # one seed has no std: no error bar rather than a misleading 0
            ax.errorbar(offsets[spread], means[spread],
                        yerr=[cells[k].std for k in np.flatnonzero(spread)], fmt="none",
                        ecolor="0.15", elinewidth=0.9, capsize=2.5, capthick=0.9)
        for off, cell in zip(offsets, cells):
            if cell.mark:  # a non-standard setup: its mark over the bar (legend in the notes)
                top = max(cell.mean, 0.0) + (cell.std or 0.0)
                ax.text(off, top + (6.0 if abs(cell.mean) < small else 0.8), cell.mark,
                        ha="center", va="bottom", fontsize=note_size, color="0.15")
            if cell.missing:  # an empty slot says so, rather than looking like a zero
                ax.text(off, bottom + 0.5, "n/a", ha="center", va="bottom",
                        fontsize=note_size, color="0.4", rotation=90)
            elif abs(cell.mean) < small:
                ax.text(off, max(cell.mean, 0.0) + 0.5, f"{cell.mean:.1f}", ha="center",
                        va="bottom", fontsize=note_size, color="0.15", rotation=90)
    ax.set_xticks(x)
    ax.set_xticklabels([tick_label(c) for c in columns], fontsize=8)
    # Separate the average columns from the task columns with a faint line.
    for i, col in enumerate(columns):
        if isinstance(col, AverageColumn):
            for edge in (i - 0.5, i + 0.5):
                if 0 < edge < len(columns) - 1:
                    ax.axvline(edge, color="0.8", linewidth=0.8, linestyle="--")
    ax.set_ylabel("score (%)")
    ax.set_ylim(bottom, 100)
    ax.set_xlim(-0.6, len(columns) - 0.4)
    ax.yaxis.grid(True, color="0.9", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    splits = " and ".join(table.bases) or "no results"  # split families
    ax.set_title(f"{table.layout.title} ({splits} split)", fontsize=10)
    if rows:
        ax.legend(fontsize=7, frameon=False, ncol=min(n_rows, 3), loc="upper center",
                  bbox_to_anchor=(0.5, -0.13))
    counts = sorted(set(table.seed_counts()))
    seeds = (f"{counts[0]} seed{'s' if counts[0] != 1 else ''} per cell" if len(counts) == 1
             else f"{counts[0]}-{counts[-1]} seeds per cell" if counts else "no results")
    marked = ("\n†: non-standard setup (a subset of the examples, changed recipe values or "
              "random init; see the table notes)." if table.nonstandard_legend else "")
    fig.text(0.01, 0.005, f"Bars: mean over seeds ({seeds}); error bars: ± sample std where a "
             "cell has 2+ seeds; n/a: no result." + marked, fontsize=6.5, color="0.35",
             ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.05 if marked else 0.03, 1, 1))
    return fig
