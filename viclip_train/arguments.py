# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Command-line arguments shared by the scripts, as dataclasses that `HfArgumentParser` turns into flags (each script
extends them), reading them from a JSON file plus flags, and the `--help` layout of the commands.

Every dataclass checks its own fields in `__post_init__`, as transformers' example scripts do, so that a bad flag
stops the script at once, before a model is built, data is read or a step is taken: the one range check of each flag
(the datasets and the skip policy built from them do not check again); the model configuration with
`--config_overrides` applied is validated next ([`viclip_train.loading.load_config`]).
"""

import argparse
import difflib
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import HfArgumentParser, TrainingArguments
from transformers.utils import logging

from viclip.video_decoding_viclip import resolve_video_backend

from .data.annotations import ANNOTATION_FILE_SUFFIXES


logger = logging.get_logger(__name__)


class CommandHelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """`--help` of the commands: the description as written (its example commands on their own lines) and every
    flag's default."""


def parse_json_object(value: str | Mapping | None, flag: str) -> dict | None:
    """A flag given as a JSON object: a string on the command line, an object in a JSON config file."""
    if value is None or isinstance(value, Mapping):
        return None if value is None else dict(value)
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"--{flag} must be a JSON object: {error.msg} at character {error.pos} of {value!r}."
        ) from None
    if not isinstance(parsed, dict):
        raise ValueError(f"--{flag} must be a JSON object such as '{{\"name\": ...}}', got {value!r}.")
    return parsed


DEMO_MODEL_HINT = (
    " Give an existing folder or a Hub id; the demos start from the pretraining demo's folder, made by "
    "`python run_pretrain.py configs/demo.json`."
)


def check_local_path(path: str | None, flag: str, hint: str = "") -> None:
    """A path that is written as local (`./x`, `/x`, `~/x`) must exist; anything else may be a Hub id."""
    if path and path.startswith((".", os.sep, "~")) and not os.path.exists(os.path.expanduser(path)):
        raise FileNotFoundError(f"--{flag} {path} does not exist.{hint}")


def _check_annotation_file(path: str | None, flag: str) -> None:
    if path is None:
        return
    if not path.lower().endswith(ANNOTATION_FILE_SUFFIXES):
        raise ValueError(f"--{flag} {path}: annotation files are .json, .jsonl or .csv.")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--{flag} {path} does not exist.")


def check_positive(value: int | None, flag: str) -> None:
    """Raises a `ValueError` naming `--flag` when a count given for it is below 1 (`None` is not given)."""
    if value is not None and value < 1:
        raise ValueError(f"--{flag} must be at least 1, got {value}.")


@dataclass
class ModelArguments:
    """Where the model starts from (shared by the training scripts, which add their own fields)."""

    model_name_or_path: str | None = field(default=None, metadata={"help": "A ViCLIP folder or Hub id to start from."})
    config_name: str | None = field(
        default=None,
        metadata={
            "help": "Random initialisation from a preset name (viclip-b16, viclip-l14) or a config.json path, when "
            "no pretrained model is given."
        },
    )
    config_overrides: str | None = field(
        default=None,
        metadata={
            "help": 'JSON of config fields to override, e.g. \'{"vision_config": {"drop_path_rate": 0.1}}\'; in a '
            "JSON config file, an object. The configuration is validated with them before any data is read."
        },
    )
    attn_implementation: str = field(
        default="sdpa", metadata={"help": "Attention backend: sdpa, eager or flash_attention_2 (CUDA, flash-attn)."}
    )

    def __post_init__(self):
        self.config_overrides = parse_json_object(self.config_overrides, "config_overrides")
        check_local_path(self.model_name_or_path, "model_name_or_path", DEMO_MODEL_HINT)
        check_local_path(self.config_name, "config_name")


@dataclass
class DataArguments:
    """What to train and evaluate on (shared by the scripts, which add their own fields)."""

    train_file: str | None = field(
        default=None, metadata={"help": "Training annotations: a .json, .jsonl or .csv file."}
    )
    validation_file: str | None = field(default=None, metadata={"help": "Evaluation annotations, same formats."})
    dataset_name: str | None = field(
        default=None,
        metadata={
            "help": "Instead of files: a `datasets` dataset: a Hub id, a folder saved with save_to_disk (a "
            "DatasetDict, or a single Dataset used as the one split needed), or a folder of JSON/CSV files."
        },
    )
    dataset_config_name: str | None = field(default=None, metadata={"help": "Configuration of --dataset_name."})
    data_files: list[str] | None = field(
        default=None,
        metadata={
            "help": "Annotation files loaded through `datasets` (globs allowed), as 'split=path' or, for the "
            "training split, 'path'; e.g. --data_files train=a/*.jsonl validation=b.jsonl. With --dataset_name they "
            "select its files."
        },
    )
    train_split: str = field(default="train", metadata={"help": "Split of --dataset_name to train on."})
    validation_split: str = field(
        default="validation", metadata={"help": "Split of --dataset_name to evaluate on (with --do_eval)."}
    )
    video_root: str | None = field(
        default=None,
        metadata={"help": "Folder the annotations' video paths (or InternVid YoutubeIDs) are relative to."},
    )
    video_column: str = field(
        default="video",
        metadata={"help": "Column of the videos: paths (under --video_root), or a datasets.Video() column."},
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
        metadata={
            "help": "Unreadable videos are skipped (a training sample is replaced by another whole sample) and "
            "recorded in skipped_samples.rank<N>.jsonl; the run stops when more than this share of the last "
            "--failed_fraction_window samples failed (a wrong --video_root)."
        },
    )
    failed_fraction_window: int = field(
        default=1000,
        metadata={"help": "How many of the most recent samples (all processes) --max_failed_fraction is measured on."},
    )
    annotation_cache_dir: str | None = field(
        default=None,
        metadata={
            "help": "Folder of the Arrow caches of --train_file / --validation_file: each file is converted once "
            "(keyed by its content and the column flags) by the main process of each machine, then memory-mapped "
            "by every process. Default: <HF_DATASETS_CACHE>/viclip_annotations."
        },
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "Use only the first N training rows."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Use only the first N evaluation rows."})
    synthetic_corpus_dir: str | None = field(
        default=None,
        metadata={
            "help": "Generate (once) the embedded synthetic corpus of moving shapes here and train and evaluate on "
            "it. Another data source given with it is an error; given on the command line after a JSON config, "
            "another source replaces the config's (an empty value switches the corpus off)."
        },
    )

    def __post_init__(self):
        self.synthetic_corpus_dir = self.synthetic_corpus_dir or None  # "" on the command line switches it off
        if not self.synthetic_corpus_dir:
            _check_annotation_file(self.train_file, "train_file")
            _check_annotation_file(self.validation_file, "validation_file")
        if self.decode_size is not None and self.decode_size < 1:
            raise ValueError(
                f"--decode_size is the side of decoded frames in pixels, at least 1; got {self.decode_size}."
            )
        if self.video_backend is not None:
            resolve_video_backend(self.video_backend)  # an unknown or uninstalled decoder is an error now
        if not 0.0 <= self.max_failed_fraction <= 1.0:
            raise ValueError(f"--max_failed_fraction is a share in [0, 1], got {self.max_failed_fraction}.")
        check_positive(self.failed_fraction_window, "failed_fraction_window")
        check_positive(self.max_train_samples, "max_train_samples")
        check_positive(self.max_eval_samples, "max_eval_samples")
        if self.video_root and not os.path.isdir(self.video_root) and not self.synthetic_corpus_dir:
            raise FileNotFoundError(f"--video_root {self.video_root} is not a folder.")
        self.data_files = self._data_files_by_split(self.data_files)

    @staticmethod
    def _data_files_by_split(entries: list[str] | dict | None) -> dict[str, list[str]] | None:
        if not entries:
            return None
        if isinstance(entries, list) and len(entries) == 1 and entries[0].lstrip().startswith("{"):
            entries = parse_json_object(entries[0], "data_files")  # an object in a JSON config file
        if isinstance(entries, dict):
            return {split: [files] if isinstance(files, str) else list(files) for split, files in entries.items()}
        by_split: dict[str, list[str]] = {}
        for entry in entries:
            split, _, files = entry.rpartition("=") if "=" in entry else ("", "", entry)
            by_split.setdefault(split or "train", []).append(files)
        return by_split


@dataclass
class LabelledDataArguments(DataArguments):
    """Classification data: videos with a class each, from annotation files or a folder per class."""

    train_dir: str | None = field(
        default=None,
        metadata={"help": "Instead of --train_file: a folder per class, <train_dir>/<class name>/<video files>."},
    )
    validation_dir: str | None = field(
        default=None, metadata={"help": "Instead of --validation_file: a folder per class, as --train_dir."}
    )
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

    def __post_init__(self):
        super().__post_init__()
        for flag in ("train_dir", "validation_dir"):
            path = getattr(self, flag)
            if path and not self.synthetic_corpus_dir and not os.path.isdir(path):
                raise FileNotFoundError(f"--{flag} {path} is not a folder; expected <folder>/<class name>/<videos>.")
        if self.label_names_file and not os.path.isfile(self.label_names_file):
            raise FileNotFoundError(f"--label_names_file {self.label_names_file} does not exist.")


@dataclass
class EvaluationArguments:
    """How classification videos are evaluated (fine-tuned or zero-shot)."""

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
        metadata={"help": "Write one JSON line per evaluated video to <output_dir>/eval_predictions.jsonl."},
    )

    def __post_init__(self):
        check_positive(self.eval_num_clips, "eval_num_clips")
        check_positive(self.eval_num_crops, "eval_num_crops")


def evaluation_views(eval_args: EvaluationArguments) -> str:
    """The evaluation protocol in words, for logs and the model card."""
    if eval_args.eval_num_clips == 1 and eval_args.eval_num_crops == 1:
        return "one view per video: middle-sampled frames, each resized to the input size"
    return (
        f"{eval_args.eval_num_clips} temporal clip(s) x {eval_args.eval_num_crops} spatial crop(s) per video, logits "
        "averaged"
    )


def describe_global_batch(
    training_args: TrainingArguments, recipe_global_batch_size: int | None
) -> tuple[str, str | None]:
    """
    The run's effective global batch in words, and a warning when it differs from the global batch the recipe
    reproduces (`None` when it matches or the recipe states none), saying how to reach it.

    The global batch is `processes x per-device batch`: the contrastive loss gathers features over processes, so that
    is how many clips each one is contrasted with. Gradient accumulation adds clips per optimizer step, not
    negatives: each micro-batch is contrasted within itself.
    """
    processes, per_device = training_args.world_size, training_args.per_device_train_batch_size
    effective = processes * per_device
    accumulation = training_args.gradient_accumulation_steps
    description = f"Global batch: {processes} process(es) x {per_device} clips = {effective} clips contrasted per step"
    if accumulation > 1:
        description += (
            f" ({effective * accumulation} per optimizer step over {accumulation} accumulated micro-batches)"
        )
    description += "."
    if recipe_global_batch_size is None or recipe_global_batch_size == effective:
        return description, None
    needed = -(-recipe_global_batch_size // per_device)
    warning = (
        f"This recipe reproduces a global batch of {recipe_global_batch_size} clips, this run has {effective} "
        f"({processes} process(es) x {per_device}). To match it, run {needed} processes at "
        f"--per_device_train_batch_size {per_device} (e.g. {-(-needed // 8)} node(s) of 8 GPUs with torchrun --nnodes)"
        f", or set --per_device_train_batch_size {recipe_global_batch_size // processes} if it fits in memory. "
        "--gradient_accumulation_steps does not make up for it: it adds clips per optimizer step, not negatives "
        "(each micro-batch is contrasted within itself)."
    )
    return description, warning


def parse_arguments_with_json(parser: HfArgumentParser, argv: list[str] | None = None) -> tuple:
    """
    Parses a script's argument dataclasses from `argv` (default `sys.argv[1:]`): plain flags, or a JSON file as the
    first argument followed by optional flags that override its values, e.g.
    `run_pretrain.py configs/demo.json --max_steps 3 --output_dir /tmp/run`. A multi-process launch (`torchrun`) on a
    machine without a GPU gets `--use_cpu true`, which the Trainer needs to train data-parallel on CPUs. `--fsdp` and
    `--deepspeed` on CPUs get a warning: accelerate runs neither there and trains plain data-parallel instead.
    `--streaming` training without `--max_steps` is an error: a stream has no length to count epochs in.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser.allow_abbrev = False  # `--max_step` is a typo, not `--max_steps`
    if argv and argv[0].endswith(".json"):
        with open(argv[0], encoding="utf-8") as config_file:
            values = json.load(config_file)
        _check_config_keys(parser, values, argv[0])
        values = _data_sources_with_command_line_ones(values, argv[0], argv[1:])
        argv = [flag for name, value in values.items() for flag in _as_flags(name, value)] + argv[1:]
    else:
        _data_sources_with_command_line_ones({}, None, argv)  # two sources on the command line are an error too
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available() and "--use_cpu" not in argv:
        # Without `use_cpu`, the Trainer on a machine with no GPU runs each launched process alone (no DDP).
        logger.warning("Several processes and no GPU: training data-parallel on CPUs (--use_cpu true).")
        argv += ["--use_cpu", "true"]
    arguments = parser.parse_args_into_dataclasses(args=argv)
    for training_args in (value for value in arguments if isinstance(value, TrainingArguments)):
        on_cpu = training_args.use_cpu or not torch.cuda.is_available()
        if on_cpu and (training_args.fsdp or training_args.deepspeed):
            flag = "--fsdp" if training_args.fsdp else "--deepspeed"
            logger.warning(
                f"{flag} has no effect on CPUs (accelerate shards models only on accelerators): training "
                "data-parallel, with a full copy of the model in every process."
            )
        streaming = any(getattr(value, "streaming", False) for value in arguments)
        if streaming and training_args.do_train and training_args.max_steps <= 0:
            raise ValueError(
                "--streaming reads a dataset of unknown length, so training needs --max_steps (the optimizer steps to "
                "take, e.g. epochs x examples / global batch); epochs are counted as the stream runs out."
            )
    return arguments


# The flags that say where a split's data comes from, by kind: a split reads one kind (`--dataset_name` with
# `--data_files` is one source: they select its files). A kind given on the command line after a JSON config replaces
# the config's others; two kinds given in the same place are an error naming both.
_TRAINING_SOURCES = {
    "synthetic_corpus_dir": "synthetic corpus",
    "train_file": "annotation file",
    "train_shards": "tar shards",
    "dataset_name": "dataset",
    "data_files": "dataset",
    "train_dir": "class folders",
}
_EVALUATION_SOURCES = {
    "synthetic_corpus_dir": "synthetic corpus",
    "validation_file": "annotation file",
    "validation_shards": "tar shards",
    "validation_dir": "class folders",
}
# Options of a source, dropped with it.
_SOURCE_OPTIONS = {"synthetic_corpus_dir": ("synthetic_shards",)}


def _check_config_keys(parser: argparse.ArgumentParser, values: Any, config_file: str) -> None:
    """Refuses a JSON config that is not an object or has a key that is no flag of the script, suggesting the
    closest flag: an ignored typo (`num_train_epoch`) would silently train with the default."""
    if not isinstance(values, dict):
        raise ValueError(
            f"{config_file} must hold a JSON object of flag names and values, not {type(values).__name__}."
        )
    flags = {option[2:] for option in parser._option_string_actions if option.startswith("--")}
    for key in values:
        if key not in flags:
            close = difflib.get_close_matches(key, sorted(flags), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ValueError(
                f"{config_file}: {key!r} is not a flag of this script; {hint}Every key of a config is a flag name "
                "(see --help)."
            )


def _given_flags(argv: list[str]) -> dict[str, str | None]:
    """The flags of a command line and their first value (`None` when a flag has none)."""
    given = {}
    for position, token in enumerate(argv):
        if token.startswith("--"):
            name, equals, value = token[2:].partition("=")
            following = argv[position + 1] if position + 1 < len(argv) else None
            given[name] = value if equals else None if following is None or following.startswith("--") else following
    return given


def _data_sources_with_command_line_ones(config: dict, config_file: str | None, argv: list[str]) -> dict:
    """`config` without the data sources that the command line `argv` replaces (a source of another kind for the
    same split), with a warning for each; an error when one place names two kinds of source for a split."""
    config, command_line = dict(config), _given_flags(argv)
    for split, sources in (("training", _TRAINING_SOURCES), ("evaluation", _EVALUATION_SOURCES)):
        given = {name: sources[name] for name, value in command_line.items() if name in sources and value}
        configured = {name: sources[name] for name, value in config.items() if name in sources and value}
        for place, found in (("on the command line", given), (f"in {config_file}", configured)):
            kinds = list(dict.fromkeys(found.values()))
            if len(kinds) > 1:
                first, second = (next(name for name in found if found[name] == kind) for kind in kinds[:2])
                raise ValueError(
                    f"--{first} and --{second} {place} name two {split} data sources ({kinds[0]} and {kinds[1]}); "
                    "give one."
                )
        if not given:
            continue
        kind, flag = next(iter(given.values())), next(iter(given))
        for name in [name for name, found in configured.items() if found != kind]:
            if split == "evaluation" and name in _TRAINING_SOURCES:  # also the training data: it cannot just go
                raise ValueError(
                    f"--{flag} on the command line and {name!r} in {config_file} name two {split} data sources; "
                    f"to evaluate on --{flag}, also give the training data on the command line."
                )
            logger.warning(f"--{flag} on the command line replaces {name!r} ({config[name]}) of {config_file}.")
            for option in (name, *_SOURCE_OPTIONS.get(name, ())):
                config.pop(option, None)
    return config


def _as_flags(name: str, value: Any) -> list[str]:
    """The command-line flags that give `name` the JSON `value`."""
    if isinstance(value, list):
        return [f"--{name}", *(str(item) for item in value)]
    if isinstance(value, dict):
        return [f"--{name}", json.dumps(value)]
    return [f"--{name}", str(value)]


__all__ = [
    "DEMO_MODEL_HINT",
    "CommandHelpFormatter",
    "DataArguments",
    "EvaluationArguments",
    "LabelledDataArguments",
    "ModelArguments",
    "check_local_path",
    "check_positive",
    "describe_global_batch",
    "evaluation_views",
    "parse_arguments_with_json",
    "parse_json_object",
]
