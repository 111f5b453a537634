# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Training and evaluation from WebDataset-style tar shards: pre-cut clips read sequentially, decoded from memory.

A shard is a tar file of samples; a sample is the run of consecutive members that share a key (the member name up
to the first dot of its file name), as video2dataset and [`viclip_train.data.shard_writer`] write them:
`000123.mp4` (or any of [`VIDEO_EXTENSIONS`]) + `000123.json` (metadata, `caption` among it) and/or `000123.txt`
(the caption). Shards are local files, given as paths, folders, globs or brace patterns (`shards/{00000..00999}.tar`).

How an epoch is read ([`ShardedVideoDataset`], a `torch.utils.data.IterableDataset`):

- Every sample has a global index: its position when the shards are taken in the order given (sorted for folders
  and globs). Counts per shard come from the shard writer's `manifest.json` (when its sizes match) or from scanning
  the tar headers once (no data is read).
- Epoch `e` concatenates the shards in an order drawn from `(seed, e)` and cuts that sequence into one contiguous,
  equal part per *slot*, a slot being one DataLoader worker of one process (`world_size * max(1, num_workers)`
  slots). Each slot reads its part sequentially (at most two partial shards per slot), so samples are split across
  nodes, ranks and workers without duplicates. In training each part holds `floor(N / slots / batch) * batch`
  samples, so every process gets the same number of full batches (a DDP run never waits on a process that ran out);
  the few samples left over fall elsewhere in the next epoch's order. In evaluation every sample is read once and
  the parts are padded (with [`Placeholder`]s the collator drops) to the same length.
- A shuffle buffer of `shuffle_buffer` samples mixes each part: the order it gives is computed from
  `(seed, e, slot)` over sample *positions* before anything is read, then the bytes are read sequentially and held
  until their turn (at most about `shuffle_buffer` samples in memory per worker).
- Decoding happens from the member's bytes in memory ([`ClipDataset.read_frames`] on `bytes`, no temporary file);
  a training sample's randomness (frames, crop, flip) comes from `(seed, epoch, global index)`, as for annotation
  files. A sample that cannot be decoded or has no caption becomes a [`SkippedSample`] naming `shard:key`, counted and
  recorded by the trainer as for files (it is not replaced: its batch is one clip shorter).

Exact resume: the position of a run is the number of batches each process has taken in the current epoch, which the
Trainer's checkpoint already holds (its global step). On resume the dataset yields, for the batches already taken,
[`Placeholder`]s that no byte is read or decoded for (the Trainer discards these batches), and reads the samples still
due in the shuffle order, skipping consumed ones by their tar headers only. So a resumed run sees the same samples,
in the same order, with the same augmentation, as a run that was never interrupted, provided it has the same number
of processes, workers and batch size (a different layout is refused when resuming).
"""

import glob
import json
import os
import tarfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from braceexpand import braceexpand
from transformers import TrainingArguments

from viclip.video_processing_viclip import train_crop_and_flip

from .annotations import VIDEO_EXTENSIONS
from .clips import ClipDataset
from .collator import INDEX_KEY, Placeholder
from .frame_clips import check_frames, choose_frames, decode_frames, stored_frames
from .skipping import SkippedSample


SHARD_MANIFEST = "manifest.json"
"""The shard writer's record in the shard folder: per-shard sample counts (which spare a header scan) and failures."""

DEFAULT_SHUFFLE_BUFFER = 1000
"""Samples a training worker mixes its reading order over (their bytes are held in memory)."""

_VIDEO_FIELDS = tuple(extension.lstrip(".") for extension in VIDEO_EXTENSIONS)
_CONSUMED = Placeholder("consumed before the resume")
_PADDING = Placeholder("padding")


def expand_shards(patterns: str | Sequence[str]) -> list[str]:
    """
    The shard files of `patterns`: each a path, a folder (its `*.tar`, sorted), a glob (sorted) or a brace pattern
    (`shards/{00000..00999}.tar`, `{a,b}/x.tar`), in the order given.

    Raises:
        `FileNotFoundError`: naming the patterns or files that match nothing.
        `ValueError`: a URL (shards are local files) or no shard at all.
    """
    if isinstance(patterns, (str, os.PathLike)):
        patterns = [patterns]
    shards, missing = [], []
    for pattern in patterns:
        pattern = os.fspath(pattern)
        if "://" in pattern or pattern.startswith("pipe:"):
            raise ValueError(f"Shards are local files; {pattern!r} is a URL. Copy or mount the shards first.")
        for expanded in braceexpand(pattern):
            if os.path.isdir(expanded):
                found = sorted(glob.glob(os.path.join(expanded, "*.tar")))
                shards.extend(found) if found else missing.append(f"{expanded}/*.tar")
            elif glob.has_magic(expanded):
                found = sorted(glob.glob(expanded))
                shards.extend(found) if found else missing.append(expanded)
            elif os.path.isfile(expanded):
                shards.append(expanded)
            else:
                missing.append(expanded)
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise FileNotFoundError(f"No shard file at {shown} (from {list(patterns)}).")
    if not shards:
        raise ValueError(f"{list(patterns)} names no shard.")
    return shards


def split_member_name(name: str) -> tuple[str, str] | None:
    """`(key, field)` of a tar member name, as WebDataset splits it: the key is the path up to the first dot of the
    file name, the field the rest, lower-cased (`a/b.c.mp4` -> `("a/b", "c.mp4")`); `None` for a name without one."""
    folder, _, base = name.rpartition("/")
    stem, dot, field = base.partition(".")
    if not dot or not stem:
        return None
    return (f"{folder}/{stem}" if folder else stem), field.lower()


def _manifest_counts(folder: str) -> dict[str, tuple[int, int]]:
    """`{shard file name: (samples, bytes)}` from a shard writer's manifest in `folder`, if any."""
    path = os.path.join(folder, SHARD_MANIFEST)
    try:
        with open(path, encoding="utf-8") as handle:
            manifest = json.load(handle)
        return {entry["name"]: (int(entry["samples"]), int(entry["bytes"])) for entry in manifest["shards"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def count_shard_samples(path: str) -> int:
    """The samples of a tar shard, from its member headers (no data is read)."""
    count, previous = 0, None
    try:
        tar = tarfile.open(path, "r:")
    except tarfile.TarError as error:
        empty = os.path.getsize(path) == 0
        raise ValueError(
            f"Shard {path} is {'empty (0 bytes)' if empty else f'not a tar file ({error})'}: a shard cut short or "
            "left by a run that was killed. Write it again, or leave it out of --train_shards."
        ) from None
    with tar:
        for member in _members(tar, path):
            parts = split_member_name(member.name)
            if parts is not None and parts[0] != previous:
                count, previous = count + 1, parts[0]
    return count


def _members(tar: tarfile.TarFile, path: str) -> Iterator[tarfile.TarInfo]:
    """The file members of an open tar, one header at a time (a truncated shard ends with a clear error)."""
    while True:
        try:
            member = tar.next()
        except tarfile.TarError as error:
            raise ValueError(f"Shard {path} is damaged: {error}") from None
        if member is None:
            return
        if member.isfile():
            yield member


def shard_sample_counts(shards: Sequence[str]) -> list[int]:
    """Samples per shard: from the shard writer's manifest where it describes the file (same size), else counted."""
    manifests: dict[str, dict[str, tuple[int, int]]] = {}
    counts = []
    for path in shards:
        folder = os.path.dirname(os.path.abspath(path))
        if folder not in manifests:
            manifests[folder] = _manifest_counts(folder)
        entry = manifests[folder].get(os.path.basename(path))
        if entry is not None and entry[1] == os.path.getsize(path):
            counts.append(entry[0])
        else:
            counts.append(count_shard_samples(path))
    return counts


@dataclass(frozen=True)
class SlotPlan:
    """What one slot (a worker of a process) reads in one epoch."""

    reading_order: np.ndarray
    """Global indices of its samples in the order they are read (contiguous runs within shards)."""
    output_order: np.ndarray
    """Positions in `reading_order` in the order they are yielded (the shuffle buffer's order)."""
    padding: int
    """Placeholders after the samples (evaluation only), so that every slot yields as many items."""


def shuffle_buffer_order(length: int, buffer_size: int, rng: np.random.Generator) -> np.ndarray:
    """
    The order in which a shuffle buffer of `buffer_size` yields `length` items read in order: the buffer fills up,
    then each new item replaces a random one that is yielded, and the rest leave in a random order. Returns the read
    positions in yield order; the item yielded `k`-th was read at most `buffer_size` items after it.
    """
    if buffer_size <= 1 or length <= 1:
        return np.arange(length, dtype=np.int64)
    draws = rng.random(length)
    order = np.empty(length, dtype=np.int64)
    buffer: list[int] = []
    produced = 0
    for position in range(length):
        if len(buffer) < buffer_size:
            buffer.append(position)
            continue
        slot = int(draws[position] * len(buffer))
        order[produced] = buffer[slot]
        buffer[slot] = position
        produced += 1
    order[produced:] = rng.permutation(np.asarray(buffer, dtype=np.int64))
    return order


def plan_slot(
    counts: Sequence[int],
    *,
    epoch: int,
    seed: int,
    num_slots: int,
    slot: int,
    train: bool,
    batch_size: int,
    shuffle_buffer: int,
) -> SlotPlan:
    """
    The samples of `slot` in epoch `epoch` (see the module docstring): the same on every process, computed from the
    shard counts without reading a shard.
    """
    counts = np.asarray(counts, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    total = int(counts.sum())
    if train:
        order = np.random.default_rng([seed, epoch]).permutation(len(counts))
        quota = total // num_slots // batch_size * batch_size
        start, stop = slot * quota, (slot + 1) * quota
    else:
        order = np.arange(len(counts))
        quota = -(-total // num_slots)
        start, stop = min(slot * quota, total), min((slot + 1) * quota, total)
    # the epoch's sequence: shards in `order`, each shard's samples in their order; this slot's part of it
    sequence_offsets = np.concatenate([[0], np.cumsum(counts[order])])
    runs = []
    first = int(np.searchsorted(sequence_offsets, start, side="right")) - 1
    for rank in range(max(first, 0), len(order)):
        run_start, run_stop = max(start, sequence_offsets[rank]), min(stop, sequence_offsets[rank + 1])
        if run_start >= stop:
            break
        if run_stop > run_start:
            shard = order[rank]
            base = offsets[shard] - sequence_offsets[rank]
            runs.append(np.arange(run_start + base, run_stop + base, dtype=np.int64))
    reading_order = np.concatenate(runs) if runs else np.empty(0, dtype=np.int64)
    if train:
        output_order = shuffle_buffer_order(
            len(reading_order), shuffle_buffer, np.random.default_rng([seed, epoch, slot, 1])
        )
    else:
        output_order = np.arange(len(reading_order), dtype=np.int64)
    return SlotPlan(reading_order, output_order, padding=quota - len(reading_order))


class _SharedProgress:
    """Epoch and resume position, in shared memory so that persistent DataLoader workers see their updates."""

    def __init__(self):
        self.values = torch.zeros(2, dtype=torch.int64).share_memory_()  # [epoch, batches to pass over]

    def __getstate__(self):
        return {"values": self.values}

    def __setstate__(self, state):
        self.values = state["values"]


class ShardedVideoDataset(ClipDataset, torch.utils.data.IterableDataset):
    """
    Video-caption (or video-label) items from tar shards, split across processes and DataLoader workers; see the
    module docstring for the epoch, the shuffle and resuming. It brings its own DataLoader
    ([`ShardedVideoDataset.dataloader`]), which neither `accelerate` nor the Trainer re-shards.

    Items are those of [`VideoDataset`]: `pixel_values`, `index` (the global sample index), `caption` and/or `labels`,
    or a [`SkippedSample`]; plus [`Placeholder`]s (consumed before a resume, or evaluation padding), which
    [`VideoDataCollator`] drops silently.

    Args:
        shards (`str` or list of `str`): shard files, folders, globs or brace patterns ([`expand_shards`]).
        video_processor ([`ViCLIPVideoProcessor`]): turns decoded frames into `pixel_values`.
        batch_size (`int`): the per-process batch size of the DataLoader that reads this dataset.
        num_workers (`int`, defaults to 0): its worker count (0: read in the main process).
        world_size (`int`, defaults to 1), rank (`int`, defaults to 0): the processes of the run and this one's index.
        train (`bool`, defaults to `False`): training (shard order and shuffle buffer drawn per epoch, equal full
            batches) or evaluation (every sample once, in order).
        augment (`bool`, *optional*): random frames within each segment and the training augmentation (defaults to
            `train`); otherwise middle frames and the evaluation transform.
        seed (`int`, defaults to 0): seed of the order and of each sample's randomness.
        shuffle_buffer (`int`, defaults to [`DEFAULT_SHUFFLE_BUFFER`]): samples mixed per worker in training (0 or 1:
            each part in reading order).
        num_frames, decode_size, video_backend, uint8_frames: see [`ClipDataset`].
        caption_field (`str`, defaults to `"caption"`): the caption's key in a sample's `.json` (used when the sample
            has no `.txt`); `None` for labels only.
        label_field (`str`, *optional*): the class's key in the `.json`; `label2id` maps class names to ids.
        decode_on_device (`bool`, defaults to `False`): for samples stored as JPEG frames (the shard writer's
            `--clip_format frames`), leave the decoding and the training augmentation to the training process, which
            runs them batched on its device ([`ViCLIPTrainer`] with [`decode_and_augment`]): items then hold
            `jpeg_frames`, `crop_box` and `flip` instead of `pixel_values`. Needs `augment`.
    """

    def __init__(
        self,
        shards: str | Sequence[str],
        video_processor: Any,
        *,
        batch_size: int,
        num_workers: int = 0,
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
        caption_field: str | None = "caption",
        label_field: str | None = None,
        label2id: dict[str, int] | None = None,
        decode_on_device: bool = False,
    ):
        if batch_size < 1 or num_workers < 0 or world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(
                f"batch_size >= 1, num_workers >= 0 and 0 <= rank < world_size, got {batch_size}, {num_workers}, "
                f"{rank}, {world_size}."
            )
        super().__init__(
            video_processor,
            augment=train if augment is None else augment,
            seed=seed,
            num_frames=num_frames,
            decode_size=decode_size,
            video_backend=video_backend,
            uint8_frames=uint8_frames,
        )
        self.shards = expand_shards(shards)
        self.counts = shard_sample_counts(self.shards)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.world_size = world_size
        self.rank = rank
        self.train = train
        self.shuffle_buffer = shuffle_buffer
        self.caption_field = caption_field
        self.label_field = label_field
        self.label2id = label2id
        if decode_on_device and not self.augment:
            raise ValueError("decode_on_device decodes training clips (with their augmentation): set augment=True.")
        self.decode_on_device = decode_on_device
        self._progress = _SharedProgress()
        slots = self.num_slots
        if train and self.num_samples < slots * batch_size:
            raise ValueError(
                f"{self.num_samples} samples in {len(self.shards)} shard(s) cannot give each of the {slots} readers "
                f"({world_size} process(es) x {max(1, num_workers)} worker(s)) one full batch of {batch_size}: use "
                "fewer workers or processes, a smaller batch, or more data."
            )

    @property
    def num_samples(self) -> int:
        """Samples in all shards."""
        return int(self.offsets[-1])

    @property
    def num_slots(self) -> int:
        """Readers over all processes: one per DataLoader worker (or per process without workers)."""
        return self.world_size * max(1, self.num_workers)

    def per_slot(self) -> int:
        """Items each reader yields per epoch (samples, plus padding in evaluation)."""
        if self.train:
            return self.num_samples // self.num_slots // self.batch_size * self.batch_size
        return -(-self.num_samples // self.num_slots)

    def __len__(self) -> int:
        """Items this process yields per epoch (all its workers)."""
        return self.per_slot() * max(1, self.num_workers)

    @property
    def epoch(self) -> int:
        return int(self._progress.values[0])

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next iteration reads (the Trainer calls it before each epoch)."""
        self._progress.values[0] = int(epoch)

    def resume_after(self, batches: int) -> None:
        """Makes the next iteration yield [`Placeholder`]s for the first `batches` batches of this process (already
        trained on before the checkpoint it resumes from), without reading them; 0 for a fresh epoch."""
        self._progress.values[1] = int(batches)

    def dataloader(
        self,
        args: TrainingArguments,
        batch_size: int,
        collate_fn: Callable[[list], dict[str, Any]],
        *,
        train: bool,
    ) -> torch.utils.data.DataLoader:
        """A plain DataLoader of this process: the dataset splits itself across processes and workers."""
        if batch_size != self.batch_size or args.dataloader_num_workers != self.num_workers:
            raise ValueError(
                f"The ShardedVideoDataset was built for batches of {self.batch_size} read by {self.num_workers} "
                f"worker(s), but this run reads batches of {batch_size} with {args.dataloader_num_workers}: "
                "build it with the run's per-device batch size and --dataloader_num_workers."
            )
        workers = args.dataloader_num_workers
        return torch.utils.data.DataLoader(
            self,
            batch_size=batch_size,
            collate_fn=collate_fn,
            num_workers=workers,
            pin_memory=args.dataloader_pin_memory,
            persistent_workers=args.dataloader_persistent_workers and workers > 0,
            prefetch_factor=args.dataloader_prefetch_factor if workers > 0 else None,
        )

    def start_epoch(self, epoch: int, *, resume_batches: int, checkpoint: str | os.PathLike | None) -> None:
        """Reads epoch `epoch` next, passing over its first `resume_batches` batches unread ([`Placeholder`]s)."""
        self.set_epoch(epoch)
        self.resume_after(resume_batches)

    def _slot(self) -> tuple[int, int]:
        """`(this reader's slot, worker id)`; checks the worker count against the one the plan was made for."""
        info = torch.utils.data.get_worker_info()
        workers, worker = (0, 0) if info is None else (info.num_workers, info.id)
        if workers != self.num_workers:
            raise RuntimeError(
                f"This ShardedVideoDataset was built for {self.num_workers} DataLoader worker(s) but is read by "
                f"{workers}: build it with num_workers={workers} (--dataloader_num_workers)."
            )
        return self.rank * max(1, self.num_workers) + worker, worker

    def _consumed_items(self, worker: int) -> int:
        """Items of this worker in the batches already taken: the DataLoader takes worker `w`'s batches in turn."""
        batches = int(self._progress.values[1])
        workers = max(1, self.num_workers)
        own = batches // workers + (1 if worker < batches % workers else 0)
        return min(own * self.batch_size, self.per_slot())

    def __iter__(self) -> Iterator[dict[str, Any] | SkippedSample | Placeholder]:
        slot, worker = self._slot()
        epoch = self.epoch
        plan = plan_slot(
            self.counts,
            epoch=epoch,
            seed=self.seed,
            num_slots=self.num_slots,
            slot=slot,
            train=self.train,
            batch_size=self.batch_size,
            shuffle_buffer=self.shuffle_buffer,
        )
        consumed = self._consumed_items(worker)
        for _ in range(consumed):
            yield _CONSUMED
        wanted_outputs = plan.output_order[consumed:]
        needed = np.zeros(len(plan.reading_order), dtype=bool)
        needed[wanted_outputs] = True
        held: dict[int, tuple[str, dict[str, bytes]] | None] = {}
        samples = self._read(plan.reading_order, needed)
        for position in wanted_outputs:
            position = int(position)
            while position not in held:
                read_position, sample = next(samples)
                held[read_position] = sample
            yield self._item(int(plan.reading_order[position]), held.pop(position), epoch)
        for _ in range(plan.padding - max(0, consumed - len(plan.output_order))):
            yield _PADDING

    def _read(self, reading_order: np.ndarray, needed: np.ndarray) -> Iterator[tuple[int, Any]]:
        """`(position, sample)` for each needed position of `reading_order`, read shard by shard in that order; a
        sample is `(name, {field: bytes})`, or an exception when its shard could not be read."""
        position = 0
        while position < len(reading_order):
            shard = int(np.searchsorted(self.offsets, reading_order[position], side="right")) - 1
            run = position
            shard_stop = self.offsets[shard + 1]
            while (
                run < len(reading_order)
                and reading_order[run] < shard_stop
                and (run == position or reading_order[run] == reading_order[run - 1] + 1)
            ):
                run += 1
            first = int(reading_order[position] - self.offsets[shard])
            wanted = {first + offset for offset in range(run - position) if needed[position + offset]}
            if wanted:
                for index, sample in self._read_shard(self.shards[shard], first, first + run - position, wanted):
                    yield position + index - first, sample
            position = run

    @staticmethod
    def _read_shard(path: str, first: int, stop: int, wanted: set[int]) -> Iterator[tuple[int, Any]]:
        """The wanted samples among `[first, stop)` of one shard (headers of the others are passed over)."""
        found = set()
        try:
            with tarfile.open(path, "r:") as tar:
                index, key, fields = -1, None, {}
                for member in _members(tar, path):
                    parts = split_member_name(member.name)
                    if parts is None:
                        continue
                    if parts[0] != key:
                        if index in wanted and key is not None:
                            found.add(index)
                            yield index, (f"{path}:{key}", fields)
                        index, key, fields = index + 1, parts[0], {}
                        if index >= stop:
                            break
                    if index in wanted:
                        fields[parts[1]] = tar.extractfile(member).read()
                else:
                    if index in wanted and key is not None:
                        found.add(index)
                        yield index, (f"{path}:{key}", fields)
        except (OSError, ValueError, tarfile.TarError) as error:
            failure = error
        else:
            failure = ValueError(f"Shard {path} holds fewer samples than counted (changed since it was counted?)")
        for index in sorted(wanted - found):
            yield index, (f"{path}:#{index}", failure)

    def _item(self, index: int, sample: tuple[str, Any], epoch: int) -> dict[str, Any] | SkippedSample:
        """Decodes and transforms one sample, or says why it cannot be."""
        name, fields = sample
        rng = np.random.default_rng([self.seed, epoch, index])
        try:
            if isinstance(fields, Exception):
                raise fields
            frames = stored_frames(fields)
            video_field = next((field for field in fields if field.rpartition(".")[2] in _VIDEO_FIELDS), None)
            if video_field is None and not frames:
                raise ValueError(
                    f"no video member (one of .{', .'.join(_VIDEO_FIELDS)}, or JPEG frames) among {sorted(fields)}"
                )
            metadata = json.loads(fields["json"]) if "json" in fields else {}
            item = {}
            if self.caption_field is not None:
                if "txt" in fields:
                    item["caption"] = fields["txt"].decode("utf-8").strip()
                elif isinstance(metadata.get(self.caption_field), str):
                    item["caption"] = metadata[self.caption_field]
                else:
                    raise ValueError(f"no caption: neither a .txt member nor {self.caption_field!r} in its .json")
            if self.label_field is not None:
                label = metadata.get(self.label_field)
                if label is None:
                    raise ValueError(f"no {self.label_field!r} in its .json")
                item["labels"] = self.label2id[label] if isinstance(label, str) and self.label2id else int(label)
            if frames:
                chosen = choose_frames(frames, self.num_frames, "rand" if self.augment else "middle", rng)
                if self.decode_on_device:  # the workers move bytes; the training process decodes and augments
                    return {**self.encoded_clip(chosen, rng), "name": name, INDEX_KEY: index, **item}
                frames = decode_frames(chosen)
            else:
                frames = self.read_frames(fields[video_field], None, rng)
        except (OSError, ValueError, RuntimeError, KeyError, UnicodeDecodeError) as error:
            return SkippedSample.from_error(index, name, error)
        return {"pixel_values": self.process_frames(frames, rng), INDEX_KEY: index, **item}

    def encoded_clip(self, jpegs: list[bytes], rng: np.random.Generator) -> dict[str, Any]:
        """The item of a clip decoded on the training device: its JPEG frames, and the crop box and flip of the
        training augmentation drawn here from the sample's generator (the box in the frames' own pixels)."""
        height, width = check_frames(jpegs)
        box, flip = train_crop_and_flip(height, width, rng, self.video_processor.do_train_flip)
        return {"jpeg_frames": jpegs, "crop_box": box, "flip": flip}


__all__ = [
    "DEFAULT_SHUFFLE_BUFFER",
    "SHARD_MANIFEST",
    "ShardedVideoDataset",
    "SlotPlan",
    "count_shard_samples",
    "expand_shards",
    "plan_slot",
    "shard_sample_counts",
    "shuffle_buffer_order",
    "split_member_name",
]
