"""Conversion (viclip_train/convert/): released ViCLIP checkpoints with numerical parity with the original code, size
inference, safe loading, clear errors, publishing to the Hub (with `HfApi` replaced, never reaching the network);
loading OpenGVLab's own layouts directly with `from_pretrained` after `import viclip` (local folders laid out like the
Hub repositories); and the initialisation from CLIP. The converted folder's model card is tested in
tests/test_model_cards.py."""

import json
import logging
import math
import os
from pathlib import Path

import pytest
import torch
from huggingface_hub import ModelCard
from safetensors.torch import load_file

from viclip import (
    ViCLIPConfig,
    ViCLIPForVideoClassification,
    ViCLIPModel,
    ViCLIPProcessor,
    ViCLIPTextModelWithProjection,
    ViCLIPVisionModel,
)
from viclip_train.convert import convert_viclip_original_to_hf as converter
from viclip_train.convert import original_layouts, viclip_from_clip
from viclip_train.convert.convert_viclip_original_to_hf import convert_checkpoint
from viclip_train.convert.original_weights import (
    ConversionError,
    UnknownHeadsError,
    UnsafeCheckpointError,
    convert_state_dict,
    infer_config,
    load_original_state_dict,
    original_key,
)

from .conftest import FIXTURES


TINY_CHECKPOINT = FIXTURES / "tiny_original.pth"
TINY_SIZES = json.loads((FIXTURES / "tiny_config.json").read_text())
TINY_HEADS = {"vision_heads": TINY_SIZES["vision_heads"], "text_heads": TINY_SIZES["text_heads"]}


@pytest.fixture(autouse=True)
def restore_transformers_verbosity():
    """The converter's `main()` sets transformers' logging to INFO, as a command line does; later tests expect the
    default."""
    from transformers.utils import logging

    verbosity = logging.get_verbosity()
    yield
    logging.set_verbosity(verbosity)


@pytest.fixture(scope="module")
def converted_dir(tmp_path_factory) -> Path:
    """The tiny reference checkpoint, converted once for the tests that only read the result."""
    output_dir = tmp_path_factory.mktemp("converted")
    convert_checkpoint(TINY_CHECKPOINT, output_dir, **TINY_HEADS)
    return output_dir


def original_state_dict_on_meta(preset: str) -> dict[str, torch.Tensor]:
    """A state dict with the keys and shapes of a released checkpoint, on the meta device (nothing allocated)."""
    with torch.device("meta"):
        hf_state_dict = ViCLIPModel(ViCLIPConfig.from_preset(preset)).state_dict()
    original = {}
    for key, tensor in hf_state_dict.items():
        if key in ("visual_projection.weight", "text_projection.weight"):
            tensor = tensor.t()
        elif key == "vision_model.embeddings.patch_embedding.weight":
            tensor = tensor.unsqueeze(2)
        original[original_key(key)] = tensor
    return original


def save_checkpoint(path: Path, state_dict: dict, **extra) -> Path:
    torch.save({"model": state_dict, "epoch": 9, **extra}, path)
    return path


def test_converted_tiny_checkpoint_reproduces_reference_outputs(converted_dir):
    model = ViCLIPModel.from_pretrained(converted_dir).eval()
    inputs = load_file(FIXTURES / "inputs.safetensors")
    expected = load_file(FIXTURES / "expected.safetensors")
    with torch.no_grad():
        outputs = {
            "video_embeds": model.get_video_features(pixel_values=inputs["pixel_values"]).pooler_output,
            "image_embeds": model.get_video_features(pixel_values=inputs["image_pixel_values"]).pooler_output,
            "text_embeds": model.get_text_features(input_ids=inputs["input_ids"]).pooler_output,
            "logits_per_video": model(
                input_ids=inputs["input_ids"], pixel_values=inputs["pixel_values"]
            ).logits_per_video,
        }
    for name, value in outputs.items():
        torch.testing.assert_close(value, expected[name], atol=1e-5, rtol=0, msg=name)
    assert model.logit_scale.item() == pytest.approx(math.log(1 / TINY_SIZES["temp"]), abs=1e-6)


def test_converted_folder_is_complete(converted_dir):
    from transformers import AutoModel, AutoProcessor

    names = {path.name for path in converted_dir.iterdir()}
    assert {"model.safetensors", "config.json", "README.md", "processor_config.json", "tokenizer.json"} <= names
    assert not any(name.endswith(".bin") for name in names)
    assert isinstance(AutoModel.from_pretrained(converted_dir), ViCLIPModel)
    processor = AutoProcessor.from_pretrained(converted_dir)
    assert processor.video_processor.num_frames == TINY_SIZES["num_frames"]
    inputs = processor(text=["a man is playing the guitar on a stage"], padding="max_length", return_tensors="pt")
    reference_ids = load_file(FIXTURES / "inputs.safetensors")["input_ids"][:1]
    assert torch.equal(inputs["input_ids"], reference_ids)


@pytest.mark.parametrize(
    ("preset", "vision", "text"),
    [("viclip-b16", (768, 12, 12, 16), (512, 12, 8)), ("viclip-l14", (1024, 24, 16, 14), (768, 12, 12))],
)
def test_released_size_is_inferred_from_shapes(preset, vision, text):
    state_dict = original_state_dict_on_meta(preset)
    config, detected = infer_config(state_dict)
    assert detected == preset
    v, t = config.vision_config, config.text_config
    assert (v.hidden_size, v.num_hidden_layers, v.num_attention_heads, v.patch_size) == vision
    assert (t.hidden_size, t.num_hidden_layers, t.num_attention_heads) == text
    assert (v.num_frames, v.image_size, t.max_position_embeddings, t.vocab_size) == (8, 224, 32, 49408)


@pytest.mark.parametrize(("preset", "num_tensors"), [("viclip-b16", 303), ("viclip-l14", 447)])
def test_key_table_maps_every_released_tensor_one_to_one(preset, num_tensors):
    state_dict = original_state_dict_on_meta(preset)
    assert len(state_dict) == num_tensors  # the released files hold 303 (B/16) and 447 (L/14) tensors
    converted, origins = convert_state_dict(state_dict)
    with torch.device("meta"):
        expected = ViCLIPModel(ViCLIPConfig.from_preset(preset)).state_dict()
    assert sorted(origins.values()) == sorted(state_dict)
    assert all(original_key(key) == origin for key, origin in origins.items())
    assert {key: tuple(t.shape) for key, t in converted.items()} == {
        key: tuple(t.shape) for key, t in expected.items()
    }


def test_size_flag_that_contradicts_the_shapes_is_refused():
    with pytest.raises(ConversionError, match=r"not ViCLIP-B/16.*vision_config\.hidden_size 1024"):
        infer_config(original_state_dict_on_meta("viclip-l14"), size="b16")


def test_other_sizes_are_built_from_shapes_with_given_heads():
    config, detected = infer_config(load_original_state_dict(TINY_CHECKPOINT), **TINY_HEADS)
    assert detected is None
    v, t = config.vision_config, config.text_config
    assert (v.image_size, v.patch_size, v.num_frames, v.hidden_size, v.num_hidden_layers) == (64, 16, 4, 64, 2)
    assert (v.num_attention_heads, t.num_attention_heads) == (4, 4)
    assert (t.hidden_size, t.num_hidden_layers, t.max_position_embeddings, t.vocab_size) == (32, 2, 32, 49408)
    assert config.projection_dim == TINY_SIZES["embed_dim"]


def test_heads_that_cannot_be_inferred_are_an_error_naming_the_width():
    with pytest.raises(UnknownHeadsError, match=r"text_config\.hidden_size 32 is not a multiple of 64"):
        infer_config(load_original_state_dict(TINY_CHECKPOINT))  # text width 32 is not a multiple of 64


def test_command_line_asks_for_the_heads_flags_when_they_cannot_be_inferred(tmp_path):
    with pytest.raises(SystemExit, match="Pass --vision_heads and --text_heads"):
        converter.main(["--checkpoint", str(TINY_CHECKPOINT), "--output_dir", str(tmp_path / "out")])


class _RunsShellOnLoad:
    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_checkpoint_whose_pickle_runs_code_is_refused(tmp_path):
    sentinel = tmp_path / "SENTINEL"
    state_dict = load_original_state_dict(TINY_CHECKPOINT)
    checkpoint = save_checkpoint(tmp_path / "evil.pth", state_dict, config=_RunsShellOnLoad(f"touch {sentinel}"))
    with pytest.raises(UnsafeCheckpointError, match=r"evil\.pth.*`posix\.system`"):
        convert_checkpoint(checkpoint, tmp_path / "out", **TINY_HEADS)
    assert not sentinel.exists()
    assert not (tmp_path / "out").exists()


def test_pickled_class_other_than_the_easydict_config_is_refused_by_name(tmp_path):
    from argparse import Namespace

    checkpoint = save_checkpoint(tmp_path / "ns.pth", {"temp": torch.tensor(0.01)}, config=Namespace(lr=1e-4))
    with pytest.raises(UnsafeCheckpointError, match=r"`argparse\.Namespace`"):
        load_original_state_dict(checkpoint)


def test_truncated_checkpoint_gives_clear_error(tmp_path):
    data = TINY_CHECKPOINT.read_bytes()
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ConversionError, match=r"truncated\.pth: the file is truncated or corrupt"):
        load_original_state_dict(truncated)


def test_command_line_reports_a_bad_checkpoint_as_an_error_message(tmp_path):
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(TINY_CHECKPOINT.read_bytes()[:1000])
    with pytest.raises(SystemExit, match=r"^error: Could not read .*truncated\.pth"):
        converter.main(["--checkpoint", str(truncated), "--output_dir", str(tmp_path / "out")])


def test_missing_keys_are_all_listed(tmp_path):
    state_dict = load_original_state_dict(TINY_CHECKPOINT)
    del state_dict["text_encoder.transformer.resblocks.1.ln_2.bias"]
    del state_dict["vision_encoder.class_embedding"]
    checkpoint = save_checkpoint(tmp_path / "missing.pth", state_dict)
    with pytest.raises(ConversionError, match="2 model weight") as error:
        convert_checkpoint(checkpoint, tmp_path / "out", **TINY_HEADS)
    message = str(error.value)
    assert (
        "text_model.encoder.layers.1.layer_norm2.bias (original key text_encoder.transformer.resblocks.1.ln_2.bias)"
        in message
    )
    assert "vision_model.embeddings.class_embedding (original key vision_encoder.class_embedding)" in message


def test_extra_keys_are_all_listed(tmp_path):
    state_dict = load_original_state_dict(TINY_CHECKPOINT)
    state_dict["vision_encoder.unexpected"] = torch.zeros(1)
    state_dict["text_encoder.transformer.resblocks.0.attn.bias_k"] = torch.zeros(1)
    checkpoint = save_checkpoint(tmp_path / "extra.pth", state_dict)
    with pytest.raises(ConversionError, match="2 checkpoint tensor") as error:
        convert_checkpoint(checkpoint, tmp_path / "out", **TINY_HEADS)
    assert "- vision_encoder.unexpected" in str(error.value)
    assert "- text_encoder.transformer.resblocks.0.attn.bias_k" in str(error.value)


def test_push_to_hub_uploads_the_complete_folder(tmp_path, monkeypatch):
    calls = []

    class RecordingHfApi:
        def __init__(self, token=None):
            pass

        def whoami(self):
            calls.append(("whoami",))
            return {"name": "someone", "auth": {"accessToken": {"role": "write"}}}

        def create_repo(self, repo_id, **kwargs):
            calls.append(("create_repo", repo_id, kwargs))
            return f"https://huggingface.co/{repo_id}"

        def upload_folder(self, *, repo_id, folder_path, **kwargs):
            calls.append(("upload_folder", repo_id, sorted(path.name for path in Path(folder_path).iterdir())))
            return f"https://huggingface.co/{repo_id}/commit/0"

    monkeypatch.setattr("huggingface_hub.HfApi", RecordingHfApi)
    output_dir = tmp_path / "out"
    converter.main(
        [
            "--checkpoint",
            str(TINY_CHECKPOINT),
            "--output_dir",
            str(output_dir),
            "--vision_heads",
            "4",
            "--text_heads",
            "4",
            "--push_to_hub",
            "someone/viclip-tiny",
        ]
    )
    assert [call[:2] for call in calls] == [
        ("whoami",),
        ("create_repo", "someone/viclip-tiny"),
        ("upload_folder", "someone/viclip-tiny"),
    ]
    assert calls[1][2].get("exist_ok") is True
    assert calls[2][2] == sorted(path.name for path in output_dir.iterdir())
    assert {"model.safetensors", "config.json", "README.md"} <= set(calls[2][2])
    assert 'from_pretrained("someone/viclip-tiny"' in (output_dir / "README.md").read_text()


def test_push_to_hub_without_write_access_fails_in_one_line_before_converting(tmp_path, monkeypatch):
    class ReadOnlyHfApi:
        def __init__(self, token=None):
            pass

        def whoami(self):
            return {"name": "someone", "auth": {"accessToken": {"role": "read", "displayName": "read-token"}}}

    monkeypatch.setattr("huggingface_hub.HfApi", ReadOnlyHfApi)
    output_dir = tmp_path / "out"
    arguments = ["--checkpoint", str(TINY_CHECKPOINT), "--output_dir", str(output_dir), "--vision_heads", "4"]
    with pytest.raises(SystemExit, match="cannot write to 'someone'") as error:
        converter.main([*arguments, "--text_heads", "4", "--push_to_hub", "someone/viclip-tiny"])
    assert "\n" not in str(error.value)
    assert not output_dir.exists()


@pytest.mark.slow
def test_full_size_b16_checkpoint_converts_end_to_end(tmp_path):
    torch.manual_seed(0)
    state_dict = {key: torch.randn(t.shape) for key, t in original_state_dict_on_meta("viclip-b16").items()}
    state_dict["temp"] = torch.tensor(0.01)
    checkpoint = save_checkpoint(tmp_path / "ViCLIP-B_InternVid-FLT-10M.pth", state_dict, config={"model": {}})
    model = convert_checkpoint(checkpoint, tmp_path / "out", size="b16")
    assert model.num_parameters() == pytest.approx(149.60e6, rel=1e-3)
    torch.testing.assert_close(model.visual_projection.weight, state_dict["vision_encoder.proj"].t())
    reloaded = ViCLIPModel.from_pretrained(tmp_path / "out")
    assert reloaded.config.vision_config.num_attention_heads == 12
    assert reloaded.config.text_config.num_attention_heads == 8
    torch.testing.assert_close(reloaded.text_projection.weight, state_dict["text_encoder.text_projection"].t())
    card = ModelCard.load(tmp_path / "out" / "README.md")
    assert card.data.datasets == ["OpenGVLab/InternVid"]
    assert card.data.eval_results is None  # the paper publishes no zero-shot numbers for B/16
    assert "# ViCLIP-B/16 (InternVid-10M-FLT)" in card.text


# ---------------------------------------------------------------------------------------------------------------------
# Refused checkpoints


@pytest.mark.parametrize(("given", "missing"), [("vision_heads", "text_heads"), ("text_heads", "vision_heads")])
def test_heads_of_only_one_tower_are_refused_for_a_size_that_is_not_released(given, missing):
    heads = {given: 4}
    with pytest.raises(ConversionError, match=f"{given} was given but {missing} was not"):
        infer_config(load_original_state_dict(TINY_CHECKPOINT), **heads)


def test_command_line_refuses_heads_of_only_one_tower(tmp_path):
    with pytest.raises(SystemExit, match="vision_heads was given but text_heads was not"):
        converter.main(
            ["--checkpoint", str(TINY_CHECKPOINT), "--output_dir", str(tmp_path / "out"), "--vision_heads", "4"]
        )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("bad_value", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_checkpoint_with_non_finite_weights_is_refused_naming_the_tensor(tmp_path, bad_value):
    state_dict = load_original_state_dict(TINY_CHECKPOINT)
    state_dict["vision_encoder.transformer.resblocks.1.mlp.c_fc.weight"][0, 0] = bad_value
    checkpoint = save_checkpoint(tmp_path / "diverged.pth", state_dict)
    with pytest.raises(
        ConversionError, match=r"NaN or infinite .*vision_encoder\.transformer\.resblocks\.1\.mlp\.c_fc"
    ):
        convert_checkpoint(checkpoint, tmp_path / "out", **TINY_HEADS)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("temp", [0.0, -0.05])
def test_a_temperature_that_is_not_positive_is_clamped_to_the_references_0_01_with_a_warning(tmp_path, temp, caplog):
    state_dict = load_original_state_dict(TINY_CHECKPOINT)
    state_dict["temp"] = torch.tensor(temp)
    checkpoint = save_checkpoint(tmp_path / "cold.pth", state_dict)
    with caplog.at_level(logging.WARNING):
        model = convert_checkpoint(checkpoint, tmp_path / "out", **TINY_HEADS)
    assert f"the temperature `temp` is {temp:g}, not positive; it is converted as 0.01" in caplog.text
    torch.testing.assert_close(model.logit_scale, torch.log(torch.tensor([100.0])))
    torch.testing.assert_close(ViCLIPModel.from_pretrained(tmp_path / "out").logit_scale, model.logit_scale)


# ---------------------------------------------------------------------------------------------------------------------
# OpenGVLab's layouts, loaded by `from_pretrained`

# The config.json of OpenGVLab/ViCLIP-{B-16,L-14}-hf, minus `size` (the tiny checkpoint is neither size).
PORT_CONFIG = {
    "architectures": ["ViCLIP"],
    "auto_map": {"AutoConfig": "configuration_viclip.Config", "AutoModel": "viclip.ViCLIP"},
    "torch_dtype": "float32",
    "tokenizer_path": "./bpe_simple_vocab_16e6.txt.gz",
}


def original_release_folder(folder: Path, checkpoint: Path = TINY_CHECKPOINT) -> Path:
    """A folder laid out like OpenGVLab/ViCLIP: the `.pth` and no config.json."""
    folder.mkdir(parents=True)
    (folder / "ViClip-InternVid-10M-FLT.pth").write_bytes(checkpoint.read_bytes())
    return folder


def remote_code_port_folder(folder: Path, checkpoint: Path = TINY_CHECKPOINT, **config_fields) -> Path:
    """A folder laid out like OpenGVLab/ViCLIP-L-14-hf: original key names in model.safetensors, their config.json."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    state_dict = load_original_state_dict(checkpoint)
    save_file({key: tensor.contiguous() for key, tensor in state_dict.items()}, folder / "model.safetensors")
    (folder / "config.json").write_text(json.dumps({**PORT_CONFIG, **config_fields}))
    (folder / "viclip.py").write_text("# OpenGVLab's remote code, never run here\n")
    return folder


LAYOUTS = {"original-release": original_release_folder, "remote-code-port": remote_code_port_folder}


def assert_same_outputs(model: ViCLIPModel, reference: ViCLIPModel) -> None:
    inputs = load_file(FIXTURES / "inputs.safetensors")
    with torch.no_grad():
        for name, (model_output, reference_output) in {
            "logits_per_video": (
                model(input_ids=inputs["input_ids"], pixel_values=inputs["pixel_values"]).logits_per_video,
                reference(input_ids=inputs["input_ids"], pixel_values=inputs["pixel_values"]).logits_per_video,
            ),
            "image_embeds": (
                model.get_video_features(pixel_values=inputs["image_pixel_values"]).pooler_output,
                reference.get_video_features(pixel_values=inputs["image_pixel_values"]).pooler_output,
            ),
        }.items():
            torch.testing.assert_close(model_output, reference_output, rtol=0, atol=0, msg=name)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_from_pretrained_loads_opengvlab_layouts_like_the_converted_folder(tmp_path, converted_dir, layout):
    folder = LAYOUTS[layout](tmp_path / layout)
    config = ViCLIPConfig.from_pretrained(converted_dir)  # the tiny checkpoint's heads are not width / 64
    model = ViCLIPModel.from_pretrained(folder, config=config).eval()
    assert_same_outputs(model, ViCLIPModel.from_pretrained(converted_dir).eval())
    # the reference numbers themselves, as for the converted folder
    inputs, expected = load_file(FIXTURES / "inputs.safetensors"), load_file(FIXTURES / "expected.safetensors")
    with torch.no_grad():
        text_embeds = model.get_text_features(input_ids=inputs["input_ids"]).pooler_output
    torch.testing.assert_close(text_embeds, expected["text_embeds"], rtol=0, atol=1e-5)


def random_original_checkpoint(path: Path) -> Path:
    """A random checkpoint in the released layout whose towers are 64 wide, so that `width // 64` gives the heads."""
    torch.manual_seed(0)
    config = ViCLIPConfig(
        projection_dim=32,
        text_config={"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 1},
        vision_config={
            "image_size": 32,
            "patch_size": 16,
            "num_frames": 4,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 1,
        },
    )
    original = {}
    for key, tensor in ViCLIPModel(config).state_dict().items():
        if key in ("visual_projection.weight", "text_projection.weight"):
            tensor = tensor.t()
        elif key == "vision_model.embeddings.patch_embedding.weight":
            tensor = tensor.unsqueeze(2)
        elif key == "logit_scale":
            tensor = 1.0 / tensor.exp().squeeze(0)  # the released `temp` is 0-d
        original[original_key(key)] = tensor.clone()
    return save_checkpoint(path, original, config={"model": {"embed_dim": 32}})


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_from_pretrained_reads_the_size_of_opengvlab_layouts_from_tensor_shapes(tmp_path, layout):
    checkpoint = random_original_checkpoint(tmp_path / "random.pth")
    reference = convert_checkpoint(checkpoint, tmp_path / "converted")
    model = ViCLIPModel.from_pretrained(LAYOUTS[layout](tmp_path / layout, checkpoint)).eval()
    for tower in ("vision_config", "text_config"):
        sizes, expected_sizes = (
            {name: value for name, value in getattr(config, tower).to_dict().items() if name != "dtype"}
            for config in (model.config, reference.config)
        )
        assert sizes == expected_sizes, tower
    assert model.config.vision_config.num_attention_heads == model.config.text_config.num_attention_heads == 1
    for (name, tensor), (_, expected) in zip(model.state_dict().items(), reference.state_dict().items(), strict=True):
        torch.testing.assert_close(tensor, expected, rtol=0, atol=0, msg=name)


def test_opengvlab_layouts_load_in_half_precision_and_into_the_towers(tmp_path, converted_dir):
    folder = remote_code_port_folder(tmp_path / "port")
    config = ViCLIPConfig.from_pretrained(converted_dir)
    model = ViCLIPModel.from_pretrained(folder, config=config, dtype=torch.bfloat16)
    assert model.dtype == torch.bfloat16
    full = ViCLIPModel.from_pretrained(converted_dir)
    vision = ViCLIPVisionModel.from_pretrained(folder, config=config)
    text = ViCLIPTextModelWithProjection.from_pretrained(folder, config=config)
    torch.testing.assert_close(vision.embeddings.class_embedding, full.vision_model.embeddings.class_embedding)
    torch.testing.assert_close(text.text_projection.weight, full.text_projection.weight)


def test_opengvlab_layouts_of_another_size_without_heads_ask_for_a_config_not_a_converter_flag(tmp_path):
    folder = original_release_folder(tmp_path / "release")
    with pytest.raises(ConversionError, match="pass `config=ViCLIPConfig") as error:
        ViCLIPModel.from_pretrained(folder)
    assert "--" not in str(error.value)


def test_loading_a_converted_folder_runs_no_original_layout_code(converted_dir, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("original-layout code ran while loading a converted folder")

    for name in ("find_original_checkpoint", "model_from_original_layout", "processor_from_original_layout"):
        monkeypatch.setattr(original_layouts, name, refuse)
    from transformers import AutoModel, AutoProcessor

    for model_class in (ViCLIPModel, ViCLIPVisionModel, ViCLIPTextModelWithProjection, ViCLIPForVideoClassification):
        model_class.from_pretrained(converted_dir)
    assert isinstance(AutoModel.from_pretrained(converted_dir), ViCLIPModel)
    ViCLIPProcessor.from_pretrained(converted_dir)
    AutoProcessor.from_pretrained(converted_dir)


def test_a_model_loaded_from_an_opengvlab_layout_saves_a_converted_folder(tmp_path, converted_dir):
    config = ViCLIPConfig.from_pretrained(converted_dir)
    model = ViCLIPModel.from_pretrained(remote_code_port_folder(tmp_path / "port"), config=config)
    model.save_pretrained(tmp_path / "saved")
    assert set(load_file(tmp_path / "saved" / "model.safetensors")) == set(model.state_dict())
    assert_same_outputs(ViCLIPModel.from_pretrained(tmp_path / "saved").eval(), model.eval())


def test_remote_code_port_whose_size_contradicts_its_shapes_is_refused(tmp_path, converted_dir):
    folder = remote_code_port_folder(tmp_path / "port", size="l")
    with pytest.raises(ConversionError, match=r"says size 'l' \(ViCLIP-L/14\).*vision_config\.hidden_size 64"):
        ViCLIPModel.from_pretrained(folder, config=ViCLIPConfig.from_pretrained(converted_dir))


def test_a_folder_with_several_original_checkpoints_asks_for_one(tmp_path):
    folder = original_release_folder(tmp_path / "release")
    (folder / "ViClip-InternVid-200M.pth").write_bytes(TINY_CHECKPOINT.read_bytes())
    with pytest.raises(ConversionError, match="several original ViCLIP checkpoints"):
        ViCLIPModel.from_pretrained(folder)


def test_from_pretrained_on_an_unsafe_original_checkpoint_refuses_it(tmp_path):
    sentinel = tmp_path / "SENTINEL"
    state_dict = load_original_state_dict(TINY_CHECKPOINT)
    folder = tmp_path / "release"
    folder.mkdir()
    save_checkpoint(folder / "evil.pth", state_dict, config=_RunsShellOnLoad(f"touch {sentinel}"))
    with pytest.raises(UnsafeCheckpointError, match="posix.system"):
        ViCLIPModel.from_pretrained(folder)
    assert not sentinel.exists()


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_processor_of_an_opengvlab_layout_is_the_reference_processor(tmp_path, converted_dir, layout):
    folder = LAYOUTS[layout](tmp_path / layout)
    processor = ViCLIPProcessor.from_pretrained(folder)
    reference = ViCLIPProcessor.from_model_config(ViCLIPConfig.from_pretrained(converted_dir))
    assert processor.video_processor.to_dict() == reference.video_processor.to_dict()
    assert processor.tokenizer.model_max_length == reference.tokenizer.model_max_length == 32
    captions = ["a man is playing the guitar on a stage", "Two dogs run across a snowy FIELD &amp; bark!!"]
    assert processor(text=captions)["input_ids"].tolist() == reference(text=captions)["input_ids"].tolist()


# ---------------------------------------------------------------------------------------------------------------------
# Initialisation from CLIP


def test_clip_initialisation_reproduces_clip_image_and_text_embeddings(tmp_path):
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
    model = viclip_from_clip(str(tmp_path), num_frames=8).eval()

    assert model.config.num_frames == 8
    assert model.config.vision_config.hidden_act == "gelu"  # kept from the CLIP config
    assert model.text_model.embeddings.position_embedding.num_embeddings == 32
    assert torch.count_nonzero(model.vision_model.embeddings.temporal_embedding) == 0
    torch.testing.assert_close(model.logit_scale, clip.logit_scale.reshape(1))
    caption_ids = torch.tensor([[49406, 320, 1929, 49407, 0, 0], [49406, 550, 49407, 0, 0, 0]])
    caption_mask = (caption_ids != 0).long()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(
            model.get_video_features(pixel_values=images.unsqueeze(1)).pooler_output,
            clip.get_image_features(pixel_values=images).pooler_output,
            rtol=0,
            atol=1e-5,
        )
        torch.testing.assert_close(
            model.get_text_features(input_ids=caption_ids, attention_mask=caption_mask).pooler_output,
            clip.get_text_features(input_ids=caption_ids, attention_mask=caption_mask).pooler_output,
            rtol=0,
            atol=1e-5,
        )
