# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""Specification of shards that store clips as JPEG frames: the writer's layout and its reruns, reading them in the
DataLoader workers or on the training device, and training from them with exact resume and skip-and-count."""

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from viclip_train.data.collator import VideoDataCollator
from viclip_train.data.frame_clips import decode_encoded_batch, encode_frames, frame_member, stored_frame_positions
from viclip_train.data.shard_writer import EncodeOptions, write_shards
from viclip_train.data.shards import ShardedVideoDataset
from viclip_train.data.skipping import SkippedSample
from viclip_train.data.synthetic import make_synthetic_corpus
from viclip_train.trainer import ViCLIPTrainer

from .processing_helpers import frame_indices_of, tiny_processor, write_index_video
from .test_run_pretrain import Killed, assert_same_weights, kill_at_step_begin, run_in_process
from .test_shards import _shard_run


FRAMES = EncodeOptions(clip_format="frames", num_segments=4, frames_per_segment=2, short_side=32)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """A 6 s source video at 10 fps whose frames show their index, and five InternVid rows of windows over it."""
    root = tmp_path_factory.mktemp("sources")
    write_index_video(str(root / "vidA.mp4"), 60, fps=10, height=48, width=64)
    header = "YoutubeID,Start_timestamp,End_timestamp,Caption\n"
    rows = [f"vidA,00:00:0{second}.000,00:00:0{second}.800,window {second}" for second in range(5)]
    (root / "internvid.csv").write_text(header + "\n".join(rows) + "\n")
    return root


def _write(sources, out, **kwargs):
    options = {"samples_per_shard": 3, "options": FRAMES, "num_workers": 1, "progress": False, **kwargs}
    return write_shards(sources / "internvid.csv", sources, out, **options)


def _keys(out: Path) -> list[int]:
    keys = []
    for shard in sorted(out.glob("[0-9]*.tar")):
        with tarfile.open(shard) as tar:
            keys += [int(name.split(".")[0]) for name in tar.getnames() if name.endswith(".json")]
    return keys


# ---- the writer ----


def test_the_writer_stores_each_clip_as_its_segments_frames_at_the_reference_positions(sources, tmp_path):
    manifest = _write(sources, tmp_path / "shards")
    assert manifest["num_samples"] == 5 and manifest["options"]["codec"] == "jpeg"
    with tarfile.open(tmp_path / "shards" / "00000.tar") as tar:
        names = tar.getnames()
        frames = [tar.extractfile(f"000000001.{frame_member(s, c)}").read() for s in range(4) for c in range(2)]
    expected = [f"000000000.{frame_member(segment, copy)}" for segment in range(4) for copy in range(2)]
    assert names[:10] == [*expected, "000000000.txt", "000000000.json"]
    from torchvision.io import decode_jpeg

    decoded = np.stack(
        [decode_jpeg(torch.frombuffer(bytearray(f), dtype=torch.uint8)).permute(1, 2, 0) for f in frames]
    )
    assert decoded.shape[1:] == (32, 42, 3)  # the short side scaled to --short_side
    # window 1.0-1.8 s holds frames 10..17; segment s of 4 stores 2 frames spread over the reference's random range
    assert frame_indices_of(decoded) == (10 + stored_frame_positions(8, 4, 2)).flatten().tolist()


def test_a_rerun_with_another_shard_size_is_refused_instead_of_duplicating_rows(sources, tmp_path):
    out = tmp_path / "shards"
    _write(sources, out, samples_per_shard=3)
    with pytest.raises(ValueError, match=r"00000\.tar was written .*samples_per_shard: 3 then, 2 now.*--overwrite"):
        _write(sources, out, samples_per_shard=2)
    manifest = _write(sources, out, samples_per_shard=2, overwrite=True)
    assert _keys(out) == [0, 1, 2, 3, 4]
    assert [shard["samples"] for shard in manifest["shards"]] == [2, 2, 1]


def test_a_rerun_with_an_edited_annotation_file_or_other_options_is_refused(sources, tmp_path):
    out = tmp_path / "shards"
    _write(sources, out)
    with pytest.raises(ValueError, match="frames_per_segment: 2 then, 3 now"):
        _write(sources, out, options=EncodeOptions(**{**FRAMES.__dict__, "frames_per_segment": 3}))
    edited = tmp_path / "edited"
    edited.mkdir()
    (edited / "vidA.mp4").write_bytes((sources / "vidA.mp4").read_bytes())
    (edited / "internvid.csv").write_text((sources / "internvid.csv").read_text().replace("window 0", "edited"))
    with pytest.raises(ValueError, match="annotation_content"):
        _write(edited, out)


def test_rerunning_the_same_command_keeps_every_shard_and_removes_temporary_files_of_killed_runs(sources, tmp_path):
    out = tmp_path / "shards"
    _write(sources, out)
    (out / ".00001.tar.4242.partial").write_bytes(b"half a shard")
    manifest = _write(sources, out)
    assert manifest["shards_kept_from_earlier_runs"] == 2 and _keys(out) == [0, 1, 2, 3, 4]
    assert not list(out.glob(".*.partial"))


def test_bad_storage_options_are_refused_naming_the_flag():
    with pytest.raises(ValueError, match=r"--frames_per_segment must be at least 1.*--jpeg_quality must be in"):
        EncodeOptions(clip_format="frames", frames_per_segment=0, jpeg_quality=101).check()


# ---- reading ----


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_synthetic_corpus(
        tmp_path_factory.mktemp("corpus"), num_train=8, num_val=4, num_frames=8, frame_size=32
    )


@pytest.fixture(scope="module")
def frame_shards(corpus):
    folders = {}
    for split in ("train", "val"):
        folders[split] = corpus.root / "frame_shards" / split
        write_shards(
            corpus.annotation_file(split),
            corpus.root,
            folders[split],
            samples_per_shard=2,
            options=FRAMES,
            num_workers=1,
            progress=False,
        )
    return folders


def _items(frame_shards, **kwargs) -> list:
    options = {"batch_size": 2, "train": True, "seed": 3, "shuffle_buffer": 2, "uint8_frames": True}
    dataset = ShardedVideoDataset(str(frame_shards["train"]), tiny_processor().video_processor, **options, **kwargs)
    return list(dataset)


def test_clips_decoded_on_the_device_equal_the_clips_decoded_in_the_workers(frame_shards):
    in_workers = _items(frame_shards)
    left_encoded = _items(frame_shards, decode_on_device=True)
    assert [item["index"] for item in left_encoded] == [item["index"] for item in in_workers]
    assert "pixel_values" not in left_encoded[0] and len(left_encoded[0]["jpeg_frames"]) == 4
    batch = VideoDataCollator(tiny_processor())(left_encoded)
    decoded, skipped = decode_encoded_batch(batch, (32, 32), "cpu", tiny_interpolation())
    assert skipped == [] and decoded["pixel_values"].dtype == torch.uint8
    expected = torch.stack([item["pixel_values"] for item in in_workers])
    torch.testing.assert_close(decoded["pixel_values"], expected, rtol=0, atol=0)
    assert decoded["input_ids"].shape[0] == len(in_workers)


def tiny_interpolation():
    from viclip.video_processing_viclip import resample_to_interpolation

    return resample_to_interpolation(tiny_processor().video_processor.resample)


def test_evaluation_reads_the_middle_stored_frame_of_each_segment_and_refuses_device_decoding(frame_shards):
    processor = tiny_processor().video_processor
    dataset = ShardedVideoDataset(str(frame_shards["val"]), processor, batch_size=2)
    assert next(iter(dataset))["pixel_values"].shape == (4, 3, 32, 32)
    with pytest.raises(ValueError, match="decode_on_device decodes training clips"):
        ShardedVideoDataset(str(frame_shards["val"]), processor, batch_size=2, decode_on_device=True)


def _shard_with(tmp_path: Path, frames: list[bytes]) -> Path:
    shard = tmp_path / "damaged.tar"
    members = {**{frame_member(segment, 0): data for segment, data in enumerate(frames)}, "txt": b"a caption"}
    with tarfile.open(shard, "w") as tar:
        for extension, data in members.items():
            info = tarfile.TarInfo(f"k.{extension}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return shard


@pytest.mark.parametrize("decode_on_device", [False, True])
def test_a_truncated_frame_is_skipped_by_the_worker_naming_shard_and_key(tmp_path, decode_on_device):
    frames = encode_frames(np.full((4, 16, 16, 3), 100, dtype=np.uint8))
    shard = _shard_with(tmp_path, [*frames[:3], frames[3][:-40]])
    dataset = ShardedVideoDataset(
        str(shard), tiny_processor().video_processor, batch_size=1, train=True, decode_on_device=decode_on_device
    )
    (item,) = list(dataset)
    assert isinstance(item, SkippedSample) and item.video == f"{shard}:k" and "truncated" in item.reason


def test_a_clip_that_fails_to_decode_on_the_device_costs_its_sample_not_the_batch():
    good = [encode_frames(np.full((2, 16, 16, 3), level, dtype=np.uint8)) for level in (50, 150)]
    bad = [good[0][0], b"\xff\xd8" + bytes(range(256)) * 4 + b"\xff\xd9"]
    items = [
        {"jpeg_frames": frames, "crop_box": (0, 0, 16, 16), "flip": False, "name": name, "index": index}
        for index, (name, frames) in enumerate((("a", good[0]), ("b", bad), ("c", good[1])))
    ]
    batch = VideoDataCollator()(items)
    batch["input_ids"] = torch.tensor([[1], [2], [3]])
    decoded, skipped = decode_encoded_batch(batch, (8, 8), "cpu", tiny_interpolation())
    assert [(sample.index, sample.video) for sample in skipped] == [(1, "b")]
    assert decoded["input_ids"].flatten().tolist() == [1, 3] and decoded["index"].tolist() == [0, 2]
    assert decoded["pixel_values"][:, 0, 0, 0, 0].tolist() == [50, 150]


# ---- training ----


def test_training_decoding_frames_on_the_device_resumes_to_the_weights_of_an_uninterrupted_run(
    frame_shards, tmp_path, monkeypatch
):
    run = {"validation_shards": None, "frame_decoding": "device", "max_steps": 4, "save_steps": 2}
    decoded_batches = []
    decode = ViCLIPTrainer._decode_frames
    monkeypatch.setattr(ViCLIPTrainer, "_decode_frames", lambda self, x: decoded_batches.append(1) or decode(self, x))
    run_in_process(_shard_run(frame_shards, tmp_path / "whole", **run), tmp_path, monkeypatch)
    assert len(decoded_batches) == 4  # every step's clips were decoded by the training process
    with monkeypatch.context() as patched:
        kill_at_step_begin(patched, 3)
        with pytest.raises(Killed):
            run_in_process(_shard_run(frame_shards, tmp_path / "resumed", **run), tmp_path, patched)
    run_in_process(_shard_run(frame_shards, tmp_path / "resumed", **run), tmp_path, monkeypatch)
    assert_same_weights(tmp_path / "whole", tmp_path / "resumed")
    log = json.loads((tmp_path / "whole" / "trainer_state.json").read_text())["log_history"]
    assert all(np.isfinite(entry["loss"]) for entry in log if "loss" in entry)


def test_the_trainer_asks_for_the_processor_when_it_must_decode_frames():
    trainer = ViCLIPTrainer.__new__(ViCLIPTrainer)
    trainer.video_processor = None
    with pytest.raises(ValueError, match="processing_class=.*video_processor="):
        trainer._decode_frames({})
