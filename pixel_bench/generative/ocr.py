"""OCR engines that read generated strips back as text.

PIXAR used PaddleOCR (recognition only: ``det=False, cls=False``) and Tesseract through
pytesseract (default page segmentation). PaddleOCR downloads its models at run time, which fails
offline, so the second engine here is RapidOCR (``rapidocr_onnxruntime``): the same PP-OCR
recognition family on onnxruntime, with its models inside the wheel. Both run recognition only,
on the strip prepared as PIXAR's ``ocr(square=False, span=True, span_ratio=1.3, scale=3)``:
centred on a white canvas ``span_ratio`` times its size, then upscaled x3 (bicubic, PIL's
default). Our reading of ``span``; the original helper is not in the repository version read.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from abc import ABC, abstractmethod
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError

ENGINES = ("tesseract", "rapidocr")
INSTALL_HINT = {
    "tesseract": "install the Debian package tesseract-ocr (setup.sh does)",
    "rapidocr": "pip install 'pixel-bench[ocr]' (rapidocr-onnxruntime, Python < 3.13)",
}


def prepare(grey: np.ndarray, span_ratio: float = 1.3, scale: float = 3.0) -> Any:
    """uint8 [H, W] -> RGB PIL image: centred on a white ``span_ratio``-times canvas, upscaled."""
    from PIL import Image

    img = Image.fromarray(np.asarray(grey, dtype=np.uint8), mode="L")
    w, h = img.size
    cw, ch = max(w, int(round(w * span_ratio))), max(h, int(round(h * span_ratio)))
    canvas = Image.new("L", (cw, ch), 255)
    canvas.paste(img, ((cw - w) // 2, (ch - h) // 2))
    big = canvas.resize((int(cw * scale), int(ch * scale)), Image.BICUBIC)
    return big.convert("RGB")


class OcrEngine(ABC):
    name: str

    @abstractmethod
    def version(self) -> str: ...

    @abstractmethod
    def read(self, images: Sequence[Any]) -> list[str]:
        """One string per PIL image."""


class TesseractEngine(OcrEngine):
    """The ``tesseract`` command; many images per call (a list file), pages split on form feed.
    ``psm`` 3 = pytesseract's default (PIXAR); 7 (one text line) reads single words better."""

    name = "tesseract"

    def __init__(self, psm: int = 3, lang: str = "eng") -> None:
        self.binary = shutil.which("tesseract")
        if self.binary is None:
            raise ConfigError(f"OCR engine tesseract not found: {INSTALL_HINT['tesseract']}")
        self.psm, self.lang = int(psm), lang

    def version(self) -> str:
        return _tesseract_version(self.binary)

    def _run(self, target: str) -> str:
        out = subprocess.run([self.binary, target, "stdout", "--psm", str(self.psm), "-l",
                              self.lang], capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            raise ConfigError(f"tesseract failed ({out.returncode}): {out.stderr.strip()[:300]}")
        return out.stdout

    def read(self, images: Sequence[Any]) -> list[str]:
        if not images:
            return []
        with tempfile.TemporaryDirectory(prefix="pb-ocr-") as tmp:
            paths = []
            for i, img in enumerate(images):
                p = Path(tmp) / f"{i:06d}.png"
                img.save(p)
                paths.append(str(p))
            listing = Path(tmp) / "list.txt"
            listing.write_text("\n".join(paths) + "\n", encoding="utf-8")
            pages = self._run(str(listing)).split("\f")
            if len(pages) != len(images):  # defensive: fall back to one call per image
                pages = [self._run(p) for p in paths]
        return [p.strip() for p in pages]


@lru_cache(maxsize=None)
def _tesseract_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    first = (out.stdout or out.stderr).strip().splitlines()
    return first[0].replace("tesseract", "").strip() if first else "unknown"


class RapidOcrEngine(OcrEngine):
    """RapidOCR recognition only (no detection, no angle classifier), like PIXAR's
    ``PaddleOCR(det=False, cls=False)``; the result's pieces are joined without spaces."""

    name = "rapidocr"

    def __init__(self) -> None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError:
            raise ConfigError(f"OCR engine rapidocr not installed: {INSTALL_HINT['rapidocr']}") \
                from None
        self.engine = RapidOCR()

    def version(self) -> str:
        import importlib.metadata as md

        return (f"rapidocr-onnxruntime {md.version('rapidocr-onnxruntime')}, onnxruntime "
                f"{md.version('onnxruntime')}, models ch_PP-OCRv4_rec (bundled)")

    def read(self, images: Sequence[Any]) -> list[str]:
        out = []
        for img in images:
            result, _ = self.engine(np.asarray(img), use_det=False, use_cls=False)
            out.append("".join(str(r[0]) for r in result) if result else "")
        return out


def make_engines(names: Sequence[str], tesseract_psm: int = 3) -> list[OcrEngine]:
    engines: list[OcrEngine] = []
    for name in names:
        if name == "tesseract":
            engines.append(TesseractEngine(psm=tesseract_psm))
        elif name == "rapidocr":
            engines.append(RapidOcrEngine())
        else:
            raise ConfigError(f"unknown OCR engine {name!r}; choose from {', '.join(ENGINES)}")
    if not engines:
        raise ConfigError("ocr_engines is empty; name at least one of " + ", ".join(ENGINES))
    return engines


def engine_available(name: str) -> str | None:
    """None when ``name`` can run here, else why not (for tests' skip reasons)."""
    try:
        make_engines([name])
    except ConfigError as exc:
        return str(exc)
    return None
