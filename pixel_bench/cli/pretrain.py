"""``pixel-bench pretrain``: pretrain PIXAR (thesis variants), PIXEL (MAE) or PIXAR-2024.

    pixel-bench pretrain --model pixar-tiny --data corpus.txt.gz --max-steps 300 -o runs/pixar
    pixel-bench pretrain --model pixar --data wiki/ --num-processes 2 --zero-stage 2 -o runs/p
    pixel-bench pretrain --model pixar-tiny --data wiki/ --engine torch --num-processes 2 -o r
    pixel-bench pretrain ... --resume auto        # continue exactly where a killed run stopped
    pixel-bench pretrain ... --nnodes 2 --num-processes 4 --rdzv-endpoint node01:29500  # each node
    srun --nodes 2 --ntasks-per-node 1 pixel-bench pretrain ... --num-processes 4  # SLURM_* read

Everything is validated (corpus, DeepSpeed config, precision vs device, checkpoints) before any
process starts; N processes are launched with torchrun (or the DeepSpeed launcher).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("pretrain")
    def pretrain(
        model: Optional[str] = typer.Option(None, "--model", "-m", help="Model name, e.g. "
                                            "pixar-tiny, pixel-tiny, pixar2024-tiny "
                                            "(`pixel-bench ls models`)."),
        output_dir: Optional[Path] = typer.Option(None, "--output-dir", "-o",
                                                  help="Run directory (checkpoints, metrics, "
                                                  "final model)."),
        config: Optional[Path] = typer.Option(None, "--config", "-c", help="JSON/YAML file of "
                                              "settings (keys = option names with _); command "
                                              "line options win."),
        data: Optional[str] = typer.Option(None, "--data", help="Text file, directory of text "
                                           "files (.gz ok), or a Hugging Face text dataset."),
        # Defaults live in PretrainArgs (None here = "not given", so --config values survive);
        # show_default shows them (a "[default: x]" in a help text is eaten as Rich markup).
        # tests/unit/test_cli_polish.py checks that each shown default is PretrainArgs'.
        data_split: Optional[str] = typer.Option(None, "--data-split", help="HF split.",
                                                 show_default="train"),
        text_column: Optional[str] = typer.Option(None, "--text-column", help="HF text column.",
                                                  show_default="text"),
        engine: Optional[str] = typer.Option(None, "--engine", help="deepspeed or torch (DDP).",
                                             show_default="deepspeed"),
        deepspeed: Optional[Path] = typer.Option(None, "--deepspeed", help="DeepSpeed JSON "
                                                 "(\"auto\" values are filled).",
                                                 show_default="models/deepspeed/zero2.json"),
        zero_stage: Optional[int] = typer.Option(None, "--zero-stage", help="ZeRO stage 0-3 "
                                                 "(overrides the JSON)."),
        num_processes: Optional[int] = typer.Option(None, "--num-processes", "-n",
                                                    help="Data-parallel processes.",
                                                    show_default="1"),
        launcher: Optional[str] = typer.Option(None, "--launcher", help="torchrun or deepspeed.",
                                               show_default="torchrun"),
        nnodes: Optional[int] = typer.Option(None, "--nnodes", help="Nodes (torchrun; run the "
                                             "same command on each node; under srun read from "
                                             "SLURM_NNODES).", show_default="1"),
        node_rank: Optional[int] = typer.Option(None, "--node-rank", help="This node's rank "
                                                "(static rendezvous; c10d assigns ranks)."),
        rdzv_endpoint: Optional[str] = typer.Option(None, "--rdzv-endpoint", help="HOST:PORT "
                                                    "every node reaches (under srun: the "
                                                    "job's first node)."),
        rdzv_id: Optional[str] = typer.Option(None, "--rdzv-id", help="Rendezvous id, the same "
                                              "on every node (default: from -o)."),
        rdzv_backend: Optional[str] = typer.Option(None, "--rdzv-backend", help="c10d or "
                                                   "static.", show_default="c10d"),
        hostfile: Optional[str] = typer.Option(None, "--hostfile", help="DeepSpeed launcher "
                                               "hostfile ('HOST slots=N' lines; needs "
                                               "passwordless ssh to each host)."),
        init_from: Optional[str] = typer.Option(None, "--init-from", help="Initialise from a "
                                                "checkpoint (PIXAR: the encoder from a PIXEL "
                                                "checkpoint)."),
        max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Optimizer steps.",
                                                show_default="100000"),
        batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Per-process micro "
                                                 "batch.", show_default="8"),
        grad_accum: Optional[int] = typer.Option(None, "--grad-accum", help="Gradient "
                                                 "accumulation steps.", show_default="1"),
        lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate.",
                                           show_default="1.5e-4"),
        min_lr: Optional[float] = typer.Option(None, "--min-lr", help="Cosine floor.",
                                               show_default="1e-5"),
        warmup_steps: Optional[int] = typer.Option(None, "--warmup-steps", help="Linear warmup "
                                                   "steps (should be well below --max-steps).",
                                                   show_default="5000"),
        weight_decay: Optional[float] = typer.Option(None, "--weight-decay",
                                                     help="AdamW weight decay.",
                                                     show_default="0.05"),
        grad_clip: Optional[float] = typer.Option(None, "--grad-clip", help="Max gradient "
                                                  "norm.", show_default="1.0"),
        precision: Optional[str] = typer.Option(None, "--precision", help="bf16, fp16 (GPU "
                                                "only) or fp32.", show_default="bf16"),
        seed: Optional[int] = typer.Option(None, "--seed", help="Random seed.",
                                           show_default="42"),
        num_workers: Optional[int] = typer.Option(None, "--num-workers", help="Rendering "
                                                  "data-loader workers per process.",
                                                  show_default="1"),
        save_steps: Optional[int] = typer.Option(None, "--save-steps", help="Checkpoint every K "
                                                 "steps.", show_default="1000"),
        save_total_limit: Optional[int] = typer.Option(None, "--save-total-limit",
                                                       help="Checkpoints kept.",
                                                       show_default="2"),
        log_steps: Optional[int] = typer.Option(None, "--log-steps", help="Log every K steps.",
                                                show_default="10"),
        picture_steps: Optional[int] = typer.Option(None, "--picture-steps", help="Reconstruction "
                                                    "picture every K steps (0: never).",
                                                    show_default="500"),
        resume: Optional[str] = typer.Option(None, "--resume", help="auto (continue from the "
                                             "latest checkpoint if any), never, or a "
                                             "checkpoint directory.", show_default="auto"),
        max_seq_length: Optional[int] = typer.Option(None, "--max-seq-length", help="Renderer "
                                                     "patches per example.",
                                                     show_default="the model's"),
        renderer: Optional[str] = typer.Option(None, "--renderer", help="Renderer where the "
                                               "model allows a choice."),
        mask_ratio: Optional[float] = typer.Option(None, "--mask-ratio", help="Encoder masking "
                                                   "ratio.", show_default="0.25"),
        min_text_patches: Optional[int] = typer.Option(None, "--min-text-patches",
                                                       help="Drop shorter examples (PIXEL: 22).",
                                                       show_default="22"),
        block_lines: Optional[int] = typer.Option(None, "--block-lines", help="Lines per data "
                                                  "shard block.", show_default="256"),
        render_cache: Optional[bool] = typer.Option(None, "--render-cache/--no-render-cache",
                                                    help="Store/read packed, rendered blocks in "
                                                    "the rendered-data cache (each block packed "
                                                    "on its own).",
                                                    show_default="no-render-cache"),
        unescape_html: Optional[bool] = typer.Option(None, "--unescape-html/--no-unescape-html",
                                                     help="Resolve HTML entities (&amp; -> &, "
                                                     "as in WikiExtractor output) in every "
                                                     "text line before packing (off: the "
                                                     "text exactly as given).",
                                                     show_default="no-unescape-html"),
        device: Optional[str] = typer.Option(None, "--device", help="auto, cpu or cuda.",
                                             show_default="auto"),
    ) -> None:
        """Pretrain a pixel language model (DeepSpeed ZeRO or plain torch, N processes)."""
        # every option but --config is a PretrainArgs field of the same name; None = not given
        given = {k: str(v) if isinstance(v, Path) else v for k, v in locals().items()
                 if k != "config" and v is not None}
        from rich.console import Console

        from ..errors import ConfigError
        from ..quiet import hide_shard_bar
        from ..train.pretrain import PretrainArgs, run_pretraining

        hide_shard_bar()  # here, not for every command: it imports transformers

        if config is not None:
            args = PretrainArgs.from_file(config, **given)
        else:
            missing = [f"--{k.replace('_', '-')}" for k in ("model", "output_dir")
                       if k not in given]
            if missing:
                raise ConfigError(f"pixel-bench pretrain needs {' and '.join(missing)}")
            args = PretrainArgs(**given)
        note = warmup_warning(args)
        if note:
            Console(stderr=True).print(f"[yellow]warning:[/] {note}", highlight=False)
        summary = run_pretraining(args)
        import os

        if int(os.environ.get("RANK", "0")) != 0:  # srun: every task is a rank; rank 0 reports
            return
        console = Console()
        console.print(f"[bold green]done[/]: {summary.get('steps')} steps; checkpoint for "
                      f"`pixel-bench run --checkpoint`: {summary['output_dir']}")


def warmup_warning(args) -> str | None:
    """A run whose linear warmup is not shorter than the run never reaches its peak learning rate
    (the README's old 300-step example ended at 9e-06 instead of 1.5e-04): say so, with the
    learning rate of the last step and a warmup that fits. Not changed silently: the schedule is
    part of the experiment."""
    from ..train.pretrain import lr_at

    warmup, total = int(args.warmup_steps), int(args.max_steps)
    if total <= 0 or warmup < total:
        return None
    last = lr_at(total - 1, peak=args.lr, min_lr=args.min_lr, warmup=warmup, total=total)
    return (f"--warmup-steps {warmup} >= --max-steps {total}: the learning rate never leaves its "
            f"linear warmup and its last step uses {last:.2g} instead of the peak {args.lr:g}; "
            f"pass e.g. --warmup-steps {max(1, total // 10)} (10% of the steps)")
