"""Bigrams renderer parity: 69 word lists (UD dev sentences in Latin, Coptic, Hangul, Han, Tamil,
Vietnamese and Japanese scripts, XNLI Arabic premises, synthetic edge cases), 12 sentences and 6
premise/hypothesis pairs (English, Arabic = the RTL pair path) must render
bit-identically to the expected outputs in ``data/bigrams_parity.json`` — made by running the
original list-mode code path on its own stack (see the file's "about"). Needs the Noto Sans CJK
fallback folder (``setup.sh`` unpacks it); runs in a subprocess because fallback fonts are
registered process-wide and would change other tests' CJK fallback renderings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
SCRIPT = """
import hashlib, json, sys
import numpy as np
sys.path.insert(0, sys.argv[3])
from bigrams_cases import case_words, mode_input
from pathlib import Path
from pixel_bench.render.bigrams import BigramsTextRenderer
from pixel_bench.render.defaults import default_config
r = BigramsTextRenderer(default_config("pangocairo-bigrams", fallback_fonts_dir=sys.argv[2]))
r._warned_unknown = True
out = []
for case in json.load(open(sys.argv[1]))["cases"]:
    e = r(case_words(case["case"], Path(sys.argv[4])))
    out.append({"case": case["case"], "word_starts": e.word_starts,
                "num_text_patches": e.num_text_patches,
                "sha1": hashlib.sha1(np.ascontiguousarray(e.pixel_values).tobytes()).hexdigest()})
modes = []
for case in json.load(open(sys.argv[1]))["modes"]:
    e = r(mode_input(case["case"], Path(sys.argv[4])))
    modes.append({"case": case["case"], "word_starts": e.word_starts,
                  "num_text_patches": e.num_text_patches, "sep_patches": e.sep_patches,
                  "sha1": hashlib.sha1(np.ascontiguousarray(e.pixel_values).tobytes()).hexdigest()})
print(json.dumps({"cases": out, "modes": modes}))
"""


def _cjk_dir() -> Path | None:
    from pixel_bench.fonts import resolve_fonts_dir

    try:
        return resolve_fonts_dir("noto-cjk")
    except Exception:  # noqa: BLE001
        default = Path("~/.cache/pixel-bench/fonts/noto-cjk").expanduser()
        return default if default.is_dir() else None


def test_bigrams_match_the_original_code_path(data: Path) -> None:
    cjk = _cjk_dir()
    if cjk is None:
        pytest.skip("Noto Sans CJK fallback folder not found (setup.sh unpacks fonts-noto-cjk "
                    "into <cache>/fonts/noto-cjk; or set PIXEL_BENCH_FONTS)")
    fixture = HERE / "data" / "bigrams_parity.json"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(fixture), str(cjk), str(HERE),
                           str(data)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    expected = json.loads(fixture.read_text(encoding="utf-8"))
    for key, n in (("cases", 69), ("modes", 18)):  # word lists; sentences and pairs
        want = expected[key]
        assert len(got[key]) == len(want) == n
        diff = [g["case"] for g, w in zip(got[key], want) if g != w]
        assert not diff, f"{len(diff)} {key} differ from the original: {diff[:10]}"
