"""The one "missing / unexpected / shape mismatch" check for loading weights into a model.

Every loader (PIXEL, thesis PIXAR, PIXAR-2024 / PixelGPT through ``_llama_common.strict_load``)
compares a checkpoint's tensors with the model's ``state_dict()`` here, so a checkpoint that does
not fit is always reported the same way, with the offending keys and shapes named. Imports no
torch: anything with a ``.shape`` works.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping


def short_keys(keys: Iterable[str], limit: int = 8) -> str:
    """``[a, b, c] ... (+N more)``: enough keys to act on without flooding the terminal."""
    keys = list(keys)
    more = f" ... (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return "[" + ", ".join(keys[:limit]) + "]" + more


@dataclass
class KeyReport:
    """How a checkpoint's keys fit a model's. ``missing`` / ``unexpected`` / ``mismatched`` are
    errors; ``allowed_missing`` (e.g. a new task head, initialised fresh) and
    ``allowed_unexpected`` (e.g. a pretraining head, dropped) are expected and only logged."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)  # "key: checkpoint (..) vs model (..)"
    allowed_missing: list[str] = field(default_factory=list)
    allowed_unexpected: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        """True when something does not fit."""
        return bool(self.missing or self.unexpected or self.mismatched)

    def describe(self) -> str:
        problems = []
        if self.missing:
            problems.append(f"missing keys {short_keys(self.missing)}")
        if self.unexpected:
            problems.append(f"unexpected keys {short_keys(self.unexpected)}")
        if self.mismatched:
            problems.append(f"shape mismatch {short_keys(self.mismatched)}")
        return "; ".join(problems)


def compare_keys(expected: Mapping[str, Any], given: Mapping[str, Any], *,
                 allow_missing: Iterable[str] = (), allow_unexpected: Iterable[str] = ()
                 ) -> KeyReport:
    """Compare checkpoint tensors ``given`` with the model's ``expected`` ones (both key ->
    tensor). ``allow_*`` are key prefixes. Keys keep the order of the mapping they come from."""
    allow_missing, allow_unexpected = tuple(allow_missing), tuple(allow_unexpected)
    report = KeyReport()
    for key in expected:
        if key not in given:
            (report.allowed_missing if key.startswith(allow_missing)
             else report.missing).append(key)
    for key, tensor in given.items():
        if key not in expected:
            (report.allowed_unexpected if key.startswith(allow_unexpected)
             else report.unexpected).append(key)
        elif tuple(tensor.shape) != tuple(expected[key].shape):
            report.mismatched.append(f"{key}: checkpoint {tuple(tensor.shape)} vs model "
                                     f"{tuple(expected[key].shape)}")
    return report
