# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""ViCLIP, the video-text CLIP trained on InternVid, as a native `transformers` model.

Importing this package registers the ViCLIP classes with the transformers Auto classes and pipelines, and lets
`from_pretrained` read the layouts OpenGVLab published (see `registration.py`).
"""

from .configuration_viclip import VICLIP_PRESETS, ViCLIPConfig, ViCLIPTextConfig, ViCLIPVisionConfig
from .modeling_viclip import (
    ViCLIPForVideoClassification,
    ViCLIPModel,
    ViCLIPPreTrainedModel,
    ViCLIPTextModel,
    ViCLIPTextModelWithProjection,
    ViCLIPVisionModel,
    ViCLIPVisionModelWithProjection,
)
from .pipeline_viclip import KINETICS_TEMPLATES, ZeroShotVideoClassificationPipeline
from .processing_viclip import ViCLIPProcessor
from .registration import register_auto_classes
from .tokenization_viclip import ViCLIPTokenizer, build_viclip_tokenizer, clean_caption, normalize_training_caption
from .video_decoding_viclip import load_video, sample_frame_indices
from .video_processing_viclip import ViCLIPVideoProcessor


register_auto_classes()

__all__ = [
    "KINETICS_TEMPLATES",
    "VICLIP_PRESETS",
    "ViCLIPConfig",
    "ViCLIPForVideoClassification",
    "ViCLIPModel",
    "ViCLIPPreTrainedModel",
    "ViCLIPProcessor",
    "ViCLIPTextConfig",
    "ViCLIPTextModel",
    "ViCLIPTextModelWithProjection",
    "ViCLIPTokenizer",
    "ViCLIPVisionConfig",
    "ViCLIPVideoProcessor",
    "ViCLIPVisionModel",
    "ViCLIPVisionModelWithProjection",
    "ZeroShotVideoClassificationPipeline",
    "build_viclip_tokenizer",
    "clean_caption",
    "load_video",
    "normalize_training_caption",
    "sample_frame_indices",
]
