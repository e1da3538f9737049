"""One side of ``bench_render_vs_original.py``: a renderer in its own process, driven over stdin.

Runs under pixel-bench's Python (``--side ours``) or under the original PIXEL code's own
environment (``--side original``, with ``--src`` pointing at the folder that holds its ``pixel``
package), so it imports nothing but the standard library and numpy at module level.

Protocol: one JSON object per line. The worker first prints ``{"ready": ...}`` with its start-up
times (imports, renderer construction incl. font loading), then answers each command:

* ``{"cmd": "digest", "out": PATH}``: render every text (untimed; doubles as warm-up) and write
  one entry per text to PATH: sha256 of the pixel bytes, shape, dtype, num_text_patches and
  sep_patches;
* ``{"cmd": "time", "start": i, "stop": j}``: render texts[i:j] (default: all) in a bare loop;
  reply wall-clock and CPU seconds of that loop only;
* ``{"cmd": "quit"}``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time

T_SCRIPT = time.perf_counter()

import numpy as np  # noqa: E402


def build_renderer(side: str, name: str, settings: dict, src: str | None):
    """The renderer of ``side`` with PIXEL's constructor settings (``settings``), and the
    seconds spent importing its module and constructing it (font loading included)."""
    t0 = time.perf_counter()
    if side == "ours":
        from pixel_bench.registry import RENDERERS
        from pixel_bench.render.base import RendererConfig

        cls = RENDERERS.get(name)
        t1 = time.perf_counter()
        return cls(RendererConfig.from_dict(settings, source="benchmark")), t1 - t0
    if src:
        sys.path.insert(0, src)
    from pixel.data.rendering import PangoCairoTextRenderer, PyGameTextRenderer

    cls = {"pangocairo": PangoCairoTextRenderer, "pygame": PyGameTextRenderer}[name]
    t1 = time.perf_counter()
    return cls(**settings), t1 - t0


def digest(encoding) -> list:
    pixels = np.ascontiguousarray(encoding.pixel_values)
    return [hashlib.sha256(pixels.tobytes()).hexdigest(), list(pixels.shape), str(pixels.dtype),
            int(encoding.num_text_patches), [int(s) for s in encoding.sep_patches]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--side", choices=["ours", "original"], required=True)
    parser.add_argument("--renderer", choices=["pangocairo", "pygame"], required=True)
    parser.add_argument("--settings", required=True, help="JSON: the renderer's settings")
    parser.add_argument("--texts", required=True,
                        help='JSON file: {"mode": "sentences"|"pairs"|"words", "items": [...]}')
    parser.add_argument("--src", help="folder holding the original `pixel` package")
    parser.add_argument("--core", type=int, help="pin this process to one CPU core")
    args = parser.parse_args()
    if args.core is not None:
        os.sched_setaffinity(0, {args.core})
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    with open(args.texts, encoding="utf-8") as fh:
        spec = json.load(fh)
    # sentences (str), pairs (JSON lists -> tuples, as the renderers dispatch on tuple) or word
    # lists (lists)
    texts = [tuple(t) for t in spec["items"]] if spec["mode"] == "pairs" else spec["items"]
    t0 = time.perf_counter()
    renderer, import_s = build_renderer(args.side, args.renderer, json.loads(args.settings),
                                        args.src)
    ready = {"ready": True, "pid": os.getpid(), "affinity": sorted(os.sched_getaffinity(0)),
             "imports_s": t0 - T_SCRIPT + import_s, "init_s": time.perf_counter() - t0 - import_s,
             "python": sys.version.split()[0], "numpy": np.__version__,
             "module": sys.modules[type(renderer).__module__].__file__}
    print(json.dumps(ready), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "quit":
            break
        if cmd["cmd"] == "digest":
            with open(cmd["out"], "w", encoding="utf-8") as fh:
                json.dump([digest(renderer(t)) for t in texts], fh)
            reply = {"done": True}
        elif cmd["cmd"] == "time":
            chunk = texts[cmd.get("start", 0): cmd.get("stop", len(texts))]
            wall0, cpu0 = time.perf_counter(), time.process_time()
            for text in chunk:
                renderer(text)
            reply = {"wall": time.perf_counter() - wall0, "cpu": time.process_time() - cpu0}
        else:
            reply = {"error": f"unknown command {cmd['cmd']!r}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
