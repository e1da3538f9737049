"""Data readers: local files in the benchmarks' original formats (gzip or not), with
``datasets``-hub fallbacks. Every reader returns plain python rows (dicts) so the task types
never care where data came from; bad input raises :class:`~pixel_bench.errors.DataError` naming
the file and line.

Row shapes (one dict per example):

* sequence classification: ``{"text": str | (str, str), "label": int | float}``
* token classification: ``{"words": [str], "labels": [str]}``
* extractive QA: ``{"id", "question", "context", "answers": {"text": [...], "answer_start": [...]}}``
"""

from .io import DataSource, find_split_file, hub_available, load_hub, open_text

__all__ = ["DataSource", "find_split_file", "hub_available", "load_hub", "open_text"]
