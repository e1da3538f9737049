"""The GLUE tasks (CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI): sequence
classification over single sentences or rendered pairs, texts passed through PIXEL's
``glue_strip_spaces``, metrics as HF's ``glue`` metric (combined score = mean)."""

from functools import partial
from pathlib import Path

from pixel_bench.data.glue import GlueFormat, hub_rows, read_glue_tsv, read_nli_jsonl
from pixel_bench.data.io import DataSource
from pixel_bench.tasktypes import SequenceClassificationTask
from pixel_bench.metrics import glue_metrics
from pixel_bench.registry import TASKS

NLI3 = ("entailment", "neutral", "contradiction")
NLI2 = ("entailment", "not_entailment")
BIN = ("0", "1")


def _spec(help_text: str, fmt: GlueFormat, main_metric: str, hub_keys: tuple[str, ...] = ()):
    """(help, GLUE TSV layout, hub text columns, main metric). The hub columns default to the
    TSV's text columns, which most GLUE tasks name the same in both releases."""
    keys = hub_keys or tuple(k for k in (fmt.text_a, fmt.text_b) if k is not None)
    return help_text, fmt, keys, main_metric


def _pair(labels, a: str = "sentence1", b: str = "sentence2", label: str = "label") -> GlueFormat:
    return GlueFormat(text_a=a, text_b=b, label=label, labels=labels)


SPECS = {
    "cola": _spec("CoLA acceptability (Matthews corr.)",
                  GlueFormat(text_a=3, label=1, header=False, labels=BIN),
                  "matthews_correlation", hub_keys=("sentence",)),
    "sst2": _spec("SST-2 sentiment (accuracy)",
                  GlueFormat(text_a="sentence", label="label", labels=BIN), "accuracy"),
    "mrpc": _spec("MRPC paraphrase (F1 / accuracy)",
                  _pair(BIN, "#1 String", "#2 String", "Quality"), "f1",
                  hub_keys=("sentence1", "sentence2")),
    "stsb": _spec("STS-B similarity, regression (Spearman / Pearson)",
                  _pair(None, label="score"), "spearmanr"),
    "qqp": _spec("QQP duplicate questions (F1 / accuracy)",
                 _pair(BIN, "question1", "question2", "is_duplicate"), "f1"),
    "mnli": _spec("MultiNLI (accuracy on matched and mismatched dev)",
                  _pair(NLI3, label="gold_label"), "accuracy",
                  hub_keys=("premise", "hypothesis")),
    "qnli": _spec("QNLI question/sentence entailment (accuracy)",
                  _pair(NLI2, "question", "sentence"), "accuracy"),
    "rte": _spec("RTE entailment (accuracy)", _pair(NLI2), "accuracy"),
    "wnli": _spec("WNLI Winograd NLI (accuracy)", _pair(BIN), "accuracy"),
}
DIRS = {"cola": "CoLA", "sst2": "SST-2", "mrpc": "MRPC", "stsb": "STS-B", "qqp": "QQP",
        "mnli": "MNLI", "qnli": "QNLI", "rte": "RTE", "wnli": "WNLI"}


def _reader(task: str, fmt: GlueFormat):
    def read(path: Path):
        if path.name.startswith(("msr_paraphrase",)):
            raise ValueError("use GLUE's MRPC train.tsv/dev.tsv")
        if ".jsonl" in path.name:
            return read_nli_jsonl(path, labels=fmt.labels)
        rows = read_glue_tsv(path, fmt)
        # CoLA's public release splits GLUE's dev.tsv in two: in-domain + out-of-domain
        if task == "cola" and path.name.startswith("in_domain_dev"):
            other = path.with_name(path.name.replace("in_domain_dev", "out_of_domain_dev"))
            if other.is_file():
                rows += read_glue_tsv(other, fmt)
        return rows
    return read


for _task, (_help, _fmt, _keys, _main) in SPECS.items():
    _patterns = {"train": ["train.tsv"], "validation": ["dev.tsv"]}
    _evals = ("validation",)
    if _task == "cola":
        _patterns = {"train": ["train.tsv", "in_domain_train.tsv"],
                     "validation": ["dev.tsv", "in_domain_dev.tsv"]}
    if _task == "mnli":
        _patterns = {"train": ["train.tsv", "multinli_1.0_train.jsonl", "train.jsonl"],
                     "validation_matched": ["dev_matched.tsv", "multinli_1.0_dev_matched.jsonl",
                                            "dev.jsonl"],
                     "validation_mismatched": ["dev_mismatched.tsv",
                                               "multinli_1.0_dev_mismatched.jsonl"]}
        _evals = ("validation_matched", "validation_mismatched")
    _subdirs = [f"glue/{DIRS[_task]}", DIRS[_task]]
    if _task == "mnli":
        _subdirs += ["mnli", "mnli/generative-nli", "generative-nli"]
    _t = SequenceClassificationTask(
        name=_task,
        description=f"GLUE {_help}; local {DIRS[_task]}/*.tsv[.gz] or hub nyu-mll/glue",
        source=DataSource(name=f"GLUE {DIRS[_task]}", patterns=_patterns, subdirs=_subdirs,
                          hub=("nyu-mll/glue", _task)),
        reader=_reader(_task, _fmt),
        hub_reader=partial(hub_rows, keys=_keys, regression=_fmt.labels is None),
        labels=list(_fmt.labels) if _fmt.labels else None,
        metric=partial(glue_metrics, _task), main_metric=_main, eval_splits=_evals)
    TASKS.register(_task, _t, help=_t.description)
