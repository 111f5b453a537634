# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Video classification helpers behind `run_classification.py` and `run_zero_shot.py`: class names and label checks,
batched prediction over the multi-view evaluation set ([`EvaluationVideoDataset`]) gathered across processes, the
top-k metric and the predictions file, zero-shot scoring from class-name prompts, and the classifier's label fields.
"""

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import evaluate
import numpy as np
import torch
from transformers.utils import logging

from viclip.configuration_viclip import ViCLIPConfig
from viclip.modeling_viclip import ViCLIPModel
from viclip.pipeline_viclip import embed_label_prompts, embed_videos
from viclip.processing_viclip import ViCLIPProcessor

from ..data.collator import INDEX_KEY, record_skipped
from ..data.evaluation_views import EvaluationVideoDataset
from ..data.skipping import SkippedSampleLog
from ..data.sources import AnnotationSplit
from ..distributed import first_occurrences, gather_rows, is_distributed


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


@torch.no_grad()
def predict(
    score: Callable[[torch.Tensor], torch.Tensor],
    batches: Any,
    *,
    device: torch.device,
    dtype: torch.dtype,
    across_processes: bool = False,
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
        across_processes (`bool`, defaults to `False`): gather the results of every process (the DataLoader being
            sharded); each video is kept once, even where the sampler repeated some to even out processes.
        num_classes (`int`, *optional*): the width of the scores; needed when a process has a batch with no readable
            video while others gather.
        skipped_log ([`SkippedSampleLog`], *optional*): records the skipped videos and stops when too many fail.

    Returns:
        `dict` with `logits` `[videos, classes]` (float32), `labels` and `index` (annotation rows), and `num_skipped`
        (videos that could not be read, summed over processes).
    """
    sharded = across_processes and is_distributed()
    collected = {"logits": [], "labels": [], INDEX_KEY: []}
    skipped = 0
    for batch in batches:
        skipped += record_skipped(batch, skipped_log, device=device, across_processes=sharded, split="eval")
        if "pixel_values" in batch and len(batch["pixel_values"]):
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
        outputs = gather_rows(outputs) if sharded else outputs
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
                across_processes=True,
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
    [`~viclip.pipeline_viclip.embed_label_prompts`] (the mean of each class's normalised prompt embeddings, not
    normalised again: its norm is below 1 with several templates), and the videos
    by [`~viclip.pipeline_viclip.embed_videos`], as the zero-shot pipeline computes both.
    """
    label_embeds = embed_label_prompts(model, processor, list(prompts), list(templates)).to(model.device)
    logit_scale = model.clamped_logit_scale().float()

    def score(pixel_values: torch.Tensor) -> torch.Tensor:
        return logit_scale * embed_videos(model, pixel_values) @ label_embeds.T

    return score


__all__ = [
    "MAX_CLASSES_FROM_INTEGER_LABELS",
    "PREDICTIONS_FILE",
    "TOP_K",
    "TOP_K_METRIC_PATH",
    "check_labels",
    "class_names_of",
    "evaluate_classification",
    "keep_class_order",
    "label_fields",
    "load_top_k_metric",
    "predict",
    "read_label_names",
    "resolve_class_names",
    "top_k_accuracy",
    "warn_classes_without_examples",
    "write_predictions",
    "zero_shot_scorer",
]
