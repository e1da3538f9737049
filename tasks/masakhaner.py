"""MasakhaNER 1.0 (Adelani et al., 2021): NER in ten African languages, PIXEL's ``run_ner.py``
setup (its default label list *is* MasakhaNER's: O, B/I-DATE, PER, ORG, LOC), seqeval entity F1
in its default mode, as PIXEL reports it.

One task per language, ``masakhaner-<lang>`` (amh hau ibo kin lug luo pcm swa wol yor). Files:
``<lang>/{train,dev,test}.txt[.gz]`` (space-separated ``WORD TAG``, IOB2, blank line between
sentences); ``--data-dir`` is the language folder, the ``masakhaner/`` folder or the shared data
folder. Amharic: PIXEL was evaluated before the 2023-07-27 revision of the Amharic files
(masakhane-io/masakhane-ner commits 84fb98fc and b5762715 changed ``data/amh/``), so
``masakhaner-amh`` reads ``amh/pre-2023-07-27/`` when that folder is there (``masakhaner-amh-2023``
reads the revised files).
"""

from __future__ import annotations

from pixel_bench.data.conll import hub_rows, read_conll
from pixel_bench.data.io import DataSource
from pixel_bench.tasktypes import TokenClassificationTask
from pixel_bench.metrics import ner_metrics
from pixel_bench.registry import TASKS

#: PIXEL run_ner.py get_labels() default, in its order
MASAKHANER_LABELS = ["O", "B-DATE", "I-DATE", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC",
                     "I-LOC"]
LANGUAGES = {"amh": "Amharic", "hau": "Hausa", "ibo": "Igbo", "kin": "Kinyarwanda",
             "lug": "Luganda", "luo": "Luo", "pcm": "Nigerian Pidgin", "swa": "Swahili",
             "wol": "Wolof", "yor": "Yorùbá"}
PATTERNS = {"train": ["train.txt"], "validation": ["dev.txt"], "test": ["test.txt"]}


def _read(path):
    return read_conll(path, labels=MASAKHANER_LABELS, scheme="iob2")


def _subdirs(lang: str, old_amharic: bool) -> list[str]:
    dirs = [lang, f"masakhaner/{lang}"]
    if old_amharic:
        return ["pre-2023-07-27"] + [f"{d}/pre-2023-07-27" for d in dirs]
    return dirs


def _task(name: str, lang: str, old_amharic: bool = False) -> TokenClassificationTask:
    return TokenClassificationTask(
        name=name, recipe="masakhaner", eval_splits=("validation", "test"),
        description=f"MasakhaNER 1.0 {LANGUAGES[lang]} NER (9 IOB2 labels, seqeval entity F1)"
                    + (" - pre-2023-07-27 Amharic files, as PIXEL used" if old_amharic else ""),
        source=DataSource(name=f"MasakhaNER 1.0 {lang}", patterns=PATTERNS,
                          subdirs=_subdirs(lang, old_amharic),
                          hub=("masakhaner", lang)),
        reader=_read, hub_reader=hub_rows, labels=list(MASAKHANER_LABELS),
        metric=ner_metrics, main_metric="f1")


for _lang in LANGUAGES:
    _t = _task(f"masakhaner-{_lang}", _lang, old_amharic=_lang == "amh")
    TASKS.register(_t.name, _t, help=_t.description)
_t = _task("masakhaner-amh-2023", "amh")
TASKS.register(_t.name, _t, help=_t.description)
