# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""Video processor for ViCLIP: frame sampling, resizing (or the training augmentation) and normalisation.

Decoding lives in `video_decoding_viclip.py`; this file ships as Hub remote code next to it and imports numpy, PIL,
torch, torchvision and transformers.
"""

import math
from functools import partial
from typing import Any

import numpy as np
import torch
from huggingface_hub.dataclasses import validate_typed_dict
from PIL import Image
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as tv_functional
from torchvision.transforms.v2 import functional as tv2_functional
from transformers.image_processing_utils import BatchFeature
from transformers.image_transforms import get_resize_output_image_size
from transformers.image_utils import (
    IMAGENET_DEFAULT_MEAN,
    IMAGENET_DEFAULT_STD,
    ChannelDimension,
    PILImageResampling,
    SizeDict,
    pil_torch_interpolation_mapping,
)
from transformers.processing_utils import Unpack, VideosKwargs
from transformers.utils import logging
from transformers.video_processing_utils import BaseVideoProcessor
from transformers.video_utils import VideoMetadata, make_batched_metadata

from .video_decoding_viclip import (
    SAMPLING_MODES,
    VIDEO_BACKENDS,
    available_video_backends,
    check_decode_size,
    is_video_source,
    load_video,
    read_video_frames,
    resolve_video_backend,
    rng_from_torch_seed,
    sample_frame_indices,
)


logger = logging.get_logger(__name__)

# Reference training augmentation (torchvision RandomResizedCrop defaults for the ratio, flip with p = 0.5).
TRAIN_CROP_SCALE = (0.5, 1.0)
TRAIN_CROP_RATIO = (3.0 / 4.0, 4.0 / 3.0)
TRAIN_FLIP_PROBABILITY = 0.5


def resample_to_interpolation(resample: Any) -> InterpolationMode:
    """A `PILImageResampling` (or its int value, or an `InterpolationMode`) as torchvision's `InterpolationMode`."""
    if isinstance(resample, InterpolationMode):
        return resample
    try:
        return pil_torch_interpolation_mapping[PILImageResampling(resample)]
    except (ValueError, KeyError) as error:
        raise ValueError(f"Unsupported resample {resample!r}.") from error


def is_array(value: Any) -> bool:
    """A numpy array or a torch tensor."""
    return isinstance(value, (np.ndarray, torch.Tensor))


def _is_frame(value: Any) -> bool:
    return isinstance(value, Image.Image) or (is_array(value) and value.ndim in (2, 3))


def is_frame_list(value: Any) -> bool:
    """A non-empty list or tuple of frames (PIL images, or arrays `[H, W, C]` / `[C, H, W]` / `[H, W]`): one video."""
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(_is_frame(frame) for frame in value)


def _split_videos(videos: Any) -> list[Any]:
    """
    Splits the `videos` argument into a list of videos. A video is something to decode (see `is_video_source`), an
    array or tensor `[T, H, W, C]` / `[T, C, H, W]`, or a list of frames; a single frame is a one-frame video; a 5-D
    array is a batch.
    """
    if is_video_source(videos):
        return [videos]
    if is_array(videos):
        if videos.ndim == 5:
            return list(videos)
        if videos.ndim == 4:
            return [videos]
        if videos.ndim in (2, 3):
            return [[videos]]
        raise ValueError(
            f"A video array must have 4 dimensions [frames, height, width, channels] (or 5 for a batch), got shape "
            f"{tuple(videos.shape)}."
        )
    if isinstance(videos, Image.Image):
        return [[videos]]
    if isinstance(videos, (list, tuple)):
        if len(videos) == 0:
            raise ValueError("`videos` is empty.")
        if is_frame_list(videos):
            return [list(videos)]
        batch = []
        for position, video in enumerate(videos):
            if is_video_source(video) or (is_array(video) and video.ndim == 4):
                batch.append(video)
            elif is_frame_list(video):
                batch.append(list(video))
            elif _is_frame(video):
                raise ValueError(
                    f"videos[{position}] is a single frame in a batch of videos; pass it as a one-frame video "
                    "(`[frame]`) or pass all frames of one video as a flat list."
                )
            else:
                described = f"array of shape {tuple(video.shape)}" if is_array(video) else type(video).__name__
                raise TypeError(
                    f"videos[{position}] is a {described}; expected a video file (path, bytes, binary file object, "
                    "datasets.Video value or decoder), an array [frames, height, width, channels] or a list of frames."
                )
        return batch
    raise TypeError(
        f"Unsupported video input of type {type(videos).__name__}: pass a video file (path, bytes, binary file "
        "object, datasets.Video value or decoder), an array [frames, height, width, channels], a list of frames, or "
        "a list of those."
    )


def _to_three_channels(tensor: torch.Tensor, where: str) -> torch.Tensor:
    """`[..., C, H, W]` with C in (1, 3, 4) -> `[..., 3, H, W]` (grayscale repeated, alpha dropped)."""
    channels = tensor.shape[-3]
    if channels == 1:
        return tensor.expand(*tensor.shape[:-3], 3, *tensor.shape[-2:]).contiguous()
    if channels == 4:
        return tensor[..., :3, :, :]
    if channels == 3:
        return tensor
    raise ValueError(f"{where}: frames must have 1, 3 or 4 channels, got {channels} (shape {tuple(tensor.shape)}).")


def _frame_to_tensor(frame: Any, where: str) -> torch.Tensor:
    """One frame as a `[3, H, W]` tensor, its dtype kept."""
    if isinstance(frame, Image.Image):
        return torch.from_numpy(np.array(frame.convert("RGB"))).permute(2, 0, 1)
    tensor = torch.from_numpy(np.ascontiguousarray(frame)) if isinstance(frame, np.ndarray) else frame
    if tensor.ndim == 2:
        tensor = tensor.unsqueeze(0)
    elif tensor.shape[-1] in (1, 3, 4) and tensor.shape[0] not in (1, 3, 4):
        tensor = tensor.permute(2, 0, 1)
    elif tensor.shape[0] not in (1, 3, 4):
        raise ValueError(
            f"{where}: cannot find the channel axis of a frame of shape {tuple(tensor.shape)}; use [height, width, "
            "channels] or [channels, height, width] with 1, 3 or 4 channels."
        )
    return _to_three_channels(tensor, where)


def _video_to_tensor(video: Any, where: str, channels_first: bool | None) -> torch.Tensor:
    """A video (array `[T, H, W, C]` / `[T, C, H, W]`, or a list of frames) as a `[T, 3, H, W]` tensor."""
    if isinstance(video, list):
        frames = [_frame_to_tensor(frame, f"{where}, frame {index}") for index, frame in enumerate(video)]
        sizes = {tuple(frame.shape[-2:]) for frame in frames}
        if len(sizes) > 1:
            raise ValueError(f"The frames of {where} have different sizes {sorted(sizes)}.")
        return torch.stack(frames)
    tensor = torch.from_numpy(np.ascontiguousarray(video)) if isinstance(video, np.ndarray) else video
    if channels_first is None:
        if tensor.shape[-1] in (1, 3, 4):
            channels_first = False
        elif tensor.shape[1] in (1, 3, 4):
            channels_first = True
        else:
            raise ValueError(
                f"{where}: cannot find the channel axis of a video of shape {tuple(tensor.shape)}; use [frames, "
                "height, width, channels] or [frames, channels, height, width], or pass `input_data_format`."
            )
    if not channels_first:
        tensor = tensor.permute(0, 3, 1, 2)
    return _to_three_channels(tensor, where)


class ViCLIPVideoProcessorKwargs(VideosKwargs, total=False):
    r"""
    sampling (`str`, *optional*, defaults to `self.sampling`):
        `"middle"` (reference evaluation) or `"rand"` (reference training) segment sampling of `num_frames` frames.
    clip_windows (`(float, float)` or list of those, *optional*):
        `(start, end)` in seconds per video file (one pair for all, or one per video, `None` for the whole video):
        frames are sampled from those shown at `start <= t < end` only.
    video_backend (`str`, *optional*, defaults to `self.video_backend`):
        `"decord"`, `"pyav"` or `"torchcodec"` for video files; `None` picks decord when installed, else PyAV.
    decode_size (`dict[str, int]` or `(int, int)`, *optional*, defaults to `self.decode_size`):
        `(height, width)` at which to decode files, cheaper than a full-resolution decode. Unset by default, which
        keeps the reference numerics; a training pipeline may set it (see `bench/bench_video.py`).
    do_train_augmentation (`bool`, *optional*, defaults to `self.do_train_augmentation`):
        Replace the resize with the reference training transform: RandomResizedCrop to `size` (scale 0.5-1, ratio
        3/4-4/3, bicubic) and a horizontal flip with probability 0.5, the same for every frame of a clip.
    do_train_flip (`bool`, *optional*, defaults to `self.do_train_flip`):
        Whether the training transform flips; turn it off for direction-sensitive data (Something-Something, left
        versus right). The random draw is made either way, so the crops do not change.
    rng (`np.random.Generator`, *optional*):
        Randomness for `sampling="rand"` and the training augmentation; by default drawn from torch's global generator.
    """

    sampling: str | None
    clip_windows: tuple | list | None
    video_backend: str | None
    decode_size: dict[str, int] | tuple[int, int] | list[int] | None
    do_train_augmentation: bool | None
    do_train_flip: bool | None
    rng: np.random.Generator | None


class ViCLIPVideoProcessor(BaseVideoProcessor):
    r"""
    Turns videos into the `pixel_values` of ViCLIP, `[batch, frames, 3, height, width]` float32.

    Inputs, alone or in a list (a batch may mix them, with any lengths and resolutions): video files (paths, bytes,
    binary file objects, `datasets.Video()` values and decoder objects, decoded by `video_decoding_viclip.py`), arrays
    or tensors `[T, H, W, C]` or `[T, C, H, W]`, lists of frames (PIL images or arrays). Grayscale frames are repeated
    to RGB, alpha is dropped.

    Frames are uint8 (0-255) or float in [0, 255] by default, divided by 255 (`rescale_factor`) after resizing. Float
    frames already in [0, 1] need `do_rescale=False`; with `do_rescale=True` a warning says when float input looks
    rescaled already.

    With the defaults this is the reference evaluation transform: `num_frames=8` frames sampled at the middle of equal
    segments (`sampling="middle"`; arrays and frame lists are sampled the same way, unless `do_sample_frames=False`),
    each frame resized to `size` (224x224) bicubic with antialiasing on uint8 values, divided by 255 and normalised
    with the ImageNet mean and std (not the CLIP constants). `do_train_augmentation=True` gives the training
    transform, `sampling="rand"` the training frame sampling. As in transformers' video processors, `fps` samples that
    many frames per second instead of `num_frames` (the one given to a call replaces the configured one),
    `video_metadata` describes array inputs (files describe themselves), `return_metadata=True` adds the
    `VideoMetadata` of every video (frame indices, fps, duration, decoder), and `size={"shortest_edge": ...}` with
    `do_center_crop=True` gives a CLIP-style resize and crop.

    Example:

    ```python
    >>> from viclip import ViCLIPVideoProcessor
    >>> processor = ViCLIPVideoProcessor()
    >>> inputs = processor("video.mp4", clip_windows=(12.0, 20.5))  # doctest: +SKIP
    >>> inputs["pixel_values"].shape  # doctest: +SKIP
    torch.Size([1, 8, 3, 224, 224])
    ```
    """

    resample = PILImageResampling.BICUBIC
    image_mean = IMAGENET_DEFAULT_MEAN
    image_std = IMAGENET_DEFAULT_STD
    size = {"height": 224, "width": 224}
    default_to_square = True
    do_resize = True
    do_center_crop = False
    do_rescale = True
    rescale_factor = 1 / 255
    do_normalize = True
    do_convert_rgb = True
    do_sample_frames = True
    num_frames = 8
    sampling = "middle"
    video_backend = None
    decode_size = None
    do_train_augmentation = False
    do_train_flip = True
    valid_kwargs = ViCLIPVideoProcessorKwargs
    model_input_names = ["pixel_values"]

    # Per-call arguments: never stored in the saved configuration.
    _call_only_kwargs = ("clip_windows", "rng", "video_metadata", "device", "return_tensors")

    def __init__(self, **kwargs: Unpack[ViCLIPVideoProcessorKwargs]):
        for name in self._call_only_kwargs:
            if kwargs.get(name) is not None:
                raise ValueError(f"`{name}` is an argument of each call of {type(self).__name__}, not a setting.")
        super().__init__(**kwargs)
        if kwargs.get("fps") is not None and kwargs.get("num_frames") is None:
            self.num_frames = None  # `fps` replaces the default frame count
        self._check_settings(self.sampling, self.video_backend, self.decode_size, self.do_convert_rgb)

    @staticmethod
    def _check_settings(sampling: str, video_backend: str | None, decode_size: Any, do_convert_rgb: bool) -> None:
        if do_convert_rgb is False:
            raise ValueError(
                "ViCLIP needs RGB frames: grayscale and RGBA inputs are always converted; keep do_convert_rgb=True."
            )
        if sampling not in SAMPLING_MODES:
            raise ValueError(f"sampling must be one of {SAMPLING_MODES}, got {sampling!r}.")
        if video_backend is not None and video_backend not in VIDEO_BACKENDS:
            raise ValueError(f"video_backend must be one of {VIDEO_BACKENDS} or None, got {video_backend!r}.")
        check_decode_size(decode_size)

    def to_dict(self) -> dict[str, Any]:
        """The saved configuration, without per-call arguments."""
        output = super().to_dict()
        for name in self._call_only_kwargs:
            output.pop(name, None)
        return output

    def sample_frames(
        self,
        metadata: VideoMetadata,
        num_frames: int | None = None,
        fps: int | float | None = None,
        sampling: str | None = None,
        rng: np.random.Generator | None = None,
        **kwargs,
    ) -> np.ndarray:
        """
        The indices of the frames to read from a video described by `metadata`: the reference's segment sampling
        ([`sample_frame_indices`]) of `num_frames` frames, or of `fps` frames per second of video (which needs
        `metadata.fps`). `num_frames` and `fps` are exclusive; without either, the processor's setting is used.
        """
        if num_frames is not None and fps is not None:
            raise ValueError("`num_frames` and `fps` are mutually exclusive arguments, please use only one!")
        if num_frames is None and fps is None:
            num_frames, fps = self.num_frames, self.fps
        if fps is not None and num_frames is None:
            if not metadata.fps:
                raise ValueError(
                    f"Sampling {fps} frames per second needs the video's frame rate; pass `video_metadata` with "
                    "`fps` for array inputs, or use `num_frames`."
                )
            num_frames = max(1, int(metadata.total_num_frames / metadata.fps * fps))
        return sample_frame_indices(metadata.total_num_frames, num_frames, sampling or self.sampling, rng)

    def preprocess(self, videos: Any, **kwargs: Unpack[ViCLIPVideoProcessorKwargs]) -> BatchFeature:
        """
        Samples, decodes, resizes (or augments) and normalises `videos`; see the class docstring for the inputs.

        Returns:
            [`BatchFeature`] with `pixel_values` of shape `[batch, num_frames, 3, height, width]` (float32; a torch
            tensor unless `return_tensors="np"`), and `video_metadata` (a list of `VideoMetadata`) when
            `return_metadata=True`.
        """
        unknown = set(kwargs).difference(self.valid_kwargs.__annotations__, {"return_tensors"})
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unexpected arguments {sorted(unknown)}; valid ones are "
                f"{sorted(self.valid_kwargs.__annotations__)}."
            )
        rng = kwargs.pop("rng", None)  # a generator must be advanced, not copied or validated as a setting
        return_tensors = kwargs.pop("return_tensors", None) or "pt"
        validate_typed_dict(self.valid_kwargs, kwargs)
        call_fps, call_num_frames = kwargs.get("fps"), kwargs.get("num_frames")
        for name in self.valid_kwargs.__annotations__:  # unset or None: this processor's setting
            if name not in ("rng", "return_tensors") and kwargs.get(name) is None:
                kwargs[name] = getattr(self, name, None)
        if call_fps is not None and call_num_frames is None:  # the one given to this call replaces the setting
            kwargs["num_frames"] = None
        elif call_num_frames is not None and call_fps is None:
            kwargs["fps"] = None
        kwargs = self._standardize_kwargs(**kwargs)
        self._check_settings(
            kwargs["sampling"], kwargs["video_backend"], kwargs["decode_size"], kwargs["do_convert_rgb"]
        )
        self._validate_preprocess_kwargs(**kwargs)
        if kwargs.pop("do_pad"):
            raise ValueError(f"{type(self).__name__} does not pad; resize the videos to one size (`do_resize=True`).")
        data_format = kwargs.pop("data_format")
        if str(getattr(data_format, "value", data_format)) not in ("None", "channels_first"):
            raise ValueError(f"{type(self).__name__} only returns channels-first frames; drop `data_format`.")
        if rng is None and (kwargs["sampling"] == "rand" or kwargs["do_train_augmentation"]):
            rng = rng_from_torch_seed()

        batch = _split_videos(videos)
        # decoded files are [T, H, W, 3]; `input_data_format` describes the arrays given
        channels_first = None
        input_data_format = kwargs.pop("input_data_format")
        if input_data_format is not None:
            channels_first = (
                ChannelDimension(getattr(input_data_format, "value", input_data_format)) == "channels_first"
            )
        channels_first = [False if is_video_source(video) else channels_first for video in batch]
        sample_indices_fn = None
        if kwargs.pop("do_sample_frames"):
            sample_indices_fn = partial(
                self.sample_frames,
                num_frames=kwargs["num_frames"],
                fps=kwargs["fps"],
                sampling=kwargs["sampling"],
                rng=rng,
            )
        batch, video_metadata = self._decode_and_sample_videos(
            batch,
            video_metadata=kwargs.pop("video_metadata"),
            sample_indices_fn=sample_indices_fn,
            clip_windows=self._clip_windows_per_video(kwargs.pop("clip_windows"), batch),
            video_backend=kwargs.pop("video_backend"),
            decode_size=kwargs.pop("decode_size"),
        )
        batch = self._prepare_input_videos(batch, channels_first, kwargs.pop("device"), kwargs["do_rescale"])
        return_metadata = kwargs.pop("return_metadata")
        outputs = self._preprocess(batch, rng=rng, return_tensors=return_tensors, **kwargs)
        if return_metadata:
            outputs["video_metadata"] = video_metadata
        return outputs

    @staticmethod
    def _clip_windows_per_video(clip_windows: Any, batch: list[Any]) -> list[tuple[float, float] | None]:
        if clip_windows is None:
            return [None] * len(batch)
        is_single_window = len(clip_windows) == 2 and all(isinstance(v, (int, float)) for v in clip_windows)
        windows = [tuple(clip_windows)] * len(batch) if is_single_window else list(clip_windows)
        if len(windows) != len(batch):
            raise ValueError(
                f"clip_windows has {len(windows)} entries for {len(batch)} videos; give one (start, end) per video "
                "(None for a whole video) or a single pair for all."
            )
        for position, (video, window) in enumerate(zip(batch, windows, strict=True)):
            if window is not None and not is_video_source(video):
                raise ValueError(
                    f"clip_windows[{position}] is set but videos[{position}] is not a video file; clip windows select "
                    "frames by time in a file. Slice the frames of an array yourself."
                )
        return windows

    def _decode_and_sample_videos(
        self,
        videos: list[Any],
        video_metadata: Any,
        sample_indices_fn: Any,
        clip_windows: list[tuple[float, float] | None],
        video_backend: str | None,
        decode_size: Any,
    ) -> tuple[list[Any], list[VideoMetadata]]:
        """
        Decodes the sampled frames of the video files (all frames without `sample_indices_fn`) and samples the frames
        of the other videos. Returns the videos (decoded files as `[T, H, W, 3]` uint8 arrays) and their metadata: the
        decoder's for files, `video_metadata` (or the frame count alone) for the others.
        """
        if video_metadata is not None:
            video_metadata = make_batched_metadata(videos, video_metadata=video_metadata)

        def every_frame(metadata: VideoMetadata, **kwargs: Any) -> np.ndarray:
            return np.arange(metadata.total_num_frames)

        sampled, sampled_metadata = [], []
        for position, (video, window) in enumerate(zip(videos, clip_windows, strict=True)):
            where = f"videos[{position}]" if len(videos) > 1 else "the video"
            if is_video_source(video):
                frames, metadata = load_video(
                    video,
                    sample_indices_fn or every_frame,
                    backend=video_backend,
                    clip_window=window,
                    decode_size=decode_size,
                )
                video = frames
            else:
                if len(video) == 0:
                    raise ValueError(f"{where} has no frames.")
                if video_metadata is None:
                    metadata = VideoMetadata(total_num_frames=len(video))
                else:
                    metadata = video_metadata[position]
                    if metadata.total_num_frames != len(video):
                        raise ValueError(
                            f"video_metadata for {where} says {metadata.total_num_frames} frames, but it has "
                            f"{len(video)}; give each video its own metadata."
                        )
                if sample_indices_fn is not None:
                    indices = np.asarray(sample_indices_fn(metadata=metadata), dtype=np.int64)
                    if isinstance(video, list):
                        video = [video[index] for index in indices]
                    else:
                        video = video[torch.from_numpy(indices) if isinstance(video, torch.Tensor) else indices]
                    metadata.frames_indices = indices.tolist()
            sampled.append(video)
            sampled_metadata.append(metadata)
        return sampled, sampled_metadata

    def _prepare_input_videos(
        self, videos: list[Any], channels_first: list[bool | None], device: Any, do_rescale: bool
    ) -> list[torch.Tensor]:
        """The videos as `[T, 3, H, W]` tensors on `device`, their dtype kept; `channels_first[i]` says where the
        channels of `videos[i]` are (None: found from its shape)."""
        prepared = []
        for position, video in enumerate(videos):
            where = f"videos[{position}]" if len(videos) > 1 else "the video"
            tensor = _video_to_tensor(video, where, channels_first[position])
            if device is not None:
                tensor = tensor.to(device)
            if do_rescale and tensor.is_floating_point() and tensor.numel():
                low, high = tensor.aminmax()
                if low >= 0 and 0 < high <= 1:
                    logger.warning_once(
                        "A float video given to the ViCLIP video processor has all its values in [0, 1], as if it "
                        "were rescaled already; it is divided by 255 again (`do_rescale=True` expects frames in "
                        "[0, 255]). Pass `do_rescale=False` for frames in [0, 1]."
                    )
            prepared.append(tensor)
        return prepared

    def resize(
        self, video: torch.Tensor, size: SizeDict, resample: Any = None, antialias: bool = True, **kwargs
    ) -> torch.Tensor:
        """
        Resizes `[..., C, H, W]` frames to `size` with torchvision's v1 kernel, which on uint8 frames computes in float
        and rounds, exactly as the reference's `transforms.Resize` (the base class's v2 kernel differs by up to 3/255).
        """
        if size.height and size.width:
            new_size = [size.height, size.width]
        elif size.shortest_edge and not size.longest_edge:
            new_size = list(
                get_resize_output_image_size(
                    video, size=size.shortest_edge, default_to_square=False, input_data_format=ChannelDimension.FIRST
                )
            )
        else:
            return super().resize(video, size, resample, antialias)
        return tv_functional.resize(video, new_size, resample_to_interpolation(resample), antialias=antialias)

    def _preprocess(
        self,
        videos: list[torch.Tensor],
        do_resize: bool,
        size: SizeDict,
        resample: Any,
        do_center_crop: bool,
        crop_size: SizeDict,
        do_rescale: bool,
        rescale_factor: float,
        do_normalize: bool,
        image_mean: float | tuple[float, ...],
        image_std: float | tuple[float, ...],
        do_train_augmentation: bool,
        do_train_flip: bool,
        rng: np.random.Generator | None,
        return_tensors: str,
        **kwargs,
    ) -> BatchFeature:
        processed = []
        for frames in videos:
            if do_train_augmentation:
                output_size = crop_size if do_center_crop else size
                if not (output_size.height and output_size.width):
                    raise ValueError(
                        "The training augmentation crops to a fixed `size` {'height', 'width'} (or `crop_size` with "
                        f"`do_center_crop=True`); got size={size}."
                    )
                frames = self._random_resized_crop_and_flip(
                    frames, output_size, resample_to_interpolation(resample), rng, do_train_flip
                )
            else:
                if do_resize:
                    frames = self.resize(frames, size, resample)
                if do_center_crop:
                    frames = self.center_crop(frames, crop_size)
            processed.append(frames)

        shapes = {tuple(frames.shape) for frames in processed}
        if len(shapes) > 1:
            raise ValueError(
                f"The processed videos have different shapes {sorted(shapes)} and cannot be batched; keep "
                "`do_sample_frames=True` (same frame count) and `do_resize=True` (same frame size)."
            )
        # One float32 batch, converted into and then rescaled and normalised in place: the same arithmetic as the
        # reference's out-of-place ops, without a fresh frame-sized allocation per step (each costs more than the op).
        pixel_values = torch.empty(
            (len(processed), *processed[0].shape), dtype=torch.float32, device=processed[0].device
        )
        for position, frames in enumerate(processed):
            pixel_values[position].copy_(frames)
        if do_rescale:
            # The reference divides by 255; x / 255 and x * (1 / 255) can differ in the last bit, so divide when the
            # factor is the inverse of an integer.
            divisor = 1.0 / rescale_factor
            if abs(divisor - round(divisor)) < 1e-6:
                pixel_values.div_(float(round(divisor)))
            else:
                pixel_values.mul_(rescale_factor)
        if do_normalize:
            mean = torch.tensor(image_mean, dtype=torch.float32, device=pixel_values.device).reshape(-1, 1, 1)
            std = torch.tensor(image_std, dtype=torch.float32, device=pixel_values.device).reshape(-1, 1, 1)
            pixel_values.sub_(mean).div_(std)
        return BatchFeature(data={"pixel_values": pixel_values}, tensor_type=return_tensors)

    @staticmethod
    def _random_resized_crop_and_flip(
        frames: torch.Tensor, size: SizeDict, interpolation: InterpolationMode, rng: np.random.Generator, flip: bool
    ) -> torch.Tensor:
        """RandomResizedCrop (same box for all frames) to `size`, then, if `flip`, a horizontal flip with
        probability 0.5."""
        height, width = frames.shape[-2:]
        area = height * width
        log_ratio = (math.log(TRAIN_CROP_RATIO[0]), math.log(TRAIN_CROP_RATIO[1]))
        box = None
        for _ in range(10):
            target_area = area * rng.uniform(*TRAIN_CROP_SCALE)
            aspect_ratio = math.exp(rng.uniform(*log_ratio))
            crop_width = int(round(math.sqrt(target_area * aspect_ratio)))
            crop_height = int(round(math.sqrt(target_area / aspect_ratio)))
            if 0 < crop_width <= width and 0 < crop_height <= height:
                top = int(rng.integers(0, height - crop_height + 1))
                left = int(rng.integers(0, width - crop_width + 1))
                box = (top, left, crop_height, crop_width)
                break
        if box is None:  # fall back to a centred crop of the extreme allowed ratio, as torchvision does
            in_ratio = width / height
            if in_ratio < TRAIN_CROP_RATIO[0]:
                crop_width, crop_height = width, int(round(width / TRAIN_CROP_RATIO[0]))
            elif in_ratio > TRAIN_CROP_RATIO[1]:
                crop_width, crop_height = int(round(height * TRAIN_CROP_RATIO[1])), height
            else:
                crop_width, crop_height = width, height
            box = ((height - crop_height) // 2, (width - crop_width) // 2, crop_height, crop_width)
        # torchvision's v2 kernel resizes uint8 natively, several times faster than the float path the evaluation
        # resize keeps for reference parity; the two differ by rounding only (at most 2/255, 0.15/255 on average)
        frames = tv2_functional.resized_crop(frames, *box, [size.height, size.width], interpolation, antialias=True)
        if rng.random() < TRAIN_FLIP_PROBABILITY and flip:
            frames = frames.flip(-1)
        return frames


__all__ = [
    "ViCLIPVideoProcessor",
    "ViCLIPVideoProcessorKwargs",
    "available_video_backends",
    "is_array",
    "is_frame_list",
    "read_video_frames",
    "resample_to_interpolation",
    "resolve_video_backend",
    "sample_frame_indices",
]
