# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""Video processor for ViCLIP: frame sampling, decoding (decord or PyAV), resizing and normalisation.

The defaults reproduce the reference evaluation transform: 8 frames at the middle of 8 equal segments, every frame
resized to exactly 224x224 (bicubic, antialiased, on uint8 frames, aspect ratio not kept), divided by 255 and
normalised with the ImageNet mean and std. `do_train_augmentation=True` gives the reference training transform instead:
a RandomResizedCrop (scale 0.5-1, bicubic) and a horizontal flip, the same for every frame of a clip.

This file ships as Hub remote code: it imports numpy, PIL, torch, torchvision and transformers at module level; the
decoders (`decord`, `av`) are imported when a file is read.
"""

import bisect
import importlib
import itertools
import math
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from huggingface_hub.dataclasses import validate_typed_dict
from PIL import Image
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as tv_functional
from torchvision.transforms.v2 import functional as tv2_functional
from transformers.image_processing_utils import BatchFeature
from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, PILImageResampling, SizeDict
from transformers.processing_utils import Unpack, VideosKwargs
from transformers.utils import logging
from transformers.video_processing_utils import BaseVideoProcessor

logger = logging.get_logger(__name__)

SAMPLING_MODES = ("middle", "rand")
VIDEO_BACKENDS = ("decord", "pyav")
# Reference training augmentation (torchvision RandomResizedCrop defaults for the ratio, flip with p = 0.5).
TRAIN_CROP_SCALE = (0.5, 1.0)
TRAIN_CROP_RATIO = (3.0 / 4.0, 4.0 / 3.0)
TRAIN_FLIP_PROBABILITY = 0.5
# PyAV seeks to the clip window (instead of decoding from the first frame) when the window starts this many seconds in.
_PYAV_SEEK_AFTER_SECONDS = 2.0

_TO_INTERPOLATION = {
    PILImageResampling.NEAREST: InterpolationMode.NEAREST_EXACT,
    PILImageResampling.BILINEAR: InterpolationMode.BILINEAR,
    PILImageResampling.BICUBIC: InterpolationMode.BICUBIC,
    PILImageResampling.LANCZOS: InterpolationMode.LANCZOS,
    PILImageResampling.BOX: InterpolationMode.BOX,
    PILImageResampling.HAMMING: InterpolationMode.HAMMING,
}


def _default_rng() -> np.random.Generator:
    """A numpy generator seeded from torch's global generator, so `torch.manual_seed` / `set_seed` and DataLoader
    worker seeding make random sampling and augmentation reproducible."""
    return np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))


def sample_frame_indices(
    num_video_frames: int,
    num_frames: int,
    sampling: str = "middle",
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """
    Frame indices of the reference's segment sampling (spec §7).

    The video is cut into `n = min(num_frames, num_video_frames)` segments at `edges = linspace(0, num_video_frames,
    n + 1).astype(int)`; segment `i` is `[edges[i], edges[i + 1] - 1]`. `"middle"` takes `(lo + hi) // 2` of each
    segment, `"rand"` a uniform index in `[lo, hi)` (when a segment has a single frame that range is empty and the
    reference draws `n` distinct sorted frames at random instead). With fewer frames than `num_frames`, the indices
    are padded with the last one.

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
        rng = rng if rng is not None else _default_rng()
        if np.any(high <= low):
            indices = np.sort(rng.permutation(num_video_frames)[:num_segments])
        else:
            indices = rng.integers(low, high)
    if num_segments < num_frames:
        indices = np.concatenate([indices, np.full(num_frames - num_segments, indices[-1])])
    return indices.astype(np.int64)


def available_video_backends() -> list[str]:
    """The decoders that can be imported here, in order of preference."""
    modules = {"decord": "decord", "pyav": "av"}
    available = []
    for backend in VIDEO_BACKENDS:
        try:
            importlib.import_module(modules[backend])
        except ImportError:
            continue
        available.append(backend)
    return available


def resolve_video_backend(backend: str | None = None, *, for_training: bool = False) -> str:
    """
    Returns `backend` after checking it can be used, or the preferred available one: decord (the reference's reader),
    then PyAV; for training clips PyAV first, since it decodes only the frames the randomly sampled ones depend on
    (both give identical full-resolution frames).
    """
    if backend is not None and backend not in VIDEO_BACKENDS:
        raise ValueError(f"video backend must be one of {VIDEO_BACKENDS} (or None for automatic), got {backend!r}.")
    available = available_video_backends()
    if backend is None:
        if not available:
            raise ImportError("Reading video files needs `decord` or PyAV: `pip install decord` or `pip install av`.")
        if for_training and "pyav" in available:
            return "pyav"
        return available[0]
    if backend not in available:
        package = "decord" if backend == "decord" else "av"
        raise ImportError(f"The {backend!r} video backend is not installed: `pip install {package}`.")
    return backend


def _check_clip_window(clip_window: Sequence[float] | None, path: str) -> tuple[float, float] | None:
    if clip_window is None:
        return None
    if len(clip_window) != 2:
        raise ValueError(f"clip_window for {path} must be (start_seconds, end_seconds), got {clip_window!r}.")
    start, end = float(clip_window[0]), float(clip_window[1])
    if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end <= start:
        raise ValueError(f"clip_window for {path} must satisfy 0 <= start < end (seconds), got {clip_window!r}.")
    return start, end


def _check_decode_size(decode_size: Any) -> tuple[int, int] | None:
    if decode_size is None:
        return None
    if isinstance(decode_size, (dict, SizeDict)):
        decode_size = (decode_size["height"], decode_size["width"])
    if len(decode_size) != 2 or any(int(side) < 1 for side in decode_size):
        raise ValueError(f"decode_size must be (height, width) with positive sides, got {decode_size!r}.")
    return int(decode_size[0]), int(decode_size[1])


def _window_indices(
    path: str,
    num_video_frames: int,
    fps: float | None,
    num_frames: int,
    sampling: str,
    clip_window: tuple[float, float] | None,
    rng: np.random.Generator | None,
) -> np.ndarray:
    """Indices into the whole video of the frames sampled from `clip_window` (the whole video when it is None)."""
    if num_video_frames < 1:
        raise ValueError(f"The video {path} has no frames.")
    first, stop = 0, num_video_frames
    if clip_window is not None:
        if not fps or fps <= 0:
            raise ValueError(f"Cannot locate the clip window {clip_window} in {path}: its frame rate is unknown.")
        # frames whose timestamps fall in [start, end); the small slack absorbs float error in `seconds * fps`
        first = math.ceil(clip_window[0] * fps - 1e-6)
        stop = min(num_video_frames, math.ceil(clip_window[1] * fps - 1e-6))
        if first >= num_video_frames:
            raise ValueError(
                f"The clip window {clip_window} starts after the end of {path} "
                f"({num_video_frames} frames, {num_video_frames / fps:.3f} s)."
            )
        stop = max(stop, first + 1)  # a window shorter than one frame reads the frame at its start
    return first + sample_frame_indices(stop - first, num_frames, sampling, rng)


def _short_error(error: Exception) -> str:
    message = " ".join(str(error).split())
    return message if len(message) <= 600 else message[:600] + " ..."


def _read_with_decord(
    path: str,
    num_frames: int,
    sampling: str,
    clip_window: tuple[float, float] | None,
    rng: np.random.Generator | None,
    decode_size: tuple[int, int] | None,
) -> np.ndarray:
    decord = importlib.import_module("decord")
    size_kwargs = {} if decode_size is None else {"height": decode_size[0], "width": decode_size[1]}
    try:
        reader = decord.VideoReader(path, num_threads=1, **size_kwargs)
    except Exception as error:
        raise ValueError(f"Could not read the video file {path} with decord: {_short_error(error)}") from error
    indices = _window_indices(path, len(reader), reader.get_avg_fps(), num_frames, sampling, clip_window, rng)
    try:
        frames = reader.get_batch(indices.tolist())
    except Exception as error:
        if decode_size is not None and "pyav" in available_video_backends():
            # decord fails to scale to a few small widths (8, 12, 16, 24, 48, 72 ...); PyAV scales to any size
            logger.warning_once(
                f"decord could not decode at {decode_size[0]}x{decode_size[1]} ({_short_error(error)[:120]}); "
                "using PyAV for videos it fails on at this size."
            )
            return _read_with_pyav(path, num_frames, sampling, clip_window, rng, decode_size)
        raise ValueError(
            f"decord could not decode frames {indices.tolist()} of {path}: {_short_error(error)}"
        ) from error
    # decord returns its own NDArray, or a torch tensor when its bridge was switched to torch elsewhere
    frames = frames.asnumpy() if hasattr(frames, "asnumpy") else np.asarray(frames)
    return np.ascontiguousarray(frames)


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


def _open_with_pyav(av: Any, path: str) -> tuple[Any, Any]:
    """The container and its first video stream, set to decode on one thread (as the reference's decord reader)."""
    try:
        container = av.open(path)
    except Exception as error:
        raise ValueError(f"Could not read the video file {path} with PyAV: {_short_error(error)}") from error
    if not container.streams.video:
        container.close()
        raise ValueError(f"The file {path} has no video stream.")
    stream = container.streams.video[0]
    # One thread: besides matching the reference, this makes libavcodec decode each packet while it is sent, so the
    # `skip_frame` set for a packet applies to that packet (frame threading would apply it to a later one).
    stream.codec_context.thread_count = 1
    return container, stream


def _h264_nal_length_size(extradata: bytes | None) -> int | None:
    """The size of the NAL unit length prefixes of an H.264 stream stored as avcC (MP4, Matroska); None for Annex B."""
    if extradata is not None and len(extradata) >= 7 and extradata[0] == 1:
        return (extradata[4] & 3) + 1
    return None


def _h264_starts_with_idr(data: bytes, nal_length_size: int | None) -> bool:
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


# Decoders `_decode_pyav_skipping` may tell to skip frames: those whose `skip_frame` handling is known to leave every
# decoded frame bit-identical when it drops non-reference frames ("NONREF") and every picture before an IDR frame that
# nothing decoded later refers to ("ALL"): libavcodec's H.264 decoder (checked by tests/test_video_processing.py).
_PYAV_SKIPPING_CODECS = ("h264",)


class _PacketInfo(NamedTuple):
    pts: int | None
    dts: int | None
    starts_closed_group: bool  # an IDR frame: no later frame refers to an earlier one
    usable: bool  # not flagged corrupt or to discard by the demuxer


def _scan_pyav_packets(
    container: Any, stream: Any, is_past_needed: Callable[[list[_PacketInfo]], bool]
) -> list[_PacketInfo]:
    """The packets demuxed from the current position, in decoding order (their data is not kept), until
    `is_past_needed` says no later packet holds a wanted frame, or the end of the file."""
    nal_length_size = _h264_nal_length_size(stream.codec_context.extradata)
    check_idr = stream.codec_context.name == "h264"
    infos: list[_PacketInfo] = []
    for packet in container.demux(stream):
        if packet.size == 0:
            continue
        closed = check_idr and packet.is_keyframe and _h264_starts_with_idr(bytes(packet), nal_length_size)
        infos.append(_PacketInfo(packet.pts, packet.dts, closed, not (packet.is_corrupt or packet.is_discard)))
        if is_past_needed(infos):
            break
    return infos


def _timestamps_are_regular(infos: list[_PacketInfo], scan_stopped_by_dts: bool) -> bool:
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


def _pyav_skip_plan(wanted: list[bool], starts_closed_group: list[bool]) -> list[str]:
    """
    The `skip_frame` setting for each packet (decoding order) up to the last wanted one: `"DEFAULT"` (decode) for a
    wanted frame; `"NONREF"` (decode it only if other frames may refer to it) for a frame that a later wanted frame of
    the same closed group (from an IDR frame to the next) may need; `"ALL"` (decode no picture; parameter sets are
    still read) for a frame after the last wanted one of its group, since the next group starts afresh.
    """
    last = max(position for position, is_wanted in enumerate(wanted) if is_wanted)
    plan, needed = [], False
    for position in range(last, -1, -1):
        plan.append("DEFAULT" if wanted[position] else "NONREF" if needed else "ALL")
        needed = (needed or wanted[position]) and not starts_closed_group[position]
    return plan[::-1]


def _decode_pyav_skipping(
    container: Any,
    stream: Any,
    indices: np.ndarray,
    scanned: list[_PacketInfo] | None,
    index_of_pts: Callable[[int], int] | None,
    seek_target: int | None,
    convert: Callable[[Any], np.ndarray],
) -> dict[int, np.ndarray] | None:
    """
    Decodes only what the wanted frames need (see `_pyav_skip_plan`); the frames it returns are bit-identical to those
    of a full decode, since no decoded frame refers to a skipped one. Frames are numbered by the rank of their
    presentation timestamp from the start of the file (`scanned`: the packets of the whole file, already scanned to
    count them), which is the order a full decode outputs them in, or by `index_of_pts` after seeking to
    `seek_target`, as `_decode_pyav_every_frame` does. The packets are scanned first (timestamps, IDR frames), up to
    the last one that can hold a wanted frame, then demuxed again and decoded.

    Returns None, having demuxed part of the file, when the timestamps do not allow this (missing, repeated, packets
    flagged corrupt or to discard, a wanted frame without a packet) or when a wanted frame did not come out.
    """
    wanted = set(indices.tolist())
    last_wanted = max(wanted)
    if seek_target is not None:
        container.seek(seek_target, stream=stream, backward=True, any_frame=False)

        def is_past_needed(infos: list[_PacketInfo]) -> bool:
            # every later packet is shown at or after this one's decoding time
            return infos[-1].dts is None or index_of_pts(infos[-1].dts) > last_wanted

        infos = _scan_pyav_packets(container, stream, is_past_needed)
        if not _timestamps_are_regular(infos, scan_stopped_by_dts=True):
            return None
        numbered = {info.pts: index_of_pts(info.pts) for info in infos}
        if len(set(numbered.values())) < len(numbered):
            return None
    else:
        scan_stopped_by_dts = scanned is None  # otherwise the whole file was scanned to count its frames
        if scanned is None:
            sorted_pts: list[int] = []

            def is_past_needed(infos: list[_PacketInfo]) -> bool:
                pts, dts = infos[-1].pts, infos[-1].dts
                if pts is None or dts is None:
                    return True
                bisect.insort(sorted_pts, pts)  # every later packet is shown at or after this one's decoding time
                return len(sorted_pts) > last_wanted and dts > sorted_pts[last_wanted]

            scanned = _scan_pyav_packets(container, stream, is_past_needed)
        infos = scanned
        if not _timestamps_are_regular(infos, scan_stopped_by_dts):
            return None
        numbered = {pts: rank for rank, pts in enumerate(sorted(info.pts for info in infos))}
    wanted_pts = {pts: index for pts, index in numbered.items() if index in wanted}
    if set(wanted_pts.values()) != wanted:
        return None
    plan = _pyav_skip_plan([info.pts in wanted_pts for info in infos], [info.starts_closed_group for info in infos])
    # demux again from where the scan started (seeking flushes the decoder)
    container.seek(0 if seek_target is None else seek_target, stream=stream, backward=True, any_frame=False)
    codec_context = stream.codec_context
    decoded: dict[int, np.ndarray] = {}

    def keep(frames: list[Any]) -> None:
        for frame in frames:
            index = wanted_pts.get(frame.pts)
            if index is not None:
                decoded[index] = convert(frame)

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
    return decoded if set(decoded) == wanted else None


def _decode_pyav_every_frame(
    container: Any,
    stream: Any,
    indices: np.ndarray,
    index_of_pts: Callable[[int], int] | None,
    seek_target: int | None,
    convert: Callable[[Any], np.ndarray],
    path: str,
) -> dict[int, np.ndarray]:
    """Decodes every frame up to the last wanted one: from the start of the file (frames numbered in output order), or
    from the key frame before `seek_target` (frames numbered by `index_of_pts`)."""
    wanted = set(indices.tolist())
    last_wanted = max(wanted)
    decoded: dict[int, np.ndarray] = {}
    if seek_target is not None:
        container.seek(seek_target, stream=stream, backward=True, any_frame=False)
        for frame in container.decode(stream):
            if frame.pts is None:
                raise ValueError(f"PyAV cannot seek in {path}: its frames have no timestamps.")
            index = index_of_pts(frame.pts)
            if index in wanted:
                decoded[index] = convert(frame)
            if index >= last_wanted:
                break
    else:
        for index, frame in enumerate(container.decode(stream)):
            if index in wanted:
                decoded[index] = convert(frame)
            if index >= last_wanted:
                break
    return decoded


def _read_with_pyav(
    path: str,
    num_frames: int,
    sampling: str,
    clip_window: tuple[float, float] | None,
    rng: np.random.Generator | None,
    decode_size: tuple[int, int] | None,
) -> np.ndarray:
    av = importlib.import_module("av")
    reformatter = _pyav_reformatter()

    def convert(frame: Any) -> np.ndarray:
        return _pyav_frame_to_array(frame, reformatter, decode_size)

    container, stream = _open_with_pyav(av, path)
    with container:
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else None
        skipping = stream.codec_context.name in _PYAV_SKIPPING_CODECS
        num_video_frames = stream.frames
        scanned = None
        if num_video_frames <= 0:
            # containers without a frame count (e.g. Matroska): count the packets, as decord does
            try:
                scanned = _scan_pyav_packets(container, stream, lambda infos: False)
            except av.FFmpegError as error:
                raise ValueError(f"PyAV could not read {path}: {_short_error(error)}") from error
            num_video_frames = len(scanned)
        indices = _window_indices(path, num_video_frames, fps, num_frames, sampling, clip_window, rng)
        start_pts = stream.start_time or 0
        time_base = stream.time_base

        def index_of_pts(pts: int) -> int:
            return round(float((pts - start_pts) * time_base) * fps)

        seek_target = None
        if (
            clip_window is not None
            and fps is not None
            and time_base is not None
            and int(indices.min()) > _PYAV_SEEK_AFTER_SECONDS * fps
        ):
            # jump to the key frame before the window and number the frames by their timestamps
            seek_target = start_pts + int(int(indices.min()) / fps / time_base)
        decoded = None
        if skipping:
            try:
                decoded = _decode_pyav_skipping(
                    container, stream, indices, scanned, index_of_pts, seek_target, convert
                )
            except av.FFmpegError:
                decoded = None  # decoding every frame below reports the error if it was not due to skipping
        elif scanned is None or seek_target is not None:
            try:
                decoded = _decode_pyav_every_frame(
                    container, stream, indices, index_of_pts, seek_target, convert, path
                )
            except av.FFmpegError as error:
                raise ValueError(f"PyAV could not decode {path}: {_short_error(error)}") from error
    if decoded is None:
        # skipping was not possible, or the file was demuxed already: decode every frame, reading the file afresh
        container, stream = _open_with_pyav(av, path)
        with container:
            try:
                decoded = _decode_pyav_every_frame(
                    container, stream, indices, index_of_pts, seek_target, convert, path
                )
            except av.FFmpegError as error:
                raise ValueError(f"PyAV could not decode {path}: {_short_error(error)}") from error
    if not decoded:
        raise ValueError(f"PyAV decoded no frames from {path}.")
    wanted = set(indices.tolist())
    missing = sorted(wanted.difference(decoded))
    if missing:
        logger.warning(
            f"{path}: frames {missing} could not be decoded (the file declares {num_video_frames}); using the "
            "nearest earlier decoded frame instead."
        )
        available = sorted(decoded)
        for index in missing:
            earlier = [i for i in available if i <= index]
            decoded[index] = decoded[earlier[-1] if earlier else available[0]]
    return np.stack([decoded[int(index)] for index in indices])


def read_video_frames(
    path: str,
    num_frames: int = 8,
    sampling: str = "middle",
    clip_window: tuple[float, float] | None = None,
    backend: str | None = None,
    rng: np.random.Generator | None = None,
    decode_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """
    Decodes the `num_frames` frames of a video file that [`sample_frame_indices`] picks, and nothing else.

    Args:
        path (`str`): the video file.
        num_frames (`int`, defaults to 8): frames to return.
        sampling (`str`, defaults to `"middle"`): `"middle"` or `"rand"`, see [`sample_frame_indices`].
        clip_window (`(float, float)`, *optional*): `(start, end)` in seconds: sample only frames whose timestamps lie
            in `[start, end)`, e.g. an InternVid clip of a long YouTube video, without cutting the file. An end past
            the end of the video is clamped to it.
        backend (`str`, *optional*): `"decord"` (the reference's reader, one thread) or `"pyav"` (one thread; for
            H.264 it skips decoding the frames no sampled frame depends on, which leaves the sampled frames
            bit-identical); by default decord when it is installed, else PyAV. At full resolution both return the same
            frames of ordinary MP4 files (decord differs on open-GOP H.264, where after seeking it can return the
            next frame instead, and on MPEG-TS, where it numbers frames differently).
        rng (`np.random.Generator`, *optional*): randomness for `sampling="rand"`.
        decode_size (`(int, int)`, *optional*): `(height, width)` to scale frames to while decoding (bilinear, by
            FFmpeg), which is cheaper than decoding at full resolution and resizing. Leave it unset to keep the
            reference's evaluation numerics (full-resolution decode, then resize).

    Returns:
        `np.ndarray` of `uint8`, shape `(num_frames, height, width, 3)`, RGB.

    Raises:
        `FileNotFoundError` if `path` does not exist; `ValueError` if it cannot be decoded (naming the file and the
        decoder's message), has no video stream or no frames, or if `clip_window` lies outside the video.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Video file not found: {path}")
    clip_window = _check_clip_window(clip_window, path)
    decode_size = _check_decode_size(decode_size)
    backend = resolve_video_backend(backend)
    read = _read_with_decord if backend == "decord" else _read_with_pyav
    return read(path, int(num_frames), sampling, clip_window, rng, decode_size)


def _is_path(value: Any) -> bool:
    return isinstance(value, (str, os.PathLike))


def _is_array(value: Any) -> bool:
    return isinstance(value, (np.ndarray, torch.Tensor))


def _is_frame(value: Any) -> bool:
    return isinstance(value, Image.Image) or (_is_array(value) and value.ndim in (2, 3))


def _is_frame_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(_is_frame(frame) for frame in value)


def _split_videos(videos: Any) -> list[Any]:
    """
    Splits the `videos` argument into a list of videos. A video is a file path, an array or tensor `[T, H, W, C]` /
    `[T, C, H, W]`, or a list of frames (PIL images or arrays `[H, W, C]` / `[C, H, W]` / `[H, W]`); a single frame is
    a one-frame video; a 5-D array is a batch.
    """
    if _is_path(videos):
        return [videos]
    if _is_array(videos):
        if videos.ndim == 5:
            return list(videos)
        if videos.ndim == 4:
            return [videos]
        if videos.ndim in (2, 3):
            return [[videos]]
        raise ValueError(
            f"A video array must have 4 dimensions [frames, height, width, channels] (or 5 for a batch), got shape "
            f"{tuple(videos.shape)}."
        )
    if isinstance(videos, Image.Image):
        return [[videos]]
    if isinstance(videos, (list, tuple)):
        if len(videos) == 0:
            raise ValueError("`videos` is empty.")
        if _is_frame_list(videos):
            return [list(videos)]
        batch = []
        for position, video in enumerate(videos):
            if _is_path(video) or (_is_array(video) and video.ndim == 4):
                batch.append(video)
            elif _is_frame_list(video):
                batch.append(list(video))
            elif _is_frame(video):
                raise ValueError(
                    f"videos[{position}] is a single frame in a batch of videos; pass it as a one-frame video "
                    "(`[frame]`) or pass all frames of one video as a flat list."
                )
            else:
                described = f"array of shape {tuple(video.shape)}" if _is_array(video) else type(video).__name__
                raise TypeError(
                    f"videos[{position}] is a {described}; expected a file path, an array [frames, height, width, "
                    "channels] or a list of frames (PIL images or arrays)."
                )
        return batch
    raise TypeError(
        f"Unsupported video input of type {type(videos).__name__}: pass a file path, an array [frames, height, width, "
        "channels], a list of frames, or a list of those."
    )


def _frame_to_tensor(frame: Any, where: str) -> torch.Tensor:
    """One frame as a `[3, H, W]` tensor (grayscale repeated, alpha dropped), its dtype kept."""
    if isinstance(frame, Image.Image):
        return torch.from_numpy(np.array(frame.convert("RGB"))).permute(2, 0, 1)
    tensor = torch.from_numpy(np.ascontiguousarray(frame)) if isinstance(frame, np.ndarray) else frame
    if tensor.ndim == 2:
        tensor = tensor.unsqueeze(0)
    elif tensor.shape[-1] in (1, 3, 4) and tensor.shape[0] not in (1, 3, 4):
        tensor = tensor.permute(2, 0, 1)
    elif tensor.shape[0] not in (1, 3, 4):
        raise ValueError(
            f"{where}: cannot find the channel axis of a frame of shape {tuple(tensor.shape)}; use [height, width, "
            "channels] or [channels, height, width] with 1, 3 or 4 channels."
        )
    return _to_three_channels(tensor, where)


def _to_three_channels(tensor: torch.Tensor, where: str) -> torch.Tensor:
    """`[..., C, H, W]` with C in (1, 3, 4) -> `[..., 3, H, W]`."""
    channels = tensor.shape[-3]
    if channels == 1:
        return tensor.expand(*tensor.shape[:-3], 3, *tensor.shape[-2:]).contiguous()
    if channels == 4:
        return tensor[..., :3, :, :]
    if channels == 3:
        return tensor
    raise ValueError(f"{where}: frames must have 1, 3 or 4 channels, got {channels} (shape {tuple(tensor.shape)}).")


def _video_array_to_tensor(video: np.ndarray | torch.Tensor, where: str, channels_first: bool | None) -> torch.Tensor:
    """A `[T, H, W, C]` or `[T, C, H, W]` array as a `[T, 3, H, W]` tensor."""
    tensor = torch.from_numpy(np.ascontiguousarray(video)) if isinstance(video, np.ndarray) else video
    if channels_first is None:
        if tensor.shape[-1] in (1, 3, 4):
            channels_first = False
        elif tensor.shape[1] in (1, 3, 4):
            channels_first = True
        else:
            raise ValueError(
                f"{where}: cannot find the channel axis of a video of shape {tuple(tensor.shape)}; use [frames, "
                "height, width, channels] or [frames, channels, height, width], or pass `input_data_format`."
            )
    if not channels_first:
        tensor = tensor.permute(0, 3, 1, 2)
    return _to_three_channels(tensor, where)


class ViCLIPVideoProcessorKwargs(VideosKwargs, total=False):
    r"""
    sampling (`str`, *optional*, defaults to `self.sampling`):
        `"middle"` (reference evaluation) or `"rand"` (reference training) segment sampling of `num_frames` frames.
    clip_windows (`(float, float)` or list of those, *optional*):
        `(start, end)` in seconds per video file (one pair for all, or one per video, `None` for the whole video):
        frames are sampled from that window only.
    video_backend (`str`, *optional*, defaults to `self.video_backend`):
        `"decord"` or `"pyav"` for file inputs; `None` picks decord when installed, else PyAV.
    decode_size (`dict[str, int]` or `(int, int)`, *optional*, defaults to `self.decode_size`):
        `(height, width)` at which to decode files, cheaper than a full-resolution decode. Unset by default, which
        keeps the reference numerics; a training pipeline may set it (see `bench/bench_video.py`).
    do_train_augmentation (`bool`, *optional*, defaults to `self.do_train_augmentation`):
        Replace the resize with the reference training transform: RandomResizedCrop to `size` (scale 0.5-1, ratio
        3/4-4/3, bicubic) and a horizontal flip with probability 0.5, the same for every frame of a clip.
    do_train_flip (`bool`, *optional*, defaults to `self.do_train_flip`):
        Whether the training transform flips; turn it off for direction-sensitive data (Something-Something, left
        versus right). The random draw is made either way, so the crops do not change.
    rng (`np.random.Generator`, *optional*):
        Randomness for `sampling="rand"` and the training augmentation; by default drawn from torch's global generator.
    """

    sampling: str | None
    clip_windows: tuple | list | None
    video_backend: str | None
    decode_size: dict[str, int] | tuple[int, int] | list[int] | None
    do_train_augmentation: bool | None
    do_train_flip: bool | None
    rng: np.random.Generator | None


class ViCLIPVideoProcessor(BaseVideoProcessor):
    r"""
    Turns videos into the `pixel_values` of ViCLIP, `[batch, frames, 3, height, width]` float32.

    Inputs, alone or in a list (a batch may mix them, with any lengths and resolutions): video file paths (decoded with
    decord, or PyAV where decord is missing or `video_backend="pyav"`), arrays or tensors `[T, H, W, C]` or
    `[T, C, H, W]`, lists of frames (PIL images or arrays). Grayscale frames are repeated to RGB, alpha is dropped.

    With the defaults this is the reference evaluation transform: `num_frames=8` frames sampled at the middle of equal
    segments (`sampling="middle"`; arrays and frame lists are sampled the same way, unless `do_sample_frames=False`),
    each frame resized to `size` (224x224) bicubic with antialiasing on uint8 values, divided by 255 and normalised
    with the ImageNet mean and std (not the CLIP constants). `do_train_augmentation=True` gives the training
    transform, `sampling="rand"` the training frame sampling.

    Example:

    ```python
    >>> from viclip import ViCLIPVideoProcessor
    >>> processor = ViCLIPVideoProcessor()
    >>> inputs = processor("video.mp4", clip_windows=(12.0, 20.5))  # doctest: +SKIP
    >>> inputs["pixel_values"].shape  # doctest: +SKIP
    torch.Size([1, 8, 3, 224, 224])
    ```
    """

    resample = PILImageResampling.BICUBIC
    image_mean = IMAGENET_DEFAULT_MEAN
    image_std = IMAGENET_DEFAULT_STD
    size = {"height": 224, "width": 224}
    default_to_square = True
    do_resize = True
    do_center_crop = False
    do_rescale = True
    rescale_factor = 1 / 255
    do_normalize = True
    do_convert_rgb = True
    do_sample_frames = True
    num_frames = 8
    sampling = "middle"
    video_backend = None
    decode_size = None
    do_train_augmentation = False
    do_train_flip = True
    valid_kwargs = ViCLIPVideoProcessorKwargs
    model_input_names = ["pixel_values"]

    # Per-call arguments: never stored in the saved configuration.
    _call_only_kwargs = ("clip_windows", "rng", "return_tensors", "device")
    # Keys of `VideosKwargs` this processor does not implement; setting them raises instead of being ignored.
    _unsupported_kwargs = ("fps", "do_center_crop", "crop_size", "do_pad", "return_metadata", "video_metadata")

    def __init__(self, **kwargs: Unpack[ViCLIPVideoProcessorKwargs]):
        for name in self._call_only_kwargs:
            if kwargs.get(name) is not None:
                raise ValueError(f"`{name}` is an argument of each call of {type(self).__name__}, not a setting.")
        super().__init__(**kwargs)
        self._check_settings(self.sampling, self.video_backend, self.decode_size, self.size, self.do_convert_rgb)

    def _check_settings(
        self, sampling: str, video_backend: str | None, decode_size: Any, size: SizeDict, do_convert_rgb: bool
    ) -> None:
        if not do_convert_rgb:
            raise ValueError(
                "ViCLIP needs RGB frames: grayscale and RGBA inputs are always converted; keep do_convert_rgb=True."
            )
        if sampling not in SAMPLING_MODES:
            raise ValueError(f"sampling must be one of {SAMPLING_MODES}, got {sampling!r}.")
        if video_backend is not None and video_backend not in VIDEO_BACKENDS:
            raise ValueError(f"video_backend must be one of {VIDEO_BACKENDS} or None, got {video_backend!r}.")
        _check_decode_size(decode_size)
        if size is None or size.height is None or size.width is None:
            raise ValueError(
                f"size must give the output height and width, e.g. {{'height': 224, 'width': 224}}; got {size}."
            )

    def to_dict(self) -> dict[str, Any]:
        """The saved configuration, without per-call arguments."""
        output = super().to_dict()
        for name in self._call_only_kwargs:
            output.pop(name, None)
        return output

    def sample_frames(
        self,
        metadata: Any,
        num_frames: int | None = None,
        sampling: str | None = None,
        rng: np.random.Generator | None = None,
        **kwargs,
    ) -> np.ndarray:
        """
        The frame indices this processor reads from a video of `metadata.total_num_frames` frames (see
        [`sample_frame_indices`]).
        """
        total = metadata["total_num_frames"] if isinstance(metadata, dict) else metadata.total_num_frames
        return sample_frame_indices(
            total, num_frames if num_frames is not None else self.num_frames, sampling or self.sampling, rng
        )

    def preprocess(self, videos: Any, **kwargs: Unpack[ViCLIPVideoProcessorKwargs]) -> BatchFeature:
        """
        Samples, decodes, resizes (or augments) and normalises `videos`; see the class docstring for the inputs.

        Returns:
            [`BatchFeature`] with `pixel_values` of shape `[batch, num_frames, 3, height, width]` (float32; a torch
            tensor unless `return_tensors="np"`).
        """
        rng = kwargs.pop("rng", None)  # a generator must be advanced, not copied or validated as a setting
        return_tensors = kwargs.pop("return_tensors", "pt")
        unknown = set(kwargs).difference(self.valid_kwargs.__annotations__)
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unexpected arguments {sorted(unknown)}; valid ones are "
                f"{sorted(self.valid_kwargs.__annotations__)}."
            )
        validate_typed_dict(self.valid_kwargs, kwargs)
        for name in self._unsupported_kwargs:
            if kwargs.get(name):
                raise ValueError(f"{type(self).__name__} does not support `{name}`.")
        if str(getattr(kwargs.get("data_format"), "value", kwargs.get("data_format"))) not in (
            "None",
            "channels_first",
        ):
            raise ValueError(f"{type(self).__name__} only returns channels-first frames; drop `data_format`.")
        for name in self.valid_kwargs.__annotations__:  # unset or None: this processor's setting
            if name not in ("rng", "return_tensors") and kwargs.get(name) is None:
                kwargs[name] = getattr(self, name, None)
        size = kwargs["size"]
        if size is not None and not isinstance(size, SizeDict):
            size = self._standardize_kwargs(size=size, default_to_square=True)["size"]
        self._check_settings(
            kwargs["sampling"], kwargs["video_backend"], kwargs["decode_size"], size, kwargs["do_convert_rgb"]
        )
        if rng is None and (kwargs["sampling"] == "rand" or kwargs["do_train_augmentation"]):
            rng = _default_rng()

        batch = _split_videos(videos)
        windows = self._clip_windows_per_video(kwargs["clip_windows"], batch)
        input_format = kwargs["input_data_format"]
        channels_first = (
            None if input_format is None else str(getattr(input_format, "value", input_format)) == "channels_first"
        )
        interpolation = self._interpolation(kwargs["resample"])
        mean = torch.tensor(kwargs["image_mean"], dtype=torch.float32).reshape(-1, 1, 1)
        std = torch.tensor(kwargs["image_std"], dtype=torch.float32).reshape(-1, 1, 1)

        processed = []
        for position, (video, window) in enumerate(zip(batch, windows, strict=True)):
            where = f"videos[{position}]" if len(batch) > 1 else "the video"
            frames = self._load_frames(video, window, where, channels_first, rng, kwargs)
            if kwargs["device"] is not None:
                frames = frames.to(kwargs["device"])
            if kwargs["do_train_augmentation"]:
                frames = self._random_resized_crop_and_flip(frames, size, interpolation, rng, kwargs["do_train_flip"])
            elif kwargs["do_resize"]:
                # torchvision's v1 resize, exactly as the reference's `transforms.Resize` (uint8 -> float -> round)
                frames = tv_functional.resize(frames, [size.height, size.width], interpolation, antialias=True)
            processed.append(frames)

        shapes = {tuple(frames.shape) for frames in processed}
        if len(shapes) > 1:
            raise ValueError(
                f"The processed videos have different shapes {sorted(shapes)} and cannot be batched; keep "
                "`do_sample_frames=True` (same frame count) and `do_resize=True` (same frame size)."
            )
        # One float32 batch, converted into and then rescaled and normalised in place: the same arithmetic as the
        # reference's out-of-place ops, without a fresh frame-sized allocation per step (each costs more than the op).
        batch_shape = (len(processed), *processed[0].shape)
        pixel_values = torch.empty(batch_shape, dtype=torch.float32, device=processed[0].device)
        for position, frames in enumerate(processed):
            pixel_values[position].copy_(frames)
        if kwargs["do_rescale"]:
            self._rescale_(pixel_values, kwargs["rescale_factor"])
        if kwargs["do_normalize"]:
            pixel_values.sub_(mean.to(pixel_values.device)).div_(std.to(pixel_values.device))
        return BatchFeature(data={"pixel_values": pixel_values}, tensor_type=return_tensors)

    @staticmethod
    def _interpolation(resample: Any) -> InterpolationMode:
        if isinstance(resample, InterpolationMode):
            return resample
        try:
            return _TO_INTERPOLATION[PILImageResampling(resample)]
        except (ValueError, KeyError) as error:
            raise ValueError(f"Unsupported resample {resample!r}.") from error

    @staticmethod
    def _rescale_(frames: torch.Tensor, rescale_factor: float) -> None:
        # The reference divides by 255; x / 255 and x * (1 / 255) can differ in the last bit, so divide when the
        # factor is the inverse of an integer.
        divisor = 1.0 / rescale_factor
        if abs(divisor - round(divisor)) < 1e-6:
            frames.div_(float(round(divisor)))
        else:
            frames.mul_(rescale_factor)

    @staticmethod
    def _clip_windows_per_video(clip_windows: Any, batch: list[Any]) -> list[tuple[float, float] | None]:
        if clip_windows is None:
            return [None] * len(batch)
        is_single_window = len(clip_windows) == 2 and all(isinstance(v, (int, float)) for v in clip_windows)
        windows = [tuple(clip_windows)] * len(batch) if is_single_window else list(clip_windows)
        if len(windows) != len(batch):
            raise ValueError(
                f"clip_windows has {len(windows)} entries for {len(batch)} videos; give one (start, end) per video "
                "(None for a whole video) or a single pair for all."
            )
        for position, (video, window) in enumerate(zip(batch, windows, strict=True)):
            if window is not None and not _is_path(video):
                raise ValueError(
                    f"clip_windows[{position}] is set but videos[{position}] is not a file; clip windows select "
                    "frames by time in a file. Slice the frames of an array yourself."
                )
        return windows

    def _load_frames(
        self,
        video: Any,
        window: tuple[float, float] | None,
        where: str,
        channels_first: bool | None,
        rng: np.random.Generator | None,
        kwargs: dict[str, Any],
    ) -> torch.Tensor:
        """The sampled frames of one video as a `[T, 3, H, W]` tensor (uint8 for files)."""
        num_frames, sampling = kwargs["num_frames"], kwargs["sampling"]
        if _is_path(video):
            if not kwargs["do_sample_frames"]:
                raise ValueError(
                    f"{where} is a file ({os.fspath(video)}): files are always read by sampling `num_frames` frames; "
                    "keep `do_sample_frames=True`."
                )
            frames = read_video_frames(
                video,
                num_frames=num_frames,
                sampling=sampling,
                clip_window=window,
                backend=kwargs["video_backend"],
                rng=rng,
                decode_size=kwargs["decode_size"],
            )
            return torch.from_numpy(frames).permute(0, 3, 1, 2)
        length = len(video)
        if length == 0:
            raise ValueError(f"{where} has no frames.")
        indices = (
            sample_frame_indices(length, num_frames, sampling, rng)
            if kwargs["do_sample_frames"]
            else np.arange(length)
        )
        if isinstance(video, list):
            frames = [_frame_to_tensor(video[index], f"{where}, frame {index}") for index in indices]
            sizes = {tuple(frame.shape[-2:]) for frame in frames}
            if len(sizes) > 1:
                raise ValueError(f"The frames of {where} have different sizes {sorted(sizes)}.")
            return torch.stack(frames)
        index = torch.from_numpy(indices) if isinstance(video, torch.Tensor) else indices
        return _video_array_to_tensor(video[index], where, channels_first)

    @staticmethod
    def _random_resized_crop_and_flip(
        frames: torch.Tensor, size: SizeDict, interpolation: InterpolationMode, rng: np.random.Generator, flip: bool
    ) -> torch.Tensor:
        """RandomResizedCrop (same box for all frames) to `size`, then, if `flip`, a horizontal flip with
        probability 0.5."""
        height, width = frames.shape[-2:]
        area = height * width
        log_ratio = (math.log(TRAIN_CROP_RATIO[0]), math.log(TRAIN_CROP_RATIO[1]))
        box = None
        for _ in range(10):
            target_area = area * rng.uniform(*TRAIN_CROP_SCALE)
            aspect_ratio = math.exp(rng.uniform(*log_ratio))
            crop_width = int(round(math.sqrt(target_area * aspect_ratio)))
            crop_height = int(round(math.sqrt(target_area / aspect_ratio)))
            if 0 < crop_width <= width and 0 < crop_height <= height:
                top = int(rng.integers(0, height - crop_height + 1))
                left = int(rng.integers(0, width - crop_width + 1))
                box = (top, left, crop_height, crop_width)
                break
        if box is None:  # fall back to a centred crop of the extreme allowed ratio, as torchvision does
            in_ratio = width / height
            if in_ratio < TRAIN_CROP_RATIO[0]:
                crop_width, crop_height = width, int(round(width / TRAIN_CROP_RATIO[0]))
            elif in_ratio > TRAIN_CROP_RATIO[1]:
                crop_width, crop_height = int(round(height * TRAIN_CROP_RATIO[1])), height
            else:
                crop_width, crop_height = width, height
            box = ((height - crop_height) // 2, (width - crop_width) // 2, crop_height, crop_width)
        # torchvision's v2 kernel resizes uint8 natively, several times faster than the float path the evaluation
        # resize keeps for reference parity; the two differ by rounding only (at most 2/255, 0.15/255 on average)
        frames = tv2_functional.resized_crop(frames, *box, [size.height, size.width], interpolation, antialias=True)
        if rng.random() < TRAIN_FLIP_PROBABILITY and flip:
            frames = frames.flip(-1)
        return frames


__all__ = [
    "ViCLIPVideoProcessor",
    "available_video_backends",
    "read_video_frames",
    "resolve_video_backend",
    "sample_frame_indices",
]
