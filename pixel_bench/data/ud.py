"""Universal Dependencies treebanks: the catalogue PIXEL evaluates on, and the parsing reader.

PIXEL (Rust et al., ICLR 2023, arXiv:2207.06991) reports POS and dependency parsing on UD v2.10
for nine treebanks (its ``scripts/training/run_pos.py`` / ``run_ud.py`` read them).
Each is a task pair ``pos-<code>`` / ``parsing-<code>`` (``<code>`` = the UD file prefix, e.g.
``ko_gsd``); ``--data-dir`` may be the treebank folder itself (``UD_Korean-GSD``), the ``ud/``
folder that holds it, or the shared data folder.

Parsing rows (PIXEL's ``ud_dataset.read_examples_from_file``): word = FORM, head = HEAD (int,
0 = root), relation = DEPREL cut at the first ``:`` (``nsubj:pass`` -> ``nsubj``, so subtypes
fold into the 37 universal relations). Only lines whose ID is all digits are words: multiword
token ranges (``1-2``) and empty nodes (``8.1``) are skipped, as for POS.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError
from .conllu import iter_tokens

#: PIXEL's relation label list (``UD_HEAD_LABELS``, index 0 = "_"), in its order
UD_HEAD_LABELS = [
    "_", "acl", "advcl", "advmod", "amod", "appos", "aux", "case", "cc", "ccomp", "clf",
    "compound", "conj", "cop", "csubj", "dep", "det", "discourse", "dislocated", "expl", "fixed",
    "flat", "goeswith", "iobj", "list", "mark", "nmod", "nsubj", "nummod", "obj", "obl", "orphan",
    "parataxis", "punct", "reparandum", "root", "vocative", "xcomp",
]

UD_RELEASE_URL = "https://lindat.mff.cuni.cz/repository/xmlui/handle/11234/1-4758"  # UD 2.10


@dataclass(frozen=True)
class Treebank:
    code: str  # file prefix, e.g. "ko_gsd"
    folder: str  # UD repository / release folder, e.g. "UD_Korean-GSD"
    language: str
    script: str  # the script PIXEL's paper groups it by
    rtl: bool = False  # written right to left (rendering follows the renderer's own RTL vote)

    @property
    def display(self) -> str:
        """The paper's column header (ISO 639-3-like: ENG, ARA, COP, ...)."""
        return _DISPLAY.get(self.code, self.code.upper())

    @property
    def source_hint(self) -> str:
        return (f"download UD v2.10 ({UD_RELEASE_URL}, ud-treebanks-v2.10.tgz) or clone "
                f"https://github.com/UniversalDependencies/{self.folder} at tag r2.10, and pass "
                f"--data-dir .../{self.folder}")


#: the nine treebanks of PIXEL's Table 2, in its column order
TREEBANKS: dict[str, Treebank] = {t.code: t for t in (
    Treebank("en_ewt", "UD_English-EWT", "English", "Latin"),
    Treebank("ar_padt", "UD_Arabic-PADT", "Arabic", "Arabic", rtl=True),
    Treebank("cop_scriptorium", "UD_Coptic-Scriptorium", "Coptic", "Coptic"),
    Treebank("hi_hdtb", "UD_Hindi-HDTB", "Hindi", "Devanagari"),
    Treebank("ja_gsd", "UD_Japanese-GSD", "Japanese", "Japanese"),
    Treebank("ko_gsd", "UD_Korean-GSD", "Korean", "Hangul"),
    Treebank("ta_ttb", "UD_Tamil-TTB", "Tamil", "Tamil"),
    Treebank("vi_vtb", "UD_Vietnamese-VTB", "Vietnamese", "Latin"),
    Treebank("zh_gsd", "UD_Chinese-GSD", "Chinese", "Han"),
)}
_DISPLAY = {"en_ewt": "ENG", "ar_padt": "ARA", "cop_scriptorium": "COP", "hi_hdtb": "HIN",
            "ja_gsd": "JPN", "ko_gsd": "KOR", "ta_ttb": "TAM", "vi_vtb": "VIE", "zh_gsd": "ZHO"}


def treebank_subdirs(tb: Treebank) -> list[str]:
    """Folders tried below ``--data-dir``: the treebank folder directly, under ``ud/``, and the
    lower-case spelling the English-EWT copy uses."""
    out = [tb.folder, f"ud/{tb.folder}", tb.folder.lower().replace("-", "_")]
    return out


def read_conllu_parsing(path: str | Path, labels: list[str] | None = UD_HEAD_LABELS
                        ) -> list[dict[str, Any]]:
    """Sentences as ``{"words", "heads", "deprels"}`` (heads: 0 = root, i = i-th word)."""
    label_set = set(labels) if labels is not None else None
    sentences: list[dict[str, Any]] = []
    words: list[str] = []
    heads: list[int] = []
    rels: list[str] = []

    def flush() -> None:
        nonlocal words, heads, rels
        if words:
            n = len(words)
            bad = [h for h in heads if h > n]
            if bad:
                raise DataError(f"{path}: sentence ending before line {lineno}: head {bad[0]} "
                                f"points past its {n} words")
            sentences.append({"words": words, "heads": heads, "deprels": rels})
        words, heads, rels = [], [], []

    lineno = 0
    for lineno, cols in iter_tokens(path):
        if cols is None:
            flush()
            continue
        try:
            head = int(cols[6])
        except ValueError:
            raise DataError(f"{path}:{lineno}: HEAD must be an integer, got {cols[6]!r}") from None
        rel = cols[7].split(":")[0]
        if label_set is not None and rel not in label_set:
            raise DataError(f"{path}:{lineno}: relation {cols[7]!r} ({rel!r}) is not one of "
                            f"PIXEL's {len(label_set)} universal relations")
        words.append(cols[1])
        heads.append(head)
        rels.append(rel)
    flush()
    if not sentences:
        raise DataError(f"{path}: no sentences (empty split)")
    return sentences
