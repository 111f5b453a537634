# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
The weights OpenGVLab released, in their own layout: reading them safely, checking them, reading the model size from
their shapes, and converting them to the layout of [`ViCLIPModel`].

Both released layouts (the original `.pth` and the `-hf` remote-code ports' `model.safetensors`, see
`original_layouts.py`) hold the same tensors under the same names: `temp` (the temperature), `vision_encoder.*` and
`text_encoder.*`. The conversion is written as a transformers weight-conversion mapping ([`ORIGINAL_LAYOUT`]: key
renamings, and converters for the four tensors whose values change) and applied with transformers' own key renaming
and conversion operations.
"""

import copy
import math
import pickle
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from transformers.core_model_loading import (
    ConversionOps,
    Transpose,
    WeightConverter,
    WeightRenaming,
    WeightTransform,
    rename_source_key,
)
from transformers.utils import logging

from viclip.configuration_viclip import VICLIP_PRESETS, ViCLIPConfig


logger = logging.get_logger(__name__)

# The one non-container class the released checkpoints pickle (their training config), read as a plain dict.
ALLOWED_PICKLED_CLASSES = [(dict, "utils.easydict.EasyDict")]

# Short names of the released sizes, and their titles.
SIZES = {"b16": "viclip-b16", "l14": "viclip-l14"}
SIZE_TITLES = {"viclip-b16": "ViCLIP-B/16", "viclip-l14": "ViCLIP-L/14"}


class ConversionError(ValueError):
    """The checkpoint cannot be converted: unreadable, unsafe, or not in the layout of the released ViCLIP files."""


class UnsafeCheckpointError(ConversionError):
    """The checkpoint's pickle references a Python object other than tensors, containers and the allowed config."""


class UnknownHeadsError(ConversionError):
    """The attention heads of a checkpoint of another size cannot be inferred: whoever loads it must give them."""


# --- the weight-conversion mapping -----------------------------------------------------------------------------------


MIN_TEMPERATURE = 0.01
"""The reference clamps its temperature `temp` from below at this value before using it."""


class TemperatureToLogitScale(ConversionOps):
    """`temp` (a 0-d temperature: logits = cos_sim / temp) to `logit_scale` (logits = exp(logit_scale) * cos_sim); a
    `temp` that is not positive as [`MIN_TEMPERATURE`], the value the reference uses in its place."""

    @torch.no_grad()
    def convert(self, input_dict: dict[str, Any], source_patterns, target_patterns, **kwargs) -> dict:
        temp = _single_tensor(input_dict)
        temp = torch.where(temp > 0, temp, torch.full_like(temp, MIN_TEMPERATURE))  # as the reference uses it
        return {target_patterns[0]: torch.log(1.0 / temp.double()).to(temp.dtype).reshape(1)}

    @property
    def reverse_op(self) -> ConversionOps:
        return LogitScaleToTemperature()


class LogitScaleToTemperature(ConversionOps):
    """The inverse of [`TemperatureToLogitScale`]."""

    @torch.no_grad()
    def convert(self, input_dict: dict[str, Any], source_patterns, target_patterns, **kwargs) -> dict:
        logit_scale = _single_tensor(input_dict)
        return {target_patterns[0]: (1.0 / logit_scale.double().exp()).to(logit_scale.dtype).reshape(())}

    @property
    def reverse_op(self) -> ConversionOps:
        return TemperatureToLogitScale()


class DropTimeAxis(ConversionOps):
    """The Conv3d patch embedding `[out, in, 1, p, p]` as the Conv2d kernel `[out, in, p, p]`: a per-frame patchify."""

    @torch.no_grad()
    def convert(self, input_dict: dict[str, Any], source_patterns, target_patterns, **kwargs) -> dict:
        kernel = _single_tensor(input_dict)
        if kernel.ndim != 5 or kernel.shape[2] != 1:
            raise ConversionError(
                f"vision_encoder.conv1.weight has shape {tuple(kernel.shape)}; expected [width, 3, 1, patch, patch] "
                "(a patch embedding of temporal size 1, as in every released ViCLIP checkpoint)."
            )
        return {target_patterns[0]: kernel.squeeze(2)}

    @property
    def reverse_op(self) -> ConversionOps:
        return AddTimeAxis()


class AddTimeAxis(ConversionOps):
    """The inverse of [`DropTimeAxis`]."""

    @torch.no_grad()
    def convert(self, input_dict: dict[str, Any], source_patterns, target_patterns, **kwargs) -> dict:
        return {target_patterns[0]: _single_tensor(input_dict).unsqueeze(2)}

    @property
    def reverse_op(self) -> ConversionOps:
        return DropTimeAxis()


def _single_tensor(input_dict: dict[str, Any]) -> torch.Tensor:
    tensors = next(iter(input_dict.values()))
    return tensors[0] if isinstance(tensors, list) else tensors


# Original layout -> transformers layout. Renamings apply in order (the block renamings after the tower prefix), then
# at most one converter; every other tensor keeps its value. The original multiplies `x @ proj` with the projections
# stored [in, out], where nn.Linear stores [out, in].
ORIGINAL_LAYOUT: list[WeightTransform] = [
    WeightRenaming(r"^vision_encoder\.transformer\.resblocks\.", "vision_model.encoder.layers."),
    WeightRenaming(r"^text_encoder\.transformer\.resblocks\.", "text_model.encoder.layers."),
    WeightRenaming(r"\.attn\.in_proj_", ".self_attn.qkv."),  # the fused q/k/v projection stays fused
    WeightRenaming(r"\.attn\.out_proj\.", ".self_attn.out_proj."),
    WeightRenaming(r"\.ln_1\.", ".layer_norm1."),
    WeightRenaming(r"\.ln_2\.", ".layer_norm2."),
    WeightRenaming(r"\.mlp\.c_fc\.", ".mlp.fc1."),
    WeightRenaming(r"\.mlp\.c_proj\.", ".mlp.fc2."),
    WeightRenaming(r"^vision_encoder\.class_embedding", "vision_model.embeddings.class_embedding"),
    WeightRenaming(r"^vision_encoder\.positional_embedding", "vision_model.embeddings.position_embedding.weight"),
    WeightRenaming(r"^vision_encoder\.temporal_positional_embedding", "vision_model.embeddings.temporal_embedding"),
    WeightRenaming(r"^vision_encoder\.ln_pre\.", "vision_model.pre_layernorm."),
    WeightRenaming(r"^vision_encoder\.ln_post\.", "vision_model.post_layernorm."),
    WeightRenaming(r"^text_encoder\.token_embedding\.", "text_model.embeddings.token_embedding."),
    WeightRenaming(r"^text_encoder\.positional_embedding", "text_model.embeddings.position_embedding.weight"),
    WeightRenaming(r"^text_encoder\.ln_final\.", "text_model.final_layer_norm."),
    WeightConverter(r"^temp", "logit_scale", operations=[TemperatureToLogitScale()]),
    WeightConverter(r"^vision_encoder\.proj", "visual_projection.weight", operations=[Transpose()]),
    WeightConverter(r"^text_encoder\.text_projection", "text_projection.weight", operations=[Transpose()]),
    WeightConverter(
        r"^vision_encoder\.conv1\.weight",
        "vision_model.embeddings.patch_embedding.weight",
        operations=[DropTimeAxis()],
    ),
]


def apply_weight_transforms(
    state_dict: Mapping[str, torch.Tensor], transforms: list[WeightTransform]
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """
    Renames and converts a state dict with a transformers weight-conversion mapping, as `from_pretrained` applies one
    while loading: every renaming, then at most one converter per key; a converter with several source patterns
    (q, k, v -> qkv) gathers its tensors first.

    Returns the converted tensors and, for each key, the checkpoint key it came from (keys no transform matches keep
    their name and value).
    """
    renamings = [transform for transform in transforms if isinstance(transform, WeightRenaming)]
    converters = [transform for transform in transforms if isinstance(transform, WeightConverter)]
    converter_of = {pattern: converter for converter in converters for pattern in converter.source_patterns}
    converted, origins, pending = {}, {}, {}
    for key in sorted(state_dict):
        target, pattern = rename_source_key(key, renamings, converters)
        origins.setdefault(target, key)
        if pattern is None:
            converted[target] = state_dict[key]
        else:
            converter = pending.setdefault(target, copy.deepcopy(converter_of[pattern]))
            converter.add_tensor(target, key, pattern, state_dict[key])
    for target, converter in pending.items():
        for name, tensor in converter.convert(target).items():
            converted[name] = tensor[0] if isinstance(tensor, list) else tensor
    return converted, origins


def convert_state_dict(state_dict: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The original tensors in the transformers layout ([`ORIGINAL_LAYOUT`]), and the original key of each."""
    return apply_weight_transforms(state_dict, ORIGINAL_LAYOUT)


def original_key(hf_key: str) -> str:
    """The original key that fills a transformers key: [`ORIGINAL_LAYOUT`] reversed, as transformers reverses it."""
    reverse = [transform.reverse_transform() for transform in ORIGINAL_LAYOUT[::-1]]
    renamings = [transform for transform in reverse if isinstance(transform, WeightRenaming)]
    converters = [transform for transform in reverse if isinstance(transform, WeightConverter)]
    return rename_source_key(hf_key, renamings, converters, reverse=True)[0]


# --- reading and checking ---------------------------------------------------------------------------------------------


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
    Refuses tensors that cannot give a working model: NaN or infinite values anywhere (the error names every such
    tensor). A temperature `temp` that is not positive gets a warning: it is converted as [`MIN_TEMPERATURE`], the
    value the reference clamps it to before using it (its logit scale `log(1 / temp)` would be undefined).
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
        logger.warning(
            f"{checkpoint_name}: the temperature `temp` is {', '.join(f'{v:g}' for v in temp.flatten().tolist())}, not "
            f"positive; it is converted as {MIN_TEMPERATURE} (logit scale ln 100), the value the reference clamps it to "
            "before dividing the cosine similarities by it."
        )


def check_against_model(
    checkpoint_name: str,
    converted: Mapping[str, torch.Tensor],
    origins: Mapping[str, str],
    expected: Mapping[str, torch.Tensor],
    title: str,
) -> None:
    """Raises a [`ConversionError`] listing every unused, missing and mis-shaped tensor of a converted state dict."""
    unused = sorted(origins[key] for key in converted if key not in expected)
    unfilled = sorted(key for key in expected if key not in converted)
    mismatched = sorted(
        f"{origins[key]} -> {key}: {tuple(converted[key].shape)}, the model needs {tuple(expected[key].shape)}"
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
        "The released ViCLIP layout holds a `temp` scalar, `vision_encoder.*` and `text_encoder.*`. A damaged or "
        "differently trained checkpoint cannot be converted faithfully."
    )
    raise ConversionError("\n".join(lines))


# --- the model size, from tensor shapes -------------------------------------------------------------------------------


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


def size_differences(fields: dict, config: ViCLIPConfig) -> list[str]:
    """The sizes in `fields` (see [`config_fields_from_shapes`]) that `config` does not have, one line each."""
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


def released_size(fields: dict) -> str | None:
    """The preset whose sizes `fields` are (`"viclip-b16"`, `"viclip-l14"`), or None for another size."""
    return next(
        (name for name in VICLIP_PRESETS if not size_differences(fields, ViCLIPConfig.from_preset(name))), None
    )


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

    Raises:
        UnknownHeadsError: another size whose widths are not multiples of 64, without the heads of both towers.
        ConversionError: shapes that contradict `size`, heads of one tower only, or heads that do not divide a width.
    """
    fields = config_fields_from_shapes(state_dict)
    if size is not None:
        if size not in SIZES:
            raise ConversionError(f"Unknown size {size!r}; choose one of {sorted(SIZES)} or leave it out to infer it.")
        preset = SIZES[size]
        differences = size_differences(fields, ViCLIPConfig.from_preset(preset))
        if differences:
            raise ConversionError(
                f"The checkpoint is not {SIZE_TITLES[preset]}: its shapes give {'; '.join(differences)}. "
                "Leave out the size to infer it from the shapes."
            )
    else:
        preset = released_size(fields)

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
        given, missing = ("vision_heads", "text_heads") if text_heads is None else ("text_heads", "vision_heads")
        raise ConversionError(
            f"The tensor shapes are not those of a released size, so the attention heads of both towers must be "
            f"known: {given} was given but {missing} was not. Give both (shapes cannot reveal heads; guessing one "
            "gives wrong embeddings), or neither to use width / 64 for both, as the original code does."
        )
    for tower, heads in (("vision_config", vision_heads), ("text_config", text_heads)):
        width = fields[tower]["hidden_size"]
        if heads is None:
            if width % 64:
                raise UnknownHeadsError(
                    f"The tensor shapes are not those of a released size, and {tower}.hidden_size {width} is not a "
                    "multiple of 64, so the attention heads cannot be inferred (the original code uses width / 64)."
                )
            heads = width // 64
            logger.warning(f"{tower}.num_attention_heads not given: using {heads} (width / 64).")
        elif heads <= 0 or width % heads:
            raise ConversionError(f"{heads} heads do not divide {tower}.hidden_size {width}.")
        fields[tower]["num_attention_heads"] = heads
    logger.info(f"The tensor shapes are not those of a released size; building the configuration {fields}")
    return ViCLIPConfig(**fields), None


__all__ = [
    "ORIGINAL_LAYOUT",
    "SIZES",
    "SIZE_TITLES",
    "ConversionError",
    "UnknownHeadsError",
    "UnsafeCheckpointError",
    "apply_weight_transforms",
    "check_against_model",
    "check_values",
    "config_fields_from_shapes",
    "convert_state_dict",
    "infer_config",
    "load_original_state_dict",
    "original_key",
    "released_size",
    "size_differences",
]
