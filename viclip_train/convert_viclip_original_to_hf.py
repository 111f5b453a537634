# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""Converts a released ViCLIP checkpoint (OpenGVLab/InternVideo `.pth`) into a complete transformers folder.

```bash
python -m viclip_train.convert_viclip_original_to_hf --checkpoint ViClip-InternVid-10M-FLT.pth --output_dir viclip-l14
```

The folder gets the weights (`model.safetensors`) and `config.json` of a [`ViCLIPModel`], the processor and
tokenizer files, and a model card (`README.md`); `--push_to_hub REPO_ID` uploads it.

The checkpoint is unpickled with `torch.load(weights_only=True)`: only tensors and plain containers are accepted, plus
the one class the released files pickle besides them, `utils.easydict.EasyDict` (their training config), which is
read as a plain `dict`. Anything else is refused before it can run.
"""

import argparse
import math
import pickle
import re
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from huggingface_hub import HfApi
from transformers import pipeline
from transformers.initialization import no_init_weights
from transformers.utils import logging

from viclip.configuration_viclip import VICLIP_PRESETS, ViCLIPConfig
from .model_card import (
    SIZE_TITLES,
    TRAINING_DATA,
    build_converted_model_card,
    guess_training_data,
    save_model_card,
    usage_model_id,
)
from viclip.modeling_viclip import ViCLIPModel
from viclip.processing_viclip import ViCLIPProcessor


logger = logging.get_logger(__name__)

ZERO_SHOT_TASK = "zero-shot-video-classification"
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


def _temperature_to_logit_scale(temp: torch.Tensor) -> torch.Tensor:
    # logits = cos_sim / temp = exp(logit_scale) * cos_sim
    return torch.log(1.0 / temp.double()).to(temp.dtype)


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

# Short names for the sizes of the released checkpoints (`--size`).
SIZES = {"b16": "viclip-b16", "l14": "viclip-l14"}


class ConversionError(ValueError):
    """The checkpoint cannot be converted: unreadable, unsafe, or not in the layout of the released ViCLIP files."""


class UnsafeCheckpointError(ConversionError):
    """The checkpoint's pickle references a Python object other than tensors, containers and the allowed config."""


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

    Accepts the released layout `{"model": state_dict, "config": EasyDict, ...}` and a bare state dict.

    Raises:
        FileNotFoundError: the file does not exist.
        UnsafeCheckpointError: the pickle references another Python object (the error names it).
        ConversionError: the file is truncated or corrupt, or holds no tensor state dict.
    """
    path = Path(checkpoint_path)
    if not path.is_file():
        raise FileNotFoundError(f"Checkpoint {path} does not exist (or is not a file).")
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


def _num_blocks(state_dict: Mapping[str, torch.Tensor], tower: str) -> int:
    prefix = re.compile(rf"{tower}_encoder\.transformer\.resblocks\.(\d+)\.")
    indices = {int(m.group(1)) for key in state_dict if (m := prefix.match(key))}
    return max(indices) + 1 if indices else 0


def config_fields_from_shapes(state_dict: Mapping[str, torch.Tensor]) -> dict:
    """
    Reads every size of the model that tensor shapes determine: widths, MLP widths, layer counts, patch size, frame
    count, image size, vocabulary, context length and projection size. (Attention heads are not among them.)

    Returns `{"projection_dim": ..., "vision_config": {...}, "text_config": {...}}`.
    """
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
    missing = [key for key in needed if key not in state_dict]
    if missing:
        raise ConversionError(
            f"Cannot read the model size: the checkpoint lacks {missing}. Is it a ViCLIP checkpoint in the released "
            "layout (keys `vision_encoder.*`, `text_encoder.*`, `temp`)?"
        )
    conv = state_dict["vision_encoder.conv1.weight"].shape  # [width, channels, 1, patch, patch]
    if len(conv) != 5 or conv[3] != conv[4]:
        raise ConversionError(f"vision_encoder.conv1.weight has shape {tuple(conv)}; expected [width, 3, 1, p, p].")
    patch_size = conv[3]
    num_positions = state_dict["vision_encoder.positional_embedding"].shape[0]
    grid = math.isqrt(num_positions - 1)
    if grid * grid != num_positions - 1:
        raise ConversionError(
            f"vision_encoder.positional_embedding has {num_positions} rows; expected a square grid of patches plus "
            "one class token."
        )
    projection_dim = state_dict["vision_encoder.proj"].shape[1]
    text_projection_dim = state_dict["text_encoder.text_projection"].shape[1]
    if projection_dim != text_projection_dim:
        raise ConversionError(
            f"The projections disagree: vision_encoder.proj projects to {projection_dim}, "
            f"text_encoder.text_projection to {text_projection_dim}."
        )
    vocab_size, text_width = state_dict["text_encoder.token_embedding.weight"].shape
    return {
        "projection_dim": projection_dim,
        "vision_config": {
            "image_size": grid * patch_size,
            "patch_size": patch_size,
            "num_frames": state_dict["vision_encoder.temporal_positional_embedding"].shape[1],
            "num_channels": conv[1],
            "hidden_size": conv[0],
            "intermediate_size": state_dict["vision_encoder.transformer.resblocks.0.mlp.c_fc.weight"].shape[0],
            "num_hidden_layers": _num_blocks(state_dict, "vision"),
        },
        "text_config": {
            "vocab_size": vocab_size,
            "hidden_size": text_width,
            "intermediate_size": state_dict["text_encoder.transformer.resblocks.0.mlp.c_fc.weight"].shape[0],
            "num_hidden_layers": _num_blocks(state_dict, "text"),
            "max_position_embeddings": state_dict["text_encoder.positional_embedding"].shape[0],
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
    state_dict: Mapping[str, torch.Tensor],
    size: str | None = None,
    vision_heads: int | None = None,
    text_heads: int | None = None,
) -> tuple[ViCLIPConfig, str | None]:
    """
    Builds the [`ViCLIPConfig`] of a checkpoint from its tensor shapes.

    Args:
        state_dict: the original state dict.
        size: `"b16"` or `"l14"` to require a released size; `None` detects it, or builds a configuration of
            another size from the shapes.
        vision_heads / text_heads: attention heads per block, which shapes cannot reveal. By default the released
            sizes use their own (B/16: 12 / 8, L/14: 16 / 12) and other sizes `width // 64`, the rule of the
            original code.

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

    for tower, heads, flag in (
        ("vision_config", vision_heads, "--vision_heads"),
        ("text_config", text_heads, "--text_heads"),
    ):
        width = fields[tower]["hidden_size"]
        if heads is None:
            if width % 64:
                raise ConversionError(
                    f"{tower}.hidden_size {width} is not a multiple of 64, so the number of attention heads cannot be "
                    f"inferred; pass {flag}."
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


def _check_against_model(
    checkpoint_path: Path,
    converted: Mapping[str, torch.Tensor],
    unknown: list[str],
    expected: Mapping[str, torch.Tensor],
    title: str,
) -> None:
    unused = sorted(unknown + [original_key(key) for key in converted if key not in expected])
    unfilled = sorted(key for key in expected if key not in converted)
    mismatched = sorted(
        f"{original_key(key)} -> {key}: {tuple(converted[key].shape)}, the model needs {tuple(expected[key].shape)}"
        for key in converted
        if key in expected and converted[key].shape != expected[key].shape
    )
    if not (unused or unfilled or mismatched):
        return
    lines = [f"Cannot convert {checkpoint_path} into {title}:"]
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


def convert_checkpoint(
    checkpoint_path: str | Path,
    output_dir: str | Path,
    size: str | None = None,
    push_to_hub: str | None = None,
    *,
    vision_heads: int | None = None,
    text_heads: int | None = None,
    training_data: str | None = None,
) -> ViCLIPModel:
    """
    Converts a released ViCLIP checkpoint into a transformers folder: weights, config, processor, tokenizer and
    model card.

    Args:
        checkpoint_path: the original `.pth` file.
        output_dir: the folder to write (created if needed).
        size: `"b16"` or `"l14"`; inferred from the tensor shapes when `None`.
        push_to_hub: a Hub repository id to upload the folder to (created if needed).
        vision_heads / text_heads: attention heads, for checkpoints that are not of a released size.
        training_data: one of `TRAINING_DATA`, for the model card; guessed from the file name when `None`.

    Returns:
        The converted [`ViCLIPModel`], in eval mode.
    """
    checkpoint_path, output_dir = Path(checkpoint_path), Path(output_dir)
    if training_data is not None and training_data not in TRAINING_DATA:
        raise ConversionError(f"Unknown training data {training_data!r}; choose one of {list(TRAINING_DATA)}.")
    state_dict = load_original_state_dict(checkpoint_path)
    config, preset = infer_config(state_dict, size, vision_heads, text_heads)

    with no_init_weights():  # every weight is overwritten below
        model = ViCLIPModel(config)
    converted, unknown = convert_state_dict(state_dict)
    expected = model.state_dict()
    _check_against_model(checkpoint_path, converted, unknown, expected, SIZE_TITLES.get(preset, "ViCLIP"))
    model.load_state_dict(converted, strict=True)
    model.eval()
    logger.info(f"Converted {len(converted)} tensors ({model.num_parameters() / 1e6:.2f}M parameters)")

    if output_dir.is_dir() and any(output_dir.iterdir()):
        logger.warning(f"{output_dir} is not empty: files this conversion does not write are kept (and uploaded).")
    output_dir.mkdir(parents=True, exist_ok=True)
    # Saving through the zero-shot pipeline writes the model, the processor, and the pipeline's code registered in
    # `config.json`, so that `pipeline(ZERO_SHOT_TASK, model=output_dir, trust_remote_code=True)` works too.
    pipeline(ZERO_SHOT_TASK, model=model, processor=ViCLIPProcessor.from_model_config(config)).save_pretrained(output_dir)
    if training_data is None:
        training_data = guess_training_data(checkpoint_path)
        if training_data:
            logger.info(f"Training data: {training_data} (read from the file name; --training_data sets it)")
    model_id = usage_model_id(push_to_hub, output_dir)
    card = build_converted_model_card(checkpoint_path, config, preset, training_data, model_id)
    save_model_card(card, output_dir)
    logger.info(f"Wrote {sorted(path.name for path in output_dir.iterdir())} to {output_dir}")

    if push_to_hub:
        api = HfApi()
        repo_url = api.create_repo(push_to_hub, repo_type="model", exist_ok=True)
        api.upload_folder(
            repo_id=push_to_hub,
            folder_path=output_dir,
            repo_type="model",
            commit_message=f"Convert {checkpoint_path.name} from the original ViCLIP release",
        )
        logger.info(f"Uploaded {output_dir} to {repo_url}")
    return model


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m viclip_train.convert_viclip_original_to_hf",
        description="Convert a released ViCLIP checkpoint (.pth) into a transformers folder with weights, config, "
        "processor, tokenizer and model card.",
    )
    parser.add_argument("--checkpoint", required=True, type=Path, help="The original checkpoint file (.pth).")
    parser.add_argument("--output_dir", required=True, type=Path, help="Folder to write the converted model to.")
    parser.add_argument(
        "--size",
        choices=sorted(SIZES),
        help="Released size to require (ViT-B/16 or ViT-L/14). Default: inferred from the tensor shapes.",
    )
    parser.add_argument(
        "--vision_heads",
        type=int,
        help="Attention heads of the video tower; shapes cannot reveal them. Default: the released size's value, "
        "otherwise width / 64 as in the original code.",
    )
    parser.add_argument(
        "--text_heads",
        type=int,
        help="Attention heads of the text tower. Default: the released size's value, otherwise width / 64.",
    )
    parser.add_argument(
        "--training_data",
        choices=TRAINING_DATA,
        help="Training set of the checkpoint, for the model card (title, dataset, and which published results "
        "apply). Default: read from the released file name, e.g. ViClip-InternVid-10M-FLT.pth.",
    )
    parser.add_argument(
        "--push_to_hub",
        metavar="REPO_ID",
        help="Also upload the converted folder to this Hub model repository (created if it does not exist).",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.set_verbosity_info()
    try:
        convert_checkpoint(
            args.checkpoint,
            args.output_dir,
            size=args.size,
            push_to_hub=args.push_to_hub,
            vision_heads=args.vision_heads,
            text_heads=args.text_heads,
            training_data=args.training_data,
        )
    except (ConversionError, FileNotFoundError) as error:  # a problem with the input: the message says it all
        raise SystemExit(f"error: {error}") from error


if __name__ == "__main__":
    main()
