# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Training clips stored as JPEG frames: the shard layout, the choice of frames, and decoding with augmentation as batched
tensor operations on the training device.

A clip of `num_segments` segments (the reference sampler's: `edges = linspace(0, frames, n + 1).astype(int)`, segment
`i` is `[edges[i], edges[i + 1] - 1]`) is stored as `frames_per_segment` JPEG frames of each segment, spread evenly
over it, as tar members `<key>.f<segment><copy>.jpg` (two digits each) beside `<key>.txt` / `<key>.json`. Reading
picks one stored frame per segment: a random one in training (`rand`), the middle one in evaluation (`middle`), so
that temporal sampling stays random while only `num_segments` frames are decoded.

Decoding happens where it is cheapest: in the DataLoader workers on the CPU (libjpeg-turbo through
`torchvision.io.decode_jpeg`) or, with `decode_on_device`, in the training process on its device (nvJPEG on CUDA),
the workers then only moving bytes. Both run the same code ([`decode_and_augment`]) on the same crop boxes and flips,
drawn in the worker from the sample's generator, so the two places give the same clips up to the decoders' rounding.
"""

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torchvision.io import ImageReadMode, decode_jpeg, encode_jpeg
from torchvision.transforms import InterpolationMode

from viclip.video_protocols_viclip import resized_crop_and_flip, train_output_size

from .skipping import SkippedSample


FRAME_MEMBER = re.compile(r"^f(\d{2})(\d{2})\.jpg$")
"""The extension part of a stored frame's tar member name: segment, then copy within the segment."""
DEFAULT_FRAMES_PER_SEGMENT = 2
DEFAULT_JPEG_QUALITY = 90


def frame_member(segment: int, copy: int) -> str:
    """The extension of the member holding copy `copy` of segment `segment` (`f0301.jpg`)."""
    return f"f{segment:02d}{copy:02d}.jpg"


def stored_frame_positions(num_clip_frames: int, num_segments: int, frames_per_segment: int) -> np.ndarray:
    """
    Which frames of a clip of `num_clip_frames` frames a shard stores, as a `[num_segments, frames_per_segment]`
    array of frame indices. With one frame per segment: the reference's `middle` index `(lo + hi) // 2` of each of its
    segments (evaluation shards). With more: the range the reference's `rand` draws from, `[lo, hi)`, cut into
    `frames_per_segment` equal parts whose middles are stored (training shards; a random copy per segment then stands
    for the reference's random frame). A clip shorter than `num_segments` frames repeats its last frame, as the
    reference pads.
    """
    if num_clip_frames < 1 or num_segments < 1 or frames_per_segment < 1:
        raise ValueError(
            f"a clip needs at least one frame, segment and frame per segment, got {num_clip_frames}, {num_segments}, "
            f"{frames_per_segment}."
        )
    segments = min(num_segments, num_clip_frames)
    edges = np.linspace(0, num_clip_frames, segments + 1).astype(int)
    positions = np.empty((num_segments, frames_per_segment), dtype=np.int64)
    for segment in range(num_segments):
        if segment >= segments:  # padding, as the reference pads short clips with their last frame
            positions[segment] = positions[segments - 1, -1]
            continue
        low, high = int(edges[segment]), int(edges[segment + 1]) - 1
        if frames_per_segment == 1:
            positions[segment] = (low + high) // 2
        else:
            parts = np.linspace(low, max(high, low + 1), frames_per_segment + 1)
            positions[segment] = ((parts[:-1] + parts[1:]) / 2).astype(np.int64)
    return positions


def encode_frames(frames: np.ndarray | torch.Tensor, quality: int = DEFAULT_JPEG_QUALITY) -> list[bytes]:
    """JPEG files (libjpeg-turbo, 4:2:0) of uint8 RGB frames `[N, H, W, 3]`."""
    frames = torch.as_tensor(np.asarray(frames))
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != torch.uint8:
        raise ValueError(f"frames must be uint8 [N, H, W, 3], got {frames.dtype} {list(frames.shape)}.")
    return [encode_jpeg(frame.permute(2, 0, 1).contiguous(), quality=quality).numpy().tobytes() for frame in frames]


def clip_frame_members(
    frames: Sequence[np.ndarray],
    num_segments: int,
    frames_per_segment: int = DEFAULT_FRAMES_PER_SEGMENT,
    quality: int = DEFAULT_JPEG_QUALITY,
) -> dict[str, bytes]:
    """
    The tar members (`{extension: JPEG bytes}`) that store a clip given as all its frames in display order (uint8
    RGB `[H, W, 3]` each): the frames of [`stored_frame_positions`], each encoded once.
    """
    positions = stored_frame_positions(len(frames), num_segments, frames_per_segment)
    unique = sorted(set(positions.flatten().tolist()))
    encoded = dict(zip(unique, encode_frames(np.stack([frames[index] for index in unique]), quality), strict=True))
    return {
        frame_member(segment, copy): encoded[int(positions[segment, copy])]
        for segment in range(num_segments)
        for copy in range(frames_per_segment)
    }


def stored_frames(fields: dict[str, bytes]) -> dict[tuple[int, int], bytes]:
    """The stored frames among a sample's tar members (`{extension: bytes}`), by `(segment, copy)`."""
    found = {}
    for extension, data in fields.items():
        match = FRAME_MEMBER.match(extension)
        if match:
            found[int(match.group(1)), int(match.group(2))] = data
    return found


def choose_frames(
    frames: dict[tuple[int, int], bytes], num_segments: int, sampling: str, rng: np.random.Generator | None
) -> list[bytes]:
    """
    One stored frame per segment: a uniformly random copy (`rand`, drawn from `rng`) or the middle copy (`middle`).

    Raises:
        `ValueError`: the sample does not hold `num_segments` segments with the same number of copies each.
    """
    segments = sorted({segment for segment, _ in frames})
    copies = {segment: sorted(copy for other, copy in frames if other == segment) for segment in segments}
    counts = {len(found) for found in copies.values()}
    if (
        segments != list(range(num_segments))
        or len(counts) != 1
        or any(found != list(range(len(found))) for found in copies.values())
    ):
        raise ValueError(
            f"the stored frames do not form {num_segments} segments of equal copies (members "
            f"{sorted(frame_member(*key) for key in frames)}): write the shards with num_frames={num_segments}, or "
            "read them with that many frames."
        )
    per_segment = counts.pop()
    if sampling == "rand":
        chosen = rng.integers(0, per_segment, size=num_segments)
    else:
        chosen = np.full(num_segments, (per_segment - 1) // 2)
    return [frames[segment, int(copy)] for segment, copy in zip(range(num_segments), chosen, strict=True)]


def jpeg_size(data: bytes) -> tuple[int, int]:
    """`(height, width)` of a JPEG file, read from its frame header (no decoding).

    Raises:
        `ValueError`: not a JPEG file, or no frame header.
    """
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG file (no start-of-image marker)")
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise ValueError(f"not a JPEG file (no marker at byte {position})")
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start-of-frame marker
            if position + 9 > len(data):
                break
            return (
                int.from_bytes(data[position + 5 : position + 7], "big"),
                int.from_bytes(data[position + 7 : position + 9], "big"),
            )
        position += 2 + length
    raise ValueError("truncated JPEG file (no frame header)")


def check_frames(jpegs: Sequence[bytes]) -> tuple[int, int]:
    """
    The `(height, width)` of a clip's JPEG frames, read from their headers, after checking that they share it and are
    complete (end-of-image marker): a worker that only moves bytes still skips a damaged sample by name.

    Raises:
        `ValueError`: a frame that is not a complete JPEG file, or frames of different sizes.
    """
    sizes = {jpeg_size(data) for data in jpegs}
    if len(sizes) != 1:
        raise ValueError(f"the stored frames have different sizes {sorted(sizes)}")
    if truncated := [position for position, data in enumerate(jpegs) if not data.rstrip(b"\0").endswith(b"\xff\xd9")]:
        raise ValueError(f"stored frames {truncated} of the clip are truncated JPEG files (no end-of-image marker)")
    return sizes.pop()


def decode_frames(jpegs: Sequence[bytes]) -> torch.Tensor:
    """A clip's JPEG frames decoded on the CPU (libjpeg-turbo): uint8 `[T, 3, H, W]`.

    Raises:
        `ValueError`: a frame that cannot be decoded, or frames of different sizes.
    """
    height, width = check_frames(jpegs)
    files = [torch.frombuffer(bytearray(data), dtype=torch.uint8) for data in jpegs]
    try:
        return torch.stack(decode_jpeg(files, mode=ImageReadMode.RGB))
    except RuntimeError as error:
        raise ValueError(f"cannot decode a stored JPEG frame ({height}x{width}): {error}") from None


def pack_encoded_clips(clips: Sequence[Sequence[bytes]]) -> tuple[torch.Tensor, torch.Tensor]:
    """
    The JPEG files of a batch of clips as two tensors, so that a DataLoader worker hands over one buffer, not one
    shared-memory segment per frame: `data` (uint8, every file end to end) and `lengths` (int64 `[clips, frames]`).
    """
    lengths = torch.tensor([[len(frame) for frame in clip] for clip in clips], dtype=torch.int64)
    data = torch.frombuffer(bytearray(b"".join(frame for clip in clips for frame in clip)), dtype=torch.uint8)
    return data, lengths


def decode_and_augment(
    data: torch.Tensor,
    lengths: torch.Tensor,
    crop_boxes: torch.Tensor,
    flips: torch.Tensor,
    size: tuple[int, int],
    device: torch.device | str = "cpu",
    interpolation: InterpolationMode = InterpolationMode.BICUBIC,
) -> torch.Tensor:
    """
    Decodes a batch of clips packed by [`pack_encoded_clips`] on `device` (nvJPEG on CUDA, libjpeg-turbo on the CPU),
    crops each clip to its box `(top, left, height, width)` (the same box for all its frames), resizes it to `size`
    (`interpolation`, antialiased, uint8 in and out as the CPU training transform does) and flips the clips marked in
    `flips`. Returns uint8 `[clips, frames, 3, size[0], size[1]]` on `device`, ready for normalisation.

    Raises:
        `ValueError`: a file that is not a decodable JPEG, or frames of one clip with different sizes.
    """
    device = torch.device(device)
    num_clips, num_frames = lengths.shape
    files = list(torch.split(data.cpu(), lengths.flatten().tolist()))
    try:
        decoded = decode_jpeg(files, mode=ImageReadMode.RGB, device=device)
    except RuntimeError as error:
        raise ValueError(f"cannot decode a JPEG frame of this batch: {error}") from None
    output = torch.empty((num_clips, num_frames, 3, *size), dtype=torch.uint8, device=device)
    for clip in range(num_clips):
        frames = decoded[clip * num_frames : (clip + 1) * num_frames]
        if len({frame.shape for frame in frames}) != 1:
            raise ValueError(f"the frames of clip {clip} have different sizes: {[list(f.shape) for f in frames]}")
        box = [int(value) for value in crop_boxes[clip]]
        output[clip] = resized_crop_and_flip(torch.stack(frames), box, bool(flips[clip]), size, interpolation)
    return output


def training_output_size(video_processor: Any) -> tuple[int, int]:
    """`(height, width)` of the clips the video processor's training augmentation produces ([`train_output_size`]),
    the size [`decode_and_augment`] must give to match it.

    Raises:
        `ValueError`: the processor resizes to a shortest edge, which the augmentation cannot crop to.
    """
    return tuple(train_output_size(video_processor.size, video_processor.crop_size, video_processor.do_center_crop))


ENCODED_CLIP_KEYS = ("jpeg_data", "jpeg_lengths", "crop_boxes", "flips", "clip_names")
"""Batch keys of clips left encoded for the training process: [`decode_encoded_batch`] turns them into
`pixel_values`."""
ROW_KEYS = ("input_ids", "attention_mask", "labels", "index")
"""Batch keys holding one row per clip (`index` is the collator's `INDEX_KEY`), which a clip that fails to decode
loses with it."""


def collate_encoded_clips(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The encoded-frame fields of a batch's items (`jpeg_frames`, `crop_box`, `flip`, `name`) as the batch keys of
    [`ENCODED_CLIP_KEYS`]: the frames packed by [`pack_encoded_clips`], the boxes and flips as tensors."""
    data, lengths = pack_encoded_clips([item["jpeg_frames"] for item in items])
    return {
        "jpeg_data": data,
        "jpeg_lengths": lengths,
        "crop_boxes": torch.tensor([item["crop_box"] for item in items], dtype=torch.int64),
        "flips": torch.tensor([item["flip"] for item in items], dtype=torch.bool),
        "clip_names": [item.get("name", "") for item in items],
    }


def decode_encoded_batch(
    batch: dict[str, Any], size: tuple[int, int], device: torch.device | str, interpolation: InterpolationMode
) -> tuple[dict[str, Any], list[SkippedSample]]:
    """
    Replaces the encoded clips of `batch` ([`ENCODED_CLIP_KEYS`]) by their uint8 `pixel_values` on `device`
    ([`decode_and_augment`], one batched call). A clip that cannot be decoded is dropped with its rows of every
    [`ROW_KEYS`] tensor and returned as a [`SkippedSample`] (the batch is then decoded clip by clip to find it), so a
    damaged file costs its sample, never the batch.
    """
    encoded = {key: batch.pop(key) for key in ENCODED_CLIP_KEYS}
    data, lengths, boxes, flips = (encoded[key] for key in ENCODED_CLIP_KEYS[:4])
    try:
        batch["pixel_values"] = decode_and_augment(data, lengths, boxes, flips, size, device, interpolation)
        return batch, []
    except ValueError:
        pass
    ends = lengths.sum(dim=1).cumsum(0).tolist()
    kept, clips, skipped = [], [], []
    for clip, (start, end) in enumerate(zip([0, *ends[:-1]], ends, strict=True)):
        clip_data, clip_lengths = data[start:end], lengths[clip : clip + 1]
        try:
            clips.append(
                decode_and_augment(
                    clip_data,
                    clip_lengths,
                    boxes[clip : clip + 1],
                    flips[clip : clip + 1],
                    size,
                    device,
                    interpolation,
                )
            )
            kept.append(clip)
        except ValueError as error:
            index = int(batch["index"][clip]) if "index" in batch else clip
            skipped.append(SkippedSample.from_error(index, encoded["clip_names"][clip], error))
    keep = torch.tensor(kept, dtype=torch.long)
    for key in ROW_KEYS:
        if key in batch:
            batch[key] = batch[key][keep]
    if clips:
        batch["pixel_values"] = torch.cat(clips)
    else:  # the trainer's way for a batch whose every sample failed: no model inputs at all
        for key in ROW_KEYS:
            batch.pop(key, None)
    return batch, skipped


__all__ = [
    "DEFAULT_FRAMES_PER_SEGMENT",
    "ENCODED_CLIP_KEYS",
    "ROW_KEYS",
    "clip_frame_members",
    "DEFAULT_JPEG_QUALITY",
    "check_frames",
    "choose_frames",
    "collate_encoded_clips",
    "decode_and_augment",
    "decode_encoded_batch",
    "decode_frames",
    "encode_frames",
    "frame_member",
    "jpeg_size",
    "pack_encoded_clips",
    "stored_frame_positions",
    "stored_frames",
    "training_output_size",
]
