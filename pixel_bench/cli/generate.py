"""``pixel-bench generate``: greedy patch-by-patch generation with a thesis PIXAR model, drawn
like the thesis's Figure 3.3.

    pixel-bench generate --model pixar --checkpoint runs/pixar/checkpoints/latest-dir \\
        "The capital of France is" --patches 24 -o gen.png
    pixel-bench generate --model pixar-tiny --from-scratch "smoke test" -o /tmp/g.png

Rows of the picture (upscaled, labelled; a red line marks where the prompt's text ends):

1. ``prompt (rendered)``: the strip the encoder reads (text + black EOS patch);
2. ``masked encoder input`` (only with ``--masked``: the variant's masking, seeded);
3. ``next-patch prediction (teacher forcing)``: each patch predicted from the gold previous ones;
4. ``free-running generation``: from START, the decoder never sees a gold patch (Figure 3.3's
   "inference"), as many patches as the prompt strip attends;
5. ``continuation``: the prompt's text patches fed to the decoder, then ``--patches`` new ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ..errors import CheckpointError, ConfigError


def register(app: typer.Typer) -> None:
    @app.command("generate")
    def generate(
        prompt: str = typer.Argument(..., help="Text to render as the prompt."),
        model: str = typer.Option("pixar", "--model", "-m",
                                  help="A thesis PIXAR model name (pixar, pixar-encdec-…)."),
        checkpoint: Optional[Path] = typer.Option(
            None, "--checkpoint", "-c",
            help="Checkpoint directory (config.json, model.safetensors) from `pixel-bench "
                 "pretrain`."),
        patches: int = typer.Option(16, "--patches", "-n", min=0,
                                    help="New patches to generate after the prompt's text."),
        output: Path = typer.Option(Path("generation.png"), "--output", "-o",
                                    help="PNG file to write."),
        from_scratch: bool = typer.Option(False, "--from-scratch",
                                          help="Use a randomly initialised model (smoke tests)."),
        masked: bool = typer.Option(False, "--masked",
                                    help="Mask the encoder input with the variant's masking "
                                         "(Figure 3.3's setting) for rows 3 and 4."),
        seed: int = typer.Option(0, "--seed", help="Seed for --masked and random init."),
        scale: int = typer.Option(4, "--scale", min=1, max=16, help="Upscaling factor."),
        no_cache: bool = typer.Option(False, "--no-cache",
                                      help="Recompute the decoder every step (no KV cache)."),
        device: str = typer.Option("cpu", "--device", help="torch device, e.g. cpu or cuda."),
    ) -> None:
        """Generate patches greedily with thesis PIXAR and draw a Figure-3.3-style picture."""
        rows, info = run_generation(prompt, model, checkpoint, patches, from_scratch, masked,
                                    seed, not no_cache, device)
        title = (f"{info['model']}  |  prompt: {prompt!r}  |  {info['prompt_patches']} text "
                 f"patches, {patches} new")
        image = compose_rows(rows, info["boundary"], info["patch_size"], scale, title)
        output.parent.mkdir(parents=True, exist_ok=True)
        image.save(output)
        typer.echo(f"wrote {output} ({image.width}x{image.height}); rows: "
                   + ", ".join(label for label, _ in rows))


def run_generation(prompt: str, model_name: str, checkpoint: Path | None, patches: int,
                   from_scratch: bool = False, masked: bool = False, seed: int = 0,
                   use_cache: bool = True, device: str = "cpu"
                   ) -> tuple[list[tuple[str, Any]], dict[str, Any]]:
    """Build the model, render ``prompt`` and return the picture's rows (uint8 [8, W] arrays)."""
    import numpy as np
    import torch

    from ..modeling.adapter import TaskKind, load_checkpoint_renderer_config
    from ..registry import MODELS, RENDERERS
    from ..render import CONFIG_FILE_NAME

    adapter = MODELS.get(model_name)
    if adapter.card.family != "pixar":
        raise ConfigError(f"generate supports the thesis PIXAR models (family 'pixar'), not "
                          f"{model_name!r} ({adapter.card.family}); see `pixel-bench ls models`")
    if checkpoint is None and not from_scratch:
        raise CheckpointError(f"{model_name}: no released thesis-PIXAR weights exist; pass "
                              "--checkpoint DIR (a `pixel-bench pretrain` checkpoint) or "
                              "--from-scratch for a random model")
    if checkpoint is not None and not Path(checkpoint).expanduser().is_dir():
        raise CheckpointError(f"--checkpoint: directory not found: {checkpoint}")
    torch.manual_seed(seed)
    model = adapter.build_pretraining(checkpoint=checkpoint, from_scratch=from_scratch)
    model.to(device).eval()
    cfg = model.config

    renderer_cfg = None
    if checkpoint is not None and (Path(checkpoint) / CONFIG_FILE_NAME).is_file():
        renderer_cfg = load_checkpoint_renderer_config(checkpoint)  # font stays inside it
    length = min(int(cfg.num_patches), 529)
    if renderer_cfg is None:
        name, renderer_cfg = adapter.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION,
                                                     max_seq_length=length)
    else:
        name = "binary"
    renderer = RENDERERS.get(name)(renderer_cfg)
    enc = renderer(prompt)
    feats = adapter.features(enc)
    x = torch.as_tensor(feats["pixel_values"])[None].to(device)
    am = torch.as_tensor(feats["attention_mask"])[None].to(device)
    n_strip = x.shape[-1] // cfg.patch_size
    text = min(int(enc.num_text_patches), n_strip)  # text patches, without the EOS
    attended = int(am.sum().item())
    if text + patches > cfg.num_patches:
        raise ConfigError(f"--patches {patches}: the prompt uses {text} patches and the decoder "
                          f"has {cfg.num_patches} positions; ask for at most "
                          f"{cfg.num_patches - text}")

    patch_mask = None
    if masked and cfg.masking != "none":
        patch_mask = model.make_patch_mask(am, np.random.default_rng(seed))
    width = max(attended, text + patches)
    p = cfg.patch_size

    def to_u8(img: torch.Tensor, n: int) -> np.ndarray:
        arr = (img[0].mean(0).clamp(0, 1).float().cpu().numpy() * 255).round().astype(np.uint8)
        out = np.full((p, width * p), 255, dtype=np.uint8)
        out[:, : min(n, width) * p] = arr[:, : min(n, width) * p]
        return out

    with torch.no_grad():
        rows: list[tuple[str, Any]] = [("prompt (rendered)", to_u8(x, attended))]
        if patch_mask is not None:
            enc_out = model.pixar.encode(x, am, patch_mask)
            img = to_u8(x, attended)
            for i in np.flatnonzero(enc_out.mask[0].cpu().numpy()):
                if i < width:
                    img[:, i * p:(i + 1) * p] = 160
            rows.append(("masked encoder input", img))
        logits = model.next_patch_logits(x, am, patch_mask)
        pred = model.unpatchify(model.logits_to_pixels(logits))
        rows.append(("next-patch prediction (teacher forcing)", to_u8(pred, attended)))
        free = model.generate(x, 0, attended, encoder_attention_mask=am, patch_mask=patch_mask,
                              use_cache=use_cache)
        rows.append(("free-running generation (from START)",
                     to_u8(model.unpatchify(free), attended)))
        if text > 0:
            new = model.generate(x, text, patches, use_cache=use_cache)
            gold = model.patchify(x)[:, :text]
            cont = model.unpatchify(torch.cat([gold, new], dim=1))
            rows.append((f"continuation ({text} prompt patches + {patches} generated)",
                         to_u8(cont, text + patches)))
    info = {"model": model_name, "prompt_patches": text, "attended": attended,
            "boundary": text, "patch_size": p, "width_patches": width}
    return rows, info


def compose_rows(rows: list[tuple[str, Any]], boundary: int, patch_size: int, scale: int = 4,
                 title: str = "") -> Any:
    """Labelled, upscaled strips on a white RGB canvas; a red line after ``boundary`` patches."""
    from ..render.preview import labelled_strips

    return labelled_strips(rows, boundary * patch_size, scale, title)
