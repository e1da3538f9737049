"""Reconstruction pictures during pretraining (thesis Figure 3.3 layout).

Rows, for the first example of the last batch: the input strip, the masked encoder input, the
next-patch prediction (teacher forcing: each patch predicted from the gold previous patches) and
the free-running generation (greedy, from the start of the sequence, never seeing gold decoder
patches). A model can supply its own rows with ``reconstruction_rows(pixel_values,
attention_mask, patch_mask=None) -> list[(label, image)]``; PIXEL's MAE and PIXAR-2024 are drawn
here. Pictures never consume training randomness (``torch.random.fork_rng``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

PICTURE_WIDTH = 2048  # output width in px; long strips are wrapped so they stay readable


def _to_grey(img: Any) -> np.ndarray:
    """[C, H, W] / [H, W] tensor or array in [0, 1] (or logits already squashed) -> uint8 [H, W]."""
    arr = img.detach().float().cpu().numpy() if hasattr(img, "detach") else np.asarray(img)
    if arr.ndim == 3:
        arr = arr.mean(axis=0)
    return (np.clip(arr, 0.0, 1.0) * 255).astype(np.uint8)


def _masked(img: np.ndarray, patch_mask: np.ndarray, patch_w: int) -> np.ndarray:
    out = img.copy()
    for i, m in enumerate(np.asarray(patch_mask).reshape(-1)):
        if m:
            out[:, i * patch_w:(i + 1) * patch_w] = 160  # grey boxes where the encoder sees nothing
    return out


def _rows_pixel_mae(model: Any, batch: dict[str, Any]) -> list[tuple[str, np.ndarray]]:
    import torch

    out = model(**batch)
    p = model.config.patch_size
    pixel_values = batch["pixel_values"].float()
    target = model.patchify(pixel_values)
    pred = out.logits.float()
    if model.config.norm_pix_loss:  # undo the per-patch normalisation with the true statistics
        mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
        pred = pred * (var + 1e-6) ** 0.5 + mean
    mask = out.mask[0].float()
    recon = target.clone()
    recon[0, mask.bool()] = pred[0, mask.bool()]  # PIXEL shows visible patches + predictions
    img = _to_grey(pixel_values[0])
    return [("input", img), ("masked input", _masked(img, mask.cpu().numpy(), p)),
            ("reconstruction", _to_grey(model.unpatchify(torch.clamp(recon, 0, 1))[0]))]


def _rows_pixar2024(model: Any, batch: dict[str, Any]) -> list[tuple[str, np.ndarray]]:
    import torch

    out = model(**batch)
    img = batch["pixel_values"][0].float()
    logits = out.logits[0].float() if getattr(out, "logits", None) is not None else None
    rows = [("input", _to_grey(img))]
    if logits is not None:
        w = model.config.block_width if hasattr(model.config, "block_width") else 16
        pred = torch.sigmoid(logits)
        shifted = torch.ones_like(pred)  # position t predicts block t+1
        shifted[..., w:] = pred[..., :-w]
        rows.append(("next-patch prediction", _to_grey(shifted)))
    return rows


def reconstruction_rows(model: Any, batch: dict[str, Any]) -> list[tuple[str, np.ndarray]]:
    if hasattr(model, "reconstruction_rows"):
        return list(model.reconstruction_rows(**batch))
    name = type(model).__name__
    if name == "PIXELForPreTraining":
        return _rows_pixel_mae(model, batch)
    if name.startswith("Pixar2024"):
        return _rows_pixar2024(model, batch)
    rows = [("input", _to_grey(batch["pixel_values"][0]))]
    if "patch_mask" in batch:
        pw = rows[0][1].shape[1] // batch["patch_mask"].shape[-1]
        rows.append(("masked input", _masked(rows[0][1], batch["patch_mask"][0].cpu().numpy(),
                                             pw)))
    return rows


def compose(rows: list[tuple[str, np.ndarray]], title: str = "", scale: int | None = None,
            width: int | None = None) -> Any:
    """Stack labelled strips (cropped to ``width`` px, wrapped to PICTURE_WIDTH) into one
    PIL image."""
    from PIL import Image, ImageDraw

    strip_h = max(np.asarray(img).shape[0] for _, img in rows)
    scale = scale or max(2, 32 // strip_h)  # 8-px PIXAR strips x4, 16-px PIXEL strips x2
    wrap = PICTURE_WIDTH // scale
    blocks = []
    for label, img in rows:
        img = np.asarray(img, dtype=np.uint8)
        if width:
            img = img[:, :width]
        h, w = img.shape
        n = max(1, -(-w // wrap))
        canvas = np.full((n * (h + 2), wrap), 255, dtype=np.uint8)
        for i in range(n):
            part = img[:, i * wrap:(i + 1) * wrap]
            canvas[i * (h + 2):i * (h + 2) + h, :part.shape[1]] = part
        blocks.append((label, canvas))
    label_h = 12
    width = wrap * scale
    height = sum(label_h + b.shape[0] * scale + 4 for _, b in blocks) + (label_h if title else 0)
    out = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(out)
    y = 0
    if title:
        draw.text((2, y), title, fill=0)
        y += label_h
    for label, block in blocks:
        draw.text((2, y), label, fill=0)
        y += label_h
        strip = Image.fromarray(block).resize((block.shape[1] * scale, block.shape[0] * scale),
                                              Image.NEAREST)
        out.paste(strip, (0, y))
        y += strip.height + 4
    return out


def save_reconstruction(trainer: Any, path: Path) -> Path | None:
    """Draw the first example of the trainer's last batch with the engine's picture network
    (DeepSpeed: an fp32 copy; nothing under ZeRO-3, whose parameters are partitioned)."""
    import torch

    batch = trainer.last_batch
    if batch is None:
        return None
    model = trainer.backend.picture_model()
    if model is None:
        return None
    dtype = next(model.parameters()).dtype
    one = {k: v[:1].to(dtype) if v.is_floating_point() else v[:1] for k, v in batch.items()}
    was_training = model.training
    devices = [trainer.dist.device] if trainer.dist.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        model.eval()
        try:
            with trainer.backend.autocast():
                rows = reconstruction_rows(model, one)
        finally:
            model.train(was_training)
    # crop after the attended patches (text + EOS) and one more: the rest is white padding
    mask = one["attention_mask"][0]
    strip_w = rows[0][1].shape[1]
    width = int(np.ceil(strip_w / mask.shape[-1] * (float(mask.sum()) + 1)))
    path.parent.mkdir(parents=True, exist_ok=True)
    compose(rows, title=f"{trainer.args.model} step {trainer.step}", width=width).save(path)
    return path
