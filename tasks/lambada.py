"""LAMBADA (OpenAI test set, 5,153 passages): generate the passage's last word, zero-shot.

PIXAR's protocol (april-tools/pixar lambada.ipynb): prompt = every word but the last, through
its detokeniser; 4 generated 16-px positions (64 px) read back by OCR; first alphabetic word vs
the target. See docs/generative.md.
"""

from pixel_bench.data.generative import read_lambada
from pixel_bench.data.io import DataSource
from pixel_bench.tasktypes import GenerativeTask
from pixel_bench.registry import TASKS

TASK = GenerativeTask(
    name="lambada",
    description="LAMBADA last-word prediction by generation + OCR (zero-shot; accuracy, "
                "readability, OCR ceiling); local lambada_test.jsonl[.gz]",
    source=DataSource(name="LAMBADA (OpenAI)", patterns={"test": ["lambada_test.jsonl"]},
                      subdirs=["lambada"]),
    reader=read_lambada, main_metric="accuracy",
    pixar_scorer="lambada", pixar_scorers=("lambada", "babi"),
    reader_options=(("lambada_detokenize", "detok"),))
TASKS.register("lambada", TASK, help=TASK.description)
