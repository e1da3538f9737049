"""A fixed set of result records for the report tests, written into tmp_path.

It covers what the golden tables must show: several seeds and one seed, a model without NER
(missing cells), a record missing its metric, a truncated file, an unknown schema version, a font
change inside one model (rows split by font), a renderer change inside one cell (rows split by
renderer), an underscore in a model name (LaTeX escaping), XNLI per-language splits and two
non-standard setups: a --limit smoke run beside a standard run of the same cell (moved to its
own marked row) and an old-style record with a command-line override (its cell marked).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pixel_bench.records import ResultRecord, record_dir, write_record
from pixel_bench.report.names import XNLI_LANGUAGES

FONT_A = hashlib.sha256(b"font-a").hexdigest()
FONT_B = hashlib.sha256(b"font-b").hexdigest()


def fingerprint(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def make_record(model: str, task: str, seed: int, metrics: dict[str, dict[str, float]],
                main_metric: str, main_split: str = "validation", *, family: str = "pixar",
                attrs: dict[str, str] | None = None, version: str = "0.1.0",
                font: str | None = FONT_A, renderer: str = "pygame",
                renderer_fp: str | None = None, config: dict[str, Any] | None = None,
                identity: dict[str, Any] | None = None) -> ResultRecord:
    provenance: dict[str, Any] = {
        "pixel_bench_version": version, "git_commit": "0123abc", "libraries": {"torch": "2.13"},
        "font_sha256": font, "data_fingerprint": fingerprint("data", task),
        "renderer": {"name": renderer, "settings": {"max_seq_length": 256},
                     # differs between tasks (max_seq_length), as real fingerprints do
                     "fingerprint": renderer_fp or fingerprint(renderer, task, font or "")},
        "hardware": {"device": "cpu"},
    }
    return ResultRecord(model=model, task=task, seed=seed, metrics=metrics,
                        main_metric=main_metric, main_split=main_split,
                        model_info={"family": family, "attributes": attrs or {}},
                        provenance=provenance, counts={"examples": 10}, timings={"train": 1.0},
                        config=config or {}, identity=identity or {})


PIXEL = dict(family="pixel", attrs={"architecture": "encoder", "masking": "span", "input": "grey"})
PIXAR = dict(family="pixar", attrs={"architecture": "encoder-decoder", "masking": "span",
                                    "input": "binary"})
PIXAR_ENC = dict(family="pixar", attrs={"architecture": "encoder", "masking": "random",
                                        "input": "binary"})
PIXAR_NOMASK = dict(family="pixar", attrs={"architecture": "encoder-decoder", "masking": "none",
                                           "input": "binary"})


def _mnli(m: float, mm: float) -> dict[str, dict[str, float]]:
    return {"validation_matched": {"accuracy": m}, "validation_mismatched": {"accuracy": mm}}


def _xnli(base: str, offset: float, drop: tuple[str, ...] = ()) -> dict[str, dict[str, float]]:
    return {f"{base}.{lang}": {"accuracy": round(0.70 - 0.01 * i + offset, 4)}
            for i, lang in enumerate(XNLI_LANGUAGES) if lang not in drop}


def fixture_records() -> list[ResultRecord]:
    r = make_record
    acc = "accuracy"
    recs = []
    # PIXEL-base: 1 to 3 seeds per task; RTE seed 3 used another renderer backend.
    for seed, v in zip((1, 2, 3), (0.938, 0.941, 0.935)):
        recs.append(r("pixel-base", "pos", seed, {"validation": {acc: v}}, acc, **PIXEL))
    for seed, v in zip((1, 2), (0.812, 0.808)):  # means kept off a rounding edge (x.x5)
        recs.append(r("pixel-base", "ner", seed, {"validation": {"f1": v, "precision": v + 0.01,
                                                                 "recall": v - 0.01}}, "f1",
                      **PIXEL))
    recs.append(r("pixel-base", "sst2", 1, {"validation": {acc: 0.822}}, acc, **PIXEL))
    recs.append(r("pixel-base", "cola", 1, {"validation": {"matthews_correlation": 0.384}},
                  "matthews_correlation", **PIXEL))
    for seed, (m, mm) in zip((1, 2), ((0.690, 0.695), (0.692, 0.697))):
        recs.append(r("pixel-base", "mnli", seed, _mnli(m, mm), acc, "validation_matched",
                      **PIXEL))
    for seed, v in zip((1, 2), (0.563, 0.571)):
        recs.append(r("pixel-base", "rte", seed, {"validation": {acc: v}}, acc, **PIXEL))
    recs.append(r("pixel-base", "rte", 3, {"validation": {acc: 0.552}}, acc, **PIXEL,
                  renderer="pangocairo"))
    recs.append(r("pixel-base", "squad", 1, {"validation": {"f1": 0.691, "exact_match": 0.60}},
                  "f1", **PIXEL))
    for seed, offset in ((1, 0.0), (2, 0.004)):
        recs.append(r("pixel-base", "xnli", seed,
                      _xnli("validation", offset, drop=("sw",) if seed == 2 else ()), acc,
                      "validation.en", **PIXEL))
    # PIXAR enc-dec span binary: no NER at all; SST-2 seed 3 rendered with another font file;
    # SQuAD seed 2 lacks f1.
    for seed, v in zip((1, 2), (0.942, 0.944)):
        recs.append(r("pixar-encdec-span-binary", "pos", seed, {"validation": {acc: v}}, acc,
                      **PIXAR))
    for seed, v in zip((1, 2), (0.771, 0.775)):
        recs.append(r("pixar-encdec-span-binary", "sst2", seed, {"validation": {acc: v}}, acc,
                      **PIXAR))
    recs.append(r("pixar-encdec-span-binary", "sst2", 3, {"validation": {acc: 0.701}}, acc,
                  **PIXAR, font=FONT_B))
    recs.append(r("pixar-encdec-span-binary", "mnli", 1, _mnli(0.685, 0.689), acc,
                  "validation_matched", **PIXAR))
    recs.append(r("pixar-encdec-span-binary", "rte", 1, {"validation": {acc: 0.571}}, acc,
                  **PIXAR))
    recs.append(r("pixar-encdec-span-binary", "squad", 1,
                  {"validation": {"f1": 0.601, "exact_match": 0.51}}, "f1", **PIXAR))
    recs.append(r("pixar-encdec-span-binary", "squad", 2, {"validation": {"exact_match": 0.52}},
                  "f1", **PIXAR))
    recs.append(r("pixar-encdec-span-binary", "xnli", 1,
                  {**_xnli("validation", -0.05), **_xnli("test", -0.06)}, acc, "validation.en",
                  **PIXAR))
    # PIXAR encoder-only random masking: one seed everywhere, so its average is defined.
    enc = "pixar-enc-random-binary"
    recs += [r(enc, "pos", 1, {"validation": {acc: 0.933}}, acc, **PIXAR_ENC),
             r(enc, "ner", 1, {"validation": {"f1": 0.814}}, "f1", **PIXAR_ENC),
             r(enc, "sst2", 1, {"validation": {acc: 0.742}}, acc, **PIXAR_ENC),
             r(enc, "mnli", 1, _mnli(0.650, 0.653), acc, "validation_matched", **PIXAR_ENC),
             r(enc, "rte", 1, {"validation": {acc: 0.538}}, acc, **PIXAR_ENC),
             r(enc, "squad", 1, {"validation": {"f1": 0.597}}, "f1", **PIXAR_ENC)]
    # An underscore and no masking: escaping and the "None" masking value.
    recs += [r("pixar_encdec_nomask", "pos", 1, {"validation": {acc: 0.922}}, acc,
               **PIXAR_NOMASK),
             r("pixar_encdec_nomask", "sst2", 1, {"validation": {acc: 0.725}}, acc,
               **PIXAR_NOMASK)]
    # Non-standard setups: a 500-example smoke run beside the standard POS run (never averaged
    # with it), and a record from before cell identities with a --set override.
    smoke = {"scheme": 1, "key": fingerprint("smoke"), "fields": {}, "nonstandard": {
        "limit": 500, "overrides": {"max_steps": {"recipe": 15000, "used": 50}}}}
    recs += [r("pixar_encdec_nomask", "pos", 2, {"validation": {acc: 0.412}}, acc,
               **PIXAR_NOMASK, config={"limit": 500}, identity=smoke),
             r("pixar_encdec_nomask", "rte", 1, {"validation": {acc: 0.531}}, acc,
               **PIXAR_NOMASK, config={"limit": None, "cli_overrides": {"dropout": 0}})]
    return recs


def write_fixture(root: Path) -> Path:
    for rec in fixture_records():
        write_record(rec, root)
    truncated = record_dir(root, "pixel-base", "pos", 9) / "record.json"
    truncated.parent.mkdir(parents=True)
    truncated.write_text('{"schema_version": 1, "model": "pixel-base", "task": "po')
    future = record_dir(root, "pixar-enc-random-binary", "pos", 7) / "record.json"
    future.parent.mkdir(parents=True)
    data = make_record("pixar-enc-random-binary", "pos", 7, {"validation": {"accuracy": 0.1}},
                       "accuracy", **PIXAR_ENC).to_dict()
    data["schema_version"] = 99
    future.write_text(json.dumps(data))
    return root
