"""The recipe keys the run loop reads, with their types: one table for recipes and ``--set``.

Every key that ``tasks/recipes/*.yaml`` or ``--set key=value`` may give is declared, with the
code that reads it: the keys every run reads (``finetune.training_arguments``, rendering, heads,
the adapters) here, a task type's own keys in its module with :func:`register_keys` (QA in
``tasktypes/qa.py``, parsing, generative). A value of the wrong type, or a key nobody reads, is
an error naming the key, the value and where it came from, instead of a traceback deep in the
optimizer or a setting silently ignored. ``tests/tasks/test_recipes.py`` parses every shipped
recipe against the table and checks that every key the code reads is declared.

Importing this module is cheap (no torch, no transformers).
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

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


def recipe_key(type_: type, help_: str, **kw: Any) -> RecipeKey:
    """One table entry (short constructor for the tables)."""
    return RecipeKey(type_, help_, **kw)


RECIPE_KEYS: dict[str, RecipeKey] = {
    # -- optimisation (finetune.training_arguments -> TrainingArguments) ----------------------
    "learning_rate": recipe_key(float, "peak learning rate", minimum=0, exclusive_minimum=True),
    "per_device_train_batch_size": recipe_key(int, "training batch per device", minimum=1),
    "per_device_eval_batch_size": recipe_key(int, "evaluation batch per device", minimum=1,
                                     nullable=True),
    "gradient_accumulation_steps": recipe_key(int, "batches per optimizer step", minimum=1),
    "max_steps": recipe_key(int, "optimizer steps (0 = evaluate only, no training)", minimum=0),
    "warmup_steps": recipe_key(int, "linear warmup steps", minimum=0, nullable=True),
    "eval_steps": recipe_key(int, "evaluate and save every N steps", minimum=1, nullable=True),
    "early_stopping_patience": recipe_key(int, "evaluations without improvement before stopping "
                                  "(null = off)", minimum=1, nullable=True),
    "weight_decay": recipe_key(float, "AdamW weight decay", minimum=0),
    "adam_beta1": recipe_key(float, "AdamW beta1", minimum=0, maximum=1),
    "adam_beta2": recipe_key(float, "AdamW beta2", minimum=0, maximum=1),
    "adam_epsilon": recipe_key(float, "AdamW epsilon", minimum=0, exclusive_minimum=True),
    "max_grad_norm": recipe_key(float, "gradient clipping norm", minimum=0, nullable=True),
    "lr_scheduler_type": recipe_key(str, "learning-rate schedule", choices=SCHEDULERS),
    "min_lr_rate": recipe_key(float, "floor of cosine_with_min_lr as a fraction of the peak",
                      minimum=0, maximum=1, nullable=True),
    "save_total_limit": recipe_key(int, "checkpoints kept while training", minimum=1, nullable=True),
    "logging_steps": recipe_key(int, "log the training loss every N steps", minimum=1, nullable=True),
    "dataloader_num_workers": recipe_key(int, "data-loading processes", minimum=0),
    "precision": recipe_key(str, "auto = bf16 where the GPU has it, fp16 on other GPUs, fp32 on CPU",
                    choices=("auto", "bf16", "fp16", "fp32")),
    "bf16": recipe_key(bool, "the original recipe trained in bf16 (on a GPU without bf16 the run says "
               "so and uses fp16; CPU runs use fp32)"),
    # -- data and rendering (runner.prepare, adapters' renderer_config) -----------------------
    "train_split": recipe_key(str, "split to train on"),
    "max_seq_length": recipe_key(int, "sequence length (patches; tokens for text models)", minimum=1,
                         nullable=True),
    "renderer": recipe_key(str, "renderer backend (pygame, pangocairo, binary, ...)", nullable=True),
    "fallback_fonts_dir": recipe_key(str, "folder of fallback fonts (or a name under <cache>/fonts such "
                             "as noto-cjk), PIXEL's fallback_fonts_dir", nullable=True),
    # -- heads (task types' head_spec -> adapters) ----------------------------------------------
    "pooling": recipe_key(str, "sequence pooling: mean, max, cls or pma<K>",
                  pattern=r"mean|max|cls|pma[1-9][0-9]*"),
    "pooler_add_layer_norm": recipe_key(bool, "layer norm before the classification head"),
    "dropout": recipe_key(float, "hidden and attention dropout (null = the checkpoint's)", minimum=0,
                  maximum=1, nullable=True),
    "allow_mismatched_weights": recipe_key(bool, "text baselines: allow weights other than the task "
                                   "head to be newly initialised (listed in the record)"),
}


def register_keys(keys: dict[str, RecipeKey], owner: str) -> None:
    """Declare the recipe keys a task type (or model family) reads, from its own module.
    Declaring a key again with the same meaning is harmless; another meaning is an error."""
    for key, spec in keys.items():
        known = RECIPE_KEYS.get(key)
        if known is not None and known != spec:
            raise ConfigError(f"{owner}: recipe key {key!r} is already declared with another "
                              f"type or range ({known.help})")
        RECIPE_KEYS[key] = spec


def _load_declarations() -> None:
    """Import the task plug-ins (and so the task types, which declare their keys)."""
    from .registry import TASKS

    TASKS.load_plugins()


def suggest(key: str) -> str:
    """`` Did you mean 'x'?`` for a close match among the known keys (or '')."""
    close = difflib.get_close_matches(key, list(RECIPE_KEYS), n=3, cutoff=0.6)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def unknown_key(key: str, where: str) -> ConfigError:
    hint = suggest(key) or f" Known keys: {', '.join(sorted(RECIPE_KEYS))}."
    return ConfigError(f"{where}: unknown recipe key {key!r}.{hint} (Keys are declared in "
                       "pixel_bench/recipe_keys.py and by the task types.)")


def check_value(key: str, value: Any, where: str) -> Any:
    """The value converted to the key's type, or a ConfigError naming key, value and origin.

    ``where`` says where the value came from (``--set``, ``pos.yaml:pixel``). Numbers given as
    strings are read (YAML 1.1 reads ``1e-4`` as a string); ints accept integral floats
    (``1e3``); booleans must be YAML booleans.
    """
    spec = RECIPE_KEYS.get(key)
    if spec is None:
        _load_declarations()
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
