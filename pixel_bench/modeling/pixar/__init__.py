"""Thesis PIXAR (Liao 2023, MSc, Edinburgh): encoder-decoder pixel language model over binary
8x8 patches. Not the 2024 decoder-only PIXAR (:mod:`pixel_bench.modeling.pixar2024`).

Imports torch/transformers: import it lazily from CLI code.
"""

from .config import MAIN_VARIANT, TINY_SIZES, VARIANTS, PixarConfig, PixarVariant, variant_config
from .loading import init_encoder_from_pixel, load_pixar
from .modeling import (HEAD_CLASSES, PixarForPreTraining, PixarForQuestionAnswering,
                       PixarForSequenceClassification, PixarForTokenClassification, PixarModel,
                       focal_loss, num_parameters, patchify, unpatchify)

__all__ = ["PixarConfig", "PixarVariant", "VARIANTS", "MAIN_VARIANT", "TINY_SIZES",
           "variant_config", "PixarModel", "PixarForPreTraining",
           "PixarForSequenceClassification", "PixarForTokenClassification",
           "PixarForQuestionAnswering", "HEAD_CLASSES", "focal_loss", "patchify", "unpatchify",
           "num_parameters", "init_encoder_from_pixel", "load_pixar"]
