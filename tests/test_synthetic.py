# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""The synthetic video-text corpus: real mp4 files, three annotation formats, deterministic, generated once."""

import csv
import itertools
import json

import av
import numpy as np
import pytest

from viclip_train.data.synthetic import (
    COLORS,
    DIRECTIONS,
    SHAPES,
    SyntheticCorpus,
    caption_for,
    make_synthetic_corpus,
    render_clip,
)


SMALL = {"num_train": 6, "num_val": 4, "num_frames": 8, "frame_size": 32, "seed": 3}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_synthetic_corpus(tmp_path_factory.mktemp("synthetic"), **SMALL)


def _decode(path):
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def test_splits_are_written_in_json_jsonl_and_csv_with_the_same_rows(corpus):
    for split, count in (("train", SMALL["num_train"]), ("val", SMALL["num_val"])):
        from_json = json.loads(corpus.annotation_file(split, "json").read_text())
        lines = corpus.annotation_file(split, "jsonl").read_text().splitlines()
        from_jsonl = [json.loads(line) for line in lines]
        with open(corpus.annotation_file(split, "csv"), newline="") as handle:
            from_csv = list(csv.DictReader(handle))
        assert len(from_json) == count
        assert from_json == from_jsonl == from_csv
        assert set(from_json[0]) == {"video", "caption", "label", "color", "shape", "direction"}


def test_videos_are_real_mp4_files_with_the_requested_frames(corpus):
    rows = json.loads(corpus.annotation_file("val", "json").read_text())
    frames = _decode(corpus.root / rows[0]["video"])
    assert frames.shape == (SMALL["num_frames"], SMALL["frame_size"], SMALL["frame_size"], 3)


def test_captions_and_labels_describe_the_clip(corpus):
    for row in json.loads(corpus.annotation_file("train", "json").read_text()):
        assert row["caption"] == caption_for(row["color"], row["shape"], row["direction"])
        assert row["label"] == row["direction"]
        assert row["video"].startswith("videos/train/")


def test_the_shape_moves_in_the_captioned_direction():
    expected_sign = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
    for direction, (sign_x, sign_y) in expected_sign.items():
        frames = render_clip("red", "circle", direction, num_frames=8, frame_size=64, rng=np.random.default_rng(0))
        mask = (frames[..., 0] > 150) & (frames[..., 1] < 100)
        first, last = (np.argwhere(mask[t]).mean(axis=0) for t in (0, -1))  # (y, x) centroids
        moved_y, moved_x = last - first
        assert np.sign(round(moved_x)) == sign_x and np.sign(round(moved_y)) == sign_y, direction
        assert max(abs(moved_x), abs(moved_y)) > 20


def test_same_seed_gives_identical_files(tmp_path):
    first = make_synthetic_corpus(tmp_path / "a", **SMALL)
    second = make_synthetic_corpus(tmp_path / "b", **SMALL)
    files = sorted(p.relative_to(first.root) for p in first.root.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second.root) for p in second.root.rglob("*") if p.is_file())
    for relative in files:
        assert (first.root / relative).read_bytes() == (second.root / relative).read_bytes(), relative


def test_different_seeds_give_different_clips(tmp_path):
    first = make_synthetic_corpus(tmp_path / "a", **SMALL)
    second = make_synthetic_corpus(tmp_path / "b", **{**SMALL, "seed": SMALL["seed"] + 1})
    assert not np.array_equal(
        _decode(first.root / "videos/val/00000.mp4"), _decode(second.root / "videos/val/00000.mp4")
    )


def test_a_complete_corpus_is_reused_without_rewriting(corpus):
    before = {p: p.stat().st_mtime_ns for p in corpus.root.rglob("*") if p.is_file()}
    again = make_synthetic_corpus(corpus.root, **SMALL)
    assert again == corpus
    assert {p: p.stat().st_mtime_ns for p in corpus.root.rglob("*") if p.is_file()} == before


def test_a_corpus_without_manifest_is_generated_again(tmp_path):
    corpus = make_synthetic_corpus(tmp_path, **SMALL)
    (corpus.root / "manifest.json").unlink()
    (corpus.root / "videos/train/00000.mp4").write_bytes(b"half-written")
    make_synthetic_corpus(tmp_path, **SMALL)
    assert (corpus.root / "manifest.json").is_file()
    assert _decode(corpus.root / "videos/train/00000.mp4").shape[0] == SMALL["num_frames"]


def test_a_folder_made_with_other_parameters_is_refused(corpus):
    with pytest.raises(ValueError, match="other parameters"):
        make_synthetic_corpus(corpus.root, **{**SMALL, "seed": 99})


def test_a_validation_split_of_all_combinations_has_each_caption_once(tmp_path):
    combinations = len(COLORS) * len(SHAPES) * len(DIRECTIONS)
    assert combinations >= 50  # the demo's held-out split needs at least 50 distinct clips
    corpus = make_synthetic_corpus(tmp_path, num_train=1, num_val=combinations, num_frames=4, frame_size=16)
    captions = [row["caption"] for row in json.loads(corpus.annotation_file("val", "json").read_text())]
    assert sorted(captions) == sorted(caption_for(*c) for c in itertools.product(COLORS, SHAPES, DIRECTIONS))


@pytest.mark.parametrize(
    "column, classes",
    [
        ("label", ["left", "right", "up", "down"]),
        ("direction", ["left", "right", "up", "down"]),
        ("color", ["red", "green", "blue", "yellow", "purple", "white"]),
        ("shape", ["square", "circle", "triangle"]),
    ],
)
def test_each_class_column_has_its_classes_in_a_fixed_order(column, classes):
    assert SyntheticCorpus.class_names(column) == classes


def test_a_column_without_classes_is_an_error_naming_the_class_columns():
    with pytest.raises(ValueError, match=r"no class column 'caption'.*'color'"):
        SyntheticCorpus.class_names("caption")
