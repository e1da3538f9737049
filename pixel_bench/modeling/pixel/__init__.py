"""PIXEL (Rust et al., 2023): pre-LN ViT encoder over rendered text strips, its fine-tuning heads,
the MAE pretraining model, and loading of Team-PIXEL checkpoints. Importing this imports torch
and transformers; the CLI imports it only inside command bodies."""

from .config import PIXELConfig, register_auto_config
from .encoder import PIXELModel, PIXELPreTrainedModel
from .heads import (PIXELForQuestionAnswering, PIXELForSequenceClassification,
                    PIXELForTokenClassification, parse_pooling_mode)
from .parsing import Biaffine, PIXELForBiaffineParsing
from .loading import (LoadReport, load_pixel_checkpoint, load_pixel_encoder,
                      load_pixel_encoder_weights, read_state_dict, resolve_checkpoint)
from .positions import interpolate_table, sincos_2d, sincos_table, truncate_table
from .pretraining import PIXELForPreTraining, PIXELMAEModel
from .resize import resize_position_embeddings

register_auto_config()

__all__ = [
    "PIXELConfig", "PIXELModel", "PIXELPreTrainedModel", "PIXELForSequenceClassification",
    "PIXELForTokenClassification", "PIXELForQuestionAnswering", "PIXELForBiaffineParsing", "Biaffine",
    "PIXELForPreTraining",
    "PIXELMAEModel", "LoadReport", "load_pixel_checkpoint", "load_pixel_encoder",
    "load_pixel_encoder_weights", "read_state_dict", "resolve_checkpoint", "interpolate_table",
    "sincos_2d", "sincos_table", "truncate_table", "resize_position_embeddings",
    "parse_pooling_mode", "register_auto_config",
]
