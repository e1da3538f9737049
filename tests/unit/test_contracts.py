"""The declared contracts between the run loop, task types and model adapters: fresh adapters
per run, declared capabilities, no probing in the loops."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pixel_bench.errors import PixelBenchError
from pixel_bench.modeling.adapter import ModelAdapter, ModelEntry, TaskKind
from pixel_bench.modeling.contracts import PretrainingAdapter, QAInputAdapter, TextInputAdapter
from pixel_bench.modeling.generation import GenerativeAdapter
from pixel_bench.registry import MODELS, ModelRegistry

REPO = Path(__file__).resolve().parents[2]


def test_every_get_builds_a_fresh_adapter_and_binding_copies() -> None:
    a, b = MODELS.get("pixelgpt-tiny"), MODELS.get("pixelgpt-tiny")
    assert a is not b and a.card is b.card  # cards are shared and frozen
    bound = a.for_run(TaskKind.SEQUENCE_CLASSIFICATION, 256)
    assert bound is not a and bound.crop_patches == 256 and a.crop_patches == 1024
    a.renderer_config(TaskKind.SEQUENCE_CLASSIFICATION, max_seq_length=256)  # pure
    assert a.crop_patches == 1024 and MODELS.get("pixelgpt-tiny").crop_patches == 1024
    text = MODELS.get("bert-tiny")
    assert text.for_run(TaskKind.SEQUENCE_CLASSIFICATION, 64).text_length == 64
    assert text.text_length == 512 and MODELS.get("bert-tiny").text_length == 512
    with pytest.raises(Exception):
        a.card.name = "other"  # type: ignore[misc]


def test_registering_an_adapter_instance_hands_out_copies() -> None:
    registry = ModelRegistry("model")
    original = MODELS.get("pixel-tiny")
    registry.register("mine", original)
    got = registry.get("mine")
    assert got is not original and type(got) is type(original) and got.card == original.card
    assert isinstance(registry.entry("mine"), ModelEntry)
    with pytest.raises(PixelBenchError, match="register a ModelEntry"):
        registry.register("bad", object())


@pytest.mark.parametrize("name", MODELS.names())
def test_every_model_declares_what_it_reads(name: str) -> None:
    adapter = MODELS.get(name)
    assert isinstance(adapter, ModelAdapter)
    assert adapter.input_kind in ("pixels", "text", "pair")
    if adapter.input_kind != "pixels":  # text and pair input need the text contract
        assert isinstance(adapter, TextInputAdapter)
    if adapter.card.family == "text":
        assert isinstance(adapter, QAInputAdapter) and adapter.accepts_mismatched_weights
    if adapter.card.family in ("pixel", "pixar", "pixar2024"):
        assert isinstance(adapter, PretrainingAdapter)
    if adapter.card.family in ("pixar", "pixar2024"):
        assert isinstance(adapter, GenerativeAdapter)


#: the loops that talk to adapters and task types; they must call declared methods only
LOOP_FILES = ["pixel_bench/runner.py", "pixel_bench/spec.py", "pixel_bench/records.py",
              "pixel_bench/cells.py", "pixel_bench/generative/evaluate.py",
              *[str(p.relative_to(REPO)) for p in (REPO / "pixel_bench/tasktypes").glob("*.py")],
              *[str(p.relative_to(REPO))
                for p in (REPO / "pixel_bench/train").glob("pretrain*.py")]]
PROBES = re.compile(r"hasattr\((adapter|task|self\.adapter)|getattr\((adapter|task|self\.adapter)"
                    r"|inspect\.signature|except TypeError|\.family ==|needs_text")


@pytest.mark.parametrize("path", LOOP_FILES)
def test_loops_do_not_probe_adapters_or_tasks(path: str) -> None:
    hits = [f"{path}:{i}: {line.strip()}"
            for i, line in enumerate((REPO / path).read_text().splitlines(), 1)
            if PROBES.search(line)]
    assert not hits, "\n".join(hits)


def test_runner_names_no_task_type() -> None:
    source = (REPO / "pixel_bench/runner.py").read_text()
    for name in ("question_answering", "QuestionAnswering", "Generative", "generative",
                 "token_classification", "start_positions"):
        assert name not in source, name
