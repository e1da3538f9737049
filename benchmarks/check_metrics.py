"""Check the NER and SQuAD scores of `pixel-bench run` against the reference implementations.

    .venv/bin/python benchmarks/check_metrics.py results/pixel-tiny/ner/seed-42 \
        /tmp/squad_res [--out /tmp/metric_check.md] \
        [--squad-dev ../shared/data/squad_v1.1/dev-v1.1.from-explorer.json.gz]

Each argument is a ``predictions.jsonl``, a result cell (``<model>/<task>/seed-<n>/``) or any
folder above cells (searched recursively). For every cell of an NER or SQuAD task it re-scores
the predictions written by the run (``predictions.jsonl``, the same predictions the record's
metrics came from) and prints a Markdown report:

* **NER**: seqeval entity P/R/F1 in its default (conlleval-like) mode, which is pixel-bench's
  main ``f1`` as in PIXEL, and in strict IOB2 mode (``mode="strict", scheme=IOB2``), each next
  to the value stored in ``record.json``; plus how many predicted entities the two modes see and
  in how many sentences their entity sets differ (an entity opened by ``I-`` or a type change
  inside a span counts in default mode only).
* **SQuAD**: exact match and F1 of pixel-bench's implementation of the official v1.1 script
  (``pixel_bench.metrics.squad_metrics``) vs torchmetrics' ``squad`` (a port of that script),
  over the whole split and question by question, with the number of questions where they
  disagree and why. torchmetrics takes one rule from the v2.0 script: when the normalised
  prediction or gold answer has no tokens, F1 = (both empty); v1.1 gives F1 0, so the two
  differ when both normalise to nothing (3 of the 34,726 SQuAD dev answers are just ".").

``--squad-dev DEV.json[.gz]`` adds the same SQuAD comparison on every question of a SQuAD v1.1
file with synthetic, model-like predictions (seeded): the gold answer, the gold answer with both
boundaries moved by up to 12 characters (cut words, stray punctuation and articles), or a random
context span of 1-40 characters. An under-trained model's few hundred predictions exercise the
normalisation little; these exercise it on real text.

Only reads files; imports torchmetrics (and so torch) for the SQuAD comparison.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pixel_bench.metrics import normalize_answer, squad_exact, squad_f1  # noqa: E402
from pixel_bench.report.names import task_key  # noqa: E402

PREDICTIONS = "predictions.jsonl"
TOL = 1e-9  # record value vs recomputed (same arithmetic: they must be equal)


# -- NER -------------------------------------------------------------------------------------
@dataclass
class NerCheck:
    sentences: int
    gold_entities: int
    pred_default: int  # predicted entities seqeval's default mode extracts
    pred_strict: int  # ... and strict IOB2 mode
    differing_sentences: int  # sentences whose predicted entity sets differ between the modes
    default: dict[str, float]  # precision, recall, f1
    strict: dict[str, float]
    words_dropped: int = 0


def _entities_default(tags: list[str]) -> set[tuple[str, int, int]]:
    from seqeval.metrics.sequence_labeling import get_entities

    return {(t, s, e) for t, s, e in get_entities(list(tags))}


def _entities_strict(tags: list[str]) -> set[tuple[str, int, int]]:
    from seqeval.scheme import IOB2, Entities

    ents = Entities([list(tags)], IOB2).entities[0]
    return {(e.tag, e.start, e.end - 1) for e in ents}


def check_ner(pred: list[list[str]], gold: list[list[str]]) -> NerCheck:
    """Entity P/R/F1 with seqeval in default and strict IOB2 mode on the same tag sequences."""
    from seqeval.metrics import f1_score, precision_score, recall_score
    from seqeval.scheme import IOB2

    if len(pred) != len(gold) or any(len(p) != len(g) for p, g in zip(pred, gold)):
        raise ValueError("predicted and gold tag sequences differ in length")
    p, y = [list(s) for s in pred], [list(s) for s in gold]

    def prf(**kw: Any) -> dict[str, float]:
        return {"precision": float(precision_score(y, p, zero_division=0, **kw)),
                "recall": float(recall_score(y, p, zero_division=0, **kw)),
                "f1": float(f1_score(y, p, zero_division=0, **kw))}

    d_sets = [_entities_default(s) for s in p]
    s_sets = [_entities_strict(s) for s in p]
    return NerCheck(
        sentences=len(p), gold_entities=sum(len(_entities_strict(s)) for s in y),
        pred_default=sum(map(len, d_sets)), pred_strict=sum(map(len, s_sets)),
        differing_sentences=sum(a != b for a, b in zip(d_sets, s_sets)),
        default=prf(), strict=prf(mode="strict", scheme=IOB2))


# -- SQuAD -----------------------------------------------------------------------------------
@dataclass
class SquadCheck:
    questions: int
    ours: dict[str, float]  # exact_match, f1 (fractions), pixel_bench.metrics
    torchmetrics: dict[str, float]  # the same from torchmetrics' squad over the whole split
    em_disagree: int
    f1_disagree: int
    examples: list[dict[str, Any]] = field(default_factory=list)  # the disagreeing questions


def _tm_one(prediction: str, answers: list[str]) -> tuple[float, float]:
    """torchmetrics' EM and F1 (fractions) for one question."""
    from torchmetrics.functional.text import squad

    out = squad({"prediction_text": prediction, "id": "q"},
                {"answers": {"answer_start": [0] * len(answers), "text": answers}, "id": "q"})
    return float(out["exact_match"]) / 100.0, float(out["f1"]) / 100.0


def _why(prediction: str, answers: list[str]) -> str:
    if not normalize_answer(prediction).split() and any(not normalize_answer(a).split()
                                                        for a in answers):
        return ("the prediction and a gold answer both normalise to no tokens: v1.1 scores F1 "
                "0, torchmetrics (v2.0 rule) scores 1")
    return "unexplained"


def check_squad(predictions: dict[str, str], references: dict[str, list[str]]) -> SquadCheck:
    """Our v1.1 EM/F1 vs torchmetrics, whole split and per question (a question without a
    prediction scores 0 in both, as in the official script)."""
    from torchmetrics.functional.text import squad

    from pixel_bench.metrics import squad_metrics

    ours = squad_metrics(predictions, references)
    preds = [{"prediction_text": predictions.get(q, ""), "id": q} for q in references]
    target = [{"answers": {"answer_start": [0] * len(a), "text": list(a)}, "id": q}
              for q, a in references.items()]
    whole = squad(preds, target) if references else {"exact_match": math.nan, "f1": math.nan}
    em_bad = f1_bad = 0
    examples = []
    for qid, answers in references.items():
        answers = list(answers)
        pred = predictions.get(qid, "")
        em = max(squad_exact(pred, a) for a in answers)
        f1 = max(squad_f1(pred, a) for a in answers)
        tm_em, tm_f1 = _tm_one(pred, answers)
        bad_em, bad_f1 = abs(em - tm_em) > 1e-6, abs(f1 - tm_f1) > 1e-6
        em_bad += bad_em
        f1_bad += bad_f1
        if bad_em or bad_f1:
            examples.append({"id": qid, "prediction": pred, "answers": answers,
                             "ours": (em, f1), "torchmetrics": (tm_em, tm_f1),
                             "why": _why(pred, answers)})
    return SquadCheck(len(references), ours,
                      {k: float(whole[k]) / 100.0 for k in ("exact_match", "f1")},
                      em_bad, f1_bad, examples)


def perturbed_dev(path: Path, seed: int = 0) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Synthetic predictions for every question of a SQuAD v1.1 JSON file (see module doc)."""
    import gzip
    import random

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        data = json.load(fh)["data"]
    rng = random.Random(seed)
    preds: dict[str, str] = {}
    refs: dict[str, list[str]] = {}
    for article in data:
        for para in article["paragraphs"]:
            ctx = para["context"]
            for qa in para["qas"]:
                answers = [a["text"] for a in qa["answers"]]
                first = qa["answers"][0]
                start = ctx.find(first["text"])
                start = first["answer_start"] if start < 0 else start
                end = start + len(first["text"])
                kind = rng.random()
                if kind < 0.2:
                    pred = first["text"]
                elif kind < 0.8:
                    s = min(max(0, start + rng.randint(-12, 12)), len(ctx) - 1)
                    e = min(max(s + 1, end + rng.randint(-12, 12)), len(ctx))
                    pred = ctx[s:e]
                else:
                    s = rng.randrange(len(ctx))
                    pred = ctx[s:s + rng.randint(1, 40)]
                preds[qa["id"]] = pred
                refs[qa["id"]] = answers
    return preds, refs


# -- files -----------------------------------------------------------------------------------
def find_cells(paths: Iterable[str]) -> list[Path]:
    """The predictions.jsonl files named by ``paths`` (files, cells or folders above them)."""
    out: list[Path] = []
    for arg in paths:
        path = Path(arg)
        if path.is_file():
            out.append(path)
        elif (path / PREDICTIONS).is_file():
            out.append(path / PREDICTIONS)
        elif path.is_dir():
            out.extend(sorted(path.rglob(PREDICTIONS)))
        else:
            sys.exit(f"check_metrics: {path} does not exist")
    return out


def read_rows(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def cell_kind(record: dict[str, Any], rows: list[dict[str, Any]]) -> str | None:
    """"ner", "squad" or None (another task), from the record's task or the rows' shape."""
    key = task_key(record.get("task", "")) if record else ""
    if key in ("ner", "squad"):
        return key
    if record or not rows:
        return None
    first = rows[0]
    if "id" in first and isinstance(first.get("prediction"), str):
        return "squad"
    if isinstance(first.get("prediction"), list) and any(
            str(t).startswith(("B-", "I-")) for r in rows for t in r.get("label", [])):
        return "ner"
    return None


def _pct(value: float | None) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{100 * value:.2f}"


def _same(a: float | None, b: float) -> str:
    if a is None:
        return "no value"
    return "=" if abs(a - b) <= TOL else f"differs by {100 * (a - b):+.4f}"


def _label(path: Path, record: dict[str, Any]) -> str:
    """"model / task / seed N (results folder)" (the folder tells two runs of one cell apart)."""
    if record:
        root = path.parent.parent.parent.parent  # <results>/<model>/<task>/seed-<n>/
        return (f"{record.get('model')} / {record.get('task')} / seed {record.get('seed')} "
                f"({_short(root)})")
    return _short(path.parent)


def _short(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd())) or "."
    except ValueError:
        return str(path)


def _squad_line(label: str, split: str, c: SquadCheck, stored: dict[str, float]) -> str:
    return (f"| {label} | {split} | {c.questions} | "
            f"{_pct(stored.get('exact_match'))} / {_pct(stored.get('f1'))} | "
            f"{_pct(c.ours['exact_match'])} / {_pct(c.ours['f1'])} | "
            f"{_pct(c.torchmetrics['exact_match'])} / {_pct(c.torchmetrics['f1'])} | "
            f"{c.em_disagree} / {c.f1_disagree} |")


def _squad_notes(label: str, c: SquadCheck, notes: list[str]) -> None:
    reasons: dict[str, int] = {}
    for ex in c.examples:
        reasons[ex["why"]] = reasons.get(ex["why"], 0) + 1
    for why, n in reasons.items():
        notes.append(f"* {label}: {n} question(s) disagree because {why}")
    for ex in c.examples[:3]:
        notes.append(f"  * question `{ex['id']}`: prediction {ex['prediction']!r}, answers "
                     f"{ex['answers']!r}: ours EM/F1 {ex['ours'][0]:.3f}/{ex['ours'][1]:.3f}, "
                     f"torchmetrics {ex['torchmetrics'][0]:.3f}/{ex['torchmetrics'][1]:.3f}")


def report(paths: list[Path], squad_dev: Path | None = None, seed: int = 0) -> str:
    ner_lines, squad_lines, notes = [], [], []
    for path in paths:
        rec_path = path.parent / "record.json"
        record = json.loads(rec_path.read_text()) if rec_path.is_file() else {}
        rows = read_rows(path)
        kind = cell_kind(record, rows)
        if kind is None:
            continue
        label = _label(path, record)
        for split in sorted({r.get("split", "?") for r in rows}):
            part = [r for r in rows if r.get("split", "?") == split]
            stored = (record.get("metrics") or {}).get(split, {})
            if kind == "ner":
                c = check_ner([r["prediction"] for r in part], [r["label"] for r in part])
                c.words_dropped = sum(int(r.get("words_dropped", 0)) for r in part)
                ner_lines.append(
                    f"| {label} | {split} | {c.sentences} | {c.words_dropped} | "
                    f"{c.gold_entities} | {c.pred_default} / {c.pred_strict} | "
                    f"{c.differing_sentences} | {_pct(stored.get('f1'))} | "
                    f"{_pct(c.default['f1'])} ({_same(stored.get('f1'), c.default['f1'])}) | "
                    f"{_pct(stored.get('strict_f1'))} | {_pct(c.strict['f1'])} "
                    f"({_same(stored.get('strict_f1'), c.strict['f1'])}) | "
                    f"{_pct(c.default['precision'])} / {_pct(c.default['recall'])} | "
                    f"{_pct(c.strict['precision'])} / {_pct(c.strict['recall'])} |")
            else:
                preds = {r["id"]: r["prediction"] for r in part}
                refs = {r["id"]: list(r["label"]) for r in part}
                c = check_squad(preds, refs)
                squad_lines.append(_squad_line(label, split, c, stored))
                _squad_notes(label, c, notes)
    if squad_dev is not None:
        preds, refs = perturbed_dev(squad_dev, seed)
        c = check_squad(preds, refs)
        label = f"synthetic predictions on {squad_dev.name} (seed {seed})"
        squad_lines.append(_squad_line(label, "all", c, {}))
        _squad_notes(label, c, notes)
    out = []
    if ner_lines:
        out += ["### NER: seqeval default mode vs strict IOB2, on the run's own predictions", "",
                "| cell | split | sentences | words dropped | gold entities | predicted entities "
                "default / strict | sentences where the modes differ | record f1 | seqeval "
                "default F1 | record strict_f1 | seqeval strict IOB2 F1 | default P / R | "
                "strict P / R |",
                "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|", *ner_lines,
                "", "Percentages. `=`: the record's stored value equals the recomputation. "
                "Default mode is seqeval's conlleval-like extraction (PIXEL's number); strict "
                "IOB2 drops predicted entities that are not valid IOB2 (opened by `I-`, or a "
                "type change inside a span). Words cut off by the canvas are not in the "
                "predictions (counted in *words dropped*).", ""]
    if squad_lines:
        out += ["### SQuAD: pixel-bench (official v1.1 definition) vs torchmetrics `squad`", "",
                "| cell | split | questions | record EM / F1 | pixel-bench recomputed EM / F1 | "
                "torchmetrics EM / F1 | questions disagreeing EM / F1 |",
                "|---|---|---:|---:|---:|---:|---:|", *squad_lines, "",
                "Percentages; a question disagrees when the two per-question scores differ by "
                "more than 1e-6. Record: the value stored in record.json.", ""]
        out += notes + ([""] if notes else [])
    if not out:
        out = ["No NER or SQuAD predictions found.", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", help="predictions.jsonl files, cells or folders")
    parser.add_argument("--out", help="also write the Markdown report here")
    parser.add_argument("--squad-dev", type=Path,
                        help="also compare on synthetic predictions for this SQuAD v1.1 JSON")
    parser.add_argument("--seed", type=int, default=0, help="seed of --squad-dev (default 0)")
    args = parser.parse_args(argv)
    files = find_cells(args.paths)
    if not files and args.squad_dev is None:
        sys.exit(f"check_metrics: no {PREDICTIONS} under {' '.join(args.paths)}")
    text = report(files, args.squad_dev, args.seed)
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
