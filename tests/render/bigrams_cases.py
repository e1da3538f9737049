"""The inputs of the bigrams parity fixture (``data/bigrams_parity.json``): dev sentences of
the shared UD treebanks and XNLI Arabic premises (read from ../shared/data at run time, never
copied), plus synthetic edge cases (truncation, one word, the UD google edge case, empty words);
``MODE_CASES``: sentences (a dev sentence joined by spaces) and XNLI premise/hypothesis pairs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

CASES = ([f"ud:en_ewt:{i}" for i in range(12)] + [f"ud:cop_scriptorium:{i}" for i in range(10)]
         + [f"ud:ko_gsd:{i}" for i in range(10)] + [f"ud:zh_gsd:{i}" for i in range(8)]
         + [f"ud:ta_ttb:{i}" for i in range(6)] + [f"ud:vi_vtb:{i}" for i in range(6)]
         + [f"ud:ja_gsd:{i}" for i in range(4)] + [f"xnli-ar:{i}" for i in range(0, 12, 2)]
         + ['lit:' + json.dumps(x) for x in (["llll"] * 300, ["Hello"],
                                             ["http://www.google.com/search?q=x&y=z"], [""],
                                             ["a", "", "b"], ["word"] * 140, ["x" * 1500])])


def case_words(spec: str, data: Path) -> list[str]:
    kind, _, rest = spec.partition(":")
    if kind == "lit":
        return json.loads(rest)
    if kind == "ud":
        from pixel_bench.registry import TASKS

        code, i = rest.split(":")
        rows, _ = TASKS.get(f"pos-{code}").load_split("validation", data, int(i) + 1)
        return list(rows[int(i)]["words"])
    if kind == "xnli-ar":
        with gzip.open(data / "xnli" / "dev-ar.tsv.gz", "rt", encoding="utf-8") as fh:
            line = fh.read().splitlines()[int(rest)]
        return line.split("\t")[0].split()
    raise ValueError(f"unknown case {spec!r}")


MODE_CASES = ([f"sent:ud:{code}:{i}" for code in ("en_ewt", "ko_gsd", "zh_gsd") for i in range(3)]
              + [f"sent:xnli-ar:{i}" for i in (0, 2, 4)]
              + [f"pair:xnli-{lang}:{i}" for lang in ("en", "ar") for i in (0, 1, 3)])


def _xnli_row(lang: str, i: int, data: Path) -> list[str]:
    with gzip.open(data / "xnli" / f"dev-{lang}.tsv.gz", "rt", encoding="utf-8") as fh:
        return fh.read().splitlines()[i].split("\t")


def mode_input(spec: str, data: Path):
    """A sentence (str) or a pair (tuple) for ``MODE_CASES``."""
    kind, _, rest = spec.partition(":")
    if kind == "sent":
        if rest.startswith("xnli-ar:"):
            return _xnli_row("ar", int(rest.split(":")[1]), data)[0]
        return " ".join(case_words(rest, data))
    if kind == "pair":
        src, i = rest.split(":")
        row = _xnli_row(src.split("-")[1], int(i), data)
        return (row[0], row[1])
    raise ValueError(f"unknown case {spec!r}")
