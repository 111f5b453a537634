"""Behaviour of the ViCLIP models: shapes, input checks, attention backends, masking, checkpointing, position tables,
CLIP initialisation, classification, and loading through the Auto classes and as remote code."""

import json
import math
import subprocess
import sys
import textwrap

import pytest
import torch

from viclip import (
    ViCLIPConfig,
    ViCLIPForVideoClassification,
    ViCLIPModel,
    ViCLIPVisionConfig,
    ViCLIPVisionModel,
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
        ((2, 4, 1, 32, 32), "3 channels"),
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


def test_masking_is_off_in_eval_mode_and_follows_the_config_in_training():
    model = tiny_vision_model(mask_ratio=0.5)
    videos = random_videos()
    assert model(videos).kept_token_indices is None
    model.train()
    assert model(videos).kept_token_indices.shape == (2, 8)
    assert model(videos, mask_ratio=0.0).kept_token_indices is None


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


def test_from_clip_pretrained_reproduces_clip_image_and_text_embeddings(tmp_path):
    from transformers import CLIPConfig, CLIPModel

    clip_config = CLIPConfig(
        projection_dim=16,
        text_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4},
        vision_config={
            "image_size": 32,
            "patch_size": 8,
            "hidden_size": 48,
            "intermediate_size": 96,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "hidden_act": "gelu",
        },
    )
    torch.manual_seed(0)
    CLIPModel(clip_config).save_pretrained(tmp_path)
    clip = CLIPModel.from_pretrained(tmp_path).eval()
    model = ViCLIPModel.from_clip_pretrained(str(tmp_path), num_frames=8).eval()

    assert model.config.num_frames == 8
    assert model.config.vision_config.hidden_act == "gelu"  # kept from the CLIP config
    assert model.text_model.embeddings.position_embedding.num_embeddings == 32
    assert torch.count_nonzero(model.vision_model.embeddings.temporal_embedding) == 0
    torch.testing.assert_close(model.logit_scale, clip.logit_scale)
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(
            model.get_video_features(pixel_values=images.unsqueeze(1)).pooler_output,
            clip.get_image_features(pixel_values=images).pooler_output,
            rtol=0,
            atol=1e-5,
        )
        torch.testing.assert_close(
            model.get_text_features(input_ids=CAPTION_IDS, attention_mask=CAPTION_MASK).pooler_output,
            clip.get_text_features(input_ids=CAPTION_IDS, attention_mask=CAPTION_MASK).pooler_output,
            rtol=0,
            atol=1e-5,
        )


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
