# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""The Arrow cache of annotation files: the same table and the same errors as `load_annotations`, converted once
(keyed by content and column options), memory-mapped afterwards, never left half-written, checked before it is
trusted."""

import json
import logging
import shutil

import numpy as np
import pyarrow as pa
import pytest

import viclip_train.data.annotation_cache as annotation_cache
from viclip_train.data.annotation_cache import annotation_cache_path, load_cached_annotations
from viclip_train.data.annotations import load_annotations


INTERNVID_HEADER = "YoutubeID,Start_timestamp,End_timestamp,Caption,Aesthetic_Score,UMT_Score\n"


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    """Chunks of 3 rows, so that every file of these tests spans several chunks."""
    monkeypatch.setattr(annotation_cache, "CHUNK_ROWS", 3)


def _internvid_csv(path, rows=8, bad_row=None):
    lines = [INTERNVID_HEADER]
    for row in range(rows):
        start = "00:00:xx" if row == bad_row else f"00:00:{row:02d}.250"
        lines.append(f"vid{row % 3},{start},00:00:{row + 1:02d}.000,caption {row},4.{row},0.{row}\n")
    path.write_text("".join(lines))
    return path


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.mark.parametrize(
    "name, make, options",
    [
        ("internvid.csv", lambda path: _internvid_csv(path), {}),
        (
            "captions.jsonl",
            lambda path: _jsonl(path, [{"video": f"{i}.mp4", "caption": f"c {i}"} for i in range(7)]),
            {},
        ),
        (
            "internvid.jsonl",
            lambda path: _jsonl(
                path,
                [
                    {
                        "YoutubeID": f"y{i}",
                        "Start_timestamp": "00:00:01.000",
                        "End_timestamp": "00:00:02.5",
                        "Caption": f"c {i}",
                        "UMT_Score": 0.5,
                    }
                    for i in range(7)
                ],
            ),
            {},
        ),
        (
            "labels.json",
            lambda path: (
                path.write_text(json.dumps([{"video": f"{i}.mp4", "label": ["a", "b"][i % 2]} for i in range(7)]))
                and path
            ),
            {"caption_column": None, "label_column": "label"},
        ),
        (
            "ids.csv",
            lambda path: path.write_text("video,label\n" + "".join(f"{i}.mp4, {i % 4}\n" for i in range(7))) and path,
            {"caption_column": None, "label_column": "label"},
        ),
    ],
)
def test_the_cached_table_equals_the_table_load_annotations_reads(tmp_path, name, make, options):
    path = make(tmp_path / name)
    expected = load_annotations(path, **options)
    cached = load_cached_annotations(path, cache_dir=tmp_path / "cache", **options)
    assert cached.features == expected.features
    assert cached.to_list() == expected.to_list()


def test_the_cache_is_memory_mapped_and_reused_without_reading_the_file_again(tmp_path, monkeypatch):
    path = _internvid_csv(tmp_path / "a.csv")
    first = load_cached_annotations(path, cache_dir=tmp_path / "cache")
    assert [entry["filename"] for entry in first.cache_files] == [
        str(annotation_cache_path(path, cache_dir=tmp_path / "cache"))
    ]

    def no_conversion(*args, **kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr(annotation_cache, "_convert", no_conversion)
    again = load_cached_annotations(path, cache_dir=tmp_path / "cache")
    assert again.to_list() == first.to_list()
    renamed = tmp_path / "renamed.csv"
    shutil.copy(path, renamed)  # same content: same key apart from the readable name
    assert (
        annotation_cache_path(renamed, cache_dir="c").name.split("-")[-1]
        == annotation_cache_path(path, cache_dir="c").name.split("-")[-1]
    )


def test_editing_the_file_or_changing_a_column_option_converts_again(tmp_path):
    path = _jsonl(tmp_path / "a.jsonl", [{"video": "1.mp4", "caption": "one", "text": "uno"}])
    original = annotation_cache_path(path, cache_dir="c")
    assert annotation_cache_path(path, cache_dir="c", caption_column="text") != original
    _jsonl(path, [{"video": "1.mp4", "caption": "two", "text": "uno"}])
    assert annotation_cache_path(path, cache_dir="c") != original
    assert load_cached_annotations(path, cache_dir=tmp_path / "cache")[0]["caption"] == "two"
    assert load_cached_annotations(path, cache_dir=tmp_path / "cache", caption_column="text")[0]["caption"] == "uno"


def test_a_bad_row_in_a_later_chunk_is_the_same_error_naming_entry_and_line(tmp_path):
    path = _internvid_csv(tmp_path / "bad.csv", bad_row=7)
    with pytest.raises(ValueError) as expected:
        load_annotations(path)
    with pytest.raises(ValueError) as cached:
        load_cached_annotations(path, cache_dir=tmp_path / "cache")
    assert str(cached.value) == str(expected.value)
    assert "entry 7 (line 9)" in str(cached.value)


def test_a_failed_conversion_leaves_no_cache_file(tmp_path):
    path = _internvid_csv(tmp_path / "bad.csv", bad_row=5)
    with pytest.raises(ValueError):
        load_cached_annotations(path, cache_dir=tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_labels_that_mix_names_and_ids_across_chunks_are_an_error_naming_where(tmp_path):
    rows = [{"video": f"{i}.mp4", "label": "a" if i < 3 else i} for i in range(6)]
    path = _jsonl(tmp_path / "mixed.jsonl", rows)
    with pytest.raises(
        ValueError, match=r"mixed.jsonl, entry 3 \(line 4\) onwards: .*\[.label.\].*all names or all ids"
    ):
        load_cached_annotations(path, cache_dir=tmp_path / "cache", caption_column=None, label_column="label")


def test_an_empty_file_holds_no_annotations(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    with pytest.raises(ValueError, match="holds no annotations"):
        load_cached_annotations(path, cache_dir=tmp_path / "cache")


def _cut_to_first_record_batch(cache_file):
    """Rewrites an Arrow stream with its first record batch only: a valid stream, as a copy cut short leaves it."""
    with pa.memory_map(str(cache_file)) as source:
        reader = pa.ipc.open_stream(source)
        schema, first = reader.schema, reader.read_next_batch()
    with pa.OSFile(str(cache_file), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
        writer.write_batch(first)


def test_a_cache_cut_at_a_record_batch_boundary_is_converted_again_with_a_warning(tmp_path, caplog):
    path = _internvid_csv(tmp_path / "a.csv", rows=8)  # batches of 3, 3 and 2 rows
    expected = load_cached_annotations(path, cache_dir=tmp_path / "cache").to_list()
    cache_file = annotation_cache_path(path, cache_dir=tmp_path / "cache")
    _cut_to_first_record_batch(cache_file)
    with caplog.at_level(logging.WARNING):
        assert load_cached_annotations(path, cache_dir=tmp_path / "cache").to_list() == expected
    assert (
        f"The annotation cache {cache_file} of {path} is not used: it holds 3 rows where its conversion wrote 8"
        in (caplog.text)
    )
    assert load_cached_annotations(path, cache_dir=tmp_path / "cache").num_rows == 8


@pytest.mark.parametrize("copied", ["the cache file", "the cache file and its record"])
def test_another_files_cache_copied_into_place_is_converted_again_with_a_warning(tmp_path, caplog, copied):
    mine = _jsonl(tmp_path / "mine.jsonl", [{"video": f"mine{i}.mp4", "caption": f"mine {i}"} for i in range(4)])
    other = _jsonl(tmp_path / "other.jsonl", [{"video": f"other{i}.mp4", "caption": f"other {i}"} for i in range(4)])
    expected = load_cached_annotations(mine, cache_dir=tmp_path / "cache").to_list()
    load_cached_annotations(other, cache_dir=tmp_path / "cache")
    mine_file, other_file = (annotation_cache_path(path, cache_dir=tmp_path / "cache") for path in (mine, other))
    shutil.copy(other_file, mine_file)  # same row count: only the recorded key tells them apart
    if copied == "the cache file and its record":
        shutil.copy(f"{other_file}.json", f"{mine_file}.json")
    with caplog.at_level(logging.WARNING):
        assert load_cached_annotations(mine, cache_dir=tmp_path / "cache").to_list() == expected
    assert f"The annotation cache {mine_file} of {mine} is not used: it was written for other annotations" in (
        caplog.text
    )


def test_a_cache_of_random_bytes_is_converted_again_with_a_warning_naming_it(tmp_path, caplog):
    path = _internvid_csv(tmp_path / "a.csv")
    expected = load_cached_annotations(path, cache_dir=tmp_path / "cache").to_list()
    cache_file = annotation_cache_path(path, cache_dir=tmp_path / "cache")
    cache_file.write_bytes(np.random.default_rng(0).bytes(4096))
    with caplog.at_level(logging.WARNING):
        assert load_cached_annotations(path, cache_dir=tmp_path / "cache").to_list() == expected
    assert f"The annotation cache {cache_file} of {path} is not used: it cannot be read as Arrow" in caplog.text
