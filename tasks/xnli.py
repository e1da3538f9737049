"""XNLI: train on MNLI (or the translate-train-all data when given), evaluate accuracy on each
of the 15 XNLI languages (``validation.<lang>`` splits); PIXEL renders with PangoCairo and pools
with ``cls``."""

from functools import partial
from pathlib import Path

from pixel_bench.data.glue import hub_rows, read_glue_tsv, read_nli_jsonl, GlueFormat
from pixel_bench.data.io import DataSource
from pixel_bench.data.xnli import NLI_LABELS, XNLI_LANGUAGES, read_xnli_tsv
from pixel_bench.tasktypes import SequenceClassificationTask
from pixel_bench.metrics import glue_metrics
from pixel_bench.registry import TASKS

_MNLI_TSV = GlueFormat(text_a="sentence1", text_b="sentence2", label="gold_label",
                       labels=tuple(NLI_LABELS))


def _read(path: Path):
    if ".jsonl" in path.name:
        return read_nli_jsonl(path, labels=NLI_LABELS)
    if path.name.startswith("train") and path.name.endswith((".tsv", ".tsv.gz")) \
            and "-" not in path.name:
        return read_glue_tsv(path, _MNLI_TSV)  # GLUE MNLI train.tsv
    return read_xnli_tsv(path)


def _hub_rows(ds):
    # facebook/xnli: premise/hypothesis/label with XNLI's own label order (= NLI_LABELS)
    return hub_rows(ds, keys=("premise", "hypothesis"))


_patterns = {"train": ["train-en.tsv", "multinli_1.0_train.jsonl", "train.tsv"]}
_patterns.update({f"validation.{lang}": [f"dev-{lang}.tsv"] for lang in XNLI_LANGUAGES})
_patterns.update({f"test.{lang}": [f"test-{lang}.tsv"] for lang in XNLI_LANGUAGES})
_LANGS = ["en"] + [lang for lang in XNLI_LANGUAGES if lang != "en"]
TASK = SequenceClassificationTask(
    name="xnli",
    description="XNLI 15-language NLI, accuracy per language (validation.<lang>, test.<lang>); "
                "local XTREME dev-<lang>.tsv / test-<lang>.tsv[.gz] (train: MNLI train-en.tsv / "
                "train.tsv), hub facebook/xnli",
    source=DataSource(name="XNLI", patterns=_patterns, subdirs=["xnli", "mnli"],
                      hub=("facebook/xnli", "all_languages")),
    reader=_read, hub_reader=_hub_rows, labels=list(NLI_LABELS),
    metric=partial(glue_metrics, "xnli"), main_metric="accuracy",
    # validation.en selects the model; XTREME's test-<lang>.tsv are scored when present
    eval_splits=tuple(f"validation.{lang}" for lang in _LANGS)
    + tuple(f"test.{lang}" for lang in _LANGS))
TASKS.register("xnli", TASK, help=TASK.description)
