# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
The steps the scripts share, one function each, in the order a script's `main()` calls them: set the run up
([`prepare_run`]), build the model configuration ([`load_config`]), load the annotation splits ([`load_splits`],
or [`load_streaming_splits`] with `--streaming`), train and save ([`train_and_save`]), evaluate
([`evaluate_and_save`]), publish ([`publish_output`]).
"""

import logging
import os
from typing import Any

import datasets
import transformers
from transformers import TrainingArguments, set_seed

from viclip import ViCLIPConfig, ViCLIPTextConfig, ViCLIPVisionConfig

from .arguments import DataArguments, ModelArguments
from .checkpoints import resolve_resume_checkpoint
from .data.annotation_cache import load_cached_annotations
from .data.annotations import AnnotationSplit, load_annotations, load_class_folder, load_dataset_source
from .data.streaming import load_streaming_split
from .data.synthetic import make_synthetic_corpus
from .hub import check_hub_write_access, publish_folder
from .trainer import ViCLIPTrainer


logger = transformers.utils.logging.get_logger(__name__)

_TOWERS = {"text_config": ViCLIPTextConfig, "vision_config": ViCLIPVisionConfig}


def prepare_run(training_args: TrainingArguments) -> bool:
    """
    Sets the run up: log format and levels (the Trainer's `--log_level`), the seed, no pinned memory without an
    accelerator, `remove_unused_columns=False` (the collator's batches are the model inputs plus bookkeeping keys),
    and, with `--push_to_hub`, a check that the Hub is reachable and the token can write, before anything else.

    Returns:
        `bool`: whether to publish the output folder at the end. The Trainer's own pushing (every checkpoint) is
        turned off: the scripts publish the finished folder once, with its card ([`publish_output`]).
    """
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S", level=logging.INFO
    )
    log_level = training_args.get_process_log_level()
    logging.getLogger("__main__").setLevel(log_level)
    transformers.utils.logging.set_verbosity(log_level)
    datasets.utils.logging.set_verbosity(log_level)
    set_seed(training_args.seed)
    if training_args.dataloader_pin_memory and training_args.device.type == "cpu":
        training_args.dataloader_pin_memory = False  # pinning needs an accelerator; torch warns otherwise
    training_args.remove_unused_columns = False
    push_to_hub, training_args.push_to_hub = training_args.push_to_hub, False
    if push_to_hub and training_args.process_index == 0:
        user = check_hub_write_access(_repo_id(training_args), training_args.hub_token)
        logger.info(f"--push_to_hub: {user} can write to {_repo_id(training_args)}.")
    return push_to_hub


def _repo_id(training_args: TrainingArguments) -> str:
    return training_args.hub_model_id or os.path.basename(os.path.normpath(training_args.output_dir))


def merge_config_overrides(*overrides: dict | None) -> dict[str, Any]:
    """[`ViCLIPConfig`] fields from several sources, later ones winning; tower fields (`text_config`,
    `vision_config`) merged key by key. A field the configuration does not have is an error (a config would keep it
    silently)."""
    merged: dict[str, Any] = {}
    top_level = ViCLIPConfig()
    for source in overrides:
        for name, value in (source or {}).items():
            if name in _TOWERS:
                if not isinstance(value, dict):
                    raise ValueError(f"--config_overrides: {name} must be an object of fields, got {value!r}.")
                tower = _TOWERS[name]()
                unknown = sorted(key for key in value if not hasattr(tower, key))
                if unknown:
                    raise ValueError(f"--config_overrides: {name} has no fields {unknown}.")
                merged[name] = {**merged.get(name, {}), **value}
            elif not hasattr(top_level, name):
                raise ValueError(
                    f"--config_overrides: ViCLIPConfig has no field {name!r}; tower fields go under "
                    '"text_config" / "vision_config".'
                )
            else:
                merged[name] = value
    return merged


def load_config(model_args: ModelArguments, **fields: Any) -> ViCLIPConfig:
    """
    The configuration the model is built with, validated on construction: from `--model_name_or_path`, a preset or a
    `config.json` (`--config_name`), with `--config_overrides` and then `fields` applied (tower fields such as
    `vision_config={"mask_ratio": 0.9}` merged into the tower's configuration). A field that does not exist or a value
    the configuration refuses stops the script here, before any data is read.
    """
    overrides = merge_config_overrides(model_args.config_overrides, fields)
    source = model_args.model_name_or_path or model_args.config_name
    if source is None:
        raise ValueError(
            "Say where the model starts: --model_name_or_path (a ViCLIP folder or Hub id) or --config_name "
            "(viclip-b16, viclip-l14 or a config.json) for random weights."
        )
    if not model_args.model_name_or_path and not os.path.exists(source):
        return ViCLIPConfig.from_preset(source, **overrides)
    config = ViCLIPConfig.from_pretrained(source).to_dict()
    for name in _TOWERS:
        config[name] = {**config[name], **overrides.pop(name, {})}
    return ViCLIPConfig.from_dict({**config, **overrides})


def load_splits(
    data_args: DataArguments,
    training_args: TrainingArguments,
    *,
    caption_column: str | None,
    label_column: str | None,
    need_train: bool,
    need_eval: bool,
) -> tuple[AnnotationSplit | None, AnnotationSplit | None]:
    """
    The training and evaluation splits asked for (`None` for a split not needed), from the first source given:
    `--synthetic_corpus_dir`; `--dataset_name` / `--data_files`; `--train_dir` / `--validation_dir` (classification:
    a folder per class); `--train_file` / `--validation_file` (read through their memory-mapped Arrow cache,
    [`load_cached_annotations`], written by each machine's main process first). A single `Dataset` without splits is used as the one
    split needed, which a log line says. A split that is needed and absent is an error naming the flags that give it.
    """
    columns = {"video_column": data_args.video_column, "caption_column": caption_column, "label_column": label_column}
    train = validation = None
    if data_args.synthetic_corpus_dir:
        with training_args.main_process_first(desc="generating the synthetic corpus"):
            corpus = make_synthetic_corpus(data_args.synthetic_corpus_dir)
        synthetic = {**columns, "video_column": "video"}
        class_names = corpus.class_names(label_column) if label_column else None
        splits = {"train": need_train, "val": need_eval}
        loaded = {
            split: AnnotationSplit(
                load_annotations(corpus.annotation_file(split), **synthetic),
                str(corpus.root),
                str(corpus.annotation_file(split)),
                class_names=class_names,
            )
            for split, needed in splits.items()
            if needed
        }
        train, validation = loaded.get("train"), loaded.get("val")
    elif data_args.dataset_name or data_args.data_files:
        train, validation = _dataset_splits(data_args, columns, need_train, need_eval)
    else:
        train_dir, validation_dir = getattr(data_args, "train_dir", None), getattr(data_args, "validation_dir", None)

        def cached(path: str) -> datasets.Dataset:
            # converted once by each machine's main process, then memory-mapped by every process
            with training_args.main_process_first(desc=f"caching the annotations of {path}"):
                return load_cached_annotations(path, cache_dir=data_args.annotation_cache_dir, **columns)

        if need_train and train_dir:
            train = load_class_folder(train_dir)
        elif need_train and data_args.train_file:
            train = AnnotationSplit(cached(data_args.train_file), data_args.video_root, data_args.train_file)
        if need_eval and validation_dir:
            validation = load_class_folder(validation_dir)
        elif need_eval and data_args.validation_file:
            validation = AnnotationSplit(
                cached(data_args.validation_file), data_args.video_root, data_args.validation_file
            )
    folders = " --train_dir," if hasattr(data_args, "train_dir") else ""
    if need_train and train is None:
        raise ValueError(
            f"Training needs data: --train_file,{folders} --dataset_name, --data_files or --synthetic_corpus_dir."
        )
    if need_eval and validation is None:
        raise ValueError(
            f"--do_eval needs evaluation data: --validation_file,{folders.replace('train', 'validation')} "
            "--dataset_name with a --validation_split, --data_files validation=... or --synthetic_corpus_dir."
        )
    train = train.limit(data_args.max_train_samples) if train else None
    validation = validation.limit(data_args.max_eval_samples) if validation else None
    return train, validation


def _dataset_splits(
    data_args: DataArguments, columns: dict, need_train: bool, need_eval: bool
) -> tuple[AnnotationSplit | None, AnnotationSplit | None]:
    name = data_args.dataset_name or "--data_files"
    source = load_dataset_source(data_args.dataset_name, data_args.dataset_config_name, data_args.data_files)

    def split_of(part: datasets.Dataset, described: str) -> AnnotationSplit:
        feature = part.features.get(columns["label_column"]) if columns["label_column"] else None
        names = list(feature.names) if isinstance(feature, datasets.ClassLabel) else None
        return AnnotationSplit(load_annotations(part, **columns), data_args.video_root, described, class_names=names)

    if isinstance(source, datasets.Dataset):
        if need_train and need_eval:
            raise ValueError(
                f"{name} is a single Dataset without splits, which can be the training or the evaluation data but "
                "not both: give the evaluation data with --validation_file, or save a DatasetDict with a "
                f"{data_args.validation_split!r} split."
            )
        use = "training" if need_train else "evaluation"
        logger.warning(f"{name} is a single Dataset without splits: it is used as the {use} split.")
        split = split_of(source, name)
        return (split, None) if need_train else (None, split)

    def named_split(split_name: str, flag: str) -> AnnotationSplit:
        if split_name not in source:
            raise ValueError(
                f"{name} has no split {split_name!r}; its splits are {sorted(source)}. Choose one with --{flag}."
            )
        return split_of(source[split_name], f"{name} [{split_name}]")

    train = named_split(data_args.train_split, "train_split") if need_train else None
    validation = named_split(data_args.validation_split, "validation_split") if need_eval else None
    return train, validation


def load_streaming_splits(
    data_args: DataArguments, *, need_train: bool, need_eval: bool
) -> tuple[datasets.IterableDataset | None, datasets.IterableDataset | None]:
    """
    With `--streaming`: the training and evaluation splits asked for (`None` for a split not needed) as `datasets`
    streams of `--dataset_name` / `--data_files` ([`load_streaming_split`]; `--train_split`, `--validation_split`),
    cut to their first `--max_train_samples` / `--max_eval_samples` examples. Nothing is read yet but the file list.
    """
    if not (data_args.dataset_name or data_args.data_files):
        raise ValueError(
            "--streaming reads --dataset_name (a Hub id or a folder of JSON Lines / CSV / Parquet / WebDataset files) "
            "or --data_files; tar shards are read by --train_shards."
        )
    splits = []
    for needed, split, flag, limit in (
        (need_train, data_args.train_split, "train_split", data_args.max_train_samples),
        (need_eval, data_args.validation_split, "validation_split", data_args.max_eval_samples),
    ):
        stream = None
        if needed:
            stream = load_streaming_split(
                data_args.dataset_name, data_args.dataset_config_name, data_args.data_files, split, flag
            )
            stream = stream.take(limit) if limit else stream
        splits.append(stream)
    return splits[0], splits[1]


def train_and_save(trainer: ViCLIPTrainer, training_args: TrainingArguments) -> dict[str, float]:
    """
    Trains, resuming from the newest complete checkpoint in `--output_dir` unless told otherwise (so that rerunning
    an interrupted command continues it), then saves the model (weights, config, remote code, processor), the
    training metrics and the trainer state. Returns the training metrics.
    """
    checkpoint = resolve_resume_checkpoint(
        training_args.output_dir, training_args.resume_from_checkpoint, not training_args.save_only_model
    )
    result = trainer.train(resume_from_checkpoint=checkpoint)
    trainer.save_model()
    trainer.log_metrics("train", result.metrics)
    trainer.save_metrics("train", result.metrics)
    trainer.save_state()
    return result.metrics


def evaluate_and_save(trainer: ViCLIPTrainer, dataset: Any = None, prefix: str = "eval") -> dict[str, float]:
    """Evaluates (`dataset`, or the trainer's evaluation set), logs the metrics to every `--report_to` integration,
    prints them and writes `eval_results.json`. Returns the metrics, named `<prefix>_<metric>`."""
    metrics = trainer.evaluate(dataset, metric_key_prefix=prefix)
    trainer.log_metrics("eval", metrics)
    trainer.save_metrics("eval", metrics)
    return metrics


def publish_output(trainer: ViCLIPTrainer, push_to_hub: bool) -> None:
    """With `--push_to_hub` (as returned by [`prepare_run`]), publishes the output folder from the main process."""
    if push_to_hub and trainer.is_world_process_zero():
        training_args = trainer.args
        url = publish_folder(training_args.output_dir, _repo_id(training_args), token=training_args.hub_token)
        logger.info(f"Published {training_args.output_dir} to {url}")


__all__ = [
    "evaluate_and_save",
    "load_config",
    "load_splits",
    "load_streaming_splits",
    "merge_config_overrides",
    "prepare_run",
    "publish_output",
    "train_and_save",
]
