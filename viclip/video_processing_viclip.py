# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""ViCLIP's video processor: a `BaseVideoProcessor` with the reference's sampling, resize and training augmentation."""

from typing import Any, Literal

import numpy as np
import torch
from huggingface_hub.dataclasses import validate_typed_dict
from torchvision.transforms import functional as tv_functional
from transformers.image_processing_utils import BatchFeature
from transformers.image_utils import (
    IMAGENET_DEFAULT_MEAN,
    IMAGENET_DEFAULT_STD,
    ChannelDimension,
    PILImageResampling,
    SizeDict,
    infer_channel_dimension_format,
)
from transformers.processing_utils import Unpack, VideosKwargs
from transformers.utils import logging
from transformers.video_processing_utils import BaseVideoProcessor
from transformers.video_utils import VideoMetadata, make_batched_metadata

from .video_decoding_viclip import (
    check_decode_size,
    is_video_source,
    load_video,
    rng_from_torch_seed,
    sample_frame_indices,
)
from .video_inputs_viclip import batch_of_videos, checked_frames, clip_window_per_video
from .video_protocols_viclip import (
    protocol_settings,
    resample_to_interpolation,
    resize_with_opencv,
    resized_crop_and_flip,
    train_crop_and_flip,
    train_output_size,
)


logger = logging.get_logger(__name__)


class ViCLIPVideoProcessorKwargs(VideosKwargs, total=False):
    r"""
    sampling (`str`): `"middle"` (reference evaluation) or `"rand"` (reference training) segment sampling, or
        `"stride"` (InternVid's demo: every `len // num_frames`-th frame from the first).
    clip_windows (`(float, float)` or a list of them): `(start, end)` seconds of each file: frames shown in it only.
    video_backend (`str`): `"decord"`, `"pyav"`, `"torchcodec"` or `"opencv"`; by default decord, else PyAV.
    decode_size (`(int, int)`): `(height, width)` to decode files at; unset keeps the reference's numerics.
    do_train_augmentation (`bool`): the reference training transform instead of the resize: RandomResizedCrop to
        `size` (scale 0.5-1, ratio 3/4-4/3, bicubic), then a flip with probability 0.5 (`do_train_flip`).
    rng (`np.random.Generator`): randomness of sampling and augmentation; by default seeded from torch.
    antialias (`bool`): antialiasing of the evaluation resize (the reference's: on; VBench's torchvision: off).
    resize_backend (`str`): `"torchvision"` (default) or `"opencv"` (`cv2.resize`, InternVid's demo; uint8 frames).
    """

    sampling: Literal["middle", "rand", "stride"] | None
    clip_windows: tuple | list | None
    video_backend: Literal["decord", "pyav", "torchcodec", "opencv"] | None
    decode_size: dict[str, int] | tuple[int, int] | list[int] | None
    do_train_augmentation: bool | None
    do_train_flip: bool | None
    rng: np.random.Generator | None
    antialias: bool | None
    resize_backend: Literal["torchvision", "opencv"] | None


class ViCLIPVideoProcessor(BaseVideoProcessor):
    r"""
    Turns videos (files, bytes, file objects, `datasets.Video()` values, arrays `[T, H, W, C]` / `[T, C, H, W]`, lists
    of uint8 or [0, 255] frames, or a list of those) into ViCLIP's `pixel_values` `[batch, frames, 3, height, width]`.
    Integer frames are taken as uint8; frames that cannot be an image (bool, integers outside 0-255, NaN or infinite
    values, no pixels) are refused, naming the video.

    The defaults are the reference evaluation transform: 8 frames at the middle of equal segments, resized to 224x224
    bicubic with antialiasing on uint8 values, divided by 255, normalised with the ImageNet mean and std;
    `do_train_augmentation=True` and `sampling="rand"` the training one. `fps`, `video_metadata`, `return_metadata`,
    `do_sample_frames` and `size={"shortest_edge": ...}` with `do_center_crop=True` work as in transformers.
    """

    resample = PILImageResampling.BICUBIC
    image_mean = IMAGENET_DEFAULT_MEAN
    image_std = IMAGENET_DEFAULT_STD
    size = {"height": 224, "width": 224}
    do_resize = True
    do_rescale = True
    do_normalize = True
    do_convert_rgb = True
    do_sample_frames = True
    num_frames = 8
    sampling = "middle"
    video_backend = None
    decode_size = None
    do_train_augmentation = False
    do_train_flip = True
    antialias = True
    resize_backend = "torchvision"
    valid_kwargs = ViCLIPVideoProcessorKwargs
    model_input_names = ["pixel_values"]
    _call_only_kwargs = ("clip_windows", "rng", "video_metadata", "device", "return_tensors")

    def __init__(self, **kwargs: Unpack[ViCLIPVideoProcessorKwargs]):
        if misplaced := [name for name in self._call_only_kwargs if kwargs.get(name) is not None]:
            raise ValueError(f"{misplaced}: arguments of each call of {type(self).__name__}, not settings.")
        if kwargs.get("do_convert_rgb") is False:
            raise ValueError("ViCLIP needs RGB frames: keep do_convert_rgb=True (grayscale and RGBA are converted).")
        settings = {name: value for name, value in kwargs.items() if name in self.valid_kwargs.__annotations__}
        validate_typed_dict(self.valid_kwargs, settings)  # checked as each call's arguments are
        check_decode_size(kwargs.get("decode_size"))
        super().__init__(**kwargs)
        if kwargs.get("fps") is not None and kwargs.get("num_frames") is None:
            self.num_frames = None  # `fps` replaces the default frame count

    @classmethod
    def from_protocol(cls, protocol: str, *, num_frames: int = 8, image_size: int = 224, **kwargs):
        """The processor of a named evaluation protocol ([`protocol_settings`]: `"reference"`, `"vbench"` or
        `"internvid_demo"`) for a model of `num_frames` frames of `image_size` pixels; `kwargs` override settings."""
        return cls(**{**protocol_settings(protocol, num_frames, image_size), **kwargs})

    @classmethod
    def from_dict(cls, video_processor_dict: dict[str, Any], **kwargs):
        """The base class's, but `fps` or `num_frames` given alone replaces both saved settings (as in the constructor),
        and the saved `auto_map` (for loading the folder) does not become a setting of the processor."""
        video_processor_dict = {name: value for name, value in video_processor_dict.items() if name != "auto_map"}
        if len({name for name in ("fps", "num_frames") if kwargs.get(name) is not None}) == 1:
            video_processor_dict.update(fps=None, num_frames=None)
        return super().from_dict(video_processor_dict, **kwargs)

    def save_pretrained(self, save_directory, push_to_hub: bool = False, **kwargs) -> list[str]:
        """The base class's (`auto_map` and the code files saved for `trust_remote_code=True`), leaving no `auto_map` on
        this processor: it is not part of its state (a reloaded processor has none)."""
        saved_files = super().save_pretrained(save_directory, push_to_hub=push_to_hub, **kwargs)
        self.__dict__.pop("auto_map", None)
        return saved_files

    def to_dict(self) -> dict[str, Any]:
        """The saved configuration, without per-call arguments."""
        return {name: value for name, value in super().to_dict().items() if name not in self._call_only_kwargs}

    def _merge_and_standardize_kwargs(self, **kwargs) -> dict:
        """Unset or None arguments take this processor's settings; `fps` or `num_frames` given alone replaces both.
        `do_sample_frames=False` becomes a sampler that keeps every frame, which the decode step gets with the call."""
        given = {name: value for name, value in kwargs.items() if value is not None}
        replaced = {"fps": None, "num_frames": None} if ("fps" in given) != ("num_frames" in given) else {}
        merged = super()._merge_and_standardize_kwargs(**{**replaced, **given})
        return {**merged, "every_frame": not merged["do_sample_frames"], "do_sample_frames": True}

    def sample_frames(self, metadata: VideoMetadata, num_frames=None, fps=None, sampling=None, rng=None, **kwargs):
        """The reference's segment sampling ([`sample_frame_indices`]) of `num_frames` frames of a video described by
        `metadata`, or of `fps` frames per second (which needs `metadata.fps`); every frame with `every_frame=True`."""
        if kwargs.get("every_frame"):
            return np.arange(metadata.total_num_frames)
        if num_frames is not None and fps is not None:
            raise ValueError("`num_frames` and `fps` are mutually exclusive arguments, please use only one!")
        num_frames, fps = (self.num_frames, self.fps) if num_frames is None and fps is None else (num_frames, fps)
        if num_frames is None:
            if not metadata.fps:
                raise ValueError(f"Sampling {fps} frames per second needs the frame rate: give `video_metadata`.")
            num_frames = max(1, int(metadata.total_num_frames / metadata.fps * fps))
        return sample_frame_indices(metadata.total_num_frames, num_frames, sampling or self.sampling, rng)

    def _decode_and_sample_videos(self, videos, video_metadata, do_sample_frames=None, sample_indices_fn=None):
        """Decodes the sampled frames of video files as `[T, 3, H, W]` uint8 with the call's `clip_windows`,
        `video_backend` and `decode_size` (keywords of the sampler) and samples the others; returns them, and metadata."""
        videos, call = batch_of_videos(videos), getattr(sample_indices_fn, "keywords", {})
        windows = clip_window_per_video(call.get("clip_windows"), videos)
        backend, decode_size = (call.get(name, getattr(self, name)) for name in ("video_backend", "decode_size"))
        given = [None] * len(videos) if video_metadata is None else make_batched_metadata(videos, video_metadata)
        sample_indices_fn = sample_indices_fn or (lambda metadata, **kwargs: np.arange(metadata.total_num_frames))
        sampled = []
        for position, (video, window, metadata) in enumerate(zip(videos, windows, given, strict=True)):
            if is_video_source(video):
                decoding = {"backend": backend, "clip_window": window, "decode_size": decode_size}
                video, metadata = load_video(video, sample_indices_fn, **decoding)
                video = torch.from_numpy(video).permute(0, 3, 1, 2)  # channels first, whatever the arrays are
            else:
                if len(video) == 0:
                    raise ValueError(f"videos[{position}] has no frames (shape {tuple(video.shape)}).")
                metadata = metadata or VideoMetadata(total_num_frames=len(video))
                if (declared := metadata.total_num_frames) != len(video):
                    raise ValueError(f"video_metadata[{position}] says {declared} frames, not {len(video)}.")
                indices = np.asarray(sample_indices_fn(metadata=metadata), dtype=np.int64)
                metadata.frames_indices = indices.tolist()
                video = video[torch.from_numpy(indices) if torch.is_tensor(video) else indices]
            sampled.append((video, metadata))
        return [video for video, _ in sampled], [metadata for _, metadata in sampled]

    def _prepare_input_videos(self, videos, do_convert_rgb=None, input_data_format=None, device=None):
        """The base class's, video by video (a batch may mix layouts: 1, 3 or 4 channels), channels-last as a view."""
        prepared = []
        for position, video in enumerate(videos):
            layout = input_data_format or infer_channel_dimension_format(video, num_channels=(1, 3, 4))
            if ChannelDimension(layout) == ChannelDimension.LAST:
                video, layout = torch.as_tensor(video).permute(0, 3, 1, 2), ChannelDimension.FIRST
            prepared += super()._prepare_input_videos([video], do_convert_rgb, layout, device)
            prepared[-1] = checked_frames(prepared[-1], f"videos[{position}]")
        return prepared

    def resize(self, video: torch.Tensor, size: SizeDict, resample=None, antialias: bool | None = None, **kwargs):
        """Resized by torchvision's v1 kernel: on uint8, float then rounded, as the reference (v2 differs by 3/255); or,
        with `resize_backend="opencv"`, by `cv2.resize` (uint8 frames, to a height and width)."""
        antialias = self.antialias if antialias is None else antialias
        if self.resize_backend == "opencv" and size.height and size.width:
            return resize_with_opencv(video, size, resample_to_interpolation(resample))
        if not (size.height and size.width) and not (size.shortest_edge and not size.longest_edge):
            return super().resize(video, size, resample, antialias)
        new_size = [size.height, size.width] if size.height and size.width else size.shortest_edge
        frames = video.reshape(-1, *video.shape[-3:])
        frames = tv_functional.resize(frames, new_size, resample_to_interpolation(resample), antialias=antialias)
        return frames.reshape(*video.shape[:-2], *frames.shape[-2:])

    def center_crop(self, video: torch.Tensor, size: SizeDict, **kwargs) -> torch.Tensor:
        """torchvision's `CenterCrop` of `[..., C, H, W]` frames (the offset `round((H - h) / 2)`, as VBench crops;
        transformers' own floors it, one pixel apart when the margin is odd)."""
        return tv_functional.center_crop(video, [size.height, size.width])

    def rescale_and_normalize(self, images, do_rescale, rescale_factor, do_normalize, image_mean, image_std):
        """The reference's arithmetic in float32: `x / 255` (`x * (1 / 255)` can differ), then `(x - mean) / std`."""
        images, divisor = images.to(torch.float32, copy=True), 1.0 / rescale_factor
        if do_rescale:
            images.div_(round(divisor)) if abs(divisor - round(divisor)) < 1e-6 else images.mul_(rescale_factor)
        if do_normalize:
            images.sub_(torch.tensor(image_mean, device=images.device).view(-1, 1, 1))
            images.div_(torch.tensor(image_std, device=images.device).view(-1, 1, 1))
        return images

    def _preprocess(self, videos, do_train_augmentation, do_train_flip, rng, return_tensors, **kwargs) -> BatchFeature:
        """The base class's steps, the training transform replacing resize and crop; one float32 `pixel_values`."""
        return_tensors, rng = return_tensors or "pt", rng if rng is not None else rng_from_torch_seed()
        if kwargs["do_rescale"] and any(v.is_floating_point() and 0 <= v.min() and 0 < v.max() <= 1 for v in videos):
            logger.warning_once("A float video has all its values in [0, 1]: pass do_rescale=False if it is rescaled.")
        if do_train_augmentation:
            size = train_output_size(kwargs["size"], kwargs["crop_size"], kwargs["do_center_crop"])
            interpolation = resample_to_interpolation(kwargs["resample"])
            videos = [  # one box and flip per clip, drawn in order from `rng`
                resized_crop_and_flip(v, *train_crop_and_flip(*v.shape[-2:], rng, do_train_flip), size, interpolation)
                for v in videos
            ]
            kwargs.update(do_resize=False, do_center_crop=False)
        videos = super()._preprocess(videos, return_tensors=None, **kwargs)["pixel_values_videos"]
        pixel_values = videos[0][None] if len(videos) == 1 else torch.stack(videos)  # one clip: a view, not a copy
        return BatchFeature({"pixel_values": pixel_values}, tensor_type=return_tensors)


__all__ = ["ViCLIPVideoProcessor", "ViCLIPVideoProcessorKwargs", "resample_to_interpolation", "train_crop_and_flip"]
