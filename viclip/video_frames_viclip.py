# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
The frames of a video file as a standard player shows them, and PyAV's reader that returns exactly those: a cheap
probe of the container ([`probe_video`]: the stream a player plays, reordering, edit lists, cuts), clip windows located
from packets, PyAV decoding in presentation order with the display matrix applied, and the frame bookkeeping every
decoder of `video_decoding_viclip.py` shares (errors, window arithmetic, metadata, sampling checks).
"""

import bisect
import functools
import importlib
import io
import math
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
from transformers.utils import logging
from transformers.video_utils import VideoMetadata


logger = logging.get_logger(__name__)

_TIMESTAMP_SLACK = 1e-6  # seconds: absorbs float error in `pts * time_base`
_PYAV_SEEK_AFTER_SECONDS = 2.0  # PyAV seeks to a clip window starting later than this instead of reading from 0


class VideoDecodingError(ValueError):
    """A decoder could not open or decode a video (as opposed to a request that no decoder could satisfy)."""


class NoVideoError(VideoDecodingError):
    """A file holds no video a player would play: no video stream, or only an attached picture (cover art)."""


def sampled_indices(sample_indices_fn: Callable, metadata: VideoMetadata, name: str) -> np.ndarray:
    """The indices `sample_indices_fn` picks for a video described by `metadata`, checked against its frame count."""
    if not (total := metadata.total_num_frames) or total < 1:
        raise ValueError(f"The video {name} has no frames.")
    indices = np.asarray(sample_indices_fn(metadata=metadata), dtype=np.int64).reshape(-1)
    if len(indices) and (indices.min() < 0 or indices.max() >= total):
        raise ValueError(f"The frame sampler asked for frames {indices.tolist()} of {name}, which has {total} frames.")
    return indices


def short_error(error: Exception) -> str:
    message = " ".join(str(error).split())
    return message if len(message) <= 600 else message[:600] + " ..."


class VideoLayout(NamedTuple):
    """What one cheap look at a file's container says about reading its frames as a player shows them."""

    stream_index: int
    """The stream a player plays: FFmpeg's best video stream, never an attached picture."""
    container_format: str
    """FFmpeg's demuxer name, e.g. `"mov,mp4,m4a,3gp,3g2,mj2"`, `"mpegts"`, `"avi"`, `"matroska,webm"`."""
    codec: str
    """FFmpeg's decoder name of the stream, e.g. `"h264"`, `"mpeg4"` (MPEG-4 Part 2), `"mpeg2video"`."""
    reorders: bool
    """Whether frames may be stored out of presentation order (B-frames)."""
    video_streams: int
    """Video streams that are not attached pictures."""
    has_attached_picture: bool
    """Whether the file also holds an attached picture (cover art) as a video stream."""
    hides_leading_packets: bool
    """Whether its first packet is one an edit list hides (a stream-copy cut of an MP4)."""
    starts_without_key_frame: bool
    """Whether its first packet is not a key frame (a stream-copy cut that did not start on one)."""
    packet_pts_in_decoding_order: bool
    """Whether the packets' presentation times follow decoding order although frames are reordered (the AVI demuxer
    with H.264 B-frames): then only the decoder's output order and decoding times tell when a frame is shown."""


_PROBED_PACKETS = 8  # packets read to tell whether an AVI file's presentation times follow decoding order


def _probe_container(container: Any, name: str) -> VideoLayout:
    stream = played_stream(container, name)
    attached_picture = importlib.import_module("av.stream").Disposition.attached_pic
    videos = [video for video in container.streams.video if not video.disposition & attached_picture]
    packets = []
    for packet in container.demux(stream):
        if packet.size:
            packets.append(packet)
            if len(packets) == _PROBED_PACKETS:
                break
    reorders, container_format = bool(stream.codec_context.has_b_frames), container.format.name
    pts = [packet.pts for packet in packets]
    decoding_order = container_format == "avi" and reorders and len(pts) > 2 and None not in pts
    return VideoLayout(
        stream_index=stream.index,
        container_format=container_format,
        codec=stream.codec_context.name,
        reorders=reorders,
        video_streams=len(videos),
        has_attached_picture=len(videos) < len(container.streams.video),
        hides_leading_packets=bool(packets) and packets[0].is_discard,
        starts_without_key_frame=bool(packets) and not packets[0].is_keyframe,
        packet_pts_in_decoding_order=decoding_order and all(a < b for a, b in zip(pts, pts[1:], strict=False)),
    )


@functools.lru_cache(maxsize=4096)
def _probe_file(path: str, size: int, modified_ns: int) -> VideoLayout:
    return _probe_source(path, path)


def _probe_source(source: str | bytes, name: str) -> VideoLayout:
    av = importlib.import_module("av")
    try:  # container metadata only: no frame is decoded to fill in stream parameters
        container = av.open(
            source if isinstance(source, str) else io.BytesIO(source),
            container_options={"probesize": "32", "analyzeduration": "0"},
        )
    except Exception as error:
        raise VideoDecodingError(f"Could not read the video file {name} with PyAV: {short_error(error)}") from error
    with container:
        try:
            return _probe_container(container, name)
        except av.FFmpegError as error:
            raise VideoDecodingError(
                f"Could not read the video file {name} with PyAV: {short_error(error)}"
            ) from error


def probe_video(source: str | bytes, name: str | None = None) -> VideoLayout:
    """
    The [`VideoLayout`] of a video file (an absolute path, or its bytes) from its container metadata and first packets,
    by PyAV with the smallest probe (about 2 ms), cached per file path, size and modification time.

    Raises:
        [`VideoDecodingError`]: naming the file, when it cannot be opened or holds no video (only cover art).
    """
    if isinstance(source, str):
        status = os.stat(source)
        return _probe_file(source, status.st_size, status.st_mtime_ns)
    return _probe_source(source, name or f"<{len(source)} bytes>")


def window_slack(clip_window: tuple[float, float]) -> float:
    """The tolerance on a clip window's times: `_TIMESTAMP_SLACK`, or less for a window so short that it would move the
    window's end to its start (the window `(0, 1e-9)` holds the frame at 0 s)."""
    return min(_TIMESTAMP_SLACK, (clip_window[1] - clip_window[0]) / 2)


def window_frames(
    timestamps: Sequence[float], clip_window: tuple[float, float], name: str, video_end: float | None = None
) -> tuple[int, int]:
    """`[first, stop)`: the positions in `timestamps` (sorted seconds) of the frames shown in the clip window. A window
    that starts after the last frame's time but before `video_end` (when its display ends, e.g. a still picture shown
    for 2 s) holds the last frame."""
    start, end = clip_window
    slack = window_slack(clip_window)
    first = bisect.bisect_left(timestamps, start - slack)
    stop = bisect.bisect_left(timestamps, end - slack)
    if first >= len(timestamps) and len(timestamps) and video_end is not None and start < video_end - slack:
        return len(timestamps) - 1, len(timestamps)
    if first >= len(timestamps):
        last = f"its last frame is at {timestamps[-1]:.3f} s" if len(timestamps) else "it has no frames"
        shown = "" if video_end is None else f", shown until {video_end:.3f} s"
        raise ValueError(f"The clip window {clip_window} starts after the end of {name} ({last}{shown}).")
    if stop <= first:
        before = f"{timestamps[first - 1]:.3f} s and " if first > 0 else ""
        at = f"{before}{timestamps[first]:.3f} s"
        raise ValueError(f"No frame of {name} is shown in the clip window [{start}, {end}) s (frames at {at}).")
    return first, stop


def video_metadata(num_frames: int, fps, backend: str, duration=None, clip=None, video_end=None) -> VideoMetadata:
    """The metadata of a video, or of a clip window (`clip=(timestamps, clip_window)`, its end clamped to the end of
    the video: the last frame's time plus the interval before it, or `video_end` seconds, whichever is later)."""
    if clip is not None:
        (timestamps, (start, end)), last = clip, clip[0][-1]
        last_shown = last + (last - timestamps[-2] if len(timestamps) > 1 else 0.0)
        duration = min(end, max(last_shown, video_end or last_shown)) - start
    duration = num_frames / fps if duration is None and fps else duration
    return VideoMetadata(total_num_frames=num_frames, fps=fps, duration=duration, video_backend=backend)


def finish(frames: np.ndarray | None, metadata: VideoMetadata, indices: np.ndarray) -> tuple:
    """The decoded frames (None: none asked for) and their metadata, completed with the indices and frame size."""
    frames, metadata.frames_indices = np.empty((0, 0, 0, 3), np.uint8) if frames is None else frames, indices.tolist()
    metadata.height, metadata.width = (int(frames.shape[1]), int(frames.shape[2])) if len(frames) else (0, 0)
    return frames, metadata


_PYAV_THREAD_STATE = threading.local()


def pyav_frame_converter(
    decode_size: tuple[int, int] | None, stream_size: tuple[int, int] | None = None
) -> Callable[[Any], np.ndarray]:
    """RGB array of a PyAV frame as shown: scaled bilinearly (as decord does) to `decode_size` (`(height, width)` as
    displayed) or else to `stream_size` (`(height, width)` as stored, the stream's first frame: a frame whose size
    changed mid-stream is scaled back to it, as decord does), then turned by its display matrix (a phone video's
    rotation). Scaling runs on one thread in this thread's `VideoReformatter`, which keeps FFmpeg's scaler from frame
    to frame (made afresh in a forked DataLoader worker)."""
    state = _PYAV_THREAD_STATE
    if getattr(state, "pid", None) != os.getpid():
        state.reformatter, state.pid = importlib.import_module("av.video.reformatter").VideoReformatter(), os.getpid()

    def convert(frame: Any) -> np.ndarray:
        turns = round(getattr(frame, "rotation", 0) / 90) % 4  # counter-clockwise quarter turns to display it
        if decode_size:
            height, width = decode_size[::-1] if turns % 2 else decode_size
        else:
            height, width = stream_size or (frame.height, frame.width)
        options = {"format": "rgb24", "interpolation": "BILINEAR", "threads": 1}
        rgb = state.reformatter.reformat(frame, width=width, height=height, **options).to_ndarray()
        return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb

    return convert


def played_stream(container: Any, name: str) -> Any:
    """The video stream a player plays: FFmpeg's best one (`av_find_best_stream`: the default disposition, then the
    frame count, then the bit rate), never an attached picture. Raises when the file has no other video."""
    attached_picture = importlib.import_module("av.stream").Disposition.attached_pic
    stream = container.streams.best("video")
    if stream is not None and not stream.disposition & attached_picture:
        return stream
    videos = [stream for stream in container.streams.video if not stream.disposition & attached_picture]
    if not videos:
        what = "only an attached picture (cover art)" if container.streams.video else "no video stream"
        raise NoVideoError(f"The file {name} has {what}: there is no video to read.")
    return videos[0]


def open_pyav_with_layout(source: str | bytes, name: str) -> tuple[Any, Any, VideoLayout]:
    """[`open_pyav`] and the file's [`probe_video`] layout: cached for a path; for bytes, read from the opened container
    (its first packets, then back to the start) rather than by opening the bytes a second time."""
    container, stream = open_pyav(source, name)
    if isinstance(source, str):
        try:
            return container, stream, probe_video(source, name)
        except Exception:
            container.close()
            raise
    try:
        layout = _probe_container(container, name)
        seek_pyav(container, stream, None)
    except Exception as error:
        container.close()
        raise VideoDecodingError(f"PyAV could not read {name}: {short_error(error)}") from error
    return container, stream, layout


def open_pyav(source: str | bytes, name: str) -> tuple[Any, Any]:
    """The container and the stream a player plays ([`played_stream`]), decoding on one thread (libavcodec decodes each
    packet when sent)."""
    try:
        container = importlib.import_module("av").open(source if isinstance(source, str) else io.BytesIO(source))
    except Exception as error:
        raise VideoDecodingError(f"Could not read the video file {name} with PyAV: {short_error(error)}") from error
    try:
        stream = played_stream(container, name)
    except VideoDecodingError:
        container.close()
        raise
    stream.codec_context.thread_count = 1
    return container, stream


class PacketInfo(NamedTuple):
    """A demuxed packet's timestamps, whether it starts a closed group of pictures, if it gives a frame (neither
    corrupt, nor hidden by an edit list, nor before the first key frame read), whether it is a key frame, and how long
    its frame is shown (stream time base; None when unknown)."""

    pts: int | None
    dts: int | None
    starts_closed_group: bool
    usable: bool
    key_frame: bool = True
    duration: int | None = None


def scan_pyav_packets(container, stream, is_past_needed: Callable, closed_group_test=None) -> list[PacketInfo]:
    """The packets demuxed from the current position, in decoding order, until `is_past_needed(infos)` or the end.
    Packets before the first key frame read give no frame (the decoder cannot decode them): they are not usable."""
    infos: list[PacketInfo] = []
    key_frame_seen = False
    for packet in container.demux(stream):
        if packet.size:
            closed = closed_group_test is not None and closed_group_test(packet)
            key_frame_seen = key_frame_seen or packet.is_keyframe
            usable = key_frame_seen and not (packet.is_corrupt or packet.is_discard)
            infos.append(PacketInfo(packet.pts, packet.dts, closed, usable, packet.is_keyframe, packet.duration))
            if is_past_needed(infos):
                break
    return infos


def seek_pyav(container: Any, stream: Any, target: int | None) -> None:
    """Demux from the key frame at or before `target` (stream time base), or from the start of the file."""
    container.seek(0 if target is None else target, stream=stream, backward=True, any_frame=False)


class FrameTable(NamedTuple):
    """The frames of a video or of a clip window located from its packets, by [`scan_pyav_window`]."""

    infos: list[PacketInfo]
    """The packets demuxed, in decoding order, from `seek_target`."""
    seek_target: int | None
    """Where decoding starts (stream time base), None: the start of the file."""
    timestamps: list[float]
    """The sorted times (seconds from the stream start) of the frames."""
    pts: list[int]
    """Their presentation timestamps."""
    first: int
    stop: int
    """`[first, stop)`: the positions of the window's frames in `timestamps`."""
    video_end: float | None
    """When the last frame read stops being shown (seconds), from its packet's duration."""


def scan_pyav_window(
    container, stream, clip_window: tuple[float, float] | None, name: str, closed_group_test=None
) -> FrameTable:
    """Locates a clip window (None: the whole video): demuxes from a key frame shown at or before it (`seek_target`,
    None: the start of the file) until every later packet is shown after it. Frames are the usable packets (see
    [`scan_pyav_packets`]), in presentation order."""
    start, end = clip_window if clip_window is not None else (0.0, math.inf)
    origin, time_base, slack = stream.start_time or 0, stream.time_base, window_slack((start, end))

    def seconds(pts: int) -> float:
        return float((pts - origin) * time_base)

    def is_past_window(infos: list[PacketInfo]) -> bool:  # decoding times never decrease (checked below)
        return infos[-1].dts is not None and seconds(infos[-1].dts) >= end - slack

    target = start
    while True:
        seek_target = origin + int(target / time_base) if target > _PYAV_SEEK_AFTER_SECONDS else None
        if seek_target is not None or target != start:  # a fresh container needs no seek to its start
            seek_pyav(container, stream, seek_target)
        infos = scan_pyav_packets(container, stream, is_past_window, closed_group_test)
        # in MPEG-TS and MPEG-PS a seek resumes at a packet before the key frame: decoding starts at the key frame
        shown = next((info.pts for info in infos if info.usable), None)
        if seek_target is None or (shown is not None and seconds(shown) <= start + _TIMESTAMP_SLACK):
            break
        target = min(target, seconds(shown) if shown is not None else target) - 1.0  # an earlier key frame
    usable = [info for info in infos if info.usable]
    if any(info.pts is None for info in usable):
        raise VideoDecodingError(f"PyAV cannot locate the clip window {clip_window} in {name}: no frame timestamps.")
    dts = [info.dts for info in infos]
    if any(d is not None and info.pts is not None and info.pts < d for info, d in zip(infos, dts, strict=True)) or any(
        a is not None and b is not None and b < a for a, b in zip(dts, dts[1:], strict=False)
    ):  # the scan may have stopped too early: read to the end of the file
        seek_pyav(container, stream, seek_target)
        infos = scan_pyav_packets(container, stream, lambda infos: False, closed_group_test)
        usable = [info for info in infos if info.usable]
    frames = sorted({seconds(info.pts): info.pts for info in usable}.items())
    timestamps = [time for time, _ in frames]
    last_end = max((info.pts + info.duration for info in usable if info.duration), default=None)
    video_end = None if last_end is None else seconds(last_end)
    window = (0, len(timestamps)) if clip_window is None else window_frames(timestamps, clip_window, name, video_end)
    return FrameTable(infos, seek_target, timestamps, [pts for _, pts in frames], *window, video_end)


def time_pyav_output(container: Any, stream: Any, end: float, fps: float | None) -> list[float]:
    """The times (seconds from the stream start) of the frames the decoder outputs, in that order, up to the first one
    shown at or after `end`: each frame's decoding timestamp (FFmpeg's best-effort timestamp when packet presentation
    times follow decoding order, as in AVI with H.264 B-frames); a frame without one is shown a frame after the
    previous."""
    origin, time_base, times = stream.start_time or 0, stream.time_base, []
    for frame in container.decode(stream):
        if frame.dts is not None:
            times.append(float((frame.dts - origin) * time_base))
        else:
            times.append(times[-1] + 1 / (fps or 25) if times else 0.0)
        if times[-1] >= end - _TIMESTAMP_SLACK:
            break
    return times


def stack_decoded(decoded: dict[int, np.ndarray], indices: np.ndarray, declared: int, name: str) -> np.ndarray:
    """The frames at `indices`; one the file declares that did not decode is the nearest earlier one, with a warning."""
    if not decoded:
        raise VideoDecodingError(f"PyAV decoded no frames from {name}.")
    missing, available = sorted(set(indices.tolist()).difference(decoded)), sorted(decoded)
    if missing:
        logger.warning(f"{name}: frames {missing} of the {declared} declared did not decode; using earlier ones.")
    for index in missing:
        decoded[index] = decoded[max([i for i in available if i <= index], default=available[0])]
    return np.stack([decoded[int(index)] for index in indices])


def read_video_pyav(video: Any, sample_indices_fn: Callable, *, clip_window=None, decode_size=None):
    """The sampled frames, by PyAV (one thread), of an absolute path or a file's bytes: all frames are decoded up to
    the last sampled one, from the start or, for a clip window, from the key frame before it. Files whose packets are
    not all frames (edit lists, cuts without a key frame) are read through their packets' table of frames; files whose
    packet times follow decoding order (AVI with H.264 B-frames) by the decoder's output order."""
    av = importlib.import_module("av")
    name = video if isinstance(video, str) else f"<{len(video)} bytes>"
    container, stream, layout = open_pyav_with_layout(video, name)
    convert = pyav_frame_converter(decode_size, (stream.codec_context.height, stream.codec_context.width))
    try:
        rate, decoded = stream.average_rate or stream.guessed_rate, {}
        fps = float(rate) if rate else None
        every_packet_a_frame = not (layout.hides_leading_packets or layout.starts_without_key_frame)
        if clip_window is not None and layout.packet_pts_in_decoding_order:
            timestamps = time_pyav_output(container, stream, clip_window[1], fps)
            video_end = timestamps[-1] + 1 / (fps or 25) if timestamps else None
            first, stop = window_frames(timestamps, clip_window, name, video_end)
            metadata = video_metadata(stop - first, fps, "pyav", clip=(timestamps, clip_window))
            indices = sampled_indices(sample_indices_fn, metadata, name)
            wanted = {first + index for index in indices.tolist()}
            seek_pyav(container, stream, None)
            for position, frame in enumerate(container.decode(stream) if wanted else ()):
                decoded.update({position - first: convert(frame)} if position in wanted else {})
                if position >= max(wanted):
                    break
        elif clip_window is not None or not every_packet_a_frame:
            table = scan_pyav_window(container, stream, clip_window, name)
            duration = None if clip_window is not None else table.video_end
            clip = None if clip_window is None else (table.timestamps, clip_window)
            metadata = video_metadata(
                table.stop - table.first, fps, "pyav", duration, clip=clip, video_end=table.video_end
            )
            indices = sampled_indices(sample_indices_fn, metadata, name)
            wanted = {table.pts[table.first + i]: i for i in indices.tolist()}
            seek_pyav(container, stream, table.seek_target)
            for frame in container.decode(stream) if wanted else ():
                decoded.update({wanted[frame.pts]: convert(frame)} if frame.pts in wanted else {})
                if len(decoded) == len(wanted):
                    break
        else:
            num_frames = stream.frames
            if num_frames <= 0:  # no frame count in the container (e.g. Matroska): count packets, as decord does
                num_frames = len(scan_pyav_packets(container, stream, lambda infos: False))
                container.close()
                container, stream = open_pyav(video, name)  # and read the file afresh
            duration = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
            metadata = video_metadata(num_frames, fps, "pyav", duration)
            indices = sampled_indices(sample_indices_fn, metadata, name)
            for index, frame in enumerate(container.decode(stream) if len(indices) else ()):
                decoded.update({index: convert(frame)} if index in indices else {})
                if index >= indices.max():
                    break
    except av.FFmpegError as error:
        raise VideoDecodingError(f"PyAV could not decode {name}: {short_error(error)}") from error
    finally:
        container.close()
    frames = stack_decoded(decoded, indices, metadata.total_num_frames, name) if len(indices) else None
    return finish(frames, metadata, indices)
