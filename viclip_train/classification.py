# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Video classification helpers behind `run_classification.py`: labelled splits (annotation tables or a folder per
class) and their class names, the multi-view evaluation set (temporal clips x spatial crops), batched prediction
gathered across processes, and zero-shot scoring from class-name prompts.
"""

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import torch
from torchvision.transforms import functional as tv_functional
from transformers.utils import logging

from .data import (
    VIDEO_EXTENSIONS,
    SkippedSample,
    VideoDataCollator,
    VideoDataset,
    load_annotations,
    resolve_video_path,
)
from viclip.modeling_viclip import ViCLIPModel
from viclip.pipeline_viclip import ZeroShotVideoClassificationPipeline
from viclip.processing_viclip import ViCLIPProcessor
from viclip.video_decoding_viclip import count_video_frames
from viclip.video_processing_viclip import (
    ViCLIPVideoProcessor,
    read_video_frames,
    resample_to_interpolation,
    sample_frame_indices,
)


logger = logging.get_logger(__name__)


@dataclass
class LabelledSplit:
    """The annotation table of one split, where its videos are and what to call it in messages."""

    annotations: datasets.Dataset
    video_root: str | None
    source: str
    class_names: list[str] | None = None
    """Classes the source itself declares (class folders, a `ClassLabel` feature), if any."""


def load_class_folder(root: str) -> LabelledSplit:
    """
    A split stored as a folder per class, `root/<class name>/<video files>` (sub-folders of a class are searched
    too). Every class folder is a class, even an empty one.

    Raises:
        `FileNotFoundError` / `ValueError`: the folder is missing, has no class folder, or holds no video file.
    """
    root_path = Path(root)
    if not root_path.is_dir():
        raise FileNotFoundError(f"{root} is not a folder; expected <folder>/<class name>/<video files>.")
    classes = sorted(entry.name for entry in root_path.iterdir() if entry.is_dir() and not entry.name.startswith("."))
    if not classes:
        raise ValueError(f"{root} has no class folder; expected {root}/<class name>/<video files>.")
    videos, labels = [], []
    for name in classes:
        for path in sorted((root_path / name).rglob("*")):
            if path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS:
                videos.append(path.relative_to(root_path).as_posix())
                labels.append(name)
    if not videos:
        raise ValueError(f"No video file in the class folders of {root} (looked for {', '.join(VIDEO_EXTENSIONS)}).")
    table = load_annotations(
        datasets.Dataset.from_dict({"video": videos, "label": labels}), caption_column=None, label_column="label"
    )
    return LabelledSplit(table, str(root_path), root, class_names=classes)


def read_label_names(path: str) -> list[str]:
    """Class names from a text file (one per line, blank lines ignored) or a JSON list."""
    text = Path(path).read_text(encoding="utf-8")
    if path.lower().endswith(".json"):
        names = json.loads(text)
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise ValueError(f"{path} must hold a JSON list of class names.")
    else:
        names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise ValueError(f"{path} lists no class.")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"{path} lists the classes {duplicates[:10]} more than once.")
    return names


def resolve_class_names(split: LabelledSplit, label_names_file: str | None) -> list[str]:
    """
    The classes, in id order: `label_names_file`; else what `split` declares (class folders, `ClassLabel` names);
    else its sorted text labels, or for integer labels `"0"`, `"1"`, ... up to the largest id.
    """
    if label_names_file:
        return read_label_names(label_names_file)
    if split.class_names:
        return list(split.class_names)
    values = set(split.annotations["label"])
    if None in values:
        raise ValueError(f"{split.source} has rows without a label in {split.annotations.column_names}.")
    if all(isinstance(value, str) for value in values):
        return sorted(values)
    if all(isinstance(value, int) for value in values):
        return [str(index) for index in range(max(values) + 1)]
    raise ValueError(f"{split.source} mixes class names and integer ids; use one or the other.")


def check_labels(split: LabelledSplit, class_names: Sequence[str], what: str, unseen_hint: str) -> None:
    """Raises a `ValueError` naming the source when `split` holds labels outside `class_names`."""
    label2id = {name: index for index, name in enumerate(class_names)}
    unknown = set()
    for value in split.annotations["label"]:
        if value is None:
            raise ValueError(f"{split.source}: a row of the {what} set has no label.")
        if isinstance(value, str) and value not in label2id:
            unknown.add(value)
        elif isinstance(value, int) and not 0 <= value < len(class_names):
            unknown.add(value)
    if unknown:
        shown = sorted(unknown, key=str)[:10]
        raise ValueError(
            f"{split.source}: the {what} set has labels {shown}{' ...' if len(unknown) > 10 else ''} outside the "
            f"{len(class_names)} classes {list(class_names)[:10]}{' ...' if len(class_names) > 10 else ''}. "
            f"{unseen_hint}"
        )


def warn_classes_without_examples(split: LabelledSplit, class_names: Sequence[str]) -> list[str]:
    """Logs a warning listing the classes that have no training example; returns them."""
    seen = {value if isinstance(value, str) else class_names[value] for value in split.annotations["label"]}
    missing = [name for name in class_names if name not in seen]
    if missing:
        logger.warning(
            f"{len(missing)} of the {len(class_names)} classes have no training example in {split.source}: "
            f"{missing[:20]}{' ...' if len(missing) > 20 else ''}. The classifier can hardly predict them."
        )
    return missing


def temporal_view_frames(
    path: str | os.PathLike, num_frames: int, num_clips: int, backend: str | None = None
) -> np.ndarray:
    """
    The frames of `num_clips` temporal views of a video, `[num_clips, num_frames, H, W, 3]` uint8.

    The video's `L` frames are cut into `num_clips` consecutive windows at `edges = linspace(0, L, num_clips + 1)`
    (as integers); each window gives `num_frames` frames at the middle of `num_frames` equal segments (the reference's
    rule, its last frame repeated when the window is shorter). When `L >= num_clips * num_frames` this is read in one
    pass as the `num_clips * num_frames` segment middles of the whole video, cut into `num_clips` groups.
    """
    total = num_clips * num_frames
    length = count_video_frames(path, backend)
    if length >= total:
        frames = read_video_frames(path, num_frames=total, sampling="middle", backend=backend)
        return frames.reshape(num_clips, num_frames, *frames.shape[1:])
    every_frame = read_video_frames(path, num_frames=length, sampling="middle", backend=backend)
    edges = np.linspace(0, length, num_clips + 1).astype(int)
    views = []
    for start, stop in zip(edges[:-1], edges[1:], strict=True):
        stop = max(stop, start + 1)
        views.append(every_frame[start + sample_frame_indices(stop - start, num_frames, "middle")])
    return np.stack(views)


def spatial_crops(
    frames: torch.Tensor, height: int, width: int, num_crops: int, interpolation: Any
) -> list[torch.Tensor]:
    """
    `num_crops` crops of `height x width` from `frames` `[..., 3, H, W]` (uint8): the frames are first resized, aspect
    kept, to the smallest size covering `height x width` (bicubic, antialiased, as the evaluation resize), then the
    crops are taken evenly spaced along the axis with room left (both ends and, for 3, the centre).
    """
    source_height, source_width = frames.shape[-2:]
    scale = max(height / source_height, width / source_width)
    resized_height = max(height, round(source_height * scale))
    resized_width = max(width, round(source_width * scale))
    leading = frames.shape[:-3]
    frames = tv_functional.resize(
        frames.reshape(-1, *frames.shape[-3:]), [resized_height, resized_width], interpolation, antialias=True
    ).reshape(*leading, frames.shape[-3], resized_height, resized_width)
    tops = np.linspace(0, resized_height - height, num_crops).round().astype(int)
    lefts = np.linspace(0, resized_width - width, num_crops).round().astype(int)
    return [frames[..., top : top + height, left : left + width] for top, left in zip(tops, lefts, strict=True)]


class EvaluationVideoDataset(VideoDataset):
    """
    The evaluation set: each item holds `pixel_values` of shape `[views, T, 3, H, W]` with
    `views = num_clips * num_crops` (clip-major), its `labels`, and `index` (its annotation row), or a
    [`SkippedSample`] when the video cannot be read.

    One view (the default) is exactly [`VideoDataset`]'s evaluation item: `T` frames at the middle of equal segments,
    resized to the processor's size. Several clips follow [`temporal_view_frames`], several crops
    [`spatial_crops`]; rescaling and normalisation are the processor's in every case.
    """

    def __init__(
        self,
        annotations: datasets.Dataset,
        video_processor: ViCLIPVideoProcessor,
        *,
        num_clips: int = 1,
        num_crops: int = 1,
        **kwargs: Any,
    ):
        super().__init__(annotations, video_processor, train=False, **kwargs)
        self.num_clips = num_clips
        self.num_crops = num_crops
        if num_clips > 1 and any(start is not None for start in annotations["start"]):
            raise ValueError(
                "--eval_num_clips > 1 reads whole videos, but these annotations select clip windows (start / end); "
                "evaluate them with one clip."
            )

    def __getitem__(self, index: int) -> dict[str, Any] | SkippedSample:
        if self.num_clips == 1 and self.num_crops == 1:
            item = super().__getitem__(index)
            if isinstance(item, SkippedSample):
                return item
            return {**item, "pixel_values": item["pixel_values"].unsqueeze(0), "index": index}
        row = self.annotations[index]
        path = None
        try:
            path = resolve_video_path(row["video"], self.video_root)
            frames = temporal_view_frames(path, self.num_frames, self.num_clips, self.video_backend)
        except (OSError, ValueError, RuntimeError) as error:
            where = str(path) if path is not None else os.path.join(self.video_root or "", row["video"])
            logger.warning(f"Skipping annotation {index} ({where}): {error}")
            return SkippedSample(index=index, video=where, reason=str(error))
        processor = self.video_processor
        clips = torch.from_numpy(frames).permute(0, 1, 4, 2, 3)  # [clips, T, 3, H, W]
        if self.num_crops == 1:
            views = list(clips)
            process = {}
        else:
            interpolation = resample_to_interpolation(processor.resample)
            crops = spatial_crops(
                clips, processor.size["height"], processor.size["width"], self.num_crops, interpolation
            )
            views = [crop[clip] for clip in range(self.num_clips) for crop in crops]
            process = {"do_resize": False}
        pixel_values = processor(
            views, do_sample_frames=False, input_data_format="channels_first", return_tensors="pt", **process
        )["pixel_values"]
        item = {"pixel_values": pixel_values, "index": index}
        if row["label"] is not None:
            item["labels"] = self.label2id[row["label"]] if isinstance(row["label"], str) else row["label"]
        return item


class IndexedVideoDataCollator:
    """[`VideoDataCollator`] batches plus `index`, the annotation rows of the kept items, for per-video outputs."""

    def __init__(self, collator: VideoDataCollator):
        self.collator = collator

    def __call__(self, items: list[dict[str, Any] | SkippedSample]) -> dict[str, torch.Tensor]:
        batch = self.collator(items)
        batch["index"] = torch.tensor([item["index"] for item in items if not isinstance(item, SkippedSample)])
        return batch


def _gather_rows(outputs: dict[str, torch.Tensor], accelerator: Any) -> dict[str, torch.Tensor]:
    """Concatenates per-process rows over processes. Processes may hold different numbers of rows (skipped videos):
    rows are padded to the largest count, gathered, and the padding dropped."""
    rows = next(iter(outputs.values())).shape[0]
    outputs = {**outputs, "valid": torch.ones(rows, dtype=torch.bool, device=outputs["index"].device)}
    if accelerator is None or accelerator.num_processes == 1:
        return outputs
    most = int(accelerator.gather(torch.tensor([rows], device=accelerator.device)).max())
    padded = {
        name: torch.cat([value, value.new_zeros((most - rows, *value.shape[1:]))]).to(accelerator.device)
        for name, value in outputs.items()
    }
    gathered = accelerator.gather(padded)
    valid = gathered.pop("valid")
    return {name: value[valid] for name, value in gathered.items()}


@torch.no_grad()
def predict(
    score: Callable[[torch.Tensor], torch.Tensor],
    batches: Any,
    *,
    device: torch.device,
    dtype: torch.dtype,
    accelerator: Any = None,
) -> dict[str, Any]:
    """
    Class scores of every video of an evaluation DataLoader (over [`EvaluationVideoDataset`] items), averaged over
    its views.

    Args:
        score: maps `pixel_values` `[N, T, 3, H, W]` to class scores `[N, num_classes]` (classifier logits, or scaled
            zero-shot similarities).
        batches: batches of [`IndexedVideoDataCollator`].
        device, dtype: where and in which dtype the model takes `pixel_values`.
        accelerator (`accelerate.Accelerator`, *optional*): gathers the results of every process (the DataLoader
            being sharded); each video is kept once, even where the sampler repeated some to even out processes.

    Returns:
        `dict` with `logits` `[videos, classes]` (float32), `labels` and `index` (annotation rows), and `num_skipped`
        (videos that could not be read, summed over processes).
    """
    logits, labels, indices, skipped = [], [], [], 0
    for batch in batches:
        pixel_values = batch["pixel_values"].to(device=device, dtype=dtype)
        videos, views = pixel_values.shape[:2]
        scores = score(pixel_values.flatten(0, 1)).float().view(videos, views, -1).mean(dim=1)
        outputs = {"logits": scores, "labels": batch["labels"].to(device), "index": batch["index"].to(device)}
        outputs = _gather_rows(outputs, accelerator)
        outputs.pop("valid")
        logits.append(outputs["logits"].cpu())
        labels.append(outputs["labels"].cpu())
        indices.append(outputs["index"].cpu())
        skipped_here = batch["num_skipped"].to(device)
        skipped += (
            int(accelerator.reduce(skipped_here, reduction="sum")) if accelerator is not None else int(skipped_here)
        )
    if not logits:
        raise ValueError("The evaluation set is empty.")
    logits, labels, indices = torch.cat(logits), torch.cat(labels), torch.cat(indices)
    # keep the first occurrence of each row: a distributed sampler repeats a few to give every process full batches
    order = torch.argsort(indices, stable=True)
    first = torch.ones_like(order, dtype=torch.bool)
    first[1:] = indices[order][1:] != indices[order][:-1]
    keep = order[first]
    return {"logits": logits[keep], "labels": labels[keep], "index": indices[keep], "num_skipped": skipped}


def zero_shot_scorer(
    model: ViCLIPModel, processor: ViCLIPProcessor, prompts: Sequence[str], templates: Sequence[str]
) -> Callable[[torch.Tensor], torch.Tensor]:
    """
    A `score` function for [`predict`]: `exp(logit_scale)` times the mean cosine similarity of each video with the
    prompts of each class. The class embeddings are computed here, once, by the zero-shot pipeline's
    `embed_labels` (template-averaged normalised text embeddings).
    """
    pipe = ZeroShotVideoClassificationPipeline(model=model, processor=processor, device=model.device)
    label_embeds = pipe.embed_labels(list(prompts), list(templates)).to(model.device)
    logit_scale = model.clamped_logit_scale().float()

    def score(pixel_values: torch.Tensor) -> torch.Tensor:
        video_embeds = model.get_video_features(pixel_values=pixel_values).pooler_output
        return logit_scale * torch.nn.functional.normalize(video_embeds.float(), dim=-1) @ label_embeds.T

    return score


__all__ = [
    "EvaluationVideoDataset",
    "IndexedVideoDataCollator",
    "LabelledSplit",
    "check_labels",
    "count_video_frames",
    "load_class_folder",
    "predict",
    "read_label_names",
    "resolve_class_names",
    "spatial_crops",
    "temporal_view_frames",
    "warn_classes_without_examples",
    "zero_shot_scorer",
]
