# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""ViCLIPVideoProcessor: the reference's evaluation and training transforms, the inputs it accepts, and the
conventions of transformers' video processors (do_sample_frames, num_frames, fps, video_metadata, return_metadata).
Decoding itself is tested in tests/test_video_decoding.py."""

import io
import json
import logging

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms
from torchvision.transforms import InterpolationMode
from transformers import AutoVideoProcessor
from transformers.video_utils import VideoMetadata

from tests.processing_helpers import bundled_clips, frame_indices_of, index_frame, write_index_video
from viclip import ViCLIPVideoProcessor
from viclip.video_decoding_viclip import available_video_backends
from viclip_train.data.video_reading import read_video_frames


BACKENDS = available_video_backends()
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def reference_indices(num_video_frames: int, num_frames: int) -> list[int]:
    """The reference's sampling written out: segment edges, middle of each segment, padded with the last index."""
    count = min(num_frames, num_video_frames)
    edges = np.linspace(0, num_video_frames, count + 1).astype(int)
    picked = [(int(edges[i]) + int(edges[i + 1]) - 1) // 2 for i in range(count)]
    return picked + [picked[-1]] * (num_frames - count)


def reference_eval_transform(frames_thwc: np.ndarray, size: int = 224) -> torch.Tensor:
    """The reference test transform, with torchvision itself: Resize on uint8, /255, ImageNet Normalize."""
    video = torch.from_numpy(frames_thwc).permute(0, 3, 1, 2)
    video = transforms.Resize((size, size), interpolation=InterpolationMode.BICUBIC, antialias=True)(video)
    return transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)(video.float().div(255.0))


@pytest.fixture(scope="module")
def processor():
    return ViCLIPVideoProcessor()


@pytest.fixture(scope="module")
def tiny_processor():
    return ViCLIPVideoProcessor(size={"height": 32, "width": 32}, num_frames=4)


def undo_normalisation(pixel_values: torch.Tensor) -> np.ndarray:
    """`[T, 3, H, W]` normalised frames back to `[T, H, W, 3]` uint8 (for reading frame indices)."""
    mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
    frames = (pixel_values * std + mean).mul(255).round().clamp(0, 255).to(torch.uint8)
    return frames.permute(0, 2, 3, 1).numpy()


# --- the reference's transforms --------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_default_transform_equals_reference_on_a_720p_clip(processor, backend):
    path = bundled_clips()["bigbuckbunny"]
    frames = read_video_frames(path, backend="decord" if "decord" in BACKENDS else backend)
    pixel_values = processor(path, video_backend=backend)["pixel_values"]
    assert pixel_values.shape == (1, 8, 3, 224, 224) and pixel_values.dtype == torch.float32
    assert torch.equal(pixel_values[0], reference_eval_transform(frames))


def test_default_transform_equals_reference_on_arrays(processor):
    video = np.random.default_rng(0).integers(0, 256, (8, 61, 47, 3), dtype=np.uint8)
    assert torch.equal(processor(video)["pixel_values"][0], reference_eval_transform(video))


def test_arrays_are_sampled_with_the_reference_indices(processor):
    video = np.stack([index_frame(i, 16, 16) for i in range(50)])
    expected = reference_eval_transform(video[reference_indices(50, 8)])
    assert torch.equal(processor(video)["pixel_values"][0], expected)


def test_train_augmentation_uses_one_crop_and_flip_for_all_frames(processor):
    ramp = np.tile(np.linspace(0, 255, 64).astype(np.uint8)[None, :, None], (48, 1, 3))
    video = np.stack([ramp] * 8)
    flips = set()
    for seed in range(12):
        clip = processor(video, do_train_augmentation=True, rng=np.random.default_rng(seed))["pixel_values"][0]
        assert clip.shape == (8, 3, 224, 224)
        assert all(torch.equal(clip[0], frame) for frame in clip)  # same crop and flip for every frame
        flips.add(bool(clip[0, 0, 0, 0] > clip[0, 0, 0, -1]))  # a flipped ramp decreases left to right
    assert flips == {True, False}


def test_train_augmentation_crops_differ_from_eval_and_repeat_with_the_same_rng(processor):
    video = np.random.default_rng(0).integers(0, 256, (8, 90, 120, 3), dtype=np.uint8)
    first = processor(video, do_train_augmentation=True, rng=np.random.default_rng(7))["pixel_values"]
    again = processor(video, do_train_augmentation=True, rng=np.random.default_rng(7))["pixel_values"]
    assert torch.equal(first, again)
    assert not torch.equal(first, processor(video)["pixel_values"])


def test_training_flip_can_be_switched_off_and_the_setting_is_saved(tmp_path):
    """Frames brighten from left to right; a flipped crop brightens from right to left."""
    ramp = np.tile(np.linspace(0, 255, 48).astype(np.uint8)[None, None, :, None], (2, 32, 1, 3))

    def flipped_count(video_processor) -> int:
        count = 0
        for seed in range(24):
            pixels = video_processor(
                ramp, do_train_augmentation=True, rng=np.random.default_rng(seed), return_tensors="pt"
            )["pixel_values"][0, 0, 0]
            count += int(pixels[:, 0].mean() > pixels[:, -1].mean())
        return count

    processor = ViCLIPVideoProcessor(size={"height": 32, "width": 32}, num_frames=2)
    assert 0 < flipped_count(processor) < 24
    processor.do_train_flip = False
    assert flipped_count(processor) == 0
    processor.save_pretrained(tmp_path)
    assert ViCLIPVideoProcessor.from_pretrained(tmp_path).do_train_flip is False


# --- inputs ----------------------------------------------------------------------------------------------------------


def test_mixed_batch_of_files_arrays_tensors_and_frame_lists(processor, index_video):
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, (12, 40, 50, 3), dtype=np.uint8)
    pil_frames = [Image.fromarray(frame) for frame in array[:5]]
    gray_frames = [frame[..., 0] for frame in array[:3]]
    tensor_channels_first = torch.from_numpy(array).permute(0, 3, 1, 2)
    batch = processor([index_video, array, pil_frames, gray_frames, tensor_channels_first])["pixel_values"]
    assert batch.shape == (5, 8, 3, 224, 224)
    assert torch.equal(batch[1], batch[4])  # channels-first tensors are read like channels-last arrays


def test_files_in_a_batch_are_decoded_channels_last_whatever_input_data_format_says(tiny_processor, index_video):
    channels_first = torch.from_numpy(np.stack([index_frame(i, 32, 32) for i in range(4)])).permute(0, 3, 1, 2)
    batch = tiny_processor([index_video, channels_first], input_data_format="channels_first")["pixel_values"]
    assert torch.equal(batch[0], tiny_processor(index_video)["pixel_values"][0])


def test_grayscale_and_rgba_frames_become_rgb(processor):
    gray = np.random.default_rng(0).integers(0, 256, (4, 20, 30, 1), dtype=np.uint8)
    rgba = np.concatenate([np.repeat(gray, 3, axis=-1), np.full_like(gray, 255)], axis=-1)
    assert torch.equal(processor(gray)["pixel_values"], processor(rgba)["pixel_values"])


def test_single_image_is_a_one_frame_video(processor):
    image = Image.fromarray(np.zeros((30, 40, 3), np.uint8))
    assert processor(image, num_frames=1)["pixel_values"].shape == (1, 1, 3, 224, 224)


def test_size_and_frame_count_are_configurable():
    tiny = ViCLIPVideoProcessor(size={"height": 32, "width": 48}, num_frames=4)
    assert tiny(np.zeros((10, 64, 64, 3), np.uint8))["pixel_values"].shape == (1, 4, 3, 32, 48)


def test_shortest_edge_resize_and_center_crop_as_clip_processors_do():
    video = np.random.default_rng(0).integers(0, 256, (8, 60, 90, 3), dtype=np.uint8)
    clip_style = ViCLIPVideoProcessor(size={"shortest_edge": 40}, do_center_crop=True, crop_size=36)
    pixel_values = clip_style(video)["pixel_values"][0]
    resized = transforms.Resize(40, interpolation=InterpolationMode.BICUBIC, antialias=True)(
        torch.from_numpy(video).permute(0, 3, 1, 2)
    )
    expected = transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)(transforms.CenterCrop(36)(resized).float() / 255)
    assert pixel_values.shape == (8, 3, 36, 36) and torch.equal(pixel_values, expected)


def test_bytes_file_objects_and_datasets_video_values_are_videos(tiny_processor, index_video):
    import datasets

    expected = tiny_processor(index_video)["pixel_values"]
    data = open(index_video, "rb").read()
    table = datasets.Dataset.from_dict({"video": [index_video]})
    undecoded = table.cast_column("video", datasets.Video(decode=False))[0]["video"]  # {"path": ..., "bytes": None}
    videos = [data, io.BytesIO(data), undecoded]
    if "torchcodec" in BACKENDS:
        videos.append(table.cast_column("video", datasets.Video())[0]["video"])  # a torchcodec VideoDecoder
    for video in videos:
        assert torch.equal(tiny_processor(video)["pixel_values"], expected), type(video)
    videos[1] = io.BytesIO(data)  # read already
    assert torch.equal(tiny_processor(videos)["pixel_values"], expected.expand(len(videos), -1, -1, -1, -1))


def test_bad_input_type_is_rejected_with_its_position(processor):
    with pytest.raises(TypeError, match=r"videos\[1\]"):
        processor([np.zeros((8, 16, 16, 3), np.uint8), 3.5])


def test_clip_windows_take_one_pair_or_one_per_video(processor, index_video):
    both = processor([index_video, index_video], clip_windows=(3.0, 4.0))["pixel_values"]
    each = processor([index_video, index_video], clip_windows=[(3.0, 4.0), None])["pixel_values"]
    assert torch.equal(both[0], both[1]) and torch.equal(both[0], each[0])
    assert not torch.equal(each[0], each[1])


def test_clip_windows_on_arrays_are_rejected(processor):
    with pytest.raises(ValueError, match="clip_windows"):
        processor(np.zeros((8, 16, 16, 3), np.uint8), clip_windows=(0.0, 1.0))


@pytest.mark.parametrize(
    ("window", "named"),
    [
        ((True, 2), r"True \(bool\)"),
        (("1", "2"), r"'1' \(str\) and '2' \(str\)"),
        (("a", "b"), r"'a' \(str\) and 'b' \(str\)"),
        ((None, 2.0), r"None \(NoneType\)"),
    ],
)
def test_a_clip_window_of_values_that_are_not_seconds_is_refused_naming_them(processor, index_video, window, named):
    with pytest.raises(ValueError, match=rf"clip_windows: The clip window .* has {named} where numbers of seconds"):
        processor(index_video, clip_windows=window)


def test_a_per_video_clip_window_that_is_not_seconds_is_refused_naming_its_video(processor, index_video):
    with pytest.raises(ValueError, match=r"clip_windows\[1\]: The clip window \(False, 1.0\) has False \(bool\)"):
        processor([index_video, index_video], clip_windows=[(0.0, 1.0), (False, 1.0)])


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_tiny_clip_window_holds_the_frame_shown_at_its_start(tiny_processor, index_video, backend):
    outputs = tiny_processor(index_video, clip_windows=(0, 1e-9), video_backend=backend, num_frames=2)
    assert frame_indices_of(undo_normalisation(outputs["pixel_values"][0])) == [0, 0]


# --- frames: uint8 or float in [0, 255]; do_rescale=False for [0, 1] ------------------------------------------------


@pytest.mark.parametrize(
    ("video", "message"),
    [
        (
            np.full((4, 16, 16, 3), 300, np.int64),
            r"videos\[0\] is torch.int64 with values from 300 to 300, outside 0-255",
        ),
        (torch.full((4, 3, 16, 16), -1, dtype=torch.int32), r"videos\[0\] is torch.int32 with values from -1 to -1"),
        (np.ones((4, 16, 16, 3), bool), r"videos\[0\] holds bool frames \(a mask, not an image\)"),
        (np.full((4, 16, 16, 3), np.nan, np.float32), r"videos\[0\] has 3072 NaN or infinite values of 3072"),
    ],
    ids=["int64-above-255", "int32-negative", "bool", "nan"],
)
def test_frames_whose_values_cannot_be_an_image_are_refused(tiny_processor, video, message):
    with pytest.raises(ValueError, match=message):
        tiny_processor(video)


def test_integer_frames_within_0_to_255_are_taken_as_uint8(tiny_processor):
    video = np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3))
    expected = tiny_processor(video.astype(np.uint8))["pixel_values"]
    assert torch.equal(tiny_processor(video.astype(np.int64))["pixel_values"], expected)


def test_an_array_of_height_0_is_refused_naming_its_shape(tiny_processor):
    with pytest.raises(ValueError, match=r"videos\[1\] has shape \(4, 3, 0, 16\) .* at least one pixel"):
        tiny_processor([np.zeros((4, 16, 16, 3), np.uint8), np.zeros((4, 0, 16, 3), np.uint8)])


def test_an_array_of_zero_frames_is_refused_naming_it(tiny_processor):
    with pytest.raises(ValueError, match=r"videos\[0\] has no frames \(shape \(0, 16, 16, 3\)\)"):
        tiny_processor(np.zeros((0, 16, 16, 3), np.uint8))


def test_float_input_is_not_modified_when_neither_resized_nor_cropped(processor):
    video = torch.rand(8, 3, 224, 224) * 255
    original = video.clone()
    pixel_values = processor(video, do_resize=False, input_data_format="channels_first")["pixel_values"]
    assert torch.equal(video, original)
    assert torch.equal(pixel_values[0], transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)(original.div(255.0)))


def test_float_frames_in_unit_range_with_do_rescale_false_equal_the_same_frames_in_0_255(processor):
    video = torch.randint(0, 256, (8, 3, 50, 50)).float()
    in_0_255 = processor(video, input_data_format="channels_first")["pixel_values"]
    in_0_1 = processor(video / 255, do_rescale=False, input_data_format="channels_first")["pixel_values"]
    torch.testing.assert_close(in_0_1, in_0_255, rtol=0, atol=1e-5)


def test_float_frames_that_look_rescaled_already_are_warned_about(processor, caplog):
    with caplog.at_level(logging.WARNING):
        processor(torch.rand(8, 3, 32, 32) * 255, input_data_format="channels_first")
        assert not caplog.records
        processor(torch.rand(8, 3, 32, 32), input_data_format="channels_first")
    assert any("do_rescale=False" in record.getMessage() for record in caplog.records)


# --- transformers' conventions: do_sample_frames, num_frames, fps, video_metadata, return_metadata -----------------


def test_do_sample_frames_false_keeps_every_frame_of_arrays_and_files(tiny_processor, tmp_path):
    path = write_index_video(str(tmp_path / "short.mp4"), num_frames=6)
    video = np.stack([index_frame(i, 32, 32) for i in range(6)])
    assert tiny_processor(video, do_sample_frames=False)["pixel_values"].shape == (1, 6, 3, 32, 32)
    pixel_values = tiny_processor(path, do_sample_frames=False)["pixel_values"]
    assert frame_indices_of(undo_normalisation(pixel_values[0])) == list(range(6))


def test_do_sample_frames_false_keeps_every_frame_of_a_clip_window_with_the_calls_decoder(tiny_processor, index_video):
    outputs = tiny_processor(
        index_video, do_sample_frames=False, clip_windows=(3.0, 4.0), video_backend="pyav", return_metadata=True
    )
    assert frame_indices_of(undo_normalisation(outputs["pixel_values"][0])) == list(range(30, 40))
    assert outputs["video_metadata"][0].video_backend == "pyav"


def test_fps_samples_that_many_frames_per_second_of_files(tiny_processor, index_video):
    outputs = tiny_processor(index_video, fps=0.5, return_metadata=True)  # 20 s at 10 fps
    metadata = outputs["video_metadata"][0]
    assert outputs["pixel_values"].shape[1] == 10
    assert metadata.frames_indices == reference_indices(200, 10)
    assert frame_indices_of(undo_normalisation(outputs["pixel_values"][0])) == reference_indices(200, 10)


def test_fps_of_arrays_needs_their_video_metadata(tiny_processor):
    video = np.zeros((40, 16, 16, 3), np.uint8)
    with pytest.raises(ValueError, match="frame rate"):
        tiny_processor(video, fps=2)
    metadata = {"total_num_frames": 40, "fps": 10.0, "duration": 4.0}
    assert tiny_processor(video, fps=2, video_metadata=metadata)["pixel_values"].shape[1] == 8


def test_video_metadata_that_does_not_fit_its_video_is_refused(tiny_processor):
    with pytest.raises(ValueError, match=r"video_metadata\[0\] says 30 frames, not 40"):
        tiny_processor(np.zeros((40, 16, 16, 3), np.uint8), fps=2, video_metadata={"total_num_frames": 30, "fps": 10})


def test_fps_setting_is_saved_and_a_call_with_num_frames_replaces_it(tiny_processor, index_video, tmp_path):
    ViCLIPVideoProcessor(size={"height": 32, "width": 32}, fps=0.25).save_pretrained(tmp_path)
    by_rate = ViCLIPVideoProcessor.from_pretrained(tmp_path)
    assert by_rate(index_video)["pixel_values"].shape[1] == 5
    assert by_rate(index_video, num_frames=3)["pixel_values"].shape[1] == 3
    with pytest.raises(ValueError, match="mutually exclusive"):
        by_rate.sample_frames(VideoMetadata(total_num_frames=10, fps=10.0), num_frames=2, fps=1)


def test_fps_or_num_frames_given_at_load_time_replaces_the_saved_frame_setting(index_video, tmp_path):
    ViCLIPVideoProcessor(size={"height": 32, "width": 32}, num_frames=4).save_pretrained(tmp_path / "by_count")
    by_rate = AutoVideoProcessor.from_pretrained(tmp_path / "by_count", fps=0.25)
    assert (by_rate.fps, by_rate.num_frames) == (0.25, None)
    assert by_rate(index_video)["pixel_values"].shape[1] == 5  # 20 s at 0.25 frames per second
    ViCLIPVideoProcessor(size={"height": 32, "width": 32}, fps=0.25).save_pretrained(tmp_path / "by_rate")
    by_count = AutoVideoProcessor.from_pretrained(tmp_path / "by_rate", num_frames=3)
    assert (by_count.fps, by_count.num_frames) == (None, 3)
    assert by_count(index_video)["pixel_values"].shape[1] == 3


def test_short_videos_repeat_their_last_frame_as_the_reference_does(tiny_processor):
    video = np.stack([index_frame(i, 32, 32) for i in range(3)])
    pixel_values = tiny_processor(video, num_frames=5)["pixel_values"][0]
    assert frame_indices_of(undo_normalisation(pixel_values)) == [0, 1, 2, 2, 2]


@pytest.mark.parametrize("backend", BACKENDS)
def test_return_metadata_gives_the_frames_fps_duration_and_decoder_of_each_video(tiny_processor, index_video, backend):
    array = np.zeros((12, 16, 16, 3), np.uint8)
    outputs = tiny_processor(
        [index_video, index_video, array], clip_windows=[None, (3.0, 5.0), None], video_backend=backend,
        return_metadata=True,
    )  # fmt: skip
    whole, window, given = outputs["video_metadata"]
    assert isinstance(whole, VideoMetadata)
    assert (whole.total_num_frames, whole.fps, whole.duration, whole.video_backend) == (200, 10.0, 20.0, backend)
    assert whole.frames_indices == reference_indices(200, 4)
    assert (window.total_num_frames, window.duration, window.frames_indices) == (20, 2.0, reference_indices(20, 4))
    assert (given.total_num_frames, given.frames_indices) == (12, reference_indices(12, 4))


# --- arguments and settings ------------------------------------------------------------------------------------------


def test_unknown_argument_is_rejected(processor):
    with pytest.raises(TypeError, match="samplng"):
        processor(np.zeros((8, 16, 16, 3), np.uint8), samplng="rand")


def test_arguments_passed_as_none_take_the_processor_settings(processor):
    video = np.random.default_rng(0).integers(0, 256, (12, 20, 20, 3), dtype=np.uint8)
    explicit = processor(
        video, return_tensors="pt", do_train_augmentation=None, sampling=None, clip_windows=None, video_backend=None
    )
    assert torch.equal(explicit["pixel_values"], processor(video)["pixel_values"])


def test_save_and_load_keeps_settings_but_not_call_arguments(tmp_path):
    saved = ViCLIPVideoProcessor(size={"height": 32, "width": 32}, num_frames=4, sampling="rand", decode_size=(64, 64))
    saved.save_pretrained(tmp_path)
    loaded = AutoVideoProcessor.from_pretrained(tmp_path)
    assert isinstance(loaded, ViCLIPVideoProcessor)
    assert (loaded.num_frames, loaded.sampling, tuple(loaded.decode_size)) == (4, "rand", (64, 64))
    assert (loaded.size.height, loaded.size.width) == (32, 32)
    assert "rng" not in loaded.to_dict() and "clip_windows" not in loaded.to_dict()


def test_saving_does_not_add_auto_map_to_the_processor_in_memory(tmp_path):
    processor = ViCLIPVideoProcessor(num_frames=4)
    processor.save_pretrained(tmp_path)
    assert "auto_map" in json.loads((tmp_path / "video_preprocessor_config.json").read_text())
    assert getattr(processor, "auto_map", None) is None and "auto_map" not in processor.to_dict()
    assert processor.to_dict() == ViCLIPVideoProcessor(num_frames=4).to_dict()


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"sampling": "uniform"}, "sampling"),
        ({"video_backend": "ffmpeg"}, "video_backend"),
        ({"decode_size": (0, 32)}, "decode_size"),
        ({"do_convert_rgb": False}, "RGB"),
        ({"rng": np.random.default_rng(0)}, "rng"),
    ],
)
def test_bad_settings_are_refused_naming_them(settings, message):
    from huggingface_hub.errors import StrictDataclassError  # how transformers' typed kwargs refuse a value

    with pytest.raises((ValueError, StrictDataclassError), match=message):
        ViCLIPVideoProcessor(**settings)
