"""Universal Dependencies for any treebank: POS (UPOS accuracy) and dependency parsing (UAS/LAS
with PIXEL's biaffine head), PIXEL's ``run_pos.py`` / ``run_ud.py``.

Task names carry the treebank: ``pos-<code>`` and ``parsing-<code>`` for the nine treebanks of
PIXEL's paper (``pos-ko_gsd``, ``parsing-cop_scriptorium``, ...; ``pixel-bench ls tasks``).
``--data-dir`` is the treebank folder, the ``ud/`` folder above it, or the shared data folder.
``parsing`` (like ``pos``) reads whatever ``*-ud-{train,dev,test}.conllu`` the ``--data-dir``
folder holds (English-EWT when pointed at the shared data folder), so any other UD treebank
works unchanged: ``--task parsing --data-dir .../UD_German-GSD``.

Splits: train, validation (dev; selects the model) and test, scored when present.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pixel_bench.data.conllu import UPOS_LABELS, read_conllu
from pixel_bench.data.io import DataSource
from pixel_bench.data.ud import TREEBANKS, UD_HEAD_LABELS, Treebank, read_conllu_parsing, \
    treebank_subdirs
from pixel_bench.errors import DataError
from pixel_bench.tasktypes import DependencyParsingTask, TokenClassificationTask
from pixel_bench.metrics import pos_metrics
from pixel_bench.registry import TASKS

SPLITS = ("validation", "test")
CJK_SCRIPTS = ("Hangul", "Han", "Japanese")
logger = logging.getLogger("pixel_bench.tasks.ud")


def _patterns(prefix: str) -> dict[str, list[str]]:
    return {"train": [f"{prefix}-ud-train.conllu"], "validation": [f"{prefix}-ud-dev.conllu"],
            "test": [f"{prefix}-ud-test.conllu"]}


def _hub_pos(ds: Any) -> list[dict[str, Any]]:
    names = ds.features["upos"].feature.names
    return [{"words": list(r["tokens"]), "labels": [names[i] for i in r["upos"]]} for r in ds]


def _hub_parsing(ds: Any) -> list[dict[str, Any]]:
    """``universal_dependencies`` rows: ``head`` as strings, ``deprel`` with subtypes."""
    rows = []
    for i, r in enumerate(ds):
        try:
            heads = [int(h) for h in r["head"]]
        except (TypeError, ValueError):
            raise DataError(f"universal_dependencies row {i} ({r.get('idx')}): non-integer head "
                            f"in {r['head']!r}; use local CoNLL-U files (--data-dir)") from None
        rows.append({"words": list(r["tokens"]), "heads": heads,
                     "deprels": [d.split(":")[0] for d in r["deprel"]]})
    return rows


@dataclass
class _TreebankHints:
    """What the POS and parsing tasks of one treebank add to their task type: a split missing
    from ``--data-dir`` says where to get the treebank, and a CJK treebank without a
    fallback-fonts folder warns before it renders hex boxes."""

    treebank: Treebank | None = None

    def load_split(self, split: str, data_dir=None, limit=None, recipe=None):
        try:
            return super().load_split(split, data_dir, limit)  # type: ignore[misc]
        except DataError as exc:
            tb = self.treebank
            if tb is None or data_dir is None or "no file for split" not in str(exc):
                raise
            raise DataError(f"{exc}. To get {tb.language} ({tb.folder}): {tb.source_hint}"
                            ) from None

    def render_kwargs(self, recipe: dict[str, Any]) -> dict[str, Any]:
        tb = self.treebank
        if tb is not None and tb.script in CJK_SCRIPTS and not recipe.get("fallback_fonts_dir"):
            logger.warning("%s: %s script needs CJK glyphs; without --set "
                           "fallback_fonts_dir=noto-cjk (the folder setup.sh unpacks) they render "
                           "as hex boxes (docs/multilingual.md#fonts)",
                           self.name, tb.script)  # type: ignore[attr-defined]
        return super().render_kwargs(recipe)  # type: ignore[misc]


@dataclass
class UDPosTask(_TreebankHints, TokenClassificationTask):
    pass


@dataclass
class UDParsingTask(_TreebankHints, DependencyParsingTask):
    pass


for code, tb in TREEBANKS.items():
    source = DataSource(name=f"UD {tb.folder[3:]}", patterns=_patterns(code),
                        subdirs=treebank_subdirs(tb),
                        hub=("universal_dependencies", code))
    pos = UDPosTask(
        name=f"pos-{code}", treebank=tb, recipe="pos", eval_splits=SPLITS,
        description=f"UD {tb.folder[3:]} POS ({tb.script} script; 17 UPOS, accuracy over words)",
        source=source, reader=read_conllu, hub_reader=_hub_pos, labels=list(UPOS_LABELS),
        metric=pos_metrics, main_metric="accuracy")
    TASKS.register(pos.name, pos, help=pos.description)
    parsing = UDParsingTask(
        name=f"parsing-{code}", treebank=tb, recipe="parsing", eval_splits=SPLITS,
        description=f"UD {tb.folder[3:]} dependency parsing ({tb.script} script; biaffine, "
                    "UAS/LAS over all words)",
        source=source, reader=read_conllu_parsing, hub_reader=_hub_parsing,
        labels=list(UD_HEAD_LABELS))
    TASKS.register(parsing.name, parsing, help=parsing.description)

_ANY = UDParsingTask(
    name="parsing", recipe="parsing", eval_splits=SPLITS,
    description="UD dependency parsing of the treebank in --data-dir (any *-ud-*.conllu; "
                "English-EWT in the shared data folder), biaffine head, UAS/LAS",
    source=DataSource(name="UD treebank", patterns=_patterns("*"),
                      subdirs=["ud_english_ewt", "UD_English-EWT"],
                      hub=("universal_dependencies", "en_ewt")),
    reader=read_conllu_parsing, hub_reader=_hub_parsing, labels=list(UD_HEAD_LABELS))
TASKS.register("parsing", _ANY, help=_ANY.description)
