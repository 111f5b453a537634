# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
`from_pretrained` on the layouts OpenGVLab published, as local folders, Hub repositories or a local `.pth` file:

- the original release (`OpenGVLab/ViCLIP`): a `.pth` holding `{"model": state_dict, "config": EasyDict, ...}` and
  no `config.json`;
- OpenGVLab's remote-code ports (`OpenGVLab/ViCLIP-L-14-hf`, `OpenGVLab/ViCLIP-B-16-hf`): a `model.safetensors` with
  the original key names and a `config.json` holding only their `auto_map`, `size` and `tokenizer_path`.

`import viclip` installs a hook on `from_pretrained` of the ViCLIP models and of [`ViCLIPProcessor`]
(`viclip/registration.py`) that calls [`model_from_original_layout`] or [`processor_from_original_layout`] when the
location has no transformers `config.json` (one with a `model_type`); a converted folder never reaches this module.
The weights are read and converted as the converter converts them (`original_weights.py`), then loaded by
transformers' own `from_pretrained`.
"""

import json
import os
from types import SimpleNamespace
from typing import Any

import torch
from transformers.utils import cached_file, logging

from viclip.configuration_viclip import ViCLIPConfig
from viclip.modeling_viclip import ViCLIPModel
from viclip.registration import HUB_KWARGS

from .original_weights import (
    SIZE_TITLES,
    ConversionError,
    UnknownHeadsError,
    check_against_model,
    check_values,
    config_fields_from_shapes,
    convert_state_dict,
    infer_config,
    load_original_state_dict,
    released_size,
    size_differences,
)


logger = logging.get_logger(__name__)

# The weights file of the remote-code ports, and the `size` field of their config.json.
PORT_WEIGHTS_NAME = "model.safetensors"
_PORT_SIZES = {"b": "viclip-b16", "l": "viclip-l14"}


def _local_or_cached_file(path_or_repo_id: str | os.PathLike, filename: str, **hub_kwargs) -> str | None:
    """`filename` of a local folder or a Hub repository (downloaded and cached), or `None` when it has none."""
    return cached_file(
        path_or_repo_id,
        filename,
        _raise_exceptions_for_missing_entries=False,
        _raise_exceptions_for_connection_errors=False,
        **hub_kwargs,
    )


def _pth_files(path_or_repo_id: str | os.PathLike, **hub_kwargs) -> list[str]:
    """Names of the `.pth` files of a local folder or a Hub repository."""
    if os.path.isdir(path_or_repo_id):
        return sorted(name for name in os.listdir(path_or_repo_id) if name.endswith(".pth"))
    try:
        from huggingface_hub import list_repo_files

        files = list_repo_files(
            str(path_or_repo_id), revision=hub_kwargs.get("revision"), token=hub_kwargs.get("token")
        )
    except Exception:  # not a repository, no network, offline mode: then there is no released layout to find
        return []
    return sorted(name for name in files if name.endswith(".pth") and "/" not in name)


def _is_port_config(config: Any) -> bool:
    """Whether a `config.json` is that of OpenGVLab's remote-code ports: no `model_type`, and their own fields."""
    if not isinstance(config, dict) or "model_type" in config:
        return False
    auto_map = config.get("auto_map") if isinstance(config.get("auto_map"), dict) else {}
    return "size" in config or "tokenizer_path" in config or auto_map.get("AutoModel") == "viclip.ViCLIP"


def find_original_checkpoint(path_or_repo_id: str | os.PathLike, **hub_kwargs) -> tuple[str, dict] | None:
    """
    Finds a checkpoint in one of OpenGVLab's layouts at a local folder, a Hub repository or a `.pth` file.

    Args:
        path_or_repo_id: what was given to `from_pretrained`.
        hub_kwargs: `cache_dir`, `revision`, `token`, `local_files_only`, ... as `from_pretrained` takes them.

    Returns:
        `None` when the location holds neither layout; otherwise `(local path of the weights file, port_config)`,
        where `port_config` is the remote-code port's `config.json` (empty for the original release).

    Raises:
        ConversionError: a folder holds several `.pth` files (the error lists them), or a port's folder has no
            `model.safetensors`.
    """
    if os.path.isfile(path_or_repo_id):
        return (str(path_or_repo_id), {}) if str(path_or_repo_id).endswith(".pth") else None
    config_file = _local_or_cached_file(path_or_repo_id, "config.json", **hub_kwargs)
    if config_file is not None:
        with open(config_file, encoding="utf-8") as file:
            port_config = json.load(file)
        if not _is_port_config(port_config):
            return None  # a transformers folder, or something else that transformers reports itself
        weights = _local_or_cached_file(path_or_repo_id, PORT_WEIGHTS_NAME, **hub_kwargs)
        if weights is None:
            raise ConversionError(
                f"{path_or_repo_id} has the config.json of OpenGVLab's ViCLIP remote-code port but no "
                f"{PORT_WEIGHTS_NAME}."
            )
        return weights, port_config
    pth_files = _pth_files(path_or_repo_id, **hub_kwargs)
    if not pth_files:
        return None
    if len(pth_files) > 1:
        raise ConversionError(
            f"{path_or_repo_id} holds several original ViCLIP checkpoints {pth_files} and no config.json: pass the "
            "path of one .pth file to `from_pretrained`."
        )
    if os.path.isdir(path_or_repo_id):
        return os.path.join(path_or_repo_id, pth_files[0]), {}
    return _local_or_cached_file(path_or_repo_id, pth_files[0], **hub_kwargs), {}


def _check_port_size(port_config: dict, fields: dict, checkpoint_name: str) -> None:
    """A remote-code port's config.json names its size (`"b"` or `"l"`): it must agree with the tensor shapes."""
    size = port_config.get("size")
    if size is None:
        return
    expected = _PORT_SIZES.get(str(size).lower())
    if expected is None:
        raise ConversionError(
            f"{checkpoint_name}: its config.json gives size {size!r}; OpenGVLab's ports use 'b' (B/16) or 'l' (L/14)."
        )
    differences = size_differences(fields, ViCLIPConfig.from_preset(expected))
    if differences:
        raise ConversionError(
            f"{checkpoint_name}: config.json says size {size!r} ({SIZE_TITLES[expected]}), but the tensor shapes give "
            f"{'; '.join(differences)}."
        )


def _read_sizes(checkpoint_path: str, port_config: dict, state_dict: dict | None = None) -> dict:
    """The sizes the tensor shapes give (see `config_fields_from_shapes`), checked against a port's `size`."""
    if state_dict is None and checkpoint_path.endswith(".safetensors"):
        from safetensors import safe_open

        with safe_open(checkpoint_path, framework="pt") as weights:
            shapes = {key: tuple(weights.get_slice(key).get_shape()) for key in weights.keys()}
    else:
        state_dict = state_dict if state_dict is not None else load_original_state_dict(checkpoint_path)
        shapes = {key: tuple(tensor.shape) for key, tensor in state_dict.items()}
    fields = config_fields_from_shapes(shapes)
    _check_port_size(port_config, fields, checkpoint_path)
    return fields


def model_from_original_layout(model_class: type, path_or_repo_id: str | os.PathLike, *model_args, **kwargs):
    """
    `model_class.from_pretrained(path_or_repo_id, ...)` for a checkpoint in one of OpenGVLab's layouts, or `None` when
    the location holds none. The weights are read safely, refused when NaN or infinite, converted, and must fill the
    model exactly; the size comes from the tensor shapes unless `config=ViCLIPConfig(...)` is given (needed for
    another size whose heads are not `width // 64`). Every other argument works as in `from_pretrained`; a tower or
    the classifier loads its part.
    """
    hub_kwargs = {name: kwargs.pop(name) for name in HUB_KWARGS if name in kwargs}
    found = find_original_checkpoint(path_or_repo_id, **hub_kwargs)
    if found is None:
        return None
    checkpoint_path, port_config = found
    state_dict = load_original_state_dict(checkpoint_path)
    check_values(state_dict, checkpoint_path)
    preset = released_size(_read_sizes(checkpoint_path, port_config, state_dict))
    config = kwargs.pop("config", None)
    if not isinstance(config, ViCLIPConfig):
        try:
            config, preset = infer_config(state_dict)
        except UnknownHeadsError as error:
            raise ConversionError(
                f"{error} To load {checkpoint_path}, pass `config=ViCLIPConfig(...)` with the `num_attention_heads` "
                "of both towers to `from_pretrained`."
            ) from error
    converted, origins = convert_state_dict(state_dict)
    with torch.device("meta"):
        expected = ViCLIPModel(config).state_dict()
    check_against_model(checkpoint_path, converted, origins, expected, SIZE_TITLES.get(preset, "ViCLIP"))
    if not isinstance(config, model_class.config_class):  # a tower: its part of the full configuration
        config = getattr(config, model_class.config_class.base_config_key)
    return model_class.from_pretrained(None, *model_args, config=config, state_dict=converted, **kwargs)


def processor_from_original_layout(processor_class: type, path_or_repo_id: str | os.PathLike, **kwargs):
    """
    `processor_class.from_pretrained(path_or_repo_id)` for a checkpoint in one of OpenGVLab's layouts, which holds no
    processor files: the reference processor of its model (`from_model_config`) with the frame count, frame size and
    text context read from its tensor shapes. `None` when the location holds no such checkpoint.
    """
    hub_kwargs = {name: kwargs[name] for name in HUB_KWARGS if name in kwargs}
    found = find_original_checkpoint(path_or_repo_id, **hub_kwargs)
    if found is None:
        return None
    sizes = _read_sizes(*found)
    return processor_class.from_model_config(
        SimpleNamespace(**{tower: SimpleNamespace(**sizes[tower]) for tower in ("vision_config", "text_config")})
    )


__all__ = ["find_original_checkpoint", "model_from_original_layout", "processor_from_original_layout"]
