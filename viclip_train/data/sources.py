# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Where the data of each split comes from, and the one construction of its dataset (as open_clip's `get_data` does).

[`load_splits`] finds the source of the training and evaluation splits a script needs from its data arguments, per
split the first that applies: tar shards (`--train_shards` / `--validation_shards`, or the synthetic corpus written
as shards with `--synthetic_shards`); with `--streaming`, a `datasets` stream of `--dataset_name` / `--data_files`;
the synthetic corpus (`--synthetic_corpus_dir`); a `datasets` dataset (`--dataset_name` / `--data_files`); a folder
per class (`--train_dir` / `--validation_dir`); annotation files (`--train_file` / `--validation_file`, read through
their memory-mapped Arrow cache). A split is an [`AnnotationSplit`] (a table of rows, whose labels the
classification scripts read before anything is decoded), a [`ShardSplit`] or a [`StreamSplit`].

[`build_datasets`] then turns the splits into datasets with the run's settings ([`DatasetSettings`]): each kind of
split builds its own kind of [`ClipDataset`] ([`VideoDataset`] or the multi-view [`EvaluationVideoDataset`],
[`ShardedVideoDataset`], [`StreamingVideoDataset`]), so that neither a script nor the trainer chooses a dataset class.
"""

import dataclasses
import os
from pathlib import Path
from typing import Any

import datasets
from transformers import TrainingArguments
from transformers.utils import logging

from .annotation_cache import load_cached_annotations
from .annotation_dataset import VideoDataset
from .annotations import VIDEO_EXTENSIONS, load_annotations, video_values_of
from .clips import ClipDataset
from .evaluation_views import EvaluationVideoDataset
from .shards import DEFAULT_SHUFFLE_BUFFER, ShardedVideoDataset
from .streaming import StreamingVideoDataset
from .synthetic import make_synthetic_corpus, write_corpus_shards


logger = logging.get_logger(__name__)

STREAMING_BUILDERS = {
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".csv": "csv",
    ".parquet": "parquet",
    ".tar": "webdataset",
}
"""The `datasets` builder of `--data_files` streamed without `--dataset_name`, by extension."""


@dataclasses.dataclass(frozen=True)
class DatasetSettings:
    """
    The settings of a run that its datasets are built with (see [`ClipDataset`] for what they mean); the training
    split alone is augmented, decoded at `decode_size` and sent as uint8 frames.
    """

    video_processor: Any
    seed: int = 0
    video_backend: str | None = None
    augment: bool = True
    """Random frames and the training augmentation for the training split (`--train_augmentation`)."""
    decode_size: int | None = None
    """Side of the square that training frames are decoded at (`--decode_size`)."""
    uint8_frames: bool = False
    """Training frames sent as uint8, normalised on the device (`--uint8_batches`)."""
    shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER
    frame_decoding: str = "workers"
    """Where training clips stored as JPEG frames are decoded: `workers` or `device` (`--frame_decoding`)."""
    train_batch_size: int = 8
    eval_batch_size: int = 8
    num_workers: int = 0
    world_size: int = 1
    rank: int = 0
    label2id: dict[str, int] | None = None
    """Class ids of text labels (classification)."""
    eval_views: tuple[int, int] | None = None
    """`(clips, crops)` per evaluation video: classification's multi-view items; `None`, one clip per item."""

    @classmethod
    def from_arguments(
        cls, video_processor: Any, data_args: Any, training_args: TrainingArguments, **fields: Any
    ) -> "DatasetSettings":
        """The settings of a script's data and training arguments; `fields` set those of its own flags."""
        return cls(
            video_processor=video_processor,
            seed=training_args.seed,
            video_backend=data_args.video_backend,
            decode_size=data_args.decode_size,
            train_batch_size=training_args.per_device_train_batch_size,
            eval_batch_size=training_args.per_device_eval_batch_size,
            num_workers=training_args.dataloader_num_workers,
            world_size=training_args.world_size,
            rank=training_args.process_index,
            **fields,
        )

    def reading(self, train: bool) -> dict[str, Any]:
        """How every dataset of a split reads its clips: the processor and decoder, and for the training split its
        decode size and uint8 frames."""
        reading = {"video_processor": self.video_processor, "video_backend": self.video_backend}
        if train:
            reading["decode_size"] = (self.decode_size, self.decode_size) if self.decode_size else None
            reading["uint8_frames"] = self.uint8_frames
        return reading

    def splitting(self, train: bool) -> dict[str, Any]:
        """How a dataset that splits itself across processes and workers does it, and the training split's shuffle."""
        splitting = {"world_size": self.world_size, "rank": self.rank, "seed": self.seed}
        if train:
            splitting.update(train=True, augment=self.augment, shuffle_buffer=self.shuffle_buffer)
        return splitting


@dataclasses.dataclass
class AnnotationSplit:
    """The annotation table of one split, where its videos are, and what to call it in messages."""

    annotations: datasets.Dataset
    video_root: str | None
    source: str
    class_names: list[str] | None = None
    """Classes the source itself declares (class folders, a `ClassLabel` feature), if any."""
    videos: datasets.Dataset | None = None
    """The videos of the rows when the source holds them in a `datasets.Video()` column ([`video_values_of`])."""

    def limit(self, rows: int | None) -> "AnnotationSplit":
        """This split cut to its first `rows` rows (`None`: all of them)."""
        if rows is not None and rows < len(self.annotations):
            self.annotations = self.annotations.select(range(rows))
            self.videos = self.videos.select(range(rows)) if self.videos is not None else None
        return self

    def dataset(self, settings: DatasetSettings, *, train: bool) -> VideoDataset:
        """A [`VideoDataset`] of the table (training: augmented as `settings.augment` says, refilling unreadable
        rows), or with `settings.eval_views` the multi-view [`EvaluationVideoDataset`] of the evaluation split."""
        common = {
            "video_root": self.video_root,
            "label2id": settings.label2id,
            "videos": self.videos,
            **settings.reading(train),
        }
        if train:
            return VideoDataset(self.annotations, train=settings.augment, seed=settings.seed, **common)
        if settings.eval_views is not None:
            num_clips, num_crops = settings.eval_views
            return EvaluationVideoDataset(self.annotations, num_clips=num_clips, num_crops=num_crops, **common)
        return VideoDataset(self.annotations, **common)


@dataclasses.dataclass
class ShardSplit:
    """One split as tar shards: files, folders, globs or brace patterns ([`expand_shards`])."""

    shards: list[str]

    def dataset(self, settings: DatasetSettings, *, train: bool) -> ShardedVideoDataset:
        """A [`ShardedVideoDataset`] for this run's processes, workers and batch size."""
        batch_size = settings.train_batch_size if train else settings.eval_batch_size
        return ShardedVideoDataset(
            self.shards,
            batch_size=batch_size,
            num_workers=settings.num_workers,
            decode_on_device=train and settings.augment and settings.frame_decoding == "device",
            **settings.splitting(train),
            **settings.reading(train),
        )


@dataclasses.dataclass
class StreamSplit:
    """One split as a `datasets` stream, with the columns and the folder its videos are read from."""

    stream: datasets.IterableDataset
    source: str
    """The stream's name in messages, e.g. `USER/VIDEOS [train]`."""
    video_root: str | None = None
    video_column: str = "video"
    caption_column: str = "caption"

    def dataset(self, settings: DatasetSettings, *, train: bool) -> StreamingVideoDataset:
        """A [`StreamingVideoDataset`] of this process's part of the stream."""
        return StreamingVideoDataset(
            self.stream,
            video_root=self.video_root,
            video_column=self.video_column,
            caption_column=self.caption_column,
            source=self.source,
            **settings.splitting(train),
            **settings.reading(train),
        )


Split = AnnotationSplit | ShardSplit | StreamSplit


def build_datasets(
    train_split: Split | None, eval_split: Split | None, settings: DatasetSettings
) -> tuple[ClipDataset | None, ClipDataset | None]:
    """The training and evaluation datasets of the splits (`None` for a split not given), each built by its split."""
    train = train_split.dataset(settings, train=True) if train_split is not None else None
    evaluation = eval_split.dataset(settings, train=False) if eval_split is not None else None
    return train, evaluation


def load_splits(
    data_args: Any,
    training_args: TrainingArguments,
    *,
    caption_column: str | None,
    label_column: str | None,
    need_train: bool,
    need_eval: bool,
) -> tuple[Split | None, Split | None]:
    """
    The training and evaluation splits asked for (`None` for a split not needed), each from the first of its sources
    the data arguments give (see the module docstring; arguments a script does not have count as not given).
    Annotation files are converted once into their Arrow cache ([`load_cached_annotations`]) by each machine's main
    process, then memory-mapped by every process; a single `Dataset` without splits is used as the one split needed,
    which a log line says. Every split is cut to `--max_train_samples` / `--max_eval_samples`. A split that is needed
    and has no source is an error naming the flags that give it.
    """
    train, validation = _shard_splits(data_args, training_args, need_train, need_eval)
    need_train, need_eval = need_train and train is None, need_eval and validation is None
    if not (need_train or need_eval):
        return train, validation
    if getattr(data_args, "streaming", False):
        others = _stream_splits(data_args, caption_column, need_train, need_eval)
    else:
        columns = {
            "video_column": data_args.video_column,
            "caption_column": caption_column,
            "label_column": label_column,
        }
        others = _table_splits(data_args, training_args, columns, need_train, need_eval)
    return train or others[0], validation or others[1]


def _shard_splits(
    data_args: Any, training_args: TrainingArguments, need_train: bool, need_eval: bool
) -> tuple[ShardSplit | None, ShardSplit | None]:
    """The splits read from tar shards: `--train_shards` / `--validation_shards`, or the synthetic corpus written as
    shards (once, by each machine's main process) with `--synthetic_shards`."""
    train_shards, validation_shards = (
        getattr(data_args, "train_shards", None),
        getattr(data_args, "validation_shards", None),
    )
    if getattr(data_args, "synthetic_shards", False) and data_args.synthetic_corpus_dir and (need_train or need_eval):
        with training_args.main_process_first(desc="writing the synthetic corpus as shards"):
            folders = write_corpus_shards(make_synthetic_corpus(data_args.synthetic_corpus_dir))
        train_shards, validation_shards = [str(folders["train"])], [str(folders["val"])]
    train = ShardSplit(list(train_shards)) if need_train and train_shards else None
    validation = ShardSplit(list(validation_shards)) if need_eval and validation_shards else None
    return train, validation


def _stream_splits(
    data_args: Any, caption_column: str, need_train: bool, need_eval: bool
) -> tuple[StreamSplit | None, StreamSplit | None]:
    """With `--streaming`: the splits as streams of `--dataset_name` / `--data_files` (`--train_split`,
    `--validation_split`), cut to their first `--max_train_samples` / `--max_eval_samples` examples. Nothing is read
    yet but the file list."""
    name = data_args.dataset_name or "--data_files"
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
            stream = StreamSplit(
                stream.take(limit) if limit else stream,
                source=f"{name} [{split}]",
                video_root=data_args.video_root,
                video_column=data_args.video_column,
                caption_column=caption_column,
            )
        splits.append(stream)
    return splits[0], splits[1]


def _table_splits(
    data_args: Any, training_args: TrainingArguments, columns: dict, need_train: bool, need_eval: bool
) -> tuple[AnnotationSplit | None, AnnotationSplit | None]:
    """The splits read as annotation tables: the synthetic corpus, a `datasets` dataset, class folders or annotation
    files; errors for a needed split without a source; each cut to its `--max_*_samples`."""
    train = validation = None
    if data_args.synthetic_corpus_dir:
        with training_args.main_process_first(desc="generating the synthetic corpus"):
            corpus = make_synthetic_corpus(data_args.synthetic_corpus_dir)
        synthetic = {**columns, "video_column": "video"}
        class_names = corpus.class_names(columns["label_column"]) if columns["label_column"] else None
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
    data_args: Any, columns: dict, need_train: bool, need_eval: bool
) -> tuple[AnnotationSplit | None, AnnotationSplit | None]:
    name = data_args.dataset_name or "--data_files"
    source = load_dataset_source(data_args.dataset_name, data_args.dataset_config_name, data_args.data_files)

    def split_of(part: datasets.Dataset, described: str) -> AnnotationSplit:
        feature = part.features.get(columns["label_column"]) if columns["label_column"] else None
        names = list(feature.names) if isinstance(feature, datasets.ClassLabel) else None
        table, videos = load_annotations(part, **columns), video_values_of(part, columns["video_column"])
        return AnnotationSplit(table, data_args.video_root, described, class_names=names, videos=videos)

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
        return split_of(_named_split(source, split_name, name, flag), f"{name} [{split_name}]")

    train = named_split(data_args.train_split, "train_split") if need_train else None
    validation = named_split(data_args.validation_split, "validation_split") if need_eval else None
    return train, validation


def _named_split(loaded: Any, split: str, name: str, flag: str, hint: str = "") -> Any:
    """Split `split` of a `DatasetDict` or an `IterableDatasetDict`; an error naming the splits and `flag` if none."""
    if split not in loaded:
        raise ValueError(
            f"{name} has no split {split!r}; its splits are {sorted(loaded)}. Choose one with --{flag}{hint}."
        )
    return loaded[split]


def _is_saved_dataset(folder: str) -> bool:
    """Whether `folder` was written by `save_to_disk` (a `Dataset` or a `DatasetDict`)."""
    return any(os.path.isfile(os.path.join(folder, name)) for name in ("state.json", "dataset_dict.json"))


def load_class_folder(root: str) -> AnnotationSplit:
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
    return AnnotationSplit(table, str(root_path), root, class_names=classes)


def load_dataset_source(
    dataset_name: str | None, dataset_config_name: str | None = None, data_files: dict[str, list[str]] | None = None
) -> datasets.DatasetDict | datasets.Dataset:
    """
    Loads `--dataset_name` / `--data_files`: a folder saved with `save_to_disk` (a `DatasetDict`, or a single
    `Dataset`, returned as it is), a folder of JSON/CSV files or a Hub dataset (through `datasets.load_dataset`,
    which names splits after the files), or `data_files` alone (JSON or CSV by their extension).
    """
    if dataset_name and os.path.isdir(dataset_name) and _is_saved_dataset(dataset_name):
        if data_files:
            raise ValueError(f"--data_files selects files to load, but {dataset_name} is a saved dataset.")
        return datasets.load_from_disk(dataset_name)
    if dataset_name:
        return datasets.load_dataset(dataset_name, dataset_config_name, data_files=data_files)
    suffixes = {Path(pattern).suffix.lower() for files in data_files.values() for pattern in files}
    builders = {".json": "json", ".jsonl": "json", ".csv": "csv"}
    if len(suffixes) != 1 or next(iter(suffixes)) not in builders:
        raise ValueError(
            f"--data_files must all be .json/.jsonl or all .csv files, got {sorted(suffixes)}; or give "
            "--dataset_name json / csv."
        )
    return datasets.load_dataset(builders[suffixes.pop()], data_files=data_files)


def load_streaming_split(
    dataset_name: str | None,
    dataset_config_name: str | None,
    data_files: dict[str, list[str]] | None,
    split: str,
    flag: str,
) -> datasets.IterableDataset:
    """
    One split of `--dataset_name` / `--data_files`, loaded with `datasets.load_dataset(..., streaming=True)`: a Hub
    dataset, a local folder of data files (JSON Lines, CSV, Parquet, WebDataset tars), or `data_files` alone (the
    builder chosen by their extension, [`STREAMING_BUILDERS`]).

    Raises:
        `ValueError`: a folder saved with `save_to_disk` (map-style: train from it without `--streaming`), files of
            mixed or unknown types, or a missing split (naming the splits there are and `flag`, which chooses one).
    """
    if dataset_name and os.path.isdir(dataset_name) and _is_saved_dataset(dataset_name):
        raise ValueError(
            f"{dataset_name} is a dataset saved with save_to_disk, which is read memory-mapped: drop --streaming."
        )
    if dataset_name:
        loaded = datasets.load_dataset(dataset_name, dataset_config_name, data_files=data_files, streaming=True)
        name = dataset_name
    else:
        suffixes = {Path(pattern).suffix.lower() for files in data_files.values() for pattern in files}
        builders = {STREAMING_BUILDERS.get(suffix) for suffix in suffixes}
        if len(builders) != 1 or None in builders:
            raise ValueError(
                f"--data_files with --streaming must all be of one kind ({', '.join(sorted(STREAMING_BUILDERS))}), "
                f"got {sorted(suffixes)}; or name the builder with --dataset_name (json, csv, parquet, webdataset)."
            )
        loaded = datasets.load_dataset(builders.pop(), data_files=data_files, streaming=True)
        name = "--data_files"
    if isinstance(loaded, datasets.IterableDataset):
        return loaded
    return _named_split(loaded, split, name, flag, hint=f", or name its files: --data_files {split}=PATH")


__all__ = [
    "STREAMING_BUILDERS",
    "AnnotationSplit",
    "DatasetSettings",
    "ShardSplit",
    "Split",
    "StreamSplit",
    "build_datasets",
    "load_class_folder",
    "load_dataset_source",
    "load_splits",
    "load_streaming_split",
]
