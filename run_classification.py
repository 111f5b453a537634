#!/usr/bin/env python
# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Video classification with ViCLIP: fine-tuning with the transformers Trainer, and evaluation of the fine-tuned model.

    python run_classification.py configs/demo_classification.json   # the embedded demo: fine-tunes on the CPU
    python run_classification.py --model_name_or_path VICLIP_DIR --train_file train.csv --validation_file val.csv \
        --video_root videos/ --output_dir out --do_train --do_eval --bf16 --per_device_train_batch_size 32 ...

Fine-tuning trains `ViCLIPForVideoClassification` (the ViCLIP video tower, its projection and a new linear
classifier) and saves a Hub-ready folder: model with its `id2label` / `label2id`, processor, remote code and a model
card whose `model-index` holds the validation top-1 / top-5; `pipeline("video-classification", model=folder)` runs it.
Zero-shot evaluation of a `ViCLIPModel` from class-name prompts is `run_zero_shot.py`.

Data, one of:
  * `--train_file` / `--validation_file`: `.csv`, `.json` or `.jsonl` rows with a video path (`--video_column`,
    relative to `--video_root`) and a class (`--label_column`: a name, or an integer id);
  * `--train_dir` / `--validation_dir`: a folder per class, `<dir>/<class name>/<video files>`;
  * `--dataset_name` / `--data_files`: any `datasets` dataset (Hub id, `save_to_disk` folder, folder of JSON/CSV
    files) with those columns;
  * `--synthetic_corpus_dir`: the package's synthetic moving-shapes corpus, labelled by direction.

Classes and their ids, from the first that applies: `--label_names_file`; the class folders of `--train_dir`; the
`ClassLabel` names of a `datasets` label column; the sorted training labels (integer labels keep their ids). A class
without any training example is warned about; an evaluation label outside the classes is an error.

Evaluation (`--do_eval`) writes `eval_results.json` with `eval_top1` and `eval_top5` (percent), computed by the
`evaluate` module in `metrics/top_k_accuracy` (loaded from its local path, offline), and logs them to every
`--report_to` integration. By default each video is one view: `num_frames` frames at the middle of equal segments,
each resized to the model's input size (the reference's evaluation transform); `--eval_num_clips` /
`--eval_num_crops` average the logits of several views (evaluations during training use one view).

Arguments come from the command line, or from a JSON file given as the first argument whose values later flags
override; `--help` lists them all, the Trainer's own (`TrainingArguments`) included. Rerunning an interrupted
fine-tuning command resumes from the newest complete checkpoint in `--output_dir`.
"""

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from huggingface_hub import ModelCard
from transformers import HfArgumentParser, TrainingArguments

from viclip import ViCLIPForVideoClassification
from viclip_train import arguments
from viclip_train.arguments import EvaluationArguments, evaluation_views, parse_arguments_with_json
from viclip_train.data.collator import VideoDataCollator
from viclip_train.data.evaluation_views import EvaluationVideoDataset
from viclip_train.data.sources import DatasetSettings, build_datasets, load_splits
from viclip_train.distributed import end_distributed_run
from viclip_train.eval.classification import (
    check_labels,
    class_names_of,
    evaluate_classification,
    keep_class_order,
    label_fields,
    resolve_class_names,
    warn_classes_without_examples,
)
from viclip_train.loading import load_config, load_processor
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
from viclip_train.trainer import ViCLIPTrainer, evaluate_and_save, prepare_run, publish_output, train_and_save


logger = logging.getLogger(__name__)


@dataclass
class ModelArguments(arguments.ModelArguments):
    """Where the model starts from."""

    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "A ViCLIP folder or Hub id. For fine-tuning: a ViCLIPModel (a converted checkpoint or the output "
            "of run_pretrain.py; the classifier starts new) or a ViCLIPForVideoClassification to continue. Without "
            "--do_train: the fine-tuned classifier to evaluate."
        },
    )
    ignore_mismatched_sizes: bool = field(
        default=False,
        metadata={
            "help": "Start a new classifier when --model_name_or_path is a classifier trained on another number of "
            "classes (its head is dropped)."
        },
    )
    card_license: str | None = field(
        default=None,
        metadata={
            "help": "Hub licence id of the fine-tuned weights (e.g. mit, apache-2.0), written in the model card. "
            "Default: the licence declared by the card of --model_name_or_path (a local folder, or a Hub repository "
            "whose card can be read); otherwise none, and the card says the licence is unknown."
        },
    )


@dataclass
class DataArguments(arguments.LabelledDataArguments):
    """What to train and evaluate on."""

    horizontal_flip: bool = field(
        default=True,
        metadata={
            "help": "Flip training clips horizontally with probability 0.5, as the reference augmentation. Turn it "
            "off (--horizontal_flip false) for direction-sensitive classes: Something-Something's 'from left to "
            "right', the synthetic corpus's left / right. The RandomResizedCrop stays."
        },
    )


def parse_arguments() -> tuple[ModelArguments, DataArguments, EvaluationArguments, TrainingArguments]:
    parser = HfArgumentParser(
        (ModelArguments, DataArguments, EvaluationArguments, TrainingArguments),
        description=__doc__,
        allow_abbrev=False,
    )
    return parse_arguments_with_json(parser)


def check_arguments(
    model_args: ModelArguments,
    data_args: DataArguments,
    eval_args: EvaluationArguments,
    training_args: TrainingArguments,
) -> None:
    """Refuses combinations of flags that cannot work (each flag is checked on its own as it is parsed)."""
    if not training_args.do_train and not training_args.do_eval:
        raise ValueError("Nothing to do: pass --do_train and/or --do_eval (zero-shot evaluation: run_zero_shot.py).")
    if training_args.push_to_hub and not training_args.do_train:
        raise ValueError("--push_to_hub publishes the fine-tuned model: it needs --do_train.")
    if not (model_args.model_name_or_path or model_args.config_name):
        raise ValueError(
            "Say where the model starts: --model_name_or_path (a ViCLIP folder or Hub id) or --config_name "
            "(viclip-b16, viclip-l14 or a config.json) for random weights."
        )
    if not training_args.do_train and not model_args.model_name_or_path:
        raise ValueError("--do_eval without --do_train evaluates a fine-tuned classifier: give --model_name_or_path.")


def classification_model_card(
    model_args: ModelArguments,
    data_args: DataArguments,
    eval_args: EvaluationArguments,
    training_args: TrainingArguments,
    class_names: Sequence[str],
    metrics: Mapping[str, float],
    epochs_trained: float | None = None,
) -> ModelCard:
    """
    The Hub card of the output folder: `pipeline_tag: video-classification` (a classifier with fixed labels), the
    evaluation top-1 / top-5 in its `model-index`, the epochs trained (`epochs_trained`, the trainer state's; by
    default `--num_train_epochs`), and the licence of `--card_license` or of the starting checkpoint's card.
    """
    start = model_args.model_name_or_path
    start_text = display_name(start) if start else f"random weights (`{model_args.config_name}`)"
    if data_args.synthetic_corpus_dir:
        classes = "direction" if data_args.label_column == "label" else data_args.label_column  # "label": directions
        data = f"the synthetic moving-shapes corpus of `viclip_train.data.synthetic` (classes: its `{classes}` column)"
        eval_name = f"synthetic-{classes}"
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
    epochs = training_args.num_train_epochs if epochs_trained is None else round(epochs_trained, 2)
    stopped_by = f" (stopped by `--max_steps {training_args.max_steps}`)" if training_args.max_steps > 0 else ""
    training = (
        f"{epochs:g} epoch(s){stopped_by}, learning rate {training_args.learning_rate:g}, batch size "
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


def main() -> None:
    model_args, data_args, eval_args, training_args = parse_arguments()
    check_arguments(model_args, data_args, eval_args, training_args)
    push_to_hub = prepare_run(training_args)
    config = load_config(model_args)  # validated with the overrides before any data is read

    train, validation = load_splits(
        data_args,
        training_args,
        caption_column=None,
        label_column=data_args.label_column,
        need_train=training_args.do_train,
        need_eval=training_args.do_eval,
    )
    # Classes: from the training data when training, else from the fine-tuned classifier being evaluated.
    if training_args.do_train:
        class_names = resolve_class_names(train, data_args.label_names_file)
        check_labels(train, class_names, "training", "Add them to --label_names_file.")
        warn_classes_without_examples(train, class_names)
        class_names = keep_class_order(config, class_names)
        config.update(label_fields(class_names))
    else:
        class_names = class_names_of(config, model_args.model_name_or_path)
    if validation is not None:
        check_labels(
            validation,
            class_names,
            "evaluation",
            "A classifier cannot predict classes it was not trained on: remove those rows from the evaluation set, "
            "add training examples, or list every class in --label_names_file.",
        )
    logger.info(f"{len(class_names)} classes: {class_names[:20]}{' ...' if len(class_names) > 20 else ''}")
    load = {"config": config, "attn_implementation": model_args.attn_implementation}
    if model_args.model_name_or_path:
        model = ViCLIPForVideoClassification.from_pretrained(
            model_args.model_name_or_path, ignore_mismatched_sizes=model_args.ignore_mismatched_sizes, **load
        )
    else:
        model = ViCLIPForVideoClassification._from_config(**load)

    processor = load_processor(model_args.model_name_or_path, model.config)
    processor.video_processor.do_train_flip = data_args.horizontal_flip  # saved with the processor
    settings = DatasetSettings.from_arguments(
        processor.video_processor,
        data_args,
        training_args,
        label2id={name: index for index, name in enumerate(class_names)},
        eval_views=(1, 1),  # one view per video for evaluations during training (--eval_strategy)
    )
    train_dataset, eval_dataset = build_datasets(train, validation, settings)

    def classification(trainer: ViCLIPTrainer, dataset: EvaluationVideoDataset) -> dict[str, float]:
        def score(pixel_values):
            return model(pixel_values=pixel_values).logits

        return evaluate_classification(trainer, dataset, score, class_names, eval_args.save_predictions)

    trainer = ViCLIPTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=VideoDataCollator(),
        processing_class=processor,
        max_failed_fraction=data_args.max_failed_fraction,
        failed_fraction_window=data_args.failed_fraction_window,
        evaluation=classification,
    )
    if training_args.do_train and train_and_save(trainer, training_args) is None:
        return  # finished by an earlier run, whose results are kept
    metrics = {}
    if training_args.do_eval:
        logger.info(f"Evaluating on {validation.source}: {evaluation_views(eval_args)}.")
        views = (eval_args.eval_num_clips, eval_args.eval_num_crops)
        dataset = validation.dataset(replace(settings, eval_views=views), train=False)
        metrics = evaluate_and_save(trainer, dataset)

    if training_args.do_train and trainer.is_world_process_zero():
        card = classification_model_card(
            model_args, data_args, eval_args, training_args, class_names, metrics, epochs_trained=trainer.state.epoch
        )
        save_model_card(card, training_args.output_dir)
    publish_output(trainer, push_to_hub)


if __name__ == "__main__":
    main()
    end_distributed_run()
