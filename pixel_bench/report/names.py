"""Display names for tasks, metrics and model attributes, and canonical task keys.

Task names in records are whatever the task plug-in registered ("sst2", "glue-sst2", "conll2003");
layouts refer to tasks by a canonical key so a column finds its records under any of those
spellings. Nothing here imports anything heavy.
"""

from __future__ import annotations

import re

GLUE_TASKS = ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli")

# The 15 XNLI languages in the order the PIXEL paper and the XNLI dataset list them.
XNLI_LANGUAGES = ("en", "fr", "es", "el", "de", "bg", "ru", "tr", "ar", "vi", "th", "zh", "hi",
                  "sw", "ur")

# PIXEL's UD treebanks (paper column order) and MasakhaNER languages, for the multilingual layouts:
# (treebank code, column header); task keys are "pos<code>" / "parsing<code>" without "_".
UD_TREEBANKS = (("en_ewt", "ENG"), ("ar_padt", "ARA"), ("cop_scriptorium", "COP"),
                ("hi_hdtb", "HIN"), ("ja_gsd", "JPN"), ("ko_gsd", "KOR"), ("ta_ttb", "TAM"),
                ("vi_vtb", "VIE"), ("zh_gsd", "ZHO"))
MASAKHANER_LANGUAGES = ("amh", "hau", "ibo", "kin", "lug", "luo", "pcm", "swa", "wol", "yor")

# Spellings of the same task (after lower-casing and dropping everything but letters and digits).
_ALIASES = {
    "conll2003": "ner", "conll03": "ner", "nerconll2003": "ner", "conll2003ner": "ner",
    "udpos": "pos", "posud": "pos", "posewt": "pos", "udewtpos": "pos", "ewtpos": "pos",
    "posenewt": "pos",  # the multilingual tasks' name for UD English-EWT POS
    "squadv1": "squad", "squad1": "squad", "squad11": "squad", "squadv11": "squad",
}

TASK_DISPLAY = {
    "pos": "POS", "ner": "NER", "squad": "SQuAD", "xnli": "XNLI",
    "cola": "CoLA", "sst2": "SST-2", "mrpc": "MRPC", "stsb": "STS-B", "qqp": "QQP",
    "mnli": "MNLI", "qnli": "QNLI", "rte": "RTE", "wnli": "WNLI",
    "lambada": "LAMBADA", "babi": "bAbI",
}

METRIC_DISPLAY = {
    "accuracy": "Acc", "f1": "F1", "exact_match": "EM", "matthews_correlation": "MCC",
    "pearson": "Pearson", "spearmanr": "Spearman", "spearman": "Spearman", "precision": "P",
    "recall": "R", "las": "LAS", "uas": "UAS",
    # generative tasks (docs/generative.md)
    "accuracy_pixar": "Acc (PIXAR)", "readability": "Readable", "ocr_ceiling": "OCR ceiling",
}

# model_info.attributes values -> the words of thesis Table 4.3 (unknown values pass through).
ATTRIBUTE_DISPLAY = {
    "architecture": {"encoder": "Enc", "enc": "Enc", "encoder-only": "Enc",
                     "encoder_only": "Enc", "decoder-only": "Dec", "encoder-decoder": "Enc-Dec",
                     "encoder_decoder": "Enc-Dec", "encdec": "Enc-Dec", "enc-dec": "Enc-Dec",
                     "decoder": "Dec", "dec": "Dec"},
    "masking": {"span": "Span", "random": "Random", "none": "None", "": "None"},
    "input": {"grey": "Grey", "gray": "Grey", "binary": "Binary", "rgb": "RGB",
              "tokens": "Tokens", "pixel": "Pixel", "text": "Text", "pair": "Pair"},
}
# Sort order of attribute values in the ablation table (thesis order: Enc before Enc-Dec, ...).
ATTRIBUTE_ORDER = {
    "architecture": ("Enc", "Enc-Dec", "Dec"),
    "masking": ("None", "Random", "Span"),
    "input": ("Grey", "Binary"),
}

# Row order by model family: the baseline first, as in thesis Tables 4.2 and 4.3.
FAMILY_ORDER = ("pixel", "pixar", "pixar2024", "pixelgpt", "text")


def task_key(name: str) -> str:
    """Canonical key of a task name: "GLUE-SST-2" -> "sst2", "conll2003" -> "ner"."""
    key = re.sub(r"[^a-z0-9]", "", str(name).lower())
    if key.startswith("glue") and key[4:] in GLUE_TASKS:
        key = key[4:]
    return _ALIASES.get(key, key)


def task_display(key: str, raw: str | None = None) -> str:
    return TASK_DISPLAY.get(key, raw if raw is not None else key)


def metric_display(metric: str) -> str:
    return METRIC_DISPLAY.get(metric, metric)


def attribute_display(attribute: str, value: object) -> str:
    """Thesis wording of an attribute value; "–" where the record does not say."""
    if value is None:
        return "–"
    text = str(value)
    return ATTRIBUTE_DISPLAY.get(attribute, {}).get(text.lower(), text)
