# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
The evaluation set of video classification: each video seen as several views (temporal clips x spatial crops) whose
scores are averaged, or as one view, the reference's evaluation clip.
"""

import os
from typing import Any

import numpy as np
import torch
from torchvision.transforms import functional as tv_functional

from viclip.video_decoding_viclip import sample_frame_indices
from viclip.video_processing_viclip import ViCLIPVideoProcessor, resample_to_interpolation

from .annotation_dataset import VideoDataset
from .video_reading import count_video_frames, read_video_frames


def temporal_view_frames(
    path: str | os.PathLike, num_frames: int, num_clips: int, backend: str | None = None
) -> np.ndarray:
    """
    The frames of `num_clips` temporal views of a video, `[num_clips, num_frames, H, W, 3]` uint8.

    The video's `L` frames are cut into `num_clips` consecutive windows at `edges = linspace(0, L, num_clips + 1)`
    (as integers); each window gives `num_frames` frames at the middle of `num_frames` equal segments (the reference's
    rule, its last frame repeated when the window is shorter). When `L >= num_clips * num_frames` this is read in one
    pass as the `num_clips * num_frames` segment middles of the whole video, cut into `num_clips` groups.
    """
    total = num_clips * num_frames
    length = count_video_frames(path, backend)
    if length >= total:
        frames = read_video_frames(path, num_frames=total, sampling="middle", backend=backend)
        return frames.reshape(num_clips, num_frames, *frames.shape[1:])
    every_frame = read_video_frames(path, num_frames=length, sampling="middle", backend=backend)
    edges = np.linspace(0, length, num_clips + 1).astype(int)
    views = []
    for start, stop in zip(edges[:-1], edges[1:], strict=True):
        stop = max(stop, start + 1)
        views.append(every_frame[start + sample_frame_indices(stop - start, num_frames, "middle")])
    return np.stack(views)


def spatial_crops(
    frames: torch.Tensor, height: int, width: int, num_crops: int, interpolation: Any
) -> list[torch.Tensor]:
    """
    `num_crops` crops of `height x width` from `frames` `[..., 3, H, W]` (uint8): the frames are first resized, aspect
    kept, to the smallest size covering `height x width` (bicubic, antialiased, as the evaluation resize), then the
    crops are taken evenly spaced along the axis with room left (both ends and, for 3, the centre).
    """
    source_height, source_width = frames.shape[-2:]
    scale = max(height / source_height, width / source_width)
    resized_height = max(height, round(source_height * scale))
    resized_width = max(width, round(source_width * scale))
    leading = frames.shape[:-3]
    frames = tv_functional.resize(
        frames.reshape(-1, *frames.shape[-3:]), [resized_height, resized_width], interpolation, antialias=True
    ).reshape(*leading, frames.shape[-3], resized_height, resized_width)
    tops = np.linspace(0, resized_height - height, num_crops).round().astype(int)
    lefts = np.linspace(0, resized_width - width, num_crops).round().astype(int)
    return [frames[..., top : top + height, left : left + width] for top, left in zip(tops, lefts, strict=True)]


class EvaluationVideoDataset(VideoDataset):
    """
    The evaluation set: each item holds `pixel_values` of shape `[views, T, 3, H, W]` with
    `views = num_clips * num_crops` (clip-major), its `labels`, and `index` (its annotation row), or a
    [`SkippedSample`] when the video cannot be read (decided where [`VideoDataset`] decides it).

    One view (the default) is exactly [`VideoDataset`]'s evaluation item: `T` frames at the middle of equal segments,
    resized to the processor's size. Several clips follow [`temporal_view_frames`], several crops
    [`spatial_crops`]; rescaling and normalisation are the processor's in every case.
    """

    def __init__(
        self,
        annotations: Any,
        video_processor: ViCLIPVideoProcessor,
        *,
        num_clips: int = 1,
        num_crops: int = 1,
        **kwargs: Any,
    ):
        super().__init__(annotations, video_processor, train=False, **kwargs)
        self.num_clips = num_clips
        self.num_crops = num_crops
        if num_clips > 1 and any(start is not None for start in annotations["start"]):
            raise ValueError(
                "--eval_num_clips > 1 reads whole videos, but these annotations select clip windows (start / end); "
                "evaluate them with one clip."
            )

    def read_frames(self, path: str | os.PathLike, window: Any, rng: Any) -> np.ndarray:
        """`[clips, T, H, W, 3]` uint8: the temporal views of the video (one view: its evaluation clip)."""
        if self.num_clips == 1:
            return super().read_frames(path, window, rng)[None]
        return temporal_view_frames(path, self.num_frames, self.num_clips, self.video_backend)

    def process_frames(self, frames: np.ndarray, rng: Any) -> torch.Tensor:
        """`[views, T, 3, H, W]`: every clip, cut into `num_crops` crops (or whole), through the processor."""
        processor = self.video_processor
        if self.num_crops == 1:
            return processor(list(frames), do_sample_frames=False, return_tensors="pt")["pixel_values"]
        clips = torch.from_numpy(frames).permute(0, 1, 4, 2, 3)  # [clips, T, 3, H, W]
        interpolation = resample_to_interpolation(processor.resample)
        crops = spatial_crops(clips, processor.size["height"], processor.size["width"], self.num_crops, interpolation)
        views = [crop[clip] for clip in range(len(clips)) for crop in crops]
        return processor(
            views, do_sample_frames=False, input_data_format="channels_first", do_resize=False, return_tensors="pt"
        )["pixel_values"]


__all__ = ["EvaluationVideoDataset", "spatial_crops", "temporal_view_frames"]
