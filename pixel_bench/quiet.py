"""Hide known, harmless third-party noise in plain command-line runs.

Each filter names one message (or one progress bar) that a user cannot act on; everything else
(our own warnings, other libraries' warnings and errors) still shows. ``pixel-bench --verbose``
or ``PIXEL_BENCH_VERBOSE=1`` turns all of it off, e.g. when reporting a bug. Nothing here
imports torch or transformers by itself (``hide_shard_bar`` does, only when asked to).
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from typing import Any, Callable, Iterator

VERBOSE_ENV = "PIXEL_BENCH_VERBOSE"

#: (logger name, message prefix) pairs dropped at the logger
LOG_MESSAGES: tuple[tuple[str, str], ...] = (
    # DeepSpeed says this on every import on a machine without a GPU (its logger writes to
    # stdout, so the line lands in the middle of our output); `pixel-bench doctor` shows the GPU
    ("DeepSpeed", "Setting accelerator to CPU"),
)
#: transformers' renamed-keyword notices (``@deprecate_kwarg``), e.g. "`past_key_values` is
#: deprecated and will be removed in version 5.40.0 for `GPT2Model.forward`"
TRANSFORMERS_DEPRECATION = r"`\w+` is deprecated and will be removed in version"
#: torch.distributed's renamed collectives that DeepSpeed's ZeRO still calls (pretraining), e.g.
#: "`torch.distributed.all_gather_into_tensor` is deprecated. Please use ... instead."
TORCH_DIST_DEPRECATION = r"`torch\.distributed\.\w+` is deprecated"
#: transformers' "<Class> LOAD REPORT" table of missing/mismatched weights (logged by
#: ``from_pretrained``); hidden only where pixel-bench reports the same keys itself
LOAD_REPORT = " LOAD REPORT"
#: tqdm bars of transformers hidden in plain runs (``save_pretrained`` of every checkpoint)
HIDDEN_BARS = frozenset({"Writing model shards"})


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


class _DropMessages(logging.Filter):
    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefixes)


def quiet_third_party() -> None:
    """Install the filters above (idempotent); no-op when verbose output was asked for."""
    if verbose():
        return
    by_logger: dict[str, list[str]] = {}
    for name, prefix in LOG_MESSAGES:
        by_logger.setdefault(name, []).append(prefix)
    for name, prefixes in by_logger.items():
        log = logging.getLogger(name)  # the same object the library configures on import
        if not any(isinstance(f, _DropMessages) for f in log.filters):
            log.addFilter(_DropMessages(tuple(prefixes)))
    warnings.filterwarnings("ignore", message=TRANSFORMERS_DEPRECATION, category=FutureWarning,
                            module=r"transformers(\.|$)")
    warnings.filterwarnings("ignore", message=TORCH_DIST_DEPRECATION, category=FutureWarning,
                            module=r"torch\.distributed(\.|$)")


def hide_shard_bar() -> None:
    """Hide the bars in :data:`HIDDEN_BARS` through transformers' tqdm hook (imports
    transformers; call it only in commands that load it anyway). Other bars are untouched."""
    if verbose():
        return
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        return
    if not hasattr(hf_logging, "set_tqdm_hook"):  # older transformers: leave the bar
        return

    def hook(factory: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if kwargs.get("desc") in HIDDEN_BARS:
            kwargs = {**kwargs, "disable": True}
        return factory(*args, **kwargs)

    hf_logging.set_tqdm_hook(hook)


class _DropContaining(logging.Filter):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


@contextlib.contextmanager
def no_load_report() -> Iterator[None]:
    """Around a ``from_pretrained`` whose missing/mismatched keys the caller checks and reports
    itself (text baselines: error or warning plus the record's ``newly_initialized``), drop
    transformers' duplicate LOAD REPORT table (ANSI-coloured even in a log file). Kept with
    ``--verbose``."""
    if verbose():
        yield
        return
    log = logging.getLogger("transformers.modeling_utils")
    flt = _DropContaining(LOAD_REPORT)
    log.addFilter(flt)
    try:
        yield
    finally:
        log.removeFilter(flt)
