# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""WiSE-FT: the mixture of a ViCLIP model with the model built from its CLIP initialisation, exactly; folders that
do not hold those two models refused before anything is mixed or written."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import CLIPConfig, CLIPModel, CLIPVisionModelWithProjection

from viclip import ViCLIPForVideoClassification, ViCLIPModel, ViCLIPProcessor
from viclip_train.convert import viclip_from_clip
from viclip_train.eval.wise_ft import DEFAULT_EXCLUDED, clip_initialisation, main, wise_ft_state_dict

from .processing_helpers import tiny_processor


TEMPORAL_TABLE = "vision_model.embeddings.temporal_embedding"


def tiny_clip_config(**vision_overrides) -> CLIPConfig:
    """A CLIP with the sizes of `tests.conftest.tiny_config_kwargs` (frames 32x32, patch 16, widths 32, 2 layers)."""
    sizes = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4}
    return CLIPConfig(
        text_config=sizes,
        vision_config={"image_size": 32, "patch_size": 16, **sizes, **vision_overrides},
        projection_dim=16,
    )


@pytest.fixture(scope="module")
def clip_and_viclip(tmp_path_factory) -> tuple[Path, Path]:
    """A saved tiny CLIP and a ViCLIP "pretrained" from it: built by `viclip_from_clip`, then every tensor moved
    (as training would), the temporal table included. The ViCLIP folder has its processor."""
    root = tmp_path_factory.mktemp("wise_ft")
    torch.manual_seed(0)
    CLIPModel(tiny_clip_config()).save_pretrained(root / "clip")
    viclip = viclip_from_clip(root / "clip", num_frames=4, hidden_act="quick_gelu")
    with torch.no_grad():
        for parameter in viclip.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
    viclip.save_pretrained(root / "viclip")
    tiny_processor().save_pretrained(root / "viclip")
    return root / "clip", root / "viclip"


def test_every_shared_tensor_is_the_exact_mixture_and_the_temporal_table_keeps_the_viclip_value(
    clip_and_viclip, tmp_path
):
    clip_folder, viclip_folder = clip_and_viclip
    coef = 0.3
    main(
        [
            "--viclip_model_name_or_path", str(viclip_folder), "--clip_model_name_or_path", str(clip_folder),
            "--output_dir", str(tmp_path / "mixed"), "--coef", str(coef),
        ]
    )  # fmt: skip
    viclip = ViCLIPModel.from_pretrained(viclip_folder).state_dict()
    clip_init = viclip_from_clip(clip_folder, num_frames=4, hidden_act="quick_gelu").state_dict()
    mixed = ViCLIPModel.from_pretrained(tmp_path / "mixed").state_dict()
    assert set(mixed) == set(viclip)
    for name, tensor in mixed.items():
        if name == TEMPORAL_TABLE:
            assert torch.equal(tensor, viclip[name])
        else:
            assert torch.equal(tensor, coef * viclip[name] + (1 - coef) * clip_init[name]), name
    assert not torch.equal(mixed["logit_scale"], viclip["logit_scale"])  # mixed too (its CLIP value differs)


def test_the_output_folder_is_complete_and_its_card_names_the_coefficient_and_sources(clip_and_viclip, tmp_path):
    clip_folder, viclip_folder = clip_and_viclip
    output = tmp_path / "mixed"
    main(
        [
            "--viclip_model_name_or_path", str(viclip_folder), "--clip_model_name_or_path", str(clip_folder),
            "--output_dir", str(output),
        ]
    )  # fmt: skip
    for name in ("model.safetensors", "config.json", "processor_config.json", "modeling_viclip.py", "README.md"):
        assert (output / name).is_file(), name
    assert "AutoModel" in json.loads((output / "config.json").read_text())["auto_map"]
    processor = ViCLIPProcessor.from_pretrained(output)
    source_processor = ViCLIPProcessor.from_pretrained(viclip_folder)
    assert processor.video_processor.to_dict() == source_processor.video_processor.to_dict()
    card = (output / "README.md").read_text()
    assert "coefficient 0.5" in card and f"`{viclip_folder.name}`" in card and f"`{clip_folder.name}`" in card
    assert str(viclip_folder) not in card and str(clip_folder) not in card  # a published card shows no local paths
    assert f"`{TEMPORAL_TABLE}`" in card


def test_coefficient_one_keeps_the_viclip_model_and_zero_gives_the_clip_initialisation(clip_and_viclip):
    clip_folder, viclip_folder = clip_and_viclip
    viclip = ViCLIPModel.from_pretrained(viclip_folder)
    clip_init = clip_initialisation(viclip.config, str(clip_folder))
    kept, _ = wise_ft_state_dict(viclip.state_dict(), clip_init.state_dict(), coef=1.0)
    assert all(torch.equal(kept[name], tensor) for name, tensor in viclip.state_dict().items())
    start, report = wise_ft_state_dict(viclip.state_dict(), clip_init.state_dict(), coef=0.0)
    for name, tensor in clip_init.state_dict().items():
        expected = viclip.state_dict()[name] if name == TEMPORAL_TABLE else tensor
        assert torch.equal(start[name], expected), name
    assert report.excluded == [TEMPORAL_TABLE] and not report.only_in_viclip and not report.shape_mismatch


def test_tensors_missing_from_either_side_or_of_another_shape_keep_the_viclip_value():
    viclip = {"shared": torch.tensor([1.0, 2.0]), "head.weight": torch.tensor([5.0]), "table": torch.ones(3)}
    viclip["counter"] = torch.tensor([7])
    clip_init = {"shared": torch.tensor([3.0, 6.0]), "table": torch.zeros(4), "counter": torch.tensor([1])}
    clip_init["clip_only"] = torch.zeros(1)
    mixed, report = wise_ft_state_dict(viclip, clip_init, coef=0.25, exclude=[])
    assert torch.equal(mixed["shared"], 0.25 * viclip["shared"] + 0.75 * clip_init["shared"])
    assert torch.equal(mixed["head.weight"], viclip["head.weight"]) and torch.equal(mixed["table"], viclip["table"])
    assert torch.equal(mixed["counter"], viclip["counter"]) and "clip_only" not in mixed
    assert report.only_in_viclip == ["head.weight"] and report.shape_mismatch == ["table"]
    assert report.not_floating_point == ["counter"] and report.only_in_clip_init == ["clip_only"]


def test_half_precision_tensors_are_mixed_in_float32_and_stored_in_their_dtype():
    viclip = {"w": torch.randn(8).to(torch.bfloat16)}
    clip_init = {"w": torch.randn(8)}
    mixed, _ = wise_ft_state_dict(viclip, clip_init, coef=0.5, exclude=[])
    assert mixed["w"].dtype == torch.bfloat16
    assert torch.equal(mixed["w"], (0.5 * viclip["w"].float() + 0.5 * clip_init["w"]).to(torch.bfloat16))


def test_a_coefficient_outside_zero_one_is_refused():
    with pytest.raises(ValueError, match=r"coefficient must lie in \[0, 1\].*1.5"):
        wise_ft_state_dict({"w": torch.ones(1)}, {"w": torch.zeros(1)}, coef=1.5)


def test_an_exclusion_that_matches_nothing_names_the_tensor_names():
    with pytest.raises(ValueError, match=r"vision_encoder\.temporal_positional_embedding'\] match no tensor"):
        wise_ft_state_dict(
            {"w": torch.ones(1)}, {"w": torch.zeros(1)}, exclude=["vision_encoder.temporal_positional_embedding"]
        )
    assert DEFAULT_EXCLUDED == (TEMPORAL_TABLE,)


def test_exclusions_take_shell_patterns():
    state = {"vision_model.embeddings.a": torch.ones(1), "vision_model.embeddings.b": torch.ones(1)}
    state["text_model.c"] = torch.ones(1)
    zeros = {name: torch.zeros(1) for name in state}
    mixed, report = wise_ft_state_dict(state, zeros, coef=0.5, exclude=["vision_model.embeddings.*"])
    assert report.excluded == ["vision_model.embeddings.a", "vision_model.embeddings.b"]
    assert mixed["text_model.c"].item() == 0.5


def test_a_clip_of_other_sizes_cannot_be_the_initialisation(clip_and_viclip, tmp_path):
    _, viclip_folder = clip_and_viclip
    CLIPModel(tiny_clip_config(image_size=64)).save_pretrained(tmp_path / "other_clip")
    viclip = ViCLIPModel.from_pretrained(viclip_folder)
    with pytest.raises(ValueError, match=r"cannot be the CLIP initialisation.*vision_config\.image_size 32 vs 64"):
        clip_initialisation(viclip.config, str(tmp_path / "other_clip"))


def _wise_ft_refusal(viclip_folder, clip_folder, output) -> str:
    """The one-line error `main` exits with (status 1, as a `SystemExit` with a message gives)."""
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "--viclip_model_name_or_path", str(viclip_folder), "--clip_model_name_or_path", str(clip_folder),
                "--output_dir", str(output),
            ]
        )  # fmt: skip
    assert isinstance(exit_info.value.code, str) and exit_info.value.code.startswith("error: ")
    assert not output.exists()  # refused before anything is written
    return exit_info.value.code


def test_a_fine_tuned_classifier_folder_is_refused_naming_the_folder_and_both_types(clip_and_viclip, tmp_path):
    clip_folder, viclip_folder = clip_and_viclip
    ViCLIPForVideoClassification.from_pretrained(viclip_folder, num_labels=3).save_pretrained(tmp_path / "classifier")
    message = _wise_ft_refusal(tmp_path / "classifier", clip_folder, tmp_path / "mixed")
    assert f"--viclip_model_name_or_path {tmp_path / 'classifier'} holds ViCLIPForVideoClassification" in message
    assert "needs ViCLIPModel (model type 'viclip')" in message and "does not hold both" in message


def test_a_clip_folder_given_as_the_viclip_one_is_refused_as_swapped(clip_and_viclip, tmp_path):
    clip_folder, viclip_folder = clip_and_viclip
    message = _wise_ft_refusal(clip_folder, viclip_folder, tmp_path / "mixed")
    assert f"--viclip_model_name_or_path {clip_folder} holds CLIPModel (model type 'clip')" in message
    assert "needs ViCLIPModel (model type 'viclip')" in message and "swapped" in message


def test_a_clip_folder_of_one_tower_is_refused_naming_its_type(clip_and_viclip, tmp_path):
    _, viclip_folder = clip_and_viclip
    CLIPVisionModelWithProjection(tiny_clip_config().vision_config).save_pretrained(tmp_path / "clip_vision")
    message = _wise_ft_refusal(viclip_folder, tmp_path / "clip_vision", tmp_path / "mixed")
    assert "holds CLIPVisionModelWithProjection (model type 'clip_vision_model')" in message
    assert "needs CLIPModel" in message


def _copy_without_text_tower(folder: Path, copy: Path) -> Path:
    """A copy of a model folder whose weights lack every tensor of the text tower."""
    shutil.copytree(folder, copy)
    weights = load_file(copy / "model.safetensors")
    text_free = {name: tensor for name, tensor in weights.items() if not name.startswith("text_model.")}
    save_file(text_free, copy / "model.safetensors", metadata={"format": "pt"})
    return copy


def test_a_viclip_folder_without_its_text_tower_weights_is_refused_naming_the_missing_weights(
    clip_and_viclip, tmp_path
):
    clip_folder, viclip_folder = clip_and_viclip
    no_text = _copy_without_text_tower(viclip_folder, tmp_path / "no_text")
    message = _wise_ft_refusal(no_text, clip_folder, tmp_path / "mixed")
    assert f"{no_text} does not hold the weights of a complete ViCLIPModel" in message
    assert "missing (e.g. ['text_model." in message


def test_a_clip_folder_without_its_text_tower_weights_is_refused_naming_the_missing_weights(clip_and_viclip, tmp_path):
    clip_folder, viclip_folder = clip_and_viclip
    no_text = _copy_without_text_tower(clip_folder, tmp_path / "no_text")
    message = _wise_ft_refusal(viclip_folder, no_text, tmp_path / "mixed")
    assert f"--clip_model_name_or_path: {no_text} does not hold the weights of a complete CLIPModel" in message


def test_a_refused_folder_exits_with_status_one_and_one_line(clip_and_viclip, tmp_path):
    clip_folder, viclip_folder = clip_and_viclip
    command = [sys.executable, "-m", "viclip_train.eval.wise_ft", "--viclip_model_name_or_path", str(clip_folder)]
    command += ["--clip_model_name_or_path", str(viclip_folder), "--output_dir", str(tmp_path / "mixed")]
    result = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: --viclip_model_name_or_path")
    assert "Traceback" not in result.stderr and not (tmp_path / "mixed").exists()
