#!/usr/bin/env python
# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Video classification with ViCLIP: fine-tuning with the transformers Trainer, and zero-shot evaluation.

    python run_classification.py configs/demo_classification.json   # the embedded demo: fine-tunes on the CPU
    python run_classification.py configs/demo_zero_shot.json        # zero-shot evaluation of the pretraining demo
    python run_classification.py --model_name_or_path VICLIP_DIR --train_file train.csv --validation_file val.csv \
        --video_root videos/ --output_dir out --do_train --do_eval --bf16 --per_device_train_batch_size 32 ...
    python run_classification.py --zero_shot --model_name_or_path VICLIP_DIR --validation_file k400_val.csv \
        --video_root videos/ --output_dir out

Fine-tuning trains `ViCLIPForVideoClassification` (the ViCLIP video tower, its projection and a new linear
classifier) and saves a Hub-ready folder: model with its `id2label` / `label2id`, processor, remote code and a model
card whose `model-index` holds the validation top-1 / top-5; `pipeline("video-classification", model=folder)` runs it.
Zero-shot evaluation (`--zero_shot`) scores a `ViCLIPModel` against text prompts built from the class names, as the
reference's Kinetics evaluation (spec §9), and trains nothing.

Data, one of:
  * `--train_file` / `--validation_file`: `.csv`, `.json` or `.jsonl` rows with a video path (`--video_column`,
    relative to `--video_root`) and a class (`--label_column`: a name, or an integer id);
  * `--train_dir` / `--validation_dir`: a folder per class, `<dir>/<class name>/<video files>`;
  * `--dataset_name`: any `datasets` dataset (Hub id or `save_to_disk` folder) with those columns;
  * `--synthetic_corpus_dir`: the package's synthetic moving-shapes corpus, labelled by direction.

Classes and their ids, from the first that applies: `--label_names_file`; the class folders of `--train_dir`; the
`ClassLabel` names of a `datasets` label column; the sorted training labels (integer labels keep their ids). A class
without any training example is warned about; an evaluation label outside the classes is an error.

Evaluation (`--do_eval`, or `--zero_shot`) writes `eval_results.json` with `eval_top1` and `eval_top5` (percent;
`eval_zero_shot_top1`, `eval_zero_shot_top5` and `eval_zero_shot_avg` with `--zero_shot`), computed by the `evaluate`
module in `metrics/top_k_accuracy` (loaded from its local path, offline). By default each video is one view:
`num_frames` frames at the middle of equal segments, each resized to the model's input size (the reference's
evaluation transform).
`--eval_num_clips` / `--eval_num_crops` average the logits of several views; see `EvaluationArguments`.

Arguments come from the command line, or from a JSON file given as the first argument whose values later flags
override; `--help` lists them all, the Trainer's own (`TrainingArguments`) included. Rerunning an interrupted
fine-tuning command resumes from the latest checkpoint in `--output_dir`.
"""

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import datasets
import evaluate
import torch
import transformers
from huggingface_hub import ModelCard
from transformers import EvalPrediction, HfArgumentParser, TrainingArguments, set_seed

from viclip import (
    ViCLIPConfig,
    ViCLIPForVideoClassification,
    ViCLIPModel,
)
from viclip_train.data import (
    VideoDataCollator,
    VideoDataset,
    load_annotations,
)
from viclip_train.model_card import (
    CLASSIFIER_PIPELINE_TAG,
    build_model_card,
    classification_eval_results,
    classifier_classification_section,
    display_name,
    hub_repo_id,
    save_model_card,
    trained_weights_license,
    usage_model_id,
    video_classifier_usage,
)
from viclip.pipeline_viclip import resolve_templates
from viclip_train.synthetic import make_synthetic_corpus
from viclip_train.classification import (
    EvaluationVideoDataset,
    IndexedVideoDataCollator,
    LabelledSplit,
    check_labels,
    load_class_folder,
    predict,
    resolve_class_names,
    warn_classes_without_examples,
    zero_shot_scorer,
)
from viclip_train.trainer import (
    ViCLIPTrainer,
    end_distributed_run,
    load_processor,
    parse_arguments_with_json,
    publish_folder,
    resolve_resume_checkpoint,
)

logger = logging.getLogger(__name__)

TOP_K_METRIC_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "metrics", "top_k_accuracy")
"""The `evaluate` module computing top-k accuracy. An absolute path: `evaluate.load` reads a local folder offline,
while a relative path that does not resolve from the current directory would be looked up on the Hub."""
TOP_K = (1, 5)
PREDICTIONS_FILE = "eval_predictions.jsonl"


@dataclass
class ModelArguments:
    """Where the model starts from."""

    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "A ViCLIP folder or Hub id. For fine-tuning: a ViCLIPModel (a converted checkpoint or the output "
            "of run_pretrain.py; the classifier starts new) or a ViCLIPForVideoClassification to continue. With "
            "--zero_shot: the ViCLIPModel to evaluate."
        },
    )
    config_name: str | None = field(
        default=None,
        metadata={
            "help": "Random initialisation from a preset name (viclip-b16, viclip-l14) or a config.json path, when "
            "--model_name_or_path is not given (the demo does this so that it runs without a pretrained model)."
        },
    )
    config_overrides: str | None = field(
        default=None,
        metadata={
            "help": 'JSON of config fields to override, e.g. \'{"vision_config": {"drop_path_rate": 0.1}}\'; in a '
            "JSON config file, an object."
        },
    )
    ignore_mismatched_sizes: bool = field(
        default=False,
        metadata={
            "help": "Start a new classifier when --model_name_or_path is a classifier trained on another number of "
            "classes (its head is dropped)."
        },
    )
    attn_implementation: str = field(
        default="sdpa", metadata={"help": "Attention backend: sdpa, eager or flash_attention_2 (CUDA, flash-attn)."}
    )
    card_license: str | None = field(
        default=None,
        metadata={
            "help": "Hub licence id of the fine-tuned weights (e.g. mit, apache-2.0), written in the model card. "
            "Default: the licence declared by the card of the local folder --model_name_or_path; otherwise none, "
            "and the card says the licence is unknown."
        },
    )


@dataclass
class DataArguments:
    """What to train and evaluate on."""

    train_file: str | None = field(
        default=None, metadata={"help": "Training annotations: .csv, .json or .jsonl rows with a video and a label."}
    )
    validation_file: str | None = field(default=None, metadata={"help": "Evaluation annotations, same formats."})
    train_dir: str | None = field(
        default=None,
        metadata={"help": "Instead of --train_file: a folder per class, <train_dir>/<class name>/<video files>."},
    )
    validation_dir: str | None = field(
        default=None, metadata={"help": "Instead of --validation_file: a folder per class, as --train_dir."}
    )
    dataset_name: str | None = field(
        default=None,
        metadata={"help": "Instead of files: a `datasets` dataset (Hub id, or a folder saved with save_to_disk)."},
    )
    dataset_config_name: str | None = field(default=None, metadata={"help": "Configuration of --dataset_name."})
    train_split: str = field(default="train", metadata={"help": "LabelledSplit of --dataset_name to train on."})
    validation_split: str | None = field(
        default="validation", metadata={"help": "LabelledSplit of --dataset_name to evaluate on."}
    )
    video_root: str | None = field(
        default=None,
        metadata={"help": "Folder the annotations' video paths are relative to (not used with --train_dir)."},
    )
    video_column: str = field(default="video", metadata={"help": "Annotation column of the video paths."})
    label_column: str = field(
        default="label", metadata={"help": "Annotation column of the classes: names (text) or integer ids."}
    )
    label_names_file: str | None = field(
        default=None,
        metadata={
            "help": "The classes, fixing their ids: a text file with one class name per line, or a JSON list. "
            "Integer labels index into it. Classes without training examples are allowed (and warned about). Not "
            "used to evaluate a fine-tuned classifier without --do_train: its config names its classes."
        },
    )
    horizontal_flip: bool = field(
        default=True,
        metadata={
            "help": "Flip training clips horizontally with probability 0.5, as the reference augmentation. Turn it "
            "off (--horizontal_flip false) for direction-sensitive classes: Something-Something's 'from left to "
            "right', the synthetic corpus's left / right. The RandomResizedCrop stays."
        },
    )
    decode_size: int | None = field(
        default=None,
        metadata={"help": "Decode training frames at this square size before cropping (faster for large videos)."},
    )
    video_backend: str | None = field(
        default=None,
        metadata={
            "help": "Video decoder, decord or pyav (identical frames). Default: pyav for training clips (it decodes "
            "only the frames the sampled ones depend on, ~1.2x faster on H.264), decord for evaluation."
        },
    )
    max_failed_fraction: float = field(
        default=0.5,
        metadata={"help": "Stop when more than this share of a batch's videos cannot be read (a wrong --video_root)."},
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "Use only the first N training rows."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Use only the first N evaluation rows."})
    synthetic_corpus_dir: str | None = field(
        default=None,
        metadata={
            "help": "Generate (once) the package's synthetic corpus of moving shapes here and classify its clips by "
            "direction (left, right, up, down); overrides the file, folder and dataset arguments."
        },
    )


@dataclass
class EvaluationArguments:
    """How videos are evaluated, and zero-shot evaluation."""

    eval_num_clips: int = field(
        default=1,
        metadata={
            "help": "Temporal views per evaluation video: the video is cut into this many consecutive windows of "
            "equal length and num_frames frames are taken at the middle of equal segments of each (1: the "
            "reference's single view over the whole video). Logits are averaged over all views."
        },
    )
    eval_num_crops: int = field(
        default=1,
        metadata={
            "help": "Spatial views per temporal view. 1: the whole frame resized to the model's input size (aspect "
            "not kept, the reference's transform). N >= 2: frames are resized to cover the input size with their "
            "aspect kept (a short-side resize for square inputs), then N input-sized crops are taken evenly spaced "
            "along the longer side (3: left/top, centre, right/bottom)."
        },
    )
    save_predictions: bool = field(
        default=False,
        metadata={"help": f"Write one JSON line per evaluated video to <output_dir>/{PREDICTIONS_FILE}."},
    )
    zero_shot: bool = field(
        default=False,
        metadata={
            "help": "Evaluate the ViCLIPModel of --model_name_or_path zero-shot on the evaluation set, training "
            "nothing: each class name is written into every template, the cosine similarities of a video with a "
            "class's prompts are averaged (text embeddings computed once), and the best class wins."
        },
    )
    zero_shot_templates: list[str] = field(
        default_factory=lambda: ["kinetics"],
        metadata={
            "help": "Prompt templates with {} for the class name, or the name of a set: 'kinetics' (the "
            "reference's 16 templates)."
        },
    )
    zero_shot_label_text: str | None = field(
        default=None,
        metadata={
            "help": 'JSON object giving the text written into the templates for some classes, e.g. \'{"left": "to '
            "the left\"}'; in a JSON config file, an object. Other classes use their name."
        },
    )


# ------------------------------------------------------------------------------------------------------------------
# Arguments
# ------------------------------------------------------------------------------------------------------------------


def parse_arguments() -> tuple[ModelArguments, DataArguments, EvaluationArguments, TrainingArguments]:
    parser = HfArgumentParser(
        (ModelArguments, DataArguments, EvaluationArguments, TrainingArguments), description=__doc__
    )
    return parse_arguments_with_json(parser)


def _json_object(value: str | Mapping | None, argument: str) -> dict:
    """An argument given as a JSON string on the command line or as an object in a JSON config file."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as error:
        raise ValueError(f"--{argument} must be a JSON object: {error} in {value!r}.") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"--{argument} must be a JSON object such as '{{\"name\": ...}}', got {value!r}.")
    return parsed


def check_arguments(
    model_args: ModelArguments,
    data_args: DataArguments,
    eval_args: EvaluationArguments,
    training_args: TrainingArguments,
) -> None:
    """Refuses combinations that cannot work, before any data is read."""
    if eval_args.eval_num_clips < 1 or eval_args.eval_num_crops < 1:
        raise ValueError(
            f"--eval_num_clips ({eval_args.eval_num_clips}) and --eval_num_crops ({eval_args.eval_num_crops}) must be "
            "at least 1."
        )
    if eval_args.zero_shot:
        if not model_args.model_name_or_path:
            raise ValueError("--zero_shot evaluates a pretrained ViCLIPModel: give it with --model_name_or_path.")
        if training_args.do_train:
            raise ValueError("--zero_shot trains nothing: drop --do_train (or drop --zero_shot to fine-tune).")
        if training_args.push_to_hub:
            raise ValueError("--zero_shot writes only evaluation results; there is no new model to --push_to_hub.")
    elif not training_args.do_train and not training_args.do_eval:
        raise ValueError("Nothing to do: pass --do_train and/or --do_eval (or --zero_shot).")
    elif training_args.push_to_hub and not training_args.do_train:
        raise ValueError("--push_to_hub publishes the fine-tuned model: it needs --do_train.")
    if not eval_args.zero_shot and not (model_args.model_name_or_path or model_args.config_name):
        raise ValueError(
            "Say where the model starts: --model_name_or_path (a ViCLIP folder or Hub id) or --config_name "
            "(viclip-b16, viclip-l14 or a config.json) for random weights."
        )
    path = model_args.model_name_or_path
    if path and path.startswith((".", os.sep)) and not os.path.isdir(path):
        raise FileNotFoundError(
            f"--model_name_or_path {path} is not a folder. Give an existing ViCLIP folder or a Hub id; the demos "
            "start from the pretraining demo's folder, made by `python run_pretrain.py configs/demo.json`."
        )
    if not eval_args.zero_shot and not training_args.do_train and not model_args.model_name_or_path:
        raise ValueError("--do_eval without --do_train evaluates a fine-tuned classifier: give --model_name_or_path.")


# ------------------------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------------------------


def _limit(split: LabelledSplit | None, limit: int | None) -> LabelledSplit | None:
    if split is None or limit is None:
        return split
    split.annotations = split.annotations.select(range(min(limit, len(split.annotations))))
    return split


def load_splits(
    data_args: DataArguments, training_args: TrainingArguments, need_train: bool, need_eval: bool
) -> tuple[LabelledSplit | None, LabelledSplit | None]:
    """The training and evaluation splits asked for (`None` for a split not needed)."""
    columns = {"video_column": data_args.video_column, "caption_column": None, "label_column": data_args.label_column}
    train = validation = None
    if data_args.synthetic_corpus_dir:
        with training_args.main_process_first(desc="generating the synthetic corpus"):
            corpus = make_synthetic_corpus(data_args.synthetic_corpus_dir)
        synthetic = {"video_column": "video", "caption_column": None, "label_column": "label"}
        root = str(corpus.root)
        if need_train:
            path = corpus.annotation_file("train")
            train = LabelledSplit(load_annotations(path, **synthetic), root, str(path), class_names=corpus.label_names)
        if need_eval:
            path = corpus.annotation_file("val")
            validation = LabelledSplit(
                load_annotations(path, **synthetic), root, str(path), class_names=corpus.label_names
            )
    elif data_args.dataset_name:
        if os.path.isdir(data_args.dataset_name):
            dataset = datasets.load_from_disk(data_args.dataset_name)
        else:
            dataset = datasets.load_dataset(data_args.dataset_name, data_args.dataset_config_name)

        def from_dataset(split_name: str) -> LabelledSplit:
            if split_name not in dataset:
                raise ValueError(
                    f"{data_args.dataset_name} has no split {split_name!r}; its splits are {sorted(dataset)}. "
                    "Choose with --train_split / --validation_split."
                )
            part = dataset[split_name]
            feature = part.features.get(data_args.label_column)
            names = list(feature.names) if isinstance(feature, datasets.ClassLabel) else None
            source = f"{data_args.dataset_name} [{split_name}]"
            return LabelledSplit(load_annotations(part, **columns), data_args.video_root, source, class_names=names)

        train = from_dataset(data_args.train_split) if need_train else None
        if need_eval:
            if not data_args.validation_split:
                raise ValueError("Evaluating on --dataset_name needs --validation_split.")
            validation = from_dataset(data_args.validation_split)
    else:
        if need_train:
            if data_args.train_dir:
                train = load_class_folder(data_args.train_dir)
            elif data_args.train_file:
                train = LabelledSplit(
                    load_annotations(data_args.train_file, **columns), data_args.video_root, data_args.train_file
                )
            else:
                raise ValueError(
                    "--do_train needs training data: --train_file, --train_dir, --dataset_name or "
                    "--synthetic_corpus_dir."
                )
        if need_eval:
            if data_args.validation_dir:
                validation = load_class_folder(data_args.validation_dir)
            elif data_args.validation_file:
                validation = LabelledSplit(
                    load_annotations(data_args.validation_file, **columns),
                    data_args.video_root,
                    data_args.validation_file,
                )
            else:
                raise ValueError(
                    "Evaluation needs data: --validation_file, --validation_dir, --dataset_name or "
                    "--synthetic_corpus_dir."
                )
    return _limit(train, data_args.max_train_samples), _limit(validation, data_args.max_eval_samples)


# ------------------------------------------------------------------------------------------------------------------
# Video transforms and evaluation views
# ------------------------------------------------------------------------------------------------------------------


# ------------------------------------------------------------------------------------------------------------------
# Evaluation
# ------------------------------------------------------------------------------------------------------------------


def load_top_k_metric() -> evaluate.EvaluationModule:
    """The project's top-k accuracy module, from its local folder (offline), kept in memory."""
    return evaluate.load(TOP_K_METRIC_PATH, keep_in_memory=True)


def top_k_accuracy(metric: evaluate.EvaluationModule, logits: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """`{"top1": ..., "top5": ...}` in percent."""
    return metric.compute(predictions=logits.float().tolist(), references=labels.tolist(), k=list(TOP_K))


def write_predictions(
    path: str | os.PathLike, outputs: Mapping[str, Any], annotations: datasets.Dataset, class_names: Sequence[str]
) -> None:
    """One JSON line per evaluated video: `video`, `label`, `prediction`, and the top-5 classes with their softmax
    probabilities."""
    probabilities = outputs["logits"].softmax(dim=-1)
    top = probabilities.topk(min(max(TOP_K), probabilities.shape[1]), dim=-1)
    with open(path, "w", encoding="utf-8") as handle:
        for row, label, classes, scores in zip(
            outputs["index"].tolist(),
            outputs["labels"].tolist(),
            top.indices.tolist(),
            top.values.tolist(),
            strict=True,
        ):
            record = {
                "video": annotations[row]["video"],
                "label": class_names[label],
                "prediction": class_names[classes[0]],
                "top5": [class_names[c] for c in classes],
                "top5_scores": [round(s, 6) for s in scores],
            }
            handle.write(json.dumps(record) + "\n")


def evaluation_views(eval_args: EvaluationArguments) -> str:
    """The evaluation protocol in words, for logs and the model card."""
    if eval_args.eval_num_clips == 1 and eval_args.eval_num_crops == 1:
        return "one view per video: middle-sampled frames, each resized to the input size"
    return (
        f"{eval_args.eval_num_clips} temporal clip(s) x {eval_args.eval_num_crops} spatial crop(s) per video, logits "
        "averaged"
    )


def run_evaluation(
    trainer: ViCLIPTrainer,
    score: Callable[[torch.Tensor], torch.Tensor],
    dataset: EvaluationVideoDataset,
    class_names: Sequence[str],
    eval_args: EvaluationArguments,
    prefix: str,
) -> dict[str, float]:
    """Scores every video of `dataset`, returns `{prefix}_top1`, `{prefix}_top5`, `{prefix}_samples` and
    `{prefix}_skipped_videos`, and writes the predictions file when asked."""
    loader = trainer.get_eval_dataloader(dataset)
    model = trainer.model
    parameter = next(model.parameters())
    was_training = model.training
    model.eval()
    try:
        with trainer.autocast_smart_context_manager():
            outputs = predict(
                score, loader, device=parameter.device, dtype=parameter.dtype, accelerator=trainer.accelerator
            )
    finally:
        model.train(was_training)
    accuracy = top_k_accuracy(load_top_k_metric(), outputs["logits"], outputs["labels"])
    metrics = {f"{prefix}_{name}": value for name, value in accuracy.items()}
    metrics[f"{prefix}_samples"] = int(len(outputs["labels"]))
    metrics[f"{prefix}_skipped_videos"] = int(outputs["num_skipped"])
    if outputs["num_skipped"]:
        logger.warning(f"{outputs['num_skipped']} evaluation video(s) could not be read and are not counted.")
    if eval_args.save_predictions and trainer.is_world_process_zero():
        path = os.path.join(trainer.args.output_dir, PREDICTIONS_FILE)
        write_predictions(path, outputs, dataset.annotations, class_names)
        logger.info(f"Wrote the predictions of {len(outputs['labels'])} videos to {path}")
    return metrics


# ------------------------------------------------------------------------------------------------------------------
# Model, processor, card
# ------------------------------------------------------------------------------------------------------------------


def _has_label_names(config: ViCLIPConfig) -> bool:
    """Whether `config` names its classes (not the default `LABEL_0`, `LABEL_1`, ...)."""
    return bool(config.id2label) and any(name != f"LABEL_{i}" for i, name in config.id2label.items())


def load_classifier(model_args: ModelArguments, class_names: list[str]) -> ViCLIPForVideoClassification:
    """
    `ViCLIPForVideoClassification` over `class_names`, from a ViCLIP folder (the classifier is new, or kept when the
    folder is a classifier of the same classes: their ids then follow the folder's order, reflected in the returned
    config) or random from `--config_name`.
    """
    overrides = _json_object(model_args.config_overrides, "config_overrides")
    labels = {
        "num_labels": len(class_names),
        "id2label": dict(enumerate(class_names)),
        "label2id": {name: index for index, name in enumerate(class_names)},
    }
    if model_args.model_name_or_path:
        config = ViCLIPConfig.from_pretrained(model_args.model_name_or_path, **overrides)
        if _has_label_names(config) and sorted(config.id2label.values()) == sorted(class_names):
            ordered = [config.id2label[i] for i in range(len(class_names))]
            labels = {
                "num_labels": len(ordered),
                "id2label": dict(enumerate(ordered)),
                "label2id": {name: i for i, name in enumerate(ordered)},
            }
        config.update(labels)
        return ViCLIPForVideoClassification.from_pretrained(
            model_args.model_name_or_path,
            config=config,
            ignore_mismatched_sizes=model_args.ignore_mismatched_sizes,
            attn_implementation=model_args.attn_implementation,
        )
    if os.path.exists(model_args.config_name):
        config = ViCLIPConfig.from_pretrained(model_args.config_name, **overrides)
    else:
        config = ViCLIPConfig.from_preset(model_args.config_name, **overrides)
    config.update(labels)
    return ViCLIPForVideoClassification._from_config(config, attn_implementation=model_args.attn_implementation)


def classification_model_card(
    model_args: ModelArguments,
    data_args: DataArguments,
    eval_args: EvaluationArguments,
    training_args: TrainingArguments,
    class_names: Sequence[str],
    metrics: Mapping[str, float],
) -> ModelCard:
    """
    The Hub card of the output folder: `pipeline_tag: video-classification` (a classifier with fixed labels), the
    evaluation top-1 / top-5 in its `model-index`, and the licence of `--card_license` or of the starting folder's
    card.
    """
    start = model_args.model_name_or_path
    start_text = display_name(start) if start else f"random weights (`{model_args.config_name}`)"
    if data_args.synthetic_corpus_dir:
        data, eval_name = (
            "the synthetic moving-shapes corpus of `viclip_train.synthetic` (classes: directions)",
            "synthetic-directions",
        )
    else:
        source = data_args.dataset_name or data_args.train_file or data_args.train_dir
        data = display_name(source) if source else "custom data"
        eval_name = data_args.validation_file or data_args.validation_dir or data_args.validation_split or "validation"
    eval_results = None
    if "eval_top1" in metrics:
        eval_results = classification_eval_results(
            dataset_type=hub_repo_id(data_args.dataset_name) or "custom",
            dataset_name=os.path.basename(os.path.normpath(eval_name)),
            top1=metrics["eval_top1"],
            top5=metrics["eval_top5"],
        )
    shown = ", ".join(f"`{name}`" for name in class_names[:50]) + (" ..." if len(class_names) > 50 else "")
    flip = ", horizontal flip" if data_args.horizontal_flip else " (no flip: direction-sensitive classes)"
    training = (
        f"{training_args.num_train_epochs:g} epoch(s), learning rate {training_args.learning_rate:g}, batch size "
        f"{training_args.per_device_train_batch_size} per device; training augmentation: random segment sampling, "
        f"RandomResizedCrop{flip}."
    )
    output_name = os.path.basename(os.path.abspath(training_args.output_dir))
    license, license_note = trained_weights_license(model_args.card_license, start)
    return build_model_card(
        model_name=output_name,
        summary=f"A ViCLIP video classifier fine-tuned with `run_classification.py` from {start_text} on {data}.",
        usage=video_classifier_usage(usage_model_id(training_args.hub_model_id, training_args.output_dir)),
        classification=classifier_classification_section(),
        pipeline_tag=CLASSIFIER_PIPELINE_TAG,
        license=license,
        license_note=license_note,
        datasets=[hub_repo_id(data_args.dataset_name)] if hub_repo_id(data_args.dataset_name) else [],
        tags=["video-classification"],
        base_model=hub_repo_id(start),
        eval_results=eval_results,
        eval_notes=f"Top-1 / top-5 accuracy (percent) on the evaluation split, {evaluation_views(eval_args)}.",
        sections={"Classes": f"{len(class_names)} classes: {shown}", "Training": training},
    )


# ------------------------------------------------------------------------------------------------------------------
# Zero-shot
# ------------------------------------------------------------------------------------------------------------------


def run_zero_shot(
    model_args: ModelArguments,
    data_args: DataArguments,
    eval_args: EvaluationArguments,
    training_args: TrainingArguments,
) -> dict[str, float]:
    """Zero-shot evaluation of a ViCLIPModel on the evaluation split; returns and saves the `eval_zero_shot_*`
    metrics."""
    config = ViCLIPConfig.from_pretrained(model_args.model_name_or_path)
    if config.architectures and not any(name == "ViCLIPModel" for name in config.architectures):
        raise ValueError(
            f"--zero_shot needs a ViCLIP dual encoder (ViCLIPModel, with its text tower), but "
            f"{model_args.model_name_or_path} holds {config.architectures}."
        )
    model = ViCLIPModel.from_pretrained(
        model_args.model_name_or_path, attn_implementation=model_args.attn_implementation
    )
    processor = load_processor(model_args.model_name_or_path, config)
    _, validation = load_splits(data_args, training_args, need_train=False, need_eval=True)
    class_names = resolve_class_names(validation, data_args.label_names_file)
    if all(name.isdigit() for name in class_names) and not data_args.label_names_file:
        raise ValueError(
            f"{validation.source} has integer labels, but zero-shot classification needs class names to write into "
            "the prompts: give them with --label_names_file."
        )
    check_labels(validation, class_names, "evaluation", "List every class in --label_names_file.")
    label_text = _json_object(eval_args.zero_shot_label_text, "zero_shot_label_text")
    unknown = sorted(set(label_text) - set(class_names))
    if unknown:
        raise ValueError(f"--zero_shot_label_text names classes {unknown} that are not among {class_names[:20]}.")
    prompts = [label_text.get(name, name) for name in class_names]
    templates = resolve_templates(
        eval_args.zero_shot_templates[0] if len(eval_args.zero_shot_templates) == 1 else eval_args.zero_shot_templates
    )
    logger.info(
        f"Zero-shot evaluation of {model_args.model_name_or_path} on {validation.source}: {len(class_names)} classes, "
        f"{len(templates)} templates, {evaluation_views(eval_args)}."
    )
    dataset = EvaluationVideoDataset(
        validation.annotations,
        processor.video_processor,
        num_clips=eval_args.eval_num_clips,
        num_crops=eval_args.eval_num_crops,
        video_root=validation.video_root,
        label2id={name: index for index, name in enumerate(class_names)},
        video_backend=data_args.video_backend,
    )
    training_args.remove_unused_columns = False
    trainer = ViCLIPTrainer(
        model=model,
        args=training_args,
        data_collator=IndexedVideoDataCollator(VideoDataCollator(max_failed_fraction=data_args.max_failed_fraction)),
        processing_class=processor,
    )
    score = zero_shot_scorer(trainer.model, processor, prompts, templates)
    metrics = run_evaluation(trainer, score, dataset, class_names, eval_args, prefix="eval_zero_shot")
    metrics["eval_zero_shot_avg"] = (metrics["eval_zero_shot_top1"] + metrics["eval_zero_shot_top5"]) / 2
    trainer.log_metrics("eval", metrics)
    trainer.save_metrics("eval", metrics)
    return metrics


# ------------------------------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------------------------------


def main() -> None:
    model_args, data_args, eval_args, training_args = parse_arguments()
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S", level=logging.INFO
    )
    log_level = training_args.get_process_log_level()
    logger.setLevel(log_level)
    transformers.utils.logging.set_verbosity(log_level)
    datasets.utils.logging.set_verbosity(log_level)
    check_arguments(model_args, data_args, eval_args, training_args)
    set_seed(training_args.seed)

    if eval_args.zero_shot:
        run_zero_shot(model_args, data_args, eval_args, training_args)
        return

    push_to_hub, training_args.push_to_hub = training_args.push_to_hub, False  # published once, at the end
    train, validation = load_splits(
        data_args, training_args, need_train=training_args.do_train, need_eval=training_args.do_eval
    )

    # Classes: from the training data when training, else from the fine-tuned classifier being evaluated.
    if training_args.do_train:
        class_names = resolve_class_names(train, data_args.label_names_file)
        check_labels(train, class_names, "training", "Add them to --label_names_file.")
        warn_classes_without_examples(train, class_names)
        model = load_classifier(model_args, class_names)
        class_names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    else:
        model = ViCLIPForVideoClassification.from_pretrained(
            model_args.model_name_or_path, attn_implementation=model_args.attn_implementation
        )
        if not _has_label_names(model.config):
            raise ValueError(
                f"{model_args.model_name_or_path} has no class names in its config (id2label): evaluate a classifier "
                "fine-tuned by this script, or fine-tune with --do_train."
            )
        class_names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    label2id = {name: index for index, name in enumerate(class_names)}
    if validation is not None:
        check_labels(
            validation,
            class_names,
            "evaluation",
            "A classifier cannot predict classes it was not trained on: remove those rows from the evaluation set, "
            "add training examples, or list every class in --label_names_file.",
        )
    logger.info(f"{len(class_names)} classes: {class_names[:20]}{' ...' if len(class_names) > 20 else ''}")

    processor = load_processor(model_args.model_name_or_path, model.config)
    processor.video_processor.do_train_flip = data_args.horizontal_flip  # saved with the processor
    decode_size = (data_args.decode_size, data_args.decode_size) if data_args.decode_size else None
    common = {"label2id": label2id, "video_backend": data_args.video_backend}
    train_dataset = (
        VideoDataset(
            train.annotations,
            processor.video_processor,
            video_root=train.video_root,
            train=True,
            decode_size=decode_size,
            **common,
        )
        if train is not None
        else None
    )
    # single-view set for evaluations during training (--eval_strategy), through the Trainer's own loop
    eval_dataset = (
        VideoDataset(validation.annotations, processor.video_processor, video_root=validation.video_root, **common)
        if validation is not None
        else None
    )
    collator = VideoDataCollator(max_failed_fraction=data_args.max_failed_fraction)
    training_args.remove_unused_columns = False  # the collator's batches are the model's inputs, plus num_skipped
    metric = load_top_k_metric()

    def compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
        return top_k_accuracy(metric, torch.as_tensor(prediction.predictions), torch.as_tensor(prediction.label_ids))

    trainer = ViCLIPTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=collator,
        processing_class=processor,
        compute_metrics=compute_metrics,
    )

    if training_args.do_train:
        checkpoint = resolve_resume_checkpoint(training_args.output_dir, training_args.resume_from_checkpoint)
        train_result = trainer.train(resume_from_checkpoint=checkpoint)
        trainer.save_model()  # weights, config with the label maps, remote code files and the processor
        trainer.log_metrics("train", train_result.metrics)
        trainer.save_metrics("train", train_result.metrics)
        trainer.save_state()

    metrics = {}
    if training_args.do_eval:
        logger.info(f"Evaluating on {validation.source}: {evaluation_views(eval_args)}.")
        dataset = EvaluationVideoDataset(
            validation.annotations,
            processor.video_processor,
            num_clips=eval_args.eval_num_clips,
            num_crops=eval_args.eval_num_crops,
            video_root=validation.video_root,
            **common,
        )
        trainer.data_collator = IndexedVideoDataCollator(collator)
        classifier = trainer.model
        metrics = run_evaluation(
            trainer,
            lambda pixel_values: classifier(pixel_values=pixel_values).logits,
            dataset,
            class_names,
            eval_args,
            prefix="eval",
        )
        trainer.log_metrics("eval", metrics)
        trainer.save_metrics("eval", metrics)

    if training_args.do_train and trainer.is_world_process_zero():
        card = classification_model_card(model_args, data_args, eval_args, training_args, class_names, metrics)
        save_model_card(card, training_args.output_dir)
        if push_to_hub:
            repo_id = training_args.hub_model_id or os.path.basename(os.path.normpath(training_args.output_dir))
            url = publish_folder(training_args.output_dir, repo_id, token=training_args.hub_token)
            logger.info(f"Published {training_args.output_dir} to {url}")


if __name__ == "__main__":
    main()
    end_distributed_run()
