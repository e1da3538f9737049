"""PIXEL's configuration: one class for the pretraining checkpoint (``model_type "pixel"``, or
``"vit_mae"`` in the very first Hub commit) and the fine-tuned heads (saved as ``"vit"``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import PretrainedConfig

from ...errors import CheckpointError
from ...io_utils import read_json

#: model_type strings a PIXEL ``config.json`` may carry: ``pixel`` (pixel-base), ``vit_mae`` (its
#: first Hub commit), ``vit`` (the fine-tuned heads, which use transformers' ``ViTConfig``)
ACCEPTED_MODEL_TYPES = ("pixel", "vit_mae", "vit")

#: keys of OUR saved configs that the originals keep as constructor arguments only
POOLING_MODE_KEY = "pooling_mode"
ADD_LAYER_NORM_KEY = "add_layer_norm"


class PIXELConfig(PretrainedConfig):
    """PIXEL encoder + MAE decoder settings; defaults are those of ``Team-PIXEL/pixel-base``.

    ``image_size`` is ``[16, 16*L]``: the strip height and width, so ``num_patches`` = L.
    ``interpolate_pos_encoding`` (fine-tuned configs) makes the encoder resample its position
    table bicubically to the input length on every forward, as PIXEL does for L > 529.
    """

    model_type = "pixel"

    def __init__(self, hidden_size: int = 768, num_hidden_layers: int = 12,
                 num_attention_heads: int = 12, intermediate_size: int = 3072,
                 hidden_act: str = "gelu", hidden_dropout_prob: float = 0.1,
                 attention_probs_dropout_prob: float = 0.1, initializer_range: float = 0.02,
                 layer_norm_eps: float = 1e-12, image_size: Any = (16, 8464), patch_size: int = 16,
                 num_channels: int = 3, qkv_bias: bool = True,
                 decoder_num_attention_heads: int = 16, decoder_hidden_size: int = 512,
                 decoder_num_hidden_layers: int = 8, decoder_intermediate_size: int = 2048,
                 mask_ratio: float = 0.25, norm_pix_loss: bool = True,
                 interpolate_pos_encoding: bool = False, **kwargs: Any) -> None:
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.image_size = list(image_size) if isinstance(image_size, (list, tuple)) \
            else [image_size, image_size]
        self.patch_size = patch_size
        self.num_channels = num_channels
        self.qkv_bias = qkv_bias
        self.decoder_num_attention_heads = decoder_num_attention_heads
        self.decoder_hidden_size = decoder_hidden_size
        self.decoder_num_hidden_layers = decoder_num_hidden_layers
        self.decoder_intermediate_size = decoder_intermediate_size
        self.mask_ratio = mask_ratio
        self.norm_pix_loss = norm_pix_loss
        self.interpolate_pos_encoding = interpolate_pos_encoding
        super().__init__(**kwargs)

    # -- geometry ----------------------------------------------------------------------------
    @property
    def num_patches(self) -> int:
        """Patches in one strip (L): (H/p)·(W/p)."""
        return (self.image_size[0] // self.patch_size) * (self.image_size[1] // self.patch_size)

    def set_num_patches(self, length: int) -> None:
        """Set ``image_size`` to a 1×L strip. (PIXEL's resize computes 16·floor(√L)², which only
        equals 16·L for square L — every length its recipes use; we write 16·L for all L.)"""
        self.image_size = [self.patch_size, self.patch_size * int(length)]

    # -- reading original / foreign configs ----------------------------------------------------
    @classmethod
    def from_json_file_checked(cls, path: str | Path, **overrides: Any) -> "PIXELConfig":
        """Read a PIXEL ``config.json`` (model_type pixel | vit_mae | vit) with clear errors."""
        path = Path(path)
        data = read_json(path, "checkpoint config", CheckpointError)
        return cls.from_config_dict(data, source=str(path), **overrides)

    @classmethod
    def from_config_dict(cls, data: dict[str, Any], source: str = "<config>",
                         **overrides: Any) -> "PIXELConfig":
        model_type = data.get("model_type")
        if model_type not in ACCEPTED_MODEL_TYPES:
            raise CheckpointError(
                f"{source}: model_type {model_type!r} is not a PIXEL checkpoint (expected one of "
                f"{', '.join(ACCEPTED_MODEL_TYPES)})")
        data = {k: v for k, v in data.items() if k not in ("model_type", "transformers_version")}
        for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "patch_size"):
            if key in data and (not isinstance(data[key], int) or data[key] <= 0):
                raise CheckpointError(f"{source}: key {key!r} must be a positive integer, got "
                                      f"{data[key]!r}")
        if "hidden_size" in data and "num_attention_heads" in data and \
                data["hidden_size"] % data["num_attention_heads"]:
            raise CheckpointError(f"{source}: hidden_size {data['hidden_size']} is not a multiple "
                                  f"of num_attention_heads {data['num_attention_heads']}")
        if "id2label" in data and isinstance(data["id2label"], dict):
            data["id2label"] = {int(k): v for k, v in data["id2label"].items()}
        if "num_labels" in overrides or "id2label" in overrides:  # a new label set wins
            data.pop("id2label", None)
            data.pop("label2id", None)
        data.update(overrides)
        config = cls(**data)
        if config.image_size[1] % config.patch_size or config.image_size[0] % config.patch_size:
            raise CheckpointError(f"{source}: image_size {config.image_size} is not a multiple of "
                                  f"patch_size {config.patch_size}")
        return config


def register_auto_config() -> None:
    """Make ``AutoConfig`` know ``model_type "pixel"`` (``vit_mae`` and ``vit`` already belong
    to transformers, so PIXEL checkpoints carrying them are read via :class:`PIXELConfig`)."""
    from transformers import AutoConfig

    try:
        AutoConfig.register("pixel", PIXELConfig, exist_ok=True)
    except (TypeError, ValueError):  # an older signature or a clash: harmless, we never need it
        pass
