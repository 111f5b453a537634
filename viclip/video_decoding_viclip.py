# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Video decoding for ViCLIP: the reference's segment sampling, and `VIDEO_DECODERS`, decoders with the signature of
transformers' (`decoder(video, sample_indices_fn, *, clip_window=None, decode_size=None) -> (frames, metadata)`) that
decode the frames `sample_indices_fn(metadata=...)` picks, numbered in presentation order. A clip window `(start, end)`
holds the frames shown at `start <= t < end` seconds from the stream start, on every decoder, variable frame rates too.
"""

import bisect
import importlib
import io
import math
import os
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from transformers.utils import is_av_available, is_decord_available, is_torchcodec_available, logging
from transformers.video_utils import VideoMetadata


logger = logging.get_logger(__name__)

SAMPLING_MODES = ("middle", "rand")
# Backend -> (its package, whether transformers finds it installed), in order of preference.
BACKEND_PACKAGES = {
    "decord": ("decord", is_decord_available),
    "pyav": ("av", is_av_available),
    "torchcodec": ("torchcodec", is_torchcodec_available),
}
VIDEO_BACKENDS = tuple(BACKEND_PACKAGES)
_TIMESTAMP_SLACK = 1e-6  # seconds: absorbs float error in `pts * time_base`
_PYAV_SEEK_AFTER_SECONDS = 2.0  # PyAV seeks to a clip window starting later than this instead of reading from 0


class VideoDecodingError(ValueError):
    """A decoder could not open or decode a video (as opposed to a request that no decoder could satisfy)."""


def rng_from_torch_seed() -> np.random.Generator:
    """A numpy generator seeded from torch's (so that `torch.manual_seed` makes sampling and augmentation repeat)."""
    return np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))


def sample_frame_indices(
    num_video_frames: int, num_frames: int, sampling: str = "middle", rng: np.random.Generator | None = None
) -> np.ndarray:
    """The reference's segment sampling: `n = min(num_frames, num_video_frames)` segments cut at `linspace(0,
    num_video_frames, n + 1).astype(int)`; `"middle"` takes `(lo + hi) // 2` of each `[lo, hi]`, `"rand"` (with `rng`)
    a uniform index in `[lo, hi)`, or `n` sorted distinct frames; padded with the last index to `num_frames` int64."""
    if sampling not in SAMPLING_MODES:
        raise ValueError(f"sampling must be one of {SAMPLING_MODES}, got {sampling!r}.")
    if int(num_frames) < 1 or int(num_video_frames) < 1:
        raise ValueError(f"Cannot sample {num_frames} frames from a video with {num_video_frames} frames.")
    num_video_frames, num_frames = int(num_video_frames), int(num_frames)
    num_segments = min(num_frames, num_video_frames)
    edges = np.linspace(0, num_video_frames, num_segments + 1).astype(int)
    low, high = edges[:-1], edges[1:] - 1
    rng = rng if rng is not None or sampling == "middle" else rng_from_torch_seed()
    if sampling == "middle":
        indices = (low + high) // 2
    elif np.any(high <= low):  # one-frame segments: the reference draws distinct frames instead
        indices = np.sort(rng.permutation(num_video_frames)[:num_segments])
    else:
        indices = rng.integers(low, high)
    if num_segments < num_frames:
        indices = np.concatenate([indices, np.full(num_frames - num_segments, indices[-1])])
    return indices.astype(np.int64)


def sampled_indices(sample_indices_fn: Callable, metadata: VideoMetadata, name: str) -> np.ndarray:
    """The indices `sample_indices_fn` picks for a video described by `metadata`, checked against its frame count."""
    if not (total := metadata.total_num_frames) or total < 1:
        raise ValueError(f"The video {name} has no frames.")
    indices = np.asarray(sample_indices_fn(metadata=metadata), dtype=np.int64).reshape(-1)
    if len(indices) and (indices.min() < 0 or indices.max() >= total):
        raise ValueError(f"The frame sampler asked for frames {indices.tolist()} of {name}, which has {total} frames.")
    return indices


# The FFmpeg libraries torchcodec loads (Debian/Ubuntu packages of FFmpeg 5), as the README installs them.
TORCHCODEC_FFMPEG_INSTALL = (
    "apt-get install libavcodec59 libavformat59 libavutil57 libswscale6 libswresample4 libavdevice59 libavfilter8"
)


def _backend_problem(backend: str) -> str | None:
    """Why `backend` cannot decode videos here, or None when it can."""
    package, is_available = BACKEND_PACKAGES[backend]
    if not is_available() and backend == "torchcodec":
        return (
            "the 'torchcodec' video backend is not installed: it needs FFmpeg 4 to 8 as system libraries "
            f'(`{TORCHCODEC_FFMPEG_INSTALL}`), then `pip install -e ".[torchcodec]"` in this project (elsewhere '
            "`pip install torchcodec`)"
        )
    if not is_available():
        return f"the {backend!r} video backend is not installed: `pip install {package}`"
    if backend == "torchcodec" and importlib.import_module("torchcodec").ffmpeg_major_version is None:
        return f"torchcodec is installed but found no FFmpeg 4 to 8: `{TORCHCODEC_FFMPEG_INSTALL}`"
    return None


def available_video_backends() -> list[str]:
    """The decoders that can be used here, in order of preference: decord, PyAV, torchcodec."""
    return [backend for backend in VIDEO_BACKENDS if _backend_problem(backend) is None]


def resolve_video_backend(backend: str | None = None, *, for_training: bool = False) -> str:
    """`backend` after checking it can be used, or the preferred available one: decord (the reference's reader),
    PyAV, torchcodec; PyAV first for training clips (decord and PyAV give identical full-resolution frames)."""
    if backend is not None and backend not in VIDEO_BACKENDS:
        raise ValueError(f"video backend must be one of {VIDEO_BACKENDS} (or None for automatic), got {backend!r}.")
    candidates = [backend] if backend else ("pyav", "decord", "torchcodec") if for_training else VIDEO_BACKENDS
    problems = [_backend_problem(candidate) for candidate in candidates]
    if None not in problems:
        raise ImportError(f"Cannot decode videos: {problems[0] if backend else 'install decord or PyAV (av)'}.")
    return candidates[problems.index(None)]


def _is_torchcodec_decoder(video: Any) -> bool:
    """Whether `video` is a torchcodec `VideoDecoder` (the value of a `datasets.Video()` column)."""
    return type(video).__module__.startswith("torchcodec") and type(video).__name__ == "VideoDecoder"


def is_video_source(video: Any) -> bool:
    """Whether `video` is something to decode: a file path, a file's bytes, an open binary file, a
    `datasets.Video(decode=False)` value (`{"path", "bytes"}`) or a torchcodec `VideoDecoder` (`datasets.Video()`)."""
    if isinstance(video, dict):
        return set(video) <= {"path", "bytes"} and bool(video)
    if isinstance(video, (str, os.PathLike, bytes, bytearray, memoryview)) or _is_torchcodec_decoder(video):
        return True
    return hasattr(video, "read") and hasattr(video, "seek")


def _resolve_source(video: Any) -> tuple[str | bytes, str]:
    """`video` as what decoders open (an absolute path, never read as a protocol like `pipe:0`, or bytes) and its name."""
    if isinstance(video, dict):
        if video.get("bytes") is not None:
            return bytes(video["bytes"]), str(video.get("path") or f"<{len(video['bytes'])} bytes>")
        if video.get("path") is None:
            raise ValueError(f"A video given as a dictionary needs 'path' or 'bytes', got {video!r}.")
        video = video["path"]
    if isinstance(video, (str, os.PathLike)):
        path = os.fsdecode(os.fspath(video))
        if not os.path.isfile(path):
            protocol = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", path)
            hint = " (URLs and FFmpeg protocols such as `pipe:` are not opened; download the video first)"
            raise FileNotFoundError(f"Video file not found: {path}{hint if protocol else ''}")
        return os.path.abspath(path), path
    if isinstance(video, (bytes, bytearray, memoryview)):
        return bytes(video), f"<{len(video)} bytes>"
    data = video.read() if hasattr(video, "read") else None
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"Cannot read a video from a {type(video).__name__} (file objects must be opened with 'rb').")
    return bytes(data), getattr(video, "name", None) or f"<{len(data)} bytes>"


def check_decode_size(decode_size: Any) -> tuple[int, int] | None:
    """`decode_size` (`(height, width)`, or a dictionary with those keys) as a pair of positive ints, or None."""
    if decode_size is not None and (isinstance(decode_size, dict) or hasattr(decode_size, "height")):
        decode_size = (decode_size["height"], decode_size["width"])
    if decode_size is not None and (len(decode_size) != 2 or any(int(side) < 1 for side in decode_size)):
        raise ValueError(f"decode_size must be (height, width) with positive sides, got {decode_size!r}.")
    return None if decode_size is None else (int(decode_size[0]), int(decode_size[1]))


def short_error(error: Exception) -> str:
    message = " ".join(str(error).split())
    return message if len(message) <= 600 else message[:600] + " ..."


def window_frames(timestamps: Sequence[float], clip_window: tuple[float, float], name: str) -> tuple[int, int]:
    """`[first, stop)`: the positions in `timestamps` (sorted seconds) of the frames shown in the clip window."""
    start, end = clip_window
    first = bisect.bisect_left(timestamps, start - _TIMESTAMP_SLACK)
    stop = bisect.bisect_left(timestamps, end - _TIMESTAMP_SLACK)
    if first >= len(timestamps):
        last = f"its last frame is at {timestamps[-1]:.3f} s" if len(timestamps) else "it has no frames"
        raise ValueError(f"The clip window {clip_window} starts after the end of {name} ({last}).")
    if stop <= first:
        before = f"{timestamps[first - 1]:.3f} s and " if first > 0 else ""
        at = f"{before}{timestamps[first]:.3f} s"
        raise ValueError(f"No frame of {name} is shown in the clip window [{start}, {end}) s (frames at {at}).")
    return first, stop


def video_metadata(num_frames: int, fps, backend: str, duration=None, clip=None) -> VideoMetadata:
    """The metadata of a video, or of a clip window (`clip=(timestamps, clip_window)`, its end clamped to the video)."""
    if clip is not None:
        (timestamps, (start, end)), last = clip, clip[0][-1]
        duration = min(end, last + (last - timestamps[-2] if len(timestamps) > 1 else 0.0)) - start
    duration = num_frames / fps if duration is None and fps else duration
    return VideoMetadata(total_num_frames=num_frames, fps=fps, duration=duration, video_backend=backend)


def finish(frames: np.ndarray | None, metadata: VideoMetadata, indices: np.ndarray) -> tuple:
    """The decoded frames (None: none asked for) and their metadata, completed with the indices and frame size."""
    frames, metadata.frames_indices = np.empty((0, 0, 0, 3), np.uint8) if frames is None else frames, indices.tolist()
    metadata.height, metadata.width = (int(frames.shape[1]), int(frames.shape[2])) if len(frames) else (0, 0)
    return frames, metadata


def read_video_decord(video: Any, sample_indices_fn: Callable, *, clip_window=None, decode_size=None):
    """The sampled frames, by decord (one thread, as the reference's reader), of an absolute file path or a file's
    bytes. Clip windows use decord's frame timestamps."""
    name = video if isinstance(video, str) else f"<{len(video)} bytes>"
    size = {} if decode_size is None else {"height": decode_size[0], "width": decode_size[1]}
    try:
        file = video if isinstance(video, str) else io.BytesIO(video)
        reader = importlib.import_module("decord").VideoReader(file, num_threads=1, **size)
    except Exception as error:
        raise VideoDecodingError(f"decord could not read the video file {name}: {short_error(error)}") from error
    fps, first = float(reader.get_avg_fps()) or None, 0
    metadata = video_metadata(len(reader), fps, "decord")
    if clip_window is not None:
        timestamps = reader.get_frame_timestamp(np.arange(len(reader)))[:, 0].tolist() if len(reader) else []
        first, stop = window_frames(timestamps, clip_window, name)
        metadata = video_metadata(stop - first, fps, "decord", clip=(timestamps, clip_window))
    indices, frames = sampled_indices(sample_indices_fn, metadata, name), None
    try:
        frames = reader.get_batch((first + indices).tolist()) if len(indices) else None
    except Exception as error:
        raise VideoDecodingError(f"decord could not decode frames of {name}: {short_error(error)}") from error
    if frames is not None:  # decord's NDArray, or a torch tensor when its bridge was switched to torch elsewhere
        frames = np.ascontiguousarray(frames.asnumpy() if hasattr(frames, "asnumpy") else frames)
    return finish(frames, metadata, indices)


_PYAV_THREAD_STATE = threading.local()


def pyav_frame_converter(decode_size: tuple[int, int] | None) -> Callable[[Any], np.ndarray]:
    """RGB array of a PyAV frame, scaled bilinearly (as decord does) to `decode_size` on one thread by this thread's
    `VideoReformatter`, which keeps FFmpeg's scaler from frame to frame (made afresh in a forked DataLoader worker)."""
    state = _PYAV_THREAD_STATE
    if getattr(state, "pid", None) != os.getpid():
        state.reformatter, state.pid = importlib.import_module("av.video.reformatter").VideoReformatter(), os.getpid()

    def convert(frame: Any) -> np.ndarray:
        height, width = decode_size or (frame.height, frame.width)
        options = {"format": "rgb24", "interpolation": "BILINEAR", "threads": 1}
        return state.reformatter.reformat(frame, width=width, height=height, **options).to_ndarray()

    return convert


def open_pyav(source: str | bytes, name: str) -> tuple[Any, Any]:
    """The container and its first video stream, decoding on one thread (libavcodec decodes each packet when sent)."""
    try:
        container = importlib.import_module("av").open(source if isinstance(source, str) else io.BytesIO(source))
    except Exception as error:
        raise VideoDecodingError(f"Could not read the video file {name} with PyAV: {short_error(error)}") from error
    if not container.streams.video:
        container.close()
        raise VideoDecodingError(f"The file {name} has no video stream.")
    container.streams.video[0].codec_context.thread_count = 1
    return container, container.streams.video[0]


class PacketInfo(NamedTuple):
    """A demuxed packet's timestamps, whether it starts a closed group of pictures, and if it is usable (not corrupt)."""

    pts: int | None
    dts: int | None
    starts_closed_group: bool
    usable: bool


def scan_pyav_packets(container, stream, is_past_needed: Callable, closed_group_test=None) -> list[PacketInfo]:
    """The packets demuxed from the current position, in decoding order, until `is_past_needed(infos)` or the end."""
    infos: list[PacketInfo] = []
    for packet in container.demux(stream):
        if packet.size:
            closed = closed_group_test is not None and closed_group_test(packet)
            infos.append(PacketInfo(packet.pts, packet.dts, closed, not (packet.is_corrupt or packet.is_discard)))
            if is_past_needed(infos):
                break
    return infos


def seek_pyav(container: Any, stream: Any, target: int | None) -> None:
    """Demux from the key frame at or before `target` (stream time base), or from the start of the file."""
    container.seek(0 if target is None else target, stream=stream, backward=True, any_frame=False)


def scan_pyav_window(container, stream, clip_window: tuple[float, float], name: str, closed_group_test=None) -> tuple:
    """Locates a clip window: demuxes from a key frame shown before it (`seek_target`, None: the start of the file)
    until every later packet is shown after it. Returns `(infos, seek_target, timestamps, pts, first, stop)`: packets,
    the sorted times (seconds) and pts of their frames, and the positions `[first, stop)` of the window's frames."""
    start, end = clip_window
    origin, time_base = stream.start_time or 0, stream.time_base

    def seconds(pts: int) -> float:
        return float((pts - origin) * time_base)

    def is_past_window(infos: list[PacketInfo]) -> bool:  # decoding times never decrease (checked below)
        return infos[-1].dts is not None and seconds(infos[-1].dts) >= end - _TIMESTAMP_SLACK

    target = start
    while True:
        seek_target = origin + int(target / time_base) if target > _PYAV_SEEK_AFTER_SECONDS else None
        if seek_target is not None or target != start:  # a fresh container needs no seek to its start
            seek_pyav(container, stream, seek_target)
        infos = scan_pyav_packets(container, stream, is_past_window, closed_group_test)
        shown = infos[0].pts if infos else None
        if seek_target is None or (shown is not None and seconds(shown) <= start + _TIMESTAMP_SLACK):
            break
        target = min(target, seconds(shown) if shown is not None else target) - 1.0  # an earlier key frame
    if any(info.pts is None for info in infos):
        raise VideoDecodingError(f"PyAV cannot locate the clip window {clip_window} in {name}: no frame timestamps.")
    dts = [info.dts for info in infos]
    if any(d is not None and info.pts < d for info, d in zip(infos, dts, strict=True)) or any(
        a is not None and b is not None and b < a for a, b in zip(dts, dts[1:], strict=False)
    ):  # the scan may have stopped too early: read to the end of the file
        seek_pyav(container, stream, seek_target)
        infos = scan_pyav_packets(container, stream, lambda infos: False, closed_group_test)
    frames = sorted({seconds(info.pts): info.pts for info in infos}.items())
    timestamps = [time for time, _ in frames]
    return infos, seek_target, timestamps, [pts for _, pts in frames], *window_frames(timestamps, clip_window, name)


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
    the last sampled one, from the start or, for a clip window, from the key frame before it."""
    av = importlib.import_module("av")
    name, convert = video if isinstance(video, str) else f"<{len(video)} bytes>", pyav_frame_converter(decode_size)
    container, stream = open_pyav(video, name)
    try:
        rate, decoded = stream.average_rate or stream.guessed_rate, {}
        fps = float(rate) if rate else None
        if clip_window is not None:
            _, seek_target, timestamps, pts, first, stop = scan_pyav_window(container, stream, clip_window, name)
            metadata = video_metadata(stop - first, fps, "pyav", clip=(timestamps, clip_window))
            indices = sampled_indices(sample_indices_fn, metadata, name)
            wanted = {pts[first + i]: i for i in indices.tolist()}
            seek_pyav(container, stream, seek_target)
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


def read_video_torchcodec(video: Any, sample_indices_fn: Callable, *, clip_window=None, decode_size=None):
    """The sampled frames, by torchcodec (one thread, exact seeking), of an absolute path, a file's bytes or a
    `VideoDecoder`. torchcodec gives no frame times without decoding: PyAV finds a clip window's frames in the packets."""
    source, name, decoder = video, video if isinstance(video, str) else f"<{len(video)} bytes>", video
    if _is_torchcodec_decoder(video):
        source, name = getattr(video.metadata, "path", None), "the torchcodec VideoDecoder"
    else:
        resize = [importlib.import_module("torchcodec.transforms").Resize(decode_size)] if decode_size else None
        try:
            decoder = importlib.import_module("torchcodec.decoders").VideoDecoder(
                video, dimension_order="NHWC", seek_mode="exact", num_ffmpeg_threads=1, transforms=resize
            )
        except Exception as error:
            raise VideoDecodingError(f"torchcodec could not read {name}: {short_error(error)}") from error
    fps, frames = decoder.metadata.average_fps, None
    try:
        if clip_window is None:
            metadata = video_metadata(len(decoder), fps, "torchcodec", decoder.metadata.duration_seconds)
            indices = sampled_indices(sample_indices_fn, metadata, name)
            frames = decoder.get_frames_at(indices.tolist()).data if len(indices) else None
        else:
            if not (isinstance(source, bytes) or isinstance(source, str) and os.path.isfile(source)):
                raise ValueError(f"A clip window needs the video file of {name}; pass its path or bytes instead.")
            container, stream = open_pyav(source, name)
            with container:
                _, _, timestamps, _, first, stop = scan_pyav_window(container, stream, clip_window, name)
                offset = float((stream.start_time or 0) * stream.time_base)  # torchcodec's clock: pts * time_base
            metadata = video_metadata(stop - first, fps, "torchcodec", clip=(timestamps, clip_window))
            indices = sampled_indices(sample_indices_fn, metadata, name)
            times = [t + offset for t in timestamps] + [timestamps[-1] + offset + 2e-6]
            shown = [times[first + i] for i in indices.tolist()]
            if shown:  # each frame is asked for midway to the next one
                batch = decoder.get_frames_played_at([(times[first + i] + times[first + i + 1]) / 2 for i in indices])
                if not np.allclose(batch.pts_seconds.numpy(), shown, rtol=0, atol=1e-4):  # e.g. MPEG-TS
                    raise VideoDecodingError(
                        f"torchcodec returned other frames of {name} than those of the clip window {clip_window} (shown "
                        f"at {batch.pts_seconds.tolist()} s instead of {shown} s); read it with decord or PyAV."
                    )
                frames = batch.data
    except (RuntimeError, IndexError) as error:
        raise VideoDecodingError(f"torchcodec could not decode {name}: {short_error(error)}") from error
    if frames is not None and (frames.shape[-1] != 3 or frames.shape[1:3] == (3, decoder.metadata.height)):
        frames = frames.permute(0, 2, 3, 1)  # a decoder opened with dimension_order="NCHW"
    return finish(None if frames is None else frames.numpy(), metadata, indices)


VIDEO_DECODERS = {"decord": read_video_decord, "pyav": read_video_pyav, "torchcodec": read_video_torchcodec}


def load_video(
    video: Any,
    sample_indices_fn: Callable,
    *,
    backend: str | None = None,
    clip_window: Sequence[float] | None = None,
    decode_size: Any = None,
    decoders: dict[str, Callable] = VIDEO_DECODERS,
) -> tuple[np.ndarray, VideoMetadata]:
    """
    Decodes the frames of `video` (see [`is_video_source`]; never a URL) that `sample_indices_fn(metadata=...)` picks,
    as transformers' `load_video` does: `uint8` RGB `[T, height, width, 3]` and their `VideoMetadata`. `backend`:
    decord, else PyAV, else torchcodec by default; what decord cannot read (GIFs, images, tiny files) is read with
    PyAV. `decoders`: the decoder of each backend (a library may give faster ones that return the same frames).
    """
    own_decoder = _is_torchcodec_decoder(video)
    source, name = (video, "the torchcodec decoder given") if own_decoder else _resolve_source(video)
    backend = resolve_video_backend("torchcodec" if own_decoder else backend)
    if clip_window is not None:
        start, end = (float(value) for value in clip_window) if len(clip_window) == 2 else (math.nan, math.nan)
        if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end <= start:
            raise ValueError(f"clip_window must be (start, end) seconds with 0 <= start < end, got {clip_window!r}.")
        clip_window = (start, end)
    kwargs = {"clip_window": clip_window, "decode_size": check_decode_size(decode_size)}
    try:
        return decoders[backend](source, sample_indices_fn, **kwargs)
    except VideoDecodingError as error:
        if backend != "decord" or _backend_problem("pyav") is not None:
            raise
        decord_error = error
    try:
        decoded = decoders["pyav"](source, sample_indices_fn, **kwargs)
    except VideoDecodingError as error:
        raise VideoDecodingError(f"{error} (decord could not read it either: {short_error(decord_error)})") from error
    # said once PyAV has read it: a file that is no video at all gets the error above alone
    logger.warning_once("decord could not read a video that PyAV could; such videos are read with PyAV.")
    logger.info(f"decord could not read {name} ({short_error(decord_error)[:200]}); it was read with PyAV.")
    return decoded
