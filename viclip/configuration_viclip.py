# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""ViCLIP model configuration: text tower, joint space-time vision tower, and the dual encoder."""

import json
import math
import os
from collections.abc import Callable
from typing import Any

from huggingface_hub.dataclasses import strict
from transformers.configuration_utils import PreTrainedConfig
from transformers.utils import logging


logger = logging.get_logger(__name__)


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _is_probability(value: Any) -> bool:
    """A rate in [0, 1): dropout, stochastic depth, share of masked tokens."""
    return isinstance(value, (int, float)) and 0.0 <= value < 1.0


def _is_known_activation(value: Any) -> bool:
    from transformers.activations import ACT2FN

    return isinstance(value, str) and value in ACT2FN


# Field name -> (check, what a valid value is). Every ViCLIP config checks the fields it has whenever one is set: at
# construction (also from a config.json) and on `config.update(...)` or attribute assignment.
_FIELD_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    **{
        name: (_is_positive_int, "a positive integer")
        for name in (
            "vocab_size",
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
            "max_position_embeddings",
            "image_size",
            "patch_size",
            "num_frames",
            "num_channels",
            "projection_dim",
        )
    },
    "hidden_act": (_is_known_activation, "an activation name of transformers' ACT2FN, e.g. 'quick_gelu' or 'gelu'"),
    "layer_norm_eps": (lambda value: math.isfinite(value) and value > 0, "a positive finite number"),
    "attention_dropout": (_is_probability, "in [0, 1)"),
    "drop_path_rate": (_is_probability, "in [0, 1)"),
    "initializer_range": (lambda value: math.isfinite(value) and value >= 0, "a finite number >= 0"),
    "initializer_factor": (lambda value: math.isfinite(value) and value >= 0, "a finite number >= 0"),
    "logit_scale_init_value": (math.isfinite, "a finite number"),
    "logit_scale_max": (math.isfinite, "a finite number"),
}


def _check_field(config: PreTrainedConfig, name: str, value: Any) -> None:
    """Raises a `ValueError` naming the field when `value` is not valid for the ViCLIP config field `name`."""
    if name not in _FIELD_CHECKS or name not in type(config).__dataclass_fields__:
        return
    check, valid = _FIELD_CHECKS[name]
    try:
        is_valid = check(value)
    except TypeError:  # a value of the wrong type is reported by the type check of `@strict`
        return
    if not is_valid:
        prefix = f"{config.base_config_key}." if config.base_config_key else ""
        raise ValueError(f"{type(config).__name__}: {prefix}{name} must be {valid}, got {value!r}.")


def _check_divisible(config: PreTrainedConfig, name: str, divisor_name: str) -> None:
    value, divisor = getattr(config, name), getattr(config, divisor_name)
    if value % divisor != 0:
        raise ValueError(
            f"{config.base_config_key}.{name} ({value}) must be a multiple of {config.base_config_key}.{divisor_name} "
            f"({divisor})."
        )


# Fields of [`ViCLIPConfig`] that both tower configs follow.
_SHARED_FIELDS = ("projection_dim", "initializer_factor")


def _tower_config_dict(tower_config_class: type[PreTrainedConfig], config_dict: dict) -> dict:
    """
    The tower's part of a config dict. A tower loaded from a full ViCLIP folder reads its `vision_config` /
    `text_config`, and takes the shared fields from the top level (they may be missing from the tower's part in
    folders saved before the towers had them).
    """
    key = tower_config_class.base_config_key
    if isinstance(config_dict.get(key), dict):
        shared = {name: config_dict[name] for name in _SHARED_FIELDS if name in config_dict}
        config_dict = {**config_dict, key: {**config_dict[key], **shared}}
    return config_dict


def _read_config_json(cls: type[PreTrainedConfig], json_file: str | os.PathLike) -> dict:
    """A config.json's dictionary; a file that is not JSON is an `OSError` saying where and how to restore it
    (transformers' own message names the file only)."""
    try:
        with open(json_file, encoding="utf-8") as reader:
            return json.loads(reader.read())
    except json.JSONDecodeError as error:
        problem = f"not valid JSON ({error.msg}; line {error.lineno}, column {error.colno})"
    except UnicodeDecodeError as error:
        problem = f"not UTF-8 text (byte {error.start})"
    raise OSError(
        f"{json_file} is {problem}: the file is damaged (cut short, or edited by hand). Restore it: download the model "
        "again, or save it again with `save_pretrained`."
    )


class _TowerConfigMixin:
    """
    What both tower configs add to `PreTrainedConfig`: every field checked when set (at construction, from a
    config.json, on `config.update` or attribute assignment), the fields that must agree checked on construction, and
    a tower loaded from a full ViCLIP folder reading its part of it.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        _check_field(self, name, value)
        super().__setattr__(name, value)

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        self.validate_architecture()  # a plain ValueError at construction (`@strict` would wrap it)

    @classmethod
    def get_config_dict(cls, *args, **kwargs) -> tuple[dict, dict]:
        config_dict, kwargs = super().get_config_dict(*args, **kwargs)
        return _tower_config_dict(cls, config_dict), kwargs

    _dict_from_json_file = classmethod(_read_config_json)


@strict
class ViCLIPTextConfig(_TowerConfigMixin, PreTrainedConfig):
    r"""
    Configuration of the ViCLIP text tower: the CLIP text transformer with a 32-token context.

    Args:
        vocab_size (`int`, defaults to 49408): size of the CLIP byte-level BPE vocabulary.
        hidden_size (`int`, defaults to 512): width of the transformer.
        intermediate_size (`int`, defaults to 2048): width of the MLP.
        num_hidden_layers (`int`, defaults to 12): number of transformer blocks.
        num_attention_heads (`int`, defaults to 8): attention heads per block.
        max_position_embeddings (`int`, defaults to 32): context length; captions are padded or cut to it.
        hidden_act (`str`, defaults to `"quick_gelu"`): MLP activation (`x * sigmoid(1.702 x)`).
        layer_norm_eps (`float`, defaults to 1e-5): epsilon of every LayerNorm.
        attention_dropout (`float`, defaults to 0.0): dropout on attention probabilities.
        initializer_range (`float`, defaults to 0.02): std of the token embedding at random initialisation.
        pad_token_id (`int`, defaults to 0): the reference pads with id 0 (`"!"` in the CLIP vocabulary).
        bos_token_id (`int`, defaults to 49406): `<|startoftext|>`.
        eos_token_id (`int`, defaults to 49407): `<|endoftext|>`, the largest id; the caption is pooled there.
        projection_dim (`int`, defaults to 512): size of the shared embedding space that
            [`ViCLIPTextModelWithProjection`] projects to; inside a [`ViCLIPConfig`] it follows the top-level
            `projection_dim`.
        initializer_factor (`float`, defaults to 1.0): scales the stds of the CLIP-style random initialisation;
            inside a [`ViCLIPConfig`] it follows the top-level `initializer_factor`.

    Every field is checked when it is set (on construction, from a `config.json`, or by `config.update`): sizes must be
    positive integers, `hidden_act` a known activation, `layer_norm_eps` positive, `attention_dropout` in [0, 1); a bad
    value raises a `ValueError` naming the field.
    """

    model_type = "viclip_text_model"
    base_config_key = "text_config"

    vocab_size: int = 49408
    hidden_size: int = 512
    intermediate_size: int = 2048
    num_hidden_layers: int = 12
    num_attention_heads: int = 8
    max_position_embeddings: int = 32
    hidden_act: str = "quick_gelu"
    layer_norm_eps: float = 1e-5
    attention_dropout: float | int = 0.0
    initializer_range: float = 0.02
    pad_token_id: int | None = 0
    bos_token_id: int | None = 49406
    eos_token_id: int | None = 49407
    projection_dim: int = 512
    initializer_factor: float = 1.0

    def validate_architecture(self):
        """The fields that must agree with each other; checked on construction and by `config.validate()`."""
        _check_divisible(self, "hidden_size", "num_attention_heads")


@strict
class ViCLIPVisionConfig(_TowerConfigMixin, PreTrainedConfig):
    r"""
    Configuration of the ViCLIP vision tower: a ViT whose patches of all frames attend to each other.

    Args:
        image_size (`int`, defaults to 224): side of the square frames the position table was trained for.
        patch_size (`int`, defaults to 16): side of a square patch; each frame is patchified on its own.
        num_frames (`int`, defaults to 8): frames per clip the temporal position table was trained for.
        num_channels (`int`, defaults to 3): colour channels of a frame.
        hidden_size (`int`, defaults to 768): width of the transformer.
        intermediate_size (`int`, defaults to 3072): width of the MLP.
        num_hidden_layers (`int`, defaults to 12): number of transformer blocks.
        num_attention_heads (`int`, defaults to 12): attention heads per block.
        hidden_act (`str`, defaults to `"quick_gelu"`): MLP activation; the released L/14 keeps QuickGELU too.
        layer_norm_eps (`float`, defaults to 1e-5): epsilon of every LayerNorm.
        attention_dropout (`float`, defaults to 0.0): dropout on attention probabilities.
        drop_path_rate (`float`, defaults to 0.0): stochastic depth of the last block; it grows linearly from 0 over
            the blocks (the reference trains with 0.1).
        initializer_range (`float`, defaults to 0.02): std used for random initialisation of the patch embedding.
        projection_dim (`int`, defaults to 512): size of the shared embedding space that
            [`ViCLIPVisionModelWithProjection`] projects to; inside a [`ViCLIPConfig`] it follows the top-level
            `projection_dim`.
        initializer_factor (`float`, defaults to 1.0): scales the stds of the CLIP-style random initialisation;
            inside a [`ViCLIPConfig`] it follows the top-level `initializer_factor`.

    Every field is checked when it is set (on construction, from a `config.json`, or by `config.update`): sizes must be
    positive integers, `hidden_act` a known activation, `layer_norm_eps` positive, the rates in [0, 1); a bad value
    raises a `ValueError` naming the field. `image_size` must be a multiple of `patch_size` and `hidden_size` of
    `num_attention_heads`.
    """

    model_type = "viclip_vision_model"
    base_config_key = "vision_config"

    image_size: int = 224
    patch_size: int = 16
    num_frames: int = 8
    num_channels: int = 3
    hidden_size: int = 768
    intermediate_size: int = 3072
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    hidden_act: str = "quick_gelu"
    layer_norm_eps: float = 1e-5
    attention_dropout: float | int = 0.0
    drop_path_rate: float | int = 0.0
    initializer_range: float = 0.02
    projection_dim: int = 512
    initializer_factor: float = 1.0

    def __post_init__(self, **kwargs):
        # Folders saved by earlier versions hold the pretraining mask ratio here; it is a training setting (the
        # `mask_ratio` argument of `forward`, which `run_pretrain.py --mask_ratio` passes), so that a loaded model
        # never masks tokens in someone else's training loop
        if kwargs.pop("mask_ratio", 0.0):
            logger.warning(
                "vision_config.mask_ratio of an older ViCLIP folder is ignored: token masking is a training setting. "
                "Pass mask_ratio= to the model's forward (run_pretrain.py: --mask_ratio) to mask in training."
            )
        super().__post_init__(**kwargs)

    def validate_architecture(self):
        """The fields that must agree with each other; checked on construction and by `config.validate()`."""
        _check_divisible(self, "hidden_size", "num_attention_heads")
        _check_divisible(self, "image_size", "patch_size")


@strict
class ViCLIPConfig(PreTrainedConfig):
    r"""
    Configuration of [`ViCLIPModel`]: a text tower, a video tower and the projections into a shared space.

    Args:
        text_config (`dict` or [`ViCLIPTextConfig`], *optional*): the text tower.
        vision_config (`dict` or [`ViCLIPVisionConfig`], *optional*): the video tower.
        projection_dim (`int`, defaults to 512): size of the shared embedding space.
        logit_scale_init_value (`float`, defaults to ln 100): initial log of the inverse temperature; the reference
            starts its temperature at 0.01.
        logit_scale_max (`float`, defaults to ln 100): logits use `exp(min(logit_scale, logit_scale_max))`, as the
            reference clamps its temperature from below at 0.01.
        initializer_range (`float`, defaults to 0.02): std of the random initialisation of Linear layers outside the
            towers (a new classification head).
        initializer_factor (`float`, defaults to 1.0): scales the stds of the CLIP-style initialisation of the
            embeddings and projections.

    Fields are checked when set, as in the tower configs (`logit_scale_max` and `logit_scale_init_value` must be
    finite). `projection_dim` and `initializer_factor` are copied into both tower configs (for the
    `...WithProjection` models and the towers' initialisation).

    The released sizes are available by name through [`ViCLIPConfig.from_preset`]:

    ```python
    >>> from viclip import ViCLIPConfig
    >>> config = ViCLIPConfig.from_preset("viclip-b16")
    >>> config.num_frames
    8
    ```
    """

    model_type = "viclip"
    sub_configs_defaults = {"text_config": ViCLIPTextConfig, "vision_config": ViCLIPVisionConfig}

    text_config: dict | PreTrainedConfig | None = None
    vision_config: dict | PreTrainedConfig | None = None
    projection_dim: int = 512
    logit_scale_init_value: float = math.log(100.0)
    logit_scale_max: float = math.log(100.0)
    initializer_range: float = 0.02
    initializer_factor: float = 1.0

    def __setattr__(self, name: str, value: Any) -> None:
        _check_field(self, name, value)
        super().__setattr__(name, value)
        if name in _SHARED_FIELDS:
            self._share_fields()

    _dict_from_json_file = classmethod(_read_config_json)

    @classmethod
    def get_config_dict(cls, pretrained_model_name_or_path, **kwargs) -> tuple[dict, dict]:
        """transformers' reading of a config, refusing a file whose `text_config` or `vision_config` is null (no saved
        ViCLIP config has one: the tower would silently take the default sizes, which the weights do not have)."""
        config_dict, kwargs = super().get_config_dict(pretrained_model_name_or_path, **kwargs)
        if null := [key for key in cls.sub_configs_defaults if key in config_dict and config_dict[key] is None]:
            raise ValueError(
                f"The config.json of {pretrained_model_name_or_path} sets {' and '.join(null)} to null; a ViCLIP "
                "config holds both towers' sizes, which the weights need. Restore config.json (download the model "
                "again, or save it again with `save_pretrained`)."
            )
        return config_dict, kwargs

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        self._share_fields()

    def _share_fields(self) -> None:
        """Copies the fields the towers share with the dual encoder into both tower configs."""
        for sub_config in (getattr(self, "text_config", None), getattr(self, "vision_config", None)):
            if isinstance(sub_config, PreTrainedConfig):
                for name in _SHARED_FIELDS:
                    if hasattr(self, name):
                        setattr(sub_config, name, getattr(self, name))

    @property
    def num_frames(self) -> int:
        """Frames per clip of the video tower (read by the `video-classification` pipeline)."""
        return self.vision_config.num_frames

    @property
    def image_size(self) -> int:
        """Frame side of the video tower."""
        return self.vision_config.image_size

    @property
    def custom_pipelines(self) -> dict:
        """
        The pipelines whose code ships in the saved folder (`custom_pipelines` in `config.json`), which
        `pipeline(task, model=folder, trust_remote_code=True)` runs without this package. A task this process has
        already registered with a class of the same name (`import viclip` registers the zero-shot pipeline) is left
        out, so that `pipeline()` runs the registered class instead of asking for `trust_remote_code`.
        """
        from transformers.pipelines import PIPELINE_REGISTRY

        registered = PIPELINE_REGISTRY.supported_tasks
        return {
            task: info
            for task, info in self.__dict__.get("custom_pipelines", {}).items()
            if task not in registered or _class_name(registered[task]["impl"]) != _class_name(info.get("impl", ""))
        }

    @custom_pipelines.setter
    def custom_pipelines(self, value: dict) -> None:
        self.__dict__["custom_pipelines"] = value  # saved as it is by `to_dict`

    @classmethod
    def from_preset(cls, name: str, **kwargs) -> "ViCLIPConfig":
        """
        Builds the configuration of a released size by name: one of [`VICLIP_PRESETS`] (`"viclip-b16"`,
        `"viclip-l14"`, or the short forms `"b16"`, `"l14"`). Keyword arguments override top-level fields; use
        `text_config={...}` / `vision_config={...}` to override tower fields.
        """
        key = PRESET_ALIASES.get(name.lower(), name.lower())
        if key not in VICLIP_PRESETS:
            raise ValueError(f"Unknown ViCLIP preset {name!r}; choose one of {sorted(VICLIP_PRESETS)}.")
        preset = VICLIP_PRESETS[key]
        text_config = {**preset["text_config"], **kwargs.pop("text_config", {})}
        vision_config = {**preset["vision_config"], **kwargs.pop("vision_config", {})}
        fields = {**{k: v for k, v in preset.items() if not k.endswith("_config")}, **kwargs}
        return cls(text_config=text_config, vision_config=vision_config, **fields)


def _class_name(impl: type | str) -> str:
    """The class name of a pipeline implementation, given as the class or as `"module.ClassName"`."""
    return impl.rsplit(".", 1)[-1] if isinstance(impl, str) else impl.__name__


# The released sizes: ViT-B/16 and ViT-L/14, both 8 frames of 224x224, a 32-token text context and a 49408-token
# vocabulary. Parameter counts: B/16 149.60M (vision 86.20M, text 63.41M), L/14 427.59M (303.97M, 123.62M).
VICLIP_PRESETS: dict[str, dict] = {
    "viclip-b16": {
        "projection_dim": 512,
        "text_config": {
            "hidden_size": 512,
            "intermediate_size": 2048,
            "num_hidden_layers": 12,
            "num_attention_heads": 8,
        },
        "vision_config": {
            "image_size": 224,
            "patch_size": 16,
            "num_frames": 8,
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
        },
    },
    "viclip-l14": {
        "projection_dim": 768,
        "text_config": {
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
        },
        "vision_config": {
            "image_size": 224,
            "patch_size": 14,
            "num_frames": 8,
            "hidden_size": 1024,
            "intermediate_size": 4096,
            "num_hidden_layers": 24,
            "num_attention_heads": 16,
        },
    },
}
PRESET_ALIASES = {"b16": "viclip-b16", "l14": "viclip-l14", "vit-b/16": "viclip-b16", "vit-l/14": "viclip-l14"}


_CONFIG_SIZES = {
    "vision_config": ("hidden_size", "num_channels", "patch_size", "image_size", "num_frames", "intermediate_size"),
    "text_config": ("hidden_size", "vocab_size", "max_position_embeddings", "intermediate_size"),
}


def shape_mismatch_message(config: PreTrainedConfig, source: Any, mismatched: set) -> str:
    """What to tell a user whose weights do not have the shapes `config` (a ViCLIP or tower config) gives: the tensors
    `(key, saved shape, built shape)`, both shapes, and the config fields that set them."""
    mismatched = sorted(mismatched)
    shown = "; ".join(f"{key}: weights {list(saved)}, config {list(built)}" for key, saved, built in mismatched[:4])
    dual = hasattr(config, "vision_config")
    towers = set()
    for key, *_ in mismatched:
        if not dual:  # a tower model: every tensor is the tower's
            towers.add(config.base_config_key)
        elif key.startswith(("vision_model.", "visual_projection.", "text_model.", "text_projection.")):
            towers.add("text_config" if key.startswith("text") else "vision_config")
    described = []
    for tower in sorted(towers):
        tower_config = getattr(config, tower) if dual else config
        fields = ", ".join(f"{name} {getattr(tower_config, name)}" for name in _CONFIG_SIZES[tower])
        described.append(f"{tower}: {fields}")
    config = f" ({'; '.join(described)})" if described else ""
    return (
        f"{source}: {len(mismatched)} tensor(s) of the weights do not have the shapes config.json gives them ({shown}"
        f"{'; ...' if len(mismatched) > 4 else ''}). The config{config} does not describe these weights: it was edited "
        "or belongs to another model. Restore the folder's config.json (download the model again, or save it again "
        "with `save_pretrained`); `ignore_mismatched_sizes=True` initialises those tensors randomly instead."
    )


__all__ = ["shape_mismatch_message", "ViCLIPConfig", "ViCLIPTextConfig", "ViCLIPVisionConfig", "VICLIP_PRESETS"]
