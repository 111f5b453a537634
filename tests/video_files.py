# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Tiny video files of the kinds users have, built here, and what a player shows of each.

Each builder writes one class of real-world file in a few milliseconds with PyAV (no `ffmpeg` command needed): phone
recordings with a display matrix, broadcast captures with B-frames in MPEG-TS, exports with B-frames in AVI (MPEG-4
Part 2 and H.264) and in MP4 (MPEG-4 Part 2), files with a thumbnail track, cover art or two video tracks, stream-copy
cuts and a still picture shown for two seconds, plus the common case (H.264 in MP4) as the control. Where a structure
is written by hand rather than by a muxer (the track matrix of a rotated video, cover art listed before the video
track), the builder edits the MP4 boxes that FFmpeg's muxer wrote, as a phone or a tagging tool writes them.

Every frame is index-coded so that which frame a decoder returned, and in which orientation, is decided from pixels
alone, through lossy compression: frame `i` is a flat colour whose red and green levels encode `i` (16 levels each,
so 0 <= i < 256), and a blue block marks its stored top-left corner. [`frame_index`] and [`marker_corner`] read them
back.

A builder returns a [`VideoFile`]: the path, a clip window to test, and the [`PlayerView`] of the file, what a
standard player shows: the stream FFmpeg picks (`av_find_best_stream`, never an attached picture), its frames in
FFmpeg's presentation order with their best-effort timestamps (after edit lists, from the stream's start time), and
the display transform applied (what `ffmpeg -autorotate`, the default, shows). `tests/test_player_frames.py` checks
each view against the `ffmpeg` and `ffprobe` commands themselves, then every backend of this project against it.
"""

import fractions
import io
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np


# Stored frame size: landscape, a multiple of 16 (MPEG-2 macroblocks), and wide enough that decord rotates it (decord
# fails on rotated videos displayed less than 64 pixels wide).
HEIGHT, WIDTH = 96, 128
FPS = 10
_LEVEL_STEP = 16  # between two coded levels of red or green: compression errors stay well below half of it
CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")


# --- index-coded frames ----------------------------------------------------------------------------------------------


def index_frame(index: int, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """The RGB frame `[height, width, 3]` uint8 that encodes `index` (0-255), its top-left block marked blue."""
    if not 0 <= index < 256:
        raise ValueError(f"index-coded frames encode 0 to 255, got {index}.")
    frame = np.zeros((height, width, 3), np.uint8)
    frame[..., 0] = 8 + _LEVEL_STEP * (index % 16)
    frame[..., 1] = 8 + _LEVEL_STEP * (index // 16)
    frame[: height // 4, : width // 4, 2] = 255
    return frame


def frame_index(frame: np.ndarray) -> int:
    """The index an [`index_frame`] encodes, read from its centre (`[H, W, 3]` uint8 RGB, in any orientation)."""
    height, width = frame.shape[:2]
    red, green = frame[height // 3 : 2 * height // 3, width // 3 : 2 * width // 3, :2].reshape(-1, 2).mean(axis=0)
    return int(round((green - 8) / _LEVEL_STEP)) * 16 + int(round((red - 8) / _LEVEL_STEP))


def marker_corner(frame: np.ndarray) -> str:
    """Where the stored top-left corner of an [`index_frame`] is in `frame`: `"top-left"` when shown as stored."""
    height, width = frame.shape[:2]
    rows, columns = max(1, height // 8), max(1, width // 8)
    blue = frame[..., 2].astype(np.float64)
    means = [
        blue[:rows, :columns].mean(),
        blue[:rows, -columns:].mean(),
        blue[-rows:, :columns].mean(),
        blue[-rows:, -columns:].mean(),
    ]
    return CORNERS[int(np.argmax(means))]


# --- what a player shows ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlayerView:
    """
    What a standard player shows of a file.

    Attributes:
        stream_index (`int`): the container's index of the stream played (FFmpeg's best video stream).
        indices (`tuple[int, ...]`): the index coded in each frame shown, in presentation order.
        timestamps (`tuple[float, ...]`): when each is shown, in seconds from the stream's start time (FFmpeg's
            best-effort timestamps, after edit lists).
        end (`float`): when the last frame stops being shown (its timestamp plus its duration).
        size (`tuple[int, int]`): `(height, width)` of the frames as shown, after the display transform.
        marker (`str`): where the stored top-left corner appears once shown, one of `CORNERS`.
    """

    stream_index: int
    indices: tuple[int, ...]
    timestamps: tuple[float, ...]
    end: float
    size: tuple[int, int]
    marker: str

    def frames_in_window(self, start: float, stop: float, slack: float = 1e-6) -> list[int]:
        """
        The indices shown in the clip window `[start, stop)` seconds: the frames whose timestamp falls in it, or, when
        none does, the frame on screen at `start` (a window inside one frame's display, e.g. of a still picture).
        """
        if start >= self.end - slack:
            raise ValueError(f"The window ({start}, {stop}) starts after the end of the video ({self.end} s).")
        shown = list(zip(self.indices, self.timestamps, strict=True))
        inside = [index for index, time in shown if start - slack <= time < stop - slack]
        return inside or [index for index, time in shown if time <= start + slack][-1:]


@dataclass(frozen=True)
class VideoFile:
    """A built file: where it is, what a player shows of it, and a clip window (seconds) to read from it."""

    path: Path
    view: PlayerView
    window: tuple[float, float]


def _regular_view(
    indices: list[int],
    *,
    stream_index: int = 0,
    first_timestamp: float = 0.0,
    size: tuple[int, int] = (HEIGHT, WIDTH),
    marker: str = "top-left",
) -> PlayerView:
    """The view of frames shown one every `1 / FPS` seconds from `first_timestamp`."""
    timestamps = tuple(round(first_timestamp + position / FPS, 6) for position in range(len(indices)))
    return PlayerView(
        stream_index=stream_index,
        indices=tuple(indices),
        timestamps=timestamps,
        end=round(timestamps[-1] + 1 / FPS, 6),
        size=size,
        marker=marker,
    )


# --- writing ---------------------------------------------------------------------------------------------------------


def _add_stream(
    container: av.container.OutputContainer,
    codec: str,
    *,
    height: int = HEIGHT,
    width: int = WIDTH,
    key_frame_interval: int = 10,
    b_frames: int | None = None,
    options: dict[str, str] | None = None,
) -> av.video.stream.VideoStream:
    """A video stream at `FPS` frames per second, one encoder thread. `b_frames` sets the encoder's maximum number of
    consecutive B-frames (libx264 uses 3 unless told otherwise); MPEG-2 and MPEG-4 Part 2 are coded at the finest
    quantiser so that frame levels survive."""
    stream = container.add_stream(codec, rate=FPS)
    stream.height, stream.width, stream.pix_fmt = height, width, "yuv420p"
    stream.codec_context.gop_size = key_frame_interval
    stream.codec_context.thread_count = 1
    if b_frames is not None:
        stream.codec_context.max_b_frames = b_frames
    if codec in ("mpeg2video", "mpeg4"):
        stream.codec_context.qscale = 2
    # libx264: key frames only every `key_frame_interval` frames (no scene-cut ones, which differ between versions)
    stream.options = {"x264-params": "scenecut=0", **(options or {})} if codec == "libx264" else dict(options or {})
    return stream


def _encode(
    container: av.container.OutputContainer,
    stream: av.video.stream.VideoStream,
    indices: list[int],
    first_pts: int | None = None,
) -> None:
    """Encodes the index-coded frames `indices` into `stream`, flushing the encoder; the frames are timed from
    `first_pts` frame intervals on when it is given (else the encoder numbers them from 0)."""
    for position, index in enumerate(indices):
        frame = av.VideoFrame.from_ndarray(index_frame(index, stream.height, stream.width), format="rgb24")
        if first_pts is not None:
            frame.pts, frame.time_base = first_pts + position, fractions.Fraction(1, FPS)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def _write_video(
    path: Path, codec: str, indices: list[int], container_format: str | None = None, **stream_kwargs
) -> None:
    """Writes the index-coded frames `indices` as the only stream of a file (see `_add_stream` for `stream_kwargs`)."""
    with av.open(str(path), "w", format=container_format) as container:
        _encode(container, _add_stream(container, codec, **stream_kwargs), indices)


def _remux(source: Path, destination: Path, first_packet: int, shift_seconds: float) -> None:
    """Copies the video packets of `source` from the `first_packet`-th in decoding order on (a stream copy), their
    timestamps moved `shift_seconds` earlier."""
    with av.open(str(source)) as reader, av.open(str(destination), "w") as writer:
        stream_in = reader.streams.video[0]
        stream_out = writer.add_stream_from_template(stream_in)
        shift = round(shift_seconds / stream_in.time_base)
        packets = [packet for packet in reader.demux(stream_in) if packet.size]
        for packet in packets[first_packet:]:
            packet.pts -= shift
            packet.dts -= shift
            packet.stream = stream_out
            writer.mux(packet)


# --- MP4 boxes -------------------------------------------------------------------------------------------------------


def _boxes(data: bytes, start: int, stop: int) -> list[tuple[bytes, int, int]]:
    """The ISO-BMFF boxes between `start` and `stop`: `(type, offset, size)` each (32-bit sizes only)."""
    boxes, offset = [], start
    while offset < stop:
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size < 8:
            raise ValueError(f"Unsupported MP4 box size {size} at offset {offset}.")
        boxes.append((kind, offset, size))
        offset += size
    return boxes


def _child(data: bytes, parent: tuple[bytes, int, int], kind: bytes) -> tuple[bytes, int, int]:
    _, offset, size = parent
    return next(box for box in _boxes(data, offset + 8, offset + size) if box[0] == kind)


def _set_track_rotation(path: Path, degrees: int) -> None:
    """Writes the display matrix of a counter-clockwise rotation by `degrees` into the track header (tkhd) of the
    first track of an MP4 file, as phones do for a video held upright: FFmpeg reports it as `rotation=degrees`."""
    data = bytearray(path.read_bytes())
    moov = next(box for box in _boxes(data, 0, len(data)) if box[0] == b"moov")
    _, tkhd_offset, _ = _child(data, _child(data, moov, b"trak"), b"tkhd")
    version = data[tkhd_offset + 8]
    # after the box header: version and flags, times, track id, duration (32- or 64-bit), reserved, layer, volume
    matrix_offset = tkhd_offset + 8 + 4 + (32 if version == 1 else 20) + 8 + 8
    cos, sin = round(np.cos(np.radians(degrees))), round(np.sin(np.radians(degrees)))
    matrix = (cos << 16, -sin << 16, 0, sin << 16, cos << 16, 0, 0, 0, 1 << 30)  # 16.16, last column 2.30
    data[matrix_offset : matrix_offset + 36] = struct.pack(">9i", *matrix)
    path.write_bytes(bytes(data))


def _move_user_data_first(path: Path) -> None:
    """Moves the user data box (udta, which holds cover art) of an MP4 file before its tracks, where some tagging
    tools put it: FFmpeg then lists the cover art as stream 0. Only boxes inside moov move, so every media offset
    (into mdat, written before moov) stays valid."""
    data = path.read_bytes()
    kind, offset, size = next(box for box in _boxes(data, 0, len(data)) if box[0] == b"moov")
    children = _boxes(data, offset + 8, offset + size)
    order = sorted(children, key=lambda box: {b"mvhd": 0, b"udta": 1}.get(box[0], 2))
    moov = data[offset : offset + 8] + b"".join(data[at : at + length] for _, at, length in order)
    path.write_bytes(data[:offset] + moov + data[offset + size :])


# --- one builder per class of file -----------------------------------------------------------------------------------


def build_h264_mp4(folder: Path) -> VideoFile:
    """The common case and the control: H.264 (with B-frames) in MP4, no rotation, 20 frames."""
    path = folder / "h264.mp4"
    _write_video(path, "libx264", list(range(20)))
    return VideoFile(path, _regular_view(list(range(20))), (0.5, 1.5))


def _build_rotated(folder: Path, degrees: int) -> VideoFile:
    path = folder / f"rotated_{degrees}.mp4"
    _write_video(path, "libx264", list(range(20)))
    _set_track_rotation(path, degrees)
    # counter-clockwise: the stored top-left corner goes to the bottom-left, bottom-right, top-right
    marker = {90: "bottom-left", 180: "bottom-right", 270: "top-right"}[degrees]
    size = (WIDTH, HEIGHT) if degrees in (90, 270) else (HEIGHT, WIDTH)
    return VideoFile(path, _regular_view(list(range(20)), size=size, marker=marker), (0.5, 1.5))


def build_rotated_90(folder: Path) -> VideoFile:
    """A phone video held upright: H.264 in MP4 stored landscape, display matrix rotating 90° counter-clockwise."""
    return _build_rotated(folder, 90)


def build_rotated_180(folder: Path) -> VideoFile:
    """A phone video filmed upside down: stored landscape, display matrix rotating 180°."""
    return _build_rotated(folder, 180)


def build_rotated_270(folder: Path) -> VideoFile:
    """A phone video held upright the other way: stored landscape, display matrix rotating 270° counter-clockwise."""
    return _build_rotated(folder, 270)


def build_h264_ts(folder: Path) -> VideoFile:
    """A broadcast capture: H.264 with B-frames in MPEG-TS, 40 frames (the muxer starts the clock at 0.2 s). The clip
    window starts after 2 s, where the PyAV reader seeks, and FFmpeg's seeks in MPEG-TS land one key frame late."""
    path = folder / "h264.ts"
    _write_video(path, "libx264", list(range(40)), container_format="mpegts")
    return VideoFile(path, _regular_view(list(range(40))), (2.5, 3.5))


def build_mpeg2_ts(folder: Path) -> VideoFile:
    """A DVB or DVD-style capture: MPEG-2 video with two B-frames between references in MPEG-TS, 40 frames; the clip
    window starts after 2 s, as for `build_h264_ts`."""
    path = folder / "mpeg2.ts"
    _write_video(path, "mpeg2video", list(range(40)), container_format="mpegts", b_frames=2)
    return VideoFile(path, _regular_view(list(range(40))), (2.5, 3.5))


def build_mpeg2_ps(folder: Path) -> VideoFile:
    """A DVD or camcorder file (`.mpg`, `.vob`): MPEG-2 video with two B-frames between references in an MPEG program
    stream, 40 frames; the clip window starts after 2 s, as for `build_h264_ts`."""
    path = folder / "mpeg2.mpg"
    _write_video(path, "mpeg2video", list(range(40)), container_format="mpeg", b_frames=2)
    return VideoFile(path, _regular_view(list(range(40))), (2.5, 3.5))


def build_mpeg4_avi(folder: Path) -> VideoFile:
    """An old AVI export: MPEG-4 Part 2 with B-frames in AVI, 24 frames. AVI stores no presentation timestamps, so
    FFmpeg's best-effort timestamps start one frame late (frame 0 is shown at 0.1 s)."""
    path = folder / "mpeg4.avi"
    _write_video(path, "mpeg4", list(range(24)), b_frames=2)
    return VideoFile(path, _regular_view(list(range(24)), first_timestamp=1 / FPS), (0.5, 1.5))


def build_h264_avi(folder: Path) -> VideoFile:
    """A camera or screen-recorder export: H.264 with B-frames in AVI, 24 frames. AVI stores decoding times only;
    FFmpeg's best-effort timestamps start two frames late (frame 0 is shown at 0.2 s) and the last two frames have
    none (a player shows them one frame after the other)."""
    path = folder / "h264.avi"
    _write_video(path, "libx264", list(range(24)))
    return VideoFile(path, _regular_view(list(range(24)), first_timestamp=2 / FPS), (0.5, 1.5))


def build_mpeg4_mp4(folder: Path) -> VideoFile:
    """MPEG-4 Part 2 with B-frames in MP4, 24 frames."""
    path = folder / "mpeg4.mp4"
    _write_video(path, "mpeg4", list(range(24)), b_frames=2)
    return VideoFile(path, _regular_view(list(range(24))), (0.5, 1.5))


def _write_two_tracks(
    path: Path,
    first: tuple[list[int], tuple[int, int], dict[str, str]],
    second: tuple[list[int], tuple[int, int], dict[str, str]],
    default: int,
) -> None:
    """Two H.264 video tracks in one MP4 file, `(indices, (height, width), encoder options)` each; only track
    `default` has the default disposition (the track a player enables)."""
    with av.open(str(path), "w") as container:
        streams = []
        for indices, (height, width), options in (first, second):
            streams.append((_add_stream(container, "libx264", height=height, width=width, options=options), indices))
        for position, (stream, _) in enumerate(streams):
            stream.disposition = av.stream.Disposition.default if position == default else av.stream.Disposition(0)
        for stream, indices in streams:
            _encode(container, stream, indices)


def build_thumbnail_track_first(folder: Path) -> VideoFile:
    """A 1-frame 64x48 thumbnail track (index 250) listed before the video track (20 frames, the default track)."""
    path = folder / "thumbnail_first.mp4"
    _write_two_tracks(path, ([250], (48, 64), {}), (list(range(20)), (HEIGHT, WIDTH), {}), default=1)
    return VideoFile(path, _regular_view(list(range(20)), stream_index=1), (0.5, 1.5))


def build_cover_art_first(folder: Path) -> VideoFile:
    """A video with cover art (a PNG of index 250, an attached picture) that FFmpeg lists as stream 0, before the
    20-frame video track."""
    path = folder / "cover_art_first.mp4"
    with av.open(str(path), "w") as container:
        video = _add_stream(container, "libx264")
        cover = container.add_stream("png")
        cover.height, cover.width, cover.pix_fmt = HEIGHT, WIDTH, "rgb24"
        cover.disposition = av.stream.Disposition.attached_pic
        container.mux(cover.encode(av.VideoFrame.from_ndarray(index_frame(250), format="rgb24")))
        container.mux(cover.encode(None))
        _encode(container, video, list(range(20)))
    _move_user_data_first(path)
    return VideoFile(path, _regular_view(list(range(20)), stream_index=1), (0.5, 1.5))


def build_cover_art_only(folder: Path) -> Path:
    """An audio file with cover art (a music track as MP4): its only video stream is an attached picture, so a player
    shows no video. Not a [`VideoFile`]: there is nothing to read."""
    path = folder / "cover_art_only.mp4"
    with av.open(str(path), "w") as container:
        audio = container.add_stream("aac", rate=8000)
        cover = container.add_stream("png")
        cover.height, cover.width, cover.pix_fmt = HEIGHT, WIDTH, "rgb24"
        cover.disposition = av.stream.Disposition.attached_pic
        container.mux(cover.encode(av.VideoFrame.from_ndarray(index_frame(250), format="rgb24")))
        container.mux(cover.encode(None))
        silence = av.AudioFrame.from_ndarray(np.zeros((1, 8000), np.float32), format="fltp", layout="mono")
        silence.sample_rate, silence.pts = 8000, 0
        for packet in [*audio.encode(silence), *audio.encode(None)]:
            container.mux(packet)
    return path


def build_resolution_change(folder: Path) -> Path:
    """H.264 in MPEG-TS whose frames 0-9 are 64x48 and frames 10-19 128x96: two encodes joined, as a broadcast capture
    or concatenated segments give. Not a [`VideoFile`]: a player scales the frames to one size of its choosing."""
    segments = []
    for first, (height, width) in ((0, (48, 64)), (10, (HEIGHT, WIDTH))):
        buffer = io.BytesIO()
        with av.open(buffer, "w", format="mpegts") as container:
            stream = _add_stream(container, "libx264", height=height, width=width, b_frames=0)
            _encode(container, stream, list(range(first, first + 10)), first_pts=first)
        segments.append(buffer.getvalue())
    path = folder / "resolution_change.ts"
    path.write_bytes(b"".join(segments))
    return path


def build_two_streams_second_default(folder: Path) -> VideoFile:
    """Two 20-frame video tracks of the same size (indices 100-119, then 0-19); the second is the default one."""
    path = folder / "two_streams_second_default.mp4"
    _write_two_tracks(path, (list(range(100, 120)), (HEIGHT, WIDTH), {}), (list(range(20)), (HEIGHT, WIDTH), {}), 1)
    return VideoFile(path, _regular_view(list(range(20)), stream_index=1), (0.5, 1.5))


def build_two_streams_first_default(folder: Path) -> VideoFile:
    """Two 20-frame video tracks of the same size: the first (indices 0-19) is the default one, the second (indices
    100-119, finer quantiser) has the higher bit rate, which older FFmpeg (4.x, as bundled with decord) prefers to the
    default disposition."""
    path = folder / "two_streams_first_default.mp4"
    _write_two_tracks(
        path, (list(range(20)), (HEIGHT, WIDTH), {}), (list(range(100, 120)), (HEIGHT, WIDTH), {"crf": "1"}), 0
    )
    return VideoFile(path, _regular_view(list(range(20)), stream_index=0), (0.5, 1.5))


def build_edit_list_cut(folder: Path) -> VideoFile:
    """A stream-copy cut starting at 1.5 s of a 30-frame H.264 video with a key frame every second (what `ffmpeg -ss
    1.5 -i video.mp4 -c copy cut.mp4` writes): the packets from the key frame at 1.0 s are copied and an MP4 edit list
    hides the first five, so a player shows frames 15-29 from 0 s."""
    source = folder / "edit_list_source.mp4"
    _write_video(source, "libx264", list(range(30)))
    path = folder / "edit_list_cut.mp4"
    _remux(source, path, first_packet=10, shift_seconds=1.5)
    return VideoFile(path, _regular_view(list(range(15, 30))), (0.2, 0.6))


def build_cut_without_key_frame(folder: Path) -> VideoFile:
    """A stream-copy cut into Matroska that starts on a non-key frame: from the 14th packet (decoding order, a B-frame
    shown at 1.1 s) of a 30-frame H.264 video with a key frame every second. The 7 packets before the key frame at
    2.0 s refer to frames the cut left out and FFmpeg's decoder outputs none of them: a player shows frames 20-29,
    from 0.9 s after the stream's start (1.1 s)."""
    source = folder / "cut_source.mp4"
    _write_video(source, "libx264", list(range(30)))
    path = folder / "cut_without_key_frame.mkv"
    _remux(source, path, first_packet=13, shift_seconds=0.0)
    return VideoFile(path, _regular_view(list(range(20, 30)), first_timestamp=0.9), (0.5, 1.2))


def build_still_picture(folder: Path) -> VideoFile:
    """One frame shown for 2 s (a title card, a photo exported as video): H.264 in MP4, the sample lasting 2 s."""
    path = folder / "still_picture.mp4"
    with av.open(str(path), "w") as container:
        stream = _add_stream(container, "libx264")
        frame = av.VideoFrame.from_ndarray(index_frame(0), format="rgb24")
        frame.pts, frame.time_base = 0, fractions.Fraction(1, FPS)
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            packet.duration = round(2 / packet.time_base)
            container.mux(packet)
    view = PlayerView(
        stream_index=0, indices=(0,), timestamps=(0.0,), end=2.0, size=(HEIGHT, WIDTH), marker="top-left"
    )
    return VideoFile(path, view, (0.5, 1.5))


VIDEO_FILE_BUILDERS: dict[str, Callable[[Path], VideoFile]] = {
    "h264_mp4": build_h264_mp4,
    "rotated_90": build_rotated_90,
    "rotated_180": build_rotated_180,
    "rotated_270": build_rotated_270,
    "h264_ts": build_h264_ts,
    "mpeg2_ts": build_mpeg2_ts,
    "mpeg2_ps": build_mpeg2_ps,
    "mpeg4_avi": build_mpeg4_avi,
    "h264_avi": build_h264_avi,
    "mpeg4_mp4": build_mpeg4_mp4,
    "thumbnail_track_first": build_thumbnail_track_first,
    "cover_art_first": build_cover_art_first,
    "two_streams_second_default": build_two_streams_second_default,
    "two_streams_first_default": build_two_streams_first_default,
    "edit_list_cut": build_edit_list_cut,
    "cut_without_key_frame": build_cut_without_key_frame,
    "still_picture": build_still_picture,
}
