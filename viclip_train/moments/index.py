# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
The on-disk index of moment search: [`index_videos`] embeds every video of a folder as sliding windows into an index
folder, decoding in DataLoader worker processes while the model runs in the main one. Rerunning it on the same folder
resumes: videos already indexed are skipped, a video that was being indexed when the run died is redone (never stored
twice), and videos that cannot be read are skipped, counted and listed. [`load_window_table`] reads the windows back.

Index folder layout:

    index_config.json     the settings (model, video folder, window, stride, frames per window, frame size); a
                          resumed run must use the same ones
    shards/00000.arrow    Arrow files, each holding the windows of whole videos (columns `video`, `start`, `end`,
    shards/00001.arrow    `embedding`); a shard is written under a temporary name and renamed when complete
    skipped_videos.json   the videos the last run could not read, with the reason

`video` is the path relative to the indexed folder; `start` and `end` are seconds; `embedding` is the L2-normalised
projected video embedding (`float32`), so that a score is the cosine similarity with the query.
"""

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import pyarrow as pa
import torch
from datasets.arrow_writer import ArrowWriter
from tqdm.auto import tqdm
from transformers.utils import logging

from viclip.video_decoding_viclip import resolve_video_backend

from ..data.video_reading import video_duration
from .windows import (
    VideoWindow,
    VideoWindowDataset,
    check_window_settings,
    embed_window_batches,
    list_videos,
    sliding_windows,
)


logger = logging.get_logger(__name__)

INDEX_CONFIG_NAME = "index_config.json"
SHARDS_DIR = "shards"
SKIPPED_VIDEOS_NAME = "skipped_videos.json"
WINDOW_COLUMNS: tuple[str, ...] = ("video", "start", "end", "embedding")
"""Columns of an index's window table."""
# Settings a resumed run must share with the run that started the index (the others are only recorded).
_RESUME_SETTINGS = ("format_version", "model", "video_dir", "window_seconds", "stride_seconds", "num_frames", "size")
_FORMAT_VERSION = 1


def window_features(dim: int) -> datasets.Features:
    """The column types of a window table whose embeddings have `dim` values."""
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
    writer = ArrowWriter(features=window_features(dim), path=str(temporary))
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
    return datasets.concatenate_datasets([read_shard(path) for path in shards])


def read_shard(path: Path) -> datasets.Dataset:
    """One shard of an index (memory-mapped), or a `ValueError` naming it when it cannot be read: shards are renamed
    into place only once complete, so a damaged one was cut or overwritten since."""
    try:
        shard = datasets.Dataset.from_file(str(path))
        if missing := [name for name in WINDOW_COLUMNS if name not in shard.column_names]:  # extra columns are kept
            raise ValueError(f"it has no column(s) {missing}; its columns are {shard.column_names}")
    except (pa.ArrowException, OSError, ValueError) as error:
        raise ValueError(
            f"The moment index shard {path} is damaged ({' '.join(str(error).split())[:300]}). Delete that file and "
            "rerun the indexing command with the same settings: the videos it held are indexed again."
        ) from None
    return shard


def read_index_config(index_dir: str | os.PathLike) -> dict[str, Any]:
    """The settings an index was built with (its `index_config.json`)."""
    path = Path(index_dir) / INDEX_CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{index_dir} is not a moment index (no {INDEX_CONFIG_NAME}).")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        problem = f"{error.msg}; line {error.lineno}, column {error.colno}" if hasattr(error, "lineno") else error
        config = f"not valid JSON ({problem})"
    else:
        if isinstance(config, dict):
            return config
        config = f"a JSON {type(config).__name__}, not an object"
    raise ValueError(
        f"The moment index settings {path} are damaged: {config}. The shards depend on those settings (model, window, "
        f"stride, frames, size): write the file again with the settings the index was built with, or delete {index_dir} "
        "and index again."
    )


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
    check_window_settings(window_seconds, stride_seconds)
    for name, value in (("batch_size", batch_size), ("shard_size", shard_size)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}.")
    if num_workers < 0:
        raise ValueError(f"num_workers must be 0 or more, got {num_workers}.")
    video_root = Path(video_dir).resolve()
    videos = list_videos(video_root)
    settings = _index_settings(
        video_processor, model_id, video_root, window_seconds, stride_seconds, num_frames, video_backend
    )
    index_dir = Path(output_dir)
    indexed = _open_index(index_dir, settings)
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
    plan = _plan_windows(video_root, pending, settings, num_workers, summary, progress)
    writer = _IndexWriter(index_dir, plan, summary, shard_size, save_interval)
    dataset = VideoWindowDataset(plan.windows, video_processor, settings["num_frames"], settings["video_backend"])
    _embed_and_store(dataset, embed_videos, writer, batch_size, num_workers, progress)
    _write_json_atomically(index_dir / SKIPPED_VIDEOS_NAME, summary.skipped_videos)
    logger.info(
        f"Indexed {summary.videos_indexed} videos ({summary.windows_indexed} windows) into {index_dir}; "
        f"{summary.videos_already_indexed} were already indexed, {len(summary.skipped_videos)} could not be read"
        + (f" (listed in {index_dir / SKIPPED_VIDEOS_NAME})." if summary.skipped_videos else ".")
    )
    return summary


def _index_settings(
    video_processor: Any,
    model_id: str,
    video_root: Path,
    window_seconds: float,
    stride_seconds: float,
    num_frames: int | None,
    video_backend: str | None,
) -> dict[str, Any]:
    """What `index_config.json` records: the settings a resumed run must share, and the decoder."""
    size = video_processor.size
    return {
        "format_version": _FORMAT_VERSION,
        "model": str(model_id),
        "video_dir": str(video_root),
        "window_seconds": float(window_seconds),
        "stride_seconds": float(stride_seconds),
        "num_frames": int(num_frames if num_frames is not None else video_processor.num_frames),
        "size": [int(size["height"]), int(size["width"])],
        "video_backend": resolve_video_backend(video_backend or getattr(video_processor, "video_backend", None)),
    }


def _open_index(index_dir: Path, settings: dict[str, Any]) -> set[str]:
    """Creates the index folder, or checks that an existing one was made with `settings` and drops the shard a killed
    run was writing; returns the videos it already holds."""
    (index_dir / SHARDS_DIR).mkdir(parents=True, exist_ok=True)
    if (index_dir / INDEX_CONFIG_NAME).is_file():
        _check_resume_settings(index_dir, settings)
    else:
        _write_json_atomically(index_dir / INDEX_CONFIG_NAME, settings)
    for leftover in (index_dir / SHARDS_DIR).glob(".*.tmp"):  # a shard being written when a run was killed
        leftover.unlink()
    indexed = set()
    for path in _shard_paths(index_dir):
        indexed.update(read_shard(path).unique("video"))
    return indexed


def _skip(summary: IndexingSummary, video_root: Path, video: str, reason: str) -> None:
    summary.skipped_videos[video] = reason
    logger.warning(f"Skipping the video {video_root / video}: {reason}")


@dataclass
class _WindowPlan:
    """The windows of the videos a run indexes."""

    video_root: Path
    videos: list[str]
    """The videos to index (relative paths)."""
    windows: list[VideoWindow] = field(default_factory=list)
    window_video: list[int] = field(default_factory=list)
    """Position in `videos` of each window's video."""
    windows_per_video: list[int] = field(default_factory=list)


def _plan_windows(
    video_root: Path,
    videos: list[str],
    settings: dict[str, Any],
    num_workers: int,
    summary: IndexingSummary,
    progress: bool,
) -> _WindowPlan:
    """The sliding windows of every video, from durations probed in `num_workers` worker processes; a video whose
    duration cannot be read is skipped."""
    plan = _WindowPlan(video_root, videos, windows_per_video=[0] * len(videos))
    probe = _DurationProbe([str(video_root / video) for video in videos], settings["video_backend"])
    probe_loader = torch.utils.data.DataLoader(
        probe, batch_size=None, num_workers=min(num_workers, len(videos)), collate_fn=_identity
    )
    for position, duration, error in tqdm(
        probe_loader, desc="Reading durations", unit="video", disable=not progress or not videos
    ):
        if error is not None:
            _skip(summary, video_root, videos[position], error)
            continue
        video_windows = sliding_windows(duration, settings["window_seconds"], settings["stride_seconds"])
        plan.windows.extend(VideoWindow(probe.paths[position], start, end) for start, end in video_windows)
        plan.window_video.extend([position] * len(video_windows))
        plan.windows_per_video[position] = len(video_windows)
    return plan


class _IndexWriter:
    """
    The window embeddings of the videos being indexed, each video's kept in memory until all its windows are in and
    then stored with them: a shard of completed videos is written once `shard_size` windows or `save_interval`
    seconds have gathered, and at the end. A video one of whose windows fails is skipped whole.
    """

    def __init__(
        self, index_dir: Path, plan: _WindowPlan, summary: IndexingSummary, shard_size: int, save_interval: float
    ):
        self.index_dir, self.plan, self.summary = index_dir, plan, summary
        self.shard_size, self.save_interval = shard_size, save_interval
        self.embedded: dict[int, list[tuple[int, torch.Tensor]]] = {}  # video -> (window, embedding), until stored
        self.failed: set[int] = set()
        self.completed: list[int] = []  # complete videos not stored yet
        self.dim: int | None = None
        self.last_save = time.monotonic()

    def fail(self, window_position: int, error: str) -> None:
        """Skips the video of a window that could not be read; its other windows are dropped."""
        video_position = self.plan.window_video[window_position]
        if video_position in self.failed:
            return
        self.failed.add(video_position)
        self.embedded.pop(video_position, None)
        window = self.plan.windows[window_position]
        reason = f"window {window.start}-{window.end} s: {error}"
        _skip(self.summary, self.plan.video_root, self.plan.videos[video_position], reason)

    def add(self, positions: list[int], embeddings: torch.Tensor | None) -> None:
        """Keeps the embeddings of a batch of windows, and stores the completed videos when a shard is due."""
        touched = []
        for row, window_position in enumerate(positions):
            video_position = self.plan.window_video[window_position]
            if video_position in self.failed:  # a later window of this batch failed
                continue
            self.dim = embeddings.shape[1]
            self.embedded.setdefault(video_position, []).append((window_position, embeddings[row]))
            if video_position not in touched:
                touched.append(video_position)
        self.completed.extend(
            video_position
            for video_position in touched
            if len(self.embedded[video_position]) == self.plan.windows_per_video[video_position]
        )
        completed_windows = sum(len(self.embedded[video_position]) for video_position in self.completed)
        due = completed_windows >= self.shard_size or time.monotonic() - self.last_save >= self.save_interval
        if self.completed and due:
            self.save()

    def save(self) -> None:
        """Writes the completed videos as the next shard."""
        rows: dict[str, list] = {"video": [], "start": [], "end": [], "embedding": []}
        for video_position in self.completed:
            for window_position, embedding in sorted(self.embedded[video_position], key=lambda pair: pair[0]):
                window = self.plan.windows[window_position]
                rows["video"].append(self.plan.videos[video_position])
                rows["start"].append(window.start)
                rows["end"].append(window.end)
                rows["embedding"].append(embedding.numpy())
        if rows["video"]:
            _write_shard(self.index_dir, rows, self.dim)
        for video_position in self.completed:
            del self.embedded[video_position]
        self.summary.videos_indexed += len(self.completed)
        self.summary.windows_indexed += len(rows["video"])
        self.completed.clear()
        self.last_save = time.monotonic()


def _embed_and_store(
    dataset: VideoWindowDataset,
    embed_videos: Callable[[torch.Tensor], torch.Tensor],
    writer: _IndexWriter,
    batch_size: int,
    num_workers: int,
    progress: bool,
) -> None:
    """Decodes the windows in worker processes while this one embeds them, and hands them to `writer`; what is
    complete is stored also when the run stops on an error or Ctrl-C."""
    summary, window_video = writer.summary, writer.plan.window_video
    bar = tqdm(total=len(dataset), desc="Embedding windows", unit="window", disable=not progress or not len(dataset))
    started = time.perf_counter()
    try:
        batches = embed_window_batches(
            dataset,
            embed_videos,
            batch_size,
            min(num_workers, len(dataset)),
            skip_position=lambda position: window_video[position] in writer.failed,
        )
        for batch in batches:
            summary.model_seconds += batch.model_seconds
            for window_position, error in batch.failures:
                writer.fail(window_position, error)
            writer.add(batch.positions, batch.embeddings)
            bar.update(len(batch.positions) + len(batch.failures) + len(batch.dropped))
            bar.set_postfix(videos=summary.videos_indexed + len(writer.completed), skipped=len(summary.skipped_videos))
    finally:
        summary.seconds = time.perf_counter() - started
        bar.close()
        writer.save()


__all__ = [
    "INDEX_CONFIG_NAME",
    "SHARDS_DIR",
    "SKIPPED_VIDEOS_NAME",
    "WINDOW_COLUMNS",
    "IndexingSummary",
    "index_videos",
    "load_window_table",
    "read_index_config",
    "window_features",
]
