# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""The transforms ViCLIP's video processor draws on beyond transformers': named evaluation protocols (the reference's,
VBench's `overall_consistency` and `temporal_style`, InternVid's demo) as processor settings, the OpenCV resize the demo
uses, and the reference's training crop and flip."""

import importlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torchvision.transforms import InterpolationMode, RandomResizedCrop
from torchvision.transforms.v2 import functional as tv2_functional
from transformers.image_utils import (
    OPENAI_CLIP_MEAN,
    OPENAI_CLIP_STD,
    PILImageResampling,
    SizeDict,
    pil_torch_interpolation_mapping,
)
from transformers.utils import is_cv2_available, logging


logger = logging.get_logger(__name__)

TRAIN_CROP_SCALE, TRAIN_CROP_RATIO, TRAIN_FLIP_PROBABILITY = (0.5, 1.0), (3.0 / 4.0, 4.0 / 3.0), 0.5

PROTOCOLS: dict[str, dict[str, Any]] = {
    # the reference's evaluation transform: this processor's defaults
    "reference": {},
    # VBench's overall_consistency and temporal_style (vbench/utils.py: read_frames_decord_by_fps, get_frame_indices
    # "middle", clip_transform): decord, 8 segment middles, the short side resized to 224 bicubic on uint8 WITHOUT
    # antialiasing (the torchvision releases VBench ran with), centre crop 224, x / 255, CLIP's mean and std
    "vbench": {
        "video_backend": "decord",
        "sampling": "middle",
        "size": {"shortest_edge": 224},
        "do_center_crop": True,
        "crop_size": {"height": 224, "width": 224},
        "resample": PILImageResampling.BICUBIC,
        "antialias": False,
        "image_mean": OPENAI_CLIP_MEAN,
        "image_std": OPENAI_CLIP_STD,
    },
    # InternVid's demo (`frames2tensor`): every frame read with OpenCV, frames `[::len // 8][:8]`, `cv2.resize` to
    # 224x224 (bilinear), ImageNet mean and std
    "internvid_demo": {
        "video_backend": "opencv",
        "sampling": "stride",
        "size": {"height": 224, "width": 224},
        "resample": PILImageResampling.BILINEAR,
        "antialias": False,
        "resize_backend": "opencv",
    },
}
"""Named evaluation protocols: settings of [`ViCLIPVideoProcessor`] ([`ViCLIPVideoProcessor.from_protocol`])."""


def protocol_settings(protocol: str, num_frames: int, image_size: int) -> dict[str, Any]:
    """
    The video processor settings of a named protocol ([`PROTOCOLS`]) for a model of `num_frames` frames of
    `image_size` pixels. InternVid's demo reads frames and resizes them with OpenCV (`pip install
    opencv-python-headless`); without it, frames are read with decord or PyAV (FFmpeg's YUV-to-RGB conversion instead
    of OpenCV's: pixel values may differ by a few levels) and resized by torchvision's bilinear kernel without
    antialiasing (which differs from OpenCV's fixed-point bilinear by rounding, at most 1 level), with a warning.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"Unknown protocol {protocol!r}; the protocols are {sorted(PROTOCOLS)}.")
    settings = {**PROTOCOLS[protocol], "num_frames": num_frames}
    for name in ("size", "crop_size"):
        if name in settings:
            settings[name] = {key: image_size for key in settings[name]}
    if protocol == "reference":
        settings["size"] = {"height": image_size, "width": image_size}
    if settings.get("resize_backend") == "opencv" and not is_cv2_available():
        logger.warning(
            f"The {protocol} protocol reads and resizes frames with OpenCV, which is not installed (pip install "
            "opencv-python-headless): using decord/PyAV and torchvision's bilinear resize, whose pixel values may "
            "differ from OpenCV's by a few levels."
        )
        settings.update(video_backend=None, resize_backend="torchvision")
    return settings


def resize_with_opencv(video: torch.Tensor, size: SizeDict, interpolation: InterpolationMode) -> torch.Tensor:
    """uint8 frames `[..., 3, H, W]` resized one by one by `cv2.resize` (as InternVid's demo does) to `size`."""
    if video.dtype != torch.uint8:
        raise ValueError(f"resize_backend='opencv' resizes uint8 frames, got {video.dtype}: decode the video here.")
    cv2 = importlib.import_module("cv2")  # optional (InternVid's demo protocol), so not a remote-code requirement
    flags = {InterpolationMode.BILINEAR: cv2.INTER_LINEAR, InterpolationMode.BICUBIC: cv2.INTER_CUBIC}
    interpolation = flags[interpolation]
    frames = video.reshape(-1, *video.shape[-3:]).permute(0, 2, 3, 1).cpu().numpy()
    resized = [
        cv2.resize(np.ascontiguousarray(f), (size.width, size.height), interpolation=interpolation) for f in frames
    ]
    resized = torch.from_numpy(np.stack(resized)).permute(0, 3, 1, 2).to(video.device)
    return resized.reshape(*video.shape[:-2], size.height, size.width)


__all__ = [
    "PROTOCOLS",
    "protocol_settings",
    "resample_to_interpolation",
    "resize_with_opencv",
    "resized_crop_and_flip",
    "train_crop_and_flip",
    "train_output_size",
]


def resample_to_interpolation(resample: Any) -> InterpolationMode:
    """A `PILImageResampling` (or its int value, or an `InterpolationMode`) as torchvision's `InterpolationMode`."""
    return resample if isinstance(resample, InterpolationMode) else pil_torch_interpolation_mapping[resample]


def train_crop_and_flip(height: int, width: int, rng: np.random.Generator, flip: bool = True) -> tuple[list, bool]:
    """The reference's training crop box (torchvision's RandomResizedCrop, one for all frames) and flip, from `rng`."""
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(int(rng.integers(2**62)))
        frames = torch.empty(0, height, width, device="meta")  # the box depends on the size alone
        box = RandomResizedCrop.get_params(frames, scale=TRAIN_CROP_SCALE, ratio=TRAIN_CROP_RATIO)
    return box, bool(rng.random() < TRAIN_FLIP_PROBABILITY) and flip


def train_output_size(size: SizeDict, crop_size: SizeDict | None, do_center_crop: bool | None) -> list[int]:
    """`[height, width]` of the training augmentation's clips: the crop size when the processor centre-crops, else its
    size, which must be a height and width."""
    output_size = crop_size if do_center_crop else size
    if not (output_size and output_size.height and output_size.width):
        raise ValueError(f"The training augmentation crops to a size (height, width), got {output_size}.")
    return [output_size.height, output_size.width]


def resized_crop_and_flip(
    frames: torch.Tensor, box: Sequence[int], flip: bool, size: Sequence[int], interpolation: InterpolationMode
) -> torch.Tensor:
    """One clip's training augmentation once [`train_crop_and_flip`] drew it: the box `(top, left, height, width)` of
    every frame resized to `size` (torchvision's v2 kernel, antialiased, uint8 natively: faster than the evaluation's
    path, within rounding of it), then flipped horizontally if `flip`."""
    frames = tv2_functional.resized_crop(frames, *box, list(size), interpolation, antialias=True)
    return frames.flip(-1) if flip else frames
