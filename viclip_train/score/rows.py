# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
The rows a scoring or embedding job reads, from any source the training scripts read, as one numbered table.

[`load_score_rows`] turns a source into [`ScoreRows`]: `columns`, the source's own columns (kept in the output, so
that a user filters the scores with `datasets` or pandas), and `clips`, one normalised entry per row (the video, its
clip window, its caption), row `i` of both describing the same clip. Sources:

- an annotation file (JSON, JSON Lines, CSV, the InternVid layout with its clip windows), through
  [`load_annotations`];
- a `datasets` folder saved with `save_to_disk`, a Hub dataset id, or data files, with a column of paths (relative to
  `video_root`) or a `Video()` column (decoded from its bytes or path);
- tar shards (WebDataset layout, [`expand_shards`]), indexed once by their member headers so that any row is read
  by seeking to its video member;
- a folder of video files ([`list_videos`]), whose rows have no caption unless `caption_from_filename` takes it from
  the file name (VBench names generated videos `<prompt>-<index>.mp4`).

[`ScoreRowDataset`] reads rows (in DataLoader workers): each item is the video processor's frames as uint8 (resized
or cropped, neither rescaled nor normalised: [`normalize_pixel_values`] finishes them on the device), or a
[`SkippedSample`] naming the row, the video and the reason.
"""

import json
import os
import re
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import torch

from ..data.annotations import _MISSING, _read_file, load_annotations, resolve_video_path
from ..data.shards import _members, expand_shards, split_member_name
from ..data.skipping import SkippedSample
from ..data.sources import load_dataset_source
from ..moments.windows import list_videos


SOURCE_KINDS = ("annotation_file", "dataset", "shards", "video_dir")
"""The kinds of source a job reads, one of which its arguments name."""
_VIDEO_FIELDS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".flv", ".mpg", ".mpeg")
_PROMPT_INDEX = re.compile(r"-\d+$")


def prompt_from_filename(name: str) -> str:
    """A generated video's prompt as VBench reads it from the file name: the stem without a trailing `-<index>`."""
    return _PROMPT_INDEX.sub("", Path(name).stem)


CLIP_FEATURES = datasets.Features(
    {
        "video": datasets.Value("string"),
        "caption": datasets.Value("string"),
        "start": datasets.Value("float64"),
        "end": datasets.Value("float64"),
        "offset": datasets.Value("int64"),
        "size": datasets.Value("int64"),
    }
)
"""The normalised entry of each row: `video` (a path, or a tar shard for `offset`/`size` bytes), `caption`, and the
clip window `start`/`end` in seconds (`None`: the whole video)."""


@dataclass
class ScoreRows:
    """The rows of a source: `columns` (the source's own columns) and `clips` (one normalised entry per row)."""

    columns: datasets.Dataset
    clips: datasets.Dataset
    source: str
    """What the rows were read from, in messages and in the job's settings."""
    video_root: str | None = None
    video_feature: str | None = None
    """The column of `columns` holding `datasets.Video()` values, read from there (`clips.video` is then unset)."""

    def __len__(self) -> int:
        return len(self.clips)

    def has_captions(self) -> bool:
        """Whether every row has a caption (a score needs one)."""
        return self.clips.data.column("caption").null_count == 0

    def kept_columns(self) -> datasets.Dataset:
        """`columns` as the output keeps them: a `Video()` column as the path of each video (its bytes left out)."""
        if self.video_feature is None:
            return self.columns
        paths = self.columns.cast_column(self.video_feature, datasets.Video(decode=False))
        return paths.map(
            lambda value: {self.video_feature: (value or {}).get("path")},
            input_columns=self.video_feature,
            features=datasets.Features({**paths.features, self.video_feature: datasets.Value("string")}),
            desc="Keeping video paths",
        )


def clip_table(rows: dict[str, list]) -> datasets.Dataset:
    """The normalised entries ([`CLIP_FEATURES`]) of `rows` (`video` and any others; those missing are `None`)."""
    count = len(rows["video"])
    filled = {name: rows.get(name, [None] * count) for name in CLIP_FEATURES}
    return datasets.Dataset.from_dict(filled, features=CLIP_FEATURES)


def _from_annotations(table: datasets.Dataset, columns: datasets.Dataset, source: str, video_root) -> ScoreRows:
    clips = clip_table({name: table[name] for name in ("video", "caption", "start", "end")})
    return ScoreRows(columns, clips, source, video_root)


def load_annotation_rows(
    path: str | os.PathLike, *, video_root: str | None = None, video_column: str = "video", caption_column="caption"
) -> ScoreRows:
    """The rows of an annotation file (every layout [`load_annotations`] reads, InternVid's clip windows included);
    `columns` holds the file's own fields (a field a row lacks is `None`)."""
    table = load_annotations(path, video_column=video_column, caption_column=caption_column)
    raw = _read_file(Path(path))
    columns = datasets.Dataset.from_dict(
        {name: [None if value is _MISSING else value for value in values] for name, values in raw.values.items()}
    )
    return _from_annotations(table, columns, str(path), video_root)


def load_dataset_rows(
    dataset_name: str,
    *,
    dataset_config_name: str | None = None,
    split: str = "train",
    video_root: str | None = None,
    video_column: str = "video",
    caption_column: str | None = "caption",
) -> ScoreRows:
    """The rows of a `datasets` folder, Hub id or data folder (split `split` of a `DatasetDict`), whose
    `video_column` holds paths (relative to `video_root`) or `datasets.Video()` values."""
    loaded = load_dataset_source(dataset_name, dataset_config_name)
    if isinstance(loaded, datasets.DatasetDict):
        if split not in loaded:
            raise ValueError(f"{dataset_name} has no split {split!r}; its splits are {sorted(loaded)}: use --split.")
        loaded = loaded[split]
    source = f"{dataset_name} [{split}]"
    if isinstance(loaded.features.get(video_column), datasets.Video):
        if caption_column is not None and caption_column not in loaded.column_names:
            raise ValueError(f"{source} has no column {caption_column!r}; its columns are {loaded.column_names}.")
        captions = loaded[caption_column] if caption_column else [None] * len(loaded)
        clips = clip_table({"video": [None] * len(loaded), "caption": captions})
        return ScoreRows(loaded, clips, source, video_root, video_feature=video_column)
    table = load_annotations(loaded, video_column=video_column, caption_column=caption_column)
    return _from_annotations(table, loaded, source, video_root)


def load_video_folder_rows(video_dir: str | os.PathLike, *, caption_from_filename: bool = False) -> ScoreRows:
    """The videos under a folder (sorted relative paths), with the file name as the caption when
    `caption_from_filename` (VBench's `<prompt>-<index>.mp4`: the prompt without `-<index>`)."""
    videos = list_videos(video_dir)
    captions = [prompt_from_filename(video) if caption_from_filename else None for video in videos]
    columns = datasets.Dataset.from_dict({"video": videos})
    return ScoreRows(columns, clip_table({"video": videos, "caption": captions}), str(video_dir), str(video_dir))


def load_shard_rows(shards: str | Sequence[str], *, caption_field: str = "caption") -> ScoreRows:
    """The samples of tar shards, indexed by their member headers: `columns` holds each sample's shard, key and
    metadata (its `.json` member as text, if any); the caption is the `.txt` member or the metadata's
    `caption_field`."""
    paths = expand_shards(shards)
    columns: dict[str, list] = {"shard": [], "key": [], "json": []}
    clips: dict[str, list] = {"video": [], "caption": [], "offset": [], "size": []}
    for path in paths:
        with tarfile.open(path, "r:") as tar:
            key, fields = None, {}
            for member in [*_members(tar, path), None]:
                parts = split_member_name(member.name) if member is not None else None
                if member is not None and parts is None:
                    continue
                if key is not None and (member is None or parts[0] != key):
                    _add_shard_sample(tar, path, key, fields, columns, clips, caption_field)
                if member is None:
                    break
                if parts[0] != key:
                    key, fields = parts[0], {}
                fields[parts[1]] = member
    source = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more shards" if len(paths) > 3 else "")
    return ScoreRows(datasets.Dataset.from_dict(columns), clip_table(clips), source)


def _add_shard_sample(tar, path, key, fields, columns, clips, caption_field) -> None:
    video = next((m for f, m in fields.items() if f".{f.rpartition('.')[2]}" in _VIDEO_FIELDS), None)
    metadata = tar.extractfile(fields["json"]).read().decode("utf-8") if "json" in fields else None
    caption = tar.extractfile(fields["txt"]).read().decode("utf-8").strip() if "txt" in fields else None
    if caption is None and metadata is not None:
        value = json.loads(metadata).get(caption_field)
        caption = value if isinstance(value, str) else None
    columns["shard"].append(path)
    columns["key"].append(key)
    columns["json"].append(metadata)
    clips["video"].append(path)
    clips["caption"].append(caption)
    clips["offset"].append(video.offset_data if video is not None else None)
    clips["size"].append(video.size if video is not None else None)


class ScoreRowDataset(torch.utils.data.Dataset):
    """
    Rows of [`ScoreRows`] read on access: item `row` is `{"row", "pixel_values", "duration"}` (the video processor's
    frames `[T, 3, H, W]` as uint8, and the video's duration in seconds if known), or a [`SkippedSample`].

    Args:
        rows ([`ScoreRows`]): the rows.
        video_processor ([`ViCLIPVideoProcessor`]): samples, decodes and resizes (a protocol's preset, e.g.
            `ViCLIPVideoProcessor.from_protocol("vbench")`).
    """

    def __init__(self, rows: ScoreRows, video_processor: Any):
        self.rows = rows
        self.video_processor = video_processor
        self._videos = None if rows.video_feature is None else rows.columns.cast_column(
            rows.video_feature, datasets.Video(decode=False)
        ).select_columns([rows.video_feature])  # fmt: skip

    def __len__(self) -> int:
        return len(self.rows)

    def video_of(self, row: int) -> tuple[Any, tuple[float, float] | None, str]:
        """What to decode for `row`, its clip window and its name in messages."""
        clip = self.rows.clips[row]
        window = None if clip["start"] is None else (clip["start"], clip["end"])
        if self._videos is not None:
            value = self._videos[row][self.rows.video_feature]
            if value is None:
                raise ValueError("no video in this row")
            if value.get("bytes") is None and value.get("path"):
                return str(resolve_video_path(value["path"], self.rows.video_root)), window, value["path"]
            return value, window, value.get("path") or f"row {row}"
        if clip["offset"] is not None:  # a member of a tar shard
            with open(clip["video"], "rb") as shard:
                shard.seek(clip["offset"])
                return shard.read(clip["size"]), window, f"{clip['video']}@{clip['offset']}"
        if clip["video"] is None:
            raise ValueError("no video member in this sample")
        path = str(resolve_video_path(clip["video"], self.rows.video_root))
        return path, window, path

    def __getitem__(self, row: int) -> dict[str, Any] | SkippedSample:
        name, window = f"row {row}", None
        try:
            video, window, name = self.video_of(row)
            output = self.video_processor(
                video, clip_windows=window, do_rescale=False, do_normalize=False, return_metadata=True
            )
        except (OSError, ValueError, RuntimeError, TypeError, tarfile.TarError) as error:
            span = f" ({window[0]}-{window[1]} s)" if window else ""
            return SkippedSample.from_error(row, name + span, error)
        metadata = output["video_metadata"][0]
        duration = metadata.duration if metadata is not None else None
        pixel_values = output["pixel_values"][0].to(torch.uint8)  # integral values: resized uint8 frames
        return {"row": row, "pixel_values": pixel_values, "duration": float(duration) if duration else None}


def collate_rows(items: list[dict[str, Any] | SkippedSample]) -> dict[str, Any]:
    """A batch of [`ScoreRowDataset`] items: the read rows stacked, the skipped ones listed."""
    read = [item for item in items if not isinstance(item, SkippedSample)]
    return {
        "rows": [item["row"] for item in read],
        "pixel_values": torch.stack([item["pixel_values"] for item in read]) if read else None,
        "durations": [item["duration"] for item in read],
        "skipped": [item for item in items if isinstance(item, SkippedSample)],
    }


__all__ = [
    "CLIP_FEATURES",
    "SOURCE_KINDS",
    "ScoreRowDataset",
    "ScoreRows",
    "clip_table",
    "collate_rows",
    "load_annotation_rows",
    "load_dataset_rows",
    "load_shard_rows",
    "load_video_folder_rows",
    "prompt_from_filename",
]
