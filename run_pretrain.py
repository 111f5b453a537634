#!/usr/bin/env python
# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Video-text contrastive pretraining of ViCLIP with the transformers Trainer, from one CPU to many GPU nodes.

    python run_pretrain.py configs/demo.json                       # the embedded demo, CPU, a few minutes
    python run_pretrain.py --train_file train.json --video_root videos/ --clip_model_name_or_path CLIP_DIR \
        --output_dir out --bf16 --per_device_train_batch_size 64 ...
    torchrun --nproc_per_node 8 run_pretrain.py configs/viclip_b16_stage1.json

Arguments come from the command line, or from a JSON file given as the first argument whose values later flags
override (`run_pretrain.py configs/demo.json --max_steps 10`); `--help` lists them all, the Trainer's own
(`TrainingArguments`) included. Rerunning an interrupted command resumes from the latest checkpoint in
`--output_dir`.
"""

import json
import logging
import os
from dataclasses import dataclass, field

import datasets
import transformers
from transformers import HfArgumentParser, TrainingArguments, set_seed

from viclip import ViCLIPConfig, ViCLIPModel
from viclip_train.data import VideoDataCollator, VideoDataset, load_annotations
from huggingface_hub import ModelCard

from viclip_train.model_card import (
    build_model_card,
    display_name,
    dual_encoder_classification_section,
    dual_encoder_usage,
    hub_repo_id,
    retrieval_eval_results,
    save_model_card,
    trained_weights_license,
    usage_model_id,
)
from viclip_train.retrieval import evaluate_retrieval
from viclip_train.synthetic import make_synthetic_corpus
from viclip_train.trainer import (
    ClampLogitScaleCallback,
    ViCLIPTrainer,
    end_distributed_run,
    load_processor,
    parse_arguments_with_json,
    publish_folder,
    resolve_resume_checkpoint,
)


logger = logging.getLogger(__name__)


@dataclass
class ModelArguments:
    """Where the model starts from, and what of it trains."""

    model_name_or_path: str | None = field(
        default=None, metadata={"help": "A ViCLIP folder or Hub id to continue pretraining from."}
    )
    clip_model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "A transformers CLIPModel folder or Hub id to initialise from, as the reference does (per-frame "
            "patch embedding, zero temporal table, text positions cut to 32, logit scale kept)."
        },
    )
    config_name: str | None = field(
        default=None,
        metadata={
            "help": "Random initialisation from a preset name (viclip-b16, viclip-l14) or a config.json path. Used "
            "when neither --model_name_or_path nor --clip_model_name_or_path is given."
        },
    )
    config_overrides: str | None = field(
        default=None,
        metadata={
            "help": 'JSON of config fields to override, e.g. \'{"vision_config": {"drop_path_rate": 0.1}}\'; in a '
            "JSON config file, an object."
        },
    )
    num_frames: int = field(default=8, metadata={"help": "Frames per clip for a model built from CLIP."})
    mask_ratio: float = field(
        default=0.9,
        metadata={
            "help": "Share of video patch tokens dropped in training (0.9 in the reference's first stage, 0 in "
            "its second)."
        },
    )
    freeze_text: bool = field(
        default=True, metadata={"help": "Keep the text tower and its projection frozen, as the reference does."}
    )
    attn_implementation: str = field(
        default="sdpa", metadata={"help": "Attention backend: sdpa, eager or flash_attention_2 (CUDA, flash-attn)."}
    )
    card_license: str | None = field(
        default=None,
        metadata={
            "help": "Hub licence id of the trained weights (e.g. mit, apache-2.0), written in the model card. "
            "Default: the licence declared by the card of the local folder training starts from "
            "(--model_name_or_path or --clip_model_name_or_path); otherwise none, and the card says it is unknown."
        },
    )


@dataclass
class DataArguments:
    """What to train and evaluate on."""

    train_file: str | None = field(
        default=None,
        metadata={
            "help": "Training annotations: .json, .jsonl or .csv with video and caption columns, or the "
            "public InternVid layout (YoutubeID, Start_timestamp, End_timestamp, Caption)."
        },
    )
    validation_file: str | None = field(
        default=None, metadata={"help": "Validation annotations, same formats; evaluated by text-video retrieval."}
    )
    dataset_name: str | None = field(
        default=None,
        metadata={"help": "Instead of files: a `datasets` dataset (Hub id, or a folder saved with save_to_disk)."},
    )
    dataset_config_name: str | None = field(default=None, metadata={"help": "Configuration of --dataset_name."})
    train_split: str = field(default="train", metadata={"help": "Split of --dataset_name to train on."})
    validation_split: str | None = field(
        default=None, metadata={"help": "Split of --dataset_name to evaluate on (none by default)."}
    )
    video_root: str | None = field(
        default=None,
        metadata={"help": "Folder the annotations' video paths (or InternVid YoutubeIDs) are relative to."},
    )
    video_column: str = field(default="video", metadata={"help": "Annotation column of the video paths."})
    caption_column: str = field(default="caption", metadata={"help": "Annotation column of the captions."})
    normalize_captions: bool = field(
        default=False,
        metadata={"help": "Normalise captions as the reference's training data was (lower case, no punctuation)."},
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
    train_augmentation: bool = field(
        default=True,
        metadata={
            "help": "Random frames within each segment, RandomResizedCrop and flip in training, as the reference; "
            "false: middle frames and a plain resize (deterministic)."
        },
    )
    max_failed_fraction: float = field(
        default=0.5,
        metadata={"help": "Stop when more than this share of a batch's videos cannot be read (a wrong --video_root)."},
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "Use only the first N training rows."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Use only the first N validation rows."})
    synthetic_corpus_dir: str | None = field(
        default=None,
        metadata={
            "help": "Generate (once) the embedded synthetic corpus of moving shapes here and train and "
            "evaluate on it; overrides the file and dataset arguments."
        },
    )


def load_model(model_args: ModelArguments) -> ViCLIPModel:
    """The model to train: continued from ViCLIP, initialised from CLIP, or random from a config."""
    overrides = model_args.config_overrides or {}
    if isinstance(overrides, str):
        overrides = json.loads(overrides)
    common = {"attn_implementation": model_args.attn_implementation}
    if model_args.model_name_or_path:
        model = ViCLIPModel.from_pretrained(model_args.model_name_or_path, **overrides, **common)
    elif model_args.clip_model_name_or_path:
        model = ViCLIPModel.from_clip_pretrained(
            model_args.clip_model_name_or_path, num_frames=model_args.num_frames, **overrides
        )
        model.set_attn_implementation(model_args.attn_implementation)
    elif model_args.config_name:
        if os.path.exists(model_args.config_name):
            config = ViCLIPConfig.from_pretrained(model_args.config_name, **overrides)
        else:
            config = ViCLIPConfig.from_preset(model_args.config_name, **overrides)
        model = ViCLIPModel._from_config(config, **common)
    else:
        raise ValueError(
            "Say where the model starts: --model_name_or_path (a ViCLIP folder), --clip_model_name_or_path (a CLIP "
            "folder) or --config_name (viclip-b16, viclip-l14 or a config.json)."
        )
    model.config.vision_config.mask_ratio = model_args.mask_ratio
    if model_args.freeze_text:
        model.text_model.requires_grad_(False)
        model.text_projection.requires_grad_(False)
    return model


def load_splits(data_args: DataArguments, training_args: TrainingArguments):
    """Annotation tables of the training and validation splits (the validation one may be `None`)."""
    if data_args.synthetic_corpus_dir:
        with training_args.main_process_first(desc="generating the synthetic corpus"):
            corpus = make_synthetic_corpus(data_args.synthetic_corpus_dir)
        data_args.video_root = str(corpus.root)
        train = load_annotations(corpus.annotation_file("train"))
        validation = load_annotations(corpus.annotation_file("val"))
    elif data_args.dataset_name:
        if os.path.isdir(data_args.dataset_name):
            dataset = datasets.load_from_disk(data_args.dataset_name)
        else:
            dataset = datasets.load_dataset(data_args.dataset_name, data_args.dataset_config_name)
        columns = {"video_column": data_args.video_column, "caption_column": data_args.caption_column}
        train = load_annotations(dataset[data_args.train_split], **columns)
        validation = (
            load_annotations(dataset[data_args.validation_split], **columns) if data_args.validation_split else None
        )
    elif data_args.train_file:
        columns = {"video_column": data_args.video_column, "caption_column": data_args.caption_column}
        train = load_annotations(data_args.train_file, **columns)
        validation = load_annotations(data_args.validation_file, **columns) if data_args.validation_file else None
    else:
        raise ValueError("Give --train_file, --dataset_name or --synthetic_corpus_dir.")
    if data_args.max_train_samples is not None:
        train = train.select(range(min(data_args.max_train_samples, len(train))))
    if validation is not None and data_args.max_eval_samples is not None:
        validation = validation.select(range(min(data_args.max_eval_samples, len(validation))))
    return train, validation


def pretraining_model_card(
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: TrainingArguments,
    num_frames: int,
    metrics: dict[str, float],
) -> ModelCard:
    """
    The Hub card of the output folder: a dual encoder, so no `pipeline_tag` (the card shows the zero-shot pipeline
    instead), the validation retrieval results in its `model-index`, and the licence of `--card_license` or of the
    starting folder's card.
    """
    start = model_args.model_name_or_path or model_args.clip_model_name_or_path
    start_text = display_name(start) if start else f"random weights (`{model_args.config_name}`)"
    source = data_args.dataset_name or data_args.train_file
    if data_args.synthetic_corpus_dir or not source:
        data = "the synthetic moving-shapes corpus of `viclip_train.synthetic`"
    else:
        data = display_name(source)
    eval_results = None
    if metrics:
        recalls = {
            direction: {k: metrics[f"eval_{prefix}_r{k}"] for k in (1, 5, 10)}
            for direction, prefix in (("text-to-video", "t2v"), ("video-to-text", "v2t"))
        }
        eval_name = data_args.validation_file or data_args.validation_split or "validation"
        eval_results = retrieval_eval_results(
            dataset_type=hub_repo_id(data_args.dataset_name) or "custom",
            dataset_name=os.path.basename(os.path.normpath(eval_name)),
            dataset_split="validation",
            recalls=recalls,
        )
    output_name = os.path.basename(os.path.abspath(training_args.output_dir))
    model_id = usage_model_id(training_args.hub_model_id, training_args.output_dir)
    license, license_note = trained_weights_license(model_args.card_license, start)
    return build_model_card(
        model_name=output_name,
        summary=(
            f"A ViCLIP video-text dual encoder pretrained with `run_pretrain.py` from {start_text} on {data}, "
            f"{num_frames} frames per clip, token mask ratio {model_args.mask_ratio:g}."
        ),
        usage=dual_encoder_usage(model_id),
        classification=dual_encoder_classification_section(model_id),
        license=license,
        license_note=license_note,
        datasets=[hub_repo_id(data_args.dataset_name)] if hub_repo_id(data_args.dataset_name) else [],
        tags=["zero-shot-video-classification", "video-text-retrieval"],
        base_model=hub_repo_id(start),
        eval_results=eval_results,
        eval_notes="Retrieval recall (percent) on the validation split, one middle-sampled embedding per video; "
        "identical captions count as interchangeable positives.",
    )


def main() -> None:
    parser = HfArgumentParser((ModelArguments, DataArguments, TrainingArguments), description=__doc__)
    model_args, data_args, training_args = parse_arguments_with_json(parser)
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S", level=logging.INFO
    )
    log_level = training_args.get_process_log_level()
    logger.setLevel(log_level)
    transformers.utils.logging.set_verbosity(log_level)
    datasets.utils.logging.set_verbosity(log_level)
    set_seed(training_args.seed)
    push_to_hub, training_args.push_to_hub = training_args.push_to_hub, False  # published once, at the end

    model = load_model(model_args)
    processor = load_processor(model_args.model_name_or_path, model.config)
    train_annotations, validation_annotations = load_splits(data_args, training_args)
    decode_size = (data_args.decode_size, data_args.decode_size) if data_args.decode_size else None
    dataset_kwargs = {
        "video_processor": processor.video_processor,
        "video_root": data_args.video_root,
        "video_backend": data_args.video_backend,
    }
    train_dataset = VideoDataset(
        train_annotations, train=data_args.train_augmentation, decode_size=decode_size, **dataset_kwargs
    )
    eval_dataset = VideoDataset(validation_annotations, **dataset_kwargs) if validation_annotations else None
    collator = VideoDataCollator(
        processor, normalize_captions=data_args.normalize_captions, max_failed_fraction=data_args.max_failed_fraction
    )
    training_args.remove_unused_columns = False  # the collator's batches are the model's inputs, plus num_skipped
    if training_args.ddp_find_unused_parameters is None:
        training_args.ddp_find_unused_parameters = False  # every trainable parameter takes part in each step

    trainer = ViCLIPTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        data_collator=collator,
        processing_class=processor,
        callbacks=[ClampLogitScaleCallback()],
    )

    if training_args.do_train:
        checkpoint = resolve_resume_checkpoint(training_args.output_dir, training_args.resume_from_checkpoint)
        train_result = trainer.train(resume_from_checkpoint=checkpoint)
        trainer.save_model()  # weights, config, remote code files and the processor
        trainer.log_metrics("train", train_result.metrics)
        trainer.save_metrics("train", train_result.metrics)
        trainer.save_state()

    metrics = {}
    if training_args.do_eval and eval_dataset is not None:
        eval_loader = trainer.get_eval_dataloader(eval_dataset)
        metrics = {
            f"eval_{name}": value
            for name, value in evaluate_retrieval(
                trainer.model, eval_loader, gather=trainer.accelerator.gather_for_metrics
            ).items()
        }
        trainer.log_metrics("eval", metrics)
        trainer.save_metrics("eval", metrics)

    if trainer.is_world_process_zero():
        card = pretraining_model_card(model_args, data_args, training_args, model.config.num_frames, metrics)
        save_model_card(card, training_args.output_dir)
        if push_to_hub:
            repo_id = training_args.hub_model_id or os.path.basename(os.path.normpath(training_args.output_dir))
            url = publish_folder(training_args.output_dir, repo_id, token=training_args.hub_token)
            logger.info(f"Published {training_args.output_dir} to {url}")


if __name__ == "__main__":
    main()
    end_distributed_run()
