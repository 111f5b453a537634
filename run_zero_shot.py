#!/usr/bin/env python
# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Zero-shot video classification with a ViCLIP dual encoder: no training, class names written into text prompts.

    python run_zero_shot.py configs/demo_zero_shot.json        # zero-shot evaluation of the pretraining demo
    python run_zero_shot.py --model_name_or_path VICLIP_DIR --validation_file k400_val.csv --video_root videos/ \
        --output_dir out

Each class name is written into every template (by default the 16 prompt templates of the reference's Kinetics
evaluation), the text embeddings are computed once and averaged per class, and a video's class is the one its
embedding is most similar to, the similarities scaled by the model's `exp(logit_scale)`. Data and classes as in
`run_classification.py` (`--validation_file`, `--validation_dir`, `--dataset_name` / `--data_files`,
`--synthetic_corpus_dir`; class names from `--label_names_file` or the labels themselves: integer labels need
`--label_names_file`, the prompts need names).

The paper's Kinetics protocol (Table 1) is one command on your copy of the validation videos:

    python run_zero_shot.py --label_set kinetics400 --model_name_or_path VICLIP_DIR --validation_file k400_val.csv \
        --video_root kinetics400/val --output_dir eval/k400

`--label_set kinetics400 | kinetics600 | kinetics700` fixes the classes and their order to the official list shipped
with the package; the file's labels are matched to the official names (case, `_` / `-`, quotes and punctuation
ignored; integers are indices), and the prompts are normalised as the reference's evaluation writes them.

Writes `eval_results.json` with `eval_zero_shot_top1`, `eval_zero_shot_top5` and `eval_zero_shot_avg` (their mean,
the paper's AVG), in percent, logs them to every `--report_to` integration, and with `--save_predictions` one line
per video. `--eval_num_clips` / `--eval_num_crops` average the scores of several views per video.
"""

import logging
from dataclasses import dataclass, field

from transformers import HfArgumentParser, TrainingArguments

from viclip import ViCLIPConfig, ViCLIPModel
from viclip.pipeline_viclip import resolve_templates
from viclip_train.arguments import (
    DEMO_MODEL_HINT,
    EvaluationArguments,
    LabelledDataArguments,
    check_local_path,
    evaluation_views,
    parse_arguments_with_json,
    parse_json_object,
)
from viclip_train.data.collator import VideoDataCollator
from viclip_train.data.evaluation_views import EvaluationVideoDataset
from viclip_train.data.sources import DatasetSettings, build_datasets, load_splits
from viclip_train.distributed import end_distributed_run
from viclip_train.eval.classification import (
    check_labels,
    evaluate_classification,
    resolve_class_names,
    zero_shot_scorer,
)
from viclip_train.eval.label_sets import (
    canonicalize_labels,
    load_label_set,
    reference_prompt_text,
    resolve_label_set_name,
)
from viclip_train.loading import load_processor
from viclip_train.trainer import ViCLIPTrainer, prepare_run


logger = logging.getLogger(__name__)


@dataclass
class ZeroShotArguments:
    """The dual encoder and its prompts."""

    model_name_or_path: str = field(
        metadata={
            "help": "The ViCLIPModel to evaluate (a folder or Hub id): a converted checkpoint or the output of "
            "run_pretrain.py."
        }
    )
    attn_implementation: str = field(
        default="sdpa", metadata={"help": "Attention backend: sdpa, eager or flash_attention_2 (CUDA, flash-attn)."}
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

    def __post_init__(self):
        check_local_path(self.model_name_or_path, "model_name_or_path", DEMO_MODEL_HINT)
        self.zero_shot_label_text = parse_json_object(self.zero_shot_label_text, "zero_shot_label_text") or {}


@dataclass
class DataArguments(LabelledDataArguments):
    """What to evaluate on, and which classes."""

    label_set: str | None = field(
        default=None,
        metadata={
            "help": "A shipped class list (kinetics400, kinetics600, kinetics700) fixing the classes and their "
            "order; the evaluation labels are matched to the official names (case, '_'/'-', quotes and punctuation "
            "ignored; integers are indices)."
        },
    )

    def __post_init__(self):
        super().__post_init__()
        if self.label_set:
            if self.label_names_file:
                raise ValueError(
                    "--label_set and --label_names_file both name the classes: give one of them (--label_set for "
                    "the shipped Kinetics lists, --label_names_file for your own list)."
                )
            self.label_set = resolve_label_set_name(self.label_set)  # an unknown name fails before any data is read


def parse_arguments() -> tuple[ZeroShotArguments, DataArguments, EvaluationArguments, TrainingArguments]:
    parser = HfArgumentParser(
        (ZeroShotArguments, DataArguments, EvaluationArguments, TrainingArguments),
        description=__doc__,
        allow_abbrev=False,
    )
    return parse_arguments_with_json(parser)


def check_arguments(zero_shot_args: ZeroShotArguments, training_args: TrainingArguments) -> None:
    """Refuses Trainer flags that ask for something zero-shot evaluation does not do."""
    if training_args.do_train:
        raise ValueError("Zero-shot evaluation trains nothing: drop --do_train (to fine-tune: run_classification.py).")
    if training_args.push_to_hub:
        raise ValueError(
            "Zero-shot evaluation writes only evaluation results; there is no new model to --push_to_hub."
        )


def main() -> None:
    zero_shot_args, data_args, eval_args, training_args = parse_arguments()
    check_arguments(zero_shot_args, training_args)
    prepare_run(training_args)
    path = zero_shot_args.model_name_or_path
    config = ViCLIPConfig.from_pretrained(path)
    if config.architectures and "ViCLIPModel" not in config.architectures:
        raise ValueError(
            f"Zero-shot evaluation needs a ViCLIP dual encoder (ViCLIPModel, with its text tower), but {path} holds "
            f"{config.architectures}."
        )

    _, validation = load_splits(
        data_args,
        training_args,
        caption_column=None,
        label_column=data_args.label_column,
        need_train=False,
        need_eval=True,
    )
    if data_args.label_set:
        class_names = load_label_set(data_args.label_set)
        validation.annotations = canonicalize_labels(
            validation.annotations, class_names, validation.source, data_args.label_set
        )
    else:
        class_names = resolve_class_names(validation, data_args.label_names_file)
        if all(name.isdigit() for name in class_names) and not data_args.label_names_file:
            raise ValueError(
                f"{validation.source} has integer labels, but zero-shot classification needs class names to write "
                "into the prompts: give them with --label_names_file (or --label_set for Kinetics)."
            )
    check_labels(validation, class_names, "evaluation", "List every class in --label_names_file.")
    label_text = zero_shot_args.zero_shot_label_text
    unknown = sorted(set(label_text) - set(class_names))
    if unknown:
        raise ValueError(f"--zero_shot_label_text names classes {unknown} that are not among {class_names[:20]}.")
    prompts = [label_text.get(name, name) for name in class_names]
    templates = zero_shot_args.zero_shot_templates
    templates = resolve_templates(templates[0] if len(templates) == 1 else templates)
    if data_args.label_set:
        prompts, templates = reference_prompt_text(prompts, templates)  # as the reference writes its prompts
    classes = f"classes ({data_args.label_set})" if data_args.label_set else "classes"
    logger.info(
        f"Zero-shot evaluation of {path} on {validation.source}: {len(class_names)} {classes}, {len(templates)} "
        f"templates, {evaluation_views(eval_args)}."
    )

    model = ViCLIPModel.from_pretrained(path, attn_implementation=zero_shot_args.attn_implementation)
    processor = load_processor(path, config)
    settings = DatasetSettings.from_arguments(
        processor.video_processor,
        data_args,
        training_args,
        label2id={name: index for index, name in enumerate(class_names)},
        eval_views=(eval_args.eval_num_clips, eval_args.eval_num_crops),
    )
    _, dataset = build_datasets(None, validation, settings)

    def zero_shot(trainer: ViCLIPTrainer, dataset: EvaluationVideoDataset) -> dict[str, float]:
        score = zero_shot_scorer(trainer.model, processor, prompts, templates)
        return evaluate_classification(trainer, dataset, score, class_names, eval_args.save_predictions)

    trainer = ViCLIPTrainer(
        model=model,
        args=training_args,
        data_collator=VideoDataCollator(),
        processing_class=processor,
        max_failed_fraction=data_args.max_failed_fraction,
        failed_fraction_window=data_args.failed_fraction_window,
        evaluation=zero_shot,
    )
    metrics = trainer.evaluate(dataset, metric_key_prefix="eval_zero_shot")
    metrics["eval_zero_shot_avg"] = (metrics["eval_zero_shot_top1"] + metrics["eval_zero_shot_top5"]) / 2
    trainer.log({"eval_zero_shot_avg": metrics["eval_zero_shot_avg"]})
    trainer.log_metrics("eval", metrics)
    trainer.save_metrics("eval", metrics)


if __name__ == "__main__":
    main()
    end_distributed_run()
