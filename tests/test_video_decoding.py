# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""The reference's frame sampling, the decoders of viclip/video_decoding_viclip.py (decord, PyAV, torchcodec), clip
windows by presentation timestamp, the decord-to-PyAV fallback and the video inputs they accept. The training
library's reader and its PyAV frame planner are tested in tests/test_video_reading.py."""

import fractions
import io
import logging
import os
import shutil
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from tests.processing_helpers import (
    bundled_clips,
    converting_no_frame,
    frame_indices_of,
    index_frame,
)
from tests.video_files import build_resolution_change, frame_index
from viclip import video_decoding_viclip, video_frames_viclip
from viclip.video_decoding_viclip import (
    VideoDecodingError,
    available_video_backends,
    load_video,
    resolve_video_backend,
    sample_frame_indices,
)
from viclip_train.data.video_reading import read_video_frames as viclip_train_read_video_frames


BACKENDS = available_video_backends()
needs_all_backends = pytest.mark.skipif(
    BACKENDS != ["decord", "pyav", "torchcodec"],
    reason="needs decord, PyAV and torchcodec with FFmpeg (see the README's set-up)",
)
needs_decord_and_pyav = pytest.mark.skipif(
    not {"decord", "pyav"} <= set(BACKENDS), reason="needs both decord and PyAV"
)


def reference_indices(num_video_frames: int, num_frames: int) -> list[int]:
    """The reference's sampling written out: segment edges, middle of each segment, padded with the last index."""
    count = min(num_frames, num_video_frames)
    edges = np.linspace(0, num_video_frames, count + 1).astype(int)
    picked = [(int(edges[i]) + int(edges[i + 1]) - 1) // 2 for i in range(count)]
    return picked + [picked[-1]] * (num_frames - count)


def every_frame(metadata, **kwargs):
    return np.arange(metadata.total_num_frames)


def read_video_frames(video, num_frames: int = 8, sampling: str = "middle", rng=None, **load_video_kwargs):
    """The frames the reference's segment sampling picks, decoded by the model package's decoders."""

    def sample(metadata, **kwargs):
        return sample_frame_indices(metadata.total_num_frames, num_frames, sampling, rng)

    return load_video(video, sample, **load_video_kwargs)[0]


def middle_frames(num_frames: int):
    def sample(metadata, **kwargs):
        return sample_frame_indices(metadata.total_num_frames, num_frames)

    return sample


# --- sampling --------------------------------------------------------------------------------------------------------


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
    import torch

    torch.manual_seed(3)
    first = sample_frame_indices(500, 8, "rand")
    torch.manual_seed(3)
    assert sample_frame_indices(500, 8, "rand").tolist() == first.tolist()


@pytest.mark.parametrize("args", [(0, 8), (10, 0), (10, 8, "uniform")])
def test_sample_frame_indices_rejects_bad_arguments(args):
    with pytest.raises(ValueError):
        sample_frame_indices(*args)


def test_sampler_asking_for_frames_past_the_end_is_an_error_naming_the_file(index_video):
    with pytest.raises(ValueError, match=r"frames \[0, 500\] of .*index\.mp4, which has 200 frames"):
        load_video(index_video, lambda metadata: [0, 500])


# --- one table of decoders -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_read_video_frames_returns_reference_frames(index_video, backend):
    frames = read_video_frames(index_video, backend=backend)
    assert frames.dtype == np.uint8 and frames.shape == (8, 32, 32, 3)
    assert frame_indices_of(frames) == reference_indices(200, 8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_decoder_returns_frames_and_their_metadata(index_video, backend):
    frames, metadata = load_video(index_video, middle_frames(4), backend=backend)
    assert frames.shape == (4, 32, 32, 3)
    assert metadata.video_backend == backend
    assert (metadata.total_num_frames, metadata.fps, metadata.duration) == (200, 10.0, 20.0)
    assert (metadata.height, metadata.width) == (32, 32)
    assert metadata.frames_indices == reference_indices(200, 4) == frame_indices_of(frames)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_sampler_that_asks_for_no_frame_reads_the_metadata_without_decoding(index_video, backend, monkeypatch):
    monkeypatch.setattr(video_frames_viclip, "pyav_frame_converter", converting_no_frame)
    frames, metadata = load_video(index_video, lambda metadata: [], backend=backend)
    assert frames.shape[0] == 0 and metadata.total_num_frames == 200


@pytest.mark.parametrize("name", ["bigbuckbunny", "bikes", "carphone_pristine"])
def test_every_backend_reads_the_same_frames_of_bundled_clips(name):
    path = bundled_clips()[name]
    frames = {backend: read_video_frames(path, backend=backend) for backend in BACKENDS}
    for backend, other in frames.items():
        assert np.array_equal(other, frames[BACKENDS[0]]), backend


@pytest.mark.parametrize("backend", BACKENDS)
def test_decode_size_scales_frames_while_decoding(backend):
    frames = read_video_frames(bundled_clips()["bikes"], decode_size=(120, 160), backend=backend)
    assert frames.shape == (8, 120, 160, 3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_decoders_agree_when_decoding_at_reduced_size(backend):
    path = bundled_clips()["bikes"]
    with_pyav = read_video_frames(path, backend="pyav", decode_size=(224, 224)).astype(np.int16)
    with_backend = read_video_frames(path, backend=backend, decode_size=(224, 224)).astype(np.int16)
    assert np.abs(with_backend - with_pyav).mean() <= 2.0  # all bilinear, by FFmpeg's scaler


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
    with pytest.raises(ValueError, match=r"notes\.mp4.*(decord|PyAV|torchcodec)"):
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


def test_rand_sampling_of_files_stays_in_segments(index_video):
    frames = read_video_frames(index_video, sampling="rand", rng=np.random.default_rng(0))
    edges = np.linspace(0, 200, 9).astype(int)
    assert all(edges[i] <= index < edges[i + 1] - 1 for i, index in enumerate(frame_indices_of(frames)))


def test_pyav_is_chosen_automatically_when_decord_is_missing(index_video, monkeypatch):
    monkeypatch.setitem(video_decoding_viclip.BACKEND_PACKAGES, "decord", ("decord", lambda: False))
    assert "decord" not in available_video_backends() and available_video_backends()[0] == "pyav"
    assert frame_indices_of(read_video_frames(index_video)) == reference_indices(200, 8)


def test_torchcodec_without_ffmpeg_is_refused_with_how_to_install_it(monkeypatch):
    import importlib
    import types

    real_import = importlib.import_module

    def torchcodec_without_ffmpeg(name, *args, **kwargs):
        if name == "torchcodec":
            return types.SimpleNamespace(ffmpeg_major_version=None)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", torchcodec_without_ffmpeg)
    assert "torchcodec" not in available_video_backends()
    with pytest.raises(ImportError, match=r"torchcodec .*FFmpeg.*apt-get install libavcodec59"):
        resolve_video_backend("torchcodec")


def test_unknown_backend_is_refused_naming_the_choices():
    with pytest.raises(ValueError, match="torchcodec"):
        resolve_video_backend("ffmpeg")


# --- clip windows: frames chosen by presentation timestamp -----------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_clip_window_samples_inside_the_window(index_video, backend):
    # frames 123..149 (timestamps in [12.3 s, 15 s)); PyAV seeks there instead of decoding from the start
    frames = read_video_frames(index_video, clip_window=(12.3, 15.0), backend=backend)
    assert frame_indices_of(frames) == [123 + i for i in reference_indices(27, 8)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_clip_window_end_past_the_video_is_clamped(index_video, backend):
    frames, metadata = load_video(index_video, middle_frames(8), clip_window=(19.0, 60.0), backend=backend)
    assert frame_indices_of(frames) == [190 + i for i in reference_indices(10, 8)]
    assert (metadata.total_num_frames, metadata.duration) == (10, pytest.approx(1.0))


@pytest.mark.parametrize("window", [(25.0, 30.0), (5.0, 5.0), (-1.0, 2.0)])
def test_clip_window_outside_the_video_or_malformed_raises(index_video, window):
    with pytest.raises(ValueError, match="clip"):
        read_video_frames(index_video, clip_window=window)


@pytest.mark.parametrize("backend", BACKENDS)
def test_clip_window_between_two_frames_raises_instead_of_reading_a_frame_outside_it(index_video, backend):
    with pytest.raises(ValueError, match=r"No frame of .*index\.mp4 is shown in the clip window \[5\.01, 5\.05\)"):
        read_video_frames(index_video, clip_window=(5.01, 5.05), backend=backend)


# Frame i of the variable frame rate videos is shown at VFR_TIMES_MS[i] (irregular gaps from 10 ms to 250 ms).
VFR_TIMES_MS = np.concatenate([[0], np.cumsum(np.random.default_rng(0).choice([10, 40, 100, 250], size=59))]).tolist()


def write_vfr_index_video(path: str, container_format: str | None = None) -> str:
    """H.264 (B-frames, a key frame every 10 frames) of `index_frame`s shown at `VFR_TIMES_MS`."""
    container = av.open(path, "w", format=container_format)
    stream = container.add_stream("libx264", rate=25)
    stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
    stream.time_base = stream.codec_context.time_base = fractions.Fraction(1, 1000)
    stream.options = {"g": "10"}
    for index, time_ms in enumerate(VFR_TIMES_MS):
        frame = av.VideoFrame.from_ndarray(index_frame(index, 32, 32), format="rgb24")
        frame.pts, frame.time_base = time_ms, fractions.Fraction(1, 1000)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


@pytest.fixture(scope="module")
def vfr_videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vfr")
    return [write_vfr_index_video(str(folder / name)) for name in ("vfr.mp4", "vfr.mkv")]


def frames_shown_in(window: tuple[float, float]) -> list[int]:
    return [index for index, time_ms in enumerate(VFR_TIMES_MS) if window[0] <= time_ms / 1000 < window[1]]


@pytest.mark.parametrize(
    "window",
    [
        (0.5, 2.0),
        (2.3, 4.1),  # starts after 2 s: PyAV seeks
        (VFR_TIMES_MS[20] / 1000, VFR_TIMES_MS[31] / 1000),  # a frame exactly at the start (in) and at the end (out)
        (3.0, 100.0),
    ],
)
def test_clip_windows_of_variable_frame_rate_videos_hold_exactly_the_frames_shown_in_them(vfr_videos, window):
    eligible = frames_shown_in(window)
    expected = [eligible[i] for i in reference_indices(len(eligible), 8)]
    for path in vfr_videos:
        for backend in BACKENDS:
            frames, metadata = load_video(path, middle_frames(8), backend=backend, clip_window=window)
            assert frame_indices_of(frames) == expected, (path, backend)
            assert metadata.total_num_frames == len(eligible), (path, backend)


def test_clip_window_metadata_describes_the_clip_alike_on_every_backend(vfr_videos):
    window = (2.3, 100.0)
    metadata = [load_video(vfr_videos[0], middle_frames(8), backend=b, clip_window=window)[1] for b in BACKENDS]
    assert len({(m.total_num_frames, tuple(m.frames_indices)) for m in metadata}) == 1
    last_gap = (VFR_TIMES_MS[-1] - VFR_TIMES_MS[-2]) / 1000
    expected_duration = VFR_TIMES_MS[-1] / 1000 + last_gap - 2.3  # the end clamped to the end of the last frame
    assert all(m.duration == pytest.approx(expected_duration, abs=1e-6) for m in metadata)


@pytest.mark.parametrize("name", ["bigbuckbunny", "bikes", "carphone_pristine"])
def test_clip_windows_of_constant_frame_rate_clips_are_read_alike_by_every_backend(name):
    path = bundled_clips()[name]
    frames = {b: read_video_frames(path, clip_window=(2.5, 3.9), backend=b) for b in BACKENDS}
    assert all(np.array_equal(frames[b], frames[BACKENDS[0]]) for b in BACKENDS)


# --- fallback from decord to PyAV, and images ------------------------------------------------------------------------


def write_tiny_video(path: str, size: int, codec: str = "ffv1", pix_fmt: str = "yuv444p") -> str:
    container = av.open(path, "w")
    stream = container.add_stream(codec, rate=10)
    stream.width = stream.height = size
    stream.pix_fmt = pix_fmt
    for index in range(20):
        for packet in stream.encode(av.VideoFrame.from_ndarray(index_frame(index, size, size), format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


@pytest.fixture(scope="module")
def files_decord_cannot_read(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fallback")
    frames = [Image.fromarray(index_frame(index, 16, 16)) for index in range(12)]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return {
        "animated.gif": (str(folder / "animated.gif"), 12),
        "1x1.mkv": (write_tiny_video(str(folder / "1x1.mkv"), 1), 20),
        "2x2.avi": (write_tiny_video(str(folder / "2x2.avi"), 2, "mpeg4", "yuv420p"), 20),
        # decord: "Failed to measure duration/frame-count due to broken metadata"
        "broken_duration.ts": (write_vfr_index_video(str(folder / "broken_duration.ts"), "mpegts"), 60),
    }


@pytest.mark.skipif("decord" not in BACKENDS or "pyav" not in BACKENDS, reason="needs both decord and PyAV")
@pytest.mark.parametrize("name", ["animated.gif", "1x1.mkv", "2x2.avi", "broken_duration.ts"])
def test_files_decord_cannot_read_are_read_with_pyav_which_the_metadata_names(files_decord_cannot_read, name):
    path, length = files_decord_cannot_read[name]
    frames, metadata = load_video(path, every_frame, backend="decord")
    assert metadata.video_backend == "pyav"
    assert frame_indices_of(frames) == list(range(length))
    assert np.array_equal(frames, load_video(path, every_frame, backend="pyav")[0])


def test_decord_fallback_is_a_warning_once_and_names_each_file_at_info_level(files_decord_cannot_read, caplog):
    if "decord" not in BACKENDS:
        pytest.skip("needs decord")
    logging.Logger.warning_once.cache_clear()  # transformers' once-only warnings
    with caplog.at_level(logging.INFO):
        for name in ("animated.gif", "1x1.mkv", "2x2.avi"):
            read_video_frames(files_decord_cannot_read[name][0], backend="decord")
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1 and "read with PyAV" in warnings[0].getMessage()
    named = [record.getMessage() for record in caplog.records if "it was read with PyAV" in record.getMessage()]
    assert [name for name in ("animated.gif", "1x1.mkv", "2x2.avi") if any(name in m for m in named)] == [
        "animated.gif",
        "1x1.mkv",
        "2x2.avi",
    ]


@needs_decord_and_pyav
def test_a_file_that_is_no_video_is_not_reported_as_read_with_pyav(tmp_path, caplog):
    (tmp_path / "notes.mp4").write_text("not a video, whatever its name says\n" * 100)
    logging.Logger.warning_once.cache_clear()  # transformers' once-only warnings
    with caplog.at_level(logging.INFO), pytest.raises(VideoDecodingError, match="PyAV") as error:
        load_video(str(tmp_path / "notes.mp4"), every_frame, backend="decord")
    assert "notes.mp4" in str(error.value) and "decord could not read it either" in str(error.value)
    assert "read with PyAV" not in caplog.text


def test_missing_torchcodec_error_suggests_the_projects_extra_and_the_ffmpeg_of_the_readme(monkeypatch):
    import viclip.video_decoding_viclip as decoding

    monkeypatch.setitem(decoding.BACKEND_PACKAGES, "torchcodec", ("torchcodec", lambda: False))
    with pytest.raises(ImportError) as error:
        decoding.resolve_video_backend("torchcodec")
    assert 'pip install -e ".[torchcodec]"' in str(error.value)
    assert decoding.TORCHCODEC_FFMPEG_INSTALL in str(error.value)
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert decoding.TORCHCODEC_FFMPEG_INSTALL in readme  # the README's set-up line, word for word


@needs_decord_and_pyav
def test_decode_size_decord_cannot_scale_to_falls_back_to_pyav(index_video):
    frames, metadata = load_video(index_video, middle_frames(8), decode_size=(16, 16), backend="decord")
    assert metadata.video_backend == "pyav"  # decord fails at width 16
    assert frames.shape == (8, 16, 16, 3) and frame_indices_of(frames) == reference_indices(200, 8)


@pytest.mark.parametrize("image_format", ["png", "jpeg"])
def test_an_image_file_is_a_one_frame_video_on_every_backend(tmp_path, image_format):
    path = str(tmp_path / f"picture.{image_format}")
    Image.fromarray(index_frame(37, 24, 40)).save(path)
    for backend in BACKENDS:
        frames, metadata = load_video(path, middle_frames(8), backend=backend)
        assert metadata.total_num_frames == 1, backend
        assert frames.shape == (8, 24, 40, 3) and frame_indices_of(frames) == [37] * 8, backend


# --- video inputs and paths ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["pipe:0", "file:clip.mp4", "http:clip.mp4"])
def test_file_names_ffmpeg_would_read_as_a_protocol_are_read_as_local_files(
    index_video, tmp_path, monkeypatch, backend, name
):
    shutil.copy(index_video, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    assert frame_indices_of(read_video_frames(name, backend=backend)) == reference_indices(200, 8)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["pipe:0", "http://example.com/clip.mp4", "file:missing.mp4"])
def test_protocols_and_urls_are_never_opened(tmp_path, monkeypatch, backend, name):
    monkeypatch.chdir(tmp_path)  # no such file here: nothing is read from stdin or the network
    with pytest.raises(FileNotFoundError, match="URLs and FFmpeg protocols"):
        read_video_frames(name, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_bytes_file_objects_and_datasets_values_read_like_the_path(index_video, backend):
    expected = read_video_frames(index_video, backend=backend, clip_window=(3.0, 9.0))
    data = open(index_video, "rb").read()
    for video in (data, io.BytesIO(data), {"path": None, "bytes": data}, {"path": index_video, "bytes": None}):
        frames = read_video_frames(video, backend=backend, clip_window=(3.0, 9.0))
        assert np.array_equal(frames, expected), type(video)


def test_torchcodec_decoders_are_read_by_torchcodec(index_video):
    expected = read_video_frames(index_video)
    if "torchcodec" in BACKENDS:
        from torchcodec.decoders import VideoDecoder

        frames, metadata = load_video(VideoDecoder(index_video), middle_frames(8))
        assert metadata.video_backend == "torchcodec" and np.array_equal(frames, expected)
        nchw = VideoDecoder(index_video, dimension_order="NCHW")
        assert np.array_equal(load_video(nchw, middle_frames(8))[0], expected)


@needs_all_backends
def test_datasets_video_column_values_are_read(index_video, tmp_path):
    import datasets

    table = datasets.Dataset.from_dict({"video": [index_video]})
    decoded = table.cast_column("video", datasets.Video())[0]["video"]  # a torchcodec VideoDecoder
    undecoded = table.cast_column("video", datasets.Video(decode=False))[0]["video"]  # {"path": ..., "bytes": None}
    expected = read_video_frames(index_video, clip_window=(3.0, 9.0))
    for video in (decoded, undecoded):
        assert np.array_equal(read_video_frames(video, clip_window=(3.0, 9.0)), expected)


# --- frame sizes: odd heights, a resolution that changes mid-stream ------------------------------------------------


def write_yuv420p_video(path: str, luma: np.ndarray, chroma: tuple[np.ndarray, np.ndarray]) -> str:
    """A one-frame lossless (FFV1) Matroska file of exactly these YUV 4:2:0 planes, so that the decoded values are
    known and only the conversion to RGB differs between decoders."""
    height, width = luma.shape
    container = av.open(path, "w")
    stream = container.add_stream("ffv1", rate=10)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    frame = av.VideoFrame(width, height, "yuv420p")
    for plane, values in zip(frame.planes, (luma, *chroma), strict=True):
        rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size).copy()
        rows[: values.shape[0], : values.shape[1]] = values
        plane.update(rows.tobytes())
    for packet in [*stream.encode(frame), *stream.encode()]:
        container.mux(packet)
    container.close()
    return path


@needs_all_backends
@pytest.mark.parametrize(
    ("height", "width", "flat_chroma"),
    [(32, 96, False), (32, 97, False), (33, 97, True)],
    ids=["even-size", "odd-width", "odd-height-grey"],
)
def test_backends_convert_frames_to_the_same_rgb_except_the_chroma_of_odd_heights(
    tmp_path, height, width, flat_chroma
):
    # libswscale converts even-height frames row pair by row pair, alike in the FFmpeg of each backend (decord 4.1,
    # PyAV's own, torchcodec's system one). For an odd height it falls back to its general scaler, whose vertical
    # chroma interpolation differs between versions (the "97x33 MPEG-4" frames of issue 17 differ by up to 50 levels
    # where colour changes from row to row), while luma stays identical: grey content is the same everywhere.
    rng = np.random.default_rng(0)
    chroma_shape = ((height + 1) // 2, (width + 1) // 2)
    chroma = tuple(
        np.full(chroma_shape, 128, np.uint8) if flat_chroma else rng.integers(16, 240, chroma_shape, dtype=np.uint8)
        for _ in range(2)
    )
    path = write_yuv420p_video(str(tmp_path / "planes.mkv"), rng.integers(16, 235, (height, width), np.uint8), chroma)
    frames = [load_video(path, every_frame, backend=backend)[0] for backend in BACKENDS]
    assert all(frame.shape == (1, height, width, 3) for frame in frames)
    assert all(np.array_equal(frames[0], frame) for frame in frames[1:])


@pytest.mark.parametrize("backend", [backend for backend in BACKENDS if backend != "torchcodec"])
def test_frames_of_a_stream_whose_resolution_changes_are_scaled_to_its_first_size(tmp_path, backend):
    path = str(build_resolution_change(tmp_path))
    frames, metadata = load_video(path, every_frame, backend=backend)
    assert frames.shape == (20, 48, 64, 3)
    assert [frame_index(frame) for frame in frames] == list(range(20))
    sampled = viclip_train_read_video_frames(path, num_frames=4, backend=backend)  # training's reader (the planner)
    assert [frame_index(frame) for frame in sampled] == [2, 7, 12, 17] and sampled.shape[1:3] == (48, 64)


@pytest.mark.skipif("torchcodec" not in BACKENDS, reason="torchcodec is not installed")
def test_torchcodec_refuses_a_stream_whose_resolution_changes_naming_the_file(tmp_path):
    path = str(build_resolution_change(tmp_path))
    with pytest.raises(ValueError, match=r"torchcodec could not decode .*resolution_change\.ts"):
        load_video(path, every_frame, backend="torchcodec")


def test_a_file_is_probed_once_while_it_is_unchanged(index_video):
    # every read of a path asks `probe_video` how to read the file: an epoch over the same files pays it once
    probe_file = video_frames_viclip._probe_file
    probe_file.cache_clear()
    for backend in BACKENDS:
        for _ in range(2):
            load_video(index_video, middle_frames(2), backend=backend)
            viclip_train_read_video_frames(index_video, num_frames=2, backend=backend)
    assert probe_file.cache_info().misses == 1
    status = os.stat(index_video)
    os.utime(index_video, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000))  # the file was replaced
    load_video(index_video, middle_frames(2), backend=BACKENDS[0])
    assert probe_file.cache_info().misses == 2
