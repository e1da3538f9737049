"""What every renderer shares: its configuration file, its output, and its call protocol.

A renderer turns text into one strip of ``max_seq_length`` patches, ``pixels_per_patch`` high.
Calls dispatch on the input type exactly as PIXEL's renderers do: ``str`` renders a sentence,
``tuple(str, str)`` a sentence pair (black separator), ``list[str]`` one word per patch run
(token classification).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from ..errors import ConfigError
from ..fonts import system_font_packages
from ..io_utils import read_json

CONFIG_FILE_NAME = "text_renderer_config.json"


@dataclass
class Encoding:
    """One rendered example, mirroring PIXEL's ``Encoding`` plus the attention mask.

    ``sep_patches`` keeps each original's unit: **pixel offsets** for PangoCairo, **patch indices**
    for PyGame (a quirk of the originals, reproduced so the golden files compare field by field).
    """

    pixel_values: np.ndarray  # uint8 [H, W] (grey) or [H, W, 3] (rgb); 255 = white
    num_text_patches: int  # patches before the final black EOS patch (pairs: incl. separator)
    sep_patches: list[int] = field(default_factory=list)
    attention_mask: np.ndarray | None = None  # float32 [max_seq_length]: text + EOS patches
    word_starts: list[int] | None = None  # word mode: first patch of each word, + EOS position
    offset_mapping: list[tuple[int, int]] | None = None  # QA: per patch (char_start, char_end)
    overflowing_patches: list["Encoding"] | None = None  # QA: further sliding windows
    # Bookkeeping the originals only logged; counted so the harness can report it.
    truncated: bool = False  # text ran past the canvas and was clipped
    num_dropped_words: int = 0  # word mode: words that did not fit
    unknown_glyphs: int = 0  # glyphs the font set could not draw
    extras: dict[str, np.ndarray] = field(default_factory=dict)  # renderer-specific arrays


def sep_patch_indices(sep_patches: Sequence[int], unit: str, pixels_per_patch: int) -> list[int]:
    """``sep_patches`` as patch indices, whichever unit the renderer stores them in."""
    if unit == "patches":
        return [int(x) for x in sep_patches]
    if unit == "pixels":
        return [int(x) // pixels_per_patch for x in sep_patches]
    raise ValueError(f"unknown sep_patches unit {unit!r} (expected 'pixels' or 'patches')")


def get_attention_mask(num_text_patches: int, max_seq_length: int) -> np.ndarray:
    """PIXEL's mask: ones for the text patches **and** the black EOS patch, zeros after."""
    mask = np.zeros(max_seq_length, dtype=np.float32)
    mask[: min(num_text_patches + 1, max_seq_length)] = 1.0
    return mask


@dataclass(frozen=True)
class RendererConfig:
    """The settings of ``text_renderer_config.json`` (as PIXEL checkpoints ship it).

    ``font_file`` is resolved against the directory of the config file. Unknown keys are kept in
    ``extra`` (the originals set them as attributes), so a config loads unchanged.
    """

    font_file: str
    font_size: float = 8
    dpi: int = 120
    pixels_per_patch: int = 16
    max_seq_length: int = 529
    pad_size: int = 3
    rgb: bool = False
    font_color: str = "black"
    background_color: str = "white"
    fallback_fonts_dir: str | None = None
    text_renderer_type: str | None = None
    # PIXAR settings: binarise the strip and group ``patch_len`` renderer patches per model position.
    binary: bool = False
    patch_len: int = 1
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    #: where the settings came from (a file path), named in validation errors; not a setting
    source: str | None = field(default=None, compare=False, hash=False, repr=False)

    # Keys the originals write that carry no rendering meaning here.
    IGNORED_KEYS: ClassVar[frozenset[str]] = frozenset({"fonts_list"})
    #: renderer options read from ``extra`` (they reach worker processes and the fingerprint)
    EXTRA_TYPES: ClassVar[dict[str, type]] = {"fast_glyph_atlas": bool,
                                              "pygame_fast_raster": bool,
                                              "text_a_truncation": str}

    def __post_init__(self) -> None:
        """Every construction path (a file, defaults, ``replace``/``with_overrides``, a model's
        preset) is checked here, so a bad value stops before anything is rendered."""
        _validate_config(self)

    @property
    def max_pixels_len(self) -> int:
        return self.pixels_per_patch * self.max_seq_length

    @classmethod
    def from_dict(cls, data: dict[str, Any], base_dir: Path | None = None,
                  source: str = "<dict>") -> "RendererConfig":
        known = {f.name for f in fields(cls)} - {"extra", "source"}
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            if key in cls.IGNORED_KEYS:
                continue
            (kwargs if key in known else extra)[key] = value
        if "font_file" not in kwargs or not kwargs["font_file"]:
            raise ConfigError(f"{source}: missing key 'font_file' (the renderer's font)")
        font = Path(str(kwargs["font_file"])).expanduser()
        if not font.is_absolute() and base_dir is not None:
            font = base_dir / font
        kwargs["font_file"] = str(font)
        if isinstance(kwargs.get("font_size"), float) and kwargs["font_size"].is_integer():
            kwargs["font_size"] = int(kwargs["font_size"])  # 8.0 -> 8, as the originals write it
        return cls(**kwargs, extra=extra, source=source)

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> "RendererConfig":
        """Load a config file, or a directory holding ``text_renderer_config.json``."""
        path = Path(path)
        if path.is_dir():
            path = path / CONFIG_FILE_NAME
        data = read_json(path, "renderer config")
        given = {k: v for k, v in overrides.items() if v is not None}
        data.update(given)
        source = str(path) + (f" (overridden: {', '.join(sorted(given))})" if given else "")
        return cls.from_dict(data, base_dir=path.parent, source=source)

    def with_overrides(self, **overrides: Any) -> "RendererConfig":
        known = {f.name for f in fields(self)} - {"source"}
        bad = sorted(set(overrides) - known)
        if bad:
            raise ConfigError(f"unknown renderer setting(s) {bad}; known: {sorted(known)}")
        if not overrides:
            return self
        source = f"{self.source or 'renderer config'} (overridden: {', '.join(sorted(overrides))})"
        return replace(self, **overrides, source=source)

    def to_dict(self, font_basename: bool = True) -> dict[str, Any]:
        """The JSON the originals' ``save_pretrained`` writes (font path reduced to its name)."""
        data = {k: v for k, v in asdict(self).items()
                if k not in ("extra", "source") and v is not None}
        data.update(self.extra)
        if font_basename:
            data["font_file"] = Path(self.font_file).name
        if not self.binary:
            data.pop("binary", None)
        if self.patch_len == 1:
            data.pop("patch_len", None)
        return dict(sorted(data.items()))

    def save(self, directory: str | Path) -> Path:
        """Write ``text_renderer_config.json`` and copy the font file beside it."""
        import shutil

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        font = Path(self.font_file)
        if font.is_file() and font.resolve() != (directory / font.name).resolve():
            shutil.copyfile(font, directory / font.name)
        out = directory / CONFIG_FILE_NAME
        out.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return out

    def font_sha256(self) -> str:
        return file_sha256(self.font_file)


#: integer settings and their smallest allowed value
_INT_MINIMA = {"dpi": 1, "pixels_per_patch": 1, "max_seq_length": 1, "pad_size": 0,
               "patch_len": 1}


def _validate_config(cfg: RendererConfig) -> None:
    """Check types and ranges of every setting (JSON numbers for numbers, JSON booleans for
    booleans: ``"rgb": "false"`` would otherwise switch RGB *on*); integral floats such as
    ``120.0`` are stored as ints. Raises ConfigError naming the source, key and value."""
    where = cfg.source or "renderer config"

    def bad(key: str, want: str, value: Any) -> ConfigError:
        return ConfigError(f"{where}: key {key!r} must be {want}, got {value!r}"
                           + (" (a string; write the JSON value without quotes)"
                              if isinstance(value, str) else ""))

    def is_number(value: Any) -> bool:
        return isinstance(value, (int, float, np.integer, np.floating)) and \
            not isinstance(value, (bool, np.bool_))

    size = cfg.font_size
    if not is_number(size) or not math.isfinite(size) or size <= 0:
        raise bad("font_size", "a finite number > 0 (points)", size)
    for key, minimum in _INT_MINIMA.items():
        value = getattr(cfg, key)
        if not is_number(value) or not math.isfinite(value) or value != int(value):
            raise bad(key, "a whole number", value)
        if value < minimum:
            raise bad(key, f"at least {minimum}", value)
        if type(value) is not int:
            object.__setattr__(cfg, key, int(value))
    for key in ("rgb", "binary"):
        value = getattr(cfg, key)
        if not isinstance(value, (bool, np.bool_)):
            raise bad(key, "true or false (a JSON boolean)", value)
        object.__setattr__(cfg, key, bool(value))
    for key in ("font_color", "background_color"):
        if not isinstance(getattr(cfg, key), str):
            raise bad(key, "a colour name such as 'black'", getattr(cfg, key))
    for key in ("fallback_fonts_dir", "text_renderer_type"):
        if getattr(cfg, key) is not None and not isinstance(getattr(cfg, key), str):
            raise bad(key, "a string or null", getattr(cfg, key))
    for key, typ in cfg.EXTRA_TYPES.items():
        if key in cfg.extra and not isinstance(cfg.extra[key], typ):
            raise bad(key, "true or false (a JSON boolean)" if typ is bool else "a string",
                      cfg.extra[key])


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except FileNotFoundError:
        raise ConfigError(f"font file not found: {path}") from None
    return digest.hexdigest()


#: PIXEL's renderer settings (Rust et al., 2023; both of PIXEL's renderers and the bigrams
#: renderer use them): 8 pt at 120 dpi, 16 px patches, 529 patches, pad 3, grey, black on white.
#: Noto Sans stands in for PIXEL's GoNotoCurrent.ttf, which only ships inside PIXEL checkpoints
#: (a checkpoint's own ``text_renderer_config.json`` and font are used when it is at hand).
PIXEL_LAYOUT: Mapping[str, Any] = MappingProxyType({
    "font_file": "NotoSans-Regular.ttf", "font_size": 8, "dpi": 120, "pixels_per_patch": 16,
    "max_seq_length": 529, "pad_size": 3, "rgb": False, "font_color": "black",
    "background_color": "white", "binary": False, "patch_len": 1,
})


def layouts(**tables: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    """A renderer's ``LAYOUTS`` table, read-only all the way down (a registered renderer class
    is shared by every run in the process, so nothing may change its facts)."""
    return MappingProxyType({name: MappingProxyType(dict(table)) for name, table in tables.items()})


class TextRenderer:
    """Base class: dispatch on the input type and keep the shared PIXEL geometry in one place.

    Subclasses implement ``render_text``, ``render_text_pair`` and ``render_words``; they are
    registered in :data:`pixel_bench.registry.RENDERERS` under ``name``.

    **Renderer facts** (class level, so they are read without building a renderer): the library
    versions that decide the pixels (:meth:`libraries`, part of the render-cache key), the class
    name PIXEL's ``text_renderer_config.json`` records (``text_renderer_type``), and the named
    settings tables (``LAYOUTS``; ``DEFAULT_LAYOUT`` is the one used when none is named), built
    into a :class:`RendererConfig` by :meth:`layout`. Model adapters and ``default_config`` read
    these tables instead of keeping their own copies.
    """

    name: ClassVar[str] = ""
    #: bump when a change alters pixels, so cached renderings are invalidated
    version: ClassVar[str] = "1"
    #: unit of ``Encoding.sep_patches``: "pixels" (pixel offsets, as PangoCairo stores them) or
    #: "patches" (patch indices, as PyGame stores them); the fields stay as the originals wrote
    #: them, readers convert with :func:`sep_patch_indices`
    sep_patches_unit: ClassVar[str] = "pixels"
    #: the largest canvas side (px) the drawing backend handles, or None for no known limit;
    #: the strip is ``pixels_per_patch * max_seq_length`` wide and ``pixels_per_patch`` high
    max_canvas_px: ClassVar[int | None] = None
    #: why the backend has that limit (said in the error)
    max_canvas_reason: ClassVar[str] = ""
    #: the renderer class name PIXEL writes as ``text_renderer_type`` (None: no original)
    text_renderer_type: ClassVar[str | None] = None
    #: named settings: each a full settings dict (font by file name, found with
    #: :func:`pixel_bench.fonts.resolve_font`); build one with :meth:`layout`
    LAYOUTS: ClassVar[Mapping[str, Mapping[str, Any]]] = MappingProxyType({})
    #: the layout :meth:`layout` (and ``default_config``) give when no name is given
    DEFAULT_LAYOUT: ClassVar[str | None] = None

    def __init__(self, config: RendererConfig) -> None:
        if not Path(config.font_file).is_file():
            raise ConfigError(f"font file not found: {config.font_file}")
        self.check_canvas(config)
        self.config = config

    @classmethod
    def check_canvas(cls, config: RendererConfig) -> None:
        """Refuse a canvas the backend cannot draw, naming the largest ``max_seq_length`` that
        fits (otherwise cairo fails with INVALID_SIZE and SDL wraps coordinates)."""
        limit = cls.max_canvas_px
        if limit is None:
            return
        pp, width = config.pixels_per_patch, config.max_pixels_len
        where = config.source or f"the {cls.name} renderer's settings"
        if pp > limit:
            raise ConfigError(f"{where}: pixels_per_patch {pp} is taller than the {cls.name} "
                              f"renderer can draw (at most {limit:,} px: {cls.max_canvas_reason})")
        if width > limit:
            most = limit // pp - (limit // pp) % config.patch_len  # binary: whole model positions
            raise ConfigError(
                f"{where}: max_seq_length {config.max_seq_length} x pixels_per_patch {pp} = "
                f"{width:,} px is wider than the {cls.name} renderer can draw (at most {limit:,} "
                f"px: {cls.max_canvas_reason}); the maximum max_seq_length at {pp} px patches is "
                f"{most}" + (f" (a multiple of patch_len {config.patch_len})"
                             if config.patch_len > 1 else ""))

    # -- facts -------------------------------------------------------------------------------
    @classmethod
    def libraries(cls) -> dict[str, str]:
        """Versions of the libraries whose rasterisation decides this renderer's pixels (part of
        the render-cache key); ``{}`` when the renderer names none or they cannot be imported (the
        renderer itself then reports the missing library)."""
        return {}

    @classmethod
    def layout(cls, name: str | None = None, **overrides: Any) -> RendererConfig:
        """The :class:`RendererConfig` of layout ``name`` (default ``DEFAULT_LAYOUT``) with
        ``overrides`` applied (a ``font_file`` override is resolved like the layout's font).
        An unknown layout or setting raises ConfigError naming the close matches."""
        if name is None:
            name = cls.DEFAULT_LAYOUT
            if name is None:
                raise ConfigError(f"renderer {cls.name!r} declares no default layout; pass a "
                                  "renderer config (--config text_renderer_config.json)")
        if name not in cls.LAYOUTS:
            raise ConfigError(f"renderer {cls.name!r}: unknown layout {name!r}."
                              + _did_you_mean(name, cls.LAYOUTS)
                              + f" Known layouts: {', '.join(cls.LAYOUTS) or '(none)'}")
        known = ({f.name for f in fields(RendererConfig)} - {"extra", "source"}) \
            | set(RendererConfig.EXTRA_TYPES)
        for key in overrides:
            if key not in known:
                raise ConfigError(f"{cls.name} layout {name!r}: unknown renderer setting {key!r}."
                                  + _did_you_mean(key, known)
                                  + f" Known settings: {', '.join(sorted(known))}")
        from ..fonts import resolve_font

        settings = {**cls.LAYOUTS[name], **overrides}
        settings["font_file"] = str(resolve_font(settings["font_file"]))
        source = f"{cls.name} layout {name!r}" + (
            f" (overridden: {', '.join(sorted(overrides))})" if overrides else "")
        return RendererConfig.from_dict(settings, source=source)

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, path: str | Path, **overrides: Any) -> "TextRenderer":
        return cls(RendererConfig.from_file(path, **overrides))

    # -- geometry shared by PIXEL's renderers (xplip/pixel src/pixel/data/rendering/) ---------
    @property
    def pixels_per_patch(self) -> int:
        return self.config.pixels_per_patch

    @property
    def max_seq_length(self) -> int:
        return self.config.max_seq_length

    @property
    def max_pixels_len(self) -> int:
        return self.config.max_pixels_len

    def next_patch(self, x: float) -> int:
        """Snap to the next patch boundary, clamped so the final black patch always fits."""
        pp = self.pixels_per_patch
        return min(int(math.ceil(x / pp)) * pp, self.max_pixels_len - pp)

    # -- call protocol ---------------------------------------------------------------------
    def __call__(self, text: str | tuple[str, str] | Sequence[str], **kwargs: Any) -> Encoding:
        if isinstance(text, str):
            return self.render_text(text, **kwargs)
        if isinstance(text, tuple):
            if len(text) != 2:
                raise ValueError(f"a sentence pair must have 2 texts, got {len(text)}")
            return self.render_text_pair(text, **kwargs)
        if isinstance(text, list):
            return self.render_words(text, **kwargs)
        raise TypeError(f"cannot render input of type {type(text).__name__}")

    def render_text(self, text: str, **kwargs: Any) -> Encoding:
        raise NotImplementedError(f"{self.name} has no sentence mode")

    def render_text_pair(self, pair: tuple[str, str], **kwargs: Any) -> Encoding:
        raise NotImplementedError(f"{self.name} has no sentence-pair mode")

    def render_words(self, words: list[str], **kwargs: Any) -> Encoding:
        raise NotImplementedError(f"{self.name} has no word mode")

    # -- cache key -----------------------------------------------------------------------
    def fingerprint(self) -> str:
        """Hash of everything that changes the pixels: settings, font bytes, fallback fonts,
        the installed system font packages, renderer version."""
        settings = self.config.to_dict(font_basename=True)
        settings.pop("text_renderer_type", None)
        payload = {
            "renderer": self.name,
            "version": self.version,
            "settings": settings,
            "font_sha256": self.config.font_sha256(),
            "fallback_fonts": _dir_digest(self.config.fallback_fonts_dir),
            # Pango's own fallback reaches the system fonts: installing e.g. fonts-noto-cjk
            # changes CJK pixels, so the installed font packages are part of the key
            "system_fonts": system_font_packages(),
        }
        blob = json.dumps(payload, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()


def _did_you_mean(name: str, choices: Any) -> str:
    close = difflib.get_close_matches(name, sorted(choices), n=3, cutoff=0.5)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def _dir_digest(directory: str | None) -> str | None:
    if not directory:
        return None
    files = sorted(p for p in Path(directory).glob("*")
                   if p.suffix.lower() in (".ttf", ".otf", ".ttc", ".otc"))
    return hashlib.sha256("".join(file_sha256(p) for p in files).encode()).hexdigest()
