# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Annotation files and tables: which video each sample is, its caption and/or label, and its clip window.

[`load_annotations`] reads JSON, JSON Lines or CSV files, the public InternVid layout, or any `datasets.Dataset`, into
one normalised table (a `datasets.Dataset`, kept as Arrow so that DataLoader workers share it without copying Python
objects) with the columns `video`, `caption`, `label`, `start`, `end`.

Nothing is guessed: an unterminated quote, a row with more or fewer cells than the header, a header naming a column
twice, a JSON object naming a key twice, text that is not UTF-8, a negative or malformed timestamp, a negative class
id are errors that name the file and the row (`entry N`, counted from 0 over the samples; CSV errors also give the
line). Reading stops at the first bad row, and a CSV cell is limited to 128 KiB, so a broken file fails fast. A quoted
CSV cell holding line breaks is valid CSV (RFC 4180) and is read so, with a warning naming the row.

The checks work on whole columns (`_normalize_columns`), so that they can run as a batched `datasets.map`.
"""

import codecs
import csv
import json
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
from transformers.utils import logging


VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".flv", ".mpg", ".mpeg")
"""Extensions tried, in this order, for a `video` entry without one (such as an InternVid `YoutubeID`)."""

INTERNVID_COLUMNS: tuple[str, ...] = ("YoutubeID", "Start_timestamp", "End_timestamp", "Caption")
"""Columns of the public InternVid annotation files."""

ANNOTATION_COLUMNS: tuple[str, ...] = ("video", "caption", "label", "start", "end")
"""Columns of the table [`load_annotations`] returns."""

ANNOTATION_FILE_SUFFIXES: tuple[str, ...] = (".json", ".jsonl", ".ndjson", ".csv")
"""Annotation file formats [`load_annotations`] reads."""

CSV_CELL_LIMIT = 128 * 1024
"""Largest CSV cell, in characters. A caption is far shorter; a longer cell means an unterminated quote."""

logger = logging.get_logger(__name__)

_TIMESTAMP_PARTS = re.compile(r"^(?:(\d+):)??(?:(\d+):)?(\d+(?:\.\d*)?|\.\d+)$")


def parse_timestamp(value: str | float | int) -> float:
    """
    Reads a time in seconds from `"HH:MM:SS.mmm"` (InternVid), `"MM:SS(.mmm)"`, `"SS(.mmm)"` or a number of seconds.

    Minutes and seconds below an hour or minute field must be under 60.

    Raises:
        `ValueError`: if the value is none of these, negative (`-00:00:01` included) or not finite.
    """
    if isinstance(value, bool):
        raise ValueError(f"Cannot read a timestamp from {value!r}: expected 'HH:MM:SS.mmm' or seconds.")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value).strip()
        match = _TIMESTAMP_PARTS.match(text)
        if match is None:
            sign = " (negative times are not allowed)" if text.startswith("-") else ""
            raise ValueError(f"Cannot read a timestamp from {value!r}: expected 'HH:MM:SS.mmm' or seconds{sign}.")
        hours, minutes, second_text = match.groups()  # "MM:SS" fills `minutes`, "HH:MM:SS" both
        seconds = float(second_text)
        if minutes is not None and seconds >= 60:
            raise ValueError(f"Timestamp {value!r}: seconds must be under 60 after a minutes field.")
        if hours is not None and int(minutes) >= 60:
            raise ValueError(f"Timestamp {value!r}: minutes must be under 60 after an hours field.")
        seconds += 60 * int(minutes or 0) + 3600 * int(hours or 0)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"Timestamp {value!r} must be a finite, non-negative time.")
    return seconds


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`object_pairs_hook` of `json`: an object naming a key twice is an error, not "the last one wins"."""
    keys = [key for key, _ in pairs]
    duplicated = sorted({key for key in keys if keys.count(key) > 1})
    if duplicated:
        raise ValueError(f"the keys {duplicated} appear more than once in one object")
    return dict(pairs)


def _decoded_lines(path: Path) -> Iterator[tuple[int, str]]:
    """`(line number, text)` of a UTF-8 file (a leading byte-order mark dropped), one line at a time."""
    with open(path, "rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            if line_number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            try:
                yield line_number, raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ValueError(
                    f"{path}, line {line_number}: not UTF-8 text (byte {error.start} of the line is "
                    f"{raw[error.start : error.start + 1]!r}). Save the file as UTF-8."
                ) from None


@dataclass
class _Columns:
    """A file's rows as columns, plus where each row is (for messages)."""

    names: list[str]
    values: dict[str, list]
    locations: list[str]
    """`"entry N"` per row, with `", line L"` for CSV files."""


def _rows_to_columns(rows: list[dict], locations: list[str]) -> _Columns:
    names = list(dict.fromkeys(name for row in rows for name in row))  # every key, in order of appearance
    values = {name: [row.get(name, _MISSING) for row in rows] for name in names}
    return _Columns(names, values, locations)


_MISSING = object()
"""Marks a field a JSON row does not have (unlike `None`, an explicit null)."""


def _read_json(path: Path) -> _Columns:
    lines = [text for _, text in _decoded_lines(path)]
    try:
        rows = json.loads("".join(lines), object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path}, line {error.lineno}: not valid JSON ({error.msg}). A file with one JSON object per line must "
            "end in .jsonl."
        ) from None
    except ValueError as error:
        raise ValueError(f"{path}: {error}.") from None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise ValueError(f"{path} must hold a JSON list of objects such as {{'video': ..., 'caption': ...}}.")
    return _rows_to_columns(rows, [f"entry {index}" for index in range(len(rows))])


def _read_json_lines(path: Path) -> _Columns:
    return _concatenated(_json_lines_chunks(path, chunk_rows=None))


def _json_lines_chunks(path: Path, chunk_rows: int | None) -> Iterator[_Columns]:
    """The rows of a JSON Lines file as columns, `chunk_rows` rows at a time (`None`: all in one)."""
    rows, locations, count = [], [], 0
    for line_number, text in _decoded_lines(path):
        if not text.strip():
            continue
        try:
            row = json.loads(text, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}, line {line_number}: not a JSON object ({error.msg}).") from None
        except ValueError as error:
            raise ValueError(f"{path}, line {line_number}: {error}.") from None
        if not isinstance(row, dict):
            raise ValueError(f"{path}, line {line_number}: expected a JSON object, got {type(row).__name__}.")
        locations.append(f"entry {count} (line {line_number})")
        rows.append(row)
        count += 1
        if chunk_rows is not None and len(rows) == chunk_rows:
            yield _rows_to_columns(rows, locations)
            rows, locations = [], []
    if rows or count == 0:
        yield _rows_to_columns(rows, locations)


def _concatenated(chunks: Iterator[_Columns]) -> _Columns:
    """One `_Columns` of all `chunks` (a single chunk is returned as it is)."""
    chunks = list(chunks)
    if len(chunks) == 1:
        return chunks[0]
    names = list(dict.fromkeys(name for chunk in chunks for name in chunk.names))
    values = {
        name: [value for chunk in chunks for value in chunk.values.get(name, [_MISSING] * len(chunk.locations))]
        for name in names
    }
    return _Columns(names, values, [location for chunk in chunks for location in chunk.locations])


def _read_csv(path: Path) -> _Columns:
    return _concatenated(_csv_chunks(path, chunk_rows=None))


def _csv_chunks(path: Path, chunk_rows: int | None) -> Iterator[_Columns]:
    """A CSV file with a header, read strictly (every quote closes, every row has the header's cells; a quoted cell may
    hold line breaks, with a warning naming the first such row), `chunk_rows` rows at a time (`None`: all in one)."""
    previous_limit = csv.field_size_limit(CSV_CELL_LIMIT)
    try:
        reader = csv.reader((text for _, text in _decoded_lines(path)), strict=True)
        try:
            header = next(reader, None)
        except csv.Error as error:
            raise ValueError(f"{path}, line 1 (the header): {error}.") from None
        if header is None:
            raise ValueError(f"{path} is empty: expected a header row such as 'video,caption'.")
        duplicated = sorted({name for name in header if header.count(name) > 1})
        if duplicated:
            raise ValueError(f"{path}, line 1: the header names the columns {duplicated} more than once.")
        values = {name: [] for name in header}
        locations = []
        count, spanning_reported = 0, False
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                raise ValueError(
                    f"{path}, line {start}: {error}. A quote opened in this row never closes "
                    "(an unterminated quote), or a cell is longer than any caption."
                ) from None
            end = reader.line_num
            where = f"line {start}" if start == end else f"lines {start}-{end}"
            if not cells or cells == [""]:
                continue  # a blank line
            if start != end and not spanning_reported:
                spanning_reported = True
                logger.warning(
                    f"{path}, {where}: a quoted cell spans {end - start + 1} lines; it is read as one cell with its line "
                    "breaks, as CSV (RFC 4180) defines. If a quote closes too late instead, this row holds the rows "
                    "after it. (Further rows spanning lines are not reported.)"
                )
            if len(cells) != len(header):
                raise ValueError(
                    f"{path}, {where}: {len(cells)} cells for the {len(header)} columns of the header {header}. "
                    "Quote cells that contain commas."
                )
            for name, cell in zip(header, cells, strict=True):
                values[name].append(cell)
            locations.append(f"entry {count} (line {start})")
            count += 1
            if chunk_rows is not None and len(locations) == chunk_rows:
                yield _Columns(list(header), values, locations)
                values, locations = {name: [] for name in header}, []
        if locations or count == 0:
            yield _Columns(list(header), values, locations)
    finally:
        csv.field_size_limit(previous_limit)


def _file_chunks(path: Path, chunk_rows: int) -> Iterator[_Columns]:
    """The rows of an annotation file (by extension), `chunk_rows` at a time; a `.json` list is parsed whole."""
    suffix = _checked_suffix(path)
    if suffix in (".jsonl", ".ndjson"):
        yield from _json_lines_chunks(path, chunk_rows)
    elif suffix == ".csv":
        yield from _csv_chunks(path, chunk_rows)
    else:
        columns = _read_json(path)
        total = len(columns.locations)
        for start in range(0, max(total, 1), chunk_rows):
            end = start + chunk_rows
            yield _Columns(
                columns.names,
                {name: values[start:end] for name, values in columns.values.items()},
                columns.locations[start:end],
            )


def _checked_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in ANNOTATION_FILE_SUFFIXES:
        raise ValueError(
            f"Cannot read annotations from {path}: use a .json, .jsonl or .csv file, or a datasets.Dataset."
        )
    if not path.is_file():
        raise FileNotFoundError(f"Annotation file {path} does not exist.")
    return suffix


def _read_file(path: Path) -> _Columns:
    """Reads an annotation file into columns, by extension."""
    suffix = _checked_suffix(path)
    if suffix == ".json":
        return _read_json(path)
    if suffix in (".jsonl", ".ndjson"):
        return _read_json_lines(path)
    return _read_csv(path)


@dataclass(frozen=True)
class _ColumnSpec:
    """Which source columns feed the normalised table, and how."""

    source: str
    video: str
    caption: str | None
    label: str | None
    internvid: bool
    csv_labels: bool = False
    """Labels read from a CSV file: text, of which all-integer columns are class ids (CSV has no types)."""
    video_values: bool = False
    """The video column is a `datasets.Video()` column (read as `Video(decode=False)`: `{"bytes", "path"}` values)."""


def _column_spec(
    columns: Sequence[str],
    source: str,
    video_column: str,
    caption_column: str | None,
    label_column: str | None,
    csv_labels: bool = False,
    video_values: bool = False,
) -> _ColumnSpec:
    internvid = video_column not in columns and all(name in columns for name in INTERNVID_COLUMNS[:3])
    if internvid:
        video_column = INTERNVID_COLUMNS[0]
        if caption_column is not None and caption_column not in columns:
            caption_column = INTERNVID_COLUMNS[3]
    arguments = {"video_column": video_column, "caption_column": caption_column, "label_column": label_column}
    for argument, name in arguments.items():
        if name is not None and name not in columns:
            hint = " (or caption_column=None for labels only)" if argument == "caption_column" else ""
            raise ValueError(
                f"{source} has no column {name!r}; its columns are {sorted(columns)}. Pass {argument}=<name>{hint}, "
                f"or use the InternVid columns {list(INTERNVID_COLUMNS)}."
            )
    return _ColumnSpec(source, video_column, caption_column, label_column, internvid, csv_labels, video_values)


def _first_bad(values: Sequence, is_bad) -> int | None:
    return next((position for position, value in enumerate(values) if is_bad(value)), None)


def _normalize_columns(batch: Mapping[str, Sequence], locations: Sequence[str], spec: _ColumnSpec) -> dict[str, list]:
    """Maps source columns to the normalised columns, checking each whole column; errors name the first bad row."""

    def fail(position: int, message: str) -> None:
        raise ValueError(f"{spec.source}, {locations[position]}: {message}")

    needed = [spec.video, spec.caption, spec.label] + (list(INTERNVID_COLUMNS[1:3]) if spec.internvid else [])
    for name in (name for name in needed if name is not None):
        position = _first_bad(batch[name], lambda value: value is _MISSING)
        if position is not None:
            fail(position, f"missing field {name!r}; every row needs {[n for n in needed if n is not None]}.")

    videos = batch[spec.video]
    if spec.video_values:  # `datasets.Video` values: the table names each by its path, or by its row
        position = _first_bad(
            videos, lambda value: not (isinstance(value, dict) and (value["bytes"] or value["path"]))
        )
        if position is not None:
            fail(position, f"{spec.video!r} holds no video (neither bytes nor a path), got {videos[position]!r}.")
        videos = [value["path"] or location for value, location in zip(videos, locations, strict=True)]
    position = _first_bad(videos, lambda value: not isinstance(value, (str, int)) or str(value).strip() == "")
    if position is not None:
        fail(position, f"{spec.video!r} must name a video file, got {videos[position]!r}.")
    videos = [str(value).strip() for value in videos]
    count = len(videos)

    captions = [None] * count
    if spec.caption:
        captions = list(batch[spec.caption])
        position = _first_bad(captions, lambda value: not isinstance(value, str))
        if position is not None:
            fail(position, f"{spec.caption!r} must be text, got {captions[position]!r}.")

    labels = [None] * count
    if spec.label:
        labels = list(batch[spec.label])
        if spec.csv_labels and all(re.fullmatch(r"\s*-?\d+\s*", value) for value in labels):
            labels = [int(value) for value in labels]
        position = _first_bad(
            labels, lambda value: value is None or isinstance(value, bool) or not isinstance(value, (int, str))
        )
        if position is not None:
            fail(position, f"{spec.label!r} must be a class name or a class id, got {labels[position]!r}.")
        position = _first_bad(labels, lambda value: isinstance(value, int) and value < 0)
        if position is not None:
            fail(position, f"{spec.label!r} is the class id {labels[position]}; class ids count from 0.")
        position = _first_bad(labels, lambda value: isinstance(value, str) and not value.strip())
        if position is not None:
            fail(position, f"{spec.label!r} is empty; every row needs a class name or a class id.")
        name_at = _first_bad(labels, lambda value: isinstance(value, str))
        id_at = _first_bad(labels, lambda value: isinstance(value, int))
        if name_at is not None and id_at is not None:
            raise ValueError(
                f"{spec.source}: {spec.label!r} mixes class names ({locations[name_at]}: {labels[name_at]!r}) and class "
                f"ids ({locations[id_at]}: {labels[id_at]!r}); give all names or all ids (from 0)."
            )

    starts, ends = [None] * count, [None] * count
    if spec.internvid:
        parsed = {}
        for column in INTERNVID_COLUMNS[1:3]:
            times = []
            for position, value in enumerate(batch[column]):
                try:
                    times.append(parse_timestamp(value))
                except ValueError as error:
                    fail(position, f"{column!r}: {error}")
            parsed[column] = times
        starts, ends = parsed[INTERNVID_COLUMNS[1]], parsed[INTERNVID_COLUMNS[2]]
        position = _first_bad(range(count), lambda i: ends[i] <= starts[i])
        if position is not None:
            fail(
                position,
                f"End_timestamp ({ends[position]} s) must come after Start_timestamp ({starts[position]} s).",
            )
    return {"video": videos, "caption": captions, "label": labels, "start": starts, "end": ends}


def _normalize_dataset_batch(batch: Mapping[str, list], indices: list[int], spec: _ColumnSpec) -> dict[str, list]:
    return _normalize_columns(batch, [f"entry {index}" for index in indices], spec)


def load_annotations(
    source: str | os.PathLike | datasets.Dataset,
    *,
    video_column: str = "video",
    caption_column: str | None = "caption",
    label_column: str | None = None,
) -> datasets.Dataset:
    """
    Loads video annotations into one normalised table.

    Supported sources:
        - a `.json` file holding a list of objects, a `.jsonl` file with one object per line, or a `.csv` file with a
          header, each row naming a video (`video_column`, a path relative to the `video_root` given to
          [`VideoDataset`], or absolute) and its caption and/or label;
        - the public InternVid layout (`YoutubeID`, `Start_timestamp`, `End_timestamp` as `"HH:MM:SS.mmm"`,
          `Caption`), detected when those columns are present and `video_column` is not: the video is
          `<video_root>/<YoutubeID>` plus the first of [`VIDEO_EXTENSIONS`] that exists, read only within the window;
        - a `datasets.Dataset` with the same columns.

    Args:
        source (`str`, `os.PathLike` or `datasets.Dataset`): the annotation file or dataset.
        video_column (`str`, defaults to `"video"`): column of the video paths.
        caption_column (`str`, *optional*, defaults to `"caption"`): column of the captions; `None` for a labels-only
            (classification) table. With the InternVid layout, `Caption` is used when this column is absent.
        label_column (`str`, *optional*): column of the class names (text) or class ids (integers, from 0; in a CSV
            file, a column whose every value is an integer).

    Returns:
        `datasets.Dataset` with the columns `video` (`str`), `caption` (`str` or `None`), `label` (`str`, `int` or
        `None`), `start` and `end` (clip window in seconds, or `None` for the whole video).

    Raises:
        `FileNotFoundError`: the file does not exist.
        `ValueError`: an unsupported extension, a missing column (the message lists the columns found), a malformed
            file or a bad value (the message names the file, the entry and the field).
    """
    if isinstance(source, datasets.Dataset):
        video_values = is_video_feature(source.features.get(video_column))
        if video_values:  # never decoded here (no torchcodec needed): the clips are read from the values themselves
            source = source.cast_column(video_column, datasets.Video(decode=False))
            # renamed, or `map` would type the `video` column it writes (names) as the source's `Video` column
            source = source.rename_column(video_column, video_column := f"{video_column} (datasets.Video)")
        spec = _column_spec(
            source.column_names, "the given dataset", video_column, caption_column, label_column, False, video_values
        )
        return source.map(
            _normalize_dataset_batch,
            batched=True,
            with_indices=True,
            fn_kwargs={"spec": spec},
            remove_columns=source.column_names,
            keep_in_memory=not source.cache_files,
            desc="Normalising annotations",
        )
    path = Path(source)
    columns = _read_file(path)
    if not columns.locations:
        raise ValueError(f"{path} holds no annotations.")
    is_csv = path.suffix.lower() == ".csv"
    spec = _column_spec(columns.names, str(path), video_column, caption_column, label_column, csv_labels=is_csv)
    return datasets.Dataset.from_dict(_normalize_columns(columns.values, columns.locations, spec))


def is_video_feature(feature: Any) -> bool:
    """Whether a `datasets` feature is a `datasets.Video()` column (decoded, or not)."""
    return isinstance(feature, getattr(datasets, "Video", ()))


def video_values_of(source: datasets.Dataset, video_column: str) -> datasets.Dataset | None:
    """The videos of a dataset whose `video_column` is a `datasets.Video()` column, one row per row, undecoded
    (`{"bytes", "path"}` values, column `video`) for [`VideoDataset`] to read; `None` for any other column (paths)."""
    if not is_video_feature(source.features.get(video_column)):
        return None
    videos = source.select_columns([video_column]).cast_column(video_column, datasets.Video(decode=False))
    return videos.rename_column(video_column, "video") if video_column != "video" else videos


def video_source(video: Any, video_root: str | os.PathLike | None = None) -> Any:
    """What a decoder reads for a video value: a path (or a `datasets.Video(decode=False)` value with a path and no
    bytes) as the file [`resolve_video_path`] finds under `video_root`; bytes and other values as they are."""
    if isinstance(video, (str, os.PathLike)):
        return resolve_video_path(os.fspath(video), video_root)
    if isinstance(video, dict) and video.get("bytes") is None and video.get("path"):
        return resolve_video_path(video["path"], video_root)
    return video


def resolve_video_path(video: str, video_root: str | os.PathLike | None = None) -> Path:
    """
    The file of an annotation's `video` entry: `video_root / video` (or `video` itself when absolute or when there is
    no root), and, when that is not a file and `video` has no video extension, the first of
    `video_root / (video + extension)` over [`VIDEO_EXTENSIONS`] that is.

    Raises:
        `FileNotFoundError`: naming every path tried; the message suggests checking `--video_root`.
    """
    path = Path(video) if video_root is None else Path(video_root) / video
    if path.is_file():
        return path
    tried = [path]
    if path.suffix.lower() not in VIDEO_EXTENSIONS:
        for extension in VIDEO_EXTENSIONS:
            candidate = path.with_name(path.name + extension)
            if candidate.is_file():
                return candidate
            tried.append(candidate)
    shown = ", ".join(str(p) for p in tried[:3]) + (f" and {len(tried) - 3} more" if len(tried) > 3 else "")
    raise FileNotFoundError(f"No video file for {video!r}: tried {shown}. Check --video_root ({video_root}).")


__all__ = [
    "ANNOTATION_COLUMNS",
    "ANNOTATION_FILE_SUFFIXES",
    "CSV_CELL_LIMIT",
    "INTERNVID_COLUMNS",
    "VIDEO_EXTENSIONS",
    "load_annotations",
    "parse_timestamp",
    "is_video_feature",
    "resolve_video_path",
    "video_source",
    "video_values_of",
]
