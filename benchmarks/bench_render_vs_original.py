"""Our renderers against the original PIXEL code, side by side on one core, in one run.

    .venv/bin/python benchmarks/bench_render_vs_original.py \
        --original-src /tmp/pixel-original --original-python /tmp/venv-orig/bin/python \
        [--n 2000] [--passes 5] [--core 0] [--renderers pangocairo pygame] \
        [--modes sentences pairs words]

``--original-src`` is a folder holding PIXEL's ``pixel`` package (``pixel/data/rendering``),
``--original-python`` the interpreter of an environment where it imports (PyGObject, pycairo,
manimpango, pygame, OpenCV). Nothing of the original is imported into this process, and none of
its code belongs in this repository. On Debian 12 (BENCHMARKS.md has the versions):

    apt-get install libgirepository1.0-dev gir1.2-pango-1.0 libcairo2-dev libpango1.0-dev
    python3 -m venv /tmp/venv-orig && /tmp/venv-orig/bin/pip install "PyGObject<3.51" pycairo \
        manimpango numpy fonttools pygame==2.6.1 opencv-python-headless

For each renderer, both sides run in their own long-lived process (``render_worker.py``) pinned
to the same core, with PIXEL's settings (``pixel_bench.render.defaults``). Each renders the same
Wikipedia sentences (``bench_render.wikipedia_sentences``; ``--modes pairs``: each sentence with
the next as a pair, ``words``: each sentence split at spaces, as token classification renders
it). First, once untimed, each writes a digest of every output (pixels, shape, dtype,
``num_text_patches``, ``sep_patches``), and the digests are compared across the sides. Then
come the timed passes, interleaved: within a pass, both sides render the same chunk of
``--chunk`` inputs back to back, in alternating order (ours, original, original, ours, ...), so
that both see the same moments of a shared machine. Only the render loop inside each process is
timed (wall clock and process CPU time); process start, imports and font loading are reported
on their own. The ratio is taken per pass (pass i of ours over pass i of the original). The load
average and the busiest other processes are printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))


# -- comparison helpers (tests/unit/test_bench_vs_original.py) -----------------------------------
DIGEST_FIELDS = ("pixels sha256", "shape", "dtype", "num_text_patches", "sep_patches")


def compare_digests(ours: list, original: list) -> dict:
    """Per-example comparison of two digest lists (``render_worker.digest`` entries).

    Returns the number compared, how many are identical in every field, and up to 5 examples
    of differences (index and differing fields)."""
    if len(ours) != len(original):
        raise ValueError(f"digest lists differ in length: {len(ours)} vs {len(original)}")
    identical, examples = 0, []
    counts = dict.fromkeys(DIGEST_FIELDS, 0)
    for i, (a, b) in enumerate(zip(ours, original)):
        diff = [name for name, x, y in zip(DIGEST_FIELDS, a, b) if x != y]
        if not diff:
            identical += 1
            continue
        for name in diff:
            counts[name] += 1
        if len(examples) < 5:
            examples.append({"index": i, "fields": diff})
    return {"n": len(ours), "identical": identical, "differing_fields": counts,
            "examples": examples}


def pair_ratios(ours_s: list[float], original_s: list[float]) -> list[float]:
    """Speed ratio ours / original of each adjacent pair of passes, from their durations."""
    if len(ours_s) != len(original_s) or not ours_s:
        raise ValueError("need the same, non-zero number of passes on both sides")
    return [o / s for s, o in zip(ours_s, original_s)]


def interleaved_chunks(n: int, chunk: int) -> list[tuple[int, int, tuple[str, str]]]:
    """One pass over ``n`` inputs as ``(start, stop, order)`` chunks: both sides render each
    chunk back to back, in alternating order (ours first, then original first, ...), so that
    both see the same moments of a shared machine and neither always goes first."""
    if chunk <= 0:
        raise ValueError(f"chunk must be positive, got {chunk}")
    sides = ("ours", "original")
    return [(a, min(a + chunk, n), sides if k % 2 == 0 else sides[::-1])
            for k, a in enumerate(range(0, n, chunk))]


def summarize(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


# -- processes -----------------------------------------------------------------------------------
class Worker:
    """A ``render_worker.py`` process and its line protocol."""

    def __init__(self, side: str, python: str, renderer: str, settings: dict, texts: Path,
                 core: int, src: str | None, env: dict) -> None:
        cmd = [python, str(HERE / "render_worker.py"), "--side", side, "--renderer", renderer,
               "--settings", json.dumps(settings), "--texts", str(texts), "--core", str(core)]
        if src:
            cmd += ["--src", src]
        self.side = side
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env)
        self.ready = self._read()
        self.ready["startup_s"] = time.perf_counter() - t0  # process start + imports + fonts

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            raise RuntimeError(f"{self.side} worker exited with code {code} (see its stderr)")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"{self.side} worker: {reply['error']}")
        return reply

    def ask(self, **cmd) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.ask(cmd="quit")
            except (BrokenPipeError, RuntimeError, json.JSONDecodeError):
                pass
            self.proc.wait(timeout=30)


def _cpu_ticks() -> dict[int, tuple[str, int]]:
    ticks = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended
            continue
        comm = text[text.index("(") + 1: text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        ticks[int(stat.parent.name)] = (comm, int(fields[11]) + int(fields[12]))  # utime+stime
    return ticks


def busiest_processes(seconds: float = 1.0, top: int = 5) -> list[str]:
    """The processes that used the most CPU over the next ``seconds`` (not lifetime averages)."""
    first = _cpu_ticks()
    time.sleep(seconds)
    hz = os.sysconf("SC_CLK_TCK")
    used = []
    for pid, (comm, ticks) in _cpu_ticks().items():
        if pid in first and ticks > first[pid][1]:
            used.append((100 * (ticks - first[pid][1]) / hz / seconds, pid, comm))
    return [f"{pct:.0f}% {_command(pid, comm)} ({pid})"
            for pct, pid, comm in sorted(used, reverse=True)[:top]]


def _command(pid: int, comm: str, width: int = 70) -> str:
    """The start of a process's command line (its name if that is unreadable)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return comm
    cmd = raw.replace(b"\0", b" ").decode(errors="replace").strip() or comm
    return cmd if len(cmd) <= width else cmd[: width - 3] + "..."


def machine_state() -> dict:
    """Load average and the busiest processes right now (the machine is shared)."""
    top = busiest_processes()
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    return {"time": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "loadavg": os.getloadavg(), "uptime": uptime, "top": [t.strip() for t in top]}


def make_inputs(texts: list[str], mode: str) -> list:
    """The renderer inputs of ``mode`` built from ``texts`` (one per text)."""
    if mode == "sentences":
        return list(texts)
    if mode == "pairs":
        return [[a, texts[(i + 1) % len(texts)]] for i, a in enumerate(texts)]
    if mode == "words":
        return [t.split() or [""] for t in texts]
    raise ValueError(f"unknown mode {mode!r} (sentences, pairs, words)")


def run_renderer(name: str, mode: str, args: argparse.Namespace, texts: list[str],
                 workdir: Path) -> dict:
    from pixel_bench.render.defaults import default_config

    config = default_config(name)
    settings = config.to_dict(font_basename=False)
    settings.pop("text_renderer_type", None)
    texts_file = workdir / "texts.json"
    texts_file.write_text(json.dumps({"mode": mode, "items": make_inputs(texts, mode)}),
                          encoding="utf-8")
    env_ours = {**os.environ, "PYTHONPATH": str(args.ours_repo), "SDL_VIDEODRIVER": "dummy"}
    env_orig = {k: v for k, v in os.environ.items()
                if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env_orig["SDL_VIDEODRIVER"] = "dummy"
    workers = {}
    try:
        workers["ours"] = Worker("ours", sys.executable, name, settings, texts_file, args.core,
                                 None, env_ours)
        workers["original"] = Worker("original", args.original_python, name, settings,
                                     texts_file, args.core, args.original_src, env_orig)
        digests = {}
        for side, worker in workers.items():
            out = workdir / f"digest-{name}-{mode}-{side}.json"
            worker.ask(cmd="digest", out=str(out))
            digests[side] = json.loads(out.read_text(encoding="utf-8"))
        same = compare_digests(digests["ours"], digests["original"])
        passes = {"ours": [], "original": []}
        chunks = interleaved_chunks(len(texts), args.chunk)
        for i in range(args.passes):
            spent = {side: {"wall": 0.0, "cpu": 0.0} for side in workers}
            for start, stop, order in chunks:
                for side in order:
                    reply = workers[side].ask(cmd="time", start=start, stop=stop)
                    spent[side]["wall"] += reply["wall"]
                    spent[side]["cpu"] += reply["cpu"]
            for side in workers:
                passes[side].append(spent[side])
            o, g = passes["ours"][-1], passes["original"][-1]
            print(f"  {name} {mode} pass {i + 1}: ours {len(texts) / o['wall']:,.0f}/s, original "
                  f"{len(texts) / g['wall']:,.0f}/s, ratio {g['wall'] / o['wall']:.3f}",
                  file=sys.stderr, flush=True)
        startup = {side: w.ready for side, w in workers.items()}
    finally:
        for worker in workers.values():
            worker.close()
    wall = pair_ratios([p["wall"] for p in passes["ours"]], [p["wall"] for p in passes["original"]])
    cpu = pair_ratios([p["cpu"] for p in passes["ours"]], [p["cpu"] for p in passes["original"]])
    return {"renderer": name, "mode": mode, "n": len(texts), "passes": passes, "startup": startup,
            "ratio_wall": wall, "ratio_cpu": cpu, "identical": same}


def report(results: list[dict], before: dict, after: dict, args: argparse.Namespace,
           mean_len: float) -> str:
    lines = [f"Command: `{' '.join([Path(sys.executable).name] + sys.argv)}`",
             f"Start {before['time']}, `uptime` before: {before['uptime']}",
             f"End {after['time']}, `uptime` after: {after['uptime']}",
             f"CPU use by process over 1 s before: {'; '.join(before['top']) or 'none'}",
             f"CPU use by process over 1 s after: {'; '.join(after['top']) or 'none'}",
             f"{os.cpu_count()} CPUs; both sides pinned to core {args.core}; "
             f"{results[0]['n'] if results else 0} Wikipedia sentences (100-160 chars, mean "
             f"{mean_len:.0f}); {args.passes} passes per side, interleaved in chunks of "
             f"{args.chunk} inputs (ours, original, original, ours, ...); rates in "
             "inputs/s (sentences, pairs or word lists); ours = pixel_bench from "
             f"{args.ours_repo}.", ""]
    for r in results:
        n = r["n"]
        lines.append(f"**{r['renderer']}, {r['mode']}** — identical outputs: {r['identical']['identical']}/"
                     f"{r['identical']['n']}"
                     + ("" if r["identical"]["identical"] == n else
                        f" (differing fields: {r['identical']['differing_fields']}, e.g. "
                        f"{r['identical']['examples']})"))
        lines.append("")
        lines.append("| pass | ours (/s, wall) | original (/s, wall) | ratio (wall) | "
                     "ours (/s, CPU) | original (/s, CPU) | ratio (CPU) |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|")
        for i, (o, g) in enumerate(zip(r["passes"]["ours"], r["passes"]["original"])):
            lines.append(f"| {i + 1} | {n / o['wall']:,.0f} | {n / g['wall']:,.0f} | "
                         f"{r['ratio_wall'][i]:.3f} | {n / o['cpu']:,.0f} | {n / g['cpu']:,.0f} | "
                         f"{r['ratio_cpu'][i]:.3f} |")
        w, c = summarize(r["ratio_wall"]), summarize(r["ratio_cpu"])
        lines.append(f"| **median (range)** | | | **{w['median']:.3f}** ({w['min']:.3f}-"
                     f"{w['max']:.3f}) | | | **{c['median']:.3f}** ({c['min']:.3f}-"
                     f"{c['max']:.3f}) |")
        s = r["startup"]
        lines.append("")
        lines.append("Start-up, not in the rates above (process start + imports + renderer "
                     "construction incl. font loading): " + ", ".join(
                         f"{side} {s[side]['startup_s']:.2f} s (imports "
                         f"{s[side]['imports_s']:.2f} s, construction {s[side]['init_s']:.3f} s)"
                         for side in ("ours", "original")))
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--original-src", required=True,
                        help="folder holding the original PIXEL `pixel` package")
    parser.add_argument("--original-python", required=True,
                        help="python of the environment the original code runs in")
    parser.add_argument("--n", type=int, default=2000, help="Wikipedia sentences")
    parser.add_argument("--passes", type=int, default=5, help="timed passes per side")
    parser.add_argument("--core", type=int, default=0, help="CPU core both sides are pinned to")
    parser.add_argument("--renderers", nargs="+", default=["pangocairo", "pygame"],
                        choices=["pangocairo", "pygame"])
    parser.add_argument("--chunk", type=int, default=100,
                        help="inputs per timed chunk: a pass alternates ours/original chunk by "
                             "chunk (ABBA order), so both sides share the same load")
    parser.add_argument("--modes", nargs="+", default=["sentences"],
                        choices=["sentences", "pairs", "words"])
    parser.add_argument("--ours-repo", type=Path, default=REPO,
                        help="pixel-bench checkout whose renderers are 'ours' (default: this "
                             "one; e.g. an export of an older commit, to measure a change)")
    parser.add_argument("--json", help="also write the raw results here")
    args = parser.parse_args()
    if not (Path(args.original_src) / "pixel" / "data" / "rendering").is_dir():
        sys.exit(f"--original-src {args.original_src}: no pixel/data/rendering folder in it")
    if not Path(args.original_python).is_file():
        sys.exit(f"--original-python {args.original_python}: no such file")
    if not (args.ours_repo / "pixel_bench" / "render").is_dir():
        sys.exit(f"--ours-repo {args.ours_repo}: no pixel_bench/render folder in it")
    os.sched_setaffinity(0, {args.core})  # the parent only waits; keep it off the other core

    from bench_render import wikipedia_sentences

    texts = wikipedia_sentences(args.n)
    mean_len = sum(map(len, texts)) / len(texts)
    before = machine_state()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-vs-original-") as tmp:
        for name in args.renderers:
            for mode in args.modes:
                results.append(run_renderer(name, mode, args, texts, Path(tmp)))
    after = machine_state()
    print(report(results, before, after, args, mean_len))
    if args.json:
        Path(args.json).write_text(json.dumps({"before": before, "after": after,
                                               "results": results}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
