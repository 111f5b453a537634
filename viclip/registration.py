# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
What `import viclip` sets up in transformers (this file never ships with a saved model):

- the ViCLIP classes in the Auto classes, so that `Auto*.from_pretrained` finds them, and the
  `zero-shot-video-classification` pipeline;
- saving: a saved [`ViCLIPModel`] folder names that pipeline in its `config.json` and carries its file, so that
  `pipeline(..., trust_remote_code=True)` runs it without this package;
- loading: `from_pretrained` of the models and of [`ViCLIPProcessor`] also reads the layouts OpenGVLab published (the
  original `.pth` release and the `-hf` remote-code ports). The conversion lives in the training package
  (`viclip_train/convert/original_layouts.py`), imported only when a location holds no transformers `config.json`.
"""

import functools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForTextEncoding,
    AutoModelForVideoClassification,
    AutoProcessor,
    AutoTokenizer,
    AutoVideoProcessor,
)
from transformers.dynamic_module_utils import custom_object_save
from transformers.pipelines import PIPELINE_REGISTRY
from transformers.utils import CONFIG_NAME, cached_file

from .configuration_viclip import ViCLIPConfig, ViCLIPTextConfig, ViCLIPVisionConfig
from .modeling_viclip import (
    ViCLIPForVideoClassification,
    ViCLIPModel,
    ViCLIPPreTrainedModel,
    ViCLIPTextModel,
    ViCLIPVisionModel,
)
from .pipeline_viclip import ZERO_SHOT_TASK, ZeroShotVideoClassificationPipeline, zero_shot_custom_pipelines
from .processing_viclip import ViCLIPProcessor
from .tokenization_viclip import ViCLIPTokenizer
from .video_processing_viclip import ViCLIPVideoProcessor


# `from_pretrained` arguments that say where and how to fetch files.
HUB_KWARGS = ("cache_dir", "force_download", "proxies", "token", "revision", "local_files_only", "subfolder")


def register_auto_classes() -> None:
    """
    Registers configs, models, processors and pipelines, and installs the saving and loading hooks; safe to call more
    than once.

    The models go where transformers registers CLIP's: the dual encoder and both towers with `AutoModel`, the text
    tower with `AutoModelForTextEncoding` (also from a full ViCLIP folder, as CLIP's), the classifier with `AutoModelForVideoClassification`. transformers has no
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
    # and from a full folder, as CLIP's text tower loads from a CLIPConfig one (its mapping names the dual encoder's
    # model type); `register` refuses a model whose `config_class` is not the key, so the mapping is given the pair
    AutoModelForTextEncoding._model_mapping.register(ViCLIPConfig, ViCLIPTextModel, exist_ok=True)
    AutoModelForVideoClassification.register(ViCLIPConfig, ViCLIPForVideoClassification, exist_ok=True)
    ViCLIPForVideoClassification.register_for_auto_class("AutoModelForVideoClassification")
    register_processing_classes()
    if "save_pretrained" not in vars(ViCLIPPreTrainedModel):
        ViCLIPPreTrainedModel.save_pretrained = _saving_the_zero_shot_pipeline(ViCLIPPreTrainedModel.save_pretrained)
    for cls, loader in ((ViCLIPPreTrainedModel, "model"), (ViCLIPProcessor, "processor")):
        if "from_pretrained" not in vars(cls):
            cls.from_pretrained = classmethod(_also_reading_opengvlab_layouts(cls.from_pretrained.__func__, loader))


def register_processing_classes() -> None:
    """Registers the tokenizer, video processor, processor and the zero-shot-video-classification pipeline."""
    AutoTokenizer.register(ViCLIPConfig, tokenizer_class=ViCLIPTokenizer, exist_ok=True)
    AutoVideoProcessor.register(ViCLIPConfig, ViCLIPVideoProcessor, exist_ok=True)
    AutoProcessor.register(ViCLIPConfig, ViCLIPProcessor, exist_ok=True)
    # `save_pretrained` then writes `auto_map` and copies the processing files, for `trust_remote_code=True` loading
    ViCLIPTokenizer.register_for_auto_class("AutoTokenizer")
    ViCLIPVideoProcessor.register_for_auto_class("AutoVideoProcessor")
    ViCLIPProcessor.register_for_auto_class("AutoProcessor")
    if (
        PIPELINE_REGISTRY.supported_tasks.get(ZERO_SHOT_TASK, {}).get("impl")
        is not ZeroShotVideoClassificationPipeline
    ):
        PIPELINE_REGISTRY.register_pipeline(
            ZERO_SHOT_TASK, pipeline_class=ZeroShotVideoClassificationPipeline, pt_model=AutoModel, type="multimodal"
        )


def _saving_the_zero_shot_pipeline(save_pretrained: Callable) -> Callable:
    """`save_pretrained` of the ViCLIP models, which also ship the zero-shot pipeline with a dual encoder."""

    @functools.wraps(save_pretrained)
    def save_pretrained_with_pipeline(
        model: ViCLIPPreTrainedModel, save_directory: str | os.PathLike, *args, **kwargs
    ):
        """
        `PreTrainedModel.save_pretrained`; a [`ViCLIPModel`] saved with its remote code also serves the
        `zero-shot-video-classification` pipeline as remote code: `config.json` names it in `custom_pipelines` and its
        file, `pipeline_viclip.py`, is saved beside the model files. Other classes name no such pipeline, even when
        their config was loaded from a dual encoder's.
        """
        ships_pipeline = isinstance(model, ViCLIPModel) and model.is_remote_code()
        if isinstance(model.config, ViCLIPConfig):
            pipelines = model.config.__dict__.pop("custom_pipelines", {})
            pipelines = {task: info for task, info in pipelines.items() if task != ZERO_SHOT_TASK}
            if ships_pipeline:
                pipelines.update(zero_shot_custom_pipelines())
            if pipelines:
                model.config.custom_pipelines = pipelines
        push_to_hub = kwargs.get("push_to_hub", False) and kwargs.get("is_main_process", True)
        saved = save_pretrained(model, save_directory, *args, **kwargs)
        if ships_pipeline and kwargs.get("is_main_process", True):
            copied = custom_object_save(ZeroShotVideoClassificationPipeline, save_directory)
            if push_to_hub:  # the upload above only sent the files `save_pretrained` wrote
                from huggingface_hub import upload_file

                repo_id = kwargs.get("repo_id", Path(save_directory).name)
                for path in copied:
                    upload_file(
                        path_or_fileobj=path, path_in_repo=path.name, repo_id=repo_id, token=kwargs.get("token")
                    )
        return saved

    return save_pretrained_with_pipeline


def check_hub_reachable(path_or_repo_id: Any, kwargs: dict) -> None:
    """
    Raises an `OSError` at once, saying what to do, when `path_or_repo_id` names a Hub repository whose `config.json`
    is not in the local cache and the Hub cannot be reached: otherwise each file looked for (the config, then
    OpenGVLab's layouts) would be retried for about 20 s. One request, to the Hub's address; nothing is checked
    offline (`HF_HUB_OFFLINE=1`, `local_files_only=True`), for local folders or when the file is cached.
    """
    import huggingface_hub
    from huggingface_hub import constants

    if os.path.isdir(path_or_repo_id) or constants.HF_HUB_OFFLINE or kwargs.get("local_files_only"):
        return
    if not isinstance(path_or_repo_id, str) or path_or_repo_id.count("/") > 1:
        return  # not a repository id: transformers reports it
    location = {"cache_dir": kwargs.get("cache_dir"), "revision": kwargs.get("revision")}
    if isinstance(huggingface_hub.try_to_load_from_cache(path_or_repo_id, CONFIG_NAME, **location), str):
        return  # cached (when known to be missing, OpenGVLab's layouts are looked for next, on the Hub)
    try:
        huggingface_hub.get_session().head(constants.ENDPOINT, timeout=10)
    except Exception as error:
        reason = " ".join(str(error).split())[:200]
        raise OSError(
            f"Cannot load {path_or_repo_id!r}: the Hub ({constants.ENDPOINT}) cannot be reached ({reason}) and the "
            "model is not in the local cache. Connect to the network, or download it where there is one "
            f"(`hf download {path_or_repo_id}`) and load it from that folder or cache with HF_HUB_OFFLINE=1."
        ) from None


def may_hold_an_opengvlab_layout(path_or_repo_id: Any, kwargs: dict) -> bool:
    """
    Whether `from_pretrained(path_or_repo_id, **kwargs)` may be pointed at one of OpenGVLab's layouts rather than a
    transformers folder: a `.pth` file, or a folder or Hub repository whose `config.json` is missing or names no
    `model_type`. Only that `config.json` is read.
    """
    if path_or_repo_id is None or kwargs.get("gguf_file") is not None:
        return False
    if os.path.isfile(path_or_repo_id):
        return os.fspath(path_or_repo_id).endswith(".pth")
    check_hub_reachable(path_or_repo_id, kwargs)
    config_file = cached_file(
        path_or_repo_id,
        CONFIG_NAME,
        _raise_exceptions_for_missing_entries=False,
        _raise_exceptions_for_connection_errors=False,
        **{name: kwargs[name] for name in HUB_KWARGS if name in kwargs},
    )
    if config_file is None:
        return True
    try:
        with open(config_file, encoding="utf-8") as file:
            return "model_type" not in json.load(file)
    except (OSError, ValueError, TypeError):
        return False  # transformers reports an unreadable config.json itself


def _also_reading_opengvlab_layouts(from_pretrained: Callable, loader: str) -> Callable:
    """`from_pretrained` that hands OpenGVLab's layouts to `viclip_train.convert` (the one upward import, lazy)."""

    @functools.wraps(from_pretrained)
    def from_pretrained_or_opengvlab_layout(cls: type, pretrained_model_name_or_path: Any, *args, **kwargs):
        if may_hold_an_opengvlab_layout(pretrained_model_name_or_path, kwargs):
            from viclip_train.convert import original_layouts

            load = getattr(original_layouts, f"{loader}_from_original_layout")
            loaded = load(cls, pretrained_model_name_or_path, *args, **kwargs)
            if loaded is not None:
                return loaded
        return from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs)

    return from_pretrained_or_opengvlab_layout
