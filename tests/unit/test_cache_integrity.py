"""Render-cache faults: damaged entries are detected and re-rendered, files are fsynced before
the entry is published, an unwritable cache folder is named with the way out, `cache clear ""`
clears nothing, workers die with their parent, and the fill shows progress only on a terminal."""

from __future__ import annotations

import errno
import io
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import pixel_bench.cache as cache_mod
from pixel_bench.cache import BrokenEntry, RenderCache, RenderedSplit
from pixel_bench.errors import PixelBenchError
from pixel_bench.render import RendererConfig

REPO = Path(__file__).resolve().parents[2]
SENTENCES = [f"Sentence {i}: pack my box with five dozen liquor jugs." for i in range(12)]


@pytest.fixture()
def config(fonts: Path) -> RendererConfig:
    return RendererConfig(font_file=str(fonts / "noto" / "NotoSans-Regular.ttf"),
                          max_seq_length=64)


@pytest.fixture()
def cache(tmp_path: Path) -> RenderCache:
    return RenderCache(tmp_path / "rendered")


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_manifest_lists_size_and_sha256_of_every_file(cache, config):
    split = cache.get_or_render("pygame", config, SENTENCES)
    files = split.manifest["files"]
    on_disk = {p.relative_to(split.path).as_posix() for p in split.path.rglob("*")
               if p.is_file() and p.name != "manifest.json"}
    assert set(files) == on_disk and "pixels.bin" in files
    for rel, info in files.items():
        assert info == cache_mod.file_digest(split.path / rel)


@pytest.mark.parametrize("damage", ["flip_pixels", "flip_npy", "short_pixels", "missing_file",
                                    "bad_manifest"])
def test_damaged_entry_is_rendered_again_with_a_warning(cache, config, damage, caplog):
    first = cache.get_or_render("pygame", config, SENTENCES)
    want = [first[i].pixel_values.copy() for i in range(len(first))]
    ntp = first.num_text_patches.copy()
    path = first.path
    del first
    if damage == "flip_pixels":
        _flip(path / "pixels.bin", 100)
    elif damage == "flip_npy":
        _flip(path / "num_text_patches.npy", (path / "num_text_patches.npy").stat().st_size - 1)
    elif damage == "short_pixels":
        with open(path / "pixels.bin", "r+b") as fh:
            fh.truncate(fh.seek(0, 2) - 7)
    elif damage == "missing_file":
        (path / "sep_patches.offsets.npy").unlink()
    else:
        (path / "manifest.json").write_text('{"format": 3, "key": ')
    with caplog.at_level(logging.WARNING, logger="pixel_bench.cache"):
        again = cache.get_or_render("pygame", config, SENTENCES)
    assert not again.from_cache  # rendered anew, not the damaged bytes
    assert again.path == path
    assert any(path.name in r.getMessage() and "rendering it again" in r.getMessage()
               for r in caplog.records), caplog.text
    assert all(np.array_equal(again[i].pixel_values, w) for i, w in enumerate(want))
    assert np.array_equal(again.num_text_patches, ntp)
    assert cache.info()["partial"] == []  # the broken copy was removed
    assert cache.get_or_render("pygame", config, SENTENCES).from_cache


def test_short_file_is_a_clear_error_when_opened_directly(cache, config):
    split = cache.get_or_render("pygame", config, SENTENCES)
    with open(split.path / "pixels.bin", "r+b") as fh:
        fh.truncate(10)
    with pytest.raises(BrokenEntry, match=r"pixels\.bin has 10 bytes.*cache clear"):
        RenderedSplit(split.path)


def test_size_only_verification_can_be_chosen(cache, config, monkeypatch):
    split = cache.get_or_render("pygame", config, SENTENCES)
    _flip(split.path / "pixels.bin", 5)
    monkeypatch.setenv(cache_mod.VERIFY_ENV, "size")
    assert cache.get_or_render("pygame", config, SENTENCES).from_cache  # not hashed
    monkeypatch.setenv(cache_mod.VERIFY_ENV, "sometimes")
    with pytest.raises(PixelBenchError, match="PIXEL_BENCH_CACHE_VERIFY"):
        cache.get_or_render("pygame", config, SENTENCES)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name fds")
def test_files_and_directory_are_fsynced_before_the_rename(cache, config, monkeypatch):
    synced: list[str] = []
    real_fsync, real_rename = os.fsync, os.rename
    published: dict[str, list[str]] = {}

    def fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real_fsync(fd)

    def rename(src, dst):
        if Path(src).name.startswith(".tmp-"):
            files = [str(p.resolve()) for p in Path(src).rglob("*")]
            published[str(dst)] = [f for f in files + [str(Path(src).resolve())]
                                   if f not in synced]
        return real_rename(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    split = cache.get_or_render("pygame", config, SENTENCES)
    assert published == {str(split.path): []}  # every file and folder synced before rename
    assert str(cache.root.resolve()) in synced  # and the folder that holds the new name


def test_unwritable_cache_folder_names_it_and_the_way_out(cache, config, monkeypatch):
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == cache.root
                        else real_access(p, mode, **kw))
    with pytest.raises(PixelBenchError, match=rf"cannot write the render cache in "
                                              rf"{cache.root}.*PIXEL_BENCH_CACHE"):
        cache.get_or_render("pygame", config, SENTENCES)


def test_full_disk_names_the_folder_and_leaves_nothing(cache, config, monkeypatch):
    def full(self, chunk):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache_mod._LevelWriter, "add_chunk", full)
    with pytest.raises(PixelBenchError, match=r"No space left on device.*PIXEL_BENCH_CACHE"):
        cache.get_or_render("pygame", config, SENTENCES)
    assert cache.entries() == [] and cache.info()["partial"] == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_read_only_cache_folder(tmp_path, config):
    root = tmp_path / "ro"
    root.mkdir()
    root.chmod(0o555)
    try:
        with pytest.raises(PixelBenchError, match=rf"cannot write the render cache in {root}"):
            RenderCache(root).get_or_render("pygame", config, SENTENCES)
    finally:
        root.chmod(0o755)


def test_clear_with_an_empty_key_clears_nothing(tmp_path, config):
    from typer.testing import CliRunner

    from pixel_bench.cli.app import app

    cache = RenderCache(tmp_path / "rendered")
    cache.get_or_render("pygame", config, SENTENCES)
    with pytest.raises(PixelBenchError, match="empty cache key"):
        cache.clear("")
    for key in ("", "  "):
        res = CliRunner().invoke(app, ["cache", "clear", key, "--root", str(cache.root), "-y"])
        assert res.exit_code != 0
        assert "empty" in res.output + str(res.exception)
    assert len(cache.entries()) == 1


# -- workers die with their parent ----------------------------------------------------------------
PARENT = textwrap.dedent("""
    import sys, time
    import pixel_bench.cache as cache_mod
    from pixel_bench.render import RendererConfig
    inner = cache_mod._render_records
    def slow(*args, **kwargs):
        time.sleep(0.2)
        return inner(*args, **kwargs)
    cache_mod._render_records = slow
    inputs = [f"Sentence number {i}: the quick brown fox." for i in range(2000)]
    cache_mod.RenderCache(sys.argv[1]).get_or_render(
        "pygame", RendererConfig(font_file=sys.argv[2], max_seq_length=32), inputs,
        num_workers=2, chunk_size=1, mp_context="fork")
""")


def _children(pid: int) -> list[int]:
    try:
        import psutil

        return [c.pid for c in psutil.Process(pid).children()]
    except ImportError:
        out = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(stat.parent.name))
        return out


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has exited (its new parent reaps it)


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method and /proc")
def test_render_workers_die_when_the_parent_is_killed(tmp_path, fonts):
    root = tmp_path / "rendered"
    workers: list[int] = []
    proc = subprocess.Popen([sys.executable, "-c", PARENT, str(root),
                             str(fonts / "noto" / "NotoSans-Regular.ttf")], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 90
        while time.time() < deadline and proc.poll() is None:
            workers = _children(proc.pid)
            if len(workers) >= 2 and list(root.glob(".tmp-*/pixels.bin")):
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.stderr.read().decode()
        assert len(workers) >= 2, "the pool never started"
        time.sleep(0.5)  # the workers are busy rendering
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.time() + 5
        while time.time() < deadline and any(_running(w) for w in workers):
            time.sleep(0.1)
        alive = [w for w in workers if _running(w)]
        assert not alive, f"render workers {alive} outlived their killed parent"
    finally:  # never leave processes behind, whatever failed
        for w in set(workers) | set(_children(proc.pid) if proc.poll() is None else []):
            if _running(w):
                os.kill(w, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_die_with_parent_exits_when_the_parent_is_gone():
    """The polling fallback (other OSes, fork servers, a parent that died before prctl)."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    code = ("import pixel_bench.cache as c, sys, time\n"
            f"c.die_with_parent({dead.pid}, poll_s=0.05)\n"
            "time.sleep(30)\n")
    t0 = time.time()
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, timeout=60)
    assert res.returncode == 1 and time.time() - t0 < 20


# -- progress ---------------------------------------------------------------------------------
class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal(cache, config, monkeypatch):
    quiet = io.StringIO()
    monkeypatch.setattr(sys, "stderr", quiet)
    cache.get_or_render("pygame", config, SENTENCES[:5])
    assert quiet.getvalue() == ""
    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    monkeypatch.setenv("TERM", "xterm")
    cache.get_or_render("pygame", config, SENTENCES[5:])
    text = tty.getvalue()
    assert "render" in text and "pygame (7 examples)" in text and "7/7" in text


@pytest.mark.parametrize("where", ["root", "parent"])
def test_cache_folder_blocked_by_a_file_names_the_file(tmp_path, config, where):
    """PIXEL_BENCH_CACHE (or its rendered/ folder) pointing at a file: a clear error naming the
    file, not a NotADirectoryError/FileExistsError traceback from mkdir."""
    blocker = tmp_path / "cachefile"
    blocker.write_text("not a folder")
    root = blocker if where == "root" else blocker / "rendered"
    with pytest.raises(PixelBenchError, match=rf"{blocker} is a file, not a folder.*"
                                              rf"PIXEL_BENCH_CACHE"):
        RenderCache(root).get_or_render("pygame", config, SENTENCES)
    assert blocker.read_text() == "not a folder"
