# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Reading the checkpoints OpenGVLab released, in their own layouts, into the transformers layout of [`ViCLIPModel`].

Two layouts exist on the Hub:

- the original release (`OpenGVLab/ViCLIP`): a `.pth` file holding `{"model": state_dict, "config": EasyDict, ...}`
  and no `config.json`;
- OpenGVLab's remote-code ports (`OpenGVLab/ViCLIP-L-14-hf`, `OpenGVLab/ViCLIP-B-16-hf`): a `model.safetensors` with
  the original key names and a `config.json` holding only their `auto_map`, `size` and `tokenizer_path`.

Both hold the same tensors under the same names: `temp` (the temperature), `vision_encoder.*` and `text_encoder.*`.
This module reads them safely (a `.pth` is unpickled with `weights_only=True`; the one class its pickle needs besides
tensors and containers, `utils.easydict.EasyDict`, is read as a plain `dict`), renames and reshapes the tensors, and
infers the model size from the tensor shapes. [`ViCLIPModel.from_pretrained`] uses it to load those layouts directly;
the converter (`python -m viclip_train.convert_viclip_original_to_hf`) uses it to write a transformers folder.

This file ships as Hub remote code with `modeling_viclip.py`: it imports only torch, safetensors, transformers and its
sibling files.
"""

import json
import math
import os
import pickle
import re
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

import torch
from safetensors import safe_open
from transformers.utils import cached_file, logging

from .configuration_viclip import VICLIP_PRESETS, ViCLIPConfig


logger = logging.get_logger(__name__)

# The one non-container class the released checkpoints pickle (their training config), read as a plain dict.
ALLOWED_PICKLED_CLASSES = [(dict, "utils.easydict.EasyDict")]

# Original key -> transformers key. `{tower}` is `vision` or `text`, `{layer}` a block index, `{param}` `weight` or
# `bias`; the same placeholder names the same part on both sides.
ORIGINAL_TO_HF_KEYS: dict[str, str] = {
    "temp": "logit_scale",
    "vision_encoder.proj": "visual_projection.weight",
    "text_encoder.text_projection": "text_projection.weight",
    "vision_encoder.class_embedding": "vision_model.embeddings.class_embedding",
    "vision_encoder.conv1.weight": "vision_model.embeddings.patch_embedding.weight",
    "vision_encoder.positional_embedding": "vision_model.embeddings.position_embedding.weight",
    "vision_encoder.temporal_positional_embedding": "vision_model.embeddings.temporal_embedding",
    "vision_encoder.ln_pre.{param}": "vision_model.pre_layernorm.{param}",
    "vision_encoder.ln_post.{param}": "vision_model.post_layernorm.{param}",
    "text_encoder.token_embedding.weight": "text_model.embeddings.token_embedding.weight",
    "text_encoder.positional_embedding": "text_model.embeddings.position_embedding.weight",
    "text_encoder.ln_final.{param}": "text_model.final_layer_norm.{param}",
}
# Transformer blocks of both towers. The fused q/k/v projection stays fused (its rows are q, k, v).
_BLOCK_PARTS = {
    "attn.in_proj_{param}": "self_attn.qkv.{param}",
    "attn.out_proj.{param}": "self_attn.out_proj.{param}",
    "ln_1.{param}": "layer_norm1.{param}",
    "ln_2.{param}": "layer_norm2.{param}",
    "mlp.c_fc.{param}": "mlp.fc1.{param}",
    "mlp.c_proj.{param}": "mlp.fc2.{param}",
}
for _source, _target in _BLOCK_PARTS.items():
    ORIGINAL_TO_HF_KEYS[f"{{tower}}_encoder.transformer.resblocks.{{layer}}.{_source}"] = (
        f"{{tower}}_model.encoder.layers.{{layer}}.{_target}"
    )
_PLACEHOLDERS = {"tower": "vision|text", "layer": r"\d+", "param": "weight|bias"}

# Short names of the released sizes, and their titles.
SIZES = {"b16": "viclip-b16", "l14": "viclip-l14"}
SIZE_TITLES = {"viclip-b16": "ViCLIP-B/16", "viclip-l14": "ViCLIP-L/14"}
# The `size` field of the remote-code ports' config.json.
_PORT_SIZES = {"b": "viclip-b16", "l": "viclip-l14"}

# The weights file of the remote-code ports.
PORT_WEIGHTS_NAME = "model.safetensors"


class ConversionError(ValueError):
    """The checkpoint cannot be converted: unreadable, unsafe, or not in the layout of the released ViCLIP files."""


class UnsafeCheckpointError(ConversionError):
    """The checkpoint's pickle references a Python object other than tensors, containers and the allowed config."""


def _temperature_to_logit_scale(temp: torch.Tensor) -> torch.Tensor:
    # logits = cos_sim / temp = exp(logit_scale) * cos_sim; the released `temp` is 0-d, `logit_scale` has one element
    return torch.log(1.0 / temp.double()).to(temp.dtype).reshape(1)


def _linear_weight_from_matrix(matrix: torch.Tensor) -> torch.Tensor:
    # The original multiplies `x @ proj` with `proj` stored [in, out]; nn.Linear stores [out, in].
    return matrix.t().contiguous()


def _drop_time_axis(conv3d_weight: torch.Tensor) -> torch.Tensor:
    # Conv3d kernel [out, in, 1, p, p] -> Conv2d kernel [out, in, p, p]: a per-frame patchify.
    if conv3d_weight.ndim != 5 or conv3d_weight.shape[2] != 1:
        raise ConversionError(
            f"vision_encoder.conv1.weight has shape {tuple(conv3d_weight.shape)}; expected [width, 3, 1, patch, "
            "patch] (a patch embedding of temporal size 1, as in every released ViCLIP checkpoint)."
        )
    return conv3d_weight.squeeze(2)


# Value transforms, by original key; every other tensor is copied as it is.
TRANSFORMS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "temp": _temperature_to_logit_scale,
    "vision_encoder.proj": _linear_weight_from_matrix,
    "text_encoder.text_projection": _linear_weight_from_matrix,
    "vision_encoder.conv1.weight": _drop_time_axis,
}


def _compile(template: str) -> re.Pattern:
    pattern = re.escape(template)
    for name, alternatives in _PLACEHOLDERS.items():
        pattern = pattern.replace(re.escape(f"{{{name}}}"), f"(?P<{name}>{alternatives})")
    return re.compile(pattern)


_FORWARD = [(_compile(source), target, source) for source, target in ORIGINAL_TO_HF_KEYS.items()]
_BACKWARD = [(_compile(target), source) for source, target in ORIGINAL_TO_HF_KEYS.items()]


def rename_key(original_key: str) -> tuple[str, str] | None:
    """Returns `(transformers key, table entry)` for an original key, or `None` when the key table has no rule."""
    for pattern, target, source in _FORWARD:
        match = pattern.fullmatch(original_key)
        if match:
            return target.format(**match.groupdict()), source
    return None


def original_key(hf_key: str) -> str | None:
    """The original key that fills a transformers key (the inverse of [`rename_key`])."""
    for pattern, source in _BACKWARD:
        match = pattern.fullmatch(hf_key)
        if match:
            return source.format(**match.groupdict())
    return None


def load_original_state_dict(checkpoint_path: str | Path) -> dict[str, torch.Tensor]:
    """
    Reads the state dict of a released ViCLIP checkpoint without running any code stored in it.

    Accepts a `.pth` in the released layout `{"model": state_dict, "config": EasyDict, ...}` or a bare state dict,
    and a `.safetensors` file with the original key names (OpenGVLab's remote-code ports).

    Raises:
        FileNotFoundError: the file does not exist.
        UnsafeCheckpointError: the pickle references another Python object (the error names it).
        ConversionError: the file is truncated or corrupt, or holds no tensor state dict.
    """
    path = Path(checkpoint_path)
    if not path.is_file():
        raise FileNotFoundError(f"Checkpoint {path} does not exist (or is not a file).")
    if path.suffix == ".safetensors":
        try:
            with safe_open(path, framework="pt") as weights:
                return {key: weights.get_tensor(key) for key in weights.keys()}
        except Exception as error:  # safetensors raises its own error types for a damaged header
            raise ConversionError(f"Could not read {path}: the file is truncated or corrupt ({error}).") from error
    logger.info(f"Loading {path} (weights only)")
    try:
        with torch.serialization.safe_globals(ALLOWED_PICKLED_CLASSES):
            # Zip-format files are memory-mapped, so an L/14 checkpoint is not held twice in memory.
            checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL ([\w.]+)", str(error))
        if found:
            raise UnsafeCheckpointError(
                f"Refusing to load {path}: its pickle references `{found.group(1)}`, which is not a tensor, a plain "
                "container or the `utils.easydict.EasyDict` config of the released ViCLIP files. Unpickling it could "
                "run arbitrary code, so it is not loaded. If you trust the file, re-save only its state dict "
                "(`torch.save(state_dict, 'clean.pth')`) in the environment that wrote it, and convert that file."
            ) from error
        raise ConversionError(
            f"Could not unpickle {path} with weights_only=True: the file is corrupt or not a PyTorch checkpoint "
            f"({error})."
        ) from error
    except Exception as error:  # zip, pickle and storage readers raise many types for a damaged file
        raise ConversionError(
            f"Could not read {path}: the file is truncated or corrupt ({type(error).__name__}: {error}). "
            "Download it again and check its size."
        ) from error

    state_dict = checkpoint.get("model", checkpoint) if isinstance(checkpoint, Mapping) else None
    if not isinstance(state_dict, Mapping) or not state_dict:
        raise ConversionError(
            f"{path} holds no state dict: expected a dict of tensors or {{'model': state_dict, ...}}, got "
            f"{type(checkpoint).__name__}"
            + (f" with keys {sorted(checkpoint)}" if isinstance(checkpoint, Mapping) else "")
        )
    not_tensors = sorted(key for key, value in state_dict.items() if not isinstance(value, torch.Tensor))
    if not_tensors:
        raise ConversionError(f"The state dict of {path} holds entries that are not tensors: {not_tensors}.")
    return dict(state_dict)


def check_values(state_dict: Mapping[str, torch.Tensor], checkpoint_name: str) -> None:
    """
    Refuses tensors that cannot give a working model: NaN or infinite values anywhere, and a temperature `temp` that
    is not positive (its logit scale `log(1 / temp)` would be undefined). The error names every such tensor.
    """
    not_finite = sorted(
        key for key, tensor in state_dict.items() if tensor.is_floating_point() and not torch.isfinite(tensor).all()
    )
    if not_finite:
        raise ConversionError(
            f"{checkpoint_name} holds NaN or infinite values in {len(not_finite)} tensor(s): {not_finite}. The "
            "checkpoint is damaged (or was saved after training diverged); it cannot be converted."
        )
    temp = state_dict.get("temp")
    if temp is not None and not bool((temp > 0).all()):
        raise ConversionError(
            f"{checkpoint_name}: the temperature `temp` is {temp.flatten().tolist()}, but it must be positive (the "
            "logits are cosine similarities divided by it)."
        )


def _num_blocks(shapes: Mapping[str, tuple[int, ...]], tower: str) -> int:
    prefix = re.compile(rf"{tower}_encoder\.transformer\.resblocks\.(\d+)\.")
    indices = {int(m.group(1)) for key in shapes if (m := prefix.match(key))}
    return max(indices) + 1 if indices else 0


def config_fields_from_shapes(state_dict: Mapping[str, torch.Tensor | tuple[int, ...]]) -> dict:
    """
    Reads every size of the model that tensor shapes determine: widths, MLP widths, layer counts, patch size, frame
    count, image size, vocabulary, context length and projection size. (Attention heads are not among them.)

    Args:
        state_dict: the original state dict, or a mapping from its keys to the tensor shapes.

    Returns `{"projection_dim": ..., "vision_config": {...}, "text_config": {...}}`.
    """
    shapes = {key: tuple(getattr(value, "shape", value)) for key, value in state_dict.items()}
    needed = [
        "vision_encoder.conv1.weight",
        "vision_encoder.positional_embedding",
        "vision_encoder.temporal_positional_embedding",
        "vision_encoder.proj",
        "vision_encoder.transformer.resblocks.0.mlp.c_fc.weight",
        "text_encoder.token_embedding.weight",
        "text_encoder.positional_embedding",
        "text_encoder.text_projection",
        "text_encoder.transformer.resblocks.0.mlp.c_fc.weight",
    ]
    missing = [key for key in needed if key not in shapes]
    if missing:
        raise ConversionError(
            f"Cannot read the model size: the checkpoint lacks {missing}. Is it a ViCLIP checkpoint in the released "
            "layout (keys `vision_encoder.*`, `text_encoder.*`, `temp`)?"
        )
    conv = shapes["vision_encoder.conv1.weight"]  # [width, channels, 1, patch, patch]
    if len(conv) != 5 or conv[3] != conv[4]:
        raise ConversionError(f"vision_encoder.conv1.weight has shape {conv}; expected [width, 3, 1, p, p].")
    patch_size = conv[3]
    num_positions = shapes["vision_encoder.positional_embedding"][0]
    grid = math.isqrt(num_positions - 1)
    if grid * grid != num_positions - 1:
        raise ConversionError(
            f"vision_encoder.positional_embedding has {num_positions} rows; expected a square grid of patches plus "
            "one class token."
        )
    projection_dim = shapes["vision_encoder.proj"][1]
    text_projection_dim = shapes["text_encoder.text_projection"][1]
    if projection_dim != text_projection_dim:
        raise ConversionError(
            f"The projections disagree: vision_encoder.proj projects to {projection_dim}, "
            f"text_encoder.text_projection to {text_projection_dim}."
        )
    vocab_size, text_width = shapes["text_encoder.token_embedding.weight"]
    return {
        "projection_dim": projection_dim,
        "vision_config": {
            "image_size": grid * patch_size,
            "patch_size": patch_size,
            "num_frames": shapes["vision_encoder.temporal_positional_embedding"][1],
            "num_channels": conv[1],
            "hidden_size": conv[0],
            "intermediate_size": shapes["vision_encoder.transformer.resblocks.0.mlp.c_fc.weight"][0],
            "num_hidden_layers": _num_blocks(shapes, "vision"),
        },
        "text_config": {
            "vocab_size": vocab_size,
            "hidden_size": text_width,
            "intermediate_size": shapes["text_encoder.transformer.resblocks.0.mlp.c_fc.weight"][0],
            "num_hidden_layers": _num_blocks(shapes, "text"),
            "max_position_embeddings": shapes["text_encoder.positional_embedding"][0],
        },
    }


def _differences(fields: dict, config: ViCLIPConfig) -> list[str]:
    differences = (
        []
        if fields["projection_dim"] == config.projection_dim
        else [f"projection_dim {fields['projection_dim']} (preset: {config.projection_dim})"]
    )
    for tower in ("vision_config", "text_config"):
        sub_config = getattr(config, tower)
        differences += [
            f"{tower}.{name} {value} (preset: {getattr(sub_config, name)})"
            for name, value in fields[tower].items()
            if getattr(sub_config, name) != value
        ]
    return differences


def infer_config(
    state_dict: Mapping[str, torch.Tensor | tuple[int, ...]],
    size: str | None = None,
    vision_heads: int | None = None,
    text_heads: int | None = None,
) -> tuple[ViCLIPConfig, str | None]:
    """
    Builds the [`ViCLIPConfig`] of a checkpoint from its tensor shapes.

    Args:
        state_dict: the original state dict (or its keys mapped to tensor shapes).
        size: `"b16"` or `"l14"` to require a released size; `None` detects it, or builds a configuration of
            another size from the shapes.
        vision_heads / text_heads: attention heads per block, which shapes cannot reveal. The released sizes use
            their own (B/16: 12 / 8, L/14: 16 / 12) unless given. Another size needs both, or neither: then both
            towers get `width // 64` heads, the rule of the original code.

    Returns:
        The configuration and the preset name (`"viclip-b16"`, `"viclip-l14"`, or `None` for another size).
    """
    fields = config_fields_from_shapes(state_dict)
    if size is not None:
        if size not in SIZES:
            raise ConversionError(f"Unknown size {size!r}; choose one of {sorted(SIZES)} or leave it out to infer it.")
        preset = SIZES[size]
        differences = _differences(fields, ViCLIPConfig.from_preset(preset))
        if differences:
            raise ConversionError(
                f"The checkpoint is not {SIZE_TITLES[preset]}: its shapes give {'; '.join(differences)}. "
                "Leave out --size to infer the size from the shapes."
            )
    else:
        preset = next(
            (name for name in VICLIP_PRESETS if not _differences(fields, ViCLIPConfig.from_preset(name))), None
        )

    if preset is not None:
        logger.info(f"The tensor shapes are those of {SIZE_TITLES[preset]}")
        config = ViCLIPConfig.from_preset(preset)
        for tower, heads in (("vision_config", vision_heads), ("text_config", text_heads)):
            sub_config = getattr(config, tower)
            if heads is not None and heads != sub_config.num_attention_heads:
                logger.warning(
                    f"{tower}.num_attention_heads set to {heads}; {SIZE_TITLES[preset]} was trained with "
                    f"{sub_config.num_attention_heads}."
                )
                if heads <= 0 or sub_config.hidden_size % heads:
                    raise ConversionError(f"{heads} heads do not divide {tower}.hidden_size {sub_config.hidden_size}.")
                sub_config.num_attention_heads = heads
        return config, preset

    if (vision_heads is None) != (text_heads is None):
        given, missing = ("--vision_heads", "--text_heads")
        if vision_heads is None:
            given, missing = missing, given
        raise ConversionError(
            f"The tensor shapes are not those of a released size, so the attention heads of both towers must be "
            f"known: {given} was given but {missing} was not. Pass both (shapes cannot reveal heads; guessing one "
            "gives wrong embeddings), or neither to use width / 64 for both, as the original code does."
        )
    for tower, heads, flag in (
        ("vision_config", vision_heads, "--vision_heads"),
        ("text_config", text_heads, "--text_heads"),
    ):
        width = fields[tower]["hidden_size"]
        if heads is None:
            if width % 64:
                raise ConversionError(
                    f"{tower}.hidden_size {width} is not a multiple of 64, so the number of attention heads cannot be "
                    f"inferred; pass --vision_heads and --text_heads ({flag} for this tower)."
                )
            heads = width // 64
            logger.warning(f"{tower}.num_attention_heads not given: using {heads} (width / 64); set it with {flag}.")
        elif heads <= 0 or width % heads:
            raise ConversionError(f"{flag} {heads} does not divide {tower}.hidden_size {width}.")
        fields[tower]["num_attention_heads"] = heads
    logger.info(f"The tensor shapes are not those of a released size; building the configuration {fields}")
    return ViCLIPConfig(**fields), None


def convert_state_dict(state_dict: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """
    Renames and reshapes the original tensors into the transformers layout.

    Returns the converted state dict and the original keys that the key table has no rule for.
    """
    converted, unknown = {}, []
    for key in logging.tqdm(sorted(state_dict), desc="Converting tensors", unit="tensor"):
        renamed = rename_key(key)
        if renamed is None:
            unknown.append(key)
            continue
        target, rule = renamed
        converted[target] = TRANSFORMS.get(rule, lambda tensor: tensor)(state_dict[key])
    return converted, unknown


def check_against_model(
    checkpoint_name: str,
    converted: Mapping[str, torch.Tensor],
    unknown: list[str],
    expected: Mapping[str, torch.Tensor],
    title: str,
) -> None:
    """Raises a [`ConversionError`] listing every unused, missing and mis-shaped tensor of a converted state dict."""
    unused = sorted(unknown + [original_key(key) for key in converted if key not in expected])
    unfilled = sorted(key for key in expected if key not in converted)
    mismatched = sorted(
        f"{original_key(key)} -> {key}: {tuple(converted[key].shape)}, the model needs {tuple(expected[key].shape)}"
        for key in converted
        if key in expected and converted[key].shape != expected[key].shape
    )
    if not (unused or unfilled or mismatched):
        return
    lines = [f"Cannot convert {checkpoint_name} into {title}:"]
    if unused:
        lines.append(f"{len(unused)} checkpoint tensor(s) have no place in the model:")
        lines += [f"  - {key}" for key in unused]
    if unfilled:
        lines.append(f"{len(unfilled)} model weight(s) are missing from the checkpoint:")
        lines += [f"  - {key} (original key {original_key(key)})" for key in unfilled]
    if mismatched:
        lines.append(f"{len(mismatched)} tensor(s) have the wrong shape:")
        lines += [f"  - {line}" for line in mismatched]
    lines.append(
        "The converter expects the released ViCLIP layout (a `temp` scalar, `vision_encoder.*`, `text_encoder.*`). "
        "A damaged or differently trained checkpoint cannot be converted faithfully."
    )
    raise ConversionError("\n".join(lines))


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


def _is_port_config(config: dict) -> bool:
    """Whether a `config.json` is that of OpenGVLab's remote-code ports: no `model_type`, and their own fields."""
    auto_map = config.get("auto_map") if isinstance(config.get("auto_map"), dict) else {}
    own_fields = "size" in config or "tokenizer_path" in config or auto_map.get("AutoModel") == "viclip.ViCLIP"
    return "model_type" not in config and own_fields


def find_original_checkpoint(path_or_repo_id: str | os.PathLike | None, **hub_kwargs) -> tuple[str, dict] | None:
    """
    Finds a checkpoint in one of OpenGVLab's layouts at a local folder, a Hub repository or a `.pth` file.

    Args:
        path_or_repo_id: what was given to `from_pretrained`.
        hub_kwargs: `cache_dir`, `revision`, `token`, `local_files_only`, ... as `from_pretrained` takes them.

    Returns:
        `None` when the location holds a transformers folder (a `config.json` with a `model_type`) or nothing of
        either kind; otherwise `(local path of the weights file, port_config)`, where `port_config` is the
        remote-code port's `config.json` (empty for the original release).

    Raises:
        ConversionError: a folder holds several `.pth` files (the error lists them), or a port's folder has no
            `model.safetensors`.
    """
    if path_or_repo_id is None:
        return None
    if os.path.isfile(path_or_repo_id):
        return (str(path_or_repo_id), {}) if str(path_or_repo_id).endswith(".pth") else None
    config_file = _local_or_cached_file(path_or_repo_id, "config.json", **hub_kwargs)
    if config_file is not None:
        with open(config_file, encoding="utf-8") as file:
            port_config = json.load(file)
        if not isinstance(port_config, dict) or not _is_port_config(port_config):
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
            "path of one .pth file to `from_pretrained`, or convert one with "
            "`python -m viclip_train.convert_viclip_original_to_hf`."
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
    differences = _differences(fields, ViCLIPConfig.from_preset(expected))
    if differences:
        raise ConversionError(
            f"{checkpoint_name}: config.json says size {size!r} ({SIZE_TITLES[expected]}), but the tensor shapes give "
            f"{'; '.join(differences)}."
        )


def _original_shapes(checkpoint_path: str) -> dict[str, tuple[int, ...]]:
    if checkpoint_path.endswith(".safetensors"):
        with safe_open(checkpoint_path, framework="pt") as weights:
            return {key: tuple(weights.get_slice(key).get_shape()) for key in weights.keys()}
    return {key: tuple(tensor.shape) for key, tensor in load_original_state_dict(checkpoint_path).items()}


def original_checkpoint_sizes(path_or_repo_id: str | os.PathLike | None, **hub_kwargs) -> dict | None:
    """
    The sizes of a checkpoint in one of OpenGVLab's layouts (see [`find_original_checkpoint`]) as
    [`config_fields_from_shapes`] reads them from the tensor shapes (frames, image size, text context, widths, ...;
    not the attention heads), without converting the weights; `None` when the location holds no such checkpoint.
    They are all a processor needs.
    """
    found = find_original_checkpoint(path_or_repo_id, **hub_kwargs)
    if found is None:
        return None
    checkpoint_path, port_config = found
    fields = config_fields_from_shapes(_original_shapes(checkpoint_path))
    _check_port_size(port_config, fields, checkpoint_path)
    return fields


class OriginalCheckpoint(NamedTuple):
    """A checkpoint in one of OpenGVLab's layouts, converted to the transformers layout."""

    path: str
    """Local path of the weights file that was read."""
    config: ViCLIPConfig
    """The configuration: inferred from the tensor shapes, or the one given."""
    title: str
    """`"ViCLIP-B/16"`, `"ViCLIP-L/14"`, or `"ViCLIP"` for another size, for messages."""
    state_dict: dict[str, torch.Tensor]
    """The converted tensors, under the keys of [`ViCLIPModel`]."""
    unknown_keys: list[str]
    """Original keys the key table has no rule for."""


def load_original_checkpoint(
    path_or_repo_id: str | os.PathLike | None, config: ViCLIPConfig | None = None, **hub_kwargs
) -> OriginalCheckpoint | None:
    """
    Reads a checkpoint in one of OpenGVLab's layouts (see [`find_original_checkpoint`]), checks its values
    ([`check_values`]) and converts it ([`convert_state_dict`]). Returns `None` when the location holds no such
    checkpoint.

    Args:
        path_or_repo_id: a local folder, a Hub repository id, or a `.pth` file.
        config: the model's configuration. By default it is inferred from the tensor shapes ([`infer_config`]),
            which needs the attention heads to be known: the released sizes have their own, other sizes get
            `width // 64`. Give it for a checkpoint of another size whose heads differ.
        hub_kwargs: `cache_dir`, `revision`, `token`, `local_files_only`, ... as `from_pretrained` takes them.
    """
    found = find_original_checkpoint(path_or_repo_id, **hub_kwargs)
    if found is None:
        return None
    checkpoint_path, port_config = found
    state_dict = load_original_state_dict(checkpoint_path)
    check_values(state_dict, checkpoint_path)
    fields = config_fields_from_shapes(state_dict)
    _check_port_size(port_config, fields, checkpoint_path)
    preset = next((name for name in VICLIP_PRESETS if not _differences(fields, ViCLIPConfig.from_preset(name))), None)
    if config is None:
        try:
            config, preset = infer_config(state_dict)
        except ConversionError as error:
            raise ConversionError(
                f"{error} To load {checkpoint_path}, pass `config=ViCLIPConfig(...)` with the heads of both towers "
                "to `from_pretrained`."
            ) from error
    converted, unknown = convert_state_dict(state_dict)
    return OriginalCheckpoint(checkpoint_path, config, SIZE_TITLES.get(preset, "ViCLIP"), converted, unknown)


__all__ = [
    "ALLOWED_PICKLED_CLASSES",
    "ORIGINAL_TO_HF_KEYS",
    "SIZES",
    "SIZE_TITLES",
    "TRANSFORMS",
    "ConversionError",
    "OriginalCheckpoint",
    "UnsafeCheckpointError",
    "check_against_model",
    "check_values",
    "config_fields_from_shapes",
    "convert_state_dict",
    "find_original_checkpoint",
    "infer_config",
    "load_original_checkpoint",
    "load_original_state_dict",
    "original_checkpoint_sizes",
    "original_key",
    "rename_key",
]
