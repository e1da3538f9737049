"""PNG output: a grouped bar chart (one group per column, one bar per row, error bar = std).

matplotlib is imported here, inside the function, so only ``--format png`` pays for it.
"""

from __future__ import annotations

from pathlib import Path

from .layouts import AverageColumn
from .table import Table


def to_png(table: Table, out: str | Path) -> Path:
    """Write the chart to ``out``; missing cells get no bar (a small "n/a" marks the gap)."""
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on clusters and CI
    import matplotlib.pyplot as plt
    import numpy as np

    columns = table.columns
    rows = table.rows
    n_rows = max(len(rows), 1)
    x = np.arange(len(columns), dtype=float)
    width = 0.8 / n_rows
    fig_w = min(max(6.0, 1.0 + len(columns) * (0.25 + 0.12 * n_rows)), 14.0)
    fig, ax = plt.subplots(figsize=(fig_w, 4.5), dpi=150)
    cmap = plt.get_cmap("tab10" if n_rows <= 10 else "tab20")
    for i, row in enumerate(rows):
        offsets = x - 0.4 + width * (i + 0.5)
        means = [row.cells[c.key].mean for c in columns]
        stds = [row.cells[c.key].std or 0.0 for c in columns]
        have = [m is not None for m in means]
        ax.bar(offsets[have], [m for m in means if m is not None], width * 0.92,
               yerr=[s for s, h in zip(stds, have) if h], capsize=2.0, label=row.label,
               color=cmap(i % cmap.N), error_kw={"elinewidth": 0.8, "ecolor": "0.25"})
        for off, h in zip(offsets, have):
            if not h:  # an empty slot says so, rather than looking like a zero
                ax.text(off, 1.0, "n/a", ha="center", va="bottom", fontsize=5, color="0.55",
                        rotation=90)
    labels = [c.label if not isinstance(c, AverageColumn) else c.header for c in columns]
    ax.set_xticks(x)
    # Slant only long labels that would collide ("MNLI-MM Acc" x 12), never "en fr es".
    slant = len(columns) > 8 and max(len(lab) for lab in labels) > 5
    ax.set_xticklabels(labels, rotation=30 if slant else 0, ha="right" if slant else "center",
                       fontsize=8)
    # Separate the average columns from the task columns with a faint line.
    for i, col in enumerate(columns):
        if isinstance(col, AverageColumn):
            for edge in (i - 0.5, i + 0.5):
                if 0 < edge < len(columns) - 1:
                    ax.axvline(edge, color="0.8", linewidth=0.8, linestyle="--")
    ax.set_ylabel("score (%)")
    lowest = min([0.0] + [r.cells[c.key].mean for r in rows for c in columns
                          if r.cells[c.key].mean is not None])  # MCC can be negative
    ax.set_ylim(lowest - 5 if lowest < 0 else 0, 100)
    ax.set_xlim(-0.6, len(columns) - 0.4)
    ax.yaxis.grid(True, color="0.9", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    splits = " and ".join(table.bases) or "no results"  # split families
    ax.set_title(f"{table.layout.title} ({splits}; mean ± std over seeds)", fontsize=10)
    if rows:
        ax.legend(fontsize=7, frameon=False, ncol=min(n_rows, 4), loc="upper center",
                  bbox_to_anchor=(0.5, -0.24 if slant else -0.10))
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)
    return out
