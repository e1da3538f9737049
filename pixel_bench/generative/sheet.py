"""``--save-generations``: each prompt and generation as PNG, plus a contact sheet to skim.

Files (in the cell folder): ``generations/<index>_prompt.png`` (the shifted prompt strip),
``generations/<index>_gen.png`` (the generated region, what OCR reads), and
``generations/contact_sheet.png``: one row per example with the end of the prompt, a red line,
the generation, the target and each engine's reading (x3, nearest neighbour, so pixels stay
crisp).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

SCALE = 3


def _up(grey: np.ndarray, scale: int = SCALE) -> Any:
    from PIL import Image

    img = Image.fromarray(np.asarray(grey, dtype=np.uint8), mode="L")
    return img.resize((img.width * scale, img.height * scale), Image.NEAREST)


def save_images(directory: Path, prompts: Sequence[np.ndarray], generations: Sequence[np.ndarray]
                ) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for i, (p, g) in enumerate(zip(prompts, generations)):
        _up(p).save(directory / f"{i:05d}_prompt.png")
        _up(g).save(directory / f"{i:05d}_gen.png")


def contact_sheet(path: Path, prompts: Sequence[np.ndarray], generations: Sequence[np.ndarray],
                  labels: Sequence[str], context_px: int = 160, max_rows: int = 48,
                  title: str = "") -> Path:
    """Rows of ``prompt tail | generation`` with a label line each."""
    from ..render.preview import labelled_strips

    n = min(len(prompts), max_rows)
    if n == 0:
        raise ValueError("contact sheet: no examples")
    rows = []
    for p, g, label in zip(prompts[:n], generations[:n], labels[:n]):
        tail = p[:, -context_px:] if p.shape[1] > context_px else np.pad(
            p, ((0, 0), (context_px - p.shape[1], 0)), constant_values=255)
        rows.append((label, np.concatenate([tail, g], axis=1)))
    sheet = labelled_strips(rows, context_px, SCALE, title, min_width=480)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path
