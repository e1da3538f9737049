"""Recipes: every task has one, blocks merge defaults <- family <- --set, values from the originals'
recipes (tasks/recipes/README.md)."""

from __future__ import annotations

import pytest

from pixel_bench.errors import ConfigError
from pixel_bench.registry import TASKS
from pixel_bench.tasktypes.base import ZeroShotTask
from pixel_bench.recipe import load_recipe, parse_set


@pytest.mark.parametrize("name", TASKS.names())
def test_every_task_has_a_recipe(name: str) -> None:
    task = TASKS.get(name)
    if isinstance(task, ZeroShotTask):  # generation and OCR settings, nothing to train
        recipe = load_recipe(task, "pixar2024", training=False)
        source = recipe.source
        assert source["gen_pixels"].startswith(f"{name}.yaml") and recipe["gen_pixels"] > 0
        assert recipe["ocr_engines"] == ["tesseract", "rapidocr"]
        assert recipe["max_seq_length"] > 0 and "learning_rate" not in source
        return
    recipe = load_recipe(task, "pixel")
    source = recipe.source
    assert source["learning_rate"].startswith(f"{task.recipe or name}.yaml")
    assert recipe["max_steps"] >= 1000 and recipe["max_seq_length"] > 0


def test_family_blocks_and_cli() -> None:
    rte = TASKS.get("rte")
    pixel = load_recipe(rte, "pixel")
    assert (pixel["learning_rate"], pixel["per_device_train_batch_size"],
            pixel["gradient_accumulation_steps"], pixel["renderer"]) == (3e-5, 64, 4, "pygame")
    gpt = load_recipe(rte, "pixelgpt")  # 8 per device x 1 x 4 GPUs, 3e-5, 2000 steps
    assert (gpt["per_device_train_batch_size"] * gpt["gradient_accumulation_steps"],
            gpt["learning_rate"], gpt["max_steps"], gpt["early_stopping_patience"]) == \
        (32, 3e-5, 2000, 8)
    pixar = load_recipe(rte, "pixar2024")  # global 64 = sub 4 x 16, cosine to 0.1 x LR
    assert pixar["per_device_train_batch_size"] * pixar["gradient_accumulation_steps"] == 64
    assert pixar["lr_scheduler_type"] == "cosine_with_min_lr" and pixar["min_lr_rate"] == 0.1
    over = load_recipe(rte, "pixel", parse_set(["learning_rate=1e-4", "pooling=cls",
                                                "early_stopping_patience=null"]))
    source = over.source
    assert over["learning_rate"] == 1e-4 and over["pooling"] == "cls"
    assert over["early_stopping_patience"] is None and source["pooling"] == "cli"
    squad = load_recipe(TASKS.get("squad"), "pixel")
    assert (squad["max_seq_length"], squad["doc_stride"], squad["question_max_length"],
            squad["learning_rate"]) == (400, 160, 128, 7e-5)
    with pytest.raises(ConfigError, match="key=value"):
        parse_set(["learning_rate"])


# -- the recipe key table: every shipped key declared, values typed, typos caught ---------------
def test_every_shipped_recipe_key_is_declared_and_typed() -> None:
    import yaml

    from pixel_bench.paths import builtin_dir
    from pixel_bench.recipe import model_families
    from pixel_bench.recipe_keys import RECIPE_KEYS, check_block

    families = model_families()
    assert {"pixel", "pixar", "pixar2024", "pixelgpt", "text"} <= set(families)
    files = sorted((builtin_dir("tasks") / "recipes").glob("*.yaml"))
    assert len(files) >= 13
    TASKS.load_plugins()  # the task types declare their own keys
    seen: set[str] = set()
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for block, values in data.items():
            assert block == "defaults" or block in families, (path.name, block)
            check_block(values or {}, f"{path.name}:{block}")  # raises on a bad key or type
            seen.update(values or {})
    assert seen <= set(RECIPE_KEYS)


def test_recipe_key_table_matches_what_the_code_reads() -> None:
    """Keys the code reads (recipe.get("k") / recipe["k"]) and TrainingArguments' direct keys
    are all declared, and the scheduler choices are transformers' own."""
    import re

    from transformers.trainer_utils import SchedulerType

    from pixel_bench.paths import REPO_ROOT
    from pixel_bench.recipe_keys import RECIPE_KEYS, SCHEDULERS
    from pixel_bench.registry import TASKS
    from pixel_bench.train.finetune import _DIRECT

    TASKS.load_plugins()  # the task types declare their own keys (recipe_keys.register_keys)
    read: set[str] = set(_DIRECT)
    for py in list((REPO_ROOT / "pixel_bench").rglob("*.py")) + list(
            (REPO_ROOT / "models").glob("*.py")):
        read.update(re.findall(r"recipe(?:\.get\(|\[)\"([a-z_0-9]+)\"", py.read_text()))
    assert read <= set(RECIPE_KEYS), sorted(read - set(RECIPE_KEYS))
    assert set(SCHEDULERS) <= {s.value for s in SchedulerType}


@pytest.mark.parametrize("item,message", [
    ("learning_rate=abc", r"--set learning_rate=abc: learning_rate='abc' is not a number"),
    ("learing_rate=1e-4", r"unknown recipe key 'learing_rate'\. Did you mean 'learning_rate'"),
    ("max_steps=-5", r"max_steps=-5 must be >= 0"),
    ("max_steps=2.5", r"max_steps=2\.5 must be an integer"),
    ("per_device_train_batch_size=0", r"must be >= 1"),
    ("pooler_add_layer_norm=1", r"must be true or false"),
    ("learning_rate=nan", r"must be a finite number"),
    ("learning_rate=true", r"not a boolean"),
    ("lr_scheduler_type=cosin", r"is not one of .*did you mean 'cosine'"),
    ("pooling=avg", r"does not match"),
    ("dropout=2", r"must be <= 1"),
    ("learning_rate=null", r"may not be null"),
])
def test_set_values_are_checked(item: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_set([item])


def test_set_values_are_converted() -> None:
    out = parse_set(["max_steps=1e3", "learning_rate=1e-4", "eval_steps=null", "pooling=pma8",
                     "train_split=validation.en", "precision=fp32"])
    assert out == {"max_steps": 1000, "learning_rate": 1e-4, "eval_steps": None,
                   "pooling": "pma8", "train_split": "validation.en", "precision": "fp32"}
    assert isinstance(out["max_steps"], int)


def test_recipe_files_are_checked(tmp_path) -> None:
    rte = TASKS.get("rte")
    (tmp_path / "rte.yaml").write_text("defaults:\n  learning_rate: fast\n")
    with pytest.raises(ConfigError, match=r"rte\.yaml: block 'defaults': learning_rate='fast'"):
        load_recipe(rte, "pixel", recipe_dir=tmp_path)
    (tmp_path / "rte.yaml").write_text("defaults:\n  warmup_step: 10\n")
    with pytest.raises(ConfigError, match=r"unknown recipe key 'warmup_step'.*'warmup_steps'"):
        load_recipe(rte, "pixel", recipe_dir=tmp_path)
    (tmp_path / "rte.yaml").write_text("defaults: {}\npixle:\n  max_steps: 10\n")
    with pytest.raises(ConfigError, match=r"unknown block 'pixle' \(did you mean 'pixel'"):
        load_recipe(rte, "pixel", recipe_dir=tmp_path)
    # the library path (runner.run puts --max-steps into the overrides) is checked too
    with pytest.raises(ConfigError, match=r"max_steps=-5 must be >= 0"):
        load_recipe(rte, "pixel", {"max_steps": -5})


def test_warmup_longer_than_the_run_is_warned(tmp_path, caplog):
    """The README quick start (--max-steps 50, recipe warmup 100) never got past half the peak learning rate without
    a word; now the log says so (the schedule itself is unchanged)."""
    import logging

    from pixel_bench.train.finetune import training_arguments, warmup_warning

    recipe = {"max_steps": 50, "warmup_steps": 100, "learning_rate": 5e-5}
    with caplog.at_level(logging.WARNING, logger="pixel_bench.finetune"):
        args, _ = training_arguments(recipe, tmp_path, 42, "accuracy", True, ["labels"])
    assert args.warmup_steps == 100  # said, not changed
    assert ("warmup_steps 100 >= max_steps 50: the learning rate never leaves its linear warmup "
            "and its last step uses 2.4e-05 instead of the peak 5e-05; pass e.g. --set "
            "warmup_steps=5") in caplog.text
    assert warmup_warning({**recipe, "warmup_steps": 10}) is None
    assert warmup_warning({**recipe, "max_steps": 0}) is None  # evaluate only
    assert warmup_warning({**recipe, "lr_scheduler_type": "constant"}) is None


def test_task_types_declare_their_own_keys() -> None:
    """QA, parsing and generative keys live in their task-type modules, are found from --set
    even before any task was loaded, and a conflicting redeclaration is refused."""
    from pixel_bench.recipe_keys import RECIPE_KEYS, recipe_key, register_keys

    parsed = parse_set(["doc_stride=64", "parsing_unrendered_words=drop", "ocr_scale=2"])
    assert parsed == {"doc_stride": 64, "parsing_unrendered_words": "drop", "ocr_scale": 2}
    assert "doc_stride" in RECIPE_KEYS and "gen_pixels" in RECIPE_KEYS
    register_keys({"doc_stride": RECIPE_KEYS["doc_stride"]}, owner="test")  # same meaning: fine
    with pytest.raises(ConfigError, match="doc_stride.*already declared"):
        register_keys({"doc_stride": recipe_key(str, "another meaning")}, owner="test")
    with pytest.raises(ConfigError, match="unknown recipe key 'doc_strid'.*'doc_stride'"):
        parse_set(["doc_strid=64"])


def test_recipe_is_frozen_and_records_where_values_came_from() -> None:
    rte = TASKS.get("rte")
    recipe = load_recipe(rte, "pixel", {"pooling": "cls"})
    with pytest.raises(TypeError):
        recipe.values["pooling"] = "max"  # type: ignore[index]
    with pytest.raises(AttributeError):
        recipe.values = {}  # type: ignore[misc]
    assert recipe.source["pooling"] == "cli" and recipe.source["learning_rate"].startswith("rte.yaml:")
    assert recipe.from_cli() == {"pooling": "cls"} and recipe.max_steps >= 1000
    with pytest.raises(KeyError, match="not in pixel_bench/recipe_keys.py"):
        recipe.get("learing_rate")  # a typo in code fails instead of reading the default
    zero_shot = load_recipe(TASKS.get("lambada"), "pixar2024", training=False)
    assert "max_steps" not in zero_shot and zero_shot.evaluate_only
