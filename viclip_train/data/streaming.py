# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Training and evaluation from any `datasets` streaming (iterable) dataset: a Hub dataset, a folder or files of JSON
Lines / CSV / Parquet rows, WebDataset tars, or an `IterableDataset` built in Python.

[`StreamingVideoDataset`] turns the examples of a stream (one split, e.g. from [`load_streaming_split`], which loads
it with `datasets.load_dataset(..., streaming=True)`) into the items of [`VideoDataset`], decoding each clip inside
the DataLoader worker from what the video column holds: a path relative to `video_root` (or absolute), the bytes of
the file, a `datasets.Video()` value (`{"bytes", "path"}`; a column that `datasets` would decode is read with
`decode=False`, so that the bytes are decoded here, in memory, by [`ClipDataset.read_frames`], like every other
source), or a decoder object. The InternVid layout (`YoutubeID`, `Start_timestamp`, `End_timestamp`, `Caption`) is
read as for annotation files.

How a stream is split and ordered, all of it done by `datasets`:

- Processes: `datasets.distributed.split_dataset_by_node`. When the number of shards (files) is a multiple of the
  number of processes, each process reads its own shards; otherwise every process reads every example and keeps one
  of `world_size` (a warning says so, and how to reshard).
- DataLoader workers: `datasets` gives each worker of a process its own shards, so a process uses at most as many
  workers as it has shards (a warning says so).
- Epochs: `set_epoch(e)` reorders the shards and reseeds the shuffle buffer (`--shuffle_buffer` examples per worker,
  `IterableDataset.shuffle(seed, buffer_size)`).
- Randomness: a training item's frames, crop and flip come from `(seed, epoch, key)`, the key being a hash of what
  identifies the example (its WebDataset `__url__`/`__key__`, else its video path or bytes, caption and window), so
  that an example gets the same augmentation whichever process, worker or run reads it.

[`StreamingBatches`] is what the trainer iterates ([`StreamingVideoDataset.dataloader`]): the batches of one
process, read through a `StatefulDataLoader`
(torchdata's, the class accelerate's `use_stateful_dataloader` builds on), epochs run back to back, and the end of an
epoch agreed by every process so that none waits for another in a collective:

- Training: an epoch ends for every process when one of them runs out (the others' remaining examples are not trained
  in that epoch; the next epoch's shard order differs). An epoch that gives no batch at all is an error.
- Evaluation: every process reads its whole part; a process that has run out takes empty batches until all have.
- Resume: every checkpoint holds, per process, the epoch, the batches taken and the DataLoader's state (the
  `datasets` state of each worker: shard and example reached). A resumed run starts each worker where it stopped, so
  what was consumed is not decoded again. Exact, except for the shuffle buffer, whose content `datasets` does not
  save: with `--shuffle_buffer 0` the resumed run sees the same examples in the same order (and so ends with the same
  weights); with a buffer, the examples that sat in it at the checkpoint are not trained in that epoch and the order
  after the resume differs, while no example is trained twice in the epoch. `datasets` passes over the consumed part
  of the shard being read without yielding it (rows or tar members are read again, videos are not decoded).
"""

import functools
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import torch
import xxhash
from datasets.distributed import split_dataset_by_node
from transformers import TrainingArguments
from transformers.utils import logging

from ..distributed import agree_across_processes
from .annotations import INTERNVID_COLUMNS, is_video_feature, parse_timestamp, video_source
from .clips import ClipDataset
from .collator import INDEX_KEY, Placeholder
from .shards import DEFAULT_SHUFFLE_BUFFER
from .skipping import SkippedSample


logger = logging.get_logger(__name__)
_PADDING_REASON = "evaluation padding: this process's stream ended before the others'"

STREAMING_STATE_FILE = "streaming_state_{rank}.pt"
"""Per-process record of the stream's position in a checkpoint folder, beside the Trainer's `rng_state_*.pth`."""

_KEY_MASK = (1 << 63) - 1  # keys are non-negative int64, as the batch's `index` tensor holds them


def _first_example(dataset: datasets.IterableDataset, source: str) -> dict[str, Any]:
    try:
        return next(iter(dataset.take(1)))
    except StopIteration:
        raise ValueError(f"{source} holds no examples.") from None


def _video_path(video: Any) -> str | os.PathLike | None:
    if isinstance(video, dict):
        return video.get("path")
    return video if isinstance(video, (str, os.PathLike)) else None


def sample_key(example: dict[str, Any], video: Any, caption: Any, window: tuple[float, float] | None) -> int:
    """A stable 63-bit key of an example: a hash of its WebDataset `__url__`/`__key__` when it has them, else of its
    video (path, or the bytes when there is no path), caption and window; the same wherever the example is read."""
    digest = xxhash.xxh3_64()
    if "__key__" in example:
        parts = [example.get("__url__"), example["__key__"]]
    else:
        path = _video_path(video)
        if path is None:
            data = video.get("bytes") if isinstance(video, dict) else video
            path = xxhash.xxh3_64_hexdigest(bytes(data)) if isinstance(data, (bytes, bytearray, memoryview)) else None
        parts = [os.fspath(path) if path is not None else None, caption, window]
    digest.update(repr(parts).encode("utf-8"))
    return digest.intdigest() & _KEY_MASK


def _describe(example: dict[str, Any], video: Any, key: int) -> str:
    """How a skipped example is named: `url:key` for WebDataset, else its video path, else its key."""
    if "__key__" in example:
        return f"{example.get('__url__')}:{example['__key__']}"
    path = _video_path(video)
    return os.fspath(path) if path else f"example {key}"


class StreamingVideoDataset(ClipDataset, torch.utils.data.IterableDataset):
    """
    Video-caption items from a `datasets.IterableDataset`, split across processes and DataLoader workers by `datasets`
    (see the module docstring for the split, the epochs, the shuffle and resuming). It brings its own DataLoader
    ([`StreamingVideoDataset.dataloader`]: [`StreamingBatches`]) and, in training, keeps its position in it.

    Items are those of [`VideoDataset`]: `pixel_values`, `index` (the example's [`sample_key`]) and `caption`, or a
    [`SkippedSample`] (unreadable video, no video, a caption that is not text), which the collator drops and the
    trainer counts and records. The dataset has no length; `state_dict()` / `load_state_dict()` are those of the
    `datasets` stream, which a `StatefulDataLoader` saves per worker.

    Args:
        dataset (`datasets.IterableDataset`): the stream, e.g. from `load_dataset(..., streaming=True)` or
            `Dataset.to_iterable_dataset(num_shards=...)`; not yet split by node.
        video_processor ([`ViCLIPVideoProcessor`]): turns decoded frames into `pixel_values`.
        video_root (`str`, *optional*): folder that relative video paths are relative to.
        video_column (`str`, defaults to `"video"`): the column holding the video (path, bytes, `datasets.Video()`
            value or decoder object); WebDataset tars name it after the extension (`mp4`).
        caption_column (`str`, defaults to `"caption"`): the column of captions (`txt` for WebDataset tars).
        world_size (`int`, defaults to 1), rank (`int`, defaults to 0): the processes of the run and this one's index.
        train (`bool`, defaults to `False`): shuffle buffer and per-epoch randomness (training) or the stream's own
            order (evaluation).
        augment (`bool`, *optional*): random frames within each segment and the training augmentation (defaults to
            `train`); otherwise middle frames and the evaluation transform.
        seed (`int`, defaults to 0): seed of the shuffle and of each example's randomness.
        shuffle_buffer (`int`, defaults to [`DEFAULT_SHUFFLE_BUFFER`]): examples each worker mixes in training (0 or 1:
            the stream's order, which makes a resume exact).
        num_frames, decode_size, video_backend, uint8_frames: see [`ClipDataset`].
        source (`str`, *optional*): the stream's name in messages.
    """

    def __init__(
        self,
        dataset: datasets.IterableDataset,
        video_processor: Any,
        *,
        video_root: str | os.PathLike | None = None,
        video_column: str = "video",
        caption_column: str = "caption",
        world_size: int = 1,
        rank: int = 0,
        train: bool = False,
        augment: bool | None = None,
        seed: int = 0,
        shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER,
        num_frames: int | None = None,
        decode_size: tuple[int, int] | None = None,
        video_backend: str | None = None,
        uint8_frames: bool = False,
        source: str | None = None,
    ):
        if isinstance(dataset, datasets.Dataset):
            raise TypeError(
                "StreamingVideoDataset reads a datasets.IterableDataset; this is a map-style Dataset: read it with "
                "VideoDataset (memory-mapped), or stream it with dataset.to_iterable_dataset(num_shards=...)."
            )
        if not isinstance(dataset, datasets.IterableDataset):
            raise TypeError(f"StreamingVideoDataset reads a datasets.IterableDataset, got {type(dataset).__name__}.")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"0 <= rank < world_size is needed, got rank {rank} and world_size {world_size}.")
        super().__init__(
            video_processor,
            augment=train if augment is None else augment,
            seed=seed,
            num_frames=num_frames,
            decode_size=decode_size,
            video_backend=video_backend,
            uint8_frames=uint8_frames,
        )
        self.source = source or "the streaming dataset"
        self.video_root = video_root
        self.world_size = world_size
        self.rank = rank
        self.train = train
        self.shuffle_buffer = shuffle_buffer
        self.training_batches: StreamingBatches | None = None
        """The batches of training, once [`StreamingVideoDataset.dataloader`] made them: the position a checkpoint
        saves."""
        self.video_column, self.caption_column, self.window_columns = self._columns(
            dataset, video_column, caption_column
        )
        video_feature = (dataset.features or {}).get(self.video_column)
        if is_video_feature(video_feature) and video_feature.decode:
            # the bytes are decoded here, by the package's decoder, with the example's randomness
            dataset = dataset.cast_column(self.video_column, datasets.Video(decode=False))
        if train and shuffle_buffer > 1:
            dataset = dataset.shuffle(seed=self.seed, buffer_size=shuffle_buffer)
        if world_size > 1:
            if dataset.num_shards % world_size:
                logger.warning(
                    f"{self.source} has {dataset.num_shards} shard(s), not a multiple of the {world_size} processes: "
                    f"every process reads every example and keeps 1 of {world_size} (videos are decoded once, but "
                    f"rows or tar members are read {world_size} times). Split it into a multiple of {world_size} "
                    "files (or use Parquet, whose row groups datasets can reshard) so that each process reads only "
                    "its own shards."
                )
            dataset = split_dataset_by_node(dataset, rank=rank, world_size=world_size)
        self.dataset = dataset

    def _columns(
        self, dataset: datasets.IterableDataset, video_column: str, caption_column: str
    ) -> tuple[str, str, tuple[str, str] | None]:
        """`(video column, caption column, window columns)`, checked against the stream's columns (from its features,
        else from its first example)."""
        if dataset.features is not None:
            columns = list(dataset.features)
        else:
            columns = list(_first_example(dataset, self.source))
        if video_column not in columns and all(name in columns for name in INTERNVID_COLUMNS[:3]):
            caption = caption_column if caption_column in columns else INTERNVID_COLUMNS[3]
            video_column, window = INTERNVID_COLUMNS[0], (INTERNVID_COLUMNS[1], INTERNVID_COLUMNS[2])
        else:
            caption, window = caption_column, None
        for flag, name in (("video_column", video_column), ("caption_column", caption)):
            if name not in columns:
                raise ValueError(
                    f"{self.source} has no column {name!r}; its columns are {sorted(columns)}. Choose one with "
                    f"--{flag} (WebDataset tars name columns after the file extensions: --video_column mp4 "
                    "--caption_column txt), or use the InternVid columns "
                    f"{list(INTERNVID_COLUMNS)}."
                )
        return video_column, caption, window

    @property
    def num_shards(self) -> int:
        """Shards this process's part of the stream has: the most DataLoader workers that get data."""
        return self.dataset.num_shards

    @property
    def epoch(self) -> int:
        return self.dataset.epoch

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next iteration reads: the shard order and the shuffle buffer depend on it."""
        self.dataset.set_epoch(int(epoch))

    def state_dict(self) -> dict:
        """The `datasets` stream's position (in a DataLoader worker: that worker's)."""
        return self.dataset.state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        """Makes the next iteration of the same epoch start at `state_dict`'s position."""
        self.dataset.load_state_dict(state_dict)

    def __getstate__(self) -> dict[str, Any]:
        # what a DataLoader worker gets: the stream, not the batches reading it in the main process
        return {**self.__dict__, "training_batches": None}

    def dataloader(
        self,
        args: TrainingArguments,
        batch_size: int,
        collate_fn: Callable[[list], dict[str, Any]],
        *,
        train: bool,
    ) -> torch.utils.data.DataLoader:
        """
        The batches of this process ([`StreamingBatches`], read by the run's DataLoader workers), through a plain
        DataLoader the Trainer can skip the first batches of when it resumes ([`streaming_dataloader`]).
        """
        if (self.world_size, self.rank) != (args.world_size, args.process_index):
            raise ValueError(
                f"The StreamingVideoDataset was split for process {self.rank} of {self.world_size}, but this is "
                f"process {args.process_index} of {args.world_size}: build it with world_size and rank from the "
                "training arguments."
            )
        batches = StreamingBatches(
            self,
            batch_size=batch_size,
            collate_fn=collate_fn,
            train=train,
            agree=functools.partial(agree_across_processes, device=args.device),
            num_workers=args.dataloader_num_workers,
            pin_memory=args.dataloader_pin_memory,
            persistent_workers=args.dataloader_persistent_workers,
            prefetch_factor=args.dataloader_prefetch_factor,
            drop_last=train and args.dataloader_drop_last,
        )
        if train:
            self.training_batches = batches
        return streaming_dataloader(batches)

    def start_epoch(self, epoch: int, *, resume_batches: int, checkpoint: str | os.PathLike | None) -> None:
        """
        One Trainer epoch spans the run (a stream has no length) and the stream counts its own epochs, so only a
        resume does something here: the training batches continue from the position saved in `checkpoint`.
        """
        if resume_batches and self.training_batches is not None:
            self.training_batches.resume(checkpoint, self.rank, resume_batches)

    def data_epoch(self, trainer_epoch: int) -> int:
        """The stream's own epoch, which the training batches count."""
        return self.training_batches.epoch if self.training_batches is not None else trainer_epoch

    def save_position(self, folder: str | os.PathLike, process_index: int) -> None:
        """Writes the training batches' position ([`StreamingBatches.save`]), beside the Trainer's random states."""
        if self.training_batches is not None:
            self.training_batches.save(folder, process_index)

    def __iter__(self) -> Iterator[dict[str, Any] | SkippedSample]:
        epoch = self.epoch
        for example in self.dataset:
            yield self._item(example, epoch)

    def _item(self, example: dict[str, Any], epoch: int) -> dict[str, Any] | SkippedSample:
        """Decodes and transforms one example, or says why it cannot be."""
        video, caption = example.get(self.video_column), example.get(self.caption_column)
        window = None
        key, name = None, None
        try:
            if self.window_columns is not None:
                window = tuple(parse_timestamp(example[column]) for column in self.window_columns)
                if window[1] <= window[0]:
                    raise ValueError(f"End_timestamp ({window[1]} s) must come after Start_timestamp ({window[0]} s)")
            key = sample_key(example, video, caption, window)
            name = _describe(example, video, key) + (f" ({window[0]}-{window[1]} s)" if window else "")
            if not isinstance(caption, str):
                raise ValueError(f"{self.caption_column!r} must be text, got {caption!r}")
            rng = np.random.default_rng([self.seed, epoch, key])
            frames = self.read_frames(self._video_source(video), window, rng)
        except (OSError, ValueError, RuntimeError, TypeError) as error:
            key = key if key is not None else sample_key(example, None, caption, None)
            return SkippedSample.from_error(key, name or _describe(example, None, key), error)
        return {"pixel_values": self.process_frames(frames, rng), INDEX_KEY: key, "caption": caption}

    def _video_source(self, video: Any) -> Any:
        """What [`ClipDataset.read_frames`] reads for a video column value: relative paths resolved against
        `video_root`."""
        if video is None:
            raise ValueError(f"no video in {self.video_column!r}")
        source = video_source(video, self.video_root)
        return str(source) if isinstance(source, Path) else source


class StreamingBatches(torch.utils.data.IterableDataset):
    """
    The batches of one process from a [`StreamingVideoDataset`], read in the main process from a `StatefulDataLoader`
    (which runs the workers) and handed on whole: iterate it with [`streaming_dataloader`]. See the module docstring
    for how epochs end and how a resume continues.

    In training the iteration never ends: epoch after epoch, each ended at the same batch on every process (the trainer
    stops at `--max_steps`). In evaluation it is one pass, padded with empty batches on the processes that finish
    first. [`StreamingBatches.save`] and [`StreamingBatches.resume`] write and read the position in a checkpoint.

    Args:
        dataset ([`StreamingVideoDataset`]): this process's stream.
        batch_size (`int`): items per batch.
        collate_fn (`Callable`): builds a batch from items, e.g. [`VideoDataCollator`] (also called with one
            [`Placeholder`] for the empty batches of evaluation).
        train (`bool`, defaults to `True`): endless epochs ended together (training) or one padded pass.
        agree (`Callable`, *optional*): `agree(value, everyone=...)`, [`agree_across_processes`] by default.
        loader_kwargs: `num_workers`, `pin_memory`, `persistent_workers`, `prefetch_factor` of the DataLoader.
    """

    def __init__(
        self,
        dataset: StreamingVideoDataset,
        *,
        batch_size: int,
        collate_fn: Callable[[list], dict[str, Any]],
        train: bool = True,
        agree: Callable[..., bool] | None = None,
        **loader_kwargs: Any,
    ):
        from torchdata.stateful_dataloader import StatefulDataLoader

        if batch_size < 1:
            raise ValueError(f"The batch size must be at least 1, got {batch_size}.")
        self.dataset = dataset
        self.batch_size = batch_size
        self.collate_fn = collate_fn
        self.train = train
        self.agree = agree or agree_across_processes
        workers = loader_kwargs.get("num_workers", 0)
        if workers > dataset.num_shards:
            logger.warning(
                f"{dataset.source} has {dataset.num_shards} shard(s) for this process and {workers} DataLoader "
                f"workers: datasets gives each worker whole shards, so only {dataset.num_shards} of them read. Use "
                "more files (at least processes x workers) to read with every worker."
            )
        if workers == 0:
            loader_kwargs.pop("prefetch_factor", None)
            loader_kwargs["persistent_workers"] = False
        # Each new epoch's iterator draws a seed: from a generator of its own, not torch's global one, whose state (the
        # token masks) the trainer restores on resume, so that when an epoch starts does not change the masks
        loader_kwargs.setdefault("generator", torch.Generator().manual_seed(dataset.seed))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*set_vital.*")  # torchdata on newer torch
            self.loader = StatefulDataLoader(dataset, batch_size=batch_size, collate_fn=collate_fn, **loader_kwargs)
        self.num_workers = workers
        self.epoch = 0
        """The epoch being read."""
        self.batches_in_epoch = 0
        """Batches handed on in this epoch."""
        self.batches_taken = 0
        """Batches handed on since the start of training (placeholders of a resume included)."""
        self._placeholders = 0

    def __iter__(self) -> Iterator[dict[str, Any] | None]:
        if not self.train:
            yield from self._one_padded_pass()
            return
        # batches trained on before the checkpoint a run resumes from: the trainer skips them, nothing is read
        for _ in range(self._placeholders):
            yield None
        self._placeholders = 0
        while True:
            self.dataset.set_epoch(self.epoch)
            iterator = iter(self.loader)
            while True:
                batch = next(iterator, None)
                if not self.agree(batch is not None, everyone=True):
                    break
                self.batches_in_epoch += 1
                self.batches_taken += 1
                yield batch
            if self.batches_in_epoch == 0:
                raise ValueError(
                    f"Epoch {self.epoch} of {self.dataset.source} gave no batch of {self.batch_size} to at least one "
                    "process: the stream holds too few examples (or too few shards) for the processes and workers "
                    "of this run."
                )
            if batch is not None:
                logger.info(
                    f"Epoch {self.epoch} ended after {self.batches_in_epoch} batches, when another process ran out: "
                    "the rest of this process's part is not trained in this epoch."
                )
            self.epoch += 1
            self.batches_in_epoch = 0

    def _one_padded_pass(self) -> Iterator[dict[str, Any]]:
        self.dataset.set_epoch(0)
        iterator = iter(self.loader)
        while True:
            batch = next(iterator, None) if iterator is not None else None
            if batch is None:
                iterator = None
            if not self.agree(batch is not None, everyone=False):
                return
            yield batch if batch is not None else self.collate_fn([Placeholder(_PADDING_REASON)])

    def save(self, folder: str | os.PathLike, rank: int) -> None:
        """Writes this process's position (epoch, batches taken, the DataLoader's state) into a checkpoint folder."""
        state = {
            "epoch": self.epoch,
            "batches_in_epoch": self.batches_in_epoch,
            "batches_taken": self.batches_taken,
            "world_size": self.dataset.world_size,
            "num_workers": self.num_workers,
            "batch_size": self.batch_size,
            "loader": self.loader.state_dict() if self.batches_in_epoch else None,
        }
        torch.save(state, os.path.join(folder, STREAMING_STATE_FILE.format(rank=rank)))

    def resume(self, folder: str | os.PathLike, rank: int, batches_taken: int) -> None:
        """
        Continues from the position saved in the checkpoint `folder`: the next iteration first yields `None` for each
        of the `batches_taken` batches trained on before it (the trainer skips them), then the batches after the
        position, in the epoch it was in.

        Raises:
            `ValueError`: no position saved for this process, a different number of processes, workers or batch size
                than the saved run's, or a position that does not match the trainer's step.
        """
        path = os.path.join(folder, STREAMING_STATE_FILE.format(rank=rank))
        if not os.path.isfile(path):
            raise ValueError(
                f"{folder} holds no streaming position for process {rank} ({os.path.basename(path)}): it was not "
                "saved by a --streaming run of this layout. Resume it with its own data, or start over with "
                "--resume_from_checkpoint false (or --ignore_data_skip to keep the weights and restart the data)."
            )
        state = torch.load(path, weights_only=True)
        layout = {
            "world_size": self.dataset.world_size,
            "num_workers": self.num_workers,
            "batch_size": self.batch_size,
        }
        saved = {name: state[name] for name in layout}
        if saved != layout:
            raise ValueError(
                f"{folder} was saved by a run with {saved}; this run has {layout}. The stream's position belongs to "
                "its processes and workers: resume with the same processes, --dataloader_num_workers and "
                "--per_device_train_batch_size, or pass --ignore_data_skip to restart the data."
            )
        if state["batches_taken"] != batches_taken:
            raise ValueError(
                f"{path} is {state['batches_taken']} batches into training, but the checkpoint's step is "
                f"{batches_taken} batches in: --gradient_accumulation_steps differs from the saved run's."
            )
        self.epoch, self.batches_in_epoch = state["epoch"], state["batches_in_epoch"]
        self.batches_taken = batches_taken
        self._placeholders = batches_taken
        self.dataset.set_epoch(self.epoch)
        if state["loader"] is not None:
            self.loader.load_state_dict(state["loader"])


def _as_is(batch: Any) -> Any:
    return batch


def streaming_dataloader(batches: StreamingBatches) -> torch.utils.data.DataLoader:
    """A plain DataLoader over [`StreamingBatches`] (in the main process, batches handed on as they are), the kind of
    loader the Trainer knows how to skip the first batches of when it resumes."""
    generator = torch.Generator().manual_seed(batches.dataset.seed)  # leaves torch's global generator alone
    return torch.utils.data.DataLoader(batches, batch_size=None, collate_fn=_as_is, num_workers=0, generator=generator)


__all__ = [
    "STREAMING_STATE_FILE",
    "StreamingBatches",
    "StreamingVideoDataset",
    "sample_key",
    "streaming_dataloader",
]
