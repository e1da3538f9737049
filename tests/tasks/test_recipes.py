"""Recipes: every task has one, blocks merge defaults <- family <- --set, values from anchors."""

from __future__ import annotations

import pytest

from pixel_bench.errors import ConfigError
from pixel_bench.registry import TASKS
from pixel_bench.runner import load_recipe, parse_set


@pytest.mark.parametrize("name", TASKS.names())
def test_every_task_has_a_recipe(name: str) -> None:
    task = TASKS.get(name)
    if task.family == "generative":  # zero-shot: generation and OCR settings, nothing to train
        recipe, source = load_recipe(task, "pixar2024")
        assert source["gen_pixels"].startswith(f"{name}.yaml") and recipe["gen_pixels"] > 0
        assert recipe["ocr_engines"] == ["tesseract", "rapidocr"]
        assert recipe["max_seq_length"] > 0 and "learning_rate" not in source
        return
    recipe, source = load_recipe(task, "pixel")
    assert source["learning_rate"].startswith(f"{name}.yaml")
    assert recipe["max_steps"] >= 1000 and recipe["max_seq_length"] > 0


def test_family_blocks_and_cli() -> None:
    rte = TASKS.get("rte")
    pixel, _ = load_recipe(rte, "pixel")
    assert (pixel["learning_rate"], pixel["per_device_train_batch_size"],
            pixel["gradient_accumulation_steps"], pixel["renderer"]) == (3e-5, 64, 4, "pygame")
    gpt, _ = load_recipe(rte, "pixelgpt")  # 8 per device x 1 x 4 GPUs, 3e-5, 2000 steps
    assert (gpt["per_device_train_batch_size"] * gpt["gradient_accumulation_steps"],
            gpt["learning_rate"], gpt["max_steps"], gpt["early_stopping_patience"]) == \
        (32, 3e-5, 2000, 8)
    pixar, _ = load_recipe(rte, "pixar2024")  # global 64 = sub 4 x 16, cosine to 0.1 x LR
    assert pixar["per_device_train_batch_size"] * pixar["gradient_accumulation_steps"] == 64
    assert pixar["lr_scheduler_type"] == "cosine_with_min_lr" and pixar["min_lr_rate"] == 0.1
    over, source = load_recipe(rte, "pixel", parse_set(["learning_rate=1e-4", "pooling=cls",
                                                        "early_stopping_patience=null"]))
    assert over["learning_rate"] == 1e-4 and over["pooling"] == "cls"
    assert over["early_stopping_patience"] is None and source["pooling"] == "cli"
    squad, _ = load_recipe(TASKS.get("squad"), "pixel")
    assert (squad["max_seq_length"], squad["doc_stride"], squad["question_max_length"],
            squad["learning_rate"]) == (400, 160, 128, 7e-5)
    with pytest.raises(ConfigError, match="key=value"):
        parse_set(["learning_rate"])
