# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Datasets and the collator shared by the training and evaluation scripts.

- [`VideoDataset`] decodes one clip per item inside the DataLoader worker and applies the video processor's training
  or evaluation transform. A video that is missing, unreadable or empty gives a [`SkippedSample`] naming the row,
  the path and the reason; it is never replaced by another clip under the same caption (the reference retries with a
  random other clip and keeps the old caption). In training, a failed row is refilled with another whole row (its
  own clip and caption), so that batches keep their size.
- Training randomness (frame positions, crop, flip, refills) is a function of `(seed, epoch, row)` only: an item is
  the same whichever worker, process or run reads it, which makes resuming exact. [`EpochSampler`] hands the
  dataset [`SampleKey`]s that carry the epoch.
- [`VideoDataCollator`] drops the skipped items and stacks the others; the batch also reports what was skipped
  (`num_skipped`, `skipped_samples`) and the annotation rows of the kept items (`index`). These three keys are not
  model inputs ([`NON_MODEL_KEYS`]): the trainer pops them, and runs with `remove_unused_columns=False` to keep them.
- With `uint8_frames=True` the workers send `pixel_values` as uint8 (resized or cropped, neither rescaled nor
  normalised): a quarter of the float32 batch in shared memory and across the host-device link.
  [`normalize_pixel_values`] then rescales and normalises them on the training device with the video processor's
  own arithmetic, so that the model sees exactly the float32 values the processor would have given.
"""

import os
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, NamedTuple

import datasets
import numpy as np
import torch

from viclip.video_processing_viclip import read_video_frames, resolve_video_backend

from .annotations import ANNOTATION_COLUMNS, resolve_video_path
from .skipping import SkippedSample


SKIPPED_KEY = "num_skipped"
"""Batch key: the number of samples the collator dropped because their video could not be read (a 0-d tensor)."""
SKIPPED_SAMPLES_KEY = "skipped_samples"
"""Batch key: the [`SkippedSample`]s behind `num_skipped` (a list)."""
INDEX_KEY = "index"
"""Batch key: the annotation row of each kept item (a `long` tensor), for per-video outputs and de-duplication."""
NON_MODEL_KEYS = (SKIPPED_KEY, SKIPPED_SAMPLES_KEY, INDEX_KEY)
"""Batch keys that are not model inputs."""

TRAIN_REFILL_ATTEMPTS = 10
"""Other rows a training item tries, at random, when its own video cannot be read."""

_SAMPLER_BLOCK = 1 << 16  # rows of the shuffled order turned into Python ints at a time


def normalize_pixel_values(pixel_values: torch.Tensor, video_processor: Any) -> torch.Tensor:
    """
    Rescales and normalises uint8 `pixel_values` (`[..., 3, H, W]`, from a dataset with `uint8_frames=True`) where
    they are, typically on the training device, with the arithmetic of the video processor's own last step (float32,
    divided by 255, minus the mean, divided by the std), so that the result is identical to what the processor gives
    for the same frames. Float tensors are returned unchanged.
    """
    if pixel_values.dtype != torch.uint8:
        return pixel_values
    values = pixel_values.to(torch.float32)
    if video_processor.do_rescale:
        divisor = 1.0 / video_processor.rescale_factor
        if abs(divisor - round(divisor)) < 1e-6:  # as the processor: x / 255 rather than x * (1 / 255)
            values.div_(float(round(divisor)))
        else:
            values.mul_(video_processor.rescale_factor)
    if video_processor.do_normalize:
        mean = torch.tensor(video_processor.image_mean, dtype=torch.float32, device=values.device).reshape(-1, 1, 1)
        std = torch.tensor(video_processor.image_std, dtype=torch.float32, device=values.device).reshape(-1, 1, 1)
        values.sub_(mean).div_(std)
    return values


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


class VideoDataset(torch.utils.data.Dataset):
    """
    Video-caption (pretraining) or video-label (classification) items, decoded on access.

    Each item is a dictionary with `pixel_values` (`[T, 3, H, W]` from the video processor), `index` (its annotation
    row) and, as the annotations have them, `caption` (`str`) and `labels` (`int`); or a [`SkippedSample`] when the
    video is missing, unreadable, or has no frame in its window (a window starting after the end of the video). A
    video with fewer frames than `num_frames` is not skipped: its last frame is repeated, as in the reference.
    Decoding happens where the item is requested, i.e. inside the DataLoader workers; PyTorch limits each worker to
    one intra-op thread and the decoder reads with one thread.

    In training mode frames are drawn at a random position inside each of `num_frames` equal segments (the reference's
    `"rand"` rule) and the processor's training augmentation (RandomResizedCrop and flip, the same for every frame)
    is applied; otherwise the segment middles are taken and the evaluation transform is applied. A training item's
    randomness comes from `numpy.random.default_rng([seed, epoch, row])`: index the dataset with a [`SampleKey`] (an
    integer index is epoch 0). When a training row cannot be read, up to `max_refill_attempts` other rows, drawn from
    the same generator, are tried in its place; the item then carries the failures under `"skipped"`.

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
        seed (`int`, defaults to 0): seed of the training randomness.
        max_refill_attempts (`int`, *optional*): other rows tried for a training row that fails; defaults to
            [`TRAIN_REFILL_ATTEMPTS`] in training and 0 otherwise (an evaluation set counts every row once).
        uint8_frames (`bool`, defaults to `False`): give `pixel_values` as uint8, resized or cropped but neither
            rescaled nor normalised; [`normalize_pixel_values`] (which [`ViCLIPTrainer`] applies on the device)
            finishes them to exactly the float32 values of the default.
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
        self.seed = int(seed)
        if max_refill_attempts is None:
            max_refill_attempts = TRAIN_REFILL_ATTEMPTS if train else 0
        self.max_refill_attempts = max_refill_attempts
        self.uint8_frames = uint8_frames
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
        """
        The item of annotation row `row`, or a [`SkippedSample`] when its video cannot be read: the one place where a
        bad video of an annotation table becomes a skip (shards and streams make theirs with the same
        [`SkippedSample.from_error`]).
        """
        annotation = self.annotations[row]
        window = None if annotation["start"] is None else (annotation["start"], annotation["end"])
        path = None
        try:
            path = resolve_video_path(annotation["video"], self.video_root)
            frames = self.read_frames(path, window, rng)
        except (OSError, ValueError, RuntimeError) as error:
            where = str(path) if path is not None else os.path.join(self.video_root or "", annotation["video"])
            span = f" ({window[0]}-{window[1]} s)" if window else ""
            return SkippedSample.from_error(row, where + span, error)
        item = {"pixel_values": self.process_frames(frames, rng), INDEX_KEY: row}
        if annotation["caption"] is not None:
            item["caption"] = annotation["caption"]
        label = annotation["label"]
        if label is not None:
            item["labels"] = self.label2id[label] if isinstance(label, str) else label
        return item

    def read_frames(
        self, path: str | os.PathLike, window: tuple[float, float] | None, rng: np.random.Generator | None
    ) -> np.ndarray:
        """Decodes the clip of one row: `num_frames` frames `[T, H, W, 3]` uint8 (raises if it cannot)."""
        return read_video_frames(
            path,
            num_frames=self.num_frames,
            sampling="rand" if self.train else "middle",
            clip_window=window,
            backend=self.video_backend,
            rng=rng,
            decode_size=self.decode_size,
        )

    def process_frames(self, frames: np.ndarray, rng: np.random.Generator | None) -> torch.Tensor:
        """The processor's training or evaluation transform of one clip, see [`transform_clip`]."""
        return transform_clip(self.video_processor, frames, train=self.train, rng=rng, uint8_frames=self.uint8_frames)


def transform_clip(
    video_processor: Any,
    frames: np.ndarray,
    *,
    train: bool,
    rng: np.random.Generator | None,
    uint8_frames: bool = False,
) -> torch.Tensor:
    """
    The video processor's training (`train=True`: RandomResizedCrop and flip drawn from `rng`) or evaluation transform
    of one decoded clip `[T, H, W, 3]` uint8: `[T, 3, H, W]` float32, normalised; or, with `uint8_frames`, uint8
    frames resized or cropped only (the resize and crop of uint8 frames give integral values), which
    [`normalize_pixel_values`] turns into the same float32 values later.
    """
    if uint8_frames:
        pixel_values = video_processor(
            frames,
            do_sample_frames=False,
            do_train_augmentation=train,
            rng=rng,
            do_rescale=False,
            do_normalize=False,
            return_tensors="pt",
        )
        return pixel_values["pixel_values"][0].to(torch.uint8)
    pixel_values = video_processor(
        frames, do_sample_frames=False, do_train_augmentation=train, rng=rng, return_tensors="pt"
    )
    return pixel_values["pixel_values"][0]


class Placeholder(NamedTuple):
    """An item that is no sample: a streaming source's stand-in for a sample consumed before a resume (discarded with
    its batch) or the padding that gives every process as many evaluation batches. The collator drops it silently."""

    reason: str


class VideoDataCollator:
    """
    Builds model batches from [`VideoDataset`] items, dropping and counting the skipped ones.

    The batch holds `pixel_values` (`[B, T, 3, H, W]`), `input_ids` and `attention_mask` when the items have captions,
    `labels` when they have labels, `index` (the annotation rows) when the items have it, and always `num_skipped`
    (a 0-d `long` tensor) and `skipped_samples` (the [`SkippedSample`]s, refill failures included). The kept items
    keep their order, so row `i` of every tensor belongs to the same annotation. When every item was skipped, the
    batch holds only the last two keys: what to do with an empty batch is the trainer's decision.

    Args:
        processor ([`ViCLIPProcessor`], *optional*): cleans and tokenizes captions (padded to the 32-token
            context, as the reference). Required for items with captions.
        normalize_captions (`bool`, defaults to `False`): apply the reference's training-caption normalisation
            (lower case, punctuation removed, `-` and `/` to spaces) before tokenizing.
    """

    def __init__(self, processor: Any = None, *, normalize_captions: bool = False):
        self.processor = processor
        self.normalize_captions = normalize_captions

    def __call__(self, items: list[dict[str, Any] | SkippedSample]) -> dict[str, Any]:
        kept, skipped = [], []
        for item in items:
            if isinstance(item, Placeholder):
                continue
            if isinstance(item, SkippedSample):
                skipped.extend(item.expanded())
            else:
                kept.append(item)
                skipped.extend(item.get("skipped", ()))
        batch = {}
        if kept:
            batch["pixel_values"] = torch.stack([item["pixel_values"] for item in kept])
            if "caption" in kept[0]:
                if self.processor is None:
                    raise ValueError("These items have captions: give VideoDataCollator a processor to tokenize them.")
                captions = [item["caption"] for item in kept]
                tokens = self.processor(text=captions, normalize_captions=self.normalize_captions, return_tensors="pt")
                batch["input_ids"] = tokens["input_ids"]
                batch["attention_mask"] = tokens["attention_mask"]
            if "labels" in kept[0]:
                batch["labels"] = torch.tensor([item["labels"] for item in kept], dtype=torch.long)
            if all(INDEX_KEY in item for item in kept):
                batch[INDEX_KEY] = torch.tensor([item[INDEX_KEY] for item in kept], dtype=torch.long)
        batch[SKIPPED_KEY] = torch.tensor(len(skipped), dtype=torch.long)
        batch[SKIPPED_SAMPLES_KEY] = skipped
        return batch


__all__ = [
    "INDEX_KEY",
    "NON_MODEL_KEYS",
    "SKIPPED_KEY",
    "SKIPPED_SAMPLES_KEY",
    "TRAIN_REFILL_ATTEMPTS",
    "EpochSampler",
    "Placeholder",
    "SampleKey",
    "VideoDataCollator",
    "VideoDataset",
    "normalize_pixel_values",
    "transform_clip",
]
