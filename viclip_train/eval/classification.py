# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Video classification helpers behind `run_classification.py` and `run_zero_shot.py`: class names and label checks,
the multi-view evaluation set (temporal clips x spatial crops), batched prediction gathered across processes, the
top-k metric and the predictions file, zero-shot scoring from class-name prompts, and building the classifier.
"""

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import evaluate
import numpy as np
import torch
from torchvision.transforms import functional as tv_functional
from transformers.utils import logging

from viclip.configuration_viclip import ViCLIPConfig
from viclip.modeling_viclip import ViCLIPModel
from viclip.pipeline_viclip import embed_label_prompts
from viclip.processing_viclip import ViCLIPProcessor
from viclip.video_decoding_viclip import count_video_frames
from viclip.video_processing_viclip import (
    ViCLIPVideoProcessor,
    read_video_frames,
    resample_to_interpolation,
    sample_frame_indices,
)

from ..data.annotation_dataset import INDEX_KEY, SKIPPED_SAMPLES_KEY, VideoDataset
from ..data.annotations import AnnotationSplit
from ..data.skipping import SkippedSampleLog
from ..distributed import first_occurrences, gather_rows


logger = logging.get_logger(__name__)

TOP_K = (1, 5)
TOP_K_METRIC_PATH = str(Path(__file__).resolve().parents[2] / "metrics" / "top_k_accuracy")
"""The `evaluate` module computing top-k accuracy. An absolute path: `evaluate.load` reads a local folder offline,
while a relative path that does not resolve from the current directory would be looked up on the Hub."""
PREDICTIONS_FILE = "eval_predictions.jsonl"
MAX_CLASSES_FROM_INTEGER_LABELS = 100_000
"""Integer labels without class names make the classes `0..max(label)`; more than this many is refused (a stray id
such as 10**8 would otherwise build that many class names)."""


def read_label_names(path: str) -> list[str]:
    """Class names from a text file (one per line, blank lines ignored) or a JSON list."""
    is_json = path.lower().endswith(".json")
    try:
        text = Path(path).read_text(encoding="utf-8")
        names = json.loads(text) if is_json else [line.strip() for line in text.splitlines() if line.strip()]
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not a UTF-8 list of class names ({error}).") from None
    if is_json and (not isinstance(names, list) or not all(isinstance(name, str) for name in names)):
        raise ValueError(f"{path} must hold a JSON list of class names.")
    if not names:
        raise ValueError(f"{path} lists no class.")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"{path} lists the classes {duplicates[:10]} more than once.")
    return names


def resolve_class_names(split: AnnotationSplit, label_names_file: str | None) -> list[str]:
    """
    The classes, in id order: `label_names_file`; else what `split` declares (class folders, `ClassLabel` names);
    else its sorted text labels, or for integer labels `"0"`, `"1"`, ... up to the largest id (at most
    [`MAX_CLASSES_FROM_INTEGER_LABELS`] classes: a larger id is an error naming its row).
    """
    if label_names_file:
        return read_label_names(label_names_file)
    if split.class_names:
        return list(split.class_names)
    values = split.annotations["label"]
    kinds = {type(value) for value in values}
    if type(None) in kinds:
        row = values.index(None)
        raise ValueError(f"{split.source}, entry {row}: the row has no label.")
    if kinds == {str}:
        return sorted(set(values))
    if kinds == {int}:
        ids = np.asarray(values)
        row = int(ids.argmax())
        if ids[row] >= MAX_CLASSES_FROM_INTEGER_LABELS:
            raise ValueError(
                f"{split.source}, entry {row}: the label {ids[row]} would make the classes 0..{ids[row]}, "
                f"{ids[row] + 1:,} classes for {len(np.unique(ids)):,} distinct labels. Integer labels are class "
                "ids counted from 0: renumber them, or name the classes with --label_names_file (the ids then "
                "index into it)."
            )
        return [str(index) for index in range(int(ids[row]) + 1)]
    raise ValueError(f"{split.source} mixes class names and integer ids; use one or the other.")


def check_labels(split: AnnotationSplit, class_names: Sequence[str], what: str, unseen_hint: str) -> None:
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


def warn_classes_without_examples(split: AnnotationSplit, class_names: Sequence[str]) -> list[str]:
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
    [`SkippedSample`] when the video cannot be read (decided where [`VideoDataset`] decides it).

    One view (the default) is exactly [`VideoDataset`]'s evaluation item: `T` frames at the middle of equal segments,
    resized to the processor's size. Several clips follow [`temporal_view_frames`], several crops
    [`spatial_crops`]; rescaling and normalisation are the processor's in every case.
    """

    def __init__(
        self,
        annotations: Any,
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

    def read_frames(self, path: str | os.PathLike, window: Any, rng: Any) -> np.ndarray:
        """`[clips, T, H, W, 3]` uint8: the temporal views of the video (one view: its evaluation clip)."""
        if self.num_clips == 1:
            return super().read_frames(path, window, rng)[None]
        return temporal_view_frames(path, self.num_frames, self.num_clips, self.video_backend)

    def process_frames(self, frames: np.ndarray, rng: Any) -> torch.Tensor:
        """`[views, T, 3, H, W]`: every clip, cut into `num_crops` crops (or whole), through the processor."""
        processor = self.video_processor
        if self.num_crops == 1:
            return processor(list(frames), do_sample_frames=False, return_tensors="pt")["pixel_values"]
        clips = torch.from_numpy(frames).permute(0, 1, 4, 2, 3)  # [clips, T, 3, H, W]
        interpolation = resample_to_interpolation(processor.resample)
        crops = spatial_crops(clips, processor.size["height"], processor.size["width"], self.num_crops, interpolation)
        views = [crop[clip] for clip in range(len(clips)) for crop in crops]
        return processor(
            views, do_sample_frames=False, input_data_format="channels_first", do_resize=False, return_tensors="pt"
        )["pixel_values"]


@torch.no_grad()
def predict(
    score: Callable[[torch.Tensor], torch.Tensor],
    batches: Any,
    *,
    device: torch.device,
    dtype: torch.dtype,
    accelerator: Any = None,
    num_classes: int | None = None,
    skipped_log: SkippedSampleLog | None = None,
) -> dict[str, Any]:
    """
    Class scores of every video of an evaluation DataLoader (over [`EvaluationVideoDataset`] items), averaged over
    its views.

    Args:
        score: maps `pixel_values` `[N, T, 3, H, W]` to class scores `[N, num_classes]` (classifier logits, or scaled
            zero-shot similarities).
        batches: batches of [`VideoDataCollator`] (with `index`).
        device, dtype: where and in which dtype the model takes `pixel_values`.
        accelerator (`accelerate.Accelerator`, *optional*): gathers the results of every process (the DataLoader
            being sharded); each video is kept once, even where the sampler repeated some to even out processes.
        num_classes (`int`, *optional*): the width of the scores; needed when a process has a batch with no readable
            video while others gather.
        skipped_log ([`SkippedSampleLog`], *optional*): records the skipped videos and stops when too many fail.

    Returns:
        `dict` with `logits` `[videos, classes]` (float32), `labels` and `index` (annotation rows), and `num_skipped`
        (videos that could not be read, summed over processes).
    """
    sharded = accelerator is not None and accelerator.num_processes > 1
    collected = {"logits": [], "labels": [], INDEX_KEY: []}
    skipped = 0
    for batch in batches:
        rows = batch["pixel_values"].shape[0] if "pixel_values" in batch else 0
        failures = list(batch.get(SKIPPED_SAMPLES_KEY, ()))
        local_failed = len(failures) if SKIPPED_SAMPLES_KEY in batch else int(batch.get("num_skipped", 0))
        counts = torch.tensor([rows + local_failed, local_failed], device=device)
        if sharded:
            counts = accelerator.reduce(counts, reduction="sum")
        read, failed = (int(value) for value in counts)
        skipped += failed
        if skipped_log is not None:
            skipped_log.add(failures, read=read, failed=failed, split="eval")
        if rows:
            pixel_values = batch["pixel_values"].to(device=device, dtype=dtype)
            videos, views = pixel_values.shape[:2]
            scores = score(pixel_values.flatten(0, 1)).float().view(videos, views, -1).mean(dim=1)
            outputs = {"logits": scores, "labels": batch["labels"].to(device), INDEX_KEY: batch[INDEX_KEY].to(device)}
        elif sharded:  # nothing readable here, but the other processes gather
            if num_classes is None:
                raise ValueError("predict needs num_classes when a process has a batch without a readable video.")
            outputs = {
                "logits": torch.zeros(0, num_classes, device=device),
                "labels": torch.zeros(0, dtype=torch.long, device=device),
                INDEX_KEY: torch.zeros(0, dtype=torch.long, device=device),
            }
        else:
            continue
        outputs = gather_rows(outputs, accelerator.gather if sharded else None)
        for name, value in outputs.items():
            collected[name].append(value.cpu())
    if skipped_log is not None:
        skipped_log.finish()
    if not collected["logits"] or not sum(len(logits) for logits in collected["logits"]):
        raise ValueError("The evaluation set has no readable video.")
    logits, labels, indices = (torch.cat(collected[name]) for name in ("logits", "labels", INDEX_KEY))
    keep = first_occurrences(indices)  # a distributed sampler repeats a few rows to give every process full batches
    return {"logits": logits[keep], "labels": labels[keep], "index": indices[keep], "num_skipped": skipped}


def load_top_k_metric() -> evaluate.EvaluationModule:
    """The project's top-k accuracy module, from its local folder (offline), kept in memory."""
    return evaluate.load(TOP_K_METRIC_PATH, keep_in_memory=True)


def top_k_accuracy(metric: evaluate.EvaluationModule, logits: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """`{"top1": ..., "top5": ...}` in percent."""
    return metric.compute(predictions=logits.float().tolist(), references=labels.tolist(), k=list(TOP_K))


def write_predictions(
    path: str | os.PathLike, outputs: Mapping[str, Any], annotations: Any, class_names: Sequence[str]
) -> None:
    """One JSON line per evaluated video: `video`, `label`, `prediction`, and the top-5 classes with their softmax
    probabilities."""
    probabilities = outputs["logits"].softmax(dim=-1)
    top = probabilities.topk(min(max(TOP_K), probabilities.shape[1]), dim=-1)
    with open(path, "w", encoding="utf-8") as handle:
        for row, label, classes, scores in zip(
            outputs["index"].tolist(), outputs["labels"].tolist(), top.indices.tolist(), top.values.tolist(),
            strict=True,
        ):  # fmt: skip
            record = {
                "video": annotations[row]["video"],
                "label": class_names[label],
                "prediction": class_names[classes[0]],
                "top5": [class_names[c] for c in classes],
                "top5_scores": [round(s, 6) for s in scores],
            }
            handle.write(json.dumps(record) + "\n")


def evaluate_classification(
    trainer: Any,
    dataset: EvaluationVideoDataset,
    score: Callable[[torch.Tensor], torch.Tensor],
    class_names: Sequence[str],
    save_predictions: bool = False,
) -> dict[str, float]:
    """
    Scores every video of `dataset` with `score` through the trainer's evaluation DataLoader (sharded over its
    processes) and returns `top1`, `top5` (percent), `samples` and `skipped_videos`; writes [`PREDICTIONS_FILE`] to
    the output folder when `save_predictions`. For `ViCLIPTrainer(evaluation=...)`.
    """
    loader = trainer.get_eval_dataloader(dataset)
    model = trainer.model
    parameter = next(model.parameters())
    was_training = model.training
    model.eval()
    try:
        with trainer.autocast_smart_context_manager():
            outputs = predict(
                score,
                loader,
                device=parameter.device,
                dtype=parameter.dtype,
                accelerator=trainer.accelerator,
                num_classes=len(class_names),
                skipped_log=trainer.new_skipped_log(),
            )
    finally:
        model.train(was_training)
    metrics = top_k_accuracy(load_top_k_metric(), outputs["logits"], outputs["labels"])
    metrics["samples"] = int(len(outputs["labels"]))
    metrics["skipped_videos"] = int(outputs["num_skipped"])
    if outputs["num_skipped"]:
        logger.warning(f"{outputs['num_skipped']} evaluation video(s) could not be read and are not counted.")
    if save_predictions and trainer.is_world_process_zero():
        path = os.path.join(trainer.args.output_dir, PREDICTIONS_FILE)
        write_predictions(path, outputs, dataset.annotations, class_names)
        logger.info(f"Wrote the predictions of {len(outputs['labels'])} videos to {path}")
    return metrics


def _has_label_names(config: ViCLIPConfig) -> bool:
    """Whether `config` names its classes (not the default `LABEL_0`, `LABEL_1`, ...)."""
    return bool(config.id2label) and any(name != f"LABEL_{i}" for i, name in config.id2label.items())


def label_fields(class_names: Sequence[str]) -> dict[str, Any]:
    """The config fields naming `class_names` in id order."""
    return {
        "num_labels": len(class_names),
        "id2label": dict(enumerate(class_names)),
        "label2id": {name: index for index, name in enumerate(class_names)},
    }


def class_names_of(config: ViCLIPConfig, source: str) -> list[str]:
    """The class names a fine-tuned classifier's config declares, in id order."""
    if not _has_label_names(config):
        raise ValueError(
            f"{source} has no class names in its config (id2label): evaluate a classifier fine-tuned by "
            "run_classification.py, or fine-tune with --do_train."
        )
    return [config.id2label[i] for i in range(config.num_labels)]


def keep_class_order(config: ViCLIPConfig, class_names: Sequence[str]) -> list[str]:
    """`class_names`, in the order of `config`'s classes when it is a classifier of the same classes (so that its
    head keeps meaning the same), else as given."""
    if _has_label_names(config) and sorted(config.id2label.values()) == sorted(class_names):
        return [config.id2label[i] for i in range(len(class_names))]
    return list(class_names)


def zero_shot_scorer(
    model: ViCLIPModel, processor: ViCLIPProcessor, prompts: Sequence[str], templates: Sequence[str]
) -> Callable[[torch.Tensor], torch.Tensor]:
    """
    A `score` function for [`predict`]: `exp(logit_scale)` times the mean cosine similarity of each video with the
    prompts of each class. The class embeddings are computed here, once, by
    [`~viclip.pipeline_viclip.embed_label_prompts`] (template-averaged normalised text embeddings), as the zero-shot
    pipeline computes them.
    """
    label_embeds = embed_label_prompts(model, processor, list(prompts), list(templates)).to(model.device)
    logit_scale = model.clamped_logit_scale().float()

    def score(pixel_values: torch.Tensor) -> torch.Tensor:
        video_embeds = model.get_video_features(pixel_values=pixel_values).pooler_output
        return logit_scale * torch.nn.functional.normalize(video_embeds.float(), dim=-1) @ label_embeds.T

    return score


__all__ = [
    "MAX_CLASSES_FROM_INTEGER_LABELS",
    "PREDICTIONS_FILE",
    "TOP_K",
    "TOP_K_METRIC_PATH",
    "EvaluationVideoDataset",
    "check_labels",
    "class_names_of",
    "evaluate_classification",
    "keep_class_order",
    "label_fields",
    "load_top_k_metric",
    "predict",
    "read_label_names",
    "resolve_class_names",
    "spatial_crops",
    "temporal_view_frames",
    "top_k_accuracy",
    "warn_classes_without_examples",
    "write_predictions",
    "zero_shot_scorer",
]
