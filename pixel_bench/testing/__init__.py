"""Fakes for fast tests and smoke runs: a deterministic block renderer and a tiny torch model
implementing :class:`~pixel_bench.modeling.adapter.ModelAdapter` (no fonts, no Pango, no
checkpoints). :func:`register` adds them to the registries as ``testing-blocks`` /
``testing-tiny``."""

from .fake import BlockRenderer, TinyAdapter, register

__all__ = ["BlockRenderer", "TinyAdapter", "register"]
