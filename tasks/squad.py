"""SQuAD v1.1 extractive QA over rendered question+context windows (EM/F1, official v1.1
normalisation)."""

from pixel_bench.data.io import DataSource
from pixel_bench.data.squad import hub_rows, read_squad
from pixel_bench.tasktypes import QuestionAnsweringTask
from pixel_bench.registry import TASKS

TASK = QuestionAnsweringTask(
    name="squad",
    description="SQuAD v1.1 extractive QA (sliding windows, n-best 20, EM/F1); local "
                "train-v1.1*.json / dev-v1.1*.json[.gz] or hub rajpurkar/squad",
    source=DataSource(
        name="SQuAD v1.1",
        patterns={"train": ["train-v1.1*.json"], "validation": ["dev-v1.1*.json"]},
        subdirs=["squad_v1.1", "squad"],
        hub=("rajpurkar/squad",)),
    reader=read_squad, hub_reader=hub_rows, main_metric="f1")
TASKS.register("squad", TASK, help=TASK.description)
