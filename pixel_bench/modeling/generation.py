"""Which adapters can generate: a declared mixin, checked with ``isinstance`` (no probing).

An adapter that mixes in :class:`GenerativeAdapter` promises :meth:`build_generator`, returning
an object from :mod:`pixel_bench.generative.decode`: a pixel generator (``kind = "pixels"``:
continues a rendered prompt by whole model positions) or a text generator (``kind = "text"``:
continues the prompt's tokens). :func:`require_generative` turns any other adapter into a clear
error naming the models that can.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from ..errors import ConfigError


class GenerativeAdapter(ABC):
    """Mixin for model adapters whose models continue a prompt greedily."""

    #: "pixels" (PIXAR, PixelGPT pixel modes) or "text" (GPT-2-style baselines)
    generation_kind: str = "pixels"

    @abstractmethod
    def build_generator(self, checkpoint: str | Path | None = None, from_scratch: bool = False,
                        device: str = "cpu", options: dict[str, Any] | None = None) -> Any:
        """A generator for this model (weights from ``checkpoint``, random init when
        ``from_scratch``); ``options`` come from the task recipe (temperature, mode...).
        Raises ConfigError when this particular variant cannot generate."""


def require_generative(adapter: Any) -> GenerativeAdapter:
    if isinstance(adapter, GenerativeAdapter):
        return adapter
    from ..registry import MODELS

    able = [n for n in MODELS.names() if isinstance(MODELS.get(n), GenerativeAdapter)]
    card = adapter.card
    raise ConfigError(f"{card.name} ({card.family}) cannot generate, so it cannot run a generative task "
                      f"(LAMBADA, bAbI). Models that can: {', '.join(able)}")
