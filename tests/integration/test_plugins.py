"""A new task type, renderer and model added as plug-ins, without touching this repository:
each lives in its own file with one registration (plus the task's recipe beside it), and
``pixel-bench run`` / ``ls`` / ``render`` use them like built-ins (docs/architecture.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pixel_bench.records import read_record, record_dir

HEADER = "index\tsentence1\tsentence2\tlabel\n"
LABELS = ("entailment", "not_entailment")


def _rte(n: int) -> str:
    """RTE rows whose premise has 9 words when i % 3 != 0, else 4."""
    return HEADER + "".join(
        f"{i}\t{'A cat number ' + str(i) + ' sat on the red mat' if i % 3 else 'A cat sat .'}"
        f"\tA cat sat .\t{LABELS[i % 2]}\n" for i in range(n))

RENDERER = '''
from pixel_bench.registry import RENDERERS
from pixel_bench.render.base import layouts
from pixel_bench.testing.fake import BlockRenderer


class BoxRenderer(BlockRenderer):
    """Block glyphs, as the test renderer, under a plug-in's own name and layouts."""

    name = "boxes"
    LAYOUTS = layouts(small={"font_file": __file__, "pixels_per_patch": 16,
                             "max_seq_length": 24})
    DEFAULT_LAYOUT = "small"


RENDERERS.register("boxes", BoxRenderer)
'''

TASK_TYPE = '''
from dataclasses import dataclass, fields

from pixel_bench.recipe_keys import recipe_key, register_keys
from pixel_bench.registry import TASKS
from pixel_bench.tasktypes import SequenceClassificationTask

register_keys({"min_words": recipe_key(int, "drop pairs whose premise has fewer words",
                                       minimum=0)}, owner="plugin filtered.py")


@dataclass
class FilteredPairTask(SequenceClassificationTask):
    """Sentence pairs, keeping those whose first sentence has at least ``min_words`` words."""

    def load_split(self, split, data_dir=None, limit=None, recipe=None):
        rows, origin = super().load_split(split, data_dir, limit, recipe)
        least = int((recipe or {}).get("min_words", 0))
        return [r for r in rows if len(r["text"][0].split()) >= least], origin


_rte = TASKS.get("rte")
TASKS.register("rte-long", FilteredPairTask(**{
    **{f.name: getattr(_rte, f.name) for f in fields(_rte)},
    "name": "rte-long", "description": "RTE pairs with long premises", "recipe": None}))
'''

RECIPE = '''
defaults:
  learning_rate: 2.0e-4
  per_device_train_batch_size: 4
  warmup_steps: 0
  eval_steps: 2
  min_words: 8
'''

MODEL = '''
from pixel_bench.modeling.adapter import ModelCard, ModelEntry
from pixel_bench.registry import MODELS, RENDERERS
from pixel_bench.testing.fake import TinyAdapter


class BoxesAdapter(TinyAdapter):
    def renderer_config(self, task_kind, max_seq_length=None, renderer=None, checkpoint=None):
        cls = RENDERERS.get("boxes")
        return "boxes", cls.layout(**({"max_seq_length": max_seq_length}
                                       if max_seq_length else {}))


_card = ModelCard(name="boxes-tiny", family="pixel", size="tiny",
                  description="tiny model over the boxes renderer (plug-in)")
MODELS.register("boxes-tiny", ModelEntry(_card, lambda card: BoxesAdapter("boxes-tiny")))
'''


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plugin")
    for sub, name, text in (("renderers", "boxes.py", RENDERER), ("tasks", "filtered.py",
                            TASK_TYPE), ("models", "boxes.py", MODEL)):
        (root / sub).mkdir(exist_ok=True)
        (root / sub / name).write_text(text)
    (root / "tasks" / "recipes").mkdir()
    (root / "tasks" / "recipes" / "rte-long.yaml").write_text(RECIPE)
    data = root / "data" / "glue" / "RTE"
    data.mkdir(parents=True)
    (data / "train.tsv").write_text(_rte(12))
    (data / "dev.tsv").write_text(_rte(6))
    return root


def _cli(plugin: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PIXEL_BENCH_PLUGINS": str(plugin), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run([sys.executable, "-m", "pixel_bench.cli.app", *args],
                          capture_output=True, text=True, env=env, timeout=600)


def test_plugin_task_type_renderer_and_model_run_end_to_end(plugin: Path, tmp_path: Path):
    out = _cli(plugin, "run", "--model", "boxes-tiny", "--task", "rte-long", "--data-dir",
               str(plugin / "data"), "--max-steps", "2", "--seeds", "5", "--results",
               str(tmp_path), "--set", "min_words=7")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    rec = read_record(record_dir(tmp_path, "boxes-tiny", "rte-long", 5) / "record.json")
    cfg = rec.config
    assert cfg["recipe"]["min_words"] == 7 and cfg["recipe_source"]["min_words"] == "cli"
    assert cfg["recipe"]["learning_rate"] == pytest.approx(2e-4)  # the plug-in's own recipe
    assert cfg["recipe_source"]["learning_rate"] == "rte-long.yaml:defaults"
    assert cfg["renderer"] == "boxes" and rec.provenance["renderer"]["renderer"] == "boxes"
    assert cfg["lengths"]["render_patches"] == 24  # the plug-in renderer's layout
    # the task type's own key did its work: premises of 4 words are gone (i % 3 == 0)
    assert rec.counts["train_examples"] == 8 and rec.counts["validation.examples"] == 4
    assert set(rec.metrics) == {"validation"}


def test_plugin_names_are_listed_and_checked(plugin: Path, tmp_path: Path) -> None:
    listed = _cli(plugin, "ls", "renderers")
    assert listed.returncode == 0 and "boxes" in listed.stdout and "small*" in listed.stdout
    assert "rte-long" in _cli(plugin, "ls", "tasks").stdout
    typo = _cli(plugin, "run", "--model", "boxes-tiny", "--task", "rte-long", "--set",
                "min_word=7", "--results", str(tmp_path))
    assert typo.returncode != 0
    assert "min_words" in typo.stdout + typo.stderr  # the close match comes from the plug-in
    png = tmp_path / "boxes.png"
    rendered = _cli(plugin, "render", "Hello plug-in", "--renderer", "boxes", "--out", str(png))
    assert rendered.returncode == 0, rendered.stdout[-2000:] + rendered.stderr[-2000:]
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
