# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""Registers the ViCLIP classes with the transformers Auto classes, so `Auto*.from_pretrained` finds them."""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForTextEncoding,
    AutoModelForVideoClassification,
    AutoProcessor,
    AutoTokenizer,
    AutoVideoProcessor,
)
from transformers.pipelines import PIPELINE_REGISTRY

from .configuration_viclip import ViCLIPConfig, ViCLIPTextConfig, ViCLIPVisionConfig
from .modeling_viclip import ViCLIPForVideoClassification, ViCLIPModel, ViCLIPTextModel, ViCLIPVisionModel
from .pipeline_viclip import ZeroShotVideoClassificationPipeline
from .processing_viclip import ViCLIPProcessor
from .tokenization_viclip import ViCLIPTokenizer
from .video_processing_viclip import ViCLIPVideoProcessor


def register_auto_classes() -> None:
    """
    Registers configs, models, processors and pipelines; safe to call more than once.

    The models go where transformers registers CLIP's: the dual encoder and both towers with `AutoModel`, the text
    tower with `AutoModelForTextEncoding`, the classifier with `AutoModelForVideoClassification`. transformers has no
    Auto class for `...WithProjection` models, so `ViCLIPVisionModelWithProjection` and
    `ViCLIPTextModelWithProjection` are used by name, as CLIP's are.
    """
    for config_class, model_class in (
        (ViCLIPConfig, ViCLIPModel),
        (ViCLIPTextConfig, ViCLIPTextModel),
        (ViCLIPVisionConfig, ViCLIPVisionModel),
    ):
        AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
        AutoModel.register(config_class, model_class, exist_ok=True)
        # `save_pretrained` then writes `auto_map` and copies the model files, for `trust_remote_code=True` loading
        config_class.register_for_auto_class()
        model_class.register_for_auto_class("AutoModel")
    AutoModelForTextEncoding.register(ViCLIPTextConfig, ViCLIPTextModel, exist_ok=True)
    AutoModelForVideoClassification.register(ViCLIPConfig, ViCLIPForVideoClassification, exist_ok=True)
    ViCLIPForVideoClassification.register_for_auto_class("AutoModelForVideoClassification")
    register_processing_classes()


def register_processing_classes() -> None:
    """Registers the tokenizer, video processor, processor and the zero-shot-video-classification pipeline."""
    AutoTokenizer.register(ViCLIPConfig, tokenizer_class=ViCLIPTokenizer, exist_ok=True)
    AutoVideoProcessor.register(ViCLIPConfig, ViCLIPVideoProcessor, exist_ok=True)
    AutoProcessor.register(ViCLIPConfig, ViCLIPProcessor, exist_ok=True)
    # `save_pretrained` then writes `auto_map` and copies the processing files, for `trust_remote_code=True` loading
    ViCLIPTokenizer.register_for_auto_class("AutoTokenizer")
    ViCLIPVideoProcessor.register_for_auto_class("AutoVideoProcessor")
    ViCLIPProcessor.register_for_auto_class("AutoProcessor")
    task = "zero-shot-video-classification"
    if PIPELINE_REGISTRY.supported_tasks.get(task, {}).get("impl") is not ZeroShotVideoClassificationPipeline:
        PIPELINE_REGISTRY.register_pipeline(
            task, pipeline_class=ZeroShotVideoClassificationPipeline, pt_model=AutoModel, type="multimodal"
        )
