# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""Frame sampling, decoding backends and the eval/train transforms of ViCLIPVideoProcessor (spec §7)."""

import av
import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms
from torchvision.transforms import InterpolationMode
from transformers import AutoVideoProcessor

from tests.processing_helpers import bundled_clips, frame_indices_of, index_frame, write_index_video
from viclip import ViCLIPVideoProcessor, read_video_frames, sample_frame_indices
from viclip.video_processing_viclip import available_video_backends

BACKENDS = available_video_backends()
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def reference_indices(num_video_frames: int, num_frames: int) -> list[int]:
    """Spec §7 written out: segment edges, middle of each segment, padded with the last index."""
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
def index_video(tmp_path_factory):
    """20 s at 10 fps (200 frames), key frame every second, 32x32."""
    return write_index_video(str(tmp_path_factory.mktemp("videos") / "index.mp4"), num_frames=200)


@pytest.mark.parametrize("num_video_frames", [1, 3, 7, 8, 9, 31, 132, 250, 1001])
@pytest.mark.parametrize("num_frames", [1, 4, 8, 16])
def test_middle_indices_follow_reference_formula(num_video_frames, num_frames):
    assert sample_frame_indices(num_video_frames, num_frames).tolist() == reference_indices(
        num_video_frames, num_frames
    )


def test_short_video_indices_are_padded_with_last_index():
    assert sample_frame_indices(3, 8).tolist() == [0, 1, 2, 2, 2, 2, 2, 2]


def test_rand_indices_fall_in_each_segment_excluding_its_last_frame():
    rng = np.random.default_rng(0)
    edges = np.linspace(0, 100, 9).astype(int)
    for _ in range(50):
        indices = sample_frame_indices(100, 8, "rand", rng)
        assert all(edges[i] <= index < edges[i + 1] - 1 for i, index in enumerate(indices))


def test_rand_with_one_frame_segments_draws_sorted_distinct_frames():
    indices = sample_frame_indices(10, 8, "rand", np.random.default_rng(1))  # some segments hold one frame
    assert len(set(indices.tolist())) == 8 and indices.tolist() == sorted(indices.tolist())


def test_rand_indices_follow_torch_seed_when_no_rng_given():
    torch.manual_seed(3)
    first = sample_frame_indices(500, 8, "rand")
    torch.manual_seed(3)
    assert sample_frame_indices(500, 8, "rand").tolist() == first.tolist()


@pytest.mark.parametrize("args", [(0, 8), (10, 0), (10, 8, "uniform")])
def test_sample_frame_indices_rejects_bad_arguments(args):
    with pytest.raises(ValueError):
        sample_frame_indices(*args)


@pytest.mark.parametrize("backend", BACKENDS)
def test_read_video_frames_returns_reference_frames(index_video, backend):
    frames = read_video_frames(index_video, backend=backend)
    assert frames.dtype == np.uint8 and frames.shape == (8, 32, 32, 3)
    assert frame_indices_of(frames) == reference_indices(200, 8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_clip_window_samples_inside_the_window(index_video, backend):
    # frames 123..149 (timestamps in [12.3 s, 15 s)); PyAV seeks there instead of decoding from the start
    frames = read_video_frames(index_video, clip_window=(12.3, 15.0), backend=backend)
    assert frame_indices_of(frames) == [123 + i for i in reference_indices(27, 8)]


def test_clip_window_end_past_the_video_is_clamped(index_video):
    frames = read_video_frames(index_video, clip_window=(19.0, 60.0), backend=BACKENDS[0])
    assert frame_indices_of(frames) == [190 + i for i in reference_indices(10, 8)]


@pytest.mark.parametrize("window", [(25.0, 30.0), (5.0, 5.0), (-1.0, 2.0)])
def test_clip_window_outside_the_video_or_malformed_raises(index_video, window):
    with pytest.raises(ValueError, match="clip"):
        read_video_frames(index_video, clip_window=window)


@pytest.mark.parametrize("name", ["bigbuckbunny", "bikes", "carphone_pristine"])
def test_decord_and_pyav_read_the_same_frames_of_bundled_clips(name):
    if BACKENDS != ["decord", "pyav"]:
        pytest.skip("needs both decord and PyAV")
    path = bundled_clips()[name]
    with_decord = read_video_frames(path, backend="decord").astype(np.int16)
    with_pyav = read_video_frames(path, backend="pyav").astype(np.int16)
    assert with_decord.shape == with_pyav.shape
    assert np.abs(with_decord - with_pyav).mean() <= 2.0  # within 2/255 on average (identical in practice)


@pytest.mark.parametrize("backend", BACKENDS)
def test_decode_size_scales_frames_while_decoding(backend):
    frames = read_video_frames(bundled_clips()["bikes"], decode_size=(120, 160), backend=backend)
    assert frames.shape == (8, 120, 160, 3)


def test_pyav_decoder_matches_decord_when_decoding_at_reduced_size():
    if BACKENDS != ["decord", "pyav"]:
        pytest.skip("needs both decord and PyAV")
    path = bundled_clips()["bikes"]
    with_decord = read_video_frames(path, backend="decord", decode_size=(224, 224)).astype(np.int16)
    with_pyav = read_video_frames(path, backend="pyav", decode_size=(224, 224)).astype(np.int16)
    assert np.abs(with_decord - with_pyav).mean() <= 2.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_grayscale_odd_sized_file_without_frame_count_is_read_as_rgb(tmp_path, backend):
    path = str(tmp_path / "gray.mkv")  # Matroska stores no frame count: PyAV counts packets, as decord does
    container = av.open(path, "w")
    stream = container.add_stream("ffv1", rate=10)
    stream.width, stream.height, stream.pix_fmt = 37, 29, "gray"
    for index in range(30):
        frame = av.VideoFrame.from_ndarray(np.full((29, 37), index * 8, np.uint8), format="gray")
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    frames = read_video_frames(path, backend=backend)
    assert frames.shape == (8, 29, 37, 3)
    assert (frames[:, 0, 0, 0] // 8).tolist() == reference_indices(30, 8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_file_raises_file_not_found_naming_it(tmp_path, backend):
    missing = str(tmp_path / "nowhere.mp4")
    with pytest.raises(FileNotFoundError, match="nowhere.mp4"):
        read_video_frames(missing, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_unreadable_file_raises_value_error_naming_it_and_the_decoder(tmp_path, backend):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video")
    with pytest.raises(ValueError, match=r"notes\.mp4.*(decord|PyAV)"):
        read_video_frames(str(path), backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_video_without_frames_raises_value_error(tmp_path, backend):
    path = str(tmp_path / "empty.avi")
    container = av.open(path, "w")
    stream = container.add_stream("mpeg4", rate=10)
    stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
    container.start_encoding()
    container.close()
    with pytest.raises(ValueError, match="empty.avi"):
        read_video_frames(path, backend=backend)


def test_default_transform_equals_reference_on_a_720p_clip(processor):
    path = bundled_clips()["bigbuckbunny"]
    frames = read_video_frames(path, backend=BACKENDS[0])
    pixel_values = processor(path)["pixel_values"]
    assert pixel_values.shape == (1, 8, 3, 224, 224) and pixel_values.dtype == torch.float32
    assert torch.equal(pixel_values[0], reference_eval_transform(frames))


def test_default_transform_equals_reference_on_arrays(processor):
    video = np.random.default_rng(0).integers(0, 256, (8, 61, 47, 3), dtype=np.uint8)
    assert torch.equal(processor(video)["pixel_values"][0], reference_eval_transform(video))


def test_arrays_are_sampled_with_the_reference_indices(processor):
    video = np.stack([index_frame(i, 16, 16) for i in range(50)])
    expected = reference_eval_transform(video[reference_indices(50, 8)])
    assert torch.equal(processor(video)["pixel_values"][0], expected)


def test_mixed_batch_of_files_arrays_tensors_and_frame_lists(processor, index_video):
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, (12, 40, 50, 3), dtype=np.uint8)
    pil_frames = [Image.fromarray(frame) for frame in array[:5]]
    gray_frames = [frame[..., 0] for frame in array[:3]]
    tensor_channels_first = torch.from_numpy(array).permute(0, 3, 1, 2)
    batch = processor([index_video, array, pil_frames, gray_frames, tensor_channels_first])["pixel_values"]
    assert batch.shape == (5, 8, 3, 224, 224)
    assert torch.equal(batch[1], batch[4])  # channels-first tensors are read like channels-last arrays


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


def test_rand_sampling_of_files_stays_in_segments(processor, index_video):
    frames = read_video_frames(index_video, sampling="rand", rng=np.random.default_rng(0))
    edges = np.linspace(0, 200, 9).astype(int)
    assert all(edges[i] <= index < edges[i + 1] - 1 for i, index in enumerate(frame_indices_of(frames)))


def test_clip_windows_take_one_pair_or_one_per_video(processor, index_video):
    both = processor([index_video, index_video], clip_windows=(3.0, 4.0))["pixel_values"]
    each = processor([index_video, index_video], clip_windows=[(3.0, 4.0), None])["pixel_values"]
    assert torch.equal(both[0], both[1]) and torch.equal(both[0], each[0])
    assert not torch.equal(each[0], each[1])


def test_clip_windows_on_arrays_are_rejected(processor):
    with pytest.raises(ValueError, match="clip_windows"):
        processor(np.zeros((8, 16, 16, 3), np.uint8), clip_windows=(0.0, 1.0))


def test_unknown_argument_is_rejected(processor):
    with pytest.raises(TypeError, match="samplng"):
        processor(np.zeros((8, 16, 16, 3), np.uint8), samplng="rand")


def test_bad_input_type_is_rejected_with_its_position(processor):
    with pytest.raises(TypeError, match=r"videos\[1\]"):
        processor([np.zeros((8, 16, 16, 3), np.uint8), 3.5])


def test_save_and_load_keeps_settings_but_not_call_arguments(tmp_path):
    saved = ViCLIPVideoProcessor(size={"height": 32, "width": 32}, num_frames=4, sampling="rand", decode_size=(64, 64))
    saved.save_pretrained(tmp_path)
    loaded = AutoVideoProcessor.from_pretrained(tmp_path)
    assert isinstance(loaded, ViCLIPVideoProcessor)
    assert (loaded.num_frames, loaded.sampling, tuple(loaded.decode_size)) == (4, "rand", (64, 64))
    assert (loaded.size.height, loaded.size.width) == (32, 32)
    assert "rng" not in loaded.to_dict() and "clip_windows" not in loaded.to_dict()


def test_pyav_is_chosen_automatically_when_decord_is_missing(index_video, monkeypatch):
    import importlib

    real_import = importlib.import_module

    def without_decord(name, *args, **kwargs):
        if name == "decord":
            raise ImportError("No module named 'decord'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", without_decord)
    assert available_video_backends() == ["pyav"]
    assert frame_indices_of(read_video_frames(index_video)) == reference_indices(200, 8)


def test_decode_size_decord_cannot_scale_to_falls_back_to_pyav(index_video):
    if BACKENDS != ["decord", "pyav"]:
        pytest.skip("needs both decord and PyAV")
    frames = read_video_frames(index_video, decode_size=(16, 16), backend="decord")  # decord fails at width 16
    assert frames.shape == (8, 16, 16, 3) and frame_indices_of(frames) == reference_indices(200, 8)


def test_arguments_passed_as_none_take_the_processor_settings(processor):
    video = np.random.default_rng(0).integers(0, 256, (12, 20, 20, 3), dtype=np.uint8)
    explicit = processor(
        video, return_tensors="pt", do_train_augmentation=None, sampling=None, clip_windows=None, video_backend=None
    )
    assert torch.equal(explicit["pixel_values"], processor(video)["pixel_values"])
