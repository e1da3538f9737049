"""bAbI task 1 (single supporting fact, v1.2 en-10k test file frozen): generate the answer.

PIXAR's protocol (april-tools/pixar babi.ipynb): story lines, earlier questions followed by
``|`` and their answers, the last question followed by ``|``; 5 generated 16-px positions (80 px)
read back by OCR. See pixel_bench/data/generative.py and docs/generative.md.
"""

from pixel_bench.data.generative import read_babi
from pixel_bench.data.io import DataSource
from pixel_bench.tasktypes import GenerativeTask
from pixel_bench.registry import TASKS

TASK = GenerativeTask(
    name="babi",
    description="bAbI task 1 answers by generation + OCR (zero-shot; accuracy, readability, "
                "OCR ceiling); local qa1_single-supporting-fact_test.txt[.gz]",
    source=DataSource(name="bAbI task 1 (v1.2 en-10k)",
                      patterns={"test": ["qa1_single-supporting-fact_test.txt"],
                                "train": ["qa1_single-supporting-fact_train.txt"]},
                      subdirs=["babi", "en-10k", "tasks_1-20_v1-2/en-10k"]),
    reader=read_babi, main_metric="accuracy",
    pixar_scorer="babi", pixar_scorers=("babi",),
    reader_options=(("babi_questions", "questions"),))
TASKS.register("babi", TASK, help=TASK.description)
