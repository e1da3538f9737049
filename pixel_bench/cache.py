"""The rendered-data cache: render a split once, read it back memory-mapped.

An entry is addressed by its content: ``key = sha256(format version, renderer fingerprint
(settings, font sha256, renderer version), rendering-library versions, render kwargs, data
fingerprint)``. Changing the font file, any setting, the renderer code version, pygame/Pango, or
one input text gives a new key; nothing is ever invalidated in place.

Layout of ``<cache_dir()>/rendered/<key>/`` (plain ``.npy`` files, opened with ``mmap_mode="r"``,
so a 100k-example split costs no RAM and opens in milliseconds)::

    manifest.json            settings, counts, timings, array index (written last)
    pixel_values.npy         uint8  [N, H, W] (grey) or [N, H, W, 3] (rgb)
    attention_mask.npy       float32 [N, L]
    num_text_patches.npy     int32  [N]
    truncated.npy            bool   [N]
    num_dropped_words.npy    int32  [N]
    unknown_glyphs.npy       int32  [N]
    <ragged>.values.npy      flat values of a per-example list (sep_patches, word_starts,
    <ragged>.offsets.npy     offset_mapping, extras) + int64 [N+1] row offsets
    overflow/...             QA overflow windows: the same files for M windows, plus
                             ``overflow.offsets.npy`` [N+1] (windows of example i) and
                             ``has_overflow.npy`` (False where the renderer returned None)

Filling: a worker pool (one renderer per process, rebuilt from ``(name, RendererConfig)``
through :data:`pixel_bench.registry.RENDERERS`) renders ordered chunks and writes pixel rows
straight into the pre-allocated ``pixel_values.npy`` of a private temporary directory, so images
never travel through pipes. The fill holds a per-key file lock; the finished directory is moved
into place with one atomic ``rename``. A second process asking for the same key waits on the lock
and then reuses the winner's entry; a killed fill leaves only a ``.tmp-*`` directory, which the
next fill of that key removes.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from .errors import DataError, PixelBenchError
from .paths import cache_dir
from .render.base import Encoding, RendererConfig, TextRenderer

#: bump when the on-disk layout changes (old entries are then simply never hit again)
CACHE_FORMAT = 1
MANIFEST = "manifest.json"
RaggedSpec = tuple[str, np.dtype]

Input = str | tuple[str, str] | list[str]


# -- keys ------------------------------------------------------------------------------------
def data_fingerprint(inputs: Iterable[Input]) -> str:
    """sha256 over the examples, their order and their kind (sentence / pair / word list)."""
    digest = hashlib.sha256()
    count = 0
    for item in inputs:
        if isinstance(item, str):
            tag, body = "s", [item]
        elif isinstance(item, tuple):
            tag, body = "p", list(item)
        elif isinstance(item, list):
            tag, body = "w", item
        else:
            raise DataError(f"cannot render example #{count} of type {type(item).__name__}: "
                            "expected str, tuple(str, str) or list[str]")
        digest.update(tag.encode())
        digest.update(json.dumps(body, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\x00")
        count += 1
    digest.update(f"n={count}".encode())
    return digest.hexdigest()


def library_versions(renderer_name: str) -> dict[str, str]:
    """Versions of the libraries whose rasterisation the pixels depend on (part of the key)."""
    versions: dict[str, str] = {}
    if renderer_name == "pygame":
        try:
            import pygame
            import pygame.freetype

            versions["pygame"] = pygame.version.ver
            versions["pygame_freetype"] = ".".join(map(str, pygame.freetype.get_version()))
        except Exception:  # noqa: BLE001 - the renderer itself reports a missing pygame
            pass
    elif renderer_name in ("pangocairo", "binary"):
        try:
            import cairocffi
            import pangocffi

            versions["cairo"] = cairocffi.cairo_version_string()
            versions["pango"] = pangocffi.ffi.string(
                pangocffi.pango.pango_version_string()).decode()
        except Exception:  # noqa: BLE001
            pass
    return versions


def cache_key(renderer: TextRenderer, render_kwargs: Mapping[str, Any] | None,
              data_fp: str) -> str:
    """The content address of one rendered split."""
    payload = {
        "format": CACHE_FORMAT,
        "renderer": renderer.fingerprint(),
        "libraries": library_versions(renderer.name),
        "render_kwargs": dict(sorted((render_kwargs or {}).items())),
        "data": data_fp,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


# -- reading -------------------------------------------------------------------------------
class _Ragged:
    """A per-example list stored as flat values + row offsets."""

    def __init__(self, directory: Path, name: str) -> None:
        self.values = np.load(directory / f"{name}.values.npy", mmap_mode="r")
        self.offsets = np.load(directory / f"{name}.offsets.npy")

    def __getitem__(self, i: int) -> np.ndarray:
        return self.values[self.offsets[i]: self.offsets[i + 1]]


class _Rows:
    """The per-row arrays of one level (examples, or QA overflow windows)."""

    def __init__(self, directory: Path, index: Mapping[str, Any]) -> None:
        self.dir = directory
        self.n = int(index["rows"])
        self.pixel_values = np.load(directory / "pixel_values.npy", mmap_mode="r")
        self.attention_mask = (np.load(directory / "attention_mask.npy", mmap_mode="r")
                               if index.get("attention_mask") else None)
        self.scalars = {k: np.load(directory / f"{k}.npy") for k in index["scalars"]}
        self.ragged = {k: _Ragged(directory, k) for k in index["ragged"]}
        self.present = {k: np.load(directory / f"has_{k}.npy") for k in index.get("optional", [])}
        self.extra_shapes = {k: [tuple(s) for s in v] for k, v in index.get("extra_shapes",
                                                                            {}).items()}

    def encoding(self, i: int, overflow: list[Encoding] | None = None) -> Encoding:
        sc = self.scalars

        def opt(name: str) -> np.ndarray | None:
            if name not in self.ragged or not self.present[name][i]:
                return None
            return self.ragged[name][i]

        word_starts = opt("word_starts")
        offsets = opt("offset_mapping")
        extras = {}
        for name, shapes in self.extra_shapes.items():
            extras[name] = self.ragged[f"extras.{name}"][i].reshape(shapes[i])
        return Encoding(
            pixel_values=self.pixel_values[i],
            num_text_patches=int(sc["num_text_patches"][i]),
            sep_patches=self.ragged["sep_patches"][i].tolist(),
            attention_mask=None if self.attention_mask is None else self.attention_mask[i],
            word_starts=None if word_starts is None else word_starts.tolist(),
            offset_mapping=None if offsets is None else [tuple(p) for p in
                                                         offsets.reshape(-1, 2).tolist()],
            overflowing_patches=overflow,
            truncated=bool(sc["truncated"][i]),
            num_dropped_words=int(sc["num_dropped_words"][i]),
            unknown_glyphs=int(sc["unknown_glyphs"][i]),
            extras=extras,
        )


class RenderedSplit(Sequence[Encoding]):
    """A cached rendered split: ``len``, ``split[i] -> Encoding`` (pixel rows are read-only
    memory-mapped views), ``pixel_values`` / ``attention_mask`` / ``num_text_patches`` as whole
    arrays, ``counts`` and ``manifest``."""

    def __init__(self, path: str | Path, from_cache: bool = True) -> None:
        self.path = Path(path)
        try:
            self.manifest = json.loads((self.path / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise PixelBenchError(f"broken cache entry {self.path}: {exc}; remove it with "
                                  "`pixel-bench cache clear`") from None
        self.key = self.manifest["key"]
        self.from_cache = from_cache
        self._rows = _Rows(self.path, self.manifest["arrays"])
        ov = self.manifest["arrays"].get("overflow")
        self._overflow = _Rows(self.path / "overflow", ov) if ov else None
        if self._overflow is not None:
            self._ov_offsets = np.load(self.path / "overflow.offsets.npy")
            self._has_ov = np.load(self.path / "has_overflow.npy")

    def __len__(self) -> int:
        return self._rows.n

    def __getitem__(self, i: int) -> Encoding:  # type: ignore[override]
        if isinstance(i, slice):
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
    def pixel_values(self) -> np.ndarray:
        return self._rows.pixel_values

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


def _worker_init(renderer_name: str, config: RendererConfig, tmp: str, has_mask: bool) -> None:
    from .registry import RENDERERS

    _WORKER.clear()
    _WORKER["renderer"] = RENDERERS.get(renderer_name)(config)
    _WORKER["tmp"] = Path(tmp)
    _WORKER["has_mask"] = has_mask


def _worker_arrays() -> tuple[np.ndarray, np.ndarray | None]:
    if "pixels" not in _WORKER:  # opened lazily: the files exist once the parent allocated them
        tmp = _WORKER["tmp"]
        _WORKER["pixels"] = np.load(tmp / "pixel_values.npy", mmap_mode="r+")
        _WORKER["mask"] = (np.load(tmp / "attention_mask.npy", mmap_mode="r+")
                           if _WORKER["has_mask"] else None)
    return _WORKER["pixels"], _WORKER["mask"]


def _render_chunk(task: tuple[int, list[Input], dict[str, Any]]) -> list[dict[str, Any]]:
    start, items, kwargs = task
    return _render_into(_WORKER["renderer"], start, items, kwargs, *_worker_arrays())


def _render_into(renderer: TextRenderer, start: int, items: Sequence[Input],
                 kwargs: Mapping[str, Any], pixels: np.ndarray,
                 mask: np.ndarray | None) -> list[dict[str, Any]]:
    """Render ``items`` as rows ``start...``: pixels and masks go to the arrays, the rest is
    returned as small per-example records."""
    records = []
    for j, item in enumerate(items):
        row = start + j
        try:
            enc = renderer(item, **kwargs)
        except PixelBenchError as exc:
            raise DataError(f"example #{row}: {exc}") from None
        _store_row(pixels, mask, row, enc)
        rec = _record(enc)
        if enc.overflowing_patches is not None:
            rec["overflow"] = [(_pixels_of(o), _mask_of(o), _record(o))
                               for o in enc.overflowing_patches]
        records.append(rec)
    return records


def _pixels_of(enc: Encoding) -> np.ndarray:
    return np.asarray(enc.pixel_values, dtype=np.uint8)


def _mask_of(enc: Encoding) -> np.ndarray | None:
    return None if enc.attention_mask is None else np.asarray(enc.attention_mask)


def _store_row(pixels: np.ndarray, mask: np.ndarray | None, row: int, enc: Encoding) -> None:
    pv = _pixels_of(enc)
    if pv.shape != pixels.shape[1:]:
        raise DataError(f"example #{row}: rendered image has shape {pv.shape}, the split's first "
                        f"example had {pixels.shape[1:]} (renderers must give fixed-size strips)")
    pixels[row] = pv
    if mask is not None:
        m = _mask_of(enc)
        if m is None or m.shape != mask.shape[1:]:
            raise DataError(f"example #{row}: attention_mask missing or of another shape")
        mask[row] = m


def _record(enc: Encoding) -> dict[str, Any]:
    return {
        "num_text_patches": int(enc.num_text_patches),
        "truncated": bool(enc.truncated),
        "num_dropped_words": int(enc.num_dropped_words),
        "unknown_glyphs": int(enc.unknown_glyphs),
        "sep_patches": list(map(int, enc.sep_patches)),
        "word_starts": None if enc.word_starts is None else list(map(int, enc.word_starts)),
        "offset_mapping": (None if enc.offset_mapping is None else
                           np.asarray([tuple(p) for p in enc.offset_mapping],
                                      dtype=np.int64).reshape(-1, 2)),
        "extras": {k: np.asarray(v) for k, v in (enc.extras or {}).items()},
    }


SCALARS = {"num_text_patches": np.int32, "truncated": np.bool_, "num_dropped_words": np.int32,
           "unknown_glyphs": np.int32}


def _write_level(directory: Path, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Write the per-row metadata of one level; return its index for the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    index: dict[str, Any] = {"rows": len(records), "scalars": list(SCALARS), "ragged": [],
                             "optional": []}
    for name, dtype in SCALARS.items():
        np.save(directory / f"{name}.npy", np.asarray([r[name] for r in records], dtype=dtype))

    def ragged(name: str, rows: list[np.ndarray], dtype: Any) -> None:
        lengths = [len(r) for r in rows]
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        values = (np.concatenate([np.asarray(r, dtype=dtype).reshape(-1) for r in rows])
                  if rows and offsets[-1] else np.zeros(0, dtype=dtype))
        np.save(directory / f"{name}.values.npy", values)
        np.save(directory / f"{name}.offsets.npy", offsets)
        index["ragged"].append(name)

    ragged("sep_patches", [r["sep_patches"] for r in records], np.int64)
    for name in ("word_starts", "offset_mapping"):
        present = np.asarray([r[name] is not None for r in records], dtype=bool)
        if present.any():
            rows = [np.asarray(r[name] if r[name] is not None else [], dtype=np.int64).reshape(-1)
                    for r in records]
            ragged(name, rows, np.int64)
            np.save(directory / f"has_{name}.npy", present)
            index["optional"].append(name)
    extra_names = sorted({k for r in records for k in r["extras"]})
    index["extra_shapes"] = {}
    for name in extra_names:
        missing = [i for i, r in enumerate(records) if name not in r["extras"]]
        if missing:
            raise DataError(f"renderer extra {name!r} is missing for example #{missing[0]}")
        arrays = [r["extras"][name] for r in records]
        dtypes = {a.dtype for a in arrays}
        if len(dtypes) > 1:
            raise DataError(f"renderer extra {name!r} changes dtype between examples: {dtypes}")
        ragged(f"extras.{name}", [a.reshape(-1) for a in arrays], arrays[0].dtype)
        index["extra_shapes"][name] = [list(a.shape) for a in arrays]
    return index


@dataclass
class _Fill:
    key: str
    tmp: Path
    n: int
    shape: tuple[int, ...]
    mask_len: int | None


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
        renderer = RENDERERS.get(renderer_name)(renderer_config)
        data_fp = data_fp or data_fingerprint(inputs)
        key = cache_key(renderer, render_kwargs, data_fp)
        final = self.root / key
        hit = self._open_if_complete(final, len(inputs))
        if hit is not None:
            return hit
        self.root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.root / f"{key}.lock"), timeout=lock_timeout):
            hit = self._open_if_complete(final, len(inputs))  # another process just filled it
            if hit is not None:
                return hit
            self._remove_stale(key)
            tmp = self.root / f".tmp-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            try:
                self._fill(tmp, key, renderer_name, renderer, inputs, render_kwargs,
                           num_workers, data_fp, chunk_size, mp_context)
                if final.exists():  # an entry made without the lock (e.g. another root view)
                    shutil.rmtree(tmp, ignore_errors=True)
                else:
                    os.rename(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
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
        if not (path / MANIFEST).is_file():
            return None
        split = RenderedSplit(path, from_cache=True)
        if len(split) != n:
            raise PixelBenchError(f"cache entry {path} holds {len(split)} examples but "
                                  f"{n} were asked for; remove it with `pixel-bench cache clear "
                                  f"{path.name[:12]}`")
        return split

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
        # The first example fixes the row shape (and proves the settings render at all).
        probe = renderer(inputs[0], **render_kwargs) if n else renderer("", **render_kwargs)
        shape = _pixels_of(probe).shape
        pixels = np.lib.format.open_memmap(tmp / "pixel_values.npy", mode="w+", dtype=np.uint8,
                                           shape=(n, *shape))
        probe_mask = _mask_of(probe)
        mask = (np.lib.format.open_memmap(tmp / "attention_mask.npy", mode="w+",
                                          dtype=probe_mask.dtype, shape=(n, *probe_mask.shape))
                if probe_mask is not None else None)
        workers = max(1, min(int(num_workers), n))
        chunk = chunk_size or max(1, min(256, math.ceil(n / (workers * 8)) if n else 1))
        t1 = time.perf_counter()
        records: list[dict[str, Any]] = []
        if n and workers == 1:
            for start in range(0, n, chunk):
                records += _render_into(renderer, start, inputs[start:start + chunk],
                                        render_kwargs, pixels, mask)
        elif n:
            pixels.flush()
            if mask is not None:
                mask.flush()
            ctx = multiprocessing.get_context(mp_context)
            tasks = ((s, list(inputs[s:s + chunk]), render_kwargs) for s in range(0, n, chunk))
            with ctx.Pool(workers, initializer=_worker_init,
                          initargs=(renderer_name, renderer.config, str(tmp),
                                    mask is not None)) as pool:
                for recs in pool.imap(_render_chunk, tasks):
                    records += recs
        t2 = time.perf_counter()
        del pixels, mask  # flush and unmap before the directory moves
        arrays = _write_level(tmp, records)
        ov_records = [o for r in records for o in r.get("overflow", [])]
        counts = {
            "examples": n,
            "truncated": sum(r["truncated"] for r in records),
            "dropped_words": sum(r["num_dropped_words"] for r in records),
            "unknown_glyphs": sum(r["unknown_glyphs"] for r in records),
            "examples_with_unknown_glyphs": sum(r["unknown_glyphs"] > 0 for r in records),
            "overflow_windows": len(ov_records),
        }
        if any("overflow" in r for r in records):
            self._write_overflow(tmp, records, ov_records)
            arrays["overflow"] = _write_level(tmp / "overflow", [o[2] for o in ov_records])
            arrays["overflow"]["attention_mask"] = ov_records and ov_records[0][1] is not None
        arrays["attention_mask"] = probe_mask is not None
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
            "libraries": library_versions(renderer_name),
            "render_kwargs": render_kwargs,
            "data_fingerprint": data_fp,
            "counts": counts,
            "pixel_shape": list(shape),
            "timings": {"setup_s": round(t1 - t0, 4), "render_s": round(t2 - t1, 4),
                        "write_s": round(t3 - t2, 4), "num_workers": workers,
                        "chunk_size": chunk,
                        "examples_per_s": round(n / (t2 - t1), 1) if n and t2 > t1 else None},
            "arrays": arrays,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        # The manifest is written last: a directory without one is never read as an entry.
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, default=_json_default) + "\n",
                                    encoding="utf-8")

    @staticmethod
    def _write_overflow(tmp: Path, records: list[dict[str, Any]],
                        ov_records: list[tuple[np.ndarray, np.ndarray | None, dict]]) -> None:
        (tmp / "overflow").mkdir()
        counts = [len(r.get("overflow", [])) for r in records]
        offsets = np.zeros(len(records) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        np.save(tmp / "overflow.offsets.npy", offsets)
        np.save(tmp / "has_overflow.npy", np.asarray(["overflow" in r for r in records]))
        if ov_records:
            np.save(tmp / "overflow" / "pixel_values.npy", np.stack([o[0] for o in ov_records]))
            if ov_records[0][1] is not None:
                np.save(tmp / "overflow" / "attention_mask.npy",
                        np.stack([o[1] for o in ov_records]))
        else:  # no windows at all: keep the files so the reader needs no special case
            pv = np.zeros((0, 1), dtype=np.uint8)
            np.save(tmp / "overflow" / "pixel_values.npy", pv)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (np.ndarray, tuple)):
        return list(obj)
    return str(obj)


def _dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
