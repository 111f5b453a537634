# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Annotation files at InternVid scale: converted once into a memory-mapped Arrow file, mapped by every process.

[`load_annotations`] reads a whole file into Python objects, which at 10M rows costs ~15 GB and minutes on every
rank at once. [`load_cached_annotations`] reads the file in chunks of rows with the same strict checks (same errors,
naming the file, the entry and the line), normalises each chunk into the columns `video`, `caption`, `label`,
`start`, `end`, and writes them with `datasets`' `ArrowWriter` into one `.arrow` file under the cache folder. The
file is then opened with `datasets.Dataset.from_file`, which memory-maps it: rows are read from the page cache on
access, shared by every process and DataLoader worker of the machine, and a process's memory does not grow with the
row count beyond the pages it touches.

The cache is keyed by the annotation file's content (an xxHash of its bytes, ~1 s per GB) and by the column options,
so that editing the file or changing `--caption_column` converts again, and renaming or copying it does not. A
conversion writes a temporary file and renames it into place when it is complete: a killed conversion leaves no
cache entry, and two machines converting the same file into a shared folder both write the same bytes. Run it from
the main process first ([`transformers.TrainingArguments.main_process_first`]) so that the other processes of a
machine find the cache ready.

A cache is checked before it is trusted: the key is written into the Arrow file (as its `datasets` fingerprint) and,
with the row count, into a record beside it (`<cache>.json`, renamed into place before the cache). A cache that
cannot be read, was written for other contents or options (another file's cache copied into place, as restoring
or syncing a cache folder can do) or holds another number of rows than was written (a file cut short) is converted
again, with a warning naming it and what was wrong.
"""

import json
import os
import socket
import uuid
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.compute as pc
import xxhash
from datasets.arrow_writer import ArrowWriter
from transformers.utils import logging

from .annotations import (
    _MISSING,
    ANNOTATION_COLUMNS,
    _checked_suffix,
    _column_spec,
    _file_chunks,
    _normalize_columns,
)


logger = logging.get_logger(__name__)

CACHE_FORMAT_VERSION = 2
"""Part of every cache key: bumped when the conversion changes what it writes."""

CHUNK_ROWS = 100_000
"""Rows read, checked and written at a time by a conversion."""

_HASH_BLOCK = 8 << 20


def default_annotation_cache_dir() -> str:
    """`<HF_DATASETS_CACHE>/viclip_annotations`, beside the caches `datasets` keeps."""
    return os.path.join(str(datasets.config.HF_DATASETS_CACHE), "viclip_annotations")


def file_content_hash(path: str | os.PathLike) -> str:
    """The xxHash3-128 of a file's bytes, in hex."""
    digest = xxhash.xxh3_128()
    with open(path, "rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def annotation_cache_path(
    source: str | os.PathLike,
    *,
    video_column: str = "video",
    caption_column: str | None = "caption",
    label_column: str | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> Path:
    """Where the cache of `source` with these column options is (whether or not it exists yet)."""
    options = {
        "version": CACHE_FORMAT_VERSION,
        "content": file_content_hash(source),
        "suffix": Path(source).suffix.lower(),
        "video_column": video_column,
        "caption_column": caption_column,
        "label_column": label_column,
    }
    key = xxhash.xxh3_64_hexdigest(json.dumps(options, sort_keys=True).encode())
    folder = Path(cache_dir) if cache_dir is not None else Path(default_annotation_cache_dir())
    return folder / f"{Path(source).stem}-{key}.arrow"


def load_cached_annotations(
    source: str | os.PathLike,
    *,
    video_column: str = "video",
    caption_column: str | None = "caption",
    label_column: str | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> datasets.Dataset:
    """
    The normalised table of an annotation file (the table [`load_annotations`] returns, same columns, values and
    errors), memory-mapped from its Arrow cache, which is written first if it does not exist.

    Args:
        source (`str` or `os.PathLike`): a `.json`, `.jsonl` or `.csv` annotation file (the layouts of
            [`load_annotations`], InternVid's included).
        video_column, caption_column, label_column: as for [`load_annotations`]; part of the cache key.
        cache_dir (`str`, *optional*): folder of the cache files; defaults to [`default_annotation_cache_dir`].

    Returns:
        `datasets.Dataset` backed by the memory-mapped cache file.

    Raises:
        `FileNotFoundError`, `ValueError`: as [`load_annotations`] (checked while converting; a cache that exists was
        checked when it was written, and is converted again, with a warning, if it is not the one written then).
    """
    path = Path(source)
    _checked_suffix(path)
    options = {"video_column": video_column, "caption_column": caption_column, "label_column": label_column}
    cache_path = annotation_cache_path(path, cache_dir=cache_dir, **options)
    if cache_path.is_file():
        try:
            cached = _checked_cache(cache_path)
        except _UnusableCache as unusable:
            logger.warning(f"The annotation cache {cache_path} of {path} is not used: {unusable} Converting again.")
        else:
            logger.info(f"Annotations of {path}: memory-mapping their Arrow cache {cache_path}.")
            return cached
    _convert(path, cache_path, **options)
    return datasets.Dataset.from_file(str(cache_path), in_memory=False)


class _UnusableCache(Exception):
    """A cache file that is not the one its conversion wrote; the message says what is wrong with it."""


def _record_path(cache_path: Path) -> Path:
    """The record beside a cache file: its key and row count, written by its conversion."""
    return cache_path.with_name(cache_path.name + ".json")


def _cache_key(cache_path: Path) -> str:
    """The key in a cache file's name (`<stem>-<key>.arrow`)."""
    return cache_path.stem.rsplit("-", 1)[-1]


def _checked_cache(cache_path: Path) -> datasets.Dataset:
    """The memory-mapped cache, once it is readable and matches its record and its name; `_UnusableCache` otherwise."""
    key = _cache_key(cache_path)
    try:
        record = json.loads(_record_path(cache_path).read_text())
        written_key, written_rows = record["key"], record["rows"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise _UnusableCache(f"its record {_record_path(cache_path)} is missing or damaged ({error}).") from None
    try:
        cached = datasets.Dataset.from_file(str(cache_path), in_memory=False)
    except (pa.ArrowException, OSError, ValueError) as error:
        raise _UnusableCache(f"it cannot be read as Arrow ({error}).") from None
    if written_key != key or cached._fingerprint != key:
        raise _UnusableCache(
            f"it was written for other annotations or column options (key {cached._fingerprint}, record "
            f"{written_key}; expected {key}), as when another file's cache is copied into place."
        )
    if cached.num_rows != written_rows:
        raise _UnusableCache(f"it holds {cached.num_rows} rows where its conversion wrote {written_rows}.")
    return cached


def _features(normalized: dict[str, list]) -> datasets.Features:
    """The column types of a normalised chunk: text, class ids or names, seconds; `null` for a column not used."""
    table = pa.Table.from_pydict(normalized)
    return datasets.Features.from_arrow_schema(table.schema)


def _convert(path: Path, cache_path: Path, *, video_column: str, caption_column, label_column) -> None:
    """Reads `path` in chunks, checks and normalises each, and writes the cache atomically."""
    from tqdm.auto import tqdm

    cache_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = cache_path.with_name(f".{cache_path.name}.{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex}")
    logger.info(f"Converting the annotations of {path} to a memory-mapped Arrow cache, once: {cache_path}.")
    is_csv = path.suffix.lower() == ".csv"
    spec = features = writer = None
    rows = 0
    try:
        with tqdm(desc=f"Caching {path.name}", unit=" rows", mininterval=2.0) as progress:
            for chunk in _file_chunks(path, CHUNK_ROWS):
                if not chunk.locations:
                    continue
                if spec is None:
                    # CSV labels stay text here: whether a column is all integers is known only at the end
                    spec = _column_spec(chunk.names, str(path), video_column, caption_column, label_column)
                missing = [name for name in spec_columns(spec) if name not in chunk.values]
                for name in missing:  # a JSON chunk in which no row has the field: every row misses it
                    chunk.values[name] = [_MISSING] * len(chunk.locations)
                normalized = _normalize_columns(chunk.values, chunk.locations, spec)
                try:
                    chunk_features = _features(normalized)
                except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
                    raise ValueError(f"{path}, {chunk.locations[0]} onwards: {error}. {_TYPES_HINT}") from None
                if writer is None:
                    features = chunk_features
                    writer = ArrowWriter(path=str(temporary), features=features, fingerprint=_cache_key(cache_path))
                changed = [
                    name
                    for name, feature in chunk_features.items()
                    if feature != features[name] and feature != datasets.Value("null")
                ]
                if changed:
                    raise ValueError(
                        f"{path}, {chunk.locations[0]} onwards: the column(s) {changed} hold "
                        f"{[str(chunk_features[name]) for name in changed]} where the earlier rows hold "
                        f"{[str(features[name]) for name in changed]}. {_TYPES_HINT}"
                    )
                writer.write_batch(normalized)
                rows += len(chunk.locations)
                progress.update(len(chunk.locations))
        if writer is None:
            raise ValueError(f"{path} holds no annotations.")
        writer.finalize()
        writer.close()
        writer = None
        if is_csv and label_column is not None:
            _integer_csv_labels(temporary, str(path), _cache_key(cache_path))
        record = temporary.with_name(temporary.name + ".json")
        record.write_text(json.dumps({"key": _cache_key(cache_path), "rows": rows, "source": str(path)}))
        os.replace(record, _record_path(cache_path))  # first: a cache in place always has its record
        os.replace(temporary, cache_path)
    finally:
        if writer is not None:
            writer.close()
        for leftover in (temporary, temporary.with_name(temporary.name + ".json")):
            if leftover.exists():
                leftover.unlink()
    logger.info(f"Cached {rows} annotation rows of {path} in {cache_path}.")


def spec_columns(spec) -> list[str]:
    """The source columns a column spec reads."""
    names = [spec.video, spec.caption, spec.label]
    if spec.internvid:
        names += ["Start_timestamp", "End_timestamp"]
    return [name for name in names if name is not None]


_INTEGER_TEXT = r"^\s*-?\d+\s*$"
_TYPES_HINT = "Class labels must be all names or all ids."


def _integer_csv_labels(cache_file: Path, source: str, key: str) -> None:
    """A CSV label column whose every value is an integer holds class ids, as [`load_annotations`] reads it: the
    column is checked and cast in Arrow, and the cache file rewritten."""
    table = datasets.Dataset.from_file(str(cache_file), in_memory=False)
    labels = table.data.column("label")
    if not pc.all(pc.match_substring_regex(labels, _INTEGER_TEXT)).as_py():
        return
    ids = pc.cast(pc.utf8_trim_whitespace(labels), pa.int64())
    negative = pc.index(pc.less(ids, 0), True).as_py()
    if negative >= 0:
        raise ValueError(
            f"{source}, entry {negative}: 'label' is the class id {ids[negative].as_py()}; class ids count from 0."
        )
    converted = table.data.table.set_column(table.data.column_names.index("label"), "label", ids)
    rewritten = cache_file.with_name(cache_file.name + ".ids")
    features = datasets.Features.from_arrow_schema(converted.schema)
    with ArrowWriter(path=str(rewritten), features=features, fingerprint=key) as writer:
        for batch in converted.to_batches(max_chunksize=CHUNK_ROWS):
            writer.write_batch(batch.to_pydict())
        writer.finalize()
    del table, labels, ids, converted
    os.replace(rewritten, cache_file)


__all__ = [
    "ANNOTATION_COLUMNS",
    "CACHE_FORMAT_VERSION",
    "CHUNK_ROWS",
    "annotation_cache_path",
    "default_annotation_cache_dir",
    "file_content_hash",
    "load_cached_annotations",
]
