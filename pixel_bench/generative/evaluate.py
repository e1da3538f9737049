"""One generative cell: load the data, generate, OCR, score, write the record.

Called by ``runner.run`` for zero-shot generative tasks (no Trainer). The
record is a normal :class:`~pixel_bench.records.ResultRecord`: metrics under the ``test`` split
(fractions), ``main_metric = accuracy`` (the corrected union), the OCR engines and their
versions in ``provenance.ocr``, the word list in ``provenance.vocabulary``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..records import PREDICTIONS_FILE, ResultRecord, atomic_write_text, record_dir, write_record

logger = logging.getLogger("pixel_bench.generative")

#: OCR engines when the recipe names none
DEFAULT_ENGINES = ("tesseract", "rapidocr")


def identity_fields(spec: Any) -> dict[str, Any]:
    """The ``data`` and ``renderer`` parts of a generative cell's identity
    (:mod:`pixel_bench.cells`), resolved the way :func:`evaluate_cell` resolves them."""
    from ..cells import rows_sha256
    from ..spec import choose_renderer

    task = spec.task
    rows_all, _origin = task.load_split(task.main_split, spec.data_dir, None, spec.recipe)
    rows = rows_all[: spec.limit] if spec.limit is not None else rows_all
    renderer = None
    if spec.adapter.input_kind != "text":  # text baselines generate tokens, nothing is rendered
        choice = choose_renderer(spec)
        if choice is not None:
            info = choice.info()
            renderer = {"name": choice.name, "settings": info["settings"],
                        "font_sha256": info["font_sha256"], "fingerprint": info["fingerprint"]}
    return {"data": {task.main_split: rows_sha256(rows)}, "renderer": renderer}


def evaluate_cell(spec: Any, seed: int, results: Path, *,
                  identity: dict[str, Any] | None = None,
                  save_generations: bool = False) -> Any:
    from transformers import set_seed

    from ..modeling.generation import require_generative
    from ..provenance import provenance
    from ..records import model_info, run_config
    from ..runner import CellOutcome
    from ..spec import choose_renderer
    from .decode import pick_device
    from .scoring import aggregate, score_example
    from .vocab import build_vocabulary

    task, adapter, recipe = spec.task, spec.adapter, spec.recipe
    model_name, ckpt, limit = spec.model, spec.checkpoint, spec.limit
    t_all = time.perf_counter()
    timings: dict[str, float] = {}
    gen_adapter = require_generative(adapter)
    save = save_generations  # an output option, not part of the experiment (nor its identity)
    cell = record_dir(results, model_name, task.name, seed)
    cell.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    split = task.main_split
    rows_all, origin = task.load_split(split, spec.data_dir, None, recipe)
    rows = rows_all[: int(limit)] if limit is not None else rows_all
    vocab, vocab_info = build_vocabulary(rows_all, bool(recipe.get("vocabulary_wordfreq", True)))
    timings["load_data_s"] = time.perf_counter() - t0

    set_seed(seed)
    device = pick_device(recipe.get("device"))
    t0 = time.perf_counter()
    generator = gen_adapter.build_generator(ckpt, from_scratch=ckpt is None, device=device,
                                            options={**recipe.to_dict(), "seed": seed})
    timings["build_model_s"] = time.perf_counter() - t0
    batch = int(recipe.get("generation_batch_size", 16))
    counts: dict[str, int] = {"examples": len(rows)}
    render_info: dict[str, Any] = {}
    ocr_info: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    scorers = tuple(task.pixar_scorers)
    prompts_grey: list[Any] = []
    gen_grey: list[Any] = []

    if generator.kind == "text":
        t0 = time.perf_counter()
        texts = generator.generate_text([r["prompt"] for r in rows], batch_size=batch)
        timings["generate_s"] = time.perf_counter() - t0
        readings = {"text": texts}
        engines_used = ["text"]
        ceiling_readings = None
        extra["max_new_tokens"] = generator.max_new_tokens
    else:
        from ..registry import RENDERERS
        from .ocr import make_engines, prepare
        from .prompts import render_prompts, render_word, to_grey_u8

        engines = make_engines(list(recipe.get("ocr_engines", DEFAULT_ENGINES)),
                               int(recipe.get("tesseract_psm", 3)))
        ocr_info = {e.name: e.version() for e in engines}
        choice = choose_renderer(spec)
        if choice is None:
            raise ConfigError(f"{model_name}: a pixel generator needs a renderer")
        rend = RENDERERS.get(choice.name)(choice.config)
        render_info = choice.info()
        t0 = time.perf_counter()
        space = int(recipe.get("space_px", 3))
        prompts = render_prompts([r["prompt"] for r in rows], adapter, rend, generator.block,
                                 space)
        timings["render_s"] = time.perf_counter() - t0
        counts["truncated"] = sum(p.truncated for p in prompts)
        n_new = generator.positions_for(int(recipe.get("gen_pixels", 64)))
        width = n_new * generator.block
        extra.update(generated_positions=n_new, generated_pixels=width,
                     block_pixels=generator.block)
        t0 = time.perf_counter()
        gens = generator.generate([p.strip for p in prompts], n_new, batch_size=batch)
        timings["generate_s"] = time.perf_counter() - t0
        if getattr(generator, "left_cropped", 0):
            counts["prompts_left_cropped"] = int(generator.left_cropped)
        prompts_grey = [to_grey_u8(p.strip) for p in prompts]
        gen_grey = [to_grey_u8(g) for g in gens]
        span, scale = float(recipe.get("ocr_span_ratio", 1.3)), float(recipe.get("ocr_scale", 3))
        images = [prepare(g, span, scale) for g in gen_grey]
        readings = {}
        t0 = time.perf_counter()
        for e in engines:
            t1 = time.perf_counter()
            readings[e.name] = e.read(images)
            timings[f"ocr_{e.name}_s"] = time.perf_counter() - t1
        timings["ocr_s"] = time.perf_counter() - t0
        engines_used = [e.name for e in engines]
        ceiling_readings = None
        if recipe.get("ocr_ceiling", True):
            t0 = time.perf_counter()
            gold = [prepare(render_word(r["target"], adapter, rend, width), span, scale)
                    for r in rows]
            ceiling_readings = {e.name: e.read(gold) for e in engines}
            timings["ocr_ceiling_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    scored = [score_example({e: readings[e][i] for e in engines_used}, r["target"], vocab,
                            scorers) for i, r in enumerate(rows)]
    metrics = aggregate(scored, engines_used, scorers, task.pixar_scorer)
    ceiling_scored = None
    if ceiling_readings is not None:
        ceiling_scored = [score_example({e: ceiling_readings[e][i] for e in engines_used},
                                        r["target"], vocab, scorers) for i, r in enumerate(rows)]
        metrics.update(aggregate(ceiling_scored, engines_used, scorers, task.pixar_scorer,
                                 prefix="ocr_ceiling"))
    timings["score_s"] = time.perf_counter() - t0

    pred_lines = []
    for i, (r, s) in enumerate(zip(rows, scored)):
        line: dict[str, Any] = {"split": split, "index": i, "id": r.get("id", i),
                                "target": r["target"], "prompt_tail": r["prompt"][-80:],
                                "readings": {e: readings[e][i] for e in engines_used}, **s}
        if ceiling_scored is not None:
            line["ceiling_readings"] = {e: ceiling_readings[e][i] for e in engines_used}
            line["ceiling_correct"] = ceiling_scored[i]["correct"]
        pred_lines.append(json.dumps(line, ensure_ascii=False))

    if save and gen_grey:
        from .sheet import contact_sheet, save_images

        t0 = time.perf_counter()
        out_dir = cell / "generations"
        if out_dir.exists():
            shutil.rmtree(out_dir)
        save_images(out_dir, prompts_grey, gen_grey)
        labels = [f"#{i} target {r['target']!r}  " + "  ".join(
            f"{e} {readings[e][i][:24]!r}" for e in engines_used)
            + ("  OK" if s["correct"] else "") for i, (r, s) in enumerate(zip(rows, scored))]
        contact_sheet(out_dir / "contact_sheet.png", prompts_grey, gen_grey, labels,
                      title=f"{model_name} on {task.name} (seed {seed}): prompt end | generated")
        timings["save_generations_s"] = time.perf_counter() - t0
    elif save:
        logger.warning("--save-generations: %s generates text, there are no images to save",
                       model_name)

    if int(os.environ.get("RANK", "0")) != 0:
        return CellOutcome(model_name, task.name, seed, "done (worker)")
    atomic_write_text(cell / PREDICTIONS_FILE, "\n".join(pred_lines) + ("\n" if pred_lines else ""))
    timings["total_s"] = time.perf_counter() - t_all
    record = ResultRecord(
        model=model_name, task=task.name, seed=seed, metrics={split: metrics},
        main_metric=task.main_metric, main_split=split,
        config=run_config(spec, zero_shot=True, renderer=render_info.get("renderer"),
                          device=device, generation={"kind": generator.kind, **extra},
                          pixar_scorer=task.pixar_scorer, save_generations=save),
        model_info=model_info(spec, parameters=_parameters(generator)),
        provenance=provenance(renderer=render_info,
                              font_sha256=render_info.get("font_sha256"), ocr=ocr_info,
                              vocabulary=vocab_info,
                              data={split: {"source": origin, "examples": len(rows),
                                            "examples_in_file": len(rows_all)}}),
        counts=counts, timings={k: round(float(v), 3) for k, v in timings.items()},
        train={"steps": 0, "zero_shot": True}, identity=identity or {})
    path = write_record(record, results)
    return CellOutcome(model_name, task.name, seed, "done", path, record)


def _parameters(generator: Any) -> int | None:
    model = getattr(generator, "model", None)
    try:
        return int(sum(p.numel() for p in model.parameters()))
    except AttributeError:
        return None
