# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Video decoding for ViCLIP: the reference's segment sampling, and `VIDEO_DECODERS`, decoders with the signature of
transformers' (`decoder(video, sample_indices_fn, *, clip_window=None, decode_size=None) -> (frames, metadata)`) that
decode the frames `sample_indices_fn(metadata=...)` picks, numbered in presentation order. A clip window `(start, end)`
holds the frames shown at `start <= t < end` seconds from the stream start, on every decoder, variable frame rates too.

"The frames of a file" are what a standard player shows, whichever decoder reads it: FFmpeg's best video stream (never
an attached picture such as cover art), the frames its decoder outputs in presentation order (packets an edit list
hides and packets before the first key frame give none), timed from the stream's start, with the display matrix
(rotation) applied. [`probe_video`] reads the few container facts that say whether decord or torchcodec read a file
that way; [`load_video`] reads the files they do not with PyAV instead, logged once per reason. PyAV's reader, the
probe and the frame bookkeeping the decoders share live in `video_frames_viclip.py`; this module is the table.
"""

import importlib
import io
import math
import numbers
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from transformers.utils import is_av_available, is_cv2_available, is_decord_available, is_torchcodec_available, logging
from transformers.video_utils import VideoMetadata

from .video_frames_viclip import (
    NoVideoError,
    VideoDecodingError,
    VideoLayout,
    finish,
    open_pyav,
    probe_video,
    read_video_pyav,
    sampled_indices,
    scan_pyav_window,
    short_error,
    stack_decoded,
    video_metadata,
    window_frames,
)


logger = logging.get_logger(__name__)

SAMPLING_MODES = ("middle", "rand", "stride")
# Backend -> (its package, whether transformers finds it installed), in order of preference. OpenCV comes last: it
# is never chosen automatically, only by name (InternVid's demo reads videos with it).
BACKEND_PACKAGES = {
    "decord": ("decord", is_decord_available),
    "pyav": ("av", is_av_available),
    "torchcodec": ("torchcodec", is_torchcodec_available),
    "opencv": ("opencv-python-headless", is_cv2_available),
}
VIDEO_BACKENDS = tuple(BACKEND_PACKAGES)
AUTOMATIC_BACKENDS = ("decord", "pyav", "torchcodec")


def rng_from_torch_seed() -> np.random.Generator:
    """A numpy generator seeded from torch's (so that `torch.manual_seed` makes sampling and augmentation repeat)."""
    return np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))


def sample_frame_indices(
    num_video_frames: int, num_frames: int, sampling: str = "middle", rng: np.random.Generator | None = None
) -> np.ndarray:
    """The reference's segment sampling: `n = min(num_frames, num_video_frames)` segments cut at `linspace(0,
    num_video_frames, n + 1).astype(int)`; `"middle"` takes `(lo + hi) // 2` of each `[lo, hi]`, `"rand"` (with `rng`)
    a uniform index in `[lo, hi)`, or `n` sorted distinct frames; padded with the last index to `num_frames` int64.
    `"stride"` is InternVid's demo instead: every `num_video_frames // num_frames`-th frame from the first, `num_frames`
    of them (a video with fewer frames than that is an error, as in the demo)."""
    if sampling not in SAMPLING_MODES:
        raise ValueError(f"sampling must be one of {SAMPLING_MODES}, got {sampling!r}.")
    if int(num_frames) < 1 or int(num_video_frames) < 1:
        raise ValueError(f"Cannot sample {num_frames} frames from a video with {num_video_frames} frames.")
    num_video_frames, num_frames = int(num_video_frames), int(num_frames)
    if sampling == "stride":
        if num_video_frames < num_frames:
            raise ValueError(
                f"Stride sampling (InternVid's demo) takes {num_frames} frames {num_video_frames} // {num_frames} "
                f"apart and needs at least {num_frames} frames; the video has {num_video_frames}."
            )
        return np.arange(num_frames, dtype=np.int64) * (num_video_frames // num_frames)
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
    """The general decoders (clip windows, decode sizes) that can be used here, in order of preference: decord, PyAV,
    torchcodec. OpenCV's, for InternVid's demo protocol alone, is not among them."""
    return [backend for backend in AUTOMATIC_BACKENDS if _backend_problem(backend) is None]


def resolve_video_backend(backend: str | None = None, *, for_training: bool = False) -> str:
    """`backend` after checking it can be used, or the preferred available one: decord (the reference's reader),
    PyAV, torchcodec; PyAV first for training clips (decord and PyAV give identical full-resolution frames). OpenCV
    only by name."""
    if backend is not None and backend not in VIDEO_BACKENDS:
        raise ValueError(f"video backend must be one of {VIDEO_BACKENDS} (or None for automatic), got {backend!r}.")
    candidates = [backend] if backend else ("pyav", "decord", "torchcodec") if for_training else AUTOMATIC_BACKENDS
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


def is_seconds(value: Any) -> bool:
    """Whether `value` is a number of seconds: a real number, not a bool (`True` is not a time)."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_clip_window(clip_window: Any) -> tuple[float, float] | None:
    """`clip_window` (`(start, end)` seconds, or None) as a pair of floats with `0 <= start < end`.

    Raises:
        `ValueError`: naming the values that are not numbers of seconds (strings, None, bools) or are out of order.
    """
    if clip_window is None:
        return None
    if isinstance(clip_window, (str, bytes)) or not hasattr(clip_window, "__len__") or len(clip_window) != 2:
        raise ValueError(f"A clip window is (start, end) in seconds, got {clip_window!r}.")
    if not_seconds := [f"{value!r} ({type(value).__name__})" for value in clip_window if not is_seconds(value)]:
        raise ValueError(
            f"The clip window {tuple(clip_window)!r} has {' and '.join(not_seconds)} where numbers of seconds belong: "
            "give (start, end) as ints or floats, e.g. (1.5, 4.0)."
        )
    start, end = float(clip_window[0]), float(clip_window[1])
    if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end <= start:
        raise ValueError(f"A clip window is (start, end) seconds with 0 <= start < end, got {tuple(clip_window)!r}.")
    return start, end


def decord_problem(layout: VideoLayout) -> str | None:
    """Why decord would not return the frames a player shows of a file so laid out (None: it would), as a phrase
    naming the class of file. decord (its FFmpeg 4.1) picks streams by bit rate and times frames from packets."""
    if layout.video_streams > 1:
        return "files with several video streams (it cannot pick the one a player plays)"
    if layout.hides_leading_packets:
        return "files whose edit list hides leading packets (stream-copy cuts)"
    if layout.starts_without_key_frame:
        return "files that start without a key frame (stream-copy cuts)"
    if layout.reorders and layout.codec == "mpeg4":
        return "MPEG-4 Part 2 with B-frames"
    if layout.reorders and layout.container_format in ("mpegts", "mpeg", "avi"):
        return f"{layout.container_format} files with B-frames"
    return None


def torchcodec_problem(layout: VideoLayout) -> str | None:
    """Why torchcodec would not return the frames a player shows of a file so laid out (None: it would)."""
    if layout.starts_without_key_frame:
        return "files that start without a key frame (stream-copy cuts)"
    if layout.reorders and layout.container_format in ("mpegts", "mpeg", "avi"):
        return f"{layout.container_format} files with B-frames"
    return None


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
        times = reader.get_frame_timestamp(np.arange(len(reader))) if len(reader) else np.zeros((0, 2))
        timestamps, video_end = times[:, 0].tolist(), float(times[-1, 1]) if len(times) else None
        first, stop = window_frames(timestamps, clip_window, name, video_end)
        metadata = video_metadata(stop - first, fps, "decord", clip=(timestamps, clip_window), video_end=video_end)
    indices, frames = sampled_indices(sample_indices_fn, metadata, name), None
    try:
        frames = reader.get_batch((first + indices).tolist()) if len(indices) else None
    except Exception as error:
        raise VideoDecodingError(f"decord could not decode frames of {name}: {short_error(error)}") from error
    if frames is not None:  # decord's NDArray, or a torch tensor when its bridge was switched to torch elsewhere
        frames = np.ascontiguousarray(frames.asnumpy() if hasattr(frames, "asnumpy") else frames)
    return finish(frames, metadata, indices)


def read_video_torchcodec(video: Any, sample_indices_fn: Callable, *, clip_window=None, decode_size=None):
    """The sampled frames, by torchcodec (one thread, exact seeking), of an absolute path, a file's bytes or a
    `VideoDecoder`. torchcodec gives no frame times without decoding: PyAV finds a clip window's frames in the packets."""
    source, name, decoder = video, video if isinstance(video, str) else f"<{len(video)} bytes>", video
    if _is_torchcodec_decoder(video):
        source, name = getattr(video.metadata, "path", None), "the torchcodec VideoDecoder"
    else:
        resize = [importlib.import_module("torchcodec.transforms").Resize(decode_size)] if decode_size else None
        layout = probe_video(video, name)  # the stream PyAV and a player pick, whatever FFmpeg torchcodec uses
        # torchcodec's exact mode scans every stream from the start, which fails on cover art: seek approximately
        seek_mode = "approximate" if layout.has_attached_picture else "exact"
        try:
            decoder = importlib.import_module("torchcodec.decoders").VideoDecoder(
                video,
                stream_index=layout.stream_index,
                dimension_order="NHWC",
                seek_mode=seek_mode,
                num_ffmpeg_threads=1,
                transforms=resize,
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
                table = scan_pyav_window(container, stream, clip_window, name)
                offset = float((stream.start_time or 0) * stream.time_base)  # torchcodec's clock: pts * time_base
            timestamps, first, stop = table.timestamps, table.first, table.stop
            clip = (timestamps, clip_window)
            metadata = video_metadata(stop - first, fps, "torchcodec", clip=clip, video_end=table.video_end)
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


def read_video_opencv(video: Any, sample_indices_fn: Callable, *, clip_window=None, decode_size=None):
    """The sampled frames, by OpenCV's `VideoCapture` (its own FFmpeg build and YUV-to-BGR conversion, returned as
    RGB), of an absolute path or a file's bytes (written to a temporary file: OpenCV opens files by name). As InternVid's
    demo reads videos: the frame count is the number of frames `VideoCapture.read` returns, so every frame is grabbed
    once to count them, then again up to the last sampled one. Whole videos at their size only: no clip window or
    decode size."""
    if clip_window is not None or decode_size is not None:
        raise ValueError("The opencv backend reads whole videos at their size: read clip windows with decord or PyAV.")
    cv2 = importlib.import_module("cv2")
    if not isinstance(video, str):
        with tempfile.NamedTemporaryFile(suffix=".video") as file:
            file.write(video)
            file.flush()
            return read_video_opencv(file.name, sample_indices_fn)
    capture, num_frames = cv2.VideoCapture(video), 0
    try:
        if not capture.isOpened():
            raise VideoDecodingError(f"OpenCV could not open the video file {video}.")
        fps = capture.get(cv2.CAP_PROP_FPS) or None
        while capture.grab():
            num_frames += 1
    finally:
        capture.release()
    metadata = video_metadata(num_frames, fps, "opencv")
    indices, decoded = sampled_indices(sample_indices_fn, metadata, video), {}
    wanted, capture = set(indices.tolist()), cv2.VideoCapture(video)
    try:
        for index in range(int(indices.max()) + 1 if len(indices) else 0):
            if not capture.grab():
                break
            if index in wanted and (retrieved := capture.retrieve())[0]:
                decoded[index] = retrieved[1][:, :, ::-1]  # BGR to RGB
    finally:
        capture.release()
    frames = stack_decoded(decoded, indices, num_frames, video) if len(indices) else None
    return finish(frames, metadata, indices)


VIDEO_DECODERS = {
    "decord": read_video_decord,
    "pyav": read_video_pyav,
    "torchcodec": read_video_torchcodec,
    "opencv": read_video_opencv,
}


_BACKEND_PROBLEMS = {"decord": decord_problem, "torchcodec": torchcodec_problem}


def _backend_for_file(backend: str, source: str | bytes, name: str) -> str:
    """`backend`, or PyAV where [`probe_video`] says `backend` would not return the frames a player shows (logged once
    per reason)."""
    if backend not in _BACKEND_PROBLEMS or _backend_problem("pyav") is not None:
        return backend
    try:
        problem = _BACKEND_PROBLEMS[backend](probe_video(source, name))
    except NoVideoError:
        raise
    except VideoDecodingError:
        return backend  # the backend itself says why it cannot read the file
    if problem is None:
        return backend
    logger.warning_once(
        f"{backend} does not read {problem} as a player shows them; such videos are read with PyAV instead "
        "(the metadata's video_backend names the decoder of each video)."
    )
    logger.info(f"{name}: {problem}; read with PyAV instead of {backend}.")
    return "pyav"


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
    PyAV, and so are files that decord or torchcodec would not read as a player shows them ([`probe_video`]: several
    video streams, stream-copy cuts, B-frames in MPEG-TS or AVI, ...), with a warning once per reason; the metadata's
    `video_backend` names the decoder that read the video. `decoders`: the decoder of each backend (a library may give
    faster ones that return the same frames).
    """
    own_decoder = _is_torchcodec_decoder(video)
    source, name = (video, "the torchcodec decoder given") if own_decoder else _resolve_source(video)
    backend = resolve_video_backend("torchcodec" if own_decoder else backend)
    kwargs = {"clip_window": check_clip_window(clip_window), "decode_size": check_decode_size(decode_size)}
    backend = _backend_for_file(backend, source, name) if not own_decoder else backend
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
