#!/usr/bin/env python
# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Video-text contrastive pretraining of ViCLIP with the transformers Trainer, from one CPU to many GPU nodes.

    python run_pretrain.py configs/demo.json                       # the embedded demo, CPU, a few minutes
    python run_pretrain.py --train_file train.json --video_root videos/ --clip_model_name_or_path CLIP_DIR \
        --output_dir out --bf16 --per_device_train_batch_size 64 ...
    torchrun --nproc_per_node 8 run_pretrain.py configs/viclip_b16_stage1.json
    python run_pretrain.py ... --streaming --dataset_name USER/VIDEOS --video_column mp4 --caption_column txt \
        --max_steps 10000                                          # any `datasets` stream

Arguments come from the command line, or from a JSON file given as the first argument whose values later flags
override (`run_pretrain.py configs/demo.json --max_steps 10`); `--help` lists them all, the Trainer's own
(`TrainingArguments`) included. Rerunning an interrupted command resumes from the newest complete checkpoint in
`--output_dir`; unreadable videos are skipped, counted and listed in `skipped_samples.rank<N>.jsonl` there.
"""

import logging
import os
from dataclasses import dataclass, field

from huggingface_hub import ModelCard
from transformers import HfArgumentParser, TrainingArguments

from viclip import ViCLIPModel
from viclip_train import arguments
from viclip_train.arguments import check_positive, describe_global_batch, parse_arguments_with_json
from viclip_train.convert import viclip_from_clip
from viclip_train.data.clips import ClipDataset
from viclip_train.data.collator import VideoDataCollator
from viclip_train.data.shards import DEFAULT_SHUFFLE_BUFFER
from viclip_train.data.sources import DatasetSettings, build_datasets, load_splits
from viclip_train.distributed import end_distributed_run
from viclip_train.eval.retrieval import evaluate_retrieval
from viclip_train.loading import load_config, load_processor
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
from viclip_train.trainer import (
    ClampLogitScaleCallback,
    ViCLIPTrainer,
    evaluate_and_save,
    prepare_run,
    publish_output,
    train_and_save,
)


logger = logging.getLogger(__name__)


@dataclass
class ModelArguments(arguments.ModelArguments):
    """Where the model starts from, and what of it trains."""

    model_name_or_path: str | None = field(
        default=None, metadata={"help": "A ViCLIP folder or Hub id to continue pretraining from."}
    )
    clip_model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "A transformers CLIPModel folder or Hub id to initialise from, as the reference does (per-frame "
            "patch embedding, zero temporal table, text positions cut to 32, logit scale kept). --config_overrides "
            "may also set hidden_act and max_text_positions here."
        },
    )
    num_frames: int = field(default=8, metadata={"help": "Frames per clip for a model built from CLIP."})
    mask_ratio: float = field(
        default=0.9,
        metadata={
            "help": "Share of video patch tokens dropped in training steps, in [0, 1) (0.9 in the reference's first "
            "stage, 0 in its second). A setting of this run, stated in the model card, not saved in the model's "
            "config: the saved model never masks unless a training loop passes mask_ratio to its forward."
        },
    )
    freeze_text: bool = field(
        default=True, metadata={"help": "Keep the text tower and its projection frozen, as the reference does."}
    )
    card_license: str | None = field(
        default=None,
        metadata={
            "help": "Hub licence id of the trained weights (e.g. mit, apache-2.0), written in the model card. "
            "Default: the licence declared by the card of the checkpoint training starts from "
            "(--model_name_or_path or --clip_model_name_or_path: a local folder, or a Hub repository whose card can "
            "be read); otherwise none, and the card says it is unknown."
        },
    )

    def __post_init__(self):
        super().__post_init__()
        if not 0.0 <= self.mask_ratio < 1.0:
            raise ValueError(f"--mask_ratio is the share of patch tokens dropped: in [0, 1), got {self.mask_ratio}.")
        check_positive(self.num_frames, "num_frames")
        if not (self.model_name_or_path or self.clip_model_name_or_path or self.config_name):
            raise ValueError(
                "Say where the model starts: --model_name_or_path (a ViCLIP folder), --clip_model_name_or_path (a "
                "CLIP folder) or --config_name (viclip-b16, viclip-l14 or a config.json)."
            )


@dataclass
class DataArguments(arguments.DataArguments):
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
    caption_column: str = field(default="caption", metadata={"help": "Annotation column of the captions."})
    normalize_captions: bool = field(
        default=False,
        metadata={"help": "Normalise captions as the reference's training data was (lower case, no punctuation)."},
    )
    train_augmentation: bool = field(
        default=True,
        metadata={
            "help": "Random frames within each segment, RandomResizedCrop and flip in training, as the reference; "
            "false: middle frames and a plain resize (deterministic)."
        },
    )
    train_shards: list[str] | None = field(
        default=None,
        metadata={
            "help": "Instead of --train_file: WebDataset tar shards (one .mp4 plus .txt and/or .json with a caption "
            "per sample, as python -m viclip_train.data.shard_writer or video2dataset write them): files, folders, "
            "globs or brace patterns such as shards/{00000..00999}.tar. Split across processes and workers without "
            "duplicates, shuffled per epoch, decoded from memory; resuming passes over the consumed batches unread."
        },
    )
    validation_shards: list[str] | None = field(
        default=None, metadata={"help": "Instead of --validation_file: evaluation shards, same forms; each read once."}
    )
    shuffle_buffer: int = field(
        default=DEFAULT_SHUFFLE_BUFFER,
        metadata={
            "help": "Training samples each DataLoader worker mixes its shard reading order over (with the shard order "
            "drawn per epoch); their encoded bytes are held in memory (about 0.3 MB per 256p clip). With "
            "--streaming, the size of datasets' shuffle buffer, whose content a checkpoint does not hold: a resumed "
            "run then skips the examples that were in it and continues in another order (0 makes a resume exact)."
        },
    )
    streaming: bool = field(
        default=False,
        metadata={
            "help": "Read --dataset_name / --data_files as a datasets stream (load_dataset(..., streaming=True)): a "
            "Hub dataset, or local JSON Lines / CSV / Parquet / WebDataset tar files, videos as paths under "
            "--video_root, bytes or datasets.Video() values (WebDataset: --video_column mp4 --caption_column txt). "
            "Split across processes and workers by datasets (shards per process when their number is a multiple of "
            "the processes, else 1 example in world_size each; a process uses at most as many workers as it has "
            "shards). Needs --max_steps (no length). Resuming continues each worker where it stopped; exact with "
            "--shuffle_buffer 0."
        },
    )
    uint8_batches: bool = field(
        default=True,
        metadata={
            "help": "Workers send training frames as uint8, normalised on the device with identical results: a "
            "quarter of the float32 batch in shared memory (512 clips of 8x224x224: 0.6 GiB instead of 2.3 GiB, "
            "times workers x prefetch factor batches in flight)."
        },
    )
    frame_decoding: str = field(
        default="workers",
        metadata={
            "help": "Where training clips stored as JPEG frames (shards written with --clip_format frames) are "
            "decoded: workers (in the DataLoader workers, on the CPU with libjpeg-turbo) or device (the workers only "
            "read bytes and draw the augmentation; this process decodes the batch on its device, nvJPEG on CUDA, and "
            "crops, resizes and flips it there as batched tensor operations). Clips stored as video are decoded by "
            "the workers either way.",
            "choices": ["workers", "device"],
        },
    )
    synthetic_shards: bool = field(
        default=False,
        metadata={
            "help": "With --synthetic_corpus_dir: write the synthetic corpus as tar shards (once, under "
            "<synthetic_corpus_dir>/shards/) and train and evaluate from them, as configs/demo_shards.json does."
        },
    )
    recipe_global_batch_size: int | None = field(
        default=None,
        metadata={
            "help": "The global batch (processes x per-device batch) the recipe reproduces, as the shipped recipes "
            "state it; the script logs the run's and warns when it differs, saying how to reach it."
        },
    )

    def __post_init__(self):
        # shards replace the annotation file of the same split (a recipe's --train_file, say), before it is checked
        for shards, file in (("train_shards", "train_file"), ("validation_shards", "validation_file")):
            if getattr(self, shards) and getattr(self, file):
                logger.warning(f"--{shards} given: --{file} {getattr(self, file)} is not read.")
                setattr(self, file, None)
        if self.streaming:
            if not (self.dataset_name or self.data_files):
                raise ValueError(
                    "--streaming reads --dataset_name (a Hub id or a folder of JSON Lines / CSV / Parquet / "
                    "WebDataset files) or --data_files; tar shards are read by --train_shards."
                )
            for file in ("train_file", "validation_file"):  # a recipe's annotation files: the stream replaces them
                if getattr(self, file):
                    logger.warning(f"--streaming given: --{file} {getattr(self, file)} is not read.")
                    setattr(self, file, None)
        super().__post_init__()
        if self.shuffle_buffer < 0:
            raise ValueError(f"--shuffle_buffer is a number of samples, at least 0; got {self.shuffle_buffer}.")
        check_positive(self.recipe_global_batch_size, "recipe_global_batch_size")


def load_model(model_args: ModelArguments) -> ViCLIPModel:
    """The model to train: continued from ViCLIP, initialised from CLIP, or random from a config; its configuration
    (with the overrides) is validated as it is built. `--mask_ratio` is not part of it: the trainer applies it."""
    if model_args.clip_model_name_or_path:
        overrides = dict(model_args.config_overrides or {})
        clip_options = {
            name: overrides.pop(name) for name in ("hidden_act", "max_text_positions") if name in overrides
        }
        model = viclip_from_clip(
            model_args.clip_model_name_or_path,
            num_frames=model_args.num_frames,
            **clip_options,
            **overrides,
        )
        model.set_attn_implementation(model_args.attn_implementation)
    elif model_args.model_name_or_path:
        config = load_config(model_args)
        model = ViCLIPModel.from_pretrained(
            model_args.model_name_or_path, config=config, attn_implementation=model_args.attn_implementation
        )
    else:
        config = load_config(model_args)
        model = ViCLIPModel._from_config(config, attn_implementation=model_args.attn_implementation)
    if model_args.freeze_text:
        model.text_model.requires_grad_(False)
        model.text_projection.requires_grad_(False)
    return model


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
    source = data_args.dataset_name or data_args.train_file or (data_args.train_shards or [None])[0]
    if data_args.synthetic_corpus_dir or not source:
        data = "the synthetic moving-shapes corpus of `viclip_train.data.synthetic`"
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
    parser = HfArgumentParser(
        (ModelArguments, DataArguments, TrainingArguments), description=__doc__, allow_abbrev=False
    )
    model_args, data_args, training_args = parse_arguments_with_json(parser)
    push_to_hub = prepare_run(training_args)

    model = load_model(model_args)
    processor = load_processor(model_args.model_name_or_path, model.config)
    description, warning = describe_global_batch(training_args, data_args.recipe_global_batch_size)
    logger.info(description)
    if warning and training_args.do_train:
        logger.warning(warning)
    train_split, eval_split = load_splits(
        data_args,
        training_args,
        caption_column=data_args.caption_column,
        label_column=None,
        need_train=training_args.do_train,
        need_eval=training_args.do_eval,
    )
    settings = DatasetSettings.from_arguments(
        processor.video_processor,
        data_args,
        training_args,
        augment=data_args.train_augmentation,
        uint8_frames=data_args.uint8_batches,
        shuffle_buffer=data_args.shuffle_buffer,
        frame_decoding=data_args.frame_decoding,
    )
    train_dataset, eval_dataset = build_datasets(train_split, eval_split, settings)
    if training_args.ddp_find_unused_parameters is None:
        training_args.ddp_find_unused_parameters = False  # every trainable parameter takes part in each step

    def retrieval(trainer: ViCLIPTrainer, dataset: ClipDataset) -> dict[str, float]:
        loader = trainer.get_eval_dataloader(dataset)
        return evaluate_retrieval(trainer.model, loader, across_processes=True, skipped_log=trainer.new_skipped_log())

    trainer = ViCLIPTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=VideoDataCollator(processor, normalize_captions=data_args.normalize_captions),
        processing_class=processor,
        callbacks=[ClampLogitScaleCallback()],
        max_failed_fraction=data_args.max_failed_fraction,
        failed_fraction_window=data_args.failed_fraction_window,
        evaluation=retrieval,
        mask_ratio=model_args.mask_ratio,
    )
    if training_args.do_train and train_and_save(trainer, training_args) is None:
        return  # finished by an earlier run, whose results are kept
    metrics = evaluate_and_save(trainer) if training_args.do_eval else {}

    if trainer.is_world_process_zero():
        card = pretraining_model_card(model_args, data_args, training_args, model.config.num_frames, metrics)
        save_model_card(card, training_args.output_dir)
    publish_output(trainer, push_to_hub)


if __name__ == "__main__":
    main()
    end_distributed_run()
