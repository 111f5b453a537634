# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""`--dataset_name` with a `datasets.Video()` column, as Hub video datasets have: both training scripts read its clips
(decoded by `datasets` to torchcodec decoders, or `Video(decode=False)` values `{"bytes", "path"}`) from the dataset
itself, saved with `save_to_disk` or streamed, without a `--video_root`."""

import json
import sys
from pathlib import Path

import datasets
import pytest

import run_classification
from tests.processing_helpers import tiny_processor
from tests.test_run_pretrain import run_in_process, tiny_run_config
from viclip import video_decoding_viclip
from viclip_train.data.annotation_dataset import VideoDataset
from viclip_train.data.annotations import load_annotations, video_values_of
from viclip_train.data.synthetic import make_synthetic_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Tiny videos written with PyAV, with captions and direction labels."""
    return make_synthetic_corpus(
        tmp_path_factory.mktemp("corpus"), num_train=8, num_val=4, num_frames=8, frame_size=32, seed=0
    )


def _video_split(corpus, split: str, decode: bool) -> datasets.Dataset:
    """A split whose `video` column is a `datasets.Video()` column (the files' bytes are embedded on saving)."""
    rows = json.loads(corpus.annotation_file(split).read_text())
    table = {
        "video": [str(corpus.root / row["video"]) for row in rows],
        "caption": [row["caption"] for row in rows],
        "label": [row["label"] for row in rows],
    }
    return datasets.Dataset.from_dict(table).cast_column("video", datasets.Video(decode=decode))


@pytest.fixture(scope="module", params=[True, False], ids=["Video()", "Video(decode=False)"])
def saved_video_dataset(corpus, tmp_path_factory, request) -> Path:
    """A `DatasetDict` (train, validation) saved with `save_to_disk`; the videos live in the dataset only."""
    folder = tmp_path_factory.mktemp("saved") / "videos"
    splits = {"train": _video_split(corpus, "train", request.param), "validation": _video_split(corpus, "val", False)}
    datasets.DatasetDict(splits).save_to_disk(folder)
    return folder


def test_a_saved_video_column_holds_the_videos_and_no_paths_on_disk(saved_video_dataset):
    train = datasets.load_from_disk(saved_video_dataset)["train"]
    value = train.cast_column("video", datasets.Video(decode=False))[0]["video"]
    assert value["bytes"] and not Path(value["path"]).exists()  # nothing to find under a --video_root


def test_load_annotations_names_video_values_by_path_without_decoding_them(saved_video_dataset):
    train = datasets.load_from_disk(saved_video_dataset)["train"]
    table = load_annotations(train, label_column="label")
    assert table["video"][:2] == ["00000.mp4", "00001.mp4"] and table["label"][0] in {"up", "down", "left", "right"}


def _pretrain_run(corpus, output_dir: Path, **data) -> dict:
    config = tiny_run_config(corpus, output_dir, **data)
    del config["train_file"], config["validation_file"], config["video_root"]
    return config


def _results(output_dir: Path) -> tuple[dict, dict]:
    return (json.loads((output_dir / name).read_text()) for name in ("train_results.json", "eval_results.json"))


def test_run_pretrain_trains_and_evaluates_on_a_saved_video_column(corpus, saved_video_dataset, tmp_path, monkeypatch):
    config = _pretrain_run(corpus, tmp_path / "out", dataset_name=str(saved_video_dataset))
    run_in_process(config, tmp_path, monkeypatch)
    _, evaluation = _results(tmp_path / "out")
    assert evaluation["eval_num_pairs"] == 4 and evaluation["eval_skipped_videos"] == 0
    assert not list((tmp_path / "out").glob("skipped_samples*"))  # every training clip was read


def test_run_pretrain_streams_a_video_column_of_parquet_files(corpus, tmp_path, monkeypatch):
    files = {}
    for split, source in (("train", "train"), ("validation", "val")):
        _video_split(corpus, source, True).to_parquet(tmp_path / f"{split}.parquet")
        files[split] = [str(tmp_path / f"{split}.parquet")]
    config = _pretrain_run(corpus, tmp_path / "out", dataset_name="parquet", data_files=files, streaming=True)
    config.update(shuffle_buffer=0)
    run_in_process(config, tmp_path, monkeypatch)
    _, evaluation = _results(tmp_path / "out")
    assert evaluation["eval_num_pairs"] == 4 and evaluation["eval_skipped_videos"] == 0
    assert not list((tmp_path / "out").glob("skipped_samples*"))


def test_run_classification_fine_tunes_and_evaluates_on_a_saved_video_column(
    saved_video_dataset, tiny_viclip_folder, tmp_path, monkeypatch
):
    arguments = [
        "--model_name_or_path", str(tiny_viclip_folder), "--dataset_name", str(saved_video_dataset),
        "--label_column", "label", "--output_dir", str(tmp_path / "out"), "--do_train", "--do_eval",
        "--max_steps", "1", "--report_to", "none", "--use_cpu", "true", "--save_strategy", "no",
        "--dataloader_num_workers", "0", "--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "2",
    ]  # fmt: skip
    monkeypatch.setattr(sys, "argv", ["run_classification.py", *arguments])
    run_classification.main()
    evaluation = json.loads((tmp_path / "out" / "eval_results.json").read_text())
    assert evaluation["eval_samples"] == 4 and evaluation.get("eval_skipped_videos", 0) == 0
    assert not list((tmp_path / "out").glob("skipped_samples*"))


def test_a_video_column_is_read_without_torchcodec(saved_video_dataset, monkeypatch):
    # as where torchcodec is not installed: `import torchcodec` fails and neither datasets nor transformers finds it
    monkeypatch.setitem(sys.modules, "torchcodec", None)
    monkeypatch.setattr(datasets.config, "TORCHCODEC_AVAILABLE", False)
    monkeypatch.setitem(video_decoding_viclip.BACKEND_PACKAGES, "torchcodec", ("torchcodec", lambda: False))
    train = datasets.load_from_disk(saved_video_dataset)["train"]
    table = load_annotations(train, label_column="label")
    dataset = VideoDataset(table, tiny_processor().video_processor, videos=video_values_of(train, "video"))
    assert dataset[0]["pixel_values"].shape == (4, 3, 32, 32) and dataset[0]["caption"] == table[0]["caption"]
