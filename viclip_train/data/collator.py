# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
The collator shared by every dataset of this package, and the keys of the batches it builds.

[`VideoDataCollator`] drops the skipped items and stacks the others; the batch also reports what was skipped
(`num_skipped`, `skipped_samples`) and the dataset rows of the kept items (`index`). These three keys are not model
inputs ([`NON_MODEL_KEYS`]): the trainer pops them, and runs with `remove_unused_columns=False` to keep them.
"""

from collections.abc import Mapping
from typing import Any, NamedTuple

import torch

from ..distributed import sum_across_processes
from .frame_clips import collate_encoded_clips
from .skipping import SkippedSample, SkippedSampleLog


SKIPPED_KEY = "num_skipped"
"""Batch key: the number of samples the collator dropped because their video could not be read (a 0-d tensor)."""
SKIPPED_SAMPLES_KEY = "skipped_samples"
"""Batch key: the [`SkippedSample`]s behind `num_skipped` (a list)."""
INDEX_KEY = "index"
"""Batch key: the dataset row of each kept item (a `long` tensor), for per-video outputs and de-duplication."""
NON_MODEL_KEYS = (SKIPPED_KEY, SKIPPED_SAMPLES_KEY, INDEX_KEY)
"""Batch keys that are not model inputs."""


class Placeholder(NamedTuple):
    """An item that is no sample: a streaming source's stand-in for a sample consumed before a resume (discarded with
    its batch) or the padding that gives every process as many evaluation batches. The collator drops it silently."""

    reason: str


class VideoDataCollator:
    """
    Builds model batches from the items of this package's datasets, dropping and counting the skipped ones.

    The batch holds `pixel_values` (`[B, T, 3, H, W]`; for clips left encoded, the keys of [`collate_encoded_clips`]
    instead, which the trainer decodes on its device), `input_ids` and `attention_mask` when the items have captions,
    `labels` when they have labels, `index` (the dataset rows) when the items have it, and always `num_skipped`
    (a 0-d `long` tensor) and `skipped_samples` (the [`SkippedSample`]s, refill failures included). The kept items
    keep their order, so row `i` of every tensor belongs to the same sample. When every item was skipped, the
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

    def __call__(self, items: list[dict[str, Any] | SkippedSample | Placeholder]) -> dict[str, Any]:
        if not items:
            raise ValueError(
                "VideoDataCollator was given no items: a batch needs at least one (a sampler or a dataset gave an "
                "empty batch; check its length and batch size)."
            )
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
            _check_same_fields(kept)
            if "jpeg_frames" in kept[0]:  # left encoded: the training process decodes them on its device
                batch.update(collate_encoded_clips(kept))
            else:
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


def _check_same_fields(items: list[dict[str, Any]]) -> None:
    """Refuses a batch whose items do not fit together: some with a caption or a label and some without, or clips of
    different shapes (frame counts or sizes). The message names the field and an item of each kind."""
    for field in ("caption", "labels", "jpeg_frames"):
        having = [position for position, item in enumerate(items) if field in item]
        if having and len(having) < len(items):
            lacking = next(position for position in range(len(items)) if position not in having)
            raise ValueError(
                f"Items of one batch differ in their fields: item {having[0]} has {field!r} and item {lacking} has "
                f"not. Give every item the same fields (all with {field!r}, or all without)."
            )
    if "jpeg_frames" in items[0]:  # encoded clips: their frame counts
        shapes = [(len(item["jpeg_frames"]),) for item in items]
    else:
        shapes = [tuple(item["pixel_values"].shape) for item in items]
    if other := next((position for position, shape in enumerate(shapes) if shape != shapes[0]), None):
        raise ValueError(
            f"Items of one batch have pixel_values of different shapes: item 0 {list(shapes[0])}, item {other} "
            f"{list(shapes[other])} (frames, channels, height, width). Give every item the same num_frames and size."
        )


def record_skipped(
    batch: Mapping[str, Any],
    skipped_log: SkippedSampleLog | None,
    *,
    device: torch.device | str,
    across_processes: bool,
    **context: Any,
) -> int:
    """
    Counts the samples of an evaluation `batch` that could not be read against those read (over every process when
    `across_processes`: a collective), records them in `skipped_log` (with `context`, e.g. `split="eval"`) when one
    is given, and returns how many failed.
    """
    rows = batch["pixel_values"].shape[0] if "pixel_values" in batch else 0
    failures = list(batch.get(SKIPPED_SAMPLES_KEY, ()))
    local_failed = len(failures) if SKIPPED_SAMPLES_KEY in batch else int(batch.get(SKIPPED_KEY, 0))
    counts = torch.tensor([rows + local_failed, local_failed], device=device)
    if across_processes:
        counts = sum_across_processes(counts)
    read, failed = (int(value) for value in counts)
    if skipped_log is not None:
        skipped_log.add(failures, read=read, failed=failed, **context)
    return failed


__all__ = [
    "INDEX_KEY",
    "NON_MODEL_KEYS",
    "SKIPPED_KEY",
    "SKIPPED_SAMPLES_KEY",
    "Placeholder",
    "VideoDataCollator",
    "record_skipped",
]
