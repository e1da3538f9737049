"""Configuration and named variants of the thesis PIXAR (Liao 2023, MSc, Edinburgh; not public:
docs/models-pixar.md records what its sections and tables say).

``PixarConfig`` (``model_type "pixar-thesis"``) holds the encoder (ViT), the decoder (GPT-2 style
with cross-attention), the patch geometry (8x8, one channel, 529 patches: thesis §3.1), the
pretraining masking and the focal-loss settings. Defaults are Table A.1 / §3.
``VARIANTS`` are the seven PIXAR rows of thesis Table 4.3 (the eighth row is PIXEL itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transformers import PretrainedConfig

from ...errors import ConfigError

ARCHITECTURES = ("encoder-decoder", "encoder-only")
MASKINGS = ("span", "random", "none")
INPUT_TYPES = ("binary", "grey")
GREY_LOSSES = ("focal", "mse")


class PixarConfig(PretrainedConfig):
    """Thesis PIXAR settings; defaults are the thesis's (Table A.1, §3.1-3.3).

    Encoder: ``hidden_size`` 768, ``num_hidden_layers`` 12, ``num_attention_heads`` 12,
    ``intermediate_size`` 3072. Decoder: ``decoder_*`` 768 / 12 / 12 / 3072 (GPT-2 blocks with
    cross-attention). ``num_patches`` (529) bounds the encoder's sin-cos table and the decoder's
    learned positions. ``architecture`` decides which hidden states the fine-tuning heads read
    (pretraining is always encoder-decoder: thesis §4.5). ``focal_reduction`` "mean" averages
    eq. 3.3 over the counted pixels ("sum" is the equation as printed).
    """

    model_type = "pixar-thesis"

    def __init__(self, hidden_size: int = 768, num_hidden_layers: int = 12,
                 num_attention_heads: int = 12, intermediate_size: int = 3072,
                 decoder_hidden_size: int = 768, decoder_num_hidden_layers: int = 12,
                 decoder_num_attention_heads: int = 12, decoder_intermediate_size: int = 3072,
                 hidden_act: str = "gelu", hidden_dropout_prob: float = 0.1,
                 attention_probs_dropout_prob: float = 0.1, layer_norm_eps: float = 1e-12,
                 initializer_range: float = 0.02, qkv_bias: bool = True, patch_size: int = 8,
                 num_channels: int = 1, num_patches: int = 529,
                 architecture: str = "encoder-decoder", masking: str = "span",
                 mask_ratio: float = 0.25, max_span_length: int = 6,
                 cumulative_span_weights: Any = (0.2, 0.4, 0.6, 0.8, 0.9, 1.0),
                 input_type: str = "binary", focal_alpha: float = 0.3, focal_gamma: float = 2.0,
                 focal_reduction: str = "mean", grey_loss: str = "focal",
                 **kwargs: Any) -> None:
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.decoder_hidden_size = decoder_hidden_size
        self.decoder_num_hidden_layers = decoder_num_hidden_layers
        self.decoder_num_attention_heads = decoder_num_attention_heads
        self.decoder_intermediate_size = decoder_intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        self.qkv_bias = qkv_bias
        self.patch_size = patch_size
        self.num_channels = num_channels
        self.num_patches = num_patches
        self.architecture = architecture
        self.masking = masking
        self.mask_ratio = mask_ratio
        self.max_span_length = max_span_length
        self.cumulative_span_weights = list(cumulative_span_weights)
        self.input_type = input_type
        self.focal_alpha = focal_alpha
        self.focal_gamma = focal_gamma
        self.focal_reduction = focal_reduction
        self.grey_loss = grey_loss
        super().__init__(**kwargs)
        self.validate_pixar()

    def validate_pixar(self) -> None:
        """Raise ConfigError naming the bad key."""
        for key, value, allowed in (("architecture", self.architecture, ARCHITECTURES),
                                    ("masking", self.masking, MASKINGS),
                                    ("input_type", self.input_type, INPUT_TYPES),
                                    ("grey_loss", self.grey_loss, GREY_LOSSES),
                                    ("focal_reduction", self.focal_reduction, ("mean", "sum"))):
            if value not in allowed:
                raise ConfigError(f"PixarConfig: {key}={value!r}; expected one of {allowed}")
        if self.decoder_hidden_size != self.hidden_size:
            # the decoder reads the encoder's patch embedding and cross-attends to its states
            raise ConfigError(f"PixarConfig: decoder_hidden_size ({self.decoder_hidden_size}) "
                              f"must equal hidden_size ({self.hidden_size}): the patch embedding "
                              "is shared between encoder and decoder (thesis §3.2.3)")
        if not 0.0 <= self.mask_ratio < 1.0:
            raise ConfigError(f"PixarConfig: mask_ratio={self.mask_ratio} is not in [0, 1)")
        if self.num_patches < 1:
            raise ConfigError(f"PixarConfig: num_patches={self.num_patches} must be positive")

    @property
    def patch_dim(self) -> int:
        """Pixel values per patch: channels x patch x patch (64 for 8x8x1)."""
        return self.num_channels * self.patch_size * self.patch_size

    @property
    def is_encoder_decoder_arch(self) -> bool:
        return self.architecture == "encoder-decoder"


#: the tiny layout for tests and CPU smoke runs (same geometry, small widths)
TINY_SIZES = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                  intermediate_size=64, decoder_hidden_size=32, decoder_num_hidden_layers=2,
                  decoder_num_attention_heads=4, decoder_intermediate_size=64)


@dataclass(frozen=True)
class PixarVariant:
    """One row of thesis Table 4.3."""

    name: str
    architecture: str
    masking: str
    input_type: str
    table_row: str  # the row as printed: Architecture / Masking / Input type

    def config_kwargs(self, tiny: bool = False) -> dict[str, Any]:
        base = dict(TINY_SIZES) if tiny else {}
        return {**base, "architecture": self.architecture, "masking": self.masking,
                "input_type": self.input_type}


def _v(arch: str, masking: str, inp: str, row: str) -> PixarVariant:
    short = "encdec" if arch == "encoder-decoder" else "enc"
    return PixarVariant(f"pixar-{short}-{masking}-{inp}", arch, masking, inp, row)


#: Table 4.3, PIXAR rows in the thesis's order (PIXEL, Enc/Span/Grey, is the PIXEL family's)
VARIANTS: dict[str, PixarVariant] = {v.name: v for v in [
    _v("encoder-only", "random", "binary", "Enc / Random / Binary"),
    _v("encoder-only", "span", "grey", "Enc / Span / Grey"),
    _v("encoder-only", "span", "binary", "Enc / Span / Binary"),
    _v("encoder-decoder", "none", "binary", "Enc-Dec / - / Binary"),
    _v("encoder-decoder", "random", "binary", "Enc-Dec / Random / Binary"),
    _v("encoder-decoder", "span", "grey", "Enc-Dec / Span / Grey"),
    _v("encoder-decoder", "span", "binary", "Enc-Dec / Span / Binary (PIXAR)"),
]}
MAIN_VARIANT = "pixar-encdec-span-binary"


def variant_config(name: str, tiny: bool = False, **overrides: Any) -> PixarConfig:
    """A :class:`PixarConfig` for a variant name (``pixar`` = the main one)."""
    key = MAIN_VARIANT if name == "pixar" else name
    if key not in VARIANTS:
        raise ConfigError(f"unknown thesis PIXAR variant {name!r}; known: {sorted(VARIANTS)}")
    return PixarConfig(**{**VARIANTS[key].config_kwargs(tiny), **overrides})
