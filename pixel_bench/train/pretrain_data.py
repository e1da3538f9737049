"""Streaming pretraining corpus: text lines -> canvas-filling rendered examples.

PIXEL prerendered its corpora by packing **consecutive non-empty lines of one document** into an
example until the rendered width would reach the canvas minus two patches (xplip/pixel
``scripts/data/prerendering/prerender_bookcorpus.py``): every
line is rendered on its own to measure it (``num_text_patches · pixels_per_patch``); when
``width + line_width >= max_pixels_len - 2·pixels_per_patch`` the block so far is joined with
spaces and rendered as one example and the line starts the next block. A document's last block
is emitted at the document's end. Examples shorter than ``min_text_patches`` are dropped (PIXEL
kept ``num_patches >= 22``). We do the same on the fly, in data-loader workers, so the corpus
size is never bounded by memory.

Sources (:class:`TextSource`): a text file, a directory of text files (recursively, sorted), gzip
or not (detected by magic bytes), or a Hugging Face text dataset (a hub name, or a local
``save_to_disk`` directory; column ``text``; one row = one document). WikiExtractor's
``<doc ...>`` / ``</doc>`` lines are document boundaries and are never rendered. Bytes that are
not UTF-8 are replaced by U+FFFD and **counted** (reported in the log and the metrics).
With ``unescape_html`` (``--unescape-html``, off by default) every text line goes through
:func:`html.unescape` before packing (WikiExtractor writes ``&amp;``, ``&lt;``, ``&gt;`` and keeps
other entities); the ``<doc ...>`` tags are recognised on the raw line, before unescaping.

Sharding and exact resume: the global line stream is cut into blocks of ``block_lines`` lines;
block ``b`` belongs to shard ``b % num_shards`` with ``num_shards = world_size · num_workers``,
shard ``rank · num_workers + role``. A shard's position is the global index of its next unread
line (plus the epoch); every example carries the position after it, so the training loop knows,
for each worker, where to restart. The DataLoader takes batches from its workers round-robin, so
after ``n`` batches worker ``w`` must play the role ``(w + n) % num_workers`` to continue the
same sequence; :func:`worker_roles` computes that.

``cache_root`` (``--render-cache``) packs every block on its own and keeps its packing (JSON) and
renderings (:class:`pixel_bench.cache.RenderCache`), so later epochs and runs skip measuring and
rendering. Resuming at a late position re-reads the corpus up to it (lines are skipped, not
rendered).
"""

from __future__ import annotations

import gzip
import html
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ..errors import DataError

logger = logging.getLogger("pixel_bench.train.pretrain_data")

TEXT_SUFFIXES = {".txt", ".text", ".gz", ".raw", ""}
REPLACEMENT = "\ufffd"
_UTF8_REPLACEMENT = REPLACEMENT.encode("utf-8")


def decode_counting(raw: bytes) -> tuple[str, int]:
    """Decode UTF-8, replacing invalid bytes by U+FFFD; return the text and how many invalid
    sequences were replaced (U+FFFD characters already present in the input are not counted)."""
    try:
        return raw.decode("utf-8"), 0
    except UnicodeDecodeError:
        text = raw.decode("utf-8", errors="replace")
        return text, text.count(REPLACEMENT) - raw.count(_UTF8_REPLACEMENT)


def is_doc_marker(line: str) -> bool:
    """WikiExtractor's document tags (``<doc id=... >`` and ``</doc>``)."""
    return line.startswith("<doc ") or line.startswith("<doc>") or line == "</doc>"


# -- sources ------------------------------------------------------------------------------------
@dataclass
class Line:
    index: int  # global line index in the stream
    text: str  # stripped
    boundary: bool = False  # a document boundary (nothing to render)
    invalid: int = 0  # invalid UTF-8 sequences replaced in this line


class TextSource:
    """A restartable stream of lines over files or a Hugging Face dataset."""

    def __init__(self, spec: str | Path, split: str = "train", text_column: str = "text",
                 unescape_html: bool = False) -> None:
        self.spec = str(spec)
        self.split = split
        self.text_column = text_column
        self.unescape_html = bool(unescape_html)  # html.unescape every text line
        path = Path(self.spec).expanduser()
        self.files: list[Path] = []
        self.hf_local: Path | None = None
        if path.is_file():
            self.files = [path]
        elif path.is_dir():
            if (path / "dataset_info.json").is_file() or (path / "state.json").is_file() or \
                    (path / "dataset_dict.json").is_file():
                self.hf_local = path
            else:
                self.files = sorted(p for p in path.rglob("*") if p.is_file()
                                    and not any(part.startswith(".") for part in
                                                p.relative_to(path).parts))
                if not self.files:
                    raise DataError(f"corpus directory {path} contains no files")
        elif path.exists():
            raise DataError(f"corpus {path} is neither a file nor a directory")
        elif "/" in self.spec and (self.spec.startswith(("/", ".", "~"))
                                   or Path(self.spec).suffix in (".txt", ".gz")):
            raise DataError(f"corpus not found: {path}")

    @property
    def is_hf(self) -> bool:
        return not self.files

    def describe(self) -> str:
        if self.files:
            return f"{len(self.files)} file(s) under {self.spec}"
        return f"Hugging Face dataset {self.spec} (split {self.split!r})"

    # -- reading -----------------------------------------------------------------------------
    def _file_lines(self, path: Path) -> Iterator[bytes]:
        try:
            with open(path, "rb") as fh:
                magic = fh.read(2)
        except OSError as exc:
            raise DataError(f"cannot read corpus file {path}: {exc}") from None
        opener = gzip.open if magic == b"\x1f\x8b" else open
        try:
            with opener(path, "rb") as fh:  # type: ignore[operator]
                for raw in io.BufferedReader(fh) if opener is gzip.open else fh:
                    yield raw
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise DataError(f"cannot read corpus file {path}: {exc}") from None

    def _hf_documents(self) -> Iterator[str]:
        import datasets

        try:
            if self.hf_local is not None:
                ds = datasets.load_from_disk(str(self.hf_local))
                if isinstance(ds, datasets.DatasetDict):
                    if self.split not in ds:
                        raise DataError(f"{self.hf_local}: no split {self.split!r} "
                                        f"(has {sorted(ds)})")
                    ds = ds[self.split]
            else:
                ds = datasets.load_dataset(self.spec, split=self.split, streaming=True)
        except DataError:
            raise
        except Exception as exc:  # hub/offline/format errors: one clear line
            raise DataError(f"cannot load corpus {self.spec!r} as a text file, directory or "
                            f"Hugging Face dataset: {exc}") from None
        for row in ds:
            if self.text_column not in row:
                raise DataError(f"dataset {self.spec!r} has no column {self.text_column!r} "
                                f"(columns: {sorted(row)})")
            yield row[self.text_column] or ""

    def _clean(self, text: str) -> str:
        """A text line as rendered: stripped, and HTML entities resolved if asked."""
        text = text.strip()
        if self.unescape_html and "&" in text:
            text = html.unescape(text).strip()
        return text

    def lines(self, start: int = 0) -> Iterator[Line]:
        """Every line from global index ``start`` on; files end with a document boundary."""
        index = 0
        if self.files:
            for path in self.files:
                for raw in self._file_lines(path):
                    if index >= start:
                        text, bad = decode_counting(raw)
                        text = text.strip()
                        if is_doc_marker(text):
                            yield Line(index, "", boundary=True, invalid=bad)
                        else:
                            yield Line(index, self._clean(text), invalid=bad)
                    index += 1
                if index >= start:
                    yield Line(index, "", boundary=True)
                index += 1
        else:
            for doc in self._hf_documents():
                for text in doc.split("\n"):
                    if index >= start:
                        yield Line(index, self._clean(text))
                    index += 1
                if index >= start:
                    yield Line(index, "", boundary=True)
                index += 1

    def check_not_empty(self) -> None:
        """Raise DataError unless the corpus has at least one non-empty text line."""
        for line in self.lines():
            if line.text:
                return
        raise DataError(f"corpus {self.spec} is empty: no non-empty text line in "
                        f"{self.describe()}")


# -- packing ------------------------------------------------------------------------------------
@dataclass
class PackedText:
    text: str
    first_line: int  # global index of the block's first line
    next_line: int  # global index of the first line not in this block (resume position)
    num_lines: int
    invalid: int = 0  # invalid UTF-8 sequences in the lines read since the previous example


def pack_lines(lines: Iterator[Line], measure: Callable[[str], int], limit: int,
               owned: Callable[[int], bool] = lambda i: True) -> Iterator[PackedText]:
    """PIXEL's packing: join consecutive non-empty lines while ``width + line_width < limit``.

    ``measure(line)`` is the rendered width of one line in pixels. Lines not ``owned`` by this
    shard are skipped and act as document boundaries.
    """
    block: list[str] = []
    first = width = invalid = 0
    next_line = 0
    for line in lines:
        mine = owned(line.index)
        if mine:
            invalid += line.invalid
        if not mine or line.boundary or not line.text:
            if line.boundary or not mine:
                if block:
                    yield PackedText(" ".join(block), first, line.index + (1 if mine else 0),
                                     len(block), invalid)
                    block, width, invalid = [], 0, 0
            continue
        line_width = measure(line.text)
        if block and width + line_width >= limit:
            yield PackedText(" ".join(block), first, line.index, len(block), invalid)
            block, width, invalid = [], 0, 0
        if not block:
            first = line.index
        block.append(line.text)
        width += line_width
        next_line = line.index + 1
    if block:
        yield PackedText(" ".join(block), first, next_line, len(block), invalid)


@dataclass
class ShardState:
    """Where one shard (rank, worker role) stands: epoch and next global line index."""

    epoch: int = 0
    line: int = 0
    examples: int = 0
    invalid: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "line": self.line, "examples": self.examples,
                "invalid": self.invalid}


def worker_roles(num_workers: int, batches_consumed: int) -> list[int]:
    """Role of each DataLoader worker so that a restarted loader continues the same sequence."""
    n = max(num_workers, 1)
    return [(w + batches_consumed) % n for w in range(n)]


@dataclass
class PackedCorpus:
    """Everything a worker needs to turn the corpus into model features (picklable)."""

    source: TextSource
    renderer_name: str
    renderer_config: Any  # RendererConfig
    featurize: Callable[[Any, np.random.Generator], dict[str, np.ndarray]]
    seed: int = 42
    min_text_patches: int = 22
    block_lines: int = 256
    max_epochs: int | None = None  # None: loop forever
    cache_root: str | None = None  # use the rendered-data cache (pixel_bench.cache) per block
    _renderer: Any = field(default=None, repr=False)
    _fingerprint: str | None = field(default=None, repr=False)

    def renderer(self) -> Any:
        if self._renderer is None:
            from ..registry import RENDERERS

            self._renderer = RENDERERS.get(self.renderer_name)(self.renderer_config)
        return self._renderer

    @property
    def width_limit(self) -> int:
        cfg = self.renderer_config
        return cfg.pixels_per_patch * cfg.max_seq_length - 2 * cfg.pixels_per_patch

    def measure(self, text: str) -> int:
        enc = self.renderer()(text)
        return int(enc.num_text_patches) * int(self.renderer_config.pixels_per_patch)

    # -- rendered-data cache mode: every block is packed on its own, its packing is stored as
    # JSON and its renderings in the content-addressed RenderCache, so later epochs and runs
    # over the same corpus skip both the measuring and the rendering.
    def _owned_blocks(self, shard: int, num_shards: int, start: int) -> Iterator[list[Line]]:
        first = (start // self.block_lines) * self.block_lines
        block: list[Line] = []
        current = None
        for line in self.source.lines(first):
            b = line.index // self.block_lines
            if b != current:
                if block:
                    yield block
                block, current = [], b
            if b % num_shards == shard:
                block.append(line)
        if block:
            yield block

    def block_key(self, lines: list[Line]) -> str:
        """Cache key of one block: renderer fingerprint, canvas limit, the text settings of
        the source (HTML unescaping) and the block's lines."""
        import hashlib

        if self._fingerprint is None:
            self._fingerprint = self.renderer().fingerprint()
        head = f"{self._fingerprint}|{self.width_limit}|"
        if getattr(self.source, "unescape_html", False):
            head += "unescape_html|"  # off: the key of runs made before the option existed
        digest = hashlib.sha256(head.encode())
        for ln in lines:
            digest.update(f"{ln.index}:{int(ln.boundary)}:{ln.invalid}:".encode())
            digest.update(ln.text.encode("utf-8", "surrogatepass") + b"\n")
        return digest.hexdigest()

    def _cached_block(self, lines: list[Line]) -> tuple[list[PackedText], Any]:
        import json

        from ..cache import RenderCache
        from ..io_utils import atomic_write_text

        key = self.block_key(lines)
        index = Path(self.cache_root) / "pretrain-packing" / f"{key}.json"  # type: ignore[arg-type]
        try:
            rows = json.loads(index.read_text(encoding="utf-8"))
            packed = [PackedText(*row) for row in rows]
        except (OSError, ValueError, TypeError):
            packed = list(pack_lines(iter(lines), self.measure, self.width_limit))
            atomic_write_text(index, json.dumps([[p.text, p.first_line, p.next_line,
                                                  p.num_lines, p.invalid] for p in packed]))
        if not packed:
            return packed, None
        split = RenderCache(Path(self.cache_root) / "rendered").get_or_render(  # type: ignore[arg-type]
            self.renderer_name, self.renderer_config, [p.text for p in packed],
            data_fp=f"pretrain-block-{key}")
        return packed, split

    def _packed_rendered(self, shard: int, num_shards: int, start: int
                         ) -> Iterator[tuple[PackedText, Any]]:
        if self.cache_root is None:
            renderer = self.renderer()

            def owned(index: int) -> bool:
                return (index // self.block_lines) % num_shards == shard

            for packed in pack_lines(self.source.lines(start), self.measure, self.width_limit,
                                     owned):
                yield packed, renderer(packed.text)
            return
        for lines in self._owned_blocks(shard, num_shards, start):
            packed, split = self._cached_block(lines)
            for i, p in enumerate(packed):
                if p.first_line >= start:
                    yield p, split[i]

    def examples(self, shard: int, num_shards: int, state: ShardState
                 ) -> Iterator[tuple[dict[str, np.ndarray], ShardState]]:
        """Rendered examples of one shard from ``state`` on, with the state after each."""
        state = ShardState(**state.to_dict())
        while self.max_epochs is None or state.epoch < self.max_epochs:
            produced, fresh_epoch = False, state.line == 0
            for packed, enc in self._packed_rendered(shard, num_shards, state.line):
                state.line = packed.next_line
                state.invalid += packed.invalid
                if int(enc.num_text_patches) < self.min_text_patches:
                    continue
                produced = True
                rng = np.random.default_rng([self.seed, state.epoch, packed.first_line])
                feats = self.featurize(enc, rng)
                state.examples += 1
                yield feats, ShardState(**state.to_dict())
            if not produced and fresh_epoch:
                raise DataError(
                    f"corpus {self.source.spec}: shard {shard} of {num_shards} got no example "
                    f"of at least {self.min_text_patches} patches; the corpus is too small for "
                    f"{num_shards} data shards (lower --num-workers/processes, --block-lines or "
                    "--min-text-patches)")
            state.epoch += 1
            state.line = 0


class PretrainStream:
    """``torch.utils.data.IterableDataset`` over one rank's shards (built lazily so this module
    imports without torch)."""

    def __new__(cls, corpus: PackedCorpus, rank: int, world_size: int, num_workers: int,
                states: dict[int, dict[str, int]] | None = None,
                roles: list[int] | None = None):
        import torch

        class _Stream(torch.utils.data.IterableDataset):
            def __init__(self) -> None:
                super().__init__()
                self.corpus = corpus
                self.rank, self.world_size = rank, world_size
                self.num_workers = max(num_workers, 1)
                self.states = {int(k): v for k, v in (states or {}).items()}
                self.roles = roles or list(range(self.num_workers))

            def __iter__(self):
                info = torch.utils.data.get_worker_info()
                worker = info.id if info is not None else 0
                role = self.roles[worker]
                shard = self.rank * self.num_workers + role
                state = ShardState(**self.states.get(role, {}))
                for feats, after in self.corpus.examples(
                        shard, self.world_size * self.num_workers, state):
                    feats = dict(feats)
                    feats["_role"] = np.int64(role)
                    feats["_state"] = np.asarray([after.epoch, after.line, after.examples,
                                                  after.invalid], dtype=np.int64)
                    yield feats

        return _Stream()


def split_meta(batch: list[dict[str, np.ndarray]]) -> tuple[list[dict[str, np.ndarray]],
                                                              tuple[int, dict[str, int]]]:
    """Separate the bookkeeping fields; return the features and (role, state after the batch)."""
    last = batch[-1]
    epoch, line, examples, invalid = (int(x) for x in last["_state"])
    role = int(last["_role"])
    feats = [{k: v for k, v in ex.items() if not k.startswith("_")} for ex in batch]
    return feats, (role, {"epoch": epoch, "line": line, "examples": examples, "invalid": invalid})
