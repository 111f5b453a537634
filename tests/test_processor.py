# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""ViCLIPProcessor: model inputs, save/load, Auto-class registration and remote-code loading."""

import json

import numpy as np
import pytest
import torch
from transformers import AutoProcessor, AutoTokenizer, AutoVideoProcessor, CLIPTokenizer

from tests.conftest import tiny_config_kwargs
from tests.processing_helpers import bundled_clips, run_fresh_python, tiny_processor
from viclip import ViCLIPConfig, ViCLIPModel, ViCLIPProcessor, ViCLIPVideoProcessor


CAPTIONS = ["a man is playing the guitar on a stage", "Two dogs run across a snowy FIELD &amp; bark!!"]


@pytest.fixture(scope="module")
def processor():
    return tiny_processor()


@pytest.fixture(scope="module")
def saved_processor(processor, tmp_path_factory):
    folder = tmp_path_factory.mktemp("processor")
    processor.save_pretrained(folder)
    return folder


def random_video(frames: int = 10, height: int = 40, width: int = 50, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (frames, height, width, 3), dtype=np.uint8)


def test_processor_returns_the_inputs_of_viclip_model(processor):
    inputs = processor(text=CAPTIONS, videos=[random_video(), bundled_clips()["carphone_pristine"]])
    assert sorted(inputs) == ["attention_mask", "input_ids", "pixel_values"]
    assert inputs["input_ids"].shape == (2, 32) and inputs["input_ids"].dtype == torch.long
    assert inputs["attention_mask"].shape == (2, 32)
    assert inputs["pixel_values"].shape == (2, 4, 3, 32, 32) and inputs["pixel_values"].dtype == torch.float32


def test_processor_outputs_run_through_the_model(processor):
    model = ViCLIPModel(ViCLIPConfig(**tiny_config_kwargs())).eval()
    with torch.no_grad():
        outputs = model(**processor(text=CAPTIONS, videos=[random_video(), random_video(seed=1)]))
    assert outputs.logits_per_video.shape == (2, 2)


def test_text_is_padded_with_zeros_to_32_tokens_by_default(processor):
    ids = processor(text="a man")["input_ids"]
    assert ids.tolist() == [[49406, 320, 786, 49407] + [0] * 28]


def test_padding_can_be_changed_per_call(processor):
    ids = processor(text=["a man", "a man is playing"], padding="longest", return_tensors=None)["input_ids"]
    assert ids == [[49406, 320, 786, 49407, 0, 0], [49406, 320, 786, 533, 1629, 49407]]


def test_video_arguments_pass_through_the_processor(processor):
    video = random_video(frames=20, height=64, width=64)
    a = processor(videos=video, do_train_augmentation=True, sampling="rand", rng=np.random.default_rng(5))
    b = processor(videos=video, do_train_augmentation=True, sampling="rand", rng=np.random.default_rng(5))
    assert torch.equal(a["pixel_values"], b["pixel_values"])
    assert not torch.equal(a["pixel_values"], processor(videos=video)["pixel_values"])


def test_processor_needs_text_or_videos_and_rejects_images(processor):
    with pytest.raises(ValueError, match="text"):
        processor()
    with pytest.raises(ValueError, match="one-frame video"):
        processor(images=random_video()[0])


@pytest.mark.parametrize(
    ("caption", "named"),
    [
        (None, r"text\[1\] is None \(NoneType\), not a caption"),
        (123, r"text\[1\] is 123 \(int\), not a caption"),
        (float("nan"), r"text\[1\] is nan \(float\), not a caption.*empty cell is read as NaN"),
        (b"bytes", r"text\[1\] is b'bytes' \(bytes\), not a caption.*decode it first"),
    ],
    ids=["none", "int", "nan", "bytes"],
)
def test_a_caption_that_is_not_a_string_is_refused_naming_its_entry_and_index(processor, caption, named):
    with pytest.raises(ValueError, match=named):
        processor(text=["a dog", caption])


def test_an_empty_list_of_captions_is_refused(processor):
    with pytest.raises(ValueError, match=r"`text` is an empty list: give at least one caption"):
        processor(text=[])


def test_unsupported_text_argument_is_rejected(processor):
    with pytest.raises(ValueError, match="return_offsets_mapping"):
        processor(text="a man", return_offsets_mapping=True)


def test_saved_processor_reloads_with_auto_processor(processor, saved_processor):
    loaded = AutoProcessor.from_pretrained(saved_processor)
    assert isinstance(loaded, ViCLIPProcessor)
    assert isinstance(loaded.video_processor, ViCLIPVideoProcessor) and isinstance(loaded.tokenizer, CLIPTokenizer)
    video = random_video()
    expected, actual = processor(text=CAPTIONS, videos=video), loaded(text=CAPTIONS, videos=video)
    assert all(torch.equal(expected[name], actual[name]) for name in expected)


def test_saved_folder_loads_with_auto_video_processor_and_auto_tokenizer(saved_processor):
    assert isinstance(AutoVideoProcessor.from_pretrained(saved_processor), ViCLIPVideoProcessor)
    tokenizer = AutoTokenizer.from_pretrained(saved_processor)
    assert isinstance(tokenizer, CLIPTokenizer) and tokenizer.pad_token_id == 0 and tokenizer.model_max_length == 32


def test_saved_folder_carries_auto_map_and_the_processing_code(saved_processor):
    config = json.loads((saved_processor / "processor_config.json").read_text())
    assert config["auto_map"]["AutoProcessor"] == "processing_viclip.ViCLIPProcessor"
    assert (
        config["video_processor"]["auto_map"]["AutoVideoProcessor"] == "video_processing_viclip.ViCLIPVideoProcessor"
    )
    for name in ("processing_viclip.py", "video_processing_viclip.py", "tokenization_viclip.py"):
        assert (saved_processor / name).is_file()


def test_saving_leaves_no_auto_map_on_the_processor_or_its_video_processor_in_memory(tmp_path):
    processor = tiny_processor()
    before = processor.to_dict()
    processor.save_pretrained(tmp_path)
    assert processor.to_dict() == before == ViCLIPProcessor.from_pretrained(tmp_path).to_dict()
    assert getattr(processor.video_processor, "auto_map", None) is None


def test_auto_processor_is_found_through_the_viclip_config(tmp_path):
    ViCLIPConfig(**tiny_config_kwargs()).save_pretrained(tmp_path)
    tiny_processor().save_pretrained(tmp_path)
    config_file = tmp_path / "processor_config.json"
    config = json.loads(config_file.read_text())
    config_file.write_text(json.dumps({k: v for k, v in config.items() if k not in ("auto_map", "processor_class")}))
    assert isinstance(AutoProcessor.from_pretrained(tmp_path), ViCLIPProcessor)


def test_remote_code_loading_in_a_process_that_never_imports_viclip(processor, saved_processor, tmp_path):
    video = random_video()
    np.save(tmp_path / "video.npy", video)
    expected = processor(text=CAPTIONS, videos=video)
    output = run_fresh_python(
        f"""
        import json, sys
        import numpy as np
        from transformers import AutoProcessor, AutoVideoProcessor
        processor = AutoProcessor.from_pretrained({str(saved_processor)!r}, trust_remote_code=True)
        video_processor = AutoVideoProcessor.from_pretrained({str(saved_processor)!r}, trust_remote_code=True)
        inputs = processor(text={CAPTIONS!r}, videos=np.load("video.npy"))
        print(json.dumps({{
            "viclip_imported": any(name == "viclip" or name.startswith("viclip.") for name in sys.modules),
            "classes": [type(processor).__name__, type(video_processor).__name__],
            "input_ids": inputs["input_ids"].tolist(),
            "pixel_sum": float(inputs["pixel_values"].double().sum()),
        }}))
        """,
        cwd=str(tmp_path),
    )
    result = json.loads(output.strip().splitlines()[-1])
    assert result["viclip_imported"] is False
    assert result["classes"] == ["ViCLIPProcessor", "ViCLIPVideoProcessor"]
    assert result["input_ids"] == expected["input_ids"].tolist()
    assert result["pixel_sum"] == pytest.approx(float(expected["pixel_values"].double().sum()), rel=1e-9)
