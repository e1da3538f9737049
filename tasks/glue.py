"""The GLUE tasks (CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI): sequence
classification over single sentences or rendered pairs, texts passed through PIXEL's
``glue_strip_spaces``, metrics as HF's ``glue`` metric (combined score = mean)."""

from functools import partial
from pathlib import Path

from pixel_bench.data.glue import GlueFormat, hub_rows, read_glue_tsv, read_nli_jsonl
from pixel_bench.data.io import DataSource
from pixel_bench.families import SequenceClassificationTask
from pixel_bench.metrics import glue_metrics
from pixel_bench.registry import TASKS

NLI3 = ("entailment", "neutral", "contradiction")
NLI2 = ("entailment", "not_entailment")
BIN = ("0", "1")

# task: (help, GLUE TSV layout, hub keys, main metric, extra local patterns)
SPECS = {
    "cola": ("CoLA acceptability (Matthews corr.)",
             GlueFormat(text_a=3, label=1, header=False, labels=BIN), ("sentence",),
             "matthews_correlation"),
    "sst2": ("SST-2 sentiment (accuracy)",
             GlueFormat(text_a="sentence", label="label", labels=BIN), ("sentence",), "accuracy"),
    "mrpc": ("MRPC paraphrase (F1 / accuracy)",
             GlueFormat(text_a="#1 String", text_b="#2 String", label="Quality", labels=BIN),
             ("sentence1", "sentence2"), "f1"),
    "stsb": ("STS-B similarity, regression (Spearman / Pearson)",
             GlueFormat(text_a="sentence1", text_b="sentence2", label="score", labels=None),
             ("sentence1", "sentence2"), "spearmanr"),
    "qqp": ("QQP duplicate questions (F1 / accuracy)",
            GlueFormat(text_a="question1", text_b="question2", label="is_duplicate", labels=BIN),
            ("question1", "question2"), "f1"),
    "mnli": ("MultiNLI (accuracy on matched and mismatched dev)",
             GlueFormat(text_a="sentence1", text_b="sentence2", label="gold_label", labels=NLI3),
             ("premise", "hypothesis"), "accuracy"),
    "qnli": ("QNLI question/sentence entailment (accuracy)",
             GlueFormat(text_a="question", text_b="sentence", label="label", labels=NLI2),
             ("question", "sentence"), "accuracy"),
    "rte": ("RTE entailment (accuracy)",
            GlueFormat(text_a="sentence1", text_b="sentence2", label="label", labels=NLI2),
            ("sentence1", "sentence2"), "accuracy"),
    "wnli": ("WNLI Winograd NLI (accuracy)",
             GlueFormat(text_a="sentence1", text_b="sentence2", label="label", labels=BIN),
             ("sentence1", "sentence2"), "accuracy"),
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
