"""A synthetic renderer with PIXEL's geometry and a tiny real model over its strips.

``BlockRenderer``: every character is a 4-px column block whose ink pattern encodes the
character, so different texts give different pixels; layout follows PIXEL (text at x=2, black
EOS patch at ``next_patch(2 + w + 2)``, pairs with a black separator, words snapped to patch
starts with ``word_starts``, QA pairs with ``text_a_max_length`` / ``stride`` overflow windows and
per-patch ``offset_mapping``). Character extents are exact, which makes QA window tests easy
to reason about.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..modeling.adapter import HeadSpec, ModelAdapter, ModelCard, ModelEntry, TaskKind
from ..render.base import Encoding, RendererConfig, TextRenderer, get_attention_mask

CHAR_W = 4


class BlockRenderer(TextRenderer):
    """Deterministic fake renderer (4 px per character)."""

    name = "testing-blocks"
    version = "1"

    # -- drawing ---------------------------------------------------------------------------
    def _canvas(self) -> np.ndarray:
        return np.full((self.pixels_per_patch, self.max_pixels_len), 255, dtype=np.uint8)

    def _draw(self, img: np.ndarray, text: str, x: int) -> int:
        h = img.shape[0]
        for ch in text:
            if x + CHAR_W > img.shape[1]:
                break
            if not ch.isspace():
                code = ord(ch)
                for r in range(2, h - 2):
                    if (code >> (r % 7)) & 1:
                        img[r, x:x + CHAR_W - 1] = 0
                img[h - 3, x:x + CHAR_W - 1] = 60  # a baseline so every glyph has ink
            x += CHAR_W
        return x

    def _black(self, img: np.ndarray, x: int) -> None:
        img[:, x:x + self.pixels_per_patch] = 0

    def _finish(self, img: np.ndarray, eos_x: int, **kw: Any) -> Encoding:
        self._black(img, eos_x)
        n = eos_x // self.pixels_per_patch
        return Encoding(pixel_values=img, num_text_patches=n,
                        attention_mask=get_attention_mask(n, self.max_seq_length), **kw)

    # -- modes -----------------------------------------------------------------------------
    def render_text(self, text: str, **kwargs: Any) -> Encoding:
        img = self._canvas()
        w = len(text) * CHAR_W
        self._draw(img, text, 2)
        return self._finish(img, self.next_patch(2 + w + 2),
                            truncated=2 + w + 2 > self.max_pixels_len - self.pixels_per_patch)

    def render_text_pair(self, pair: tuple[str, str], text_a_max_length: int | None = None,
                         stride: int = 0, return_offset_mapping: bool = False,
                         return_overflowing_patches: bool = False, **kwargs: Any) -> Encoding:
        a, b = pair
        pp = self.pixels_per_patch
        if text_a_max_length is not None:  # truncate A to fit its patch budget
            a = a[: max(0, (text_a_max_length * pp - 4) // CHAR_W)]
        img = self._canvas()
        self._draw(img, a, 2)
        sep = self.next_patch(2 + len(a) * CHAR_W + 2)
        self._black(img, sep)
        start_b = sep + pp + 2
        # characters of B that fit before the last patch (kept for the EOS)
        room = max(0, (self.max_pixels_len - pp - 2 - start_b) // CHAR_W)
        part = b[:room]
        enc = self._pair_window(img.copy(), a, part, 0, sep, start_b, return_offset_mapping)
        if return_overflowing_patches and len(b) > room:
            windows = []
            step = room - stride * (pp // CHAR_W)  # context chars advanced per window
            if step <= 0:
                raise ConfigError(f"stride {stride} patches leaves no new context per window "
                                  f"({room // (pp // CHAR_W)} context patches fit)")
            begin = 0
            while begin + room < len(b):
                begin += step
                piece = b[begin: begin + room]
                win = self._canvas()
                win[:, : sep + pp] = img[:, : sep + pp]
                windows.append(self._pair_window(win, a, piece, begin, sep, start_b,
                                                 return_offset_mapping))
            enc.overflowing_patches = windows
        enc.truncated = len(b) > room
        return enc

    def _pair_window(self, img: np.ndarray, a: str, part: str, b_offset: int, sep: int,
                     start_b: int, offsets: bool) -> Encoding:
        pp = self.pixels_per_patch
        self._draw(img, part, start_b)
        eos = self.next_patch(start_b + len(part) * CHAR_W + 2)
        enc = self._finish(img, eos, sep_patches=[sep])
        if offsets:
            om: list[tuple[int, int]] = []
            for p in range(self.max_seq_length):
                x0, x1 = p * pp, (p + 1) * pp
                if x1 <= sep:  # question patch
                    src, base, origin = a, 0, 2
                elif x0 >= start_b - 2 and p < eos // pp:
                    src, base, origin = part, b_offset, start_b
                else:
                    om.append((0, 0))
                    continue
                c0 = max(0, math.floor((x0 - origin) / CHAR_W))
                c1 = min(len(src), math.ceil((x1 - origin) / CHAR_W))
                om.append((base + c0, base + c1) if c1 > c0 else (0, 0))
            enc.offset_mapping = om
        return enc

    def render_words(self, words: list[str], **kwargs: Any) -> Encoding:
        img = self._canvas()
        pp = self.pixels_per_patch
        x = 0
        starts = [0]
        dropped = 0
        for i, word in enumerate(words):
            if x >= self.max_pixels_len - pp:
                dropped = len(words) - i
                break
            last = i == len(words) - 1
            text = word if last else word + " "
            x = self._draw(img, text, x + (2 if i == 0 else 0))
            x = self.next_patch(x + (2 if last else 0))
            starts.append(x // pp)
        return self._finish(img, x if x else pp, word_starts=starts, num_dropped_words=dropped,
                            truncated=dropped > 0)


def _default_config(max_seq_length: int = 64, pixels_per_patch: int = 16) -> RendererConfig:
    # the "font" is this file: a real file whose hash keys the cache
    return RendererConfig(font_file=str(Path(__file__).resolve()), pixels_per_patch=pixels_per_patch,
                          max_seq_length=max_seq_length)


# -- tiny model ------------------------------------------------------------------------------
def _build_module(kind: TaskKind, num_labels: int, ppp: int, hidden: int = 16,
                  num_positions: int = 64):
    import torch
    from torch import nn
    from transformers.modeling_outputs import (QuestionAnsweringModelOutput,
                                               SequenceClassifierOutput, TokenClassifierOutput)

    class TinyPixelModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.kind = kind
            self.num_labels = num_labels
            self.embed = nn.Linear(ppp * ppp, hidden)
            self.pos = nn.Parameter(torch.zeros(1, num_positions, hidden))
            self.layer = nn.TransformerEncoderLayer(hidden, 2, 2 * hidden, dropout=0.0,
                                                    batch_first=True)
            self.cls = nn.Parameter(torch.zeros(1, 1, hidden))
            out = 2 if kind is TaskKind.QUESTION_ANSWERING else num_labels
            self.head = nn.Linear(hidden, out)

        def forward(self, pixel_values, attention_mask, labels=None, start_positions=None,
                    end_positions=None, **_):
            b, _c, h, w = pixel_values.shape
            x = pixel_values[:, 0].reshape(b, h, w // ppp, ppp).permute(0, 2, 1, 3)
            x = self.embed(x.reshape(b, w // ppp, h * ppp)) + self.pos[:, : w // ppp]
            pad = attention_mask == 0
            if kind is TaskKind.QUESTION_ANSWERING:  # PIXEL: CLS at the end, index L = no answer
                x = torch.cat([x, self.cls.expand(b, -1, -1)], 1)
                pad = torch.cat([pad, torch.zeros(b, 1, dtype=torch.bool, device=pad.device)], 1)
            x = self.layer(x, src_key_padding_mask=pad)
            if kind is TaskKind.SEQUENCE_CLASSIFICATION:
                m = attention_mask.unsqueeze(-1)
                logits = self.head((x * m).sum(1) / m.sum(1).clamp(min=1))
                loss = None
                if labels is not None:
                    if num_labels == 1:
                        loss = nn.functional.mse_loss(logits.squeeze(-1), labels.float())
                    else:
                        loss = nn.functional.cross_entropy(logits, labels.long())
                return SequenceClassifierOutput(loss=loss, logits=logits)
            if kind is TaskKind.TOKEN_CLASSIFICATION:
                logits = self.head(x)
                loss = None
                if labels is not None:
                    loss = nn.functional.cross_entropy(logits.reshape(-1, num_labels),
                                                       labels.reshape(-1), ignore_index=-100)
                return TokenClassifierOutput(loss=loss, logits=logits)
            logits = self.head(x)
            start, end = logits[..., 0], logits[..., 1]
            loss = None
            if start_positions is not None and end_positions is not None:
                loss = (nn.functional.cross_entropy(start, start_positions) +
                        nn.functional.cross_entropy(end, end_positions)) / 2
            return QuestionAnsweringModelOutput(loss=loss, start_logits=start, end_logits=end)

    return TinyPixelModel()


class TinyAdapter(ModelAdapter):
    """A real (tiny) torch model over :class:`BlockRenderer` strips."""

    def __init__(self, name: str = "testing-tiny") -> None:
        self.card = ModelCard(name=name, family="pixel", size="tiny",
                              description="test-only tiny model over synthetic block renderings")

    def renderer_config(self, task_kind: TaskKind, max_seq_length: int | None = None,
                        renderer: str | None = None, checkpoint: str | Path | None = None):
        return "testing-blocks", _default_config(max_seq_length or 64)

    def features(self, encoding: Encoding) -> dict[str, np.ndarray]:
        img = np.asarray(encoding.pixel_values, dtype=np.float32)[None] / 255.0
        mask = encoding.attention_mask
        if mask is None:
            mask = get_attention_mask(encoding.num_text_patches, img.shape[-1] // img.shape[1])
        return {"pixel_values": img, "attention_mask": np.asarray(mask, dtype=np.float32)}

    def collate(self, features):
        import torch

        return {k: torch.as_tensor(np.stack([np.asarray(f[k]) for f in features]))
                for k in features[0]}

    def build(self, head: HeadSpec, checkpoint: str | Path | None = None,
              from_scratch: bool = False, max_seq_length: int | None = None,
              allow_mismatched: bool = False):
        import torch

        torch.manual_seed(0)
        return _build_module(TaskKind(head.kind), head.num_labels, 16,
                             num_positions=max_seq_length or 64)


def register() -> None:
    """Add ``testing-blocks`` and ``testing-tiny`` to the registries (idempotent)."""
    from ..registry import MODELS, RENDERERS

    RENDERERS.register("testing-blocks", BlockRenderer, help="synthetic blocks (tests only)",
                       override=True)
    if "testing-tiny" not in MODELS:
        MODELS.register("testing-tiny", ModelEntry(TinyAdapter().card, lambda card: TinyAdapter()),
                        help="tiny test model (tests only)")
