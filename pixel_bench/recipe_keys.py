"""The recipe keys the run loop reads, with their types: one table for recipes and ``--set``.

Every key that ``tasks/recipes/*.yaml`` or ``--set key=value`` may give is declared here, with
the code that reads it (``finetune.training_arguments``, the task types, the adapters, the
runner). A value of the wrong type, or a key nobody reads, is an error naming the key, the value
and where it came from, instead of a traceback deep in the optimizer or a setting silently
ignored. New keys (a new task type, a new adapter option) must be added to :data:`RECIPE_KEYS`;
``tests/tasks/test_recipes.py`` parses every shipped recipe against this table.

Importing this module is cheap (no torch, no transformers).
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

#: recipe blocks besides ``defaults``: the model families (``ModelCard.family``)
FAMILIES = ("pixel", "pixar", "pixar2024", "pixelgpt", "text")

# learning-rate schedules of transformers' SchedulerType (checked against it in the tests)
SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant",
              "constant_with_warmup", "inverse_sqrt", "reduce_lr_on_plateau",
              "cosine_with_min_lr", "cosine_warmup_with_min_lr", "warmup_stable_decay")


@dataclass(frozen=True)
class RecipeKey:
    type: type  # int, float, bool or str
    help: str
    nullable: bool = False  # `null` allowed (means "off" / "use the default")
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple[str, ...] = ()
    pattern: str | None = None  # a regex the whole string value must match
    is_list: bool = False  # a list of such values (a comma-separated string is accepted too)


def _k(type_: type, help_: str, **kw: Any) -> RecipeKey:
    return RecipeKey(type_, help_, **kw)


RECIPE_KEYS: dict[str, RecipeKey] = {
    # -- optimisation (finetune.training_arguments -> TrainingArguments) ----------------------
    "learning_rate": _k(float, "peak learning rate", minimum=0, exclusive_minimum=True),
    "per_device_train_batch_size": _k(int, "training batch per device", minimum=1),
    "per_device_eval_batch_size": _k(int, "evaluation batch per device", minimum=1,
                                     nullable=True),
    "gradient_accumulation_steps": _k(int, "batches per optimizer step", minimum=1),
    "max_steps": _k(int, "optimizer steps (0 = evaluate only, no training)", minimum=0),
    "warmup_steps": _k(int, "linear warmup steps", minimum=0, nullable=True),
    "eval_steps": _k(int, "evaluate and save every N steps", minimum=1, nullable=True),
    "early_stopping_patience": _k(int, "evaluations without improvement before stopping "
                                  "(null = off)", minimum=1, nullable=True),
    "weight_decay": _k(float, "AdamW weight decay", minimum=0),
    "adam_beta1": _k(float, "AdamW beta1", minimum=0, maximum=1),
    "adam_beta2": _k(float, "AdamW beta2", minimum=0, maximum=1),
    "adam_epsilon": _k(float, "AdamW epsilon", minimum=0, exclusive_minimum=True),
    "max_grad_norm": _k(float, "gradient clipping norm", minimum=0, nullable=True),
    "lr_scheduler_type": _k(str, "learning-rate schedule", choices=SCHEDULERS),
    "min_lr_rate": _k(float, "floor of cosine_with_min_lr as a fraction of the peak",
                      minimum=0, maximum=1, nullable=True),
    "save_total_limit": _k(int, "checkpoints kept while training", minimum=1, nullable=True),
    "logging_steps": _k(int, "log the training loss every N steps", minimum=1, nullable=True),
    "dataloader_num_workers": _k(int, "data-loading processes", minimum=0),
    "precision": _k(str, "auto = bf16 where the GPU has it, fp16 on other GPUs, fp32 on CPU",
                    choices=("auto", "bf16", "fp16", "fp32")),
    "bf16": _k(bool, "the original recipe trained in bf16 (on a GPU without bf16 the run says "
               "so and uses fp16; CPU runs use fp32)"),
    # -- data and rendering (runner.prepare, adapters' renderer_config) -----------------------
    "train_split": _k(str, "split to train on"),
    "max_seq_length": _k(int, "sequence length (patches; tokens for text models)", minimum=1,
                         nullable=True),
    "renderer": _k(str, "renderer backend (pygame, pangocairo, binary, ...)", nullable=True),
    "fallback_fonts_dir": _k(str, "folder of fallback fonts (or a name under <cache>/fonts such "
                             "as noto-cjk), PIXEL's fallback_fonts_dir", nullable=True),
    "parsing_unrendered_words": _k(str, "parsing: words past the canvas keep their labels and "
                                   "are scored (PIXEL) or are dropped", choices=("score", "drop")),
    # -- heads (task types' head_spec -> adapters) ----------------------------------------------
    "pooling": _k(str, "sequence pooling: mean, max, cls or pma<K>",
                  pattern=r"mean|max|cls|pma[1-9][0-9]*"),
    "pooler_add_layer_norm": _k(bool, "layer norm before the classification head"),
    "dropout": _k(float, "hidden and attention dropout (null = the checkpoint's)", minimum=0,
                  maximum=1, nullable=True),
    "allow_mismatched_weights": _k(bool, "text baselines: allow weights other than the task "
                                   "head to be newly initialised (listed in the record)"),
    # -- extractive QA (tasktypes/qa.py, runner._score_kwargs) ---------------------------------
    "doc_stride": _k(int, "overlap between QA windows (patches; tokens for text models)",
                     minimum=0),
    "question_max_length": _k(int, "patches kept for the question", minimum=1),
    "n_best_size": _k(int, "start/end candidates per window", minimum=1),
    "max_answer_length": _k(int, "longest answer span (patches/tokens)", minimum=1),
    "qa_trim_partial_words": _k(bool, "trim words cut by a patch boundary from answers"),
    # -- generative zero-shot tasks (tasktypes/generative.py, pixel_bench/generative/) ----------
    "gen_pixels": _k(int, "pixels to generate after the prompt", minimum=1),
    "space_px": _k(int, "white pixels left after the prompt text", minimum=0),
    "ocr_engines": _k(str, "OCR engines, in order", choices=("tesseract", "rapidocr"),
                      is_list=True),
    "tesseract_psm": _k(int, "Tesseract page segmentation mode", minimum=0, maximum=13),
    "ocr_span_ratio": _k(float, "OCR canvas width as a multiple of the generated crop",
                         minimum=1),
    "ocr_scale": _k(int, "upscaling factor before OCR", minimum=1),
    "generation_batch_size": _k(int, "prompts generated together", minimum=1),
    "lambada_detokenize": _k(bool, "LAMBADA: PIXAR's detokeniser on the passages"),
    "babi_questions": _k(str, "bAbI: score the last question of each story, or all",
                         choices=("last", "all")),
    "vocabulary_wordfreq": _k(bool, "readability word list includes wordfreq's English list"),
    "ocr_ceiling": _k(bool, "also OCR the gold word rendered the same way"),
    "device": _k(str, "generation device: auto, cpu, cuda, cuda:N", pattern=r"auto|cpu|cuda(:\d+)?"),
    "max_new_tokens": _k(int, "text models: tokens generated", minimum=1),
    "max_prompt_tokens": _k(int, "text models: prompt tokens kept (from the left)", minimum=1),
    "generation_mode": _k(str, "PIXAR-2024 pixel decoding", choices=("threshold", "gray",
                                                                       "bernoulli")),
    "temperature": _k(float, "PIXAR-2024: sigmoid(logit / temperature)", minimum=0,
                      exclusive_minimum=True),
    "threshold": _k(float, "PIXAR-2024 threshold mode: black where p > threshold", minimum=0,
                    maximum=1),
}


def suggest(key: str) -> str:
    """`` Did you mean 'x'?`` for a close match among the known keys (or '')."""
    close = difflib.get_close_matches(key, list(RECIPE_KEYS), n=3, cutoff=0.6)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def unknown_key(key: str, where: str) -> ConfigError:
    hint = suggest(key) or f" Known keys: {', '.join(sorted(RECIPE_KEYS))}."
    return ConfigError(f"{where}: unknown recipe key {key!r}.{hint} (The table of keys is "
                       "pixel_bench/recipe_keys.py.)")


def check_value(key: str, value: Any, where: str) -> Any:
    """The value converted to the key's type, or a ConfigError naming key, value and origin.

    ``where`` says where the value came from (``--set``, ``pos.yaml:pixel``). Numbers given as
    strings are read (YAML 1.1 reads ``1e-4`` as a string); ints accept integral floats
    (``1e3``); booleans must be YAML booleans.
    """
    spec = RECIPE_KEYS.get(key)
    if spec is None:
        raise unknown_key(key, where)
    if spec.is_list:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not items:
            raise ConfigError(f"{where}: {key}={value!r} must be a non-empty list ({spec.help})")
        one = RecipeKey(spec.type, spec.help, spec.nullable, spec.minimum, spec.maximum,
                        spec.exclusive_minimum, spec.choices, spec.pattern)
        return [_check_one(key, one, v.strip() if isinstance(v, str) else v, where)
                for v in items]
    return _check_one(key, spec, value, where)


def _check_one(key: str, spec: RecipeKey, value: Any, where: str) -> Any:

    def bad(why: str) -> ConfigError:
        return ConfigError(f"{where}: {key}={value!r} {why} ({spec.help})")

    if value is None:
        if spec.nullable:
            return None
        raise bad("may not be null")
    kind = spec.type
    if kind is bool:
        if not isinstance(value, bool):
            raise bad("must be true or false")
        return value
    if kind in (int, float):
        number: Any = value
        if isinstance(value, bool):
            raise bad(f"must be a number ({kind.__name__}), not a boolean")
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                raise bad(f"is not a number; {key} takes {'an integer' if kind is int else 'a number'}"
                          ) from None
        if not isinstance(number, (int, float)) or not math.isfinite(number):
            raise bad("must be a finite number")
        if kind is int:
            if isinstance(number, float):
                if not number.is_integer():
                    raise bad("must be an integer")
                number = int(number)
        else:
            number = float(number)
        if spec.minimum is not None and (number < spec.minimum or
                                         (spec.exclusive_minimum and number == spec.minimum)):
            raise bad(f"must be {'>' if spec.exclusive_minimum else '>='} {spec.minimum:g}")
        if spec.maximum is not None and number > spec.maximum:
            raise bad(f"must be <= {spec.maximum:g}")
        return number
    # strings
    if not isinstance(value, str):
        raise bad("must be a string")
    if spec.choices and value not in spec.choices:
        close = difflib.get_close_matches(value, spec.choices, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise bad(f"is not one of {', '.join(spec.choices)}{hint}")
    if spec.pattern and not re.fullmatch(spec.pattern, value):
        raise bad(f"does not match {spec.pattern}")
    return value


def check_block(values: dict[str, Any], where: str) -> dict[str, Any]:
    """Every key of one recipe block checked and converted (see :func:`check_value`)."""
    return {k: check_value(str(k), v, where) for k, v in values.items()}
