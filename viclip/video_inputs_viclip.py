# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""What a call of ViCLIP's video processor may be given, checked and batched: one entry per video, frames that can be
an image's values, and one checked clip window per video file."""

from typing import Any

import numpy as np
import torch
from transformers.video_utils import is_valid_video, make_batched_videos

from .video_decoding_viclip import check_clip_window, is_video_source


def batch_of_videos(videos: Any) -> list[Any]:
    """The videos of a call, one entry each: files as they are, the rest as transformers' `make_batched_videos` has it."""
    if is_video_source(videos):
        return [videos]
    if not isinstance(videos, (list, tuple)) or is_valid_video(with_channel_axis(videos)):
        return make_batched_videos(with_channel_axis(videos))
    batch = []
    for position, video in enumerate(videos):
        try:
            batch += [video] if is_video_source(video) else make_batched_videos(with_channel_axis(video))
        except ValueError as error:
            raise TypeError(f"videos[{position}] is a {type(video).__name__}: not a video, array or frames") from error
    return batch


def checked_frames(video: torch.Tensor, name: str) -> torch.Tensor:
    """Frames `[T, C, H, W]`, integers as uint8 (resized as the reference resizes uint8). Refuses frames that cannot be
    an image's values: none, empty, bool, integers outside 0-255 or non-finite floats (normalising them would give
    numbers that look valid)."""
    if video.numel() == 0:
        raise ValueError(
            f"{name} has shape {tuple(video.shape)} (frames, channels, height, width): a video needs at least one frame "
            "of at least one pixel."
        )
    if video.dtype == torch.bool:
        raise ValueError(f"{name} holds bool frames (a mask, not an image): give uint8 frames (0-255) or floats.")
    if not video.is_floating_point() and video.dtype != torch.uint8:
        low, high = int(video.min()), int(video.max())
        if low < 0 or high > 255:
            raise ValueError(
                f"{name} is {video.dtype} with values from {low} to {high}, outside 0-255: give uint8 frames (0-255), "
                "or convert them yourself (e.g. 16-bit frames: `(frames >> 8).astype(np.uint8)`)."
            )
        return video.to(torch.uint8)
    if video.is_floating_point() and not bool(torch.isfinite(video).all()):
        count = int((~torch.isfinite(video)).sum())
        raise ValueError(
            f"{name} has {count} NaN or infinite values of {video.numel()}: frames must be finite numbers."
        )
    return video


def with_channel_axis(video: Any) -> Any:
    """Grayscale frames without a channel axis (`[H, W]` each) with one."""
    is_grayscale = isinstance(video, (list, tuple)) and video and all(getattr(f, "ndim", 0) == 2 for f in video)
    return [f[..., None] for f in video] if is_grayscale else video


def clip_window_per_video(clip_windows: Any, videos: list[Any]) -> list[tuple[float, float] | None]:
    """`clip_windows` (one pair for all the videos, or one per video: pairs or None) as one checked window per video."""
    if clip_windows is None:
        return [None] * len(videos)
    per_video = isinstance(clip_windows, (list, tuple)) and all(
        window is None or isinstance(window, (list, tuple, np.ndarray)) for window in clip_windows
    )
    windows = list(clip_windows) if per_video else [clip_windows] * len(videos)
    if len(windows) != len(videos):
        raise ValueError(f"clip_windows has {len(windows)} windows for {len(videos)} videos; give one per video.")
    for position, window in enumerate(windows):
        try:
            windows[position] = check_clip_window(window)
        except ValueError as error:
            raise ValueError(f"clip_windows{f'[{position}]' if per_video else ''}: {error}") from None
    if misplaced := [i for i, (v, w) in enumerate(zip(videos, windows, strict=True)) if w and not is_video_source(v)]:
        raise ValueError(f"clip_windows{misplaced} are set for videos that are not video files (arrays, frames).")
    return windows


__all__ = ["batch_of_videos", "checked_frames", "clip_window_per_video", "with_channel_axis"]
