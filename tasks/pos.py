"""POS tagging on UD English-EWT: UPOS of every syntactic word, first patch of each word
labelled, accuracy over words (PIXEL's run_pos.py)."""

from pixel_bench.data.conllu import UPOS_LABELS, hub_rows, read_conllu
from pixel_bench.data.io import DataSource
from pixel_bench.tasktypes import TokenClassificationTask
from pixel_bench.metrics import pos_metrics
from pixel_bench.registry import TASKS

TASK = TokenClassificationTask(
    name="pos",
    description="UD English-EWT POS tagging (17 UPOS, accuracy over words); local "
                "*-ud-{train,dev,test}.conllu[.gz] or hub universal_dependencies/en_ewt",
    source=DataSource(
        name="UD English-EWT",
        patterns={"train": ["*-ud-train.conllu"], "validation": ["*-ud-dev.conllu"],
                  "test": ["*-ud-test.conllu"]},
        subdirs=["ud_english_ewt", "UD_English-EWT"],
        hub=("universal_dependencies", "en_ewt")),
    reader=read_conllu, hub_reader=hub_rows, labels=list(UPOS_LABELS),
    metric=pos_metrics, main_metric="accuracy",
    eval_splits=("validation", "test"))  # validation selects the model; test if present
TASKS.register("pos", TASK, help=TASK.description)
