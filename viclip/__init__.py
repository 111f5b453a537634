# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""ViCLIP, the video-text CLIP trained on InternVid, as a native `transformers` model.

Importing this package registers the ViCLIP classes with the transformers Auto classes and pipelines.
"""

from .configuration_viclip import VICLIP_PRESETS, ViCLIPConfig, ViCLIPTextConfig, ViCLIPVisionConfig
from .modeling_viclip import (
    ViCLIPForVideoClassification,
    ViCLIPModel,
    ViCLIPPreTrainedModel,
    ViCLIPTextModel,
    ViCLIPVisionModel,
)
from .registration import register_auto_classes


register_auto_classes()

__all__ = [
    "VICLIP_PRESETS",
    "ViCLIPConfig",
    "ViCLIPForVideoClassification",
    "ViCLIPModel",
    "ViCLIPPreTrainedModel",
    "ViCLIPTextConfig",
    "ViCLIPTextModel",
    "ViCLIPVisionConfig",
    "ViCLIPVisionModel",
]
