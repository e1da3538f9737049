"""pixel-bench: one harness to render, fine-tune and score pixel-based language models."""

__version__ = "0.1.0"
