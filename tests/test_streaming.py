# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""`datasets` streams as a training and evaluation source: loading with `--streaming`, the video column as `datasets`
gives it (paths, bytes, `datasets.Video()` values, decoder objects) decoded from memory, skipped examples, the split
across processes, per-example randomness, epochs ended together on every process, resuming (exact without a shuffle
buffer; with one, no example twice), and training and evaluating through run_pretrain.py (two processes under
torchrun with an uneven split: tests/test_streaming.py::test_two_processes_*, marked slow)."""

import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import datasets
import pytest
import torch
from transformers import HfArgumentParser, TrainingArguments

import run_pretrain
import viclip_train.data.clips as clips_module
from viclip_train.arguments import parse_arguments_with_json
from viclip_train.data.collator import VideoDataCollator
from viclip_train.data.skipping import SkippedSample
from viclip_train.data.sources import load_splits, load_streaming_split
from viclip_train.data.streaming import StreamingBatches, StreamingVideoDataset
from viclip_train.data.synthetic import make_synthetic_corpus

from .processing_helpers import tiny_processor
from .test_run_pretrain import Killed, assert_same_weights, kill_at_step_begin, run_in_process, tiny_run_config


TESTS_DIR = Path(__file__).parent


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    return make_synthetic_corpus(folder, num_train=8, num_val=4, num_frames=8, frame_size=32)


@pytest.fixture(scope="module")
def annotation_folder(corpus, tmp_path_factory):
    """A folder of JSON Lines files, `train` in two files (two shards) and `validation` in one, videos relative to
    the corpus root."""
    folder = tmp_path_factory.mktemp("annotations")
    rows = {split: _rows(corpus, split) for split in ("train", "val")}
    _write_jsonl(folder / "train-0.jsonl", rows["train"][:4])
    _write_jsonl(folder / "train-1.jsonl", rows["train"][4:])
    _write_jsonl(folder / "validation.jsonl", rows["val"])
    return folder


def _rows(corpus, split):
    rows = json.loads(corpus.annotation_file(split).read_text())
    return [{"video": row["video"], "caption": row["caption"]} for row in rows]


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def _stream(rows, num_shards=1, **features):
    table = datasets.Dataset.from_list(rows)
    for column, feature in features.items():
        table = table.cast_column(column, feature)
    return table.to_iterable_dataset(num_shards=num_shards)


def _dataset(stream, **kwargs):
    return StreamingVideoDataset(stream, tiny_processor().video_processor, **kwargs)


def _keys(items):
    return [item["index"] if isinstance(item, dict) else item.index for item in items]


# ---- loading and the video column ----


def test_a_folder_of_json_lines_streams_its_splits_with_videos_under_video_root(annotation_folder, corpus):
    train = load_streaming_split(str(annotation_folder), None, None, "train", "train_split")
    assert isinstance(train, datasets.IterableDataset) and train.num_shards == 2
    items = list(_dataset(train, video_root=str(corpus.root)))
    assert [item["caption"] for item in items] == [row["caption"] for row in _rows(corpus, "train")]
    assert items[0]["pixel_values"].shape == (4, 3, 32, 32)
    with pytest.raises(ValueError, match=r"has no split 'test'; its splits are \['train', 'validation'\]"):
        load_streaming_split(str(annotation_folder), None, None, "test", "validation_split")


@pytest.mark.parametrize("form", ["relative path", "bytes", "Video(decode=False)", "Video()"])
def test_video_values_as_datasets_gives_them_are_decoded_from_memory_to_the_same_clip(corpus, form, monkeypatch):
    rows = _rows(corpus, "val")[:2]
    reference = list(_dataset(_stream(rows), video_root=str(corpus.root)))
    if form == "bytes":
        rows = [{**row, "video": (corpus.root / row["video"]).read_bytes()} for row in rows]
    elif form.startswith("Video"):
        rows = [{**row, "video": {"bytes": (corpus.root / row["video"]).read_bytes(), "path": row["video"]}}
                for row in rows]  # fmt: skip
    features = {"video": datasets.Video(decode=form == "Video()")} if form.startswith("Video") else {}
    opened = []
    real_read = clips_module.read_video_frames
    monkeypatch.setattr(clips_module, "read_video_frames", lambda v, **k: opened.append(v) or real_read(v, **k))
    items = list(_dataset(_stream(rows, **features), video_root=str(corpus.root)))
    for item, expected in zip(items, reference, strict=True):
        torch.testing.assert_close(item["pixel_values"], expected["pixel_values"], rtol=0, atol=0)
    if form != "relative path":  # no file is written or opened: the decoder gets the bytes
        assert all(isinstance(source if form == "bytes" else source["bytes"], bytes) for source in opened)


def test_a_decoder_object_in_the_video_column_is_read_by_its_own_library(corpus):
    pytest.importorskip("torchcodec")
    rows = [{**row, "video": str(corpus.root / row["video"])} for row in _rows(corpus, "val")[:1]]
    stream = _stream(rows, video=datasets.Video()).map(lambda row: row)  # features unknown: values come decoded
    (item,) = _dataset(stream)
    assert item["pixel_values"].shape == (4, 3, 32, 32)


def test_webdataset_tars_stream_and_unreadable_examples_are_skipped_naming_tar_and_key(corpus, tmp_path):
    good = (corpus.root / _rows(corpus, "val")[0]["video"]).read_bytes()
    shard = tmp_path / "00000.tar"
    with tarfile.open(shard, "w") as tar:
        for key, members in (("a", {"mp4": good, "txt": b"a clip"}), ("b", {"mp4": b"not a video", "txt": b"broken"})):
            for field, data in members.items():
                info = tarfile.TarInfo(f"{key}.{field}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    stream = load_streaming_split(None, None, {"train": [str(shard)]}, "train", "train_split")
    items = list(_dataset(stream, video_column="mp4", caption_column="txt"))
    assert items[0]["caption"] == "a clip"
    assert isinstance(items[1], SkippedSample) and items[1].video == f"{shard}:b"
    batch = VideoDataCollator(tiny_processor())(items)
    assert int(batch["num_skipped"]) == 1 and batch["pixel_values"].shape[0] == 1


def test_the_internvid_layout_is_read_within_each_window(corpus):
    row = _rows(corpus, "val")[0]
    window = {"YoutubeID": row["video"], "Start_timestamp": "00:00:00.000", "End_timestamp": "00:00:00.500"}
    stream = _stream([{**window, "Caption": row["caption"]}])
    (item,) = _dataset(stream, video_root=str(corpus.root))
    assert item["caption"] == row["caption"]
    bad = _stream([{**window, "End_timestamp": "00:00:00.000", "Caption": "x"}])
    (skipped,) = _dataset(bad, video_root=str(corpus.root))
    assert "must come after Start_timestamp" in skipped.reason


def test_missing_columns_name_the_columns_and_the_flags_for_webdataset():
    with pytest.raises(ValueError, match=r"no column 'video'; its columns are \['mp4', 'txt'\].*--video_column mp4"):
        _dataset(_stream([{"mp4": "a.mp4", "txt": "a caption"}]))


def test_a_map_style_dataset_is_refused_with_the_way_to_stream_it():
    with pytest.raises(TypeError, match=r"to_iterable_dataset\(num_shards=...\)"):
        _dataset(datasets.Dataset.from_list([{"video": "a.mp4", "caption": "a"}]))


# ---- processes, randomness ----


@pytest.mark.parametrize("num_shards", [4, 3])
def test_processes_read_disjoint_examples_and_a_shard_count_they_do_not_divide_is_warned(corpus, num_shards, caplog):
    rows = _rows(corpus, "train")
    parts = []
    with caplog.at_level(logging.WARNING):
        for rank in range(2):
            stream = _stream(rows, num_shards=num_shards)
            dataset = _dataset(stream, video_root=str(corpus.root), world_size=2, rank=rank)
            parts.append(set(_keys(dataset)))
    assert not parts[0] & parts[1] and len(parts[0] | parts[1]) == len(rows)
    warned = "every process reads every example and keeps 1 of 2" in caplog.text
    assert warned == (num_shards == 3)


def test_an_examples_randomness_comes_from_seed_epoch_and_its_key_whoever_reads_it(corpus):
    rows = _rows(corpus, "train")
    options = {"video_root": str(corpus.root), "train": True, "shuffle_buffer": 0}
    alone = {item["index"]: item for item in _dataset(_stream(rows, 2), **options)}
    split = _dataset(_stream(rows, 2), **options, world_size=2, rank=1)
    for item in split:
        torch.testing.assert_close(item["pixel_values"], alone[item["index"]]["pixel_values"], rtol=0, atol=0)
    later = _dataset(_stream(rows, 2), **options)
    later.set_epoch(1)
    assert any(not torch.equal(item["pixel_values"], alone[item["index"]]["pixel_values"]) for item in later)


# ---- batches: epochs ended together, evaluation padded ----


class _OtherProcess:
    """Stands in for the other processes of a run: whether they have a batch at each successive call (then yes)."""

    def __init__(self, *others_have):
        self.others_have = list(others_have)

    def __call__(self, value, everyone):
        others_have = self.others_have.pop(0) if self.others_have else True
        return (value and others_have) if everyone else (value or others_have)


def _batches(corpus, agree, *, train=True, batch_size=2, **kwargs):
    dataset = _dataset(_stream(_rows(corpus, "train"), 2), video_root=str(corpus.root), train=train, shuffle_buffer=0)
    collator = VideoDataCollator(tiny_processor())
    return StreamingBatches(dataset, batch_size=batch_size, collate_fn=collator, train=train, agree=agree, **kwargs)


def test_a_training_epoch_ends_on_every_process_when_one_runs_out(corpus):
    batches = _batches(corpus, _OtherProcess(True, True, False))  # 4 batches here; another process has 2
    iterator = iter(batches)
    [next(iterator) for _ in range(3)]
    # the third batch is epoch 1's first: this process's last two of epoch 0 were not trained
    assert (batches.epoch, batches.batches_in_epoch, batches.batches_taken) == (1, 1, 3)


def test_an_epoch_that_gives_a_process_no_batch_is_an_error(corpus):
    with pytest.raises(ValueError, match="gave no batch of 2 to at least one process"):
        next(iter(_batches(corpus, _OtherProcess(False))))


def test_evaluation_pads_a_process_that_finished_first_with_empty_batches(corpus):
    other = _OtherProcess(*[True] * 6, False)  # 4 batches here, 6 on another process
    batches = _batches(corpus, other, train=False)
    sizes = [batch["pixel_values"].shape[0] if "pixel_values" in batch else 0 for batch in batches]
    assert sizes == [2, 2, 2, 2, 0, 0]


# ---- resuming ----


def _save_after(batches, count, folder):
    iterator = iter(batches)
    taken = [next(iterator) for _ in range(count)]
    batches.save(folder, rank=0)
    return taken, iterator


@pytest.mark.parametrize("num_workers", [0, 2])
def test_resuming_continues_each_worker_where_it_stopped_without_decoding_consumed_examples(
    corpus, tmp_path, num_workers, monkeypatch
):
    agree = lambda value, everyone: value  # noqa: E731 (a single process)
    taken, iterator = _save_after(_batches(corpus, agree, num_workers=num_workers), 3, tmp_path)
    expected = [next(iterator)["index"].tolist() for _ in range(3)]  # the end of epoch 0 and the start of epoch 1
    decoded = []
    real_read = clips_module.read_video_frames
    monkeypatch.setattr(clips_module, "read_video_frames", lambda v, **k: decoded.append(v) or real_read(v, **k))
    resumed = _batches(corpus, agree, num_workers=num_workers)
    resumed.resume(tmp_path, rank=0, batches_taken=3)
    iterator = iter(resumed)
    assert [next(iterator) for _ in range(3)] == [None] * 3  # the trainer skips these; nothing is read for them
    assert [next(iterator)["index"].tolist() for _ in range(3)] == expected
    if num_workers == 0:
        assert len(decoded) == 2 * 3  # only the three batches after the position


def test_with_a_shuffle_buffer_a_resume_trains_no_example_twice_in_the_epoch(corpus, tmp_path):
    def batches():
        stream = _stream(_rows(corpus, "train"), 2)
        dataset = _dataset(stream, video_root=str(corpus.root), train=True, shuffle_buffer=4)
        return StreamingBatches(dataset, batch_size=1, collate_fn=VideoDataCollator(tiny_processor()),
                                agree=lambda value, everyone: value)  # fmt: skip

    taken, _ = _save_after(batches(), 3, tmp_path)
    resumed = batches()
    resumed.resume(tmp_path, rank=0, batches_taken=3)
    iterator = iter(resumed)
    [next(iterator) for _ in range(3)]
    rest = []
    while resumed.epoch == 0:
        batch = next(iterator)
        if resumed.epoch == 0:
            rest.extend(batch["index"].tolist())
    seen = [key for batch in taken for key in batch["index"].tolist()]
    assert not set(seen) & set(rest)  # nothing trained twice in the epoch
    assert len(seen) + len(rest) >= 8 - 4  # at most the buffer's content is lost


def test_resuming_with_another_layout_or_without_a_saved_position_is_refused(corpus, tmp_path):
    agree = lambda value, everyone: value  # noqa: E731
    _save_after(_batches(corpus, agree), 1, tmp_path)
    with pytest.raises(ValueError, match=r"'batch_size': 2\}; this run has .*'batch_size': 4\}"):
        _batches(corpus, agree, batch_size=4).resume(tmp_path, rank=0, batches_taken=1)
    with pytest.raises(ValueError, match="holds no streaming position for process 1"):
        _batches(corpus, agree).resume(tmp_path, rank=1, batches_taken=1)


# ---- run_pretrain.py ----


def _streaming_run(annotation_folder, corpus, output_dir, **overrides):
    config = tiny_run_config(corpus, output_dir, **overrides)
    del config["train_file"], config["validation_file"]
    config.update(dataset_name=str(annotation_folder), streaming=True, shuffle_buffer=0)
    return config


# 8 examples in batches of 2 make 4 steps an epoch and the run crosses into epoch 1; a checkpoint every step
STREAMING_RESUME_RUN = {
    "max_steps": 6,
    "save_steps": 1,
    "per_device_train_batch_size": 2,
    "lr_scheduler_type": "cosine",
    "warmup_steps": 1,
}


@pytest.fixture(scope="module")
def uninterrupted_streaming_run(annotation_folder, corpus, tmp_path_factory):
    folder = tmp_path_factory.mktemp("uninterrupted_streaming")
    with pytest.MonkeyPatch.context() as monkeypatch:
        config = _streaming_run(annotation_folder, corpus, folder / "out", **STREAMING_RESUME_RUN)
        run_in_process(config, folder, monkeypatch)
    return folder / "out"


# killed before step 4: resumed from checkpoint-3, mid-epoch; before step 5: from checkpoint-4, whose next batch is
# the first of epoch 1 (a new epoch starts inside the resumed run's first step)
@pytest.mark.parametrize("kill_before_step", [4, 5])
def test_a_streaming_run_killed_mid_epoch_resumes_to_the_weights_of_an_uninterrupted_run(
    annotation_folder, corpus, uninterrupted_streaming_run, tmp_path, monkeypatch, kill_before_step
):
    results = json.loads((uninterrupted_streaming_run / "eval_results.json").read_text())
    assert results["eval_num_pairs"] == 4  # the validation split, streamed too
    resumed = _streaming_run(annotation_folder, corpus, tmp_path / "resumed", **STREAMING_RESUME_RUN, do_eval=False)
    with monkeypatch.context() as patched:
        kill_at_step_begin(patched, kill_before_step - 1)
        with pytest.raises(Killed):
            run_in_process(resumed, tmp_path, patched)
    assert (tmp_path / "resumed" / f"checkpoint-{kill_before_step - 1}" / "streaming_state_0.pt").is_file()
    run_in_process(resumed, tmp_path, monkeypatch)
    assert_same_weights(uninterrupted_streaming_run, tmp_path / "resumed")
    assert json.loads((tmp_path / "resumed" / "trainer_state.json").read_text())["global_step"] == 6


def test_streaming_training_without_max_steps_is_an_error_naming_the_flag(annotation_folder, corpus, tmp_path):
    parser = HfArgumentParser((run_pretrain.ModelArguments, run_pretrain.DataArguments, TrainingArguments))
    config = _streaming_run(annotation_folder, corpus, tmp_path / "out", max_steps=-1, num_train_epochs=2)
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="--streaming reads a dataset of unknown length, so training needs --max_"):
        parse_arguments_with_json(parser, [str(tmp_path / "config.json")])


def test_max_samples_cut_the_streams_to_their_first_examples(annotation_folder):
    data_args = run_pretrain.DataArguments(
        dataset_name=str(annotation_folder), streaming=True, max_train_samples=3, max_eval_samples=1
    )
    training_args = TrainingArguments(output_dir="unused", use_cpu=True, report_to="none")
    train, validation = load_splits(
        data_args, training_args, caption_column="caption", label_column=None, need_train=True, need_eval=True
    )
    assert (len(list(train.stream)), len(list(validation.stream))) == (3, 1)


def test_streaming_replaces_a_recipes_annotation_files_and_needs_a_dataset(annotation_folder, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the recipe's annotation file does not exist here: it is not even checked
    (tmp_path / "videos").mkdir()
    data_args = run_pretrain.DataArguments(
        train_file="missing.jsonl", streaming=True, dataset_name=str(annotation_folder), video_root="videos"
    )
    assert data_args.train_file is None
    with pytest.raises(ValueError, match="--streaming reads --dataset_name"):
        run_pretrain.DataArguments(streaming=True)


@pytest.mark.slow  # four interpreters start torch on 2 cores, three launches: about 2 minutes
def test_two_processes_with_an_uneven_split_end_their_epochs_together_and_resume_exactly(corpus, tmp_path):
    # rank 0 reads one file of 6 examples (3 batches), rank 1 one of 2 (1 batch): every epoch is one step long; the
    # evaluation files hold 3 and 1 pairs, evaluated in batches of 1
    folder = tmp_path / "uneven"
    folder.mkdir()
    rows, validation = _rows(corpus, "train"), _rows(corpus, "val")
    _write_jsonl(folder / "train-0.jsonl", rows[:6])
    _write_jsonl(folder / "train-1.jsonl", rows[6:])
    _write_jsonl(folder / "validation-0.jsonl", validation[:3])
    _write_jsonl(folder / "validation-1.jsonl", validation[3:])
    config = _streaming_run(folder, corpus, tmp_path / "whole", **STREAMING_RESUME_RUN, per_device_eval_batch_size=1)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(TESTS_DIR.parent)}

    def launch(run_config, name, kill_at_step=None):
        (tmp_path / f"{name}.json").write_text(json.dumps(run_config))
        worker = str(TESTS_DIR / "streaming_worker.py")
        command = [*torchrun, worker, str(tmp_path / name), str(tmp_path / f"{name}.json")]
        if kill_at_step is not None:
            command.append(str(kill_at_step))
        return subprocess.run(command, env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=300)

    result = launch(config, "whole")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert json.loads((tmp_path / "whole" / "eval_results.json").read_text())["eval_num_pairs"] == 4
    records = [torch.load(tmp_path / "whole" / f"rank{rank}.pt") for rank in range(2)]
    assert [epoch for epoch, _ in records[0]] == [epoch for epoch, _ in records[1]] == [0, 1, 2, 3, 4, 5]
    for (_, keys0), (_, keys1) in zip(*records, strict=True):
        assert len(keys0) == len(keys1) == 2 and not set(keys0) & set(keys1)

    resumed = {**config, "output_dir": str(tmp_path / "resumed"), "do_eval": False}
    killed = launch(resumed, "resumed", kill_at_step=4)
    assert killed.returncode != 0 and (tmp_path / "resumed" / "checkpoint-3" / "streaming_state_1.pt").is_file()
    result = launch(resumed, "resumed")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert_same_weights(tmp_path / "whole", tmp_path / "resumed")
    shutil.rmtree(tmp_path / "whole")
