# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
What every dataset of this package shares: [`ClipDataset`], the one path from a video to `pixel_values` (decode the
sampled frames of a clip, then apply the video processor's training or evaluation transform), and [`DatasetHooks`],
the few methods through which [`ViCLIPTrainer`] reads any of the datasets without knowing which one it is.

- [`VideoDataset`] (annotation tables: files, `datasets` folders or Hub ids, class folders, the synthetic corpus) is
  map-style: the Trainer's own DataLoader reads it, which `accelerate` shards over processes, in the order of an
  [`EpochSampler`].
- [`ShardedVideoDataset`] (tar shards) and [`StreamingVideoDataset`] (`datasets` streams) split themselves across
  processes and DataLoader workers: they bring their own DataLoader, and keep their position for an exact resume.

With `uint8_frames=True` a dataset gives `pixel_values` as uint8 (resized or cropped, neither rescaled nor
normalised): a quarter of the float32 batch in shared memory and across the host-device link.
[`normalize_pixel_values`] then rescales and normalises them on the training device with the video processor's own
arithmetic, so that the model sees exactly the float32 values the processor would have given.
"""

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from transformers import TrainingArguments

from viclip.video_decoding_viclip import resolve_video_backend

from .video_reading import read_video_frames


def transform_clip(
    video_processor: Any,
    frames: np.ndarray,
    *,
    train: bool,
    rng: np.random.Generator | None,
    uint8_frames: bool = False,
) -> torch.Tensor:
    """
    The video processor's training (`train=True`: RandomResizedCrop and flip drawn from `rng`) or evaluation transform
    of one decoded clip `[T, H, W, 3]` uint8: `[T, 3, H, W]` float32, normalised; or, with `uint8_frames`, uint8
    frames resized or cropped only (the resize and crop of uint8 frames give integral values), which
    [`normalize_pixel_values`] turns into the same float32 values later.
    """
    finishing = {"do_rescale": False, "do_normalize": False} if uint8_frames else {}
    pixel_values = video_processor(
        frames, do_sample_frames=False, do_train_augmentation=train, rng=rng, return_tensors="pt", **finishing
    )["pixel_values"][0]
    return pixel_values.to(torch.uint8) if uint8_frames else pixel_values


def normalize_pixel_values(pixel_values: torch.Tensor, video_processor: Any) -> torch.Tensor:
    """
    Rescales and normalises uint8 `pixel_values` (`[..., 3, H, W]`, from a dataset with `uint8_frames=True`) where
    they are, typically on the training device, with the arithmetic of the video processor's own last step (float32,
    divided by 255, minus the mean, divided by the std), so that the result is identical to what the processor gives
    for the same frames. Float tensors are returned unchanged.
    """
    if pixel_values.dtype != torch.uint8:
        return pixel_values
    values = pixel_values.to(torch.float32)
    if video_processor.do_rescale:
        divisor = 1.0 / video_processor.rescale_factor
        if abs(divisor - round(divisor)) < 1e-6:  # as the processor: x / 255 rather than x * (1 / 255)
            values.div_(float(round(divisor)))
        else:
            values.mul_(video_processor.rescale_factor)
    if video_processor.do_normalize:
        mean = torch.tensor(video_processor.image_mean, dtype=torch.float32, device=values.device).reshape(-1, 1, 1)
        std = torch.tensor(video_processor.image_std, dtype=torch.float32, device=values.device).reshape(-1, 1, 1)
        values.sub_(mean).div_(std)
    return values


class DatasetHooks:
    """
    What [`ViCLIPTrainer`] asks of a dataset, each method's default being the Trainer's own way (a dataset of another
    kind is read with these defaults).
    """

    def training_sampler(self, seed: int, shuffle: bool) -> torch.utils.data.Sampler | None:
        """The sampler of the Trainer's own training DataLoader, or `None` for the Trainer's default."""
        return None

    def dataloader(
        self,
        args: TrainingArguments,
        batch_size: int,
        collate_fn: Callable[[list], dict[str, Any]],
        *,
        train: bool,
    ) -> torch.utils.data.DataLoader | None:
        """
        The DataLoader that reads this dataset in this process, for a dataset that splits itself across processes
        and workers; `None` (the default) to be read by the Trainer's own DataLoader, which `accelerate` shards.
        """
        return None

    def start_epoch(self, epoch: int, *, resume_batches: int, checkpoint: str | os.PathLike | None) -> None:
        """
        Called before each training epoch. `resume_batches` is the number of this epoch's batches trained on before
        the checkpoint the run resumes from (0 otherwise), which the Trainer passes over: a dataset that keeps its
        own position continues after them.
        """

    def data_epoch(self, trainer_epoch: int) -> int:
        """The epoch of the data being read, for the skipped-sample records: the Trainer's, unless the dataset counts
        its own."""
        return trainer_epoch

    def save_position(self, folder: str | os.PathLike, process_index: int) -> None:
        """Writes into a checkpoint folder what an exact resume needs beyond the Trainer's step and random states
        (nothing by default)."""


class ClipDataset(DatasetHooks):
    """
    The base of this package's datasets: reading one clip and transforming it ([`DatasetHooks`] says how the trainer
    reads the dataset).

    A clip is `num_frames` frames decoded from a video (a path, the file's bytes, a `datasets.Video()` value or a
    decoder object; within a `(start, end)` window in seconds when one is given): with `augment`, at a random position
    inside each of `num_frames` equal segments (the reference's `"rand"` rule) followed by the processor's training
    augmentation (RandomResizedCrop and flip, the same for every frame); otherwise at the segment middles, followed by
    the evaluation transform. Randomness comes from the `rng` each item draws from its own key, never from a global
    generator. A subclass decodes inside a `try` that turns the decoder's errors into a [`SkippedSample`], and
    transforms outside it.

    Args:
        video_processor ([`ViCLIPVideoProcessor`]): turns decoded frames into `pixel_values`.
        augment (`bool`): random frames and the training augmentation, or middle frames and the evaluation transform.
        seed (`int`, defaults to 0): seed of every item's randomness.
        num_frames (`int`, *optional*): frames per clip; defaults to the video processor's `num_frames`.
        decode_size (`tuple[int, int]`, *optional*): `(height, width)` to decode frames at directly (faster for large
            videos; the transform then starts from this size). `None` decodes at full resolution.
        video_backend (`str`, *optional*): decoder for [`read_video_frames`]; `None` picks PyAV for augmented clips (it
            decodes only the frames the sampled ones depend on) and decord otherwise, see [`resolve_video_backend`].
        uint8_frames (`bool`, defaults to `False`): give `pixel_values` as uint8, resized or cropped but neither
            rescaled nor normalised; [`normalize_pixel_values`] (which [`ViCLIPTrainer`] applies on the device)
            finishes them to exactly the float32 values of the default.
    """

    def __init__(
        self,
        video_processor: Any,
        *,
        augment: bool,
        seed: int = 0,
        num_frames: int | None = None,
        decode_size: tuple[int, int] | None = None,
        video_backend: str | None = None,
        uint8_frames: bool = False,
    ):
        self.video_processor = video_processor
        self.augment = augment
        self.seed = int(seed)
        self.num_frames = num_frames if num_frames is not None else video_processor.num_frames
        self.decode_size = decode_size
        self.video_backend = resolve_video_backend(video_backend, for_training=augment)
        self.uint8_frames = uint8_frames

    def read_frames(
        self, video: Any, window: tuple[float, float] | None, rng: np.random.Generator | None
    ) -> np.ndarray:
        """Decodes one clip of `video`: `num_frames` frames `[T, H, W, 3]` uint8 (raises if it cannot)."""
        return read_video_frames(
            video,
            num_frames=self.num_frames,
            sampling="rand" if self.augment else "middle",
            clip_window=window,
            backend=self.video_backend,
            rng=rng,
            decode_size=self.decode_size,
        )

    def process_frames(self, frames: np.ndarray, rng: np.random.Generator | None) -> torch.Tensor:
        """The processor's training or evaluation transform of one decoded clip, see [`transform_clip`]."""
        return transform_clip(
            self.video_processor, frames, train=self.augment, rng=rng, uint8_frames=self.uint8_frames
        )


__all__ = ["ClipDataset", "DatasetHooks", "normalize_pixel_values", "transform_clip"]
