# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Sliding windows of long videos and their embeddings.

- [`sliding_windows`] cuts a video into windows of `window_seconds` every `stride_seconds`; the last window is
  aligned to the end of the video (see its docstring), so every frame is covered and every window lasts as long.
- [`VideoWindowDataset`] reads each window through the video processor's clip-window path
  (`clip_windows=(start, end)`): the frames are sampled inside the window from the original file, nothing is cut or
  re-encoded. [`embed_window_batches`] decodes windows in DataLoader worker processes while the main one embeds them.
- [`embed_video_windows`] embeds one video: one L2-normalised embedding per window, with its start and end time.

The video duration is read with the decoder that reads the frames (PyAV or decord): frame count / average frame
rate, the time base [`read_video_frames`] locates clip windows with.
"""

import itertools
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F

from viclip.pipeline_viclip import embed_videos
from viclip.video_decoding_viclip import resolve_video_backend

from ..data.annotations import VIDEO_EXTENSIONS
from ..data.video_reading import video_duration


# Times are kept to the microsecond, so that `k * stride` does not drift (0.1 * 3 = 0.30000000000000004).
TIME_DECIMALS = 6
TIME_TOLERANCE = 1e-6


def check_window_settings(window_seconds: float, stride_seconds: float) -> None:
    """Raises a `ValueError` naming the setting when a window length or stride is not a positive number of seconds."""
    for name, value in (("window_seconds", window_seconds), ("stride_seconds", stride_seconds)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive number of seconds, got {value!r}.")


def sliding_windows(duration: float, window_seconds: float, stride_seconds: float) -> list[tuple[float, float]]:
    """
    The `(start, end)` windows, in seconds, of a video lasting `duration` seconds.

    Windows start at `0, stride, 2 * stride, ...` and last `window_seconds`, as long as they end within the video.
    When the last of them ends before the video does, one more window is **aligned to the end**:
    `(duration - window_seconds, duration)`. Every window therefore lasts exactly `window_seconds` (the model sees
    every moment at the same time scale: 8 frames over the same span) and the end of the video is never left out;
    the price is that the last window overlaps its neighbour more than the others do. A video shorter than one window
    gets the single window `(0, duration)`. A stride longer than the window leaves gaps between windows.

    Args:
        duration (`float`): length of the video in seconds (see [`video_duration`]).
        window_seconds (`float`): length of each window.
        stride_seconds (`float`): time between the starts of consecutive windows.

    Returns:
        `list[tuple[float, float]]`: the windows in time order, times rounded to the microsecond.

    Example:

    ```python
    >>> sliding_windows(10.0, 4.0, 2.0)
    [(0.0, 4.0), (2.0, 6.0), (4.0, 8.0), (6.0, 10.0)]
    >>> sliding_windows(9.0, 4.0, 2.0)  # the last window is aligned to the end
    [(0.0, 4.0), (2.0, 6.0), (4.0, 8.0), (5.0, 9.0)]
    ```
    """
    check_window_settings(window_seconds, stride_seconds)
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not math.isfinite(duration):
        raise ValueError(f"duration must be a finite number of seconds, got {duration!r}.")
    if duration <= 0:
        raise ValueError(f"A video of {duration} seconds has no window; the duration must be positive.")
    duration = round(float(duration), TIME_DECIMALS)
    if duration <= window_seconds + TIME_TOLERANCE:
        return [(0.0, duration)]
    windows = []
    for step in itertools.count():
        start = round(step * stride_seconds, TIME_DECIMALS)
        end = round(start + window_seconds, TIME_DECIMALS)
        if end > duration + TIME_TOLERANCE:
            break
        windows.append((start, end))
    if windows[-1][1] < duration - TIME_TOLERANCE:
        windows.append((round(duration - window_seconds, TIME_DECIMALS), duration))
    return windows


def list_videos(video_dir: str | os.PathLike) -> list[str]:
    """
    The video files under `video_dir` (sub-folders included; hidden files and folders left out), as sorted paths
    relative to it, `/`-separated. A file is a video when its extension is one of [`VIDEO_EXTENSIONS`].

    Raises:
        `FileNotFoundError` if `video_dir` is not a folder; `ValueError` if it holds no video file.
    """
    root = Path(video_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{video_dir} is not a folder; pass the folder that holds the videos to index.")
    videos = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        for name in files:
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS:
                videos.append((Path(folder) / name).relative_to(root).as_posix())
    if not videos:
        raise ValueError(f"No video file under {video_dir} (looked for {', '.join(VIDEO_EXTENSIONS)}).")
    return sorted(videos)


class VideoWindow(NamedTuple):
    """One window of one video file."""

    path: str
    start: float
    end: float


class VideoWindowDataset(torch.utils.data.Dataset):
    """
    Windows of video files, each read and preprocessed on access (inside the DataLoader workers).

    Item `i` is `{"position": i, "pixel_values": [num_frames, 3, H, W]}`, the video processor's output for
    `clip_windows=(start, end)` (frames sampled at the middle of `num_frames` equal segments of the window, the
    reference's evaluation transform), or `{"position": i, "error": message}` when the window cannot be read.

    Args:
        windows (sequence of [`VideoWindow`]): the windows.
        video_processor ([`ViCLIPVideoProcessor`]): reads and transforms the frames.
        num_frames (`int`, *optional*): frames per window; the video processor's `num_frames` by default.
        video_backend (`str`, *optional*): `"decord"` or `"pyav"`; by default the processor's choice.
    """

    def __init__(
        self,
        windows: Sequence[VideoWindow],
        video_processor: Any,
        num_frames: int | None = None,
        video_backend: str | None = None,
    ):
        self.windows = list(windows)
        self.video_processor = video_processor
        self.num_frames = num_frames
        self.video_backend = video_backend

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, position: int) -> dict[str, Any]:
        window = self.windows[position]
        try:
            pixel_values = self.video_processor(
                window.path,
                clip_windows=(window.start, window.end),
                num_frames=self.num_frames,
                video_backend=self.video_backend,
                return_tensors="pt",
            )["pixel_values"][0]
        except (OSError, ValueError, RuntimeError) as error:
            return {"position": position, "error": " ".join(str(error).split())}
        return {"position": position, "pixel_values": pixel_values}


def _collate_windows(items: list[dict[str, Any]]) -> dict[str, Any]:
    kept = [item for item in items if "pixel_values" in item]
    return {
        "positions": [item["position"] for item in kept],
        "pixel_values": torch.stack([item["pixel_values"] for item in kept]) if kept else None,
        "failures": [(item["position"], item["error"]) for item in items if "error" in item],
    }


class VideoEmbedder:
    """
    Embeds windows with a [`ViCLIPModel`]: `pixel_values` `[batch, frames, 3, H, W]` -> L2-normalised `float32`
    embeddings `[batch, projection_dim]` on the CPU ([`~viclip.pipeline_viclip.embed_videos`]).

    The model is put in evaluation mode; inputs go to its device and dtype. A frame count or frame size other than the
    model's is embedded with `interpolate_pos_encoding=True`.
    """

    def __init__(self, model: torch.nn.Module):
        if not hasattr(model, "get_video_features"):
            raise TypeError(f"{type(model).__name__} has no get_video_features; load a ViCLIPModel (AutoModel).")
        self.model = model.eval()
        vision_config = model.config.vision_config
        self.native_shape = (vision_config.num_frames, vision_config.image_size, vision_config.image_size)

    @torch.inference_mode()
    def __call__(self, pixel_values: torch.Tensor) -> torch.Tensor:
        frames, height, width = pixel_values.shape[1], pixel_values.shape[-2], pixel_values.shape[-1]
        interpolate = (frames, height, width) != self.native_shape
        return embed_videos(self.model, pixel_values, interpolate_pos_encoding=interpolate).cpu()


class WindowBatch(NamedTuple):
    """One batch of windows, read and embedded."""

    positions: list[int]
    """Dataset positions of the embedded windows."""
    embeddings: torch.Tensor | None
    """`[len(positions), dim]`, L2-normalised, or None when nothing was embedded."""
    failures: list[tuple[int, str]]
    """Windows that could not be read: position and message."""
    dropped: list[int]
    """Windows read but not embedded, because `skip_position` said so."""
    model_seconds: float
    """Time spent in the embedding function."""


def embed_window_batches(
    dataset: VideoWindowDataset,
    embed_videos: Callable[[torch.Tensor], torch.Tensor],
    batch_size: int,
    num_workers: int,
    skip_position: Callable[[int], bool] | None = None,
) -> Iterator[WindowBatch]:
    """
    Decodes `dataset` in `num_workers` DataLoader worker processes (batches in order) while this process runs
    `embed_videos`, and yields a [`WindowBatch`] per batch. Windows for which `skip_position` is true when their
    batch arrives (e.g. of a video already known to be broken) are not embedded.
    """
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=_collate_windows,
        pin_memory=torch.cuda.is_available(),
    )
    for batch in loader:
        rows = [
            row for row, position in enumerate(batch["positions"]) if not skip_position or not skip_position(position)
        ]
        positions = [batch["positions"][row] for row in rows]
        dropped = sorted(set(batch["positions"]).difference(positions))
        embeddings, model_seconds = None, 0.0
        if positions:
            pixel_values = batch["pixel_values"]
            if len(rows) < len(batch["positions"]):
                pixel_values = pixel_values[rows]
            started = time.perf_counter()
            embeddings = embed_videos(pixel_values)
            if not isinstance(embeddings, torch.Tensor) or embeddings.ndim != 2 or len(embeddings) != len(rows):
                shape = tuple(embeddings.shape) if isinstance(embeddings, torch.Tensor) else type(embeddings).__name__
                raise ValueError(
                    f"embed_videos must return a tensor [batch, dim] for pixel_values {tuple(pixel_values.shape)}; "
                    f"got {shape}."
                )
            embeddings = F.normalize(embeddings.detach().float().cpu(), dim=-1)
            model_seconds = time.perf_counter() - started
        yield WindowBatch(positions, embeddings, batch["failures"], dropped, model_seconds)


@dataclass
class VideoWindows:
    """The window embeddings of one video."""

    embeddings: torch.Tensor
    """`[num_windows, dim]`, L2-normalised, `float32`."""
    starts: list[float]
    """Start of each window, seconds."""
    ends: list[float]
    """End of each window, seconds."""


def embed_video_windows(
    path: str | os.PathLike,
    embed_videos: Callable[[torch.Tensor], torch.Tensor],
    video_processor: Any,
    *,
    window_seconds: float = 8.0,
    stride_seconds: float = 4.0,
    num_frames: int | None = None,
    batch_size: int = 8,
    num_workers: int = 0,
    video_backend: str | None = None,
) -> VideoWindows:
    """
    Embeds a (long) video as sliding windows, one embedding per window.

    Args:
        path (`str` or `os.PathLike`): the video file.
        embed_videos (`Callable`): `pixel_values [batch, frames, 3, H, W] -> [batch, dim]`, e.g.
            `VideoEmbedder(model)` for a [`ViCLIPModel`]; the result is L2-normalised here.
        video_processor ([`ViCLIPVideoProcessor`]): reads each window with `clip_windows=(start, end)`, e.g.
            `processor.video_processor` of the model's [`ViCLIPProcessor`].
        window_seconds (`float`, defaults to 8.0), stride_seconds (`float`, defaults to 4.0): see [`sliding_windows`]
            (the last window is aligned to the end of the video).
        num_frames (`int`, *optional*): frames per window; the processor's `num_frames` by default (8 for the
            released checkpoints).
        batch_size (`int`, defaults to 8): windows per forward pass.
        num_workers (`int`, defaults to 0): DataLoader worker processes decoding windows while the model runs.
        video_backend (`str`, *optional*): `"decord"` or `"pyav"` (duration and frames are read with the same one).

    Returns:
        [`VideoWindows`]: embeddings `[num_windows, dim]` with the start and end time of each window.

    Raises:
        `FileNotFoundError` / `ValueError`: the file is missing or a window cannot be read (naming the file).
    """
    path = os.fspath(path)
    backend = resolve_video_backend(video_backend or getattr(video_processor, "video_backend", None))
    windows = sliding_windows(video_duration(path, backend), window_seconds, stride_seconds)
    dataset = VideoWindowDataset(
        [VideoWindow(path, start, end) for start, end in windows], video_processor, num_frames, backend
    )
    chunks = []
    for batch in embed_window_batches(dataset, embed_videos, batch_size, num_workers):
        if batch.failures:
            position, error = batch.failures[0]
            start, end = windows[position]
            raise ValueError(f"Could not read the window {start}-{end} s of {path}: {error}")
        chunks.append(batch.embeddings)
    return VideoWindows(
        embeddings=torch.cat(chunks), starts=[start for start, _ in windows], ends=[end for _, end in windows]
    )


__all__ = [
    "TIME_DECIMALS",
    "TIME_TOLERANCE",
    "VideoEmbedder",
    "VideoWindow",
    "VideoWindowDataset",
    "VideoWindows",
    "WindowBatch",
    "check_window_settings",
    "embed_video_windows",
    "embed_window_batches",
    "list_videos",
    "sliding_windows",
]
