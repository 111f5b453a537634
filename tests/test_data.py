# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""Annotation formats and their errors, the robust video dataset (training randomness keyed by seed, epoch and row;
refills), the collator that drops and counts unreadable videos, and the windowed skip policy."""

import json
import logging

import datasets
import numpy as np
import pytest
import torch

from viclip.video_decoding_viclip import available_video_backends
from viclip_train.data.annotation_dataset import EpochSampler, SampleKey, VideoDataset
from viclip_train.data.annotations import load_annotations, parse_timestamp
from viclip_train.data.collator import SKIPPED_KEY, SKIPPED_SAMPLES_KEY, VideoDataCollator
from viclip_train.data.skipping import SkippedSample, SkippedSampleLog, TooManySkippedVideosError
from viclip_train.data.synthetic import make_synthetic_corpus, write_video


IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406])
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225])
SOLID_COLORS = {
    "red": (230, 20, 20),
    "green": (20, 210, 20),
    "blue": (20, 20, 230),
    "white": (240, 240, 240),
    "yellow": (235, 225, 20),
    "black": (10, 10, 10),
}


@pytest.fixture(scope="module")
def video_processor():
    from viclip.video_processing_viclip import ViCLIPVideoProcessor

    return ViCLIPVideoProcessor(size={"height": 32, "width": 32})


@pytest.fixture(scope="module")
def processor(video_processor):
    from viclip.processing_viclip import ViCLIPProcessor
    from viclip.tokenization_viclip import build_viclip_tokenizer

    return ViCLIPProcessor(video_processor=video_processor, tokenizer=build_viclip_tokenizer())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_synthetic_corpus(
        tmp_path_factory.mktemp("corpus"), num_train=6, num_val=2, num_frames=8, frame_size=32, seed=1
    )


@pytest.fixture(scope="module")
def colour_videos(tmp_path_factory):
    """One solid-colour 16-frame video per colour, captioned with its colour name."""
    root = tmp_path_factory.mktemp("colours")
    rows = []
    for name, rgb in SOLID_COLORS.items():
        frames = np.empty((16, 32, 32, 3), dtype=np.uint8)
        frames[:] = rgb
        write_video(root / f"{name}.mp4", frames)
        rows.append({"video": f"{name}.mp4", "caption": f"a {name} screen", "label": name})
    return root, rows


def _colour_of(pixel_values: torch.Tensor) -> str:
    """Nearest solid colour of a `[T, 3, H, W]` normalised clip."""
    rgb = (pixel_values.mean(dim=(0, 2, 3)) * IMAGENET_STD + IMAGENET_MEAN) * 255
    return min(SOLID_COLORS, key=lambda name: float(((rgb - torch.tensor(SOLID_COLORS[name])) ** 2).sum()))


def _write_json(path, rows):
    path.write_text(json.dumps(rows))
    return path


# ----- annotation formats -----


def test_json_jsonl_and_csv_annotations_load_identically(corpus):
    tables = [
        load_annotations(corpus.annotation_file("train", fmt), label_column="label")
        for fmt in ("json", "jsonl", "csv")
    ]
    assert tables[0].to_list() == tables[1].to_list() == tables[2].to_list()
    first = tables[0][0]
    assert set(first) == {"video", "caption", "label", "start", "end"}
    assert first["video"].startswith("videos/train/") and first["start"] is None and first["end"] is None


def test_column_names_are_configurable(tmp_path):
    path = _write_json(tmp_path / "a.json", [{"path": "x.mp4", "text": "a cat", "class": 3}])
    table = load_annotations(path, video_column="path", caption_column="text", label_column="class")
    assert table[0] == {"video": "x.mp4", "caption": "a cat", "label": 3, "start": None, "end": None}


def test_labels_only_annotations_need_no_caption(tmp_path):
    path = _write_json(tmp_path / "a.json", [{"video": "x.mp4", "label": "up"}])
    assert load_annotations(path, caption_column=None, label_column="label")[0]["caption"] is None


def test_missing_column_error_names_the_file_and_the_columns_found(tmp_path):
    path = _write_json(tmp_path / "bad.json", [{"video": "x.mp4", "text": "a cat"}])
    with pytest.raises(ValueError, match=r"bad\.json has no column 'caption'.*'text'.*caption_column"):
        load_annotations(path)


def test_row_missing_a_field_is_reported_with_its_index(tmp_path):
    path = _write_json(tmp_path / "bad.json", [{"video": "x.mp4", "caption": "a"}, {"video": "y.mp4"}])
    with pytest.raises(ValueError, match=r"bad\.json, entry 1: missing field"):
        load_annotations(path)


def test_csv_integer_labels_are_class_ids_like_json(tmp_path):
    (tmp_path / "a.csv").write_text("video,label\nx.mp4,2\ny.mp4,10\n")
    table = load_annotations(tmp_path / "a.csv", caption_column=None, label_column="label")
    assert table["label"][:] == [2, 10]


def test_an_empty_label_cell_in_a_csv_file_is_an_error_naming_the_file_and_line(tmp_path):
    (tmp_path / "a.csv").write_text("video,label\nx.mp4,cat\ny.mp4,\n")
    with pytest.raises(ValueError, match=r"a\.csv, entry 1 \(line 3\): 'label' is empty; every row needs a class"):
        load_annotations(tmp_path / "a.csv", caption_column=None, label_column="label")


def test_labels_mixing_ids_and_names_are_an_error_naming_the_file_and_one_of_each(tmp_path):
    path = _write_json(tmp_path / "mixed.json", [{"video": "x.mp4", "label": "cat"}, {"video": "y.mp4", "label": 3}])
    with pytest.raises(
        ValueError, match=r"mixed\.json: 'label' mixes class names \(entry 0: 'cat'\) and class ids \(entry 1: 3\)"
    ):
        load_annotations(path, caption_column=None, label_column="label")


def test_a_datasets_dataset_loads_with_configurable_columns():
    source = datasets.Dataset.from_dict({"clip": ["a.mp4", "b.mp4"], "sentence": ["one", "two"], "other": [1, 2]})
    table = load_annotations(source, video_column="clip", caption_column="sentence")
    assert table.to_list() == [
        {"video": "a.mp4", "caption": "one", "label": None, "start": None, "end": None},
        {"video": "b.mp4", "caption": "two", "label": None, "start": None, "end": None},
    ]


def test_internvid_layout_gives_youtube_id_and_clip_window(tmp_path):
    rows = [{"YoutubeID": "abc_DEF-123", "Start_timestamp": "00:01:02.500", "End_timestamp": "00:01:05.250",
             "Caption": "a dog runs", "Aesthetic_Score": 4.2, "UMT_Score": 0.4}]  # fmt: skip
    for table in (
        load_annotations(_write_json(tmp_path / "internvid.json", rows)),
        load_annotations(datasets.Dataset.from_list(rows)),
    ):
        assert table[0] == {
            "video": "abc_DEF-123",
            "caption": "a dog runs",
            "label": None,
            "start": 62.5,
            "end": 65.25,
        }


def test_internvid_window_must_end_after_it_starts(tmp_path):
    rows = [{"YoutubeID": "a", "Start_timestamp": "00:00:05.000", "End_timestamp": "00:00:04.000", "Caption": "x"}]
    with pytest.raises(ValueError, match="entry 0: End_timestamp"):
        load_annotations(_write_json(tmp_path / "internvid.json", rows))


def test_parse_timestamp_reads_internvid_times_and_seconds():
    assert parse_timestamp("01:02:03.250") == 3723.25
    assert parse_timestamp("02:03") == 123.0
    assert parse_timestamp(4.5) == 4.5
    with pytest.raises(ValueError, match="HH:MM:SS.mmm"):
        parse_timestamp("1:xx:00")


def test_negative_timestamps_are_refused_not_read_as_positive():
    for value in ("-00:00:01", "-5", "00:-1:00", -1.0):
        with pytest.raises(ValueError, match="HH:MM:SS.mmm|non-negative"):
            parse_timestamp(value)
    with pytest.raises(ValueError, match="under 60"):
        parse_timestamp("00:75:00")


def test_csv_with_an_unterminated_quote_is_an_error_naming_file_and_line(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text('video,caption\na.mp4,"a dog runs\nb.mp4,a cat\nc.mp4,a bird\n')
    with pytest.raises(ValueError, match=r"a\.csv, line 2: .*unterminated quote"):
        load_annotations(path)


def test_csv_caption_with_a_quoted_line_break_loads_as_rfc_4180_defines_with_a_warning(tmp_path, caplog):
    path = tmp_path / "a.csv"
    path.write_text('video,caption\na.mp4,"a dog runs\nthen sits"\nb.mp4,a cat\nc.mp4,"a bird\nflies\naway"\n')
    with caplog.at_level(logging.WARNING):
        table = load_annotations(path)
    assert table["caption"][:] == ["a dog runs\nthen sits", "a cat", "a bird\nflies\naway"]
    assert table["video"][:] == ["a.mp4", "b.mp4", "c.mp4"]
    assert f"{path}, lines 2-3: a quoted cell spans 2 lines; it is read as one cell" in caplog.text
    assert caplog.text.count("spans") == 1  # the first such row only


def test_csv_row_with_too_many_or_too_few_cells_is_an_error_naming_its_line(tmp_path):
    for rows in ("a.mp4,a dog,extra\n", "a.mp4\n"):
        path = tmp_path / "ragged.csv"
        path.write_text("video,caption\nz.mp4,fine\n" + rows)
        with pytest.raises(ValueError, match=r"ragged\.csv, line 3: \d cells for the 2 columns"):
            load_annotations(path)


def test_csv_header_naming_a_column_twice_is_an_error(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("video,caption,caption\na.mp4,one,two\n")
    with pytest.raises(ValueError, match=r"twice\.csv, line 1: .*\['caption'\] more than once"):
        load_annotations(path)


def test_json_object_naming_a_key_twice_is_an_error(tmp_path):
    path = tmp_path / "twice.jsonl"
    path.write_text('{"video": "a.mp4", "caption": "x"}\n{"video": "b.mp4", "video": "c.mp4", "caption": "y"}\n')
    with pytest.raises(ValueError, match=r"twice\.jsonl, line 2: .*\['video'\]"):
        load_annotations(path)


@pytest.mark.parametrize("suffix", [".csv", ".json", ".jsonl"])
def test_text_that_is_not_utf8_is_an_error_naming_the_file_and_line(tmp_path, suffix):
    text = {
        ".csv": "video,caption\na.mp4,caf\xe9\n",
        ".json": '[{"video": "a.mp4",\n "caption": "caf\xe9"}]',
        ".jsonl": '{"video": "a.mp4", "caption": "caf\xe9"}\n',
    }[suffix]
    path = tmp_path / f"latin1{suffix}"
    path.write_bytes(text.encode("latin-1"))
    line = 2 if suffix != ".jsonl" else 1
    with pytest.raises(ValueError, match=rf"latin1\{suffix}, line {line}: not UTF-8"):
        load_annotations(path)


def test_negative_class_id_is_an_error_naming_its_entry(tmp_path):
    (tmp_path / "a.csv").write_text("video,label\nx.mp4,2\ny.mp4,-1\n")
    with pytest.raises(ValueError, match=r"entry 1 \(line 3\): 'label' is the class id -1"):
        load_annotations(tmp_path / "a.csv", caption_column=None, label_column="label")


def test_a_large_broken_csv_fails_fast_at_its_first_bad_row(tmp_path):
    path = tmp_path / "big.csv"
    rows = "".join(f"v{i}.mp4,caption {i}\n" for i in range(200_000))
    path.write_text('video,caption\nbad.mp4,"never closed\n' + rows)
    with pytest.raises(ValueError, match=r"big\.csv, line 2"):  # the cell limit stops it, not the end of the file
        load_annotations(path)


# ----- dataset and collator -----


def _colour_dataset(colour_videos, processor_or_vp, tmp_path, broken=(), missing=(), **kwargs):
    root, rows = colour_videos
    rows = [dict(row) for row in rows]
    for name in broken:
        (tmp_path / f"broken_{name}.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video" * 10)
    for row in rows:
        name = row["label"]
        if name in broken:
            row["video"] = str(tmp_path / f"broken_{name}.mp4")
        elif name in missing:
            row["video"] = f"no_such_{name}.mp4"
    table = load_annotations(_write_json(tmp_path / "colours.json", rows), label_column="label")
    return VideoDataset(table, processor_or_vp, video_root=root, num_frames=4, **kwargs)


def test_items_hold_the_clip_of_their_own_caption(colour_videos, video_processor, tmp_path):
    dataset = _colour_dataset(colour_videos, video_processor, tmp_path)
    for item in dataset:
        assert item["pixel_values"].shape == (4, 3, 32, 32)
        assert item["caption"] == f"a {_colour_of(item['pixel_values'])} screen"


def test_missing_video_is_skipped_and_logged_with_its_path(colour_videos, video_processor, tmp_path, caplog):
    dataset = _colour_dataset(colour_videos, video_processor, tmp_path, missing=("green",))
    with caplog.at_level(logging.DEBUG):  # one line per sample at debug level; warnings are periodic summaries
        item = dataset[1]
    assert isinstance(item, SkippedSample) and item.index == 1
    assert "no_such_green.mp4" in item.video
    assert "no_such_green.mp4" in caplog.text


@pytest.mark.parametrize("video_backend", ["decord", "pyav"])
def test_corrupt_video_is_skipped_and_logged_with_its_path(
    colour_videos, video_processor, tmp_path, caplog, video_backend
):
    dataset = _colour_dataset(colour_videos, video_processor, tmp_path, broken=("blue",), video_backend=video_backend)
    with caplog.at_level(logging.DEBUG):
        item = dataset[2]
    assert isinstance(item, SkippedSample) and item.video.endswith("broken_blue.mp4")
    assert "broken_blue.mp4" in caplog.text


def test_window_past_the_end_of_the_video_is_skipped(tmp_path, video_processor):
    frames = np.zeros((8, 32, 32, 3), dtype=np.uint8)
    write_video(tmp_path / "short.mp4", frames, fps=8)  # one second long
    rows = [{"YoutubeID": "short", "Start_timestamp": "00:00:05.000", "End_timestamp": "00:00:06.000", "Caption": "x"}]
    dataset = VideoDataset(
        load_annotations(_write_json(tmp_path / "a.json", rows)), video_processor, video_root=tmp_path
    )
    assert isinstance(dataset[0], SkippedSample)


def test_internvid_window_is_read_from_the_full_video(tmp_path, video_processor):
    # 3 s at 8 fps: red, then green, then blue, one second each; the clip is the green second.
    frames = np.concatenate(
        [np.full((8, 32, 32, 3), SOLID_COLORS[name], np.uint8) for name in ("red", "green", "blue")]
    )
    write_video(tmp_path / "yt_id_0001.mp4", frames, fps=8)
    rows = [{"YoutubeID": "yt_id_0001", "Start_timestamp": "00:00:01.000", "End_timestamp": "00:00:02.000",
             "Caption": "a green screen"}]  # fmt: skip
    table = load_annotations(_write_json(tmp_path / "internvid.json", rows))
    for train in (False, True):
        item = VideoDataset(table, video_processor, video_root=tmp_path, num_frames=4, train=train)[0]
        assert [_colour_of(frame[None]) for frame in item["pixel_values"]] == ["green"] * 4


def test_collator_drops_skipped_items_counts_them_and_keeps_pairs(colour_videos, processor, tmp_path):
    dataset = _colour_dataset(colour_videos, processor.video_processor, tmp_path, broken=("red",), missing=("white",))
    batch = VideoDataCollator(processor)([dataset[i] for i in range(len(dataset))])
    assert int(batch[SKIPPED_KEY]) == 2
    assert batch["pixel_values"].shape == (4, 4, 3, 32, 32)
    assert batch["input_ids"].shape == batch["attention_mask"].shape == (4, 32)
    for pixel_values, input_ids in zip(batch["pixel_values"], batch["input_ids"], strict=True):
        expected = processor(text=[f"a {_colour_of(pixel_values)} screen"], padding="max_length", return_tensors="pt")
        assert torch.equal(input_ids, expected["input_ids"][0])


def test_caption_is_never_paired_with_another_clip_through_workers(colour_videos, processor, tmp_path):
    dataset = _colour_dataset(
        colour_videos,
        processor.video_processor,
        tmp_path,
        broken=("green",),
        missing=("yellow",),
        train=True,
        max_refill_attempts=0,  # the refills are tested below
    )
    token_ids = processor(
        text=[f"a {name} screen" for name in SOLID_COLORS], padding="max_length", return_tensors="pt"
    )
    captions_by_ids = {
        tuple(ids.tolist()): name for ids, name in zip(token_ids["input_ids"], SOLID_COLORS, strict=True)
    }
    loader = torch.utils.data.DataLoader(dataset, batch_size=3, num_workers=2, collate_fn=VideoDataCollator(processor))
    seen, skipped = [], 0
    for batch in loader:
        skipped += int(batch[SKIPPED_KEY])
        for pixel_values, input_ids in zip(batch["pixel_values"], batch["input_ids"], strict=True):
            assert captions_by_ids[tuple(input_ids.tolist())] == _colour_of(pixel_values)
            seen.append(_colour_of(pixel_values))
    assert skipped == 2
    assert sorted(seen) == sorted(set(SOLID_COLORS) - {"green", "yellow"})


def _skipped(count: int, error: str = "FileNotFoundError") -> list[SkippedSample]:
    return [
        SkippedSample(index=i, video=f"videos/missing_{i}.mp4", reason="no such file", error=error)
        for i in range(count)
    ]


def test_too_many_failures_over_the_window_stop_with_a_video_root_hint(tmp_path):
    log = SkippedSampleLog(tmp_path, max_failed_fraction=0.5, window=8)
    log.add(_skipped(2), read=4, failed=2)  # 4 samples read: too few to judge
    log.add(_skipped(1, "ValueError"), read=4, failed=1)  # 3 of 8: fine
    expected = r"(?s)5 of the last 8 .*FileNotFoundError .*missing_0\.mp4.*check --video_root"
    with pytest.raises(TooManySkippedVideosError, match=expected):
        log.add(_skipped(4), read=4, failed=4)  # the window drops the oldest batch: 5 of the last 8 failed


def test_one_unreadable_video_in_batches_of_one_never_stops_the_run():
    log = SkippedSampleLog(max_failed_fraction=0.5, window=1000)
    log.add(_skipped(1), read=1, failed=1)  # the very first sample fails: 100 % of one sample, not judged yet
    for _ in range(200):
        log.add([], read=1, failed=0)
    log.finish()
    assert log.total_failed == 1 and log.failed_fraction < 0.01


def test_old_failures_leave_the_window():
    log = SkippedSampleLog(max_failed_fraction=0.5, window=10)
    log.add(_skipped(4), read=8, failed=4)
    for _ in range(10):
        log.add([], read=1, failed=0)
    assert log.failed_fraction == 0.0 and log.total_failed == 4


def test_a_run_shorter_than_the_judging_minimum_is_judged_at_its_end():
    log = SkippedSampleLog(max_failed_fraction=0.5)
    log.add(_skipped(3), read=4, failed=3)
    with pytest.raises(TooManySkippedVideosError, match="3 of the last 4"):
        log.finish()


def test_every_skipped_sample_is_recorded_in_a_per_rank_file_and_summarised(tmp_path):
    log = SkippedSampleLog(tmp_path, process_index=3, max_failed_fraction=1.0)
    log.add(_skipped(2), read=4, failed=2, split="train", epoch=0, step=5)
    records = [json.loads(line) for line in (tmp_path / "skipped_samples.rank3.jsonl").read_text().splitlines()]
    assert records[1] == {
        "split": "train", "epoch": 0, "step": 5, "row": 1, "video": "videos/missing_1.mp4",
        "error": "FileNotFoundError", "reason": "no such file",
    }  # fmt: skip
    summary = log.summary()
    assert "Skipped 2" in summary and "FileNotFoundError" in summary and "skipped_samples.rank3.jsonl" in summary
    assert log.summary() is None  # nothing new since


def test_a_batch_with_every_video_missing_is_an_empty_batch_that_reports_its_skips(colour_videos, processor, tmp_path):
    dataset = _colour_dataset(colour_videos, processor.video_processor, tmp_path, missing=("red",))
    batch = VideoDataCollator(processor)([dataset[0]])
    assert "pixel_values" not in batch and int(batch[SKIPPED_KEY]) == 1
    assert [sample.index for sample in batch[SKIPPED_SAMPLES_KEY]] == [0]


def test_an_empty_list_of_items_is_refused_not_collated_to_an_empty_batch():
    with pytest.raises(ValueError, match="VideoDataCollator was given no items"):
        VideoDataCollator()([])


@pytest.mark.parametrize("field", ["caption", "labels"])
def test_items_with_and_without_a_caption_or_label_are_refused_naming_the_field(field):
    items = [{"pixel_values": torch.zeros(2, 3, 4, 4), field: "a cat" if field == "caption" else 1} for _ in range(2)]
    del items[1][field]
    with pytest.raises(ValueError, match=rf"item 0 has '{field}' and item 1 has not"):
        VideoDataCollator()(items)


def test_items_with_different_frame_counts_are_refused_naming_both_shapes():
    items = [{"pixel_values": torch.zeros(frames, 3, 4, 4)} for frames in (2, 2, 4)]
    with pytest.raises(ValueError, match=r"item 0 \[2, 3, 4, 4\], item 2 \[4, 3, 4, 4\].*same num_frames"):
        VideoDataCollator()(items)


def test_a_failed_training_row_is_refilled_by_another_whole_row(colour_videos, processor, tmp_path):
    dataset = _colour_dataset(colour_videos, processor.video_processor, tmp_path, missing=("red", "green"), train=True)
    item = dataset[SampleKey(epoch=0, row=0)]  # red is missing: another row takes its place, clip and caption
    assert item["caption"] == f"a {_colour_of(item['pixel_values'])} screen"
    assert item["index"] != 0 and [sample.index for sample in item["skipped"]][0] == 0
    batch = VideoDataCollator(processor)([item])
    assert batch["pixel_values"].shape[0] == 1 and int(batch[SKIPPED_KEY]) == len(item["skipped"])


def test_a_training_row_whose_refills_all_fail_is_skipped_with_every_failure(colour_videos, processor, tmp_path):
    dataset = _colour_dataset(
        colour_videos, processor.video_processor, tmp_path, missing=tuple(SOLID_COLORS), train=True
    )
    item = dataset[SampleKey(epoch=0, row=0)]
    assert isinstance(item, SkippedSample) and len(item.expanded()) == len(SOLID_COLORS)  # each row tried once
    assert int(VideoDataCollator(processor)([item])[SKIPPED_KEY]) == len(SOLID_COLORS)


def test_labels_become_class_ids_for_classification(colour_videos, video_processor, tmp_path):
    root, rows = colour_videos
    table = load_annotations(_write_json(tmp_path / "labels.json", rows), caption_column=None, label_column="label")
    dataset = VideoDataset(table, video_processor, video_root=root, num_frames=4)
    assert dataset.label2id == {name: i for i, name in enumerate(sorted(SOLID_COLORS))}
    batch = VideoDataCollator()([dataset[0], dataset[1]])
    assert batch["labels"].tolist() == [dataset.label2id["red"], dataset.label2id["green"]]
    assert "input_ids" not in batch and batch["pixel_values"].shape[0] == 2


def test_training_items_depend_only_on_seed_epoch_and_row(corpus, video_processor):
    table = load_annotations(corpus.annotation_file("train", "json"))
    dataset = VideoDataset(table, video_processor, video_root=corpus.root, num_frames=4, train=True, seed=3)
    first = dataset[SampleKey(epoch=1, row=0)]["pixel_values"]
    torch.manual_seed(123)  # torch's generator plays no part
    assert torch.equal(first, dataset[SampleKey(epoch=1, row=0)]["pixel_values"])
    assert not torch.equal(first, dataset[SampleKey(epoch=2, row=0)]["pixel_values"])  # a new epoch, a new draw
    other_seed = VideoDataset(table, video_processor, video_root=corpus.root, num_frames=4, train=True, seed=4)
    assert not torch.equal(first, other_seed[SampleKey(epoch=1, row=0)]["pixel_values"])


def test_training_items_are_the_same_from_any_worker(corpus, processor):
    table = load_annotations(corpus.annotation_file("train", "json"))
    dataset = VideoDataset(table, processor.video_processor, video_root=corpus.root, num_frames=4, train=True)
    sampler = EpochSampler(len(dataset), seed=0)
    sampler.set_epoch(2)

    def pixel_values(num_workers):
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=2, sampler=sampler, num_workers=num_workers, collate_fn=VideoDataCollator(processor)
        )
        return torch.cat([batch["pixel_values"] for batch in loader])

    assert torch.equal(pixel_values(0), pixel_values(2))


def test_epoch_sampler_orders_rows_by_seed_and_epoch_and_keys_them_with_the_epoch():
    sampler = EpochSampler(6, seed=5)
    sampler.set_epoch(1)
    keys = list(sampler)
    assert sorted(key.row for key in keys) == list(range(6)) and {key.epoch for key in keys} == {1}
    assert keys == list(sampler)
    sampler.set_epoch(2)
    assert [key.row for key in sampler] != [key.row for key in keys]
    assert [key.row for key in EpochSampler(6, seed=5, shuffle=False)] == list(range(6))


def test_evaluation_items_are_deterministic(corpus, video_processor):
    table = load_annotations(corpus.annotation_file("val", "json"))
    dataset = VideoDataset(table, video_processor, video_root=corpus.root, num_frames=4)
    assert torch.equal(dataset[0]["pixel_values"], dataset[0]["pixel_values"])


@pytest.mark.skipif(len(available_video_backends()) < 2, reason="needs both decord and PyAV")
def test_training_clips_are_read_with_pyav_and_evaluation_clips_with_decord_unless_told(corpus, video_processor):
    table = load_annotations(corpus.annotation_file("val", "json"))
    assert VideoDataset(table, video_processor, train=True).video_backend == "pyav"
    assert VideoDataset(table, video_processor).video_backend == "decord"
    assert VideoDataset(table, video_processor, train=True, video_backend="decord").video_backend == "decord"


def test_caption_normalisation_is_optional(colour_videos, processor, tmp_path):
    item = {"pixel_values": torch.zeros(4, 3, 32, 32), "caption": "A Red-Screen!"}
    plain = VideoDataCollator(processor)([item])["input_ids"]
    normalised = VideoDataCollator(processor, normalize_captions=True)([item])["input_ids"]
    expected = processor(text=["a red screen"], padding="max_length", return_tensors="pt")["input_ids"]
    assert torch.equal(normalised, expected) and not torch.equal(plain, expected)


def test_annotation_cache_progress_is_logged_at_info_not_warning(tmp_path, caplog):
    from viclip_train.data.annotation_cache import load_cached_annotations

    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps({"video": f"{i}.mp4", "caption": f"clip {i}"}) + "\n" for i in range(4)))
    with caplog.at_level(logging.INFO, logger="viclip_train.data.annotation_cache"):
        load_cached_annotations(path, cache_dir=tmp_path / "cache")  # converted
        load_cached_annotations(path, cache_dir=tmp_path / "cache")  # memory-mapped
    messages = [(record.levelno, record.getMessage()) for record in caplog.records]
    assert [level for level, message in messages if "cache" in message.lower()] == [logging.INFO] * 3
    assert any(message.startswith("Cached 4 annotation rows") for _, message in messages)
