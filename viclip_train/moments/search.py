# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Moment search in long videos: sliding-window embeddings, an on-disk index of them, and text queries.

- [`sliding_windows`] cuts a video into windows of `window_seconds` every `stride_seconds`; the last window is
  aligned to the end of the video (see its docstring), so every frame is covered and every window lasts as long.
- [`embed_video_windows`] embeds one video: one L2-normalised embedding per window, with its start and end time.
  Each window is read through the video processor's clip-window path (`clip_windows=(start, end)`): the frames are
  sampled inside the window from the original file, nothing is cut or re-encoded.
- [`index_videos`] embeds every video of a folder into an index folder (below), decoding in DataLoader worker
  processes while the model runs in the main one. Rerunning it on the same folder resumes: videos already indexed
  are skipped, a video that was being indexed when the run died is redone (never stored twice), and videos that
  cannot be read are skipped, counted and listed.
- [`MomentIndex`] loads an index (a `datasets.Dataset` of windows) and finds the windows nearest to query
  embeddings: with a FAISS inner-product index (`pip install faiss-cpu`, through `datasets`' `add_faiss_index`) when
  FAISS is installed, by exact search in chunks otherwise; both return the same moments on a flat index.
  [`search_moments`] does it from text in one call.

Index folder layout:

    index_config.json     the settings (model, video folder, window, stride, frames per window, frame size); a
                          resumed run must use the same ones
    shards/00000.arrow    Arrow files, each holding the windows of whole videos (columns `video`, `start`, `end`,
    shards/00001.arrow    `embedding`); a shard is written under a temporary name and renamed when complete
    skipped_videos.json   the videos the last run could not read, with the reason

`video` is the path relative to the indexed folder; `start` and `end` are seconds; `embedding` is the L2-normalised
projected video embedding (`float32`), so that a score is the cosine similarity with the query.

The video duration is read here with the decoder that reads the frames (PyAV or decord): frame count / average
frame rate, the time base [`read_video_frames`] locates clip windows with.
"""

import argparse
import itertools
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import datasets
import numpy as np
import torch
import torch.nn.functional as F
from datasets.arrow_writer import ArrowWriter
from tqdm.auto import tqdm
from transformers.utils import logging

from viclip.video_decoding_viclip import resolve_video_backend, video_duration

from ..data.annotations import VIDEO_EXTENSIONS


logger = logging.get_logger(__name__)

INDEX_CONFIG_NAME = "index_config.json"
SHARDS_DIR = "shards"
SKIPPED_VIDEOS_NAME = "skipped_videos.json"
WINDOW_COLUMNS: tuple[str, ...] = ("video", "start", "end", "embedding")
"""Columns of an index's window table."""
# Settings a resumed run must share with the run that started the index (the others are only recorded).
_RESUME_SETTINGS = ("format_version", "model", "video_dir", "window_seconds", "stride_seconds", "num_frames", "size")
_FORMAT_VERSION = 1
# Times are kept to the microsecond, so that `k * stride` does not drift (0.1 * 3 = 0.30000000000000004).
_TIME_DECIMALS = 6
_TIME_TOLERANCE = 1e-6
# With `merge_overlapping=True` the merge looks at this many times `top_k` best windows.
MERGE_CANDIDATES_PER_MOMENT = 10
# Exact search scores the index in chunks of this many windows.
_EXACT_SEARCH_CHUNK = 65536


class CommandHelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """`--help` of the moment-search commands: the description as written (its example commands on their own lines)
    and every flag's default."""


# --------------------------------------------------------------------------------------------------------------------
# Windows and durations
# --------------------------------------------------------------------------------------------------------------------


def _check_window_settings(window_seconds: float, stride_seconds: float) -> None:
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
    _check_window_settings(window_seconds, stride_seconds)
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not math.isfinite(duration):
        raise ValueError(f"duration must be a finite number of seconds, got {duration!r}.")
    if duration <= 0:
        raise ValueError(f"A video of {duration} seconds has no window; the duration must be positive.")
    duration = round(float(duration), _TIME_DECIMALS)
    if duration <= window_seconds + _TIME_TOLERANCE:
        return [(0.0, duration)]
    windows = []
    for step in itertools.count():
        start = round(step * stride_seconds, _TIME_DECIMALS)
        end = round(start + window_seconds, _TIME_DECIMALS)
        if end > duration + _TIME_TOLERANCE:
            break
        windows.append((start, end))
    if windows[-1][1] < duration - _TIME_TOLERANCE:
        windows.append((round(duration - window_seconds, _TIME_DECIMALS), duration))
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


# --------------------------------------------------------------------------------------------------------------------
# Embedding windows
# --------------------------------------------------------------------------------------------------------------------


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
    embeddings `[batch, projection_dim]` on the CPU (the projected `get_video_features` output).

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
        parameter = next(self.model.parameters())
        frames, height, width = pixel_values.shape[1], pixel_values.shape[-2], pixel_values.shape[-1]
        features = self.model.get_video_features(
            pixel_values=pixel_values.to(device=parameter.device, dtype=parameter.dtype, non_blocking=True),
            interpolate_pos_encoding=(frames, height, width) != self.native_shape,
        ).pooler_output
        return F.normalize(features.float(), dim=-1).cpu()


class TextEmbedder:
    """
    Embeds queries with a [`ViCLIPModel`] and its [`ViCLIPProcessor`]: a list of texts -> L2-normalised `float32`
    embeddings `[len(texts), projection_dim]` on the CPU (the projected `get_text_features` output; captions cleaned,
    tokenized and cut to the 32-token context as the reference does).
    """

    def __init__(self, model: torch.nn.Module, processor: Any):
        if not hasattr(model, "get_text_features"):
            raise TypeError(f"{type(model).__name__} has no get_text_features; load a ViCLIPModel (AutoModel).")
        self.model = model.eval()
        self.processor = processor

    @torch.inference_mode()
    def __call__(self, texts: Sequence[str]) -> torch.Tensor:
        device = next(self.model.parameters()).device
        tokens = self.processor(text=list(texts), return_tensors="pt")
        features = self.model.get_text_features(
            input_ids=tokens["input_ids"].to(device), attention_mask=tokens["attention_mask"].to(device)
        ).pooler_output
        return F.normalize(features.float(), dim=-1).cpu()


def load_viclip(
    model_name_or_path: str, device: str | torch.device | None = None, dtype: torch.dtype | str = torch.float32
) -> tuple[torch.nn.Module, Any]:
    """
    Loads a ViCLIP folder or Hub id with `AutoModel` and `AutoProcessor`, in evaluation mode on `device` (CUDA when
    available by default) in `dtype`.
    """
    from transformers import AutoModel, AutoProcessor

    import viclip  # noqa: F401  (registers the ViCLIP classes with the Auto classes)

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    model = AutoModel.from_pretrained(model_name_or_path, dtype=dtype).to(device).eval()
    if not hasattr(model, "get_video_features") or not hasattr(model, "get_text_features"):
        raise ValueError(
            f"{model_name_or_path} holds a {type(model).__name__}, not a ViCLIPModel with both towers; moment search "
            "needs the video and the text tower."
        )
    return model, AutoProcessor.from_pretrained(model_name_or_path)


class _WindowBatch(NamedTuple):
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


def _embed_window_batches(
    dataset: VideoWindowDataset,
    embed_videos: Callable[[torch.Tensor], torch.Tensor],
    batch_size: int,
    num_workers: int,
    skip_position: Callable[[int], bool] | None = None,
) -> Iterator[_WindowBatch]:
    """
    Decodes `dataset` in `num_workers` DataLoader worker processes (batches in order) while this process runs
    `embed_videos`, and yields a [`_WindowBatch`] per batch. Windows for which `skip_position` is true when their
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
        yield _WindowBatch(positions, embeddings, batch["failures"], dropped, model_seconds)


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
    for batch in _embed_window_batches(dataset, embed_videos, batch_size, num_workers):
        if batch.failures:
            position, error = batch.failures[0]
            start, end = windows[position]
            raise ValueError(f"Could not read the window {start}-{end} s of {path}: {error}")
        chunks.append(batch.embeddings)
    return VideoWindows(
        embeddings=torch.cat(chunks), starts=[start for start, _ in windows], ends=[end for _, end in windows]
    )


# --------------------------------------------------------------------------------------------------------------------
# The index folder
# --------------------------------------------------------------------------------------------------------------------


def _window_features(dim: int) -> datasets.Features:
    return datasets.Features(
        {
            "video": datasets.Value("string"),
            "start": datasets.Value("float64"),
            "end": datasets.Value("float64"),
            "embedding": datasets.List(datasets.Value("float32"), length=dim),
        }
    )


def _shard_paths(index_dir: Path) -> list[Path]:
    folder = index_dir / SHARDS_DIR
    return sorted(folder.glob("[0-9]*.arrow")) if folder.is_dir() else []


def _write_json_atomically(path: Path, value: Any) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(value, indent=1) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _write_shard(index_dir: Path, rows: dict[str, list], dim: int) -> Path:
    """Writes `rows` as the next shard: under a temporary name, flushed to disk, then renamed (atomic)."""
    shards = _shard_paths(index_dir)
    number = int(shards[-1].stem) + 1 if shards else 0
    final = index_dir / SHARDS_DIR / f"{number:05d}.arrow"
    temporary = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    writer = ArrowWriter(features=_window_features(dim), path=str(temporary))
    try:
        writer.write_batch(rows)
        writer.finalize()
    finally:
        writer.close()
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, final)
    return final


def load_window_table(index_dir: str | os.PathLike) -> datasets.Dataset:
    """
    The windows of an index folder as one `datasets.Dataset` (its shards memory-mapped, concatenated), with the
    columns `video`, `start`, `end` and `embedding`. `save_to_disk` or `push_to_hub` it to share it.

    Raises:
        `FileNotFoundError` if `index_dir` is not an index folder; `ValueError` if it holds no window yet.
    """
    index_dir = Path(index_dir)
    if not (index_dir / INDEX_CONFIG_NAME).is_file():
        raise FileNotFoundError(
            f"{index_dir} is not a moment index (no {INDEX_CONFIG_NAME}); build one with "
            "`python -m viclip_train.moments.index_videos --video_dir VIDEOS --output_dir INDEX ...`."
        )
    shards = _shard_paths(index_dir)
    if not shards:
        raise ValueError(f"The moment index {index_dir} holds no window yet: run the indexing command to fill it.")
    return datasets.concatenate_datasets([datasets.Dataset.from_file(str(path)) for path in shards])


def read_index_config(index_dir: str | os.PathLike) -> dict[str, Any]:
    """The settings an index was built with (its `index_config.json`)."""
    path = Path(index_dir) / INDEX_CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{index_dir} is not a moment index (no {INDEX_CONFIG_NAME}).")
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass
class IndexingSummary:
    """What a run of [`index_videos`] did."""

    output_dir: str
    videos_found: int
    """Video files under the video folder."""
    videos_already_indexed: int
    """Of those, videos found in the index at the start and skipped."""
    videos_indexed: int
    """Videos indexed by this run."""
    windows_indexed: int
    """Windows embedded and stored by this run."""
    skipped_videos: dict[str, str] = field(default_factory=dict)
    """Videos that could not be read: relative path -> reason (also in `skipped_videos.json`)."""
    seconds: float = 0.0
    """Wall-clock time of decoding and embedding (probing durations and writing excluded)."""
    model_seconds: float = 0.0
    """Of that, time spent in the embedding function."""

    @property
    def windows_per_second(self) -> float:
        """Windows indexed per second of decoding and embedding."""
        return self.windows_indexed / self.seconds if self.seconds > 0 else 0.0

    @property
    def model_busy_share(self) -> float:
        """How much of the time the model was computing (1.0: decoding entirely hidden behind the model)."""
        return self.model_seconds / self.seconds if self.seconds > 0 else 0.0


class _DurationProbe(torch.utils.data.Dataset):
    """Item `i`: `(i, duration, None)` or `(i, None, error)` for video `i`, so that DataLoader workers probe videos in
    parallel."""

    def __init__(self, paths: Sequence[str], backend: str):
        self.paths, self.backend = list(paths), backend

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, position: int) -> tuple[int, float | None, str | None]:
        try:
            return position, video_duration(self.paths[position], self.backend), None
        except (OSError, ValueError, RuntimeError) as error:
            return position, None, " ".join(str(error).split())


def _identity(item: Any) -> Any:
    return item


def _check_resume_settings(index_dir: Path, settings: dict[str, Any]) -> None:
    found = read_index_config(index_dir)
    for name in _RESUME_SETTINGS:
        if found.get(name) != settings[name]:
            raise ValueError(
                f"{index_dir} was indexed with {name}={found.get(name)!r}, and this run asks for {settings[name]!r}. "
                "Rerun with the same settings to resume it, or choose another output folder (or delete this one) "
                "to index anew."
            )


def index_videos(
    video_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    embed_videos: Callable[[torch.Tensor], torch.Tensor],
    video_processor: Any,
    *,
    model_id: str,
    window_seconds: float = 8.0,
    stride_seconds: float = 4.0,
    num_frames: int | None = None,
    batch_size: int = 16,
    num_workers: int = 2,
    video_backend: str | None = None,
    shard_size: int = 2048,
    save_interval: float = 120.0,
    progress: bool = True,
) -> IndexingSummary:
    """
    Embeds every video under `video_dir` as sliding windows into the index folder `output_dir` (see the module
    docstring for its layout), or resumes filling it.

    Videos are listed with [`list_videos`]; those already in the index are skipped. The durations, then the windows,
    are read in `num_workers` DataLoader worker processes, in order, while the main process runs `embed_videos`
    (decoding overlaps the model). A video's windows are kept in memory until all are embedded, and stored together:
    a shard is written after a completed video once `shard_size` windows or `save_interval` seconds have accumulated,
    and at the end (also when the run is interrupted by an exception or Ctrl-C). A video is therefore stored whole or
    not at all: when a run is killed, the videos it had not stored yet are redone by the next run, never stored twice.
    A video whose duration or any window cannot be read is skipped, logged with the reason, counted and listed in
    `skipped_videos.json`; the next run tries it again.

    Args:
        video_dir (`str` or `os.PathLike`): the folder of videos (searched recursively).
        output_dir (`str` or `os.PathLike`): the index folder, created if needed.
        embed_videos (`Callable`): `pixel_values [batch, frames, 3, H, W] -> [batch, dim]`, e.g.
            `VideoEmbedder(model)`; its output is L2-normalised here.
        video_processor ([`ViCLIPVideoProcessor`]): reads each window with `clip_windows=(start, end)`.
        model_id (`str`): the model the embeddings come from (a folder or Hub id), recorded in `index_config.json`:
            [`search_moments`] loads it to embed queries, and a resumed run must name the same.
        window_seconds (`float`, defaults to 8.0), stride_seconds (`float`, defaults to 4.0): see
            [`sliding_windows`].
        num_frames (`int`, *optional*): frames per window; the processor's `num_frames` by default.
        batch_size (`int`, defaults to 16): windows per forward pass.
        num_workers (`int`, defaults to 2): decoding worker processes (0: decode in the main process, no overlap).
        video_backend (`str`, *optional*): `"decord"` or `"pyav"`; by default the processor's setting, else decord
            when installed.
        shard_size (`int`, defaults to 2048): windows gathered before a shard is written.
        save_interval (`float`, defaults to 120): seconds after which completed videos are written even if fewer than
            `shard_size` windows have gathered (at most this much work is lost when a run is killed).
        progress (`bool`, defaults to `True`): show progress bars.

    Returns:
        [`IndexingSummary`].
    """
    _check_window_settings(window_seconds, stride_seconds)
    for name, value in (("batch_size", batch_size), ("shard_size", shard_size)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}.")
    if num_workers < 0:
        raise ValueError(f"num_workers must be 0 or more, got {num_workers}.")
    video_root = Path(video_dir).resolve()
    videos = list_videos(video_root)
    backend = resolve_video_backend(video_backend or getattr(video_processor, "video_backend", None))
    num_frames = int(num_frames if num_frames is not None else video_processor.num_frames)
    size = video_processor.size
    settings = {
        "format_version": _FORMAT_VERSION,
        "model": str(model_id),
        "video_dir": str(video_root),
        "window_seconds": float(window_seconds),
        "stride_seconds": float(stride_seconds),
        "num_frames": num_frames,
        "size": [int(size["height"]), int(size["width"])],
        "video_backend": backend,
    }
    index_dir = Path(output_dir)
    (index_dir / SHARDS_DIR).mkdir(parents=True, exist_ok=True)
    if (index_dir / INDEX_CONFIG_NAME).is_file():
        _check_resume_settings(index_dir, settings)
    else:
        _write_json_atomically(index_dir / INDEX_CONFIG_NAME, settings)
    for leftover in (index_dir / SHARDS_DIR).glob(".*.tmp"):  # a shard being written when a run was killed
        leftover.unlink()
    shards = _shard_paths(index_dir)
    indexed = set()
    for path in shards:
        indexed.update(datasets.Dataset.from_file(str(path)).unique("video"))
    pending = [video for video in videos if video not in indexed]
    summary = IndexingSummary(
        output_dir=str(index_dir),
        videos_found=len(videos),
        videos_already_indexed=len(videos) - len(pending),
        videos_indexed=0,
        windows_indexed=0,
    )
    if indexed:
        logger.info(f"Resuming {index_dir}: {summary.videos_already_indexed} of {len(videos)} videos already indexed.")

    def skip(video: str, reason: str) -> None:
        summary.skipped_videos[video] = reason
        logger.warning(f"Skipping the video {video_root / video}: {reason}")

    # durations, in worker processes
    probe = _DurationProbe([str(video_root / video) for video in pending], backend)
    windows: list[VideoWindow] = []
    window_video: list[int] = []  # position in `pending` of each window's video
    windows_per_video = [0] * len(pending)
    probe_loader = torch.utils.data.DataLoader(
        probe, batch_size=None, num_workers=min(num_workers, len(pending)), collate_fn=_identity
    )
    for position, duration, error in tqdm(
        probe_loader, desc="Reading durations", unit="video", disable=not progress or not pending
    ):
        if error is not None:
            skip(pending[position], error)
            continue
        video_windows = sliding_windows(duration, window_seconds, stride_seconds)
        windows.extend(VideoWindow(probe.paths[position], start, end) for start, end in video_windows)
        window_video.extend([position] * len(video_windows))
        windows_per_video[position] = len(video_windows)

    # windows, decoded in worker processes while this one embeds them; a video is stored once all its windows are in
    embedded: dict[int, list[tuple[int, torch.Tensor]]] = {}  # video -> (window, embedding), until it is stored
    failed: set[int] = set()
    completed: list[int] = []  # complete videos not stored yet
    dim = None
    last_save = time.monotonic()

    def save_completed() -> None:
        nonlocal last_save
        rows: dict[str, list] = {"video": [], "start": [], "end": [], "embedding": []}
        for video_position in completed:
            for window_position, embedding in sorted(embedded[video_position], key=lambda pair: pair[0]):
                rows["video"].append(pending[video_position])
                rows["start"].append(windows[window_position].start)
                rows["end"].append(windows[window_position].end)
                rows["embedding"].append(embedding.numpy())
        if rows["video"]:
            _write_shard(index_dir, rows, dim)
        for video_position in completed:
            del embedded[video_position]
        summary.videos_indexed += len(completed)
        summary.windows_indexed += len(rows["video"])
        completed.clear()
        last_save = time.monotonic()

    dataset = VideoWindowDataset(windows, video_processor, num_frames, backend)
    bar = tqdm(total=len(windows), desc="Embedding windows", unit="window", disable=not progress or not windows)
    started = time.perf_counter()
    try:
        batches = _embed_window_batches(
            dataset,
            embed_videos,
            batch_size,
            min(num_workers, len(windows)),
            skip_position=lambda position: window_video[position] in failed,
        )
        for batch in batches:
            summary.model_seconds += batch.model_seconds
            for window_position, error in batch.failures:
                video_position = window_video[window_position]
                if video_position not in failed:  # the whole video is skipped: its other windows are dropped
                    failed.add(video_position)
                    embedded.pop(video_position, None)
                    window = windows[window_position]
                    skip(pending[video_position], f"window {window.start}-{window.end} s: {error}")
            touched = []
            for row, window_position in enumerate(batch.positions):
                video_position = window_video[window_position]
                if video_position in failed:  # a later window of this batch failed
                    continue
                dim = batch.embeddings.shape[1]
                embedded.setdefault(video_position, []).append((window_position, batch.embeddings[row]))
                if video_position not in touched:
                    touched.append(video_position)
            completed.extend(
                video_position
                for video_position in touched
                if len(embedded[video_position]) == windows_per_video[video_position]
            )
            pending_windows = sum(len(embedded[video_position]) for video_position in completed)
            if completed and (pending_windows >= shard_size or time.monotonic() - last_save >= save_interval):
                save_completed()
            bar.update(len(batch.positions) + len(batch.failures) + len(batch.dropped))
            bar.set_postfix(videos=summary.videos_indexed + len(completed), skipped=len(summary.skipped_videos))
    finally:
        summary.seconds = time.perf_counter() - started
        bar.close()
        save_completed()  # what is complete is kept, also when the run stops on an error or Ctrl-C
    _write_json_atomically(index_dir / SKIPPED_VIDEOS_NAME, summary.skipped_videos)
    logger.info(
        f"Indexed {summary.videos_indexed} videos ({summary.windows_indexed} windows) into {index_dir}; "
        f"{summary.videos_already_indexed} were already indexed, {len(summary.skipped_videos)} could not be read"
        + (f" (listed in {index_dir / SKIPPED_VIDEOS_NAME})." if summary.skipped_videos else ".")
    )
    return summary


# --------------------------------------------------------------------------------------------------------------------
# Search
# --------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Moment:
    """A search result: a time span of a video and its score."""

    video: str
    """The video's path relative to the indexed folder."""
    start: float
    """Seconds."""
    end: float
    """Seconds."""
    score: float
    """Cosine similarity between the query and the window (for a merged moment, its best window)."""


def faiss_is_available() -> bool:
    """Whether FAISS can be imported (`pip install faiss-cpu`, or `pip install -e ".[search]"`)."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def merge_overlapping_moments(moments: Sequence[Moment]) -> list[Moment]:
    """
    Joins the moments of the same video whose spans overlap (share more than an instant) into one moment spanning
    their union, scored by its best member; chains join too (A overlaps B overlaps C gives one moment). Moments that
    only touch (one ends where the next starts) stay apart. Returns the moments by decreasing score (ties: by video,
    then start).
    """
    by_video: dict[str, list[Moment]] = {}
    for moment in moments:
        by_video.setdefault(moment.video, []).append(moment)
    merged = []
    for video, spans in by_video.items():
        spans = sorted(spans, key=lambda moment: (moment.start, moment.end))
        start, end, score = spans[0].start, spans[0].end, spans[0].score
        for moment in spans[1:]:
            if moment.start < end - _TIME_TOLERANCE:
                end, score = max(end, moment.end), max(score, moment.score)
            else:
                merged.append(Moment(video, start, end, score))
                start, end, score = moment.start, moment.end, moment.score
        merged.append(Moment(video, start, end, score))
    return sorted(merged, key=lambda moment: (-moment.score, moment.video, moment.start))


class MomentIndex:
    """
    The windows of a moment index and nearest-neighbour search over them by inner product (cosine similarity, the
    embeddings being normalised).

    With FAISS (`use_faiss=True`, or `None` and FAISS installed) the windows get a FAISS index through `datasets`'
    `add_faiss_index`: a flat (exact) inner-product index, unless `faiss_string_factory` asks for an approximate one
    for millions of windows, e.g. `"IVF1024,Flat"` (trained on the windows; it may return fewer than `top_k`
    moments). Otherwise the search is exact, scoring the memory-mapped embeddings in chunks. With the flat index both
    give the same moments (up to float rounding of the scores).

    Args:
        windows (`datasets.Dataset`): the window table (columns `video`, `start`, `end`, `embedding`), e.g. from
            [`load_window_table`].
        use_faiss (`bool`, *optional*): `True` to require FAISS, `False` for exact search, `None` for FAISS if it is
            installed.
        faiss_string_factory (`str`, *optional*): FAISS index factory string; flat by default.
        config (`dict`, *optional*): the index's settings (`index_config.json`), kept as `self.config`.
    """

    def __init__(
        self,
        windows: datasets.Dataset,
        use_faiss: bool | None = None,
        faiss_string_factory: str | None = None,
        config: dict[str, Any] | None = None,
    ):
        missing = [name for name in WINDOW_COLUMNS if name not in windows.column_names]
        if missing:
            raise ValueError(f"The window table lacks the columns {missing}; it needs {list(WINDOW_COLUMNS)}.")
        if len(windows) == 0:
            raise ValueError("The window table is empty: there is nothing to search.")
        if use_faiss and not faiss_is_available():
            raise ImportError("use_faiss=True needs FAISS: `pip install faiss-cpu` (or `pip install -e '.[search]'`).")
        windows = windows.select_columns(list(WINDOW_COLUMNS))  # a new Dataset: the caller's gets no FAISS index
        self.embedding_dim = len(windows[0]["embedding"])
        embedding_feature = _window_features(self.embedding_dim)["embedding"]
        if windows.features["embedding"] != embedding_feature:  # e.g. float64 lists of a hand-made table
            windows = windows.cast_column("embedding", embedding_feature)
        self.windows = windows
        self.config = dict(config or {})
        self.uses_faiss = faiss_is_available() if use_faiss is None else bool(use_faiss)
        if self.uses_faiss:
            import faiss

            bars_were_enabled = datasets.is_progress_bar_enabled()
            datasets.disable_progress_bars()  # adding the vectors takes no time worth a bar
            try:
                windows.add_faiss_index(
                    column="embedding",
                    string_factory=faiss_string_factory,
                    metric_type=faiss.METRIC_INNER_PRODUCT,
                    # an index that clusters (IVF, PQ) is trained on the windows themselves
                    train_size=len(windows) if faiss_string_factory is not None else None,
                )
            finally:
                if bars_were_enabled:
                    datasets.enable_progress_bars()
        elif faiss_string_factory is not None:
            raise ValueError("faiss_string_factory needs FAISS; exact search takes none.")

    @classmethod
    def load(
        cls, index_dir: str | os.PathLike, use_faiss: bool | None = None, faiss_string_factory: str | None = None
    ) -> "MomentIndex":
        """The index in `index_dir` (built by [`index_videos`]); see the class for the arguments."""
        return cls(load_window_table(index_dir), use_faiss, faiss_string_factory, config=read_index_config(index_dir))

    def __len__(self) -> int:
        return len(self.windows)

    def _nearest_windows(self, queries: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and window positions `[Q, count]` of the best windows per query, best first."""
        if self.uses_faiss:
            results = self.windows.search_batch("embedding", queries, k=count)
            return np.asarray(results.total_scores), np.asarray(results.total_indices)
        best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
        best_positions = np.zeros((len(queries), 0), dtype=np.int64)
        offset = 0
        table = self.windows.with_format("numpy", columns=["embedding"])
        for chunk in table.iter(batch_size=_EXACT_SEARCH_CHUNK):
            embeddings = chunk["embedding"]
            scores = np.concatenate([best_scores, queries @ embeddings.T], axis=1)
            positions = np.concatenate(
                [
                    best_positions,
                    np.broadcast_to(np.arange(offset, offset + len(embeddings)), (len(queries), len(embeddings))),
                ],
                axis=1,
            )
            # best first; equal scores put the earlier window first
            order = np.lexsort((positions, -scores), axis=-1)[:, :count]
            best_scores = np.take_along_axis(scores, order, axis=1)
            best_positions = np.take_along_axis(positions, order, axis=1)
            offset += len(embeddings)
        return best_scores, best_positions

    def search(
        self, query_embeds: torch.Tensor | np.ndarray, top_k: int = 5, merge_overlapping: bool = False
    ) -> list[list[Moment]]:
        """
        The `top_k` moments nearest to each query embedding.

        Args:
            query_embeds (`torch.Tensor` or `np.ndarray` of shape `[num_queries, dim]`): normalised here.
            top_k (`int`, defaults to 5): moments per query (fewer when the index holds fewer windows).
            merge_overlapping (`bool`, defaults to `False`): merge the overlapping windows of the same video among the
                `MERGE_CANDIDATES_PER_MOMENT * top_k` best ones into single moments ([`merge_overlapping_moments`])
                before keeping the `top_k` best; otherwise every moment is one window.

        Returns:
            `list[list[Moment]]`: per query, the moments by decreasing score.
        """
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}.")
        queries = torch.as_tensor(query_embeds).detach().float().cpu()
        if queries.ndim != 2 or queries.shape[1] != self.embedding_dim:
            raise ValueError(
                f"Query embeddings must be [num_queries, {self.embedding_dim}] for this index, got "
                f"{tuple(queries.shape)}; embed the queries with the model that built the index "
                f"({self.config.get('model', 'see index_config.json')})."
            )
        queries = F.normalize(queries, dim=-1).numpy()
        count = min(len(self), top_k * MERGE_CANDIDATES_PER_MOMENT if merge_overlapping else top_k)
        scores, positions = self._nearest_windows(queries, count)
        results = []
        spans = self.windows.select_columns(["video", "start", "end"])
        for query_scores, query_positions in zip(scores, positions, strict=True):
            found = query_positions >= 0  # an approximate FAISS index may return fewer than asked, padded with -1
            query_scores, query_positions = query_scores[found], query_positions[found]
            rows = spans[query_positions.tolist()]
            moments = [
                Moment(video, float(start), float(end), float(score))
                for video, start, end, score in zip(
                    rows["video"], rows["start"], rows["end"], query_scores, strict=True
                )
            ]
            if merge_overlapping:
                moments = merge_overlapping_moments(moments)
            results.append(moments[:top_k])
        return results


def search_moments(
    index: str | os.PathLike | MomentIndex,
    queries: str | Sequence[str],
    *,
    embed_texts: Callable[[list[str]], torch.Tensor] | None = None,
    model: torch.nn.Module | None = None,
    processor: Any = None,
    top_k: int = 5,
    merge_overlapping: bool = False,
    use_faiss: bool | None = None,
) -> list[Moment] | list[list[Moment]]:
    """
    Finds the moments of the indexed videos that best match text queries.

    ```python
    >>> from viclip_train.moments.search import search_moments
    >>> search_moments("outputs/moment-index", "a red square moving to the left", top_k=3)  # doctest: +SKIP
    [Moment(video='long_00.mp4', start=12.0, end=14.0, score=0.41), ...]
    ```

    Args:
        index (`str`, `os.PathLike` or [`MomentIndex`]): an index folder built by [`index_videos`], or a loaded index
            (load it once to run many queries).
        queries (`str` or list of `str`): the text queries.
        embed_texts (`Callable`, *optional*): `list[str] -> [len, dim]` query embeddings. By default a
            [`TextEmbedder`] of `model` and `processor`, or, when those are not given either, of the model recorded
            in the index (`index_config.json`), loaded with [`load_viclip`].
        model ([`ViCLIPModel`], *optional*), processor ([`ViCLIPProcessor`], *optional*): the model that built the
            index and its processor.
        top_k (`int`, defaults to 5), merge_overlapping (`bool`, defaults to `False`): see [`MomentIndex.search`].
        use_faiss (`bool`, *optional*): see [`MomentIndex`] (only when `index` is a folder).

    Returns:
        For one query (a `str`), its list of [`Moment`]s (`video`, `start`, `end`, `score`), best first; for a list
        of queries, one such list per query.
    """
    if not isinstance(index, MomentIndex):
        index = MomentIndex.load(index, use_faiss=use_faiss)
    single = isinstance(queries, str)
    texts = [queries] if single else list(queries)
    if not texts or not all(isinstance(text, str) and text.strip() for text in texts):
        raise ValueError(f"queries must be a non-empty text or a list of non-empty texts, got {queries!r}.")
    if embed_texts is None:
        if model is None or processor is None:
            if model is not None or processor is not None:
                raise ValueError("Pass both model and processor (or embed_texts), not one of them.")
            model_id = index.config.get("model")
            if not model_id:
                raise ValueError("The index records no model to embed queries with; pass model and processor.")
            model, processor = load_viclip(model_id)
        embed_texts = TextEmbedder(model, processor)
    results = index.search(embed_texts(texts), top_k=top_k, merge_overlapping=merge_overlapping)
    return results[0] if single else results


__all__ = [
    "INDEX_CONFIG_NAME",
    "CommandHelpFormatter",
    "IndexingSummary",
    "Moment",
    "MomentIndex",
    "TextEmbedder",
    "VideoEmbedder",
    "VideoWindow",
    "VideoWindowDataset",
    "VideoWindows",
    "embed_video_windows",
    "faiss_is_available",
    "index_videos",
    "list_videos",
    "load_viclip",
    "load_window_table",
    "merge_overlapping_moments",
    "read_index_config",
    "search_moments",
    "sliding_windows",
]
