# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Video decoding for ViCLIP: the reference's segment sampling and one table of decoders.

Every decoder in `VIDEO_DECODERS` (decord, PyAV, torchcodec) has the signature of the decoders of transformers'
`video_utils.py`, `decoder(video, sample_indices_fn, *, clip_window=None, decode_size=None) -> (frames, metadata)`: it
reads the frame count and frame rate of the video, asks `sample_indices_fn(metadata=...)` which frames to return,
decodes those (and what they depend on) and nothing else, and returns them as a `[T, H, W, 3]` uint8 RGB array with a
transformers `VideoMetadata` (`frames_indices`, `fps`, `duration`, `video_backend`, ...). Frames are numbered in
presentation order. [`load_video`] accepts every kind of video input (a path, bytes, a file object, a
`datasets.Video()` value, a torchcodec `VideoDecoder`, a decord `VideoReader`), picks the decoder and falls back from
decord to PyAV for files decord cannot read.

A clip window `(start, end)` in seconds selects frames by presentation timestamp: a frame is eligible when
`start <= t < end`, `t` being its timestamp from the start of the video stream, so that every decoder picks the same
frames, on variable frame rate videos too. The sampler then sees the window as the video (its `total_num_frames` is the
number of eligible frames), and the returned metadata describes the clip: `frames_indices` count from the first frame
of the window and `duration` is the window's length.

This file ships as Hub remote code next to the video processor: it imports numpy, torch and transformers at module
level; the decoders (`decord`, `av`, `torchcodec`) are imported when a video is read.
"""

import bisect
import importlib
import io
import itertools
import math
import os
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from transformers.utils import logging
from transformers.video_utils import VideoMetadata


logger = logging.get_logger(__name__)

SAMPLING_MODES = ("middle", "rand")
VIDEO_BACKENDS = ("decord", "pyav", "torchcodec")
# The module each backend needs, and how to install it.
_BACKEND_PACKAGES = {"decord": "decord", "pyav": "av", "torchcodec": "torchcodec"}
_PIP_NAMES = {"decord": "decord", "pyav": "av", "torchcodec": "torchcodec"}
# Timestamps are compared with this slack (seconds), which absorbs float error in `pts * time_base`.
_TIMESTAMP_SLACK = 1e-6
# PyAV seeks to a clip window (instead of reading from the first frame) when the window starts this many seconds in.
_PYAV_SEEK_AFTER_SECONDS = 2.0
# Codecs whose frames PyAV may skip decoding (see `plan_pyav_frame_skipping`): those whose `skip_frame` handling is
# known to leave every decoded frame bit-identical when it drops non-reference frames ("NONREF") and every picture
# before an IDR frame that nothing decoded later refers to ("ALL"): libavcodec's H.264 decoder (checked by
# tests/test_video_decoding.py). Empty it to make PyAV decode every frame up to the last sampled one.
PYAV_SKIPPING_CODECS = ("h264",)

SampleIndicesFn = Callable[..., Sequence[int] | np.ndarray]


class VideoDecodingError(ValueError):
    """A decoder could not open or decode a video (as opposed to a request that no decoder could satisfy)."""


# --- frame sampling --------------------------------------------------------------------------------------------------


def rng_from_torch_seed() -> np.random.Generator:
    """A numpy generator seeded from torch's global generator, so that `torch.manual_seed` / `set_seed` and DataLoader
    worker seeding make random sampling and augmentation reproducible."""
    return np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))


def sample_frame_indices(
    num_video_frames: int,
    num_frames: int,
    sampling: str = "middle",
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """
    Frame indices of the reference's segment sampling.

    The video is cut into `n = min(num_frames, num_video_frames)` segments at `edges = linspace(0, num_video_frames,
    n + 1).astype(int)`; segment `i` is `[edges[i], edges[i + 1] - 1]`. `"middle"` (the reference's evaluation) takes
    `(lo + hi) // 2` of each segment, `"rand"` (its training) a uniform index in `[lo, hi)`; when a segment has a
    single frame that range is empty and the reference draws `n` distinct sorted frames at random instead. With fewer
    frames than `num_frames`, the indices are padded with the last one (the reference repeats the last frame).

    Args:
        num_video_frames (`int`): frame count of the video (or of the clip window).
        num_frames (`int`): how many indices to return.
        sampling (`str`, defaults to `"middle"`): `"middle"` (evaluation) or `"rand"` (training).
        rng (`np.random.Generator`, *optional*): randomness for `"rand"`; by default drawn from torch's global
            generator.

    Returns:
        `np.ndarray` of `int64`, shape `(num_frames,)`, non-decreasing.
    """
    if sampling not in SAMPLING_MODES:
        raise ValueError(f"sampling must be one of {SAMPLING_MODES}, got {sampling!r}.")
    if int(num_frames) < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}.")
    if int(num_video_frames) < 1:
        raise ValueError(f"Cannot sample frames from a video with {num_video_frames} frames.")
    num_video_frames, num_frames = int(num_video_frames), int(num_frames)
    num_segments = min(num_frames, num_video_frames)
    edges = np.linspace(0, num_video_frames, num_segments + 1).astype(int)
    low, high = edges[:-1], edges[1:] - 1
    if sampling == "middle":
        indices = (low + high) // 2
    else:
        rng = rng if rng is not None else rng_from_torch_seed()
        if np.any(high <= low):
            indices = np.sort(rng.permutation(num_video_frames)[:num_segments])
        else:
            indices = rng.integers(low, high)
    if num_segments < num_frames:
        indices = np.concatenate([indices, np.full(num_frames - num_segments, indices[-1])])
    return indices.astype(np.int64)


def _sample(sample_indices_fn: SampleIndicesFn, metadata: VideoMetadata, name: str) -> np.ndarray:
    """The indices `sample_indices_fn` picks for a video described by `metadata`, checked against its frame count."""
    total = metadata.total_num_frames
    if total is None or total < 1:
        raise ValueError(f"The video {name} has no frames.")
    indices = np.asarray(sample_indices_fn(metadata=metadata), dtype=np.int64).reshape(-1)
    if len(indices) and (indices.min() < 0 or indices.max() >= total):
        raise ValueError(f"The frame sampler asked for frames {indices.tolist()} of {name}, which has {total} frames.")
    return indices


# --- backends --------------------------------------------------------------------------------------------------------


def _backend_problem(backend: str) -> str | None:
    """Why `backend` cannot decode videos here, or None when it can."""
    package = _BACKEND_PACKAGES[backend]
    try:
        module = importlib.import_module(package)
    except ImportError:
        return f"the {backend!r} video backend is not installed: `pip install {_PIP_NAMES[backend]}`"
    except Exception as error:  # torchcodec before 0.16 fails to import without FFmpeg
        return f"{package} is installed but cannot be imported ({_short_error(error)[:200]})"
    if backend == "torchcodec" and getattr(module, "ffmpeg_major_version", 0) is None:
        return (
            "torchcodec is installed but could not load FFmpeg's shared libraries (it needs FFmpeg 4 to 8 on the "
            "system: on Debian 12 `apt-get install libavcodec59 libavformat59 libavutil57 libswscale6 libavdevice59 "
            "libavfilter8`, or `conda install ffmpeg`); decord and PyAV bring their own FFmpeg"
        )
    return None


def available_video_backends() -> list[str]:
    """The decoders that can be used here, in order of preference: decord, PyAV, torchcodec."""
    return [backend for backend in VIDEO_BACKENDS if _backend_problem(backend) is None]


def resolve_video_backend(backend: str | None = None, *, for_training: bool = False) -> str:
    """
    Returns `backend` after checking it can be used, or the preferred available one: decord (the reference's reader),
    then PyAV, then torchcodec; for training clips PyAV first, since it decodes only the frames the randomly sampled
    ones depend on (decord and PyAV give identical full-resolution frames).
    """
    if backend is not None and backend not in VIDEO_BACKENDS:
        raise ValueError(f"video backend must be one of {VIDEO_BACKENDS} (or None for automatic), got {backend!r}.")
    if backend is not None:
        problem = _backend_problem(backend)
        if problem is not None:
            raise ImportError(f"Cannot decode videos: {problem}.")
        return backend
    preference = ("pyav", "decord", "torchcodec") if for_training else VIDEO_BACKENDS
    for candidate in preference:
        if _backend_problem(candidate) is None:
            return candidate
    raise ImportError(
        "Reading video files needs decord, PyAV or torchcodec: `pip install decord` or `pip install av`."
    )


# --- video inputs ----------------------------------------------------------------------------------------------------

# What FFmpeg would read as a protocol rather than a file name: `pipe:0`, `file:x.mp4`, `http://...`.
_PROTOCOL_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _decoder_object_backend(video: Any) -> str | None:
    """The backend of a decoder object given as a video (a torchcodec `VideoDecoder`, a decord `VideoReader`)."""
    module, name = type(video).__module__, type(video).__name__
    if module.startswith("torchcodec") and name == "VideoDecoder":
        return "torchcodec"
    if module.startswith("decord") and name == "VideoReader":
        return "decord"
    return None


def is_video_source(video: Any) -> bool:
    """Whether `video` is something to decode: a file path, the bytes of a file, an open binary file, a
    `datasets.Video(decode=False)` value (`{"path": ..., "bytes": ...}`) or a decoder object (a torchcodec
    `VideoDecoder`, as `datasets.Video()` columns hold, or a decord `VideoReader`)."""
    if isinstance(video, (str, os.PathLike, bytes, bytearray, memoryview)):
        return True
    if isinstance(video, dict):
        return set(video) <= {"path", "bytes"} and bool(video)
    return _decoder_object_backend(video) is not None or (hasattr(video, "read") and hasattr(video, "seek"))


def _local_file(path: str | os.PathLike) -> str:
    """The absolute path of a local video file. FFmpeg reads `pipe:0`, `file:x.mp4` or `http://...` as a protocol; an
    absolute path never is one, so a file with such a name is read as a file, and a URL is refused."""
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not os.path.isfile(path):
        hint = ""
        if _PROTOCOL_PREFIX.match(path):
            hint = (
                " (video paths name local files: URLs and FFmpeg protocols such as `pipe:` or `http:` are not opened; "
                "download the video first)"
            )
        raise FileNotFoundError(f"Video file not found: {path}{hint}")
    return os.path.abspath(path)


def _resolve_source(video: Any) -> tuple[str | bytes, str]:
    """`video` as what the decoders open (an absolute file path or the file's bytes) and its name for messages."""
    if isinstance(video, dict):
        if video.get("bytes") is not None:
            return bytes(video["bytes"]), str(video.get("path") or f"<{len(video['bytes'])} bytes>")
        if video.get("path") is None:
            raise ValueError(f"A video given as a dictionary needs 'path' or 'bytes', got {video!r}.")
        video = video["path"]
    if isinstance(video, (str, os.PathLike)):
        path = _local_file(video)
        return path, os.fspath(video)
    if isinstance(video, (bytes, bytearray, memoryview)):
        return bytes(video), f"<{len(video)} bytes>"
    if hasattr(video, "read"):
        data = video.read()
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"A video file object must be opened in binary mode ('rb'), got {type(data).__name__}.")
        return bytes(data), getattr(video, "name", None) or f"<{len(data)} bytes>"
    raise TypeError(f"Cannot read a video from a {type(video).__name__}.")


def _check_clip_window(clip_window: Sequence[float] | None, name: str) -> tuple[float, float] | None:
    if clip_window is None:
        return None
    if len(clip_window) != 2:
        raise ValueError(f"clip_window for {name} must be (start_seconds, end_seconds), got {clip_window!r}.")
    start, end = float(clip_window[0]), float(clip_window[1])
    if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end <= start:
        raise ValueError(f"clip_window for {name} must satisfy 0 <= start < end (seconds), got {clip_window!r}.")
    return start, end


def check_decode_size(decode_size: Any) -> tuple[int, int] | None:
    """`decode_size` (`(height, width)`, or a dictionary with those keys) as a pair of positive ints, or None."""
    if decode_size is None:
        return None
    if isinstance(decode_size, dict) or hasattr(decode_size, "height"):
        decode_size = (decode_size["height"], decode_size["width"])
    if len(decode_size) != 2 or any(int(side) < 1 for side in decode_size):
        raise ValueError(f"decode_size must be (height, width) with positive sides, got {decode_size!r}.")
    return int(decode_size[0]), int(decode_size[1])


def _short_error(error: Exception) -> str:
    message = " ".join(str(error).split())
    return message if len(message) <= 600 else message[:600] + " ..."


def _window_frames(timestamps: Sequence[float], clip_window: tuple[float, float], name: str) -> tuple[int, int]:
    """`[first, stop)`: the positions in `timestamps` (sorted, seconds from the stream start) of the frames shown in
    the clip window, `start <= t < end`."""
    start, end = clip_window
    first = bisect.bisect_left(timestamps, start - _TIMESTAMP_SLACK)
    stop = bisect.bisect_left(timestamps, end - _TIMESTAMP_SLACK)
    if first >= len(timestamps):
        last = f"its last frame is at {timestamps[-1]:.3f} s" if len(timestamps) else "it has no frames"
        raise ValueError(f"The clip window {clip_window} starts after the end of {name} ({last}).")
    if stop <= first:
        before = f"{timestamps[first - 1]:.3f} s and " if first > 0 else ""
        raise ValueError(
            f"No frame of {name} is shown in the clip window [{start}, {end}) s (frames at {before}"
            f"{timestamps[first]:.3f} s); widen the window."
        )
    return first, stop


def _end_of_video(timestamps: Sequence[float]) -> float:
    """When the last of `timestamps` (sorted frame times) stops being shown: one frame interval after it."""
    return timestamps[-1] + (timestamps[-1] - timestamps[-2] if len(timestamps) > 1 else 0.0)


def _clip_metadata(
    num_window_frames: int, fps: float | None, clip_window: tuple[float, float], video_end: float, backend: str
) -> VideoMetadata:
    """The metadata of a clip window seen as a video of its own, its end clamped to `video_end`."""
    return VideoMetadata(
        total_num_frames=num_window_frames,
        fps=fps,
        duration=min(clip_window[1], video_end) - clip_window[0],
        video_backend=backend,
    )


def _video_metadata(num_video_frames: int, fps: float | None, duration: float | None, backend: str) -> VideoMetadata:
    if duration is None and fps:
        duration = num_video_frames / fps
    return VideoMetadata(total_num_frames=num_video_frames, fps=fps, duration=duration, video_backend=backend)


def _finish(frames: np.ndarray, metadata: VideoMetadata, indices: np.ndarray) -> tuple[np.ndarray, VideoMetadata]:
    metadata.frames_indices = indices.tolist()
    metadata.height, metadata.width = (int(frames.shape[1]), int(frames.shape[2])) if frames.ndim == 4 else (0, 0)
    return frames, metadata


# --- decord ----------------------------------------------------------------------------------------------------------


def read_video_decord(
    video: Any,
    sample_indices_fn: SampleIndicesFn,
    *,
    clip_window: tuple[float, float] | None = None,
    decode_size: tuple[int, int] | None = None,
) -> tuple[np.ndarray, VideoMetadata]:
    """
    Decodes the sampled frames with decord (one thread, as the reference's reader) from an absolute file path, the
    file's bytes, or an open decord `VideoReader` (which keeps the size it was opened with). Clip windows use decord's
    frame timestamps.
    """
    decord = importlib.import_module("decord")
    if _decoder_object_backend(video) == "decord":
        reader, name = video, "the decord VideoReader"
    else:
        name = video if isinstance(video, str) else f"<{len(video)} bytes>"
        size_kwargs = {} if decode_size is None else {"height": decode_size[0], "width": decode_size[1]}
        try:
            reader = decord.VideoReader(
                video if isinstance(video, str) else io.BytesIO(video), num_threads=1, **size_kwargs
            )
        except Exception as error:
            raise VideoDecodingError(
                f"Could not read the video file {name} with decord: {_short_error(error)}"
            ) from error
    fps = float(reader.get_avg_fps()) or None
    if clip_window is None:
        metadata = _video_metadata(len(reader), fps, None, "decord")
        first = 0
    else:
        # start of each frame's display, in seconds from the start of the stream, in presentation order
        timestamps = reader.get_frame_timestamp(np.arange(len(reader)))[:, 0].tolist() if len(reader) else []
        first, stop = _window_frames(timestamps, clip_window, name)
        metadata = _clip_metadata(stop - first, fps, clip_window, _end_of_video(timestamps), "decord")
    indices = _sample(sample_indices_fn, metadata, name)
    if len(indices) == 0:
        return _finish(np.empty((0, 0, 0, 3), np.uint8), metadata, indices)
    try:
        frames = reader.get_batch((first + indices).tolist())
    except Exception as error:
        raise VideoDecodingError(
            f"decord could not decode frames {(first + indices).tolist()} of {name}: {_short_error(error)}"
        ) from error
    # decord returns its own NDArray, or a torch tensor when its bridge was switched to torch elsewhere
    frames = frames.asnumpy() if hasattr(frames, "asnumpy") else np.asarray(frames)
    return _finish(np.ascontiguousarray(frames), metadata, indices)


# --- PyAV ------------------------------------------------------------------------------------------------------------

_PYAV_THREAD_STATE = threading.local()


def _pyav_reformatter() -> Any:
    """
    This thread's PyAV `VideoReformatter`: it keeps FFmpeg's scaler context from frame to frame and from file to file
    of the same size and format (setting one up costs more than converting a small frame). Never shared between
    threads, and made afresh in a forked process (a DataLoader worker) rather than inherited from its parent.
    """
    state = _PYAV_THREAD_STATE
    if getattr(state, "pid", None) != os.getpid():
        state.reformatter = importlib.import_module("av.video.reformatter").VideoReformatter()
        state.pid = os.getpid()
    return state.reformatter


def _pyav_frame_to_array(frame: Any, reformatter: Any, decode_size: tuple[int, int] | None) -> np.ndarray:
    """RGB array of a decoded frame, converted (and scaled to `decode_size`) with `reformatter` on this thread only."""
    height, width = decode_size if decode_size is not None else (frame.height, frame.width)
    # bilinear is what decord's FFmpeg filter graph uses when it scales, so both backends agree; one thread, as the
    # decoder (FFmpeg's scaler would otherwise start threads of its own, in every DataLoader worker)
    return reformatter.reformat(
        frame, width=width, height=height, format="rgb24", interpolation="BILINEAR", threads=1
    ).to_ndarray()


def _open_with_pyav(av: Any, source: str | bytes, name: str) -> tuple[Any, Any]:
    """The container and its first video stream, set to decode on one thread (as the reference's decord reader)."""
    try:
        container = av.open(source if isinstance(source, str) else io.BytesIO(source))
    except Exception as error:
        raise VideoDecodingError(f"Could not read the video file {name} with PyAV: {_short_error(error)}") from error
    if not container.streams.video:
        container.close()
        raise VideoDecodingError(f"The file {name} has no video stream.")
    stream = container.streams.video[0]
    # One thread: besides matching the reference, this makes libavcodec decode each packet while it is sent, so the
    # `skip_frame` set for a packet applies to that packet (frame threading would apply it to a later one).
    stream.codec_context.thread_count = 1
    return container, stream


def h264_nal_length_size(extradata: bytes | None) -> int | None:
    """The size of the NAL unit length prefixes of an H.264 stream stored as avcC (MP4, Matroska); None for Annex B."""
    if extradata is not None and len(extradata) >= 7 and extradata[0] == 1:
        return (extradata[4] & 3) + 1
    return None


def h264_starts_with_idr(data: bytes, nal_length_size: int | None) -> bool:
    """Whether the first slice of an H.264 access unit is an IDR slice: decoding restarts there, and no frame after it
    in decoding order refers to a frame before it."""
    slice_types = (1, 2, 3, 4, 5)  # coded slice NAL units; 5 is the IDR slice
    if nal_length_size is None:  # Annex B: each NAL unit follows a 00 00 01 start code
        position = data.find(b"\x00\x00\x01")
        while 0 <= position < len(data) - 3:
            if data[position + 3] & 0x1F in slice_types:
                return data[position + 3] & 0x1F == 5
            position = data.find(b"\x00\x00\x01", position + 3)
        return False
    position = 0
    while position + nal_length_size < len(data):
        if data[position + nal_length_size] & 0x1F in slice_types:
            return data[position + nal_length_size] & 0x1F == 5
        position += nal_length_size + int.from_bytes(data[position : position + nal_length_size], "big")
    return False


class PacketInfo(NamedTuple):
    """What the frame planner needs of a demuxed packet (its data is not kept)."""

    pts: int | None
    dts: int | None
    starts_closed_group: bool  # an IDR frame: no later frame refers to an earlier one
    usable: bool  # not flagged corrupt or to discard by the demuxer


def scan_pyav_packets(
    container: Any, stream: Any, is_past_needed: Callable[[list[PacketInfo]], bool]
) -> list[PacketInfo]:
    """The packets demuxed from the current position, in decoding order, until `is_past_needed` says no later packet
    holds a wanted frame, or the end of the file."""
    nal_length_size = h264_nal_length_size(stream.codec_context.extradata)
    check_idr = stream.codec_context.name == "h264"
    infos: list[PacketInfo] = []
    for packet in container.demux(stream):
        if packet.size == 0:
            continue
        closed = check_idr and packet.is_keyframe and h264_starts_with_idr(bytes(packet), nal_length_size)
        infos.append(PacketInfo(packet.pts, packet.dts, closed, not (packet.is_corrupt or packet.is_discard)))
        if is_past_needed(infos):
            break
    return infos


def timestamps_allow_skipping(infos: list[PacketInfo], scan_stopped_by_dts: bool) -> bool:
    """Every packet usable and with a distinct presentation timestamp. When the scan stopped early on a decoding
    timestamp, also every decoding timestamp present, non-decreasing and never after the presentation timestamp: then
    no packet after the scan is shown before the last scanned packet's decoding time."""
    if not infos or not all(info.usable and info.pts is not None for info in infos):
        return False
    if len({info.pts for info in infos}) < len(infos):
        return False
    if not scan_stopped_by_dts:
        return True
    dts = [info.dts for info in infos]
    if any(value is None for value in dts):
        return False
    return all(a <= b for a, b in itertools.pairwise(dts)) and all(info.pts >= info.dts for info in infos)


def plan_pyav_frame_skipping(wanted: list[bool], starts_closed_group: list[bool]) -> list[str]:
    """
    The frame planner: the `skip_frame` setting for each packet (decoding order) up to the last wanted one.
    `"DEFAULT"` (decode) for a wanted frame; `"NONREF"` (decode it only if other frames may refer to it) for a frame
    that a later wanted frame of the same closed group (from an IDR frame to the next) may need; `"ALL"` (decode no
    picture; parameter sets are still read) for a frame after the last wanted one of its group, since the next group
    starts afresh.
    """
    last = max(position for position, is_wanted in enumerate(wanted) if is_wanted)
    plan, needed = [], False
    for position in range(last, -1, -1):
        plan.append("DEFAULT" if wanted[position] else "NONREF" if needed else "ALL")
        needed = (needed or wanted[position]) and not starts_closed_group[position]
    return plan[::-1]


def _seek_pyav(container: Any, stream: Any, target: int | None) -> None:
    """Demux from the key frame at or before `target` (stream time base), or from the start of the file."""
    container.seek(0 if target is None else target, stream=stream, backward=True, any_frame=False)


def _decode_pyav_skipping(
    container: Any,
    stream: Any,
    infos: list[PacketInfo],
    wanted_pts: set[int],
    seek_target: int | None,
    convert: Callable[[Any], np.ndarray],
) -> dict[int, np.ndarray] | None:
    """
    The frames shown at `wanted_pts`, decoding only what they need (see `plan_pyav_frame_skipping`): bit-identical to
    those of a full decode, since no decoded frame refers to a skipped one. `infos` are the packets (decoding order)
    from `seek_target` (None: the start of the file), which is demuxed again. Returns None when a wanted frame did not
    come out or the packets differ from the scan.
    """
    plan = plan_pyav_frame_skipping(
        [info.pts in wanted_pts for info in infos], [info.starts_closed_group for info in infos]
    )
    _seek_pyav(container, stream, seek_target)  # seeking also flushes the decoder
    codec_context = stream.codec_context
    decoded: dict[int, np.ndarray] = {}

    def keep(frames: list[Any]) -> None:
        for frame in frames:
            if frame.pts in wanted_pts:
                decoded[frame.pts] = convert(frame)

    try:
        position = 0
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            if packet.pts != infos[position].pts:
                return None
            codec_context.skip_frame = plan[position]
            keep(codec_context.decode(packet))
            position += 1
            if position == len(plan):
                break
        codec_context.skip_frame = "DEFAULT"
        keep(codec_context.decode(None))  # the frames the decoder still holds back for reordering
    finally:
        codec_context.skip_frame = "DEFAULT"
    return decoded if set(decoded) == wanted_pts else None


def _decode_pyav_every_frame(
    container: Any, stream: Any, wanted: set[int], convert: Callable[[Any], np.ndarray]
) -> dict[int, np.ndarray]:
    """Decodes every frame from the start of the file up to the last wanted one (frames numbered in output order)."""
    last_wanted = max(wanted)
    decoded: dict[int, np.ndarray] = {}
    for index, frame in enumerate(container.decode(stream)):
        if index in wanted:
            decoded[index] = convert(frame)
        if index >= last_wanted:
            break
    return decoded


def _decode_pyav_every_frame_by_pts(
    container: Any, stream: Any, wanted_pts: set[int], seek_target: int | None, convert: Callable[[Any], np.ndarray]
) -> dict[int, np.ndarray]:
    """Decodes every frame from the key frame at or before `seek_target` until the frames shown at `wanted_pts`."""
    _seek_pyav(container, stream, seek_target)
    decoded: dict[int, np.ndarray] = {}
    for frame in container.decode(stream):
        if frame.pts in wanted_pts:
            decoded[frame.pts] = convert(frame)
            if len(decoded) == len(wanted_pts):
                break
    return decoded


def _scan_pyav_window(
    container: Any, stream: Any, clip_window: tuple[float, float], name: str
) -> tuple[list[PacketInfo], list[int], int | None, Callable[[int], float]]:
    """
    The packets around a clip window: `(infos, window_pts, seek_target, seconds)`, with `infos` the packets from the
    key frame at `seek_target` (None: the start of the file) until every later packet is shown at or after the end of
    the window, `window_pts` the sorted presentation timestamps of the frames in the window, and `seconds(pts)` the
    time of a timestamp from the start of the stream. Seeking starts at a key frame shown at or before the window's
    start, so that every frame of the window and every frame it refers to is decoded.
    """
    start, end = clip_window
    time_base = stream.time_base
    origin = stream.start_time or 0

    def seconds(pts: int) -> float:
        return float((pts - origin) * time_base)

    def is_past_window(infos: list[PacketInfo]) -> bool:
        # decoding timestamps never decrease and no frame is shown before it is decoded (checked below)
        return infos[-1].dts is not None and seconds(infos[-1].dts) >= end - _TIMESTAMP_SLACK

    target = start
    while True:
        seek_target = origin + int(target / time_base) if target > _PYAV_SEEK_AFTER_SECONDS else None
        if seek_target is not None or target != start:  # a fresh container needs no seek to its start
            _seek_pyav(container, stream, seek_target)
        infos = scan_pyav_packets(container, stream, is_past_window)
        first_shown = infos[0].pts if infos else None
        if seek_target is None or (first_shown is not None and seconds(first_shown) <= start + _TIMESTAMP_SLACK):
            break
        # the key frame found is shown after the window starts: seek to an earlier one
        target = min(target, seconds(first_shown) if first_shown is not None else target) - 1.0
    if any(info.pts is None for info in infos):
        raise VideoDecodingError(
            f"PyAV cannot locate the clip window {clip_window} in {name}: its frames lack timestamps."
        )
    if any(info.dts is not None and info.pts < info.dts for info in infos) or any(
        a.dts is not None and b.dts is not None and b.dts < a.dts for a, b in itertools.pairwise(infos)
    ):
        # the scan may have stopped too early: read to the end of the file
        _seek_pyav(container, stream, seek_target)
        infos = scan_pyav_packets(container, stream, lambda infos: False)
    timestamps = sorted({seconds(info.pts): info.pts for info in infos}.items())
    first, stop = _window_frames([time for time, _ in timestamps], clip_window, name)
    return infos, [pts for _, pts in timestamps[first:stop]], seek_target, seconds


def read_video_pyav(
    video: Any,
    sample_indices_fn: SampleIndicesFn,
    *,
    clip_window: tuple[float, float] | None = None,
    decode_size: tuple[int, int] | None = None,
) -> tuple[np.ndarray, VideoMetadata]:
    """
    Decodes the sampled frames with PyAV (one thread) from an absolute file path or the file's bytes. For H.264 it
    decodes only the frames the sampled ones depend on (see `plan_pyav_frame_skipping`), which leaves the sampled
    frames bit-identical; a clip window starting after 2 s is reached by seeking.
    """
    av = importlib.import_module("av")
    name = video if isinstance(video, str) else f"<{len(video)} bytes>"
    reformatter = _pyav_reformatter()

    def convert(frame: Any) -> np.ndarray:
        return _pyav_frame_to_array(frame, reformatter, decode_size)

    container, stream = _open_with_pyav(av, video, name)
    try:
        with container:
            rate = stream.average_rate or stream.guessed_rate
            fps = float(rate) if rate else None
            skipping = stream.codec_context.name in PYAV_SKIPPING_CODECS
            if clip_window is not None:
                return _read_pyav_window(av, container, stream, clip_window, sample_indices_fn, fps, convert, name)
            num_video_frames, scanned = stream.frames, None
            if num_video_frames <= 0:
                # containers without a frame count (e.g. Matroska): count the packets, as decord does
                scanned = scan_pyav_packets(container, stream, lambda infos: False)
                num_video_frames = len(scanned)
            duration = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
            metadata = _video_metadata(num_video_frames, fps, duration, "pyav")
            indices = _sample(sample_indices_fn, metadata, name)
            if len(indices) == 0:
                return _finish(np.empty((0, 0, 0, 3), np.uint8), metadata, indices)
            wanted = set(indices.tolist())
            decoded = None
            if skipping:
                try:
                    decoded = _decode_pyav_whole_file_skipping(container, stream, wanted, scanned, convert)
                except av.FFmpegError:
                    decoded = None  # decoding every frame below reports the error if it was not due to skipping
            elif scanned is None:
                decoded = _decode_pyav_every_frame(container, stream, wanted, convert)
    except av.FFmpegError as error:
        raise VideoDecodingError(f"PyAV could not decode {name}: {_short_error(error)}") from error
    if decoded is None:
        # skipping was not possible, or the file was demuxed already: decode every frame, reading the file afresh
        container, stream = _open_with_pyav(av, video, name)
        with container:
            try:
                decoded = _decode_pyav_every_frame(container, stream, wanted, convert)
            except av.FFmpegError as error:
                raise VideoDecodingError(f"PyAV could not decode {name}: {_short_error(error)}") from error
    return _finish(_stack_decoded(decoded, indices, num_video_frames, name), metadata, indices)


def _decode_pyav_whole_file_skipping(
    container: Any,
    stream: Any,
    wanted: set[int],
    scanned: list[PacketInfo] | None,
    convert: Callable[[Any], np.ndarray],
) -> dict[int, np.ndarray] | None:
    """
    `_decode_pyav_skipping` for frames numbered by the rank of their presentation timestamp from the start of the file,
    which is the order a full decode outputs them in. `scanned` holds the packets of the whole file when they were
    counted already; otherwise they are scanned up to the last one that can hold a wanted frame.
    """
    last_wanted = max(wanted)
    scan_stopped_by_dts = scanned is None
    if scanned is None:
        sorted_pts: list[int] = []

        def is_past_needed(infos: list[PacketInfo]) -> bool:
            pts, dts = infos[-1].pts, infos[-1].dts
            if pts is None or dts is None:
                return True
            bisect.insort(sorted_pts, pts)  # every later packet is shown at or after this one's decoding time
            return len(sorted_pts) > last_wanted and dts > sorted_pts[last_wanted]

        scanned = scan_pyav_packets(container, stream, is_past_needed)
    if not timestamps_allow_skipping(scanned, scan_stopped_by_dts):
        return None
    rank_of_pts = {pts: rank for rank, pts in enumerate(sorted(info.pts for info in scanned))}
    wanted_pts = {pts for pts, rank in rank_of_pts.items() if rank in wanted}
    if len(wanted_pts) != len(wanted):
        return None
    decoded = _decode_pyav_skipping(container, stream, scanned, wanted_pts, None, convert)
    return None if decoded is None else {rank_of_pts[pts]: frame for pts, frame in decoded.items()}


def _read_pyav_window(
    av: Any,
    container: Any,
    stream: Any,
    clip_window: tuple[float, float],
    sample_indices_fn: SampleIndicesFn,
    fps: float | None,
    convert: Callable[[Any], np.ndarray],
    name: str,
) -> tuple[np.ndarray, VideoMetadata]:
    """`read_video_pyav` for a clip window: the frames are located by their presentation timestamps."""
    infos, window_pts, seek_target, seconds = _scan_pyav_window(container, stream, clip_window, name)
    video_end = _end_of_video(sorted(seconds(info.pts) for info in infos))
    metadata = _clip_metadata(len(window_pts), fps, clip_window, video_end, "pyav")
    indices = _sample(sample_indices_fn, metadata, name)
    if len(indices) == 0:
        return _finish(np.empty((0, 0, 0, 3), np.uint8), metadata, indices)
    wanted_pts = {window_pts[index] for index in indices.tolist()}
    decoded = None
    if stream.codec_context.name in PYAV_SKIPPING_CODECS and timestamps_allow_skipping(infos, False):
        try:
            decoded = _decode_pyav_skipping(container, stream, infos, wanted_pts, seek_target, convert)
        except av.FFmpegError:
            decoded = None  # decoding every frame below reports the error if it was not due to skipping
    if decoded is None:
        decoded = _decode_pyav_every_frame_by_pts(container, stream, wanted_pts, seek_target, convert)
    position_of_pts = {pts: position for position, pts in enumerate(window_pts)}
    decoded = {position_of_pts[pts]: frame for pts, frame in decoded.items()}
    return _finish(_stack_decoded(decoded, indices, len(window_pts), name), metadata, indices)


def _stack_decoded(decoded: dict[int, np.ndarray], indices: np.ndarray, declared: int, name: str) -> np.ndarray:
    """The frames at `indices`; a frame the file declares but that did not decode is replaced by the nearest earlier
    decoded one, with a warning."""
    if not decoded:
        raise VideoDecodingError(f"PyAV decoded no frames from {name}.")
    missing = sorted(set(indices.tolist()).difference(decoded))
    if missing:
        logger.warning(
            f"{name}: frames {missing} could not be decoded (the file declares {declared}); using the nearest earlier "
            "decoded frame instead."
        )
        available = sorted(decoded)
        for index in missing:
            earlier = [i for i in available if i <= index]
            decoded[index] = decoded[earlier[-1] if earlier else available[0]]
    return np.stack([decoded[int(index)] for index in indices])


# --- torchcodec ------------------------------------------------------------------------------------------------------


def _torchcodec_window_frames(
    source: str | bytes, clip_window: tuple[float, float], name: str
) -> tuple[list[float], list[float], float]:
    """
    The frames of a clip window for torchcodec, which gives no frame timestamps without decoding, read from the file's
    packets with PyAV: `(shown_at, ask_at, video_end)`, the times (seconds, on torchcodec's clock) at which the frames
    of the window are shown and at which to ask for them (midway to the next frame), and the end of the video (seconds
    from the stream start).
    """
    av = importlib.import_module("av")
    container, stream = _open_with_pyav(av, source, name)
    with container:
        infos, window_pts, _, seconds = _scan_pyav_window(container, stream, clip_window, name)
        all_pts = sorted({info.pts for info in infos})
        time_base = stream.time_base
    shown_at, ask_at = [], []
    for pts in window_pts:
        following = bisect.bisect_right(all_pts, pts)
        gap = float((all_pts[following] - pts) * time_base) if following < len(all_pts) else 2e-6
        shown_at.append(float(pts * time_base))
        ask_at.append(shown_at[-1] + gap / 2)
    return shown_at, ask_at, _end_of_video([seconds(pts) for pts in all_pts])


def read_video_torchcodec(
    video: Any,
    sample_indices_fn: SampleIndicesFn,
    *,
    clip_window: tuple[float, float] | None = None,
    decode_size: tuple[int, int] | None = None,
) -> tuple[np.ndarray, VideoMetadata]:
    """
    Decodes the sampled frames with torchcodec (transformers' default decoder; one FFmpeg thread, exact seeking) from
    an absolute file path, the file's bytes, or a torchcodec `VideoDecoder` (e.g. a `datasets.Video()` value, which
    keeps its own settings). Clip windows need the file (a `VideoDecoder` from `datasets` names it): frames are
    located by their timestamps, read from the file's packets with PyAV.
    """
    decoders = importlib.import_module("torchcodec.decoders")
    if _decoder_object_backend(video) == "torchcodec":
        decoder, name = video, "the torchcodec VideoDecoder"
        path = getattr(decoder.metadata, "path", None)
        source = path if isinstance(path, str) and os.path.isfile(path) else None
    else:
        source = video
        name = video if isinstance(video, str) else f"<{len(video)} bytes>"
        transforms = None
        if decode_size is not None:
            transforms = [importlib.import_module("torchcodec.transforms").Resize(size=decode_size)]
        try:
            decoder = decoders.VideoDecoder(
                video, seek_mode="exact", num_ffmpeg_threads=1, dimension_order="NHWC", transforms=transforms
            )
        except Exception as error:
            raise VideoDecodingError(
                f"Could not read the video file {name} with torchcodec: {_short_error(error)}"
            ) from error
    video_metadata = decoder.metadata
    fps = video_metadata.average_fps
    try:
        if clip_window is None:
            metadata = _video_metadata(len(decoder), fps, video_metadata.duration_seconds, "torchcodec")
            indices = _sample(sample_indices_fn, metadata, name)
            batch = decoder.get_frames_at(indices.tolist()) if len(indices) else None
        else:
            if source is None:
                raise ValueError(
                    f"A clip window needs the video file of {name}; pass its path or bytes instead of the decoder."
                )
            shown_at, ask_at, video_end = _torchcodec_window_frames(source, clip_window, name)
            metadata = _clip_metadata(len(shown_at), fps, clip_window, video_end, "torchcodec")
            indices = _sample(sample_indices_fn, metadata, name)
            batch = decoder.get_frames_played_at([ask_at[i] for i in indices.tolist()]) if len(indices) else None
            if batch is not None and not np.allclose(
                batch.pts_seconds.numpy(), [shown_at[i] for i in indices.tolist()], rtol=0, atol=1e-4
            ):
                # e.g. MPEG-TS files whose first frames torchcodec drops: it numbers and times frames differently
                raise VideoDecodingError(
                    f"torchcodec returned other frames of {name} than those of the clip window {clip_window} (shown "
                    f"at {batch.pts_seconds.tolist()} s instead of {[shown_at[i] for i in indices.tolist()]} s); "
                    "read it with decord or PyAV."
                )
    except (RuntimeError, IndexError) as error:
        raise VideoDecodingError(f"torchcodec could not decode {name}: {_short_error(error)}") from error
    if batch is None:
        return _finish(np.empty((0, 0, 0, 3), np.uint8), metadata, indices)
    frames = batch.data
    if frames.shape[-1] != 3 or (frames.shape[1] == 3 and frames.shape[2:] == (video_metadata.height, 3)):
        frames = frames.permute(0, 2, 3, 1)  # a decoder opened with dimension_order="NCHW"
    return _finish(frames.numpy(), metadata, indices)


VIDEO_DECODERS = {"decord": read_video_decord, "pyav": read_video_pyav, "torchcodec": read_video_torchcodec}

# --- one entry point -------------------------------------------------------------------------------------------------

_FALLBACK_LOGGED = set()  # holds True once the fallback was logged


def _log_fallback(name: str, error: Exception) -> None:
    """Says, once per process, that decord could not read a file that PyAV then read."""
    if not _FALLBACK_LOGGED:
        _FALLBACK_LOGGED.add(True)
        logger.warning(
            f"decord could not read {name} ({_short_error(error)[:200]}); it was read with PyAV. Other videos decord "
            "fails on are read with PyAV too, without this message; the metadata of each video names its decoder "
            "(`video_backend`)."
        )


def load_video(
    video: Any,
    sample_indices_fn: SampleIndicesFn,
    *,
    backend: str | None = None,
    clip_window: Sequence[float] | None = None,
    decode_size: Any = None,
) -> tuple[np.ndarray, VideoMetadata]:
    """
    Decodes the frames of `video` that `sample_indices_fn` picks: the public entry point for any video input.

    Args:
        video: a local file path (an absolute path is used, so that FFmpeg never reads a name such as `pipe:0`,
            `file:x.mp4` or `http://...` as a protocol; URLs are refused), the bytes of a video file, a file object
            opened in binary mode, a `datasets.Video(decode=False)` value (`{"path": ..., "bytes": ...}`), a torchcodec
            `VideoDecoder` (a `datasets.Video()` value) or a decord `VideoReader`. An image file is a one-frame video.
        sample_indices_fn (`Callable`): called as `sample_indices_fn(metadata=metadata)` with the `VideoMetadata` of
            the video (or of the clip window), returns the indices of the frames to decode (repeats allowed).
        backend (`str`, *optional*): `"decord"`, `"pyav"` or `"torchcodec"`; by default decord when it is installed,
            else PyAV, else torchcodec (see [`resolve_video_backend`]). Decoder objects are read by their own library.
            Files decord cannot read (animated GIFs, images, 1x1 or 2x2 videos, broken duration metadata, frame sizes
            its scaler refuses) are read with PyAV instead, with one warning per process; the metadata's
            `video_backend` says which decoder read the video.
        clip_window (`(float, float)`, *optional*): `(start, end)` in seconds: only frames shown at `start <= t < end`
            can be picked (see the module docstring); the metadata then describes the window.
        decode_size (`(int, int)`, *optional*): `(height, width)` to scale frames to while decoding (bilinear, by
            FFmpeg), cheaper than decoding at full resolution and resizing.

    Returns:
        `(frames, metadata)`: `np.ndarray` of `uint8`, shape `(len(indices), height, width, 3)`, RGB, and its
        `VideoMetadata` (`total_num_frames`, `fps`, `duration`, `video_backend`, `frames_indices`, `height`, `width`).

    Raises:
        `FileNotFoundError` for a missing file; `ValueError` (a `VideoDecodingError` when no decoder could read it)
        naming the file and the decoder's message, when it cannot be decoded, has no video stream or no frames, or
        when the clip window holds no frame.
    """
    own_backend = _decoder_object_backend(video)
    if own_backend is not None:
        source, name = video, f"the {own_backend} decoder given"
        resolve_video_backend(own_backend)
        backend = own_backend
    else:
        source, name = _resolve_source(video)
        backend = resolve_video_backend(backend)
    clip_window = _check_clip_window(clip_window, name)
    decode_size = check_decode_size(decode_size)
    try:
        return VIDEO_DECODERS[backend](source, sample_indices_fn, clip_window=clip_window, decode_size=decode_size)
    except VideoDecodingError as error:
        if backend != "decord" or own_backend is not None or _backend_problem("pyav") is not None:
            raise
        decord_error = error
    _log_fallback(name, decord_error)
    try:
        return read_video_pyav(source, sample_indices_fn, clip_window=clip_window, decode_size=decode_size)
    except VideoDecodingError as error:
        raise VideoDecodingError(f"{error} (decord could not read it either: {_short_error(decord_error)})") from error


def read_video_frames(
    path: Any,
    num_frames: int = 8,
    sampling: str = "middle",
    clip_window: tuple[float, float] | None = None,
    backend: str | None = None,
    rng: np.random.Generator | None = None,
    decode_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """
    Decodes the `num_frames` frames of a video that [`sample_frame_indices`] picks, and nothing else.

    Args:
        path: the video file, or any other video input [`load_video`] accepts (bytes, a binary file object, a
            `datasets.Video()` value, a decoder object).
        num_frames (`int`, defaults to 8): frames to return.
        sampling (`str`, defaults to `"middle"`): `"middle"` or `"rand"`, see [`sample_frame_indices`].
        clip_window (`(float, float)`, *optional*): `(start, end)` in seconds: sample only frames shown at
            `start <= t < end`, e.g. an InternVid clip of a long YouTube video, without cutting the file. An end past
            the end of the video is clamped to it.
        backend (`str`, *optional*): `"decord"` (the reference's reader, one thread), `"pyav"` (one thread; for H.264
            it skips decoding the frames no sampled frame depends on, which leaves the sampled frames bit-identical)
            or `"torchcodec"`; by default decord when it is installed, else PyAV. At full resolution decord and PyAV
            return the same frames of ordinary MP4 files (decord differs on open-GOP H.264, where after seeking it can
            return the next frame instead, and on MPEG-TS, where it numbers frames differently).
        rng (`np.random.Generator`, *optional*): randomness for `sampling="rand"`.
        decode_size (`(int, int)`, *optional*): `(height, width)` to scale frames to while decoding (bilinear, by
            FFmpeg), which is cheaper than decoding at full resolution and resizing. Leave it unset to keep the
            reference's evaluation numerics (full-resolution decode, then resize).

    Returns:
        `np.ndarray` of `uint8`, shape `(num_frames, height, width, 3)`, RGB.

    Raises:
        `FileNotFoundError` if `path` does not exist; `ValueError` if it cannot be decoded (naming the file and the
        decoder's message), has no video stream or no frames, or if `clip_window` holds no frame of the video.
    """
    if sampling not in SAMPLING_MODES:
        raise ValueError(f"sampling must be one of {SAMPLING_MODES}, got {sampling!r}.")

    def segment_sampling(metadata: VideoMetadata, **kwargs: Any) -> np.ndarray:
        return sample_frame_indices(metadata.total_num_frames, num_frames, sampling, rng)

    frames, _ = load_video(path, segment_sampling, backend=backend, clip_window=clip_window, decode_size=decode_size)
    return frames


def _container_metadata(video: Any, backend: str | None) -> VideoMetadata:
    """The metadata of a video as its decoder sees it (read from the container, nothing decoded)."""
    _, metadata = load_video(video, lambda metadata, **kwargs: np.empty(0, np.int64), backend=backend)
    return metadata


def count_video_frames(path: Any, backend: str | None = None) -> int:
    """The number of frames of a video as the decoder sees it (read from the container, nothing decoded)."""
    return _container_metadata(path, backend).total_num_frames


def video_duration(path: Any, backend: str | None = None) -> float:
    """
    How many seconds a video lasts as its decoder sees it (read from the container, nothing decoded): the time clip
    windows are located in, e.g. to cut a long video into sliding windows.

    Raises:
        `ValueError` (naming the video) when the decoder finds no frames or cannot tell the duration (no frame rate).
    """
    metadata = _container_metadata(path, backend)
    name = os.fspath(path) if isinstance(path, (str, os.PathLike)) else type(path).__name__
    if not metadata.total_num_frames:
        raise VideoDecodingError(f"The video {name} has no frames.")
    duration = metadata.duration
    if not duration or not math.isfinite(duration) or duration <= 0:
        raise VideoDecodingError(
            f"The video {name} has no usable frame rate or duration; its windows cannot be located."
        )
    return float(duration)


__all__ = [
    "PYAV_SKIPPING_CODECS",
    "SAMPLING_MODES",
    "VIDEO_BACKENDS",
    "VIDEO_DECODERS",
    "PacketInfo",
    "VideoDecodingError",
    "available_video_backends",
    "check_decode_size",
    "count_video_frames",
    "h264_nal_length_size",
    "h264_starts_with_idr",
    "is_video_source",
    "load_video",
    "plan_pyav_frame_skipping",
    "read_video_decord",
    "read_video_frames",
    "read_video_pyav",
    "read_video_torchcodec",
    "resolve_video_backend",
    "rng_from_torch_seed",
    "sample_frame_indices",
    "scan_pyav_packets",
    "timestamps_allow_skipping",
    "video_duration",
]
