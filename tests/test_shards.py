# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""Tar shards: the shard writer's output, how an epoch is split across processes and workers (disjoint, equal full
batches), the shuffle buffer, decoding from memory, bad samples, exact resume without reading consumed samples, and
training from shards through run_pretrain.py."""

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import HfArgumentParser, TrainingArguments

import run_pretrain
import viclip_train.data.clips as clips_module
from viclip_train.arguments import describe_global_batch, parse_arguments_with_json
from viclip_train.data.collator import Placeholder, VideoDataCollator
from viclip_train.data.shard_writer import main as shard_writer_main
from viclip_train.data.shard_writer import write_shards
from viclip_train.data.shards import ShardedVideoDataset, expand_shards, plan_slot, shuffle_buffer_order
from viclip_train.data.skipping import SkippedSample
from viclip_train.data.synthetic import make_synthetic_corpus, write_corpus_shards

from .conftest import tiny_config_kwargs
from .processing_helpers import frame_indices_of, tiny_processor, write_index_video
from .test_run_pretrain import Killed, assert_same_weights, kill_at_step_begin, run_in_process


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_synthetic_corpus(
        tmp_path_factory.mktemp("corpus"), num_train=16, num_val=6, num_frames=8, frame_size=32
    )


@pytest.fixture(scope="module")
def shard_folders(corpus):
    return write_corpus_shards(corpus, samples_per_shard=3)


def _dataset(shard_folders, **kwargs):
    options = {"batch_size": 2, "train": True, "seed": 5, "shuffle_buffer": 4}
    return ShardedVideoDataset(str(shard_folders["train"]), tiny_processor().video_processor, **{**options, **kwargs})


def _indices(items):
    return [item["index"] if isinstance(item, dict) else item for item in items]


# ---- naming shards ----


def test_brace_patterns_folders_and_globs_name_the_shards_in_order(shard_folders):
    folder = shard_folders["train"]
    everything = expand_shards(str(folder))
    assert [Path(path).name for path in everything] == [f"{index:05d}.tar" for index in range(6)]
    assert expand_shards(f"{folder}/{{00001..00003}}.tar") == everything[1:4]
    assert expand_shards([f"{folder}/0000[45].tar", f"{folder}/00000.tar"]) == everything[4:] + everything[:1]


def test_missing_shards_and_urls_are_errors_naming_them(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"No shard file at .*00002.tar"):
        expand_shards(f"{tmp_path}/{{00001..00002}}.tar")
    with pytest.raises(ValueError, match="Shards are local files"):
        expand_shards("https://example.com/shards/00000.tar")


# ---- the epoch plan ----


@pytest.mark.parametrize("counts", [[5, 3, 7, 1, 6], [4] * 6, [20]])
def test_training_parts_are_disjoint_equal_and_whole_batches(counts):
    slots, batch = 4, 2
    parts = [
        plan_slot(counts, epoch=3, seed=1, num_slots=slots, slot=slot, train=True, batch_size=batch, shuffle_buffer=3)
        for slot in range(slots)
    ]
    read = np.concatenate([part.reading_order for part in parts])
    assert len(set(read.tolist())) == len(read) == slots * (sum(counts) // slots // batch * batch)
    assert {len(part.reading_order) for part in parts} == {len(read) // slots}
    for part in parts:
        assert sorted(part.output_order.tolist()) == list(range(len(part.reading_order)))


def test_evaluation_parts_read_every_sample_once_padded_to_one_length():
    counts = [5, 3, 2]
    parts = [
        plan_slot(counts, epoch=0, seed=0, num_slots=4, slot=slot, train=False, batch_size=3, shuffle_buffer=0)
        for slot in range(4)
    ]
    assert np.concatenate([part.reading_order for part in parts]).tolist() == list(range(10))
    assert [len(part.reading_order) + part.padding for part in parts] == [3, 3, 3, 3]


def test_the_shard_order_and_the_buffer_change_with_the_epoch():
    counts = [4] * 8
    first = plan_slot(counts, epoch=0, seed=1, num_slots=1, slot=0, train=True, batch_size=1, shuffle_buffer=5)
    second = plan_slot(counts, epoch=1, seed=1, num_slots=1, slot=0, train=True, batch_size=1, shuffle_buffer=5)
    assert first.reading_order.tolist() != second.reading_order.tolist()
    assert sorted(first.reading_order.tolist()) == sorted(second.reading_order.tolist()) == list(range(32))


def test_the_shuffle_buffer_yields_each_item_once_within_its_buffer_of_the_reading_position():
    order = shuffle_buffer_order(500, 16, np.random.default_rng(0))
    assert sorted(order.tolist()) == list(range(500))
    assert all(position <= produced + 16 for produced, position in enumerate(order.tolist()))
    assert order.tolist() != list(range(500))


# ---- the dataset ----


def test_processes_and_workers_read_disjoint_samples_in_equal_numbers_of_full_batches(shard_folders):
    seen, batches = [], []
    for rank in range(2):
        dataset = _dataset(shard_folders, world_size=2, rank=rank, num_workers=2)
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=2, num_workers=2, collate_fn=VideoDataCollator(tiny_processor())
        )
        rank_batches = list(loader)
        batches.append(len(rank_batches))
        assert len(rank_batches) == len(loader)
        for batch in rank_batches:
            assert batch["pixel_values"].shape[0] == 2
            seen.extend(batch["index"].tolist())
    assert batches[0] == batches[1] == 4  # 16 samples, 4 readers of 4 samples: 2 batches of 2 per worker
    assert len(seen) == len(set(seen)) == 16


def test_items_are_decoded_from_memory_with_captions_and_randomness_from_seed_epoch_and_index(shard_folders, corpus):
    dataset = _dataset(shard_folders)
    items = {item["index"]: item for item in dataset}
    rows = json.loads(corpus.annotation_file("train").read_text())
    assert {index: item["caption"] for index, item in items.items()} == {
        i: row["caption"] for i, row in enumerate(rows)
    }
    again = {item["index"]: item for item in _dataset(shard_folders, world_size=2, rank=1)}  # other reader, same item
    for index, item in again.items():
        assert torch.equal(item["pixel_values"], items[index]["pixel_values"])


def test_a_worker_count_other_than_the_planned_one_is_refused(shard_folders):
    loader = torch.utils.data.DataLoader(_dataset(shard_folders, num_workers=2), batch_size=2, num_workers=0)
    with pytest.raises(RuntimeError, match=r"built for 2 DataLoader worker\(s\) but is read by 0"):
        next(iter(loader))


def test_resuming_passes_over_consumed_batches_unread_and_continues_in_the_same_order(shard_folders, monkeypatch):
    reference = list(_dataset(shard_folders))
    decoded = []
    real_read = clips_module.read_video_frames
    monkeypatch.setattr(clips_module, "read_video_frames", lambda *a, **k: decoded.append(1) or real_read(*a, **k))
    resumed = _dataset(shard_folders)
    resumed.resume_after(5)  # 5 batches of 2 were trained on
    items = list(resumed)
    assert items[:10] == [Placeholder("consumed before the resume")] * 10
    assert len(decoded) == 6
    for expected, item in zip(reference[10:], items[10:], strict=True):
        assert item["index"] == expected["index"] and torch.equal(item["pixel_values"], expected["pixel_values"])


def test_unreadable_samples_are_skipped_naming_shard_and_key(tmp_path, corpus):
    good = (corpus.root / "videos" / "train" / "00000.mp4").read_bytes()
    shard = tmp_path / "bad.tar"
    with tarfile.open(shard, "w") as tar:
        for key, members in (
            ("a", {"mp4": good, "txt": b"a good clip"}),
            ("b", {"mp4": b"not a video", "txt": b"broken"}),
            ("c", {"mp4": good, "json": b'{"other": 1}'}),
            ("d", {"txt": b"no video"}),
        ):
            for field, data in members.items():
                info = tarfile.TarInfo(f"{key}.{field}")
                info.size = len(data)
                tar.addfile(info, __import__("io").BytesIO(data))
    dataset = ShardedVideoDataset(str(shard), tiny_processor().video_processor, batch_size=4)
    items = list(dataset)
    assert items[0]["caption"] == "a good clip"
    assert [type(item) for item in items[1:]] == [SkippedSample] * 3
    assert [item.video for item in items[1:]] == [f"{shard}:{key}" for key in "bcd"]
    assert "no caption" in items[2].reason and "no video member" in items[3].reason
    batch = VideoDataCollator(tiny_processor())(items)
    assert int(batch["num_skipped"]) == 3 and batch["pixel_values"].shape[0] == 1


def test_a_zero_byte_training_shard_is_an_error_naming_the_shard(tmp_path):
    (tmp_path / "empty.tar").write_bytes(b"")
    with pytest.raises(ValueError, match=rf"Shard {tmp_path / 'empty.tar'} is empty \(0 bytes\).*--train_shards"):
        ShardedVideoDataset(str(tmp_path / "empty.tar"), tiny_processor().video_processor, batch_size=4)


# ---- the shard writer ----


@pytest.fixture(scope="module")
def internvid_sources(tmp_path_factory):
    """Two 6 s source videos (10 fps, every frame showing its index) and InternVid rows with windows over them."""
    root = tmp_path_factory.mktemp("sources")
    write_index_video(str(root / "vidA.mp4"), 60, fps=10, height=48, width=64)
    write_index_video(str(root / "vidB.mp4"), 60, fps=10, height=48, width=64)
    (root / "broken.mp4").write_bytes(b"\x00" * 4096)
    header = "YoutubeID,Start_timestamp,End_timestamp,Caption,Aesthetic_Score,UMT_Score\n"
    rows = [
        "vidA,00:00:01.000,00:00:02.000,first window,4.5,0.41",
        "vidB,00:00:02.500,00:00:04.000,second window,5.0,0.42",
        "missing,00:00:01.000,00:00:02.000,no source,4.0,0.40",
        "vidA,00:01:00.000,00:01:05.000,outside the video,4.0,0.40",
        "broken,00:00:00.000,00:00:01.000,undecodable,4.0,0.40",
        "vidB,00:00:00.000,00:00:00.500,third window,3.5,0.43",
    ]
    (root / "internvid.csv").write_text(header + "\n".join(rows) + "\n")
    return root


def test_the_writer_cuts_each_window_with_its_metadata_and_lists_every_failure(internvid_sources, tmp_path):
    out = tmp_path / "shards"
    manifest = write_shards(
        internvid_sources / "internvid.csv", internvid_sources, out, samples_per_shard=4, num_workers=2, progress=False
    )
    assert manifest["num_samples"] == 3 and manifest["num_shards"] == 2
    assert {(failure["row"], failure["error"]) for failure in manifest["failures"]} == {
        (2, "FileNotFoundError"),
        (3, "ValueError"),
        (4, "ValueError"),
    }
    assert "no frame in the window" in next(f for f in manifest["failures"] if f["row"] == 3)["reason"]
    dataset = ShardedVideoDataset(str(out), tiny_processor().video_processor, batch_size=1)
    assert dataset.counts == [2, 1]
    with tarfile.open(out / "00000.tar") as tar:
        names = tar.getnames()
        metadata = json.loads(tar.extractfile("000000001.json").read())
        clip = tar.extractfile("000000001.mp4").read()
    assert names == [
        "000000000.mp4",
        "000000000.txt",
        "000000000.json",
        "000000001.mp4",
        "000000001.txt",
        "000000001.json",
    ]
    assert metadata == {
        "caption": "second window",
        "video": "vidB",
        "start": 2.5,
        "end": 4.0,
        "row": 1,
        "YoutubeID": "vidB",
        "Start_timestamp": "00:00:02.500",
        "End_timestamp": "00:00:04.000",
        "Aesthetic_Score": "5.0",
        "UMT_Score": "0.42",
    }
    from viclip.video_decoding_viclip import load_video

    frames, info = load_video(clip, lambda metadata, **kwargs: np.arange(metadata.total_num_frames))
    assert frame_indices_of(frames) == list(range(25, 40))  # the frames shown at 2.5 <= t < 4.0
    assert frames.shape[1:3] == (48, 64)  # never enlarged


def test_rerunning_the_writer_keeps_finished_shards_and_redoes_the_others(internvid_sources, tmp_path):
    out = tmp_path / "shards"
    arguments = [
        "--annotations",
        str(internvid_sources / "internvid.csv"),
        "--video_root",
        str(internvid_sources),
        "--output_dir",
        str(out),
        "--samples_per_shard",
        "2",
        "--num_workers",
        "1",
        "--short_side",
        "32",
    ]
    shard_writer_main(arguments)
    first = {path.name: path.stat().st_mtime_ns for path in out.glob("*.tar")}
    (out / "00001.tar").unlink()  # as a run killed before renaming it leaves it
    shard_writer_main(arguments)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["shards_kept_from_earlier_runs"] == 2 and manifest["num_samples"] == 3
    assert (out / "00000.tar").stat().st_mtime_ns == first["00000.tar"] and (out / "00001.tar").is_file()
    assert not list(out.glob(".*partial"))


# ---- training from shards ----


def _shard_run(shard_folders, output_dir: Path, **overrides) -> dict:
    model = tiny_config_kwargs()
    config = {
        "train_shards": [str(shard_folders["train"])],
        "validation_shards": [str(shard_folders["val"])],
        "config_name": "viclip-b16",
        "config_overrides": {key: model[key] for key in ("projection_dim", "text_config", "vision_config")},
        "mask_ratio": 0.5,
        "output_dir": str(output_dir),
        "do_train": True,
        "do_eval": False,
        "max_steps": 6,
        "save_steps": 3,
        "per_device_train_batch_size": 2,
        "per_device_eval_batch_size": 4,
        "lr_scheduler_type": "cosine",
        "learning_rate": 1e-3,
        "logging_steps": 1,
        "dataloader_num_workers": 0,
        "report_to": "none",
        "use_cpu": True,
        "seed": 7,
    }
    config.update(overrides)
    return config


def test_a_run_from_shards_killed_mid_epoch_resumes_to_the_weights_of_an_uninterrupted_run(
    shard_folders, tmp_path, monkeypatch
):
    # 16 clips in batches of 2: 8 steps per epoch, checkpoint-3 falls mid-epoch; the evaluation shards hold 6 pairs
    run_in_process(_shard_run(shard_folders, tmp_path / "whole", do_eval=True), tmp_path, monkeypatch)
    assert json.loads((tmp_path / "whole" / "eval_results.json").read_text())["eval_num_pairs"] == 6
    with monkeypatch.context() as patched:
        kill_at_step_begin(patched, 4)
        with pytest.raises(Killed):
            run_in_process(_shard_run(shard_folders, tmp_path / "resumed"), tmp_path, patched)
    run_in_process(_shard_run(shard_folders, tmp_path / "resumed"), tmp_path, monkeypatch)
    assert_same_weights(tmp_path / "whole", tmp_path / "resumed")


def test_the_global_batch_is_logged_and_a_different_one_than_the_recipes_is_explained(tmp_path):
    arguments = TrainingArguments(
        tmp_path, per_device_train_batch_size=512, gradient_accumulation_steps=4, use_cpu=True
    )
    description, warning = describe_global_batch(arguments, 16384)
    assert description.startswith("Global batch: 1 process(es) x 512 clips = 512 clips contrasted per step (2048")
    assert "run 32 processes at --per_device_train_batch_size 512 (e.g. 4 node(s) of 8 GPUs" in warning
    assert "--gradient_accumulation_steps does not make up for it" in warning
    assert describe_global_batch(arguments, 512)[1] is None


@pytest.mark.parametrize("recipe", sorted(path.name for path in (ROOT / "configs").glob("viclip_*.json")))
def test_every_shipped_recipe_states_a_global_batch_of_whole_gpus(recipe):
    config = json.loads((ROOT / "configs" / recipe).read_text())
    assert config["recipe_global_batch_size"] % config["per_device_train_batch_size"] == 0
    assert (config["recipe_global_batch_size"] // config["per_device_train_batch_size"]) % 8 == 0  # whole nodes


def test_the_shard_demo_configuration_parses_and_names_shards(tmp_path, monkeypatch):
    parser = HfArgumentParser((run_pretrain.ModelArguments, run_pretrain.DataArguments, TrainingArguments))
    monkeypatch.chdir(tmp_path)
    _, data_args, _ = parse_arguments_with_json(parser, [str(ROOT / "configs" / "demo_shards.json")])
    assert data_args.synthetic_shards and data_args.synthetic_corpus_dir


def test_shards_replace_the_recipes_annotation_file_of_the_same_split(tmp_path, monkeypatch, shard_folders):
    parser = HfArgumentParser((run_pretrain.ModelArguments, run_pretrain.DataArguments, TrainingArguments))
    monkeypatch.chdir(tmp_path)  # the recipe's annotation file does not exist here: it is not even checked
    (tmp_path / "videos").mkdir()
    recipe = str(ROOT / "configs" / "viclip_b16_stage1.json")
    arguments = [recipe, "--use_cpu", "true", "--train_shards", str(shard_folders["train"])]
    _, data_args, _ = parse_arguments_with_json(parser, arguments)
    assert data_args.train_file is None and data_args.train_shards == [str(shard_folders["train"])]
