"""Clips stored as JPEG frames: which frames a shard stores, how a reader picks them, and decoding with augmentation as
batched tensor operations (here on the CPU; the same code runs on CUDA with nvJPEG)."""

import numpy as np
import pytest
import torch
from torchvision.io import decode_jpeg
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as tv2_functional

from viclip.video_decoding_viclip import sample_frame_indices
from viclip_train.data.frame_clips import (
    choose_frames,
    clip_frame_members,
    collate_encoded_clips,
    decode_and_augment,
    encode_frames,
    frame_member,
    jpeg_size,
    stored_frame_positions,
    stored_frames,
)


def textured_frames(count: int, height: int = 36, width: int = 52, seed: int = 0) -> np.ndarray:
    """uint8 `[count, height, width, 3]` frames of smooth random texture (JPEG keeps them close to the original)."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.randint(0, 256, (count, 3, height // 6 + 1, width // 6 + 1), generator=generator).float()
    smooth = torch.nn.functional.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)
    return smooth.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


@pytest.mark.parametrize("num_clip_frames", [1, 5, 8, 9, 50, 251])
def test_one_stored_frame_per_segment_is_the_reference_middle_frame(num_clip_frames):
    positions = stored_frame_positions(num_clip_frames, num_segments=8, frames_per_segment=1)
    np.testing.assert_array_equal(positions[:, 0], sample_frame_indices(num_clip_frames, 8, "middle"))


@pytest.mark.parametrize("num_clip_frames", [16, 50, 251])
def test_stored_copies_lie_where_the_reference_draws_its_random_frame(num_clip_frames):
    positions = stored_frame_positions(num_clip_frames, num_segments=8, frames_per_segment=3)
    edges = np.linspace(0, num_clip_frames, 9).astype(int)
    for segment in range(8):
        low, high = edges[segment], edges[segment + 1] - 1
        assert np.all((positions[segment] >= low) & (positions[segment] < max(high, low + 1))), segment
        assert np.all(np.diff(positions[segment]) >= 0)
    if num_clip_frames >= 50:  # segments of 6 frames or more hold 3 distinct copies
        assert all(len(set(row)) == 3 for row in positions.tolist())


def test_a_clip_shorter_than_its_segments_repeats_its_last_frame():
    positions = stored_frame_positions(3, num_segments=8, frames_per_segment=2)
    assert positions[:3, 0].tolist() == [0, 1, 2] and np.all(positions[3:] == positions[2, -1])


def frame_fields(num_segments: int, copies: int) -> dict[str, bytes]:
    return {
        frame_member(segment, copy): bytes([segment, copy])
        for segment in range(num_segments)
        for copy in range(copies)
    }


def test_random_choice_draws_every_copy_and_middle_takes_the_middle_one():
    frames = stored_frames({**frame_fields(8, 3), "txt": b"a caption", "json": b"{}"})
    assert len(frames) == 24
    rng = np.random.default_rng(0)
    drawn = {copy for _ in range(20) for _, copy in choose_frames(frames, 8, "rand", rng)}
    assert drawn == {0, 1, 2}
    assert [tuple(frame) for frame in choose_frames(frames, 8, "middle", None)] == [(s, 1) for s in range(8)]


def test_a_sample_whose_stored_frames_miss_a_segment_is_refused_by_name():
    fields = frame_fields(8, 2)
    del fields[frame_member(5, 0)]
    with pytest.raises(ValueError, match="do not form 8 segments of equal copies.*num_frames=8"):
        choose_frames(stored_frames(fields), 8, "middle", None)
    with pytest.raises(ValueError, match="do not form 4 segments"):
        choose_frames(stored_frames(frame_fields(8, 1)), 4, "middle", None)


def test_jpeg_size_reads_the_frame_header_and_refuses_other_bytes():
    (encoded,) = encode_frames(textured_frames(1, height=36, width=52))
    assert jpeg_size(encoded) == (36, 52)
    with pytest.raises(ValueError, match="not a JPEG file"):
        jpeg_size(b"\x00\x00\x00 ftypisom")
    with pytest.raises(ValueError, match="truncated JPEG file"):
        jpeg_size(encoded[:20])


def test_encoding_refuses_frames_that_are_not_uint8_rgb():
    with pytest.raises(ValueError, match=r"uint8 \[N, H, W, 3\].*float32"):
        encode_frames(np.zeros((2, 8, 8, 3), dtype=np.float32))


def test_batched_decoding_and_augmentation_equal_the_per_clip_cpu_transform():
    clips = [encode_frames(textured_frames(4, seed=seed)) for seed in range(3)]
    boxes = [(2, 3, 30, 40), (0, 0, 36, 52), (5, 10, 20, 20)]
    flips = [False, True, True]
    batch = collate_encoded_clips(
        [
            {"jpeg_frames": clip, "crop_box": box, "flip": flip}
            for clip, box, flip in zip(clips, boxes, flips, strict=True)
        ]
    )
    output = decode_and_augment(
        batch["jpeg_data"], batch["jpeg_lengths"], batch["crop_boxes"], batch["flips"], (24, 24)
    )
    assert output.shape == (3, 4, 3, 24, 24) and output.dtype == torch.uint8
    for index, (clip, box, flip) in enumerate(zip(clips, boxes, flips, strict=True)):
        frames = torch.stack([decode_jpeg(torch.frombuffer(bytearray(frame), dtype=torch.uint8)) for frame in clip])
        expected = tv2_functional.resized_crop(frames, *box, [24, 24], InterpolationMode.BICUBIC, antialias=True)
        expected = expected.flip(-1) if flip else expected
        torch.testing.assert_close(output[index], expected, rtol=0, atol=0)


def test_a_corrupt_frame_fails_the_batch_with_a_value_error():
    clip = encode_frames(textured_frames(2))
    batch = collate_encoded_clips(
        [{"jpeg_frames": [clip[0], clip[1][:40]], "crop_box": (0, 0, 36, 52), "flip": False}]
    )
    with pytest.raises(ValueError, match="cannot decode a JPEG frame of this batch"):
        decode_and_augment(batch["jpeg_data"], batch["jpeg_lengths"], batch["crop_boxes"], batch["flips"], (8, 8))


def test_a_clip_is_stored_as_its_segments_frames_and_read_back_by_segment():
    clip = [np.full((16, 24, 3), 10 * index, dtype=np.uint8) for index in range(20)]  # frame i is grey level 10 i
    members = clip_frame_members(clip, num_segments=4, frames_per_segment=2)
    assert sorted(members) == [frame_member(segment, copy) for segment in range(4) for copy in range(2)]
    positions = stored_frame_positions(20, 4, 2)
    chosen = choose_frames(stored_frames(members), 4, "middle", None)
    for segment, data in enumerate(chosen):
        decoded = decode_jpeg(torch.frombuffer(bytearray(data), dtype=torch.uint8)).float().mean().item()
        assert round(decoded / 10) == positions[segment, 0], segment
