"""Behaviour of the ViCLIP models: shapes, input checks, attention backends, masking, checkpointing, position tables,
CLIP initialisation, classification, half precision, the towers and `...WithProjection` models, weight-decay
exemptions, config validation, and loading through the Auto classes and as remote code."""

import json
import math
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from transformers.testing_utils import CaptureLogger
from transformers.utils import logging

from viclip import (
    ViCLIPConfig,
    ViCLIPForVideoClassification,
    ViCLIPModel,
    ViCLIPTextConfig,
    ViCLIPTextModel,
    ViCLIPTextModelWithProjection,
    ViCLIPVisionConfig,
    ViCLIPVisionModel,
    ViCLIPVisionModelWithProjection,
)

from .conftest import tiny_config_kwargs


CAPTION_IDS = torch.tensor([[49406, 320, 1929, 49407, 0, 0], [49406, 550, 49407, 0, 0, 0]])
CAPTION_MASK = (CAPTION_IDS != 0).long()


def tiny_model(seed: int = 0, **config_overrides) -> ViCLIPModel:
    torch.manual_seed(seed)
    return ViCLIPModel(ViCLIPConfig(**tiny_config_kwargs(**config_overrides))).eval()


def tiny_vision_model(seed: int = 0, **vision_overrides) -> ViCLIPVisionModel:
    torch.manual_seed(seed)
    fields = {**tiny_config_kwargs()["vision_config"], **vision_overrides}
    model = ViCLIPVisionModel(ViCLIPVisionConfig(**fields)).eval()
    with torch.no_grad():  # a non-zero temporal table, so that frame order and count matter
        model.embeddings.temporal_embedding.normal_()
    return model


def random_videos(batch: int = 2, frames: int = 4, size: int = 32, seed: int = 1) -> torch.Tensor:
    return torch.randn(batch, frames, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("preset", "millions"), [("viclip-b16", 149.60), ("viclip-l14", 427.59)])
def test_presets_have_the_released_parameter_counts(preset, millions):
    with torch.device("meta"):
        model = ViCLIPModel(ViCLIPConfig.from_preset(preset))
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 2) == millions


def test_unknown_preset_names_the_choices():
    with pytest.raises(ValueError, match="viclip-b16"):
        ViCLIPConfig.from_preset("viclip-h14")


def test_config_exposes_num_frames_at_top_level(tiny_config):
    assert tiny_config.num_frames == tiny_config.vision_config.num_frames == 4


def test_video_and_text_features_are_projected_embeddings():
    model = tiny_model()
    with torch.no_grad():
        video_embeds = model.get_video_features(pixel_values=random_videos()).pooler_output
        text_embeds = model.get_text_features(input_ids=CAPTION_IDS).pooler_output
    assert video_embeds.shape == (2, 16)
    assert text_embeds.shape == (2, 16)


def test_image_batch_is_a_batch_of_one_frame_videos():
    model = tiny_model()
    images = random_videos(frames=1)[:, 0]
    with torch.no_grad():
        from_images = model.get_video_features(pixel_values=images).pooler_output
        from_videos = model.get_video_features(pixel_values=images.unsqueeze(1)).pooler_output
    torch.testing.assert_close(from_images, from_videos, rtol=0, atol=0)


def test_one_frame_gets_the_mean_of_the_temporal_table():
    model = tiny_vision_model()
    temporal = model.embeddings.temporal_position_embeddings(1)
    torch.testing.assert_close(temporal, model.embeddings.temporal_embedding.mean(dim=1, keepdim=True))


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((2, 3, 32), "shape \\[batch, frames, 3, height, width\\]"),
        ((2, 3, 3, 32, 32), "trained on 4"),
        ((2, 4, 3, 48, 48), "48x48"),
    ],
)
def test_bad_pixel_values_shape_raises_naming_the_expected_shape(shape, message):
    model = tiny_vision_model()
    with pytest.raises(ValueError, match=message):
        model(torch.zeros(shape))


def test_eager_and_sdpa_attention_agree():
    model = tiny_model()
    outputs = {}
    for implementation in ("eager", "sdpa"):
        model.set_attn_implementation(implementation)
        with torch.no_grad():
            outputs[implementation] = model(
                input_ids=CAPTION_IDS, pixel_values=random_videos(), attention_mask=CAPTION_MASK
            )
    for name in ("video_embeds", "text_embeds", "logits_per_video"):
        torch.testing.assert_close(outputs["eager"][name], outputs["sdpa"][name], rtol=0, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_flash_attention_2_agrees_with_sdpa_on_gpu():
    pytest.importorskip("flash_attn")
    model = tiny_model().to("cuda", torch.bfloat16)
    videos = random_videos().to("cuda", torch.bfloat16)
    embeds = {}
    for implementation in ("sdpa", "flash_attention_2"):
        model.set_attn_implementation(implementation)
        with torch.no_grad():
            embeds[implementation] = model.get_video_features(pixel_values=videos).pooler_output.float()
    cosine = torch.nn.functional.cosine_similarity(embeds["sdpa"], embeds["flash_attention_2"])
    assert cosine.min() > 0.999


def test_output_attentions_and_hidden_states_cover_every_layer():
    model = tiny_vision_model()
    model.set_attn_implementation("eager")
    with torch.no_grad():
        outputs = model(random_videos(), output_attentions=True, output_hidden_states=True)
    num_tokens = 1 + 4 * 4  # class token + frames * patches
    assert len(outputs.attentions) == 2
    assert outputs.attentions[0].shape == (2, 4, num_tokens, num_tokens)
    assert len(outputs.hidden_states) == 3  # embeddings + one per layer
    assert outputs.hidden_states[0].shape == (2, num_tokens, 32)


def test_masked_forward_keeps_a_fixed_number_of_patch_tokens_and_the_class_token():
    model = tiny_vision_model()
    with torch.no_grad():
        outputs = model(random_videos(), mask_ratio=0.75)
    num_patch_tokens = 4 * 4
    kept = num_patch_tokens - int(0.75 * num_patch_tokens)
    assert outputs.kept_token_indices.shape == (2, kept)
    assert outputs.last_hidden_state.shape == (2, 1 + kept, 32)
    assert torch.all(outputs.kept_token_indices.diff(dim=1) > 0)  # original order kept


def test_masked_forward_equals_an_unmasked_forward_over_exactly_the_kept_tokens():
    model = tiny_vision_model()
    videos = random_videos()
    with torch.no_grad():
        masked = model(videos, mask_ratio=0.5)
        tokens, _ = model.embeddings(videos)  # every token, nothing dropped
        kept = masked.kept_token_indices
        patch_tokens = tokens[:, 1:].gather(1, kept.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))
        kept_tokens = torch.cat([tokens[:, :1], patch_tokens], dim=1)
        unmasked = model.encoder(model.pre_layernorm(kept_tokens)).last_hidden_state
        unmasked = model.post_layernorm(unmasked)
    torch.testing.assert_close(masked.last_hidden_state, unmasked, rtol=0, atol=1e-6)


def test_masking_is_a_forward_argument_never_applied_by_default_even_in_training():
    model = tiny_vision_model().train()
    videos = random_videos()
    assert model(videos).kept_token_indices is None
    assert model(videos, mask_ratio=0.5).kept_token_indices.shape == (2, 8)


def test_a_saved_mask_ratio_of_an_older_folder_is_dropped_with_a_warning_and_never_masks(tmp_path):
    ViCLIPModel(ViCLIPConfig(**tiny_config_kwargs())).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["vision_config"]["mask_ratio"] = 0.5  # as run_pretrain.py wrote it before
    (tmp_path / "config.json").write_text(json.dumps(config))
    logger = logging.get_logger("viclip.configuration_viclip")
    with CaptureLogger(logger) as captured:
        model = ViCLIPModel.from_pretrained(tmp_path).train()
    assert "vision_config.mask_ratio of an older ViCLIP folder is ignored" in captured.out
    assert model.vision_model(random_videos()).kept_token_indices is None
    model.save_pretrained(tmp_path / "resaved")
    assert "mask_ratio" not in json.loads((tmp_path / "resaved" / "config.json").read_text())["vision_config"]


def test_mask_indices_are_drawn_on_the_device_of_the_input():
    model = tiny_vision_model()
    with torch.no_grad():
        outputs = model(random_videos(), mask_ratio=0.5)
    assert outputs.kept_token_indices.device == outputs.last_hidden_state.device


def test_gradient_checkpointing_gives_the_same_gradients():
    gradients = []
    for checkpointing in (False, True):
        model = tiny_model(seed=3).train()
        if checkpointing:
            model.activation_checkpointing_enable()
        loss = model(
            input_ids=CAPTION_IDS, pixel_values=random_videos(), attention_mask=CAPTION_MASK, return_loss=True
        ).loss
        loss.backward()
        gradients.append({name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None})
    assert gradients[0].keys() == gradients[1].keys()
    for name in gradients[0]:
        torch.testing.assert_close(gradients[0][name], gradients[1][name], rtol=0, atol=1e-6, msg=name)


def test_other_frame_counts_resample_the_temporal_table_linearly():
    model = tiny_vision_model(num_frames=8)
    with torch.no_grad():
        model.embeddings.temporal_embedding.copy_(torch.arange(8.0).view(1, 8, 1).expand(1, 8, 32))
    resampled = model.embeddings.temporal_position_embeddings(4)
    # linear resampling of 0..7 onto 4 frame centres: 0.5, 2.5, 4.5, 6.5
    torch.testing.assert_close(resampled[0, :, 0], torch.tensor([0.5, 2.5, 4.5, 6.5]))
    with torch.no_grad():
        outputs = model(random_videos(frames=4), interpolate_pos_encoding=True)
    assert outputs.pooler_output.shape == (2, 32)


def test_four_frames_on_an_eight_frame_model_need_interpolation():
    model = tiny_vision_model(num_frames=8)
    with pytest.raises(ValueError, match="interpolate_pos_encoding=True"):
        model(random_videos(frames=4))


@pytest.mark.parametrize(
    ("pixel_values", "described"),
    [
        (torch.zeros(1, 0, 3, 32, 32), "0 frames of 32x32"),
        (torch.zeros(1, 4, 3, 8, 32), "4 frames of 8x32"),
        (torch.zeros(1, 4, 3, 32, 0), "4 frames of 32x0"),
    ],
    ids=["zero-frames", "shorter-than-a-patch", "zero-width"],
)
def test_frames_with_no_patch_are_refused_with_interpolation_too(pixel_values, described):
    model = tiny_vision_model()
    with pytest.raises(
        ValueError, match=rf"holds {described}, but the model needs at least one frame of at least one 16x16"
    ):
        model(pixel_values, interpolate_pos_encoding=True)


def test_256px_frames_on_a_224px_model_resample_the_spatial_table():
    model = tiny_vision_model(image_size=224, patch_size=16)
    with torch.no_grad():
        outputs = model(random_videos(batch=1, size=256), interpolate_pos_encoding=True)
        at_224 = model(random_videos(batch=1, size=224)).last_hidden_state
    assert outputs.last_hidden_state.shape == (1, 1 + 4 * 16 * 16, 32)
    assert at_224.shape == (1, 1 + 4 * 14 * 14, 32)
    table = model.embeddings.spatial_position_embeddings(14, 14)
    torch.testing.assert_close(table, model.embeddings.position_embedding.weight)  # no resampling at 224


def test_logits_use_the_logit_scale_clamped_at_ln_100():
    model = tiny_model()
    with torch.no_grad():
        model.logit_scale.fill_(math.log(1000.0))
        outputs = model(input_ids=CAPTION_IDS, pixel_values=random_videos())
    cosine = outputs.video_embeds @ outputs.text_embeds.T
    torch.testing.assert_close(outputs.logits_per_video, 100.0 * cosine)
    torch.testing.assert_close(outputs.logits_per_text, outputs.logits_per_video.T)


def test_logit_scale_gets_a_gradient_at_its_cap_as_the_reference_temperature_does():
    model = tiny_model()  # starts at ln 100, the cap (float32 rounds it just above)
    model(input_ids=CAPTION_IDS, pixel_values=random_videos(), return_loss=True).loss.backward()
    assert model.logit_scale.grad.abs().item() > 0


def test_a_folder_saved_with_a_0d_logit_scale_loads_it_with_shape_1(tmp_path):
    from safetensors.torch import load_file, save_file

    model = tiny_model()
    model.save_pretrained(tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    weights["logit_scale"] = torch.tensor(2.0)  # as folders were saved before FSDP2 support
    save_file(weights, tmp_path / "model.safetensors", metadata={"format": "pt"})
    loaded = ViCLIPModel.from_pretrained(tmp_path)
    torch.testing.assert_close(loaded.logit_scale.data, torch.tensor([2.0]))
    loaded.save_pretrained(tmp_path / "again")
    assert load_file(tmp_path / "again" / "model.safetensors")["logit_scale"].shape == (1,)


def test_contrastive_loss_is_the_symmetric_cross_entropy_of_the_logits():
    model = tiny_model()
    with torch.no_grad():
        outputs = model(input_ids=CAPTION_IDS, pixel_values=random_videos(), return_loss=True)
    targets = torch.arange(2)
    expected = (
        torch.nn.functional.cross_entropy(outputs.logits_per_video, targets)
        + torch.nn.functional.cross_entropy(outputs.logits_per_text, targets)
    ) / 2
    torch.testing.assert_close(outputs.loss, expected)


def test_classifier_loads_the_towers_of_a_viclip_checkpoint_and_adds_a_new_head(tmp_path):
    model = tiny_model()
    model.save_pretrained(tmp_path)
    classifier = ViCLIPForVideoClassification.from_pretrained(
        tmp_path, id2label={0: "left", 1: "right", 2: "up"}, label2id={"left": 0, "right": 1, "up": 2}
    ).eval()
    torch.testing.assert_close(classifier.visual_projection.weight, model.visual_projection.weight)
    torch.testing.assert_close(
        classifier.vision_model.embeddings.class_embedding, model.vision_model.embeddings.class_embedding
    )
    outputs = classifier(pixel_values=random_videos(), labels=torch.tensor([0, 2]))
    assert outputs.logits.shape == (2, 3)
    assert outputs.loss.ndim == 0
    assert classifier.config.id2label[2] == "up"


def test_new_weights_start_small():
    torch.manual_seed(0)
    config = ViCLIPConfig(**tiny_config_kwargs(), id2label={0: "left", 1: "right"})
    classifier = ViCLIPForVideoClassification(config)
    assert classifier.classifier.weight.std() < 0.05
    assert classifier.vision_model.encoder.layers[0].self_attn.qkv.weight.std() < 0.05
    assert torch.count_nonzero(classifier.vision_model.embeddings.temporal_embedding) == 0
    model = ViCLIPModel(config)
    assert model.logit_scale.item() == pytest.approx(math.log(100.0))
    torch.testing.assert_close(model.visual_projection.weight.std(), torch.tensor(32**-0.5), rtol=0.2, atol=0)


def test_auto_classes_resolve_viclip(tmp_path):
    from transformers import AutoConfig, AutoModel, AutoModelForVideoClassification

    tiny_model().save_pretrained(tmp_path)
    assert isinstance(AutoConfig.from_pretrained(tmp_path), ViCLIPConfig)
    assert isinstance(AutoModel.from_pretrained(tmp_path), ViCLIPModel)
    assert isinstance(AutoModelForVideoClassification.from_pretrained(tmp_path), ViCLIPForVideoClassification)


def test_saved_folder_loads_as_remote_code_in_a_process_that_never_imports_viclip(tmp_path):
    model = tiny_model()
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["auto_map"]["AutoModel"] == "modeling_viclip.ViCLIPModel"
    assert (tmp_path / "modeling_viclip.py").exists() and (tmp_path / "model.safetensors").exists()

    videos = random_videos()
    torch.save({"videos": videos, "input_ids": CAPTION_IDS}, tmp_path / "inputs.pt")
    with torch.no_grad():
        expected = model(input_ids=CAPTION_IDS, pixel_values=videos).logits_per_video
    script = textwrap.dedent(
        f"""
        import sys, torch
        from transformers import AutoModel
        model = AutoModel.from_pretrained({str(tmp_path)!r}, trust_remote_code=True).eval()
        assert "viclip" not in sys.modules, "the package must not be imported"
        inputs = torch.load({str(tmp_path / "inputs.pt")!r})
        with torch.no_grad():
            logits = model(input_ids=inputs["input_ids"], pixel_values=inputs["videos"]).logits_per_video
        torch.save(logits, {str(tmp_path / "logits.pt")!r})
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path, capture_output=True)
    torch.testing.assert_close(torch.load(tmp_path / "logits.pt"), expected, rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------------------------------
# Half precision


def tiny_model_of_class(model_class, seed: int = 0):
    """A tiny random model of any ViCLIP class, with the config class it takes."""
    torch.manual_seed(seed)
    config = ViCLIPConfig(**tiny_config_kwargs(), id2label={0: "a", 1: "b", 2: "c"})
    if model_class.config_class is ViCLIPVisionConfig:
        config = config.vision_config
    elif model_class.config_class is ViCLIPTextConfig:
        config = config.text_config
    return model_class(config)


def model_inputs(model_class) -> dict:
    """Inputs of a forward pass that gives something to backpropagate from."""
    inputs = {}
    if "video" in model_class.input_modalities:
        inputs["pixel_values"] = random_videos()
    if "text" in model_class.input_modalities:
        inputs.update(input_ids=CAPTION_IDS, attention_mask=CAPTION_MASK)
    if model_class is ViCLIPModel:
        inputs["return_loss"] = True
    if model_class is ViCLIPForVideoClassification:
        inputs["labels"] = torch.tensor([0, 2])
    return inputs


def scalar_to_backpropagate(outputs) -> torch.Tensor:
    if getattr(outputs, "loss", None) is not None:
        return outputs.loss
    tensors = [value for value in outputs.values() if torch.is_tensor(value) and value.is_floating_point()]
    return sum(tensor.float().sum() for tensor in tensors)


ALL_MODEL_CLASSES = [
    ViCLIPModel,
    ViCLIPVisionModel,
    ViCLIPTextModel,
    ViCLIPVisionModelWithProjection,
    ViCLIPTextModelWithProjection,
    ViCLIPForVideoClassification,
]


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
@pytest.mark.parametrize("model_class", ALL_MODEL_CLASSES, ids=lambda cls: cls.__name__)
def test_half_precision_weights_run_forward_and_backward_on_cpu(model_class, dtype):
    model = tiny_model_of_class(model_class).to(dtype).train()
    inputs = {
        name: value.to(dtype) if isinstance(value, torch.Tensor) and value.is_floating_point() else value
        for name, value in model_inputs(model_class).items()
    }
    scalar_to_backpropagate(model(**inputs)).backward()
    gradients = [parameter.grad for parameter in model.parameters() if parameter.grad is not None]
    assert gradients and all(gradient.dtype == dtype for gradient in gradients)
    assert all(torch.isfinite(gradient).all() for gradient in gradients)


@pytest.mark.parametrize(
    "load",
    [
        lambda folder: ViCLIPModel.from_pretrained(folder, dtype=torch.bfloat16),
        lambda folder: ViCLIPModel.from_pretrained(folder, torch_dtype=torch.bfloat16),
        lambda folder: ViCLIPModel.from_pretrained(folder, dtype="bfloat16"),
        lambda folder: ViCLIPModel.from_pretrained(folder).to(torch.bfloat16),
        lambda folder: ViCLIPModel.from_pretrained(folder).half(),
    ],
    ids=["dtype", "torch_dtype", "dtype-string", "to", "half"],
)
def test_every_way_of_loading_half_precision_weights_runs_a_forward_pass(tiny_viclip_folder, load):
    model = load(tiny_viclip_folder).eval()
    assert model.dtype in (torch.bfloat16, torch.float16)
    assert {parameter.dtype for parameter in model.parameters()} == {model.dtype}
    with torch.no_grad():
        outputs = model(input_ids=CAPTION_IDS, pixel_values=random_videos().to(model.dtype))
    assert outputs.video_embeds.dtype == model.dtype
    assert torch.isfinite(outputs.logits_per_video).all()


def test_layer_norms_compute_in_float32_with_upcast_weights():
    from viclip.modeling_viclip import ViCLIPLayerNorm

    torch.manual_seed(0)
    norm = ViCLIPLayerNorm(64, eps=1e-5)
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    norm = norm.to(torch.bfloat16)
    hidden_states = (torch.randn(2, 5, 64) * 30 + 7).to(torch.bfloat16)
    expected = torch.nn.functional.layer_norm(
        hidden_states.float(), (64,), norm.weight.float(), norm.bias.float(), 1e-5
    ).to(torch.bfloat16)
    output = norm(hidden_states)
    assert output.dtype == torch.bfloat16
    torch.testing.assert_close(output, expected, rtol=0, atol=0)


def bf16_vs_fp32_cosines(config: ViCLIPConfig, num_frames: int) -> tuple[float, float]:
    """Cosine similarity of the bf16 and fp32 embeddings of one video and one caption, random weights."""
    torch.manual_seed(0)
    model = ViCLIPModel(config).eval()
    with torch.no_grad():  # a non-zero temporal table, as trained checkpoints have
        model.vision_model.embeddings.temporal_embedding.normal_(std=0.02)
    size = config.vision_config.image_size
    video = torch.randn(1, num_frames, 3, size, size, generator=torch.Generator().manual_seed(1))
    caption = torch.tensor([[49406, 320, 1929, 539, 320, 2368, 49407] + [0] * 25])
    embeds = {}
    for dtype in (torch.float32, torch.bfloat16):
        model = model.to(dtype)
        with torch.inference_mode():
            embeds[dtype] = (
                model.get_video_features(pixel_values=video.to(dtype)).pooler_output.float(),
                model.get_text_features(input_ids=caption).pooler_output.float(),
            )
    video_cosine, text_cosine = (
        torch.nn.functional.cosine_similarity(full, half).item()
        for full, half in zip(embeds[torch.float32], embeds[torch.bfloat16], strict=True)
    )
    return video_cosine, text_cosine


def test_bf16_embeddings_match_fp32_with_b16_widths():
    """The fast twin of the B/16 test below: B/16 widths, heads and frame size, two layers per tower, one frame."""
    config = ViCLIPConfig.from_preset(
        "viclip-b16", vision_config={"num_hidden_layers": 2}, text_config={"num_hidden_layers": 2}
    )
    video_cosine, text_cosine = bf16_vs_fp32_cosines(config, num_frames=1)
    assert video_cosine >= 0.999
    assert text_cosine >= 0.999


@pytest.mark.slow
def test_bf16_embeddings_match_fp32_on_a_b16_sized_model():
    """ViCLIP-B/16 with random weights (two frames of 224x224 to keep the CPU time in check)."""
    config = ViCLIPConfig.from_preset("viclip-b16", vision_config={"num_frames": 2})
    video_cosine, text_cosine = bf16_vs_fp32_cosines(config, num_frames=2)
    assert video_cosine >= 0.999
    assert text_cosine >= 0.999


# ---------------------------------------------------------------------------------------------------------------------
# The towers and the `...WithProjection` models


def test_towers_load_the_trained_towers_of_a_full_folder(tmp_path):
    model = tiny_model()
    model.save_pretrained(tmp_path)
    vision = ViCLIPVisionModel.from_pretrained(tmp_path).eval()
    text = ViCLIPTextModel.from_pretrained(tmp_path).eval()
    videos = random_videos()
    with torch.no_grad():
        torch.testing.assert_close(vision(videos).last_hidden_state, model.vision_model(videos).last_hidden_state)
        torch.testing.assert_close(
            text(CAPTION_IDS, attention_mask=CAPTION_MASK).pooler_output,
            model.text_model(CAPTION_IDS, attention_mask=CAPTION_MASK).pooler_output,
        )


def test_models_with_projection_give_the_full_models_embeddings(tmp_path):
    model = tiny_model()
    model.save_pretrained(tmp_path)
    vision = ViCLIPVisionModelWithProjection.from_pretrained(tmp_path).eval()
    text = ViCLIPTextModelWithProjection.from_pretrained(tmp_path).eval()
    videos = random_videos()
    with torch.no_grad():
        torch.testing.assert_close(
            vision(pixel_values=videos).video_embeds, model.get_video_features(pixel_values=videos).pooler_output
        )
        torch.testing.assert_close(
            text(input_ids=CAPTION_IDS, attention_mask=CAPTION_MASK).text_embeds,
            model.get_text_features(input_ids=CAPTION_IDS, attention_mask=CAPTION_MASK).pooler_output,
        )


def test_models_with_projection_hold_only_their_tower_and_projection(tmp_path):
    tiny_model().save_pretrained(tmp_path)
    vision = ViCLIPVisionModelWithProjection.from_pretrained(tmp_path)
    text = ViCLIPTextModelWithProjection.from_pretrained(tmp_path)
    assert {name.split(".")[0] for name, _ in vision.named_parameters()} == {"vision_model", "visual_projection"}
    assert {name.split(".")[0] for name, _ in text.named_parameters()} == {"text_model", "text_projection"}
    assert vision.config.projection_dim == text.config.projection_dim == 16  # the full model's, from its config


@pytest.mark.parametrize(
    "model_class",
    [ViCLIPVisionModel, ViCLIPTextModel, ViCLIPVisionModelWithProjection, ViCLIPTextModelWithProjection],
    ids=lambda cls: cls.__name__,
)
def test_loading_a_tower_from_a_full_folder_leaves_nothing_missing_and_reports_no_unused_key(tmp_path, model_class):
    tiny_model().save_pretrained(tmp_path)
    _, loading_info = model_class.from_pretrained(tmp_path, output_loading_info=True)
    assert not loading_info["missing_keys"]
    assert not loading_info["unexpected_keys"]  # the other tower's weights are expected to go unused
    assert not loading_info["mismatched_keys"]


def test_a_saved_tower_reloads_and_loads_through_the_auto_classes(tmp_path):
    from transformers import AutoModel, AutoModelForTextEncoding

    tiny_model().save_pretrained(tmp_path / "full")
    vision = ViCLIPVisionModel.from_pretrained(tmp_path / "full").eval()
    text = ViCLIPTextModel.from_pretrained(tmp_path / "full").eval()
    vision.save_pretrained(tmp_path / "vision")
    text.save_pretrained(tmp_path / "text")
    reloaded_vision = AutoModel.from_pretrained(tmp_path / "vision").eval()
    reloaded_text = AutoModelForTextEncoding.from_pretrained(tmp_path / "text").eval()
    assert type(reloaded_vision) is ViCLIPVisionModel
    assert type(reloaded_text) is ViCLIPTextModel
    videos = random_videos()
    with torch.no_grad():
        torch.testing.assert_close(reloaded_vision(videos).pooler_output, vision(videos).pooler_output, rtol=0, atol=0)
        torch.testing.assert_close(
            reloaded_text(CAPTION_IDS).pooler_output, text(CAPTION_IDS).pooler_output, rtol=0, atol=0
        )


def test_auto_model_for_text_encoding_loads_the_text_tower_of_a_full_folder_as_clips_does(tmp_path):
    from transformers import AutoModelForTextEncoding

    model = tiny_model()
    model.save_pretrained(tmp_path)
    text = AutoModelForTextEncoding.from_pretrained(tmp_path).eval()
    assert type(text) is ViCLIPTextModel
    with torch.no_grad():
        torch.testing.assert_close(
            text(CAPTION_IDS).pooler_output, model.text_model(CAPTION_IDS).pooler_output, rtol=0, atol=0
        )


def test_dual_encoder_output_offers_the_video_tower_output_under_clips_name():
    model = tiny_model()
    with torch.no_grad():
        outputs = model(input_ids=CAPTION_IDS, pixel_values=random_videos())
    assert outputs.vision_model_output is outputs.video_model_output
    assert "vision_model_output" not in outputs.keys()  # one field; the tuple form is unchanged


def test_hub_id_that_cannot_be_reached_fails_at_once_saying_what_to_do(tmp_path):
    code = (
        "import time, viclip\n"
        "start = time.monotonic()\n"
        "try:\n"
        "    viclip.ViCLIPModel.from_pretrained('OpenGVLab/ViCLIP')\n"
        "except OSError as error:\n"
        "    print(round(time.monotonic() - start, 1), error)\n"
    )
    offline = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    environment = {key: value for key, value in os.environ.items() if key not in offline}
    # a Hub address nothing listens on: every request is refused, as without a network (no retries counted here)
    environment.update(HF_ENDPOINT="http://127.0.0.1:9", HF_HOME=str(tmp_path / "hf_home"))
    result = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=120)
    seconds, message = result.stdout.strip().split(" ", 1)
    assert float(seconds) < 5, result.stderr  # transformers' own path retries each file for about 20 s
    assert "Cannot load 'OpenGVLab/ViCLIP': the Hub (http://127.0.0.1:9) cannot be reached" in message
    assert "hf download OpenGVLab/ViCLIP" in message and "HF_HUB_OFFLINE=1" in message


TOWERS_AS_REMOTE_CODE = """
import sys, torch
from transformers import AutoModel
from transformers.dynamic_module_utils import get_class_from_dynamic_module
full, vision_folder = sys.argv[1], sys.argv[2]
inputs = torch.load(sys.argv[3])
outputs = {}
with torch.no_grad():
    for name in ("ViCLIPVisionModel", "ViCLIPTextModel", "ViCLIPVisionModelWithProjection",
                 "ViCLIPTextModelWithProjection"):
        model_class = get_class_from_dynamic_module(f"modeling_viclip.{name}", full)
        model = model_class.from_pretrained(full).eval()
        if "Vision" in name:
            output = model(pixel_values=inputs["videos"])
        else:
            output = model(input_ids=inputs["input_ids"])
        outputs[name] = output[0] if "WithProjection" in name else output.pooler_output
    tower = AutoModel.from_pretrained(vision_folder, trust_remote_code=True).eval()
    outputs["AutoModel"] = tower(pixel_values=inputs["videos"]).pooler_output
    outputs["AutoModel class"] = type(tower).__name__
assert "viclip" not in sys.modules, "the package must not be imported"
torch.save(outputs, sys.argv[4])
"""


def test_towers_and_projection_models_load_as_remote_code_in_a_process_that_never_imports_viclip(tmp_path):
    model = tiny_model()
    model.save_pretrained(tmp_path / "full")
    ViCLIPVisionModel.from_pretrained(tmp_path / "full").save_pretrained(tmp_path / "vision")
    videos = random_videos()
    torch.save({"videos": videos, "input_ids": CAPTION_IDS}, tmp_path / "inputs.pt")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            TOWERS_AS_REMOTE_CODE,
            str(tmp_path / "full"),
            str(tmp_path / "vision"),
            str(tmp_path / "inputs.pt"),
            str(tmp_path / "outputs.pt"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = torch.load(tmp_path / "outputs.pt")
    with torch.no_grad():
        expected = {
            "ViCLIPVisionModel": model.vision_model(videos).pooler_output,
            "ViCLIPTextModel": model.text_model(CAPTION_IDS).pooler_output,
            "ViCLIPVisionModelWithProjection": model.get_video_features(pixel_values=videos).pooler_output,
            "ViCLIPTextModelWithProjection": model.get_text_features(input_ids=CAPTION_IDS).pooler_output,
            "AutoModel": model.vision_model(videos).pooler_output,
        }
    assert outputs.pop("AutoModel class") == "ViCLIPVisionModel"
    for name, value in expected.items():
        torch.testing.assert_close(outputs[name], value, rtol=0, atol=0, msg=name)


# ---------------------------------------------------------------------------------------------------------------------
# Weight decay and the logit scale


def test_clamped_logit_scale_is_float32_and_capped_at_ln_100():
    model = tiny_model().to(torch.bfloat16)
    with torch.no_grad():
        model.logit_scale.fill_(math.log(1000.0))
    scale = model.clamped_logit_scale()
    assert scale.dtype == torch.float32
    assert scale.item() == pytest.approx(100.0)


# ---------------------------------------------------------------------------------------------------------------------
# Model inputs


@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
def test_an_empty_batch_gives_empty_outputs(attn_implementation):
    model = tiny_model()
    model.set_attn_implementation(attn_implementation)
    with torch.no_grad():
        outputs = model(input_ids=CAPTION_IDS[:0], pixel_values=random_videos()[:0])
        masked = model.vision_model(random_videos()[:0], mask_ratio=0.5)
    assert outputs.video_embeds.shape == (0, 16)
    assert outputs.text_embeds.shape == (0, 16)
    assert outputs.logits_per_video.shape == (0, 0)
    assert masked.last_hidden_state.shape == (0, 1 + 8, 32)


def test_the_loss_of_an_empty_batch_is_a_clear_error():
    with pytest.raises(ValueError, match="at least one video-caption pair"):
        tiny_model()(input_ids=CAPTION_IDS[:0], pixel_values=random_videos()[:0], return_loss=True)


def test_the_classification_loss_of_an_empty_batch_is_a_clear_error():
    classifier = ViCLIPForVideoClassification(ViCLIPConfig(**tiny_config_kwargs(), num_labels=3))
    assert classifier(pixel_values=random_videos()[:0]).logits.shape == (0, 3)
    with pytest.raises(ValueError, match="labels holds 0 class ids for 0 videos"):
        classifier(pixel_values=random_videos()[:0], labels=torch.zeros(0, dtype=torch.long))


def test_attention_mask_of_another_batch_than_input_ids_is_refused():
    model = tiny_model()
    with pytest.raises(ValueError, match=r"attention_mask has shape \[1, 6\] but input_ids has shape \[2, 6\]"):
        model.get_text_features(input_ids=CAPTION_IDS, attention_mask=CAPTION_MASK[:1])


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64])
def test_integer_pixel_values_are_refused_with_a_pointer_to_the_processor(dtype):
    model = tiny_model()
    with pytest.raises(ValueError, match="video processor"):
        model.get_video_features(pixel_values=torch.zeros(2, 4, 3, 32, 32, dtype=dtype))


@pytest.mark.parametrize("mask_ratio", [1.0, 1.5, -0.1])
def test_forward_refuses_a_mask_ratio_outside_0_1(mask_ratio):
    model = tiny_model()
    with pytest.raises(ValueError, match=r"mask_ratio must be in \[0, 1\)"):
        model(input_ids=CAPTION_IDS, pixel_values=random_videos(), mask_ratio=mask_ratio)


# ---------------------------------------------------------------------------------------------------------------------
# Config validation


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"vision_config": {"num_attention_heads": 0}}, "vision_config.num_attention_heads"),
        ({"text_config": {"num_attention_heads": 0}}, "text_config.num_attention_heads"),
        ({"vision_config": {"patch_size": 0}}, "vision_config.patch_size"),
        ({"vision_config": {"image_size": -32}}, "vision_config.image_size"),
        ({"vision_config": {"num_frames": 0}}, "vision_config.num_frames"),
        ({"text_config": {"hidden_size": -32}}, "text_config.hidden_size"),
        ({"text_config": {"vocab_size": 0}}, "text_config.vocab_size"),
        ({"projection_dim": -1}, "projection_dim"),
        ({"vision_config": {"hidden_act": "swishy"}}, "vision_config.hidden_act"),
        ({"logit_scale_max": float("nan")}, "logit_scale_max"),
        ({"logit_scale_init_value": float("inf")}, "logit_scale_init_value"),
        ({"text_config": {"layer_norm_eps": -1e-5}}, "text_config.layer_norm_eps"),
        ({"vision_config": {"layer_norm_eps": 0.0}}, "vision_config.layer_norm_eps"),
        ({"text_config": {"attention_dropout": -0.1}}, "text_config.attention_dropout"),
        ({"vision_config": {"attention_dropout": 1.0}}, "vision_config.attention_dropout"),
        ({"vision_config": {"drop_path_rate": -0.1}}, "vision_config.drop_path_rate"),
        ({"vision_config": {"num_attention_heads": 5}}, "vision_config.num_attention_heads"),
        ({"vision_config": {"patch_size": 12}}, "vision_config.patch_size"),
    ],
)
def test_invalid_config_field_is_a_value_error_naming_it(overrides, field):
    kwargs = tiny_config_kwargs()
    for key, value in overrides.items():
        kwargs[key] = {**kwargs[key], **value} if isinstance(value, dict) else value
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        ViCLIPConfig(**kwargs)


def test_invalid_field_in_a_config_json_is_a_value_error_naming_it(tmp_path):
    ViCLIPConfig(**tiny_config_kwargs()).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["vision_config"]["patch_size"] = 0
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"vision_config\.patch_size must be a positive integer, got 0"):
        ViCLIPConfig.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"vision_config\.patch_size"):
        ViCLIPModel.from_pretrained(tmp_path)


def test_invalid_value_set_by_update_is_a_value_error_naming_it(tiny_config):
    with pytest.raises(ValueError, match=r"vision_config\.num_attention_heads must be a positive integer"):
        tiny_config.vision_config.update({"num_attention_heads": 0})
    with pytest.raises(ValueError, match="logit_scale_max must be a finite number"):
        tiny_config.update({"logit_scale_max": float("nan")})
    with pytest.raises(ValueError, match=r"text_config\.hidden_act"):
        tiny_config.text_config.hidden_act = "not_an_activation"


def test_towers_follow_the_shared_projection_dim_and_initializer_factor(tiny_config):
    assert tiny_config.vision_config.projection_dim == tiny_config.text_config.projection_dim == 16
    tiny_config.projection_dim = 24
    tiny_config.initializer_factor = 0.5
    assert tiny_config.vision_config.projection_dim == tiny_config.text_config.projection_dim == 24
    assert tiny_config.vision_config.initializer_factor == tiny_config.text_config.initializer_factor == 0.5


# --- config.json that does not describe the weights ------------------------------------------------------------------


def _saved_with_edited_config(folder, edit) -> str:
    """A tiny model folder whose config.json is then rewritten by `edit(config_dict)` (or replaced by its text)."""
    tiny_model().save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    text = edit(config)
    (folder / "config.json").write_text(text if isinstance(text, str) else json.dumps(config))
    return str(folder)


def test_a_config_json_that_is_not_json_is_an_error_saying_where_and_how_to_restore_it(tmp_path):
    folder = _saved_with_edited_config(tmp_path / "cut", lambda config: json.dumps(config)[:200])
    with pytest.raises(OSError, match=r"cut/config\.json is not valid JSON \(.*line 1, column \d+\).*Restore it"):
        ViCLIPModel.from_pretrained(folder)


def test_a_config_whose_channels_do_not_match_the_weights_names_the_tensor_and_both_shapes(tmp_path):
    folder = _saved_with_edited_config(
        tmp_path / "gray", lambda config: config["vision_config"].update(num_channels=1)
    )
    with pytest.raises(ValueError) as error:
        ViCLIPModel.from_pretrained(folder)
    assert "vision_model.embeddings.patch_embedding.weight: weights [32, 3, 16, 16], config [32, 1, 16, 16]" in str(
        error.value
    )
    assert "vision_config: hidden_size 32, num_channels 1" in str(error.value) and "Restore" in str(error.value)


def test_a_tower_whose_config_does_not_match_the_weights_names_its_tensors(tmp_path):
    folder = _saved_with_edited_config(
        tmp_path / "wide", lambda config: config["vision_config"].update(hidden_size=64)
    )
    with pytest.raises(
        ValueError, match=r"tensor\(s\) of the weights do not have the shapes.*vision_config: hidden_size 64"
    ):
        ViCLIPVisionModel.from_pretrained(folder)


def test_a_config_with_a_null_tower_is_refused_naming_it(tmp_path):
    folder = _saved_with_edited_config(tmp_path / "null", lambda config: config.update(vision_config=None))
    with pytest.raises(ValueError, match=r"config\.json of .*null sets vision_config to null"):
        ViCLIPModel.from_pretrained(folder)
