"""Named table layouts: which columns a table has and which rows it shows.

A value column names a task (canonical key), a split suffix and a metric. The split it reads is
``<base><suffix>`` where ``base`` is the record's own split family (``validation`` for a record
whose main split is ``validation_matched``; ``--split test`` replaces it), so one layout serves
validation and test results alike: MNLI-MM reads ``validation_mismatched`` or ``test_mismatched``,
the XNLI French column ``validation.fr`` or ``test.fr``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from ..errors import UnknownNameError
from .names import (GLUE_TASKS, MASAKHANER_LANGUAGES, UD_TREEBANKS, XNLI_LANGUAGES,
                    metric_display, task_display, task_key)


@dataclass(frozen=True)
class Column:
    """One value column. ``average_of`` (split suffixes) makes it a per-record mean over several
    splits, all of which must be present (the leaderboard's XNLI column)."""

    key: str
    task: str  # canonical task key (names.task_key)
    metric: str
    header: str  # "MNLI-MM"
    metric_label: str  # "Acc"
    group: str = ""  # spanning header ("Token-level"); "" for none
    suffix: str = ""  # split suffix appended to the base split
    average_of: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """Single-line header for markdown, csv and plots."""
        return f"{self.header} {self.metric_label}".strip()


@dataclass(frozen=True)
class AverageColumn:
    """Mean of other columns' cell means in the same row, defined only when all are present."""

    key: str
    header: str
    over: tuple[str, ...]  # Column keys
    definition: str  # one sentence for the table notes

    metric_label: str = ""
    group: str = ""

    @property
    def label(self) -> str:
        return self.header


@dataclass
class Layout:
    name: str
    description: str
    columns: Callable[[pd.DataFrame], list[Column | AverageColumn]]
    attributes: tuple[tuple[str, str], ...] = ()  # (attribute, header) columns before the values
    title: str = ""  # caption opening
    tasks: tuple[str, ...] = field(default_factory=tuple)  # canonical tasks it knows (for errors)


def _col(task: str, metric: str, group: str = "", suffix: str = "", header: str | None = None,
         key: str | None = None) -> Column:
    return Column(key=key or task + suffix, task=task, metric=metric, group=group, suffix=suffix,
                  header=header or task_display(task), metric_label=metric_display(metric))


def _thesis_columns() -> list[Column | AverageColumn]:
    cols: list[Column | AverageColumn] = [
        _col("pos", "accuracy", "Token-level"),
        _col("ner", "f1", "Token-level"),
        _col("sst2", "accuracy", "Sentence-level"),
        _col("mnli", "accuracy", "Sentence-level", "_matched", "MNLI-M"),
        _col("mnli", "accuracy", "Sentence-level", "_mismatched", "MNLI-MM"),
        _col("rte", "accuracy", "Sentence-level"),
        _col("squad", "f1", "Sentence-level"),
    ]
    keys = tuple(c.key for c in cols)
    cols.append(AverageColumn("avg", "Avg", keys,
                              f"Avg is the mean of the {len(keys)} task columns, shown only "
                              "where all of them have a result."))
    return cols


# GLUE as the PIXEL paper reports it: one score per task (F1 for MRPC and QQP, Spearman for STS-B,
# MCC for CoLA), MNLI matched and mismatched as two columns. Its "avg" is the mean of these ten
# numbers (README: 78.1 78.9 84.5 87.8 89.6 38.4 81.1 88.2 60.5 53.8 -> 74.1).
_GLUE_COLUMNS = (
    ("mnli", "accuracy", "_matched", "MNLI-M"), ("mnli", "accuracy", "_mismatched", "MNLI-MM"),
    ("qqp", "f1", "", None), ("qnli", "accuracy", "", None), ("sst2", "accuracy", "", None),
    ("cola", "matthews_correlation", "", None), ("stsb", "spearmanr", "", None),
    ("mrpc", "f1", "", None), ("rte", "accuracy", "", None), ("wnli", "accuracy", "", None),
)
_KNOWN_ORDER = ("pos", "ner", *(t for t, *_ in _GLUE_COLUMNS), "squad", "xnli")


def _leaderboard_columns(records: pd.DataFrame) -> list[Column | AverageColumn]:
    present = set(records["task_key"])
    cols: list[Column | AverageColumn] = []
    if "pos" in present:
        cols.append(_col("pos", "accuracy"))
    if "ner" in present:
        cols.append(_col("ner", "f1"))
    glue = [_col(t, m, "GLUE", s, h) for t, m, s, h in _GLUE_COLUMNS if t in present]
    cols.extend(glue)
    if glue:
        every = tuple(_col(t, m, "GLUE", s, h).key for t, m, s, h in _GLUE_COLUMNS)
        cols.append(AverageColumn("glue-avg", "GLUE Avg", every,
                                  "GLUE Avg is the mean of the ten GLUE columns (MNLI-M and "
                                  "MNLI-MM count separately, as in the PIXEL paper), shown only "
                                  "where all ten have a result.", group="GLUE"))
    if "squad" in present:
        cols.append(_col("squad", "f1"))
    if "xnli" in present:
        cols.append(Column("xnli", "xnli", "accuracy", "XNLI", "Acc",
                           average_of=tuple("." + lang for lang in XNLI_LANGUAGES)))
    # Tasks no layout knows: the main metric on the main split most of their records name.
    for key in sorted(present - set(_KNOWN_ORDER)):
        sub = records[records["task_key"] == key]
        metric = sub["main_metric"].mode().iloc[0]
        main_split = sub["main_split"].mode().iloc[0]
        suffix = main_split[len(sub["base_split"].mode().iloc[0]):]
        cols.append(_col(key, metric, suffix=suffix, header=sub["task"].iloc[0]))
    return cols


def _xnli_columns(_records: pd.DataFrame) -> list[Column | AverageColumn]:
    # Every column is accuracy, so the spanning group header says it once.
    cols: list[Column | AverageColumn] = [
        Column("xnli." + lang, "xnli", "accuracy", lang, "", "XNLI accuracy", "." + lang)
        for lang in XNLI_LANGUAGES]
    keys = tuple(c.key for c in cols)
    cols.append(AverageColumn("avg", "Avg", keys,
                              "Avg is the mean over the 15 languages, shown only where all have "
                              "a result."))
    return cols


def _ud_key(kind: str, code: str) -> str:
    return task_key(f"{kind}-{code}")  # "pos-en_ewt" -> "pos" (alias), "parsing-ko_gsd" -> ...


def _ud_columns(_records: pd.DataFrame) -> list[Column | AverageColumn]:
    """PIXEL's Table 2: POS accuracy and parsing LAS on its nine UD treebanks, plus averages."""
    cols: list[Column | AverageColumn] = []
    for kind, metric, group in (("pos", "accuracy", "POS (Acc)"),
                                ("parsing", "las", "Dependency parsing (LAS)")):
        block = [_col(_ud_key(kind, code), metric, group, header=header,
                      key=f"{kind}.{code}") for code, header in UD_TREEBANKS]
        cols.extend(block)
        cols.append(AverageColumn(f"{kind}.avg", "Avg", tuple(c.key for c in block),
                                  f"The {group.split(' (')[0]} Avg is the mean of its nine "
                                  "treebank columns, shown only where all nine have a result.",
                                  group=group))
    return cols


def _masakhaner_columns(_records: pd.DataFrame) -> list[Column | AverageColumn]:
    """PIXEL's Table 3: CoNLL-2003 and the ten MasakhaNER languages (F1), plus the average over
    the ten MasakhaNER languages."""
    cols: list[Column | AverageColumn] = [
        Column("ner", "ner", "f1", "ENG", "F1", "NER (F1)")]
    langs = [Column(f"masakhaner.{lang}", task_key(f"masakhaner-{lang}"), "f1", lang.upper(),
                    "F1", "NER (F1)") for lang in MASAKHANER_LANGUAGES]
    cols.extend(langs)
    cols.append(AverageColumn("masakhaner.avg", "Avg", tuple(c.key for c in langs),
                              "Avg is the mean of the ten MasakhaNER languages (CoNLL-2003 "
                              "ENG not included), shown only where all ten have a result.",
                              group="NER (F1)"))
    return cols


# Generative tasks: the corrected accuracy (main metric), PIXAR's own scorer, how often the OCR'd
# word is a word at all, and what OCR reads from the gold word rendered in the same window.
GENERATIVE_TASKS = ("lambada", "babi")
_GENERATIVE_METRICS = ("accuracy", "accuracy_pixar", "readability", "ocr_ceiling")


def _generative_columns(_records: pd.DataFrame) -> list[Column | AverageColumn]:
    return [_col(task, metric, task_display(task), key=f"{task}.{metric}",
                 header=task_display(task))
            for task in GENERATIVE_TASKS for metric in _GENERATIVE_METRICS]


LAYOUTS: dict[str, Layout] = {
    "main": Layout(
        "main", "PIXEL vs PIXAR on token- and sentence-level tasks (thesis Table 4.2)",
        lambda _r: _thesis_columns(), title="Token- and sentence-level results",
        tasks=("pos", "ner", "sst2", "mnli", "rte", "squad")),
    "ablation": Layout(
        "ablation", "PIXAR pre-training variants by architecture, masking and input "
        "(thesis Table 4.3)", lambda _r: _thesis_columns(),
        attributes=(("architecture", "Architecture"), ("masking", "Masking"),
                    ("input", "Input type")),
        title="Results of models with different pre-training configurations",
        tasks=("pos", "ner", "sst2", "mnli", "rte", "squad")),
    "leaderboard": Layout(
        "leaderboard", "every task found in the results, GLUE average where all GLUE tasks "
        "are present", _leaderboard_columns, title="Leaderboard",
        tasks=("pos", "ner", *GLUE_TASKS, "squad", "xnli")),
    "xnli": Layout(
        "xnli", "XNLI accuracy per language (15 languages) and their average", _xnli_columns,
        title="XNLI accuracy per language", tasks=("xnli",)),
    "ud": Layout(
        "ud", "POS accuracy and dependency-parsing LAS per UD treebank (PIXEL Table 2), with "
        "averages", _ud_columns, title="Universal Dependencies: POS and parsing",
        tasks=tuple(_ud_key(k, c) for k in ("pos", "parsing") for c, _ in UD_TREEBANKS)),
    "masakhaner": Layout(
        "masakhaner", "NER F1 per language: CoNLL-2003 English and the ten MasakhaNER "
        "languages (PIXEL Table 3), with their average", _masakhaner_columns,
        title="Named entity recognition",
        tasks=("ner", *(task_key(f"masakhaner-{lang}") for lang in MASAKHANER_LANGUAGES))),
    "generative": Layout(
        "generative", "LAMBADA and bAbI by generation + OCR: accuracy (corrected and PIXAR's "
        "scorer), readability, OCR ceiling", _generative_columns,
        title="Zero-shot generation read back by OCR", tasks=GENERATIVE_TASKS),
}


def get_layout(name: str) -> Layout:
    """The layout called ``name``; an unknown name lists the valid ones."""
    try:
        return LAYOUTS[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(LAYOUTS), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownNameError(f"unknown layout {name!r}.{hint} Known layouts: "
                               f"{', '.join(LAYOUTS)}") from None
