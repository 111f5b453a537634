# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
What a training script loads before its data: the model configuration ([`load_config`]: a folder, a preset or a
`config.json`, with `--config_overrides` applied and validated before any data is read) and the processor saved with
the model ([`load_processor`]).
"""

import os
from typing import Any

from viclip import ViCLIPConfig, ViCLIPTextConfig, ViCLIPVisionConfig
from viclip.processing_viclip import ViCLIPProcessor

from .arguments import ModelArguments


_TOWERS = {"text_config": ViCLIPTextConfig, "vision_config": ViCLIPVisionConfig}


def merge_config_overrides(*overrides: dict | None) -> dict[str, Any]:
    """[`ViCLIPConfig`] fields from several sources, later ones winning; tower fields (`text_config`,
    `vision_config`) merged key by key. A field the configuration does not have is an error (a config would keep it
    silently)."""
    merged: dict[str, Any] = {}
    top_level = ViCLIPConfig()
    for source in overrides:
        for name, value in (source or {}).items():
            if name in _TOWERS:
                if not isinstance(value, dict):
                    raise ValueError(f"--config_overrides: {name} must be an object of fields, got {value!r}.")
                tower = _TOWERS[name]()
                unknown = sorted(key for key in value if not hasattr(tower, key))
                if unknown:
                    raise ValueError(f"--config_overrides: {name} has no fields {unknown}.")
                merged[name] = {**merged.get(name, {}), **value}
            elif not hasattr(top_level, name):
                raise ValueError(
                    f"--config_overrides: ViCLIPConfig has no field {name!r}; tower fields go under "
                    '"text_config" / "vision_config".'
                )
            else:
                merged[name] = value
    return merged


def load_config(model_args: ModelArguments, **fields: Any) -> ViCLIPConfig:
    """
    The configuration the model is built with, validated on construction: from `--model_name_or_path`, a preset or a
    `config.json` (`--config_name`), with `--config_overrides` and then `fields` applied (tower fields such as
    `vision_config={"drop_path_rate": 0.1}` merged into the tower's configuration). A field that does not exist or a value
    the configuration refuses stops the script here, before any data is read.
    """
    overrides = merge_config_overrides(model_args.config_overrides, fields)
    source = model_args.model_name_or_path or model_args.config_name
    if source is None:
        raise ValueError(
            "Say where the model starts: --model_name_or_path (a ViCLIP folder or Hub id) or --config_name "
            "(viclip-b16, viclip-l14 or a config.json) for random weights."
        )
    if not model_args.model_name_or_path and not os.path.exists(source):
        return ViCLIPConfig.from_preset(source, **overrides)
    config = ViCLIPConfig.from_pretrained(source).to_dict()
    for name in _TOWERS:
        config[name] = {**config[name], **overrides.pop(name, {})}
    return ViCLIPConfig.from_dict({**config, **overrides})


def load_processor(model_name_or_path: str | None, config: Any) -> ViCLIPProcessor:
    """The processor saved with the model (a folder holding `processor_config.json`, or a Hub id), else the default
    processor of `config`'s frames, frame size and context ([`ViCLIPProcessor.from_model_config`])."""
    path = model_name_or_path
    if path and (not os.path.isdir(path) or os.path.isfile(os.path.join(path, "processor_config.json"))):
        return ViCLIPProcessor.from_pretrained(path)
    return ViCLIPProcessor.from_model_config(config)


__all__ = ["load_config", "load_processor", "merge_config_overrides"]
