# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Training-side data helpers shared by `run_pretrain.py` and `run_classification.py`.

- [`load_annotations`] reads JSON, JSON Lines or CSV annotation files, the public InternVid layout, or any
  `datasets.Dataset`, into one normalised table (a `datasets.Dataset`, kept as Arrow so that DataLoader workers share
  it without copying Python objects) with the columns `video`, `caption`, `label`, `start`, `end`.
- [`VideoDataset`] decodes one clip per item inside the DataLoader worker and applies the video processor's training
  or evaluation transform. A video that is missing, unreadable or empty is *skipped*: the item is a
  [`SkippedSample`] naming the path and the reason, logged once, and never replaced by another clip, so a caption is
  never paired with the wrong video (the reference retries with a random other clip and keeps the old caption).
- [`VideoDataCollator`] drops the skipped items, stacks `pixel_values`, tokenizes captions and/or stacks labels,
  reports `num_skipped` in the batch, and stops the run with [`TooManySkippedVideosError`] when more than a set
  fraction of a batch failed, which almost always means a wrong `--video_root`.

`num_skipped` is a model-free key: a Trainer feeding these batches to the model must pop it before the forward pass
(and must keep it, i.e. run with `remove_unused_columns=False`, to count it).
"""

import csv
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import torch
from transformers.utils import logging

from viclip.video_processing_viclip import read_video_frames, resolve_video_backend


logger = logging.get_logger(__name__)

VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".flv", ".mpg", ".mpeg")
"""Extensions tried, in this order, for a `video` entry without one (such as an InternVid `YoutubeID`)."""

INTERNVID_COLUMNS: tuple[str, ...] = ("YoutubeID", "Start_timestamp", "End_timestamp", "Caption")
"""Columns of the public InternVid annotation files."""

ANNOTATION_COLUMNS: tuple[str, ...] = ("video", "caption", "label", "start", "end")
"""Columns of the table [`load_annotations`] returns."""

SKIPPED_KEY = "num_skipped"
"""Batch key holding the number of samples the collator dropped because their video could not be read."""


def parse_timestamp(value: str | float | int) -> float:
    """
    Reads a time in seconds from `"HH:MM:SS.mmm"` (InternVid), `"MM:SS(.mmm)"`, `"SS(.mmm)"` or a number of seconds.

    Raises:
        `ValueError`: if the value is none of these, or negative.
    """
    if isinstance(value, bool):
        raise ValueError(f"Cannot read a timestamp from {value!r}: expected 'HH:MM:SS.mmm' or seconds.")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        parts = str(value).strip().split(":")
        try:
            if not 1 <= len(parts) <= 3 or any(part.strip() == "" for part in parts):
                raise ValueError
            seconds = float(parts[-1])
            for position, part in enumerate(reversed(parts[:-1]), start=1):
                seconds += int(part) * 60**position
        except ValueError:
            raise ValueError(f"Cannot read a timestamp from {value!r}: expected 'HH:MM:SS.mmm' or seconds.") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"Timestamp {value!r} must be a finite, non-negative time.")
    return seconds


def _read_rows(path: Path) -> list[dict[str, Any]]:
    """Reads an annotation file into a list of row dictionaries, by extension."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise FileNotFoundError(f"Annotation file {path} does not exist.")
    if suffix == ".json":
        with open(path, encoding="utf-8") as handle:
            try:
                rows = json.load(handle)
            except json.JSONDecodeError as error:
                raise ValueError(
                    f"{path} is not valid JSON ({error}). A file with one JSON object per line must end in .jsonl."
                ) from None
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise ValueError(f"{path} must hold a JSON list of objects such as {{'video': ..., 'caption': ...}}.")
        return rows
    if suffix in (".jsonl", ".ndjson"):
        rows = []
        with open(path, encoding="utf-8") as handle:
            for line_number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as error:
                    raise ValueError(f"{path}, line {line_number}: not a JSON object ({error}).") from None
                if not isinstance(row, dict):
                    raise ValueError(f"{path}, line {line_number}: expected a JSON object, got {type(row).__name__}.")
                rows.append(row)
        return rows
    if suffix == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return list(csv.DictReader(handle))
    raise ValueError(f"Cannot read annotations from {path}: use a .json, .jsonl or .csv file, or a datasets.Dataset.")


@dataclass(frozen=True)
class _ColumnSpec:
    """Which source columns feed the normalised table, and how."""

    source: str
    video: str
    caption: str | None
    label: str | None
    internvid: bool


def _column_spec(
    columns: list[str], source: str, video_column: str, caption_column: str | None, label_column: str | None
) -> _ColumnSpec:
    internvid = video_column not in columns and all(name in columns for name in INTERNVID_COLUMNS[:3])
    if internvid:
        video_column = INTERNVID_COLUMNS[0]
        if caption_column is not None and caption_column not in columns:
            caption_column = INTERNVID_COLUMNS[3]
    arguments = {"video_column": video_column, "caption_column": caption_column, "label_column": label_column}
    for argument, name in arguments.items():
        if name is not None and name not in columns:
            hint = " (or caption_column=None for labels only)" if argument == "caption_column" else ""
            raise ValueError(
                f"{source} has no column {name!r}; its columns are {sorted(columns)}. Pass {argument}=<name>{hint}, "
                f"or use the InternVid columns {list(INTERNVID_COLUMNS)}."
            )
    return _ColumnSpec(source, video_column, caption_column, label_column, internvid)


def _normalize_batch(batch: Mapping[str, list], indices: list[int], spec: _ColumnSpec) -> dict[str, list]:
    """Maps a batch of source rows to the normalised columns, checking every value."""
    videos, captions, labels, starts, ends = [], [], [], [], []
    for position, index in enumerate(indices):
        video = batch[spec.video][position]
        if video is None or str(video).strip() == "":
            raise ValueError(f"{spec.source}, entry {index}: empty {spec.video!r}; every row needs a video.")
        videos.append(str(video).strip())
        caption = batch[spec.caption][position] if spec.caption else None
        if spec.caption and not isinstance(caption, str):
            raise ValueError(f"{spec.source}, entry {index}: {spec.caption!r} must be text, got {caption!r}.")
        captions.append(caption)
        label = batch[spec.label][position] if spec.label else None
        if spec.label and (label is None or isinstance(label, bool) or not isinstance(label, (int, str))):
            raise ValueError(
                f"{spec.source}, entry {index}: {spec.label!r} must be a class name or id, got {label!r}."
            )
        labels.append(label)
        if spec.internvid:
            window = []
            for column in INTERNVID_COLUMNS[1:3]:
                try:
                    window.append(parse_timestamp(batch[column][position]))
                except ValueError as error:
                    raise ValueError(f"{spec.source}, entry {index}, {column!r}: {error}") from None
            if window[1] <= window[0]:
                raise ValueError(
                    f"{spec.source}, entry {index}: End_timestamp ({window[1]} s) must come after Start_timestamp "
                    f"({window[0]} s)."
                )
            starts.append(window[0])
            ends.append(window[1])
        else:
            starts.append(None)
            ends.append(None)
    return {"video": videos, "caption": captions, "label": labels, "start": starts, "end": ends}


def _csv_labels_to_ids(rows: list[dict[str, Any]], label_column: str | None) -> None:
    """CSV has no types: a label column whose every value is an integer holds class ids, as in JSON."""
    if label_column is None or not rows:
        return
    values = [row.get(label_column) for row in rows]
    if all(isinstance(value, str) and value.strip().lstrip("-").isdigit() for value in values):
        for row, value in zip(rows, values):
            row[label_column] = int(value)


def load_annotations(
    source: str | os.PathLike | datasets.Dataset,
    *,
    video_column: str = "video",
    caption_column: str | None = "caption",
    label_column: str | None = None,
) -> datasets.Dataset:
    """
    Loads video annotations into one normalised table.

    Supported sources:
        - a `.json` file holding a list of objects, a `.jsonl` file with one object per line, or a `.csv` file with a
          header, each row naming a video (`video_column`, a path relative to the `video_root` given to
          [`VideoDataset`], or absolute) and its caption and/or label;
        - the public InternVid layout (`YoutubeID`, `Start_timestamp`, `End_timestamp` as `"HH:MM:SS.mmm"`,
          `Caption`), detected when those columns are present and `video_column` is not: the video is
          `<video_root>/<YoutubeID>` plus the first of [`VIDEO_EXTENSIONS`] that exists, read only within the window;
        - a `datasets.Dataset` with the same columns.

    Args:
        source (`str`, `os.PathLike` or `datasets.Dataset`): the annotation file or dataset.
        video_column (`str`, defaults to `"video"`): column of the video paths.
        caption_column (`str`, *optional*, defaults to `"caption"`): column of the captions; `None` for a labels-only
            (classification) table. With the InternVid layout, `Caption` is used when this column is absent.
        label_column (`str`, *optional*): column of the class names (text) or class ids (integers).

    Returns:
        `datasets.Dataset` with the columns `video` (`str`), `caption` (`str` or `None`), `label` (`str`, `int` or
        `None`), `start` and `end` (clip window in seconds, or `None` for the whole video).

    Raises:
        `FileNotFoundError`: the file does not exist.
        `ValueError`: an unsupported extension, a missing column (the message lists the columns found), or a bad value
            (the message names the file, the entry and the field).
    """
    if isinstance(source, datasets.Dataset):
        spec = _column_spec(source.column_names, "the given dataset", video_column, caption_column, label_column)
        return source.map(
            _normalize_batch,
            batched=True,
            with_indices=True,
            fn_kwargs={"spec": spec},
            remove_columns=source.column_names,
            keep_in_memory=not source.cache_files,
            desc="Normalising annotations",
        )
    path = Path(source)
    rows = _read_rows(path)
    if not rows:
        raise ValueError(f"{path} holds no annotations.")
    columns = list(rows[0])
    spec = _column_spec(columns, str(path), video_column, caption_column, label_column)
    needed = [spec.video, spec.caption, spec.label] + (list(INTERNVID_COLUMNS[1:3]) if spec.internvid else [])
    needed = [name for name in needed if name is not None]
    for index, row in enumerate(rows):
        missing = [name for name in needed if name not in row]
        if missing:
            raise ValueError(f"{path}, entry {index}: missing field(s) {missing}; every row needs {needed}.")
    if path.suffix.lower() == ".csv":
        _csv_labels_to_ids(rows, spec.label)
    normalized = _normalize_batch({name: [row[name] for row in rows] for name in needed}, list(range(len(rows))), spec)
    return datasets.Dataset.from_dict(normalized)


def resolve_video_path(video: str, video_root: str | os.PathLike | None = None) -> Path:
    """
    The file of an annotation's `video` entry: `video_root / video` (or `video` itself when absolute or when there is
    no root), and, when that is not a file and `video` has no video extension, the first of
    `video_root / (video + extension)` over [`VIDEO_EXTENSIONS`] that is.

    Raises:
        `FileNotFoundError`: naming every path tried; the message suggests checking `--video_root`.
    """
    path = Path(video) if video_root is None else Path(video_root) / video
    if path.is_file():
        return path
    tried = [path]
    if path.suffix.lower() not in VIDEO_EXTENSIONS:
        for extension in VIDEO_EXTENSIONS:
            candidate = path.with_name(path.name + extension)
            if candidate.is_file():
                return candidate
            tried.append(candidate)
    shown = ", ".join(str(p) for p in tried[:3]) + (f" and {len(tried) - 3} more" if len(tried) > 3 else "")
    raise FileNotFoundError(f"No video file for {video!r}: tried {shown}. Check --video_root ({video_root}).")


@dataclass(frozen=True)
class SkippedSample:
    """What a [`VideoDataset`] item is when its video could not be read: the collator drops it and counts it."""

    index: int
    """Row of the annotation table."""
    video: str
    """The path that failed."""
    reason: str
    """The decoder's or the file system's message."""


class VideoDataset(torch.utils.data.Dataset):
    """
    Video-caption (pretraining) or video-label (classification) items, decoded on access.

    Each item is a dictionary with `pixel_values` (`[T, 3, H, W]` from the video processor) and, as the annotations
    have them, `caption` (`str`) and `labels` (`int`), or a [`SkippedSample`] when the video is missing, unreadable,
    or has no frame in its window (a window starting after the end of the video). A video with fewer frames than
    `num_frames` is not skipped: its last frame is repeated, as in the reference. Decoding happens where the item is
    requested, i.e. inside the DataLoader workers; PyTorch limits each worker to one intra-op thread and the decoder
    reads with one thread.

    In training mode frames are drawn at a random position inside each of `num_frames` equal segments (the reference's
    `"rand"` rule) and the processor's training augmentation (RandomResizedCrop and flip, the same for every frame)
    is applied; otherwise the segment middles are taken and the evaluation transform is applied. The randomness of an
    item is seeded from torch's generator, which the Trainer seeds and the DataLoader derives per worker, so runs are
    reproducible.

    Args:
        annotations (`datasets.Dataset`): a table from [`load_annotations`].
        video_processor ([`ViCLIPVideoProcessor`]): turns decoded frames into `pixel_values`.
        video_root (`str` or `os.PathLike`, *optional*): folder the `video` entries are relative to.
        num_frames (`int`, *optional*): frames per clip; defaults to the video processor's `num_frames`.
        train (`bool`, defaults to `False`): random segment sampling and training augmentation.
        label2id (`dict[str, int]`, *optional*): class ids of text labels. Defaults to the sorted label names of
            `annotations`; pass the training set's mapping to an evaluation set. Not used for integer labels.
        decode_size (`tuple[int, int]`, *optional*): `(height, width)` to decode frames at directly (faster for large
            videos; the transform then starts from this size). `None` decodes at full resolution.
        video_backend (`str`, *optional*): decoder for [`read_video_frames`] (`"decord"` or `"pyav"`); `None` picks
            PyAV for training (it decodes only the frames the sampled ones depend on) and decord otherwise, see
            [`resolve_video_backend`].
    """

    def __init__(
        self,
        annotations: datasets.Dataset,
        video_processor: Any,
        *,
        video_root: str | os.PathLike | None = None,
        num_frames: int | None = None,
        train: bool = False,
        label2id: dict[str, int] | None = None,
        decode_size: tuple[int, int] | None = None,
        video_backend: str | None = None,
    ):
        missing = [name for name in ANNOTATION_COLUMNS if name not in annotations.column_names]
        if missing:
            raise ValueError(f"The annotation table lacks {missing}: build it with `load_annotations`.")
        self.annotations = annotations
        self.video_processor = video_processor
        self.video_root = video_root
        self.num_frames = num_frames if num_frames is not None else video_processor.num_frames
        self.train = train
        self.decode_size = decode_size
        self.video_backend = resolve_video_backend(video_backend, for_training=train)
        label_values = set(annotations["label"]) - {None}
        text_labels = {value for value in label_values if isinstance(value, str)}
        if text_labels:
            self.label2id = (
                dict(label2id) if label2id is not None else {n: i for i, n in enumerate(sorted(text_labels))}
            )
            unknown = sorted(text_labels - set(self.label2id))
            if unknown:
                raise ValueError(f"Labels {unknown[:10]} are not in label2id (known: {sorted(self.label2id)[:20]}).")
        else:
            self.label2id = None

    @property
    def id2label(self) -> dict[int, str] | None:
        """Class names by id for text labels, `None` for integer labels or no labels."""
        return None if self.label2id is None else {i: name for name, i in self.label2id.items()}

    def __len__(self) -> int:
        return len(self.annotations)

    def __getitem__(self, index: int) -> dict[str, Any] | SkippedSample:
        row = self.annotations[index]
        window = None if row["start"] is None else (row["start"], row["end"])
        rng = np.random.default_rng(int(torch.randint(0, 2**62, ()))) if self.train else None
        path = None
        try:
            path = resolve_video_path(row["video"], self.video_root)
            frames = read_video_frames(
                path,
                num_frames=self.num_frames,
                sampling="rand" if self.train else "middle",
                clip_window=window,
                backend=self.video_backend,
                rng=rng,
                decode_size=self.decode_size,
            )
        except (OSError, ValueError, RuntimeError) as error:
            where = str(path) if path is not None else os.path.join(self.video_root or "", row["video"])
            span = f", {window[0]}-{window[1]} s" if window else ""
            logger.warning(f"Skipping annotation {index} ({where}{span}): {error}")
            return SkippedSample(index=index, video=where, reason=str(error))
        pixel_values = self.video_processor(
            frames, do_sample_frames=False, do_train_augmentation=self.train, rng=rng, return_tensors="pt"
        )
        item = {"pixel_values": pixel_values["pixel_values"][0]}
        if row["caption"] is not None:
            item["caption"] = row["caption"]
        if row["label"] is not None:
            item["labels"] = self.label2id[row["label"]] if isinstance(row["label"], str) else row["label"]
        return item


class TooManySkippedVideosError(RuntimeError):
    """More videos of one batch failed to load than [`VideoDataCollator`] allows."""


class VideoDataCollator:
    """
    Builds model batches from [`VideoDataset`] items, dropping and counting the skipped ones.

    The batch holds `pixel_values` (`[B, T, 3, H, W]`), `input_ids` and `attention_mask` when the items have captions,
    `labels` when they have labels, and `num_skipped` (a 0-d `long` tensor, see [`SKIPPED_KEY`]). The kept items keep
    their order, so row `i` of every tensor belongs to the same annotation.

    Args:
        processor ([`ViCLIPProcessor`], *optional*): cleans and tokenizes captions (padded to the 32-token
            context, as the reference). Required for items with captions.
        normalize_captions (`bool`, defaults to `False`): apply the reference's training-caption normalisation
            (lower case, punctuation removed, `-` and `/` to spaces) before tokenizing.
        max_failed_fraction (`float`, defaults to 0.5): largest share of a batch allowed to fail. Above it, or when
            nothing is left, [`TooManySkippedVideosError`] stops the run.
    """

    def __init__(self, processor: Any = None, *, normalize_captions: bool = False, max_failed_fraction: float = 0.5):
        if not 0.0 <= max_failed_fraction <= 1.0:
            raise ValueError(f"max_failed_fraction must lie in [0, 1], got {max_failed_fraction}.")
        self.processor = processor
        self.normalize_captions = normalize_captions
        self.max_failed_fraction = max_failed_fraction

    def __call__(self, items: list[dict[str, Any] | SkippedSample]) -> dict[str, torch.Tensor]:
        skipped = [item for item in items if isinstance(item, SkippedSample)]
        kept = [item for item in items if not isinstance(item, SkippedSample)]
        if not kept or len(skipped) > self.max_failed_fraction * len(items):
            examples = "; ".join(f"{s.video}: {s.reason}" for s in skipped[:3])
            raise TooManySkippedVideosError(
                f"{len(skipped)} of the {len(items)} videos of a batch could not be read (more than the allowed "
                f"{self.max_failed_fraction:.0%}), e.g. {examples}. This usually means the videos are not where the "
                "annotations point: check --video_root and the video column. Raise --max_failed_fraction to tolerate "
                "more broken files."
            )
        batch = {"pixel_values": torch.stack([item["pixel_values"] for item in kept])}
        if "caption" in kept[0]:
            if self.processor is None:
                raise ValueError("These items have captions: give VideoDataCollator a processor to tokenize them.")
            captions = [item["caption"] for item in kept]
            tokens = self.processor(text=captions, normalize_captions=self.normalize_captions, return_tensors="pt")
            batch["input_ids"] = tokens["input_ids"]
            batch["attention_mask"] = tokens["attention_mask"]
        if "labels" in kept[0]:
            batch["labels"] = torch.tensor([item["labels"] for item in kept], dtype=torch.long)
        batch[SKIPPED_KEY] = torch.tensor(len(skipped), dtype=torch.long)
        return batch


__all__ = [
    "ANNOTATION_COLUMNS",
    "INTERNVID_COLUMNS",
    "SKIPPED_KEY",
    "VIDEO_EXTENSIONS",
    "SkippedSample",
    "TooManySkippedVideosError",
    "VideoDataCollator",
    "VideoDataset",
    "load_annotations",
    "parse_timestamp",
    "resolve_video_path",
]
