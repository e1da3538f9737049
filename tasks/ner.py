"""CoNLL-2003 English NER: IOB1 files converted to IOB2, CoNLL labels with MISC (PIXEL's
default list is MasakhaNER's; its CoNLL runs pass a labels file), seqeval entity F1."""

from pixel_bench.data.conll import CONLL2003_LABELS, hub_rows, read_conll
from pixel_bench.data.io import DataSource
from pixel_bench.tasktypes import TokenClassificationTask
from pixel_bench.metrics import ner_metrics
from pixel_bench.registry import TASKS


def _read(path):
    # the derived *.iob2 copies are already IOB2; everything else is the shared-task IOB1
    return read_conll(path, scheme="iob2" if ".iob2" in path.name else "iob1")


TASK = TokenClassificationTask(
    name="ner",
    description="CoNLL-2003 English NER (9 IOB2 labels incl. MISC, seqeval entity F1; strict "
                "IOB2 too); local eng.train/eng.testa/eng.testb[.gz] (IOB1) or train/dev.txt, hub "
                "eriktks/conll2003",
    source=DataSource(
        name="CoNLL-2003",
        patterns={"train": ["eng.train", "train.txt"], "validation": ["eng.testa", "dev.txt"],
                  "test": ["eng.testb", "test.txt"]},
        subdirs=["conll2003"],
        hub=("eriktks/conll2003",)),
    reader=_read, hub_reader=hub_rows, labels=list(CONLL2003_LABELS),
    metric=ner_metrics, main_metric="f1",
    eval_splits=("validation", "test"))  # validation selects the model; test if present
TASKS.register("ner", TASK, help=TASK.description)
