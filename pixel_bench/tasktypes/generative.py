"""Generative tasks (LAMBADA, bAbI): zero-shot, no fine-tuning, no Trainer.

``pixel-bench run`` hands a :class:`~pixel_bench.tasktypes.base.ZeroShotTask` to its
:meth:`GenerativeTask.evaluate` with the resolved spec (under the same cell lock and identity
rules as fine-tuning), which generates, reads the pixels back with OCR, scores and writes the normal
result record (:mod:`pixel_bench.generative.evaluate`). The reader gets recipe options by name
(``reader_options``), e.g. bAbI's ``babi_questions``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..data.io import find_split_file
from ..errors import ConfigError, DataError
from ..recipe_keys import recipe_key, register_keys
from .base import Task, ZeroShotTask

if TYPE_CHECKING:
    from ..spec import RunSpec


#: recipe keys of zero-shot generation read back by OCR (pixel_bench/generative/)
register_keys({
    "gen_pixels": recipe_key(int, "pixels to generate after the prompt", minimum=1),
    "space_px": recipe_key(int, "white pixels left after the prompt text", minimum=0),
    "ocr_engines": recipe_key(str, "OCR engines, in order", choices=("tesseract", "rapidocr"),
                              is_list=True),
    "tesseract_psm": recipe_key(int, "Tesseract page segmentation mode", minimum=0, maximum=13),
    "ocr_span_ratio": recipe_key(float, "OCR canvas width as a multiple of the generated crop",
                                 minimum=1),
    "ocr_scale": recipe_key(int, "upscaling factor before OCR", minimum=1),
    "generation_batch_size": recipe_key(int, "prompts generated together", minimum=1),
    "lambada_detokenize": recipe_key(bool, "LAMBADA: PIXAR's detokeniser on the passages"),
    "babi_questions": recipe_key(str, "bAbI: score the last question of each story, or all",
                                 choices=("last", "all")),
    "vocabulary_wordfreq": recipe_key(bool, "readability word list includes wordfreq's "
                                      "English list"),
    "ocr_ceiling": recipe_key(bool, "also OCR the gold word rendered the same way"),
    "device": recipe_key(str, "generation device: auto, cpu, cuda, cuda:N",
                         pattern=r"auto|cpu|cuda(:\d+)?"),
    "max_new_tokens": recipe_key(int, "text models: tokens generated", minimum=1),
    "max_prompt_tokens": recipe_key(int, "text models: prompt tokens kept (from the left)",
                                    minimum=1),
    "generation_mode": recipe_key(str, "PIXAR-2024 pixel decoding",
                                  choices=("threshold", "gray", "bernoulli")),
    "temperature": recipe_key(float, "PIXAR-2024: sigmoid(logit / temperature)", minimum=0,
                              exclusive_minimum=True),
    "threshold": recipe_key(float, "PIXAR-2024 threshold mode: black where p > threshold",
                            minimum=0, maximum=1),
}, owner="tasktypes/generative.py")


@dataclass
class GenerativeTask(ZeroShotTask, Task):
    eval_splits: tuple[str, ...] = ("test",)
    train_split: str = "test"  # nothing is trained; kept so generic code finds a split name
    #: PIXAR notebook scorer whose figure is stored as ``accuracy_pixar`` (scoring.py)
    pixar_scorer: str = "babi"
    #: every PIXAR scorer stored (``accuracy_pixar_<name>`` for the others)
    pixar_scorers: tuple[str, ...] = ("babi",)
    #: recipe keys handed to ``reader(path, **options)``, under the reader's parameter names
    reader_options: tuple[tuple[str, str], ...] = ()

    def load_split(self, split: str, data_dir: str | Path | None = None,
                   limit: int | None = None, recipe: Mapping[str, Any] | None = None
                   ) -> tuple[list[dict[str, Any]], str]:
        if data_dir is None:
            raise DataError(f"{self.name}: pass --data-dir with {self.source.name}'s files "
                            f"({', '.join(self.source.patterns.get(split, []))}); no hub copy is "
                            "wired up for generative tasks")
        path = find_split_file(data_dir, self.source, split)
        if path is None:
            pats = ", ".join(self.source.patterns.get(split, [])) or "(none known)"
            raise DataError(f"{self.source.name}: no file for split {split!r} in {data_dir} "
                            f"(looked for {pats} in . and {', '.join(self.source.subdirs)})")
        options = {param: (recipe or {})[key] for key, param in self.reader_options
                   if key in (recipe or {})}
        rows = self.reader(path, **options)
        if not rows:
            raise DataError(f"{self.name}: split {split!r} from {path} is empty")
        if limit is not None:
            rows = rows[: int(limit)]
        return rows, str(path)

    def check_recipe(self, recipe: Mapping[str, Any]) -> None:
        steps = recipe.get("max_steps")
        if steps not in (None, 0):
            raise ConfigError(f"{self.name} is evaluated zero-shot (no fine-tuning): --max-steps "
                              f"must be 0 or left out, got {steps}")

    def identity_fields(self, spec: "RunSpec") -> dict[str, Any]:
        """``data`` and ``renderer`` of the cell identity (see pixel_bench.cells)."""
        from ..generative.evaluate import identity_fields

        return identity_fields(spec)

    def evaluate(self, spec: "RunSpec", seed: int, results: Path, *,
                 identity: dict[str, Any] | None = None, save_generations: bool = False) -> Any:
        """Generate, OCR, score and write one record (see pixel_bench.generative.evaluate)."""
        from ..generative.evaluate import evaluate_cell

        return evaluate_cell(spec, seed, results, identity=identity,
                             save_generations=save_generations)

    # the fine-tuning hooks do not apply
    def render_inputs(self, rows: Sequence[dict[str, Any]]) -> list[Any]:
        raise ConfigError(f"{self.name} is a generative task: it is evaluated zero-shot by "
                          "`pixel-bench run` (no rendering cache, no Trainer)")

    encode = score = render_inputs  # type: ignore[assignment]
