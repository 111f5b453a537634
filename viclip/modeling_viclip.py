# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""PyTorch ViCLIP: a CLIP whose image tower is a joint space-time ViT (every patch of every frame attends to every
other), trained on InternVid.

This file imports only torch, transformers and its sibling files, so that `save_pretrained` can ship it as remote code.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.conversion_mapping import register_checkpoint_conversion_mapping
from transformers.core_model_loading import ConversionOps, PrefixChange, WeightConverter
from transformers.masking_utils import create_causal_mask
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutput, BaseModelOutputWithPooling, ImageClassifierOutput
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS, PreTrainedModel
from transformers.models.clip.modeling_clip import CLIPTextModelOutput
from transformers.processing_utils import Unpack
from transformers.utils import ModelOutput, TransformersKwargs, logging
from transformers.utils.generic import can_return_tuple
from transformers.utils.output_capturing import capture_outputs

from .configuration_viclip import ViCLIPConfig, ViCLIPTextConfig, ViCLIPVisionConfig, shape_mismatch_message
from .losses import viclip_contrastive_loss


logger = logging.get_logger(__name__)


@dataclass
class ViCLIPVisionModelOutput(BaseModelOutputWithPooling):
    r"""
    last_hidden_state (`torch.FloatTensor` of shape `(batch_size, 1 + kept_tokens, hidden_size)`):
        Final hidden states (after the last LayerNorm) of the class token followed by the patch tokens, patch tokens
        in space-major, time-minor order (`index = patch * num_frames + frame`).
    pooler_output (`torch.FloatTensor` of shape `(batch_size, hidden_size)`):
        The class token's final hidden state (in [`ViCLIPModel.get_video_features`]: its projection).
    kept_token_indices (`torch.LongTensor` of shape `(batch_size, kept_tokens)`, *optional*):
        With token masking, the indices (in the same order as above, before masking) of the patch tokens that were
        kept, ascending. `None` when no token was dropped.
    """

    kept_token_indices: torch.LongTensor | None = None


@dataclass
class ViCLIPVisionModelWithProjectionOutput(ModelOutput):
    r"""
    video_embeds (`torch.FloatTensor` of shape `(batch_size, projection_dim)`):
        Projected (not normalised) video embeddings: the class token's final hidden state times the visual projection.
    last_hidden_state (`torch.FloatTensor` of shape `(batch_size, 1 + kept_tokens, hidden_size)`):
        Final hidden states of the video tower, as in [`ViCLIPVisionModelOutput`].
    hidden_states (`tuple(torch.FloatTensor)`, *optional*, returned when `output_hidden_states=True`):
        Hidden states after the embeddings and after every layer.
    attentions (`tuple(torch.FloatTensor)`, *optional*, returned when `output_attentions=True`):
        Attention probabilities of every layer.
    kept_token_indices (`torch.LongTensor` of shape `(batch_size, kept_tokens)`, *optional*):
        With token masking, the indices of the patch tokens that were kept (see [`ViCLIPVisionModelOutput`]).
    """

    video_embeds: torch.FloatTensor | None = None
    last_hidden_state: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None
    kept_token_indices: torch.LongTensor | None = None


@dataclass
class ViCLIPTextModelWithProjectionOutput(CLIPTextModelOutput):
    r"""
    CLIP's text output: `text_embeds` are the projected (not normalised) caption embeddings, the end token's final
    hidden state times the text projection; `last_hidden_state`, `hidden_states` and `attentions` the text tower's.
    """


@dataclass
class ViCLIPOutput(ModelOutput):
    r"""
    loss (`torch.FloatTensor` of shape `(1,)`, *optional*, returned when `return_loss` is `True`):
        Symmetric video-text contrastive loss.
    logits_per_video (`torch.FloatTensor` of shape `(video_batch_size, text_batch_size)`):
        `exp(logit_scale)` times the cosine similarity of every video with every text.
    logits_per_text (`torch.FloatTensor` of shape `(text_batch_size, video_batch_size)`):
        The transpose of `logits_per_video`.
    video_embeds (`torch.FloatTensor` of shape `(video_batch_size, projection_dim)`):
        Normalised projected video embeddings.
    text_embeds (`torch.FloatTensor` of shape `(text_batch_size, projection_dim)`):
        Normalised projected text embeddings.
    video_model_output ([`ViCLIPVisionModelOutput`]):
        Output of the video tower; its `pooler_output` is the (unnormalised) projected embedding.
    text_model_output ([`BaseModelOutputWithPooling`]):
        Output of the text tower; its `pooler_output` is the (unnormalised) projected embedding.

    Code written for [`CLIPOutput`] finds the video tower's output under CLIP's name too, `vision_model_output` (an
    attribute, not a key); CLIP's `logits_per_image` and `image_embeds` are `logits_per_video` and `video_embeds`.
    """

    loss: torch.FloatTensor | None = None
    logits_per_video: torch.FloatTensor | None = None
    logits_per_text: torch.FloatTensor | None = None
    video_embeds: torch.FloatTensor | None = None
    text_embeds: torch.FloatTensor | None = None
    video_model_output: ViCLIPVisionModelOutput | None = None
    text_model_output: BaseModelOutputWithPooling | None = None

    @property
    def vision_model_output(self) -> ViCLIPVisionModelOutput | None:
        """`video_model_output`, under the name [`CLIPOutput`] gives the vision tower's output."""
        return self.video_model_output

    def to_tuple(self) -> tuple[Any]:
        return tuple(v.to_tuple() if isinstance(v, ModelOutput) else v for v in self.values())


class ViCLIPLayerNorm(nn.LayerNorm):
    """
    LayerNorm computed in float32 (input, weight and bias) and cast back to the input's dtype, as the reference text
    tower does. In float32 it is a plain LayerNorm; in bfloat16 and float16 it keeps the normalisation exact.
    """

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        input_dtype = hidden_states.dtype
        weight = self.weight.float() if self.weight is not None else None
        bias = self.bias.float() if self.bias is not None else None
        normalized = nn.functional.layer_norm(hidden_states.float(), self.normalized_shape, weight, bias, self.eps)
        return normalized.to(input_dtype)


class ViCLIPDropPath(nn.Module):
    """Stochastic depth: drops the whole residual branch of a sample with probability `drop_prob` in training."""

    def __init__(self, drop_prob: float):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return hidden_states
        keep_prob = 1.0 - self.drop_prob
        mask_shape = (hidden_states.shape[0],) + (1,) * (hidden_states.ndim - 1)
        keep_mask = hidden_states.new_empty(mask_shape).bernoulli_(keep_prob)
        return hidden_states * keep_mask / keep_prob

    def extra_repr(self) -> str:
        return f"p={self.drop_prob}"


class ViCLIPVisionEmbeddings(nn.Module):
    """
    Turns frames into the token sequence of the joint space-time transformer: per-frame patches plus a spatial
    position table, a temporal position table on patch tokens, optional random token dropping, then one class token.
    """

    def __init__(self, config: ViCLIPVisionConfig):
        super().__init__()
        self.config = config
        self.embed_dim = config.hidden_size
        self.image_size = config.image_size
        self.patch_size = config.patch_size
        self.num_frames = config.num_frames

        self.class_embedding = nn.Parameter(torch.randn(self.embed_dim))
        self.patch_embedding = nn.Conv2d(
            config.num_channels, self.embed_dim, kernel_size=self.patch_size, stride=self.patch_size, bias=False
        )
        self.num_patches = (self.image_size // self.patch_size) ** 2
        self.num_positions = self.num_patches + 1
        self.position_embedding = nn.Embedding(self.num_positions, self.embed_dim)
        self.temporal_embedding = nn.Parameter(torch.zeros(1, self.num_frames, self.embed_dim))

    def spatial_position_embeddings(self, grid_height: int, grid_width: int) -> torch.Tensor:
        """The `[1 + grid_height * grid_width, dim]` position table, resized bicubically for another patch grid."""
        position_embedding = self.position_embedding.weight
        side = int(math.sqrt(self.num_patches))
        if grid_height == side and grid_width == side:
            return position_embedding
        class_position, patch_positions = position_embedding[:1], position_embedding[1:]
        patch_positions = patch_positions.reshape(1, side, side, self.embed_dim).permute(0, 3, 1, 2)
        patch_positions = nn.functional.interpolate(
            patch_positions.float(), size=(grid_height, grid_width), mode="bicubic", align_corners=False
        ).to(position_embedding.dtype)
        patch_positions = patch_positions.permute(0, 2, 3, 1).reshape(grid_height * grid_width, self.embed_dim)
        return torch.cat([class_position, patch_positions], dim=0)

    def temporal_position_embeddings(self, num_frames: int) -> torch.Tensor:
        """
        The `[1, num_frames, dim]` temporal table. A single frame gets the mean of the table (the reference's rule for
        images); another frame count gets the table resampled linearly over time.
        """
        if num_frames == self.num_frames:
            return self.temporal_embedding
        if num_frames == 1:
            return self.temporal_embedding.mean(dim=1, keepdim=True)
        resampled = nn.functional.interpolate(
            self.temporal_embedding.transpose(1, 2).float(), size=num_frames, mode="linear", align_corners=False
        )
        return resampled.transpose(1, 2).to(self.temporal_embedding.dtype)

    @staticmethod
    def random_kept_token_indices(batch_size: int, num_tokens: int, mask_ratio: float, device: torch.device):
        """
        Draws, per sample, which of `num_tokens` patch tokens survive masking: `int(mask_ratio * num_tokens)` are
        dropped uniformly at random, the rest are returned in ascending order, shape `(batch_size, kept_tokens)`.
        """
        num_dropped = int(mask_ratio * num_tokens)
        noise = torch.rand(batch_size, num_tokens, device=device)
        kept = noise.argsort(dim=1)[:, num_dropped:]
        return kept.sort(dim=1).values

    def forward(
        self, pixel_values: torch.Tensor, mask_ratio: float = 0.0, interpolate_pos_encoding: bool = False
    ) -> tuple[torch.Tensor, torch.LongTensor | None]:
        batch_size, num_frames, num_channels, height, width = pixel_values.shape
        if num_frames < 1 or height < self.patch_size or width < self.patch_size:
            raise ValueError(
                f"pixel_values holds {num_frames} frames of {height}x{width}, but the model needs at least one frame "
                f"of at least one {self.patch_size}x{self.patch_size} patch (`interpolate_pos_encoding=True` resamples "
                "the position tables, not the frames): give more frames, or larger ones."
            )
        if not interpolate_pos_encoding and (
            num_frames not in (1, self.num_frames) or height != self.image_size or width != self.image_size
        ):
            raise ValueError(
                f"pixel_values holds {num_frames} frames of {height}x{width}, but this model was trained on "
                f"{self.num_frames} (or 1 for images) of {self.image_size}x{self.image_size}: resize the frames (the "
                "video processor does), or pass `interpolate_pos_encoding=True` to resample the position tables."
            )

        patch = self.patch_size
        grid_height, grid_width = height // patch, width // patch
        num_tokens = grid_height * grid_width * num_frames
        # each frame's patches as rows, space-major and time-minor (token `patch * frames + frame`): the patch
        # embedding is a matmul, and masking drops patches before they are embedded rather than after
        patches = pixel_values[..., : grid_height * patch, : grid_width * patch].reshape(
            batch_size, num_frames, num_channels, grid_height, patch, grid_width, patch
        )
        patches = patches.permute(0, 3, 5, 1, 2, 4, 6).reshape(batch_size, num_tokens, num_channels * patch * patch)
        position_embeddings = self.spatial_position_embeddings(grid_height, grid_width)
        token_positions = position_embeddings[1:, None] + self.temporal_position_embeddings(num_frames)[0]
        token_positions = token_positions.reshape(num_tokens, self.embed_dim)  # spatial row + temporal row

        kept_token_indices = None
        if mask_ratio > 0.0:
            kept_token_indices = self.random_kept_token_indices(batch_size, num_tokens, mask_ratio, patches.device)
            patches = patches.gather(1, kept_token_indices.unsqueeze(-1).expand(-1, -1, patches.shape[-1]))
            token_positions = token_positions[kept_token_indices]  # [batch, kept_tokens, dim]
        weight = self.patch_embedding.weight
        patch_embeds = nn.functional.linear(patches.to(weight.dtype), weight.reshape(self.embed_dim, -1))
        patch_embeds = patch_embeds + token_positions  # [batch, tokens, dim]

        class_embeds = (self.class_embedding + position_embeddings[0]).expand(batch_size, 1, -1)
        embeddings = torch.cat([class_embeds.to(patch_embeds.dtype), patch_embeds], dim=1)  # [batch, 1 + tokens, dim]
        return embeddings, kept_token_indices


class ViCLIPTextEmbeddings(nn.Module):
    """Token embeddings plus learned absolute positions (32 of them)."""

    def __init__(self, config: ViCLIPTextConfig):
        super().__init__()
        self.token_embedding = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embedding = nn.Embedding(config.max_position_embeddings, config.hidden_size)

    def forward(self, input_ids: torch.LongTensor) -> torch.Tensor:
        sequence_length = input_ids.shape[-1]
        max_positions = self.position_embedding.num_embeddings
        if sequence_length > max_positions:
            raise ValueError(
                f"input_ids has {sequence_length} tokens but the text tower holds {max_positions} positions: "
                f"tokenize with `max_length={max_positions}, truncation=True` (the ViCLIP processor does)."
            )
        return self.token_embedding(input_ids) + self.position_embedding.weight[:sequence_length]


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs: Unpack[TransformersKwargs],
) -> tuple[torch.Tensor, torch.Tensor]:
    attn_weights = torch.matmul(query, key.transpose(-1, -2)) * scaling
    if attention_mask is not None:
        attn_weights = attn_weights + attention_mask
    attn_weights = nn.functional.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query.dtype)
    attn_weights = nn.functional.dropout(attn_weights, p=dropout, training=module.training)
    attn_output = torch.matmul(attn_weights, value)
    attn_output = attn_output.transpose(1, 2).contiguous()  # [batch, tokens, heads, head_dim]
    return attn_output, attn_weights


class ViCLIPAttention(nn.Module):
    """Multi-head self-attention with one fused query-key-value projection (rows: queries, keys, values)."""

    def __init__(self, config: ViCLIPVisionConfig | ViCLIPTextConfig):
        super().__init__()
        self.config = config
        self.embed_dim = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_dim = self.embed_dim // self.num_heads
        self.scale = self.head_dim**-0.5
        self.dropout = config.attention_dropout
        self.is_causal = False
        self.qkv = nn.Linear(self.embed_dim, 3 * self.embed_dim)
        self.out_proj = nn.Linear(self.embed_dim, self.embed_dim)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch_size, num_tokens, _ = hidden_states.shape
        qkv = self.qkv(hidden_states).view(batch_size, num_tokens, 3, self.num_heads, self.head_dim)
        # each [batch, heads, tokens, head_dim], contiguous: torch's CPU attention kernels run faster on them
        queries, keys, values = qkv.permute(2, 0, 3, 1, 4).contiguous().unbind(0)
        if batch_size == 0:  # an empty batch has nothing to attend to; the attention kernels reject it
            return self.out_proj(values.transpose(1, 2).reshape(0, num_tokens, self.embed_dim)), None

        attention_interface: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        attn_output, attn_weights = attention_interface(
            self,
            queries,
            keys,
            values,
            attention_mask,
            scaling=self.scale,
            dropout=self.dropout if self.training else 0.0,
            **kwargs,
        )
        attn_output = attn_output.reshape(batch_size, num_tokens, self.embed_dim)
        return self.out_proj(attn_output), attn_weights


class ViCLIPMLP(nn.Module):
    """Two-layer feed-forward block with the configured activation (QuickGELU for every released checkpoint)."""

    def __init__(self, config: ViCLIPVisionConfig | ViCLIPTextConfig):
        super().__init__()
        self.config = config
        self.activation_fn = ACT2FN[config.hidden_act]
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.activation_fn(self.fc1(hidden_states)))


class ViCLIPEncoderLayer(GradientCheckpointingLayer):
    """Pre-LayerNorm transformer block with optional stochastic depth on both residual branches."""

    def __init__(self, config: ViCLIPVisionConfig | ViCLIPTextConfig, drop_path_rate: float = 0.0):
        super().__init__()
        self.layer_norm1 = ViCLIPLayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.self_attn = ViCLIPAttention(config)
        self.layer_norm2 = ViCLIPLayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = ViCLIPMLP(config)
        self.drop_path = ViCLIPDropPath(drop_path_rate)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> torch.Tensor:
        attn_output, _ = self.self_attn(self.layer_norm1(hidden_states), attention_mask=attention_mask, **kwargs)
        hidden_states = hidden_states + self.drop_path(attn_output)
        hidden_states = hidden_states + self.drop_path(self.mlp(self.layer_norm2(hidden_states)))
        return hidden_states


class ViCLIPEncoder(nn.Module):
    """A stack of [`ViCLIPEncoderLayer`]; stochastic depth grows linearly from 0 to `drop_path_rate`."""

    def __init__(self, config: ViCLIPVisionConfig | ViCLIPTextConfig, drop_path_rate: float = 0.0):
        super().__init__()
        num_layers = config.num_hidden_layers
        rates = [drop_path_rate * i / (num_layers - 1) if num_layers > 1 else 0.0 for i in range(num_layers)]
        self.layers = nn.ModuleList([ViCLIPEncoderLayer(config, rate) for rate in rates])

    def forward(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> BaseModelOutput:
        hidden_states = inputs_embeds
        for layer in self.layers:
            hidden_states = layer(hidden_states, attention_mask, **kwargs)
        return BaseModelOutput(last_hidden_state=hidden_states)


class ViCLIPPreTrainedModel(PreTrainedModel):
    """Weight initialisation and the attention-backend and checkpointing capabilities shared by every ViCLIP model."""

    config: ViCLIPConfig
    base_model_prefix = "viclip"
    input_modalities = ("video", "text")
    supports_gradient_checkpointing = True
    _no_split_modules = ["ViCLIPEncoderLayer", "ViCLIPVisionEmbeddings", "ViCLIPTextEmbeddings"]
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_attention_backend = True
    _can_record_outputs = {"hidden_states": ViCLIPEncoderLayer, "attentions": ViCLIPAttention}
    # The losses are batch means that take no `num_items_in_batch`: the Trainer must scale them for accumulation.
    accepts_loss_kwargs = False

    @staticmethod
    def _finalize_model_loading(model, load_config, loading_info):
        """transformers' end of loading, with weights whose shapes differ from the config's an error that names the
        tensors, both shapes and the config's sizes (transformers' own error points at its report)."""
        try:
            return PreTrainedModel._finalize_model_loading(model, load_config, loading_info)
        except RuntimeError as error:
            if load_config.ignore_mismatched_sizes or not loading_info.mismatched_keys:
                raise
            source = load_config.pretrained_model_name_or_path
            raise ValueError(shape_mismatch_message(model.config, source, loading_info.mismatched_keys)) from error

    def _init_weights(self, module: nn.Module) -> None:
        """
        Random initialisation, used for pretraining from scratch and for new heads. transformers initialises remote
        code module by module, and only modules that own parameters directly, so every rule here is attached to such
        a module: Linear and Embedding weights are normal with std `initializer_range` (LayerNorms ones and zeros),
        the vision embeddings and the projections follow CLIP, and the temporal table starts at zero.
        """
        super()._init_weights(module)
        factor = self.config.initializer_factor
        if isinstance(module, ViCLIPVisionEmbeddings):
            init.normal_(module.class_embedding, std=module.embed_dim**-0.5 * factor)
            init.normal_(module.position_embedding.weight, std=module.embed_dim**-0.5 * factor)
            init.normal_(module.patch_embedding.weight, std=module.config.initializer_range * factor)
            init.zeros_(module.temporal_embedding)
        elif isinstance(module, ViCLIPModel):
            init.normal_(module.visual_projection.weight, std=module.visual_projection.in_features**-0.5 * factor)
            init.normal_(module.text_projection.weight, std=module.text_projection.in_features**-0.5 * factor)
            init.constant_(module.logit_scale, module.config.logit_scale_init_value)
        elif isinstance(module, ViCLIPVisionModelWithProjection):
            init.normal_(module.visual_projection.weight, std=module.visual_projection.in_features**-0.5 * factor)
        elif isinstance(module, ViCLIPTextModelWithProjection):
            init.normal_(module.text_projection.weight, std=module.text_projection.in_features**-0.5 * factor)


def _as_video_batch(pixel_values: torch.Tensor | None) -> torch.Tensor:
    """`pixel_values` as `[batch, frames, channels, height, width]` (a 4-D batch of images: one frame each)."""
    if pixel_values is None or pixel_values.ndim not in (4, 5) or not pixel_values.is_floating_point():
        described = "None" if pixel_values is None else f"{pixel_values.dtype} of shape {list(pixel_values.shape)}"
        raise ValueError(
            f"pixel_values must be normalised float frames of shape [batch, frames, 3, height, width] (or [batch, 3, "
            f"height, width] for images), got {described}: the video processor gives them, e.g. "
            "`ViCLIPVideoProcessor.from_pretrained(folder)(videos)['pixel_values']`."
        )
    return pixel_values if pixel_values.ndim == 5 else pixel_values.unsqueeze(1)


# A tower loads from a full ViCLIP folder as CLIP's towers load from a CLIP folder: its keys there carry the tower's
# name as a prefix, which loading removes (and saving restores, so the folder keeps one layout).
register_checkpoint_conversion_mapping("ViCLIPVisionModel", [PrefixChange(prefix_to_remove="vision_model")], True)
register_checkpoint_conversion_mapping("ViCLIPTextModel", [PrefixChange(prefix_to_remove="text_model")], True)


class ViCLIPLogitScaleAsVector(ConversionOps):
    """Loads a 0-d `logit_scale` (folders saved before it had shape [1]) with shape [1]; saving leaves it as it is."""

    @torch.no_grad()
    def convert(
        self, input_dict: dict[str, Any], source_patterns: list[str], target_patterns: list[str], **kwargs
    ) -> dict[str, torch.Tensor]:
        tensors = next(iter(input_dict.values()))
        return {target_patterns[0]: (tensors[0] if isinstance(tensors, list) else tensors).reshape(1)}

    @property
    def reverse_op(self) -> ConversionOps:
        return self


register_checkpoint_conversion_mapping(
    "ViCLIPModel",
    [
        WeightConverter(
            source_patterns="logit_scale", target_patterns="logit_scale", operations=[ViCLIPLogitScaleAsVector()]
        )
    ],
    True,
)
# What a full ViCLIP folder holds besides a tower: loading only that tower leaves them unused, by design.
_VISION_FREE_KEYS = [r"^text_model\.", r"^text_projection\.", r"^logit_scale$"]
_TEXT_FREE_KEYS = [r"^vision_model\.", r"^visual_projection\.", r"^logit_scale$"]


class ViCLIPVisionModel(ViCLIPPreTrainedModel):
    """
    The ViCLIP video tower without projection: joint space-time attention over `1 + frames * patches` tokens; its
    `pooler_output` is the final class token.

    Example:

    ```python
    >>> import torch
    >>> from viclip import ViCLIPVisionConfig, ViCLIPVisionModel
    >>> model = ViCLIPVisionModel(ViCLIPVisionConfig(image_size=32, num_frames=4, hidden_size=64,
    ...     intermediate_size=128, num_hidden_layers=2, num_attention_heads=4))
    >>> model(torch.randn(2, 4, 3, 32, 32)).pooler_output.shape
    torch.Size([2, 64])
    ```
    """

    config: ViCLIPVisionConfig
    main_input_name = "pixel_values"
    input_modalities = ("video",)
    _keys_to_ignore_on_load_unexpected = [*_VISION_FREE_KEYS, r"^visual_projection\."]

    def __init__(self, config: ViCLIPVisionConfig):
        super().__init__(config)
        self.embeddings = ViCLIPVisionEmbeddings(config)
        self.pre_layernorm = ViCLIPLayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.encoder = ViCLIPEncoder(config, drop_path_rate=config.drop_path_rate)
        self.post_layernorm = ViCLIPLayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.patch_embedding

    @capture_outputs(tie_last_hidden_states=False)
    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        mask_ratio: float | None = None,
        interpolate_pos_encoding: bool = False,
        **kwargs: Unpack[TransformersKwargs],
    ) -> ViCLIPVisionModelOutput:
        r"""
        Args:
            pixel_values (`torch.FloatTensor` of shape `(batch, frames, channels, height, width)`):
                Normalised frames (see [`ViCLIPVideoProcessor`]); a 4-D `(batch, channels, height, width)` tensor is a
                batch of images (one-frame videos).
            mask_ratio (`float`, *optional*):
                Share of patch tokens to drop at random (pretraining), in [0, 1); none by default, in training mode
                too. A training setting passed by the training loop (`run_pretrain.py --mask_ratio`), never saved in
                the config.
            interpolate_pos_encoding (`bool`, defaults to `False`):
                Resample the position tables for other resolutions and frame counts.

        A batch of 0 videos gives outputs with a batch dimension of 0.
        """
        pixel_values = _as_video_batch(pixel_values)
        mask_ratio = 0.0 if mask_ratio is None else mask_ratio
        if not 0.0 <= mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in [0, 1) (the share of patch tokens dropped), got {mask_ratio}.")
        hidden_states, kept_token_indices = self.embeddings(
            pixel_values, mask_ratio=mask_ratio, interpolate_pos_encoding=interpolate_pos_encoding
        )
        hidden_states = self.pre_layernorm(hidden_states)
        encoder_outputs = self.encoder(inputs_embeds=hidden_states, **kwargs)
        last_hidden_state = self.post_layernorm(encoder_outputs.last_hidden_state)
        return ViCLIPVisionModelOutput(
            last_hidden_state=last_hidden_state,
            pooler_output=last_hidden_state[:, 0],
            kept_token_indices=kept_token_indices,
        )


class ViCLIPTextModel(ViCLIPPreTrainedModel):
    """
    The ViCLIP text tower without projection: the causal CLIP text transformer over 32 tokens; its `pooler_output` is
    the final state of the end-of-text token (the position of the largest id, as in the reference).
    """

    config: ViCLIPTextConfig
    input_modalities = ("text",)
    _keys_to_ignore_on_load_unexpected = [*_TEXT_FREE_KEYS, r"^text_projection\."]

    def __init__(self, config: ViCLIPTextConfig):
        super().__init__(config)
        self.embeddings = ViCLIPTextEmbeddings(config)
        self.encoder = ViCLIPEncoder(config)
        self.final_layer_norm = ViCLIPLayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.token_embedding

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.token_embedding = value

    @capture_outputs(tie_last_hidden_states=False)
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> BaseModelOutputWithPooling:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch, tokens)`):
                Token ids from the ViCLIP tokenizer: start, text, end, padding (at most 32).
            attention_mask (`torch.Tensor` of shape `(batch, tokens)`, *optional*):
                1 for real tokens, 0 for padding. Padding follows the end token, so the causal attention makes the
                pooled embedding independent of it.

        A batch of 0 captions gives outputs with a batch dimension of 0.
        """
        if attention_mask is not None and attention_mask.shape != input_ids.shape:
            raise ValueError(
                f"attention_mask has shape {list(attention_mask.shape)} but input_ids has shape "
                f"{list(input_ids.shape)}: give one mask row per caption, as the tokenizer does."
            )
        hidden_states = self.embeddings(input_ids)
        attention_mask = create_causal_mask(
            config=self.config, inputs_embeds=hidden_states, attention_mask=attention_mask, cache=None
        )
        kwargs.pop("is_causal", None)
        encoder_outputs = self.encoder(
            inputs_embeds=hidden_states, attention_mask=attention_mask, is_causal=True, **kwargs
        )
        last_hidden_state = self.final_layer_norm(encoder_outputs.last_hidden_state)
        end_positions = input_ids.to(device=last_hidden_state.device).argmax(dim=-1)
        pooled_output = last_hidden_state[torch.arange(len(end_positions), device=end_positions.device), end_positions]
        return BaseModelOutputWithPooling(last_hidden_state=last_hidden_state, pooler_output=pooled_output)


class ViCLIPModel(ViCLIPPreTrainedModel):
    """
    ViCLIP dual encoder: video and text towers with projections into one space, compared by cosine similarity scaled by
    `exp(logit_scale)` (at most 100).

    Example:

    ```python
    >>> import torch
    >>> from viclip import ViCLIPConfig, ViCLIPModel
    >>> config = ViCLIPConfig(projection_dim=16,
    ...     text_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4),
    ...     vision_config=dict(image_size=32, num_frames=4, hidden_size=32, intermediate_size=64,
    ...                        num_hidden_layers=1, num_attention_heads=4))
    >>> model = ViCLIPModel(config).eval()
    >>> videos = torch.randn(2, 4, 3, 32, 32)
    >>> input_ids = torch.tensor([[49406, 320, 49407, 0], [49406, 321, 322, 49407]])
    >>> model(input_ids=input_ids, pixel_values=videos).logits_per_video.shape
    torch.Size([2, 2])
    ```
    """

    config: ViCLIPConfig

    def __init__(self, config: ViCLIPConfig):
        super().__init__(config)
        self.text_model = ViCLIPTextModel._from_config(config.text_config)
        self.vision_model = ViCLIPVisionModel._from_config(config.vision_config)
        self.visual_projection = nn.Linear(config.vision_config.hidden_size, config.projection_dim, bias=False)
        self.text_projection = nn.Linear(config.text_config.hidden_size, config.projection_dim, bias=False)
        # one element in one dimension (as SigLIP's), not a 0-d scalar: FSDP2's `fully_shard` cannot shard 0-d parameters
        self.logit_scale = nn.Parameter(torch.tensor([config.logit_scale_init_value]))
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        # the text tower's token table, the one embedding that `input_ids` index: accelerate's FSDP2 preparation and
        # `resize_token_embeddings` ask for it
        return self.text_model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.text_model.set_input_embeddings(value)

    @can_return_tuple
    def get_video_features(
        self,
        pixel_values: torch.Tensor,
        mask_ratio: float | None = None,
        interpolate_pos_encoding: bool = False,
        **kwargs: Unpack[TransformersKwargs],
    ) -> ViCLIPVisionModelOutput:
        r"""
        Embeds videos. Returns the video tower's output whose `pooler_output` is the projected (not normalised)
        embedding, shape `(batch, projection_dim)`. Arguments as in [`ViCLIPVisionModel.forward`].

        Example:

        ```python
        >>> with torch.inference_mode():
        ...     video_embeds = model.get_video_features(pixel_values=inputs["pixel_values"]).pooler_output
        ```
        """
        video_outputs = self.vision_model(
            pixel_values=pixel_values,
            mask_ratio=mask_ratio,
            interpolate_pos_encoding=interpolate_pos_encoding,
            return_dict=True,
            **kwargs,
        )
        video_outputs.pooler_output = self.visual_projection(video_outputs.pooler_output)
        return video_outputs

    @can_return_tuple
    def get_text_features(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> BaseModelOutputWithPooling:
        r"""
        Embeds captions. Returns the text tower's output whose `pooler_output` is the projected (not normalised)
        embedding, shape `(batch, projection_dim)`.
        """
        text_outputs = self.text_model(input_ids=input_ids, attention_mask=attention_mask, return_dict=True, **kwargs)
        text_outputs.pooler_output = self.text_projection(text_outputs.pooler_output)
        return text_outputs

    def clamped_logit_scale(self) -> torch.Tensor:
        """
        The multiplier of the cosine similarities: `exp(logit_scale)` with `logit_scale` capped at
        `config.logit_scale_max` (ln 100: the reference clamps its temperature from below at 0.01). A float32 scalar
        whatever the weights' dtype. The cap applies to the value only: the gradient reaches `logit_scale` at and
        above the cap too, as in the reference, which caps its parameter in place (without gradient) before each
        training forward; the training scripts cap the parameter after every optimizer step.
        """
        logit_scale = self.logit_scale.float()
        excess = (logit_scale - self.config.logit_scale_max).clamp(min=0).detach()
        return (logit_scale - excess).exp().squeeze(0)

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        pixel_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        return_loss: bool | None = None,
        mask_ratio: float | None = None,
        interpolate_pos_encoding: bool = False,
        **kwargs: Unpack[TransformersKwargs],
    ) -> ViCLIPOutput:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(text_batch, tokens)`): caption token ids.
            pixel_values (`torch.FloatTensor` of shape `(video_batch, frames, 3, height, width)`): normalised frames.
            attention_mask (`torch.Tensor` of shape `(text_batch, tokens)`, *optional*): 0 on padding.
            return_loss (`bool`, *optional*): also return the symmetric contrastive loss (row `i` of the texts is
                the caption of video `i`); across processes, negatives come from every rank.
            mask_ratio (`float`, *optional*): token masking of the video tower, see [`ViCLIPVisionModel.forward`].
            interpolate_pos_encoding (`bool`, defaults to `False`): allow other resolutions and frame counts.
        """
        video_outputs = self.get_video_features(
            pixel_values=pixel_values,
            mask_ratio=mask_ratio,
            interpolate_pos_encoding=interpolate_pos_encoding,
            **kwargs,
        )
        text_outputs = self.get_text_features(input_ids=input_ids, attention_mask=attention_mask, **kwargs)

        video_embeds = nn.functional.normalize(video_outputs.pooler_output, dim=-1)
        text_embeds = nn.functional.normalize(text_outputs.pooler_output, dim=-1)
        logit_scale = self.clamped_logit_scale()
        logits_per_video = logit_scale * video_embeds @ text_embeds.T  # [video_batch, text_batch]

        loss = None
        if return_loss:  # in float32 whatever the weights' dtype (a no-op for float32 weights)
            loss = viclip_contrastive_loss(video_embeds.float(), text_embeds.float(), logit_scale)

        return ViCLIPOutput(
            loss=loss,
            logits_per_video=logits_per_video,
            logits_per_text=logits_per_video.T,
            video_embeds=video_embeds,
            text_embeds=text_embeds,
            video_model_output=video_outputs,
            text_model_output=text_outputs,
        )


class ViCLIPVisionModelWithProjection(ViCLIPPreTrainedModel):
    """
    The ViCLIP video tower and its projection: video embeddings in the space shared with the text, as
    [`ViCLIPModel.get_video_features`] gives them, without loading the text tower. Loads from a full ViCLIP folder.

    Example:

    ```python
    >>> from viclip import ViCLIPVisionModelWithProjection
    >>> model = ViCLIPVisionModelWithProjection.from_pretrained("path/to/viclip")  # doctest: +SKIP
    >>> video_embeds = model(pixel_values=inputs["pixel_values"]).video_embeds  # doctest: +SKIP
    ```
    """

    config: ViCLIPVisionConfig
    base_model_prefix = "vision_model"
    main_input_name = "pixel_values"
    input_modalities = ("video",)
    _keys_to_ignore_on_load_unexpected = _VISION_FREE_KEYS

    def __init__(self, config: ViCLIPVisionConfig):
        super().__init__(config)
        self.vision_model = ViCLIPVisionModel._from_config(config)
        self.visual_projection = nn.Linear(config.hidden_size, config.projection_dim, bias=False)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.vision_model.embeddings.patch_embedding

    @can_return_tuple
    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        mask_ratio: float | None = None,
        interpolate_pos_encoding: bool = False,
        **kwargs: Unpack[TransformersKwargs],
    ) -> ViCLIPVisionModelWithProjectionOutput:
        r"""
        Args: as in [`ViCLIPVisionModel.forward`].
        """
        video_outputs = self.vision_model(
            pixel_values=pixel_values,
            mask_ratio=mask_ratio,
            interpolate_pos_encoding=interpolate_pos_encoding,
            **kwargs,
        )
        return ViCLIPVisionModelWithProjectionOutput(
            video_embeds=self.visual_projection(video_outputs.pooler_output),
            last_hidden_state=video_outputs.last_hidden_state,
            hidden_states=video_outputs.hidden_states,
            attentions=video_outputs.attentions,
            kept_token_indices=video_outputs.kept_token_indices,
        )


class ViCLIPTextModelWithProjection(ViCLIPPreTrainedModel):
    """
    The ViCLIP text tower and its projection: caption embeddings in the space shared with the videos, as
    [`ViCLIPModel.get_text_features`] gives them, without loading the video tower. Loads from a full ViCLIP folder.

    Example:

    ```python
    >>> from viclip import ViCLIPTextModelWithProjection
    >>> model = ViCLIPTextModelWithProjection.from_pretrained("path/to/viclip")  # doctest: +SKIP
    >>> inputs = tokenizer(["a dog catching a frisbee"], return_tensors="pt")  # doctest: +SKIP
    >>> text_embeds = model(**inputs).text_embeds  # doctest: +SKIP
    ```
    """

    config: ViCLIPTextConfig
    base_model_prefix = "text_model"
    input_modalities = ("text",)
    _keys_to_ignore_on_load_unexpected = _TEXT_FREE_KEYS

    def __init__(self, config: ViCLIPTextConfig):
        super().__init__(config)
        self.text_model = ViCLIPTextModel._from_config(config)
        self.text_projection = nn.Linear(config.hidden_size, config.projection_dim, bias=False)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.text_model.embeddings.token_embedding

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.text_model.embeddings.token_embedding = value

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> ViCLIPTextModelWithProjectionOutput:
        r"""
        Args: as in [`ViCLIPTextModel.forward`].
        """
        text_outputs = self.text_model(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        return ViCLIPTextModelWithProjectionOutput(
            text_embeds=self.text_projection(text_outputs.pooler_output),
            last_hidden_state=text_outputs.last_hidden_state,
            hidden_states=text_outputs.hidden_states,
            attentions=text_outputs.attentions,
        )


class ViCLIPForVideoClassification(ViCLIPPreTrainedModel):
    """
    The ViCLIP video tower and its projection with a linear classifier on the projected video embedding. Loads from a
    [`ViCLIPModel`] checkpoint: the towers load, the classifier is new (its weights can be set from text embeddings of
    the class names for a zero-shot start).
    """

    config: ViCLIPConfig
    main_input_name = "pixel_values"
    input_modalities = ("video",)
    # a ViCLIPModel checkpoint also holds the text tower, which classification does not use
    _keys_to_ignore_on_load_unexpected = _VISION_FREE_KEYS

    def __init__(self, config: ViCLIPConfig):
        super().__init__(config)
        self.vision_model = ViCLIPVisionModel._from_config(config.vision_config)
        self.visual_projection = nn.Linear(config.vision_config.hidden_size, config.projection_dim, bias=False)
        self.classifier = nn.Linear(config.projection_dim, config.num_labels)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        # the patch embedding, as for the video tower alone (accelerate's FSDP2 preparation asks every model for it)
        return self.vision_model.get_input_embeddings()

    @can_return_tuple
    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        interpolate_pos_encoding: bool = False,
        **kwargs: Unpack[TransformersKwargs],
    ) -> ImageClassifierOutput:
        r"""
        Args:
            pixel_values (`torch.FloatTensor` of shape `(batch, frames, 3, height, width)`): normalised frames.
            labels (`torch.LongTensor` of shape `(batch,)`, *optional*): class ids in `[0, config.num_labels)`; gives
                the cross-entropy loss.
            interpolate_pos_encoding (`bool`, defaults to `False`): allow other resolutions and frame counts.
        """
        video_outputs = self.vision_model(
            pixel_values=pixel_values, interpolate_pos_encoding=interpolate_pos_encoding, mask_ratio=0.0, **kwargs
        )
        video_embeds = self.visual_projection(video_outputs.pooler_output)
        logits = self.classifier(video_embeds)
        loss = None
        if labels is not None:
            if labels.shape[0] != logits.shape[0] or logits.shape[0] == 0:
                raise ValueError(
                    f"labels holds {labels.shape[0]} class ids for {logits.shape[0]} videos: the loss needs one per video."
                )
            loss = self.loss_function(labels, logits, self.config)
        return ImageClassifierOutput(
            loss=loss, logits=logits, hidden_states=video_outputs.hidden_states, attentions=video_outputs.attentions
        )


__all__ = [
    "ViCLIPForVideoClassification",
    "ViCLIPModel",
    "ViCLIPPreTrainedModel",
    "ViCLIPTextModel",
    "ViCLIPTextModelWithProjection",
    "ViCLIPVisionModel",
    "ViCLIPVisionModelWithProjection",
]
