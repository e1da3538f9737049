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
    from PIL import Image, ImageDraw

    n = min(len(prompts), max_rows)
    if n == 0:
        raise ValueError("contact sheet: no examples")
    pad, label_h = 6, 14
    strips = []
    for p, g in zip(prompts[:n], generations[:n]):
        tail = p[:, -context_px:] if p.shape[1] > context_px else np.pad(
            p, ((0, 0), (context_px - p.shape[1], 0)), constant_values=255)
        strips.append((tail, g))
    h = max(t.shape[0] for t, _ in strips) * SCALE
    width = max((t.shape[1] + g.shape[1]) * SCALE for t, g in strips) + 2 * pad + 2
    height = pad + (label_h + 4 if title else 0) + n * (label_h + h + pad)
    sheet = Image.new("RGB", (max(width, 480), height), "white")
    draw = ImageDraw.Draw(sheet)
    y = pad
    if title:
        draw.text((pad, y), title, fill=(0, 0, 0))
        y += label_h + 4
    for (tail, g), label in zip(strips, labels[:n]):
        draw.text((pad, y), label, fill=(0, 0, 0))
        y += label_h
        left = _up(tail).convert("RGB")
        sheet.paste(left, (pad, y))
        x = pad + left.width
        draw.line([(x, y - 1), (x, y + h)], fill=(220, 0, 0), width=2)
        sheet.paste(_up(g).convert("RGB"), (x + 2, y))
        y += h + pad
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path
