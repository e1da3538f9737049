"""The rendered-data cache: render a split once, read it back memory-mapped.

An entry is addressed by its content: ``key = sha256(format version, renderer fingerprint
(settings, font sha256, renderer version), rendering-library versions, render kwargs, data
fingerprint)``. Changing the font file, any setting, the renderer code version, pygame/Pango, or
one input text gives a new key; nothing is ever invalidated in place.

Layout of ``<cache_dir()>/rendered/<key>/`` (plain ``.npy``/raw files, memory-mapped read-only)::

    manifest.json               settings, counts, timings, array index (written last)
    pixels.bin                  uint8: each image cropped after its last non-background column,
                                concatenated (row-major [H, w_i] or [H, w_i, 3])
    pixels.width.npy            int32 [N]    stored width w_i of each image
    pixels.background.npy       uint8 [N, H] (or [N, H, 3]) the column the crop is padded with
    attention_mask.bin          raw [N, L] (dtype and shape in the manifest)
    num_text_patches.npy        int32 [N]; truncated.npy (bool), num_dropped_words.npy,
    unknown_glyphs.npy          int32 [N]
    <ragged>.values.npy         flat values of a per-example list (sep_patches, word_starts,
    <ragged>.offsets.npy        offset_mapping, extras) + int64 [N+1] row offsets
    overflow/...                QA overflow windows: the same files for M windows, plus
                                ``overflow.offsets.npy`` [N+1] and ``has_overflow.npy``

Why cropped rows and not one ``[N, H, W]`` array: a PIXEL strip is 16 x 8464 px but a GLUE
sentence fills ~50 of its 529 patches; the rest is white. Storing the crop (exactly restorable:
everything after it equals the stored background column) makes entries ~10x smaller, and on
these machines first-time page-cache writes cost ~330 us per full 135 kB row, more than a
PangoCairo render. Reading restores a full image in ~5 us (``split[i].pixel_values``,
``split.pixel_values[a:b]``).

Filling: a worker pool (one renderer per process, rebuilt from ``(name, RendererConfig)``
through :data:`pixel_bench.registry.RENDERERS`) renders ordered chunks and sends back cropped
images; the parent appends them to the entry's files in order. The fill holds a per-key file
lock and writes into a private temporary directory that is moved into place with one atomic
``rename``. A second process asking for the same key waits on the lock and then reuses the
winner's entry; a killed fill leaves only a ``.tmp-*`` directory, which the next fill of that
key (or ``pixel-bench cache clear``) removes. Before that rename every file is checksummed and
fsynced; the manifest lists each file's size and sha256, a hit checks them (:func:`verify_entry`)
and a damaged entry is rendered again with a warning.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import math
import multiprocessing
import os
import shutil
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from .errors import DataError, PixelBenchError
from .paths import cache_dir
from .render.base import Encoding, RendererConfig, TextRenderer

logger = logging.getLogger("pixel_bench.cache")

#: bump when the on-disk layout changes (old entries are then simply never hit again);
#: 3: the manifest lists every file's size and sha256
CACHE_FORMAT = 3
MANIFEST = "manifest.json"
#: "full" (default): a cache hit checks every file's sha256 (once per process and file
#: version); "size": sizes only (for very large caches on slow disks)
VERIFY_ENV = "PIXEL_BENCH_CACHE_VERIFY"
#: errors that mean "this folder cannot take the cache", reported with the folder and the way out
_UNWRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC,
               getattr(errno, "EDQUOT", errno.ENOSPC)}
#: a file sits where the cache folder (or one above it) should be
_NOT_A_FOLDER = {errno.ENOTDIR, errno.EEXIST}


class BrokenEntry(PixelBenchError):
    """A cache entry whose files do not match its manifest (damaged, truncated, tampered).
    ``detail`` is the message without the advice to clear it (the cache re-renders instead)."""

    def __init__(self, detail: str, advice: str = "") -> None:
        super().__init__(detail + advice)
        self.detail = detail

Input = str | tuple[str, str] | list[str]


# -- keys ------------------------------------------------------------------------------------
def data_fingerprint(inputs: Iterable[Input]) -> str:
    """sha256 over the examples, their order and their kind (sentence / pair / word list)."""
    digest = hashlib.sha256()
    count = 0
    for item in inputs:
        if isinstance(item, str):
            raw = item.encode("utf-8", "surrogatepass")
            digest.update(b"s%d:" % len(raw))
            digest.update(raw)
        elif isinstance(item, (tuple, list)):
            body = json.dumps(list(item), ensure_ascii=False).encode("utf-8", "surrogatepass")
            digest.update(b"%s%d:" % (b"p" if isinstance(item, tuple) else b"w", len(body)))
            digest.update(body)
        else:
            raise DataError(f"cannot render example #{count} of type {type(item).__name__}: "
                            "expected str, tuple(str, str) or list[str]")
        count += 1
    digest.update(f"n={count}".encode())
    return digest.hexdigest()


def cache_key(renderer: TextRenderer, render_kwargs: Mapping[str, Any] | None,
              data_fp: str) -> str:
    """The content address of one rendered split."""
    payload = {
        "format": CACHE_FORMAT,
        "renderer": renderer.fingerprint(),
        # the renderer class's own facts (TextRenderer.libraries), e.g. pygame + FreeType
        "libraries": type(renderer).libraries(),
        "render_kwargs": dict(sorted((render_kwargs or {}).items())),
        "data": data_fp,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


# -- integrity -------------------------------------------------------------------------------
def file_digest(path: Path, sync: bool = False) -> dict[str, Any]:
    """Size and sha256 of a file (``sync``: also fsync it, while it is open anyway)."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
            size += len(chunk)
        if sync:
            os.fsync(fh.fileno())
    return {"size": size, "sha256": digest.hexdigest()}


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a directory
        pass
    finally:
        os.close(fd)


def seal_entry(directory: Path) -> dict[str, dict[str, Any]]:
    """Checksum and fsync every file of a filled entry (the manifest, written later, lists the
    result) and fsync its directories, so the rename that publishes it publishes whole files."""
    files = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = path.relative_to(directory).as_posix()
        if rel != MANIFEST:
            files[rel] = file_digest(path, sync=True)
    for sub in sorted(p for p in directory.rglob("*") if p.is_dir()):
        _fsync_dir(sub)
    return files


_VERIFIED: set[tuple[Any, ...]] = set()  # entries whose checksums this process has checked
_VERIFIED_LOCK = threading.Lock()


def verify_entry(path: Path, manifest: Mapping[str, Any], full: bool) -> None:
    """Raise BrokenEntry naming the entry and its bad files when a file listed in the manifest
    is missing, has another size or (``full``) another sha256. Sizes are a few ``stat`` calls;
    a full check reads every byte once per process (~0.7 s/GB from the page cache)."""
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise BrokenEntry(f"cache entry {path}: its manifest lists no files")
    problems, stats = [], []
    for rel, want in sorted(files.items()):
        try:
            st = (path / rel).stat()
        except OSError:
            problems.append(f"{rel} is missing")
            continue
        if st.st_size != want.get("size"):
            problems.append(f"{rel} has {st.st_size} bytes, the manifest says {want.get('size')}")
        stats.append((rel, st.st_ino, st.st_size, st.st_mtime_ns))
    if not problems and full:
        memo = (str(path.resolve()), tuple(stats))
        with _VERIFIED_LOCK:
            done = memo in _VERIFIED
        if not done:
            problems = [f"{rel} does not match its sha256" for rel, want in sorted(files.items())
                        if file_digest(path / rel)["sha256"] != want.get("sha256")]
            if not problems:
                with _VERIFIED_LOCK:
                    _VERIFIED.add(memo)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise BrokenEntry(f"cache entry {path} is damaged: {'; '.join(problems[:3])}{more}")


def _full_verification() -> bool:
    mode = os.environ.get(VERIFY_ENV, "full").strip().lower()
    if mode not in ("full", "size"):
        raise PixelBenchError(f"{VERIFY_ENV}={mode!r}: expected 'full' or 'size'")
    return mode == "full"


def _unwritable(root: Path, exc: OSError) -> PixelBenchError:
    if exc.errno in _NOT_A_FOLDER:
        blocker = next((p for p in (root, *root.parents) if p.exists() and not p.is_dir()), root)
        return PixelBenchError(
            f"cannot make the render cache folder {root}: {blocker} is a file, not a folder. "
            "Move that file or set PIXEL_BENCH_CACHE to a writable folder (renderings go to "
            "$PIXEL_BENCH_CACHE/rendered)")
    return PixelBenchError(
        f"cannot write the render cache in {root}: {exc.strerror or exc}. Free space there or "
        "set PIXEL_BENCH_CACHE to a writable folder with room (renderings go to "
        "$PIXEL_BENCH_CACHE/rendered)")


# -- pixel rows ------------------------------------------------------------------------------
def crop_image(pv: np.ndarray, hint: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split an image into (crop, background column): everything right of the crop equals the
    background column (the image's last column), so :func:`restore_image` is exact.

    ``hint`` (e.g. the end of the EOS patch) is tried first: when everything from it on is
    background, the crop ends there (a little background may be kept; no scan is needed).
    """
    bg = pv[:, -1]
    width = pv.shape[1]
    if hint is not None and 0 < hint < width and _is_background(pv, bg, hint):
        return pv[:, :hint], np.array(bg)
    cols = (pv != bg[:, None])
    cols = cols.reshape(cols.shape[0], width, -1).any(axis=(0, 2))
    nz = np.flatnonzero(cols)
    w = int(nz[-1]) + 1 if nz.size else 0
    return pv[:, :w], np.array(bg)


def _is_background(pv: np.ndarray, bg: np.ndarray, start: int) -> bool:
    """True when every column from ``start`` on equals the background column ``bg``."""
    tail = pv[:, start:]
    lo, hi = bg.min(), bg.max()
    if lo == hi:  # uniform background: read-only reductions instead of a compare + all
        unsigned = pv.dtype.kind == "u"
        if unsigned and hi == np.iinfo(pv.dtype).max:  # white: nothing is above it
            return bool(tail.min() == hi)
        if unsigned and lo == 0:
            return bool(tail.max() == 0)
        return bool(tail.min() == lo and tail.max() == hi)
    return bool((tail == bg[:, None]).all())


def restore_image(crop: np.ndarray, bg: np.ndarray, width: int,
                  out: np.ndarray | None = None) -> np.ndarray:
    """Inverse of :func:`crop_image`."""
    if out is None:
        out = np.empty((crop.shape[0], width, *crop.shape[2:]), dtype=crop.dtype)
    w = crop.shape[1]
    out[:, w:] = bg[:, None]
    out[:, :w] = crop
    return out


def _raw(path: Path, dtype: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Read-only memory map of a raw file (an empty file gives an empty array)."""
    dtype = np.dtype(dtype)
    size = path.stat().st_size
    if size == 0:
        return np.zeros(shape if shape is not None else (0,), dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=shape).view(np.ndarray)


class PixelRows:
    """``split.pixel_values``: behaves like a read-only ``[N, H, W]`` (or ``[N, H, W, 3]``)
    uint8 array; indexing restores full images from the cropped, memory-mapped storage."""

    def __init__(self, directory: Path, n: int, shape: tuple[int, ...]) -> None:
        self.n = n
        self.image_shape = tuple(shape)
        self.values = _raw(directory / "pixels.bin", np.uint8)
        self.widths = np.load(directory / "pixels.width.npy")
        self.background = np.load(directory / "pixels.background.npy")
        per_col = int(np.prod(self.image_shape, dtype=np.int64)) // self.image_shape[1]
        self.offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(self.widths.astype(np.int64) * per_col, out=self.offsets[1:])
        self.dtype = np.dtype(np.uint8)

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.n, *self.image_shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.n

    def crop(self, i: int) -> np.ndarray:
        """The stored part of image ``i`` (a zero-copy view of the memory map)."""
        h, rest = self.image_shape[0], self.image_shape[2:]
        return self.values[self.offsets[i]:self.offsets[i + 1]].reshape(
            h, int(self.widths[i]), *rest)

    def image(self, i: int, out: np.ndarray | None = None) -> np.ndarray:
        return restore_image(self.crop(i), self.background[i], self.image_shape[1], out)

    def __getitem__(self, index: Any) -> np.ndarray:
        if isinstance(index, (int, np.integer)):
            i = int(index)
            if not -self.n <= i < self.n:
                raise IndexError(f"image {i} out of range for {self.n} examples")
            return self.image(i % self.n)
        rows = np.arange(self.n)[index]
        if isinstance(rows, np.ndarray) and rows.ndim == 1:
            out = np.empty((len(rows), *self.image_shape), dtype=np.uint8)
            for j, i in enumerate(rows):
                self.image(int(i), out[j])
            return out
        raise TypeError(f"unsupported index {index!r}: use an int, a slice or a list of ints")

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = self[:]
        return arr if dtype is None else arr.astype(dtype)


# -- reading -------------------------------------------------------------------------------
class _Ragged:
    """A per-example list stored as flat values + row offsets."""

    def __init__(self, directory: Path, name: str) -> None:
        self.values = np.load(directory / f"{name}.values.npy", mmap_mode="r").view(np.ndarray)
        self.offsets = np.load(directory / f"{name}.offsets.npy")

    def __getitem__(self, i: int) -> np.ndarray:
        return self.values[self.offsets[i]: self.offsets[i + 1]]


class _Rows:
    """The per-row arrays of one level (examples, or QA overflow windows)."""

    def __init__(self, directory: Path, index: Mapping[str, Any]) -> None:
        self.n = int(index["rows"])
        self.pixels = PixelRows(directory, self.n, tuple(index["pixel_shape"]))
        mask = index.get("attention_mask")
        self.attention_mask = (_raw(directory / "attention_mask.bin", mask["dtype"],
                                    (self.n, *mask["shape"])) if mask else None)
        self.scalars = {k: np.load(directory / f"{k}.npy") for k in index["scalars"]}
        self.ragged = {k: _Ragged(directory, k) for k in index["ragged"]}
        self.present = {k: np.load(directory / f"has_{k}.npy") for k in index.get("optional", [])}
        # one shape for every example, or the name of an [N, ndim] array of per-example shapes
        self.extra_shapes = {k: (tuple(v) if isinstance(v, list) else np.load(directory / v))
                             for k, v in index.get("extra_shapes", {}).items()}
        self.cropped_extras = set(index.get("cropped_extras", []))
        self._scalar_arrays = tuple(self.scalars[k] for k in ("num_text_patches", "truncated",
                                                              "num_dropped_words",
                                                              "unknown_glyphs"))
        self._sep = self.ragged["sep_patches"]

    def _optional(self, name: str, i: int) -> np.ndarray | None:
        ragged = self.ragged.get(name)
        if ragged is None or not self.present[name][i]:
            return None
        return ragged[i]

    def _extras(self, i: int) -> dict[str, np.ndarray]:
        extras = {}
        for name, shapes in self.extra_shapes.items():
            values = self.ragged[f"extras.{name}"][i]
            shape = shapes if isinstance(shapes, tuple) else tuple(shapes[i].tolist())
            if name in self.cropped_extras:  # image-like extra stored cropped on its last axis
                rows = int(np.prod(shape[:-1], dtype=np.int64))
                bg = self.ragged[f"extras.{name}.background"][i]
                extras[name] = restore_image(values.reshape(rows, -1) if rows else values,
                                             bg, shape[-1]).reshape(shape)
            else:
                extras[name] = np.array(values).reshape(shape)
        return extras

    def encoding(self, i: int, overflow: list[Encoding] | None = None) -> Encoding:
        ntp, truncated, dropped, unknown = self._scalar_arrays
        word_starts = self._optional("word_starts", i) if self.present else None
        offsets = self._optional("offset_mapping", i) if self.present else None
        return Encoding(
            pixel_values=self.pixels.image(i),
            num_text_patches=ntp[i].item(),
            sep_patches=self._sep[i].tolist(),
            attention_mask=None if self.attention_mask is None else self.attention_mask[i],
            word_starts=None if word_starts is None else word_starts.tolist(),
            offset_mapping=None if offsets is None else [tuple(p) for p in
                                                         offsets.reshape(-1, 2).tolist()],
            overflowing_patches=overflow,
            truncated=truncated[i].item(),
            num_dropped_words=dropped[i].item(),
            unknown_glyphs=unknown[i].item(),
            extras=self._extras(i) if self.extra_shapes else {},
        )


class RenderedSplit(Sequence[Encoding]):
    """A cached rendered split: ``len``; ``split[i] -> Encoding`` (a fresh, writable image; the
    attention mask is a read-only memory-mapped row); ``pixel_values`` (array-like
    ``[N, H, W]``, see :class:`PixelRows`), ``attention_mask`` ``[N, L]`` and
    ``num_text_patches`` ``[N]`` for whole-split access; ``counts`` and ``manifest``."""

    def __init__(self, path: str | Path, from_cache: bool = True) -> None:
        self.path = Path(path)
        try:
            self.manifest = json.loads((self.path / MANIFEST).read_text(encoding="utf-8"))
            if self.manifest.get("format") != CACHE_FORMAT:
                raise ValueError(f"cache format {self.manifest.get('format')}, expected "
                                 f"{CACHE_FORMAT}")
            self.key = self.manifest["key"]
            verify_entry(self.path, self.manifest, full=False)  # sizes: before any memory map
            self._rows = _Rows(self.path, self.manifest["arrays"])
            ov = self.manifest["arrays"].get("overflow")
            self._overflow = _Rows(self.path / "overflow", ov) if ov else None
            if self._overflow is not None:
                self._ov_offsets = np.load(self.path / "overflow.offsets.npy")
                self._has_ov = np.load(self.path / "has_overflow.npy")
        except BrokenEntry as exc:
            raise BrokenEntry(exc.detail, self._advice()) from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BrokenEntry(f"broken cache entry {self.path}: {exc}", self._advice()) from None
        self.from_cache = from_cache

    def _advice(self) -> str:
        return f"; remove it with `pixel-bench cache clear {self.path.name[:12]}`"

    def __len__(self) -> int:
        return self._rows.n

    def __getitem__(self, i: int) -> Encoding:  # type: ignore[override]
        if not isinstance(i, (int, np.integer)):
            raise TypeError("RenderedSplit takes integer indices; use .pixel_values[a:b] for "
                            "a batch of images")
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"example {i} out of range for a split of {n}")
        i = int(i) % n
        overflow = None
        if self._overflow is not None and self._has_ov[i]:
            start, end = int(self._ov_offsets[i]), int(self._ov_offsets[i + 1])
            overflow = [self._overflow.encoding(j) for j in range(start, end)]
        return self._rows.encoding(i, overflow)

    def __iter__(self) -> Iterator[Encoding]:
        for i in range(len(self)):
            yield self[i]

    @property
    def pixel_values(self) -> PixelRows:
        return self._rows.pixels

    def batch(self, indices: Sequence[int] | slice) -> dict[str, np.ndarray]:
        """What a collator needs for examples ``indices``: ``pixel_values`` uint8
        ``[B, H, W(, 3)]``, ``attention_mask`` ``[B, L]`` (if stored) and
        ``num_text_patches`` ``[B]``, as fresh arrays."""
        rows = np.arange(len(self))[indices]
        out = {"pixel_values": self._rows.pixels[rows],
               "num_text_patches": np.asarray(self.num_text_patches[rows])}
        if self.attention_mask is not None:
            out["attention_mask"] = np.array(self.attention_mask[rows])
        return out

    @property
    def attention_mask(self) -> np.ndarray | None:
        return self._rows.attention_mask

    @property
    def num_text_patches(self) -> np.ndarray:
        return self._rows.scalars["num_text_patches"]

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.manifest["counts"])

    def __repr__(self) -> str:
        c = self.counts
        return (f"RenderedSplit({len(self)} examples, renderer={self.manifest['renderer']!r}, "
                f"truncated={c['truncated']}, path={str(self.path)!r})")


# -- writing -------------------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _worker_init(renderer_name: str, config: RendererConfig, parent: int | None = None) -> None:
    from .registry import RENDERERS

    if parent is not None:
        die_with_parent(parent)
    _WORKER.clear()
    _WORKER["renderer"] = RENDERERS.get(renderer_name)(config)


def die_with_parent(parent: int, poll_s: float = 0.5) -> None:
    """Make this (worker) process exit when ``parent`` dies. A SIGKILLed parent cannot shut its
    pool down, and the workers would wait on the task pipe forever (they hold its write end
    themselves, so it never reports end-of-file). Linux: the kernel sends SIGKILL when the
    parent goes (``prctl(PR_SET_PDEATHSIG)``). Everywhere, and for a parent that died before
    that call or a pool started through a fork server: a daemon thread polls the parent."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    first_ppid = os.getppid()
    if not _pid_alive(parent):
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != first_ppid or not _pid_alive(parent):
                os._exit(1)

    threading.Thread(target=watch, name="pixel-bench-parent-watch", daemon=True).start()


def _pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, i.e. dead but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True  # no /proc (macOS): kill(0) is all we know


def _render_chunk(task: tuple[int, list[Input], dict[str, Any]]) -> dict[str, Any]:
    start, items, kwargs = task
    return _pack(_render_records(_WORKER["renderer"], start, items, kwargs))


def _pack(recs: list[dict[str, Any]]) -> dict[str, Any]:
    """Turn a chunk's records into few, cheaply pickled objects: crops and masks as two byte
    strings, backgrounds and counters as arrays (the parent's per-example share of the work is
    what limits multi-worker scaling)."""
    crops, masks, widths, backgrounds, shapes, sigs = [], [], [], [], [], []
    for r in recs:
        crop = r.pop("crop")
        widths.append(crop.shape[1])
        crops.append(crop.tobytes())
        mask = r.pop("mask")
        sigs.append(None if mask is None else (mask.shape, mask.dtype.str))
        if mask is not None:
            masks.append(mask.tobytes())
        backgrounds.append(r.pop("background"))
        shapes.append(r.pop("shape"))
    return {"records": recs, "pixels": b"".join(crops), "masks": b"".join(masks),
            "widths": widths, "backgrounds": np.stack(backgrounds) if backgrounds else None,
            "shapes": shapes, "mask_sigs": sigs}


def _render_records(renderer: TextRenderer, start: int, items: Sequence[Input],
                    kwargs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Render ``items`` (rows ``start...``) into compact per-example records."""
    records = []
    for j, item in enumerate(items):
        try:
            enc = renderer(item, **kwargs)
        except PixelBenchError as exc:
            raise DataError(f"example #{start + j}: {exc}") from None
        rec = _record(enc)
        if enc.overflowing_patches is not None:
            rec["overflow"] = [_record(o) for o in enc.overflowing_patches]
        records.append(rec)
    return records


def _record(enc: Encoding) -> dict[str, Any]:
    pv = np.asarray(enc.pixel_values, dtype=np.uint8)
    if pv.ndim not in (2, 3):
        raise DataError(f"renderer returned an image of shape {pv.shape}; expected [H, W] or "
                        "[H, W, 3]")
    hint = (int(enc.num_text_patches) + 1) * pv.shape[0]  # end of the EOS patch
    crop, bg = crop_image(pv, hint)
    return {
        "shape": pv.shape,
        "crop": np.ascontiguousarray(crop),
        "background": bg,
        "mask": None if enc.attention_mask is None else np.asarray(enc.attention_mask),
        "num_text_patches": int(enc.num_text_patches),
        "truncated": bool(enc.truncated),
        "num_dropped_words": int(enc.num_dropped_words),
        "unknown_glyphs": int(enc.unknown_glyphs),
        "sep_patches": list(map(int, enc.sep_patches)),
        "word_starts": None if enc.word_starts is None else list(map(int, enc.word_starts)),
        "offset_mapping": (None if enc.offset_mapping is None else
                           np.asarray([tuple(p) for p in enc.offset_mapping],
                                      dtype=np.int64).reshape(-1, 2)),
        "extras": {k: _extra(np.asarray(v), pv.shape[1], hint)
                   for k, v in (enc.extras or {}).items()},
    }


#: extras at least this large with >= 2 dims (e.g. PIXAR's binarised strip) are stored cropped
CROP_EXTRAS_FROM = 4096


def _extra(arr: np.ndarray, width: int, hint: int
           ) -> np.ndarray | tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Image-like extras are cropped along their last axis like the pixels; others kept."""
    if arr.ndim < 2 or arr.size < CROP_EXTRAS_FROM:
        return arr
    crop, bg = crop_image(arr.reshape(-1, arr.shape[-1]),
                          hint if arr.shape[-1] == width else None)
    return np.ascontiguousarray(crop), bg, arr.shape


SCALARS = {"num_text_patches": np.int32, "truncated": np.bool_, "num_dropped_words": np.int32,
           "unknown_glyphs": np.int32}


class _LevelWriter:
    """Streams the images and masks of one level to disk in order; keeps the small metadata."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.pixels = open(directory / "pixels.bin", "wb")
        self.masks = open(directory / "attention_mask.bin", "wb")
        self.shape: tuple[int, ...] | None = None
        self.mask_info: tuple[tuple[int, ...], np.dtype] | None = None
        self.records: list[dict[str, Any]] = []
        self.widths: list[int] = []
        self.backgrounds: list[np.ndarray] = []

    def add(self, rec: dict[str, Any]) -> None:
        self.add_chunk(_pack([rec]))

    def add_chunk(self, chunk: dict[str, Any]) -> None:
        """Append a packed chunk (see :func:`_pack`) after checking every row's shape."""
        if not chunk["records"]:
            return
        if self.shape is None:
            self.shape = tuple(chunk["shapes"][0])
            self.mask_info = chunk["mask_sigs"][0]
        for j, (shape, sig) in enumerate(zip(chunk["shapes"], chunk["mask_sigs"])):
            if tuple(shape) != self.shape:
                raise DataError(f"example #{len(self.records) + j}: rendered image has shape "
                                f"{tuple(shape)}, the first had {self.shape} (renderers give "
                                "fixed-size strips)")
            if sig != self.mask_info:
                raise DataError(f"example #{len(self.records) + j}: attention_mask missing or "
                                "of another shape/dtype than the first example's")
        self.widths.extend(chunk["widths"])
        self.backgrounds.append(chunk["backgrounds"])
        self.records.extend(chunk["records"])
        self.pixels.write(chunk["pixels"])
        self.masks.write(chunk["masks"])

    def finish(self, empty_shape: tuple[int, ...]) -> dict[str, Any]:
        """Close the streams, write the metadata arrays; return the level's manifest index."""
        self.pixels.close()
        self.masks.close()
        shape = self.shape or empty_shape
        records, directory = self.records, self.dir
        np.save(directory / "pixels.width.npy", np.asarray(self.widths, dtype=np.int32))
        bg_shape = (len(records), shape[0], *shape[2:])
        backgrounds = (np.concatenate(self.backgrounds) if self.backgrounds
                       else np.zeros(bg_shape, dtype=np.uint8))
        np.save(directory / "pixels.background.npy", backgrounds.astype(np.uint8).reshape(bg_shape))
        index: dict[str, Any] = {
            "rows": len(records), "pixel_shape": list(shape), "scalars": list(SCALARS),
            "ragged": [], "optional": [],
            "attention_mask": None if self.mask_info is None else {
                "shape": list(self.mask_info[0]), "dtype": self.mask_info[1]},
        }
        for name, dtype in SCALARS.items():
            np.save(directory / f"{name}.npy", np.asarray([r[name] for r in records],
                                                           dtype=dtype))

        def ragged(name: str, rows: list[np.ndarray], dtype: Any) -> None:
            offsets = np.zeros(len(rows) + 1, dtype=np.int64)
            np.cumsum([len(r) for r in rows], out=offsets[1:])
            values = (np.concatenate([np.asarray(r, dtype=dtype).reshape(-1) for r in rows])
                      if rows and offsets[-1] else np.zeros(0, dtype=dtype))
            np.save(directory / f"{name}.values.npy", values)
            np.save(directory / f"{name}.offsets.npy", offsets)
            index["ragged"].append(name)

        ragged("sep_patches", [r["sep_patches"] for r in records], np.int64)
        for name in ("word_starts", "offset_mapping"):
            present = np.asarray([r[name] is not None for r in records], dtype=bool)
            if present.any():
                rows = [np.asarray(r[name] if r[name] is not None else [],
                                   dtype=np.int64).reshape(-1) for r in records]
                ragged(name, rows, np.int64)
                np.save(directory / f"has_{name}.npy", present)
                index["optional"].append(name)
        index["extra_shapes"] = {}
        index["cropped_extras"] = []
        for name in sorted({k for r in records for k in r["extras"]}):
            missing = [i for i, r in enumerate(records) if name not in r["extras"]]
            if missing:
                raise DataError(f"renderer extra {name!r} is missing for example #{missing[0]}")
            values = [r["extras"][name] for r in records]
            cropped = [isinstance(v, tuple) for v in values]
            if any(cropped) and not all(cropped):
                raise DataError(f"renderer extra {name!r} changes shape class between examples")
            arrays = [v[0] if isinstance(v, tuple) else v for v in values]
            dtypes = {a.dtype for a in arrays}
            if len(dtypes) > 1:
                raise DataError(f"renderer extra {name!r} changes dtype between examples: "
                                f"{dtypes}")
            ragged(f"extras.{name}", [a.reshape(-1) for a in arrays], arrays[0].dtype)
            if all(cropped) and values:
                ragged(f"extras.{name}.background", [v[1].reshape(-1) for v in values],
                       arrays[0].dtype)
                index["cropped_extras"].append(name)
                shapes = [tuple(v[2]) for v in values]
            else:
                shapes = [a.shape for a in arrays]
            if len(set(shapes)) <= 1:
                index["extra_shapes"][name] = list(shapes[0]) if shapes else []
            else:
                if len({len(sh) for sh in shapes}) > 1:
                    raise DataError(f"renderer extra {name!r} changes its number of dimensions "
                                    "between examples")
                np.save(directory / f"extras.{name}.shapes.npy", np.asarray(shapes, np.int64))
                index["extra_shapes"][name] = f"extras.{name}.shapes.npy"
        return index


class RenderCache:
    """Content-addressed store of rendered splits under ``<root>`` (default
    ``pixel_bench.paths.cache_dir() / "rendered"``; ``PIXEL_BENCH_CACHE`` moves the whole cache).
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else cache_dir() / "rendered"

    # -- public API ------------------------------------------------------------------------
    def get_or_render(self, renderer_name: str, renderer_config: RendererConfig,
                      inputs: Sequence[Input], render_kwargs: Mapping[str, Any] | None = None,
                      num_workers: int = 1, *, data_fp: str | None = None,
                      chunk_size: int | None = None, mp_context: str | None = None,
                      lock_timeout: float = -1) -> RenderedSplit:
        """Return the rendered split for ``inputs``, rendering (and storing) it on a miss.

        ``data_fp`` (see :func:`data_fingerprint`) skips hashing the inputs when the caller
        already knows it. ``num_workers > 1`` renders in a process pool (``mp_context`` picks the
        start method; default: Python's). ``lock_timeout`` (s, -1 = forever) bounds the wait for
        another process filling the same entry.
        """
        from filelock import FileLock

        from .registry import RENDERERS

        render_kwargs = dict(render_kwargs or {})
        if not isinstance(inputs, list):  # e.g. a datasets column or a generator: index it once
            inputs = list(inputs)
        renderer = RENDERERS.get(renderer_name)(renderer_config)
        data_fp = data_fp or data_fingerprint(inputs)
        key = cache_key(renderer, render_kwargs, data_fp)
        final = self.root / key
        warned = False
        try:
            hit = self._open_if_complete(final, len(inputs))
        except BrokenEntry as exc:
            logger.warning("%s; rendering it again", exc.detail)
            hit, warned = None, True
        if hit is not None:
            return hit
        try:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                if exc.errno in _NOT_A_FOLDER:
                    raise _unwritable(self.root, exc) from None
                raise
            if not os.access(self.root, os.W_OK):
                raise PermissionError(errno.EACCES, "no write permission (or a read-only "
                                      "file system)", str(self.root))
            with FileLock(str(self.root / f"{key}.lock"), timeout=lock_timeout):
                try:
                    hit = self._open_if_complete(final, len(inputs))  # another process filled it
                except BrokenEntry as exc:
                    if not warned:
                        logger.warning("%s; rendering it again", exc.detail)
                    self._discard(final)
                    hit = None
                if hit is not None:
                    return hit
                self._remove_stale(key)
                tmp = self.root / f".tmp-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
                try:
                    self._fill(tmp, key, renderer_name, renderer, inputs, render_kwargs,
                               num_workers, data_fp, chunk_size, mp_context)
                    if final.exists():  # an entry made without the lock (another root view)
                        shutil.rmtree(tmp, ignore_errors=True)
                    else:
                        os.rename(tmp, final)  # files and manifest are fsynced (seal_entry)
                        _fsync_dir(self.root)
                except BaseException:
                    shutil.rmtree(tmp, ignore_errors=True)
                    raise
        except OSError as exc:
            inside = exc.filename is None or str(exc.filename).startswith(str(self.root))
            if exc.errno in _UNWRITABLE and inside:
                raise _unwritable(self.root, exc) from None
            raise
        return RenderedSplit(final, from_cache=False)

    def key_for(self, renderer_name: str, renderer_config: RendererConfig,
                inputs: Sequence[Input], render_kwargs: Mapping[str, Any] | None = None) -> str:
        """The key :meth:`get_or_render` would use (without rendering anything)."""
        from .registry import RENDERERS

        renderer = RENDERERS.get(renderer_name)(renderer_config)
        return cache_key(renderer, render_kwargs, data_fingerprint(inputs))

    def entries(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST).is_file())

    def info(self) -> dict[str, Any]:
        """Size and per-entry summary (renderer, settings, counts) of everything stored."""
        entries = []
        for path in self.entries():
            try:
                man = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                man = {}
            entries.append({
                "key": path.name,
                "path": str(path),
                "size_bytes": _dir_size(path),
                "renderer": man.get("renderer"),
                "settings": man.get("settings", {}),
                "font_sha256": man.get("font_sha256"),
                "render_kwargs": man.get("render_kwargs", {}),
                "counts": man.get("counts", {}),
                "created": man.get("created"),
            })
        partial = [p.name for p in self.root.glob(".tmp-*")] if self.root.is_dir() else []
        return {"root": str(self.root), "entries": entries, "partial": partial,
                "size_bytes": sum(e["size_bytes"] for e in entries)}

    def clear(self, key: str | None = None) -> dict[str, Any]:
        """Remove every entry (or the one with ``key``, a prefix is enough); entries being filled
        right now are left alone and reported as busy."""
        from filelock import FileLock, Timeout

        if key is not None and not key.strip():
            raise PixelBenchError("an empty cache key would match every entry; to remove "
                                  "everything, clear without a key")
        removed, busy, freed = [], [], 0
        if not self.root.is_dir():
            return {"removed": removed, "busy": busy, "freed_bytes": 0}
        keys = {p.name for p in self.entries()}
        keys |= {p.name.split("-")[1] for p in self.root.glob(".tmp-*")}
        if key is not None:
            keys = {k for k in keys if k.startswith(key)}
        for k in sorted(keys):
            lock = FileLock(str(self.root / f"{k}.lock"), timeout=0)
            try:
                with lock:
                    for path in [self.root / k, *self.root.glob(f".tmp-{k}-*")]:
                        if path.exists():
                            freed += _dir_size(path)
                            shutil.rmtree(path, ignore_errors=True)
                    removed.append(k)
            except Timeout:
                busy.append(k)
                continue
            try:
                (self.root / f"{k}.lock").unlink()
            except FileNotFoundError:
                pass
        return {"removed": removed, "busy": busy, "freed_bytes": freed}

    # -- internals ---------------------------------------------------------------------------
    def _open_if_complete(self, path: Path, n: int) -> RenderedSplit | None:
        """The entry at ``path`` (checked, see :func:`verify_entry`), or None if there is none;
        raises BrokenEntry for a damaged one."""
        if not (path / MANIFEST).is_file():
            return None
        split = RenderedSplit(path, from_cache=True)
        if _full_verification():
            verify_entry(path, split.manifest, full=True)
        if len(split) != n:
            raise PixelBenchError(f"cache entry {path} holds {len(split)} examples but "
                                  f"{n} were asked for; remove it with `pixel-bench cache clear "
                                  f"{path.name[:12]}`")
        return split

    def _discard(self, path: Path) -> None:
        """Move a broken entry out of the way (one rename: readers never see it half-deleted),
        then delete it. Caller holds the key's lock."""
        aside = self.root / f".tmp-{path.name}-broken-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return
        shutil.rmtree(aside, ignore_errors=True)

    def _remove_stale(self, key: str) -> None:
        # We hold the key's lock, so any temporary directory of this key is a killed fill.
        for stale in self.root.glob(f".tmp-{key}-*"):
            shutil.rmtree(stale, ignore_errors=True)

    def _fill(self, tmp: Path, key: str, renderer_name: str, renderer: TextRenderer,
              inputs: Sequence[Input], render_kwargs: dict[str, Any], num_workers: int,
              data_fp: str, chunk_size: int | None, mp_context: str | None) -> None:
        t0 = time.perf_counter()
        tmp.mkdir(parents=True)
        n = len(inputs)
        workers = max(1, min(int(num_workers), n))
        chunk = chunk_size or max(1, min(256, math.ceil(n / (workers * 8)) if n else 1))
        top = _LevelWriter(tmp)
        overflow: _LevelWriter | None = None
        ov_counts: list[int] = []
        has_ov: list[bool] = []
        stats = {"truncated": 0, "dropped_words": 0, "unknown_glyphs": 0,
                 "examples_with_unknown_glyphs": 0}

        progress = FillProgress(n, f"{renderer_name} ({n} examples)")

        def consume(chunk: dict[str, Any]) -> None:
            nonlocal overflow
            progress.advance(len(chunk["records"]))
            windows_of = [rec.pop("overflow", None) for rec in chunk["records"]]
            top.add_chunk(chunk)
            for rec, windows in zip(chunk["records"], windows_of):
                stats["truncated"] += rec["truncated"]
                stats["dropped_words"] += rec["num_dropped_words"]
                stats["unknown_glyphs"] += rec["unknown_glyphs"]
                stats["examples_with_unknown_glyphs"] += rec["unknown_glyphs"] > 0
                has_ov.append(windows is not None)
                ov_counts.append(len(windows or ()))
                if windows:
                    overflow = overflow or _LevelWriter(tmp / "overflow")
                    for w in windows:
                        overflow.add(w)

        t1, cpu1 = time.perf_counter(), time.process_time()
        try:
            if n and workers == 1:
                for start in range(0, n, chunk):
                    consume(_pack(_render_records(renderer, start, inputs[start:start + chunk],
                                                  render_kwargs)))
            elif n:
                self._fill_parallel(consume, renderer_name, renderer.config, inputs,
                                    render_kwargs, workers, chunk, mp_context)
        finally:
            progress.close()
        t2, cpu2 = time.perf_counter(), time.process_time()
        empty_shape = ((renderer.pixels_per_patch, renderer.max_pixels_len, 3)
                       if renderer.config.rgb else (renderer.pixels_per_patch,
                                                    renderer.max_pixels_len))
        arrays = top.finish(empty_shape)
        if any(has_ov):
            overflow = overflow or _LevelWriter(tmp / "overflow")
            arrays["overflow"] = overflow.finish(tuple(arrays["pixel_shape"]))
            offsets = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(ov_counts, out=offsets[1:])
            np.save(tmp / "overflow.offsets.npy", offsets)
            np.save(tmp / "has_overflow.npy", np.asarray(has_ov, dtype=bool))
        elif overflow is not None:
            overflow.finish(tuple(arrays["pixel_shape"]))
        t3 = time.perf_counter()
        config = renderer.config
        manifest = {
            "format": CACHE_FORMAT,
            "key": key,
            "renderer": renderer_name,
            "renderer_version": renderer.version,
            "renderer_fingerprint": renderer.fingerprint(),
            "settings": config.to_dict(font_basename=False),
            "font_sha256": config.font_sha256(),
            "libraries": type(renderer).libraries(),
            "render_kwargs": render_kwargs,
            "data_fingerprint": data_fp,
            "counts": {"examples": n, **stats, "overflow_windows": int(sum(ov_counts))},
            "pixel_shape": arrays["pixel_shape"],
            "stored_bytes": _dir_size(tmp),
            "timings": {"setup_s": round(t1 - t0, 4), "render_s": round(t2 - t1, 4),
                        "write_s": round(t3 - t2, 4), "num_workers": workers,
                        # CPU the calling process spent while rendering (all of it with one
                        # worker; receiving and writing rows with a pool)
                        "parent_cpu_s": round(cpu2 - cpu1, 4),
                        "chunk_size": chunk,
                        "examples_per_s": round(n / (t2 - t1), 1) if n and t2 > t1 else None},
            "arrays": arrays,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        t4 = time.perf_counter()
        manifest["files"] = seal_entry(tmp)
        manifest["timings"]["seal_s"] = round(time.perf_counter() - t4, 4)
        # The manifest is written last: a directory without one is never read as an entry.
        with open(tmp / MANIFEST, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(manifest, indent=1, default=_json_default) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        _fsync_dir(tmp)

    @staticmethod
    def _fill_parallel(consume: Any, renderer_name: str, config: RendererConfig,
                       inputs: Sequence[Input], render_kwargs: dict[str, Any], workers: int,
                       chunk: int, mp_context: str | None) -> None:
        """Render chunks in a process pool and consume them in input order. A worker that dies
        (e.g. a crash inside a C library) fails the fill instead of hanging it."""
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        ctx = multiprocessing.get_context(mp_context)
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init,
                                 initargs=(renderer_name, config, os.getpid())) as pool:
            pending = []  # at most 4 chunks per worker in flight: bounded memory, no idle worker
            try:
                for start in range(0, len(inputs), chunk):
                    pending.append(pool.submit(_render_chunk, (
                        start, list(inputs[start:start + chunk]), render_kwargs)))
                    if len(pending) >= 4 * workers:
                        consume(pending.pop(0).result())
                for fut in pending:
                    consume(fut.result())
            except BrokenProcessPool as exc:
                raise PixelBenchError(f"a {renderer_name} render worker died ({exc}); rerun "
                                      "with num_workers=1 to see the error in-process") from None
            except BaseException:
                for fut in pending:
                    fut.cancel()
                raise


class FillProgress:
    """A rich progress bar with ETA on stderr while a split renders; only when stderr is a
    terminal (silent in logs and tests) and no other live display is running."""

    def __init__(self, total: int, label: str) -> None:
        self.bar: Any = None
        if not total or not sys.stderr.isatty():
            return
        try:
            from rich.console import Console
            from rich.markup import escape
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)

            bar = Progress(TextColumn(f"[bold]render[/] {escape(label)}"), BarColumn(),
                           MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                           console=Console(file=sys.stderr), transient=True)
            self.task = bar.add_task("render", total=total)
            bar.start()
            self.bar = bar
        except Exception:  # noqa: BLE001 - e.g. rich's LiveError: a progress must never fail a fill
            self.bar = None

    def advance(self, k: int) -> None:
        if self.bar is not None:
            self.bar.advance(self.task, k)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (np.ndarray, tuple)):
        return list(obj)
    return str(obj)


def _dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
