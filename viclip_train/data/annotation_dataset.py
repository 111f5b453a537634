# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
The dataset of an annotation table (annotation files, `datasets` folders or Hub ids, class folders, the synthetic
corpus), read by the Trainer's own DataLoader.

- [`VideoDataset`] decodes one clip per item inside the DataLoader worker and applies the video processor's training
  or evaluation transform ([`ClipDataset`]). A video that is missing, unreadable or empty gives a [`SkippedSample`]
  naming the row, the path and the reason; it is never replaced by another clip under the same caption (the reference
  retries with a random other clip and keeps the old caption). In training, a failed row is refilled with another
  whole row (its own clip and caption), so that batches keep their size.
- Training randomness (frame positions, crop, flip, refills) is a function of `(seed, epoch, row)` only: an item is
  the same whichever worker, process or run reads it, which makes resuming exact. [`EpochSampler`] hands the
  dataset [`SampleKey`]s that carry the epoch.
"""

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import datasets
import numpy as np
import torch

from .annotations import ANNOTATION_COLUMNS, video_source
from .clips import ClipDataset
from .collator import INDEX_KEY
from .skipping import SkippedSample


TRAIN_REFILL_ATTEMPTS = 10
"""Other rows a training item tries, at random, when its own video cannot be read."""

_SAMPLER_BLOCK = 1 << 16  # rows of the shuffled order turned into Python ints at a time


class SampleKey(NamedTuple):
    """Which annotation row a training item is, and in which epoch: its randomness is drawn from
    `(seed, epoch, row)`, so that it does not depend on the worker, the process or the run that reads it."""

    epoch: int
    row: int


class EpochSampler(torch.utils.data.Sampler):
    """
    Yields a [`SampleKey`] per row: in a random order drawn from `seed + epoch` (the order `accelerate`'s seedable
    sampler gives), or in row order with `shuffle=False`. Call [`EpochSampler.set_epoch`] before each epoch.
    """

    def __init__(self, num_rows: int, seed: int, shuffle: bool = True):
        self.num_rows = num_rows
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_rows

    def __iter__(self) -> Iterator[SampleKey]:
        if not self.shuffle:
            for row in range(self.num_rows):
                yield SampleKey(self.epoch, row)
            return
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        # one int64 tensor (8 bytes a row), turned into Python ints a block at a time: never a list of every row
        order = torch.randperm(self.num_rows, generator=generator)
        for start in range(0, self.num_rows, _SAMPLER_BLOCK):
            for row in order[start : start + _SAMPLER_BLOCK].tolist():
                yield SampleKey(self.epoch, row)


class VideoDataset(ClipDataset, torch.utils.data.Dataset):
    """
    Video-caption (pretraining) or video-label (classification) items of an annotation table, decoded on access.

    Each item is a dictionary with `pixel_values` (`[T, 3, H, W]` from the video processor), `index` (its annotation
    row) and, as the annotations have them, `caption` (`str`) and `labels` (`int`); or a [`SkippedSample`] when the
    video is missing, unreadable, or has no frame in its window (a window starting after the end of the video). A
    video with fewer frames than `num_frames` is not skipped: its last frame is repeated, as in the reference.
    Decoding happens where the item is requested, i.e. inside the DataLoader workers; PyTorch limits each worker to
    one intra-op thread and the decoder reads with one thread.

    In training mode the clip is augmented ([`ClipDataset`]); otherwise the segment middles are taken and the
    evaluation transform is applied. A training item's randomness comes from
    `numpy.random.default_rng([seed, epoch, row])`: index the dataset with a [`SampleKey`] (an integer index is epoch
    0). When a training row cannot be read, up to `max_refill_attempts` other rows, drawn from the same generator, are
    tried in its place; the item then carries the failures under `"skipped"`.

    Args:
        annotations (`datasets.Dataset`): a table from [`load_annotations`].
        video_processor ([`ViCLIPVideoProcessor`]): turns decoded frames into `pixel_values`.
        video_root (`str` or `os.PathLike`, *optional*): folder the `video` entries are relative to.
        train (`bool`, defaults to `False`): augmented clips, and refills of unreadable rows.
        label2id (`dict[str, int]`, *optional*): class ids of text labels. Defaults to the sorted label names of
            `annotations`; pass the training set's mapping to an evaluation set. Not used for integer labels.
        max_refill_attempts (`int`, *optional*): other rows tried for a training row that fails; defaults to
            [`TRAIN_REFILL_ATTEMPTS`] in training and 0 otherwise (an evaluation set counts every row once).
        num_frames, decode_size, video_backend, seed, uint8_frames: see [`ClipDataset`].
        videos (`datasets.Dataset`, *optional*): the videos of the rows, when a `datasets.Video()` column holds them
            ([`video_values_of`]: a `video` column of `{"bytes", "path"}` values, one row per annotation row); they are
            read instead of the `video` entries, which then only name them.
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
        seed: int = 0,
        max_refill_attempts: int | None = None,
        uint8_frames: bool = False,
        videos: datasets.Dataset | None = None,
    ):
        missing = [name for name in ANNOTATION_COLUMNS if name not in annotations.column_names]
        if missing:
            raise ValueError(f"The annotation table lacks {missing}: build it with `load_annotations`.")
        if videos is not None and len(videos) != len(annotations):
            raise ValueError(f"videos has {len(videos)} rows for the {len(annotations)} rows of the annotation table.")
        self.videos = videos
        super().__init__(
            video_processor,
            augment=train,
            seed=seed,
            num_frames=num_frames,
            decode_size=decode_size,
            video_backend=video_backend,
            uint8_frames=uint8_frames,
        )
        self.annotations = annotations
        self.video_root = video_root
        self.train = train
        if max_refill_attempts is None:
            max_refill_attempts = TRAIN_REFILL_ATTEMPTS if train else 0
        self.max_refill_attempts = max_refill_attempts
        label_values = set(annotations.unique("label")) - {None}  # in Arrow: no Python object per row
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

    def __getitem__(self, key: int | SampleKey) -> dict[str, Any] | SkippedSample:
        epoch, row = (key.epoch, key.row) if isinstance(key, SampleKey) else (0, int(key))
        rng = np.random.default_rng([self.seed, epoch, row])  # only training draws from it
        item = self.read_item(row, rng)
        failures, tried = [], {row}
        while isinstance(item, SkippedSample) and len(failures) < self.max_refill_attempts and len(tried) < len(self):
            failures.append(item)
            candidate = int(rng.integers(len(self)))
            while candidate in tried:
                candidate = int(rng.integers(len(self)))
            tried.add(candidate)
            item = self.read_item(candidate, rng)
        if not isinstance(item, SkippedSample):
            return {**item, "skipped": failures} if failures else item
        if failures:
            return replace(failures[0], replacement_failures=(*failures[1:], item))
        return item

    def read_item(self, row: int, rng: np.random.Generator | None) -> dict[str, Any] | SkippedSample:
        """The item of annotation row `row`, or a [`SkippedSample`] when its video cannot be read."""
        annotation = self.annotations[row]
        window = None if annotation["start"] is None else (annotation["start"], annotation["end"])
        path = None
        try:
            video = annotation["video"] if self.videos is None else self.videos[row]["video"]
            path = video_source(video, self.video_root)
            frames = self.read_frames(path, window, rng)
        except (OSError, ValueError, RuntimeError) as error:
            if isinstance(path, Path):
                where = str(path)
            else:  # no file found, or a video held in the dataset: its path or row
                where = (
                    annotation["video"]
                    if self.videos is not None
                    else os.path.join(self.video_root or "", annotation["video"])
                )
            span = f" ({window[0]}-{window[1]} s)" if window else ""
            return SkippedSample.from_error(row, where + span, error)
        item = {"pixel_values": self.process_frames(frames, rng), INDEX_KEY: row}
        if annotation["caption"] is not None:
            item["caption"] = annotation["caption"]
        label = annotation["label"]
        if label is not None:
            item["labels"] = self.label2id[label] if isinstance(label, str) else label
        return item

    def training_sampler(self, seed: int, shuffle: bool) -> EpochSampler:
        """Keys that carry the epoch, so that an item's randomness depends on `(seed, epoch, row)` only."""
        return EpochSampler(len(self), seed=seed, shuffle=shuffle)


__all__ = ["TRAIN_REFILL_ATTEMPTS", "EpochSampler", "SampleKey", "VideoDataset"]
