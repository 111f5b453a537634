# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""ViCLIP initialised from a transformers `CLIPModel`, as the reference initialises pretraining."""

import torch
from transformers import CLIPModel
from transformers.core_model_loading import Concatenate, ConversionOps, WeightConverter, WeightRenaming

from viclip.configuration_viclip import ViCLIPConfig
from viclip.modeling_viclip import ViCLIPModel

from .original_weights import apply_weight_transforms


class KeepFirstRows(ConversionOps):
    """The first `num_rows` rows of a table (CLIP's 77 text positions cut to ViCLIP's context)."""

    def __init__(self, num_rows: int):
        self.num_rows = num_rows

    @torch.no_grad()
    def convert(self, input_dict, source_patterns, target_patterns, **kwargs) -> dict[str, torch.Tensor]:
        tensors = next(iter(input_dict.values()))
        table = tensors[0] if isinstance(tensors, list) else tensors
        return {target_patterns[0]: table[: self.num_rows]}


def clip_to_viclip_layout(max_text_positions: int) -> list:
    """CLIP's weight layout -> ViCLIP's: q, k and v fused into one projection (rows q, k, v), the text position table
    cut to `max_text_positions`, and CLIP's misspelt `pre_layrnorm`."""
    return [
        WeightRenaming(r"vision_model\.pre_layrnorm\.", "vision_model.pre_layernorm."),
        WeightConverter(
            ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"], "self_attn.qkv", operations=[Concatenate(0)]
        ),
        WeightConverter(
            r"^text_model\.embeddings\.position_embedding\.weight",
            "text_model.embeddings.position_embedding.weight",
            operations=[KeepFirstRows(max_text_positions)],
        ),
    ]


def viclip_from_clip(
    pretrained_model_name_or_path: str,
    num_frames: int = 8,
    max_text_positions: int = 32,
    hidden_act: str | None = None,
    **config_kwargs,
) -> ViCLIPModel:
    """
    Initialises ViCLIP from a transformers `CLIPModel` (a local folder or a Hub id), as the reference initialises
    pretraining: the patch embedding becomes a per-frame patchify (a time axis of 1), the temporal position table
    starts at zero, the text position table is cut to its first `max_text_positions` rows, and the logit scale is
    carried over. The activation is kept from the CLIP config unless `hidden_act` overrides it (the released
    checkpoints use `"quick_gelu"`). A CLIP folder lacking weights of either tower is refused (`ValueError`) rather
    than initialised randomly.

    Args:
        pretrained_model_name_or_path (`str`): a `CLIPModel` folder or Hub id.
        num_frames (`int`, defaults to 8): frames per clip of the new temporal position table.
        max_text_positions (`int`, defaults to 32): text context length.
        hidden_act (`str`, *optional*): activation of both towers; defaults to CLIP's.
        config_kwargs: further top-level [`ViCLIPConfig`] fields; `vision_config={...}` / `text_config={...}`
            override tower fields (for example `vision_config={"drop_path_rate": 0.1}`).
    """
    clip, clip_loading_info = CLIPModel.from_pretrained(pretrained_model_name_or_path, output_loading_info=True)
    if clip_loading_info["missing_keys"]:  # initialised randomly: no initialisation to start from
        missing = sorted(clip_loading_info["missing_keys"])
        raise ValueError(
            f"{pretrained_model_name_or_path} does not hold the weights of a complete CLIPModel: {len(missing)} "
            f"missing (e.g. {missing[:3]}). Give the folder of a CLIP dual encoder (both towers)."
        )
    clip_text, clip_vision = clip.config.text_config, clip.config.vision_config
    if max_text_positions > clip_text.max_position_embeddings:
        raise ValueError(
            f"max_text_positions={max_text_positions} exceeds the {clip_text.max_position_embeddings} text "
            f"positions of {pretrained_model_name_or_path}."
        )
    shared_fields = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "layer_norm_eps")
    text_config = {name: getattr(clip_text, name) for name in shared_fields}
    text_config.update(
        vocab_size=clip_text.vocab_size,
        max_position_embeddings=max_text_positions,
        hidden_act=hidden_act or clip_text.hidden_act,
        **config_kwargs.pop("text_config", {}),
    )
    vision_config = {name: getattr(clip_vision, name) for name in shared_fields}
    vision_config.update(
        image_size=clip_vision.image_size,
        patch_size=clip_vision.patch_size,
        num_channels=clip_vision.num_channels,
        num_frames=num_frames,
        hidden_act=hidden_act or clip_vision.hidden_act,
        **config_kwargs.pop("vision_config", {}),
    )
    config = ViCLIPConfig(
        text_config=text_config,
        vision_config=vision_config,
        projection_dim=clip.config.projection_dim,
        logit_scale_init_value=clip.logit_scale.item(),
        **config_kwargs,
    )
    state_dict, _ = apply_weight_transforms(clip.state_dict(), clip_to_viclip_layout(max_text_positions))
    # the temporal table is the one weight CLIP has not: from_pretrained initialises it (to zero) as a new weight
    model, loading_info = ViCLIPModel.from_pretrained(
        None, config=config, state_dict=state_dict, output_loading_info=True
    )
    unexpected, missing = loading_info["unexpected_keys"], loading_info["missing_keys"]
    if unexpected or set(missing) != {"vision_model.embeddings.temporal_embedding"}:
        raise ValueError(
            f"Could not map {pretrained_model_name_or_path} onto ViCLIP: missing {sorted(missing)}, "
            f"unexpected {sorted(unexpected)}."
        )
    return model.train()


__all__ = ["clip_to_viclip_layout", "viclip_from_clip"]
