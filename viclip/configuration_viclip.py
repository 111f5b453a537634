# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""ViCLIP model configuration: text tower, joint space-time vision tower, and the dual encoder."""

import math

from huggingface_hub.dataclasses import strict
from transformers.configuration_utils import PreTrainedConfig


@strict
class ViCLIPTextConfig(PreTrainedConfig):
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

    def validate_architecture(self):
        """Checked by `@strict` on construction."""
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"text_config.hidden_size ({self.hidden_size}) must be a multiple of "
                f"text_config.num_attention_heads ({self.num_attention_heads})."
            )


@strict
class ViCLIPVisionConfig(PreTrainedConfig):
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
        mask_ratio (`float`, defaults to 0.0): share of patch tokens dropped at random in training mode when a call
            does not pass `mask_ratio` itself (the reference's first stage uses 0.9). Never applied in eval mode unless
            a call asks for it.
        initializer_range (`float`, defaults to 0.02): std used for random initialisation of the patch embedding.
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
    mask_ratio: float | int = 0.0
    initializer_range: float = 0.02

    def validate_architecture(self):
        """Checked by `@strict` on construction."""
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"vision_config.hidden_size ({self.hidden_size}) must be a multiple of "
                f"vision_config.num_attention_heads ({self.num_attention_heads})."
            )
        if self.image_size % self.patch_size != 0:
            raise ValueError(
                f"vision_config.image_size ({self.image_size}) must be a multiple of "
                f"vision_config.patch_size ({self.patch_size})."
            )
        if not 0.0 <= self.mask_ratio < 1.0:
            raise ValueError(f"vision_config.mask_ratio must be in [0, 1), got {self.mask_ratio}.")


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


# The released sizes (spec §4). Parameter counts: B/16 149.60M, L/14 427.59M.
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


__all__ = ["ViCLIPConfig", "ViCLIPTextConfig", "ViCLIPVisionConfig", "VICLIP_PRESETS"]
